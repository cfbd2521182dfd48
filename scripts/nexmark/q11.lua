-- Nexmark q11, user sessions: bids per bidder in session windows with a 10 s gap.
local nx = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
local sr = require "streamrun"
nx.write(nx.bids()
  :map(function(r) return { bidder = r.bidder, dateTime = r.dateTime } end)
  :with_watermark("dateTime", "2 seconds")
  :group_by(sr.session_window("dateTime", "10 seconds"), "bidder")
  :agg{ bid_count = sr.count() }, "q11")
