# Spark's StreamingDeduplicationSuite, ported: sql/core/src/test/scala/org/apache/spark/sql/
# streaming/StreamingDeduplicationSuite.scala (apache/spark c122c08b3adce0f8dd5ffa104dce1284213c62eb).
# dropDuplicates() on every column is drop_duplicates with every column listed.
source "$(dirname "$0")/lib.sh"

spark_case "deduplicate with all columns"
job <<'LUA'
spark.test_stream(spark.memory_stream("in", "value string"):drop_duplicates{ "value" },
  { answer = function(r) return { r.value } end })
LUA
add_data in a
check_last_batch a
assert_state_rows 1 1
add_data in a
check_last_batch
assert_state_rows 1 0
add_data in b
check_last_batch b
assert_state_rows 2 1

spark_case "deduplicate with some columns"
job <<'LUA'
spark.test_stream(spark.memory_stream("in", "_1 string, _2 long"):drop_duplicates{ "_1" },
  { answer = function(r) return { r._1, r._2 } end })
LUA
add_tuples in a,1
check_last_batch a,1
assert_state_rows 1 1 0
add_tuples in a,2 # dropped
check_last_batch
assert_state_rows 1 0 0
add_tuples in b,1
check_last_batch b,1
assert_state_rows 2 1 0

spark_case "multiple deduplicates"
job <<'LUA'
spark.test_stream(spark.memory_stream("in", "_1 string, _2 long")
    :drop_duplicates{ "_1", "_2" }:drop_duplicates{ "_1" },
  { answer = function(r) return { r._1, r._2 } end })
LUA
add_tuples in a,1
check_last_batch a,1
assert_state_rows 1,1 1,1
add_tuples in a,2 # dropped from the second dropDuplicates
check_last_batch
assert_state_rows 1,2 0,1
add_tuples in b,1
check_last_batch b,1
assert_state_rows 2,3 1,1

# The suite's dedup on timestamp_seconds(value) with a 10 s watermark, selected as eventTime
# cast long.
dedup_with_watermark() {
  job <<'LUA'
spark.test_stream(spark.memory_stream("in"):map(spark.seconds("eventTime"))
    :with_watermark("eventTime", "10 seconds")
    :drop_duplicates{ "value", "eventTime" },
  { answer = function(r) return { spark.sec(r.eventTime) } end })
LUA
}
five_times_10_to_15() { add_data in $(for i in 1 2 3 4 5; do seq 10 15; done); }

spark_case "SPARK-35896: metrics in StateOperatorProgress are output correctly"
dedup_with_watermark
five_times_10_to_15
check_answer 10 11 12 13 14 15
assert_state_rows 6 6 0 0
add_data in 25 # advance watermark to 15 secs, no-data-batch drops rows <= 15
check_new_answer 25
assert_state_rows 1 1 0 6
add_data in 10 # should not emit anything as data less than watermark
check_new_answer
assert_state_rows 1 0 1 0

spark_case "deduplicate with watermark"
dedup_with_watermark
five_times_10_to_15
check_answer 10 11 12 13 14 15
assert_state_rows 6 6
add_data in 25 # advance watermark to 15 secs, no-data-batch drops rows <= 15
check_new_answer 25
assert_state_rows 1 1
add_data in 10 # should not emit anything as data less than watermark
check_new_answer
assert_state_rows 1 0 1
add_data in 45 # advance watermark to 35 seconds, no-data-batch drops row 25
check_new_answer 45
assert_state_rows 1 1

spark_case "deduplicate with aggregate - append mode"
job <<'LUA'
spark.test_stream(spark.memory_stream("in"):map(spark.seconds("eventTime"))
    :with_watermark("eventTime", "10 seconds")
    :drop_duplicates{ "value", "eventTime" }
    :group_by(sr.window("eventTime", "5 seconds")):agg{ count = sr.count() },
  { answer = function(r) return { spark.sec(r.window.start), r.count } end })
LUA
five_times_10_to_15
check_last_batch
# states in aggregate in [10, 14), [15, 20) (2 windows); states in deduplicate is 10 to 15
assert_state_rows 2,6 2,6
add_data in 25 # advance watermark to 15 seconds
check_last_batch 10,5 # 5 items (10 to 14) after deduplicate, emitted with no-data-batch
# states in aggregate in [15, 20) and [25, 30); no-data-batch removed [10, 14)
# states in deduplicate is 25, no-data-batch removed 10 to 14
assert_state_rows 2,1 1,1
add_data in 10 # should not emit anything as data less than watermark
check_last_batch
assert_state_rows 2,1 0,0 0,1
add_data in 40 # advance watermark to 30 seconds
check_last_batch 15,1 25,1
# states in aggregate is [40, 45); no-data-batch removed [15, 20) and [25, 30)
# states in deduplicate is 40; no-data-batch removed 25
assert_state_rows 1,1 1,1

dedup_then_sum() { # OUTPUT_MODE
  job <<LUA
spark.test_stream(spark.memory_stream("in", "_1 string, _2 long")
    :select{ str = "_1", num = "_2" }
    :drop_duplicates{ "str", "num" }
    :group_by("str"):agg{ sum = sr.sum("num") },
  { outputMode = "$1", answer = function(r) return { r.str, r.sum } end })
LUA
}

spark_case "deduplicate with aggregate - update mode"
dedup_then_sum update
add_tuples in a,1
check_last_batch a,1
assert_state_rows 1,1 1,1
add_tuples in a,1 # dropped
check_last_batch
assert_state_rows 1,1 0,0
add_tuples in a,2
check_last_batch a,3
assert_state_rows 1,2 1,1
add_tuples in b,1
check_last_batch b,1
assert_state_rows 2,3 1,1

spark_case "deduplicate with aggregate - complete mode"
dedup_then_sum complete
add_tuples in a,1
check_last_batch a,1
assert_state_rows 1,1 1,1
add_tuples in a,1 # dropped
check_last_batch a,1
assert_state_rows 1,1 0,0
add_tuples in a,2
check_last_batch a,3
assert_state_rows 1,2 1,1
add_tuples in b,1
check_last_batch a,3 b,1
assert_state_rows 2,3 1,1

spark_case "SPARK-19841: watermarkPredicate should filter based on keys"
job <<'LUA'
spark.test_stream(spark.memory_stream("in", "_1 long, _2 long")
    :select{ time = function(r) return r._1 * 1000 end, id = "_2" }
    :with_watermark("time", "1 second")
    :drop_duplicates{ "id", "time" }, -- change the column positions
  { answer = function(r) return { r.id } end })
LUA
add_tuples in 1,1 1,1 1,2
check_answer 1 2
add_tuples in 1,1 2,3 2,4
check_new_answer 3 4
add_tuples in 1,0 1,1 3,5 3,6 # drop (1 -> 0, 1 -> 1) due to watermark
check_new_answer 5 6
add_tuples in 1,0 4,7 # drop (1 -> 0) due to watermark
check_new_answer 7

spark_case "SPARK-21546: dropDuplicates should ignore watermark when it's not a key"
job <<'LUA'
spark.test_stream(spark.memory_stream("in", "_1 long, _2 long")
    :select{ id = "_1", time = function(r) return r._2 * 1000 end }
    :with_watermark("time", "1 second")
    :drop_duplicates{ "id" },
  { answer = function(r) return { r.id, spark.sec(r.time) } end })
LUA
add_tuples in 1,1 1,2 2,2
check_answer 1,1 2,2

spark_case "SPARK-29438: ensure UNION doesn't lead streaming deduplication to use shifted partition IDs"
# streamrun has no partitions to shift; the case keeps Spark's steps across a restart
job <<'LUA'
local df1 = spark.memory_stream("input1"):select{ "value" }
local df2 = spark.memory_stream("input2"):drop_duplicates{ "value" }
spark.test_stream(df1:union(df2), { answer = function(r) return { r.value } end })
LUA
add_data input1 11 12; add_data input2 21 22
check_new_answer 11 12 21 22
add_data input1 13 14; add_data input2 22 23
check_new_answer 13 14 23

spark_case "SPARK-35880: custom metric numDroppedDuplicateRows in state operator progress"
job <<'LUA'
spark.test_stream(spark.memory_stream("in", "_1 string, _2 long"):drop_duplicates{ "_1" },
  { answer = function(r) return { r._1, r._2 } end })
LUA
add_tuples in a,1
check_last_batch a,1
assert_custom_metric numDroppedDuplicateRows 0
add_tuples in a,2 b,3
check_last_batch b,3
assert_custom_metric numDroppedDuplicateRows 1
add_tuples in a,5 b,2 c,9
check_last_batch c,9
assert_custom_metric numDroppedDuplicateRows 2
# with watermark
new_query
dedup_with_watermark
five_times_10_to_15
check_answer 10 11 12 13 14 15
assert_custom_metric numDroppedDuplicateRows 24
add_data in 14
check_new_answer
assert_custom_metric numDroppedDuplicateRows 1
add_data in 25 # advance watermark to 15 secs, no-data-batch drops rows <= 15
check_new_answer 25
assert_custom_metric numDroppedDuplicateRows 0
add_data in 10 # should not emit anything as data less than watermark
check_new_answer
assert_custom_metric numDroppedDuplicateRows 0
add_data in 26 26
check_new_answer 26
assert_custom_metric numDroppedDuplicateRows 1
finish
