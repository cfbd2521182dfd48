-- grouped:process_with_state{fn=, timeout=}: Spark's FlatMapGroupsWithStateExec and GroupState.
--
-- Per batch, first fn(key, rows, state) once per key with rows in the batch (in order of each
-- key's first row), then, when timeouts are on, fn(key, {}, state) once per key whose timeout
-- fired: state:has_timed_out() is true. fn returns a list of output rows (or nil).
--
-- The store holds key -> {s = state value, t = timeout ms}; s is nil when the state was removed
-- while a timeout stays set, t is nil without a timeout. As in Spark:
--   * a timeout is reset at every call: fn must set it again or the key has none;
--   * processing time: state:set_timeout_duration(d) sets it to the batch's processing time +
--     d, and it fires in the first batch whose processing time is later (t < batch time);
--   * event time: state:set_timeout_timestamp(ms) (not before the watermark) fires in the first
--     batch whose watermark is later (t < watermark); rows at or before the watermark are
--     late and dropped (numRowsDroppedByWatermark);
--   * a key that got rows in a batch does not time out in that batch (its new timeout is later);
--   * a state is written when updated, removed, or when its timeout changed.
-- Timeouts live in the store, so they survive restarts; the processing time of a batch is
-- logged with its offsets, so a replayed batch fires the same timeouts.
--
-- Per batch: one get_many for the batch's keys, one scan when timeouts are on (Spark reads
-- every state to find timeouts too), one put_many.
local ffi = require "ffi"
local core = require "streamrun.core"
local types = require "streamrun.types"
local keys = require "streamrun.ops.keys"
local errors = require "streamrun.errors"

local M = {}

local TIMEOUTS = { none = "none", notimeout = "none",
                   processingtime = "processing_time", processingtimetimeout = "processing_time",
                   eventtime = "event_time", eventtimetimeout = "event_time" }

-- The timeout kind named by node.timeout ("none", "processing_time", "event_time", or Spark's
-- NoTimeout, ProcessingTimeTimeout, EventTimeTimeout, any case), or nil when unknown.
function M.timeout_kind(name)
  if name == nil then return "none" end
  if type(name) ~= "string" then return nil end
  local k = name:lower():gsub("^groupstatetimeout%.", ""):gsub("[_%s]", "")
  return TIMEOUTS[k]
end

local i64, u64 = ffi.typeof("int64_t"), ffi.typeof("uint64_t")

-- Why v cannot be stored, as the packer would refuse it: nil when it can, else the path of the
-- culprit (".a[2]", built only on failure) and the reason.
local function unstorable(v, depth, open)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then return nil end
  if t == "cdata" then
    if ffi.istype(i64, v) or ffi.istype(u64, v) or types.is_timestamp(v) or types.is_date(v)
        or types.is_binary(v) then
      return nil
    end
    return "", "a cdata other than int64_t, uint64_t, timestamp, date or binary cannot be stored"
  end
  if t ~= "table" then return "", "a " .. t .. " cannot be stored" end
  if open[v] then return "", "a table that contains itself cannot be stored" end
  if depth >= 100 then return "", "tables nested this deeply cannot be stored" end
  open[v] = true
  for k, x in pairs(v) do
    local path, why = unstorable(k, depth + 1, open)
    if why then return "<key>" .. path, why end
    path, why = unstorable(x, depth + 1, open)
    if why then
      local step = type(k) == "string" and k:match("^[%a_][%w_]*$") and ("." .. k) or ("[" .. tostring(k) .. "]")
      return step .. path, why
    end
  end
  open[v] = nil
  return nil
end

local function describe_key(key)
  local ok, text = pcall(core.to_json, key)
  return ok and text or tostring(key)
end

-- The GroupState handed to fn: one per call. env holds the batch's facts.
local State = {}
State.__index = State

local function fail(msg) error(msg, 3) end -- blames the caller of the state method

function State:get()
  if self._exists then return self._value end
  return nil
end

function State:exists() return self._exists end

function State:update(v)
  if v == nil then fail("state:update(nil): nil is not a valid state value (use state:remove())") end
  local path, why = unstorable(v, 0, {})
  if why then
    fail(self._env.what .. ": state for key " .. describe_key(self._key) .. ": state value"
      .. (path ~= "" and (" " .. path) or "") .. ": " .. why)
  end
  self._value, self._exists, self._updated, self._removed = v, true, true, false
end

function State:remove()
  self._value, self._exists, self._updated, self._removed = nil, false, false, true
end

-- d: milliseconds or a duration text ("10 seconds").
function State:set_timeout_duration(d)
  local env = self._env
  if env.kind ~= "processing_time" then
    fail("state:set_timeout_duration needs process_with_state{timeout = \"processing_time\"} "
      .. "(Spark: cannot set timeout duration without enabling processing time timeout)")
  end
  local ms = type(d) == "string" and core.duration(d) or tonumber(d)
  if ms == nil then fail("state:set_timeout_duration: not a duration: " .. tostring(d)) end
  if ms <= 0 then fail("state:set_timeout_duration: the timeout duration must be positive") end
  self._timeout = env.batch_ts + ms
end

-- ms: event time: a timestamp, milliseconds or timestamp text; extra: an optional duration added to it.
function State:set_timeout_timestamp(ms, extra)
  local env = self._env
  if env.kind ~= "event_time" then
    fail("state:set_timeout_timestamp needs process_with_state{timeout = \"event_time\"} "
      .. "(Spark: cannot set timeout timestamp without enabling event time timeout)")
  end
  local t = type(ms) == "string" and core.parse_timestamp(ms) or types.is_timestamp(ms) and ms:ms()
    or tonumber(ms)
  if t == nil then fail("state:set_timeout_timestamp: not a timestamp: " .. tostring(ms)) end
  if extra ~= nil then
    local e = type(extra) == "string" and core.duration(extra) or tonumber(extra)
    if e == nil then fail("state:set_timeout_timestamp: not a duration: " .. tostring(extra)) end
    t = t + e
  end
  if t <= 0 then fail("state:set_timeout_timestamp: the timeout timestamp must be positive") end
  if env.wm and t < env.wm then
    fail(string.format("state:set_timeout_timestamp: the timeout timestamp (%d) cannot be earlier "
      .. "than the current watermark (%d)", t, env.wm))
  end
  self._timeout = t
end

function State:has_timed_out() return self._timed_out end

function State:get_current_watermark_ms()
  if not self._env.wm_present then
    fail("state:get_current_watermark_ms needs a watermark: add :with_watermark(column, delay) "
      .. "before group_by")
  end
  return self._env.wm or 0 -- Spark's watermark is 0 until the first one is computed
end

function State:get_current_processing_time_ms() return self._env.batch_ts end

-- Spark's names, for jobs carried over from Spark.
State.getOption = State.get
State.hasTimedOut = State.has_timed_out
State.setTimeoutDuration = State.set_timeout_duration
State.setTimeoutTimestamp = State.set_timeout_timestamp
State.getCurrentWatermarkMs = State.get_current_watermark_ms
State.getCurrentProcessingTimeMs = State.get_current_processing_time_ms

local function new_state(entry, env, key, timed_out)
  local s = entry and entry.s
  return setmetatable({ _value = s, _exists = s ~= nil, _updated = false, _removed = false,
                        _timeout = nil, _timed_out = timed_out, _env = env, _key = key }, State)
end

-- What the store must hold after a call, as Spark's FlatMapGroupsWithStateExec decides it:
-- returns write (boolean) and the new entry (nil removes).
local function outcome(st, entry)
  local had_timeout = entry and entry.t
  if st._removed and st._timeout == nil then return entry ~= nil, nil end
  if not (st._updated or st._removed or st._timeout ~= had_timeout) then return false end
  if not st._exists and st._timeout == nil then return entry ~= nil, nil end
  local new = { t = st._timeout }
  if st._exists then new.s = st._value end
  return true, new
end

-- Processing-time timeouts fire on the clock: every processingTime trigger runs a batch.
function M.no_data_batches(node) return M.timeout_kind(node.timeout) == "processing_time" end

function M.compile(node)
  local kind = M.timeout_kind(node.timeout)
  if not kind then
    error(node.where .. ": process_with_state: timeout must be none, processing_time or event_time "
      .. "(or Spark's NoTimeout, ProcessingTimeTimeout, EventTimeTimeout), not " .. tostring(node.timeout), 0)
  end
  local what = "process_with_state (defined at " .. node.where .. ")"
  local kx = keys.compile(node.keys, what)
  local fn = node.fn
  local et_col = keys.event_time(node)
  local user_key = kx.user_key

  -- Calls fn protected; a failure names the operator, its job line and the key.
  local function call(key, rows, st)
    local ok, res = xpcall(fn, debug.traceback, key, rows, st)
    if not ok then
      errors.pass_interrupt(res)
      error({ streamrun_user_error = true,
              message = string.format("%s in %s\n  key: %s", errors.message(res), what, describe_key(key)) }, 0)
    end
    if res ~= nil and (type(res) ~= "table" or (res[1] == nil and next(res) ~= nil)) then
      error({ streamrun_user_error = true,
              message = string.format("%s: fn must return a list of rows (or nil), got %s for key %s "
                .. "(wrap a single row: return {row})", what, type(res) == "table" and "a row" or type(res),
                describe_key(key)) }, 0)
    end
    return res
  end

  return function(rows, n, ctx, store, metrics)
    local wm = ctx.watermark_ms
    local dropped = 0
    if kind == "event_time" and wm and et_col then rows, n, dropped = keys.drop_late(rows, n, et_col, wm) end
    local env = { kind = kind, batch_ts = ctx.batch_ts_ms, wm = wm, wm_present = et_col ~= nil, what = what }
    local m, skeys, groups = kx.distinct(rows, n, true)
    local entries = core.get_many(store, skeys, m)
    local out, nout = {}, 0
    local put_keys, put_vals, np = {}, {}, 0
    local function run(skey, entry, key_rows, timed_out)
      local key = user_key(skey)
      local st = new_state(entry, env, key, timed_out)
      local res = call(key, key_rows, st)
      if res then
        for i = 1, #res do
          nout = nout + 1
          out[nout] = res[i]
        end
      end
      local write, new = outcome(st, entry)
      if write then
        np = np + 1
        put_keys[np] = skey
        put_vals[np] = new
      end
    end
    for j = 1, m do run(skeys[j], entries[j], groups[j], false) end
    local threshold = (kind == "processing_time" and ctx.batch_ts_ms) or (kind == "event_time" and wm) or nil
    if threshold then
      -- the store as before this batch; keys that had rows now have later timeouts (or none)
      local intern, had_rows = {}, {}
      for j = 1, m do had_rows[keys.id(skeys[j], intern)] = true end
      local sk, sv, ns = core.scan(store)
      local due, nd = {}, 0
      for i = 1, ns do
        local t = sv[i].t
        if t ~= nil and t < threshold and not had_rows[keys.id(sk[i], intern)] then
          nd = nd + 1
          due[nd] = { canon = keys.canon(sk[i]), key = sk[i], entry = sv[i] }
        end
      end
      -- a stable order, so a replayed batch writes the same output
      table.sort(due, function(a, b) return a.canon < b.canon end)
      for i = 1, nd do run(due[i].key, due[i].entry, {}, true) end
    end
    if np > 0 then core.put_many(store, put_keys, put_vals, np) end
    metrics.numRowsDroppedByWatermark = dropped
    return out, nout
  end
end

return M
