-- Streaming aggregation (streamrun.ops.aggregate) against real state stores (helpers.engine):
-- window assignment checked against Spark's formula, every aggregate, the output modes, late
-- rows, session windows merging across batches, restarts, and the plans Spark refuses.
local h = require "helpers"
local core = require "streamrun.core"

-- Counts the store calls of a batch: the operator must cross into C a bounded number of times.
local calls = 0
local counted = {}
for _, name in ipairs { "get_many", "put_many", "scan" } do
  counted[name] = function(...)
    calls = calls + 1
    return counted["real_" .. name](...)
  end
end

-- helpers.engine, plus the store calls of the last batch and the store's entries split into
-- groups (array keys) and eviction index entries (the others).
local function engine(desc, dir)
  local e = h.engine(desc, dir)
  local run = e.run
  function e.run(rows)
    calls = 0
    local out, metrics = run(rows or {})
    e.calls = calls
    return out, metrics
  end
  function e.entries()
    local ks, _, n = counted.real_scan(e.stores[1])
    local groups = 0
    for i = 1, n do if ks[i].dir == nil and ks[i].ix == nil then groups = groups + 1 end end
    return groups, n - groups
  end
  return e
end

-- Output rows as sorted text lines, for order-free comparison.
local function lines(rows, cols)
  local out = {}
  for i, r in ipairs(rows) do
    local parts = {}
    for j, c in ipairs(cols) do
      local v = r[c]
      if c == "window" then v = v and (v.start .. "-" .. v["end"]) end
      if type(v) == "table" then v = core.to_json(v) end
      parts[j] = tostring(v)
    end
    out[i] = table.concat(parts, " ")
  end
  table.sort(out)
  return out
end

-- Spark's window assignment written as Spark writes it (TimeWindowResolution.getWindow):
-- Java's remainder (truncated), corrected when negative; candidates filtered by start <= t < end.
local function spark_windows(t, size, slide, start)
  local out = {}
  for i = 0, math.ceil(size / slide) - 1 do
    local remainder = math.fmod(t - start, slide)
    local last_start = t - (remainder < 0 and remainder + slide or remainder)
    local s = last_start - i * slide
    if s <= t and t < s + size then out[#out + 1] = { s, s + size } end
  end
  return out
end

local W = require "streamrun.ops.window"
local function exec_signature(key) return require("streamrun.exec").signature({ op = "aggregate", keys = { key } }) end

describe("window assignment", function()
  it("matches Spark's formula: sliding, startTime, before 1970", function()
    local specs = { { 10000, 10000, 0 }, { 10000, 2000, 0 }, { 10000, 3000, 0 }, { 10000, 3000, 1000 },
                    { 720000, 300000, 120000 }, { 7, 7, 3 }, { 60, 1, 0 }, { 86400000, 3600000, 0 } }
    local seed = 12345
    local function rnd(m) seed = (seed * 16807) % 2147483647; return seed % m end
    for _, s in ipairs(specs) do
      local size, slide, start = s[1], s[2], s[3]
      for k = 1, 400 do
        local t = rnd(2000000) - 1000000 -- ms around the epoch, half before 1970
        if k % 4 == 0 then t = 1795428000000 + rnd(100000) end
        if k % 7 == 0 then t = -62135596800000 + rnd(10000) end -- year 1
        local want = spark_windows(t, size, slide, start)
        local got = W.assign(t, size, slide, start)
        assert.same(want, got, ("t=%d size=%d slide=%d start=%d"):format(t, size, slide, start))
      end
    end
  end)

  it("gives Spark's documented examples", function()
    local m = 60000
    local t = 12 * 60 * m + 5 * m -- 12:05
    assert.same({ { t, t + 12 * m }, { t - 5 * m, t + 7 * m }, { t - 10 * m, t + 2 * m } },
                W.assign(t, 12 * m, 5 * m, 0))
    assert.same({ { t - 3 * m, t + 9 * m }, { t - 8 * m, t + 4 * m } }, W.assign(t, 12 * m, 5 * m, 2 * m))
    -- half-open [start, end): an end belongs to the next window; before 1970 floors down
    assert.same({ { 10000, 20000 } }, W.assign(10000, 10000, 10000, 0))
    assert.same({ { 0, 10000 } }, W.assign(9999, 10000, 10000, 0))
    assert.same({ { -10000, 0 } }, W.assign(-1, 10000, 10000, 0))
    assert.same({ { -10000, 0 } }, W.assign(-10000, 10000, 10000, 0))
    assert.same({ { -20000, -10000 } }, W.assign(-10001, 10000, 10000, 0))
  end)
end)

-- SPARK-21590: a window's startTime may be negative. Expectations from Spark's
-- DataFrameTimeWindowingSuite, refusals from AnalysisErrorSuite (TimeWindow's checks).
describe("window startTime below zero", function()
  local sr = require "streamrun"
  local function windows_of(key, text)
    local out = {}
    for _, w in ipairs(W.assign(core.parse_timestamp(text), key.size_ms, key.slide_ms, key.start_ms)) do
      out[#out + 1] = core.format_timestamp(w[1]) .. " " .. core.format_timestamp(w[2])
    end
    return out
  end

  it("assigns Spark's windows (DataFrameTimeWindowingSuite, SPARK-21590 cases)", function()
    -- "tumbling window using negative start time": both rows in one window
    local k = sr.window("time", "10 seconds", "10 seconds", "-5 seconds")
    for _, t in ipairs { "2016-03-27 19:39:30", "2016-03-27 19:39:25" } do
      assert.same({ "2016-03-27T19:39:25.000Z 2016-03-27T19:39:35.000Z" }, windows_of(k, t))
    end
    -- "time window in SQL with three expressions including negative start time"
    assert.same({ "2016-03-27T19:39:25.000Z 2016-03-27T19:39:35.000Z" }, windows_of(k, "2016-03-27 19:39:34"))
    assert.same({ "2016-03-27T19:39:25.000Z 2016-03-27T19:39:35.000Z" }, windows_of(k, "2016-03-27 19:39:27"))
    assert.same({ "2016-03-27T19:39:55.000Z 2016-03-27T19:40:05.000Z" }, windows_of(k, "2016-03-27 19:39:56"))
    -- the same windows as startTime "5 seconds" (the suite's three-expression cases agree)
    local k5 = sr.window("time", "10 seconds", "10 seconds", "5 seconds")
    assert.same(windows_of(k5, "2016-03-27 19:39:56"), windows_of(k, "2016-03-27 19:39:56"))
    assert.same(exec_signature(k5), exec_signature(k))
  end)

  it("sliding windows with a negative startTime follow Spark's formula", function()
    -- the suite's "No need to filter windows..." window(9 s, 3 s, -2 s), and 10 s / 5 s / -2 s
    for _, s in ipairs { { "9 seconds", "3 seconds", "-2 seconds" }, { "10 seconds", "5 seconds", "-2 seconds" },
                         { "10 seconds", "3 seconds", "-2999 milliseconds" } } do
      local k = sr.window("t", s[1], s[2], s[3])
      local start = core.duration(s[3], true)
      assert.is_true(start < 0)
      for t = -20000, 20000, 250 do
        assert.same(spark_windows(t, k.size_ms, k.slide_ms, start), W.assign(t, k.size_ms, k.slide_ms, k.start_ms),
                    ("t=%d %s/%s/%s"):format(t, s[1], s[2], s[3]))
      end
    end
  end)

  it("refuses |startTime| >= slide with Spark's message (AnalysisErrorSuite)", function()
    for _, s in ipairs { { "1 second", "1 second", "1 minute" }, { "1 second", "1 second", "1 second" },
                         { "1 second", "1 second", "-1 minute" }, { "1 second", "1 second", "-1 second" },
                         { "10 seconds", "5 seconds", "-5 seconds" } } do
      local ok, err = pcall(sr.window, "t", s[1], s[2], s[3])
      assert.is_false(ok)
      assert.matches("The absolute value of start time (" .. s[3] .. ") must be less than the slideDuration ("
                     .. s[2] .. ").", err, 1, true)
    end
  end)

  it("refuses bad window and slide durations with Spark's messages", function()
    local function refused(size, slide, want)
      local ok, err = pcall(sr.window, "t", size, slide, "0 second")
      assert.is_false(ok)
      assert.matches(want, err, 1, true)
    end
    refused("-1 second", "1 second", "The window duration (-1 second) must be greater than 0.")
    refused("0 second", "1 second", "The window duration (0 second) must be greater than 0.")
    refused("1 second", "-1 second", "The slide duration (-1 second) must be greater than 0.")
    refused("1 second", "0 second", "The slide duration (0 second) must be greater than 0.")
    refused("1 second", "2 second", "The slide duration (2 second) must be less than or equal to the "
      .. "windowDuration (1 second).")
  end)
end)

describe("streaming aggregation", function()
  local sr, exec
  local fx = h.engine_fixture(function(s, e) sr, exec = s, e end, engine)
  local start = fx.start
  setup(function()
    for _, name in ipairs { "get_many", "put_many", "scan" } do
      counted["real_" .. name], core[name] = core[name], counted[name]
    end
  end)
  teardown(function()
    for _, name in ipairs { "get_many", "put_many", "scan" } do core[name] = counted["real_" .. name] end
  end)

  local function src() return h.stream(sr, "in") end
  local S = 1000

  it("assigns sliding windows in the batch loop as Spark does, before 1970 too", function()
    local q = src():group_by(sr.window("t", "10 seconds", "3 seconds", "1 second")):count()
      :write_stream{ format = "console", outputMode = "complete" }
    local e = start(q)
    local rows, want = {}, {}
    for i = 1, 300 do
      local t = (i * 7919) % 60000 - 30000
      rows[i] = { t = t }
      for _, w in ipairs(spark_windows(t, 10000, 3000, 1000)) do
        local k = w[1] .. "-" .. w[2]
        want[k] = (want[k] or 0) + 1
      end
    end
    rows[#rows + 1] = { t = nil, x = 1 } -- a null event time is in no window
    local out = e.run(rows)
    local got = {}
    for _, r in ipairs(out) do got[r.window.start .. "-" .. r.window["end"]] = r.count end
    assert.same(want, got)
  end)

  it("folds sliding windows through panes and per row alike (size a multiple of the slide)", function()
    -- count..count_distinct go through slide-wide panes; first keeps the per-row path
    local function query(with_first)
      local aggs = { n = sr.count(), s = sr.sum("v"), lo = sr.min("v"), hi = sr.max("v"), a = sr.avg("v"),
                     d = sr.count_distinct("v") }
      if with_first then aggs.f = sr.first("v") end
      return src():with_watermark("t", "1 minute"):group_by("k", sr.window("t", "10 seconds", "2 seconds", "1 second"))
        :agg(aggs):write_stream{ format = "console", outputMode = "update" }
    end
    local want = {}
    local batches = {}
    for b = 1, 3 do
      local rows = {}
      for i = 1, 200 do
        local t = ((b * 200 + i) * 7919) % 40000 - 20000
        local r = { t = t, k = i % 3, v = (i * 31) % 17 }
        if i % 10 == 0 then r.v = nil end
        rows[i] = r
        for _, w in ipairs(spark_windows(t, 10000, 2000, 1000)) do
          local id = r.k .. " " .. w[1]
          local g = want[id] or { n = 0, s = nil, lo = nil, hi = nil, vals = {}, cnt = 0, d = {} }
          want[id] = g
          g.n = g.n + 1
          if r.v then
            g.s = (g.s or 0) + r.v
            g.lo = math.min(g.lo or math.huge, r.v)
            g.hi = math.max(g.hi or -math.huge, r.v)
            g.cnt = g.cnt + 1
            g.d[r.v] = true
          end
        end
      end
      batches[b] = rows
    end
    local results = {}
    for _, with_first in ipairs { false, true } do
      local e = start(query(with_first))
      local last = {}
      for b = 1, 3 do
        for _, r in ipairs((e.run(batches[b]))) do last[r.k .. " " .. r.window.start] = r end
      end
      local got = {}
      for id, r in pairs(last) do got[id] = ("%d %s %s %s %s %d"):format(r.n, tostring(r.s), tostring(r.lo),
                                                                          tostring(r.hi), tostring(r.a), r.d) end
      results[#results + 1] = got
      fx.close()
    end
    local expect = {}
    for id, g in pairs(want) do
      local nd = 0
      for _ in pairs(g.d) do nd = nd + 1 end
      expect[id] = ("%d %s %s %s %s %d"):format(g.n, tostring(g.s), tostring(g.lo), tostring(g.hi),
                                                tostring(g.cnt > 0 and g.s / g.cnt or nil), nd)
    end
    assert.same(expect, results[1])
    assert.same(expect, results[2])
  end)

  it("computes every aggregate, with Spark's null handling, merged across batches", function()
    local q = src():group_by("k"):agg{
      n = sr.count(), s = sr.sum("v"), lo = sr.min("v"), hi = sr.max("v"), mean = sr.avg("v"),
      f = sr.first("v"), l = sr.last("v"), d = sr.count_distinct("c"), all = sr.collect_list("v"),
      prod = sr.aggregate{ init = function() return 1 end,
                           add = function(acc, r) return r.v and acc * r.v or acc end,
                           merge = function(a, b) return a * b end,
                           finish = function(acc) return "x" .. acc end },
    }:write_stream{ format = "console", outputMode = "update" }
    local e = start(q)
    local out = e.run{ { k = "a", v = 2, c = "x" }, { k = "a", v = nil, c = "y" }, { k = "a", v = 5, c = "x" },
                       { k = "b", v = nil, c = nil } }
    table.sort(out, function(x, y) return x.k < y.k end)
    assert.same({ k = "a", n = 3, s = 7, lo = 2, hi = 5, mean = 3.5, f = 2, l = 5, d = 2,
                  all = { 2, 5 }, prod = "x10" }, out[1])
    -- a group of only nulls: count counts rows, the others are null (first/last: the null row's)
    assert.same({ k = "b", n = 1, d = 0, all = {}, prod = "x1" }, out[2])
    out = e.run{ { k = "a", v = 1, c = "z" }, { k = "a", v = 7, c = "x" } }
    assert.same({ { k = "a", n = 5, s = 15, lo = 1, hi = 7, mean = 3.75, f = 2, l = 7, d = 3,
                    all = { 2, 5, 1, 7 }, prod = "x70" } }, out)
    assert.equals(2, e.calls) -- one get_many, one put_many
  end)

  it("groups by several keys, functions, nulls, NaN and int64 values", function()
    local q = src():group_by("a", function(r) return r.b % 2 end):count()
      :write_stream{ format = "console", outputMode = "update" }
    local e = start(q)
    local big = 9007199254740993LL -- 2^53 + 1: not exact as a double
    local out = e.run{ { a = 1, b = 1 }, { a = 1, b = 3 }, { a = 1LL, b = 2 }, { b = 1 }, { b = 5 },
                       { a = big, b = 1 }, { a = big, b = 3 }, { a = 0 / 0, b = 1 }, { a = 0 / 0, b = 1 } }
    local got = lines(out, { "a", "key", "count" })
    for i, l in ipairs(got) do got[i] = l:gsub("^%-?nan", "NaN") end
    table.sort(got)
    assert.same({ "1 0 1", "1 1 2", "9007199254740993LL 1 2", "NaN 1 2", "nil 1 2" }, got)
    out = e.run{ { a = 1, b = 7 }, { a = big, b = 9 } }
    assert.same({ "1 1 3", "9007199254740993LL 1 3" }, lines(out, { "a", "key", "count" }))
  end)

  it("append: each window once, when the watermark passes its end; late rows dropped and counted", function()
    local q = src():with_watermark("t", "2 seconds")
      :group_by(sr.window("t", "5 seconds"), "k"):agg{ n = sr.count(), hi = sr.max("v") }
      :write_stream{ format = "console" }
    local e = start(q)
    local out, m = e.run{ { t = 1 * S, k = "a", v = 1 }, { t = 4 * S, k = "a", v = 3 }, { t = 6 * S, k = "b", v = 2 } }
    assert.same({}, out)
    assert.equals(0, m.numRowsDroppedByWatermark)
    -- watermark now 4 s: [0, 5) is still open, so 3 s counts though it is behind the watermark
    out, m = e.run{ { t = 4.5 * S, k = "a", v = 9 }, { t = 3 * S, k = "a", v = 100 }, { t = 12 * S, k = "a", v = 1 } }
    assert.same({}, out)
    assert.equals(0, m.numRowsDroppedByWatermark)
    -- watermark 10 s: [0, 5) and [5, 10) close, with what they had; 9 s's window [5, 10) ends
    -- at the watermark: dropped
    out, m = e.run{ { t = 9 * S, k = "b", v = 50 }, { t = 13 * S, k = "b", v = 5 } }
    assert.equals(1, m.numRowsDroppedByWatermark)
    assert.same({ "0-5000 a 4 100", "5000-10000 b 1 2" }, lines(out, { "window", "k", "n", "hi" }))
    -- nothing is emitted twice; a no-data batch closes [10, 15) once the watermark allows
    out = e.run{ { t = 20 * S, k = "a", v = 0 } }
    assert.same({}, out)
    out = e.run{}
    assert.same({ "10000-15000 a 1 1", "10000-15000 b 1 5" }, lines(out, { "window", "k", "n", "hi" }))
    local groups, index = e.entries()
    assert.same({ 1, 2 }, { groups, index }) -- [20, 25) a, its index chunk and the directory
  end)

  it("drops a late row from each closed sliding window and keeps it in the open ones", function()
    -- size 10 s, slide 4 s (not a multiple: the per-row path) and 10 s / 5 s with first (not
    -- pane-safe: per row) or count (panes): the same rule on each path
    for _, c in ipairs { { "4 seconds", sr.count() }, { "5 seconds", sr.first("v") },
                         { "5 seconds", sr.count() } } do
      local q = src():with_watermark("t", "0 seconds")
        :group_by(sr.window("t", "10 seconds", c[1])):agg{ x = c[2] }
        :write_stream{ format = "console", outputMode = "update" }
      local e = start(q)
      e.run{ { t = 21 * S, v = 1 } }
      -- watermark 21 s. 15 s is in [10, 20) and [15, 25) with slide 5 (one closed) and in
      -- [8, 18) and [12, 22) with slide 4 (one closed); 9 s in closed windows only
      local out, m = e.run{ { t = 15 * S, v = 2 }, { t = 9 * S, v = 3 } }
      if c[1] == "4 seconds" then
        assert.same({ "12000-22000 2" }, lines(out, { "window", "x" }))
        assert.equals(1 + 3, m.numRowsDroppedByWatermark) -- 15 s: [8, 18), 9 s: all three
      else
        assert.same({ "15000-25000 " .. (c[2].agg == "first" and "1" or "2") }, lines(out, { "window", "x" }))
        assert.equals(1 + 2, m.numRowsDroppedByWatermark) -- 15 s: one window, 9 s: both
      end
      fx.close()
    end
  end)

  it("drops a session row by its own session's end, t + gap", function()
    local q = src():with_watermark("t", "0 seconds")
      :group_by("k", sr.session_window("t", "5 seconds")):count()
      :write_stream{ format = "console" }
    local e = start(q)
    e.run{ { k = "z", t = 20 * S } }
    -- watermark 20 s: a@16 ends its session at 21 s (kept); a@15 at exactly 20 s (dropped)
    local _, m = e.run{ { k = "a", t = 16 * S }, { k = "a", t = 15 * S } }
    assert.equals(1, m.numRowsDroppedByWatermark)
    -- watermark still 20 s: a's index bucket [20, 25) is due, a's session not yet; it must stay
    -- listed to be closed later
    e.run{ { k = "z", t = 40 * S } }
    local out = e.run{}
    assert.same({ "16000-21000 a 1", "20000-25000 z 1" }, lines(out, { "window", "k", "count" }))
  end)

  it("update: the rows that changed this batch; state of closed windows evicted, not emitted", function()
    local q = src():with_watermark("t", "1 second")
      :group_by(sr.window("t", "10 seconds", "5 seconds")):count()
      :write_stream{ format = "console", outputMode = "update" }
    local e = start(q)
    local out = e.run{ { t = 7 * S }, { t = 8 * S } }
    assert.same({ "0-10000 2", "5000-15000 2" }, lines(out, { "window", "count" }))
    out = e.run{ { t = 12 * S } }
    assert.same({ "10000-20000 1", "5000-15000 3" }, lines(out, { "window", "count" }))
    out = e.run{ { t = 16 * S } } -- watermark 11 s: [0, 10) evicted silently
    assert.same({ "10000-20000 2", "15000-25000 1" }, lines(out, { "window", "count" }))
    assert.equals(3, (e.entries()))
  end)

  it("complete: the whole result every batch, in a stable order, nothing evicted", function()
    local q = src():with_watermark("t", "1 second")
      :group_by(sr.window("t", "10 seconds"), "k"):agg{ n = sr.count() }
      :write_stream{ format = "console", outputMode = "complete" }
    local e = start(q)
    local out = e.run{ { t = 1 * S, k = "b" }, { t = 2 * S, k = "a" } }
    assert.same({ "0-10000 a 1", "0-10000 b 1" }, lines(out, { "window", "k", "n" }))
    local _, m = e.run{ { t = 50 * S, k = "a" } }
    assert.equals(0, m.numRowsDroppedByWatermark)
    out, m = e.run{ { t = 3 * S, k = "a" } } -- behind the watermark: complete mode keeps it (Spark)
    assert.equals(0, m.numRowsDroppedByWatermark)
    assert.same({ "0-10000 a 2", "0-10000 b 1", "50000-60000 a 1" }, lines(out, { "window", "k", "n" }))
    local again = e.run{}
    assert.same(lines(out, { "window", "k", "n" }), lines(again, { "window", "k", "n" }))
    assert.equals(out[1].k, again[1].k)
  end)

  it("evicts by an event-time column key, a bucket at a time or partly", function()
    local q = src():with_watermark("t", "0 seconds"):group_by("t"):count()
      :write_stream{ format = "console" }
    local e = start(q)
    e.run{ { t = 1100 }, { t = 1100 }, { t = 1500 }, { t = 2900 } }
    local out = e.run{ { t = 3000 } } -- watermark 2900
    assert.same({ "1100 2", "1500 1", "2900 1" }, lines(out, { "t", "count" }))
    out = e.run{ { t = 3001 } }
    assert.same({ "3000 1" }, lines(out, { "t", "count" }))
    out = e.run{}
    assert.same({ "3001 1" }, lines(out, { "t", "count" }))
    assert.same({ 0, 0 }, { e.entries() })
  end)

  it("merges session windows within a batch and across batches, as Spark", function()
    local q = src():with_watermark("t", "10 seconds")
      :group_by("user", sr.session_window("t", "5 seconds"))
      :agg{ n = sr.count(), f = sr.first("v"), l = sr.last("v") }
      :write_stream{ format = "console" }
    local e = start(q)
    local cols = { "window", "user", "n", "f", "l" }
    -- a: [12, 17) and [15, 20) overlap -> [12, 20); b: [20, 25). Watermark after: 10 s
    local out = e.run{ { user = "a", t = 15 * S, v = "second" }, { user = "a", t = 12 * S, v = "first" },
                       { user = "b", t = 20 * S, v = "b1" } }
    assert.same({}, out)
    -- a row starting exactly at a session's end joins it: a@20 -> [12, 25); b@30 opens [30, 35)
    out = e.run{ { user = "a", t = 20 * S, v = "third" }, { user = "b", t = 30 * S, v = "b2" } }
    assert.same({}, out)
    -- watermark 20 s: nothing ends by then; c gets two sessions
    out = e.run{ { user = "c", t = 40 * S, v = "c1" }, { user = "c", t = 50 * S, v = "c3" } }
    assert.same({}, out)
    -- watermark 40 s: a's and b's sessions close (first/last in event-time order); c@45 touches
    -- both of c's sessions: they merge
    out = e.run{ { user = "c", t = 45 * S, v = "c2" } }
    assert.same({ "12000-25000 a 3 first third", "20000-25000 b 1 b1 b1", "30000-35000 b 1 b2 b2" },
                lines(out, cols))
    out = e.run{ { user = "z", t = 100 * S, v = "z1" } }
    assert.same({}, out)
    out = e.run{} -- a no-data batch at watermark 90 s
    assert.same({ "40000-55000 c 3 c1 c3" }, lines(out, cols))
    assert.same({ 1, 2 }, { e.entries() }) -- z's session, its index entry, the directory
  end)

  it("takes a session gap per row from a function (ms or duration text; none drops the row)", function()
    local q = src():with_watermark("t", "0 seconds")
      :group_by("k", sr.session_window("t", function(r) return r.gap end)):count()
      :write_stream{ format = "console", outputMode = "complete" }
    local e = start(q)
    local out = e.run{ { k = 1, t = 0, gap = "10 seconds" }, { k = 1, t = 10 * S, gap = 1000 },
                       { k = 1, t = 20 * S, gap = 500 }, { k = 1, t = 30 * S, gap = 0 },
                       { k = 1, t = 31 * S } }
    assert.same({ "0-11000 1 2", "20000-20500 1 1" }, lines(out, { "window", "k", "count" }))
  end)

  it("keeps state across a restart from the store's files", function()
    local q = src():with_watermark("t", "0 seconds"):group_by(sr.window("t", "1 second"), "k"):count()
      :write_stream{ format = "console" }
    local e = start(q)
    local all = {}
    for b = 0, 24 do
      if b == 12 or b == 20 then e.restart() end
      local rows = {}
      for i = 1, 10 do rows[i] = { t = b * 400 + i * 30, k = i % 3 } end
      for _, l in ipairs(lines((e.run(rows)), { "window", "k", "count" })) do all[#all + 1] = l end
    end
    -- the same batches uninterrupted
    fx.close()
    local e2 = start(q)
    local want = {}
    for b = 0, 24 do
      local rows = {}
      for i = 1, 10 do rows[i] = { t = b * 400 + i * 30, k = i % 3 } end
      for _, l in ipairs(lines((e2.run(rows)), { "window", "k", "count" })) do want[#want + 1] = l end
    end
    assert.is_true(#want > 20)
    assert.same(want, all)
  end)

  it("names the job line when a key function or a custom aggregate raises", function()
    local q = src():group_by(function(r) return r.x.y end):count()
      :write_stream{ format = "console", outputMode = "update" }
    local e = start(q)
    local ok, err = pcall(e.run, { { x = false } })
    assert.is_false(ok)
    assert.matches("aggregate_spec.lua:%d+", err.message)
    assert.matches("attempt to index", err.message)
  end)

  it("refuses a non-timestamp event time with the column's name", function()
    local q = src():group_by(sr.window("t", "1 second")):count()
      :write_stream{ format = "console", outputMode = "update" }
    local e = start(q)
    local ok, err = pcall(e.run, { { t = "2026-01-01" } })
    assert.is_false(ok)
    assert.matches("column t holds a string", err.message)
  end)

  it("knows its output columns", function()
    local agg = require "streamrun.ops.aggregate"
    local s = sr.read_stream{ format = "json", path = "in",
                              schema = { t = "timestamp", k = "string", v = "long", p = "double" } }
    local n = s:group_by(sr.window("t", "1 second"), "k")
      :agg{ n = sr.count(), a = sr.avg("v"), s = sr.sum("v"), sp = sr.sum("p"), l = sr.collect_list("k") }
    local cols = agg.columns(n, s.schema_list)
    assert.same({ { "window", { { "start", "timestamp" }, { "end", "timestamp" } } }, { "k", "string" },
                  { "a", "double" }, { "l", { "array", "string" } }, { "n", "long" }, { "s", "long" },
                  { "sp", "double" } }, cols)
  end)
end)

describe("aggregation plan checks", function()
  local sr, exec
  before_each(function() sr, exec = h.fresh() end)
  local function src() return h.stream(sr, "in"):with_watermark("t", "1 second") end
  local function refused(q, pattern)
    local ok, err = pcall(exec.compile, q)
    assert.is_false(ok)
    assert.matches("aggregate_spec.lua:%d+: .*" .. pattern, err)
  end

  it("refuses what Spark refuses, with the reason", function()
    refused(src():group_by("k"):count():write_stream{ format = "console" },
            "append output mode is not supported for a streaming aggregation without a watermark")
    refused(src():group_by(sr.window("other", "1 second")):count():write_stream{ format = "console" },
            "without a watermark")
    refused(src():group_by("k", sr.session_window("t", "1 second")):count()
              :write_stream{ format = "console", outputMode = "update" },
            "update output mode is not supported with session windows")
    refused(src():group_by(sr.window("t", "1 second"), sr.window("t", "2 seconds")):count()
              :write_stream{ format = "console" }, "only one sr.window or sr.session_window per group_by")
    refused(src():group_by(sr.session_window("t", "1 second")):count():write_stream{ format = "console" },
            "needs another key beside the session window")
    refused(src():group_by("k", sr.session_window("t", "0 seconds")):count():write_stream{ format = "console" },
            "gap must be positive")
    refused(src():group_by("k"):count():group_by("count"):count()
              :write_stream{ format = "console", outputMode = "update" },
            "multiple streaming aggregations are supported only in append mode")
  end)

  it("accepts the plans Spark runs", function()
    for _, mode in ipairs { "append", "update", "complete" } do
      assert.is_table(exec.compile(src():group_by(sr.window("t", "10 seconds", "5 seconds"), "k")
        :agg{ n = sr.count() }:write_stream{ format = "console", outputMode = mode }))
    end
    assert.is_table(exec.compile(src():group_by("k"):count():write_stream{ format = "console", outputMode = "update" }))
    assert.is_table(exec.compile(src():group_by("k", sr.session_window("t", "5 seconds")):count()
      :write_stream{ format = "console", outputMode = "complete" }))
  end)
end)
