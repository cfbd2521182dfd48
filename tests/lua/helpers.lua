-- Shared by the specs: a fresh streamrun module (its query list is module state) per test.
local M = {}

function M.fresh()
  for _, name in ipairs { "streamrun", "streamrun.plan", "streamrun.exec", "streamrun.analyzer" } do
    package.loaded[name] = nil
  end
  for name in pairs(package.loaded) do
    if name:match("^streamrun%.ops%.") then package.loaded[name] = nil end
  end
  return require "streamrun", require "streamrun.exec"
end

-- What the engine specs set up around each test, inside their describe block: a fresh streamrun
-- module before each test (handed to on_fresh(sr, exec)), a scratch folder for the stores
-- (fx.dir, removed at the end), fx.start(q) compiling q and running it there with
-- make_engine (M.engine unless given), and the engine closed after each test (fx.close()).
function M.engine_fixture(on_fresh, make_engine)
  local spec = getfenv(2) -- busted's describe/it/... live in the spec file's environment
  local base = os.tmpname()
  local fx, exec, eng = { dir = base .. ".d" }, nil, nil
  function fx.close()
    if eng then eng.close() end
    eng = nil
  end
  function fx.start(q)
    eng = (make_engine or M.engine)(exec.compile(q), fx.dir)
    return eng
  end
  spec.teardown(function()
    os.execute("rm -rf '" .. fx.dir .. "'")
    os.remove(base)
  end)
  spec.before_each(function()
    local sr
    sr, exec = M.fresh()
    on_fresh(sr, exec)
  end)
  spec.after_each(fx.close)
  return fx
end

-- A stream of rows whose columns the plan does not know, as after a map: the specs feed it
-- rows of any shape. (A json source without a schema infers one from the files at `path`, and
-- refuses a path with none.)
function M.stream(sr, path)
  return sr.read_stream{ format = "json", path = path or "in", schema = "value string" }
    :map(function(r) return r end)
end

-- Runs a compiled query's batch function over in-memory inputs (one list of rows per source).
function M.run(desc, inputs, ctx)
  local wrapped = {}
  for i, rows in ipairs(inputs) do wrapped[i] = { rows = rows, n = #rows } end
  local out, n = desc.run(wrapped, ctx or { batch_id = 0 })
  local res = {}
  for i = 1, n do res[i] = out[i] end
  return res
end

-- Runs a compiled query batch by batch as query.c does: one real state store per stateful
-- operator (opened at the batch's version, committed after it), the watermark moved after each
-- batch (max event time minus delay, min over the watermarks, never back).
--   local e = M.engine(desc, dir); local out, metrics = e.run(rows [, batch_ts_ms])
--   e.keys([i]) -> entries in store i; e.restart() reopens the stores at the current batch
function M.engine(desc, dir)
  local core = require "streamrun.core"
  os.execute("rm -rf '" .. dir .. "' && mkdir -p '" .. dir .. "'")
  local e = { batch = 0, max_event = {}, stores = {} }
  local function open()
    for i = 1, #desc.stateful do
      local sub = dir .. "/" .. i
      os.execute("mkdir -p '" .. sub .. "'")
      e.stores[i] = core.state_open(sub, e.batch)
    end
  end
  open()
  function e.run(rows, batch_ts)
    local ctx = { batch_id = e.batch, watermark_ms = e.wm, batch_ts_ms = batch_ts or 0,
                  stores = e.stores, state_metrics = {} }
    for i = 1, #desc.stateful do ctx.state_metrics[i] = {} end
    local out = M.run(desc, { rows }, ctx)
    for i = 1, #desc.stateful do core.state_commit(e.stores[i]) end
    local wm
    for i, w in ipairs(desc.watermarks) do
      local et = ctx.event_time[i]
      if et.count > 0 then e.max_event[i] = math.max(e.max_event[i] or -math.huge, et.max) end
      if e.max_event[i] then
        local x = e.max_event[i] - w.delay_ms
        if wm == nil or x < wm then wm = x end
      end
    end
    if wm and (e.wm == nil or wm > e.wm) then e.wm = wm end
    e.batch = e.batch + 1
    return out, ctx.state_metrics[1]
  end
  function e.keys(i)
    local _, _, n = core.scan(e.stores[i or 1])
    return n
  end
  function e.close()
    for _, st in ipairs(e.stores) do core.state_close(st) end
    e.stores = {}
  end
  function e.restart()
    e.close()
    open()
  end
  return e
end

return M
