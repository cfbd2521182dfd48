# Spark's DataFrameTimeWindowingSuite, ported: sql/core/src/test/scala/org/apache/spark/sql/
# DataFrameTimeWindowingSuite.scala (apache/spark 24e37e144c4b0c575c5f2a80a56cb56a70386c51).
# Its tests are batch queries over a Seq of rows: here the rows are one AddData of a stream,
# aggregated in complete mode, and CheckLastBatch is Spark's checkAnswer. A projection of
# window(...) beside a column is a count per window and that column.
source "$(dirname "$0")/lib.sh"

rows_19_39() {
  add_data in '{"time":"2016-03-27 19:39:34","value":1,"id":"a"}' \
    '{"time":"2016-03-27 19:39:56","value":2,"id":"a"}' '{"time":"2016-03-27 19:39:27","value":4,"id":"b"}'
}

window_count() { # WINDOW_ARGS [MORE_KEYS]
  job <<LUA
spark.test_stream(spark.memory_stream("in", "time timestamp, value long, id string")
    :group_by(sr.window("time", $1)${2:-}):agg{ counts = sr.count() },
  { outputMode = "complete", answer = function(r)
      return { spark.ts_string(r.window.start), spark.ts_string(r.window["end"]), r.counts }
    end })
LUA
}

spark_case "tumbling window groupBy statement"
window_count '"10 seconds"'
rows_19_39
check_last_batch "2016-03-27 19:39:20,2016-03-27 19:39:30,1" "2016-03-27 19:39:30,2016-03-27 19:39:40,1" \
  "2016-03-27 19:39:50,2016-03-27 19:40:00,1" # Spark selects the counts only: 1, 1, 1

spark_case "tumbling window groupBy statement with startTime"
window_count '"10 seconds", "10 seconds", "5 seconds"' ', "id"'
rows_19_39
check_last_batch "2016-03-27 19:39:25,2016-03-27 19:39:35,1" "2016-03-27 19:39:25,2016-03-27 19:39:35,1" \
  "2016-03-27 19:39:55,2016-03-27 19:40:05,1" # Spark selects the counts only: 1, 1, 1

spark_case "SPARK-21590: tumbling window groupBy statement with negative startTime"
# from a newer revision of the suite than the one above (the test is not in it); Spark checks
# the counts only
job <<'LUA'
spark.test_stream(spark.memory_stream("in", "time timestamp, value long, id string")
    :group_by(sr.window("time", "10 seconds", "10 seconds", "-5 seconds"), "id"):agg{ counts = sr.count() },
  { outputMode = "complete", answer = function(r) return { r.counts } end })
LUA
rows_19_39
check_last_batch 1 1 1

spark_case "sliding window grouping"
window_count '"10 seconds", "3 seconds", "0 second"'
rows_19_39
# 2016-03-27 19:39:27 UTC -> 4 bins; 19:39:34 -> 3 bins; 19:39:56 -> 3 bins
check_last_batch "2016-03-27 19:39:18,2016-03-27 19:39:28,1" "2016-03-27 19:39:21,2016-03-27 19:39:31,1" \
  "2016-03-27 19:39:24,2016-03-27 19:39:34,1" "2016-03-27 19:39:27,2016-03-27 19:39:37,2" \
  "2016-03-27 19:39:30,2016-03-27 19:39:40,1" "2016-03-27 19:39:33,2016-03-27 19:39:43,1" \
  "2016-03-27 19:39:48,2016-03-27 19:39:58,1" "2016-03-27 19:39:51,2016-03-27 19:40:01,1" \
  "2016-03-27 19:39:54,2016-03-27 19:40:04,1"

spark_case "negative timestamps"
window_count '"10 seconds", "10 seconds", "5 seconds"' ', "value"'
add_data in '{"time":"1970-01-01 00:00:02","value":1}' '{"time":"1970-01-01 00:00:12","value":2}'
check_last_batch "1969-12-31 23:59:55,1970-01-01 00:00:05,1" "1970-01-01 00:00:05,1970-01-01 00:00:15,1"

spark_case "millisecond precision sliding windows"
window_count '"200 milliseconds", "40 milliseconds", "0 milliseconds"'
add_data in '{"time":"2016-03-27 09:00:00.41","value":3}' '{"time":"2016-03-27 09:00:00.62","value":6}' \
  '{"time":"2016-03-27 09:00:00.715","value":8}'
check_last_batch "2016-03-27 09:00:00.24,2016-03-27 09:00:00.44,1" "2016-03-27 09:00:00.28,2016-03-27 09:00:00.48,1" \
  "2016-03-27 09:00:00.32,2016-03-27 09:00:00.52,1" "2016-03-27 09:00:00.36,2016-03-27 09:00:00.56,1" \
  "2016-03-27 09:00:00.4,2016-03-27 09:00:00.6,1" "2016-03-27 09:00:00.44,2016-03-27 09:00:00.64,1" \
  "2016-03-27 09:00:00.48,2016-03-27 09:00:00.68,1" "2016-03-27 09:00:00.52,2016-03-27 09:00:00.72,2" \
  "2016-03-27 09:00:00.56,2016-03-27 09:00:00.76,2" "2016-03-27 09:00:00.6,2016-03-27 09:00:00.8,2" \
  "2016-03-27 09:00:00.64,2016-03-27 09:00:00.84,1" "2016-03-27 09:00:00.68,2016-03-27 09:00:00.88,1"

spark_case "multiple time windows in a single operator throws nice exception"
job <<'LUA'
spark.test_stream(spark.memory_stream("in", "time timestamp, value long")
    :group_by(sr.window("time", "10 second"), sr.window("time", "15 second")):agg{ n = sr.count() },
  { outputMode = "complete", answer = function(r) return { r.n } end })
LUA
assert_refused "cartesian product of their windows"
finish
