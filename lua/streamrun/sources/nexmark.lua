-- Rows of the "nexmark" source from its C records (runtime/connectors/nexmark/nexmark_gen.h's
-- sr_nexmark_event, handed over by runtime/connectors/nexmark/source_nexmark.c as an
-- sr_row_view). The engine calls row() inside the query's generated loop, where LuaJIT compiles
-- it with the user's functions: the event table and its record table are sunk when nothing
-- keeps them, and a bid's channel and url are one Lua string per channel (M.cache, kept across
-- batches), not one per bid.
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

-- The records of one kind as flat rows, with Beam/Flink's field names.
local function person(p)
  return { id = tonumber(p.id), name = str(p.name), emailAddress = str(p.email_address),
           creditCard = str(p.credit_card), city = str(p.city), state = str(p.state),
           dateTime = tonumber(p.date_time), extra = str(p.extra) }
end

local function auction(a)
  return { id = tonumber(a.id), itemName = str(a.item_name), description = str(a.description),
           initialBid = tonumber(a.initial_bid), reserve = tonumber(a.reserve),
           dateTime = tonumber(a.date_time), expires = tonumber(a.expires),
           seller = tonumber(a.seller), category = tonumber(a.category), extra = str(a.extra) }
end

local function bid(b, cache)
  local ch = b.channel_id + 1
  local names = cache.names
  local channel, url = names[ch], cache.urls[ch]
  if channel == nil then
    channel, url = str(b.channel), str(b.url)
    names[ch], cache.urls[ch] = channel, url
  end
  return { auction = tonumber(b.auction), bidder = tonumber(b.bidder), price = tonumber(b.price),
           channel = channel, url = url, dateTime = tonumber(b.date_time), extra = str(b.extra) }
end

-- table = "events" (the default): {event_type = kind, <kind> = the flat record}.
local function event_row(records, i, cache)
  local e = records[i]
  local kind = e.kind
  if kind == PERSON then return { event_type = "person", person = person(e.u.person) } end
  if kind == AUCTION then return { event_type = "auction", auction = auction(e.u.auction) } end
  return { event_type = "bid", bid = bid(e.u.bid, cache) }
end

-- table = "bid", "auction" or "person": the source hands over records of that kind only, and
-- a row is the record itself, flat, as in Flink's Nexmark views. Such a row is a leaf table,
-- which LuaJIT can leave unallocated when the query only reads it (a nested one it cannot).
local FLAT = {
  bid = function(records, i, cache) return bid(records[i].u.bid, cache) end,
  auction = function(records, i) return auction(records[i].u.auction) end,
  person = function(records, i) return person(records[i].u.person) end,
}

local COLUMNS = {
  person = "id long, name string, emailAddress string, creditCard string, city string, "
    .. "state string, dateTime timestamp, extra string",
  auction = "id long, itemName string, description string, initialBid long, reserve long, "
    .. "dateTime timestamp, expires timestamp, seller long, category long, extra string",
  bid = "auction long, bidder long, price long, channel string, url string, dateTime timestamp, "
    .. "extra string",
}

return {
  ctype = "const sr_nexmark_event *",
  -- the row function for a source with these options (the C source checks `table`)
  reader = function(options) return FLAT[options.table] or event_row end,
  -- Channel names and urls by id + 1 (a function of the source's seed), in array parts sized
  -- up front: filling a table that grows from {} is not compiled by LuaJIT (NYI: mixed
  -- sparse/dense table).
  cache = function()
    return { names = table_new(CHANNELS, 0), urls = table_new(CHANNELS, 0) }
  end,
  -- the columns of a flat table; nil: the source's own (events)
  columns = function(options) return COLUMNS[options.table] end,
}
