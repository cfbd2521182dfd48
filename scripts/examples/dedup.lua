-- At-least-once producers send some events twice: keep the first copy of each event id seen
-- within the watermark (Spark's dropDuplicatesWithinWatermark), and count the clicks per page.
--   build/streamrun scripts/examples/dedup.lua [INPUT_DIR] [OUTPUT_DIR]
local sr = require "streamrun"

local input = arg[1] or "in/clicks"
local output = arg[2] or "out/dedup"

sr.read_stream{
  format = "json",
  name = "clicks",
  path = input,
  schema = "event_id string, page string, at timestamp",
}
  :with_watermark("at", "1 minute")
  :drop_duplicates_within_watermark{ "event_id" }
  :group_by("page")
  :count()
  :write_stream{
    format = "memory",
    queryName = "clicks_per_page",
    outputMode = "complete",
  }
