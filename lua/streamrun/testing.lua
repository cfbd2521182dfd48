-- streamrun.testing: run a job in a busted spec, batch by batch, on rows given in the spec.
--
--   local testing = require "streamrun.testing"
--   local job = testing.load("windows.lua", { args = { "in", "out" } })
--   job:add{ bids = { { auction = 1, price = 10, dateTime = "2026-01-01T00:00:01Z" } } }
--   testing.assert_rows(job:output("windows"), { ... })
--
-- The job file runs unchanged in the engine (runtime/test_driver.c says what is real and what
-- is replaced); only `streamrun test` has this module (it needs the engine's driver).
local driver = require "streamrun.test_driver"
local core = require "streamrun.core"

local testing = {}

-- Rows compared and shown as JSON text with sorted keys: timestamps as ISO-8601 text, longs
-- exact, 2 and 2.0 alike (what a sink writes).
local function canonical(row) return core.to_json(row) end

local function ms_of(d)
  if type(d) == "number" then return d end
  local ms = core.duration(d)
  if not ms then error("not a duration: " .. tostring(d), 3) end
  return ms
end

-- A check that does not hold is a failure of the test (busted's fail, as luassert's asserts
-- raise), not an error, when busted runs the spec. level as error's.
local function fail(msg, level)
  local ok, busted = pcall(require, "busted")
  if ok and type(busted) == "table" and busted.fail then busted.fail(msg, level + 1) end
  error(msg, level + 1)
end

-- Rows ------------------------------------------------------------------------------------

-- The rows of `actual` missing from `expected` and those extra, as multisets of canonical
-- text (order-insensitive), each list in the order the rows came.
local function multiset_diff(actual, expected)
  local count = {}
  for _, r in ipairs(expected) do local k = canonical(r); count[k] = (count[k] or 0) + 1 end
  local extra = {}
  for _, r in ipairs(actual) do
    local k = canonical(r)
    if (count[k] or 0) > 0 then count[k] = count[k] - 1 else extra[#extra + 1] = k end
  end
  local missing = {}
  for _, r in ipairs(expected) do
    local k = canonical(r)
    if (count[k] or 0) > 0 then count[k] = count[k] - 1; missing[#missing + 1] = k end
  end
  return missing, extra
end

local function listing(title, rows)
  if #rows == 0 then return "" end
  return ("\n  %s (%d):\n    %s"):format(title, #rows, table.concat(rows, "\n    "))
end

-- Why two lists of rows differ, in words, or nil when they are equal. opts.ordered compares
-- position by position; otherwise as multisets.
function testing.diff_rows(actual, expected, opts)
  opts = opts or {}
  if opts.ordered then
    for i = 1, math.max(#actual, #expected) do
      local a = actual[i] and canonical(actual[i]) or "(no row)"
      local e = expected[i] and canonical(expected[i]) or "(no row)"
      if a ~= e then
        return ("row %d differs (in order):\n  expected %s\n  got      %s"):format(i, e, a)
      end
    end
    return nil
  end
  local missing, extra = multiset_diff(actual, expected)
  if #missing == 0 and #extra == 0 then return nil end
  return "the rows differ (compared as a multiset)"
    .. listing("missing: expected, not in the output", missing)
    .. listing("extra: in the output, not expected", extra)
end

-- Raises a readable error when the rows differ: opts.label says whose rows (query, batch).
function testing.assert_rows(actual, expected, opts)
  local why = testing.diff_rows(actual, expected, opts)
  if why then
    fail((opts and opts.label and opts.label .. ": " or "") .. why, 2)
  end
end

-- A running job ---------------------------------------------------------------------------

local Job = {}
Job.__index = Job

local function index_queries(job)
  job._queries, job._by_name = job._d:queries(), {}
  for i, q in ipairs(job._queries) do
    job._by_name[q.name] = i
    job._batches[q.name] = job._batches[q.name] or {}
  end
end

-- Loads the job file. opts: args (the job's `arg`), checkpoint (a folder for the queries'
-- checkpoints, kept; default a new temporary one, removed by close).
function testing.load(path, opts)
  opts = opts or {}
  local job = setmetatable({ path = path, _batches = {}, _fed = {}, _idle = {} }, Job)
  job._d = driver.open(path, { args = opts.args, checkpoint = opts.checkpoint })
  index_queries(job)
  return job
end

-- The query's number: by name, or the only query when the name is left out.
function Job:_query(name)
  if name == nil then
    if #self._queries == 1 then return 1, self._queries[1].name end
    error("the job has several queries: name one", 3)
  end
  local i = self._by_name[name]
  if not i then
    local names = {}
    for _, q in ipairs(self._queries) do names[#names + 1] = q.name end
    error(("no query named %s (queries: %s)"):format(tostring(name), table.concat(names, ", ")), 3)
  end
  return i, name
end

local Input = {}
Input.__index = Input

-- Queues rows as the input's next offset (one add is read by one batch, with whatever else
-- was added before that batch runs). Runs nothing.
function Input:add(rows)
  for _, i in ipairs(self._indexes) do
    self._job._d:add(i, rows)
    self._job._fed[self._job._inputs[i].query] = true
  end
  return self
end

-- An input: by the source's `name` option (every query reading that read_stream gets the
-- rows), by the name of a query with one source, or by a query's name and the source's
-- position in it (from 1, in the order the plan reads them).
function Job:input(name, position)
  local all = self._d:inputs()
  self._inputs = all
  local found, sources = {}, {}
  for _, inp in ipairs(all) do sources[inp.query] = (sources[inp.query] or 0) + 1 end
  for i, inp in ipairs(all) do
    if (position == nil and inp.name == name) or
       (inp.query == name and (position == inp.position or (position == nil and sources[name] == 1))) then
      found[#found + 1] = i
    end
  end
  if #found > 0 then return setmetatable({ _job = self, _indexes = found, name = name }, Input) end
  local known = {}
  for _, inp in ipairs(all) do
    known[#known + 1] = (inp.name and inp.name .. " = " or "") .. inp.query .. " source " .. inp.position
  end
  error(("no input %s%s (inputs: %s)"):format(tostring(name), position and " " .. position or "",
    table.concat(known, ", ")), 2)
end

-- What one batch did: its id, output rows, progress record and the watermark it ran with.
function Job:_record(i)
  local q = self._queries[i]
  local id = self._d:next_batch(i) - 1
  local p = self._d:progress(i)
  local b = { query = q.name, id = id, rows = self._d:output(i, id) or {}, progress = p,
              watermark = p and p.eventTime and p.eventTime.watermark }
  local list = self._batches[q.name]
  list[#list + 1] = b
  return b
end

-- Runs every query until it has nothing left: new offsets, a no-data batch a moved watermark
-- owes, and one batch for the clock (processing-time timeouts) at a clock it has not run at.
-- Returns the batches run, in order.
function Job:process_all_available()
  local ran = {}
  local clock = self._d:clock()
  for i, q in ipairs(self._queries) do
    if self._fed[q.name] or self._idle[q.name] ~= clock then
      for _ = 1, 100000 do
        local wm = self._d:watermark(i)
        if self._d:step(i) ~= "ran" then break end
        local b = self:_record(i)
        ran[#ran + 1] = b
        if b.progress.numInputRows == 0 and self._d:watermark(i) == wm then
          self._idle[q.name] = clock
          break
        end
      end
    end
    self._fed[q.name] = nil
  end
  return ran
end
Job.process = Job.process_all_available

-- Adds rows to several inputs ({[input name] = rows}) and runs what they make: one batch per
-- query that reads them. Returns the batches run.
function Job:add(rows_by_input)
  local names = {}
  for name in pairs(rows_by_input) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do self:input(name):add(rows_by_input[name]) end
  return self:process_all_available()
end

-- Every batch the query ran in this test, in order ({id, rows, progress, watermark}).
function Job:batches(query)
  local _, name = self:_query(query)
  return self._batches[name]
end

function Job:last_batch(query)
  local list = self:batches(query)
  return list[#list]
end

-- The sink's content, as Spark's memory sink keeps it: every batch's rows (append, update),
-- or the last batch's (complete). Read back from the captured files, so it spans restarts.
function Job:output(query)
  local i = self:_query(query)
  local q, rows = self._queries[i], {}
  local last = self._d:next_batch(i) - 1
  if q.output_mode == "complete" then return last >= 0 and self._d:output(i, last) or {} end
  for id = 0, last do
    for _, r in ipairs(self._d:output(i, id) or {}) do rows[#rows + 1] = r end
  end
  return rows
end

-- The watermark the query's next batch runs with (ms), or nil without with_watermark.
function Job:watermark(query) return self._d:watermark((self:_query(query))) end
function Job:progress(query) return self._d:progress((self:_query(query))) end
function Job:next_batch(query) return self._d:next_batch((self:_query(query))) end

-- Processing time: the clock starts at 0 (ms); batches take it as their time.
function Job:clock() return self._d:clock() end
function Job:set_clock(ms) self._d:set_clock(ms_of(ms)); return self end
function Job:advance(d) self._d:set_clock(self._d:clock() + ms_of(d)); return self end

-- A stateful operator's state ({key, value} entries, in key order) after a batch (default
-- the last committed). operator: its number in the query, from 0 (as progress lists them).
function Job:state(query, operator, batch)
  return self._d:state((self:_query(query)), operator or 0, batch)
end

-- Stops every query and starts them again from their checkpoints with the job file as it is
-- now (path: another version of it), in a new lua_State: state and offsets carry on.
function Job:restart(path)
  if path then self.path = path end
  self._d:restart(path)
  self._fed, self._idle = {}, {}
  index_queries(self)
  return self
end
-- A reload of a changed job file between two batches: the queries go on from their
-- checkpoints with the new functions; a change the checkpoint cannot carry is refused.
Job.reload = Job.restart

function Job:close() self._d:close() end

-- Output checks with the query and batch in the message.
function Job:assert_output(query, expected, opts)
  local _, name = self:_query(query)
  opts = opts or {}
  local why = testing.diff_rows(self:output(name), expected, opts)
  if why then
    fail(("query %s, sink content after batch %d: %s"):format(name, self:next_batch(name) - 1, why), 2)
  end
end

function Job:assert_batch(query, expected, opts)
  local b = self:last_batch(query)
  if not b then error("query " .. tostring(query) .. " has run no batch", 2) end
  local why = testing.diff_rows(b.rows, expected, opts)
  if why then fail(("query %s, batch %d: %s"):format(b.query, b.id, why), 2) end
end

-- Crash simulation ------------------------------------------------------------------------

-- A step of a script: {[input name] = rows, advance = duration} or function(job).
local function apply(job, step)
  if type(step) == "function" then return step(job) end
  local names = {}
  for name in pairs(step) do if name ~= "advance" then names[#names + 1] = name end end
  table.sort(names)
  for _, name in ipairs(names) do job:input(name):add(step[name]) end
  if step.advance then job:advance(step.advance) end
end

local function run_steps(job, steps, marker)
  for k, step in ipairs(steps) do
    if marker then
      local f = assert(io.open(marker, "w"))
      f:write(k)
      f:close()
    end
    apply(job, step)
    job:process_all_available()
  end
end

-- What a run ends with: each query's sink content and every stateful operator's state.
local function outcome(job)
  local out = {}
  for _, q in ipairs(job._queries) do
    local states = {}
    for op = 1, #q.stateful do
      states[op] = job._d:next_batch(job._by_name[q.name]) > 0 and job:state(q.name, op - 1) or {}
    end
    out[q.name] = { rows = job:output(q.name), states = states, stateful = q.stateful }
  end
  return out
end

local function compare(got, want, where)
  for name, w in pairs(want) do
    local g = got[name]
    local why = testing.diff_rows(g.rows, w.rows)
    if why then
      error(("%s: query %s's output differs from the run without a crash: %s"):format(where, name, why), 0)
    end
    for op, entries in ipairs(w.states) do
      why = testing.diff_rows(g.states[op], entries)
      if why then
        error(("%s: query %s's state of operator %d (%s) differs from the run without a crash: %s")
          :format(where, name, op - 1, w.stateful[op], why), 0)
      end
    end
  end
end

-- Proves a job exactly-once on a script of steps: runs it once without a crash, then once for
-- every kill point of every batch that run had (a forked process runs the script and is killed
-- by SIGKILL at the point, as a crash would), restarts from the checkpoint it left, finishes
-- the script and checks that every query's output and state equal the run without a crash.
-- opts: args, steps. Returns {crashes = runs that crashed and recovered, batches = ...}.
function testing.prove_exactly_once(path, opts)
  local steps = assert(opts.steps, "prove_exactly_once: opts.steps is a list of steps")
  local ref = testing.load(path, { args = opts.args })
  run_steps(ref, steps)
  local want, last = outcome(ref), -1
  for name in pairs(ref._by_name) do last = math.max(last, ref:next_batch(name) - 1) end
  ref:close()
  local crashes = 0
  for batch = 0, last do
    for _, point in ipairs(driver.crash_points()) do
      local root = driver.tmpdir()
      local marker = root .. "/.step"
      local pid = driver.fork()
      if pid == 0 then
        local ok, err = pcall(function()
          driver.crash_at(point, batch)
          run_steps(testing.load(path, { args = opts.args, checkpoint = root }), steps, marker)
        end)
        if not ok then io.stderr:write(tostring(err), "\n") end
        driver.exit(ok and 0 or 3)
      end
      local how, code = driver.wait(pid)
      local where = ("killed at %s of batch %d"):format(point, batch)
      if how == "exited" and code ~= 0 then
        os.execute("rm -rf '" .. root .. "'")
        error(("the run to be %s failed first (exit %d)"):format(where, code), 2)
      end
      if how == "killed" then
        local f = assert(io.open(marker))
        local k = tonumber(f:read("*a"))
        f:close()
        local job = testing.load(path, { args = opts.args, checkpoint = root })
        for s = 1, k do apply(job, steps[s]) end
        job:process_all_available()
        for s = k + 1, #steps do apply(job, steps[s]); job:process_all_available() end
        local ok, err = pcall(compare, outcome(job), want, where .. " (in step " .. k .. ")")
        job:close()
        os.execute("rm -rf '" .. root .. "'")
        if not ok then fail(err, 2) end
        crashes = crashes + 1
      else
        os.execute("rm -rf '" .. root .. "'")
      end
    end
  end
  return { crashes = crashes, batches = last + 1 }
end

return testing
