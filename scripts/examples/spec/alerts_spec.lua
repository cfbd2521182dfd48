local testing = require "streamrun.testing"

-- A copy of alerts.lua with its text changed (the file as a user would edit it).
local function edited(from, to)
  local f = assert(io.open("alerts.lua"))
  local text = f:read("*a")
  f:close()
  local changed, n = text:gsub(from, to)
  assert(n == 1, "the edit did not apply: " .. from)
  local path = os.tmpname()
  f = assert(io.open(path, "w"))
  f:write(changed)
  f:close()
  return path
end

describe("alerts.lua", function()
  local job, copies
  before_each(function() job, copies = testing.load("alerts.lua"), {} end)
  after_each(function()
    job:close()
    for _, p in ipairs(copies) do os.remove(p) end
  end)

  it("counts the payments over the threshold per account", function()
    job:add{ payments = { { account = "x", amount = 1500 }, { account = "x", amount = 20 },
                          { account = "y", amount = 1000 }, { account = "y", amount = 3000 } } }
    job:assert_output("alerts", { { account = "x", alerts = 1, largest = 1500 },
                                  { account = "y", alerts = 1, largest = 3000 } })
  end)

  it("takes a new threshold at a reload, the counts going on from the state", function()
    job:add{ payments = { { account = "x", amount = 1500 }, { account = "x", amount = 600 } } }
    copies[1] = edited("THRESHOLD = 1000", "THRESHOLD = 500")
    job:reload(copies[1])
    job:add{ payments = { { account = "x", amount = 700 } } }
    job:assert_output("alerts", { { account = "x", alerts = 2, largest = 1500 } })
    assert.equal(1, job:last_batch("alerts").id) -- batch ids go on: the checkpoint is the same
  end)

  it("refuses a reload the checkpoint cannot carry, saying why", function()
    job:add{ payments = { { account = "x", amount = 1500 } } }
    copies[1] = edited('group_by%("account"%)', 'group_by("amount")')
    local ok, err = pcall(job.reload, job, copies[1])
    assert.is_false(ok)
    assert.matches("cannot carry that change", err)
    assert.matches("aggregate%[account%]", err)
    -- the version before goes on, from where it was
    job:add{ payments = { { account = "x", amount = 2000 } } }
    job:assert_output("alerts", { { account = "x", alerts = 2, largest = 2000 } })
  end)

  it("is exactly-once under a kill at every commit point", function()
    local r = testing.prove_exactly_once("alerts.lua", { steps = {
      { payments = { { account = "x", amount = 1500 } } },
      { payments = { { account = "x", amount = 2500 }, { account = "y", amount = 5 } } },
    } })
    assert.is_true(r.crashes > 0)
  end)
end)
