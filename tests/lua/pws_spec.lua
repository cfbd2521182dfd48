-- process_with_state against real state stores: keys, state, timeouts in processing and event
-- time, restarts.
--
-- helpers.engine runs the compiled query batch by batch with real state stores, committing
-- them and moving the watermark as query.c does.
local h = require "helpers"
local core = require "streamrun.core"

describe("process_with_state", function()
  local sr, exec
  local fx = h.engine_fixture(function(s, e) sr, exec = s, e end)
  local dir = fx.dir

  local function src() return h.stream(sr, "in") end
  local start = fx.start
  local function compile_err(q)
    local ok, err = pcall(exec.compile, q)
    assert.is_false(ok)
    return err
  end

  it("calls fn once per key with its rows in batch order, and keeps state across batches and restarts", function()
    local calls = {}
    local e = start(src():group_by("user"):process_with_state{ fn = function(key, rows, state)
      calls[#calls + 1] = key
      local n = (state:get() or 0) + #rows
      state:update(n)
      return { { user = key, count = n, first = rows[1].v } }
    end }:write_stream{ format = "console", outputMode = "update" })
    local out = e.run{ { user = "a", v = 1 }, { user = "b", v = 2 }, { user = "a", v = 3 } }
    assert.same({ { user = "a", count = 2, first = 1 }, { user = "b", count = 1, first = 2 } }, out)
    assert.same({ "a", "b" }, calls)
    assert.same({ { user = "a", count = 3, first = 4 } }, (e.run{ { user = "a", v = 4 } }))
    e.restart()
    assert.same({ { user = "b", count = 3, first = 5 } }, (e.run{ { user = "b", v = 5 }, { user = "b", v = 6 } }))
    assert.equals(2, e.keys())
  end)

  it("gives several keys as a table: columns by name, functions by position", function()
    local seen = {}
    local e = start(src():group_by("a", function(r) return r.x % 2 end):process_with_state{
      fn = function(key, rows) seen[#seen + 1] = key; return { { n = #rows } } end }
      :write_stream{ format = "console", outputMode = "update" })
    local out = e.run{ { a = "p", x = 1 }, { a = "p", x = 3 }, { a = "p", x = 2 } }
    assert.same({ { n = 2 }, { n = 1 } }, out)
    assert.same({ { a = "p", [2] = 1 }, { a = "p", [2] = 0 } }, seen)
  end)

  it("removes state, and writes only what changed", function()
    local e = start(src():group_by("k"):process_with_state{ fn = function(key, rows, state)
      local out = { { k = key, existed = state:exists() } }
      if rows[1].op == "set" then state:update({ v = rows[1].v })
      elseif rows[1].op == "del" then state:remove() end
      return out
    end }:write_stream{ format = "console" })
    e.run{ { k = 1, op = "set", v = "x" }, { k = 2, op = "set", v = false } }
    assert.equals(2, e.keys())
    local out = e.run{ { k = 1, op = "del" }, { k = 2, op = "read" }, { k = 3, op = "read" } }
    assert.same({ { k = 1, existed = true }, { k = 2, existed = true }, { k = 3, existed = false } }, out)
    assert.equals(1, e.keys())
    local _, vals = core.scan(e.stores[1])
    assert.same({ { s = { v = false } } }, vals)
  end)

  it("fires processing-time timeouts once the batch time passes them, also after a restart", function()
    local e = start(src():group_by("user"):process_with_state{ timeout = "processing_time",
      fn = function(key, rows, state)
        if state:has_timed_out() then
          assert(#rows == 0)
          local n = state:get()
          state:remove()
          return { { user = key, expired = n, at = state:get_current_processing_time_ms() } }
        end
        state:update((state:get() or 0) + #rows)
        if rows[1].keep ~= false then state:set_timeout_duration("10 seconds") end
        return nil
      end }:write_stream{ format = "console", outputMode = "update" })
    assert.same({}, (e.run({ { user = "a" }, { user = "a" } }, 1000))) -- a times out after 11000
    assert.same({}, (e.run({ { user = "b" } }, 11000)))                -- not yet (Spark: strictly after)
    assert.same({ { user = "a", expired = 2, at = 11001 } }, (e.run({}, 11001)))
    assert.equals(1, e.keys())
    e.restart()
    assert.same({ { user = "b", expired = 1, at = 40000 } }, (e.run({}, 40000)))
    assert.equals(0, e.keys())
    -- rows in the batch where the timeout would fire: fn gets the rows, not a timeout; a call
    -- that does not set the timeout again clears it
    e.run({ { user = "c" } }, 50000)
    assert.same({}, (e.run({ { user = "c", keep = false } }, 70000)))
    assert.same({}, (e.run({}, 90000)))
    assert.equals(1, e.keys())
  end)

  it("fires event-time timeouts once the watermark passes them, and drops late rows", function()
    local e = start(src():with_watermark("t", "5 seconds"):group_by("user"):process_with_state{
      timeout = "EventTimeTimeout",
      fn = function(key, rows, state)
        if state:has_timed_out() then
          local s = state:get()
          state:remove()
          return { { user = key, n = s.n, last = s.last, wm = state:get_current_watermark_ms() } }
        end
        local s = state:get() or { n = 0, last = 0 }
        for _, r in ipairs(rows) do
          s.n = s.n + 1
          if r.t > s.last then s.last = r.t end
        end
        state:update(s)
        state:set_timeout_timestamp(s.last, "10 seconds")
        return {}
      end }:write_stream{ format = "console", outputMode = "update" })
    e.run{ { user = "a", t = 1000 }, { user = "a", t = 2000 } } -- a times out after 12000
    e.run{ { user = "b", t = 20000 } }                            -- watermark -> 15000
    assert.equals(15000, e.wm)
    local out, m = e.run{ { user = "a", t = 9000 } }              -- late: dropped; a fires
    assert.same({ { user = "a", n = 2, last = 2000, wm = 15000 } }, out)
    assert.equals(1, m.numRowsDroppedByWatermark)
    e.restart()
    e.run{ { user = "c", t = 40000 } }                            -- watermark -> 35000
    out = e.run{}
    assert.same({ { user = "b", n = 1, last = 20000, wm = 35000 } }, out)
    assert.equals(1, e.keys())
  end)

  it("keeps a timeout set after remove, without state", function()
    local e = start(src():group_by("k"):process_with_state{ timeout = "ProcessingTimeTimeout",
      fn = function(key, rows, state)
        if state:has_timed_out() then return { { k = key, exists = state:exists() } } end
        state:remove()
        state:setTimeoutDuration(1000)
      end }:write_stream{ format = "console", outputMode = "update" })
    e.run({ { k = 1 } }, 0)
    assert.equals(1, e.keys())
    assert.same({ { k = 1, exists = false } }, (e.run({}, 5000)))
    assert.equals(0, e.keys())
  end)

  it("refuses a state value with a function, naming the key and the job line", function()
    local e = start(src():group_by("k"):process_with_state{ fn = function(_, _, state)
      state:update({ n = 1, cb = { print } })
    end }:write_stream{ format = "console", outputMode = "update" })
    local ok, err = pcall(e.run, { { k = "x1" } })
    assert.is_false(ok)
    assert.matches('pws_spec.lua:%d+: process_with_state %(defined at [^)]+%): state for key "x1": '
      .. "state value %.cb%[1%]: a function cannot be stored", err.message)
    assert.matches('key: "x1"', err.message, 1, true)
  end)

  it("refuses misuse of the state with Spark's reasons", function()
    local function fails(fn, timeout, pattern)
      sr, exec = h.fresh()
      local s = src()
      if timeout == "event_time" then s = s:with_watermark("t", "1 second") end
      local e = h.engine(exec.compile(s:group_by("k"):process_with_state{ timeout = timeout, fn = fn }
        :write_stream{ format = "console", outputMode = "update" }), dir)
      local ok, err = pcall(e.run, { { k = 1, t = 5000 } }, 100)
      e.close()
      assert.is_false(ok)
      assert.matches(pattern, err.message)
    end
    fails(function(_, _, st) st:set_timeout_duration(10) end, nil, "set_timeout_duration needs .*processing_time")
    fails(function(_, _, st) st:set_timeout_timestamp(10) end, "processing_time", "set_timeout_timestamp needs .*event_time")
    fails(function(_, _, st) st:set_timeout_duration(0) end, "processing_time", "must be positive")
    fails(function(_, _, st) st:update(nil) end, nil, "nil is not a valid state value")
    fails(function(_, _, st) st:get_current_watermark_ms() end, nil, "needs a watermark")
    fails(function() return { k = 1 } end, nil, "fn must return a list of rows")
    fails(function() error("boom") end, nil, "^[^\n]*pws_spec.lua:%d+: boom\n.* in process_with_state %(defined at")
    -- the watermark is 4000 in the second batch: an earlier timeout is refused
    sr, exec = h.fresh()
    local e = h.engine(exec.compile(src():with_watermark("t", "1 second"):group_by("k"):process_with_state{
      timeout = "event_time", fn = function(_, rows, st) st:set_timeout_timestamp(rows[1].t - 2000) end }
      :write_stream{ format = "console", outputMode = "update" }), dir)
    e.run{ { k = 1, t = 5000 } }
    local ok, err = pcall(e.run, { { k = 1, t = 5500 } })
    e.close()
    assert.is_false(ok)
    assert.matches("timeout timestamp %(3500%) cannot be earlier than the current watermark %(4000%)", err.message)
  end)

  it("checks the plan: timeout names, watermark for event time, output mode", function()
    local grouped = function() return src():group_by("k") end
    local fn = function() end
    assert.matches("pws_spec.lua:%d+: process_with_state: timeout must be none, processing_time or event_time",
      compile_err(grouped():process_with_state{ fn = fn, timeout = "sometimes" }:write_stream{ format = "console" }))
    assert.matches("event_time timeout needs a watermark",
      compile_err(grouped():process_with_state{ fn = fn, timeout = "event_time" }:write_stream{ format = "console" }))
    assert.matches("complete output mode",
      compile_err(grouped():process_with_state{ fn = fn }:write_stream{ format = "console", outputMode = "complete" }))
    assert.matches("pws_spec.lua:%d+: process_with_state: key 1 is an sr.window, which only aggregations take",
      compile_err(src():group_by(sr.window("t", "1 minute")):process_with_state{ fn = fn }:write_stream{ format = "console" }))
    local pws = require "streamrun.ops.process_with_state"
    assert.equals("none", pws.timeout_kind("NoTimeout"))
    assert.equals("processing_time", pws.timeout_kind("GroupStateTimeout.ProcessingTimeTimeout"))
    assert.equals("event_time", pws.timeout_kind("event_time"))
    assert.equals("none", pws.timeout_kind(nil))
  end)
end)
