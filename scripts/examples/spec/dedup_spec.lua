local testing = require "streamrun.testing"

local function click(id, page, at) return { event_id = id, page = page, at = at } end

describe("dedup.lua", function()
  local job
  before_each(function() job = testing.load("dedup.lua") end)
  after_each(function() job:close() end)

  it("counts each event once, in a batch and across batches", function()
    job:add{ clicks = { click("e1", "/home", "2026-01-01T10:00:00Z"), click("e1", "/home", "2026-01-01T10:00:00Z"),
                        click("e2", "/buy", "2026-01-01T10:00:05Z") } }
    job:assert_output("clicks_per_page", { { page = "/home", count = 1 }, { page = "/buy", count = 1 } })
    job:add{ clicks = { click("e2", "/buy", "2026-01-01T10:00:05Z"), click("e3", "/home", "2026-01-01T10:00:20Z") } }
    -- complete mode: the sink holds the whole result after each batch
    job:assert_output("clicks_per_page", { { page = "/home", count = 2 }, { page = "/buy", count = 1 } })
  end)

  it("forgets an event id once the watermark passes it, and drops rows behind the watermark", function()
    job:add{ clicks = { click("e1", "/home", "2026-01-01T10:00:00Z") } }
    -- 10:05 moves the watermark to 10:04: e1 (10:00 + 1 minute) leaves the state
    job:add{ clicks = { click("e9", "/home", "2026-01-01T10:05:00Z") } }
    local ids = {}
    -- operators are numbered from the sink back, as the plan lists them: 1 is the dedup
    for _, e in ipairs(job:state("clicks_per_page", 1)) do ids[#ids + 1] = e.key end
    assert.same({ "e9" }, ids)
    local batches = job:add{ clicks = { click("e1", "/home", "2026-01-01T10:00:00Z") } } -- late: dropped
    assert.equal(1, batches[1].progress.stateOperators[2].numRowsDroppedByWatermark)
    job:assert_output("clicks_per_page", { { page = "/home", count = 2 } })
  end)

  it("is exactly-once under a kill at every commit point", function()
    local r = testing.prove_exactly_once("dedup.lua", { steps = {
      { clicks = { click("e1", "/home", "2026-01-01T10:00:00Z"), click("e1", "/home", "2026-01-01T10:00:00Z") } },
      { clicks = { click("e1", "/home", "2026-01-01T10:00:00Z"), click("e2", "/buy", "2026-01-01T10:03:00Z") } },
    } })
    assert.is_true(r.crashes > 0)
  end)
end)
