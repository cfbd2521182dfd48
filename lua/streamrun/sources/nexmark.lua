-- Rows of the "nexmark" source from its C records (runtime/nexmark_gen.h's sr_nexmark_event,
-- handed over by runtime/source_nexmark.c as an sr_row_view). The engine calls row() inside
-- the query's generated loop, where LuaJIT compiles it with the user's functions: the event
-- table and its record table are sunk when nothing keeps them, and a bid's channel and url are
-- one Lua string per channel (M.cache, kept across batches), not one per bid.
local ffi = require "ffi"

-- Must match runtime/nexmark_gen.h field for field (tests/c/test_nexmark.c checks rows built
-- here against the generator's records).
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

local M = { ctype = "const sr_nexmark_event *" }

-- Channel names and urls by id + 1 (a function of the source's seed), in array parts sized
-- up front: filling a table that grows from {} is not compiled by LuaJIT (NYI: mixed
-- sparse/dense table).
function M.cache()
  return { names = table_new(CHANNELS, 0), urls = table_new(CHANNELS, 0) }
end

function M.row(records, i, cache)
  local e = records[i]
  local kind = e.kind
  if kind == PERSON then
    local p = e.u.person
    return { event_type = "person", person = {
      id = tonumber(p.id), name = str(p.name), emailAddress = str(p.email_address),
      creditCard = str(p.credit_card), city = str(p.city), state = str(p.state),
      dateTime = tonumber(p.date_time), extra = str(p.extra) } }
  elseif kind == AUCTION then
    local a = e.u.auction
    return { event_type = "auction", auction = {
      id = tonumber(a.id), itemName = str(a.item_name), description = str(a.description),
      initialBid = tonumber(a.initial_bid), reserve = tonumber(a.reserve),
      dateTime = tonumber(a.date_time), expires = tonumber(a.expires),
      seller = tonumber(a.seller), category = tonumber(a.category), extra = str(a.extra) } }
  end
  local b = e.u.bid
  local ch = b.channel_id + 1
  local names = cache.names
  local channel, url = names[ch], cache.urls[ch]
  if channel == nil then
    channel, url = str(b.channel), str(b.url)
    names[ch], cache.urls[ch] = channel, url
  end
  return { event_type = "bid", bid = {
    auction = tonumber(b.auction), bidder = tonumber(b.bidder), price = tonumber(b.price),
    channel = channel, url = url, dateTime = tonumber(b.date_time), extra = str(b.extra) } }
end

return M
