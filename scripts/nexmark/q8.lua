-- Nexmark q8, monitor new users: people who created an auction in the 10-second window in
-- which they entered the system.
--   SELECT P.id, P.name, P.starttime FROM (people by id, name, TUMBLE(dateTime, 10 s)) P
--   JOIN (auctions by seller, TUMBLE(dateTime, 10 s)) A
--   ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime
-- A window join: both sides carry their tumbling window, and a left semi join on (id, window)
-- emits each person once when an auction of theirs falls in the same window (Nexmark's
-- grouping of the auction side only made that once). Rows leave the state when the watermark
-- passes their window's end.
local sr = require "streamrun"
local nx = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
local size = 10000

local function window_of(t)
  local start = t - t % size
  return { start = start, ["end"] = start + size }
end

local events = nx.events_stream()
local people = events
  :filter(function(r) return r.person ~= nil end)
  :map(function(r)
    local p = r.person
    return { id = p.id, name = p.name, dateTime = p.dateTime, window = window_of(p.dateTime) }
  end)
  :with_watermark("dateTime", "1 second")
local sellers = events
  :filter(function(r) return r.auction ~= nil end)
  :map(function(r)
    local a = r.auction
    return { id = a.seller, dateTime = a.dateTime, window = window_of(a.dateTime) }
  end)
  :with_watermark("dateTime", "1 second")
nx.write(people:join(sellers, { on = { "id", "window" }, how = "left_semi" })
  :map(function(r) return { id = r.id, name = r.name, starttime = r.window.start } end), "q8")
