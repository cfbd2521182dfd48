local testing = require "streamrun.testing"

local function bid(auction, price, at) return { auction = auction, bidder = 7, price = price, dateTime = at } end
local function window(start, stop, auction, bids, volume)
  return { window = { start = start, ["end"] = stop }, auction = auction, bids = bids, volume = volume }
end

describe("late_windows.lua", function()
  local job
  before_each(function() job = testing.load("late_windows.lua") end)
  after_each(function() job:close() end)

  it("writes a window once the watermark passes its end", function()
    job:add{ bids = { bid(1, 10, "2026-01-01T00:00:01Z"), bid(1, 5, "2026-01-01T00:00:04Z"),
                      bid(2, 3, "2026-01-01T00:00:09Z") } }
    assert.same({}, job:output())
    -- 00:00:16 moves the watermark to 00:00:11: the window [00, 10) is final
    job:add{ bids = { bid(1, 1, "2026-01-01T00:00:16Z") } }
    job:assert_output("windows", {
      window("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:10.000Z", 1, 2, 15),
      window("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:10.000Z", 2, 1, 3),
    })
    assert.equal(11000 + 1767225600000, job:watermark())
  end)

  it("counts a late bid while its window is open and drops it once the window is written", function()
    job:add{ bids = { bid(1, 10, "2026-01-01T00:00:12Z") } }
    -- 7 seconds behind the newest bid, past the watermark (00:00:07), but its window is open
    job:add{ bids = { bid(1, 2, "2026-01-01T00:00:05Z") } }
    job:add{ bids = { bid(1, 1, "2026-01-01T00:00:25Z") } } -- watermark 00:00:20: [00, 10) and [10, 20) close
    job:assert_output("windows", {
      window("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:10.000Z", 1, 1, 2),
      window("2026-01-01T00:00:10.000Z", "2026-01-01T00:00:20.000Z", 1, 1, 10),
    })
    local batches = job:add{ bids = { bid(1, 99, "2026-01-01T00:00:03Z") } } -- too late: dropped
    assert.equal(1, batches[1].progress.stateOperators[1].numRowsDroppedByWatermark)
    assert.same({}, batches[1].rows)
    assert.equal("2026-01-01T00:00:20.000Z", batches[1].watermark)
  end)

  it("keeps the open windows in state, and carries them over a restart", function()
    job:add{ bids = { bid(1, 10, "2026-01-01T00:00:01Z"), bid(3, 4, "2026-01-01T00:00:02Z") } }
    local keys = {}
    for _, e in ipairs(job:state("windows", 0)) do
      if type(e.key) == "table" and #e.key == 2 then keys[#keys + 1] = e.key[2] end
    end
    table.sort(keys)
    assert.same({ 1, 3 }, keys)
    job:restart()
    job:add{ bids = { bid(1, 5, "2026-01-01T00:00:30Z") } }
    job:assert_output("windows", {
      window("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:10.000Z", 1, 1, 10),
      window("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:10.000Z", 3, 1, 4),
    })
  end)

  it("is exactly-once: a kill at any commit point of any batch changes nothing", function()
    local r = testing.prove_exactly_once("late_windows.lua", { steps = {
      { bids = { bid(1, 10, "2026-01-01T00:00:01Z"), bid(2, 3, "2026-01-01T00:00:09Z") } },
      { bids = { bid(1, 5, "2026-01-01T00:00:12Z") } },
      { bids = { bid(2, 1, "2026-01-01T00:00:03Z"), bid(1, 1, "2026-01-01T00:00:31Z") } },
    } })
    assert.is_true(r.crashes >= 5 * 3)
  end)
end)
