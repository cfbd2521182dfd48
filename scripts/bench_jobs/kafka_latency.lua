-- The latency benchmark's query (scripts/bench_latency): Kafka -> map -> filter -> Kafka,
-- exactly-once (checkpointed), with the trigger given on the command line.
--   streamrun scripts/bench_jobs/kafka_latency.lua BOOTSTRAP IN OUT CHECKPOINT TRIGGER
-- TRIGGER: "default" (none given), "processingTime=0 seconds", "continuous=1 second".
local sr = require "streamrun"
local trigger
if arg[5] ~= "default" then
  local kind, every = arg[5]:match("^(%w+)=(.*)$")
  trigger = { [kind] = every }
end
sr.read_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], subscribe = arg[2],
                startingOffsets = "earliest" }
  :map(function(r) return { key = r.key, value = r.value } end)
  :filter(function(r) return r.value ~= nil end)
  :write_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], topic = arg[3],
                 checkpointLocation = arg[4], trigger = trigger }
