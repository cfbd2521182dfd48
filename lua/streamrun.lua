-- The streamrun module: what a job requires. It builds plans; it runs nothing.
--
-- A job calls sr.read_stream{...}, chains operations on the stream, and ends each chain with
-- :write_stream{...}, which registers a query. When the job file has finished running, the C
-- runtime asks streamrun.exec for the registered queries and runs them. Nothing here keeps
-- state between batches: the runtime may reload the job into a fresh lua_State at any batch
-- boundary, and everything that must survive lives in C.
local core = require "streamrun.core"
local plan = require "streamrun.plan"
local types = require "streamrun.types"

local sr = { _VERSION = core.version }

local Stream = {}
Stream.__index = Stream
local Grouped = {}
Grouped.__index = Grouped

-- The job file and line that called into the module: `level` frames above the caller of where().
local function where(level)
  local info = debug.getinfo((level or 2) + 1, "Sl")
  if not info then return "?" end
  return (info.short_src or "?") .. ":" .. (info.currentline or 0)
end

local function fail(msg, level) error(msg, (level or 2) + 1) end

local function check_fn(fn, what, level)
  if type(fn) ~= "function" then
    fail(what .. " expects a function, got " .. type(fn), (level or 2) + 1)
  end
end

local function node(parent, fields)
  local n = setmetatable(fields, Stream)
  n.parent = parent
  n.is_static = parent and parent.is_static or false
  return n
end

-- Sources --------------------------------------------------------------------------------

local function new_source(opts, static, level)
  if type(opts) ~= "table" then fail("read_stream expects a table of options", level + 1) end
  if type(opts.format) ~= "string" then
    fail("read_stream: `format` is required (" .. table.concat(core.source_names(), ", ") .. ")", level + 1)
  end
  local s = node(nil, { op = "source", format = opts.format, options = opts, where = where(level + 1) })
  s.is_static = static
  local fixed = core.source_columns(opts.format)
  local view = core.source_view_module(opts.format)
  local view_columns = view and require(view).columns
  if view_columns then fixed = view_columns(opts) or fixed end
  if fixed and opts.schema == nil then
    s.schema_list = core.schema(fixed):columns()
  elseif opts.schema ~= nil then
    local ok, schema = pcall(core.schema, opts.schema)
    if not ok then fail("read_stream: schema: " .. tostring(schema), level + 1) end
    s.schema = schema
    s.schema_list = schema:columns()
  else
    -- no schema: a source that can infer one does, from what is there now (JOB-API "Schema inference")
    local ok, schema = pcall(core.infer_schema, opts.format, opts)
    if not ok then fail(tostring(schema), level + 1) end
    if schema then s.schema, s.schema_list, s.inferred = schema, schema:columns(), true end
  end
  return s
end

--- A streaming source: every row that arrives, batch by batch.
-- (not tail calls: a tail call drops the caller's frame, and error levels count frames)
function sr.read_stream(opts) local s = new_source(opts, false, 2); return s end
--- A static table: read once per change, joinable with a stream.
function sr.read(opts) local s = new_source(opts, true, 2); return s end

-- Stateless operations -------------------------------------------------------------------

-- The optional output schema of map/flat_map ({schema = "a long, at timestamp"}): the types of
-- the columns the function makes, for the sinks (a Delta table's schema, numbers written as
-- timestamps). Without it they follow the values (a timestamp value is a timestamp column).
local function fn_options(opts, what)
  if opts == nil then return nil end
  if type(opts) ~= "table" then fail(what .. ": options must be a table ({schema = ...})", 3) end
  for k in pairs(opts) do
    if k ~= "schema" then fail(what .. ": unknown option " .. tostring(k) .. " (schema)", 3) end
  end
  if opts.schema == nil then return nil end
  local ok, schema = pcall(core.schema, opts.schema)
  if not ok then fail(what .. ": schema: " .. tostring(schema), 3) end
  return schema:columns()
end

function Stream:map(fn, opts)
  check_fn(fn, "map")
  return node(self, { op = "map", fn = fn, schema_list = fn_options(opts, "map"), where = where(2) })
end

function Stream:filter(fn)
  check_fn(fn, "filter")
  return node(self, { op = "filter", fn = fn, where = where(2) })
end

function Stream:flat_map(fn, opts)
  check_fn(fn, "flat_map")
  return node(self, { op = "flat_map", fn = fn, schema_list = fn_options(opts, "flat_map"),
                      where = where(2) })
end

-- select{"a", "b", c = function(r) ... end, d = "b"}: keep a and b, compute c, rename b to d.
function Stream:select(spec)
  if type(spec) ~= "table" then fail("select expects a table of columns") end
  local cols = {}
  for i, v in ipairs(spec) do
    if type(v) ~= "string" then fail("select: entry " .. i .. " must be a column name") end
    cols[#cols + 1] = { name = v, from = v }
  end
  local named = {}
  for k, v in pairs(spec) do
    if type(k) == "string" then
      if type(v) == "function" then named[#named + 1] = { name = k, fn = v }
      elseif type(v) == "string" then named[#named + 1] = { name = k, from = v }
      else fail("select: column " .. k .. " must be a function or a column name") end
    end
  end
  table.sort(named, function(a, b) return a.name < b.name end)
  for _, c in ipairs(named) do cols[#cols + 1] = c end
  return node(self, { op = "select", columns = cols, where = where(2) })
end

function Stream:parse_json(column, schema)
  if type(column) ~= "string" then fail("parse_json expects a column name") end
  local s
  if schema ~= nil then
    local ok, res = pcall(core.schema, schema)
    if not ok then fail("parse_json: schema: " .. tostring(res)) end
    s = res
  end
  return node(self, { op = "parse_json", column = column, schema = s, where = where(2) })
end

function Stream:union(other)
  if getmetatable(other) ~= Stream then fail("union expects a stream") end
  return node(self, { op = "union", other = other, where = where(2) })
end

function Stream:with_watermark(column, delay)
  if type(column) ~= "string" then fail("with_watermark expects an event-time column name") end
  local ok, ms, why = pcall(core.duration, delay)
  if not ok or not ms then
    fail("with_watermark: the delay threshold " .. (why and why:match("should not be negative") and why
      or "is not a duration: " .. tostring(delay)))
  end
  return node(self, { op = "with_watermark", column = column, delay_ms = ms, where = where(2) })
end

-- Operations refused on streams: the plan check reports them with Spark's reason.
function Stream:sort(...) return node(self, { op = "sort", args = { ... }, where = where(2) }) end
function Stream:limit(n) return node(self, { op = "limit", n = n, where = where(2) }) end

-- Stateful operations: their executors live in streamrun.ops.*; the plan keeps their spec.

function Stream:group_by(...)
  local keys = { ... }
  if #keys == 0 then fail("group_by expects at least one key") end
  for i, k in ipairs(keys) do
    local t = type(k)
    if not (t == "string" or t == "function" or (t == "table" and k.kind)) then
      fail("group_by: key " .. i .. " must be a column name, sr.window, sr.session_window or a function")
    end
  end
  return setmetatable({ stream = self, keys = keys, where = where(2) }, Grouped)
end

function Grouped:agg(aggs)
  if type(aggs) ~= "table" or next(aggs) == nil then fail("agg expects a table of aggregates") end
  for name, a in pairs(aggs) do
    if type(name) ~= "string" or type(a) ~= "table" or not a.agg then
      fail("agg: " .. tostring(name) .. " must be an aggregate such as sr.count() or sr.max(\"price\")")
    end
  end
  return node(self.stream, { op = "aggregate", keys = self.keys, aggs = aggs, where = where(2) })
end

function Grouped:count()
  return node(self.stream, { op = "aggregate", keys = self.keys, aggs = { count = sr.count() }, where = where(2) })
end

function Grouped:process_with_state(spec)
  if type(spec) ~= "table" then fail("process_with_state expects {fn=, timeout=}") end
  check_fn(spec.fn, "process_with_state")
  return node(self.stream, { op = "process_with_state", keys = self.keys, fn = spec.fn,
                             timeout = spec.timeout or "none", where = where(2) })
end

-- A bare column name or function is one key: keys are a list, as group_by's.
local function key_list(keys)
  if type(keys) == "string" or type(keys) == "function" then return { keys } end
  return keys
end

function Stream:drop_duplicates(keys)
  return node(self, { op = "drop_duplicates", keys = key_list(keys), where = where(2) })
end

function Stream:drop_duplicates_within_watermark(keys)
  return node(self, { op = "drop_duplicates_within_watermark", keys = key_list(keys), where = where(2) })
end

function Stream:join(other, spec)
  if getmetatable(other) ~= Stream then fail("join expects a stream or an sr.read{} table") end
  spec = spec or {}
  local fields = { op = "join", other = other, on = spec.on, how = spec.how or "inner",
                   time_range = spec.time_range, where = where(2) }
  if self.is_static and not other.is_static then
    -- static:join(stream): the stream drives the batches, so it is the node's parent; the
    -- static table stays the join's left side (streamrun.ops.join reads static_left)
    fields.other, fields.static_left = self, true
    return node(other, fields)
  end
  return node(self, fields)
end

-- Window and aggregate specs --------------------------------------------------------------

local function duration(text, what, signed)
  local ok, ms = pcall(core.duration, text, signed)
  if not ok or not ms then fail(what .. ": not a duration: " .. tostring(text), 3) end
  return ms
end

-- sr.window(column, size [, slide [, startTime]]): Spark's window(). startTime may be negative
-- (SPARK-21590). The checks and their words are TimeWindow.checkInputDataTypes'.
function sr.window(column, size, slide, start_time)
  local function shown(v) return type(v) == "string" and v or tostring(v) .. " ms" end
  local size_ms = duration(size, "window size", true)
  local slide_ms = slide and duration(slide, "window slide", true) or size_ms
  local start_ms = start_time and duration(start_time, "window startTime", true) or 0
  if size_ms <= 0 then
    fail("window: The window duration (" .. shown(size) .. ") must be greater than 0.", 2)
  end
  if slide_ms <= 0 then
    fail("window: The slide duration (" .. shown(slide) .. ") must be greater than 0.", 2)
  end
  if slide_ms > size_ms then
    fail("window: The slide duration (" .. shown(slide or size) .. ") must be less than or equal to "
      .. "the windowDuration (" .. shown(size) .. ").", 2)
  end
  if math.abs(start_ms) >= slide_ms then
    fail("window: The absolute value of start time (" .. shown(start_time) .. ") must be less than "
      .. "the slideDuration (" .. shown(slide or size) .. ").", 2)
  end
  -- windows repeat every slide: a startTime s and s + slide give the same windows
  return { kind = "window", column = column, size_ms = size_ms, slide_ms = slide_ms,
           start_ms = start_ms % slide_ms }
end

function sr.session_window(column, gap)
  if type(gap) == "function" then return { kind = "session", column = column, gap_fn = gap } end
  return { kind = "session", column = column, gap_ms = duration(gap, "session gap") }
end

function sr.count() return { agg = "count" } end
for _, name in ipairs { "sum", "min", "max", "avg", "first", "last", "count_distinct", "collect_list" } do
  sr[name] = function(column)
    if type(column) ~= "string" then fail("sr." .. name .. " expects a column name", 2) end
    return { agg = name, column = column }
  end
end
function sr.aggregate(spec)
  if type(spec) ~= "table" then fail("sr.aggregate expects {init=, add=, merge=, finish=}", 2) end
  for _, f in ipairs { "init", "add", "merge" } do
    if type(spec[f]) ~= "function" then fail("sr.aggregate: `" .. f .. "` must be a function", 2) end
  end
  return { agg = "custom", init = spec.init, add = spec.add, merge = spec.merge, finish = spec.finish }
end

-- A static table's rows, read now -------------------------------------------------------

--- The rows of a static table (sr.read) as it is now, after its operations: a Lua array.
function Stream:collect()
  if not self.is_static then
    fail("collect() is for static tables (sr.read): a stream has no end (write it to the memory "
      .. "sink and read sr.memory_table(name), or use foreach_batch)")
  end
  -- its errors name the job line of the operation at fault
  return (require("streamrun.static").collect(self))
end

-- Sinks: write_stream registers a query ------------------------------------------------

local queries = {}

function Stream:write_stream(opts)
  if type(opts) ~= "table" then fail("write_stream expects a table of options") end
  if self.is_static then fail("write_stream: this is a static table (sr.read); use sr.read_stream") end
  if type(opts.format) ~= "string" then
    fail("write_stream: `format` is required (" .. table.concat(core.sink_names(), ", ") .. ")")
  end
  local q = { root = self, sink = opts, where = where(2), index = #queries + 1 }
  q.name = opts.queryName
  queries[#queries + 1] = q
  return q
end

-- The queries the job registered, in order. Used by streamrun.exec and by tests.
function sr._queries() return queries end

-- Helpers ------------------------------------------------------------------------------

sr.to_json = core.to_json
sr.from_json = core.from_json
sr.parse_timestamp = core.parse_timestamp
sr.format_timestamp = core.format_timestamp
sr.parse_date = core.parse_date
sr.format_date = core.format_date
sr.timestamp = types.timestamp       -- a timestamp value (streamrun.types): ms, text, date
sr.date = types.date                 -- a date value: days, "YYYY-MM-DD", timestamp
sr.timestamp_us = types.from_us      -- a timestamp from microseconds
sr.is_timestamp = types.is_timestamp
sr.is_date = types.is_date
sr.binary = types.binary             -- a binary value: the bytes of a string
sr.is_binary = types.is_binary
sr.typeof = types.typename           -- "timestamp", "date", or Lua's type name
sr.duration = function(text) return duration(text, "sr.duration") end
sr.memory_table = core.memory_table

local levels = { debug = 0, info = 1, warn = 2, error = 3 }
function sr.log(level, ...)
  if levels[level] == nil then fail("sr.log: level must be debug, info, warn or error") end
  local parts = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    parts[i] = type(v) == "table" and core.to_json(v) or tostring(v)
  end
  core.log(level, where(2) .. ": " .. table.concat(parts, " "))
end

sr.Stream = Stream
plan.Stream = Stream
return sr
