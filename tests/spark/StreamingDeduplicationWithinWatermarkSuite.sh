# Spark's StreamingDeduplicationWithinWatermarkSuite, ported: sql/core/src/test/scala/org/apache/
# spark/sql/streaming/StreamingDeduplicationWithinWatermarkSuite.scala (apache/spark
# 5867d27a499025feb444dec061e5a1bcc0287a05). dropDuplicatesWithinWatermark() on every column is
# drop_duplicates_within_watermark with every column listed.
source "$(dirname "$0")/lib.sh"

spark_case "deduplicate without event time column should result in error"
job <<'LUA'
spark.test_stream(spark.memory_stream("in", "value string"):drop_duplicates_within_watermark{ "value" },
  { answer = function(r) return { r.value } end })
LUA
assert_refused "drop_duplicates_within_watermark"
assert_refused "watermark"

spark_case "deduplicate with all columns with event time column in DataFrame"
job <<'LUA'
spark.test_stream(spark.memory_stream("in"):map(spark.seconds("eventTime"))
    :with_watermark("eventTime", "10 seconds")
    :drop_duplicates_within_watermark{ "value", "eventTime" },
  { answer = function(r) return { spark.sec(r.eventTime) } end })
LUA
# advance watermark to 5 secs, no-data-batch does not drop state rows
add_data in $(for i in 1 2 3 4 5; do seq 10 15; done)
check_answer 10 11 12 13 14 15
assert_state_rows 6 6
# advance watermark to 7 secs, no-data-batch does not drop state rows
add_data in $(seq 13 17)
check_new_answer 16 17 # 13 to 15 are duplicated
assert_state_rows 8 2
add_data in 5 # should not emit anything as data less than watermark
check_new_answer
assert_state_rows 8 0 1
# advance watermark to 25 secs, no-data-batch drops state rows having expired time <= 25
add_data in 35
check_new_answer 35
assert_state_rows 3 1
# advance watermark to 45 seconds, no-data-batch drops state rows having expired time <= 45
add_data in 55
check_new_answer 55
assert_state_rows 1 1

spark_case "deduplicate with subset of columns which event time column is not in subset"
job <<'LUA'
spark.test_stream(spark.memory_stream("in", "_1 string, _2 long"):map(spark.seconds("eventTime", "_2"))
    :with_watermark("eventTime", "2 seconds")
    :drop_duplicates_within_watermark{ "_1" },
  { answer = function(r) return { r._1, spark.sec(r.eventTime) } end })
LUA
add_tuples in a,17 # advances watermark to 15
check_new_answer a,17
assert_state_rows 1 1 # expired time is set to 19
add_tuples in a,16 # watermark does not advance
check_new_answer
assert_state_rows 1 0
# watermark does not advance; should not emit anything as data less than watermark
add_tuples in a,13
check_new_answer
assert_state_rows 1 0 1
# advances watermark to 20. no-data batch drops state row ("a" -> 19)
add_tuples in b,22 c,21
check_new_answer b,22 c,21
assert_state_rows 2 2 # expired time is set to 24 and 23
# watermark does not advance
add_tuples in a,21
# "a" is identified as new event since previous batch dropped state row ("a" -> 19)
check_new_answer a,21
assert_state_rows 3 1 # expired time is set to 23
# advances watermark to 23. no-data batch drops state row ("a" -> 23), ("c" -> 23)
add_tuples in d,25
check_new_answer d,25
assert_state_rows 2 1

spark_case "SPARK-39650: duplicate with specific keys should allow input to change schema"
job <<'LUA'
spark.test_stream(spark.memory_stream("in", "_1 string, _2 long"):map(spark.seconds("eventTime", "_2"))
    :with_watermark("eventTime", "10 second")
    :drop_duplicates_within_watermark{ "_1" },
  { answer = function(r) return { r._1, spark.sec(r.eventTime) } end })
LUA
add_tuples in a,1
check_new_answer a,1
add_tuples in a,2 b,3
check_new_answer b,3
# the same checkpoint, an input with a third column
job <<'LUA'
spark.test_stream(spark.memory_stream("in", "_1 string, _2 long, _3 string"):map(spark.seconds("eventTime", "_2"))
    :with_watermark("eventTime", "10 second")
    :drop_duplicates_within_watermark{ "_1" },
  { answer = function(r) return { r._1, spark.sec(r.eventTime), r._3 } end })
LUA
add_tuples in a,5,a b,2,b c,9,c
check_new_answer c,9,c
finish
