-- Large payments, per account: a payment over the threshold is an alert, and the alerts are
-- counted per account. Edit THRESHOLD while the job runs: the job reloads between two batches
-- and the counts go on from the state it had (docs/JOB-API.md, Hot reload).
--   build/streamrun scripts/examples/alerts.lua [INPUT_DIR] [OUTPUT_DIR]
local sr = require "streamrun"

local THRESHOLD = 1000

local output = arg[2] or "out/alerts"

sr.read_stream{
  format = "json", name = "payments", path = arg[1] or "in/payments",
  schema = "account string, amount double",
}
  :filter(function(p) return p.amount > THRESHOLD end)
  :group_by("account")
  :agg{ alerts = sr.count(), largest = sr.max("amount") }
  :write_stream{
    format = "delta",
    path = output .. "/alerts",
    checkpointLocation = output .. "/chk",
    queryName = "alerts",
    outputMode = "complete",
  }
