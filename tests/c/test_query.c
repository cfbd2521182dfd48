/*
** The query's batch life (runtime/query.c) through its public API: a query over the rate
** source (its clock set by the test: 10 rows a second, so a batch's range is known) writing to
** the json files sink, driven batch by batch with sr_query_step. The sink is the real json
** sink seen through a wrapper that asserts, at the moment the engine hands it a batch and at
** its commit, that offsets/N is already durable and commits/N is not yet there (ckpt.c, the
** order that makes a crash safe); commits/N is asserted after the step. Restarts reopen the
** checkpoint; crashes are real: a copy of this program (`test_query --run`) runs the query
** with SR_CRASH_AT=point:batch and is killed by the engine at that point.
**
** As Spark's MicroBatchExecution (populateStartOffsets): a restart resumes after the last
** batch in commits/, and a batch in offsets/ without its commit re-runs with its logged range,
** whatever the source would plan now.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <jansson.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "connector.h"
#include "fsutil.h"
#include "lua_host.h"
#include "query.h"
#include "sr_test.h"

extern const sr_source_ops sr_source_rate;
extern const sr_sink_ops sr_sink_json;
extern int64_t (*sr_source_rate_clock_ms)(void); /* source_rate.c's clock hook */

enum { ROWS_PER_SECOND = 10 };
static const int64_t T0 = 1800000000000LL; /* the rate source's second 0 */
static int64_t now_ms;
static int64_t clock_ms(void) { return now_ms; }

/* ---- the observed sink ------------------------------------------------------------------ */

/* What the sink saw, in order: "w<batch>:<rows> " for a write, "c<batch> " for a commit. */
static char events[4096];
static sr_sink_ops observed;

static int ckpt_has(const char *ckpt, const char *log, int64_t batch) {
  char path[4200];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s/%lld", ckpt, log, (long long)batch);
  return stat(path, &st) == 0;
}

/* The engine hands the sink a batch only once offsets/N is durable, and before commits/N. */
static void assert_in_flight(const sr_sink *sink, int64_t batch) {
  const char *ckpt = sink->cfg.checkpoint_dir;
  if (!ckpt_has(ckpt, "offsets", batch)) SR_FAIL("the sink got batch %lld before offsets/%lld", (long long)batch, (long long)batch);
  if (ckpt_has(ckpt, "commits", batch)) SR_FAIL("the sink got batch %lld after commits/%lld", (long long)batch, (long long)batch);
}

static sr_status observed_write(sr_sink *sink, int64_t batch, lua_State *L, int rows_idx, int nrows,
                                int spec_idx, sr_error **err) {
  assert_in_flight(sink, batch);
  snprintf(events + strlen(events), sizeof events - strlen(events), "w%lld:%d ", (long long)batch, nrows);
  return sr_sink_json.write(sink, batch, L, rows_idx, nrows, spec_idx, err);
}

static sr_status observed_commit(sr_sink *sink, int64_t batch, sr_error **err) {
  assert_in_flight(sink, batch);
  snprintf(events + strlen(events), sizeof events - strlen(events), "c%lld ", (long long)batch);
  return sr_sink_json.commit(sink, batch, err);
}

/* ---- the query -------------------------------------------------------------------------- */

typedef struct run {
  char dir[256], ckpt[300], out[300];
  sr_query *q;
  sr_job_lua jl;
} run;

/* The job's compiled query, as streamrun.exec hands it over: a descriptor whose run returns
** the source's rows as they are (rows, n). */
static const char DESCS[] =
    "return {{run = function(inputs, ctx) return inputs[1].rows or {}, inputs[1].n end,\n"
    "         sink = {spec = {}}}}";

static void run_dirs(run *r) {
  memset(r, 0, sizeof *r);
  snprintf(r->dir, sizeof r->dir, "/tmp/sr_test_query_XXXXXX");
  ASSERT_TRUE(mkdtemp(r->dir) != NULL);
  snprintf(r->ckpt, sizeof r->ckpt, "%s/ckpt", r->dir);
  snprintf(r->out, sizeof r->out, "%s/out", r->dir);
}

static char *dup_str(const char *s) {
  char *d = strdup(s);
  ASSERT_TRUE(d != NULL);
  return d;
}

/* Opens the query on r's checkpoint (a restart when it exists) in a fresh lua_State. */
static void query_open(run *r) {
  sr_query_spec *s = calloc(1, sizeof *s);
  ASSERT_TRUE(s != NULL);
  s->name = dup_str("q");
  s->where = dup_str("test_query.c");
  s->index = 1;
  s->checkpoint = dup_str(r->ckpt);
  s->output_mode = dup_str("append");
  s->trigger = SR_TRIGGER_PROCESSING_TIME;
  s->nsources = 1;
  s->sources = calloc(1, sizeof *s->sources);
  s->sources[0].ops = &sr_source_rate;
  s->sources[0].options = sr_options_new();
  sr_options_set(s->sources[0].options, "rowsPerSecond", "10");
  s->sources[0].where = dup_str("test_query.c");
  s->sink_ops = &observed;
  s->sink_options = sr_options_new();
  sr_options_set(s->sink_options, "path", r->out);
  s->plan_json = dup_str("{\"sources\": [{\"format\": \"rate\"}], \"stateful\": []}");
  sr_error *err = NULL;
  r->q = sr_query_open(s, r->dir, NULL, &err);
  if (!r->q) SR_FAIL("open: %s", err ? err->message : "?");
  r->jl.L = sr_lua_new(NULL);
  ASSERT_TRUE(r->jl.L != NULL);
  if (luaL_dostring(r->jl.L, DESCS) != 0) SR_FAIL("%s", lua_tostring(r->jl.L, -1));
  r->jl.descs_ref = luaL_ref(r->jl.L, LUA_REGISTRYINDEX);
  r->jl.collect_first = 1;
  events[0] = '\0';
}

static void query_close(run *r) {
  sr_query_close(r->q);
  sr_lua_close(r->jl.L);
  r->q = NULL;
  r->jl.L = NULL;
}

/* One step at the rate source's second `seconds`. */
static sr_step step_at(run *r, int64_t seconds) {
  now_ms = T0 + seconds * 1000;
  sr_step st = SR_STEP_DONE;
  sr_error *err = NULL;
  if (sr_query_step(r->q, &r->jl, &st, &err) != SR_OK) SR_FAIL("step: %s", err ? err->message : "?");
  return st;
}

/* ---- what the sink wrote ---------------------------------------------------------------- */

/* The values of batch N's part file: how many, the lowest and the highest; -1 when there is no
** such file. Also adds each value to seen[] (of size n). */
static int part_values(const run *r, int64_t batch, int64_t *lo, int64_t *hi, int *seen, int n) {
  char prefix[64], path[700];
  snprintf(prefix, sizeof prefix, "part-%05lld-", (long long)batch);
  DIR *d = opendir(r->out);
  ASSERT_TRUE(d != NULL);
  struct dirent *e;
  int count = -1;
  *lo = INT64_MAX;
  *hi = INT64_MIN;
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
    ASSERT_EQ_INT(count, -1); /* one file per batch */
    count = 0;
    snprintf(path, sizeof path, "%s/%s", r->out, e->d_name);
    FILE *f = fopen(path, "r");
    ASSERT_TRUE(f != NULL);
    char line[512];
    while (fgets(line, sizeof line, f)) {
      json_t *row = json_loads(line, 0, NULL);
      ASSERT_TRUE(row != NULL);
      int64_t v = (int64_t)json_number_value(json_object_get(row, "value"));
      json_decref(row);
      ASSERT_TRUE(v >= 0 && v < n);
      seen[v]++;
      if (v < *lo) *lo = v;
      if (v > *hi) *hi = v;
      count++;
    }
    fclose(f);
  }
  closedir(d);
  return count;
}

/* Batch N's part file holds exactly the values [lo, hi]. */
static void assert_batch(const run *r, int64_t batch, int64_t want_lo, int64_t want_hi) {
  int seen[1000] = {0};
  int64_t lo, hi;
  int n = part_values(r, batch, &lo, &hi, seen, 1000);
  if (n != want_hi - want_lo + 1 || lo != want_lo || hi != want_hi)
    SR_FAIL("batch %lld wrote %d values [%lld, %lld], not [%lld, %lld]", (long long)batch, n,
            (long long)lo, (long long)hi, (long long)want_lo, (long long)want_hi);
}

/* Batches 0..nbatches-1 wrote every value in [0, n) exactly once, and nothing else. */
static void assert_exactly_once(const run *r, int nbatches, int n) {
  int seen[1000] = {0};
  ASSERT_TRUE(n <= 1000);
  for (int b = 0; b < nbatches; b++) {
    int64_t lo, hi;
    ASSERT_TRUE(part_values(r, b, &lo, &hi, seen, n) > 0);
  }
  int64_t lo, hi;
  ASSERT_EQ_INT(part_values(r, nbatches, &lo, &hi, seen, n), -1);
  for (int v = 0; v < n; v++)
    if (seen[v] != 1) SR_FAIL("value %d written %d times", v, seen[v]);
}

/* ---- tests ------------------------------------------------------------------------------ */

/* offsets/N before the sink sees batch N, the sink's write then its commit, commits/N after;
** a step without new data runs nothing and logs nothing. */
SR_TEST(batch_logs_offsets_then_sink_then_commit) {
  run r;
  run_dirs(&r);
  now_ms = T0;
  query_open(&r);
  ASSERT_EQ_INT(step_at(&r, 0), SR_STEP_IDLE); /* second 0: no value yet */
  ASSERT_TRUE(!ckpt_has(r.ckpt, "offsets", 0));
  ASSERT_EQ_INT(step_at(&r, 1), SR_STEP_RAN);
  ASSERT_TRUE(ckpt_has(r.ckpt, "offsets", 0) && ckpt_has(r.ckpt, "commits", 0));
  ASSERT_EQ_STR(events, "w0:10 c0 ");
  assert_batch(&r, 0, 0, 9);
  ASSERT_EQ_INT(step_at(&r, 3), SR_STEP_RAN);
  ASSERT_EQ_STR(events, "w0:10 c0 w1:20 c1 ");
  assert_batch(&r, 1, 10, 29);
  ASSERT_EQ_INT(step_at(&r, 3), SR_STEP_IDLE);
  ASSERT_TRUE(!ckpt_has(r.ckpt, "offsets", 2));
  ASSERT_EQ_STR(events, "w0:10 c0 w1:20 c1 ");
  query_close(&r);
  assert_exactly_once(&r, 2, 30);
  sr_fs_remove_tree(r.dir, NULL);
}

/* A restart after batch N's commit runs batch N+1 from N's end offsets. */
SR_TEST(restart_resumes_after_the_last_commit) {
  run r;
  run_dirs(&r);
  now_ms = T0;
  query_open(&r);
  ASSERT_EQ_INT(step_at(&r, 1), SR_STEP_RAN);
  ASSERT_EQ_INT(step_at(&r, 2), SR_STEP_RAN);
  query_close(&r);
  query_open(&r);
  ASSERT_EQ_INT(step_at(&r, 2), SR_STEP_IDLE);
  ASSERT_EQ_INT(step_at(&r, 4), SR_STEP_RAN);
  ASSERT_EQ_STR(events, "w2:20 c2 ");
  assert_batch(&r, 2, 20, 39);
  query_close(&r);
  assert_exactly_once(&r, 3, 40);
  sr_fs_remove_tree(r.dir, NULL);
}

/* A batch in offsets/ without its commit (here written as a crash would leave it: the logs of
** a query stopped after offsets/2) re-runs with the range it logged, though the source would
** now plan a longer one; the next batch takes the rest. */
SR_TEST(logged_batch_without_commit_replays_its_range) {
  run r;
  run_dirs(&r);
  now_ms = T0;
  query_open(&r);
  ASSERT_EQ_INT(step_at(&r, 1), SR_STEP_RAN);
  ASSERT_EQ_INT(step_at(&r, 2), SR_STEP_RAN);
  ASSERT_EQ_INT(step_at(&r, 3), SR_STEP_RAN);
  query_close(&r);
  char path[400];
  snprintf(path, sizeof path, "%s/commits/2", r.ckpt);
  ASSERT_EQ_INT(unlink(path), 0);
  size_t before_len, after_len;
  snprintf(path, sizeof path, "%s/offsets/2", r.ckpt);
  char *before = sr_fs_read_all(path, &before_len, NULL);
  ASSERT_TRUE(before != NULL);
  query_open(&r);
  ASSERT_EQ_INT(step_at(&r, 9), SR_STEP_RAN);
  ASSERT_EQ_STR(events, "w2:10 c2 ");
  assert_batch(&r, 2, 20, 29);
  char *after = sr_fs_read_all(path, &after_len, NULL);
  ASSERT_TRUE(after != NULL && after_len == before_len && memcmp(before, after, before_len) == 0);
  ASSERT_EQ_INT(step_at(&r, 9), SR_STEP_RAN);
  ASSERT_EQ_STR(events, "w2:10 c2 w3:60 c3 ");
  assert_batch(&r, 3, 30, 89);
  query_close(&r);
  assert_exactly_once(&r, 4, 90);
  free(before);
  free(after);
  sr_fs_remove_tree(r.dir, NULL);
}

/* `test_query --run DIR SECONDS`: opens the query on DIR's checkpoint and runs it at the rate
** source's second SECONDS until it has nothing to do (or SR_CRASH_AT kills it). */
static int run_child(char **argv) {
  run r;
  memset(&r, 0, sizeof r);
  snprintf(r.dir, sizeof r.dir, "%s", argv[0]);
  snprintf(r.ckpt, sizeof r.ckpt, "%s/ckpt", r.dir);
  snprintf(r.out, sizeof r.out, "%s/out", r.dir);
  int64_t seconds = atoll(argv[1]);
  now_ms = T0 + seconds * 1000;
  query_open(&r);
  while (step_at(&r, seconds) == SR_STEP_RAN) {}
  query_close(&r);
  return 0;
}

/* Runs batch 1 in a copy of this program that the engine kills at point. */
static void crash_at(const run *r, const char *point) {
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0) {
    char crash[64];
    snprintf(crash, sizeof crash, "%s:1", point);
    setenv("SR_CRASH_AT", crash, 1);
    char *args[] = {"test_query", "--run", (char *)r->dir, "2", NULL};
    execv("/proc/self/exe", args);
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
    SR_FAIL("SR_CRASH_AT=%s:1 did not kill the query (status %d)", point, status);
}

/* A kill at each of the batch's steps: batch 1 (values 10..19) is logged before any of them;
** the restart re-runs it with that range unless its commit was written, and the sink's output
** holds every value once. */
SR_TEST(kill_at_each_point_then_restart) {
  static const char *const points[] = {"after_offsets", "after_sink_write", "after_state_commit",
                                       "after_sink_commit", "after_commit_log"};
  for (size_t i = 0; i < sizeof points / sizeof *points; i++) {
    const char *point = points[i];
    int committed = strcmp(point, "after_commit_log") == 0;
    run r;
    run_dirs(&r);
    now_ms = T0;
    query_open(&r);
    ASSERT_EQ_INT(step_at(&r, 1), SR_STEP_RAN);
    query_close(&r);
    crash_at(&r, point);
    if (!ckpt_has(r.ckpt, "offsets", 1)) SR_FAIL("%s: no offsets/1", point);
    if (ckpt_has(r.ckpt, "commits", 1) != committed) SR_FAIL("%s: commits/1 is %s", point, committed ? "missing" : "there");
    query_open(&r);
    ASSERT_EQ_INT(step_at(&r, 5), SR_STEP_RAN);
    if (committed) {
      ASSERT_EQ_STR(events, "w2:30 c2 ");
    } else {
      if (strcmp(events, "w1:10 c1 ") != 0) SR_FAIL("%s: the restart ran \"%s\"", point, events);
      ASSERT_EQ_INT(step_at(&r, 5), SR_STEP_RAN);
      ASSERT_EQ_STR(events, "w1:10 c1 w2:30 c2 ");
    }
    ASSERT_EQ_INT(step_at(&r, 5), SR_STEP_IDLE);
    query_close(&r);
    assert_batch(&r, 1, 10, 19);
    assert_exactly_once(&r, 3, 50);
    sr_fs_remove_tree(r.dir, NULL);
  }
}

int main(int argc, char **argv) {
  sr_source_rate_clock_ms = clock_ms;
  observed = sr_sink_json;
  observed.write = observed_write;
  observed.commit = observed_commit;
  if (argc == 4 && strcmp(argv[1], "--run") == 0) return run_child(argv + 2);
  return SR_RUN(batch_logs_offsets_then_sink_then_commit, restart_resumes_after_the_last_commit,
                logged_batch_without_commit_replays_its_range, kill_at_each_point_then_restart);
}
