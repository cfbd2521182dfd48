-- The values that carry their type through user functions: timestamps, dates and binary.
--
-- A timestamp is an `sr_timestamp` cdata holding microseconds since 1970-01-01T00:00:00Z (Spark's
-- TimestampType), a date an `sr_date` cdata holding days since 1970-01-01 (DateType). Being
-- values of their own type, they stay timestamps and dates whatever a user function renames
-- them to, and the sinks write them by what they are (runtime/lua/lua_types.h reads them in C).
--
-- For jobs written when a timestamp was a number of milliseconds: a timestamp compares with a
-- number as milliseconds (`t > 1795428000000`), `t + ms` and `t - ms` are timestamps,
-- `t - t2` is a number of milliseconds, `t % ms`, `t / n` and `t * n` are numbers of ms.
-- A date compares with a number of days; `d + n`, `d - n` are dates, `d - d2` is days.
-- Equal instants are `==` (cdata compare by value here), but as a key of a plain Lua table a
-- cdata is its identity: index user tables by `tostring(t)` or `t:us()`.
-- Timestamps and dates are immutable (const fields: writing one raises), so rows with equal
-- times may share one value (streamrun.exec makes one per distinct time, not per row).
local ffi = require "ffi"
-- streamrun.core is required lazily: opening it may load this module (lua_pack.c's helpers).
local core = setmetatable({}, { __index = function(t, k)
  local c = require "streamrun.core"
  setmetatable(t, { __index = c })
  return c[k]
end })

local M = {}

if not pcall(ffi.typeof, "sr_timestamp") then
  ffi.cdef [[
typedef struct sr_timestamp { const int64_t us_; } sr_timestamp;
typedef struct sr_date { const int32_t days_; } sr_date;
typedef struct sr_binary { int32_t len_; uint8_t data_[?]; } sr_binary;
]]
end

local type, tonumber, floor, istype = type, tonumber, math.floor, ffi.istype
local TS_CT, DATE_CT = ffi.typeof("sr_timestamp"), ffi.typeof("sr_date")
local TS, DATE -- the metatyped constructors, below

-- A timestamp's microseconds as a Lua number (exact within +-2^53 us: years 1685..2255).
local function us_of(t) return tonumber(t.us_) end

-- The other operand of a comparison or arithmetic as microseconds: a timestamp, or a number of
-- milliseconds (old jobs' timestamps); nil for anything else.
local function other_us(x)
  if type(x) == "number" then return x * 1000 end
  if istype(TS_CT, x) then return x.us_ end
  return nil
end

local function operand_error(op, a, b)
  error(string.format("cannot %s a %s and a %s", op, M.typename(a), M.typename(b)), 3)
end

local ts_methods = {}
function ts_methods.us(t) return us_of(t) end
function ts_methods.ms(t) return us_of(t) / 1000 end
function ts_methods.seconds(t) return us_of(t) / 1e6 end
function ts_methods.date(t) return DATE(floor(us_of(t) / 86400e6)) end

local ts_mt = {
  __index = ts_methods,
  __tostring = function(t) return core.format_timestamp_us(t.us_) end,
  __concat = function(a, b) return tostring(a) .. tostring(b) end,
  __eq = function(a, b)
    local x, y = other_us(a), other_us(b)
    return x ~= nil and y ~= nil and x == y
  end,
  __lt = function(a, b)
    local x, y = other_us(a), other_us(b)
    if x == nil or y == nil then operand_error("compare", a, b) end
    return x < y
  end,
  __le = function(a, b)
    local x, y = other_us(a), other_us(b)
    if x == nil or y == nil then operand_error("compare", a, b) end
    return x <= y
  end,
  __add = function(a, b)
    if type(b) == "number" and istype(TS_CT, a) then return TS(a.us_ + floor(b * 1000 + 0.5)) end
    if type(a) == "number" and istype(TS_CT, b) then return TS(b.us_ + floor(a * 1000 + 0.5)) end
    operand_error("add", a, b)
  end,
  __sub = function(a, b)
    if istype(TS_CT, a) then
      if type(b) == "number" then return TS(a.us_ - floor(b * 1000 + 0.5)) end
      if istype(TS_CT, b) then return tonumber(a.us_ - b.us_) / 1000 end
    end
    operand_error("subtract", a, b)
  end,
  -- old jobs' arithmetic on milliseconds: numbers out
  __mod = function(a, b)
    if istype(TS_CT, a) and type(b) == "number" then return (us_of(a) / 1000) % b end
    operand_error("take the remainder of", a, b)
  end,
  __div = function(a, b)
    if istype(TS_CT, a) and type(b) == "number" then return us_of(a) / 1000 / b end
    operand_error("divide", a, b)
  end,
  __mul = function(a, b)
    if istype(TS_CT, a) and type(b) == "number" then return us_of(a) / 1000 * b end
    if istype(TS_CT, b) and type(a) == "number" then return us_of(b) / 1000 * a end
    operand_error("multiply", a, b)
  end,
}
TS = ffi.metatype(TS_CT, ts_mt)

local function other_days(x)
  if type(x) == "number" then return x end
  if istype(DATE_CT, x) then return x.days_ end
  return nil
end

local date_methods = {}
function date_methods.days(d) return d.days_ end
function date_methods.timestamp(d) return TS(d.days_ * 86400e6) end

local date_mt = {
  __index = date_methods,
  __tostring = function(d) return core.format_date(d.days_) end,
  __concat = function(a, b) return tostring(a) .. tostring(b) end,
  __eq = function(a, b)
    local x, y = other_days(a), other_days(b)
    return x ~= nil and y ~= nil and x == y
  end,
  __lt = function(a, b)
    local x, y = other_days(a), other_days(b)
    if x == nil or y == nil then operand_error("compare", a, b) end
    return x < y
  end,
  __le = function(a, b)
    local x, y = other_days(a), other_days(b)
    if x == nil or y == nil then operand_error("compare", a, b) end
    return x <= y
  end,
  __add = function(a, b)
    if type(b) == "number" and istype(DATE_CT, a) then return DATE(a.days_ + b) end
    if type(a) == "number" and istype(DATE_CT, b) then return DATE(b.days_ + a) end
    operand_error("add", a, b)
  end,
  __sub = function(a, b)
    if istype(DATE_CT, a) then
      if type(b) == "number" then return DATE(a.days_ - b) end
      if istype(DATE_CT, b) then return a.days_ - b.days_ end
    end
    operand_error("subtract", a, b)
  end,
}
DATE = ffi.metatype(DATE_CT, date_mt)

-- Binary: the bytes of a `binary` column, a variable-length cdata, so it stays binary whatever
-- it is renamed to (a Lua string would be text). It reads like the string it was: #b, b:bytes(),
-- tostring(b) (the bytes), b == "text", b .. "x", and the string methods (b:sub(1, 3), b:byte(1)).
local BIN_CT = ffi.typeof("sr_binary")
local BIN
local ffi_string, ffi_copy = ffi.string, ffi.copy
local function bytes_of(b) return ffi_string(b.data_, b.len_) end
local function other_bytes(x)
  if type(x) == "string" then return x end
  if istype(BIN_CT, x) then return bytes_of(x) end
  return nil
end
local bin_methods = { bytes = bytes_of }
local bin_mt = {
  __index = function(_, k)
    local m = bin_methods[k]
    if m then return m end
    local sm = string[k]
    if sm then return function(b, ...) return sm(bytes_of(b), ...) end end
    return nil
  end,
  __len = function(b) return b.len_ end,
  __tostring = bytes_of,
  __concat = function(a, b) return (other_bytes(a) or tostring(a)) .. (other_bytes(b) or tostring(b)) end,
  __eq = function(a, b)
    local x, y = other_bytes(a), other_bytes(b)
    return x ~= nil and y ~= nil and x == y
  end,
  __lt = function(a, b)
    local x, y = other_bytes(a), other_bytes(b)
    if x == nil or y == nil then operand_error("compare", a, b) end
    return x < y
  end,
  __le = function(a, b)
    local x, y = other_bytes(a), other_bytes(b)
    if x == nil or y == nil then operand_error("compare", a, b) end
    return x <= y
  end,
}
BIN = ffi.metatype(BIN_CT, bin_mt)

-- sr.binary(s): the bytes of a string (or a binary value, itself).
function M.binary(s)
  if istype(BIN_CT, s) then return s end
  if type(s) ~= "string" then error("sr.binary: expected a string of bytes, got " .. M.typename(s), 2) end
  local n = #s
  local b = BIN(n)
  b.len_ = n
  ffi_copy(b.data_, s, n)
  return b
end

function M.is_binary(v) return istype(BIN_CT, v) end
function M.is_timestamp(v) return istype(TS_CT, v) end
function M.is_date(v) return istype(DATE_CT, v) end

-- "timestamp", "date", or Lua's type name (cdata: its ctype).
function M.typename(v)
  if istype(TS_CT, v) then return "timestamp" end
  if istype(DATE_CT, v) then return "date" end
  if istype(BIN_CT, v) then return "binary" end
  if type(v) == "cdata" then return tostring(ffi.typeof(v)) end
  return type(v)
end

-- A timestamp from microseconds (a number or an int64 cdata).
function M.from_us(us) return TS(us) end

-- sr.timestamp(x): x a number of milliseconds (a fraction keeps microseconds), an int64 of ms,
-- ISO-8601 text (as the sources parse it), a timestamp (itself), or a date (its midnight UTC).
function M.timestamp(x)
  local t = type(x)
  if t == "number" then
    if x ~= x or x == math.huge or x == -math.huge then error("sr.timestamp: not a finite number", 2) end
    return TS(floor(x * 1000 + 0.5))
  end
  if t == "string" then
    local us, err = core.parse_timestamp_us(x)
    if us == nil then error("sr.timestamp: " .. err, 2) end
    return TS(us)
  end
  if istype(TS_CT, x) then return x end
  if istype(DATE_CT, x) then return TS(x.days_ * 86400e6) end
  if t == "cdata" and tonumber(x) then return TS(x * 1000) end
  error("sr.timestamp: expected milliseconds, ISO-8601 text, a timestamp or a date, got "
    .. M.typename(x), 2)
end

-- sr.date(x): x a number of days since 1970-01-01, "YYYY-MM-DD", a date, or a timestamp (its
-- UTC day).
function M.date(x)
  local t = type(x)
  if t == "number" then
    if x ~= floor(x) or x < -2^31 or x >= 2^31 then error("sr.date: not a whole number of days", 2) end
    return DATE(x)
  end
  if t == "string" then
    local days, err = core.parse_date(x)
    if days == nil then error("sr.date: " .. err, 2) end
    return DATE(days)
  end
  if istype(DATE_CT, x) then return x end
  if istype(TS_CT, x) then return ts_methods.date(x) end
  error("sr.date: expected days, YYYY-MM-DD text, a date or a timestamp, got " .. M.typename(x), 2)
end

-- A timestamp's value as milliseconds (a number; sub-ms kept as a fraction), a number as itself:
-- for the operators that compute on event time (windows, watermarks).
function M.ms(v)
  local t = type(v)
  if t == "number" or t == "nil" then return v end -- not `v == nil`: a cdata's __eq would run
  if istype(TS_CT, v) then return tonumber(v.us_) / 1000 end
  return v
end

-- Makes the typed columns of rows values in place, as exec.lua's loops do (for rows read once,
-- such as a static table's): cols is a column list {{name, type}, ...} (a struct's direct fields
-- too); a timestamp/date number (ms/days) and a binary string become values.
local MAKE = { timestamp = { "number", function(ms) return TS(floor(ms * 1000 + 0.5)) end },
               date = { "number", function(d) return DATE(d) end },
               binary = { "string", M.binary } }
function M.make_values(cols, rows, n)
  local top, nested = {}, {}
  for _, c in ipairs(cols or {}) do
    if MAKE[c[2]] then top[#top + 1] = { c[1], MAKE[c[2]] } end
    if type(c[2]) == "table" then
      for _, f in ipairs(c[2]) do
        if MAKE[f[2]] then nested[#nested + 1] = { c[1], f[1], MAKE[f[2]] } end
      end
    end
  end
  if #top == 0 and #nested == 0 then return end
  for i = 1, n do
    local r = rows[i]
    for _, c in ipairs(top) do
      local v = r[c[1]]
      if type(v) == c[2][1] then r[c[1]] = c[2][2](v) end
    end
    for _, c in ipairs(nested) do
      local s = r[c[1]]
      if type(s) == "table" and type(s[c[2]]) == c[3][1] then s[c[2]] = c[3][2](s[c[2]]) end
    end
  end
end

M.TS, M.DATE = TS, DATE
-- For the C side (runtime/lua/lua_types.c): ctype ids, and makers from numbers.
M.timestamp_id, M.date_id, M.binary_id = tonumber(TS_CT), tonumber(DATE_CT), tonumber(BIN_CT)

return M
