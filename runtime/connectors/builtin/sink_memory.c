/*
** The memory sink: the query's result as an in-process table named by queryName, read with
** sr.memory_table(name). Rows are kept in C as JSON lines (so they survive a reload of the
** job's lua_State) and decoded again on each read. append/update add a batch's rows; complete
** replaces them. Not durable: a restart starts empty.
*/
#include <inttypes.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "connector.h"
#include "json_rows.h"
#include "lua_host.h"

typedef struct memory_table {
  char *name;
  sr_buf lines;
  int64_t last_batch;       /* replays of a batch already stored are skipped */
  struct memory_table *next;
} memory_table;

static memory_table *tables;

static memory_table *table_find(const char *name) {
  for (memory_table *t = tables; t; t = t->next)
    if (strcmp(t->name, name) == 0) return t;
  return NULL;
}

static const sr_option_spec memory_options[] = {{NULL}};

typedef struct memory_sink {
  memory_table *table;
  int complete;
  sr_buf pending;
  int64_t pending_batch;
} memory_sink;

static sr_status memory_open(sr_sink *sink, const sr_connector_config *cfg, sr_error **err) {
  memory_sink *ms = calloc(1, sizeof *ms);
  if (!ms) return sr_error_set(err, SR_ERROR, "out of memory");
  sink->impl = ms;
  ms->complete = cfg->output_mode && strcmp(cfg->output_mode, "complete") == 0;
  ms->pending_batch = -1;
  memory_table *t = table_find(cfg->query_name);
  if (!t) {
    t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(cfg->query_name))) {
      free(t);
      return sr_error_set(err, SR_ERROR, "out of memory");
    }
    t->last_batch = -1;
    t->next = tables;
    tables = t;
  }
  ms->table = t;
  return SR_OK;
}

static sr_status memory_write(sr_sink *sink, int64_t batch_id, lua_State *L, int rows_idx, int nrows,
                              int spec_idx, sr_error **err) {
  memory_sink *ms = sink->impl;
  sr_buf_clear(&ms->pending);
  ms->pending_batch = batch_id;
  char errbuf[512];
  /* no schema: values stay as the job saw them (timestamps as ms), longs exact */
  if (sr_json_encode_rows(L, rows_idx, nrows, NULL, &ms->pending, errbuf, sizeof errbuf) != 0)
    return sr_error_set(err, SR_ERROR, "cannot store the output: %s", errbuf);
  return SR_OK;
}

static sr_status memory_commit(sr_sink *sink, int64_t batch_id, sr_error **err) {
  memory_sink *ms = sink->impl;
  memory_table *t = ms->table;
  if (ms->pending_batch != batch_id || batch_id <= t->last_batch) return SR_OK;
  if (ms->complete) sr_buf_clear(&t->lines);
  if (ms->pending.len && sr_buf_append(&t->lines, ms->pending.data, ms->pending.len) != 0)
    return sr_error_set(err, SR_ERROR, "out of memory");
  t->last_batch = batch_id;
  return SR_OK;
}

static void memory_close(sr_sink *sink) {
  memory_sink *ms = sink->impl;
  if (!ms) return;
  sr_buf_free(&ms->pending);
  free(ms);
  sink->impl = NULL;
}

const sr_sink_ops sr_sink_memory = {
  .name = "memory", .options = memory_options, .open = memory_open, .write = memory_write,
  .commit = memory_commit, .close = memory_close,
  .temp_checkpoint_ok = 1,
};

/* sr.memory_table(name) -> rows (a new list each call), or an error naming the tables. */
static int l_memory_table(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  memory_table *t = table_find(name);
  if (!t) return luaL_error(L, "no memory table named '%s' (a memory sink's queryName)", name);
  lua_newtable(L);
  int n = 0;
  if (t->lines.len)
    sr_json_decode_lines(L, lua_gettop(L), &n, t->lines.data, t->lines.len, NULL, name, 1, NULL, NULL);
  return 1;
}

int sr_open_memory_lib(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, l_memory_table);
  lua_setfield(L, -2, "memory_table");
  return 1;
}
