-- Nexmark q1, currency conversion: bid prices from dollars to euros.
local nx = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
nx.write(nx.bids():map(function(r)
  return { auction = r.auction, bidder = r.bidder, price = 0.908 * r.price, dateTime = r.dateTime, extra = r.extra }
end), "q1")
