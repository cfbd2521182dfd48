-- The Kafka produce benchmark (scripts/bench_kafka): every line of the files in a directory
-- becomes one message's value (no key), the messages `kcat -P -l FILE` sends.
--   streamrun scripts/bench_jobs/kafka_produce.lua INDIR BOOTSTRAP TOPIC CHECKPOINT
local sr = require "streamrun"
sr.read_stream{ format = "text", path = arg[1] }
  :write_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[2], topic = arg[3],
                 checkpointLocation = arg[4], trigger = { availableNow = true } }
