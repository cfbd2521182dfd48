-- scripts/bench_jobs/filter.lua without a schema: the json source infers it from the files
-- present at start (JOB-API "Schema inference"); it must run as fast as the declared schema.
--   streamrun scripts/bench_jobs/filter_inferred.lua INDIR OUTDIR CHECKPOINT
local sr = require "streamrun"
sr.read_stream{ format = "json", path = arg[1], maxFilesPerTrigger = 1 }
  :filter(function(r) return r.price > 5000 end)
  :select{ "auction", "bidder", "price", price_eur = function(r) return r.price * 0.908 end }
  :write_stream{ format = "json", path = arg[2], checkpointLocation = arg[3],
                 trigger = { availableNow = true } }
