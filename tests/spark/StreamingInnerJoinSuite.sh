# Spark's StreamingInnerJoinSuite, ported: class StreamingInnerJoinSuite in sql/core/src/test/
# scala/org/apache/spark/sql/streaming/StreamingJoinSuite.scala (apache/spark
# ae1ebe09cfdebdc5646f901343651dcf3b55a6f0).
source "$(dirname "$0")/lib.sh"

spark_case "stream stream inner join on non-time column"
job <<'LUA'
local df1 = spark.memory_stream("input1"):select{ key = "value", leftValue = function(r) return r.value * 2 end }
local df2 = spark.memory_stream("input2"):select{ key = "value", rightValue = function(r) return r.value * 3 end }
spark.test_stream(df1:join(df2, { on = { "key" } }),
  { answer = function(r) return { r.key, r.leftValue, r.rightValue } end })
LUA
add_data input1 1
check_answer
add_data input2 1 10 # 1 arrived on input1 first, then input2, should join
check_new_answer 1,2,3
add_data input1 10 # 10 arrived on input2 first, then input1, should join
check_new_answer 10,20,30
add_data input2 1 # another 1 in input2 should join with 1 input1
check_new_answer 1,2,3
add_data input1 1 # multiple 1s should be kept in state causing multiple (1, 2, 3)
check_new_answer 1,2,3 1,2,3
add_data input1 100
add_data input2 100
check_new_answer 100,200,300

# Spark's windowed inputs: (key, window(timestamp_seconds(value), "10 second"), value * m),
# joined on key and window, answered as (key, window.end cast long, leftValue, rightValue).
windowed_join_job() { # LEFT_WATERMARK (a with_watermark call, or nothing)
  job <<LUA
local function windowed(name, column, m)
  return spark.memory_stream(name):select{ key = "value",
    timestamp = function(r) return r.value * 1000 end,
    [column] = function(r) return r.value * m end }
end
local function window10(r)
  local start = r.timestamp - r.timestamp % 10000
  r.window = { start = start, ["end"] = start + 10000 }
  r.timestamp = nil
  return r
end
local df1 = windowed("input1", "leftValue", 2)$1:map(window10)
local df2 = windowed("input2", "rightValue", 3):map(window10)
spark.test_stream(df1:join(df2, { on = { "key", "window" } }),
  { answer = function(r) return { r.key, spark.sec(r.window["end"]), r.leftValue, r.rightValue } end })
LUA
}

spark_case "stream stream inner join on windows - without watermark"
windowed_join_job ""
add_data input1 1
check_new_answer
add_data input2 1
check_new_answer 1,10,2,3
add_data input1 25
check_new_answer
add_data input2 25
check_new_answer 25,30,50,75
add_data input1 1
check_new_answer 1,10,2,3 # state for 1 still around as there is no watermark
add_data input1 5
check_new_answer
add_data input2 5
check_new_answer 5,10,10,15 # no filter by any watermark

spark_case "stream stream inner join on windows - with watermark"
windowed_join_job ':with_watermark("timestamp", "10 seconds")'
add_data input1 1
check_answer
assert_state_rows 1 1
add_data input2 1
check_answer 1,10,2,3
assert_state_rows 2 1
add_data input1 25
check_new_answer # watermark = 15, no-data-batch should remove 2 rows having window=[0,10]
assert_state_rows 1 1
add_data input2 25
check_new_answer 25,30,50,75
assert_state_rows 2 1
add_data input2 1
check_new_answer # should not join as < 15 removed
assert_state_rows 2 0 # row not add as 1 < state key watermark = 15
add_data input1 5
check_new_answer # same reason as above
assert_state_rows 2 0 1
finish
