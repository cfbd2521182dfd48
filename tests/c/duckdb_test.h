/*
** DuckDB, the independent reader of the files streamrun writes (Parquet, Delta): runs SQL in
** `node tests/node/duckdb_query.mjs` and returns the rows as JSON. The including test defines
** source_dir() (the repository) before including this. A missing DuckDB fails the test with
** the command that installs it: it is never skipped.
*/
#ifndef SR_DUCKDB_TEST_H
#define SR_DUCKDB_TEST_H
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "schema.h"
#include "sr_test.h"
#include "timeutil.h"
#include "value.h"

/* Runs n queries in one DuckDB process (tests/node/duckdb_query.mjs) and returns a JSON array
** holding each query's rows as an array. A query may hold several statements: the last one's
** rows come back. */
static inline json_t *duck_many(const char *const *sqls, int n) {
  char probe[512];
  snprintf(probe, sizeof probe, "%s/tests/node/node_modules/@duckdb/node-api/package.json", source_dir());
  if (access(probe, R_OK) != 0)
    SR_FAIL("DuckDB for the tests is not installed (%s is missing): run `npm ci --prefix tests/node`", probe);
  sr_buf cmd = SR_BUF_INIT;
  sr_buf_printf(&cmd, "node '%s/tests/node/duckdb_query.mjs'", source_dir());
  for (int q = 0; q < n; q++) {
    sr_buf_puts(&cmd, " '");
    for (const char *p = sqls[q]; *p; p++) {
      if (*p == '\'') sr_buf_puts(&cmd, "'\\''");
      else sr_buf_putc(&cmd, *p);
    }
    sr_buf_putc(&cmd, '\'');
  }
  FILE *p = popen(sr_buf_cstr(&cmd), "r");
  if (!p) SR_FAIL("cannot run node: %s", strerror(errno));
  json_t *results = json_array(), *rows = json_array();
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, p)) > 0) {
    if (n > 1 && strcmp(line, "#end\n") == 0) {
      json_array_append_new(results, rows);
      rows = json_array();
      continue;
    }
    json_error_t jerr;
    json_t *row = json_loadb(line, (size_t)len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!row) SR_FAIL("DuckDB printed a line that is not JSON (%s): %.200s", jerr.text, line);
    json_array_append_new(rows, row);
  }
  free(line);
  if (n == 1) json_array_append(results, rows);
  json_decref(rows);
  int status = pclose(p);
  if (status != 0) SR_FAIL("DuckDB query failed (status %d): %.2000s", status, sr_buf_cstr(&cmd));
  if (json_array_size(results) != (size_t)n) SR_FAIL("DuckDB answered %zu of %d queries", json_array_size(results), n);
  sr_buf_free(&cmd);
  return results;
}

/* One query's rows (the caller owns them). */
static inline json_t *duck(const char *sql) {
  json_t *results = duck_many(&sql, 1);
  json_t *rows = json_incref(json_array_get(results, 0));
  json_decref(results);
  return rows;
}

/* ---- comparing our values with DuckDB's ---- */

static inline void duck_dump_value(const sr_value *v, sr_buf *out) {
  switch (v->kind) {
  case SR_VAL_NULL: sr_buf_puts(out, "null"); break;
  case SR_VAL_BOOL: sr_buf_puts(out, v->u.b ? "true" : "false"); break;
  case SR_VAL_INT: sr_buf_printf(out, "%" PRId64, v->u.i); break;
  case SR_VAL_DOUBLE: sr_buf_printf(out, "%.17g", v->u.d); break;
  case SR_VAL_STRING: sr_buf_printf(out, "\"%.*s\"", (int)v->u.str.len, v->u.str.ptr); break;
  case SR_VAL_BINARY:
    sr_buf_puts(out, "0x");
    for (size_t i = 0; i < v->u.str.len; i++) sr_buf_printf(out, "%02x", (uint8_t)v->u.str.ptr[i]);
    break;
  case SR_VAL_STRUCT: case SR_VAL_LIST:
    sr_buf_putc(out, v->kind == SR_VAL_STRUCT ? '{' : '[');
    for (int i = 0; i < v->u.list.n; i++) {
      if (i) sr_buf_puts(out, ", ");
      duck_dump_value(&v->u.list.items[i], out);
    }
    sr_buf_putc(out, v->kind == SR_VAL_STRUCT ? '}' : ']');
    break;
  }
}

/* "YYYY-MM-DD" days, or "YYYY-MM-DD[T ]HH:MM:SS.fff[fff[fff]]Z" floored to microseconds. Parsed
** here rather than by timeutil.h, so the reader under test does not check itself. */
static inline int64_t duck_parse_iso(const char *s, int with_time) {
  int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
  if (sscanf(s, "%d-%d-%d%n", &y, &mo, &d, &used) != 3) SR_FAIL("not a date: %s", s);
  int64_t days = sr_days_from_civil(y, mo, d);
  if (!with_time) return days;
  if ((s[used] != 'T' && s[used] != ' ') || sscanf(s + used + 1, "%d:%d:%d", &h, &mi, &sec) != 3) SR_FAIL("not a timestamp: %s", s);
  const char *frac = strchr(s, '.');
  int64_t nanos = 0;
  int digits = 1;  /* stays 1 past the last digit, so shorter fractions pad with zeros */
  for (int k = 0; k < 9; k++) {
    digits = digits && frac && frac[1 + k] >= '0' && frac[1 + k] <= '9';
    nanos = nanos * 10 + (digits ? frac[1 + k] - '0' : 0);
  }
  return days * 86400000000LL + ((int64_t)h * 3600 + mi * 60 + sec) * 1000000 + nanos / 1000;  /* us */
}

/* Checks our value (of field f) against DuckDB's JSON for the same cell; path names it in
** failures. lenient (the Delta tests: values come back through partition directories and
** inferred schemas) also accepts an absent cell as null, a whole number for a double, FLOAT at
** float precision, binary of any value kind and structs with extra fields; strict (Parquet)
** accepts exactly the written kinds. */
static inline void duck_check_value(const sr_field *f, const sr_value *v, json_t *j, const char *path,
                                    int lenient) {
  char *text = json_dumps(j, JSON_ENCODE_ANY);
  sr_buf ours = SR_BUF_INIT;
  duck_dump_value(v, &ours);
  int ok = 0;
  if (!j && !lenient) SR_FAIL("%s: DuckDB has no such cell", path);
  if (v->kind == SR_VAL_NULL || !j || json_is_null(j)) {
    ok = v->kind == SR_VAL_NULL && (!j || json_is_null(j));
  } else {
    switch (f->type) {
    case SR_TYPE_LONG: case SR_TYPE_INT: case SR_TYPE_SHORT: case SR_TYPE_BYTE:
      ok = v->kind == SR_VAL_INT && json_is_integer(j) && json_integer_value(j) == v->u.i;
      break;
    case SR_TYPE_DATE: case SR_TYPE_TIMESTAMP:
      ok = v->kind == SR_VAL_INT && json_is_string(j) &&
           duck_parse_iso(json_string_value(j), f->type == SR_TYPE_TIMESTAMP) == v->u.i;
      break;
    case SR_TYPE_DOUBLE: case SR_TYPE_FLOAT: case SR_TYPE_DECIMAL: {
      double want = NAN;
      if (json_is_number(j)) want = json_number_value(j);
      else if (json_is_string(j) && strcmp(json_string_value(j), "Infinity") == 0) want = INFINITY;
      else if (json_is_string(j) && strcmp(json_string_value(j), "-Infinity") == 0) want = -INFINITY;
      else if (!json_is_string(j) || strcmp(json_string_value(j), "NaN") != 0) break;
      double got = v->kind == SR_VAL_INT ? (double)v->u.i : v->u.d;
      if (lenient && f->type == SR_TYPE_FLOAT) got = (float)got, want = (float)want;
      ok = (v->kind == SR_VAL_DOUBLE || (lenient && v->kind == SR_VAL_INT)) &&
           (got == want || (isnan(want) && isnan(got)));
      break;
    }
    case SR_TYPE_BOOLEAN:
      ok = v->kind == SR_VAL_BOOL && json_is_boolean(j) && !json_is_true(j) == !v->u.b;
      break;
    case SR_TYPE_STRING:
      ok = v->kind == SR_VAL_STRING && json_is_string(j) && json_string_length(j) == v->u.str.len &&
           memcmp(json_string_value(j), v->u.str.ptr, v->u.str.len) == 0;
      break;
    case SR_TYPE_BINARY: {
      sr_buf hex = SR_BUF_INIT;
      for (size_t i = 0; i < v->u.str.len; i++) sr_buf_printf(&hex, "%02x", (uint8_t)v->u.str.ptr[i]);
      ok = (lenient || v->kind == SR_VAL_BINARY) && json_is_string(j) && strcmp(json_string_value(j), sr_buf_cstr(&hex)) == 0;
      sr_buf_free(&hex);
      break;
    }
    case SR_TYPE_STRUCT:
      if (v->kind != SR_VAL_STRUCT || !json_is_object(j)) break;
      if (!lenient && json_object_size(j) != (size_t)f->children->nfields) break;
      for (int i = 0; i < f->children->nfields; i++) {
        const sr_field *c = &f->children->fields[i];
        char sub[512];
        snprintf(sub, sizeof sub, "%s.%s", path, c->name);
        json_t *cj = json_object_get(j, c->name);
        if (!cj && !lenient) SR_FAIL("%s: DuckDB has no field %s in %s", path, c->name, text);
        duck_check_value(c, &v->u.list.items[i], cj, sub, lenient);
      }
      ok = 1;
      break;
    case SR_TYPE_ARRAY: case SR_TYPE_MAP:
      if (v->kind != SR_VAL_LIST || !json_is_array(j) || json_array_size(j) != (size_t)v->u.list.n) break;
      for (int i = 0; i < v->u.list.n; i++) {
        char sub[512];
        snprintf(sub, sizeof sub, "%s[%d]", path, i);
        json_t *cj = json_array_get(j, (size_t)i);
        if (f->type == SR_TYPE_ARRAY) {
          duck_check_value(f->element, &v->u.list.items[i], cj, sub, lenient);
        } else {
          const sr_value *entry = &v->u.list.items[i];
          ASSERT_EQ_INT(entry->u.list.n, 2);
          duck_check_value(&f->children->fields[0], &entry->u.list.items[0], json_object_get(cj, "key"), sub, lenient);
          duck_check_value(&f->children->fields[1], &entry->u.list.items[1], json_object_get(cj, "value"), sub, lenient);
        }
      }
      ok = 1;
      break;
    default:
      SR_FAIL("%s: no comparison for type %s", path, sr_type_name(f->type));
    }
  }
  if (!ok) SR_FAIL("%s: we read %s, DuckDB %s", path, sr_buf_cstr(&ours), text ? text : "?");
  free(text);
  sr_buf_free(&ours);
}

#endif
