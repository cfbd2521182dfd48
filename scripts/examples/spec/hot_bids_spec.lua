local testing = require "streamrun.testing"

local function bid(auction, price, at)
  return { auction = auction, bidder = 1, price = price, channel = "web", dateTime = at }
end

describe("hot_bids.lua", function()
  local job
  before_each(function() job = testing.load("hot_bids.lua", { args = { "in", "out" } }) end)
  after_each(function() job:close() end)

  it("keeps the bids over 5000 with their price in euros", function()
    -- both queries read the same read_stream: an input named by its query feeds that query only
    job:input("hot_bids"):add{ bid(1, 6000, "2026-01-01T00:00:00.100Z"), bid(2, 100, "2026-01-01T00:00:00.200Z") }
    local batches = job:process_all_available()
    assert.equal(1, #batches)
    job:assert_batch("hot_bids", { { auction = 1, bidder = 1, price = 6000, price_eur = 5448,
                                     dateTime = "2026-01-01T00:00:00.100Z" } })
  end)

  it("writes each 1-second window once the watermark has passed it", function()
    job:input("windows"):add{ bid(1, 10, "2026-01-01T00:00:00.100Z"), bid(1, 30, "2026-01-01T00:00:00.900Z") }
    job:input("windows"):add{ bid(2, 5, "2026-01-01T00:00:01.500Z") }
    job:process_all_available()
    job:assert_output("windows", { { auction = 1, bids = 2, top = 30,
      window = { start = "2026-01-01T00:00:00.000Z", ["end"] = "2026-01-01T00:00:01.000Z" } } })
  end)
end)
