-- Nexmark q2, selection: bids on every 123rd auction.
local nx = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
nx.write(nx.bids()
  :filter(function(r) return r.auction % 123 == 0 end)
  :map(function(r) return { auction = r.auction, price = r.price } end), "q2")
