-- The work of bench/baseline_filter.lua as a streamrun job: bids with price > 5000
-- become {auction, bidder, price, price_eur = price * 0.908}, JSON lines in, JSON lines out,
-- one input file per batch, checkpoints on.
--   streamrun scripts/bench_jobs/filter.lua INDIR OUTDIR CHECKPOINT
local sr = require "streamrun"
sr.read_stream{ format = "json", path = arg[1], maxFilesPerTrigger = 1,
                schema = "auction long, bidder long, price double" }
  :filter(function(r) return r.price > 5000 end)
  :select{ "auction", "bidder", "price", price_eur = function(r) return r.price * 0.908 end }
  :write_stream{ format = "json", path = arg[2], checkpointLocation = arg[3],
                 trigger = { availableNow = true } }
