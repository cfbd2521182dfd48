# Spark's FlatMapGroupsWithStateSuite, ported: sql/core/src/test/scala/org/apache/spark/sql/
# streaming/FlatMapGroupsWithStateSuite.scala (apache/spark, the revision that counts a removed
# state in numRowsRemoved: `removed = Some(Seq(1))`; older ones counted it as updated).
# flatMapGroupsWithState and mapGroupsWithState are process_with_state, whose function returns
# the key's output rows. Spark runs each under both state format versions; streamrun has one.
source "$(dirname "$0")/lib.sh"

# The suite's running count up to 2: at 3 the state is removed (REMOVED_ROW: what it then
# returns, or nothing); otherwise (key, count as text).
running_count_job() { # OUTPUT_MODE REMOVED_ROW [AFTER]
  job <<LUA
spark.test_stream(spark.memory_stream("in", "value string")
    :group_by("value")
    :process_with_state{ fn = function(key, rows, state)
      local count = (state:get() or 0) + #rows
      if count == 3 then
        state:remove()
        return { $2 }
      end
      state:update(count)
      return { { key = key, count = tostring(count) } }
    end }${3:-},
  { outputMode = "$1", answer = function(r) return { r.key, r.count } end })
LUA
}

spark_case "flatMapGroupsWithState - streaming"
running_count_job update ""
add_data in a
check_new_answer a,1
assert_state_rows 1 1
add_data in a b
check_new_answer a,2 b,1
assert_state_rows 2 2
add_data in a b # should remove state for "a" and not return anything for a
check_new_answer b,2
assert_state_rows 1 1 0 1
add_data in a c # should recreate state for "a" and return count as 1 and
check_new_answer a,1 c,1
assert_state_rows 3 2

spark_case "flatMapGroupsWithState - streaming + aggregation"
# the running count's rows (-1 when the state was just removed), counted per key, complete mode
running_count_job complete '{ key = key, count = "-1" }' ':group_by("key"):agg{ n = sr.count() }:map(function(r) r.count = r.n; return r end)'
add_data in a
check_new_answer a,1
add_data in a b
# mapGroups generates ("a", "2"), ("b", "1"); so increases counts of a and b by 1
check_new_answer a,2 b,1
add_data in a b
# mapGroups should remove state for "a" and generate ("a", "-1"), ("b", "2"); so increment a and b by 1
check_new_answer a,3 b,2
add_data in a c
# mapGroups should recreate state for "a" and generate ("a", "1"), ("c", "1"); so increment a and c by 1
check_new_answer a,4 b,2 c,1

spark_case "mapGroupsWithState - streaming"
running_count_job update '{ key = key, count = "-1" }'
add_data in a
check_new_answer a,1
assert_state_rows 1 1
add_data in a b
check_new_answer a,2 b,1
assert_state_rows 2 2
add_data in a b # should remove state for "a" and return count as -1
check_new_answer a,-1 b,2
assert_state_rows 1 1
add_data in a c # should recreate state for "a" and return count as 1
check_new_answer a,1 c,1
assert_state_rows 3 2

spark_case "flatMapGroupsWithState - streaming with processing time timeout"
# Spark's trigger of 1 second on a manual clock: each batch runs at the clock the test
# advanced to (1 s, 2 s, 12 s, 23 s), then one trigger without data at 35 s
job <<'LUA'
spark.test_stream(spark.memory_stream("in", "value string")
    :group_by("value")
    :process_with_state{ timeout = "ProcessingTimeTimeout", fn = function(key, rows, state)
      if state:has_timed_out() then
        state:remove()
        return { { key = key, count = "-1" } }
      end
      local count = (state:get() or 0) + #rows
      state:update(count)
      state:set_timeout_duration("10 seconds")
      return { { key = key, count = tostring(count) } }
    end },
  { outputMode = "update", answer = function(r) return { r.key, r.count } end })
LUA
set_clock 1000
add_data in a
check_new_answer a,1
assert_state_rows 1 1
set_clock 2000
add_data in b
check_new_answer b,1
assert_state_rows 2 1
set_clock 12000
add_data in b
check_new_answer a,-1 b,2
assert_state_rows 1 1 0 1
set_clock 23000
add_data in c
check_new_answer b,-1 c,1
assert_state_rows 1 1 0 1
set_clock 35000
process_trigger
check_new_answer c,-1
assert_state_rows 0 0 0 1

spark_case "flatMapGroupsWithState - streaming w/ event time timeout + watermark"
# Spark's sampleTestFunction: the max event time (seconds) as state, its timeout 5 s after it;
# -1 when the state times out
job <<'LUA'
spark.test_stream(spark.memory_stream("in", "_1 string, _2 long")
    :select{ key = "_1", eventTime = function(r) return r._2 * 1000 end }
    :with_watermark("eventTime", "10 seconds")
    :group_by("key")
    :process_with_state{ timeout = "EventTimeTimeout", fn = function(key, rows, state)
      if state:has_timed_out() then
        state:remove()
        return { { key = key, t = -1 } }
      end
      local max = state:get() or 0
      for _, r in ipairs(rows) do max = math.max(max, r.eventTime / 1000) end
      state:update(max)
      state:set_timeout_timestamp((max + 5) * 1000)
      return { { key = key, t = max } }
    end },
  { outputMode = "update", answer = function(r) return { r.key, r.t } end })
LUA
add_tuples in a,11 a,13 a,15
# max event time = 15. Timeout timestamp for "a" = 15 + 5 = 20. Watermark = 15 - 10 = 5.
check_new_answer a,15 # output = max event time of a
add_tuples in a,4 # add data older than watermark for "a"
check_new_answer # no output as data should get filtered by watermark
add_tuples in a,10 # add data newer than watermark for "a"
check_new_answer a,15 # max event time is still the same
add_tuples in b,31 # add data newer than watermark for "b", not "a"
# watermark = 31 - 10 = 21, so "a" should be timed out as timeout timestamp for "a" is 20
check_new_answer a,-1 b,31 # state for "a" should timeout and emit -1
finish
