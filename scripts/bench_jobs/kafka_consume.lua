-- The Kafka consume benchmark (scripts/bench_kafka): every message of a topic, from the
-- earliest offset to the latest when the query starts, into the noop sink.
--   streamrun scripts/bench_jobs/kafka_consume.lua BOOTSTRAP TOPIC CHECKPOINT
local sr = require "streamrun"
sr.read_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], subscribe = arg[2],
                startingOffsets = "earliest" }
  :write_stream{ format = "noop", checkpointLocation = arg[3], trigger = { availableNow = true } }
