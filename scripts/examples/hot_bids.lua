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
