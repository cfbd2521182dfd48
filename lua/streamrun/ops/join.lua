-- The join operator: `stream:join(other, {on=, how=, time_range=})`, with Spark's semantics.
--
-- Two kinds, by what `other` is:
--  * stream-static (other is an sr.read{} table, possibly after map/filter/flat_map/select):
--    streamrun.ops.join_static. The static side is built once per change of its files into a
--    hash table in C and probed once per batch; the join keeps no state.
--  * stream-stream: streamrun.ops.join_stream, Spark's symmetric hash join. Both sides' rows
--    wait in the operator's state store; watermarks and a time constraint evict them.
--
-- This module holds what both share: the join spec (how, keys, condition, time range), Spark's
-- plan rules for joins (check, warnings; called from streamrun.plan), the output columns, and
-- how an output row is built from a left and a right row.
--
-- The spec (JOB-API, extended where Spark users would expect it):
--   on   = "k" | {"k1", "k2"} (equi-join keys) | fn(left, right) (a condition; no keys: every
--          row pair is tested) | {"k", fn} or {"k", condition = fn} (keys, then the condition);
--          the table may add left = fn(left) and right = fn(right): conditions on one side's
--          row alone (Spark's left-only and right-only predicates), so a stream-stream join
--          knows at once that a row failing its side's condition can never match: it is not
--          stored, and a preserved side's row is emitted as an outer row right away
--   how  = inner | left | right | full | left_semi | left_anti, with Spark's aliases (left_outer,
--          leftouter, outer, full_outer, semi, leftsemi, anti, leftanti, cross = inner)
--   time_range = {left = col, right = col, lower = dur, upper = dur}: left.col + lower <=
--          right.col <= left.col + upper ("-5 seconds" or ms numbers allowed). Keys, range and
--          condition must all hold; a nil key column or range column never matches.
--
-- Sides: "left" is the join's receiver and "right" its argument, as in SQL. `static:join(stream)`
-- keeps the static table as the left side; the plan builder makes the stream the node's parent
-- (it drives the batches) and sets node.static_left.
--
-- Output rows (JOB-API): with `on` a column list, the key columns once, beside the other
-- columns of both sides; a right column whose name the left side also has is renamed
-- right_<name>; an outer row has nil for the missing side's columns. left_semi and left_anti
-- output the left row itself. Which names the left side has comes from the plan's schemas
-- when known, else from the left row at hand.
local core = require "streamrun.core"

local M = {}

local HOW = {
  inner = "inner", cross = "inner",
  left = "left_outer", left_outer = "left_outer", leftouter = "left_outer",
  right = "right_outer", right_outer = "right_outer", rightouter = "right_outer",
  full = "full_outer", outer = "full_outer", full_outer = "full_outer", fullouter = "full_outer",
  left_semi = "left_semi", semi = "left_semi", leftsemi = "left_semi",
  left_anti = "left_anti", anti = "left_anti", leftanti = "left_anti",
}
-- Spark's names of the join types, for its messages.
local SPARK = { inner = "Inner", left_outer = "LeftOuter", right_outer = "RightOuter",
                full_outer = "FullOuter", left_semi = "LeftSemi", left_anti = "LeftAnti" }

-- What a static side may do before the join: what streamrun.static runs as a batch.
local STATIC_STEPS = { map = true, filter = true, flat_map = true, select = true, parse_json = true,
                       with_watermark = true, drop_duplicates = true, aggregate = true, sort = true,
                       limit = true }

-- A duration of the time range: text ("10 seconds", "-5 seconds") or a number of ms.
local function range_ms(v)
  if type(v) == "number" then return v end
  if type(v) ~= "string" then return nil end
  local neg, rest = v:match("^%s*(%-?)%s*(.-)%s*$")
  local ms = core.duration(rest)
  if not ms then return nil end
  return neg == "-" and -ms or ms
end

-- The parsed spec of a join node: {how, keys = {...}, cond = fn|nil, range = {...}|nil,
-- static, static_left}. Returns it, or nil and what is wrong.
function M.spec(node)
  if node.join_spec then return node.join_spec end
  local how = HOW[type(node.how) == "string" and node.how:lower() or ""]
  if not how then
    return nil, "join: how must be inner, left, right, full, left_semi or left_anti, not "
      .. tostring(node.how)
  end
  local keys, cond = {}, nil
  local on = node.on
  if type(on) == "string" then
    keys[1] = on
  elseif type(on) == "function" then
    cond = on
  elseif type(on) == "table" then
    for i, v in ipairs(on) do
      if type(v) == "string" then keys[#keys + 1] = v
      elseif type(v) == "function" and not cond then cond = v
      else return nil, "join: on[" .. i .. "] must be a column name (or one function)" end
    end
    if on.condition ~= nil then
      if type(on.condition) ~= "function" or cond then
        return nil, "join: on.condition must be one function(left, right)"
      end
      cond = on.condition
    end
    for _, side in ipairs { "left", "right" } do
      if on[side] ~= nil and type(on[side]) ~= "function" then
        return nil, "join: on." .. side .. " must be a function(" .. side .. " row)"
      end
    end
  elseif on ~= nil then
    return nil, "join: on must be a column name, a list of them, or a function(left, right)"
  end
  local range
  if node.time_range ~= nil then
    local tr = node.time_range
    if type(tr) ~= "table" or type(tr.left) ~= "string" or type(tr.right) ~= "string" then
      return nil, "join: time_range must be {left = column, right = column, lower = duration, "
        .. "upper = duration}"
    end
    local lower, upper = range_ms(tr.lower or 0), range_ms(tr.upper or 0)
    if not lower or not upper then return nil, "join: time_range lower/upper must be durations" end
    if lower > upper then return nil, "join: time_range lower must not exceed upper" end
    range = { left = tr.left, right = tr.right, lower = lower, upper = upper }
  end
  local s = { how = how, keys = keys, cond = cond, range = range,
              left_cond = type(on) == "table" and on.left or nil,
              right_cond = type(on) == "table" and on.right or nil,
              static = node.other.is_static, static_left = node.static_left or false }
  node.join_spec = s
  return s
end

-- The with_watermark columns of the chain below node (its parents, and union/join branches).
local function watermark_columns(node)
  local cols = {}
  require("streamrun.plan").walk(node, function(n)
    if n.op == "with_watermark" then cols[n.column] = n.delay_ms end
  end)
  return cols
end

local function has_key(keys, name)
  for _, k in ipairs(keys) do if k == name then return true end end
  return false
end

-- How a stream-stream join bounds its state (Spark's JoinStateWatermarkPredicates):
--  by_key: "window" (a `window` key column {start=, end=}, with a watermark in the plan) or
--          the name of an event-time key column watermarked on both sides; rows are evicted
--          (and arriving rows are late) once their key's time is <= the watermark.
--  left/right: true when that side's rows have a state value watermark: a time range and a
--          watermark on the OTHER side's range column (rows of the other side older than the
--          watermark are dropped, so no later one can fall in this row's range).
function M.eviction(node, s)
  local wl, wr = watermark_columns(node.parent), watermark_columns(node.other)
  local e = { wm_left = wl, wm_right = wr, left = false, right = false }
  if has_key(s.keys, "window") and (next(wl) or next(wr)) then
    e.by_key = "window"
  else
    for _, k in ipairs(s.keys) do
      if wl[k] and wr[k] then e.by_key = k; break end
    end
  end
  if s.range then
    e.left = wr[s.range.right] ~= nil
    e.right = wl[s.range.left] ~= nil
  end
  return e
end

local function spark_stream_static(how, static_left)
  local name = SPARK[how]
  if not static_left then
    if how == "right_outer" then
      return "RightOuter join with a streaming DataFrame/Dataset on the left and a static "
        .. "DataFrame/Dataset on the right is not supported: the static rows without a match "
        .. "could never be known to be final (write static:join(stream, {how = \"right\"}))"
    elseif how == "full_outer" then
      return "FullOuter joins with a streaming DataFrame/Dataset on the left and a static "
        .. "DataFrame/Dataset on the right are not supported"
    end
  else
    if how == "left_outer" or how == "left_semi" then
      return name .. " join with a streaming DataFrame/Dataset on the right and a static "
        .. "DataFrame/Dataset on the left is not supported (write stream:join(static, ...))"
    elseif how == "left_anti" then
      return "LeftAnti joins with a streaming DataFrame/Dataset on the right are not supported"
    elseif how == "full_outer" then
      return "FullOuter joins with a streaming DataFrame/Dataset on the right and a static "
        .. "DataFrame/Dataset on the left are not supported"
    end
  end
  return nil
end

-- The static side's source and its stateless steps (bottom up), or nil and why not.
function M.static_chain(other)
  local steps, n = {}, other
  while n and n.op ~= "source" do
    if not STATIC_STEPS[n.op] then
      return nil, "join: the static side may use only map, filter, flat_map, select, parse_json, "
        .. "drop_duplicates, group_by():agg, sort and limit before the join, not " .. n.op
    end
    table.insert(steps, 1, n)
    n = n.parent
  end
  return n, steps
end

-- The first operator below node that can emit rows older than the watermark (Spark 3.x's
-- checkStreamingQueryGlobalWatermarkLimit): an aggregation (in append mode its rows come when
-- the watermark has passed their window), process_with_state, a stream-stream join that is not
-- a plain inner join (its outer rows come after the watermark). nil when there is none.
function M.late_emitter(node)
  local found
  require("streamrun.plan").walk(node, function(n)
    if found then return end
    if n.op == "aggregate" or n.op == "process_with_state" then
      found = n
    elseif n.op == "join" and not n.other.is_static then
      local s = M.spec(n)
      if s and (s.how ~= "inner" or s.range) then found = n end
    end
  end)
  return found
end

-- Spark's rules for a join node (UnsupportedOperationChecker). Returns true, or nil and the
-- reason (without the job line; plan.check adds it).
function M.check(node)
  local s, err = M.spec(node)
  if not s then return nil, err end
  if s.static then
    if node.parent.is_static then return nil, "join: both sides are static tables; one must be a stream" end
    local src, why = M.static_chain(node.other)
    if not src then return nil, why end
    local known = false
    for _, f in ipairs(core.static_formats()) do known = known or f == src.format end
    if not known then
      return nil, "join: a static table cannot be read from format " .. tostring(src.format)
        .. " (formats: " .. table.concat(core.static_formats(), ", ") .. ")"
    end
    local bad = spark_stream_static(s.how, s.static_left)
    if bad then return nil, bad end
    return true
  end
  local late_emitter = M.late_emitter(node.parent) or M.late_emitter(node.other)
  if late_emitter then
    return nil, "Detected pattern of possible 'correctness' issue due to global watermark: the "
      .. late_emitter.op .. " at " .. tostring(late_emitter.where) .. " can emit rows older than "
      .. "the watermark, which this stream-stream join would drop as late (the query has one "
      .. "watermark for every operator, as Spark before 3.5). Join before that operator, or "
      .. "write its output to a table and join a stream of that"
  end
  local e = M.eviction(node, s)
  local how = s.how
  if how == "left_anti" then
    return nil, "LeftAnti joins with a streaming DataFrame/Dataset on the right are not supported"
  end
  local ok = how == "inner" or e.by_key
    or ((how == "left_outer" or how == "left_semi") and e.left)
    or (how == "right_outer" and e.right)
    or (how == "full_outer" and (e.left or e.right))
  if not ok then
    local nullable = how == "right_outer" and "left" or "right"
    return nil, "Stream-stream " .. SPARK[how] .. " join between two streaming "
      .. "DataFrame/Datasets is not supported without a watermark in the join keys, or a "
      .. "watermark on the nullable side and an appropriate range condition: without them the "
      .. "rows that find no match could never be emitted. Add :with_watermark(...) on the "
      .. nullable .. " side's time column and time_range = {left = ..., right = ..., lower = "
      .. "..., upper = ...}, or join on a `window` column"
  end
  return true
end

-- Plan warnings for a join node (state that grows without bound).
function M.warnings(node)
  local s = M.spec(node)
  if not s or s.static then return {} end
  local e = M.eviction(node, s)
  if e.by_key or (e.left and e.right) then return {} end
  if not e.left and not e.right then
    return { "a stream-stream join without watermarks and a time constraint keeps both sides "
      .. "forever: its state grows without bound" }
  end
  local kept = e.left and "right" or "left"
  local other = e.left and "left" or "right"
  return { "this stream-stream join keeps every " .. kept .. " row forever (its state grows "
    .. "without bound): add :with_watermark on the " .. other .. " side's time_range column" }
end

-- The columns of the chain ending at node, or nil when unknown.
local function chain_columns(node)
  return require("streamrun.exec").output_columns(node, true)
end

-- The output columns {{name, type}, ...}: keys, the left side's others, the right side's
-- others (renamed right_<name> when the left has the name). nil when a side is unknown.
-- (Both sides are recomputed here: exec's parent columns pass through a map unchanged.)
function M.columns(node)
  local s = M.spec(node)
  if not s then return nil end
  if s.how == "left_semi" or s.how == "left_anti" then return chain_columns(node.parent) end
  local left, right = chain_columns(node.parent), chain_columns(node.other)
  if s.static_left then left, right = right, left end
  if not left or not right or #left == 0 or #right == 0 then return nil end
  local keyset, lnames, out = {}, {}, {}
  for _, k in ipairs(s.keys) do keyset[k] = true end
  for _, c in ipairs(left) do lnames[c[1]] = c[2] end
  for _, k in ipairs(s.keys) do
    local t = lnames[k]
    if not t then for _, c in ipairs(right) do if c[1] == k then t = c[2] end end end
    if t then out[#out + 1] = { k, t } end
  end
  for _, c in ipairs(left) do if not keyset[c[1]] then out[#out + 1] = { c[1], c[2] } end end
  for _, c in ipairs(right) do
    if not keyset[c[1]] then
      out[#out + 1] = { lnames[c[1]] and ("right_" .. c[1]) or c[1], c[2] }
    end
  end
  return out
end

-- A set of the left side's column names when the plan knows them, else nil.
function M.left_names(node, s)
  local cols
  if s.static_left then cols = chain_columns(node.other)
  else cols = chain_columns(node.parent) end
  if not cols or #cols == 0 then return nil end
  local set = {}
  for _, c in ipairs(cols) do set[c[1]] = true end
  return set
end

-- merge(l, r) -> a new output row from a left row and a right row (either may be nil for an
-- outer row). lnames: the left side's column names (a set), or nil to ask the left row.
function M.merger(keys, lnames)
  local keyset = {}
  for _, k in ipairs(keys) do keyset[k] = true end
  return function(l, r, names)
    names = names or lnames
    local out = {}
    if l then for k, v in next, l do out[k] = v end end
    if r then
      for k, v in next, r do
        if keyset[k] then
          if l == nil then out[k] = v end
        elseif (names and names[k]) or (not names and l and l[k] ~= nil) then
          out["right_" .. k] = v
        else
          out[k] = v
        end
      end
    end
    return out
  end
end

-- accept(l, r): the time range and the `on` functions, after the keys matched.
function M.acceptor(s)
  local range, cond, lcond, rcond = s.range, s.cond, s.left_cond, s.right_cond
  if not range and not cond and not lcond and not rcond then return nil end
  local lc, rc, lower, upper = range and range.left, range and range.right, range and range.lower,
    range and range.upper
  return function(l, r)
    if range then
      local lt, rt = l[lc], r[rc]
      if lt == nil or rt == nil or rt < lt + lower or rt > lt + upper then return false end
    end
    if lcond and not lcond(l) then return false end
    if rcond and not rcond(r) then return false end
    if cond and not cond(l, r) then return false end
    return true
  end
end

-- The node as a line of the plan text: "Join LeftOuter on [k] where lt - 1000 ms <= rt <= lt
-- + 3000 ms (stream-stream)".
function M.describe(node)
  local s = M.spec(node)
  if not s then return "Join (invalid)" end
  local parts = { "Join " .. SPARK[s.how] }
  if #s.keys > 0 then parts[#parts + 1] = "on [" .. table.concat(s.keys, ", ") .. "]" end
  if s.cond then parts[#parts + 1] = (#s.keys > 0 and "and" or "on") .. " fn" end
  if s.left_cond then parts[#parts + 1] = "and left fn" end
  if s.right_cond then parts[#parts + 1] = "and right fn" end
  if s.range then
    parts[#parts + 1] = string.format("where %s %+d ms <= %s <= %s %+d ms", s.range.left,
                                      s.range.lower, s.range.right, s.range.left, s.range.upper)
  end
  parts[#parts + 1] = s.static and (s.static_left and "(static-stream)" or "(stream-static)")
    or "(stream-stream)"
  return table.concat(parts, " ")
end

function M.compile(node, q)
  local s, err = M.spec(node)
  if not s then error(node.where .. ": " .. err, 0) end
  if s.static then return require("streamrun.ops.join_static").compile(node, s, M) end
  return require("streamrun.ops.join_stream").compile(node, s, M)
end

return M
