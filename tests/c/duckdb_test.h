/*
** DuckDB, the independent reader of the files streamrun writes (Parquet, Delta): runs SQL in
** `node tests/node/duckdb_query.mjs` and returns the rows as JSON. The including test defines
** source_dir() (the repository) before including this. A missing DuckDB fails the test with
** the command that installs it: it is never skipped.
*/
#ifndef SR_DUCKDB_TEST_H
#define SR_DUCKDB_TEST_H
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "sr_test.h"

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

#endif
