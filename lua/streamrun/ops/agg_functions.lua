-- The aggregate functions of group_by(...):agg{...}: how each keeps its partial result in
-- accumulator slots, adds a row, merges two partials and gives its final value.
--
-- An accumulator is a flat Lua array: every aggregate owns one or two consecutive slots from
-- `base + 1` on (base = 0 for windows and plain groups, 2 for a session, whose slots 1 and 2
-- are its start and end). Slots may hold nil: a packed array with holes keeps its other
-- items (lua_pack.c), so nil is a null and never needs a sentinel. compile() generates the
-- add / merge / finish functions for one aggregation as Lua source, so LuaJIT traces the
-- batch loop with the aggregates inlined rather than dispatching per row.
--
-- Null handling follows Spark: count() counts rows; sum, min, max, avg, count_distinct and
-- collect_list skip nulls (sum/min/max/avg of only nulls is null); first/last keep the value
-- of the first/last row even when it is null (Spark's default ignoreNulls = false).
local M = {}

-- Group keys and distinct values must be usable as Lua table keys with the equality the state
-- store uses for packed values: nil, NaN and int64 cdata need a stand-in, and a table key
-- (a struct) needs a canonical text. NULL_KEY / NAN_KEY are unique tables.
M.NULL_KEY = setmetatable({}, { __tostring = function() return "null" end })
M.NAN_KEY = setmetatable({}, { __tostring = function() return "NaN" end })

local EXACT = 2 ^ 53
local format, concat, sort, tostring, type, tonumber = string.format, table.concat, table.sort,
  tostring, type, tonumber

-- An int64/uint64 cdata as the number the packer treats it as (exact within +-2^53), or nil.
local function exact(v)
  local n = tonumber(v)
  if n and n >= -EXACT and n <= EXACT and v == n then return n end
  return nil
end

-- Canonical text of any packable value (used for table-valued keys, dedup and stable order).
-- Numbers and int64 cdata that are equal when packed give the same text.
local function value_text(v)
  local t = type(v)
  if t == "number" then
    if v ~= v then return "N" end
    return "d" .. format("%.17g", v == 0 and 0 or v) -- -0 packs as 0
  elseif t == "string" then
    return "s" .. #v .. ":" .. v
  elseif t == "nil" then
    return "n"
  elseif t == "boolean" then
    return v and "T" or "F"
  elseif t == "cdata" then
    local n = exact(v)
    if n then return "d" .. format("%.17g", n) end
    return "i" .. tostring(v)
  elseif t == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = value_text(k) .. "=" .. value_text(x) end
    sort(parts)
    return "{" .. concat(parts, ",") .. "}"
  end
  error("a " .. t .. " cannot be a group key or a distinct value")
end
M.value_text = value_text

-- The Lua table key standing for v (v is not a non-NaN number or a string: the callers test
-- those first, inline, as they are nearly every value).
function M.norm(v)
  if v == nil then return M.NULL_KEY end
  local t = type(v)
  if t == "number" then return v ~= v and M.NAN_KEY or v end
  if t == "boolean" or t == "string" then return v end
  if t == "cdata" then
    local n = exact(v)
    if n then return n end
  end
  return "\0" .. value_text(v)
end

-- A key value as the store gives it back: an int64 cdata that is exact as a double becomes a
-- number (as unpacking does), so a group's output is the same before and after a restart.
function M.key_value(v)
  return type(v) == "cdata" and exact(v) or v
end

-- Text of a whole group key (an array of nkeys values with possible holes).
function M.key_text(key, nkeys)
  local parts = {}
  for i = 1, nkeys do parts[i] = value_text(key[i]) end
  return concat(parts, "|")
end

-- Per kind: slots used; code templates with $A (accumulator), $P (partial merged in), $I / $J
-- (first / second slot), $V (the column value, read once into a local), $F (the custom
-- aggregate's functions prefix).
local KINDS = {
  count = { slots = 1, init = "0",
    add = "$A[$I] = $A[$I] + 1",
    merge = "$A[$I] = $A[$I] + $P[$I]",
    finish = "$A[$I]", type = "long" },
  sum = { slots = 1, column = true, init = "nil",
    add = "if $V ~= nil then local c = $A[$I]; if c == nil then $A[$I] = $V else $A[$I] = c + $V end end",
    merge = "do local x = $P[$I]; if x ~= nil then local c = $A[$I]; if c == nil then $A[$I] = x else $A[$I] = c + x end end end",
    finish = "$A[$I]" },
  min = { slots = 1, column = true, init = "nil",
    add = "if $V ~= nil then local c = $A[$I]; if c == nil or $V < c then $A[$I] = $V end end",
    merge = "do local x = $P[$I]; if x ~= nil then local c = $A[$I]; if c == nil or x < c then $A[$I] = x end end end",
    finish = "$A[$I]" },
  max = { slots = 1, column = true, init = "nil",
    add = "if $V ~= nil then local c = $A[$I]; if c == nil or $V > c then $A[$I] = $V end end",
    merge = "do local x = $P[$I]; if x ~= nil then local c = $A[$I]; if c == nil or x > c then $A[$I] = x end end end",
    finish = "$A[$I]" },
  avg = { slots = 2, column = true, init = "0, 0",
    add = "if $V ~= nil then $A[$I] = $A[$I] + $V; $A[$J] = $A[$J] + 1 end",
    merge = "$A[$I] = $A[$I] + $P[$I]; $A[$J] = $A[$J] + $P[$J]",
    finish = "($A[$J] > 0 and tonumber($A[$I]) / tonumber($A[$J]) or nil)", type = "double" },
  first = { slots = 2, column = true, init = "false, nil",
    add = "if not $A[$I] then $A[$I] = true; $A[$J] = $V end",
    merge = "if not $A[$I] and $P[$I] then $A[$I] = true; $A[$J] = $P[$J] end",
    finish = "$A[$J]" },
  last = { slots = 2, column = true, init = "false, nil",
    add = "$A[$I] = true; $A[$J] = $V",
    merge = "if $P[$I] then $A[$I] = true; $A[$J] = $P[$J] end",
    finish = "$A[$J]" },
  count_distinct = { slots = 1, column = true, init = "{}",
    add = "if $V ~= nil then local tv = type($V); if tv == 'string' or (tv == 'number' and $V == $V) "
      .. "then $A[$I][$V] = true else $A[$I][norm($V)] = true end end",
    merge = "do local s = $A[$I]; for k in pairs($P[$I]) do s[k] = true end end",
    finish = "count_keys($A[$I])", type = "long" },
  collect_list = { slots = 1, column = true, init = "{}",
    add = "if $V ~= nil then local l = $A[$I]; l[#l + 1] = $V end",
    merge = "do local l, x = $A[$I], $P[$I]; local m = #l; for k = 1, #x do l[m + k] = x[k] end end",
    finish = "$A[$I]" },
  custom = { slots = 1, init = "$F_init()",
    add = "do local x = $F_add($A[$I], r); if x ~= nil then $A[$I] = x end end",
    merge = "do local x = $F_merge($A[$I], $P[$I]); if x ~= nil then $A[$I] = x end end",
    finish = "$F_finish($A[$I])" },
}

-- count_distinct's set, stored as {[value] = true}: a NaN/int64/struct value is a text key,
-- so every stored key is a number, string or boolean.
local function count_keys(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

local function subst(template, vars)
  return (template:gsub("%$(%u)", vars))
end

-- The aggregates of a node in output order (sorted by output name), each with its slots.
function M.layout(aggs)
  local names = {}
  for name in pairs(aggs) do names[#names + 1] = name end
  sort(names)
  local list, slot = {}, 0
  for i, name in ipairs(names) do
    local a = aggs[name]
    local kind = KINDS[a.agg]
    if not kind then error("unknown aggregate " .. tostring(a.agg) .. " for " .. name, 0) end
    list[i] = { name = name, spec = a, kind = kind, slot = slot + 1 }
    slot = slot + kind.slots
  end
  return list, slot
end

-- Generates, for the aggregates `list` (from layout) with slots after `base`:
--   new_acc(...) -> a fresh accumulator; the varargs fill the `base` leading slots
--   add(acc, r)           folds row r into acc
--   merge(acc, partial)   folds partial into acc (acc is the earlier one: first/last use it)
--   finish(acc, out)      sets out[name] = final value for every aggregate
-- Returns those four functions.
function M.compile(list, base)
  local env = { norm = M.norm, count_keys = count_keys, tonumber = tonumber, type = type,
                pairs = pairs }
  local inits, adds, merges, finishes = {}, {}, {}, {}
  for k, a in ipairs(list) do
    local vars = { A = "a", P = "p", I = tostring(base + a.slot), J = tostring(base + a.slot + 1),
                   V = "v" .. k, F = "c" .. k }
    if a.spec.agg == "custom" then
      env["c" .. k .. "_init"], env["c" .. k .. "_add"] = a.spec.init, a.spec.add
      env["c" .. k .. "_merge"] = a.spec.merge
      env["c" .. k .. "_finish"] = a.spec.finish or function(x) return x end
    end
    inits[#inits + 1] = subst(a.kind.init, vars)
    local add = subst(a.kind.add, vars)
    if a.kind.column then add = format("do local v%d = r[%q]; %s end", k, a.spec.column, add) end
    adds[#adds + 1] = add
    merges[#merges + 1] = subst(a.kind.merge, vars)
    finishes[#finishes + 1] = format("out[%q] = %s", a.name, subst(a.kind.finish, vars))
  end
  local lead = {}
  for i = 1, base do lead[i] = "x" .. i end
  local lead_list = concat(lead, ", ")
  local init_list = concat(inits, ", ")
  if #lead > 0 and #inits > 0 then lead_list = lead_list .. ", " end
  local src = {
    "local norm, count_keys, tonumber, type, pairs = ENV.norm, ENV.count_keys, ENV.tonumber, ENV.type, ENV.pairs",
  }
  for k, a in ipairs(list) do
    if a.spec.agg == "custom" then
      src[#src + 1] = format("local c%d_init, c%d_add, c%d_merge, c%d_finish = ENV.c%d_init, ENV.c%d_add, "
        .. "ENV.c%d_merge, ENV.c%d_finish", k, k, k, k, k, k, k, k)
    end
  end
  src[#src + 1] = "local function new_acc(" .. concat(lead, ", ") .. ") return { " .. lead_list .. init_list .. " } end"
  src[#src + 1] = "local function add(a, r) " .. concat(adds, "; ") .. " end"
  src[#src + 1] = "local function merge(a, p) " .. concat(merges, "; ") .. " end"
  src[#src + 1] = "local function finish(a, out) " .. concat(finishes, "; ") .. " end"
  src[#src + 1] = "return new_acc, add, merge, finish"
  local chunk = assert(load("local ENV = ...\n" .. concat(src, "\n"), "=streamrun-aggregates"))
  return chunk(env)
end

-- The output type of an aggregate given its input column's type (nil when unknown).
function M.output_type(a, column_type)
  local kind = KINDS[a.agg]
  if not kind then return nil end
  if kind.type then return kind.type end
  if a.agg == "collect_list" then return column_type and { "array", column_type } or nil end
  if a.agg == "sum" and column_type and column_type ~= "long" and column_type ~= "int" then
    return "double"
  end
  if a.agg == "sum" and column_type then return "long" end
  if a.agg == "custom" then return nil end
  return column_type
end

return M
