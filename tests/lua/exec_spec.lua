-- The fused executor: stateless chains run as one generated loop per batch.
local h = require "helpers"

describe("stateless execution", function()
  local sr, exec
  before_each(function() sr, exec = h.fresh() end)

  local function rows(n)
    local t = {}
    for i = 1, n do t[i] = { id = i, price = i * 100 } end
    return t
  end

  it("runs map, filter, flat_map and select in order", function()
    local q = h.stream(sr, "in")
      :filter(function(r) return r.price > 200 end)
      :map(function(r) r.double = r.price * 2; return r end)
      :flat_map(function(r) return { r, { id = -r.id, price = 0, double = 0 } } end)
      :select{ "id", d = "double", big = function(r) return r.price > 400 end }
      :write_stream{ format = "console" }
    local out = h.run(exec.compile(q), { rows(5) })
    assert.same({
      { id = 3, d = 600, big = false }, { id = -3, d = 0, big = false },
      { id = 4, d = 800, big = false }, { id = -4, d = 0, big = false },
      { id = 5, d = 1000, big = true }, { id = -5, d = 0, big = false },
    }, out)
  end)

  it("drops rows a map returns nil for", function()
    local q = h.stream(sr, "in")
      :map(function(r) if r.id % 2 == 0 then return r end end)
      :write_stream{ format = "console" }
    assert.same({ { id = 2, price = 200 }, { id = 4, price = 400 } }, h.run(exec.compile(q), { rows(4) }))
  end)

  it("unions two sources", function()
    local a = h.stream(sr, "a")
    local b = h.stream(sr, "b"):map(function(r) r.from_b = true; return r end)
    local d = exec.compile(a:union(b):write_stream{ format = "console" })
    assert.equals(2, #d.sources)
    local out = h.run(d, { { { id = 1 } }, { { id = 2 } } })
    assert.same({ { id = 1 }, { id = 2, from_b = true } }, out)
  end)

  it("records event-time statistics for the watermark", function()
    local q = h.stream(sr, "in")
      :with_watermark("t", "5 seconds")
      :write_stream{ format = "console" }
    local d = exec.compile(q)
    assert.same({ { column = "t", delay_ms = 5000 } }, d.watermarks)
    local ctx = { batch_id = 0 }
    h.run(d, { { { t = 1000 }, { t = 3000 }, { t = 2000 }, {} } }, ctx)
    assert.same({ min = 1000, max = 3000, sum = 6000, count = 3 }, ctx.event_time[1])
  end)

  it("names the operator, its job line and the row when a user function fails", function()
    local q = h.stream(sr, "in")
      :map(function(r) return r end)
      :filter(function(r) return r.price.missing > 1 end)
      :write_stream{ format = "console" }
    local d = exec.compile(q)
    local ok, err = pcall(h.run, d, { rows(2) })
    assert.is_false(ok)
    assert.is_true(err.streamrun_user_error)
    assert.matches("exec_spec.lua:%d+: attempt to index", err.message)
    assert.matches("in filter %(defined at [^)]*exec_spec.lua:%d+%)", err.message)
    assert.matches('row: {"id":1,"price":100}', err.message, 1, true)
  end)

  it("parses a JSON column with a schema", function()
    local q = h.stream(sr, "in")
      :parse_json("value", { a = "long", b = "string" })
      :write_stream{ format = "console" }
    local out = h.run(exec.compile(q), { { { value = '{"a": 9007199254740993, "b": "x"}', key = "k" } } })
    assert.equals(1, #out)
    assert.equals("k", out[1].key)
    assert.equals("x", out[1].b)
    assert.equals("9007199254740993LL", tostring(out[1].a))
    assert.is_nil(out[1].value)
  end)
end)

-- The columns the plan knows exactly reach sinks (desc.output_columns): a CSV sink writes them,
-- a Kafka sink checks for `value`. nil where an operation may reshape rows.
describe("exact output columns", function()
  local sr, exec
  before_each(function() sr, exec = h.fresh() end)
  local function cols(stream, extra)
    local opts = { format = "console" }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return exec.compile(stream:write_stream(opts)).output_columns
  end

  it("follows a source's schema, select (renamed and computed columns), filter and watermarks", function()
    local s = sr.read_stream{ format = "json", path = "in", schema = "id long, price double, t timestamp" }
    assert.same({ "id", "price", "t" }, cols(s:filter(function() return true end):with_watermark("t", "1 second")))
    assert.same({ "id", "cost", "twice" },
      cols(s:select{ "id", cost = "price", twice = function(r) return r.price * 2 end }))
    assert.same({ "value" }, cols(sr.read_stream{ format = "text", path = "in" }))
  end)

  it("is unknown after map or flat_map", function()
    local s = sr.read_stream{ format = "json", path = "in", schema = "id long" }
    assert.is_nil(cols(s:map(function(r) return r end)))
    assert.is_nil(cols(s:flat_map(function(r) return { r } end)))
    assert.same({ "x" }, cols(s:map(function(r) return r end):select{ "x" }))
  end)

  it("names an aggregation's keys then its aggregates, and parse_json's fields", function()
    local s = sr.read_stream{ format = "json", path = "in", schema = "k string, t timestamp, p double" }
    assert.same({ "window", "k", "n", "top" },
      cols(s:with_watermark("t", "1 second"):group_by(sr.window("t", "1 second"), "k")
            :agg{ top = sr.max("p"), n = sr.count() }))
    assert.same({ "key", "count" }, cols(s:group_by(function(r) return r.k end):count(), { outputMode = "update" }))
    local kafka = sr.read_stream{ format = "kafka", ["kafka.bootstrap.servers"] = "x", subscribe = "t" }
    local parsed = cols(kafka:parse_json("value", "id long, name string"))
    assert.same({ "id", "name" }, { parsed[#parsed - 1], parsed[#parsed] })
    for _, c in ipairs(parsed) do assert.are_not.equal("value", c) end
    assert.is_nil(cols(kafka:parse_json("value")))
  end)
end)
