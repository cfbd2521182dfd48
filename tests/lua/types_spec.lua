-- Timestamps and dates as values (streamrun.types): constructors, comparison and arithmetic
-- (also against old jobs' numbers of ms), text, JSON, state packing and keys.
local h = require "helpers"
local core = require "streamrun.core"

describe("timestamp values", function()
  local sr = require "streamrun"
  local base = 1795428000000 -- 2026-11-23T10:00:00Z in ms

  it("are made from ms, ISO-8601 text, microseconds and dates", function()
    local t = sr.timestamp(base)
    assert.equals("2026-11-23T10:00:00.000Z", tostring(t))
    assert.equals(t, sr.timestamp("2026-11-23T10:00:00Z"))
    assert.equals(t, sr.timestamp("2026-11-23 12:00:00+02:00"))
    assert.equals(t, sr.timestamp_us(base * 1000))
    assert.equals(t, sr.timestamp(t))
    assert.equals(sr.timestamp("2026-11-23"), sr.timestamp(sr.date("2026-11-23")))
    assert.equals("2026-11-23T10:00:00.000001Z", tostring(sr.timestamp("2026-11-23T10:00:00.0000019Z")))
    assert.equals(base * 1000 + 1, sr.timestamp(base + 0.001):us())
    assert.equals("timestamp", sr.typeof(t))
    assert.is_true(sr.is_timestamp(t))
    assert.is_false(sr.is_timestamp(base))
    assert.has_error(function() sr.timestamp("yesterday") end)
    assert.has_error(function() sr.timestamp({}) end)
  end)

  it("compare with timestamps and with numbers of ms, order and sort", function()
    local t = sr.timestamp(base + 1)
    assert.is_true(t > base and t >= base + 1 and t <= base + 1 and t < base + 2)
    assert.is_true(base < t and base + 1 == t:ms())
    assert.is_true(t == base + 1 and base + 1 == t)
    assert.is_false(t == nil)
    assert.is_false(t == "2026-11-23T10:00:00.001Z")
    assert.is_true(sr.timestamp(base) < t)
    local l = { sr.timestamp(base + 5), sr.timestamp(base - 3), t }
    table.sort(l)
    assert.same({ base - 3, base + 1, base + 5 }, { l[1]:ms(), l[2]:ms(), l[3]:ms() })
    assert.has_error(function() return t < "x" end)
  end)

  it("add and subtract durations in ms; a difference is ms; old arithmetic gives numbers", function()
    local t = sr.timestamp(base)
    assert.is_true(sr.is_timestamp(t + 1000))
    assert.equals("2026-11-23T10:00:01.000Z", tostring(t + 1000))
    assert.equals("2026-11-23T10:00:01.000Z", tostring(1000 + t))
    assert.equals("2026-11-23T09:59:59.999Z", tostring(t - 1))
    assert.equals(1500, (t + 1500) - t)
    assert.equals(0.001, sr.timestamp(base + 0.001) - t)
    assert.equals(base % 60000, t % 60000)
    assert.equals(base / 1000, t / 1000)
    assert.equals("2026-11-23T10:00:00.000Z", tostring(t - t % 10000))
    assert.has_error(function() return t + t end)
    assert.equals("at 2026-11-23T10:00:00.000Z", "at " .. t)
    assert.equals(sr.date("2026-11-23"), t:date())
  end)

  it("write as ISO-8601 in sr.to_json, with 6 digits when not whole ms", function()
    assert.equals('{"at":"2026-11-23T10:00:00.000Z","d":"2026-11-23"}',
                  sr.to_json{ at = sr.timestamp(base), d = sr.date(20780) })
    assert.equals('["2026-11-23T10:00:00.000001Z"]', sr.to_json{ sr.timestamp_us(base * 1000 + 1) })
    assert.equals("2026-11-23T10:00:00.000001Z", sr.format_timestamp(sr.timestamp_us(base * 1000 + 1)))
  end)

  it("pack into state and come back as timestamps and dates", function()
    local v = { at = sr.timestamp_us(base * 1000 + 7), d = sr.date(-5), list = { sr.timestamp(0) } }
    local back = core.unpack(core.pack(v))
    assert.is_true(sr.is_timestamp(back.at) and back.at == v.at and back.at:us() == base * 1000 + 7)
    assert.is_true(sr.is_date(back.d) and back.d == -5)
    assert.is_true(sr.is_timestamp(back.list[1]))
    assert.equals(core.pack(sr.timestamp(base)), core.pack(sr.timestamp("2026-11-23T10:00:00Z")))
    assert.are_not.equal(core.pack(sr.timestamp(base)), core.pack(base))
  end)

  it("pack to pinned bytes (state on disk is read by later builds)", function()
    -- tag 8 timestamp, 9 date: zigzag varints; 10 binary: varint length, bytes (lua_pack.h)
    assert.equals("\8\1", core.pack(sr.timestamp_us(-1)))
    assert.equals("\8\216\4", core.pack(sr.timestamp_us(300)))
    assert.equals("\9\9", core.pack(sr.date(-5)))
    assert.equals("\9\216\196\2", core.pack(sr.date(20780)))
    assert.equals("\10\3\0\1\255", core.pack(sr.binary("\0\1\255")))
  end)
end)

describe("date values", function()
  local sr = require "streamrun"
  it("are days, compare with numbers of days, add days, print as YYYY-MM-DD", function()
    local d = sr.date("2026-11-23")
    assert.equals(20780, d:days())
    assert.equals("2026-11-23", tostring(d))
    assert.is_true(d == 20780 and d > 20779 and d < sr.date(20781))
    assert.equals("2026-11-24", tostring(d + 1))
    assert.equals("2026-11-22", tostring(d - 1))
    assert.equals(3, (d + 3) - d)
    assert.equals(sr.date(20780), sr.date(sr.timestamp("2026-11-23T23:59:59.999Z")))
    assert.equals("date", sr.typeof(d))
    assert.equals("2026-11-23", sr.format_date(d))
    assert.has_error(function() sr.date(1.5) end)
  end)
end)

describe("typed values as keys", function()
  local keys = require "streamrun.ops.keys"
  local sr = require "streamrun"
  it("have ids equal exactly when their packed keys are", function()
    local values = { sr.timestamp(1), sr.timestamp(1), sr.timestamp(2), sr.timestamp_us(1001), 1, 1000,
                     sr.date(1), sr.date(1), sr.date(2), { at = sr.timestamp(1) }, { at = sr.timestamp(1) } }
    local intern = {}
    for i = 1, #values do
      for j = 1, #values do
        local a, b = values[i], values[j]
        assert.equals(core.pack(a) == core.pack(b), keys.id(a, intern) == keys.id(b, intern),
                      string.format("values %d and %d", i, j))
      end
    end
  end)

  it("deduplicate by instant across batches and a restart", function()
    local base = os.tmpname()
    local dir = base .. ".d"
    local sr2, exec = h.fresh()
    local q = sr2.read_stream{ format = "json", path = "in", schema = "at timestamp, n long" }
      :drop_duplicates{ "at" }
      :write_stream{ format = "console" }
    local e = h.engine(exec.compile(q), dir)
    local out = e.run{ { at = sr2.timestamp(5), n = 1 }, { at = sr2.timestamp("1970-01-01T00:00:00.005Z"), n = 2 },
                       { at = sr2.timestamp(6), n = 3 } }
    assert.same({ 1, 3 }, { out[1].n, out[2].n })
    e.restart()
    out = e.run{ { at = sr2.timestamp(6), n = 4 }, { at = sr2.timestamp(7), n = 5 } }
    assert.equals(1, #out)
    assert.equals(5, out[1].n)
    assert.is_true(sr2.is_timestamp(out[1].at))
    e.close()
    os.execute("rm -rf '" .. dir .. "'")
    os.remove(base)
  end)
end)

describe("typed columns in compiled queries", function()
  local sr, exec
  before_each(function() sr, exec = h.fresh() end)
  local function src() return sr.read_stream{ format = "json", path = "in", schema = "t timestamp, d date, k string" } end

  it("become values where user code sees the rows, whatever they are renamed to", function()
    local desc = exec.compile(src():map(function(r) return { at = r.t, day = r.d, k = r.k } end)
      :write_stream{ format = "console" })
    local out = h.run(desc, { { { t = 1795428000001, d = 20780, k = "a" }, { k = "b" } } })
    assert.is_true(sr.is_timestamp(out[1].at) and out[1].at == 1795428000001)
    assert.is_true(sr.is_date(out[1].day) and out[1].day == 20780)
    assert.is_nil(out[2].at)
    -- a value already made (a source's sub-ms timestamp) stays as it is
    out = h.run(desc, { { { t = sr.timestamp_us(1795428000000001), k = "c" } } })
    assert.equals(1795428000000001, out[1].at:us())
  end)

  it("are made per distinct time, right for every row, and cannot be written (rows share them)", function()
    local desc = exec.compile(src():map(function(r) return { at = r.t, day = r.d, k = r.k } end)
      :write_stream{ format = "console" })
    local made = sr.timestamp_us(1795428000000001)
    local out = h.run(desc, { { { t = 5, d = 1, k = "a" }, { t = 5, d = 1, k = "b" }, { t = made, k = "c" },
                                { k = "d" }, { t = 5, d = 2, k = "e" }, { t = 6.5, d = 2, k = "f" } } })
    local want = { 5, 5, made, nil, 5, 6.5 }
    for i = 1, 6 do
      if want[i] == nil then assert.is_nil(out[i].at)
      else assert.is_true(sr.is_timestamp(out[i].at) and out[i].at == want[i], out[i].k) end
    end
    assert.equals(6500, out[6].at:us())
    assert.is_true(sr.is_date(out[5].day) and out[5].day == 2 and out[1].day == 1)
    -- one row's value may be another's: writing to it would change both
    assert.has_error(function() out[1].at.us_ = 0 end)
    assert.has_error(function() out[1].day.days_ = 0 end)
    assert.is_true(out[2].at == 5 and out[2].day == 1)
  end)

  it("stay numbers of ms when no user code sees them (the benchmarks' fast path)", function()
    local desc = exec.compile(src():with_watermark("t", "1 second"):select{ "k", at = "t" }
      :write_stream{ format = "json", path = "out" })
    local out = h.run(desc, { { { t = 1795428000001, d = 20780, k = "a" } } })
    assert.equals("number", type(out[1].at))
    assert.same({ { "k", "string" }, { "at", "timestamp" } }, desc.output_schema:columns())
  end)

  it("after an aggregate: a window's start and end are timestamps for foreach_batch", function()
    local seen
    local desc = exec.compile(src():group_by(sr.window("t", "10 seconds")):count()
      :write_stream{ format = "foreach_batch", outputMode = "complete", fn = function() end })
    local e = h.engine(desc, os.tmpname() .. ".d")
    local out = e.run{ { t = 1795428000001 }, { t = 1795428003000 } }
    seen = out[1].window
    assert.is_true(sr.is_timestamp(seen.start) and seen.start == 1795428000000)
    assert.equals("2026-11-23T10:00:10.000Z", tostring(seen["end"]))
    e.close()
  end)

  it("a map's schema types its columns; without one the plan's columns are a guess", function()
    local desc = exec.compile(src():map(function(r) return { n = 1 } end, { schema = "n long, at timestamp" })
      :write_stream{ format = "delta", path = "out" })
    assert.same({ { "n", "long" }, { "at", "timestamp" } }, desc.output_schema:columns())
    assert.is_false(desc.output_schema_guessed)
    desc = exec.compile(src():map(function(r) return r end):write_stream{ format = "delta", path = "out" })
    assert.is_true(desc.output_schema_guessed)
    assert.has_error(function() src():map(function(r) return r end, { shema = "x long" }) end,
                     "map: unknown option shema (schema)")
  end)
end)

describe("binary values", function()
  local sr = require "streamrun"
  it("hold bytes and read like the string they were", function()
    local b = sr.binary("a\0b\255")
    assert.equals("binary", sr.typeof(b))
    assert.equals(4, #b)
    assert.equals("a\0b\255", b:bytes())
    assert.equals("a\0b\255", tostring(b))
    assert.is_true(b == "a\0b\255" and b == sr.binary("a\0b\255"))
    assert.is_false(b == "a")
    assert.equals(98, b:byte(3))
    assert.equals("a\0", b:sub(1, 2))
    assert.equals("x" .. "a\0b\255", "x" .. b)
    assert.is_true(sr.binary("a") < sr.binary("b"))
    assert.has_error(function() sr.binary(5) end)
  end)

  it("write as base64 in JSON, pack into state, and are keys by content", function()
    assert.equals('{"b":"AAH/"}', sr.to_json{ b = sr.binary("\0\1\255") })
    local back = core.unpack(core.pack{ b = sr.binary("\0\1\255") })
    assert.is_true(sr.is_binary(back.b) and back.b == "\0\1\255")
    local keys = require "streamrun.ops.keys"
    local intern = {}
    assert.equals(keys.id(sr.binary("xy"), intern), keys.id(sr.binary("xy"), intern))
    assert.are_not.equal(keys.id(sr.binary("xy"), intern), keys.id("xy", intern))
    assert.are_not.equal(core.pack(sr.binary("xy")), core.pack("xy"))
  end)

  it("are made from a source's binary columns where user code sees them", function()
    local sr2, exec = h.fresh()
    local desc = exec.compile(sr2.read_stream{ format = "json", path = "in", schema = "b binary" }
      :map(function(r) return { payload = r.b } end):write_stream{ format = "console" })
    local out = h.run(desc, { { { b = "\1\2" } } })
    assert.is_true(sr2.is_binary(out[1].payload) and out[1].payload == "\1\2")
  end)
end)

describe("a failing user function over typed columns", function()
  it("is diagnosed on the rows as the loop saw them (timestamps, not numbers)", function()
    local sr, exec = h.fresh()
    local q = sr.read_stream{ format = "json", path = "in", schema = "id long, t timestamp" }
      :filter(function(r) return r.id < 2 or math.floor(r.t) > 0 end) -- floor fails on a timestamp
      :write_stream{ format = "console" }
    local ok, err = pcall(h.run, exec.compile(q), { { { id = 1, t = 5 }, { id = 2, t = 6 } } })
    assert.is_false(ok)
    assert.is_true(err.streamrun_user_error)
    assert.matches("in filter", err.message)
    assert.matches('row: {"id":2,"t":"1970-01-01T00:00:00.006Z"}', err.message, 1, true)
  end)
end)
