/* The monitor behind --http: counters summed from progress records, the histogram's buckets,
** label escaping, the progress ring (bounded, oldest first), readiness, and the log lines'
** JSON fields. */
#include <stdlib.h>
#include <string.h>

#include "monitor.h"
#include "sr_test.h"

static void publish(const char *name, int64_t batch, int64_t rows, int64_t trigger_ms, int64_t bad) {
  json_t *r = json_pack("{s:s,s:I,s:I,s:f,s:f,s:{s:I,s:I,s:I,s:I,s:I},s:{s:s},s:[{s:s,s:I,s:I,s:I}],"
                        "s:[{s:s,s:I}],s:{s:I},s:I,s:I,s:I,s:I,s:I}",
                        "name", name, "batchId", (json_int_t)batch, "numInputRows", (json_int_t)rows,
                        "inputRowsPerSecond", 10.0, "processedRowsPerSecond", 20.0, "durationMs",
                        "latestOffset", (json_int_t)0, "walCommit", (json_int_t)2, "addBatch",
                        (json_int_t)(trigger_ms - 3), "commitOffsets", (json_int_t)1, "triggerExecution",
                        (json_int_t)trigger_ms, "eventTime", "watermark", "2026-01-01T00:00:10.000Z",
                        "stateOperators", "operatorName", "agg \"x\"", "numRowsTotal", (json_int_t)7,
                        "memoryUsedBytes", (json_int_t)700, "numRowsDroppedByWatermark", (json_int_t)1,
                        "sources", "description", "rate", "numInputRows", (json_int_t)rows, "sink",
                        "numOutputRows", (json_int_t)(rows / 2), "numBadRecords", (json_int_t)bad,
                        "reloads", (json_int_t)1, "reloadRefusals", (json_int_t)2, "luaMemoryBytes",
                        (json_int_t)1000, "luaHeapBytes", (json_int_t)4096);
  char *text = json_dumps(r, JSON_COMPACT);
  sr_monitor_batch(name, r, text);
  free(text);
  json_decref(r);
}

static int has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = strstr(text, line); p; p = strstr(p + 1, line))
    if ((p == text || p[-1] == '\n') && p[n] == '\n') return 1;
  return 0;
}

/* A job of one query, q"1 (a quote to escape), that has run three batches. */
static void query_with_three_batches(void) {
  sr_monitor_query_started("q\"1", "Query q: plan", "job.lua:3");
  ASSERT_EQ_INT(sr_monitor_ready(), 0); /* not every query started yet */
  sr_monitor_job_started(1);
  ASSERT_EQ_INT(sr_monitor_ready(), 1);
  publish("q\"1", 0, 100, 4, 0);
  publish("q\"1", 1, 50, 40, 3);
  publish("q\"1", 2, 10, 400, 1);
}

SR_TEST(counters_histogram_and_labels) {
  query_with_three_batches();
  sr_buf b = SR_BUF_INIT;
  ASSERT_EQ_INT(sr_monitor_render_metrics(&b), 0);
  const char *m = sr_buf_cstr(&b);
  ASSERT_TRUE(has_line(m, "streamrun_input_rows_total{query=\"q\\\"1\"} 160"));
  ASSERT_TRUE(has_line(m, "streamrun_output_rows_total{query=\"q\\\"1\"} 80"));
  ASSERT_TRUE(has_line(m, "streamrun_batches_total{query=\"q\\\"1\"} 3"));
  ASSERT_TRUE(has_line(m, "streamrun_bad_records_total{query=\"q\\\"1\"} 4"));
  ASSERT_TRUE(has_line(m, "streamrun_batch_duration_seconds_bucket{query=\"q\\\"1\",phase=\"triggerExecution\",le=\"0.005\"} 1"));
  ASSERT_TRUE(has_line(m, "streamrun_batch_duration_seconds_bucket{query=\"q\\\"1\",phase=\"triggerExecution\",le=\"0.05\"} 2"));
  ASSERT_TRUE(has_line(m, "streamrun_batch_duration_seconds_bucket{query=\"q\\\"1\",phase=\"triggerExecution\",le=\"+Inf\"} 3"));
  ASSERT_TRUE(has_line(m, "streamrun_batch_duration_seconds_sum{query=\"q\\\"1\",phase=\"triggerExecution\"} 0.444"));
  ASSERT_TRUE(has_line(m, "streamrun_state_rows{query=\"q\\\"1\",operator=\"agg \\\"x\\\"\"} 7"));
  ASSERT_TRUE(has_line(m, "streamrun_state_rows_dropped_by_watermark_total{query=\"q\\\"1\",operator=\"agg \\\"x\\\"\"} 3"));
  ASSERT_TRUE(has_line(m, "streamrun_watermark_seconds{query=\"q\\\"1\"} 1767225610"));
  ASSERT_TRUE(has_line(m, "streamrun_reloads_total 1"));
  ASSERT_TRUE(has_line(m, "streamrun_lua_heap_bytes 4096"));
  ASSERT_TRUE(has_line(m, "streamrun_ready 1"));
  sr_monitor_query_ended("q\"1", 1, "job.lua:5: boom");
  ASSERT_EQ_INT(sr_monitor_ready(), 0);
  sr_buf_free(&b);
}

SR_TEST(progress_ring_is_bounded_and_ordered) {
  for (int i = 0; i < SR_MONITOR_RING + 20; i++) publish("ring", i, 1, 1, 0);
  sr_buf b = SR_BUF_INIT;
  ASSERT_EQ_INT(sr_monitor_render_progress(&b, "ring", 2), 0);
  json_t *a = json_loads(sr_buf_cstr(&b), 0, NULL);
  ASSERT_EQ_INT(json_array_size(a), 2);
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_array_get(a, 0), "batchId")), SR_MONITOR_RING + 18);
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_array_get(a, 1), "batchId")), SR_MONITOR_RING + 19);
  json_decref(a);
  sr_buf_clear(&b);
  ASSERT_EQ_INT(sr_monitor_render_progress(&b, "ring", 100000), 0);
  a = json_loads(sr_buf_cstr(&b), 0, NULL);
  ASSERT_EQ_INT(json_array_size(a), SR_MONITOR_RING);
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_array_get(a, 0), "batchId")), 20);
  json_decref(a);
  sr_buf_clear(&b);
  ASSERT_EQ_INT(sr_monitor_render_progress(&b, "nope", 1), 1);
  sr_buf_free(&b);
}

SR_TEST(queries_json_has_status_plan_and_errors) {
  query_with_three_batches();
  sr_monitor_query_ended("q\"1", 1, "job.lua:5: boom");
  sr_monitor_log("error", "q\"1", "query failed: job.lua:5: boom", "job.lua:5");
  sr_monitor_reload(0, "job.lua:9: syntax error", 0);
  sr_buf b = SR_BUF_INIT;
  ASSERT_EQ_INT(sr_monitor_render_queries(&b), 0);
  json_t *root = json_loads(sr_buf_cstr(&b), 0, NULL);
  ASSERT_TRUE(root != NULL);
  json_t *q = json_array_get(json_object_get(root, "queries"), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(q, "status")), "FAILED");
  ASSERT_EQ_STR(json_string_value(json_object_get(q, "plan")), "Query q: plan");
  ASSERT_EQ_STR(json_string_value(json_object_get(q, "error")), "job.lua:5: boom");
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(q, "lastProgress"), "batchId")), 2);
  json_t *e = json_array_get(json_object_get(root, "errors"), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(e, "where")), "job.lua:5");
  json_t *r = json_array_get(json_object_get(root, "reloads"), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(r, "kind")), "reload refused");
  ASSERT_TRUE(json_is_false(json_object_get(root, "ready")));
  json_decref(root);
  sr_buf_free(&b);
}

int main(void) {
  sr_test_before_each = sr_monitor_enable;
  return SR_RUN(counters_histogram_and_labels, progress_ring_is_bounded_and_ordered,
                queries_json_has_status_plan_and_errors);
}
