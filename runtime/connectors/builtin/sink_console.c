/*
** The console sink: each batch as a table on stdout, as Spark's console sink prints it.
** Rows are encoded as JSON first (so typed columns print as the file sinks write them) and
** laid out in columns in the order they first appear.
*/
#include <inttypes.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "connector.h"
#include "json_rows.h"

typedef struct console_sink {
  int64_t num_rows;
  int truncate;
  sr_buf buf;
} console_sink;

static const sr_option_spec console_options[] = {
  {"numRows", SR_OPT_INT, "20", "how many rows to print per batch"},
  {"truncate", SR_OPT_BOOL, "true", "cut cells longer than 20 characters"},
  {NULL},
};

static sr_status console_open(sr_sink *sink, const sr_connector_config *cfg, sr_error **err) {
  console_sink *cs = calloc(1, sizeof *cs);
  if (!cs) return sr_error_set(err, SR_ERROR, "out of memory");
  sink->impl = cs;
  cs->num_rows = sr_opt_int(cfg->options, console_options, "numRows", 20);
  cs->truncate = sr_opt_bool(cfg->options, console_options, "truncate", 1);
  return SR_OK;
}

/* A cell's text: strings as they are, everything else as JSON. malloc'd. */
static char *cell_text(json_t *v, int truncate) {
  char *s = json_is_string(v) ? strdup(json_string_value(v))
          : v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("null");
  if (s && truncate && strlen(s) > 20) strcpy(s + 17, "...");
  return s;
}

static void print_rule(const size_t *w, size_t ncols) {
  for (size_t c = 0; c < ncols; c++) {
    putchar('+');
    for (size_t i = 0; i < w[c] + 2; i++) putchar('-');
  }
  puts("+");
}

static void print_cells(char **cells, const size_t *w, size_t ncols) {
  for (size_t c = 0; c < ncols; c++) printf("| %*s ", (int)w[c], cells[c] ? cells[c] : "null");
  puts("|");
}

static sr_status console_write(sr_sink *sink, int64_t batch_id, lua_State *L, int rows_idx, int nrows,
                               int spec_idx, sr_error **err) {
  console_sink *cs = sink->impl;
  int shown = nrows < cs->num_rows ? nrows : (int)cs->num_rows;
  sr_buf_clear(&cs->buf);
  char errbuf[512];
  if (shown > 0 && sr_json_encode_rows(L, rows_idx, shown, sink->cfg.schema, &cs->buf, errbuf, sizeof errbuf) != 0)
    return sr_error_set(err, SR_ERROR, "cannot print the output: %s", errbuf);
  /* columns in order of first appearance */
  json_t *rows = json_array(), *cols = json_array();
  for (char *line = cs->buf.data; shown > 0 && line && *line;) {
    char *nl = strchr(line, '\n');
    json_t *o = json_loadb(line, nl ? (size_t)(nl - line) : strlen(line), 0, NULL);
    if (o) {
      const char *k;
      json_t *v;
      json_object_foreach(o, k, v) {
        size_t i;
        json_t *c;
        int have = 0;
        json_array_foreach(cols, i, c) have |= strcmp(json_string_value(c), k) == 0;
        if (!have) json_array_append_new(cols, json_string(k));
      }
      json_array_append_new(rows, o);
    }
    line = nl ? nl + 1 : NULL;
  }
  size_t ncols = json_array_size(cols), nr = json_array_size(rows);
  size_t *w = calloc(ncols + 1, sizeof *w);
  char **cells = calloc((nr + 1) * (ncols + 1), sizeof *cells);
  for (size_t c = 0; w && cells && c < ncols; c++) {
    cells[c] = strdup(json_string_value(json_array_get(cols, c)));
    w[c] = strlen(cells[c]);
    for (size_t r = 0; r < nr; r++) {
      char *t = cell_text(json_object_get(json_array_get(rows, r), cells[c]), cs->truncate);
      cells[(r + 1) * ncols + c] = t;
      if (t && strlen(t) > w[c]) w[c] = strlen(t);
    }
  }
  printf("-------------------------------------------\nBatch: %" PRId64
         "\n-------------------------------------------\n", batch_id);
  if (w && cells && ncols > 0) {
    print_rule(w, ncols);
    print_cells(cells, w, ncols);
    print_rule(w, ncols);
    for (size_t r = 0; r < nr; r++) print_cells(cells + (r + 1) * ncols, w, ncols);
    print_rule(w, ncols);
  } else {
    puts("++\n||\n++");
  }
  if (nrows > shown) printf("only showing top %d rows\n", shown);
  putchar('\n');
  fflush(stdout);
  for (size_t i = 0; cells && i < (nr + 1) * ncols; i++) free(cells[i]);
  free(cells);
  free(w);
  json_decref(rows);
  json_decref(cols);
  return SR_OK;
}

static sr_status console_commit(sr_sink *sink, int64_t batch_id, sr_error **err) { return SR_OK; }

static void console_close(sr_sink *sink) {
  console_sink *cs = sink->impl;
  if (!cs) return;
  sr_buf_free(&cs->buf);
  free(cs);
  sink->impl = NULL;
}

const sr_sink_ops sr_sink_console = {
  .name = "console", .options = console_options, .open = console_open, .write = console_write,
  .commit = console_commit, .close = console_close,
  .temp_checkpoint_ok = 1,
};
