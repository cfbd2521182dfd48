-- Plan checks and plan text: what `streamrun --check` prints and what every start verifies.
--
-- A query's plan is the chain of nodes from its write_stream back to its sources. The checks
-- follow Spark's UnsupportedOperationChecker: a plan Spark refuses is refused here, before any
-- file is touched, with Spark's reason in plain words and the job line that built the node.
local M = {}

local STATELESS = { map = true, filter = true, flat_map = true, select = true,
                    parse_json = true, with_watermark = true }
M.STATELESS = STATELESS

local STATEFUL = { aggregate = true, drop_duplicates = true, drop_duplicates_within_watermark = true,
                   process_with_state = true, join = true }
M.STATEFUL = STATEFUL

-- Calls visit(node) for every node of the plan: the main chain from the sink down to its
-- source first, then each other branch (union, join) the same way. The order is stable: it
-- numbers sources and stateful operators.
function M.walk(root, visit)
  local seen, branches, i = {}, { root }, 1
  while branches[i] do
    local n = branches[i]
    i = i + 1
    while n and not seen[n] do
      seen[n] = true
      visit(n)
      if n.other then branches[#branches + 1] = n.other end
      n = n.parent
    end
  end
end

local function has_op(root, pred)
  local found
  M.walk(root, function(n) if not found and pred(n) then found = n end end)
  return found
end

local function keys_use_session(keys)
  for _, k in ipairs(keys or {}) do
    if type(k) == "table" and k.kind == "session" then return true end
  end
  return false
end

-- The event-time columns a plan has watermarks on.
local function watermark_columns(root)
  local cols = {}
  M.walk(root, function(n) if n.op == "with_watermark" then cols[n.column] = n end end)
  return cols
end

local function aggregate_has_event_time(n, wm)
  for _, k in ipairs(n.keys) do
    if type(k) == "table" and k.column and wm[k.column] then return true end
    if type(k) == "string" and wm[k] then return true end
  end
  return false
end

-- Spark's rules on an aggregation's keys (TimeWindowing, AggUtils): the reason, or nil.
local function aggregate_key_problem(a)
  local windows, others = 0, 0
  for _, k in ipairs(a.keys) do
    if type(k) == "table" and k.kind then
      windows = windows + 1
      if k.kind == "session" and k.gap_ms and k.gap_ms <= 0 then
        return "a session window's gap must be positive: Spark drops every row whose gap is not"
      end
    else
      others = others + 1
    end
  end
  if windows > 1 then
    return "only one sr.window or sr.session_window per group_by: several would put every row in "
      .. "the cartesian product of their windows, which Spark does not support"
  end
  if keys_use_session(a.keys) and others == 0 then
    return "a streaming aggregation over session windows needs another key beside the session "
      .. "window: Spark does not support a global aggregation with session windows in a streaming query"
  end
  return nil
end

local function refuse(n, msg)
  return nil, (n and n.where and (n.where .. ": ") or "") .. msg
end

-- Checks a query against Spark's rules. Returns true, or nil and the reason.
function M.check(q)
  local root, mode = q.root, q.sink.outputMode or "append"
  if mode ~= "append" and mode ~= "update" and mode ~= "complete" then
    return refuse(q, "outputMode must be append, update or complete, not " .. tostring(mode))
  end
  local bad = has_op(root, function(n) return (n.op == "sort" or n.op == "limit") and not n.is_static end)
  if bad then
    return refuse(bad, bad.op == "sort"
      and "sort is not supported on a stream: a stream has no end, so its rows can never all be "
        .. "seen to order them (sort a static table from sr.read, or sort in foreach_batch)"
      or "limit is not supported on a stream here: which rows are the first n depends on batch "
        .. "boundaries (limit a static table from sr.read, or limit in foreach_batch)")
  end
  -- Spark (3.5 on) refuses a watermark defined on a stream that already has one: the global
  -- watermark, the minimum of both, would be held back by the first definition
  local redefined, first
  M.walk(root, function(n)
    if n.op ~= "with_watermark" or redefined then return end
    local up = n.parent
    while up and up.op ~= "with_watermark" do up = up.parent end
    if up then redefined, first = n, up end
  end)
  if redefined then
    return refuse(redefined, "Redefining watermark is disallowed: the stream already has one, on `"
      .. first.column .. "` (defined at " .. tostring(first.where) .. "); define one watermark per stream")
  end
  local aggs = {}
  -- (a static table's aggregation is a batch one: streamrun.static)
  M.walk(root, function(n) if n.op == "aggregate" and not n.is_static then aggs[#aggs + 1] = n end end)
  local wm = watermark_columns(root)
  if mode == "complete" and #aggs == 0 then
    return refuse(q, "complete output mode needs an aggregation: without one the whole result "
      .. "would be every row ever seen (use append or update)")
  end
  if #aggs > 1 and mode ~= "append" then
    return refuse(aggs[1], "multiple streaming aggregations are supported only in append mode")
  end
  for _, a in ipairs(aggs) do
    if mode == "append" and not aggregate_has_event_time(a, wm) then
      return refuse(a, "append output mode is not supported for a streaming aggregation without a "
        .. "watermark on its event-time key: a group's row could never be final. Add "
        .. ":with_watermark(column, delay) and group by sr.window(column, ...), or use update/complete")
    end
    if mode == "update" and keys_use_session(a.keys) then
      return refuse(a, "update output mode is not supported with session windows: a session's "
        .. "row can still merge with another after it was emitted (use append or complete)")
    end
    local bad_agg = aggregate_key_problem(a)
    if bad_agg then return refuse(a, bad_agg) end
  end
  local pws = has_op(root, function(n) return n.op == "process_with_state" end)
  -- complete mode is the aggregation's: a process_with_state below an aggregation only feeds it
  -- rows (Spark allows flatMapGroupsWithState in append mode under an aggregation)
  local pws_under_agg = false
  for _, a in ipairs(aggs) do
    if has_op(a.parent, function(n) return n == pws end) then pws_under_agg = true end
  end
  if pws and mode == "complete" and not pws_under_agg then
    return refuse(pws, "process_with_state does not support complete output mode")
  end
  local bad_keys = has_op(root, function(n)
    return (n.op == "process_with_state" or n.op == "drop_duplicates"
            or n.op == "drop_duplicates_within_watermark") and not n.is_static
      and require("streamrun.ops.keys").check(n.keys)
  end)
  if bad_keys then
    return refuse(bad_keys, bad_keys.op .. ": " .. require("streamrun.ops.keys").check(bad_keys.keys))
  end
  if pws then
    local kind = require("streamrun.ops.process_with_state").timeout_kind(pws.timeout)
    if not kind then
      return refuse(pws, "process_with_state: timeout must be none, processing_time or event_time "
        .. "(or Spark's NoTimeout, ProcessingTimeTimeout, EventTimeTimeout), not " .. tostring(pws.timeout))
    end
    if kind == "event_time" and not next(wm) then
      return refuse(pws, "process_with_state with an event_time timeout needs a watermark: add "
        .. ":with_watermark(column, delay) before group_by (an event-time timeout fires when the "
        .. "watermark passes it)")
    end
  end
  local dww = has_op(root, function(n) return n.op == "drop_duplicates_within_watermark" end)
  if dww and not next(wm) then
    return refuse(dww, "drop_duplicates_within_watermark needs a watermark: add "
      .. ":with_watermark(column, delay) before it (a key is kept until the watermark passes its "
      .. "first event time plus the delay)")
  end
  local join = has_op(root, function(n) return n.op == "join" and not n.other.is_static end)
  if join and mode ~= "append" then
    return refuse(join, "stream-stream joins support only append output mode")
  end
  local join_problem
  M.walk(root, function(n)
    if n.op == "join" and not join_problem then
      local ok, msg = require("streamrun.ops.join").check(n)
      if not ok then join_problem = { n, msg } end
    end
  end)
  if join_problem then return refuse(join_problem[1], join_problem[2]) end
  local static_sink = has_op(root, function(n) return n.op == "source" and n.is_static end)
  if static_sink and not has_op(root, function(n) return n.op == "join" end) then
    return refuse(static_sink, "a static table (sr.read) can only join a stream here")
  end
  return true
end

-- Whether drop_duplicates keys (a column, a function, or a list) name a watermarked column.
local function dedup_keys_event_time(keys, wm)
  if keys == nil then return true end -- the whole row is the key, its event time included
  if type(keys) ~= "table" then return type(keys) == "string" and wm[keys] ~= nil end
  for _, k in ipairs(keys) do
    if type(k) == "string" and wm[k] then return true end
  end
  return false
end

-- Warnings that do not refuse the plan (state that grows without bound, ...).
function M.warnings(q)
  local w = {}
  local wm = watermark_columns(q.root)
  M.walk(q.root, function(n)
    if n.op == "drop_duplicates" and n.is_static then -- luacheck: ignore 542
      -- a static table's: a batch distinct, no state
    elseif n.op == "drop_duplicates" and not next(wm) then
      w[#w + 1] = n.where .. ": drop_duplicates without a watermark keeps every key forever: "
        .. "its state grows without bound"
    elseif n.op == "drop_duplicates" and not dedup_keys_event_time(n.keys, wm) then
      w[#w + 1] = n.where .. ": drop_duplicates keys do not include the event-time column of the "
        .. "watermark, so every key is kept forever: its state grows without bound (add the "
        .. "event-time column to the keys, or use drop_duplicates_within_watermark)"
    elseif n.op == "join" then
      for _, text in ipairs(require("streamrun.ops.join").warnings(n)) do
        w[#w + 1] = n.where .. ": " .. text
      end
    end
  end)
  return w
end

local function describe_node(n)
  if n.op == "source" then
    local extra = n.options.path or n.options.subscribe or n.options.topic or ""
    return string.format("%s %s%s%s", n.is_static and "Static" or "Source", n.format,
                         extra ~= "" and (" " .. tostring(extra)) or "",
                         n.inferred and (" (inferred schema: " .. tostring(n.schema) .. ")") or "")
  elseif n.op == "with_watermark" then
    return string.format("WithWatermark %s delay %d ms", n.column, n.delay_ms)
  elseif n.op == "select" then
    local names = {}
    for i, c in ipairs(n.columns) do names[i] = c.name end
    return "Select " .. table.concat(names, ", ")
  elseif n.op == "aggregate" then
    local keys, aggs = {}, {}
    for i, k in ipairs(n.keys) do
      if type(k) == "string" then keys[i] = k
      elseif type(k) == "function" then keys[i] = "fn"
      elseif k.kind == "window" then
        keys[i] = string.format("window(%s, %d ms, %d ms)", k.column, k.size_ms, k.slide_ms)
      else keys[i] = "session_window(" .. k.column .. ")" end
    end
    for name, a in pairs(n.aggs) do aggs[#aggs + 1] = name .. "=" .. a.agg .. (a.column and ("(" .. a.column .. ")") or "") end
    table.sort(aggs)
    return "Aggregate [" .. table.concat(keys, ", ") .. "] " .. table.concat(aggs, ", ")
  elseif n.op == "parse_json" then
    return "ParseJson " .. n.column
  elseif n.op == "join" then
    return require("streamrun.ops.join").describe(n)
  end
  return (n.op:gsub("^%l", string.upper):gsub("_(%l)", string.upper))
end

-- The plan as indented text, sink first, as Spark's explain() prints it.
function M.describe(q)
  local lines = {}
  local s = q.sink
  lines[1] = string.format("Query %s: sink %s (%s)%s", q.name or ("#" .. q.index), s.format,
                           s.outputMode or "append",
                           s.checkpointLocation and (", checkpoint " .. s.checkpointLocation) or "")
  local function go(n, depth)
    while n do
      lines[#lines + 1] = string.rep("  ", depth) .. "+- " .. describe_node(n) .. "  [" .. n.where .. "]"
      if n.other then go(n.other, depth + 1) end
      n = n.parent
      depth = depth + 1
    end
  end
  go(q.root, 1)
  return table.concat(lines, "\n")
end

-- The plan as data, for `streamrun --check --json` (docs/JOB-API.md, "Checking a job as JSON"):
-- a table core.to_json writes. A list with no entries is left out (to_json cannot tell an
-- empty list from an empty object). engine: the query's settings as exec.lua resolved them
-- (outputMode, trigger, checkpointLocation, batchTimeoutMs, outputColumns); flatten(options,
-- skip): the options as text (options.lua), without the keys in skip.
local function at(where)  -- "job.lua:12" -> "job.lua", 12
  local file, line = tostring(where):match("^(.*):(%d+)$")
  return file or tostring(where), tonumber(line)
end

local function type_text(t)  -- a column list's type: DDL text, or a struct as a list of columns
  if type(t) ~= "table" then return tostring(t) end
  local parts = {}
  for i, f in ipairs(t) do parts[i] = f[1] .. ": " .. type_text(f[2]) end
  return "struct<" .. table.concat(parts, ", ") .. ">"
end

local function columns_of(list)
  if not list or #list == 0 then return nil end
  local out = {}
  for i, c in ipairs(list) do out[i] = { name = c[1], type = type_text(c[2]) } end
  return out
end

function M.document(q, engine, flatten, source_skip, sink_skip)
  local doc = { index = q.index, name = q.name, operators = {}, sources = {} }
  doc.file, doc.line = at(q.where)
  for k, v in pairs(engine) do doc[k] = v end
  local ids = {}
  local function visit(n)  -- inputs first: ids follow the order rows flow in
    if ids[n] then return ids[n] end
    local inputs = {}
    if n.parent then inputs[#inputs + 1] = visit(n.parent) end
    if n.other then inputs[#inputs + 1] = visit(n.other) end
    local op = { id = #doc.operators + 1, op = n.op, description = describe_node(n),
                 inputs = #inputs > 0 and inputs or nil }
    op.file, op.line = at(n.where)
    doc.operators[op.id] = op
    ids[n] = op.id
    if n.op == "source" then
      local src = { operator = op.id, format = n.format, static = n.is_static or nil,
                    inferred = n.inferred or nil, columns = columns_of(n.schema_list),
                    options = flatten(n.options, source_skip), file = op.file, line = op.line }
      if src.columns then src.schema = tostring(require("streamrun.core").schema(n.schema_list)) end
      doc.sources[#doc.sources + 1] = src
    end
    return op.id
  end
  visit(q.root)
  local s = q.sink
  doc.sink = { format = s.format, options = flatten(s, sink_skip), input = ids[q.root] }
  doc.sink.file, doc.sink.line = doc.file, doc.line
  return doc
end

return M
