local testing = require "streamrun.testing"

-- The README's hot-reload walk-through, as a spec: change the filter, and the next batch uses it.
describe("live.lua", function()
  local job, copy
  before_each(function() job = testing.load("live.lua") end)
  after_each(function()
    job:close()
    if copy then os.remove(copy) end
  end)

  it("keeps the bids over 5000, then over 100 after an edit of the filter", function()
    local rows = { { auction = 1, price = 6000, dateTime = "2026-01-01T10:00:00Z" },
                   { auction = 2, price = 200, dateTime = "2026-01-01T10:00:01Z" } }
    job:add{ live = rows }
    job:assert_batch("live", { { auction = 1, price = 6000, dateTime = "2026-01-01T10:00:00.000Z" } })
    local f = assert(io.open("live.lua"))
    local text = f:read("*a"):gsub("r.price > 5000", "r.price > 100")
    f:close()
    copy = os.tmpname()
    f = assert(io.open(copy, "w"))
    f:write(text)
    f:close()
    job:reload(copy)
    job:add{ live = rows }
    job:assert_batch("live", { { auction = 1, price = 6000, dateTime = "2026-01-01T10:00:00.000Z" },
                               { auction = 2, price = 200, dateTime = "2026-01-01T10:00:01.000Z" } })
  end)
end)
