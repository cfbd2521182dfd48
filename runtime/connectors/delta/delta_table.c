/* Reading a Delta table's rows: see delta_table.h. */
#include "delta_table.h"

#include <inttypes.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "delta_lua.h"
#include "delta_schema.h"
#include "lua_aux.h"
#include "parquet_read.h"

int sr_delta_file_path(const sr_delta_snapshot *s, const char *action_path, sr_buf *out) {
  const char *p = action_path;
  if (strncmp(p, "file:", 5) == 0) {
    p += 5;
    while (p[0] == '/' && p[1] == '/') p++; /* file:///x and file:/x both name /x */
    return sr_delta_uri_decode(p, out);
  }
  if (p[0] != '/' && (sr_buf_puts(out, s->table) != 0 || sr_buf_putc(out, '/') != 0)) return -1;
  return sr_delta_uri_decode(p, out);
}

static int is_partition(const sr_delta_snapshot *s, const char *name) {
  for (int i = 0; i < s->npartition; i++)
    if (strcmp(s->partition_columns[i], name) == 0) return 1;
  return 0;
}

static int int_family(sr_type t) {
  return t == SR_TYPE_LONG || t == SR_TYPE_INT || t == SR_TYPE_SHORT || t == SR_TYPE_BYTE;
}

/* 1 if values read by the file's field already have the table field's shape. */
static int same_shape(const sr_field *file, const sr_field *table) {
  if (file->type != table->type && !(int_family(file->type) && int_family(table->type))) return 0;
  switch (table->type) {
  case SR_TYPE_STRUCT: case SR_TYPE_MAP:
    if (!file->children || !table->children || file->children->nfields != table->children->nfields)
      return 0;
    for (int i = 0; i < table->children->nfields; i++)
      if (strcmp(file->children->fields[i].name, table->children->fields[i].name) != 0 ||
          !same_shape(&file->children->fields[i], &table->children->fields[i]))
        return 0;
    return 1;
  case SR_TYPE_ARRAY:
    return file->element && table->element && same_shape(file->element, table->element);
  default:
    return 1;
  }
}

static int find_field(const sr_schema *s, const char *name) {
  int i = sr_schema_find(s, name);
  for (int k = 0; i < 0 && k < s->nfields; k++)
    if (strcasecmp(s->fields[k].name, name) == 0) i = k; /* Spark matches names case-insensitively */
  return i;
}

/* Reshapes a value read with the file's field into the table field's shape: struct fields by
** name (missing ones null), widened numbers. Returns 0, or -1 out of memory. */
static int conform(sr_arena *a, const sr_field *file, const sr_field *table, const sr_value *v,
                   sr_value *out) {
  *out = *v;
  if (v->kind == SR_VAL_NULL) return 0;
  if (table->type == SR_TYPE_STRUCT && v->kind == SR_VAL_STRUCT && file->children) {
    int n = table->children->nfields;
    sr_value *items = sr_arena_alloc(a, sizeof *items * (size_t)(n ? n : 1));
    if (!items) return -1;
    for (int i = 0; i < n; i++) {
      int k = find_field(file->children, table->children->fields[i].name);
      memset(&items[i], 0, sizeof items[i]);
      if (k >= 0 && k < v->u.list.n &&
          conform(a, &file->children->fields[k], &table->children->fields[i], &v->u.list.items[k], &items[i]) != 0)
        return -1;
    }
    out->u.list.items = items;
    out->u.list.n = n;
    return 0;
  }
  if ((table->type == SR_TYPE_ARRAY || table->type == SR_TYPE_MAP) && v->kind == SR_VAL_LIST) {
    sr_value *items = sr_arena_alloc(a, sizeof *items * (size_t)(v->u.list.n ? v->u.list.n : 1));
    if (!items) return -1;
    for (int i = 0; i < v->u.list.n; i++) {
      const sr_value *e = &v->u.list.items[i];
      if (table->type == SR_TYPE_ARRAY) {
        if (!file->element || conform(a, file->element, table->element, e, &items[i]) != 0) return -1;
        continue;
      }
      sr_value *kv = sr_arena_alloc(a, sizeof *kv * 2);
      if (!kv || !file->children || e->kind != SR_VAL_STRUCT || e->u.list.n != 2 ||
          conform(a, &file->children->fields[0], &table->children->fields[0], &e->u.list.items[0], &kv[0]) != 0 ||
          conform(a, &file->children->fields[1], &table->children->fields[1], &e->u.list.items[1], &kv[1]) != 0)
        return -1;
      items[i].kind = SR_VAL_STRUCT;
      items[i].u.list.items = kv;
      items[i].u.list.n = 2;
    }
    out->u.list.items = items;
    return 0;
  }
  if ((table->type == SR_TYPE_DOUBLE || table->type == SR_TYPE_FLOAT || table->type == SR_TYPE_DECIMAL) &&
      v->kind == SR_VAL_INT) {
    out->kind = SR_VAL_DOUBLE;
    out->u.d = (double)v->u.i;
  }
  return 0;
}

sr_status sr_delta_read_file(const sr_delta_snapshot *s, json_t *add, const int *cols, int ncols,
                             sr_arena *a, sr_value **rows, int64_t *nrows, sr_error **err) {
  const sr_schema *ts = s->schema;
  *rows = NULL;
  *nrows = 0;
  if (!ts) return sr_error_set(err, SR_ERROR, "%s: the table has no schema", s->table);
  if (!cols) ncols = ts->nfields;
  const char *apath = json_string_value(json_object_get(add, "path"));
  sr_buf path = SR_BUF_INIT;
  if (!apath || sr_delta_file_path(s, apath, &path) != 0 || !sr_buf_cstr(&path)) {
    sr_buf_free(&path);
    return sr_error_set(err, SR_ERROR, "%s: a file path that is not a valid URI: %s", s->table,
                        apath ? apath : "(none)");
  }
  json_t *dv = json_object_get(add, "deletionVector");
  if (dv && !json_is_null(dv)) {
    sr_status st = sr_error_set(err, SR_ERROR, "%s has a deletion vector, which streamrun cannot "
                                "apply", path.data);
    sr_buf_free(&path);
    return st;
  }
  sr_pq_reader *r = sr_pq_reader_open(path.data, err);
  sr_status st = r ? SR_OK : SR_ERROR;
  const sr_schema *fs = r ? sr_pq_reader_schema(r) : NULL;
  /* where each wanted column comes from: a partition value, a file column, or nothing */
  sr_value *pvals = NULL;
  int *file_pos = NULL, *fields = NULL, *conformed = NULL, nfields = 0;
  if (st == SR_OK) {
    pvals = sr_arena_alloc(a, sizeof *pvals * (size_t)(ncols ? ncols : 1));
    file_pos = calloc((size_t)(ncols ? ncols : 1), sizeof *file_pos);
    fields = calloc((size_t)(ncols ? ncols : 1), sizeof *fields);
    conformed = calloc((size_t)(ncols ? ncols : 1), sizeof *conformed);
    if (!pvals || !file_pos || !fields || !conformed) st = sr_error_set(err, SR_ERROR, "out of memory");
  }
  json_t *pv = json_object_get(add, "partitionValues");
  for (int c = 0; st == SR_OK && c < ncols; c++) {
    int ti = cols ? cols[c] : c;
    const sr_field *f = &ts->fields[ti];
    memset(&pvals[c], 0, sizeof pvals[c]);
    file_pos[c] = -1;
    if (is_partition(s, f->name)) {
      char why[256];
      if (sr_delta_partition_parse(f, json_string_value(json_object_get(pv, f->name)), a, &pvals[c],
                                   why, sizeof why) != 0)
        st = sr_error_set(err, SR_ERROR, "%s: %s", path.data, why);
      continue;
    }
    int fi = find_field(fs, f->name);
    if (fi < 0) continue; /* written before the column existed: null */
    file_pos[c] = nfields;
    fields[nfields++] = fi;
    conformed[c] = !same_shape(&fs->fields[fi], f);
  }
  sr_value *frows = NULL;
  int64_t n = 0;
  if (st == SR_OK) st = sr_pq_reader_read_columns(r, fields, nfields, a, &frows, &n, err);
  sr_value *out = NULL;
  if (st == SR_OK && !(out = sr_arena_alloc(a, sizeof *out * (size_t)(n ? n : 1))))
    st = sr_error_set(err, SR_ERROR, "out of memory");
  for (int64_t i = 0; st == SR_OK && i < n; i++) {
    sr_value *items = sr_arena_alloc(a, sizeof *items * (size_t)(ncols ? ncols : 1));
    if (!items) {
      st = sr_error_set(err, SR_ERROR, "out of memory");
      break;
    }
    for (int c = 0; c < ncols; c++) {
      int pos = file_pos[c];
      if (pos < 0) {
        items[c] = pvals[c];
      } else if (!conformed[c]) {
        items[c] = frows[i].u.list.items[pos];
      } else if (conform(a, &fs->fields[fields[pos]], &ts->fields[cols ? cols[c] : c],
                         &frows[i].u.list.items[pos], &items[c]) != 0) {
        st = sr_error_set(err, SR_ERROR, "out of memory");
        break;
      }
    }
    out[i].kind = SR_VAL_STRUCT;
    out[i].u.list.items = items;
    out[i].u.list.n = ncols;
  }
  if (st == SR_OK) {
    *rows = out;
    *nrows = n;
  } else if (err && *err && r) {
    sr_error_prefix(*err, "%s", path.data);
  }
  free(file_pos);
  free(fields);
  free(conformed);
  sr_pq_reader_free(r);
  sr_buf_free(&path);
  return st;
}

/* --- into Lua ----------------------------------------------------------------------------- */

/* What a snapshot read holds while it calls Lua; freed by __gc if Lua raises. */
typedef struct snapshot_read {
  sr_delta_snapshot *snap;
  sr_arena arena;
} snapshot_read;

static void snapshot_read_free(snapshot_read *sr) {
  sr_delta_snapshot_free(sr->snap);
  sr->snap = NULL;
  sr_arena_free(&sr->arena);
}

static int snapshot_read_gc(lua_State *L) {
  snapshot_read_free(lua_touserdata(L, 1));
  return 0;
}

sr_status sr_delta_read_snapshot_at(const char *path, int64_t at_version, lua_State *L,
                                    int rows_idx, int *nrows, int64_t *version, sr_error **err) {
  rows_idx = sr_lua_absindex(L, rows_idx);
  snapshot_read *sr = sr_lua_newudata(L, sizeof *sr, "streamrun.delta_snapshot_read", snapshot_read_gc);
  sr_arena_init(&sr->arena);
  sr_status st = SR_OK;
  sr->snap = sr_delta_snapshot_open(path, at_version, err);
  if (!sr->snap) st = SR_ERROR;
  else if (sr->snap->version < 0)
    st = sr_error_set(err, SR_ERROR, "%s is not a Delta table (it has no _delta_log commits)", path);
  else st = sr_delta_check_readable(sr->snap, err);
  if (st == SR_OK && version) *version = sr->snap->version;
  const char *key;
  json_t *add;
  if (st == SR_OK) {
    json_object_foreach(sr->snap->files, key, add) {
      sr_value *rows;
      int64_t n;
      st = sr_delta_read_file(sr->snap, add, NULL, 0, &sr->arena, &rows, &n, err);
      if (st != SR_OK) break;
      for (int64_t i = 0; i < n; i++) {
        sr_delta_push_row(L, sr->snap->schema, &rows[i]);
        lua_rawseti(L, rows_idx, ++*nrows);
      }
      sr_arena_reset(&sr->arena);
    }
  }
  snapshot_read_free(sr);
  lua_pop(L, 1);
  return st;
}

sr_status sr_delta_read_snapshot(const char *path, lua_State *L, int rows_idx, int *nrows,
                                 int64_t *version, sr_error **err) {
  return sr_delta_read_snapshot_at(path, -1, L, rows_idx, nrows, version, err);
}

/* --- the static-table format --------------------------------------------------------------- */

static const sr_option_spec static_options[] = {
  {"path", SR_OPT_STRING, NULL, "the Delta table's directory"},
  {"versionAsOf", SR_OPT_INT, NULL, "read this version of the table instead of the newest"},
  {NULL},
};

static sr_status static_fingerprint(const char *path, const sr_options *o, sr_buf *out, sr_error **err) {
  int64_t v = sr_opt_int(o, static_options, "versionAsOf", -1);
  if (v < 0) v = sr_delta_latest_version(path);
  if (v < 0) return sr_error_set(err, SR_ERROR, "%s is not a Delta table (it has no _delta_log commits)", path);
  if (sr_buf_printf(out, "delta\t%s\t%" PRId64, path, v) != 0) return sr_error_set(err, SR_ERROR, "out of memory");
  return SR_OK;
}

static sr_status static_load(lua_State *L, const char *path, const sr_options *o, const sr_schema *schema,
                             int rows_idx, int *nrows, sr_bad_fn bad, void *bad_ud, sr_error **err) {
  int64_t v = sr_opt_int(o, static_options, "versionAsOf", -1);
  return sr_delta_read_snapshot_at(path, v, L, rows_idx, nrows, NULL, err);
}

const sr_static_format sr_delta_static_format = {"delta", static_options, static_fingerprint, static_load};
