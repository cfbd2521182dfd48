local testing = require "streamrun.testing"

-- A Kafka record as the kafka source gives it: the bid as JSON text in `value`.
local function record(offset, json)
  return { topic = "bids", partition = 0, offset = offset, value = json }
end
local function bid(auction, price, second)
  return ('{"auction":%d,"bidder":7,"price":%s,"channel":"web","dateTime":"2026-01-01T10:00:0%dZ"}')
    :format(auction, price, second)
end

for _, query in ipairs { "kafka_bids", "kafka_to_delta" } do
  describe(query .. ".lua", function()
    local job
    -- no broker is contacted: the source reads the records the spec adds
    before_each(function() job = testing.load(query .. ".lua", { args = { "localhost:1", "out" } }) end)
    after_each(function() job:close() end)

    it("parses each record's value into a bid", function()
      job:add{ [query] = { record(0, bid(1, "10.5", 1)), record(1, bid(2, "20", 2)) } }
      job:assert_batch(query, {
        { auction = 1, bidder = 7, price = 10.5, channel = "web", dateTime = "2026-01-01T10:00:01.000Z" },
        { auction = 2, bidder = 7, price = 20, channel = "web", dateTime = "2026-01-01T10:00:02.000Z" },
      })
    end)

    it("sends a value that is not JSON to the bad records, and goes on", function()
      local batches = job:add{ [query] = { record(0, "not json"), record(1, bid(3, "1", 3)) } }
      assert.equal(1, batches[1].progress.numBadRecords)
      assert.equal(1, #batches[1].rows)
    end)
  end)
end

describe("kafka_bids.lua", function()
  it("is exactly-once under a kill at every commit point", function()
    local r = testing.prove_exactly_once("kafka_bids.lua", { args = { "localhost:1" }, steps = {
      { kafka_bids = { record(0, bid(1, "1", 1)) } },
      { kafka_bids = { record(1, bid(2, "2", 2)), record(2, bid(3, "3", 3)) } },
    } })
    assert.is_true(r.crashes > 0)
  end)
end)
