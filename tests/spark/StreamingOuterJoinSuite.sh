# Spark's StreamingOuterJoinSuite, ported: class StreamingOuterJoinSuite in sql/core/src/test/
# scala/org/apache/spark/sql/streaming/StreamingJoinSuite.scala (apache/spark
# ae1ebe09cfdebdc5646f901343651dcf3b55a6f0).
source "$(dirname "$0")/lib.sh"

# Spark's setupWindowedJoin: setupStream(prefix, m) is (key = value, <prefix>Time =
# timestamp_seconds(value), <prefix>Value = value * m) with a 10 s watermark on the time;
# each side selects (key, window(time, "10 second"), value); joined on key and window,
# answered as (key, window.end cast long, leftValue, rightValue).
windowed_join_job() { # JOIN_TYPE
  job <<LUA
local function setup_stream(name, prefix, m)
  return spark.memory_stream(name):select{ key = "value",
      [prefix .. "Time"] = function(r) return r.value * 1000 end,
      [prefix .. "Value"] = function(r) return r.value * m end }
    :with_watermark(prefix .. "Time", "10 seconds")
    :map(function(r)
      local t = r[prefix .. "Time"]
      r.window = { start = t - t % 10000, ["end"] = t - t % 10000 + 10000 }
      r[prefix .. "Time"] = nil
      return r
    end)
end
spark.test_stream(setup_stream("left", "left", 2):join(setup_stream("right", "right", 3),
    { on = { "key", "window" }, how = "$1" }),
  { answer = function(r) return { r.key, spark.sec(r.window["end"]), r.leftValue, r.rightValue }, 4 end })
LUA
}

# Spark's setupWindowedJoinWithLeftCondition / ...RightCondition: the windowed sides (the right
# value cast to string) joined on key and window and a condition on one side's value. Spark's
# optimizer finds that the condition reads one side only; in streamrun the job says so (on.left
# or on.right, CONDITION here), which is what lets the join exclude such rows from its state.
conditioned_join_job() { # JOIN_TYPE CONDITION
  job <<LUA
local function setup_stream(name, prefix, m)
  return spark.memory_stream(name):select{ key = "value",
      [prefix .. "Time"] = function(r) return r.value * 1000 end,
      [prefix .. "Value"] = function(r) return r.value * m end }
    :with_watermark(prefix .. "Time", "10 seconds")
    :map(function(r)
      local t = r[prefix .. "Time"]
      r.window = { start = t - t % 10000, ["end"] = t - t % 10000 + 10000 }
      r[prefix .. "Time"] = nil
      return r
    end)
end
local right = setup_stream("right", "right", 3)
  :map(function(r) r.rightValue = tostring(r.rightValue); return r end)
spark.test_stream(setup_stream("left", "left", 2):join(right,
    { on = { "key", "window", $2 }, how = "$1" }),
  { answer = function(r) return { r.key, spark.sec(r.window["end"]), r.leftValue, r.rightValue }, 4 end })
LUA
}
left_value_over_4='left = function(l) return l.leftValue > 4 end'
right_value_over_7='right = function(r) return tonumber(r.rightValue) > 7 end'

spark_case "left outer early state exclusion on left"
conditioned_join_job left "$left_value_over_4"
add_data left 1 2 3; add_data right 3 4 5
# the left rows with leftValue <= 4 should generate their outer join row now and not get added
# to the state
check_new_answer 3,10,6,9 1,10,2,null 2,10,4,null
assert_state_rows 4 4
# we shouldn't get more outer join rows when the watermark advances
add_data left 20; add_data right 21
check_new_answer
add_data right 20
check_new_answer 20,30,40,60

spark_case "left outer early state exclusion on right"
conditioned_join_job left "$right_value_over_7"
add_data left 3 4 5; add_data right 1 2 3
# the right rows with rightValue <= 7 should never be added to the state
check_new_answer 3,10,6,9 # rightValue = 9 > 7 hence joined and added to state
assert_state_rows 4 4
# when the watermark advances, we get the outer join rows just as we would if they were added
# but didn't match the full join condition
add_data left 20; add_data right 21 # watermark = 10, no-data-batch computes nulls
check_new_answer 4,10,8,null 5,10,10,null
add_data right 20
check_new_answer 20,30,40,60

spark_case "right outer early state exclusion on left"
conditioned_join_job right "$left_value_over_4"
add_data left 1 2 3; add_data right 3 4 5
# the left rows with leftValue <= 4 should never be added to the state
check_new_answer 3,10,6,9 # leftValue = 7 > 4 hence joined and added to state
assert_state_rows 4 4
# when the watermark advances, we get the outer join rows just as we would if they were added
# but didn't match the full join condition
add_data left 20; add_data right 21 # watermark = 10, no-data-batch computes nulls
check_new_answer 4,10,null,12 5,10,null,15
add_data right 20
check_new_answer 20,30,40,60

spark_case "right outer early state exclusion on right"
conditioned_join_job right "$right_value_over_7"
add_data left 3 4 5; add_data right 1 2 3
# the right rows with rightValue <= 7 should generate their outer join row now and not get
# added to the state
check_new_answer 3,10,6,9 1,10,null,3 2,10,null,6
assert_state_rows 4 4
# we shouldn't get more outer join rows when the watermark advances
add_data left 20; add_data right 21
check_new_answer
add_data right 20
check_new_answer 20,30,40,60

spark_case "left outer join with non-key condition violated"
# when the join condition isn't true, the outer null rows must be generated, even if the join
# keys themselves have a match. Spark's condition leftValue > 10 AND (rightValue < 300 OR
# rightValue > 1000) is a left-only and a right-only predicate: on.left and on.right
job <<'LUA'
local function setup_stream(name, prefix, m)
  return spark.memory_stream(name):select{ key = "value",
      [prefix .. "Time"] = function(r) return r.value * 1000 end,
      [prefix .. "Value"] = function(r) return r.value * m end }
    :with_watermark(prefix .. "Time", "10 seconds")
    :map(function(r)
      local t = r[prefix .. "Time"]
      r.window = { start = t - t % 10000, ["end"] = t - t % 10000 + 10000 }
      r[prefix .. "Time"] = nil
      return r
    end)
end
spark.test_stream(setup_stream("left", "left", 2):join(setup_stream("right", "right", 3),
    { on = { "key", "window", left = function(l) return l.leftValue > 10 end,
             right = function(r) return r.rightValue < 300 or r.rightValue > 1000 end }, how = "left" }),
  { answer = function(r) return { r.key, spark.sec(r.window["end"]), r.leftValue, r.rightValue }, 4 end })
LUA
# leftValue <= 10 should generate outer join rows even though it matches right keys
add_data left 1 2 3; add_data right 1 2 3
check_new_answer 1,10,2,null 2,10,4,null 3,10,6,null
assert_state_rows 3 3 # only right 1, 2, 3 added
add_data left 20; add_data right 21 # watermark = 10, no-data-batch cleared < 10
check_new_answer
assert_state_rows 2 2 # only 20 and 21 left in state
add_data right 20
check_new_answer 20,30,40,60
assert_state_rows 3 1
# leftValue and rightValue both satisfying condition should not generate outer join rows
add_data left 40 41; add_data right 40 41 # watermark = 31
check_new_answer 40,50,80,120 41,50,82,123
assert_state_rows 4 4 # only left 40, 41 + right 40,41 left in state
add_data left 70; add_data right 71 # watermark = 60
check_new_answer
assert_state_rows 2 2 # only 70, 71 left in state
add_data right 70
check_new_answer 70,80,140,210
assert_state_rows 3 1
# rightValue between 300 and 1000 should generate outer join rows even though it matches left
add_data left 101 102 103; add_data right 101 102 103 # watermark = 91
check_new_answer
assert_state_rows 6 3 # only 101 - 103 left in state
add_data left 1000; add_data right 1001
check_new_answer 101,110,202,null 102,110,204,null 103,110,206,null
assert_state_rows 2 2

spark_case "windowed left outer join"
windowed_join_job left
# test inner part of the join
add_data left 1 2 3 4 5; add_data right 3 4 5 6 7
check_new_answer 3,10,6,9 4,10,8,12 5,10,10,15
add_data left 21; add_data right 22 # watermark = 11, no-data-batch computes nulls
check_new_answer 1,10,2,null 2,10,4,null
assert_state_rows 2 12
add_data left 22
check_new_answer 22,30,44,66
assert_state_rows 3 1

spark_case "windowed right outer join"
windowed_join_job right
# test inner part of the join
add_data left 1 2 3 4 5; add_data right 3 4 5 6 7
check_new_answer 3,10,6,9 4,10,8,12 5,10,10,15
add_data left 21; add_data right 22 # watermark = 11, no-data-batch computes nulls
check_new_answer 6,10,null,18 7,10,null,21
assert_state_rows 2 12
add_data left 22
check_new_answer 22,30,44,66
assert_state_rows 3 1

# Spark's setupJoinWithRangeCondition: (leftKey, leftTime, leftValue = leftKey * 2) and
# (rightKey, rightTime, rightValue = rightKey * 3), watermark 10 s on each time, joined on
# leftKey = rightKey AND leftTime BETWEEN rightTime - 5 s AND rightTime + 5 s, answered as
# (leftKey, rightKey, leftTime cast int, rightTime cast int). The keys are joined as a column
# `key` both sides carry beside leftKey and rightKey.
range_join_job() { # JOIN_TYPE
  job <<LUA
local function side(name, prefix, m)
  return spark.memory_stream(name, "_1 long, _2 long"):select{
      key = "_1", [prefix .. "Key"] = "_1",
      [prefix .. "Time"] = function(r) return r._2 * 1000 end,
      [prefix .. "Value"] = function(r) return r._1 * m end }
    :with_watermark(prefix .. "Time", "10 seconds")
end
spark.test_stream(side("left", "left", 2):join(side("right", "right", 3), { on = { "key" }, how = "$1",
    time_range = { left = "leftTime", right = "rightTime", lower = "-5 seconds", upper = "5 seconds" } }),
  { answer = function(r)
      return { r.leftKey, r.rightKey, spark.sec(r.leftTime), spark.sec(r.rightTime) }, 4
    end })
LUA
}

spark_case "left outer with watermark range condition"
range_join_job left
add_tuples left 1,5 3,5
check_answer
add_tuples right 1,10 2,5
check_new_answer 1,1,5,10
add_tuples right 1,11
check_new_answer # no match as left time is too low
assert_state_rows 5 5
# increase event time watermark to 20s by adding data with time = 30s on both inputs
add_tuples left 1,7 1,30
check_new_answer 1,1,7,10 1,1,7,11
assert_state_rows 7 2
add_tuples right 0,30 # watermark = 30 - 10 = 20, no-data-batch computes nulls
check_new_answer 3,null,5,null
assert_state_rows 2 1

spark_case "right outer with watermark range condition"
range_join_job right
add_tuples left 1,5 3,5
check_answer
add_tuples right 1,10 2,5
check_new_answer 1,1,5,10
add_tuples right 1,11
check_new_answer # no match as left time is too low
assert_state_rows 5 5
add_tuples left 1,7 1,30
check_new_answer 1,1,7,10 1,1,7,11
assert_state_rows 7 2
add_tuples right 0,30 # watermark = 30 - 10 = 20, no-data-batch computes nulls
check_new_answer null,2,null,5
assert_state_rows 2 1

spark_case "SPARK-26187 self left outer join should not return outer nulls for already matched rows"
# Spark's setupSelfJoin: one input read as both sides; the right side keeps even values;
# leftId = rightId AND leftTime <= rightTime <= leftTime + 5 s, watermarks 5 s
job <<'LUA'
local function df()
  return spark.memory_stream("in", "_1 long, _2 long")
    :select{ value = "_1", timestamp = function(r) return r._2 * 1000 end }
end
local left = df():select{ id = "value", leftId = "value", leftTime = "timestamp" }
  :with_watermark("leftTime", "5 seconds")
local right = df():filter(function(r) return r.value % 2 == 0 end)
  :select{ id = "value", rightId = "value", rightTime = "timestamp" }
  :with_watermark("rightTime", "5 seconds")
spark.test_stream(left:join(right, { on = { "id" }, how = "left",
    time_range = { left = "leftTime", right = "rightTime", lower = "0 seconds", upper = "5 seconds" } }),
  { answer = function(r)
      return { r.leftId, spark.sec(r.leftTime), r.rightId, spark.sec(r.rightTime) }, 4
    end })
LUA
add_tuples in 1,1 2,2 3,3 4,4 5,5
# batch 1 - global watermark = 0; states left: 1..5, right: 2, 4
check_new_answer 2,2,2,2 4,4,4,4
assert_state_rows 7 7
add_tuples in 6,6 7,7 8,8 9,9 10,10
# batch 2 - global watermark = 5; right (2, 2L), (4, 4L) evicted, properly joined in batch 1
check_new_answer 6,6,6,6 8,8,8,8 10,10,10,10
assert_state_rows 13 8
add_tuples in 11,11 12,12 13,13 14,14 15,15
# batch 3 - global watermark = 9; left (1, 1L), (2, 2L), (3, 3L) evicted, right (6, 6L), (8, 8L)
check_new_answer 12,12,12,12 14,14,14,14 1,1,null,null 3,3,null,null
assert_state_rows 15 7
finish
