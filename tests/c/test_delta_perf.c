/*
** Throughput of the Delta sink beside the JSON file sink, on the same Lua rows in the same run
** (5 columns: long, double, string, timestamp, long; snappy), and the per-batch cost of a
** commit beyond its fsyncs. Prints the figures; checks the tables hold every row. With
** SR_PERF_STRICT=1 (an optimised build on an idle machine) it also requires >= 1M rows/s and
** <= 5 ms of commit overhead, the targets of issue 7.
*/
#include "test_delta_util.h"

#include <fcntl.h>
#include <time.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU time of this thread: "per core" figures do not depend on what else the machine runs,
** and leave out the time fsync waits for the disk. */
static double cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

enum { BATCH_ROWS = 200000, BATCHES = 5, SMALL_BATCHES = 40 };

static const char *five_columns(int b, int n) {
  static char code[512];
  snprintf(code, sizeof code,
           "local rows = {} for i = 1, %d do local k = %d * %d + i\n"
           "rows[i] = {id = k, price = k * 0.5 + k %% 7, name = 'name-' .. (k %% 100),\n"
           "           ts = 1700000000000 + k, qty = k %% 1000} end return rows", n, b, n);
  return code;
}

typedef struct timing { double wall, cpu, commit_wall, commit_cpu; } timing;

/* Time spent in write + commit of every batch (rows built by Lua beforehand, not timed). */
static timing run_sink(sr_sink *sink, lua_State *L, int batches, int rows_per_batch) {
  timing t = {0, 0, 0, 0};
  for (int b = 0; b < batches; b++) {
    int top = lua_gettop(L);
    int n = push_rows(L, five_columns(b, rows_per_batch));
    sr_error *err = NULL;
    double t0 = now_s(), c0 = cpu_s();
    if (sink->ops->write(sink, b, L, lua_gettop(L), n, 0, &err) != SR_OK) SR_FAIL("%s", err->message);
    double t1 = now_s(), c1 = cpu_s();
    if (sink->ops->commit(sink, b, &err) != SR_OK) SR_FAIL("%s", err->message);
    double t2 = now_s(), c2 = cpu_s();
    t.wall += t2 - t0;
    t.cpu += c2 - c0;
    t.commit_wall += t2 - t1;
    t.commit_cpu += c2 - c1;
    lua_settop(L, top);
    lua_gc(L, LUA_GCCOLLECT, 0);
  }
  return t;
}

static sr_schema *plan_schema(void) {
  sr_schema *s = sr_schema_new();
  sr_schema_add(s, "id", SR_TYPE_LONG);
  sr_schema_add(s, "price", SR_TYPE_DOUBLE);
  sr_schema_add(s, "name", SR_TYPE_STRING);
  sr_schema_add(s, "ts", SR_TYPE_TIMESTAMP);
  sr_schema_add(s, "qty", SR_TYPE_LONG);
  return s;
}

static void open_json_sink(sr_sink *sink, sr_options *o, const char *dir, const sr_schema *plan) {
  memset(sink, 0, sizeof *sink);
  sink->ops = sr_sink_lookup("json");
  ASSERT_TRUE(sink->ops != NULL);
  sr_options_set(o, "path", dir);
  sink->cfg.options = o;
  sink->cfg.schema = plan;
  sink->cfg.query_id = "perf-json";
  sink->cfg.output_mode = "append";
  sr_error *err = NULL;
  if (sink->ops->open(sink, &sink->cfg, &err) != SR_OK) SR_FAIL("%s", err->message);
}

/* The same file-system work as one small Delta batch, and nothing else: a data file written
** and fsynced, its directory fsynced, a commit written by put-if-absent (temp, fsync, link,
** directory fsync). */
static double fsync_baseline(int batches) {
  const char *dir = tmp_path("baseline");
  sr_fs_mkdirs(dir, NULL);
  char data[4096];
  memset(data, 'x', sizeof data);
  double t0 = now_s();
  for (int b = 0; b < batches; b++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/data-%d", dir, b);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ_INT(write(fd, data, 1500), 1500);
    ASSERT_EQ_INT(fsync(fd), 0);
    close(fd);
    ASSERT_EQ_INT(sr_fs_sync_dir(dir, NULL), SR_OK);
    snprintf(path, sizeof path, "%s/commit-%d", dir, b);
    ASSERT_EQ_INT(sr_fs_write_new(path, data, 1200, NULL), SR_OK);
  }
  return (now_s() - t0) / batches;
}

SR_TEST(delta_sink_throughput_beside_the_json_sink) {
  lua_State *L = new_lua();
  sr_schema *plan = plan_schema();
  sr_error *err = NULL;
  test_sink t;
  if (test_sink_open(&t, tmp_path("perf-delta"), "perf-delta", "append", plan, NULL, &err) != SR_OK)
    SR_FAIL("%s", err->message);
  timing d = run_sink(&t.sink, L, BATCHES, BATCH_ROWS);
  test_sink_close(&t);
  sr_sink json;
  sr_options *o = sr_options_new();
  open_json_sink(&json, o, tmp_path("perf-json"), plan);
  timing j = run_sink(&json, L, BATCHES, BATCH_ROWS);
  json.ops->close(&json);
  sr_options_free(o);
  double rows = (double)BATCHES * BATCH_ROWS;
  fprintf(stderr, "\n    %d batches of %d rows, 5 columns, snappy\n"
                  "    delta sink: %.2f M rows/s per core (%.0f ns/row CPU), %.2f M rows/s wall; commit %.2f ms CPU, %.1f ms wall per batch\n"
                  "    json sink:  %.2f M rows/s per core (%.0f ns/row CPU), %.2f M rows/s wall\n",
          BATCHES, BATCH_ROWS, rows / d.cpu / 1e6, d.cpu / rows * 1e9, rows / d.wall / 1e6,
          d.commit_cpu / BATCHES * 1e3, d.commit_wall / BATCHES * 1e3, rows / j.cpu / 1e6, j.cpu / rows * 1e9,
          rows / j.wall / 1e6);
  /* every row is in the table */
  sr_delta_snapshot *s = sr_delta_snapshot_open(tmp_path("perf-delta"), -1, &err);
  int64_t n = 0;
  const char *key;
  json_t *add;
  json_object_foreach(s->files, key, add) {
    json_t *stats = json_loads(json_string_value(json_object_get(add, "stats")), 0, NULL);
    n += json_integer_value(json_object_get(stats, "numRecords"));
    json_decref(stats);
  }
  ASSERT_EQ_INT(n, BATCHES * BATCH_ROWS);
  sr_delta_snapshot_free(s);
  if (getenv("SR_PERF_STRICT") && rows / d.cpu < 1e6)
    SR_FAIL("delta sink: %.2f M rows/s per core, the target is >= 1", rows / d.cpu / 1e6);
  sr_schema_free(plan);
  sr_error_free(err);
  lua_close(L);
}

SR_TEST(commit_overhead_beyond_the_fsyncs) {
  lua_State *L = new_lua();
  sr_schema *plan = plan_schema();
  sr_error *err = NULL;
  test_sink t;
  if (test_sink_open(&t, tmp_path("perf-small"), "perf-small", "append", plan, NULL, &err) != SR_OK)
    SR_FAIL("%s", err->message);
  timing d = run_sink(&t.sink, L, SMALL_BATCHES, 20);
  test_sink_close(&t);
  double batch_s = d.wall / SMALL_BATCHES;
  double fs_s = fsync_baseline(SMALL_BATCHES);
  double overhead_ms = (batch_s - fs_s) * 1e3;
  fprintf(stderr, "\n    batches of 20 rows: %.2f ms each (write + commit, a checkpoint every 10 included); "
                  "the same fsyncs alone: %.2f ms; overhead %.2f ms wall, %.2f ms CPU (commit alone %.2f ms CPU)\n",
          batch_s * 1e3, fs_s * 1e3, overhead_ms, d.cpu / SMALL_BATCHES * 1e3, d.commit_cpu / SMALL_BATCHES * 1e3);
  ASSERT_EQ_INT(sr_delta_latest_version(tmp_path("perf-small")), SMALL_BATCHES - 1);
  if (getenv("SR_PERF_STRICT") && d.cpu / SMALL_BATCHES * 1e3 > 5)
    SR_FAIL("per-batch overhead %.2f ms CPU, the target is <= 5", d.cpu / SMALL_BATCHES * 1e3);
  sr_schema_free(plan);
  sr_error_free(err);
  lua_close(L);
}

int main(void) {
  make_tmp_root("delta-perf");
  return SR_RUN(delta_sink_throughput_beside_the_json_sink, commit_overhead_beyond_the_fsyncs);
}
