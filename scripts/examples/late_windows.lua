-- Bids per auction in 10-second event-time windows, with late data: a bid may arrive up to 5
-- seconds behind the newest one seen; a window is written once, when the watermark passes its
-- end, and a bid for a window already written is dropped (numRowsDroppedByWatermark).
--   build/streamrun scripts/examples/late_windows.lua [INPUT_DIR] [OUTPUT_DIR]
local sr = require "streamrun"

local input = arg[1] or "scripts/examples/data/bids"
local output = arg[2] or "out/late_windows"

sr.read_stream{
  format = "json",
  name = "bids",
  path = input,
  schema = "auction long, bidder long, price double, dateTime timestamp",
}
  :with_watermark("dateTime", "5 seconds")
  :group_by(sr.window("dateTime", "10 seconds"), "auction")
  :agg{ bids = sr.count(), volume = sr.sum("price") }
  :write_stream{
    format = "json",
    path = output .. "/windows",
    checkpointLocation = output .. "/chk",
    queryName = "windows",
    outputMode = "append",
  }
