/*
** The Kafka source and sink against librdkafka's mock cluster, in this process, over TCP on
** loopback. kcat is the independent client: it produces what the source reads and reads what
** the sink wrote. Faults come from rdkafka_mock (request errors, a broker down); data loss from
** the mock's per-partition log limit (it drops the oldest message sets past ~5 MiB).
**
** `test_kafka --bench` measures the source's and the sink's own throughput against kcat instead.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <jansson.h>
#include <lauxlib.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <lua.h>
#include <lualib.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "connector.h"
#include "fsutil.h"
#include "kafka_mock.h"
#include "lua_host.h"
#include "sr_test.h"

extern const sr_source_ops sr_source_kafka;
extern const sr_sink_ops sr_sink_kafka;

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mock;
static char bootstrap[256];
static char tmp_root[256];

/* ---- fixtures ------------------------------------------------------------------------- */

static void mock_start(int brokers) {
  char errstr[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
  /* as --kafka-mock does: without it a reply can wait ~40 ms for a delayed ACK */
  rd_kafka_conf_set(conf, "socket.nagle.disable", "true", errstr, sizeof errstr);
  mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  ASSERT_TRUE(mock_rk != NULL);
  mock = rd_kafka_mock_cluster_new(mock_rk, brokers);
  ASSERT_TRUE(mock != NULL);
  snprintf(bootstrap, sizeof bootstrap, "%s", rd_kafka_mock_cluster_bootstraps(mock));
}

/* Each test's own cluster: tests do not see each other's topics, offsets or injected faults. */
static void mock_start_one(void) { mock_start(1); }

static void mock_stop(void) {
  rd_kafka_mock_cluster_destroy(mock);
  rd_kafka_destroy(mock_rk);
  mock = NULL;
  mock_rk = NULL;
}

static void topic_create(const char *topic, int partitions) {
  rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mock, topic, partitions, 1);
  if (e) SR_FAIL("creating topic %s: %s", topic, rd_kafka_err2str(e));
}

/* A fresh directory under the file's temporary root. Named by mkdtemp, not by a counter in
** memory: each test runs in a child forked from main, so a counter would start again at 0 in
** every test and hand the next test the sink state (pending file, committed batch) of the
** last, whose files stay. */
static char *tmp_dir(void) {
  ASSERT_EQ_INT(sr_fs_mkdirs(tmp_root, NULL), SR_OK);
  char *p = malloc(512);
  snprintf(p, 512, "%s/dXXXXXX", tmp_root);
  ASSERT_TRUE(mkdtemp(p) != NULL);
  return p;
}

/* Options from name/value pairs, NULL-terminated; kafka.bootstrap.servers is added. */
static sr_options *opts(const char *name, ...) {
  sr_options *o = sr_options_new();
  sr_options_set(o, "kafka.bootstrap.servers", bootstrap);
  va_list ap;
  va_start(ap, name);
  for (const char *n = name; n; n = va_arg(ap, const char *)) sr_options_set(o, n, va_arg(ap, const char *));
  va_end(ap);
  return o;
}

static rd_kafka_t *producer_new(void) {
  char errstr[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "linger.ms", "1", errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "topic.metadata.refresh.fast.interval.ms", "10", errstr, sizeof errstr);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  ASSERT_TRUE(rk != NULL);
  return rk;
}

/* A producer that knows topic already (not at its next refresh of unknown topics, ~1 s). */
static rd_kafka_t *producer_for(const char *topic) {
  rd_kafka_t *rk = producer_new();
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  const struct rd_kafka_metadata *md = NULL;
  ASSERT_EQ_INT(rd_kafka_metadata(rk, 0, rkt, &md, 5000), 0);
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  return rk;
}

/* Produces n messages "<prefix>-<i>" (key "k<i>") to topic/partition with librdkafka. */
static void produce(const char *topic, int partition, int n, const char *prefix) {
  rd_kafka_t *rk = producer_for(topic);
  for (int i = 0; i < n; i++) {
    char key[32], val[64];
    snprintf(key, sizeof key, "k%d", i);
    snprintf(val, sizeof val, "%s-%d", prefix, i);
    ASSERT_EQ_INT(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                    RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(val, strlen(val)),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END), 0);
  }
  ASSERT_EQ_INT(rd_kafka_flush(rk, 10000), 0);
  rd_kafka_destroy(rk);
}

/* kcat's settings: learn new topics at once, do not hold fetches at the end of the log. */
#define KCAT_OPTS "-X log_level=0 -X topic.metadata.refresh.fast.interval.ms=10 -X fetch.wait.max.ms=10"

/* Produces lines "key:value" with kcat to topic/partition. */
static void kcat_produce(const char *topic, int partition, const char *lines) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "kcat -b %s -P -t %s -p %d -K: " KCAT_OPTS, bootstrap, topic, partition);
  FILE *f = popen(cmd, "w");
  ASSERT_TRUE(f != NULL);
  fputs(lines, f);
  ASSERT_EQ_INT(pclose(f), 0);
}

/* A state as the engine makes one (the source's Lua module is embedded), closed with
** sr_lua_close. */
static lua_State *lua_new(void) {
  lua_State *L = sr_lua_new(NULL);
  ASSERT_TRUE(L != NULL);
  lua_newtable(L); /* the rows array, at index 1 */
  return L;
}

static sr_source *source_open(sr_options *o, const char *state_dir, sr_status want) {
  sr_source *s = calloc(1, sizeof *s);
  s->ops = &sr_source_kafka;
  s->cfg.options = o;
  s->cfg.state_dir = state_dir;
  s->cfg.query_id = "q-test";
  sr_error *err = NULL;
  ASSERT_EQ_INT(sr_options_check(o, sr_source_kafka.options, NULL, "the kafka source", &err), SR_OK);
  sr_status st = sr_source_kafka.open(s, &s->cfg, &err);
  if (st != want) SR_FAIL("open: %d (%s)", st, err ? err->message : "");
  sr_error_free(err);
  return s;
}

static void source_close(sr_source *s) {
  sr_source_kafka.close(s);
  sr_options_free((sr_options *)s->cfg.options);
  free(s);
}

/* Plans the batch after *start; asserts the status; returns the end (NULL: no data). */
static json_t *plan(sr_source *s, const json_t *start, sr_status want, sr_error **errp) {
  json_t *end = NULL;
  sr_error *err = NULL;
  sr_status st = sr_source_kafka.plan(s, start, &end, &err);
  if (st != want) SR_FAIL("plan: status %d, want %d (%s)", st, want, err ? err->message : "");
  if (errp) *errp = err;
  else sr_error_free(err);
  return end;
}

/* Lua (records, n, module) -> the rows the engine makes of a view's n records, through the source's
** own module (lua/streamrun/sources/kafka.lua), as exec.lua's materialize does. */
static const char MATERIALIZE[] =
    "local ffi = require 'ffi'\n"
    "local records, n, module = ...\n"
    "local mod = require(module)\n"
    "local recs, row, cache, rows = ffi.cast(mod.ctype, records), mod.reader({}), {}, {}\n"
    "for i = 1, n do rows[i] = row(recs, i - 1, cache) end\n"
    "return rows";

/* Checks that the view's columns (the C record's offsets) and record size are where the Lua
** module's FFI declaration has them. */
static void check_record_layout(lua_State *L, const sr_row_view *v) {
  static const char *const fields[][2] = {
      {"key", "key"}, {"value", "value"}, {"topic", "topic"}, {"partition", "partition"},
      {"offset", "offset"}, {"timestamp", "timestamp"}, {"timestampType", "timestamp_type"}};
  ASSERT_TRUE(v->columns != NULL);
  int top = lua_gettop(L);
  char code[256];
  snprintf(code, sizeof code, "require '%s'; return require('ffi').sizeof('sr_kafka_record')",
           sr_source_kafka.view_module);
  if (luaL_dostring(L, code) != 0) SR_FAIL("%s", lua_tostring(L, -1));
  ASSERT_EQ_INT(lua_tointeger(L, -1), (int64_t)v->record_size);
  size_t k = 0;
  for (const sr_view_column *c = v->columns; c->name; c++, k++) {
    ASSERT_TRUE(k < sizeof fields / sizeof *fields);
    ASSERT_EQ_STR(c->name, fields[k][0]);
    snprintf(code, sizeof code, "return require('ffi').offsetof('sr_kafka_record', '%s')", fields[k][1]);
    if (luaL_dostring(L, code) != 0) SR_FAIL("%s", lua_tostring(L, -1));
    ASSERT_EQ_INT(lua_tointeger(L, -1), (int64_t)c->offset);
  }
  ASSERT_EQ_INT((int64_t)k, (int64_t)(sizeof fields / sizeof *fields));
  lua_settop(L, top);
}

/* Reads (start, end] into a fresh rows table at index 1 of L (empty unless SR_OK); returns
** the status and sets *n to the row count. */
static sr_status read_into(sr_source *s, const json_t *start, const json_t *end, lua_State *L,
                           int *n, sr_error **err) {
  sr_row_view view;
  lua_settop(L, 0);
  sr_status st = sr_source_kafka.read_view(s, start, end, &view, err);
  *n = st == SR_OK ? view.count : 0;
  if (st != SR_OK) {
    lua_newtable(L);
    return st;
  }
  if (luaL_loadstring(L, MATERIALIZE) != 0) SR_FAIL("%s", lua_tostring(L, -1));
  lua_pushlightuserdata(L, (void *)view.records);
  lua_pushinteger(L, view.count);
  lua_pushstring(L, sr_source_kafka.view_module);
  if (lua_pcall(L, 3, 1, 0) != 0) SR_FAIL("rows of the view: %s", lua_tostring(L, -1));
  return st;
}

/* Reads (start, end] into a fresh rows table at index 1 of L; returns the row count. */
static int read_rows(sr_source *s, const json_t *start, const json_t *end, lua_State *L,
                     sr_status want, sr_error **errp) {
  int n = 0;
  sr_error *err = NULL;
  sr_status st = read_into(s, start, end, L, &n, &err);
  if (st != want) SR_FAIL("read: status %d, want %d (%s)", st, want, err ? err->message : "");
  ASSERT_EQ_INT(lua_gettop(L), 1);
  ASSERT_EQ_INT((int)lua_objlen(L, 1), n);
  if (errp) *errp = err;
  else sr_error_free(err);
  return n;
}

/* Row i's field as text ("" for nil), into buf. */
static const char *row_str(lua_State *L, int i, const char *field, char *buf, size_t size) {
  lua_rawgeti(L, 1, i);
  lua_getfield(L, -1, field);
  size_t len = 0;
  const char *s = lua_isnil(L, -1) ? "" : lua_tolstring(L, -1, &len);
  snprintf(buf, size, "%s", s ? s : "?");
  lua_pop(L, 2);
  return buf;
}

static int64_t row_int(lua_State *L, int i, const char *field) {
  lua_rawgeti(L, 1, i);
  lua_getfield(L, -1, field);
  int64_t v = lua_isnil(L, -1) ? -999 : (int64_t)lua_tonumber(L, -1);
  lua_pop(L, 2);
  return v;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rows as one text: "topic/partition/offset=key:value\n" per row, sorted. */
static char *rows_text(lua_State *L, int n) {
  char **lines = calloc((size_t)n + 1, sizeof *lines);
  size_t total = 1;
  for (int i = 1; i <= n; i++) {
    char t[128], k[128], v[256];
    row_str(L, i, "topic", t, sizeof t);
    row_str(L, i, "key", k, sizeof k);
    row_str(L, i, "value", v, sizeof v);
    if (asprintf(&lines[i - 1], "%s/%lld/%08lld=%s:%s\n", t, (long long)row_int(L, i, "partition"),
                 (long long)row_int(L, i, "offset"), k, v) < 0) SR_FAIL("oom");
    total += strlen(lines[i - 1]);
  }
  qsort(lines, (size_t)n, sizeof *lines, cmp_str);
  char *out = malloc(total);
  out[0] = '\0';
  for (int i = 0; i < n; i++) { strcat(out, lines[i]); free(lines[i]); }
  free(lines);
  return out;
}

static int64_t json_off(const json_t *j, const char *topic, const char *partition) {
  json_t *v = json_object_get(json_object_get(j, topic), partition);
  return v ? (int64_t)json_integer_value(v) : -999;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- source --------------------------------------------------------------------------- */

SR_TEST(source_reads_kcat_from_earliest) {
  topic_create("s1", 2);
  kcat_produce("s1", 0, "a:one\nb:two\nc:three\n");
  kcat_produce("s1", 1, "d:four\n");
  sr_source *s = source_open(opts("subscribe", "s1", "startingOffsets", "earliest", NULL), NULL, SR_OK);
  json_t *end = plan(s, NULL, SR_OK, NULL);
  ASSERT_TRUE(end != NULL);
  ASSERT_EQ_INT(json_off(end, "s1", "0"), 3);
  ASSERT_EQ_INT(json_off(end, "s1", "1"), 1);
  ASSERT_EQ_INT(json_off(json_object_get(end, "$start"), "s1", "0"), 0);
  lua_State *L = lua_new();
  int n = read_rows(s, NULL, end, L, SR_OK, NULL);
  ASSERT_EQ_INT(n, 4);
  char *text = rows_text(L, n);
  ASSERT_EQ_STR(text, "s1/0/00000000=a:one\ns1/0/00000001=b:two\ns1/0/00000002=c:three\n"
                      "s1/1/00000000=d:four\n");
  free(text);
  /* Columns beside key and value. */
  ASSERT_TRUE(row_int(L, 1, "timestamp") > 1600000000000LL);
  ASSERT_EQ_INT(row_int(L, 1, "timestampType"), 0);
  lua_rawgeti(L, 1, 1);
  lua_getfield(L, -1, "headers");
  ASSERT_TRUE(lua_isnil(L, -1)); /* includeHeaders defaults to false */
  lua_pop(L, 2);
  /* The records themselves, read again (a replay), as C sinks read them. */
  sr_row_view view;
  sr_error *err = NULL;
  if (sr_source_kafka.read_view(s, NULL, end, &view, &err) != SR_OK) SR_FAIL("%s", err->message);
  ASSERT_EQ_INT(view.count, 4);
  check_record_layout(L, &view);
  const char *rec = (const char *)view.records + 2 * view.record_size; /* c:three */
  for (const sr_view_column *c = view.columns; c->name; c++) {
    const void *at = rec + c->offset;
    if (strcmp(c->name, "value") == 0)
      ASSERT_TRUE(c->type == SR_VIEW_TEXT && ((const sr_view_text *)at)->len == 5 &&
                  memcmp(((const sr_view_text *)at)->ptr, "three", 5) == 0);
    if (strcmp(c->name, "topic") == 0)
      ASSERT_EQ_STR(((const sr_view_text *)at)->ptr, "s1");
    if (strcmp(c->name, "offset") == 0)
      ASSERT_TRUE(c->type == SR_VIEW_INT64 && *(const int64_t *)at == 2);
    if (strcmp(c->name, "timestamp") == 0)
      ASSERT_TRUE(*(const int64_t *)at == row_int(L, 3, "timestamp"));
  }
  /* Nothing new: no batch. */
  ASSERT_TRUE(plan(s, end, SR_OK, NULL) == NULL);
  /* New data continues from the end, on the fast path. */
  kcat_produce("s1", 1, "e:five\nf:six\n");
  json_t *end2 = plan(s, end, SR_OK, NULL);
  ASSERT_EQ_INT(json_off(end2, "s1", "1"), 3);
  ASSERT_TRUE(json_object_get(end2, "$start") == NULL);
  n = read_rows(s, end, end2, L, SR_OK, NULL);
  text = rows_text(L, n);
  ASSERT_EQ_STR(text, "s1/1/00000001=e:five\ns1/1/00000002=f:six\n");
  free(text);
  json_decref(end);
  json_decref(end2);
  sr_lua_close(L);
  source_close(s);
}


SR_TEST(source_starting_offsets) {
  topic_create("s2", 2);
  produce("s2", 0, 5, "a");
  produce("s2", 1, 5, "b");
  lua_State *L = lua_new();
  /* latest: nothing yet; the resolved start is kept in the state directory. */
  char *dir = tmp_dir();
  sr_source *s = source_open(opts("subscribe", "s2", NULL), dir, SR_OK);
  ASSERT_TRUE(plan(s, NULL, SR_OK, NULL) == NULL);
  source_close(s);
  produce("s2", 0, 2, "late");
  /* A restart before the first batch starts from the saved offsets, not the new latest. */
  s = source_open(opts("subscribe", "s2", NULL), dir, SR_OK);
  json_t *end = plan(s, NULL, SR_OK, NULL);
  ASSERT_TRUE(end != NULL);
  ASSERT_EQ_INT(json_off(json_object_get(end, "$start"), "s2", "0"), 5);
  ASSERT_EQ_INT(json_off(json_object_get(end, "$start"), "s2", "1"), 5);
  ASSERT_EQ_INT(json_off(end, "s2", "0"), 7);
  ASSERT_EQ_INT(json_off(end, "s2", "1"), 5);
  int n = read_rows(s, NULL, end, L, SR_OK, NULL);
  char *text = rows_text(L, n);
  ASSERT_EQ_STR(text, "s2/0/00000005=k0:late-0\ns2/0/00000006=k1:late-1\n");
  free(text);
  json_decref(end);
  source_close(s);
  free(dir);
  /* Per-partition JSON with -2 (earliest) and an explicit offset. */
  s = source_open(opts("subscribe", "s2", "startingOffsets", "{\"s2\":{\"0\":3,\"1\":-2}}", NULL), NULL, SR_OK);
  end = plan(s, NULL, SR_OK, NULL);
  ASSERT_EQ_INT(json_off(json_object_get(end, "$start"), "s2", "0"), 3);
  ASSERT_EQ_INT(json_off(json_object_get(end, "$start"), "s2", "1"), 0);
  n = read_rows(s, NULL, end, L, SR_OK, NULL);
  ASSERT_EQ_INT(n, 4 + 5);
  json_decref(end);
  source_close(s);
  /* -1 is latest. */
  s = source_open(opts("subscribe", "s2", "startingOffsets", "{\"s2\":{\"0\":-1,\"1\":4}}", NULL), NULL, SR_OK);
  end = plan(s, NULL, SR_OK, NULL);
  ASSERT_EQ_INT(json_off(json_object_get(end, "$start"), "s2", "0"), 7);
  ASSERT_EQ_INT(json_off(json_object_get(end, "$start"), "s2", "1"), 4);
  n = read_rows(s, NULL, end, L, SR_OK, NULL);
  text = rows_text(L, n);
  ASSERT_EQ_STR(text, "s2/1/00000004=k4:b-4\n");
  free(text);
  json_decref(end);
  source_close(s);
  /* A JSON that leaves out a partition is refused, as Spark does. */
  sr_error *err = NULL;
  s = source_open(opts("subscribe", "s2", "startingOffsets", "{\"s2\":{\"0\":1}}", NULL), NULL, SR_OK);
  ASSERT_TRUE(plan(s, NULL, SR_ERROR, &err) == NULL);
  ASSERT_TRUE(strstr(err->message, "partition 1") != NULL);
  sr_error_free(err);
  source_close(s);
  /* startingTimestamp after every record: the end of each partition. */
  s = source_open(opts("subscribe", "s2", "startingTimestamp", "4102444800000", NULL), NULL, SR_OK);
  ASSERT_TRUE(plan(s, NULL, SR_OK, NULL) == NULL);
  produce("s2", 1, 1, "after");
  end = plan(s, NULL, SR_OK, NULL);
  ASSERT_EQ_INT(json_off(json_object_get(end, "$start"), "s2", "1"), 5);
  ASSERT_EQ_INT(json_off(end, "s2", "1"), 6);
  json_decref(end);
  source_close(s);
  sr_lua_close(L);
}

SR_TEST(source_max_offsets_split_by_lag) {
  topic_create("s3", 2);
  produce("s3", 0, 300, "a");
  produce("s3", 1, 100, "b");
  sr_source *s = source_open(opts("subscribe", "s3", "startingOffsets", "earliest",
                                  "maxOffsetsPerTrigger", "200", NULL), NULL, SR_OK);
  lua_State *L = lua_new();
  json_t *end = plan(s, NULL, SR_OK, NULL);
  ASSERT_EQ_INT(json_off(end, "s3", "0"), 150);
  ASSERT_EQ_INT(json_off(end, "s3", "1"), 50);
  ASSERT_EQ_INT(read_rows(s, NULL, end, L, SR_OK, NULL), 200);
  json_t *end2 = plan(s, end, SR_OK, NULL);
  ASSERT_EQ_INT(json_off(end2, "s3", "0"), 300);
  ASSERT_EQ_INT(json_off(end2, "s3", "1"), 100);
  ASSERT_EQ_INT(read_rows(s, end, end2, L, SR_OK, NULL), 200);
  ASSERT_TRUE(plan(s, end2, SR_OK, NULL) == NULL);
  json_decref(end);
  json_decref(end2);
  source_close(s);
  /* 7 offsets for lags 300 and 100: shares 5.25 and 1.75, the remainder to the larger fraction. */
  s = source_open(opts("subscribe", "s3", "startingOffsets", "earliest", "maxOffsetsPerTrigger", "7",
                       NULL), NULL, SR_OK);
  end = plan(s, NULL, SR_OK, NULL);
  ASSERT_EQ_INT(json_off(end, "s3", "0"), 5);
  ASSERT_EQ_INT(json_off(end, "s3", "1"), 2);
  json_decref(end);
  source_close(s);
  sr_lua_close(L);
}

/* Reads every batch from the beginning, in order; returns the rows as text. */
static char *read_all_batches(sr_source *s, lua_State *L, json_t **ends, int max_batches, int *nbatches) {
  json_t *start = NULL;
  char *all = strdup("");
  int b = 0;
  for (json_t *end; b < max_batches && (end = plan(s, start, SR_OK, NULL)); b++) {
    int n = read_rows(s, start, end, L, SR_OK, NULL);
    char *text = rows_text(L, n), *joined;
    if (asprintf(&joined, "%s%s", all, text) < 0) SR_FAIL("oom");
    free(all);
    free(text);
    all = joined;
    ends[b] = end;
    start = end;
  }
  *nbatches = b;
  return all;
}

/* A batch's rows come in one order every time the batch is read, whatever order the brokers
** deliver partitions in: the partitions in the order of the batch's offsets (what offsets/N
** holds), each partition's rows by offset. The Kafka sink numbers rows by their position, so
** a replay in another order would skip the wrong rows. */
static void assert_range_order(lua_State *L, int n, const json_t *end, const char *topic) {
  json_t *parts = json_object_get(end, topic), *starts = json_object_get(json_object_get(end, "$start"), topic);
  const char *key;
  json_t *to;
  int i = 1;
  json_object_foreach(parts, key, to) {
    json_t *from = json_object_get(starts, key);
    for (json_int_t off = from ? json_integer_value(from) : 0; off < json_integer_value(to); off++, i++) {
      ASSERT_TRUE(i <= n);
      if (row_int(L, i, "partition") != atoi(key) || row_int(L, i, "offset") != off)
        SR_FAIL("row %d is partition %lld offset %lld, not partition %s offset %lld", i,
                (long long)row_int(L, i, "partition"), (long long)row_int(L, i, "offset"), key,
                (long long)off);
    }
  }
  ASSERT_EQ_INT(i - 1, n);
}

SR_TEST(source_rows_in_range_order) {
  topic_create("s9", 4);
  for (int p = 0; p < 4; p++) produce("s9", p, 3000, "o");
  lua_State *L = lua_new();
  for (int round = 0; round < 3; round++) {
    sr_source *s = source_open(opts("subscribe", "s9", "startingOffsets", "earliest", NULL), NULL, SR_OK);
    json_t *end = plan(s, NULL, SR_OK, NULL);
    int n = read_rows(s, NULL, end, L, SR_OK, NULL);
    ASSERT_EQ_INT(n, 12000);
    assert_range_order(L, n, end, "s9");
    json_decref(end);
    source_close(s);
  }
  sr_lua_close(L);
}

SR_TEST(source_replay_is_identical) {
  topic_create("s4", 3);
  for (int p = 0; p < 3; p++) produce("s4", p, 40 + 10 * p, "r");
  lua_State *L = lua_new();
  json_t *ends[16];
  int nb = 0;
  sr_source *s = source_open(opts("subscribe", "s4", "startingOffsets", "earliest",
                                  "maxOffsetsPerTrigger", "25", NULL), NULL, SR_OK);
  char *first = read_all_batches(s, L, ends, 16, &nb);
  ASSERT_EQ_INT(nb, 6); /* 150 offsets, 25 a batch */
  /* Replays, one at a time and out of order, in the same source (a seek) and a new one. */
  sr_source *fresh = source_open(opts("subscribe", "s4", "startingOffsets", "latest", NULL), NULL, SR_OK);
  char *again = strdup("");
  for (int b = nb - 1; b >= 0; b--) {
    sr_source *which = b % 2 ? s : fresh;
    int n = read_rows(which, b ? ends[b - 1] : NULL, ends[b], L, SR_OK, NULL);
    ASSERT_EQ_INT(n, 25);
    char *text = rows_text(L, n), *joined;
    if (asprintf(&joined, "%s%s", text, again) < 0) SR_FAIL("oom");
    free(again);
    free(text);
    again = joined;
  }
  ASSERT_EQ_STR(again, first);
  /* Every offset once: 40 + 50 + 60 rows. */
  int lines = 0;
  for (char *p = first; *p; p++) lines += *p == '\n';
  ASSERT_EQ_INT(lines, 150);
  /* Timestamps are part of the replayed rows too. */
  int64_t ts1 = 0, ts2 = 0;
  int n1 = read_rows(s, NULL, ends[0], L, SR_OK, NULL);
  for (int i = 1; i <= n1; i++) ts1 += row_int(L, i, "timestamp") * (row_int(L, i, "offset") + 1);
  int n2 = read_rows(fresh, NULL, ends[0], L, SR_OK, NULL);
  for (int i = 1; i <= n2; i++) ts2 += row_int(L, i, "timestamp") * (row_int(L, i, "offset") + 1);
  ASSERT_EQ_INT(n1, n2);
  ASSERT_EQ_INT(ts1, ts2);
  for (int b = 0; b < nb; b++) json_decref(ends[b]);
  free(first);
  free(again);
  source_close(fresh);
  source_close(s);
  sr_lua_close(L);
}

SR_TEST(source_include_headers) {
  topic_create("s5", 1);
  rd_kafka_t *rk = producer_for("s5");
  rd_kafka_headers_t *h = rd_kafka_headers_new(2);
  rd_kafka_header_add(h, "trace", -1, "abc\0def", 7);
  rd_kafka_header_add(h, "empty", -1, NULL, 0);
  ASSERT_EQ_INT(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("s5"), RD_KAFKA_V_VALUE("bin\0ary", 7),
                                  RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_END), 0);
  ASSERT_EQ_INT(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("s5"), RD_KAFKA_V_KEY("k", 1),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END), 0);
  ASSERT_EQ_INT(rd_kafka_flush(rk, 10000), 0);
  rd_kafka_destroy(rk);
  sr_source *s = source_open(opts("subscribe", "s5", "startingOffsets", "earliest",
                                  "includeHeaders", "true", NULL), NULL, SR_OK);
  lua_State *L = lua_new();
  json_t *end = plan(s, NULL, SR_OK, NULL);
  ASSERT_EQ_INT(read_rows(s, NULL, end, L, SR_OK, NULL), 2);
  /* Check in Lua: binary-safe value and headers, nil key, an empty header list. */
  ASSERT_EQ_INT(luaL_loadstring(L,
    "local rows = ...\n"
    "local r1, r2 = rows[1], rows[2]\n"
    "assert(r1.value == 'bin\\0ary' and r1.key == nil, 'value')\n"
    "assert(#r1.headers == 2, 'two headers')\n"
    "assert(r1.headers[1].key == 'trace' and r1.headers[1].value == 'abc\\0def', 'header 1')\n"
    "assert(r1.headers[2].key == 'empty' and r1.headers[2].value == nil, 'header 2')\n"
    "assert(r2.key == 'k' and r2.value == nil and #r2.headers == 0, 'row 2')\n"
    "assert(r1.topic == 's5' and r1.partition == 0 and r1.offset == 0 and r2.offset == 1)\n"), 0);
  lua_pushvalue(L, 1);
  if (lua_pcall(L, 1, 0, 0) != 0) SR_FAIL("%s", lua_tostring(L, -1));
  /* Headers have no C form: the records list no columns, and a sink gets rows. */
  sr_row_view view;
  sr_error *err = NULL;
  if (sr_source_kafka.read_view(s, NULL, end, &view, &err) != SR_OK) SR_FAIL("%s", err->message);
  ASSERT_TRUE(view.count == 2 && view.columns == NULL);
  json_decref(end);
  source_close(s);
  sr_lua_close(L);
}

SR_TEST(source_new_partitions_from_earliest) {
  topic_create("pat-a", 1);
  produce("pat-a", 0, 3, "a");
  lua_State *L = lua_new();
  sr_source *s = source_open(opts("subscribePattern", "pat-[a-z]+", NULL), NULL, SR_OK);
  json_t *end = plan(s, NULL, SR_OK, NULL);
  ASSERT_TRUE(end == NULL); /* latest */
  /* A topic that matches appears while the query runs: read from its earliest offset. */
  topic_create("pat-b", 2);
  produce("pat-b", 1, 2, "b");
  produce("pat-a", 0, 1, "a2");
  topic_create("other", 1);
  produce("other", 0, 1, "x");
  end = plan(s, NULL, SR_OK, NULL);
  ASSERT_TRUE(end != NULL);
  ASSERT_EQ_INT(json_off(json_object_get(end, "$start"), "pat-b", "0"), 0);
  ASSERT_EQ_INT(json_off(json_object_get(end, "$start"), "pat-b", "1"), 0);
  ASSERT_EQ_INT(json_off(json_object_get(end, "$start"), "pat-a", "0"), 3);
  ASSERT_TRUE(json_object_get(end, "other") == NULL);
  int n = read_rows(s, NULL, end, L, SR_OK, NULL);
  char *text = rows_text(L, n);
  ASSERT_EQ_STR(text, "pat-a/0/00000003=k0:a2-0\npat-b/1/00000000=k0:b-0\npat-b/1/00000001=k1:b-1\n");
  free(text);
  /* A subscribed topic that does not exist yet: found once created, from earliest. */
  sr_source *s2 = source_open(opts("subscribe", "late", NULL), NULL, SR_OK);
  ASSERT_TRUE(plan(s2, NULL, SR_OK, NULL) == NULL);
  topic_create("late", 1);
  produce("late", 0, 2, "l");
  json_t *end2 = plan(s2, NULL, SR_OK, NULL);
  ASSERT_TRUE(end2 != NULL);
  ASSERT_EQ_INT(read_rows(s2, NULL, end2, L, SR_OK, NULL), 2);
  /* assign reads only the partitions it names. */
  sr_source *s3 = source_open(opts("assign", "{\"pat-b\":[1]}", "startingOffsets", "earliest", NULL), NULL, SR_OK);
  json_t *end3 = plan(s3, NULL, SR_OK, NULL);
  ASSERT_EQ_INT(json_off(end3, "pat-b", "1"), 2);
  ASSERT_EQ_INT(json_off(end3, "pat-b", "0"), -999);
  json_decref(end);
  json_decref(end2);
  json_decref(end3);
  source_close(s);
  source_close(s2);
  source_close(s3);
  sr_lua_close(L);
}

SR_TEST(source_retries_on_broker_faults) {
  topic_create("f1", 2);
  produce("f1", 0, 10, "f");
  produce("f1", 1, 10, "g");
  lua_State *L = lua_new();
  sr_source *s = source_open(opts("subscribe", "f1", "startingOffsets", "earliest", NULL), NULL, SR_OK);
  json_t *end = plan(s, NULL, SR_OK, NULL);
  /* Fetch errors the client retries by itself. */
  rd_kafka_mock_push_request_errors(mock, 1 /* Fetch */, 2, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  ASSERT_EQ_INT(read_rows(s, NULL, end, L, SR_OK, NULL), 20);
  source_close(s);
  s = source_open(opts("subscribe", "f1", "startingOffsets", "earliest",
                       "kafkaConsumer.pollTimeoutMs", "1500", "kafka.reconnect.backoff.max.ms", "200",
                       "kafka.log_level", "0", NULL), NULL, SR_OK);
  /* ListOffsets failing: plan says retry, then recovers. */
  rd_kafka_mock_push_request_errors(mock, 2 /* ListOffsets */, 1, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  produce("f1", 0, 5, "h");
  sr_error *err = NULL;
  json_t *end2 = plan(s, end, SR_RETRY, &err);
  ASSERT_TRUE(end2 == NULL && strstr(err->message, "NOT_LEADER_FOR_PARTITION") != NULL);
  sr_error_free(err);
  end2 = plan(s, end, SR_OK, NULL);
  ASSERT_EQ_INT(json_off(end2, "f1", "0"), 15);
  /* The broker goes down: plan and read say retry; when it is back, the batch reads. */
  ASSERT_EQ_INT(rd_kafka_mock_broker_set_down(mock, 1), 0);
  int64_t t0 = now_ms();
  ASSERT_TRUE(plan(s, end, SR_RETRY, &err) == NULL);
  ASSERT_TRUE(err && strstr(err->message, "metadata") != NULL);
  sr_error_free(err);
  read_rows(s, end, end2, L, SR_RETRY, &err);
  ASSERT_TRUE(err != NULL);
  sr_error_free(err);
  ASSERT_TRUE(now_ms() - t0 < 10000);
  /* Closing while the brokers are away does not hang. */
  sr_source *other = source_open(opts("subscribe", "f1", "kafkaConsumer.pollTimeoutMs", "500",
                                      "kafka.log_level", "0", NULL), NULL, SR_OK);
  ASSERT_TRUE(plan(other, NULL, SR_RETRY, NULL) == NULL);
  t0 = now_ms();
  source_close(other);
  ASSERT_TRUE(now_ms() - t0 < 3000);
  ASSERT_EQ_INT(rd_kafka_mock_broker_set_up(mock, 1), 0);
  int n = -1;
  for (int attempt = 0; attempt < 20 && n < 0; attempt++) {
    int got = 0;
    err = NULL;
    sr_status st = read_into(s, end, end2, L, &got, &err);
    if (st == SR_OK) n = got;
    else ASSERT_EQ_INT(st, SR_RETRY);
    sr_error_free(err);
  }
  ASSERT_EQ_INT(n, 5);
  char *text = rows_text(L, n);
  ASSERT_TRUE(strncmp(text, "f1/0/00000010=k0:h-0\n", 21) == 0);
  free(text);
  json_decref(end);
  json_decref(end2);
  source_close(s);
  sr_lua_close(L);
}

SR_TEST(source_data_loss) {
  topic_create("dl", 1);
  produce("dl", 0, 10, "old");
  lua_State *L = lua_new();
  sr_source *strict = source_open(opts("subscribe", "dl", "startingOffsets", "earliest", NULL), NULL, SR_OK);
  json_t *end = plan(strict, NULL, SR_OK, NULL);
  ASSERT_EQ_INT(json_off(end, "dl", "0"), 10);
  /* The mock keeps ~5 MiB per partition: 6 MiB more push the first records out of the log. */
  rd_kafka_t *rk = producer_for("dl");
  static char big[100 * 1024];
  memset(big, 'x', sizeof big);
  for (int i = 0; i < 64; i++)
    ASSERT_EQ_INT(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("dl"), RD_KAFKA_V_PARTITION(0),
                                    RD_KAFKA_V_VALUE(big, sizeof big), RD_KAFKA_V_END), 0);
  ASSERT_EQ_INT(rd_kafka_flush(rk, 10000), 0);
  int64_t lo = -1, hi = -1;
  ASSERT_EQ_INT(rd_kafka_query_watermark_offsets(rk, "dl", 0, &lo, &hi, 5000), 0);
  rd_kafka_destroy(rk);
  ASSERT_TRUE(lo > 10);
  sr_error *err = NULL;
  read_rows(strict, NULL, end, L, SR_ERROR, &err);
  ASSERT_TRUE(strstr(err->message, "topic 'dl' partition 0") != NULL);
  ASSERT_TRUE(strstr(err->message, "failOnDataLoss") != NULL);
  sr_error_free(err);
  /* failOnDataLoss=false: the lost offsets are skipped and counted. */
  sr_source *lax = source_open(opts("subscribe", "dl", "startingOffsets", "earliest",
                                    "failOnDataLoss", "false", NULL), NULL, SR_OK);
  ASSERT_EQ_INT(read_rows(lax, NULL, end, L, SR_OK, NULL), 0);
  json_t *progress = json_object();
  sr_source_kafka.describe(lax, progress);
  ASSERT_EQ_INT(json_integer_value(json_object_get(progress, "numOffsetsLost")), 10);
  ASSERT_EQ_INT(json_integer_value(json_object_get(progress, "numDataLossEvents")), 1);
  json_decref(progress);
  /* The next batch starts where the last ended (10, gone): it reads from the log start. */
  json_t *end2 = plan(lax, end, SR_OK, NULL);
  ASSERT_EQ_INT(json_off(end2, "dl", "0"), hi);
  ASSERT_EQ_INT(read_rows(lax, end, end2, L, SR_OK, NULL), (int)(hi - lo));
  progress = json_object();
  sr_source_kafka.describe(lax, progress);
  ASSERT_EQ_INT(json_integer_value(json_object_get(progress, "numOffsetsLost")), 10 + (lo - 10));
  ASSERT_EQ_INT(json_off(json_object_get(progress, "startOffset"), "dl", "0"), lo);
  ASSERT_EQ_INT(json_off(json_object_get(progress, "endOffset"), "dl", "0"), hi);
  json_decref(progress);
  json_decref(end);
  json_decref(end2);
  source_close(strict);
  source_close(lax);
  sr_lua_close(L);
}

SR_TEST(source_refuses_bad_options) {
  sr_error *err = NULL;
  sr_source *s = source_open(opts("startingOffsets", "earliest", NULL), NULL, SR_ERROR);
  source_close(s);
  s = source_open(opts("subscribe", "a", "assign", "{\"a\":[0]}", NULL), NULL, SR_ERROR);
  source_close(s);
  s = source_open(opts("subscribePattern", "a(", NULL), NULL, SR_ERROR);
  source_close(s);
  s = source_open(opts("subscribe", "a", "kafka.auto.offset.reset", "earliest", NULL), NULL, SR_ERROR);
  source_close(s);
  s = source_open(opts("subscribe", "a", "kafka.no.such.property", "1", NULL), NULL, SR_ERROR);
  source_close(s);
  /* An unknown option: the nearest valid name is suggested by the option table. */
  sr_options *o = opts("subscribe", "a", "failOnDataLos", "false", NULL);
  ASSERT_EQ_INT(sr_options_check(o, sr_source_kafka.options, NULL, "the kafka source", &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "failOnDataLoss") != NULL);
  sr_error_free(err);
  sr_options_free(o);
  /* Security settings go to librdkafka as they are. */
  s = source_open(opts("subscribe", "a", "kafka.security.protocol", "plaintext", NULL), NULL, SR_OK);
  source_close(s);
}

/* ---- sink ----------------------------------------------------------------------------- */

/* The sinks below are opened as for a plan that declares these columns (a nil value is then a
** tombstone); sink_needs_value opens them otherwise. */
static const char *const declared_columns[] = {"key", "value", "headers", "partition", "topic", NULL};

static sr_sink *sink_open(sr_options *o, const char *state_dir) {
  sr_sink *k = calloc(1, sizeof *k);
  k->ops = &sr_sink_kafka;
  k->cfg.options = o;
  k->cfg.columns = declared_columns;
  k->cfg.state_dir = state_dir;
  k->cfg.query_id = "q-sink";
  sr_error *err = NULL;
  ASSERT_EQ_INT(sr_options_check(o, sr_sink_kafka.options, NULL, "the kafka sink", &err), SR_OK);
  sr_status st = sr_sink_kafka.open(k, &k->cfg, &err);
  if (st != SR_OK) SR_FAIL("sink open: %s", err->message);
  return k;
}

static void sink_close(sr_sink *k) {
  sr_sink_kafka.close(k);
  sr_options_free((sr_options *)k->cfg.options);
  free(k);
}

/* Pushes rows {value = "<prefix><i>", key = "k<i>" or nil every 3rd} for i in [0, n). */
static void push_rows_table(lua_State *L, int n, const char *prefix) {
  lua_settop(L, 0);
  if (luaL_loadstring(L, "local n, prefix = ...\n"
                         "local rows = {}\n"
                         "for i = 1, n do\n"
                         "  rows[i] = {value = prefix .. (i - 1), key = (i % 3 ~= 0) and ('k' .. (i - 1)) or nil}\n"
                         "end\n"
                         "return rows\n") != 0) SR_FAIL("load");
  lua_pushinteger(L, n);
  lua_pushstring(L, prefix);
  if (lua_pcall(L, 2, 1, 0) != 0) SR_FAIL("%s", lua_tostring(L, -1));
}

static sr_status sink_write(sr_sink *k, int64_t batch, lua_State *L, int n, sr_error **err) {
  return sr_sink_kafka.write(k, batch, L, 1, n, 0, err);
}

static void write_commit(sr_sink *k, int64_t batch, lua_State *L, int n) {
  sr_error *err = NULL;
  if (sink_write(k, batch, L, n, &err) != SR_OK) SR_FAIL("write: %s", err->message);
  if (sr_sink_kafka.commit(k, batch, &err) != SR_OK) SR_FAIL("commit: %s", err->message);
  ASSERT_EQ_INT(lua_gettop(L), 1);
}

/* The sink's progress after its last write: numOutputRows and numRowsAlreadyWritten (-1: not
** checked). */
static void assert_sink_progress(sr_sink *k, int64_t output_rows, int64_t already_written) {
  json_t *progress = json_object();
  sr_sink_kafka.describe(k, progress);
  ASSERT_EQ_INT(json_integer_value(json_object_get(progress, "numOutputRows")), output_rows);
  if (already_written >= 0)
    ASSERT_EQ_INT(json_integer_value(json_object_get(progress, "numRowsAlreadyWritten")), already_written);
  json_decref(progress);
}

/* Every message of topic, read by kcat from the beginning, as a JSON array. */
static json_t *kcat_consume(const char *topic) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "kcat -b %s -C -t %s -e -o beginning -J -q " KCAT_OPTS, bootstrap, topic);
  FILE *f = popen(cmd, "r");
  ASSERT_TRUE(f != NULL);
  json_t *all = json_array();
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    json_error_t jerr;
    json_t *m = json_loads(line, 0, &jerr);
    if (!m) SR_FAIL("kcat printed %s", line);
    json_array_append_new(all, m);
  }
  free(line);
  ASSERT_EQ_INT(pclose(f), 0);
  return all;
}

/* Asserts that topic holds, for each (prefix, n) pair given, "<prefix><i>" exactly once for
** every i in [0, n), and nothing else. */
static void assert_exactly_once(const char *topic, int npairs, ...) {
  const char *prefix[8];
  int count[8], *seen[8], total = 0;
  va_list ap;
  va_start(ap, npairs);
  for (int p = 0; p < npairs; p++) {
    prefix[p] = va_arg(ap, const char *);
    count[p] = va_arg(ap, int);
    seen[p] = calloc((size_t)count[p], sizeof(int));
    total += count[p];
  }
  va_end(ap);
  json_t *msgs = kcat_consume(topic);
  size_t i;
  json_t *m;
  json_array_foreach(msgs, i, m) {
    const char *v = json_string_value(json_object_get(m, "payload"));
    int p = 0;
    while (v && p < npairs && strncmp(v, prefix[p], strlen(prefix[p])) != 0) p++;
    if (!v || p == npairs) SR_FAIL("topic %s: unexpected message %s", topic, v ? v : "null");
    int k = atoi(v + strlen(prefix[p]));
    ASSERT_TRUE(k >= 0 && k < count[p]);
    seen[p][k]++;
  }
  for (int p = 0; p < npairs; p++) {
    for (int k = 0; k < count[p]; k++)
      if (seen[p][k] != 1) SR_FAIL("topic %s: %s%d written %d times", topic, prefix[p], k, seen[p][k]);
    free(seen[p]);
  }
  ASSERT_EQ_INT((int64_t)json_array_size(msgs), total);
  json_decref(msgs);
}

SR_TEST(sink_writes_what_kcat_reads) {
  topic_create("k1", 3);
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  char *dir = tmp_dir();
  sr_sink *k = sink_open(opts("topic", "k1", NULL), dir);
  ASSERT_EQ_INT(luaL_loadstring(L,
    "return {\n"
    "  {value = 'plain', key = 'a'},\n"
    "  {value = 'with headers', headers = {{key = 'h1', value = 'x'}, {key = 'h2'}}},\n"
    "  {value = 42, key = 7, headers = {trace = 'abc'}},\n"
    "  {key = 'tombstone'},\n"
    "  {value = 'to partition 2', partition = 2},\n"
    "}"), 0);
  ASSERT_EQ_INT(lua_pcall(L, 0, 1, 0), 0);
  write_commit(k, 0, L, 5);
  assert_sink_progress(k, 5, -1);
  json_t *msgs = kcat_consume("k1");
  ASSERT_EQ_INT((int64_t)json_array_size(msgs), 5);
  size_t i;
  json_t *m;
  int checked = 0;
  json_array_foreach(msgs, i, m) {
    const char *v = json_string_value(json_object_get(m, "payload"));
    const char *key = json_string_value(json_object_get(m, "key"));
    json_t *h = json_object_get(m, "headers");
    char hdrs[512] = "";
    for (size_t j = 0; j + 1 < json_array_size(h); j += 2) {
      json_t *hv = json_array_get(h, j + 1);
      snprintf(hdrs + strlen(hdrs), sizeof hdrs - strlen(hdrs), "%s=%s;",
               json_string_value(json_array_get(h, j)), json_is_string(hv) ? json_string_value(hv) : "null");
    }
    if (v && strcmp(v, "plain") == 0) {
      ASSERT_EQ_STR(key, "a");
      ASSERT_EQ_STR(hdrs, "streamrun=q-sink:0:0;");
      checked++;
    } else if (v && strcmp(v, "with headers") == 0) {
      ASSERT_TRUE(json_is_null(json_object_get(m, "key")));
      ASSERT_EQ_STR(hdrs, "h1=x;h2=null;streamrun=q-sink:0:1;");
      checked++;
    } else if (v && strcmp(v, "42") == 0) {
      ASSERT_EQ_STR(key, "7");
      ASSERT_EQ_STR(hdrs, "trace=abc;streamrun=q-sink:0:2;");
      checked++;
    } else if (!v) {
      ASSERT_EQ_STR(key, "tombstone");
      checked++;
    } else {
      ASSERT_EQ_STR(v, "to partition 2");
      ASSERT_EQ_INT(json_integer_value(json_object_get(m, "partition")), 2);
      checked++;
    }
  }
  ASSERT_EQ_INT(checked, 5);
  json_decref(msgs);
  /* Rows the sink cannot write: an error naming the row and column, nothing produced. */
  ASSERT_EQ_INT(luaL_dostring(L, "return {{value = 'ok'}, {value = {1}}}"), 0);
  lua_replace(L, 1);
  lua_settop(L, 1);
  sr_error *err = NULL;
  ASSERT_EQ_INT(sink_write(k, 1, L, 2, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "row 2: column 'value'") != NULL);
  sr_error_free(err);
  sink_close(k);
  /* The topic column, when there is no topic option. */
  topic_create("k1b", 1);
  k = sink_open(opts(NULL), NULL);
  ASSERT_EQ_INT(luaL_dostring(L, "return {{value = 'x', topic = 'k1b'}, {value = 'y', topic = 'k1'}}"), 0);
  lua_replace(L, 1);
  lua_settop(L, 1);
  write_commit(k, 0, L, 2);
  json_t *b = kcat_consume("k1b");
  ASSERT_EQ_INT((int64_t)json_array_size(b), 1);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(b, 0), "payload")), "x");
  json_decref(b);
  sink_close(k);
  free(dir);
  lua_close(L);
}

/* Spark's KafkaWriter: a plan whose rows have no value column is refused when the sink opens
** (and by check, for --check); one with neither a topic option nor a topic column too. When
** the plan does not know the columns, a row without value fails the write, naming it, and
** nothing is produced (it wrote a tombstone). */
SR_TEST(sink_needs_value) {
  static const char *const no_value[] = {"key", "id", NULL};
  static const char *const no_topic[] = {"key", "value", NULL};
  sr_connector_config cfg = {.options = opts("topic", "kn", NULL), .columns = no_value};
  sr_error *err = NULL;
  ASSERT_EQ_INT(sr_sink_kafka.check(&cfg, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "Required attribute 'value' not found") != NULL);
  ASSERT_TRUE(strstr(err->message, "(they have key, id)") != NULL);
  sr_error_free(err);
  err = NULL;
  sr_sink refused = {.ops = &sr_sink_kafka, .cfg = cfg};
  refused.cfg.query_id = "q-nv";
  ASSERT_EQ_INT(sr_sink_kafka.open(&refused, &refused.cfg, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "Required attribute 'value' not found") != NULL);
  sr_error_free(err);
  err = NULL;
  sr_sink_kafka.close(&refused);
  sr_options_free((sr_options *)cfg.options);
  cfg.options = opts(NULL);
  cfg.columns = no_topic;
  ASSERT_EQ_INT(sr_sink_kafka.check(&cfg, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "topic option required when no 'topic' attribute is present") != NULL);
  sr_error_free(err);
  err = NULL;
  sr_options_free((sr_options *)cfg.options);

  topic_create("kn", 1);
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  sr_sink *k = sink_open(opts("topic", "kn", NULL), NULL);
  k->ops->close(k);
  k->cfg.columns = NULL;  /* the plan does not know the columns (after a map) */
  ASSERT_EQ_INT(k->ops->open(k, &k->cfg, &err), SR_OK);
  ASSERT_EQ_INT(luaL_dostring(L, "return {{value = 'a'}, {key = 'no value'}}"), 0);
  ASSERT_EQ_INT(sink_write(k, 0, L, 2, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "row 2 has no column 'value'") != NULL);
  sr_error_free(err);
  json_t *msgs = kcat_consume("kn");
  ASSERT_EQ_INT((int64_t)json_array_size(msgs), 0);
  json_decref(msgs);
  sink_close(k);
  lua_close(L);
}

/* A source's records as write_view reads them: value and key text, a partition number, and
** (for the topic column test) a topic. */
typedef struct view_rec {
  sr_view_text value, key, topic;
  int32_t partition;
} view_rec;

static const sr_view_column view_cols[] = {
  {"value", SR_VIEW_TEXT, offsetof(view_rec, value)},
  {"key", SR_VIEW_TEXT, offsetof(view_rec, key)},
  {"topic", SR_VIEW_TEXT, offsetof(view_rec, topic)},
  {"partition", SR_VIEW_INT32, offsetof(view_rec, partition)},
  {NULL, 0, 0},
};
/* the same records with an int32 column as the key, and without the partition column */
static const sr_view_column view_cols_int_key[] = {
  {"value", SR_VIEW_TEXT, offsetof(view_rec, value)},
  {"key", SR_VIEW_INT32, offsetof(view_rec, partition)},
  {NULL, 0, 0},
};

static sr_row_view view_of(const view_rec *recs, int n, const sr_view_column *cols) {
  return (sr_row_view){.records = recs, .count = n, .columns = cols, .record_size = sizeof *recs};
}

static void view_write_commit(sr_sink *k, int64_t batch, const sr_row_view *v) {
  sr_error *err = NULL;
  if (sr_sink_kafka.write_view(k, batch, v, &err) != SR_OK) SR_FAIL("write_view: %s", err->message);
  if (sr_sink_kafka.commit(k, batch, &err) != SR_OK) SR_FAIL("commit: %s", err->message);
}

/* write_view: the rows a query hands from its source to the sink untouched, read from the
** source's records in C: the same messages as from row tables, a replay included. */
SR_TEST(sink_writes_records_of_a_view) {
  topic_create("kv", 3);
  topic_create("kv2", 1);
  char *dir = tmp_dir();
  sr_sink *k = sink_open(opts("topic", "kv", NULL), dir);
  view_rec recs[3] = {
    {.value = {"plain", 5}, .key = {"a", 1}, .partition = 2},
    {.value = {"no key", 6}, .partition = 0},
    {.key = {"tombstone", 9}, .partition = 1},
  };
  sr_row_view v = view_of(recs, 3, view_cols);
  view_write_commit(k, 0, &v);
  assert_sink_progress(k, 3, -1);
  json_t *msgs = kcat_consume("kv");
  ASSERT_EQ_INT((int64_t)json_array_size(msgs), 3);
  size_t i;
  json_t *m;
  json_array_foreach(msgs, i, m) {
    const char *val = json_string_value(json_object_get(m, "payload"));
    const char *key = json_string_value(json_object_get(m, "key"));
    int64_t part = json_integer_value(json_object_get(m, "partition"));
    if (val && strcmp(val, "plain") == 0) {
      ASSERT_EQ_STR(key, "a");
      ASSERT_EQ_INT(part, 2);
    } else if (val) {
      ASSERT_EQ_STR(val, "no key");
      ASSERT_TRUE(json_is_null(json_object_get(m, "key")));
      ASSERT_EQ_INT(part, 0);
    } else {
      ASSERT_EQ_STR(key, "tombstone");
      ASSERT_EQ_INT(part, 1);
    }
  }
  json_decref(msgs);
  /* A number column is written as its decimal text, as a Lua number is. */
  view_rec num = {.value = {"n", 1}, .partition = -42};
  v = view_of(&num, 1, view_cols_int_key);
  view_write_commit(k, 1, &v);
  msgs = kcat_consume("kv");
  int found = 0;
  json_array_foreach(msgs, i, m) {
    const char *val = json_string_value(json_object_get(m, "payload"));
    if (val && strcmp(val, "n") == 0) {
      ASSERT_EQ_STR(json_string_value(json_object_get(m, "key")), "-42");
      found++;
    }
  }
  ASSERT_EQ_INT(found, 1);
  json_decref(msgs);
  /* A record the sink cannot write fails the batch before anything is produced. */
  recs[1].partition = -1;
  v = view_of(recs, 3, view_cols);
  sr_error *err = NULL;
  ASSERT_EQ_INT(sr_sink_kafka.write_view(k, 2, &v, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "row 2: column 'partition'") != NULL);
  sr_error_free(err);
  err = NULL;
  sink_close(k);
  /* Without the topic option, the records' topic column; a record without one is refused. */
  k = sink_open(opts(NULL), NULL);
  view_rec routed[2] = {{.value = {"x", 1}, .topic = {"kv2", 3}}, {.value = {"y", 1}, .topic = {"kv2", 3}}};
  v = view_of(routed, 2, view_cols);
  view_write_commit(k, 0, &v);
  json_t *b = kcat_consume("kv2");
  ASSERT_EQ_INT((int64_t)json_array_size(b), 2);
  json_decref(b);
  routed[1].topic.ptr = NULL;
  ASSERT_EQ_INT(sr_sink_kafka.write_view(k, 1, &v, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "row 2 has no topic") != NULL);
  sr_error_free(err);
  sink_close(k);
  /* A replay through the view writes only what the first attempt did not. */
  topic_create("kv3", 3);
  char *dir3 = tmp_dir();
  enum { N = 3000 };
  view_rec *many = calloc(N, sizeof *many);
  char (*text)[16] = calloc(N, sizeof *text);
  for (int r = 0; r < N; r++) {
    snprintf(text[r], sizeof text[r], "v-%d", r);
    many[r].value = (sr_view_text){text[r], strlen(text[r])};
    many[r].key = (sr_view_text){text[r] + 2, strlen(text[r]) - 2};
  }
  static const sr_view_column value_key[] = {
    {"value", SR_VIEW_TEXT, offsetof(view_rec, value)}, {"key", SR_VIEW_TEXT, offsetof(view_rec, key)},
    {NULL, 0, 0}};
  k = sink_open(opts("topic", "kv3", NULL), dir3);
  v = view_of(many, 1200, value_key);
  view_write_commit(k, 0, &v); /* flushed, but the engine never logged it */
  sink_close(k);
  k = sink_open(opts("topic", "kv3", NULL), dir3);
  v = view_of(many, N, value_key);
  view_write_commit(k, 0, &v);
  assert_sink_progress(k, N - 1200, 1200);
  sink_close(k);
  assert_exactly_once("kv3", 1, "v-", N);
  free(many);
  free(text);
  free(dir3);
  free(dir);
}

/* The pending file names every partition a batch's rows went to, even with the `random`
** partitioner, which gives another partition each time it is asked: a replay scans only
** those partitions. (3 keyed rows, 16 partitions: a partition asked twice would differ.) */
SR_TEST(sink_pending_names_every_partition) {
  topic_create("kr", 16);
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  char *dir = tmp_dir();
  for (int round = 0; round < 5; round++) {
    sr_sink *k = sink_open(opts("topic", "kr", "kafka.partitioner", "random", NULL), dir);
    ASSERT_EQ_INT(luaL_dostring(L, "return {{value = 'a', key = 'x'}, {value = 'b', key = 'y'}, "
                                   "{value = 'c', key = 'z'}}"), 0);
    write_commit(k, round, L, 3);
    lua_settop(L, 0);
    sink_close(k);
  }
  char path[512];
  snprintf(path, sizeof path, "%s/kafka-sink-pending.json", dir);
  json_error_t jerr;
  int checked;
  size_t plen;
  char *ptext = sr_fs_read_checked(path, "kafka-sink-pending.json", &plen, &checked, NULL);
  ASSERT_TRUE(ptext != NULL && checked);
  json_t *pending = json_loadb(ptext, plen, 0, &jerr);
  free(ptext);
  ASSERT_TRUE(pending != NULL);
  json_t *from = json_object_get(json_object_get(pending, "from"), "kr");
  json_t *msgs = kcat_consume("kr");
  ASSERT_EQ_INT((int64_t)json_array_size(msgs), 15);
  size_t i;
  json_t *m;
  json_array_foreach(msgs, i, m) {
    /* the last batch's messages (marker q-sink:4:<seq>) */
    json_t *h = json_object_get(m, "headers");
    const char *mark = json_string_value(json_array_get(h, json_array_size(h) - 1));
    if (!mark || strncmp(mark, "q-sink:4:", 9) != 0) continue;
    char part[16];
    snprintf(part, sizeof part, "%lld", (long long)json_integer_value(json_object_get(m, "partition")));
    if (!json_object_get(from, part)) SR_FAIL("partition %s holds batch 4 but the pending file names only %s", part, json_dumps(from, JSON_COMPACT));
  }
  json_decref(msgs);
  json_decref(pending);
  free(dir);
  lua_close(L);
}

SR_TEST(sink_exactly_once_after_partial_batch) {
  topic_create("k2", 3);
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  char *dir = tmp_dir();
  /* Batch 0 goes through. */
  sr_sink *k = sink_open(opts("topic", "k2", NULL), dir);
  push_rows_table(L, 100, "b0-");
  write_commit(k, 0, L, 100);
  /* Batch 1: the first attempt gets 400 of 1000 rows into Kafka, then the process "dies". */
  push_rows_table(L, 1000, "b1-");
  sr_error *err = NULL;
  ASSERT_EQ_INT(sink_write(k, 1, L, 400, &err), SR_OK);
  ASSERT_EQ_INT(sr_sink_kafka.commit(k, 1, &err), SR_OK); /* flushed, but the engine never logged it */
  sink_close(k);
  /* The replay writes only the 600 missing rows. */
  k = sink_open(opts("topic", "k2", NULL), dir);
  write_commit(k, 1, L, 1000);
  assert_sink_progress(k, 600, 400);
  sink_close(k);
  /* Batch 2: the producer is destroyed mid-batch, whatever it had sent is in the log. */
  k = sink_open(opts("topic", "k2", NULL), dir);
  push_rows_table(L, 5000, "b2-");
  ASSERT_EQ_INT(sink_write(k, 2, L, 5000, &err), SR_OK);
  sink_close(k);
  k = sink_open(opts("topic", "k2", NULL), dir);
  write_commit(k, 2, L, 5000);
  /* A replay of a batch already committed writes nothing; an older batch is skipped. */
  write_commit(k, 2, L, 5000);
  sink_close(k);
  k = sink_open(opts("topic", "k2", NULL), dir);
  write_commit(k, 2, L, 5000);
  push_rows_table(L, 100, "b1-");
  write_commit(k, 1, L, 100);
  sink_close(k);
  assert_exactly_once("k2", 3, "b0-", 100, "b1-", 1000, "b2-", 5000);
  free(dir);
  lua_close(L);
}

/* The batch a pending file names (-1: none). */
static int64_t pending_batch_of(const char *dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/kafka-sink-pending.json", dir);
  size_t len;
  int checked;
  char *text = sr_fs_read_checked(path, "kafka-sink-pending.json", &len, &checked, NULL);
  if (!text) return -1;
  json_error_t jerr;
  json_t *p = json_loadb(text, len, 0, &jerr);
  free(text);
  int64_t batch = p ? json_integer_value(json_object_get(p, "batch")) : -1;
  json_decref(p);
  return batch;
}

/* A process writes its batches under one pending file while they go to partitions it names
** (no fsync per batch); a batch begun under it and cut short is completed by the next process
** without duplicates, as one begun under a pending file of its own. */
SR_TEST(sink_batches_share_a_pending_file) {
  topic_create("k7", 3);
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  char *dir = tmp_dir();
  sr_sink *k = sink_open(opts("topic", "k7", NULL), dir);
  const char *prefixes[] = {"b0-", "b1-", "b2-", "b3-"};
  for (int b = 0; b < 4; b++) {
    push_rows_table(L, 50, prefixes[b]);
    write_commit(k, b, L, 50);
  }
  ASSERT_EQ_INT(pending_batch_of(dir), 0);
  /* Batch 4: 400 of its 1000 rows reach Kafka, then the process "dies". */
  push_rows_table(L, 1000, "b4-");
  sr_error *err = NULL;
  ASSERT_EQ_INT(sink_write(k, 4, L, 400, &err), SR_OK);
  ASSERT_EQ_INT(sr_sink_kafka.commit(k, 4, &err), SR_OK); /* flushed, but the engine never logged it */
  sink_close(k);
  k = sink_open(opts("topic", "k7", NULL), dir);
  write_commit(k, 4, L, 1000);
  assert_sink_progress(k, 600, 400);
  sink_close(k);
  assert_exactly_once("k7", 5, "b0-", 50, "b1-", 50, "b2-", 50, "b3-", 50, "b4-", 1000);
  free(dir);
  lua_close(L);
}

/* Produces "<prefix><i>" to topic/partition i % 2 carrying the given headers (name, value
** pairs, NULL-terminated), as a sink attempt would have. */
static void produce_marked(rd_kafka_t *rk, const char *topic, const char *prefix, int i, ...) {
  char val[64];
  snprintf(val, sizeof val, "%s%d", prefix, i);
  rd_kafka_headers_t *h = rd_kafka_headers_new(3);
  va_list ap;
  va_start(ap, i);
  for (const char *n = va_arg(ap, const char *); n; n = va_arg(ap, const char *))
    rd_kafka_header_add(h, n, -1, va_arg(ap, const char *), -1);
  va_end(ap);
  ASSERT_EQ_INT(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(i % 2),
                                  RD_KAFKA_V_VALUE(val, strlen(val)), RD_KAFKA_V_HEADERS(h),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END), 0);
}

SR_TEST(sink_replay_reads_both_marker_forms) {
  topic_create("k6", 2);
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  char *dir = tmp_dir(), path[600];
  /* Batch 3 of query q-sink was begun by a version that wrote three headers per message, and
  ** by this one: rows 0, 2, .., 58 in the old form, 61, 63, .., 79 in the new. Among them,
  ** messages that are not this batch's and name rows not yet written (if the scan took one
  ** for this batch's, that row would be missing). */
  snprintf(path, sizeof path, "%s/kafka-sink-pending.json", dir);
  const char *pending = "{\"query\": \"q-sink\", \"batch\": 3, \"from\": {\"k6\": {\"0\": 0, \"1\": 0}}}";
  sr_error *err = NULL;
  ASSERT_EQ_INT(sr_fs_write_atomic(path, pending, strlen(pending), &err), SR_OK);
  rd_kafka_t *rk = producer_for("k6");
  for (int i = 0; i < 60; i += 2) {
    char seq[16];
    snprintf(seq, sizeof seq, "%d", i);
    produce_marked(rk, "k6", "b3-", i, "streamrun.query", "q-sink", "streamrun.batch", "3",
                   "streamrun.seq", seq, NULL);
  }
  for (int i = 61; i < 80; i += 2) {
    char mark[64];
    snprintf(mark, sizeof mark, "q-sink:3:%d", i);
    produce_marked(rk, "k6", "b3-", i, "streamrun", mark, NULL);
  }
  static const char *const decoys[][8] = {
    {"streamrun.query", "q-other", "streamrun.batch", "3", "streamrun.seq", "5"},
    {"streamrun.query", "q-sink", "streamrun.batch", "2", "streamrun.seq", "7"},
    {"streamrun", "q-sink:2:9"},
    {"streamrun", "q-sink:31:11"},
    {"streamrun", "x:q-sink:3:13"},
    {"streamrun", "q-sink:3:15:3"},
    {"streamrun", "q-sink:3:"},
    /* the marker wins over headers of the old form that a row passed through */
    {"streamrun.query", "q-sink", "streamrun.batch", "3", "streamrun.seq", "17", "streamrun",
     "q-sink:4:17"},
  };
  int ndecoys = sizeof decoys / sizeof *decoys;
  for (int d = 0; d < ndecoys; d++)
    produce_marked(rk, "k6", "x-", d, decoys[d][0], decoys[d][1], decoys[d][2], decoys[d][3],
                   decoys[d][4], decoys[d][5], decoys[d][6], decoys[d][7], NULL);
  ASSERT_EQ_INT(rd_kafka_flush(rk, 10000), 0);
  rd_kafka_destroy(rk);
  /* The replay writes the 100 - 30 - 10 rows missing, each to the partition of its first try. */
  sr_sink *k = sink_open(opts("topic", "k6", NULL), dir);
  ASSERT_EQ_INT(luaL_dostring(L, "local rows = {}\n"
                                 "for i = 0, 99 do rows[i + 1] = {value = 'b3-' .. i, partition = i % 2} end\n"
                                 "return rows"), 0);
  write_commit(k, 3, L, 100);
  assert_sink_progress(k, 60, 40);
  sink_close(k);
  assert_exactly_once("k6", 2, "b3-", 100, "x-", ndecoys);
  free(dir);
  lua_close(L);
}

/* The sum of the log end offsets of topic's partitions [0, n). */
static int64_t log_end_total(rd_kafka_t *rk, const char *topic, int n) {
  int64_t lo = 0, hi = 0, total = 0;
  for (int p = 0; p < n; p++) {
    ASSERT_EQ_INT(rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000), 0);
    total += hi;
  }
  return total;
}

/* The child of sink_exactly_once_after_kill: writes one batch, then waits to be killed. */
static int sink_child(char **argv) {
  snprintf(bootstrap, sizeof bootstrap, "%s", argv[0]);
  const char *dir = argv[1], *topic = argv[2];
  int64_t batch = atoll(argv[3]);
  int nrows = atoi(argv[4]);
  char prefix[32];
  snprintf(prefix, sizeof prefix, "b%lld-", (long long)batch);
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  sr_sink *k = sink_open(opts("topic", topic, NULL), dir);
  push_rows_table(L, nrows, prefix);
  sr_error *err = NULL;
  fputs("writing\n", stdout); /* the parent's cue: kill from now on */
  fflush(stdout);
  if (sink_write(k, batch, L, nrows, &err) != SR_OK) return 1;
  sr_sink_kafka.commit(k, batch, &err);
  for (;;) pause();
}

SR_TEST(sink_exactly_once_after_kill) {
  topic_create("k3", 4);
  char *dir = tmp_dir();
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  /* Kill after a delay from the child's cue, or (-1) as soon as its first messages land. */
  static const int delays_ms[] = {0, 20, 40, -1, -1};
  const int nb = sizeof delays_ms / sizeof *delays_ms, nrows = 20000;
  rd_kafka_t *watcher = producer_new();
  for (int b = 0; b < nb; b++) {
    char batch[16], rows[16];
    snprintf(batch, sizeof batch, "%d", b);
    snprintf(rows, sizeof rows, "%d", nrows);
    /* Measured before the child starts: under load it can have written its whole batch by the
    ** time the parent reads its cue, and a mark taken then would never move. */
    int64_t before = log_end_total(watcher, "k3", 4);
    int cue[2];
    ASSERT_EQ_INT(pipe(cue), 0);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
      dup2(cue[1], 1);
      close(cue[0]);
      char *args[] = {"test_kafka", "--sink-child", bootstrap, dir, "k3", batch, rows, NULL};
      execv("/proc/self/exe", args);
      _exit(127);
    }
    close(cue[1]);
    char line[16];
    ASSERT_TRUE(read(cue[0], line, sizeof line) > 0); /* the child is about to write */
    close(cue[0]);
    if (delays_ms[b] >= 0) usleep((useconds_t)delays_ms[b] * 1000);
    while (delays_ms[b] < 0 && log_end_total(watcher, "k3", 4) == before) {}
    kill(pid, SIGKILL);
    int status;
    ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* The restarted query replays the batch. */
    char prefix[16];
    snprintf(prefix, sizeof prefix, "b%d-", b);
    sr_sink *k = sink_open(opts("topic", "k3", NULL), dir);
    push_rows_table(L, nrows, prefix);
    write_commit(k, b, L, nrows);
    json_t *progress = json_object();
    sr_sink_kafka.describe(k, progress);
    fprintf(stderr, " [kill at %d ms: %lld already in Kafka]", delays_ms[b],
            (long long)json_integer_value(json_object_get(progress, "numRowsAlreadyWritten")));
    json_decref(progress);
    sink_close(k);
  }
  rd_kafka_destroy(watcher);
  assert_exactly_once("k3", 5, "b0-", nrows, "b1-", nrows, "b2-", nrows, "b3-", nrows, "b4-", nrows);
  free(dir);
  lua_close(L);
}

SR_TEST(sink_delivery_failure_is_retried) {
  topic_create("k4", 1);
  char *dir = tmp_dir();
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  sr_sink *k = sink_open(opts("topic", "k4", "kafka.message.timeout.ms", "1000", NULL), dir);
  push_rows_table(L, 50, "b0-");
  rd_kafka_resp_err_t errs[64];
  for (int i = 0; i < 64; i++) errs[i] = RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS;
  rd_kafka_mock_push_request_errors_array(mock, 0 /* Produce */, 64, errs);
  sr_error *err = NULL;
  ASSERT_EQ_INT(sink_write(k, 0, L, 50, &err), SR_OK);
  sr_status st = sr_sink_kafka.commit(k, 0, &err);
  ASSERT_TRUE(st != SR_OK); /* never silent */
  ASSERT_TRUE(err && strstr(err->message, "not delivered") != NULL);
  sr_error_free(err);
  err = NULL;
  rd_kafka_mock_clear_request_errors(mock, 0);
  write_commit(k, 0, L, 50); /* the engine's retry */
  sink_close(k);
  assert_exactly_once("k4", 1, "b0-", 50);
  free(dir);
  lua_close(L);
}

SR_TEST(sink_transactional) {
  /* The mock fakes transactions: this only shows the transactional path delivers. */
  topic_create("k5", 2);
  char *dir = tmp_dir();
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  sr_sink *k = sink_open(opts("topic", "k5", "kafka.transactional.id", "streamrun-test-tx", NULL), dir);
  push_rows_table(L, 300, "b0-");
  write_commit(k, 0, L, 300);
  push_rows_table(L, 200, "b1-");
  write_commit(k, 1, L, 200);
  sink_close(k);
  assert_exactly_once("k5", 2, "b0-", 300, "b1-", 200);
  free(dir);
  lua_close(L);
}

SR_TEST(kafka_mock_command) {
  int out[2];
  ASSERT_EQ_INT(pipe(out), 0);
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    char *args[] = {"test_kafka", "--mock", "2", "--topic", "mt:3", NULL};
    execv("/proc/self/exe", args);
    _exit(127);
  }
  close(out[1]);
  FILE *f = fdopen(out[0], "r");
  char line[512] = "";
  ASSERT_TRUE(fgets(line, sizeof line, f) != NULL);
  line[strcspn(line, "\n")] = '\0';
  ASSERT_TRUE(strncmp(line, "127.0.0.1:", 10) == 0 && strchr(line, ',') != NULL); /* 2 brokers */
  char errstr[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", line, errstr, sizeof errstr);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  const struct rd_kafka_metadata *md = NULL;
  ASSERT_EQ_INT(rd_kafka_metadata(rk, 1, NULL, &md, 5000), 0);
  ASSERT_EQ_INT(md->broker_cnt, 2);
  int parts = -1;
  for (int i = 0; i < md->topic_cnt; i++)
    if (strcmp(md->topics[i].topic, "mt") == 0) parts = md->topics[i].partition_cnt;
  ASSERT_EQ_INT(parts, 3);
  rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(rk);
  kill(pid, SIGTERM);
  int status;
  ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ_INT(WEXITSTATUS(status), 0);
  fclose(f);
  /* Bad arguments: status 2. */
  pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    char *args[] = {"test_kafka", "--mock", "many", NULL};
    execv("/proc/self/exe", args);
    _exit(127);
  }
  ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
  ASSERT_EQ_INT(WEXITSTATUS(status), 2);
}


SR_TEST(source_prefetch_across_batches) {
  /* 4.4 MB in one partition read 3 offsets a batch: the consumer prefetches past each batch's
  ** end, keeps what it polled (pausing the partition past 4 MiB) and hands it to later batches. */
  topic_create("s6", 1);
  rd_kafka_t *rk = producer_for("s6");
  static char big[100 * 1024];
  for (int i = 0; i < 44; i++) {
    memset(big, 'a' + i % 26, sizeof big);
    int n = snprintf(big, 16, "%d:", i);
    big[n] = ' ';
    ASSERT_EQ_INT(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("s6"), RD_KAFKA_V_PARTITION(0),
                                    RD_KAFKA_V_VALUE(big, sizeof big), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_END), 0);
  }
  ASSERT_EQ_INT(rd_kafka_flush(rk, 10000), 0);
  rd_kafka_destroy(rk);
  sr_source *s = source_open(opts("subscribe", "s6", "startingOffsets", "earliest",
                                  "maxOffsetsPerTrigger", "3", NULL), NULL, SR_OK);
  lua_State *L = lua_new();
  json_t *start = NULL;
  int next = 0, batches = 0;
  for (json_t *end; (end = plan(s, start, SR_OK, NULL)); batches++) {
    int n = read_rows(s, start, end, L, SR_OK, NULL);
    for (int i = 1; i <= n; i++, next++) {
      ASSERT_EQ_INT(row_int(L, i, "offset"), next);
      lua_rawgeti(L, 1, i);
      lua_getfield(L, -1, "value");
      size_t len;
      const char *v = lua_tolstring(L, -1, &len);
      ASSERT_EQ_INT(len, sizeof big);
      ASSERT_EQ_INT(atoi(v), next);
      ASSERT_EQ_INT(v[len - 1], 'a' + next % 26);
      lua_pop(L, 2);
    }
    json_decref(start);
    start = end;
  }
  ASSERT_EQ_INT(next, 44);
  ASSERT_EQ_INT(batches, 15);
  json_decref(start);
  source_close(s);
  sr_lua_close(L);
}

/* Under the continuous trigger: new messages make wake_fd readable, and batches planned from
** what the consumer fetched (the interval, a minute, keeps the brokers out of these plans) read
** every message once, in ranges a replay reads identically. */
SR_TEST(source_continuous_plans_what_was_fetched) {
  topic_create("cont", 2);
  produce("cont", 0, 10, "a");
  sr_source *s = calloc(1, sizeof *s);
  s->ops = &sr_source_kafka;
  s->cfg.options = opts("subscribe", "cont", "startingOffsets", "earliest", NULL);
  s->cfg.query_id = "q-cont";
  s->cfg.continuous_ms = 60000;
  ASSERT_EQ_INT(sr_source_kafka.open(s, &s->cfg, NULL), SR_OK);
  int fd = sr_source_kafka.wake_fd(s);
  ASSERT_TRUE(fd >= 0);
  lua_State *L = lua_new();
  json_t *start = plan(s, NULL, SR_OK, NULL);
  ASSERT_EQ_INT(read_rows(s, NULL, start, L, SR_OK, NULL), 10);
  produce("cont", 1, 7, "b");
  produce("cont", 0, 3, "c");
  int rows = 0, batches = 0;
  json_t *before = NULL, *last = NULL;
  for (int64_t deadline = now_ms() + 30000; rows < 10 && now_ms() < deadline;) {
    struct pollfd p = {fd, POLLIN, 0};
    poll(&p, 1, 1000);
    json_t *end = plan(s, start, SR_OK, NULL);
    if (!end) continue;
    rows += read_rows(s, start, end, L, SR_OK, NULL);
    batches++;
    json_decref(before);
    before = start;
    json_decref(last);
    last = end;
    start = json_incref(end);
  }
  ASSERT_EQ_INT(rows, 10);
  ASSERT_TRUE(batches >= 1);
  ASSERT_EQ_INT(json_off(start, "cont", "0"), 13);
  ASSERT_EQ_INT(json_off(start, "cont", "1"), 7);
  /* the last batch again: the same rows */
  int n = read_rows(s, before, last, L, SR_OK, NULL);
  char *first = rows_text(L, n);
  ASSERT_EQ_INT(read_rows(s, before, last, L, SR_OK, NULL), n);
  char *again = rows_text(L, n);
  ASSERT_EQ_STR(first, again);
  free(first);
  free(again);
  json_decref(before);
  json_decref(last);
  json_decref(start);
  sr_source_kafka.close(s);
  sr_options_free((sr_options *)s->cfg.options);
  free(s);
  sr_lua_close(L);
}

SR_TEST(source_available_now) {
  topic_create("s7", 2);
  produce("s7", 0, 30, "a");
  sr_source *s = calloc(1, sizeof *s);
  s->ops = &sr_source_kafka;
  s->available_now = 1;
  s->cfg.options = opts("subscribe", "s7", "startingOffsets", "earliest", "maxOffsetsPerTrigger", "20", NULL);
  s->cfg.query_id = "q-now";
  ASSERT_EQ_INT(sr_source_kafka.open(s, &s->cfg, NULL), SR_OK);
  json_t *end = plan(s, NULL, SR_OK, NULL);
  ASSERT_EQ_INT(json_off(end, "s7", "0"), 20);
  ASSERT_EQ_INT(sr_source_kafka.drained(s, end), 0);
  produce("s7", 1, 5, "later"); /* after the query started: not for availableNow */
  json_t *end2 = plan(s, end, SR_OK, NULL);
  ASSERT_EQ_INT(json_off(end2, "s7", "0"), 30);
  ASSERT_EQ_INT(json_off(end2, "s7", "1"), 0);
  ASSERT_EQ_INT(sr_source_kafka.drained(s, end2), 1);
  ASSERT_TRUE(plan(s, end2, SR_OK, NULL) == NULL);
  json_decref(end);
  json_decref(end2);
  source_close(s);
}

/* ---- bench ---------------------------------------------------------------------------- */

static double seconds_of(const char *cmd) {
  int64_t t0 = now_ms();
  if (system(cmd) != 0) SR_FAIL("%s failed", cmd);
  return (double)(now_ms() - t0) / 1000.0;
}

/* The source's plan + read_view (rows made by its Lua module) and the sink's write + commit
** against kcat on the same mock cluster, in the same run: each figure is the best of `rounds`
** (the machine is shared), rounds interleaved. */
static int bench(int n, int rounds) {
  char file[300], cmd[1024], topic[64];
  double kcat_p = 1e9, sink_p = 1e9, kcat_c = 1e9, kcat_c_plain = 1e9, src_c = 1e9;
  mock_start(1);
  sr_fs_mkdirs(tmp_root, NULL);
  snprintf(file, sizeof file, "%s/lines", tmp_root);
  FILE *f = fopen(file, "w");
  for (int i = 0; i < n; i++)
    fprintf(f, "key-%d:{\"auction\":%d,\"bidder\":%d,\"price\":%d.25,\"channel\":\"web\",\"dateTime\":\"2026-11-23 10:00:00.001\"}\n",
            i, 1000 + i % 97, i * 7 % 10007, i % 500);
  fclose(f);
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  snprintf(cmd, sizeof cmd,
           "local rows, i = {}, 0\n"
           "for line in io.lines('%s') do\n"
           "  local k, v = line:match('^([^:]*):(.*)$')\n"
           "  i = i + 1; rows[i] = {key = k, value = v}\n"
           "end\n"
           "return rows", file);
  if (luaL_dostring(L, cmd) != 0) SR_FAIL("%s", lua_tostring(L, -1));
  for (int r = 0; r < rounds; r++) {
    /* Produce: kcat -P from the file, the sink from a Lua table of the same rows. */
    snprintf(topic, sizeof topic, "bench-kcat-%d", r);
    topic_create(topic, 8);
    snprintf(cmd, sizeof cmd, "kcat -b %s -P -t %s -K: -l %s " KCAT_OPTS, bootstrap, topic, file);
    double t = seconds_of(cmd);
    if (t < kcat_p) kcat_p = t;
    snprintf(topic, sizeof topic, "bench-sink-%d", r);
    topic_create(topic, 8);
    char *dir = tmp_dir();
    sr_sink *k = sink_open(opts("topic", topic, NULL), dir);
    int64_t t0 = now_ms();
    write_commit(k, 0, L, n);
    t = (double)(now_ms() - t0) / 1000.0;
    if (t < sink_p) sink_p = t;
    sink_close(k);
    free(dir);
    /* Consume everything: kcat -C to /dev/null, the source's plan + read into Lua rows. */
    snprintf(cmd, sizeof cmd, "kcat -b %s -C -t bench-kcat-%d -e -o beginning -q " KCAT_OPTS " > /dev/null",
             bootstrap, r);
    if ((t = seconds_of(cmd)) < kcat_c) kcat_c = t;
    snprintf(cmd, sizeof cmd, "kcat -b %s -C -t bench-kcat-%d -e -o beginning -q > /dev/null", bootstrap, r);
    if ((t = seconds_of(cmd)) < kcat_c_plain) kcat_c_plain = t;
    snprintf(topic, sizeof topic, "bench-kcat-%d", r);
    sr_source *s = source_open(opts("subscribe", topic, "startingOffsets", "earliest", NULL), NULL, SR_OK);
    lua_State *L2 = lua_new();
    t0 = now_ms();
    json_t *end = plan(s, NULL, SR_OK, NULL);
    int got = read_rows(s, NULL, end, L2, SR_OK, NULL);
    if ((t = (double)(now_ms() - t0) / 1000.0) < src_c) src_c = t;
    ASSERT_EQ_INT(got, n);
    json_decref(end);
    source_close(s);
    sr_lua_close(L2);
  }
  printf("%d messages of ~120 bytes, mock cluster with 1 broker, 8 partitions, best of %d\n", n, rounds);
  printf("kcat with %s\n", KCAT_OPTS);
  printf("produce: kcat -P %.3f s (%.0f msg/s)   sink write+commit %.3f s (%.0f msg/s)   ratio %.2f\n",
         kcat_p, n / kcat_p, sink_p, n / sink_p, kcat_p / sink_p);
  printf("consume: kcat -C %.3f s (%.0f msg/s)   source plan+read %.3f s (%.0f msg/s)   ratio %.2f\n",
         kcat_c, n / kcat_c, src_c, n / src_c, kcat_c / src_c);
  printf("         (kcat -C with its default settings: %.3f s, ratio %.2f)\n", kcat_c_plain,
         kcat_c_plain / src_c);
  lua_close(L);
  mock_stop();
  sr_fs_remove_tree(tmp_root, NULL);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--mock") == 0) return sr_kafka_mock_main(argc - 2, argv + 2);
  if (argc >= 7 && strcmp(argv[1], "--sink-child") == 0) return sink_child(argv + 2);
  snprintf(tmp_root, sizeof tmp_root, "/tmp/sr_test_kafka_%ld", (long)getpid());
  signal(SIGPIPE, SIG_IGN);
  if (argc > 1 && strcmp(argv[1], "--bench") == 0) return bench(argc > 2 ? atoi(argv[2]) : 100000, argc > 3 ? atoi(argv[3]) : 3);
  sr_test_before_each = mock_start_one;
  sr_test_after_each = mock_stop;
  int rc = SR_RUN(source_reads_kcat_from_earliest, source_starting_offsets, source_rows_in_range_order,
                  source_max_offsets_split_by_lag, source_replay_is_identical, source_include_headers,
                  source_new_partitions_from_earliest, source_data_loss, source_refuses_bad_options,
                  source_prefetch_across_batches, source_available_now,
                  source_continuous_plans_what_was_fetched,
                  sink_writes_what_kcat_reads, sink_needs_value, sink_writes_records_of_a_view,
                  sink_pending_names_every_partition,
                  sink_batches_share_a_pending_file,
                  sink_exactly_once_after_partial_batch,
                  sink_exactly_once_after_kill, sink_replay_reads_both_marker_forms,
                  sink_delivery_failure_is_retried, sink_transactional,
                  kafka_mock_command, source_retries_on_broker_faults);
  sr_fs_remove_tree(tmp_root, NULL);
  return rc;
}
