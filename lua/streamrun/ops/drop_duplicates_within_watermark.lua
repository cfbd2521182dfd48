-- drop_duplicates_within_watermark(keys): Spark 3.5's StreamingDeduplicateWithinWatermarkExec.
--
-- The event time is not part of the key. The first row of a key passes and the store keeps the
-- key with its expiry, key -> first-seen event time + the watermark delay; further rows of the
-- key are dropped until the watermark reaches the expiry (watermark >= expiry), when the key is
-- evicted. Rows at or before the watermark are late and dropped (numRowsDroppedByWatermark).
-- As in Spark, eviction runs after the batch's rows: a row that meets an expired key not yet
-- evicted is still a duplicate. The plan check refuses this operator without a watermark.
--
-- Per batch: one get_many for the batch's distinct keys, one scan when there is a watermark,
-- and one put_many for the new and the evicted keys.
local core = require "streamrun.core"
local keys = require "streamrun.ops.keys"

local M = {}

function M.compile(node)
  local what = "drop_duplicates_within_watermark (defined at " .. node.where .. ")"
  local kx = keys.compile(node.keys, what)
  local et_col, delay_ms = keys.event_time(node)
  if not et_col then
    error(node.where .. ": drop_duplicates_within_watermark needs a watermark: add "
      .. ":with_watermark(column, delay) before it", 0)
  end
  local time_of = keys.time_of
  return function(rows, n, ctx, store, metrics)
    local wm, dropped = ctx.watermark_ms, 0
    if wm then rows, n, dropped = keys.drop_late(rows, n, et_col, wm) end
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
        -- a row without event time expires with the first watermark past the delay (Spark reads 0)
        put_vals[np] = (time_of(r[et_col]) or 0) + delay_ms
      end
    end
    if wm then
      local sk, sv, ns = core.scan(store)
      for i = 1, ns do
        if wm >= sv[i] then
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

function M.columns(node, parent_columns) return parent_columns end

return M
