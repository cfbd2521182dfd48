-- Nexmark q0, pass-through: every bid, unchanged.
local nx = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
nx.write(nx.bids():map(function(r)
  local b = r.bid
  return { auction = b.auction, bidder = b.bidder, price = b.price, dateTime = b.dateTime, extra = b.extra }
end), "q0")
