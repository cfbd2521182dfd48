-- The seed's job: Kafka -> parse JSON -> a table, with a trigger and a checkpoint.
--   streamrun scripts/examples/kafka_bids.lua BOOTSTRAP [OUTPUT_DIR] [FORMAT]
-- FORMAT is json (default) or delta. Try it without a broker (README, "Kafka"):
--   coproc MOCK { build/streamrun --kafka-mock --topic bids:4; }; read -r BOOT <&"${MOCK[0]}"
--   cat scripts/examples/data/bids/*.json | kcat -b "$BOOT" -P -t bids
--   build/streamrun scripts/examples/kafka_bids.lua "$BOOT"
local sr = require "streamrun"

local bootstrap = assert(arg[1], "usage: kafka_bids.lua BOOTSTRAP [OUTPUT_DIR] [FORMAT]")
local output = arg[2] or "out/kafka_bids"
local format = arg[3] or "json"

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
    format = format,
    path = output .. "/table",
    checkpointLocation = output .. "/chk",
    queryName = "kafka_bids",
    trigger = "1 second",
  }
