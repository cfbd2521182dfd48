-- Static tables (sr.read{...}) as bounded data: table:collect() reads the table as it is now
-- and runs its operations as a batch job would (Spark's Dataset.collect on a batch DataFrame).
--
-- The operations: map, filter, flat_map, select, parse_json, with_watermark (no effect on a
-- bounded table, as in Spark's batch queries), drop_duplicates, group_by(...):agg{...} /
-- :count(), sort and limit. A batch aggregation has one output row per group (per window, for
-- window keys), its keys then its aggregates as a streaming one's rows; groups come in the order
-- their first row came. A session window, process_with_state and joins are refused here.
local core = require "streamrun.core"
local options = require "streamrun.options"
local errors = require "streamrun.errors"
local F = require "streamrun.ops.agg_functions"
local window = require "streamrun.ops.window"

local S = {}

-- Calls fn(...) and, when it raises, raises the error with the operation and its job line.
local function guarded(node, fn, ...)
  local res = { xpcall(fn, debug.traceback, ...) }
  if not res[1] then
    -- the operation follows the error's own line, before its traceback
    local msg, trace = errors.split_traceback(res[2])
    error(string.format("%s in %s of the static table (defined at %s)%s", msg, node.op,
                        tostring(node.where), trace), 0)
  end
  return unpack(res, 2, table.maxn(res))
end

local function load_source(src)
  local opts = options.flatten(src.options, { schema = true })
  local ok, rows, n = pcall(core.static_load, src.format, opts.path or "", opts, src.schema)
  if not ok then error(src.where .. ": " .. tostring(rows), 0) end
  return rows, n
end

-- The key values of row r for the group keys (a window key gives several: one per window).
-- Returns a list of key tuples.
local function key_tuples(keys, r)
  local tuples = { {} }
  for i, k in ipairs(keys) do
    local t = type(k)
    if t == "string" then
      for _, tu in ipairs(tuples) do tu[i] = r[k] end
    elseif t == "function" then
      local v = k(r)
      for _, tu in ipairs(tuples) do tu[i] = v end
    else -- sr.window
      local ts = r[k.column]
      if ts == nil then return {} end -- Spark drops a row whose time column is null
      local wins = window.assign(tonumber(ts), k.size_ms, k.slide_ms, k.start_ms)
      local grown = {}
      for w = #wins, 1, -1 do -- earliest window first
        for _, tu in ipairs(tuples) do
          local c = {}
          for j = 1, i - 1 do c[j] = tu[j] end
          c[i] = { start = wins[w][1], ["end"] = wins[w][2] }
          grown[#grown + 1] = c
        end
      end
      tuples = grown
    end
  end
  return tuples
end

function S.aggregate(node, rows, n)
  for _, k in ipairs(node.keys) do
    if type(k) == "table" and k.kind == "session" then
      error(node.where .. ": session windows are not supported on a static table here", 0)
    end
  end
  local list = F.layout(node.aggs)
  local new_acc, add, _, finish = F.compile(list, 0)
  local nkeys = #node.keys
  local names, nfn = {}, 0
  for i, k in ipairs(node.keys) do
    if type(k) == "string" then names[i] = k
    elseif type(k) == "function" then
      nfn = nfn + 1
      names[i] = nfn == 1 and "key" or ("key" .. nfn)
    else names[i] = "window" end
  end
  local groups, order = {}, {}
  guarded(node, function()
    for i = 1, n do
      local r = rows[i]
      for _, tu in ipairs(key_tuples(node.keys, r)) do
        local text = F.key_text(tu, nkeys)
        local g = groups[text]
        if not g then
          g = { key = tu, acc = new_acc() }
          groups[text] = g
          order[#order + 1] = g
        end
        add(g.acc, r)
      end
    end
  end)
  local out = {}
  guarded(node, function()
    for i, g in ipairs(order) do
      local row = {}
      for k = 1, nkeys do row[names[k]] = F.key_value(g.key[k]) end
      finish(g.acc, row)
      out[i] = row
    end
  end)
  return out, #out
end

-- sort's arguments: column names, ascending unless followed by " desc" ("price desc"), or one
-- function(a, b) -> true when a comes first. Nulls come first ascending, last descending, as
-- Spark's defaults.
local function comparator(node)
  local args = node.args or {}
  if #args == 1 and type(args[1]) == "function" then return args[1] end
  local cols = {}
  for i, a in ipairs(args) do
    if type(a) ~= "string" then
      error(node.where .. ": sort: argument " .. i .. " must be a column name (\"price\", "
        .. "\"price desc\") or one function(a, b)", 0)
    end
    local name, dir = a:match("^%s*(.-)%s+(%a+)%s*$")
    if dir and (dir:lower() == "desc" or dir:lower() == "asc") then
      cols[i] = { name = name, desc = dir:lower() == "desc" }
    else
      cols[i] = { name = a }
    end
  end
  if #cols == 0 then error(node.where .. ": sort expects at least one column", 0) end
  return function(a, b)
    for _, c in ipairs(cols) do
      local x, y = a[c.name], b[c.name]
      if x ~= y then
        if x == nil then return not c.desc end
        if y == nil then return c.desc end
        if c.desc then return x > y end
        return x < y
      end
    end
    return false
  end
end

local function stable_sort(rows, n, less)
  local idx = {}
  for i = 1, n do idx[i] = i end
  table.sort(idx, function(i, j)
    local a, b = rows[i], rows[j]
    if less(a, b) then return true end
    if less(b, a) then return false end
    return i < j
  end)
  local out = {}
  for i = 1, n do out[i] = rows[idx[i]] end
  return out
end

local function distinct(node, rows, n)
  local keys = node.keys
  local seen, out = {}, {}
  for i = 1, n do
    local r = rows[i]
    local text
    if keys == nil then
      text = F.value_text(r)
    else
      local parts = {}
      for j, k in ipairs(keys) do
        parts[j] = F.value_text(type(k) == "function" and k(r) or r[k])
      end
      text = table.concat(parts, "|")
    end
    if not seen[text] then
      seen[text] = true
      out[#out + 1] = r
    end
  end
  return out, #out
end

-- Runs one operation over the rows of the table (also for the static side of a join).
local function run(node, rows, n)
  local op = node.op
  if op == "map" or op == "filter" or op == "flat_map" then
    local out, m = {}, 0
    guarded(node, function()
      for i = 1, n do
        local r = rows[i]
        if op == "map" then
          r = node.fn(r)
          if r ~= nil then m = m + 1; out[m] = r end
        elseif op == "filter" then
          if node.fn(r) then m = m + 1; out[m] = r end
        else
          for _, x in ipairs(node.fn(r) or {}) do m = m + 1; out[m] = x end
        end
      end
    end)
    return out, m
  elseif op == "select" then
    local out = {}
    guarded(node, function()
      for i = 1, n do
        local r, o = rows[i], {}
        for _, c in ipairs(node.columns) do
          if c.fn then o[c.name] = c.fn(r) else o[c.name] = r[c.from] end
        end
        out[i] = o
      end
    end)
    return out, n
  elseif op == "parse_json" then
    return core.parse_json_column(rows, n, node.column, node.schema, node.where)
  elseif op == "with_watermark" then
    return rows, n
  elseif op == "drop_duplicates" or op == "drop_duplicates_within_watermark" then
    return guarded(node, distinct, node, rows, n)
  elseif op == "aggregate" then
    return S.aggregate(node, rows, n)
  elseif op == "sort" then
    local less = comparator(node)
    local sorted = guarded(node, stable_sort, rows, n, less)
    return sorted, n
  elseif op == "limit" then
    local lim = node.n
    if type(lim) ~= "number" or lim < 0 or lim ~= math.floor(lim) then
      error(node.where .. ": limit expects a whole number >= 0, not " .. tostring(lim), 0)
    end
    local out = {}
    for i = 1, math.min(lim, n) do out[i] = rows[i] end
    return out, #out
  end
  error(node.where .. ": " .. op .. " is not supported on a static table's collect()", 0)
end
S.run = run

-- The rows of the static table ending at node, read now. Returns rows, n.
function S.collect(node)
  local chain, src = {}, node
  while src.op ~= "source" do
    if src.op == "join" or src.op == "union" then
      error(src.where .. ": collect() of a static table does not support " .. src.op .. " yet", 0)
    end
    table.insert(chain, 1, src)
    src = src.parent
  end
  local rows, n = load_source(src)
  for _, step in ipairs(chain) do rows, n = run(step, rows, n) end
  return rows, n
end

return S
