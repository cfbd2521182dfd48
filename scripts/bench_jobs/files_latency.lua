-- The latency benchmark's file query (scripts/bench_latency): one-row JSON files renamed into
-- a folder -> map -> filter -> json files, exactly-once, with the trigger given on the command
-- line. The files come whole (renamed in), so the source takes them at once (fileStableMs = 0;
-- its default waits 500 ms for a file's size and mtime to hold, for writers that write in place).
--   streamrun scripts/bench_jobs/files_latency.lua IN OUT CHECKPOINT TRIGGER
-- TRIGGER: "default" (none given), "processingTime=0 seconds", "continuous=1 second".
local sr = require "streamrun"
local trigger
if arg[4] ~= "default" then
  local kind, every = arg[4]:match("^(%w+)=(.*)$")
  trigger = { [kind] = every }
end
sr.read_stream{ format = "json", path = arg[1], schema = "seq long, sent long", fileStableMs = 0 }
  :map(function(r) return { seq = r.seq, sent = r.sent } end)
  :filter(function(r) return r.seq >= 0 end)
  :write_stream{ format = "json", path = arg[2], checkpointLocation = arg[3], trigger = trigger }
