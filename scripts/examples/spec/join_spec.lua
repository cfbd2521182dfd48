local testing = require "streamrun.testing"

describe("join.lua", function()
  local job
  before_each(function() job = testing.load("join.lua") end)
  after_each(function() job:close() end)

  it("matches a click with an impression of the same ad shown up to a minute before", function()
    job:add{ impressions = { { ad_id = 1, shown_at = "2026-01-01T10:00:00Z" },
                             { ad_id = 2, shown_at = "2026-01-01T10:00:00Z" } } }
    -- both inputs in one batch, and a click whose impression came in an earlier batch
    job:add{ impressions = { { ad_id = 3, shown_at = "2026-01-01T10:00:30Z" } },
             clicks = { { ad_id = 1, clicked_at = "2026-01-01T10:00:40Z", user = "ann" },
                        { ad_id = 3, clicked_at = "2026-01-01T10:00:31Z", user = "bob" },
                        { ad_id = 2, clicked_at = "2026-01-01T10:01:01Z", user = "cid" } } } -- 61 s: too late
    job:assert_output("attributed", {
      { ad_id = 1, user = "ann", shown_at = "2026-01-01T10:00:00.000Z", clicked_at = "2026-01-01T10:00:40.000Z" },
      { ad_id = 3, user = "bob", shown_at = "2026-01-01T10:00:30.000Z", clicked_at = "2026-01-01T10:00:31.000Z" },
    })
  end)

  -- the join's store holds each side's rows under keys "Lr..." and "Rr..." (beside its indexes)
  local function kept_ads(job)
    local ads = {}
    for _, e in ipairs(job:state("attributed", 0)) do
      if e.key:match("^[LR]r") then
        for _, kept in ipairs(e.value) do ads[#ads + 1] = e.key:sub(1, 1) .. kept[1].ad_id end
      end
    end
    table.sort(ads)
    return ads
  end

  it("keeps each side's rows in state until the watermark passes their time range", function()
    job:add{ impressions = { { ad_id = 1, shown_at = "2026-01-01T10:00:00Z" } },
             clicks = { { ad_id = 9, clicked_at = "2026-01-01T10:00:00Z", user = "ann" } } }
    assert.same({ "L1", "R9" }, kept_ads(job))
    job:add{ impressions = { { ad_id = 6, shown_at = "2026-01-01T12:00:00Z" } },
             clicks = { { ad_id = 6, clicked_at = "2026-01-01T12:00:10Z", user = "eve" } } }
    -- the watermark (11:58) has passed 10:00 + 1 minute: ads 1 and 9 can match nothing more
    assert.equal("2026-01-01T11:58:00.000Z", job:last_batch("attributed").watermark)
    assert.same({ "L6", "R6" }, kept_ads(job))
  end)

  it("is exactly-once under a kill at every commit point", function()
    local r = testing.prove_exactly_once("join.lua", { steps = {
      { impressions = { { ad_id = 1, shown_at = "2026-01-01T10:00:00Z" } } },
      { clicks = { { ad_id = 1, clicked_at = "2026-01-01T10:00:20Z", user = "ann" } } },
      { impressions = { { ad_id = 2, shown_at = "2026-01-01T10:05:00Z" } },
        clicks = { { ad_id = 2, clicked_at = "2026-01-01T10:05:01Z", user = "bob" } } },
    } })
    assert.is_true(r.crashes > 0)
  end)
end)
