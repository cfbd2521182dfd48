-- Nexmark q0, pass-through: every bid, with the columns of Flink's q0.
local nx = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
nx.write(nx.bids():map(function(r)
  return { auction = r.auction, bidder = r.bidder, price = r.price, dateTime = r.dateTime, extra = r.extra }
end), "q0")
