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
# Spark's (leftKey, time) and (rightKey, time) inputs, timestamp_seconds(time) as leftTime and
# rightTime, leftValue = leftKey * 2, rightValue = rightKey * 3; keyed by a column `key` both
# sides carry; answered as (leftKey, leftTime cast int, rightTime cast int).
range_join_job() { # LEFT_DELAY RIGHT_DELAY LOWER UPPER
  job <<LUA
local function side(name, prefix, m, delay)
  return spark.memory_stream(name, "_1 long, _2 long"):select{
      key = "_1", [prefix .. "Key"] = "_1",
      [prefix .. "Time"] = function(r) return r._2 * 1000 end,
      [prefix .. "Value"] = function(r) return r._1 * m end }
    :with_watermark(prefix .. "Time", delay)
end
spark.test_stream(side("left", "left", 2, "$1"):join(side("right", "right", 3, "$2"), { on = { "key" },
    time_range = { left = "leftTime", right = "rightTime", lower = $3, upper = $4 } }),
  { answer = function(r) return { r.leftKey, spark.sec(r.leftTime), spark.sec(r.rightTime) } end })
LUA
}

spark_case "stream stream inner join with time range - with watermark - one side condition"
# leftKey = rightKey AND leftTime < rightTime - 5 seconds: rightTime >= leftTime + 5.001 s, with
# no upper bound (a bound no time reaches)
range_join_job "10 seconds" "10 seconds" 5001 1e15
add_tuples left 1,5
check_answer
add_tuples right 1,11
check_new_answer 1,5,11
add_tuples right 1,10
check_new_answer # no match as leftTime 5 is not < rightTime 10 - 5
assert_state_rows 3 3
# increase event time watermark to 20s by adding data with time = 30s on both inputs
add_tuples left 1,3 1,30
check_new_answer 1,3,10 1,3,11
assert_state_rows 5 2
add_tuples right 0,30
check_new_answer
# event time watermark: max event time - 10 ==> 30 - 10 = 20, so left side going to only
# receive data where leftTime > 20; right side state constraint: 20 < leftTime < rightTime - 5
# ==> rightTime > 25; right state where rightTime <= 25 will be cleared, (1, 11) and (1, 10)
assert_state_rows 4 1
# new data to right input should match with left side (1, 3) and (1, 5), as left state should
# not be cleared. But rows rightTime <= 20 should be filtered due to event time watermark and
# state rows with rightTime <= 25 should be removed from state.
# (1, 20) ==> filtered by event time watermark = 20
# (1, 21) ==> passed filter, matched with left (1, 3) and (1, 5), not added to state as 21 <
#             state watermark = 25
# (1, 28) ==> passed filter, matched with left (1, 3) and (1, 5), added to state
add_tuples right 1,20 1,21 1,28
check_new_answer 1,3,21 1,5,21 1,3,28 1,5,28
assert_state_rows 5 1 1
# new data to left input with leftTime <= 20 should be filtered due to event time watermark
add_tuples left 1,20 1,21
check_new_answer 1,21,28
assert_state_rows 6 1 1

spark_case "stream stream inner join with time range - with watermark - two side conditions"
# leftTime BETWEEN rightTime - 10 seconds AND rightTime + 5 seconds: rightTime within
# [leftTime - 5 s, leftTime + 10 s]; watermarks 20 s (left) and 30 s (right)
range_join_job "20 seconds" "30 seconds" '"-5 seconds"' '"10 seconds"'
# if leftTime = 20, then it match only with rightTime = [15, 30]
add_tuples left 1,20
check_answer
add_tuples right 1,14 1,15 1,25 1,26 1,30 1,31
check_new_answer 1,20,15 1,20,25 1,20,26 1,20,30
assert_state_rows 7 7
# if rightTime = 60, then it matches only leftTime = [50, 65]
add_tuples right 1,60
check_new_answer # matches with nothing on the left
add_tuples left 1,49 1,50 1,65 1,66
check_new_answer 1,50,60 1,65,60
# event time watermark = min(left: 66 - delay 20 = 46, right: 60 - delay 30 = 30) = 30; left
# state value watermark = 30 - 10 = slightly less than 20: should drop < 20 from left, i.e.,
# none; right state value watermark = 30 - 5 = slightly less than 25: should drop < 25 from the
# right, i.e., 14 and 15
assert_state_rows 10 5 # 12 - 2 removed
add_tuples left 1,30 1,31 # 30 should not be processed or added to state
check_new_answer 1,31,26 1,31,30 1,31,31
assert_state_rows 11 1 1 # only 31 added
# advance the watermark
add_tuples right 1,80
check_new_answer
# event time watermark = min(left: 66 - delay 20 = 46, right: 80 - delay 30 = 50) = 46; left
# state value watermark = 46 - 10 = slightly less than 36: should drop < 36 from left, i.e., 20,
# 31 (30 was not added); right state value watermark = 46 - 5 = slightly less than 41: should
# drop < 41 from the right, i.e., 25, 26, 30, 31
assert_state_rows 6 1 # 12 - 6 removed
add_tuples right 1,46 1,50 # 46 should not be processed or added to state
check_new_answer 1,49,50 1,50,50
assert_state_rows 7 1 1 # 50 added

spark_case "stream stream inner join without equality predicate"
# Spark refuses a stream-stream join without an equality predicate. streamrun differs on
# purpose: JOB-API lets `on` be fn(left, right), a condition tested on every pair of rows (the
# plan warns that such state is unbounded); the query runs
job <<'LUA'
local df1 = spark.memory_stream("input1"):select{ leftKey = "value", leftValue = function(r) return r.value * 2 end }
local df2 = spark.memory_stream("input2"):select{ rightKey = "value", rightValue = function(r) return r.value * 3 end }
spark.test_stream(df1:join(df2, { on = function(l, r) return l.leftKey < r.rightKey end }),
  { answer = function(r) return { r.leftKey, r.leftValue, r.rightKey, r.rightValue } end })
LUA
add_data input1 1
check_new_answer
add_data input2 2
check_new_answer 1,2,2,6

spark_case "stream stream self join"
job <<'LUA'
local function df()
  return spark.memory_stream("in"):select{ key = function(r) return r.value % 5 end, "value" }
end
spark.test_stream(df():join(df(), { on = { "key" } }),
  { answer = function(r) return { r.key, r.value, r.right_value } end })
LUA
add_data in 1 2
check_answer 1,1,1 2,2,2
add_data in 3 6
check_answer 3,3,3 1,1,1 1,1,6 2,2,2 1,6,1 1,6,6

spark_case "join between three streams"
job <<'LUA'
local df1 = spark.memory_stream("input1"):select{ leftKey = "value", leftValue = function(r) return r.value * 2 end }
local df2 = spark.memory_stream("input2"):select{ middleKey = "value", middleValue = function(r) return r.value * 3 end }
local df3 = spark.memory_stream("input3"):select{ rightKey = "value", rightValue = function(r) return r.value * 5 end }
local function keyed(df, column) return df:map(function(r) r.k = r[column]; return r end) end
spark.test_stream(keyed(keyed(df1, "leftKey"):join(keyed(df2, "middleKey"), { on = { "k" } }), "middleKey")
    :join(keyed(df3, "rightKey"), { on = { "k" } }),
  { answer = function(r)
      return { r.leftKey, r.leftValue, r.middleKey, r.middleValue, r.rightKey, r.rightValue }
    end })
LUA
add_data input1 1 5
add_data input2 1 5 10
add_data input3 5 10
check_new_answer 5,10,5,15,5,25

spark_case "SPARK-35896: metrics in StateOperatorProgress are output correctly"
windowed_join_job ':with_watermark("timestamp", "10 seconds")'
add_data input1 1
check_answer
assert_state_rows 1 1 0 0
add_data input2 1
check_answer 1,10,2,3
assert_state_rows 2 1 0 0
add_data input1 25
check_new_answer # watermark = 15, no-data-batch should remove 2 rows having window=[0,10]
assert_state_rows 1 1 0 2
add_data input2 25
check_new_answer 25,30,50,75
assert_state_rows 2 1 0 0
finish
