-- Rows of the "nexmark" source from its C records (runtime/connectors/nexmark/nexmark_gen.h's
-- sr_nexmark_event, handed over by runtime/connectors/nexmark/source_nexmark.c as an
-- sr_row_view). The engine calls row() inside the query's generated loop, where LuaJIT compiles
-- it with the user's functions: the event table and its record table are sunk when nothing
-- keeps them, and a bid's channel and url are one Lua string per channel (M.cache, kept across
-- batches), not one per bid. A row holds only the columns the query reads (`prunes`: the
-- reader is given analyzer.read_schema's columns): the padding `extra` is a new Lua string per
-- event (a copy, a hash, an entry in the string table, a sweep when collected), made only for
-- a query that reads it; the generator writes it either way, so every other column's values
-- are the same whether it is read or not.
local ffi = require "ffi"

-- Must match runtime/connectors/nexmark/nexmark_gen.h field for field (tests/c/test_nexmark.c
-- checks rows built here against the generator's records).
ffi.cdef [[
typedef struct sr_nexmark_str { const char *ptr; size_t len; } sr_nexmark_str;
typedef struct sr_nexmark_person {
  int64_t id;
  sr_nexmark_str name, email_address, credit_card, city, state;
  int64_t date_time;
  sr_nexmark_str extra;
} sr_nexmark_person;
typedef struct sr_nexmark_auction {
  int64_t id;
  sr_nexmark_str item_name, description;
  int64_t initial_bid, reserve;
  int64_t date_time, expires;
  int64_t seller, category;
  sr_nexmark_str extra;
} sr_nexmark_auction;
typedef struct sr_nexmark_bid {
  int64_t auction, bidder, price;
  int32_t channel_id;
  sr_nexmark_str channel, url;
  int64_t date_time;
  sr_nexmark_str extra;
} sr_nexmark_bid;
typedef struct sr_nexmark_event {
  int kind;
  int64_t event_number;
  union { sr_nexmark_person person; sr_nexmark_auction auction; sr_nexmark_bid bid; } u;
} sr_nexmark_event;
]]

local table_new = require "table.new"
local ffi_string, tonumber = ffi.string, tonumber
local PERSON, AUCTION = 0, 1
local CHANNELS = 10004 -- nexmark_gen.c's CHANNELS_NUMBER + NUM_HOT_CHANNELS: ids 0..10003

local function str(s)
  if s.len == 0 then return "" end
  return ffi_string(s.ptr, s.len)
end

-- A bid's channel and url: one Lua string per channel, made the first time it is seen.
local function channel_of(b, cache)
  local ch = b.channel_id + 1
  local channel = cache.names[ch]
  if channel == nil then
    channel = str(b.channel)
    cache.names[ch], cache.urls[ch] = channel, str(b.url)
  end
  return channel
end

local function url_of(b, cache)
  channel_of(b, cache)
  return cache.urls[b.channel_id + 1]
end

-- Each kind's columns, with Beam/Flink's field names, in the record's order: the name, its
-- type, how it is made from the record r ("num" tonumber, "str" a string, else a
-- function(r, cache)), and the record's field when its name differs.
local FIELDS = {
  person = { { "id", "long", "num" }, { "name", "string", "str" },
             { "emailAddress", "string", "str", "email_address" },
             { "creditCard", "string", "str", "credit_card" }, { "city", "string", "str" },
             { "state", "string", "str" }, { "dateTime", "timestamp", "num", "date_time" },
             { "extra", "string", "str" } },
  auction = { { "id", "long", "num" }, { "itemName", "string", "str", "item_name" },
              { "description", "string", "str" }, { "initialBid", "long", "num", "initial_bid" },
              { "reserve", "long", "num" }, { "dateTime", "timestamp", "num", "date_time" },
              { "expires", "timestamp", "num" }, { "seller", "long", "num" },
              { "category", "long", "num" }, { "extra", "string", "str" } },
  bid = { { "auction", "long", "num" }, { "bidder", "long", "num" }, { "price", "long", "num" },
          { "channel", "string", channel_of }, { "url", "string", url_of },
          { "dateTime", "timestamp", "num", "date_time" }, { "extra", "string", "str" } },
}

-- function(r, cache) -> the flat row of a record of `kind` with the columns in want (a set;
-- nil: all). Generated so that the row is one table constructor, which LuaJIT can sink when
-- nothing keeps the row, and a column not wanted costs nothing: its string is never made.
local function record_fn(kind, want)
  local env, fields = { num = tonumber, str = str }, {}
  for i, f in ipairs(FIELDS[kind]) do
    local name, how = f[1], f[3]
    if not want or want[name] then
      local fn = type(how) == "string" and how or "fn" .. i
      env[fn] = env[fn] or how
      fields[#fields + 1] = string.format("%s = %s(r%s)", name, fn,
        type(how) == "string" and "." .. (f[4] or name) or ", cache")
    end
  end
  local names, values = {}, {}
  for k, v in pairs(env) do names[#names + 1], values[#values + 1] = k, v end
  local src = string.format("local %s = ...\nreturn function(r, cache) return { %s } end",
                            table.concat(names, ", "), table.concat(fields, ", "))
  return assert(loadstring(src, "=nexmark " .. kind))(unpack(values))
end

-- table = "events" (the default): {event_type = kind, <kind> = the flat record}; a column not
-- wanted (event_type, or a kind's whole record) is left out.
local function event_reader(want)
  local function has(c) return not want or want[c] == true end
  local person = has("person") and record_fn("person")
  local auction = has("auction") and record_fn("auction")
  local bid = has("bid") and record_fn("bid")
  local typed = has("event_type")
  return function(records, i, cache)
    local e = records[i]
    local kind = e.kind
    if kind == PERSON then
      return { event_type = typed and "person" or nil, person = person and person(e.u.person) or nil }
    end
    if kind == AUCTION then
      return { event_type = typed and "auction" or nil, auction = auction and auction(e.u.auction) or nil }
    end
    return { event_type = typed and "bid" or nil, bid = bid and bid(e.u.bid, cache) or nil }
  end
end

-- table = "bid", "auction" or "person": the source hands over records of that kind only, and
-- a row is the record itself, flat, as in Flink's Nexmark views. Such a row is a leaf table,
-- which LuaJIT can leave unallocated when the query only reads it (a nested one it cannot).
local function flat_reader(kind, want)
  local record = record_fn(kind, want)
  return function(records, i, cache) return record(records[i].u[kind], cache) end
end

-- The DDL of a flat table's columns.
local function columns_of(kind)
  local ddl = {}
  for i, f in ipairs(FIELDS[kind]) do ddl[i] = f[1] .. " " .. f[2] end
  return table.concat(ddl, ", ")
end

return {
  ctype = "const sr_nexmark_event *",
  -- the row function for a source with these options (the C source checks `table`), making
  -- the columns of schema (analyzer.read_schema: those the query reads; nil: all)
  reader = function(options, schema)
    local want
    if schema then
      want = {}
      for _, c in ipairs(schema:columns()) do want[c[1]] = true end
    end
    if FIELDS[options.table] then return flat_reader(options.table, want) end
    return event_reader(want)
  end,
  prunes = true,
  -- Channel names and urls by id + 1 (a function of the source's seed), in array parts sized
  -- up front: filling a table that grows from {} is not compiled by LuaJIT (NYI: mixed
  -- sparse/dense table).
  cache = function()
    return { names = table_new(CHANNELS, 0), urls = table_new(CHANNELS, 0) }
  end,
  -- the columns of a flat table; nil: the source's own (events)
  columns = function(options)
    if FIELDS[options.table] then return columns_of(options.table) end
  end,
}
