-- Nexmark q2, selection: bids on every 123rd auction.
local nx = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
nx.write(nx.bids()
  :filter(function(r) return r.bid.auction % 123 == 0 end)
  :map(function(r) return { auction = r.bid.auction, price = r.bid.price } end), "q2")
