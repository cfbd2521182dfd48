-- The seed's job: Kafka -> parse JSON -> a Delta table (partitioned, deduplicated by key),
-- with a trigger and a checkpoint. Any Delta reader reads the table (DuckDB, Spark, ...).
--   streamrun scripts/examples/kafka_to_delta.lua BOOTSTRAP [OUTPUT_DIR] [once]
-- Try it without a broker (docs/KAFKA.md):
--   coproc MOCK { build/streamrun --kafka-mock --topic bids:4; }; read -r BOOT <&"${MOCK[0]}"
--   cat scripts/examples/data/bids/*.json | kcat -b "$BOOT" -P -t bids
--   build/streamrun scripts/examples/kafka_to_delta.lua "$BOOT"
-- A bid sent twice (a producer retry) lands once: mergeKeys is an insert-only merge on the
-- bid's identity, kept exactly-once across restarts by the checkpoint.
local sr = require "streamrun"

local bootstrap = assert(arg[1], "usage: kafka_to_delta.lua BOOTSTRAP [OUTPUT_DIR] [once]")
local output = arg[2] or "out/kafka_to_delta"

sr.read_stream{
  format = "kafka",
  ["kafka.bootstrap.servers"] = bootstrap,
  subscribe = "bids",
  startingOffsets = "earliest",
  maxOffsetsPerTrigger = 10000,
}
  :parse_json("value", "auction long, bidder long, price double, channel string, dateTime timestamp")
  :select{ "auction", "bidder", "price", "channel", "dateTime" }
  :write_stream{
    format = "delta",
    path = output .. "/bids",
    partitionBy = "channel",
    mergeKeys = { "auction", "bidder", "dateTime" },
    checkpointLocation = output .. "/chk",
    queryName = "kafka_to_delta",
    trigger = arg[3] == "once" and { availableNow = true } or "1 second",
  }
