-- The Kafka consume benchmark with a Lua row per message (scripts/bench_kafka, for reference):
-- kafka_consume.lua with a map between source and sink, so that every message becomes a row
-- table, as in a job that transforms what it reads.
--   streamrun scripts/bench_jobs/kafka_consume_rows.lua BOOTSTRAP TOPIC CHECKPOINT
local sr = require "streamrun"
sr.read_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], subscribe = arg[2],
                startingOffsets = "earliest" }
  :map(function(r) return { key = r.key, value = r.value, offset = r.offset } end)
  :write_stream{ format = "noop", checkpointLocation = arg[3], trigger = { availableNow = true } }
