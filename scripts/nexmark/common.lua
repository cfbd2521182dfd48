-- Shared by the Nexmark query jobs: the source and the sink, chosen by the command line.
--   streamrun scripts/nexmark/qN.lua EVENTS SINK OUT CHECKPOINT [SIZES]
-- SINK is noop (throughput) or json (to check the answer); events come from the built-in
-- generator as fast as the query takes them (availableNow: every event, then the query ends).
-- SIZES is standard (the default) or zero: the generator's standard settings pad each event's
-- `extra` so people, auctions and bids average 200, 500 and 100 bytes (Nexmark's
-- NexmarkConfiguration avgPersonByteSize/avgAuctionByteSize/avgBidByteSize, the settings
-- Flink's and Beam's published figures use); zero leaves `extra` empty. Figures are comparable
-- only at the same SIZES.
local sr = require "streamrun"
local M = {}

M.events = tonumber(arg[1]) or 1000000
M.sink = arg[2] or "noop"
M.out = arg[3] or "out/nexmark"
M.checkpoint = arg[4] or "out/nexmark-chk"
M.sizes = arg[5] or "standard"
assert(M.sizes == "standard" or M.sizes == "zero", "SIZES is standard or zero, not " .. M.sizes)

-- Batches of 100,000 events: a batch's rows (~50 MB of Lua heap) stay in the memory the last
-- batch freed; at 500,000 the run was slower, at 25,000 the per-batch work (checkpoint files,
-- the collection) began to show.
-- table: nil (every event, {event_type, person, auction, bid}) or "bid", "auction", "person"
-- (that kind only, flat rows, as Flink's Nexmark views; the source still generates every
-- event, so events/s counts the same work either way).
function M.events_stream(table)
  local zero = M.sizes == "zero" and 0 or nil -- nil: the source's defaults, Nexmark's
  return sr.read_stream{ format = "nexmark", table = table, maxEvents = M.events,
                         maxEventsPerTrigger = 100000, avgPersonByteSize = zero,
                         avgAuctionByteSize = zero, avgBidByteSize = zero }
end

-- Flink's `bid` view: the bids, flat.
function M.bids()
  return M.events_stream("bid")
end

function M.write(stream, name, mode)
  mode = mode or "append"
  if M.sink == "json" and mode ~= "append" then
    -- file sinks only append: an update-mode answer is written batch by batch, as Spark's
    -- foreachBatch would, one file per batch
    os.execute("mkdir -p '" .. M.out .. "'")
    return stream:write_stream{
      format = "foreach_batch", checkpointLocation = M.checkpoint, queryName = name,
      outputMode = mode, trigger = { availableNow = true },
      fn = function(rows, batch_id)
        local f = assert(io.open(string.format("%s/part-%05d.json", M.out, batch_id), "w"))
        for _, r in ipairs(rows) do f:write(sr.to_json(r), "\n") end
        f:close()
      end,
    }
  end
  return stream:write_stream{ format = M.sink, path = M.sink ~= "noop" and M.out or nil,
                              checkpointLocation = M.checkpoint, queryName = name,
                              outputMode = mode, trigger = { availableNow = true } }
end

return M
