# Spark's StreamingAggregationSuite, ported: sql/core/src/test/scala/org/apache/spark/sql/
# streaming/StreamingAggregationSuite.scala (apache/spark a6db40b39323e817b02596b999aef48860ca8763).
# Spark runs each under every state format version; streamrun has one.
source "$(dirname "$0")/lib.sh"

count_by_value() { # OUTPUT_MODE
  job <<LUA
spark.test_stream(spark.memory_stream("in"):group_by("value"):agg{ count = sr.count() },
  { outputMode = "$1", answer = function(r) return { r.value, r.count } end })
LUA
}

spark_case "simple count, update mode"
count_by_value update
add_data in 3
check_last_batch 3,1
add_data in 3 2
check_last_batch 3,2 2,1
add_data in 3 2 1
check_last_batch 3,3 2,2 1,1
add_data in 4 4 4 4
check_last_batch 4,4

spark_case "count distinct"
# size(collect_set(value)) of the exploded _2, per _1
job <<'LUA'
spark.test_stream(spark.memory_stream("in", { _1 = "long", _2 = { "array", "long" } })
    :flat_map(function(r)
      local out = {}
      for _, v in ipairs(r._2) do out[#out + 1] = { _1 = r._1, value = v } end
      return out
    end)
    :group_by("_1"):agg{ n = sr.count_distinct("value") },
  { outputMode = "update", answer = function(r) return { r._1, r.n } end })
LUA
add_data in '{"_1":1,"_2":[1,2]}'
check_last_batch 1,2

spark_case "simple count, complete mode"
count_by_value complete
add_data in 3
check_last_batch 3,1
add_data in 2
check_last_batch 3,1 2,1
add_data in 3 2 1
check_last_batch 3,2 2,2 1,1
add_data in 4 4 4 4
check_last_batch 4,4 3,2 2,2 1,1

spark_case "simple count, append mode"
count_by_value append
assert_refused "append output mode is not supported"

spark_case "multiple keys"
job <<'LUA'
spark.test_stream(spark.memory_stream("in")
    :map(function(r) r.value1 = r.value + 1; return r end)
    :group_by("value", "value1"):agg{ count = sr.count() },
  { outputMode = "update", answer = function(r) return { r.value, r.value1, r.count } end })
LUA
add_data in 1 2
check_last_batch 1,2,1 2,3,1
add_data in 1 2
check_last_batch 1,2,2 2,3,2

spark_case "typed aggregators"
job <<'LUA'
spark.test_stream(spark.memory_stream("in", "_1 string, _2 long")
    :group_by(function(r) return r._1 end):agg{ sum = sr.sum("_2") },
  { outputMode = "update", answer = function(r) return { r.key, r.sum } end })
LUA
add_tuples in a,10 a,20 b,1 b,2 c,1
check_last_batch a,30 b,3 c,1
spark_case "state metrics"
# stateNodes.head.metrics of Spark's StateStoreSaveExec: numOutputRows, numUpdatedStateRows and
# numTotalStateRows of the last batch: here the sink's numOutputRows and the operator's progress
state_metrics() { # OUTPUT_ROWS UPDATED TOTAL
  assert_progress '[.sink.numOutputRows, .stateOperators[0].numRowsUpdated, .stateOperators[0].numRowsTotal]' "[$1,$2,$3]"
}
for mode in update complete; do
  new_query
  job <<LUA
spark.test_stream(spark.memory_stream("in")
    :flat_map(function(r) return { { value = r.value }, { value = r.value + 1 } } end)
    :group_by("value"):agg{ count = sr.count() },
  { outputMode = "$mode", answer = function(r) return { r.value, r.count } end })
LUA
  add_data in 1
  check_last_batch 1,1 2,1
  state_metrics 2 2 2
  add_data in 2 3
  if [[ $mode == update ]]; then
    check_last_batch 2,2 3,2 4,1
    state_metrics 3 3 4
  else
    check_last_batch 1,1 2,2 3,2 4,1
    state_metrics 4 3 4
  fi
done

spark_case "SPARK-22230: last should change with new batches"
job <<'LUA'
spark.test_stream(spark.memory_stream("in"):group_by(function() return 0 end):agg{ last = sr.last("value") },
  { outputMode = "complete", answer = function(r) return { r.last } end })
LUA
add_data in 1 2 3
check_last_batch 3
add_data in 4 5 6
check_last_batch 6
add_data in # an empty batch
check_last_batch 6
add_data in 0
check_last_batch 0

spark_case "SPARK-23004: Ensure that TypedImperativeAggregate functions do not throw errors"
# collect_list over a batch of 128 rows (Spark's sort-based fallback threshold) must not fail
job <<'LUA'
spark.test_stream(spark.memory_stream("in"):select{ group = "value", "value" }
    :group_by("group"):agg{ values = sr.collect_list("value") },
  { outputMode = "update", answer = function(r) return { r.group, #r.values } end })
LUA
add_data in $(seq 1 128)
process_all_available
finish
