-- Keys of the stateful operators, in Lua: the value a row's key is stored under in the state
-- store, and a batch's distinct keys found without crossing into C.
--
-- The store packs keys in C (runtime/lua/lua_pack.c): equal values pack to equal bytes, integers
-- are normalised (5 and 5LL are one key) and tables are compared by content. Finding the
-- distinct keys of a batch must not cross into C per row, so this module gives every key a Lua
-- table index with the same equality, its `id`: a string, boolean or number stands for itself;
-- nil, NaN, int64 cdata beyond 2^53 and tables (which Lua compares by identity) stand for a
-- token interned by their canonical text. Invariant: id(a) == id(b) exactly when a and b pack to
-- the same bytes (within one batch's intern table).
--
-- A key spec is a column name, a function fn(row), or a list of them. One part: the stored key
-- is the part's value (a number key packs in a few bytes). Several parts: a list {v1, v2, ...}.
-- No spec (nil): the whole row is the key, as Spark's dropDuplicates() without columns.
local ffi = require "ffi"
local errors = require "streamrun.errors"
local types = require "streamrun.types"

local K = {}

local type, floor, format, concat, sort = type, math.floor, string.format, table.concat, table.sort
local pairs, rawget, tonumber, tostring = pairs, rawget, tonumber, tostring

local EXACT = 2 ^ 53
local MAX_DEPTH = 100
local NIL, NAN = {}, {} -- ids of the parts a Lua table cannot be indexed by
local i64, u64 = ffi.typeof("int64_t"), ffi.typeof("uint64_t")
local INT64_MAX_U = 0x7fffffffffffffffULL

-- An int64/uint64 cdata as a number when it is exact within +-2^53 (as the packer does), else nil.
local function small_int(v)
  if ffi.istype(i64, v) then
    if v >= -EXACT and v <= EXACT then return tonumber(v) end
  elseif ffi.istype(u64, v) then
    if v <= EXACT then return tonumber(v) end
  end
  return nil
end

-- The canonical text of a value: equal text exactly when the packed bytes are equal. Values
-- the packer refuses get some text; the store call that packs them raises with the reason.
local function canon(v, depth)
  local t = type(v)
  if t == "string" then return "s" .. #v .. ":" .. v end
  if t == "number" then
    if v ~= v then return "dnan" end
    if v == floor(v) and v >= -EXACT and v <= EXACT then return format("i%d", v) end
    return format("d%a", v)
  end
  if t == "boolean" then return v and "t" or "f" end
  if t == "nil" then return "n" end -- by type: `v == nil` would call a timestamp's __eq
  if t == "cdata" then
    local n = small_int(v)
    if n then return format("i%d", n) end
    if types.is_timestamp(v) then return "T" .. tostring(v) end -- ISO text: one per microsecond
    if types.is_date(v) then return "D" .. tostring(v) end
    if types.is_binary(v) then return "b" .. #v .. ":" .. v:bytes() end
    local digits = tostring(v):gsub("U?LL$", "")
    if ffi.istype(u64, v) and v > INT64_MAX_U then return "u" .. digits end
    return "i" .. digits
  end
  if t ~= "table" or depth > MAX_DEPTH then return "?" .. tostring(v) end
  local items, narr = {}, 0
  while rawget(v, narr + 1) ~= nil do
    narr = narr + 1
    items[narr] = canon(rawget(v, narr), depth + 1)
  end
  local hash, nh = {}, 0
  for k, x in pairs(v) do
    if not (type(k) == "number" and k >= 1 and k <= narr and k == floor(k)) then
      nh = nh + 1
      hash[nh] = canon(k, depth + 1) .. "=" .. canon(x, depth + 1)
    end
  end
  sort(hash)
  return "{" .. concat(items, ",") .. "|" .. concat(hash, ";") .. "}"
end
K.canon = function(v) return canon(v, 0) end

-- The id of a key value (see the top). intern is the batch's table of tokens by canonical text.
local function id_of(v, intern)
  local t = type(v)
  if t == "string" or t == "boolean" then return v end
  if t == "number" then
    if v ~= v then return NAN end
    return v
  end
  if t == "nil" then return NIL end -- by type: `v == nil` would call a timestamp's __eq
  if t == "cdata" then
    local n = small_int(v)
    if n then return n end
  end
  local c = canon(v, 0)
  local tok = intern[c]
  if tok == nil then
    tok = {}
    intern[c] = tok
  end
  return tok
end
K.id = id_of

-- Distinct keys, one part that is a column: the hot path of drop_duplicates.
local function distinct_column(col)
  return function(rows, n, collect)
    local seen, intern = {}, nil
    local skeys, groups, m = {}, {}, 0
    for i = 1, n do
      local r = rows[i]
      local v = r[col]
      local id = v
      local t = type(v)
      if t ~= "number" and t ~= "string" and t ~= "boolean" then
        intern = intern or {}
        id = id_of(v, intern)
      elseif v ~= v then
        id = NAN
      end
      local g = seen[id]
      if g == nil then
        m = m + 1
        seen[id] = m
        skeys[m] = v
        groups[m] = collect and { r } or r
      elseif collect then
        local l = groups[g]
        l[#l + 1] = r
      end
    end
    return m, skeys, groups
  end
end

-- Distinct keys of one part computed by a function, or of the whole row (part == nil).
local function distinct_single(part)
  return function(rows, n, collect)
    local seen, intern = {}, {}
    local skeys, groups, m = {}, {}, 0
    for i = 1, n do
      local r = rows[i]
      local v
      if part then v = part(r) else v = r end
      local id = id_of(v, intern)
      local g = seen[id]
      if g == nil then
        m = m + 1
        seen[id] = m
        skeys[m] = v
        groups[m] = collect and { r } or r
      elseif collect then
        local l = groups[g]
        l[#l + 1] = r
      end
    end
    return m, skeys, groups
  end
end

-- Distinct keys of several parts: a trie of Lua tables indexed by each part's id, so no key
-- text is built per row; the stored key {v1, ..., vk} is made once per distinct key.
local function distinct_parts(getters)
  local k = #getters
  return function(rows, n, collect)
    local root, intern, vals = {}, {}, {}
    local skeys, groups, m = {}, {}, 0
    for i = 1, n do
      local r = rows[i]
      local node = root
      for j = 1, k - 1 do
        local v = getters[j](r)
        vals[j] = v
        local id = id_of(v, intern)
        local nxt = node[id]
        if nxt == nil then
          nxt = {}
          node[id] = nxt
        end
        node = nxt
      end
      local v = getters[k](r)
      vals[k] = v
      local id = id_of(v, intern)
      local g = node[id]
      if g == nil then
        m = m + 1
        node[id] = m
        local sk = {}
        for j = 1, k do sk[j] = vals[j] end
        skeys[m] = sk
        groups[m] = collect and { r } or r
      elseif collect then
        local l = groups[g]
        l[#l + 1] = r
      end
    end
    return m, skeys, groups
  end
end

-- Runs the key functions row by row, protected, to name the failing row (called only after a
-- batch's key loop raised).
local function diagnose(parts, rows, n, what, original)
  local core = require "streamrun.core"
  for i = 1, n do
    for _, p in ipairs(parts) do
      if type(p) == "function" then
        local ok, err = xpcall(p, debug.traceback, rows[i])
        if not ok then
          local rowtext = select(2, pcall(core.to_json, rows[i]))
          error({ streamrun_user_error = true,
                  message = string.format("%s in the key function of %s\n  row: %s", errors.message(err),
                                          what, tostring(rowtext)) }, 0)
        end
      end
    end
  end
  error(original, 0)
end

-- The parts of a key spec, or nil and why the spec is refused.
local function parts_of(spec)
  local parts
  if spec == nil then
    parts = {}
  elseif type(spec) == "string" or type(spec) == "function" then
    parts = { spec }
  elseif type(spec) == "table" and spec.kind == nil then
    parts = {}
    for i, p in ipairs(spec) do parts[i] = p end
  else
    return nil, "keys must be a column name, a function fn(row) or a list of them"
  end
  for j, p in ipairs(parts) do
    if type(p) == "table" and p.kind then
      return nil, "key " .. j .. " is an sr." .. (p.kind == "session" and "session_window" or "window")
        .. ", which only aggregations take (a sliding or session window is no single key of a "
        .. "row); use a column, or a function fn(row) that returns the window"
    elseif type(p) ~= "string" and type(p) ~= "function" then
      return nil, "key " .. j .. " must be a column name or a function fn(row), got " .. type(p)
    end
  end
  return parts
end

-- nil when spec is a key spec this module takes, else the reason (for the plan check).
function K.check(spec)
  local _, why = parts_of(spec)
  return why
end

-- Compiles a key spec. what names the operator and its job line for errors ("drop_duplicates
-- (defined at job.lua:3)"). Raises for a spec that is not a column name, a function or a list
-- of them. Returns kx with:
--   kx.distinct(rows, n, collect) -> m, skeys, groups: the batch's distinct stored keys in order
--     of first appearance; groups[j] is the first row of key j, or with collect the list of its
--     rows in batch order.
--   kx.parts = number of parts (0: the whole row), kx.names[j] = column name of part j or nil
--   kx.position(column) -> j when part j is that column, else nil
--   kx.user_key(skey) -> the key as shown to user functions: the value for one part; for
--     several, a table with each column part under its name and each function part at its index.
function K.compile(spec, what)
  local parts, why = parts_of(spec)
  if not parts then error(what .. ": " .. why, 0) end
  local names, getters, has_fn = {}, {}, false
  for j, p in ipairs(parts) do
    if type(p) == "string" then
      names[j] = p
      getters[j] = function(r) return r[p] end
    else
      getters[j] = p
      has_fn = true
    end
  end
  local kx = { parts = #parts, names = names }
  local loop
  if #parts == 0 then loop = distinct_single(nil)
  elseif #parts == 1 and names[1] then loop = distinct_column(names[1])
  elseif #parts == 1 then loop = distinct_single(getters[1])
  else loop = distinct_parts(getters) end
  if has_fn then
    kx.distinct = function(rows, n, collect)
      local ok, m, skeys, groups = pcall(loop, rows, n, collect)
      if not ok then
        errors.pass_interrupt(m)
        diagnose(parts, rows, n, what, m)
      end
      return m, skeys, groups
    end
  else
    kx.distinct = loop
  end
  function kx.position(column)
    for j = 1, #parts do if names[j] == column then return j end end
    return nil
  end
  if #parts <= 1 then
    kx.user_key = function(skey) return skey end
  else
    kx.user_key = function(skey)
      local t = {}
      for j = 1, #parts do t[names[j] or j] = skey[j] end
      return t
    end
  end
  return kx
end

-- The event-time column and delay of the nearest with_watermark below node (through unions),
-- or nil when the stream has no watermark.
function K.event_time(node)
  local pending, i = { node.parent }, 1
  while pending[i] do
    local n = pending[i]
    i = i + 1
    while n do
      if n.op == "with_watermark" then return n.column, n.delay_ms end
      if n.op == "union" then pending[#pending + 1] = n.other end
      n = n.parent
    end
  end
  return nil
end

-- An event time as a number of ms: a window value {start=, end=} counts by its end (as Spark
-- evicts windows); nil stays nil.
local function time_of(v)
  if type(v) == "table" then v = v["end"] end
  if type(v) == "cdata" and types.is_timestamp(v) then return v:ms() end
  return v
end
K.time_of = time_of

-- Drops the rows whose event time (column col) is at or before the watermark, Spark's late
-- rows. Returns the kept rows, their count and how many were dropped.
function K.drop_late(rows, n, col, watermark_ms)
  local kept, m = {}, 0
  for i = 1, n do
    local r = rows[i]
    local t = time_of(r[col])
    if t == nil or t > watermark_ms then
      m = m + 1
      kept[m] = r
    end
  end
  return kept, m, n - m
end

return K
