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
-- The batch itself is dedup.lua's, shared with drop_duplicates_within_watermark.
local dedup = require "streamrun.ops.dedup"
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
  local expired = et_pos and function(skey, _, wm)
    local t = key_time(skey, et_pos, single)
    return t ~= nil and t <= wm
  end
  return dedup.executor(kx, et_col, function() return true end, expired)
end

-- Rows pass through unchanged: the parent's columns.
function M.columns(node, parent_columns) return parent_columns end

return M
