-- drop_duplicates and drop_duplicates_within_watermark against real state stores.
--
-- helpers.engine runs the compiled query batch by batch with real state stores, committing
-- them and moving the watermark as query.c does.
local h = require "helpers"
local core = require "streamrun.core"

local function ids(rows, col)
  local t = {}
  for i, r in ipairs(rows) do t[i] = r[col or "id"] end
  return t
end

describe("drop_duplicates", function()
  local sr, exec
  local fx = h.engine_fixture(function(s, e) sr, exec = s, e end)
  local dir = fx.dir

  local function src() return h.stream(sr, "in") end
  local start = fx.start

  it("keeps the first row of each key, within a batch and across batches", function()
    local e = start(src():drop_duplicates{ "id" }:write_stream{ format = "console" })
    local out, m = e.run{ { id = 3, v = "a" }, { id = 1, v = "b" }, { id = 3, v = "c" }, { id = 2, v = "d" } }
    assert.same({ { id = 3, v = "a" }, { id = 1, v = "b" }, { id = 2, v = "d" } }, out)
    assert.equals(1, m.numDroppedDuplicateRows)
    out, m = e.run{ { id = 2, v = "e" }, { id = 4, v = "f" }, { id = 4, v = "g" }, { id = 1, v = "h" } }
    assert.same({ { id = 4, v = "f" } }, out)
    assert.equals(3, m.numDroppedDuplicateRows)
    assert.equals(4, e.keys())
  end)

  it("keeps its keys across a restart", function()
    local e = start(src():drop_duplicates{ "id" }:write_stream{ format = "console" })
    e.run{ { id = 1 }, { id = 2 } }
    e.restart()
    assert.same({ 3 }, ids((e.run{ { id = 2 }, { id = 3 }, { id = 1 } })))
  end)

  it("treats keys that pack alike as one: 5 and 5LL, nil, NaN, tables by content", function()
    local e = start(src():drop_duplicates{ "id" }:write_stream{ format = "console" })
    local big = 9007199254740993LL
    local out = e.run{ { id = 5, n = 1 }, { id = 5LL, n = 2 }, { n = 3 }, { n = 4 }, { id = 0 / 0, n = 5 },
                       { id = 0 / 0, n = 6 }, { id = big, n = 7 }, { id = 9007199254740993LL, n = 8 },
                       { id = { a = 1, 2 }, n = 9 }, { id = { 2, a = 1 }, n = 10 }, { id = "5", n = 11 } }
    assert.same({ 1, 3, 5, 7, 9, 11 }, ids(out, "n"))
    out = e.run{ { id = 5ULL, n = 12 }, { n = 13 }, { id = big, n = 14 }, { id = { 2, a = 1 }, n = 15 },
                 { id = 9007199254740992, n = 16 } }
    assert.same({ 16 }, ids(out, "n"))
  end)

  it("deduplicates on several columns, a function, or the whole row", function()
    local e = start(src():drop_duplicates{ "a", "b" }:write_stream{ format = "console" })
    local out = e.run{ { a = 1, b = 1, n = 1 }, { a = 1, b = 2, n = 2 }, { a = 1, b = 1, n = 3 },
                       { b = 1, n = 4 }, { b = 1, n = 5 }, { a = 1, n = 6 } }
    assert.same({ 1, 2, 4, 6 }, ids(out, "n"))
    assert.same({ 7 }, ids(e.run{ { a = 1, b = 2, n = 0 }, { a = 2, b = 1, n = 7 } }, "n"))
    e.close()

    sr, exec = h.fresh()
    e = start(src():drop_duplicates(function(r) return r.name:lower() end):write_stream{ format = "console" })
    assert.same({ "Ann", "bob" }, ids(e.run{ { name = "Ann" }, { name = "ANN" }, { name = "bob" } }, "name"))
    assert.same({}, ids(e.run{ { name = "BOB" } }, "name"))
    e.close()

    sr, exec = h.fresh()
    e = start(src():drop_duplicates():write_stream{ format = "console" })
    out = e.run{ { a = 1, b = "x" }, { b = "x", a = 1 }, { a = 1 }, { a = 1, b = "y" } }
    assert.same({ { a = 1, b = "x" }, { a = 1 }, { a = 1, b = "y" } }, out)
  end)

  it("refuses keys that are not column names or functions, naming the job line", function()
    local ok, err = pcall(exec.compile, src():drop_duplicates{ "id", 42 }:write_stream{ format = "console" })
    assert.is_false(ok)
    assert.matches("dedup_spec.lua:%d+: drop_duplicates: key 2 must be a column name or a function fn%(row%), got number", err)
  end)

  it("names the key function, its job line and the row when the function fails", function()
    local q = src():drop_duplicates(function(r) return r.user.id end):write_stream{ format = "console" }
    local e = start(q)
    local ok, err = pcall(e.run, { { user = { id = 1 } }, { id = 2 } })
    assert.is_false(ok)
    assert.matches("dedup_spec.lua:%d+: attempt to index", err.message)
    assert.matches("in the key function of drop_duplicates %(defined at [^)]*dedup_spec.lua:%d+%)", err.message)
    assert.matches('row: {"id":2}', err.message, 1, true)
  end)

  it("with the event-time column among the keys: drops late rows and evicts old keys", function()
    local q = src():with_watermark("t", "10 seconds"):drop_duplicates{ "id", "t" }
      :write_stream{ format = "console" }
    local e = start(q)
    local out, m = e.run{ { id = 1, t = 1000 }, { id = 1, t = 1000 }, { id = 2, t = 30000 } }
    assert.same({ 1000, 30000 }, ids(out, "t"))
    assert.equals(0, m.numRowsDroppedByWatermark)
    assert.equals(20000, e.wm)
    -- (1, 1000) is late now: dropped as late, not as a duplicate; its key is evicted
    out, m = e.run{ { id = 1, t = 1000 }, { id = 3, t = 20000 }, { id = 3, t = 20001 }, { id = 2, t = 30000 } }
    assert.same({ 20001 }, ids(out, "t"))
    assert.equals(2, m.numRowsDroppedByWatermark)
    assert.equals(1, m.numDroppedDuplicateRows)
    assert.equals(2, e.keys()) -- (2, 30000) and (3, 20001); (1, 1000) evicted
    e.run{ { id = 9, t = 60000 } } -- watermark 50000 for the next batch
    local _, m3 = e.run{}
    assert.equals(1, e.keys()) -- only (9, 60000) is left
    assert.equals(0, m3.numRowsDroppedByWatermark)
  end)

  it("with a watermark but keys without event time: drops late rows, keeps every key, warns", function()
    local q = src():with_watermark("t", "1 second"):drop_duplicates{ "id" }:write_stream{ format = "console" }
    local w = require("streamrun.plan").warnings(q)
    assert.equals(1, #w)
    assert.matches("keys do not include the event%-time column", w[1])
    local e = start(q)
    e.run{ { id = 1, t = 5000 } }
    local out, m = e.run{ { id = 2, t = 3000 }, { id = 3, t = 9000 } }
    assert.same({ 3 }, ids(out))
    assert.equals(1, m.numRowsDroppedByWatermark)
    e.run{ { id = 4, t = 100000 } }
    e.run{}
    assert.equals(3, e.keys())
  end)
end)

describe("drop_duplicates_within_watermark", function()
  local sr, exec
  local fx = h.engine_fixture(function(s, e) sr, exec = s, e end)
  local dir = fx.dir

  local function query()
    return h.stream(sr, "in"):with_watermark("t", "10 seconds")
      :drop_duplicates_within_watermark{ "id" }:write_stream{ format = "console" }
  end

  it("drops a key's rows until the watermark reaches its first event time plus the delay", function()
    local e = fx.start(query())
    local out = e.run{ { id = "a", t = 1000 }, { id = "a", t = 900 }, { id = "b", t = 15000 } }
    assert.same({ 1000, 15000 }, ids(out, "t"))
    assert.equals(5000, e.wm)
    -- a: expires at 11000, b at 25000; the watermark moves to 14000 after this batch
    out = e.run{ { id = "a", t = 6000 }, { id = "b", t = 24000 } }
    assert.same({}, out)
    assert.equals(14000, e.wm)
    -- a expired (14000 >= 11000): this batch still sees it, then evicts it
    local _, m = e.run{ { id = "a", t = 14500 } }
    assert.equals(1, m.numDroppedDuplicateRows)
    assert.equals(1, e.keys())
    out, m = e.run{ { id = "a", t = 14600 }, { id = "b", t = 13000 } }
    assert.same({ 14600 }, ids(out, "t"))
    assert.equals(1, m.numRowsDroppedByWatermark)
  end)

  it("keeps expiries across a restart", function()
    local e = fx.start(query())
    e.run{ { id = "a", t = 1000 } }
    e.restart()
    assert.same({}, e.run{ { id = "a", t = 5000 } })
    local _, vals = core.scan(e.stores[1])
    assert.same({ 11000 }, vals)
  end)

  it("is refused without a watermark", function()
    local q = h.stream(sr, "in"):drop_duplicates_within_watermark{ "id" }
      :write_stream{ format = "console" }
    local ok, err = pcall(exec.compile, q)
    assert.is_false(ok)
    assert.matches("dedup_spec.lua:%d+: drop_duplicates_within_watermark needs a watermark", err)
  end)
end)

describe("key ids", function()
  local keys = require "streamrun.ops.keys"
  it("are equal exactly when the packed keys are", function()
    local values = { 0, -0.0, 1, 1.5, 2 ^ 53, 2 ^ 53 + 2, -(2 ^ 53), 0 / 0, "1", "", true, false,
                     5LL, 5ULL, 9007199254740993LL, 18446744073709551615ULL, -9007199254740993LL,
                     { 1, 2 }, { 1, 2, x = 3 }, { x = 3, 1, 2 }, { [1] = 1, [3] = 3 }, { 1, nil, 3 },
                     { a = { b = "c" } }, { a = { b = "d" } }, { [5] = 1 }, { [5LL] = 1 }, {} }
    local intern = {}
    for i = 1, #values do
      for j = 1, #values do
        local a, b = values[i], values[j]
        local same_pack = core.pack(a) == core.pack(b)
        local same_id = keys.id(a, intern) == keys.id(b, intern)
        assert(same_pack == same_id, string.format("values %d and %d: packed equal %s, ids equal %s",
                                                   i, j, tostring(same_pack), tostring(same_id)))
      end
    end
  end)
end)
