-- Ad attribution: a click counts for an impression of the same ad shown at most a minute
-- before it (a stream-stream inner join with a time range; the watermarks let both sides'
-- state go once no later match can come).
--   build/streamrun scripts/examples/join.lua [IMPRESSIONS_DIR] [CLICKS_DIR] [OUTPUT_DIR]
local sr = require "streamrun"

local output = arg[3] or "out/join"

local impressions = sr.read_stream{
  format = "json", name = "impressions", path = arg[1] or "in/impressions",
  schema = "ad_id long, shown_at timestamp",
}:with_watermark("shown_at", "2 minutes")

local clicks = sr.read_stream{
  format = "json", name = "clicks", path = arg[2] or "in/clicks",
  schema = "ad_id long, clicked_at timestamp, user string",
}:with_watermark("clicked_at", "2 minutes")

impressions
  :join(clicks, { on = { "ad_id" }, how = "inner",
                  time_range = { left = "shown_at", right = "clicked_at",
                                 lower = "0 seconds", upper = "1 minute" } })
  :select{ "ad_id", "user", "shown_at", "clicked_at" }
  :write_stream{
    format = "json",
    path = output .. "/attributed",
    checkpointLocation = output .. "/chk",
    queryName = "attributed",
  }
