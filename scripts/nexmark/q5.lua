-- Nexmark q5, hot items (its counting stage): bids per auction in sliding 10 s windows every 2 s.
local nx = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
local sr = require "streamrun"
nx.write(nx.bids()
  :map(function(r) return { auction = r.auction, dateTime = r.dateTime } end)
  :with_watermark("dateTime", "2 seconds")
  :group_by(sr.window("dateTime", "10 seconds", "2 seconds"), "auction")
  :agg{ num = sr.count() }, "q5")
