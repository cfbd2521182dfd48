/* The "rate" source (source_rate.c), against a clock the test moves by hand. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "connector.h"
#include "fsutil.h"
#include "sr_test.h"

extern const sr_source_ops sr_source_rate;
extern int64_t (*sr_source_rate_clock_ms)(void); /* source_rate.c's clock hook */

#define T0 1795428000000LL /* 2026-11-23T10:00:00Z */

static int64_t fake_now;
static int64_t fake_clock(void) { return fake_now; }

typedef struct test_source {
  sr_source src;
  sr_options *opts;
} test_source;

/* Opens a rate source on state_dir with options given as name, value, ..., NULL. */
static sr_status open_source(test_source *t, const char *state_dir, int available_now, sr_error **err, ...) {
  memset(t, 0, sizeof *t);
  t->opts = sr_options_new();
  va_list ap;
  va_start(ap, err);
  for (const char *name; (name = va_arg(ap, const char *));) sr_options_set(t->opts, name, va_arg(ap, const char *));
  va_end(ap);
  t->src.ops = &sr_source_rate;
  t->src.available_now = available_now;
  t->src.cfg.options = t->opts;
  t->src.cfg.state_dir = state_dir;
  sr_status st = sr_options_check(t->opts, sr_source_rate.options, NULL, "the rate source", err);
  if (st != SR_OK) return st;
  return sr_source_rate.open(&t->src, &t->src.cfg, err);
}

static void close_source(test_source *t) {
  sr_source_rate.close(&t->src);
  sr_options_free(t->opts);
}

static char *new_dir(void) {
  char *dir = strdup("/tmp/sr_test_rate_XXXXXX");
  if (!mkdtemp(dir)) SR_FAIL("mkdtemp failed");
  return dir;
}

static void remove_dir(char *dir) {
  sr_fs_remove_tree(dir, NULL);
  free(dir);
}

static json_t *plan(test_source *t, const json_t *start) {
  json_t *end = NULL;
  sr_error *err = NULL;
  if (t->src.ops->plan(&t->src, start, &end, &err) != SR_OK) SR_FAIL("plan: %s", err->message);
  return end;
}

static int64_t field(const json_t *off, const char *name) {
  ASSERT_TRUE(off != NULL);
  json_t *v = json_object_get(off, name);
  ASSERT_TRUE(json_is_integer(v));
  return json_integer_value(v);
}

/* Reads (start, end] into a new Lua array left on the stack; returns its length. */
static int read_rows(test_source *t, lua_State *L, const json_t *start, const json_t *end) {
  lua_newtable(L);
  int n = 0;
  sr_error *err = NULL;
  if (t->src.ops->read(&t->src, start, end, L, -1, &n, &err) != SR_OK) SR_FAIL("read: %s", err->message);
  ASSERT_EQ_INT(lua_objlen(L, -1), n);
  return n;
}

/* Row i (1-based) of the array on top of the stack. */
static void row_at(lua_State *L, int i, int64_t *timestamp, int64_t *value) {
  lua_rawgeti(L, -1, i);
  lua_getfield(L, -1, "timestamp");
  *timestamp = (int64_t)lua_tonumber(L, -1);
  lua_getfield(L, -2, "value");
  *value = (int64_t)lua_tonumber(L, -1);
  lua_pop(L, 3);
}

SR_TEST(rate_rows_per_second) {
  sr_source_rate_clock_ms = fake_clock;
  char *dir = new_dir();
  fake_now = T0;
  test_source t;
  sr_error *err = NULL;
  if (open_source(&t, dir, 0, &err, "rowsPerSecond", "10", NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  fake_now = T0 + 999;
  ASSERT_TRUE(plan(&t, NULL) == NULL);          /* rows come a whole second at a time */
  fake_now = T0 + 1000;
  json_t *e1 = plan(&t, NULL);
  ASSERT_EQ_INT(field(e1, "value"), 10);
  ASSERT_EQ_INT(field(e1, "seconds"), 1);
  ASSERT_EQ_INT(field(e1, "startTimeMs"), T0);
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  ASSERT_EQ_INT(read_rows(&t, L, NULL, e1), 10);
  for (int i = 1; i <= 10; i++) {
    int64_t ts, v;
    row_at(L, i, &ts, &v);
    ASSERT_EQ_INT(v, i - 1);
    ASSERT_EQ_INT(ts, T0 + (i - 1) * 100);       /* spread evenly over the second */
  }
  lua_pop(L, 1);
  fake_now = T0 + 3500;
  json_t *e2 = plan(&t, e1);
  ASSERT_EQ_INT(field(e2, "value"), 30);
  ASSERT_EQ_INT(field(e2, "seconds"), 3);
  ASSERT_EQ_INT(read_rows(&t, L, e1, e2), 20);
  for (int i = 1; i <= 20; i++) {
    int64_t ts, v;
    row_at(L, i, &ts, &v);
    ASSERT_EQ_INT(v, 9 + i);
    ASSERT_EQ_INT(ts, T0 + 1000 + (i - 1) * 100);
  }
  lua_pop(L, 1);
  ASSERT_TRUE(plan(&t, e2) == NULL);            /* nothing new within second 3 */
  fake_now = T0 + 500;                          /* a clock that goes back changes nothing */
  ASSERT_TRUE(plan(&t, e2) == NULL);
  fake_now = T0 + 4000;
  json_t *e3 = plan(&t, e2);
  ASSERT_EQ_INT(field(e3, "value"), 40);
  json_decref(e3);
  ASSERT_EQ_INT(t.src.ops->drained(&t.src, e2), 0); /* a stream never drains */
  json_t *progress = json_object();
  t.src.ops->describe(&t.src, progress);
  ASSERT_EQ_STR(json_string_value(json_object_get(progress, "description")),
                "RateStreamV2[rowsPerSecond=10, rampUpTimeSeconds=0, numPartitions=default]");
  json_decref(progress);
  json_decref(e1);
  json_decref(e2);
  lua_close(L);
  close_source(&t);
  remove_dir(dir);
}

SR_TEST(rate_ramp_up) {
  /* Spark's example: rampUpTime 4 s, rowsPerSecond 10: 0 2 6 12 20 30 40 values after 0..6 s. */
  static const int64_t want[] = {0, 2, 6, 12, 20, 30, 40};
  const char *forms[] = {"4 seconds", "4", "4s", "4500 ms"};
  for (int f = 0; f < 4; f++) {
    char *dir = new_dir();
    fake_now = T0;
    test_source t;
    sr_error *err = NULL;
    if (open_source(&t, dir, 0, &err, "rowsPerSecond", "10", "rampUpTime", forms[f], NULL) != SR_OK)
      SR_FAIL("open: %s", err->message);
    json_t *start = NULL;
    for (int s = 1; s <= 6; s++) {
      fake_now = T0 + s * 1000;
      json_t *end = plan(&t, start);
      ASSERT_EQ_INT(field(end, "value"), want[s]);
      json_decref(start);
      start = end;
    }
    json_decref(start);
    close_source(&t);
    remove_dir(dir);
  }
  /* Slower than one new value a second: the ramp-up has nothing yet, so no batch; the next
  ** batch spans the seconds it waited. */
  char *dir = new_dir();
  fake_now = T0;
  test_source t;
  sr_error *err = NULL;
  if (open_source(&t, dir, 0, &err, "rowsPerSecond", "2", "rampUpTime", "5", NULL) != SR_OK)
    SR_FAIL("open: %s", err->message);
  fake_now = T0 + 5000;
  ASSERT_TRUE(plan(&t, NULL) == NULL);          /* 2 / 6 rounds down to no speed */
  fake_now = T0 + 7000;
  json_t *end = plan(&t, NULL);
  ASSERT_EQ_INT(field(end, "value"), 4);
  ASSERT_EQ_INT(field(end, "seconds"), 7);
  lua_State *L = luaL_newstate();
  ASSERT_EQ_INT(read_rows(&t, L, NULL, end), 4);
  int64_t ts, v;
  row_at(L, 2, &ts, &v);
  ASSERT_EQ_INT(v, 1);
  ASSERT_EQ_INT(ts, T0 + 1750);                 /* 7000 ms over 4 values */
  lua_close(L);
  json_decref(end);
  close_source(&t);
  remove_dir(dir);
}

SR_TEST(rate_timestamps_round) {
  /* 3 rows a second: 333.3 ms apart, rounded as Spark's math.round. */
  char *dir = new_dir();
  fake_now = T0;
  test_source t;
  sr_error *err = NULL;
  if (open_source(&t, dir, 0, &err, "rowsPerSecond", "3", NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  fake_now = T0 + 1000;
  json_t *end = plan(&t, NULL);
  lua_State *L = luaL_newstate();
  ASSERT_EQ_INT(read_rows(&t, L, NULL, end), 3);
  static const int64_t want[] = {0, 333, 667};
  for (int i = 1; i <= 3; i++) {
    int64_t ts, v;
    row_at(L, i, &ts, &v);
    ASSERT_EQ_INT(ts, T0 + want[i - 1]);
  }
  lua_close(L);
  json_decref(end);
  close_source(&t);
  remove_dir(dir);
}

SR_TEST(rate_replay_is_exact) {
  char *dir = new_dir();
  fake_now = T0 + 123;
  test_source t;
  sr_error *err = NULL;
  if (open_source(&t, dir, 0, &err, "rowsPerSecond", "1000", NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  fake_now += 2000;
  json_t *e1 = plan(&t, NULL);
  fake_now += 3000;
  json_t *e2 = plan(&t, e1);
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  ASSERT_EQ_INT(read_rows(&t, L, e1, e2), 3000);
  fake_now += 60000;                            /* the clock does not enter a replay */
  ASSERT_EQ_INT(read_rows(&t, L, e1, e2), 3000);
  /* Read rebuilds rows from the offsets alone, even with other options. */
  test_source t2;
  char *dir2 = new_dir();
  if (open_source(&t2, dir2, 0, &err, "rowsPerSecond", "7", NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  ASSERT_EQ_INT(read_rows(&t2, L, e1, e2), 3000);
  const char *cmp =
    "local a, b, c = ...\n"
    "for i = 1, #a do\n"
    "  if a[i].timestamp ~= b[i].timestamp or a[i].value ~= b[i].value then return false end\n"
    "  if a[i].timestamp ~= c[i].timestamp or a[i].value ~= c[i].value then return false end\n"
    "end\n"
    "return #a == #b and #a == #c and a[1].value == 2000 and a[#a].value == 4999\n";
  if (luaL_loadstring(L, cmp) != 0) SR_FAIL("lua: %s", lua_tostring(L, -1));
  lua_insert(L, 1);
  if (lua_pcall(L, 3, 1, 0) != 0) SR_FAIL("lua: %s", lua_tostring(L, -1));
  ASSERT_TRUE(lua_toboolean(L, -1));
  lua_close(L);
  json_decref(e1);
  json_decref(e2);
  close_source(&t2);
  remove_dir(dir2);
  close_source(&t);
  remove_dir(dir);
}

SR_TEST(rate_restart_continues_timeline) {
  char *dir = new_dir();
  fake_now = T0;
  test_source t;
  sr_error *err = NULL;
  if (open_source(&t, dir, 0, &err, "rowsPerSecond", "10", NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  fake_now = T0 + 3000;
  json_t *e1 = plan(&t, NULL);
  ASSERT_EQ_INT(field(e1, "value"), 30);
  close_source(&t);
  char path[4200];
  snprintf(path, sizeof path, "%s/rate-start.json", dir);
  ASSERT_TRUE(sr_fs_exists(path));

  /* Down for 7 s: the restarted query's start time is still T0, values continue at 30. */
  fake_now = T0 + 10000;
  if (open_source(&t, dir, 0, &err, "rowsPerSecond", "10", NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  json_t *e2 = plan(&t, e1);
  ASSERT_EQ_INT(field(e2, "value"), 100);
  ASSERT_EQ_INT(field(e2, "seconds"), 10);
  ASSERT_EQ_INT(field(e2, "startTimeMs"), T0);
  lua_State *L = luaL_newstate();
  read_rows(&t, L, e1, e2);
  int64_t ts, v;
  row_at(L, 1, &ts, &v);
  ASSERT_EQ_INT(v, 30);
  ASSERT_EQ_INT(ts, T0 + 3000);
  lua_close(L);
  close_source(&t);

  /* A new rowsPerSecond after the restart: values continue from the log, at the new rate. */
  fake_now = T0 + 12000;
  if (open_source(&t, dir, 0, &err, "rowsPerSecond", "100", NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  json_t *e3 = plan(&t, e2);
  ASSERT_EQ_INT(field(e3, "value"), 300);
  close_source(&t);

  /* Lost state file: the logged offset still carries the start time. */
  char *other = new_dir();
  fake_now = T0 + 20000;
  if (open_source(&t, other, 0, &err, "rowsPerSecond", "10", NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  json_t *e4 = plan(&t, e2);
  ASSERT_EQ_INT(field(e4, "startTimeMs"), T0);
  ASSERT_EQ_INT(field(e4, "seconds"), 20);
  ASSERT_EQ_INT(field(e4, "value"), 200);
  close_source(&t);
  remove_dir(other);

  /* A corrupt state file is an error, not a new timeline. */
  ASSERT_EQ_INT(sr_fs_write_atomic(path, "garbage", 7, NULL), SR_OK);
  ASSERT_EQ_INT(open_source(&t, dir, 0, &err, NULL), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "startTimeMs") != NULL);
  sr_error_free(err);
  close_source(&t);
  json_decref(e1);
  json_decref(e2);
  json_decref(e3);
  json_decref(e4);
  remove_dir(dir);
}

SR_TEST(rate_available_now) {
  char *dir = new_dir();
  fake_now = T0;
  test_source t;
  sr_error *err = NULL;
  /* A fresh query: nothing existed when it started. */
  if (open_source(&t, dir, 1, &err, "rowsPerSecond", "10", NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  fake_now = T0 + 4000;
  ASSERT_TRUE(plan(&t, NULL) == NULL);
  ASSERT_EQ_INT(t.src.ops->drained(&t.src, NULL), 1);
  close_source(&t);
  /* Restarted 5.5 s after the start: the 5 whole seconds, then drained. */
  fake_now = T0 + 5500;
  if (open_source(&t, dir, 1, &err, "rowsPerSecond", "10", NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  fake_now = T0 + 9000;
  json_t *end = plan(&t, NULL);
  ASSERT_EQ_INT(field(end, "value"), 50);
  ASSERT_EQ_INT(t.src.ops->drained(&t.src, NULL), 1);
  ASSERT_EQ_INT(t.src.ops->drained(&t.src, end), 1);
  ASSERT_TRUE(plan(&t, end) == NULL);
  json_decref(end);
  close_source(&t);
  remove_dir(dir);
}

SR_TEST(rate_options) {
  char *dir = new_dir();
  test_source t;
  sr_error *err = NULL;
  ASSERT_EQ_INT(open_source(&t, dir, 0, &err, "rowsPerSecond", "0", NULL), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "rowsPerSecond") != NULL);
  close_source(&t);
  sr_error_free(err);
  err = NULL;
  ASSERT_EQ_INT(open_source(&t, dir, 0, &err, "rampUpTime", "soon", NULL), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "rampUpTime") != NULL);
  close_source(&t);
  sr_error_free(err);
  err = NULL;
  ASSERT_EQ_INT(open_source(&t, dir, 0, &err, "numPartitions", "0", NULL), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "numPartitions") != NULL);
  close_source(&t);
  sr_error_free(err);
  err = NULL;
  ASSERT_EQ_INT(open_source(&t, dir, 0, &err, "rowsPerSecnd", "5", NULL), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "rowsPerSecond") != NULL);
  close_source(&t);
  sr_error_free(err);
  err = NULL;
  ASSERT_EQ_INT(open_source(&t, dir, 0, &err, "rowsPerSecond", "1000000000000", "rampUpTime", "100000000 seconds", NULL),
                SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "overflow") != NULL);
  close_source(&t);
  sr_error_free(err);
  err = NULL;
  if (open_source(&t, dir, 0, &err, "numPartitions", "4", NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  json_t *bad = json_pack("{sI}", "value", (json_int_t)3), *end = NULL;
  ASSERT_EQ_INT(t.src.ops->plan(&t.src, bad, &end, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "startTimeMs") != NULL);
  sr_error_free(err);
  json_decref(bad);
  close_source(&t);
  remove_dir(dir);
}

/* rate-start.json is checked when read back like every checkpoint file: a byte flipped, a cut
** or an empty file stops the open naming it; one written before checksums is read strictly. */
SR_TEST(rate_start_file_is_checked) {
  char *dir = new_dir();
  fake_now = T0;
  test_source t;
  sr_error *err = NULL;
  if (open_source(&t, dir, 0, &err, "rowsPerSecond", "10", NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  close_source(&t);
  char path[4200];
  snprintf(path, sizeof path, "%s/rate-start.json", dir);
  size_t len;
  char *good = sr_fs_read_all(path, &len, NULL);
  ASSERT_TRUE(good != NULL && strstr(good, "#crc32 ") != NULL);
  const char *bad[] = {"flip", "cut", "empty", "old-extra"};
  for (int i = 0; i < 4; i++) {
    char *text = strdup(good);
    size_t n = len;
    if (i == 0) text[2] ^= 0x20;
    if (i == 1) n = 10; /* inside the body (cut at its end, it would be a file from before checksums) */
    if (i == 2) n = 0;
    if (i == 3) { free(text); text = strdup("{\"startTimeMs\": 5, \"x\": 1}\n"); n = strlen(text); }
    ASSERT_TRUE(sr_fs_write_atomic(path, text, n, NULL) == SR_OK);
    free(text);
    sr_error *e = NULL;
    if (open_source(&t, dir, 0, &e, "rowsPerSecond", "10", NULL) == SR_OK) SR_FAIL("%s: opened", bad[i]);
    if (!strstr(e->message, path)) SR_FAIL("%s: the error does not name the file: %s", bad[i], e->message);
    sr_error_free(e);
    close_source(&t);
  }
  /* from before checksums: read as it is */
  const char *old = "{\"startTimeMs\": 1234}\n";
  ASSERT_TRUE(sr_fs_write_atomic(path, old, strlen(old), NULL) == SR_OK);
  if (open_source(&t, dir, 0, &err, "rowsPerSecond", "10", NULL) != SR_OK) SR_FAIL("old: %s", err->message);
  fake_now = 1234 + 2000;
  json_t *e1 = plan(&t, NULL);
  ASSERT_EQ_INT(field(e1, "startTimeMs"), 1234);
  ASSERT_EQ_INT(field(e1, "value"), 20);
  json_decref(e1);
  close_source(&t);
  free(good);
  remove_dir(dir);
}

int main(void) {
  sr_source_rate_clock_ms = fake_clock;
  return SR_RUN(rate_rows_per_second, rate_ramp_up, rate_timestamps_round, rate_replay_is_exact, rate_restart_continues_timeline,
                rate_available_now, rate_options, rate_start_file_is_checked);
}
