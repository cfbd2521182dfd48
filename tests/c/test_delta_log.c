/*
** The Delta log and reader: schemaString, partition values and paths as Spark writes them; the
** golden tables (Delta Lake's own test resources, written by Spark) read exactly as DuckDB
** reads them; replay from a checkpoint; checkpoints we write read back by us and by DuckDB;
** put-if-absent commits; protocol checks; the static-table format.
*/
#include "test_delta_util.h"

#include "delta_schema.h"

#include <time.h>
#include <utime.h>

static const char *golden(const char *table) {
  static char paths[8][512];
  static int next;
  char *p = paths[next++ % 8];
  snprintf(p, 512, "%s/delta-golden/%s", fixtures(), table);
  return p;
}

SR_TEST(schema_string_parses_and_writes_back) {
  const char *text =
      "{\"type\":\"struct\",\"fields\":["
      "{\"name\":\"a\",\"type\":\"integer\",\"nullable\":false,\"metadata\":{}},"
      "{\"name\":\"b\",\"type\":{\"type\":\"struct\",\"fields\":[{\"name\":\"d\",\"type\":\"long\",\"nullable\":true,\"metadata\":{}}]},\"nullable\":true,\"metadata\":{}},"
      "{\"name\":\"c\",\"type\":{\"type\":\"array\",\"elementType\":\"double\",\"containsNull\":false},\"nullable\":true,\"metadata\":{}},"
      "{\"name\":\"gone\",\"type\":\"void\",\"nullable\":true,\"metadata\":{}},"
      "{\"name\":\"f\",\"type\":{\"type\":\"map\",\"keyType\":\"string\",\"valueType\":\"timestamp\",\"valueContainsNull\":true},\"nullable\":true,\"metadata\":{}},"
      "{\"name\":\"g\",\"type\":\"decimal(10,2)\",\"nullable\":true,\"metadata\":{}},"
      "{\"name\":\"h\",\"type\":\"timestamp_ntz\",\"nullable\":true,\"metadata\":{}},"
      "{\"name\":\"i\",\"type\":\"byte\",\"nullable\":true,\"metadata\":{}},"
      "{\"name\":\"j\",\"type\":\"date\",\"nullable\":true,\"metadata\":{}}]}";
  sr_error *err = NULL;
  sr_schema *s = sr_delta_schema_parse(text, &err);
  if (!s) SR_FAIL("%s", err->message);
  ASSERT_EQ_INT(s->nfields, 8); /* the void column is dropped */
  ASSERT_EQ_STR(s->fields[0].name, "a");
  ASSERT_EQ_INT(s->fields[0].type, SR_TYPE_INT);
  ASSERT_EQ_INT(s->fields[0].nullable, 0);
  ASSERT_EQ_INT(s->fields[1].type, SR_TYPE_STRUCT);
  ASSERT_EQ_INT(s->fields[1].children->fields[0].type, SR_TYPE_LONG);
  ASSERT_EQ_INT(s->fields[2].type, SR_TYPE_ARRAY);
  ASSERT_EQ_INT(s->fields[2].element->type, SR_TYPE_DOUBLE);
  ASSERT_EQ_INT(s->fields[2].element->nullable, 0);
  ASSERT_EQ_STR(s->fields[3].name, "f");
  ASSERT_EQ_INT(s->fields[3].type, SR_TYPE_MAP);
  ASSERT_EQ_INT(s->fields[3].children->fields[1].type, SR_TYPE_TIMESTAMP);
  ASSERT_EQ_INT(s->fields[4].type, SR_TYPE_DECIMAL);
  ASSERT_EQ_INT(s->fields[4].precision, 10);
  ASSERT_EQ_INT(s->fields[4].scale, 2);
  ASSERT_EQ_INT(s->fields[5].type, SR_TYPE_TIMESTAMP);
  ASSERT_EQ_INT(s->fields[6].type, SR_TYPE_BYTE);
  ASSERT_EQ_INT(s->fields[7].type, SR_TYPE_DATE);
  /* written back as Spark spells it, and parsed again to the same schema */
  json_t *j = sr_delta_schema_json(s);
  char *again = json_dumps(j, JSON_COMPACT);
  ASSERT_TRUE(strstr(again, "\"type\":\"integer\"") && strstr(again, "\"decimal(10,2)\"") &&
              strstr(again, "\"elementType\":\"double\",\"containsNull\":false") &&
              strstr(again, "\"keyType\":\"string\""));
  sr_schema *s2 = sr_delta_schema_parse(again, &err);
  if (!s2) SR_FAIL("%s", err->message);
  ASSERT_TRUE(sr_schema_equal(s, s2));
  free(again);
  json_decref(j);
  sr_schema_free(s);
  sr_schema_free(s2);
  /* types we cannot read are refused, naming the column */
  s = sr_delta_schema_parse("{\"type\":\"struct\",\"fields\":[{\"name\":\"v\",\"type\":\"variant\",\"nullable\":true}]}", &err);
  ASSERT_TRUE(s == NULL);
  ASSERT_TRUE(strstr(err->message, "column v") && strstr(err->message, "variant"));
  sr_error_free(err);
  err = NULL;
  ASSERT_TRUE(sr_delta_schema_parse("[1]", &err) == NULL);
  sr_error_free(err);
}

static void check_partition(sr_type t, const sr_value *v, const char *text) {
  sr_field f;
  memset(&f, 0, sizeof f);
  f.name = "p";
  f.type = t;
  f.scale = 2;
  sr_buf b = SR_BUF_INIT;
  int rc = sr_delta_partition_format(&f, v, &b);
  if (!text) {
    ASSERT_EQ_INT(rc, 1);
    return;
  }
  ASSERT_EQ_INT(rc, 0);
  ASSERT_EQ_STR(sr_buf_cstr(&b), text);
  sr_arena a;
  sr_arena_init(&a);
  sr_value back;
  char why[256];
  ASSERT_EQ_INT(sr_delta_partition_parse(&f, text, &a, &back, why, sizeof why), 0);
  ASSERT_EQ_INT(back.kind, v->kind);
  if (v->kind == SR_VAL_INT) ASSERT_EQ_INT(back.u.i, v->u.i);
  if (v->kind == SR_VAL_DOUBLE) ASSERT_EQ_DBL(back.u.d, v->u.d);
  if (v->kind == SR_VAL_BOOL) ASSERT_EQ_INT(back.u.b, v->u.b);
  sr_arena_free(&a);
  sr_buf_free(&b);
}

SR_TEST(partition_values_and_paths) {
  sr_value i = {SR_VAL_INT, {.i = -42}}, d = {SR_VAL_DOUBLE, {.d = 0.1}}, b = {SR_VAL_BOOL, {.b = 1}};
  sr_value ts = {SR_VAL_INT, {.i = 1577866150001000}}, day = {SR_VAL_INT, {.i = 18262}};
  sr_value null = {SR_VAL_NULL, {0}}, empty = {SR_VAL_STRING, {0}};
  empty.u.str.ptr = "";
  check_partition(SR_TYPE_LONG, &i, "-42");
  check_partition(SR_TYPE_DOUBLE, &d, "0.1");
  check_partition(SR_TYPE_BOOLEAN, &b, "true");
  check_partition(SR_TYPE_TIMESTAMP, &ts, "2020-01-01T08:09:10.001Z");
  check_partition(SR_TYPE_DATE, &day, "2020-01-01");
  check_partition(SR_TYPE_STRING, &null, NULL);
  check_partition(SR_TYPE_STRING, &empty, NULL); /* Delta reads "" as null: written as null */
  /* Spark's timestamp text (no zone) reads as UTC; junk is refused with the column's name */
  sr_field f;
  memset(&f, 0, sizeof f);
  f.name = "part";
  f.type = SR_TYPE_TIMESTAMP;
  sr_arena a;
  sr_arena_init(&a);
  sr_value v;
  char why[256];
  ASSERT_EQ_INT(sr_delta_partition_parse(&f, "2020-01-01 08:09:10.001", &a, &v, why, sizeof why), 0);
  ASSERT_EQ_INT(v.u.i, 1577866150001000);
  ASSERT_EQ_INT(sr_delta_partition_parse(&f, NULL, &a, &v, why, sizeof why), 0);
  ASSERT_EQ_INT(v.kind, SR_VAL_NULL);
  f.type = SR_TYPE_LONG;
  ASSERT_EQ_INT(sr_delta_partition_parse(&f, "12x", &a, &v, why, sizeof why), -1);
  ASSERT_TRUE(strstr(why, "part") != NULL);
  sr_arena_free(&a);
  /* directory names escaped as Spark does, and the log's URI form of the golden table's path */
  sr_buf dir = SR_BUF_INIT, uri = SR_BUF_INIT, back = SR_BUF_INIT;
  const char *value = "2020-01-01 08:09:10.001";
  sr_buf_puts(&dir, "part=");
  sr_delta_escape_dir(value, strlen(value), &dir);
  ASSERT_EQ_STR(sr_buf_cstr(&dir), "part=2020-01-01 08%3A09%3A10.001");
  sr_buf_puts(&dir, "/part-00000-3cac2575-d0b4-4647-a7a3-b4a9d910cb32.c000.snappy.parquet");
  sr_delta_uri_encode(sr_buf_cstr(&dir), &uri);
  ASSERT_EQ_STR(sr_buf_cstr(&uri), "part=2020-01-01%2008%253A09%253A10.001/"
                                   "part-00000-3cac2575-d0b4-4647-a7a3-b4a9d910cb32.c000.snappy.parquet");
  ASSERT_EQ_INT(sr_delta_uri_decode(sr_buf_cstr(&uri), &back), 0);
  ASSERT_EQ_STR(sr_buf_cstr(&back), sr_buf_cstr(&dir));
  sr_buf_clear(&dir);
  sr_delta_escape_dir("a/b=c#d'e\n", 10, &dir);
  ASSERT_EQ_STR(sr_buf_cstr(&dir), "a%2Fb%3Dc%23d%27e%0A");
  sr_buf_clear(&back);
  ASSERT_EQ_INT(sr_delta_uri_decode("bad%2", &back), -1);
  sr_buf_free(&dir);
  sr_buf_free(&uri);
  sr_buf_free(&back);
}

SR_TEST(golden_tables_read_as_duckdb_reads_them) {
  static const struct { const char *table; int64_t rows, version; } tables[] = {
    {"snapshot-data0", 10, 0}, {"snapshot-data1", 20, 1}, {"data-reader-primitives", 11, 0},
    {"kernel-timestamp-TIMESTAMP_MICROS", 5, 0}, {"basic-with-checkpoint", 150, 14},
  };
  for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
    const char *path = golden(tables[i].table);
    ASSERT_EQ_INT(sr_delta_latest_version(path), tables[i].version);
    int64_t rows = compare_table_with_duckdb(path);
    if (rows != tables[i].rows) SR_FAIL("%s: %" PRId64 " rows, expected %" PRId64, tables[i].table, rows, tables[i].rows);
  }
}

SR_TEST(partition_columns_and_null_partition) {
  sr_error *err = NULL;
  sr_delta_snapshot *s = sr_delta_snapshot_open(golden("kernel-timestamp-TIMESTAMP_MICROS"), -1, &err);
  if (!s) SR_FAIL("%s", err->message);
  ASSERT_EQ_INT(s->npartition, 1);
  ASSERT_EQ_STR(s->partition_columns[0], "part");
  int part = sr_schema_find(s->schema, "part"), id = sr_schema_find(s->schema, "id");
  ASSERT_EQ_INT(s->schema->fields[part].type, SR_TYPE_TIMESTAMP);
  /* one row per file: id 4 has the null partition, id 0 the one with milliseconds */
  int seen = 0;
  const char *key;
  json_t *add;
  json_object_foreach(s->files, key, add) {
    sr_arena a;
    sr_arena_init(&a);
    sr_value *rows;
    int64_t n;
    ASSERT_EQ_INT(sr_delta_read_file(s, add, NULL, 0, &a, &rows, &n, &err), SR_OK);
    ASSERT_EQ_INT(n, 1);
    int64_t idv = rows[0].u.list.items[id].u.i;
    const sr_value *pv = &rows[0].u.list.items[part];
    if (idv == 4) {
      ASSERT_EQ_INT(pv->kind, SR_VAL_NULL);
      seen++;
    } else if (idv == 0) {
      ASSERT_EQ_INT(pv->u.i, 1577866150001000);
      seen++;
    } else if (idv == 3) {
      ASSERT_EQ_INT(pv->u.i, -31536000000000LL); /* 1969-01-01 */
      seen++;
    }
    sr_arena_free(&a);
  }
  ASSERT_EQ_INT(seen, 3);
  sr_delta_snapshot_free(s);
}

SR_TEST(replay_from_a_checkpoint) {
  const char *path = golden("basic-with-checkpoint");
  sr_error *err = NULL;
  sr_delta_snapshot *s = sr_delta_snapshot_open(path, -1, &err);
  if (!s) SR_FAIL("%s", err->message);
  ASSERT_EQ_INT(s->checkpoint_version, 10);
  ASSERT_EQ_INT(s->version, 14);
  ASSERT_EQ_INT(json_object_size(s->files), 30);
  ASSERT_TRUE(s->protocol && s->metadata && s->schema);
  sr_delta_snapshot_free(s);
  /* as of version 10: exactly the adds DuckDB reads from the checkpoint file */
  s = sr_delta_snapshot_open(path, 10, &err);
  if (!s) SR_FAIL("%s", err->message);
  ASSERT_EQ_INT(s->checkpoint_version, 10);
  char sql[1024];
  snprintf(sql, sizeof sql, "SELECT \"add\".path AS p FROM read_parquet('%s/_delta_log/00000000000000000010.checkpoint.parquet') "
           "WHERE \"add\" IS NOT NULL", path);
  json_t *rows = duck(sql);
  ASSERT_EQ_INT(json_array_size(rows), 22);
  ASSERT_EQ_INT(json_object_size(s->files), 22);
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) ASSERT_TRUE(json_object_get(s->files, json_string_value(json_object_get(r, "p"))));
  json_decref(rows);
  sr_delta_snapshot_free(s);
  /* before the checkpoint: JSON commits only */
  s = sr_delta_snapshot_open(path, 4, &err);
  if (!s) SR_FAIL("%s", err->message);
  ASSERT_EQ_INT(s->checkpoint_version, -1);
  ASSERT_EQ_INT(json_object_size(s->files), 10);
  sr_delta_snapshot_free(s);
  /* a version the table never had */
  ASSERT_TRUE(sr_delta_snapshot_open(path, 99, &err) == NULL);
  ASSERT_TRUE(strstr(err->message, "no version 99") != NULL);
  sr_error_free(err);
  /* no table: version -1, not an error */
  err = NULL;
  s = sr_delta_snapshot_open(tmp_path("nothing-here"), -1, &err);
  ASSERT_TRUE(s != NULL);
  ASSERT_EQ_INT(s->version, -1);
  sr_delta_snapshot_free(s);
  ASSERT_EQ_INT(sr_delta_latest_version(tmp_path("nothing-here")), -1);
}

/* Copies a table's log (JSON commits) into dir/_delta_log and links its data files. */
static void copy_table(const char *from, const char *to) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s/_delta_log' && cp '%s'/_delta_log/*.json '%s/_delta_log/' && "
           "cp -r '%s'/part* '%s/'", to, from, to, from, to);
  ASSERT_EQ_INT(system(cmd), 0);
}

SR_TEST(our_checkpoint_reads_back_and_duckdb_reads_it) {
  const char *table = tmp_path("ckpt-copy");
  copy_table(golden("kernel-timestamp-TIMESTAMP_MICROS"), table);
  sr_error *err = NULL;
  sr_delta_snapshot *s = sr_delta_snapshot_open(table, -1, &err);
  if (!s) SR_FAIL("%s", err->message);
  ASSERT_EQ_INT(sr_delta_checkpoint_write(s, 1700000000000, &err), SR_OK);
  /* _last_checkpoint points at it */
  char file[1024];
  snprintf(file, sizeof file, "%s/_delta_log/_last_checkpoint", table);
  json_t *lc = json_load_file(file, 0, NULL);
  ASSERT_EQ_INT(json_integer_value(json_object_get(lc, "version")), 0);
  ASSERT_EQ_INT(json_integer_value(json_object_get(lc, "numOfAddFiles")), 5);
  ASSERT_EQ_INT(json_integer_value(json_object_get(lc, "size")), 7); /* protocol, metaData, 5 adds */
  json_decref(lc);
  /* the JSON commit gone, the table reads the same from the checkpoint alone */
  snprintf(file, sizeof file, "%s/_delta_log/00000000000000000000.json", table);
  ASSERT_EQ_INT(unlink(file), 0);
  sr_delta_snapshot *c = sr_delta_snapshot_open(table, -1, &err);
  if (!c) SR_FAIL("%s", err->message);
  ASSERT_EQ_INT(c->checkpoint_version, 0);
  ASSERT_TRUE(json_equal(c->files, s->files));
  ASSERT_TRUE(json_equal(c->metadata, s->metadata));
  ASSERT_TRUE(json_equal(c->protocol, s->protocol));
  ASSERT_EQ_INT(sr_delta_latest_version(table), 0);
  sr_delta_snapshot_free(c);
  sr_delta_snapshot_free(s);
  /* DuckDB reads the checkpoint: the adds with their partition values (one null) and stats */
  char sql[1024];
  snprintf(sql, sizeof sql, "SELECT \"add\".path AS p, \"add\".partitionValues AS pv, \"add\".stats AS st, "
           "\"metaData\".partitionColumns AS pc, \"protocol\".minWriterVersion AS w "
           "FROM read_parquet('%s/_delta_log/00000000000000000000.checkpoint.parquet')", table);
  json_t *rows = duck(sql);
  ASSERT_EQ_INT(json_array_size(rows), 7);
  int adds = 0, nulls = 0, stats = 0, meta = 0, proto = 0;
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    if (json_is_string(json_object_get(r, "p"))) {
      adds++;
      json_t *pv = json_array_get(json_object_get(r, "pv"), 0);
      ASSERT_EQ_STR(json_string_value(json_object_get(pv, "key")), "part");
      nulls += json_is_null(json_object_get(pv, "value"));
      stats += json_is_string(json_object_get(r, "st"));
    }
    if (json_is_array(json_object_get(r, "pc"))) meta++;
    if (json_is_integer(json_object_get(r, "w"))) {
      proto++;
      ASSERT_EQ_INT(json_integer_value(json_object_get(r, "w")), 2);
    }
  }
  ASSERT_EQ_INT(adds, 5);
  ASSERT_EQ_INT(nulls, 1);
  ASSERT_EQ_INT(stats, 5);
  ASSERT_EQ_INT(meta, 1);
  ASSERT_EQ_INT(proto, 1);
  json_decref(rows);
  ASSERT_EQ_INT(compare_table_with_duckdb(golden("kernel-timestamp-TIMESTAMP_MICROS")), 5);
}

SR_TEST(commits_are_put_if_absent) {
  const char *table = tmp_path("pia");
  json_t *a = json_pack("[{s:{s:i,s:i}}]", "protocol", "minReaderVersion", 1, "minWriterVersion", 2);
  json_t *b = json_pack("[{s:{s:i,s:i}}]", "protocol", "minReaderVersion", 1, "minWriterVersion", 7);
  int lost = -1;
  sr_error *err = NULL;
  ASSERT_EQ_INT(sr_delta_commit(table, 0, a, &lost, &err), SR_OK);
  ASSERT_EQ_INT(lost, 0);
  ASSERT_EQ_INT(sr_delta_commit(table, 0, b, &lost, &err), SR_OK);
  ASSERT_EQ_INT(lost, 1); /* taken: never replaced */
  json_t *got = commit_actions(table, 0);
  ASSERT_TRUE(json_equal(got, a));
  json_decref(got);
  json_decref(a);
  json_decref(b);
  /* a commit with a line that is not JSON is refused with its line number */
  char file[1024];
  sr_delta_log_file(table, 1, ".json", file, sizeof file);
  FILE *f = fopen(file, "w");
  fputs("{\"txn\":{\"appId\":\"x\",\"version\":1}}\n{oops\n", f);
  fclose(f);
  json_t *actions = NULL;
  ASSERT_EQ_INT(sr_delta_read_commit(table, 1, &actions, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "line 2") != NULL);
  sr_error_free(err);
  err = NULL;
  ASSERT_EQ_INT(sr_delta_read_commit(table, 7, &actions, &err), SR_OK); /* absent: no error */
  ASSERT_TRUE(actions == NULL);
}

static sr_delta_snapshot *snapshot_with(const char *protocol, const char *config) {
  const char *table = tmp_path("proto");
  sr_fs_remove_tree(table, NULL);
  char text[2048];
  snprintf(text, sizeof text, "[{\"protocol\":%s},{\"metaData\":{\"id\":\"x\",\"format\":{\"provider\":\"parquet\","
           "\"options\":{}},\"schemaString\":\"{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":[]}\","
           "\"partitionColumns\":[],\"configuration\":%s}}]", protocol, config);
  json_t *actions = json_loads(text, 0, NULL);
  ASSERT_TRUE(actions != NULL);
  int lost;
  sr_error *err = NULL;
  ASSERT_EQ_INT(sr_delta_commit(table, 0, actions, &lost, &err), SR_OK);
  json_decref(actions);
  sr_delta_snapshot *s = sr_delta_snapshot_open(table, -1, &err);
  if (!s) SR_FAIL("%s", err->message);
  return s;
}

/* Sets the modification time of every log file of versions from..to to t (seconds). */
static void age_log(const char *table, int64_t from, int64_t to, time_t t) {
  for (int64_t v = from; v <= to; v++) {
    const char *suffixes[] = {".json", ".checkpoint.parquet"};
    for (int k = 0; k < 2; k++) {
      char file[1024];
      sr_delta_log_file(table, v, suffixes[k], file, sizeof file);
      struct utimbuf u = {t, t};
      utime(file, &u); /* a version without a checkpoint has no such file */
    }
  }
}

static int log_has(const char *table, int64_t v, const char *suffix) {
  char file[1024];
  sr_delta_log_file(table, v, suffix, file, sizeof file);
  return sr_fs_exists(file);
}

/* Delta's log cleanup: commits and checkpoints older than logRetentionDuration are removed
** below the newest checkpoint that old, and the table reads the same; not with
** enableExpiredLogCleanup = false. */
SR_TEST(expired_log_files_are_removed_below_an_expired_checkpoint) {
  const char *config[] = {"{}", "{\"delta.enableExpiredLogCleanup\":\"false\"}"};
  for (int off = 0; off < 2; off++) {
    sr_delta_snapshot *s0 = snapshot_with("{\"minReaderVersion\":1,\"minWriterVersion\":2}", config[off]);
    const char *table = s0->table;
    sr_error *err = NULL;
    int lost;
    for (int v = 1; v <= 24; v++) {
      json_t *add = json_pack("[{s:{s:o,s:{},s:i,s:i,s:b}}]", "add", "path", json_sprintf("part-%02d.parquet", v),
                              "partitionValues", "size", v, "modificationTime", v, "dataChange", 1);
      ASSERT_EQ_INT(sr_delta_commit(table, v, add, &lost, &err), SR_OK);
      json_decref(add);
      if (v % 10 == 0) {
        sr_delta_snapshot *s = sr_delta_snapshot_open(table, v, &err);
        if (!s) SR_FAIL("%s", err->message);
        ASSERT_EQ_INT(sr_delta_checkpoint_write(s, 1700000000000, &err), SR_OK);
        sr_delta_snapshot_free(s);
      }
    }
    sr_delta_snapshot *before = sr_delta_snapshot_open(table, -1, &err);
    if (!before) SR_FAIL("%s", err->message);
    time_t now = time(NULL), old = now - 40 * 86400;
    age_log(table, 0, 15, old); /* checkpoint 10 expired, 20 not */
    int removed = sr_delta_log_cleanup(before, (int64_t)now * 1000);
    if (off) {
      ASSERT_EQ_INT(removed, 0);
      ASSERT_TRUE(log_has(table, 0, ".json"));
    } else {
      ASSERT_EQ_INT(removed, 10); /* 0..9.json */
      ASSERT_TRUE(!log_has(table, 9, ".json") && log_has(table, 10, ".json"));
      ASSERT_TRUE(log_has(table, 10, ".checkpoint.parquet"));
      age_log(table, 0, 24, old); /* now 20 has expired too: 10..19 and checkpoint 10 go */
      ASSERT_EQ_INT(sr_delta_log_cleanup(before, (int64_t)now * 1000), 11);
      ASSERT_TRUE(!log_has(table, 10, ".checkpoint.parquet") && !log_has(table, 19, ".json"));
      ASSERT_TRUE(log_has(table, 20, ".checkpoint.parquet") && log_has(table, 20, ".json"));
    }
    sr_delta_snapshot *after = sr_delta_snapshot_open(table, -1, &err);
    if (!after) SR_FAIL("%s", err->message);
    ASSERT_EQ_INT(after->version, 24);
    ASSERT_TRUE(json_equal(after->files, before->files));
    ASSERT_EQ_INT(json_object_size(after->files), 24);
    sr_delta_snapshot_free(after);
    sr_delta_snapshot_free(before);
    sr_delta_snapshot_free(s0);
  }
}

SR_TEST(protocol_features_we_cannot_honour_are_refused) {
  sr_error *err = NULL;
  sr_delta_snapshot *s = snapshot_with("{\"minReaderVersion\":1,\"minWriterVersion\":2}", "{}");
  ASSERT_EQ_INT(sr_delta_check_writable(s, &err), SR_OK);
  sr_delta_snapshot_free(s);
  s = snapshot_with("{\"minReaderVersion\":1,\"minWriterVersion\":4}", "{}");
  ASSERT_EQ_INT(sr_delta_check_readable(s, &err), SR_OK);
  ASSERT_EQ_INT(sr_delta_check_writable(s, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "writer version 4") != NULL);
  sr_delta_snapshot_free(s);
  s = snapshot_with("{\"minReaderVersion\":3,\"minWriterVersion\":7,\"readerFeatures\":[\"v2Checkpoint\"],"
                    "\"writerFeatures\":[]}", "{}");
  ASSERT_EQ_INT(sr_delta_check_readable(s, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "v2Checkpoint") != NULL);
  sr_delta_snapshot_free(s);
  s = snapshot_with("{\"minReaderVersion\":2,\"minWriterVersion\":5}", "{\"delta.columnMapping.mode\":\"name\"}");
  ASSERT_EQ_INT(sr_delta_check_readable(s, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "column mapping") != NULL);
  sr_delta_snapshot_free(s);
  sr_error_free(err);
}

SR_TEST(snapshot_into_lua_and_the_static_format) {
  lua_State *L = new_lua();
  lua_newtable(L);
  int n = 0;
  int64_t version = -1;
  sr_error *err = NULL;
  if (sr_delta_read_snapshot(golden("data-reader-primitives"), L, -1, &n, &version, &err) != SR_OK)
    SR_FAIL("%s", err->message);
  ASSERT_EQ_INT(n, 11);
  ASSERT_EQ_INT(version, 0);
  /* the first row is all null: an empty table; the others have every column */
  int empty = 0, full = 0;
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    lua_getfield(L, -1, "as_string");
    lua_getfield(L, -2, "as_long");
    lua_getfield(L, -3, "as_boolean");
    if (lua_isnil(L, -1) && lua_isnil(L, -2) && lua_isnil(L, -3)) empty++;
    if (lua_isstring(L, -3) && lua_isnumber(L, -2) && lua_isboolean(L, -1)) full++;
    lua_pop(L, 4);
  }
  ASSERT_EQ_INT(empty, 1);
  ASSERT_EQ_INT(full, 10);
  lua_settop(L, 0);
  /* the static format: its fingerprint is the version, and changes with a new commit */
  const char *table = tmp_path("static");
  copy_table(golden("snapshot-data1"), table);
  char file[1024];
  sr_delta_log_file(table, 1, ".json", file, sizeof file);
  ASSERT_EQ_INT(rename(file, tmp_path("held-commit")), 0);
  sr_options *o = sr_options_new();
  sr_buf f1 = SR_BUF_INIT, f2 = SR_BUF_INIT;
  ASSERT_EQ_INT(sr_delta_static_format.fingerprint(table, o, &f1, &err), SR_OK);
  lua_newtable(L);
  n = 0;
  ASSERT_EQ_INT(sr_delta_static_format.load(L, table, o, NULL, 1, &n, NULL, NULL, &err), SR_OK);
  ASSERT_EQ_INT(n, 10);
  ASSERT_EQ_INT(rename(tmp_path("held-commit"), file), 0);
  ASSERT_EQ_INT(sr_delta_static_format.fingerprint(table, o, &f2, &err), SR_OK);
  ASSERT_TRUE(strcmp(sr_buf_cstr(&f1), sr_buf_cstr(&f2)) != 0);
  lua_settop(L, 0);
  lua_newtable(L);
  n = 0;
  ASSERT_EQ_INT(sr_delta_static_format.load(L, table, o, NULL, 1, &n, NULL, NULL, &err), SR_OK);
  ASSERT_EQ_INT(n, 20);
  /* versionAsOf reads the old version */
  sr_options_set(o, "versionAsOf", "0");
  lua_settop(L, 0);
  lua_newtable(L);
  n = 0;
  ASSERT_EQ_INT(sr_delta_static_format.load(L, table, o, NULL, 1, &n, NULL, NULL, &err), SR_OK);
  ASSERT_EQ_INT(n, 10);
  sr_options_free(o);
  o = sr_options_new();
  ASSERT_EQ_INT(sr_delta_static_format.fingerprint(tmp_path("none"), o, &f1, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "not a Delta table") != NULL);
  sr_options_free(o);
  sr_buf_free(&f1);
  sr_buf_free(&f2);
  sr_error_free(err);
  lua_close(L);
}

int main(void) {
  make_tmp_root("delta-log");
  return SR_RUN(schema_string_parses_and_writes_back, partition_values_and_paths,
                golden_tables_read_as_duckdb_reads_them, partition_columns_and_null_partition,
                replay_from_a_checkpoint, our_checkpoint_reads_back_and_duckdb_reads_it,
                expired_log_files_are_removed_below_an_expired_checkpoint,
                commits_are_put_if_absent, protocol_features_we_cannot_honour_are_refused,
                snapshot_into_lua_and_the_static_format);
}
