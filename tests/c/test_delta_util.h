/*
** Helpers shared by the Delta tests (test_delta_*.c): a scratch directory, DuckDB as the
** independent reader (tests/node/duckdb_query.mjs), Lua rows, driving the sink and source
** connectors as the engine does, and comparing our values with DuckDB's JSON.
**
** DuckDB comes from npm: without tests/node/node_modules the tests fail and say to run
** `npm ci --prefix tests/node`.
*/
#ifndef TEST_DELTA_UTIL_H
#define TEST_DELTA_UTIL_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "connector.h"
#include "delta_log.h"
#include "delta_table.h"
#include "fsutil.h"
#include "sr_test.h"
#include "timeutil.h"

extern const sr_sink_ops sr_sink_delta;
extern const sr_source_ops sr_source_delta;

/* ---- environment ---- */

static inline const char *env_or(const char *name, const char *fallback) {
  const char *v = getenv(name);
  return v && *v ? v : fallback;
}
static inline const char *source_dir(void) { return env_or("SR_SOURCE_DIR", "."); }
static inline const char *fixtures(void) { return env_or("SR_FIXTURES", "tests/fixtures"); }

static char tmp_root[128];

static inline void remove_tmp_root(void) {
  if (tmp_root[0]) sr_fs_remove_tree(tmp_root, NULL);
}

static inline void make_tmp_root(const char *tag) {
  snprintf(tmp_root, sizeof tmp_root, "%s/sr-%s-XXXXXX", env_or("TMPDIR", "/tmp"), tag);
  ASSERT_TRUE(mkdtemp(tmp_root) != NULL);
  atexit(remove_tmp_root);
}

/* A path under the scratch directory (a ring of static buffers). */
static inline const char *tmp_path(const char *name) {
  static char paths[32][512];
  static int next;
  char *p = paths[next++ % 32];
  snprintf(p, 512, "%s/%s", tmp_root, name);
  return p;
}

/* ---- DuckDB ---- */

#include "duckdb_test.h"

/* The first row of a query (a new reference). */
static inline json_t *duck_row(const char *sql) {
  json_t *rows = duck(sql);
  json_t *row = json_incref(json_array_get(rows, 0));
  json_decref(rows);
  if (!row) SR_FAIL("DuckDB returned no row for %s", sql);
  return row;
}

/* The live files of a table by DuckDB's own replay of the JSON commits (independent of our
** log code): rows {path (decoded, relative), pv (map as [{key,value}]), size}. */
static inline json_t *duck_live_files(const char *table) {
  char sql[4096];
  snprintf(sql, sizeof sql,
           "WITH a AS (SELECT CAST(regexp_extract(filename, '(\\d+)\\.json$', 1) AS BIGINT) AS v, "
           "\"add\".path AS ap, \"add\".partitionValues AS pv, \"add\".size AS size, \"add\".stats AS stats, "
           "\"remove\".path AS rp FROM read_ndjson('%s/_delta_log/*.json', filename=true, "
           "columns={'add': 'STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, stats VARCHAR)', "
           "'remove': 'STRUCT(path VARCHAR)'})) "
           "SELECT url_decode(ap) AS path, ap AS log_path, pv, size, stats FROM a WHERE ap IS NOT NULL AND "
           "NOT EXISTS (SELECT 1 FROM a b WHERE b.rp = a.ap AND b.v > a.v) ORDER BY v, path",
           table);
  return duck(sql);
}

/* ---- comparing values ---- */

/* DuckDB's SQL type for a partition column's cast. */
static inline const char *duck_type(const sr_field *f) {
  switch (f->type) {
  case SR_TYPE_LONG: return "BIGINT";
  case SR_TYPE_INT: return "INTEGER";
  case SR_TYPE_SHORT: return "SMALLINT";
  case SR_TYPE_BYTE: return "TINYINT";
  case SR_TYPE_DOUBLE: case SR_TYPE_DECIMAL: return "DOUBLE";
  case SR_TYPE_FLOAT: return "FLOAT";
  case SR_TYPE_BOOLEAN: return "BOOLEAN";
  case SR_TYPE_DATE: return "DATE";
  case SR_TYPE_TIMESTAMP: return "TIMESTAMP";
  default: return "VARCHAR";
  }
}

static inline int is_partition_col(const sr_delta_snapshot *s, const char *name) {
  for (int i = 0; i < s->npartition; i++)
    if (strcmp(s->partition_columns[i], name) == 0) return 1;
  return 0;
}

/* The whole check of a table against DuckDB: DuckDB's replay of the log names the same live
** files as our snapshot, and every live file reads the same, row by row, through our reader
** and through DuckDB's read_parquet plus the log's partition values. Returns the rows. */
static inline int64_t compare_table_with_duckdb(const char *table) {
  sr_error *err = NULL;
  sr_delta_snapshot *s = sr_delta_snapshot_open(table, -1, &err);
  if (!s) SR_FAIL("%s", err->message);
  json_t *live = duck_live_files(table);
  ASSERT_EQ_INT(json_array_size(live), json_object_size(s->files));
  int n = (int)json_array_size(live);
  if (n == 0) {
    json_decref(live);
    sr_delta_snapshot_free(s);
    return 0;
  }
  char **sqls = calloc((size_t)n, sizeof *sqls);
  for (int i = 0; i < n; i++) {
    json_t *f = json_array_get(live, (size_t)i);
    const char *log_path = json_string_value(json_object_get(f, "log_path"));
    if (!json_object_get(s->files, log_path)) SR_FAIL("%s: DuckDB's replay has %s, ours does not", table, log_path);
    sr_buf sql = SR_BUF_INIT;
    sr_buf_puts(&sql, "SELECT *");
    json_t *pv = json_object_get(f, "pv");
    for (int c = 0; c < s->schema->nfields; c++) {
      const sr_field *fld = &s->schema->fields[c];
      if (!is_partition_col(s, fld->name)) continue;
      const char *val = NULL;
      size_t k;
      json_t *e;
      json_array_foreach(pv, k, e)
        if (strcmp(json_string_value(json_object_get(e, "key")), fld->name) == 0)
          val = json_string_value(json_object_get(e, "value"));
      if (val) sr_buf_printf(&sql, ", CAST('%s' AS %s) AS \"%s\"", val, duck_type(fld), fld->name);
      else sr_buf_printf(&sql, ", NULL AS \"%s\"", fld->name);
    }
    sr_buf_printf(&sql, " FROM read_parquet('%s/%s', file_row_number=true) ORDER BY file_row_number", table,
                  json_string_value(json_object_get(f, "path")));
    sqls[i] = sql.data;
  }
  json_t *results = duck_many((const char *const *)sqls, n);
  int64_t total = 0;
  for (int i = 0; i < n; i++) {
    json_t *f = json_array_get(live, (size_t)i);
    const char *log_path = json_string_value(json_object_get(f, "log_path"));
    json_t *add = json_object_get(s->files, log_path);
    sr_arena a;
    sr_arena_init(&a);
    sr_value *rows;
    int64_t nrows;
    if (sr_delta_read_file(s, add, NULL, 0, &a, &rows, &nrows, &err) != SR_OK) SR_FAIL("%s", err->message);
    json_t *drows = json_array_get(results, (size_t)i);
    if ((size_t)nrows != json_array_size(drows))
      SR_FAIL("%s: we read %" PRId64 " rows, DuckDB %zu", log_path, nrows, json_array_size(drows));
    /* the file's size in the log is the file's size */
    struct stat st;
    char full[1024];
    snprintf(full, sizeof full, "%s/%s", table, json_string_value(json_object_get(f, "path")));
    ASSERT_EQ_INT(stat(full, &st), 0);
    ASSERT_EQ_INT(st.st_size, json_integer_value(json_object_get(f, "size")));
    for (int64_t r = 0; r < nrows; r++) {
      json_t *drow = json_array_get(drows, (size_t)r);
      for (int c = 0; c < s->schema->nfields; c++) {
        char where[600];
        snprintf(where, sizeof where, "%s row %" PRId64 " %s", log_path, r, s->schema->fields[c].name);
        duck_check_value(&s->schema->fields[c], &rows[r].u.list.items[c],
                         json_object_get(drow, s->schema->fields[c].name), where, 1);
      }
    }
    total += nrows;
    sr_arena_free(&a);
    free(sqls[i]);
  }
  free(sqls);
  json_decref(results);
  json_decref(live);
  sr_delta_snapshot_free(s);
  return total;
}

/* ---- Lua ---- */

static inline lua_State *new_lua(void) {
  lua_State *L = luaL_newstate();
  ASSERT_TRUE(L != NULL);
  luaL_openlibs(L);
  return L;
}

/* Runs Lua code returning an array of rows; leaves it on the stack and returns its length. */
static inline int push_rows(lua_State *L, const char *code) {
  if (luaL_loadstring(L, code) != 0 || lua_pcall(L, 0, 1, 0) != 0)
    SR_FAIL("Lua: %s", lua_tostring(L, -1));
  return (int)lua_objlen(L, -1);
}

/* ---- the sink, driven as the engine drives it ---- */

typedef struct test_sink {
  sr_sink sink;
  sr_options *options;
  char query_id[64];
  char state_dir[512];
} test_sink;

/* Opens a delta sink on table with options given as name, value pairs (NULL-terminated).
** Returns the open status; *err set on failure. */
static inline sr_status test_sink_open(test_sink *t, const char *table, const char *query_id, const char *mode,
                                const sr_schema *plan_schema, const char *const *opts, sr_error **err) {
  memset(t, 0, sizeof *t);
  t->options = sr_options_new();
  sr_options_set(t->options, "path", table);
  for (int i = 0; opts && opts[i]; i += 2) sr_options_set(t->options, opts[i], opts[i + 1]);
  if (sr_options_check(t->options, sr_sink_delta.options, NULL, "the delta sink", err) != SR_OK) return SR_ERROR;
  snprintf(t->query_id, sizeof t->query_id, "%s", query_id);
  snprintf(t->state_dir, sizeof t->state_dir, "%s/state-%s", tmp_root, query_id);
  sr_fs_mkdirs(t->state_dir, NULL);
  t->sink.ops = &sr_sink_delta;
  t->sink.cfg.options = t->options;
  t->sink.cfg.schema = plan_schema;
  t->sink.cfg.query_id = t->query_id;
  t->sink.cfg.state_dir = t->state_dir;
  t->sink.cfg.output_mode = mode;
  return sr_sink_delta.open(&t->sink, &t->sink.cfg, err);
}

static inline void test_sink_close(test_sink *t) {
  sr_sink_delta.close(&t->sink);
  sr_options_free(t->options);
}

/* Writes and commits batch_id with the rows Lua code returns; returns the status (err set). */
static inline sr_status test_sink_batch(test_sink *t, lua_State *L, int64_t batch_id, const char *code,
                                 sr_error **err) {
  int top = lua_gettop(L);
  int n = push_rows(L, code);
  sr_status st = sr_sink_delta.write(&t->sink, batch_id, L, lua_gettop(L), n, 0, err);
  if (st == SR_OK) st = sr_sink_delta.commit(&t->sink, batch_id, err);
  lua_settop(L, top);
  return st;
}

static inline void must_batch(test_sink *t, lua_State *L, int64_t batch_id, const char *code) {
  sr_error *err = NULL;
  if (test_sink_batch(t, L, batch_id, code, &err) != SR_OK)
    SR_FAIL("batch %" PRId64 ": %s", batch_id, err ? err->message : "?");
}

/* The commit actions of a version (must exist). */
static inline json_t *commit_actions(const char *table, int64_t version) {
  json_t *actions = NULL;
  sr_error *err = NULL;
  if (sr_delta_read_commit(table, version, &actions, &err) != SR_OK || !actions)
    SR_FAIL("commit %" PRId64 " of %s: %s", version, table, err ? err->message : "missing");
  return actions;
}

/* The first action of a kind in a commit (borrowed from actions), or NULL. */
static inline json_t *find_action(json_t *actions, const char *kind) {
  size_t i;
  json_t *a;
  json_array_foreach(actions, i, a) if (json_object_get(a, kind)) return json_object_get(a, kind);
  return NULL;
}

static inline int count_actions(json_t *actions, const char *kind) {
  int n = 0;
  size_t i;
  json_t *a;
  json_array_foreach(actions, i, a) n += json_object_get(a, kind) != NULL;
  return n;
}

/* The number of actions of a kind in commit v. */
static inline int count_in_commit(const char *table, int64_t v, const char *kind) {
  json_t *actions = commit_actions(table, v);
  int n = count_actions(actions, kind);
  json_decref(actions);
  return n;
}

/* A string field of the first action of a kind in commit v (a static copy; "" when absent). */
static inline const char *field_in_commit(const char *table, int64_t v, const char *kind, const char *field) {
  static char out[512];
  json_t *actions = commit_actions(table, v);
  snprintf(out, sizeof out, "%s", json_string_value(json_object_get(find_action(actions, kind), field)) ?: "");
  json_decref(actions);
  return out;
}

#endif
