-- The plan checks: what Spark refuses is refused, with the reason and the job line.
local h = require "helpers"

describe("plan checks", function()
  local sr, exec
  before_each(function() sr, exec = h.fresh() end)

  local function src() return h.stream(sr, "in") end
  local function compile_err(q)
    local ok, err = pcall(exec.compile, q)
    assert.is_false(ok)
    return err
  end

  it("refuses sort on a stream, naming the job line", function()
    local q = src():sort("price"):write_stream{ format = "console" }
    local err = compile_err(q)
    assert.matches("plan_spec.lua:%d+: sort is not supported on a stream", err)
  end)

  it("refuses limit on a stream", function()
    local q = src():limit(10):write_stream{ format = "console" }
    assert.matches("limit is not supported on a stream", compile_err(q))
  end)

  it("refuses complete mode without an aggregation", function()
    local q = src():write_stream{ format = "console", outputMode = "complete" }
    assert.matches("complete output mode needs an aggregation", compile_err(q))
  end)

  it("refuses append on an aggregation without a watermark", function()
    local q = src():group_by("auction"):count():write_stream{ format = "console" }
    assert.matches("append output mode is not supported for a streaming aggregation without a watermark",
                   compile_err(q))
  end)

  it("accepts append on a windowed aggregation with a watermark", function()
    local q = src():with_watermark("dateTime", "4 seconds")
      :group_by(sr.window("dateTime", "10 seconds"), "auction")
      :agg{ bids = sr.count() }
      :write_stream{ format = "console" }
    assert.is_true(require("streamrun.plan").check(q))
  end)

  it("refuses update with session windows", function()
    local q = src():with_watermark("t", "1 second")
      :group_by(sr.session_window("t", "5 seconds")):count()
      :write_stream{ format = "console", outputMode = "update" }
    assert.matches("update output mode is not supported with session windows", compile_err(q))
  end)

  it("refuses an unknown output mode", function()
    local q = src():write_stream{ format = "console", outputMode = "upsert" }
    assert.matches("outputMode must be append, update or complete", compile_err(q))
  end)

  it("warns when drop_duplicates has no watermark", function()
    local q = src():drop_duplicates{ "id" }:write_stream{ format = "console" }
    local w = require("streamrun.plan").warnings(q)
    assert.equals(1, #w)
    assert.matches("state grows without bound", w[1])
  end)

  it("rejects bad arguments where they are written", function()
    assert.has_error(function() src():map(42) end, "map expects a function, got number")
    local ok, err = pcall(function() sr.read_stream{ path = "x" } end)
    assert.is_false(ok)
    assert.matches("plan_spec.lua:%d+: read_stream: `format` is required", err)
  end)

  it("parses triggers", function()
    local function trig(t)
      local d = exec.compile(src():write_stream{ format = "console", trigger = t })
      return d.trigger_kind, d.trigger_ms
    end
    assert.same({ "processingTime", 500 }, { trig(nil) })
    assert.same({ "processingTime", 1000 }, { trig("1 second") })
    assert.same({ "processingTime", 2000 }, { trig({ processingTime = "2 seconds" }) })
    assert.same({ "once", 0 }, { trig({ once = true }) })
    assert.same({ "availableNow", 0 }, { trig({ availableNow = true }) })
    assert.has_error(function() trig("soon") end)
  end)

  it("flattens options to text for the C option tables", function()
    local d = exec.compile(sr.read_stream{ format = "json", path = "in", maxFilesPerTrigger = 3,
                                           latestFirst = true, schema = "id long" }
      :write_stream{ format = "json", path = "out", checkpointLocation = "chk" })
    assert.same({ path = "in", maxFilesPerTrigger = "3", latestFirst = "true" }, d.sources[1].options)
    assert.same({ path = "out" }, d.sink.options)
    assert.equals("chk", d.checkpoint)
  end)

  it("describes the plan sink first", function()
    local d = exec.compile(src():filter(function() return true end)
      :write_stream{ format = "console", queryName = "q" })
    assert.matches("^Query q: sink console %(append%)\n  %+%- Filter", d.plan_text)
    assert.matches("Source json in", d.plan_text)
  end)
end)
