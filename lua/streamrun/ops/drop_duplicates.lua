-- drop_duplicates(keys): Spark's StreamingDeduplicateExec.
--
-- A row passes when its key was never seen: not in the state store, and the first of its key in
-- the batch (rows keep their batch order). The store holds one entry per key seen, key -> true.
-- With a watermark on the stream, rows whose event time is at or before it are late and dropped
-- (numRowsDroppedByWatermark); when the event-time column is one of the keys (or the whole row
-- is the key), keys whose event time is at or before the watermark are evicted after the
-- batch's rows (a later row with that key would be late anyway). Without the event-time column
-- among the keys every key is kept forever (plan.warnings says so). Duplicates dropped are
-- counted in numDroppedDuplicateRows (Spark's custom metric of the same name).
--
-- Per batch: one get_many for the batch's distinct keys and one put_many for the new keys and
-- the evicted ones; with eviction also one scan of the store (Spark iterates its state too).
local core = require "streamrun.core"
local keys = require "streamrun.ops.keys"

local M = {}

-- The evictable event time of stored key skey: the part at position pos (the key itself when
-- it has one part; the row's column pos when the whole row is the key).
local function key_time(skey, pos, single)
  if single then return keys.time_of(skey) end
  return keys.time_of(skey[pos])
end

function M.compile(node)
  local what = "drop_duplicates (defined at " .. node.where .. ")"
  local kx = keys.compile(node.keys, what)
  local et_col = keys.event_time(node)
  local et_pos = et_col and (kx.parts == 0 and et_col or kx.position(et_col))
  local single = kx.parts == 1
  return function(rows, n, ctx, store, metrics)
    local wm, dropped = ctx.watermark_ms, 0
    if wm and et_col then rows, n, dropped = keys.drop_late(rows, n, et_col, wm) end
    local m, skeys, firsts = kx.distinct(rows, n, false)
    local found = core.get_many(store, skeys, m)
    local out, nout = {}, 0
    local put_keys, put_vals, np = {}, {}, 0
    for j = 1, m do
      if found[j] == nil then
        nout = nout + 1
        out[nout] = firsts[j]
        np = np + 1
        put_keys[np] = skeys[j]
        put_vals[np] = true
      end
    end
    if wm and et_pos then
      -- the store as it was before this batch: new keys are later than the watermark
      local sk, _, ns = core.scan(store)
      for i = 1, ns do
        local t = key_time(sk[i], et_pos, single)
        if t ~= nil and t <= wm then
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

-- Rows pass through unchanged: the parent's columns.
function M.columns(node, parent_columns) return parent_columns end

return M
