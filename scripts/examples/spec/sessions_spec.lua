local testing = require "streamrun.testing"

describe("sessions.lua", function()
  local job
  before_each(function() job = testing.load("sessions.lua") end)
  after_each(function() job:close() end)

  it("closes a session after 30 seconds of processing time without events, without sleeping", function()
    job:set_clock(1000)
    job:add{ events = { { user = "a", amount = 1 }, { user = "a", amount = 2 }, { user = "b", amount = 5 } } }
    job:advance("20 seconds")
    job:add{ events = { { user = "b", amount = 1 } } } -- b's timeout starts again
    assert.same({}, job:output())
    job:advance("11 seconds") -- 32 s: a's 30 seconds are up, b's are not
    job:process_all_available()
    job:assert_output("sessions", { { user = "a", events = 2, total = 3 } })
    local state = job:state("sessions", 0)
    assert.equal(1, #state)
    job:advance("1 minute")
    job:process_all_available()
    job:assert_output("sessions", { { user = "a", events = 2, total = 3 }, { user = "b", events = 2, total = 6 } })
    assert.same({}, job:state("sessions", 0))
  end)

  it("keeps sessions and their timeouts over a restart", function()
    job:add{ events = { { user = "a", amount = 4 } } }
    job:restart()
    job:advance("31 seconds")
    job:process_all_available()
    job:assert_output("sessions", { { user = "a", events = 1, total = 4 } })
  end)

  it("is exactly-once under a kill at every commit point", function()
    local r = testing.prove_exactly_once("sessions.lua", { steps = {
      { events = { { user = "a", amount = 1 }, { user = "b", amount = 2 } } },
      { events = { { user = "a", amount = 3 } }, advance = "20 seconds" },
      { advance = "15 seconds" },
      { events = { { user = "b", amount = 1 } }, advance = "40 seconds" },
    } })
    assert.is_true(r.crashes > 0)
  end)
end)
