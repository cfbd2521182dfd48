-- Nexmark q20 (Flink's), expand bid with auction: bids joined with their auction, for
-- auctions in category 10.
--   SELECT B.*, A.* FROM bid B JOIN auction A ON B.auction = A.id WHERE A.category = 10
-- A stream-stream inner join without a time bound, as in Nexmark: every bid stays in state
-- (a later auction could still match it). Names on both sides (dateTime, extra) come out as
-- right_dateTime and right_extra for the auction's.
local nx = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
local events = nx.events_stream()
local bids = events
  :filter(function(r) return r.bid ~= nil end)
  :map(function(r) return r.bid end)
local auctions = events
  :filter(function(r) return r.auction ~= nil and r.auction.category == 10 end)
  :map(function(r)
    local a = r.auction
    return { auction = a.id, itemName = a.itemName, description = a.description,
             initialBid = a.initialBid, reserve = a.reserve, dateTime = a.dateTime,
             expires = a.expires, seller = a.seller, category = a.category, extra = a.extra }
  end)
nx.write(bids:join(auctions, { on = "auction" }), "q20")
