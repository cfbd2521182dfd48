-- The analyzer: every column an operator names is resolved against the columns the plan knows
-- at that point, as Spark's analyzer resolves attributes (CheckAnalysis, error class
-- UNRESOLVED_COLUMN.WITH_SUGGESTION): a name that is not there refuses the plan, at --check and
-- at start, naming the job line, the operator, the column, the nearest name and the columns
-- that are there. A watermark on a column whose known type is not a timestamp is refused too
-- (CheckAnalysis: "Event time must be defined on a window or a timestamp").
--
-- The columns at a node (its scope) are known from the source's schema (declared, inferred or
-- fixed) through every operator that says what it outputs; a map or flat_map may reshape rows,
-- so after one the columns are unknown until a select, an aggregate or a join with known sides
-- names them again. A column an operator names where the columns are unknown is listed on the
-- node (node.runtime_columns for the rows of its parent, a join's runtime_other for the rows of
-- its other stream, q.runtime_columns for the sink's): streamrun.exec checks them in every
-- batch, and a column found in no row of a non-empty batch stops the query (check_rows below).
local core = require "streamrun.core"

local M = {}

-- A scope: {names = {ordered names}, types = {name -> type text | false}}.
local function scope_of(list)
  local s = { names = {}, types = {} }
  for i, c in ipairs(list) do
    s.names[i] = c[1]
    s.types[c[1]] = c[2] or false
  end
  return s
end

local function add(s, name, typ)
  if s.types[name] == nil then s.names[#s.names + 1] = name end
  s.types[name] = typ or false
end

local function as_list(s)
  local out = {}
  for i, n in ipairs(s.names) do out[i] = { n, s.types[n] or nil } end
  return out
end

-- Every column name an aggregate's keys and aggregates name, in output order.
local function aggregate_scope(node, parent)
  local s, nfn = { names = {}, types = {} }, 0
  for _, k in ipairs(node.keys) do
    if type(k) == "string" then add(s, k, parent and parent.types[k])
    elseif type(k) == "function" then
      nfn = nfn + 1
      add(s, nfn == 1 and "key" or ("key" .. nfn)) -- streamrun.ops.aggregate's names
    else add(s, "window") end
  end
  local names = {}
  for name in pairs(node.aggs) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do add(s, name) end
  -- the types the aggregate module knows (it needs the input's types)
  local mod = parent and require("streamrun.exec").operator("aggregate")
  if mod and mod.columns then
    for _, c in ipairs(mod.columns(node, as_list(parent)) or {}) do
      if s.types[c[1]] ~= nil then s.types[c[1]] = c[2] end
    end
  end
  return s
end

-- The join's two inputs as (left scope, right scope): static:join(stream) keeps the static
-- table on the left although the stream is the node's parent.
local function join_sides(node, columns)
  local a, b = columns(node.parent), columns(node.other)
  if node.static_left then return b, a end
  return a, b
end

local function join_scope(node, columns)
  local spec = require("streamrun.ops.join").spec(node)
  local left, right = join_sides(node, columns)
  if not spec or not left then return nil end
  if spec.how == "left_semi" or spec.how == "left_anti" then return left end
  if not right then return nil end
  local s, keyset = { names = {}, types = {} }, {}
  for _, k in ipairs(spec.keys) do
    keyset[k] = true
    add(s, k, left.types[k] or right.types[k])
  end
  for _, n in ipairs(left.names) do if not keyset[n] then add(s, n, left.types[n]) end end
  for _, n in ipairs(right.names) do
    if not keyset[n] then add(s, left.types[n] ~= nil and ("right_" .. n) or n, right.types[n]) end
  end
  return s
end

-- The scope of node's output, or nil when the plan cannot know it. memo: node -> scope|false.
local function columns_at(node, memo)
  local known = memo[node]
  if known ~= nil then return known or nil end
  local function columns(n) return columns_at(n, memo) end
  local op, s = node.op, nil
  if op == "source" then
    s = node.schema_list and scope_of(node.schema_list)
  elseif op == "union" then
    -- the left side's names (Spark's union takes the first input's); known only when the other
    -- side has every one of them, else a right row could lack one
    local left, right = columns(node.parent), columns(node.other)
    if left and right then
      s = left
      for _, n in ipairs(left.names) do if right.types[n] == nil then s = nil; break end end
    end
  elseif op == "filter" or op == "with_watermark" or op == "drop_duplicates"
      or op == "drop_duplicates_within_watermark" or op == "sort" or op == "limit" then
    s = columns(node.parent)
  elseif op == "map" or op == "flat_map" then
    -- rows may come out in any shape: known only when the operator declares its output schema
    s = node.schema and node.schema.columns and scope_of(node.schema:columns()) or nil
  elseif op == "select" then
    local parent = columns(node.parent)
    s = { names = {}, types = {} }
    for _, c in ipairs(node.columns) do add(s, c.name, c.from and parent and parent.types[c.from]) end
  elseif op == "parse_json" then
    local parent = columns(node.parent)
    if parent and node.schema then
      s = { names = {}, types = {} }
      for _, n in ipairs(parent.names) do if n ~= node.column then add(s, n, parent.types[n]) end end
      for _, c in ipairs(node.schema:columns()) do add(s, c[1], c[2]) end
    end
  elseif op == "aggregate" then
    s = aggregate_scope(node, columns(node.parent))
  elseif op == "join" then
    s = join_scope(node, columns)
  end -- process_with_state: the user's rows
  memo[node] = s or false
  return s
end

-- "did you mean" and the columns that are there, for a message about `name` missing from names.
function M.suggest(name, names)
  local near = #names > 0 and core.nearest_name(name, names) or nil
  local listed = {}
  for i = 1, math.min(#names, 30) do listed[i] = names[i] end
  local text = near and string.format("; did you mean %q?", near) or ""
  if #names == 0 then return text .. " (there are no columns)" end
  return text .. " (columns: " .. table.concat(listed, ", ") .. (#names > 30 and ", ..." or "") .. ")"
end

local function missing(where, what, name, scope)
  return nil, string.format("%s: %s: column %q does not exist%s", where or "?", what, name,
                            M.suggest(name, scope.names))
end

-- The column names a Delta sink option holds: "a,b", or a list (flattened to JSON text by exec).
local function option_columns(v)
  local out = {}
  if type(v) == "string" then
    for part in v:gmatch("[^,]+") do out[#out + 1] = part:match("^%s*(.-)%s*$") end
  elseif type(v) == "table" then
    for _, c in ipairs(v) do if type(c) == "string" then out[#out + 1] = c end end
  end
  return out
end

-- What each operator names: a list of {column, what} checked against the node's input scope.
local function references(node)
  local refs, op = {}, node.op
  local function ref(c, what) if type(c) == "string" then refs[#refs + 1] = { c, what } end end
  if op == "select" then
    for _, c in ipairs(node.columns) do if c.from then ref(c.from, "select") end end
  elseif op == "with_watermark" then
    ref(node.column, "with_watermark")
  elseif op == "parse_json" then
    ref(node.column, "parse_json")
  elseif op == "aggregate" or op == "process_with_state" then
    for _, k in ipairs(node.keys) do
      if type(k) == "string" then ref(k, "group_by")
      elseif type(k) == "table" and k.kind then
        ref(k.column, k.kind == "session" and "session_window" or "window")
      end
    end
    for name, a in pairs(node.aggs or {}) do ref(a.column, "agg " .. name .. " = " .. a.agg) end
  elseif op == "drop_duplicates" or op == "drop_duplicates_within_watermark" then
    for _, k in ipairs(type(node.keys) == "table" and node.keys or {}) do ref(k, op) end
  end
  table.sort(refs, function(a, b) return a[2] .. a[1] < b[2] .. b[1] end)
  return refs
end

-- Checks refs against scope (nil: unknown, so they are checked per batch): true, or nil and why.
local function resolve(where, refs, scope, pending)
  for _, r in ipairs(refs) do
    if scope then
      if scope.types[r[1]] == nil then return missing(where, r[2], r[1], scope) end
    else
      pending[#pending + 1] = r[1]
    end
  end
  return true
end

local function check_join(node, memo)
  local spec = require("streamrun.ops.join").spec(node)
  if not spec then return true end -- streamrun.plan reports a bad spec
  local left, right = join_sides(node, function(n) return columns_at(n, memo) end)
  local lrefs, rrefs = {}, {}
  for _, k in ipairs(spec.keys) do
    lrefs[#lrefs + 1] = { k, "join key" }
    rrefs[#rrefs + 1] = { k, "join key (right side)" }
  end
  local tr = node.time_range
  if type(tr) == "table" then
    if type(tr.left) == "string" then lrefs[#lrefs + 1] = { tr.left, "join time_range.left" } end
    if type(tr.right) == "string" then rrefs[#rrefs + 1] = { tr.right, "join time_range.right" } end
  end
  local lp, rp = {}, {}
  local ok, err = resolve(node.where, lrefs, left, lp)
  if not ok then return nil, err end
  ok, err = resolve(node.where, rrefs, right, rp)
  if not ok then return nil, err end
  -- the node's parent is the left side, but the right one with a static left (a static table's
  -- rows are not checked per batch)
  if node.static_left then lp, rp = rp, {} end
  node.runtime_columns = #lp > 0 and lp or nil
  node.runtime_other = #rp > 0 and rp or nil
  return true
end

-- Spark accepts event time on a timestamp or on a window (a start/end struct of timestamps).
local function time_type(t)
  return t == "timestamp" or (type(t) == "string" and t:match("^struct<start: timestamp") ~= nil)
end

-- Resolves every column the query names. Returns true, or nil and the reason.
function M.check(q)
  local memo, problem = {}, nil
  require("streamrun.plan").walk(q.root, function(n)
    if problem then return end
    n.runtime_columns, n.runtime_other = nil, nil
    if n.op == "join" then
      local ok, err = check_join(n, memo)
      if not ok then problem = err end
      return
    end
    if n.op == "source" or n.op == "union" then return end
    local scope = n.parent and columns_at(n.parent, memo)
    local pending = {}
    local ok, err = resolve(n.where, references(n), scope, pending)
    if not ok then problem = err; return end
    n.runtime_columns = #pending > 0 and pending or nil
    if n.op == "with_watermark" and scope then
      local t = scope.types[n.column]
      if t and not time_type(t) then
        problem = string.format("%s: with_watermark: event time must be a timestamp (or a window), "
          .. "but column %q is of type %s (declare it timestamp in the source's schema%s)",
          n.where, n.column, t, t == "string" and ", or set inferTimestamp = true on a json source" or "")
      end
    end
  end)
  if problem then return nil, problem end
  -- the sink's columns: a Delta table's partitionBy and mergeKeys
  local refs = {}
  if q.sink.format == "delta" then
    for _, c in ipairs(option_columns(q.sink.partitionBy)) do refs[#refs + 1] = { c, "partitionBy" } end
    for _, c in ipairs(option_columns(q.sink.mergeKeys)) do refs[#refs + 1] = { c, "mergeKeys" } end
  end
  local pending = {}
  local ok, err = resolve(q.where, refs, columns_at(q.root, memo), pending)
  if not ok then return nil, err end
  q.runtime_columns = #pending > 0 and pending or nil
  return true
end

-- The columns the plan knows at node's output as {{name, type|nil}, ...}, or nil.
function M.columns(node)
  local s = columns_at(node, {})
  return s and as_list(s) or nil
end

-- Column pruning --------------------------------------------------------------------------
-- A json source (or a csv one with a header: its columns are found by name) decodes only the
-- columns the query reads, as Spark's file scans read only their requiredSchema
-- (FileSourceStrategy, ColumnPruning); a source whose C records become rows in a Lua module
-- that says `prunes` (sources/nexmark.lua) makes only those columns' values (a column never
-- read, such as Nexmark's padding `extra`, is not made a Lua string). Which columns a user function reads is read from its
-- LuaJIT bytecode, conservatively: a function whose row argument is used only as `row.name`
-- (a TGETS on the argument's slot) reads those names; any other use of the argument (passed
-- on, returned, indexed by a variable, captured by a closure, assigned to) means every column.

local BC_STR, BC_SLOT_MODES = 10, { [1] = true, [2] = true, [3] = true, [4] = true }

-- The set of columns fn reads from its first argument, or nil (it may read any).
function M.fn_columns(fn)
  local ok, ju = pcall(require, "jit.util")
  if not ok or type(fn) ~= "function" then return nil end
  local info = ju.funcinfo(fn)
  if not info or not info.bytecodes or (info.params or 0) < 1 or info.children then return nil end
  local TGETS = require("jit.vmdef").bcnames:find("TGETS", 1, true)
  if not TGETS then return nil end
  TGETS = (TGETS - 1) / 6
  local bit, cols = require "bit", {}
  for pc = 1, info.bytecodes - 1 do
    local ins, m = ju.funcbc(fn, pc)
    if not ins then break end
    local op = bit.band(ins, 0xff)
    local a, b = bit.band(bit.rshift(ins, 8), 0xff), bit.rshift(ins, 24)
    local cd = bit.rshift(ins, 16)
    local ma, mb, mc = bit.band(m, 7), bit.band(bit.rshift(m, 3), 15), bit.band(bit.rshift(m, 7), 15)
    if op == TGETS and b == 0 and mc == BC_STR and a ~= 0 then
      local key = ju.funck(fn, -bit.band(cd, 0xff) - 1)
      if type(key) ~= "string" then return nil end
      cols[key] = true
    else
      if BC_SLOT_MODES[ma] and a == 0 then return nil end
      if mb ~= 0 then
        if BC_SLOT_MODES[mb] and b == 0 then return nil end
        if BC_SLOT_MODES[mc] and bit.band(cd, 0xff) == 0 then return nil end
      elseif BC_SLOT_MODES[mc] and cd == 0 then
        return nil
      end
    end
  end
  return cols
end

local function union(a, b)
  if not a or not b then return nil end
  local out = {}
  for k in pairs(a) do out[k] = true end
  for k in pairs(b) do out[k] = true end
  return out
end

local function key_columns(keys)
  if type(keys) ~= "table" then return nil end -- the whole row is the key
  local s = {}
  for _, k in ipairs(keys) do
    if type(k) == "string" then s[k] = true
    elseif type(k) == "function" then s = union(s, M.fn_columns(k))
    elseif type(k) == "table" and k.kind then
      if s then s[k.column] = true end
      if k.gap_fn then s = union(s, M.fn_columns(k.gap_fn)) end
    else return nil end
    if not s then return nil end
  end
  return s
end

-- source node -> the set of its columns the query reads, or false (every column).
local function needs(q)
  local result = {}
  local function visit(node, need)
    local op = node.op
    if op == "source" then
      local had = result[node]
      if had == nil then result[node] = need or false
      elseif had then result[node] = union(had, need) or false end
    elseif op == "filter" then
      visit(node.parent, union(need, M.fn_columns(node.fn)))
    elseif op == "with_watermark" then
      visit(node.parent, union(need, { [node.column] = true }))
    elseif op == "select" then -- names its columns anew: what is above it does not matter
      local s = {}
      for _, c in ipairs(node.columns) do
        if c.from then s[c.from] = true else s = union(s, M.fn_columns(c.fn)) end
        if not s then break end
      end
      visit(node.parent, s)
    elseif op == "map" or op == "flat_map" then -- a new row from what fn reads
      visit(node.parent, M.fn_columns(node.fn))
    elseif op == "drop_duplicates" or op == "drop_duplicates_within_watermark" then
      visit(node.parent, union(need, key_columns(node.keys)))
    elseif op == "aggregate" then
      local s = key_columns(node.keys)
      for _, a in pairs(node.aggs) do
        if a.agg == "custom" then s = nil
        elseif s and a.column then s[a.column] = true end
      end
      visit(node.parent, s)
    elseif op == "union" then
      visit(node.parent, need)
      visit(node.other, need)
    else -- join, parse_json, process_with_state, ...: every column
      if node.parent then visit(node.parent, nil) end
      if node.other then visit(node.other, nil) end
    end
  end
  visit(q.root, nil) -- the sink writes every column it gets
  return result
end

local function header_csv(n)
  local h = n.options.header
  return h == true or h == "true"
end

-- Whether source reads its columns by name, so that it can leave out the ones not read.
local function prunable(source)
  if source.format == "json" or (source.format == "csv" and header_csv(source)) then return true end
  local view = core.source_view_module(source.format)
  return view ~= nil and require(view).prunes == true
end

-- The schema a stream source of q should decode or make (its columns the query reads), or nil
-- for its whole schema. Memoized per query on q.
function M.read_schema(q, source)
  if not source.schema_list or not prunable(source) then return nil end
  q.analyzer_needs = q.analyzer_needs or needs(q)
  local need = q.analyzer_needs[source]
  if not need then return nil end
  local list = {}
  for _, c in ipairs(source.schema_list) do
    if need[c[1]] then list[#list + 1] = c end
  end
  if #list == #source.schema_list then return nil end
  return core.schema(list)
end

-- The runtime half: raises (a user error naming the operator and its job line) when rows[1..n]
-- is not empty and one of cols is in none of its rows. A column null in some rows is fine.
function M.check_rows(rows, n, cols, what, where)
  if not cols or n == 0 then return end
  for _, c in ipairs(cols) do
    local found = false
    for i = 1, n do
      if rows[i][c] ~= nil then found = true; break end
    end
    if not found then M.missing_at_runtime(rows[1], c, n, what, where) end
  end
end

function M.missing_at_runtime(row, column, n, what, where)
  local names = {}
  if type(row) == "table" then
    for k in pairs(row) do if type(k) == "string" then names[#names + 1] = k end end
  end
  table.sort(names)
  error({ streamrun_user_error = true,
          message = string.format("%s: %s: column %q is in no row of this batch (%d rows; the plan "
            .. "cannot know the columns here, after a map or flat_map)%s", where or "?", what,
            column, n, (M.suggest(column, names):gsub("%(columns:", "(the first row's columns:"))) }, 0)
end

return M
