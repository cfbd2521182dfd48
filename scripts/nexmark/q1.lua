-- Nexmark q1, currency conversion: bid prices from dollars to euros.
local nx = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
nx.write(nx.bids():map(function(r)
  local b = r.bid
  return { auction = b.auction, bidder = b.bidder, price = 0.908 * b.price, dateTime = b.dateTime, extra = b.extra }
end), "q1")
