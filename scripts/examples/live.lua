-- A job that keeps running (the README's hot-reload walk-through): edit the filter while it
-- runs and the next batch uses the new one.
local sr = require "streamrun"

sr.read_stream{ format = "json", path = "in", schema = "auction long, price double, dateTime timestamp" }
  :filter(function(r) return r.price > 5000 end)
  :write_stream{ format = "json", path = "out/live", checkpointLocation = "out/live-chk",
                 queryName = "live", trigger = "200 milliseconds" }
