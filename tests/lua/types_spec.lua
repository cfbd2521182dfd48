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
    local q = sr2.read_stream{ format = "json", path = "in" }:drop_duplicates{ "at" }
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
