/*
** The Delta source, driven as the engine drives it (plan, read a planned range, restart with
** the logged offsets): the snapshot first then each commit's files, maxFilesPerTrigger,
** deterministic replays, startingVersion, availableNow, commits that remove data, a table that
** appears late or is replaced.
*/
#include "test_delta_util.h"

typedef struct test_source {
  sr_source src;
  sr_options *options;
} test_source;

static sr_status source_open(test_source *t, const char *table, const char *const *opts, int available_now,
                             sr_error **err) {
  memset(t, 0, sizeof *t);
  t->options = sr_options_new();
  sr_options_set(t->options, "path", table);
  for (int i = 0; opts && opts[i]; i += 2) sr_options_set(t->options, opts[i], opts[i + 1]);
  if (sr_options_check(t->options, sr_source_delta.options, NULL, "the delta source", err) != SR_OK) return SR_ERROR;
  t->src.ops = &sr_source_delta;
  t->src.cfg.options = t->options;
  t->src.cfg.state_dir = tmp_root;
  t->src.available_now = available_now;
  return sr_source_delta.open(&t->src, &t->src.cfg, err);
}

static void source_close(test_source *t) {
  sr_source_delta.close(&t->src);
  sr_options_free(t->options);
}

/* Plans after start; returns the new end (owned) or NULL when there is no data. */
static json_t *plan(test_source *t, const json_t *start) {
  json_t *end = NULL;
  sr_error *err = NULL;
  if (sr_source_delta.plan(&t->src, start, &end, &err) != SR_OK) SR_FAIL("plan: %s", err->message);
  return end;
}

/* Reads (start, end] and returns the ids in order, as text "1,2,3". */
static const char *read_ids(test_source *t, lua_State *L, const json_t *start, const json_t *end) {
  static char out[4096];
  lua_newtable(L);
  int rows = lua_gettop(L), n = 0;
  sr_error *err = NULL;
  if (sr_source_delta.read(&t->src, start, end, L, rows, &n, &err) != SR_OK) SR_FAIL("read: %s", err->message);
  size_t len = 0;
  out[0] = '\0';
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, rows, i);
    lua_getfield(L, -1, "id");
    len += (size_t)snprintf(out + len, sizeof out - len, "%s%lld", i > 1 ? "," : "", (long long)lua_tonumber(L, -1));
    lua_pop(L, 2);
  }
  lua_settop(L, rows - 1);
  return out;
}

static int64_t offset_int(const json_t *o, const char *key) { return json_integer_value(json_object_get(o, key)); }

/* Appends ids from..to as one batch of the writer (files of 2 rows). */
static void append_ids(test_sink *w, lua_State *L, int64_t batch, int from, int to) {
  char code[256];
  snprintf(code, sizeof code, "local r = {} for i = %d, %d do r[#r + 1] = {id = i} end return r", from, to);
  must_batch(w, L, batch, code);
}

/* A set of ids as text, sorted numerically, for comparing what several reads gave. */
static int cmp_ll(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return (x > y) - (x < y);
}

static const char *sorted(const char *ids) {
  static char out[4096];
  long long v[512];
  int n = 0;
  for (const char *p = ids; *p && n < 512;) {
    v[n++] = strtoll(p, (char **)&p, 10);
    if (*p == ',') p++;
  }
  qsort(v, (size_t)n, sizeof *v, cmp_ll);
  size_t len = 0;
  out[0] = '\0';
  for (int i = 0; i < n; i++) len += (size_t)snprintf(out + len, sizeof out - len, "%s%lld", i ? "," : "", v[i]);
  return out;
}

SR_TEST(snapshot_first_then_each_commit_deterministically) {
  const char *table = tmp_path("stream");
  lua_State *L = new_lua();
  test_sink w;
  sr_error *err = NULL;
  static const char *const small_files[] = {"maxRecordsPerFile", "2", NULL};
  if (test_sink_open(&w, table, "q-w", "append", NULL, small_files, &err) != SR_OK) SR_FAIL("%s", err->message);
  append_ids(&w, L, 0, 1, 6); /* version 0: 3 files */
  append_ids(&w, L, 1, 7, 8); /* version 1: 1 file */
  test_source t;
  static const char *const two[] = {"maxFilesPerTrigger", "2", NULL};
  if (source_open(&t, table, two, 0, &err) != SR_OK) SR_FAIL("%s", err->message);
  json_t *e1 = plan(&t, NULL);
  ASSERT_TRUE(e1 != NULL);
  ASSERT_EQ_INT(offset_int(e1, "reservoirVersion"), 1);
  ASSERT_EQ_INT(offset_int(e1, "index"), 1);
  ASSERT_TRUE(json_is_true(json_object_get(e1, "isStartingVersion")));
  ASSERT_EQ_INT(offset_int(e1, "sourceVersion"), 1);
  char first[4096];
  snprintf(first, sizeof first, "%s", read_ids(&t, L, NULL, e1));
  json_t *e2 = plan(&t, e1);
  ASSERT_EQ_INT(offset_int(e2, "index"), 3);
  char second[4096];
  snprintf(second, sizeof second, "%s", read_ids(&t, L, e1, e2));
  char both[8192];
  snprintf(both, sizeof both, "%s,%s", first, second);
  ASSERT_EQ_STR(sorted(both), "1,2,3,4,5,6,7,8"); /* the snapshot, each row once */
  ASSERT_TRUE(plan(&t, e2) == NULL);              /* nothing new */
  append_ids(&w, L, 2, 9, 10);
  append_ids(&w, L, 3, 11, 12);
  append_ids(&w, L, 4, 13, 14);
  json_t *e3 = plan(&t, e2);
  ASSERT_EQ_INT(offset_int(e3, "reservoirVersion"), 3); /* two files: versions 2 and 3 */
  ASSERT_EQ_INT(offset_int(e3, "index"), 0);
  ASSERT_TRUE(json_is_false(json_object_get(e3, "isStartingVersion")));
  ASSERT_EQ_STR(read_ids(&t, L, e2, e3), "9,10,11,12"); /* commits in log order */
  /* replays read exactly the same rows */
  ASSERT_EQ_STR(read_ids(&t, L, e1, e2), second);
  ASSERT_EQ_STR(read_ids(&t, L, e2, e3), "9,10,11,12");
  source_close(&t);
  /* a restart: the first batch again from its logged offsets, then on after the last */
  if (source_open(&t, table, two, 0, &err) != SR_OK) SR_FAIL("%s", err->message);
  ASSERT_EQ_STR(read_ids(&t, L, NULL, e1), first);
  json_t *e4 = plan(&t, e3);
  ASSERT_EQ_STR(read_ids(&t, L, e3, e4), "13,14");
  ASSERT_TRUE(plan(&t, e4) == NULL);
  /* Trigger.Once takes everything at once */
  t.src.ignore_limits = 1;
  json_t *all = plan(&t, NULL);
  ASSERT_EQ_STR(sorted(read_ids(&t, L, NULL, all)), "1,2,3,4,5,6,7,8,9,10,11,12,13,14");
  source_close(&t);
  json_decref(e1);
  json_decref(e2);
  json_decref(e3);
  json_decref(e4);
  json_decref(all);
  test_sink_close(&w);
  sr_error_free(err);
  lua_close(L);
}

SR_TEST(starting_version_and_available_now) {
  const char *table = tmp_path("starting");
  lua_State *L = new_lua();
  test_sink w;
  sr_error *err = NULL;
  if (test_sink_open(&w, table, "q-w", "append", NULL, NULL, &err) != SR_OK) SR_FAIL("%s", err->message);
  for (int b = 0; b < 4; b++) append_ids(&w, L, b, b * 10 + 1, b * 10 + 2);
  test_source t;
  static const char *const from2[] = {"startingVersion", "2", NULL};
  if (source_open(&t, table, from2, 0, &err) != SR_OK) SR_FAIL("%s", err->message);
  json_t *e = plan(&t, NULL);
  ASSERT_EQ_STR(read_ids(&t, L, NULL, e), "21,22,31,32");
  json_decref(e);
  source_close(&t);
  static const char *const latest[] = {"startingVersion", "latest", NULL};
  if (source_open(&t, table, latest, 0, &err) != SR_OK) SR_FAIL("%s", err->message);
  ASSERT_TRUE(plan(&t, NULL) == NULL);
  source_close(&t);
  static const char *const bad[] = {"startingVersion", "soon", NULL};
  ASSERT_EQ_INT(source_open(&t, table, bad, 0, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "startingVersion") != NULL);
  source_close(&t);
  /* availableNow: what exists at open, even if commits come after */
  static const char *const one[] = {"maxFilesPerTrigger", "1", NULL};
  if (source_open(&t, table, one, 1, &err) != SR_OK) SR_FAIL("%s", err->message);
  append_ids(&w, L, 4, 41, 42);
  json_t *prev = NULL;
  sr_buf got = SR_BUF_INIT;
  for (int i = 0; i < 10; i++) {
    json_t *next = plan(&t, prev);
    if (!next) break;
    sr_buf_printf(&got, "%s%s", got.len ? "," : "", read_ids(&t, L, prev, next));
    json_decref(prev);
    prev = next;
  }
  ASSERT_EQ_STR(sorted(sr_buf_cstr(&got)), "1,2,11,12,21,22,31,32");
  ASSERT_TRUE(sr_source_delta.drained(&t.src, prev));
  json_decref(prev);
  sr_buf_free(&got);
  source_close(&t);
  test_sink_close(&w);
  sr_error_free(err);
  lua_close(L);
}

SR_TEST(commits_that_remove_data) {
  const char *table = tmp_path("removes");
  lua_State *L = new_lua();
  test_sink w;
  sr_error *err = NULL;
  if (test_sink_open(&w, table, "q-c", "complete", NULL, NULL, &err) != SR_OK) SR_FAIL("%s", err->message);
  must_batch(&w, L, 0, "return {{id = 1}, {id = 2}}");
  must_batch(&w, L, 1, "return {{id = 3}}");   /* removes version 0's file */
  test_sink_close(&w);
  test_source t;
  static const char *const from0[] = {"startingVersion", "0", NULL};
  if (source_open(&t, table, from0, 0, &err) != SR_OK) SR_FAIL("%s", err->message);
  json_t *end = NULL;
  ASSERT_EQ_INT(sr_source_delta.plan(&t.src, NULL, &end, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "version 1") && strstr(err->message, "removes data") &&
              strstr(err->message, "skipChangeCommits"));
  source_close(&t);
  static const char *const skip[] = {"startingVersion", "0", "skipChangeCommits", "true", NULL};
  if (source_open(&t, table, skip, 0, &err) != SR_OK) SR_FAIL("%s", err->message);
  end = plan(&t, NULL);
  ASSERT_EQ_STR(read_ids(&t, L, NULL, end), "1,2");
  json_decref(end);
  source_close(&t);
  static const char *const changes[] = {"startingVersion", "0", "ignoreChanges", "true", NULL};
  if (source_open(&t, table, changes, 0, &err) != SR_OK) SR_FAIL("%s", err->message);
  end = plan(&t, NULL);
  ASSERT_EQ_STR(read_ids(&t, L, NULL, end), "1,2,3");
  json_decref(end);
  source_close(&t);
  /* from the snapshot, the removed file is simply not there */
  if (source_open(&t, table, NULL, 0, &err) != SR_OK) SR_FAIL("%s", err->message);
  end = plan(&t, NULL);
  ASSERT_EQ_STR(read_ids(&t, L, NULL, end), "3");
  json_decref(end);
  source_close(&t);
  sr_error_free(err);
  lua_close(L);
}

SR_TEST(a_table_that_appears_late_or_is_replaced) {
  const char *table = tmp_path("late");
  lua_State *L = new_lua();
  sr_error *err = NULL;
  test_source t;
  if (source_open(&t, table, NULL, 0, &err) != SR_OK) SR_FAIL("%s", err->message);
  ASSERT_TRUE(plan(&t, NULL) == NULL);
  test_sink w;
  if (test_sink_open(&w, table, "q-w", "append", NULL, NULL, &err) != SR_OK) SR_FAIL("%s", err->message);
  append_ids(&w, L, 0, 1, 3);
  test_sink_close(&w);
  json_t *end = plan(&t, NULL);
  ASSERT_EQ_STR(read_ids(&t, L, NULL, end), "1,2,3");
  source_close(&t);
  /* the directory holds another table now: its id differs from the offsets' */
  ASSERT_EQ_INT(sr_fs_remove_tree(table, NULL), SR_OK);
  if (test_sink_open(&w, table, "q-w2", "append", NULL, NULL, &err) != SR_OK) SR_FAIL("%s", err->message);
  append_ids(&w, L, 0, 7, 7);
  test_sink_close(&w);
  if (source_open(&t, table, NULL, 0, &err) != SR_OK) SR_FAIL("%s", err->message);
  json_t *next = NULL;
  ASSERT_EQ_INT(sr_source_delta.plan(&t.src, end, &next, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "replaced") != NULL);
  json_t *o = json_object();
  sr_source_delta.describe(&t.src, o);
  ASSERT_TRUE(strstr(json_string_value(json_object_get(o, "description")), "DeltaSource[") != NULL);
  json_decref(o);
  source_close(&t);
  json_decref(end);
  sr_error_free(err);
  lua_close(L);
}

int main(void) {
  make_tmp_root("delta-source");
  return SR_RUN(snapshot_first_then_each_commit_deterministically, starting_version_and_available_now,
                commits_that_remove_data, a_table_that_appears_late_or_is_replaced);
}
