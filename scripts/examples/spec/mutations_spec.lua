-- The harness catches bugs: an example's own spec, run unchanged against a mutated copy of its
-- job (a wrong window, a changed threshold, a dropped filter or dedup), fails, and says how the
-- output differs. Each case copies the job and its spec to a folder of its own, edits the job
-- and runs `streamrun test` there.
local testing = require "streamrun.testing"
local driver = require "streamrun.test_driver"

local bin = os.getenv("SR_BIN") or "streamrun"

local function read(path)
  local f = assert(io.open(path))
  local text = f:read("*a")
  f:close()
  return text
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- Runs spec/<name>_spec.lua (only the tests matching filter) against <name>.lua edited from ->
-- to. Returns the exit status and busted's TAP output.
local function run_mutant(name, from, to, filter)
  local dir = driver.tmpdir()
  local job, n = read(name .. ".lua"):gsub(from, to)
  assert(n == 1, "the mutation did not apply: " .. from)
  os.execute("mkdir -p '" .. dir .. "/spec'")
  write(dir .. "/" .. name .. ".lua", job)
  write(dir .. "/spec/" .. name .. "_spec.lua", read("spec/" .. name .. "_spec.lua"))
  local p = io.popen(("cd '%s' && '%s' test -o TAP --filter '%s' 2>&1; echo \"exit $?\"")
    :format(dir, bin, filter))
  local out = p:read("*a")
  p:close()
  os.execute("rm -rf '" .. dir .. "'")
  return tonumber(out:match("exit (%d+)%s*$")), out
end

describe("a mutated example job fails its own spec", function()
  it("with a wrong window: the windows differ, batch and rows named", function()
    local code, out = run_mutant("late_windows", '"10 seconds"', '"5 seconds"', "writes a window once")
    assert.equal(1, code)
    assert.matches("not ok 1 %- late_windows.lua writes a window once", out)
    assert.matches("query windows, sink content after batch %d+: the rows differ %(compared as a multiset%)", out)
    assert.matches('missing: expected, not in the output %(2%):\n#?%s*{"auction":1,"bids":2,', out)
    assert.matches('extra: in the output, not expected %(2%)', out)
    assert.matches('"window":{"end":"2026%-01%-01T00:00:05.000Z","start":"2026%-01%-01T00:00:00.000Z"}', out)
  end)

  it("with a changed threshold: the counts differ", function()
    local code, out = run_mutant("alerts", "THRESHOLD = 1000", "THRESHOLD = 100", "counts the payments")
    assert.equal(1, code)
    assert.matches('missing: expected, not in the output %(1%):\n#?%s*{"account":"y","alerts":1,"largest":3000}', out)
    assert.matches('extra: in the output, not expected %(1%):\n#?%s*{"account":"y","alerts":2,"largest":3000}', out)
  end)

  it("with a dropped filter: every payment is an alert", function()
    local code, out = run_mutant("alerts", ":filter%(function%(p%) return p.amount > THRESHOLD end%)", "",
                                 "counts the payments")
    assert.equal(1, code)
    assert.matches('extra: in the output, not expected %(2%)', out)
    assert.matches('{"account":"x","alerts":2,"largest":1500}', out)
  end)

  it("with a dropped dedup: a duplicate is counted twice", function()
    local code, out = run_mutant("dedup", ':drop_duplicates_within_watermark{ "event_id" }', "",
                                 "counts each event once")
    assert.equal(1, code)
    assert.matches('extra: in the output, not expected %(1%):\n#?%s*{"count":2,"page":"/home"}', out)
  end)
end)

describe("testing.diff_rows", function()
  it("compares rows as a multiset unless order is asked for", function()
    assert.is_nil(testing.diff_rows({ { a = 1 }, { a = 2 } }, { { a = 2 }, { a = 1 } }))
    assert.matches("row 1 differs", testing.diff_rows({ { a = 1 }, { a = 2 } }, { { a = 2 }, { a = 1 } },
                                                      { ordered = true }))
  end)
end)
