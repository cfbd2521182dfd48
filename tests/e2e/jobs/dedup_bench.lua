-- The deduplication benchmark's job. usage: streamrun dedup_bench.lua INDIR MODE CHECKPOINT
-- MODE: read (the source alone), dedup (drop_duplicates on id), within (drop_duplicates_within_
-- watermark on id, event time = seq ms, a 20 minute delay so about a million keys stay live).
local sr = require "streamrun"
local indir, mode, chk = arg[1], arg[2], arg[3]
local s = sr.read_stream{ format = "json", path = indir, schema = "id long, seq long", maxFilesPerTrigger = 1 }
if mode == "dedup" then
  s = s:drop_duplicates{ "id" }
elseif mode == "within" then
  s = s:map(function(r) r.t = r.seq; return r end)
    :with_watermark("t", "20 minutes")
    :drop_duplicates_within_watermark{ "id" }
elseif mode ~= "read" then
  error("mode must be read, dedup or within")
end
s:write_stream{ format = "noop", checkpointLocation = chk, trigger = { availableNow = true } }
