-- Turns the queries a job registered into what the C engine runs.
--
-- For each query, compile() returns a descriptor (sources, sink, trigger, checkpoint, options
-- flattened to text) and one function, run(inputs, ctx), that the engine calls ONCE per batch:
-- inputs[i] = {rows = {...}, n = count} for source i ({view = records, n} for a source that
-- hands over C records, see view_reader), ctx = {batch_id, watermark_ms,
-- batch_ts_ms, stores = {...}}. run returns the output rows and their count.
--
-- Stateless operations between two stateful ones (or a source and the sink) are fused into one
-- generated Lua loop, so LuaJIT traces a single loop over the batch and user functions are
-- called straight from it. Stateful operators are separate steps whose executors live in
-- streamrun.ops.<name> modules, registered in exec.operators.
local ffi = require "ffi"
local table_new = require "table.new"
local core = require "streamrun.core"
local plan = require "streamrun.plan"
local errors = require "streamrun.errors"
local options = require "streamrun.options"
local analyzer = require "streamrun.analyzer"
local types = require "streamrun.types"

local exec = { operators = {} }

-- The stateless operations fused into one generated loop (parse_json is a batch call into C).
local FUSED = { map = true, filter = true, flat_map = true, select = true, with_watermark = true }

-- Options to text, as the C option tables take them. Functions stay in the Lua spec.
local SOURCE_ENGINE_KEYS = { format = true, schema = true }
-- The query's own options: each with its type and description for the editor definitions
-- (luadefs.lua); `format` is described per format there.
local SINK_ENGINE_KEYS = {
  format = true,
  outputMode = { "streamrun.OutputMode", "how each batch's result is written (default append)" },
  trigger = { "streamrun.Trigger", "\"1 second\", {processingTime=...}, {once=true}, {availableNow=true} or {continuous=...}; default: every 500 ms with data" },
  checkpointLocation = { "string", "where the query keeps its offsets, commits and state (needed by durable sinks)" },
  queryName = { "string", "the query's name (the memory sink's table)" },
  batchTimeout = { "string", "how long a batch may run in Lua (default \"10 minutes\")" },
  onError = { "\"fail\"|\"dead_letter\"", "what a failing user function does: fail the query (default) or send the row to the bad records" },
  multipleWatermarkPolicy = { "\"min\"|\"max\"", "how watermarks of several inputs combine (default min)" },
  minBatchesToRetain = { "integer", "how many batches of offsets, commits and state versions the checkpoint keeps (default 100)" },
  numStatePartitions = { "integer", "how many partitions each stateful operator's state is split into by key hash, 1..1024 (default 8; fixed at the checkpoint's first start)" },
}
-- ... as a sorted list, for the engine's "did you mean" on a sink's options (job.c)
local SINK_ENGINE_NAMES = {}
for name in pairs(SINK_ENGINE_KEYS) do SINK_ENGINE_NAMES[#SINK_ENGINE_NAMES + 1] = name end
table.sort(SINK_ENGINE_NAMES)
exec.sink_engine_keys = SINK_ENGINE_NAMES -- and for the editor definitions (luadefs.lua)
exec.sink_engine_options = SINK_ENGINE_KEYS
-- The longest a batch may run in Lua before it is interrupted (runtime/lua/lua_guard.c), as
-- Flink's default checkpoint timeout: generous for a batch, bounded for a loop that never ends.
local DEFAULT_BATCH_TIMEOUT = "10 minutes"

-- The nearest of names to name, when close enough to be a typo (as options.c's
-- sr_nearest_name: edit distance at most 1 for short names, else a third of the length + 1).
local function nearest_name(name, names)
  local best, best_d = nil, math.huge
  for _, c in ipairs(names) do
    local prev = {}
    for j = 0, #c do prev[j] = j end
    for i = 1, #name do
      local cur = { [0] = i }
      for j = 1, #c do
        local cost = name:sub(i, i):lower() == c:sub(j, j):lower() and 0 or 1
        cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      end
      prev = cur
    end
    if prev[#c] < best_d then best, best_d = c, prev[#c] end
  end
  local limit = #name < 4 and 1 or math.floor(#name / 3) + 1
  return best_d <= limit and best or nil
end

local TRIGGER_KEYS = { "processingTime", "once", "availableNow", "continuous" }

local function parse_trigger(t, where)
  if t == nil then return "processingTime", 500 end
  if type(t) == "string" then
    local ms = core.duration(t)
    if not ms then error(where .. ": trigger: not a duration: \"" .. t .. "\"", 0) end
    return "processingTime", ms
  end
  if type(t) ~= "table" then error(where .. ": trigger must be a duration or a table", 0) end
  local given = {}
  for k in pairs(t) do
    local known = false
    for _, name in ipairs(TRIGGER_KEYS) do known = known or k == name end
    if not known then
      local near = type(k) == "string" and nearest_name(k, TRIGGER_KEYS)
      error(string.format("%s: unknown trigger key '%s'%s (processingTime, once, availableNow, "
        .. "continuous)", where, tostring(k), near and ("; did you mean '" .. near .. "'?") or ""), 0)
    end
    given[#given + 1] = k
  end
  if #given > 1 then
    table.sort(given)
    error(where .. ": trigger gives " .. table.concat(given, " and ") .. ": give one of them", 0)
  end
  for _, k in ipairs { "once", "availableNow" } do
    if t[k] ~= nil and t[k] ~= true then
      error(string.format("%s: trigger.%s must be true, not %s", where, k, tostring(t[k])), 0)
    end
  end
  if t.once then return "once", 0 end
  if t.availableNow then return "availableNow", 0 end
  for _, k in ipairs { "processingTime", "continuous" } do
    if t[k] ~= nil then
      local ok, ms = pcall(core.duration, t[k])
      if not ok or not ms then
        error(string.format("%s: trigger.%s: not a duration: %s", where, k,
                            type(t[k]) == "string" and ('"' .. t[k] .. '"') or tostring(t[k])), 0)
      end
      return k, ms
    end
  end
  error(where .. ": trigger must be a duration, {processingTime=}, {once=true}, {availableNow=true} "
    .. "or {continuous=}", 0)
end

-- multipleWatermarkPolicy (Spark's spark.sql.streaming.multipleWatermarkPolicy, a query option
-- here): "min" (default) or "max", any case, as MultipleWatermarkPolicy.apply.
local function watermark_policy(p, where)
  if p == nil then return "min" end
  local name = type(p) == "string" and p:lower()
  if name ~= "min" and name ~= "max" then
    error(where .. ": multipleWatermarkPolicy: Could not recognize watermark policy '" .. tostring(p)
      .. "' (min or max)", 0)
  end
  return name
end

-- numStatePartitions (Spark's spark.sql.shuffle.partitions for state, a query option here): how
-- many partitions each stateful operator's state is split into, fixed by the checkpoint's first
-- batch (runtime/state_parts.h). nil: not given (the engine's default, or the checkpoint's).
local MAX_STATE_PARTITIONS = 1024 -- runtime/state_parts.h SR_STATE_MAX_PARTITIONS
local function state_partitions(v, where)
  if v == nil then return nil end
  local n = tonumber(v)
  if not n or n ~= math.floor(n) or n < 1 or n > MAX_STATE_PARTITIONS then
    error(where .. ": numStatePartitions must be a whole number from 1 to " .. MAX_STATE_PARTITIONS
      .. ", not " .. tostring(v), 0)
  end
  return n
end

-- Stateful operators are modules streamrun.ops.<op> with:
--   compile(node, q) -> fn(rows, n, ctx, store, metrics, other_rows, other_n) -> rows, n
--     called once per batch (also with n = 0 in a no-data batch, to emit and evict by the
--     watermark). store is the operator's state store (a handle for core.get_many / put_many /
--     scan ..., valid during this batch only), at the version this batch reads; metrics is a
--     table the operator fills with progress counts (numRowsDroppedByWatermark, ...;
--     numRowsTotal, numRowsUpdated, numRowsRemoved when its store holds more than its state
--     rows, else the engine takes the store's counts); other_rows/other_n are the other input of a stream-stream join. ctx
--     has batch_id, watermark_ms (0 until the first watermark, as Spark's; nil in a query
--     without with_watermark), batch_ts_ms (processing
--     time, fixed for replays).
--   columns(node, parent_columns) -> the output columns {{name, type}, ...} it knows, or nil.
--   no_data_batches(node) -> true when the operator acts on the clock (processing-time
--     timeouts): a processingTime trigger then runs a batch even without new data. Optional.
--   ignores_watermark(node, q) -> true when a new watermark gives the operator nothing to emit
--     or evict (an aggregation in complete mode); when every operator does, a new watermark
--     runs no no-data batch, as in Spark. Optional.
function exec.operator(name)
  local mod = exec.operators[name]
  if mod == nil then
    local ok, loaded = pcall(require, "streamrun.ops." .. name)
    if not ok and not tostring(loaded):match("module 'streamrun%.ops%." .. name .. "' not found") then
      error(loaded, 0)
    end
    mod = ok and loaded or false
    exec.operators[name] = mod
  end
  return mod or nil
end

-- Sources whose batches come as C records ------------------------------------------------

-- The reader of a source whose read hands over C records (connector.h's sr_row_view), or nil:
-- {ctype, row = function(records, i, cache) -> row, cache}, from the module the source names;
-- the row has the columns q reads (analyzer.read_schema), all when the module does not prune.
-- The cache (module.cache(), or {}) lives as long as the compiled query: one per source node.
-- None under streamrun test (exec.rows_only, set by the engine): its inputs are rows from memory.
local function view_reader(node, q)
  if exec.rows_only then return nil end
  local name = core.source_view_module(node.format)
  if not name then return nil end
  local mod = require(name)
  return { ctype = ffi.typeof(mod.ctype), row = mod.reader(node.options, analyzer.read_schema(q, node)),
           cache = mod.cache and mod.cache() or {} }
end

-- Rows of a view as a Lua array, for operators that take one.
local function materialize(reader, records, n)
  local recs, row, cache, rows = ffi.cast(reader.ctype, records), reader.row, reader.cache, table_new(n, 0)
  for i = 1, n do rows[i] = row(recs, i - 1, cache) end
  return rows
end

-- Typed values at the entry of user code ---------------------------------------------------
--
-- Sources decode a timestamp of whole milliseconds as a number of ms and a date as a number of
-- days: the built-in operators (watermarks, windows, aggregates, keys, sinks by column type) take
-- them as they are, and making values would cost the benchmarks (see wrap_code). When the
-- plan has user code (a function, a join, foreach_batch or memory rows), the first loop over a
-- source's (or an operator's) rows turns the typed columns it knows into timestamp and date
-- values (streamrun.types), so user functions see them whatever they rename them to.

local TS, DATE, floor = types.TS, types.DATE, math.floor
local VALUE_OF = { timestamp = "number", date = "number", binary = "string" } -- what a value replaces
local function ts_of_ms(ms) return TS(floor(ms * 1000 + 0.5)) end

-- Whether a node hands its input rows to user code: a function anywhere in its spec (map,
-- filter, key functions, session gaps, custom aggregates, ...), or an operator that shows rows.
local USER_OPS = { map = true, filter = true, flat_map = true, process_with_state = true, join = true }
local USER_SINKS = { foreach_batch = true, memory = true }
local function has_function(v, depth)
  if type(v) == "function" then return true end
  if type(v) ~= "table" or depth > 3 or getmetatable(v) ~= nil then return false end
  for k, x in pairs(v) do
    if k ~= "parent" and k ~= "other" and has_function(x, depth + 1) then return true end
  end
  return false
end
local function shows_rows(n)
  if USER_OPS[n.op] then return true end
  for k, x in pairs(n) do
    if k ~= "parent" and k ~= "other" and k ~= "schema" and has_function(x, 1) then return true end
  end
  return false
end

-- The columns to make values of: {{name, "timestamp"|"date" [, child]}, ...} from a column list
-- ({name, type} with nested structs as lists); a struct's direct timestamp/date fields too
-- (a window's start and end).
local function typed_columns(cols)
  local out = {}
  for _, c in ipairs(cols or {}) do
    local t = c[2]
    if VALUE_OF[t] then
      out[#out + 1] = { c[1], t }
    elseif type(t) == "table" then
      for _, f in ipairs(t) do
        if VALUE_OF[f[2]] then out[#out + 1] = { c[1], f[2], f[1] } end
      end
    end
  end
  return out
end

-- Lua code making the typed columns of the rows values (numbers only: a value stays): a pass of
-- its own over the rows (row_expr reads row i) that makes the values into arrays v1, v2, ...,
-- and the lines that put them into row `r` at the top of the main loop.
-- Each value is a cdata, an object the collector sweeps with the batch's garbage. Made in the
-- main loop, between the rows' tables, they doubled that sweep (Nexmark q0 took 60% more CPU
-- than with numbers), and still did when made once per distinct time, every ninth row: the
-- sweep walks objects in the order they were made. Made in a pass of their own, the sweep is
-- back to that of the rows alone. Rows with equal times share one timestamp (date) value (a
-- stream of thousands of rows per second repeats its milliseconds): safe, as those are
-- immutable (streamrun.types' const fields) and compare by value. A binary value is made per
-- row: its bytes can be written.
local SHARED = { timestamp = true, date = true }
local function wrap_code(wraps, fn_ref, row_expr)
  if #wraps == 0 then return {}, {} end
  local pre, lines = {}, {}
  local mk = { timestamp = fn_ref(ts_of_ms), date = fn_ref(DATE), binary = fn_ref(types.binary) }
  local new = fn_ref(table_new)
  for j in ipairs(wraps) do pre[#pre + 1] = string.format("local v%d = %s(n, 0)", j, new) end
  pre[#pre + 1] = "do"
  for j, w in ipairs(wraps) do
    if SHARED[w[2]] then pre[#pre + 1] = string.format("local wk%d, wv%d", j, j) end -- the last number, its value
  end
  pre[#pre + 1] = "for i = 1, n do"
  pre[#pre + 1] = "local r = " .. row_expr
  for j, w in ipairs(wraps) do
    local make = string.format("v%d[i] = %s(v)", j, mk[w[2]])
    if SHARED[w[2]] then
      make = string.format("if v ~= wk%d then wk%d, wv%d = v, %s(v) end; v%d[i] = wv%d", j, j, j, mk[w[2]], j, j)
    end
    local get = w[3] and string.format("local s = r[%q]; local v = type(s) == 'table' and s[%q]", w[1], w[3])
      or string.format("local v = r[%q]", w[1])
    pre[#pre + 1] = string.format("do %s; if type(v) == %q then %s end end", get, VALUE_OF[w[2]], make)
    local put = w[3] and string.format("r[%q][%q] = v", w[1], w[3]) or string.format("r[%q] = v", w[1])
    -- `if v`: `v ~= nil` would call the value's __eq (LuaJIT calls a cdata's metamethod for nil too)
    lines[#lines + 1] = string.format("do local v = v%d[i]; if v then %s end end", j, put)
  end
  pre[#pre + 1] = "end end"
  return pre, lines
end

-- Fused stateless segments ---------------------------------------------------------------

-- Generates the loop for steps (a list of stateless nodes, in execution order). The generated
-- function is run(rows, n, out, m, ctx) -> m. Watermark steps record event-time statistics
-- into ctx.event_time[k] (min, max, sum, count) for the engine. With a reader, rows are a
-- source's C records, each read into a row inside the loop: a row the steps do not keep is
-- never allocated (LuaJIT sinks it).
local function gen_segment(steps, reader, wraps)
  local fns, lines, ends = {}, {}, {}
  local function emit(s) lines[#lines + 1] = s end
  local function fn_ref(f)
    fns[#fns + 1] = f
    return "f" .. #fns
  end
  local wm_locals = {}
  emit("return function(rows, n, out, m, ctx)")
  for k, s in ipairs(steps) do
    if s.op == "with_watermark" then
      wm_locals[#wm_locals + 1] = { k = k, node = s }
      emit(string.format("local mn%d, mx%d, sm%d, ct%d = math.huge, -math.huge, 0, 0", k, k, k, k))
    end
  end
  -- columns the plan could not check (streamrun.analyzer): per step and column, the first
  -- row to reach the step, whether one had it, how many reached it before one did
  local checks = {}
  for k, s in ipairs(steps) do
    for j, c in ipairs(s.runtime_columns or {}) do
      local v = k .. "_" .. j
      checks[#checks + 1] = { v = v, k = k, column = c, step = s }
      emit(string.format("local f%s, s%s, n%s = nil, false, 0", v, v, v))
    end
  end
  if reader then
    emit(string.format("local recs, cache = %s(%s, rows), %s", fn_ref(ffi.cast), fn_ref(reader.ctype),
                       fn_ref(reader.cache)))
  end
  local row_expr = reader and fn_ref(reader.row) .. "(recs, i - 1, cache)" or "rows[i]"
  local wrap_pre, wrap_lines = wrap_code(wraps or {}, fn_ref, row_expr)
  for _, line in ipairs(wrap_pre) do emit(line) end
  emit("for i = 1, n do")
  emit("local r = " .. row_expr)
  for _, line in ipairs(wrap_lines) do emit(line) end
  local depth = 1
  for k, s in ipairs(steps) do
    for _, c in ipairs(checks) do
      if c.k == k then
        emit(string.format("if not s%s then n%s = n%s + 1; f%s = f%s or r; if r[%q] ~= nil then s%s = true end end",
          c.v, c.v, c.v, c.v, c.v, c.column, c.v))
      end
    end
    if s.op == "map" then
      emit("r = " .. fn_ref(s.fn) .. "(r)")
      emit("if r ~= nil then")
      depth = depth + 1
    elseif s.op == "filter" then
      emit("if " .. fn_ref(s.fn) .. "(r) then")
      depth = depth + 1
    elseif s.op == "flat_map" then
      emit("local l" .. k .. " = " .. fn_ref(s.fn) .. "(r)")
      emit("if l" .. k .. " then for j" .. k .. " = 1, #l" .. k .. " do local r = l" .. k .. "[j" .. k .. "]")
      depth = depth + 1
    elseif s.op == "select" then
      local parts = {}
      for _, c in ipairs(s.columns) do
        local key = string.format("[%q]", c.name)
        if c.fn then parts[#parts + 1] = key .. " = " .. fn_ref(c.fn) .. "(r)"
        else parts[#parts + 1] = key .. string.format(" = r[%q]", c.from) end
      end
      emit("r = {" .. table.concat(parts, ", ") .. "}")
    elseif s.op == "with_watermark" then
      emit(string.format("local t%d = r[%q]", k, s.column))
      -- `t ~= nil` would call a timestamp's __eq (LuaJIT calls a cdata's metamethod for nil too)
      emit(string.format("if type(t%d) == 'cdata' then t%d = %s(t%d) end", k, k, fn_ref(types.ms), k))
      emit(string.format("if t%d ~= nil then if t%d < mn%d then mn%d = t%d end; "
        .. "if t%d > mx%d then mx%d = t%d end; sm%d = sm%d + t%d; ct%d = ct%d + 1 end",
        k, k, k, k, k, k, k, k, k, k, k, k, k, k))
    else
      error("internal: not a stateless step: " .. tostring(s.op))
    end
  end
  emit("m = m + 1; out[m] = r")
  for k = #steps, 1, -1 do
    local s = steps[k]
    if s.op == "map" or s.op == "filter" then emit("end")
    elseif s.op == "flat_map" then emit("end end") end
  end
  emit("end")
  for _, c in ipairs(checks) do
    emit(string.format("if n%s > 0 and not s%s then %s(f%s, %q, n%s, %q, %q) end", c.v, c.v,
      fn_ref(analyzer.missing_at_runtime), c.v, c.column, c.v, c.step.op, c.step.where or "?"))
  end
  for _, w in ipairs(wm_locals) do
    local k = w.k
    emit(string.format("do local e = ctx.event_time[%d]; if ct%d > 0 then "
      .. "if mn%d < e.min then e.min = mn%d end; if mx%d > e.max then e.max = mx%d end; "
      .. "e.sum = e.sum + sm%d; e.count = e.count + ct%d end end",
      w.node.wm_index, k, k, k, k, k, k, k))
  end
  emit("return m")
  emit("end")
  local header = {}
  for i = 1, #fns do header[i] = "f" .. i end
  local src = (#fns > 0 and ("local " .. table.concat(header, ", ") .. " = ...\n") or "")
    .. table.concat(lines, "\n")
  local chunk = assert(load(src, "=streamrun-segment"))
  return chunk(unpack(fns)), depth
end

-- Runs one row through the steps, each call protected (handler: xpcall's message handler).
-- Returns nothing when every step passes, else the failing step, its error and the row it
-- failed on (a flat_map's output row, for a step after it).
local function first_failure(steps, row, handler)
  local cur = { row }
  for _, s in ipairs(steps) do
    local nxt = {}
    for _, r in ipairs(cur) do
      local ok, res
      if s.op == "select" then
        ok, res = true, nil
        for _, c in ipairs(s.columns) do
          if c.fn then
            ok, res = xpcall(c.fn, handler, r)
            if not ok then break end
          end
        end
        if ok then res = r end
      elseif s.op == "with_watermark" then
        ok, res = true, r
      else
        ok, res = xpcall(s.fn, handler, r)
      end
      if not ok then return s, res, r end
      if s.op == "map" then if res ~= nil then nxt[#nxt + 1] = res end
      elseif s.op == "filter" then if res then nxt[#nxt + 1] = r end
      elseif s.op == "flat_map" then for _, x in ipairs(res or {}) do nxt[#nxt + 1] = x end
      else nxt[#nxt + 1] = r end
    end
    cur = nxt
  end
end

local function row_text(r)
  local ok, text = pcall(core.to_json, r)
  return ok and text or tostring(r)
end

-- When a fused segment raises, run its steps row by row with each call protected, to name the
-- operator, the job line that defined it, the user's error with its traceback, and the row.
local function diagnose(steps, rows, n, original)
  for i = 1, n do
    local s, err, r = first_failure(steps, rows[i], debug.traceback)
    if s then
      -- the operator and row follow the error's own line, before its traceback (whose frames
      -- of streamrun's own code the engine drops: lua_host.c)
      local msg, trace = errors.split_traceback(err)
      error({ streamrun_user_error = true,
              message = string.format("%s in %s (defined at %s)\n  row: %s%s", msg, s.op, s.where,
                                      row_text(r), trace) }, 0)
    end
  end
  error(original, 0) -- could not reproduce: report what we have
end

-- onError = "dead_letter": after the fused loop raised, the batch's rows again, one protected
-- call of the loop each (fused_rows: the loop over row tables); a row whose steps raise goes to
-- the bad records with the error, the operator and its job line, and the others go on. The
-- user's functions run again on the rows before the failing one, as diagnose runs them to find
-- it. A batch without errors never comes here.
local function dead_letter_rows(fused_rows, steps, rows, n, ctx)
  local out, m, one = {}, 0, {}
  for i = 1, n do
    one[1] = rows[i]
    local ok, res = pcall(fused_rows, one, 1, out, m, ctx)
    if ok then
      m = res
    else
      errors.pass_interrupt(res)
      for k = m + 1, #out do out[k] = nil end -- what a flat_map gave before the error
      local s, err = first_failure(steps, rows[i], errors.message)
      core.dead_letter("onError", row_text(rows[i]), s and string.format("%s in %s (defined at %s)",
                       errors.message(err), s.op, s.where) or errors.message(res))
    end
  end
  return out, m
end

local function compile_segment(steps, reader, wraps, typed_cols, on_error)
  if #steps == 0 and #wraps == 0 then return nil end
  local fused = gen_segment(steps, reader, wraps)
  -- the loop over row tables whose values are made, for dead_letter_rows (made when needed)
  local fused_rows = not reader and #wraps == 0 and fused or nil
  return function(rows, n, ctx)
    local out = {}
    local ok, m = pcall(fused, rows, n, out, 0, ctx)
    if not ok then
      errors.pass_interrupt(m)
      if reader then rows = materialize(reader, rows, n) end
      if #wraps > 0 then types.make_values(typed_cols, rows, n) end -- as the loop made them
      if on_error ~= "dead_letter" then diagnose(steps, rows, n, m) end
      fused_rows = fused_rows or gen_segment(steps, nil, {})
      return dead_letter_rows(fused_rows, steps, rows, n, ctx)
    end
    return out, m
  end
end

local output_columns -- below

-- Compiles the chain ending at `node` into step(inputs, ctx) -> rows, n. user_after: user code
-- sees the rows that come out of it (its typed columns are made values at its entry).
local function compile_node(node, q, user_after)
  -- collect the stateless run down to a source, union or stateful operator
  local steps = {}
  local n = node
  while n and FUSED[n.op] do
    table.insert(steps, 1, n)
    n = n.parent
  end
  local reader = n and n.op == "source" and view_reader(n, q)
  for _, st in ipairs(steps) do user_after = user_after or shows_rows(st) end
  local typed_cols = user_after and n and not n.is_static and output_columns(n) or nil
  local wraps = typed_columns(typed_cols)
  local segment = compile_segment(steps, reader, wraps, typed_cols, q.sink.onError)
  local below
  if n == nil then
    error("internal: a plan without a source")
  elseif n.op == "source" then
    local idx = n.source_index
    if reader and not segment then
      below = function(inputs) local inp = inputs[idx]; return materialize(reader, inp.view, inp.n), inp.n end
    elseif reader then
      below = function(inputs) local inp = inputs[idx]; return inp.view, inp.n end
    else
      below = function(inputs) local inp = inputs[idx]; return inp.rows, inp.n end
    end
  elseif n.op == "union" then
    local left = compile_node(n.parent, q, user_after)
    local right = compile_node(n.other, q, user_after)
    below = function(inputs, ctx)
      local a, na = left(inputs, ctx)
      local b, nb = right(inputs, ctx)
      for i = 1, nb do a[na + i] = b[i] end
      return a, na + nb
    end
  elseif n.op == "parse_json" then
    local parent = compile_node(n.parent, q, user_after)
    local column, schema, where = n.column, n.schema, n.where
    local cols = n.runtime_columns
    below = function(inputs, ctx)
      local rows, cnt = parent(inputs, ctx)
      analyzer.check_rows(rows, cnt, cols, "parse_json", where)
      return core.parse_json_column(rows, cnt, column, schema, where)
    end
  else
    local mod = exec.operator(n.op)
    if not mod then error(n.where .. ": " .. n.op .. " is not supported yet", 0) end
    local below_user = shows_rows(n)
    local parent = compile_node(n.parent, q, below_user)
    local other = n.other and not n.other.is_static and compile_node(n.other, q, below_user)
    local op = mod.compile(n, q)
    local sid = n.state_index
    local cols, ocols, what, where = n.runtime_columns, n.runtime_other, n.op, n.where
    below = function(inputs, ctx)
      local rows, cnt = parent(inputs, ctx)
      analyzer.check_rows(rows, cnt, cols, what, where)
      local orows, ocnt
      if other then
        orows, ocnt = other(inputs, ctx)
        analyzer.check_rows(orows, ocnt, ocols, what, where)
      end
      return op(rows, cnt, ctx, ctx.stores[sid], ctx.state_metrics[sid], orows, ocnt)
    end
  end
  if not segment then return below end
  return function(inputs, ctx)
    local rows, cnt = below(inputs, ctx)
    return segment(rows, cnt, ctx)
  end
end

-- The output columns the plan knows (names, types) in order, as an ordered schema list.
-- known_only: nil where a function may reshape rows (a map or flat_map without an output
-- schema), instead of the guess that they keep their input's columns (see columns_guessed).
function output_columns(node, known_only)
  if node.op == "source" then return node.schema_list end
  if node.op == "map" or node.op == "flat_map" then
    if node.schema_list or known_only then return node.schema_list end
  end
  if node.op == "select" then
    local base = output_columns(node.parent, known_only) or {}
    local types = {}
    for _, c in ipairs(base) do types[c[1]] = c[2] end
    local out = {}
    for _, c in ipairs(node.columns) do
      if c.from and types[c.from] then out[#out + 1] = { c.name, types[c.from] } end
    end
    return out
  end
  if node.op == "parse_json" then
    -- the text column is replaced by the parsed fields
    local base = output_columns(node.parent, known_only)
    if known_only and not (base and node.schema) then return nil end
    local out = {}
    for _, c in ipairs(base or {}) do
      if c[1] ~= node.column then out[#out + 1] = c end
    end
    for _, c in ipairs(node.schema and node.schema:columns() or {}) do out[#out + 1] = c end
    return out
  end
  local mod = plan.STATEFUL[node.op] and exec.operator(node.op)
  if mod and mod.columns then return mod.columns(node, output_columns(node.parent, known_only)) end
  if node.parent and (plan.STATELESS[node.op] or node.op == "union") then
    return output_columns(node.parent, known_only)
  end
  return nil
end
exec.output_columns = output_columns

-- The names of the output rows' columns, in order, when the plan knows them exactly (Spark's
-- DataFrame schema: a sink writes these and only these), or nil when an operation may reshape
-- rows in ways the plan cannot see (map, flat_map, process_with_state, parse_json without a
-- schema, a source without one). Types are output_columns' business.
local function exact_columns(node)
  local op = node.op
  if op == "source" then
    if not node.schema_list then return nil end
    local names = {}
    for i, c in ipairs(node.schema_list) do names[i] = c[1] end
    return names
  elseif op == "select" then
    local names = {}
    for i, c in ipairs(node.columns) do names[i] = c.name end
    return names
  elseif op == "filter" or op == "with_watermark" or op == "drop_duplicates"
      or op == "drop_duplicates_within_watermark" then
    return exact_columns(node.parent)
  elseif op == "union" then
    local a, b = exact_columns(node.parent), exact_columns(node.other)
    if not a or not b or #a ~= #b then return nil end
    local set = {}
    for _, c in ipairs(b) do set[c] = true end
    for _, c in ipairs(a) do if not set[c] then return nil end end
    return a
  elseif op == "parse_json" then
    local base = exact_columns(node.parent)
    if not base or not node.schema then return nil end
    local names, seen = {}, {}
    local function add(c) if not seen[c] then seen[c] = true; names[#names + 1] = c end end
    for _, c in ipairs(base) do if c ~= node.column then add(c) end end
    for _, c in ipairs(node.schema:columns()) do add(c[1]) end
    return names
  elseif op == "aggregate" then
    -- the keys (a function key is named key, key2, ...; a window is `window`), then the
    -- aggregates by name, as streamrun.ops.aggregate builds its rows
    local names, nfn = {}, 0
    for _, k in ipairs(node.keys) do
      if type(k) == "string" then names[#names + 1] = k
      elseif type(k) == "function" then
        nfn = nfn + 1
        names[#names + 1] = nfn == 1 and "key" or ("key" .. nfn)
      else names[#names + 1] = "window" end
    end
    local aggs = {}
    for name in pairs(node.aggs) do aggs[#aggs + 1] = name end
    table.sort(aggs)
    for _, a in ipairs(aggs) do names[#names + 1] = a end
    return names
  elseif op == "join" then
    local s = require("streamrun.ops.join").spec(node)
    if not s then return nil end
    if s.how == "left_semi" or s.how == "left_anti" then return exact_columns(node.parent) end
    local left, right = exact_columns(node.parent), exact_columns(node.other)
    if s.static_left then left, right = right, left end
    if not left or not right then return nil end
    -- as streamrun.ops.join builds its rows: keys, the left's others, the right's others
    -- (prefixed right_ when the left has the name)
    local keyset, lset, names = {}, {}, {}
    for _, k in ipairs(s.keys) do keyset[k] = true; names[#names + 1] = k end
    for _, c in ipairs(left) do lset[c] = true end
    for _, c in ipairs(left) do if not keyset[c] then names[#names + 1] = c end end
    for _, c in ipairs(right) do
      if not keyset[c] then names[#names + 1] = lset[c] and ("right_" .. c) or c end
    end
    return names
  end
  return nil
end

-- Whether output_columns(node) is its input's columns passed through a function that may have
-- made other rows (a map or flat_map without a schema): the sinks then take them for the types
-- and order of the columns the rows hold, and a new Delta table gets only those.
local PASS_THROUGH = { with_watermark = true, filter = true, union = true, drop_duplicates = true,
                       drop_duplicates_within_watermark = true }
local function columns_guessed(node)
  if node.op == "map" or node.op == "flat_map" then return node.schema_list == nil end
  if PASS_THROUGH[node.op] and node.parent then return columns_guessed(node.parent) end
  return false
end

-- Compiles one registered query into the descriptor the engine reads.
function exec.compile(q)
  -- names first, as Spark resolves a plan before its UnsupportedOperationChecker sees it
  local ok, err = analyzer.check(q)
  if ok then ok, err = plan.check(q) end
  if not ok then error(err, 0) end
  local sources, stateful, watermarks = {}, {}, {}
  plan.walk(q.root, function(n)
    if n.op == "source" and not n.is_static then
      sources[#sources + 1] = n
      n.source_index = #sources
    elseif plan.STATEFUL[n.op] and not n.is_static then
      stateful[#stateful + 1] = n
      n.state_index = #stateful
    elseif n.op == "with_watermark" then
      watermarks[#watermarks + 1] = n
      n.wm_index = #watermarks
    end
  end)
  local run_chain = compile_node(q.root, q, USER_SINKS[q.sink.format] or false)
  local trigger_kind, trigger_ms = parse_trigger(q.sink.trigger, q.where)
  if q.sink.onError ~= nil and q.sink.onError ~= "fail" and q.sink.onError ~= "dead_letter" then
    error(q.where .. ": onError must be \"fail\" (the default, as Spark) or \"dead_letter\", not "
      .. tostring(q.sink.onError), 0)
  end
  local batch_timeout_ms = core.duration(q.sink.batchTimeout or DEFAULT_BATCH_TIMEOUT)
  if not batch_timeout_ms then
    error(q.where .. ": batchTimeout: not a duration: " .. tostring(q.sink.batchTimeout), 0)
  end
  -- Spark's spark.sql.streaming.minBatchesToRetain (SQLConf: "must be positive")
  local retain = q.sink.minBatchesToRetain or 100
  if type(retain) == "string" and retain:match("^%d+$") then retain = tonumber(retain) end
  if type(retain) ~= "number" or retain < 1 or retain ~= math.floor(retain) then
    error(q.where .. ": minBatchesToRetain must be a positive integer (batches of offsets, commits "
      .. "and state kept for recovery), not " .. tostring(q.sink.minBatchesToRetain), 0)
  end
  local desc = {
    name = q.name, where = q.where, index = q.index,
    min_batches_to_retain = retain,
    checkpoint = q.sink.checkpointLocation,
    output_mode = q.sink.outputMode or "append",
    trigger_kind = trigger_kind, trigger_ms = trigger_ms, batch_timeout_ms = batch_timeout_ms,
    watermark_policy = watermark_policy(q.sink.multipleWatermarkPolicy, q.where),
    state_partitions = state_partitions(q.sink.numStatePartitions, q.where),
    sources = {}, stateful = {}, watermarks = {},
    sink = { format = q.sink.format, options = options.flatten(q.sink, SINK_ENGINE_KEYS),
             engine_keys = SINK_ENGINE_NAMES,
             where = q.where, spec = q.sink },
    warnings = plan.warnings(q),
    plan_text = plan.describe(q),
    -- for --check --json, made only when asked
    plan_json = function()
      local out_cols = exact_columns(q.root)
      return core.to_json(plan.document(q, {
        outputMode = q.sink.outputMode or "append", checkpointLocation = q.sink.checkpointLocation,
        trigger = { kind = trigger_kind, intervalMs = trigger_ms }, batchTimeoutMs = batch_timeout_ms,
        outputColumns = out_cols and #out_cols > 0 and out_cols or nil }, options.flatten, SOURCE_ENGINE_KEYS, SINK_ENGINE_KEYS))
    end,
    -- the sink takes the source's rows untouched: it may read a row view's records itself
    direct = q.root.op == "source" and not q.root.is_static,
    watermark_batches = false,
  }
  for i, s in ipairs(sources) do
    desc.sources[i] = { format = s.format, options = options.flatten(s.options, SOURCE_ENGINE_KEYS),
                        schema = analyzer.read_schema(q, s) or s.schema, where = s.where }
  end
  for i, s in ipairs(stateful) do
    desc.stateful[i] = { op = s.op, where = s.where, signature = exec.signature(s) }
    local mod = exec.operator(s.op)
    if mod and mod.no_data_batches and mod.no_data_batches(s) then desc.no_data_batches = true end
    if not (mod and mod.ignores_watermark and mod.ignores_watermark(s, q)) then
      desc.watermark_batches = true
    end
  end
  for i, w in ipairs(watermarks) do
    desc.watermarks[i] = { column = w.column, delay_ms = w.delay_ms }
  end
  local cols = output_columns(q.root)
  if cols and #cols > 0 then desc.output_schema = core.schema(cols) end
  desc.output_columns = exact_columns(q.root)
  desc.output_schema_guessed = columns_guessed(q.root)
  desc.run = function(inputs, ctx)
    local et = {}
    for i = 1, #watermarks do et[i] = { min = math.huge, max = -math.huge, sum = 0, count = 0 } end
    ctx.event_time = et
    local rows, n = run_chain(inputs, ctx)
    analyzer.check_rows(rows, n, q.runtime_columns, "write_stream", q.where)
    return rows, n
  end
  return desc
end

-- What a stateful operator's state depends on: a change of it cannot be carried by the
-- checkpoint (hot reload and restarts compare these).
local function join_signature(n)
  local on, parts = n.on, {}
  if type(on) == "string" then parts[1] = on
  elseif type(on) == "function" then parts[1] = "fn"
  elseif type(on) == "table" then
    for i, k in ipairs(on) do parts[i] = type(k) == "string" and k or "fn" end
    if on.condition then parts[#parts + 1] = "fn" end
  end
  local tr = n.time_range
  local range = tr and table.concat({ tostring(tr.left), tostring(tr.right), tostring(tr.lower),
                                      tostring(tr.upper) }, ",") or ""
  return "join[" .. table.concat(parts, ",") .. "]" .. tostring(n.how) .. "(" .. range .. ")"
end

function exec.signature(n)
  if n.op == "join" then return join_signature(n) end
  local keys = {}
  for i, k in ipairs(n.keys or {}) do
    if type(k) == "string" then keys[i] = k
    elseif type(k) == "function" then keys[i] = "fn"
    elseif type(k) == "table" and k.kind then
      keys[i] = k.kind .. "(" .. tostring(k.column) .. "," .. tostring(k.size_ms or k.gap_ms or "fn")
        .. "," .. tostring(k.slide_ms or "") .. "," .. tostring(k.start_ms or "") .. ")"
    elseif type(k) == "table" then keys[i] = table.concat(k, "+") end
  end
  if type(n.keys) == "table" and #keys == 0 then
    for _, k in ipairs(n.keys) do keys[#keys + 1] = tostring(k) end
  end
  local aggs = {}
  for name, a in pairs(n.aggs or {}) do aggs[#aggs + 1] = name .. ":" .. a.agg end
  table.sort(aggs)
  return n.op .. "[" .. table.concat(keys, ",") .. "]" .. table.concat(aggs, ",")
end

-- Every query of the job, compiled. Called by the engine after the job file ran.
function exec.queries()
  local sr = require "streamrun"
  local out = {}
  for i, q in ipairs(sr._queries()) do out[i] = exec.compile(q) end
  return out
end

return exec
