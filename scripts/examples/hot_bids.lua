-- The example job: read bid events (JSON lines) from a directory, keep the expensive ones,
-- convert their price, and write them out as JSON, exactly once. A second query counts bids
-- per auction in 10-second event-time windows.
--   build/streamrun scripts/examples/hot_bids.lua [INPUT_DIR] [OUTPUT_DIR]
local sr = require "streamrun"

local input = arg[1] or "scripts/examples/data/bids"
local output = arg[2] or "out/example"

local bids = sr.read_stream{
  format = "json",
  path = input,
  maxFilesPerTrigger = 1,
  schema = "auction long, bidder long, price double, channel string, dateTime timestamp",
}

-- bids per auction in 1-second event-time windows, each written once it is final (the
-- sample spans 3 seconds of event time, so the last window stays open: its end is not final)
bids
  :with_watermark("dateTime", "200 milliseconds")
  :group_by(sr.window("dateTime", "1 second"), "auction")
  :agg{ bids = sr.count(), top = sr.max("price") }
  :write_stream{
    format = "json",
    path = output .. "/windows",
    checkpointLocation = output .. "/chk/windows",
    queryName = "windows",
    trigger = { availableNow = true },
  }

bids
  :filter(function(r) return r.price > 5000 end)
  :map(function(r) r.price_eur = r.price * 0.908; return r end)
  :select{ "auction", "bidder", "price", "price_eur", "dateTime" }
  :write_stream{
    format = "json",
    path = output .. "/hot_bids",
    checkpointLocation = output .. "/chk/hot_bids",
    queryName = "hot_bids",
    trigger = { availableNow = true },
  }
