-- The work of bench/baseline_window.lua as a streamrun job: tumbling 10-second
-- event-time windows per auction with count and max(price), a 4-second watermark, late rows
-- dropped, each window written once when the watermark passes its end (append mode).
-- usage: streamrun scripts/bench_jobs/window.lua INDIR OUTDIR CHECKPOINT [FILES_PER_TRIGGER] [FORMAT] [TRIGGER]
-- (FORMAT: a sink, default json; TRIGGER: a processing-time interval, default availableNow)
-- Output rows: window = {start, end}, auction, bids, top (the baseline's columns).
local sr = require "streamrun"
local indir, outdir, chk = arg[1], arg[2], arg[3]
local per_trigger = tonumber(arg[4] or "1")
local format = arg[5] or "json"
local trigger = arg[6] or { availableNow = true }

sr.read_stream{
  format = "json", path = indir, maxFilesPerTrigger = per_trigger,
  schema = { auction = "long", bidder = "long", price = "double", channel = "string",
             url = "string", dateTime = "timestamp", extra = "string" },
}
  :with_watermark("dateTime", "4 seconds")
  :group_by(sr.window("dateTime", "10 seconds"), "auction")
  :agg{ bids = sr.count(), top = sr.max("price") }
  :write_stream{
    format = format, path = format ~= "noop" and outdir or nil, checkpointLocation = chk,
    outputMode = "append",
    trigger = trigger, queryName = "window_count_max",
  }
