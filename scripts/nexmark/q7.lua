-- Nexmark q7, highest bid (its aggregation stage): the top price in each tumbling 10 s window.
local nx = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
local sr = require "streamrun"
nx.write(nx.bids()
  :map(function(r) return { price = r.price, dateTime = r.dateTime } end)
  :with_watermark("dateTime", "2 seconds")
  :group_by(sr.window("dateTime", "10 seconds"))
  :agg{ maxprice = sr.max("price") }, "q7")
