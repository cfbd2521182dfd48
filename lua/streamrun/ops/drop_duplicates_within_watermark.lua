-- drop_duplicates_within_watermark(keys): Spark 3.5's StreamingDeduplicateWithinWatermarkExec.
--
-- The event time is not part of the key. The first row of a key passes and the store keeps the
-- key with its expiry, key -> first-seen event time + the watermark delay; further rows of the
-- key are dropped until the watermark reaches the expiry (watermark >= expiry), when the key is
-- evicted. Rows at or before the watermark are late and dropped (numRowsDroppedByWatermark).
-- As in Spark, eviction runs after the batch's rows: a row that meets an expired key not yet
-- evicted is still a duplicate. The plan check refuses this operator without a watermark.
--
-- The batch itself is dedup.lua's, shared with drop_duplicates.
local dedup = require "streamrun.ops.dedup"
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
  -- a row without event time expires with the first watermark past the delay (Spark reads 0)
  local function expiry(r) return (time_of(r[et_col]) or 0) + delay_ms end
  return dedup.executor(kx, et_col, expiry, function(_, expires, wm) return wm >= expires end)
end

function M.columns(node, parent_columns) return parent_columns end

return M
