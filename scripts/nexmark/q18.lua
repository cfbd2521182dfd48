-- Nexmark q18, find last bid: the last bid of each bidder on each auction (update mode: a
-- bidder/auction pair's row changes whenever a later bid arrives).
local nx = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
local sr = require "streamrun"
nx.write(nx.bids()
  :map(function(r) return { bidder = r.bidder, auction = r.auction, price = r.price, dateTime = r.dateTime } end)
  :group_by("bidder", "auction")
  :agg{ price = sr.last("price"), dateTime = sr.last("dateTime") }, "q18", "update")
