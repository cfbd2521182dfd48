-- Ten batches of 1,000 rows through a windowed aggregation, in the real engine: the figure
-- busted prints for this file is what a spec of that size costs (no timing is asserted).
local testing = require "streamrun.testing"

describe("late_windows.lua at 10 batches of 1,000 rows", function()
  it("counts every bid", function()
    local job = testing.load("late_windows.lua")
    local sr = require "streamrun"
    local base = 1767225600000 -- 2026-01-01T00:00:00Z
    for batch = 0, 9 do
      local rows = {}
      for i = 1, 1000 do
        rows[i] = { auction = i % 10, bidder = i, price = 1,
                    dateTime = sr.timestamp(base + batch * 10000 + i) }
      end
      job:add{ bids = rows }
    end
    local bids = 0
    for _, w in ipairs(job:output("windows")) do bids = bids + w.bids end
    -- batch k's bids fall in window k; the watermark (5 s behind 90.999 s) has closed 8 of them
    assert.equal(8 * 1000, bids)
    job:close()
  end)
end)
