# streamrun test (exit codes, busted's options, the default spec/ folder, a job that cannot
# load) and streamrun state (a checkpoint's state as JSON lines, --operator, --batch).
source "$(dirname "$0")/lib.sh"

cat >job.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", name = "words", path = arg[1] or "in", schema = "word string" }
  :group_by("word"):count()
  :write_stream{ format = "memory", queryName = "words", checkpointLocation = "chk",
                 outputMode = "complete", trigger = { availableNow = true } }
LUA
mkdir -p spec
cat >spec/words_spec.lua <<'LUA'
local testing = require "streamrun.testing"
describe("words", function()
  it("passes", function()
    local job = testing.load("job.lua")
    job:add{ words = { { word = "a" }, { word = "b" }, { word = "a" } } }
    -- the aggregation's state: its keys and its aggregates' buffers
    -- (in the partitions their keys hash to, of the default 8)
    assert.same({ { key = { "a" }, value = { 2 }, partition_id = 1 }, { key = { "b" }, value = { 1 }, partition_id = 5 } },
                job:state(nil, 0))
    job:close()
  end)
  it("fails on purpose", function()
    local job = testing.load("job.lua")
    job:add{ words = { { word = "a" } } }
    job:assert_batch(nil, { { word = "a", count = 2 } })
  end)
end)
LUA

run_sr test --filter passes
assert_eq "a passing spec exits 0" 0 "$code"
assert_contains "busted's summary" "$out" "1 success / 0 failures"
pass "streamrun test runs spec/ by default; --filter picks tests"

run_sr test -o TAP spec
assert_eq "a failing spec exits 1" 1 "$code"
assert_contains "TAP" "$out" "not ok 2 - words fails on purpose"
assert_contains "the failure names the query and batch" "$out" "query words, batch 0: the rows differ"
assert_contains "the missing row" "$out" '{"count":2,"word":"a"}'
pass "a failing spec exits 1 with busted's TAP output and the differing rows"

printf 'local x = = 1\n' >broken.lua
cat >spec/broken_spec.lua <<'LUA'
local testing = require "streamrun.testing"
it("loads", function() testing.load("broken.lua") end)
LUA
run_sr test spec/broken_spec.lua
assert_eq "a job that does not load" 1 "$code"
assert_contains "the job's file and line" "$out" "broken.lua:1:"
pass "a job that does not load fails its spec naming the file and line"

cat >refused.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "word string" }
  :group_by("word"):count()
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk2" }
LUA
cat >spec/engine_spec.lua <<'LUA'
local testing = require "streamrun.testing"
it("refuses the plans a start refuses", function() testing.load("refused.lua") end)
it("names the inputs there are", function() testing.load("job.lua"):input("nope") end)
LUA
run_sr test spec/engine_spec.lua
assert_eq "refused plans fail" 1 "$code"
assert_contains "Spark's rule, as a start says it" "$out$err" "refused.lua:3: append output mode is not supported for a streaming aggregation without a watermark"
assert_contains "the inputs" "$out$err" "no input nope (inputs: words = words source 1)"
pass "the job's plan is checked as a start checks it; an unknown input names those there are"

mkdir in
printf '{"word":"a"}\n{"word":"b"}\n{"word":"a"}\n' >in/1.json
run_sr job.lua
assert_eq "the job ran" 0 "$code"
printf '{"word":"c"}\n' >in/2.json
run_sr job.lua
run_sr state chk
assert_eq "state exit" 0 "$code"
assert_eq "the last batch's state" '{"batchId":1,"key":["a"],"operatorId":0,"partition_id":1,"value":[2]}
{"batchId":1,"key":["b"],"operatorId":0,"partition_id":5,"value":[1]}
{"batchId":1,"key":["c"],"operatorId":0,"partition_id":5,"value":[1]}' "$out"
run_sr state chk --batch 0 --operator 0
assert_eq "batch 0's state" '{"batchId":0,"key":["a"],"operatorId":0,"partition_id":1,"value":[2]}
{"batchId":0,"key":["b"],"operatorId":0,"partition_id":5,"value":[1]}' "$out"
pass "streamrun state prints an operator's state after a batch as JSON lines"

run_sr state chk --operator 3
assert_eq "no such operator" 1 "$code"
assert_contains "no such operator" "$err" "has no state of operator 3"
run_sr state chk --batch 7
assert_eq "no such batch" 1 "$code"
assert_contains "no such batch" "$err" "batch 7 is not committed (the last committed batch is 1)"
pass "streamrun state names what is not there"
finish
