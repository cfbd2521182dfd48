-- Joins: stream-stream (against a brute-force join of the same input) and stream-static
-- (against static files that change between batches), plan rules and output columns.
local h = require "helpers"
local core = require "streamrun.core"
-- A real state store (runtime/state/state_store.c) through the bindings the engine passes, so the
-- spec runs the operator as query.c does, commits and restarts included.
local Store = {}
Store.__index = Store

function Store.open(dir, version)
  return setmetatable({ ptr = core.state_open(dir, version or 0), dir = dir }, Store)
end
function Store:commit() core.state_commit(self.ptr) end
function Store:close() core.state_close(self.ptr) end
function Store:rows()
  local s = core.stats(self.ptr)
  return s.num_rows_total, s.version
end

local function tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p " .. p) == 0)
  return p
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- Output rows as sorted JSON texts, to compare bags of rows.
local function bag(rows)
  local t = {}
  for i, r in ipairs(rows) do t[i] = core.to_json(r) end
  table.sort(t)
  return t
end

-- Fresh modules and a compiled query.
local function compile(build)
  local sr, exec = h.fresh()
  local q = build(sr)
  return exec.compile(q), sr, exec
end

-- Runs batches through a compiled stream-stream join as the engine would: each batch runs with
-- the watermark the previous ones produced (per with_watermark: max event time - delay; the
-- minimum over them; never moving back), then its store commits. batches[i] = {left, right};
-- a batch may set wm to force the watermark (a final no-data batch). Returns every output row,
-- per-batch outputs, the watermark each batch ran with, the largest state seen and the watermark
-- the next batch would run with.
local function drive(desc, store, batches, delays)
  local all, per, wms, max_state = {}, {}, {}, 0
  local maxev, wm = {}, nil
  for b, batch in ipairs(batches) do
    if batch.wm then wm = batch.wm end
    wms[b] = wm
    local ctx = { batch_id = b - 1, watermark_ms = wm, batch_ts_ms = 0, stores = { store.ptr },
                  state_metrics = { {} } }
    local out = h.run(desc, { batch[1] or {}, batch[2] or {} }, ctx)
    if store.durable then store:commit() end -- a commit fsyncs: only where a restart reads it
    per[b] = out
    for _, r in ipairs(out) do all[#all + 1] = r end
    for i, e in ipairs(ctx.event_time) do
      if e.count > 0 and (maxev[i] == nil or e.max > maxev[i]) then maxev[i] = e.max end
    end
    local w
    for i, d in ipairs(delays) do
      if maxev[i] then w = w and math.min(w, maxev[i] - d) or maxev[i] - d end
    end
    if w and (wm == nil or w > wm) then wm = w end
    max_state = math.max(max_state, (store:rows()))
  end
  return all, per, wms, max_state, wm
end

-- Random batches: left rows {k, lt, id, v}, right rows {k, rt, id, v}; event times move
-- forward with jitter, so some rows arrive late.
local function random_batches(seed, nbatches, nkeys)
  math.randomseed(seed)
  local batches, t, id = {}, 100000, 0
  for _ = 1, nbatches do
    local l, r = {}, {}
    for _ = 1, math.random(0, 8) do
      id = id + 1
      l[#l + 1] = { k = math.random(nkeys), lt = t + math.random(-4000, 2000), id = id, v = "l" .. id }
    end
    for _ = 1, math.random(0, 8) do
      id = id + 1
      r[#r + 1] = { k = math.random(nkeys), rt = t + math.random(-4000, 2000), id = id, v = "r" .. id }
    end
    batches[#batches + 1] = { l, r }
    t = t + math.random(0, 1500)
  end
  return batches
end

-- The rows each batch keeps after dropping late ones (event time <= the watermark it ran with).
local function on_time(batches, wms)
  local left, right = {}, {}
  for b, batch in ipairs(batches) do
    local wm = wms[b]
    for _, r in ipairs(batch[1] or {}) do if not wm or r.lt > wm then left[#left + 1] = r end end
    for _, r in ipairs(batch[2] or {}) do if not wm or r.rt > wm then right[#right + 1] = r end end
  end
  return left, right
end

-- The join computed pair by pair: keys k, columns of both sides (right v -> right_v, right id ->
-- right_id), lower <= rt - lt <= upper.
local function brute(left, right, how, lower, upper)
  local out, lmatched, rmatched = {}, {}, {}
  local function merged(l, r)
    local o = {}
    if l then for k, v in pairs(l) do o[k] = v end end
    if r then
      o.k = l and l.k or r.k
      o.rt, o.right_id, o.right_v = r.rt, r.id, r.v
    end
    return o
  end
  for _, l in ipairs(left) do
    for _, r in ipairs(right) do
      if l.k == r.k and (lower == nil or (r.rt >= l.lt + lower and r.rt <= l.lt + upper)) then
        lmatched[l], rmatched[r] = true, true
        if how ~= "left_semi" then out[#out + 1] = merged(l, r) end
      end
    end
  end
  if how == "left_semi" then
    for _, l in ipairs(left) do if lmatched[l] then out[#out + 1] = l end end
  end
  if how == "left" or how == "full" then
    for _, l in ipairs(left) do if not lmatched[l] then out[#out + 1] = merged(l, nil) end end
  end
  if how == "right" or how == "full" then
    for _, r in ipairs(right) do if not rmatched[r] then out[#out + 1] = merged(nil, r) end end
  end
  return out
end

local function stream_join(sr, how, range, lwm, rwm)
  local L = sr.read_stream{ format = "json", path = "l", schema = "k long, lt timestamp, id long, v string" }
  local R = sr.read_stream{ format = "json", path = "r", schema = "k long, rt timestamp, id long, v string" }
  if lwm then L = L:with_watermark("lt", lwm) end
  if rwm then R = R:with_watermark("rt", rwm) end
  return L:join(R, { on = { "k" }, how = how, time_range = range })
    :write_stream{ format = "console" }
end

describe("stream-stream join", function()
  local range = { left = "lt", right = "rt", lower = "-1 second", upper = "3 seconds" }

  for _, how in ipairs { "inner", "left", "right", "full", "left_semi" } do
    it(how .. " join with a time range equals the brute-force join, with bounded state", function()
      local desc = compile(function(sr) return stream_join(sr, how, range, "2 seconds", "2 seconds") end)
      local batches = random_batches(#how * 7, 80, 3)
      batches[#batches + 1] = { {}, {}, wm = 1e12 } -- the end: everything is evicted
      local store = Store.open(tmpdir())
      local all, _, wms, max_state = drive(desc, store, batches, { 2000, 2000 })
      local left, right = on_time(batches, wms)
      local expected = brute(left, right, how, -1000, 3000)
      assert.is_true(#expected > 20)
      assert.same(bag(expected), bag(all))
      -- state holds a few seconds of rows, not the run's 350 rows
      assert.is_true(max_state < 200, "state grew to " .. max_state)
      local rows_at_end = store:rows()
      assert.equals(0, rows_at_end)
      store:close()
    end)
  end

  it("emits an outer row once the watermark passes its range, not before", function()
    local desc = compile(function(sr) return stream_join(sr, "left", range, "1 second", "1 second") end)
    local store = Store.open(tmpdir())
    -- key 1 never finds a match; keys 8 and 9 only move both sides' event time on
    local batches = {
      { { { k = 1, lt = 10000, id = 1, v = "a" } }, { { k = 2, rt = 10000, id = 2, v = "b" } } },
      { { { k = 8, lt = 12000, id = 3 } }, { { k = 9, rt = 12000, id = 4 } } },
      { { { k = 8, lt = 14500, id = 5 } }, { { k = 9, rt = 14500, id = 6 } } },
      { {}, {} },
    }
    local _, per, wms = drive(desc, store, batches, { 1000, 1000 })
    assert.same({ 9000, 11000, 13500 }, { wms[2], wms[3], wms[4] })
    assert.same({}, per[1])
    assert.same({}, per[2])
    assert.same({}, per[3]) -- 10000 + 3 seconds is not yet <= the watermark 11000
    assert.same({ { k = 1, lt = 10000, id = 1, v = "a" } }, per[4])
    store:close()
  end)

  it("keeps its state in the store: a fresh lua_State continues after a restart", function()
    local build = function(sr) return stream_join(sr, "full", range, "2 seconds", "2 seconds") end
    local batches = random_batches(99, 40, 3)
    local first, second = {}, {}
    for i, b in ipairs(batches) do if i <= 20 then first[#first + 1] = b else second[#second + 1] = b end end
    second[#second + 1] = { {}, {}, wm = 1e12 }
    local dir = tmpdir()
    local s1 = Store.open(dir)
    s1.durable = true
    local out1, _, wms1, _, next_wm = drive(compile(build), s1, first, { 2000, 2000 })
    local version = select(2, s1:rows())
    s1:close()
    -- a new module instance (a reloaded lua_State) on the store reopened at its version; the
    -- watermark carries over, the event-time maxima start again, as in the engine
    local s2 = Store.open(dir, version)
    s2.durable = true
    second[1].wm = next_wm
    local out2, _, wms2 = drive(compile(build), s2, second, { 2000, 2000 })
    s2:close()
    local all, wms = {}, {}
    for _, r in ipairs(out1) do all[#all + 1] = r end
    for _, r in ipairs(out2) do all[#all + 1] = r end
    for i = 1, #wms1 do wms[i] = wms1[i] end
    for i = 1, #wms2 do wms[#wms1 + i] = wms2[i] end
    local left, right = on_time(batches, wms)
    assert.same(bag(brute(left, right, "full", -1000, 3000)), bag(all))
  end)

  it("joins on a window column and evicts by the window's end", function()
    local desc = compile(function(sr)
      local win = function(col)
        return function(r) local s = r[col] - r[col] % 10000; r.window = { start = s, ["end"] = s + 10000 }; return r end
      end
      local L = h.stream(sr, "l"):with_watermark("lt", "1 second"):map(win("lt"))
      local R = h.stream(sr, "r"):with_watermark("rt", "1 second"):map(win("rt"))
      return L:join(R, { on = { "k", "window" }, how = "left" }):write_stream{ format = "console" }
    end)
    local store = Store.open(tmpdir())
    local batches = {
      { { { k = 1, lt = 1000, id = 1 }, { k = 2, lt = 2000, id = 2 } }, { { k = 1, rt = 9000, id = 3 } } },
      { {}, { { k = 2, rt = 11000, id = 4 } } },            -- another window: no match for id 2
      { { { k = 5, lt = 25000, id = 5 } }, { { k = 3, rt = 25000, id = 6 } } },
      { {}, {} },                                           -- watermark 24000: window 0-10000 done
    }
    local _, per = drive(desc, store, batches, { 1000, 1000 })
    assert.equals(1, #per[1])
    assert.same({ 1, 3 }, { per[1][1].id, per[1][1].right_id })
    assert.same({}, per[2])
    assert.same({ { k = 2, lt = 2000, id = 2, window = { start = 0, ["end"] = 10000 } } }, per[4])
    store:close()
  end)

  it("joins without a time constraint (all pairs) and warns that state is unbounded", function()
    local desc = compile(function(sr) return stream_join(sr, "inner", nil, nil, nil) end)
    assert.is_true(#desc.warnings == 1 and desc.warnings[1]:find("grows without bound") ~= nil)
    local store = Store.open(tmpdir())
    local batches = random_batches(5, 15, 3)
    local all = drive(desc, store, batches, {})
    local left, right = on_time(batches, {})
    assert.same(bag(brute(left, right, "inner")), bag(all))
    store:close()
  end)

  it("applies `on` as a condition after the keys, and as a nested loop without keys", function()
    local store = Store.open(tmpdir())
    local desc = compile(function(sr)
      local L = h.stream(sr, "l")
      local R = h.stream(sr, "r")
      return L:join(R, { on = { "k", function(l, r) return l.a < r.b end } }):write_stream{ format = "console" }
    end)
    local out = drive(desc, store, {
      { { { k = 1, a = 1 }, { k = 1, a = 5 } }, { { k = 1, b = 3 }, { k = 2, b = 9 } } },
      { {}, { { k = 1, b = 9 } } },
    }, {})
    assert.same(bag { { k = 1, a = 1, b = 3 }, { k = 1, a = 1, b = 9 }, { k = 1, a = 5, b = 9 } }, bag(out))
    store:close()
    store = Store.open(tmpdir())
    desc = compile(function(sr)
      local L = h.stream(sr, "l")
      local R = h.stream(sr, "r")
      return L:join(R, { on = function(l, r) return l.a + r.b == 10 end }):write_stream{ format = "console" }
    end)
    out = drive(desc, store, { { { { a = 1 }, { a = 4 } }, { { b = 9 }, { b = 6 }, { b = 1 } } } }, {})
    assert.same(bag { { a = 1, b = 9 }, { a = 4, b = 6 } }, bag(out))
    store:close()
  end)

  it("refuses what Spark refuses, with its reason", function()
    local function refusal(build)
      local ok, err = pcall(compile, build)
      assert.is_false(ok)
      return tostring(err)
    end
    local err = refusal(function(sr) return stream_join(sr, "left", nil, "1 second", "1 second") end)
    assert.matches("Stream%-stream LeftOuter join between two streaming DataFrame/Datasets is not "
      .. "supported without a watermark in the join keys", err)
    -- the watermark must be on the nullable (right) side's range column
    err = refusal(function(sr) return stream_join(sr, "left", range, "1 second", nil) end)
    assert.matches("LeftOuter", err)
    assert.matches("right side", err)
    err = refusal(function(sr) return stream_join(sr, "right", range, nil, "1 second") end)
    assert.matches("RightOuter", err)
    err = refusal(function(sr) return stream_join(sr, "left_anti", range, "1 second", "1 second") end)
    assert.matches("LeftAnti joins with a streaming DataFrame/Dataset on the right are not supported", err)
    err = refusal(function(sr) return stream_join(sr, "sideways", range) end)
    assert.matches("how must be", err)
    err = refusal(function(sr)
      local L = h.stream(sr, "l")
      return L:join(h.stream(sr, "r"))
        :write_stream{ format = "console", outputMode = "update" }
    end)
    assert.matches("only append output mode", err)
    err = refusal(function(sr)
      local counts = h.stream(sr, "l"):with_watermark("t", "1 second")
        :group_by(sr.window("t", "10 seconds"), "k"):count()
      local R = h.stream(sr, "r"):with_watermark("t", "1 second")
        :map(function(r) r.window = {}; return r end)
      return counts:join(R, { on = { "k", "window" } }):write_stream{ format = "console" }
    end)
    assert.matches("correctness' issue due to global watermark: the aggregate at", err)
    -- a left outer join with both watermarks and a range compiles without warnings
    local desc = compile(function(sr) return stream_join(sr, "left", range, "1 second", "1 second") end)
    assert.same({}, desc.warnings)
  end)

  it("names output columns: keys once, right_ for a name on both sides", function()
    local desc = compile(function(sr) return stream_join(sr, "inner", range, "1 second", "1 second") end)
    assert.same({ { "k", "long" }, { "lt", "timestamp" }, { "id", "long" }, { "v", "string" },
                  { "rt", "timestamp" }, { "right_id", "long" }, { "right_v", "string" } },
                desc.output_schema:columns())
  end)
end)

describe("stream-static join", function()
  local dir

  before_each(function()
    dir = tmpdir()
    write(dir .. "/people1.json", '{"id":1,"name":"ann","city":"Oslo"}\n{"id":2,"name":"bob","city":"Rome"}\n')
    write(dir .. "/people2.json", '{"id":1,"name":"ann2","city":"Bergen"}\n{"name":"nobody"}\n')
  end)

  local function static_query(how, flip)
    return compile(function(sr)
      local people = sr.read{ format = "json", path = dir }
      local s = h.stream(sr, "in")
      if flip then return people:join(s, { on = "id", how = how }):write_stream{ format = "console" } end
      return s:join(people, { on = { "id" }, how = how }):write_stream{ format = "console" }
    end)
  end

  -- one batch through a compiled stream-static join (it uses no state store)
  local function run(desc, rows)
    return h.run(desc, { rows }, { batch_id = 0, stores = { false }, state_metrics = { {} } })
  end

  local stream_rows = { { id = 1, amount = 10, city = "X" }, { id = 3, amount = 30 }, { amount = 40 },
                        { id = 2, amount = 20 } }

  it("inner, left, left_semi and left_anti with the stream on the left", function()
    local join = function(how) return bag(run(static_query(how), stream_rows)) end
    local ann = { id = 1, amount = 10, city = "X", name = "ann", right_city = "Oslo" }
    local ann2 = { id = 1, amount = 10, city = "X", name = "ann2", right_city = "Bergen" }
    -- without schemas, a name collides when the stream row has it: bob's row has no city
    local bob = { id = 2, amount = 20, name = "bob", city = "Rome" }
    assert.same(bag { ann, ann2, bob }, join("inner"))
    assert.same(bag { ann, ann2, bob, { id = 3, amount = 30 }, { amount = 40 } }, join("left"))
    assert.same(bag { stream_rows[1], stream_rows[4] }, join("left_semi"))
    assert.same(bag { stream_rows[2], stream_rows[3] }, join("left_anti"))
  end)

  it("inner and right with the static table on the left (static:join(stream))", function()
    local desc = static_query("right", true)
    local out = bag(run(desc, stream_rows))
    assert.same(bag {
      { id = 1, name = "ann", city = "Oslo", amount = 10, right_city = "X" },
      { id = 1, name = "ann2", city = "Bergen", amount = 10, right_city = "X" },
      { id = 2, name = "bob", city = "Rome", amount = 20 },
      { id = 3, amount = 30 }, { amount = 40 },
    }, out)
    assert.equals(1, #desc.sources) -- the stream is the only source; the table is read by the join
    assert.equals(3, #run(static_query("inner", true), stream_rows))
  end)

  it("builds the table once per change, and the next batch sees a changed table", function()
    local desc = static_query("inner")
    local function batch(id)
      local ctx = { batch_id = 0, stores = { false }, state_metrics = { {} } }
      local out = h.run(desc, { { { id = id } } }, ctx)
      return out, ctx.state_metrics[1].numStaticRowsLoaded
    end
    local out, loaded = batch(2)
    assert.same({ { id = 2, name = "bob", city = "Rome" } }, out)
    assert.equals(3, loaded) -- the row without an id can never match: not kept
    out, loaded = batch(2)
    assert.equals(1, #out)
    assert.is_nil(loaded) -- unchanged files: no rebuild
    out = batch(7)
    assert.same({}, out)
    write(dir .. "/people3.json", '{"id":7,"name":"gus"}\n')
    out, loaded = batch(7)
    assert.same({ { id = 7, name = "gus" } }, out)
    assert.equals(4, loaded)
    os.remove(dir .. "/people3.json")
    assert.same({}, (batch(7)))
  end)

  it("runs the static side's map and filter, and `on` as an extra condition", function()
    local desc = compile(function(sr)
      local people = sr.read{ format = "json", path = dir, schema = "id long, name string, city string" }
        :filter(function(r) return r.name ~= "ann2" end)
        :map(function(r) r.name = r.name:upper(); return r end)
      return sr.read_stream{ format = "json", path = "in", schema = "id long, amount long" }
        :join(people, { on = { "id", function(l, r) return l.amount < 15 end } })
        :write_stream{ format = "console" }
    end)
    assert.same(bag { { id = 1, amount = 10, name = "ANN", city = "Oslo" } }, bag(run(desc, stream_rows)))
    assert.is_nil(desc.output_schema) -- a map may reshape the static rows: columns unknown
    desc = compile(function(sr)
      local people = sr.read{ format = "json", path = dir, schema = "id long, name string, city string" }
        :filter(function(r) return r.name ~= "ann2" end)
      return sr.read_stream{ format = "json", path = "in", schema = "id long, amount long" }
        :join(people, { on = { "id" } }):write_stream{ format = "console" }
    end)
    assert.same({ { "id", "long" }, { "amount", "long" }, { "name", "string" }, { "city", "string" } },
                desc.output_schema:columns())
  end)

  it("refuses what Spark refuses for stream-static joins", function()
    local function refusal(how, flip)
      local ok, err = pcall(static_query, how, flip)
      assert.is_false(ok)
      return tostring(err)
    end
    assert.matches("RightOuter join with a streaming DataFrame/Dataset on the left and a static", refusal("right"))
    assert.matches("FullOuter joins with a streaming DataFrame/Dataset on the left", refusal("full"))
    assert.matches("LeftOuter join with a streaming DataFrame/Dataset on the right and a static", refusal("left", true))
    assert.matches("LeftAnti joins with a streaming DataFrame/Dataset on the right", refusal("left_anti", true))
    local ok, err = pcall(compile, function(sr)
      return h.stream(sr, "in")
        :join(sr.read{ format = "kafka", subscribe = "t" }, { on = "key" }):write_stream{ format = "console" }
    end)
    assert.is_false(ok)
    assert.matches("cannot be read from format kafka", tostring(err))
  end)
end)
