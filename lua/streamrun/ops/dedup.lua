-- The batch both deduplication executors run (drop_duplicates.lua and
-- drop_duplicates_within_watermark.lua: Spark's StreamingDeduplicateExec and
-- StreamingDeduplicateWithinWatermarkExec share BaseStreamingDeduplicateExec the same way).
--
-- Rows at or before the watermark are late and dropped; the first row of each key the store has
-- not seen passes, in batch order, and its key is stored with value_of(row); after the batch's
-- rows, the stored keys for which expired(key, value, watermark) holds are evicted. Per batch:
-- one get_many for the batch's distinct keys, one scan when something can expire, and one
-- put_many for the new and the evicted keys.
local core = require "streamrun.core"
local keys = require "streamrun.ops.keys"

local M = {}

-- kx: keys.compile's; et_col: the event-time column (nil: no watermark on the stream);
-- expired: nil when nothing is ever evicted.
function M.executor(kx, et_col, value_of, expired)
  return function(rows, n, ctx, store, metrics)
    local wm, dropped = ctx.watermark_ms, 0
    if wm and et_col then rows, n, dropped = keys.drop_late(rows, n, et_col, wm) end
    local m, skeys, firsts = kx.distinct(rows, n, false)
    local found = core.get_many(store, skeys, m)
    local out, nout = {}, 0
    local put_keys, put_vals, np = {}, {}, 0
    for j = 1, m do
      if found[j] == nil then
        local r = firsts[j]
        nout = nout + 1
        out[nout] = r
        np = np + 1
        put_keys[np] = skeys[j]
        put_vals[np] = value_of(r)
      end
    end
    if wm and expired then
      -- the store as it was before this batch: its new keys, not put yet, are later than wm
      local sk, sv, ns = core.scan(store)
      for i = 1, ns do
        if expired(sk[i], sv[i], wm) then
          np = np + 1
          put_keys[np] = sk[i] -- a nil value removes
        end
      end
    end
    if np > 0 then core.put_many(store, put_keys, put_vals, np) end
    metrics.numRowsDroppedByWatermark = dropped
    metrics.numDroppedDuplicateRows = n - nout
    return out, nout
  end
end

return M
