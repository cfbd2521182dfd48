# Spark's EventTimeWatermarkSuite, ported: sql/core/src/test/scala/org/apache/spark/sql/
# streaming/EventTimeWatermarkSuite.scala (apache/spark 56ceeac2562364f0031507e05952108a38fbb1d2).
# Each case is one of its tests: the query as Spark's, its AddData steps and expected answers.
source "$(dirname "$0")/lib.sh"

# The suite's windowedAggregation: a count per 5-second window of timestamp_seconds(value),
# watermark 10 s, selected as (window.start cast long, count).
windowed_count() { # OUTPUT_MODE
  job <<LUA
spark.test_stream(
  spark.memory_stream("in")
    :map(spark.seconds("eventTime"))
    :with_watermark("eventTime", "10 seconds")
    :group_by(sr.window("eventTime", "5 seconds")):agg{ count = sr.count() },
  { outputMode = "$1", answer = function(r) return { spark.sec(r.window.start), r.count } end })
LUA
}

spark_case "event time and watermark metrics"
# no event time metrics when there is no watermark
job <<'LUA'
spark.test_stream(
  spark.memory_stream("in")
    :map(spark.seconds("eventTime"))
    :group_by(sr.window("eventTime", "5 seconds")):agg{ count = sr.count() },
  { outputMode = "complete", answer = function(r) return { spark.sec(r.window.start), r.count } end })
LUA
add_data in 15
check_answer 15,1
assert_progress '.eventTime // {}' '{}'
add_data in 10 12 14
check_answer 10,3 15,1
assert_progress '.eventTime // {}' '{}'
# all event time metrics where watermarking is set
new_query
windowed_count append
add_data in 15
check_answer
assert_event_stats 15 15 15 0
add_data in 10 12 14
check_answer
assert_event_stats 10 14 12 5
add_data in 25
check_answer 10,3
assert_event_stats 25 25 25 5

spark_case "event time and watermark metrics with Trigger.Once (SPARK-24699)"
# Trigger.Once runs one batch per start and no no-data batch: the answer made by a new
# watermark comes at the next start.
job <<'LUA'
spark.test_stream(
  spark.memory_stream("in")
    :map(spark.seconds("eventTime"))
    :with_watermark("eventTime", "10 seconds")
    :group_by(sr.window("eventTime", "5 seconds")):agg{ count = sr.count() },
  { trigger = { once = true }, answer = function(r) return { spark.sec(r.window.start), r.count } end })
LUA
process_all_available
add_data in 15
check_new_answer
assert_event_stats 15 15 15 0
add_data in 10 12 14
check_new_answer
assert_event_stats 10 14 12 5
add_data in 25
check_new_answer
assert_event_stats 25 25 25 5
add_data in 50
check_new_answer 10,3
assert_event_stats 50 50 50 15
add_data in 50
check_new_answer 15,1 25,1
assert_event_stats 50 50 50 40

spark_case "append mode"
# numRowsDroppedByWatermark: Spark counts the late rows after partial aggregation (one per
# window and key), streamrun the input rows dropped (once per closed window); here each late
# batch has one row, so the two agree.
windowed_count append
add_data in 10 11 12 13 14 15
check_new_answer
add_data in 25 # advance watermark to 15 seconds
check_new_answer 10,5
assert_num_state_rows 2
assert_dropped_by_watermark 0
add_data in 10 # should not emit anything as data less than watermark
check_new_answer
assert_num_state_rows 2
assert_dropped_by_watermark 1

spark_case "update mode"
# numRowsDroppedByWatermark: Spark counts the late rows after partial aggregation (one per
# window and key), streamrun the input rows dropped (once per closed window); here each late
# batch has one row, so the two agree.
windowed_count update
add_data in 10 11 12 13 14 15
check_new_answer 10,5 15,1
add_data in 25 # advance watermark to 15 seconds
check_new_answer 25,1
assert_num_state_rows 2
assert_dropped_by_watermark 0
add_data in 10 25 # ignore 10 as its less than watermark
check_new_answer 25,2
assert_num_state_rows 2
assert_dropped_by_watermark 1
add_data in 10 # should not emit anything as data less than watermark
check_new_answer
assert_num_state_rows 2
assert_dropped_by_watermark 1

spark_case "recovery"
windowed_count append
add_data in 10 11 12 13 14 15
check_answer
add_data in 25 # advance watermark to 15 seconds
check_answer 10,5
# StopStream; purge the commit log before the latest commit and clear the sink; StartStream
purge_commits_and_sink
add_data in 10 27 30 # advance watermark to 20 seconds, 10 should be ignored
check_answer 15,1
add_data in 17 # watermark should still be 20 seconds, 17 should be ignored
check_answer 15,1
add_data in 40 # advance watermark to 30 seconds, emit first data 25
check_new_answer 25,2

spark_case "watermark with 2 streams"
# sum(value) over the union of two streams, watermarks 10 s and 5 s, complete mode. Spark's
# getWatermarkAfterData adds the data, processes it, adds a dummy 0 to the first stream and
# processes it: the watermark asserted is the one the dummy batch ran with.
job <<'LUA'
local first = spark.memory_stream("first"):map(spark.seconds("eventTime"))
  :with_watermark("eventTime", "10 seconds"):select{ "value" }
local second = spark.memory_stream("second"):map(spark.seconds("eventTime"))
  :with_watermark("eventTime", "5 seconds"):select{ "value" }
spark.test_stream(first:union(second):group_by(function() return 0 end):agg{ sum = sr.sum("value") },
  { outputMode = "complete", answer = function(r) return { r.sum } end })
LUA
watermark_after_data() { # FIRST SECOND EXPECTED_MS (a "-" for no data)
  [[ $1 == - ]] || add_data first $1
  [[ $2 == - ]] || add_data second $2
  process_all_available
  add_data first 0 # a dummy batch, so the last batch has the new watermark
  assert_progress '.eventTime.watermark' "\"$(iso $(($3 / 1000)))\""
}
# global watermark starts at 0 until we get data from both sides
watermark_after_data 11 - 0
watermark_after_data - 6 1000
# global watermark stays at left watermark 1 when right watermark moves to 2
watermark_after_data - 8 1000
# global watermark switches to right side value 2 when left watermark goes higher
watermark_after_data 21 - 3000
# global watermark goes back to left
watermark_after_data - "17 28 39" 11000
# global watermark stays on left as long as it's below right
watermark_after_data 31 - 21000
watermark_after_data 41 - 31000
# global watermark switches back to right again
watermark_after_data 51 - 34000
# global watermark is updated correctly with simultaneous data from both sides
watermark_after_data 100 100 90000
watermark_after_data 120 110 105000
watermark_after_data 130 125 120000
# global watermark doesn't decrement with simultaneous data
watermark_after_data 100 100 120000
watermark_after_data 140 100 120000
watermark_after_data 100 135 130000
# global watermark recovers after restart, but left side watermark ahead of it does not
watermark_after_data 200 190 185000
watermark_after_data - - 185000
# Spark: "even though the left side was ahead of 185000 in the last execution, the watermark
# won't increment until it gets past it in this execution" (185000 here). streamrun differs on
# purpose (docs/JOB-API.md, Watermarks): each input's max event time is kept in the commit log,
# so a restart goes on as if there had been none; this harness restarts at every step, and the
# left side's 190000 still counts
watermark_after_data - 200 190000
watermark_after_data 200 - 190000

spark_case "complete mode"
# no eviction when asked to compute complete results
windowed_count complete
add_data in 10 11 12
check_answer 10,3
add_data in 25
check_answer 10,3 25,1
add_data in 25
check_answer 10,3 25,2
add_data in 10
check_answer 10,4 25,2
add_data in 25
check_answer 10,4 25,3

spark_case "group by on raw timestamp"
job <<'LUA'
spark.test_stream(
  spark.memory_stream("in")
    :map(spark.seconds("eventTime"))
    :with_watermark("eventTime", "10 seconds")
    :group_by("eventTime"):agg{ count = sr.count() },
  { answer = function(r) return { spark.sec(r.eventTime), r.count } end })
LUA
add_data in 10
check_answer
add_data in 25 # advance watermark to 15 seconds
check_answer 10,1

spark_case "delay threshold should not be negative."
for delay in "-1 year" "1 year -13 months" "1 month -40 days" "-10 seconds"; do
  job <<LUA
spark.test_stream(spark.memory_stream("in"):map(spark.seconds("eventTime"))
  :with_watermark("eventTime", "$delay"), { answer = function(r) return { r.value } end })
LUA
  assert_refused "should not be negative"
done

spark_case "delay in months and years handled correctly"
job <<'LUA'
spark.test_stream(
  spark.memory_stream("in")
    :map(spark.seconds("eventTime"))
    :with_watermark("eventTime", "2 years 5 months")
    :group_by(sr.window("eventTime", "5 seconds")):agg{ count = sr.count() },
  { answer = function(r) return { spark.sec(r.window.start), r.count } end })
LUA
if ((active)); then
  now=$(date +%s)
  add_data in "$now"
  check_answer
  add_data in "$now"
  check_answer
  assert_eq_text "eventTime.max" "$(iso "$now")" "$(event_time max)"
  watermark=$(event_time watermark)
  month_diff=$(( ($(date -u -d "@$now" +%Y) * 12 + 10#$(date -u -d "@$now" +%m)) -
    ($(date -u -d "$watermark" +%Y) * 12 + 10#$(date -u -d "$watermark" +%m)) ))
  # monthsSinceEpoch is like `math.floor(num)`, so monthDiff has two possible values
  [[ $month_diff == 29 || $month_diff == 30 ]] || fail "watermark $watermark is $month_diff months before $(iso "$now")"
fi

spark_case "error on bad column"
job <<'LUA'
spark.test_stream(spark.memory_stream("in"):with_watermark("badColumn", "1 minute"),
  { answer = function(r) return { r.value } end })
LUA
assert_refused badColumn

spark_case "overriding watermark should not be allowed by default"
# Spark's buildTestQueryForOverridingWatermark: watermarks on `first`, then on `second`
job <<'LUA'
spark.test_stream(spark.memory_stream("in", "_1 long, _2 long")
    :map(spark.seconds("first", "_1")):map(spark.seconds("second", "_2"))
    :with_watermark("first", "1 minute")
    :select{ "_1", "_2", "first", "second" }
    :with_watermark("second", "2 minutes")
    :group_by(sr.window("second", "1 minute")):count(),
  { answer = function(r) return { spark.sec(r.window.start), r.count } end })
LUA
assert_refused "Redefining watermark is disallowed"

spark_case "SPARK-21565: watermark operator accepts attributes from replacement"
# a json file of (symbol, price, eventTime), a count per symbol and eventTime in append mode:
# Spark checks that the query runs
job <<'LUA'
spark.test_stream(sr.read_stream{ format = "json", path = "in/dir",
                                  schema = "symbol string, price double, eventTime timestamp" }
    :with_watermark("eventTime", "2 seconds")
    :group_by("symbol", "eventTime"):agg{ count = sr.count() }, -- count("price"): no price is null
  { answer = function(r) return { r.symbol, r.eventTime, r.count } end })
LUA
add_file dir '{"symbol":"a","price":100.0,"eventTime":"1970-01-01T00:00:00.100Z"}'
process_all_available

spark_case "SPARK-27340 Alias on TimeWindow expression cause watermark metadata lost"
# the window selected as a column aliasWindow first, then grouped by that column
job <<'LUA'
spark.test_stream(
  spark.memory_stream("in")
    :map(spark.seconds("eventTime"))
    :with_watermark("eventTime", "10 seconds")
    :group_by(sr.window("eventTime", "5 seconds")):agg{ count = sr.count() },
  { answer = function(r) return { spark.sec(r.window.start), r.count } end })
LUA
add_data in 10 11 12 13 14 15
check_new_answer
add_data in 25 # advance watermark to 15 seconds
check_new_answer 10,5
assert_num_state_rows 2
add_data in 10 # should not emit anything as data less than watermark
check_new_answer
assert_num_state_rows 2

spark_case "test no-data flag"
# with the flag on (Spark's default, and streamrun's only behaviour): the window closes in the
# no-data batch after the batch of 25
windowed_count append
add_data in 10 11 12 13 14 15
check_new_answer
add_data in 25 # advance watermark to 15 seconds
check_new_answer 10,5

# Spark's dfWithMultipleWatermarks: the union of two streams with watermarks 10 s and 15 s,
# selected as eventTime cast int. checkWatermark adds 1 to a stream and processes it.
multiple_watermarks_job() { # SINK_OPTION
  job <<LUA
local df1 = spark.memory_stream("input1"):map(spark.seconds("eventTime"))
  :with_watermark("eventTime", "10 seconds")
local df2 = spark.memory_stream("input2"):map(spark.seconds("eventTime"))
  :with_watermark("eventTime", "15 seconds")
spark.test_stream(df1:union(df2),
  { $1 answer = function(r) return { spark.sec(r.eventTime) } end })
LUA
}
check_watermark() { add_data "$1" 1; assert_watermark "$2"; }

spark_case "MultipleWatermarkPolicy: max"
multiple_watermarks_job 'multipleWatermarkPolicy = "max",'
add_data input1 20; add_data input2 30
check_last_batch 20 30
check_watermark input1 15 # max(20 - 10, 30 - 15) = 15
check_watermark input1 15 # watermark recovered correctly (after StopStream, StartStream)
add_data input1 120; add_data input2 130
check_last_batch 120 130
check_watermark input1 115 # max(120 - 10, 130 - 15) = 115, policy recovered correctly
add_data input1 150
check_last_batch 150
check_watermark input1 140 # should advance even if one of the input has data

spark_case "MultipleWatermarkPolicy: min"
multiple_watermarks_job "" # min is the default policy
add_data input1 20; add_data input2 30
check_last_batch 20 30
check_watermark input1 10 # min(20 - 10, 30 - 15) = 10
check_watermark input1 10 # watermark recovered correctly
add_data input1 120; add_data input2 130
check_last_batch 120 130
check_watermark input2 110 # min(120 - 10, 130 - 15) = 110, policy recovered correctly
add_data input2 150
check_last_batch 150
check_watermark input2 110 # does not advance when only one of the input has data
finish
