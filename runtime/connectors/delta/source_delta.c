/*
** The Delta source (read_stream{format = "delta"}): the table's data as a stream, as Spark's
** DeltaSource. A new query first reads the snapshot of the newest version V (its files in
** modificationTime, path order), then the files each later commit adds (dataChange = true, in
** log order); startingVersion = N (or "latest") skips the snapshot and starts at commit N
** (after the newest). maxFilesPerTrigger / maxBytesPerTrigger bound a batch.
**
** Offsets (DeltaSourceOffset's fields): {"sourceVersion": 1, "reservoirId": the table id,
** "reservoirVersion": v, "index": i, "isStartingVersion": b, "origin": {...}} = the stream has
** taken every file up to and including file i of version v (of the snapshot at v when
** isStartingVersion; i = -1: none of v yet). "origin" is where the stream began, so that
** read(NULL, end) of a query's first batch finds the same files after a restart. Nothing else
** is kept: read(start, end) lists the same files from the log again, so replays are exact.
**
** A commit that removes data (dataChange = true) is refused, as by Spark, unless
** ignoreDeletes (skip commits that only remove), ignoreChanges (take their added files
** anyway: rows may come again) or skipChangeCommits (skip such commits entirely).
*/
#include <inttypes.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "connector.h"
#include "delta_log.h"
#include "delta_lua.h"
#include "delta_table.h"
#include "lua_aux.h"

#define DEFAULT_MAX_FILES 1000 /* Delta's maxFilesPerTrigger default */

static const sr_option_spec delta_source_options[] = {
  {"path", SR_OPT_STRING, NULL, "the Delta table's directory"},
  {"maxFilesPerTrigger", SR_OPT_INT, "1000", "at most this many new files per batch"},
  {"maxBytesPerTrigger", SR_OPT_SIZE, NULL, "at most about this many bytes per batch (at least one file)"},
  {"startingVersion", SR_OPT_STRING, NULL, "start at this commit (a number, or latest) instead of the snapshot"},
  {"ignoreDeletes", SR_OPT_BOOL, "false", "skip commits that only remove data"},
  {"ignoreChanges", SR_OPT_BOOL, "false", "take the files of commits that rewrite data (rows may repeat)"},
  {"skipChangeCommits", SR_OPT_BOOL, "false", "skip commits that remove or rewrite data"},
  {NULL},
};

typedef struct pos {
  int64_t version;
  int64_t index;
  int starting;   /* in the snapshot of `version` */
} pos;

typedef struct delta_source {
  char *table;
  int64_t max_files, max_bytes;
  int64_t starting_version;   /* -1: not given */
  int starting_latest;
  int ignore_deletes, ignore_changes, skip_change_commits;
  int64_t open_version;       /* availableNow: the newest version at open */
  sr_delta_snapshot *latest;  /* the table now: its schema reads every file */
  sr_delta_snapshot *initial; /* the snapshot a starting stream reads, and its files in order */
  json_t *initial_files;
  json_t *commit_files;       /* version (text) -> the data files it adds, per the policy */
  sr_arena arena;
  int64_t files_read, bytes_read;
} delta_source;

/* --- offsets ----------------------------------------------------------------------------------- */

static json_t *pos_json(const delta_source *ds, pos p, pos origin) {
  const char *id = json_string_value(json_object_get(ds->latest ? ds->latest->metadata : NULL, "id"));
  return json_pack("{s:i,s:s,s:I,s:I,s:b,s:{s:I,s:b}}", "sourceVersion", 1, "reservoirId", id ? id : "",
                   "reservoirVersion", (json_int_t)p.version, "index", (json_int_t)p.index,
                   "isStartingVersion", p.starting, "origin", "reservoirVersion",
                   (json_int_t)origin.version, "isStartingVersion", origin.starting);
}

static int pos_parse(const json_t *j, pos *p, pos *origin) {
  json_t *v = json_object_get(j, "reservoirVersion"), *i = json_object_get(j, "index");
  json_t *o = json_object_get(j, "origin");
  if (!json_is_integer(v) || !json_is_integer(i) || !json_is_integer(json_object_get(o, "reservoirVersion")))
    return -1;
  p->version = json_integer_value(v);
  p->index = json_integer_value(i);
  p->starting = json_is_true(json_object_get(j, "isStartingVersion"));
  origin->version = json_integer_value(json_object_get(o, "reservoirVersion"));
  origin->index = -1;
  origin->starting = json_is_true(json_object_get(o, "isStartingVersion"));
  return 0;
}

static int pos_cmp(pos a, pos b) {
  if (a.version != b.version) return a.version < b.version ? -1 : 1;
  if (a.starting != b.starting) return a.starting ? -1 : 1;
  return (a.index > b.index) - (a.index < b.index);
}

/* --- the files ------------------------------------------------------------------------------------ */

static int by_time_then_path(const void *a, const void *b) {
  json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
  json_int_t tx = json_integer_value(json_object_get(x, "modificationTime"));
  json_int_t ty = json_integer_value(json_object_get(y, "modificationTime"));
  if (tx != ty) return tx < ty ? -1 : 1;
  return strcmp(json_string_value(json_object_get(x, "path")), json_string_value(json_object_get(y, "path")));
}

/* The files of the snapshot at version, in the order a starting stream takes them. */
static json_t *snapshot_files(delta_source *ds, int64_t version, sr_error **err) {
  if (ds->initial && ds->initial->version == version) return ds->initial_files;
  sr_delta_snapshot_free(ds->initial);
  json_decref(ds->initial_files);
  ds->initial_files = NULL;
  if (!(ds->initial = sr_delta_snapshot_open(ds->table, version, err))) return NULL;
  size_t n = json_object_size(ds->initial->files), k = 0;
  json_t **arr = calloc(n ? n : 1, sizeof *arr);
  json_t *list = json_array();
  if (!arr || !list) {
    free(arr);
    json_decref(list);
    sr_error_set(err, SR_ERROR, "out of memory");
    return NULL;
  }
  const char *path;
  json_t *add;
  json_object_foreach(ds->initial->files, path, add) arr[k++] = add;
  qsort(arr, n, sizeof *arr, by_time_then_path);
  for (size_t i = 0; i < n; i++) json_array_append(list, arr[i]);
  free(arr);
  ds->initial_files = list;
  return list;
}

static int removes_data(json_t *action) {
  json_t *rm = json_object_get(action, "remove");
  return rm && !json_is_false(json_object_get(rm, "dataChange"));
}

/* Sets *out to the data files commit version adds, as the removal policy allows (borrowed;
** cached), or NULL when the commit does not exist (yet). SR_ERROR for an unreadable commit or
** one the policy refuses. */
static sr_status commit_files(delta_source *ds, int64_t version, json_t **out, sr_error **err) {
  char key[24];
  snprintf(key, sizeof key, "%" PRId64, version);
  *out = json_object_get(ds->commit_files, key);
  if (*out) return SR_OK;
  json_t *actions;
  if (sr_delta_read_commit(ds->table, version, &actions, err) != SR_OK) return SR_ERROR;
  if (!actions) return SR_OK;
  json_t *files = json_array();
  int removes = 0, adds = 0;
  size_t i;
  json_t *a, *add;
  json_array_foreach(actions, i, a) {
    removes |= removes_data(a);
    if ((add = json_object_get(a, "add")) && !json_is_false(json_object_get(add, "dataChange"))) {
      json_array_append(files, add);
      adds = 1;
    }
  }
  json_decref(actions);
  if (removes) {
    int skip = ds->skip_change_commits || (ds->ignore_deletes && !adds);
    if (skip) {
      json_array_clear(files);
    } else if (!ds->ignore_changes) {
      json_decref(files);
      return sr_error_set(err, SR_ERROR, "version %" PRId64 " of the Delta table %s removes data (a "
                          "delete, an overwrite or a complete-mode write); a stream from a Delta table "
                          "takes appends only. Set ignoreDeletes (skip commits that only remove), "
                          "ignoreChanges (take rewritten files: rows may repeat) or skipChangeCommits "
                          "(skip such commits)", version, ds->table);
    }
  }
  if (!files || json_object_set_new(ds->commit_files, key, files) != 0)
    return sr_error_set(err, SR_ERROR, "out of memory");
  *out = files;
  return SR_OK;
}

/* The files after `from` in stream order, up to `until` (inclusive; NULL: to `latest` within
** the limits). Appends them to out and sets *end to the last one's position (= from when
** none). Returns SR_OK or SR_ERROR. */
static sr_status collect(delta_source *ds, pos from, const pos *until, int64_t latest, int limited,
                         json_t *out, pos *end, sr_error **err) {
  *end = from;
  int64_t nfiles = 0, nbytes = 0;
  pos p = from;
#define FULL() (limited && ((ds->max_files > 0 && nfiles >= ds->max_files) || \
                            (ds->max_bytes > 0 && nfiles > 0 && nbytes >= ds->max_bytes)))
  if (p.starting) {
    json_t *files = snapshot_files(ds, p.version, err);
    if (!files) return SR_ERROR;
    int64_t n = (int64_t)json_array_size(files);
    for (int64_t k = p.index + 1; k < n; k++) {
      pos at = {p.version, k, 1};
      if ((until && pos_cmp(at, *until) > 0) || FULL()) return SR_OK;
      json_t *f = json_array_get(files, (size_t)k);
      json_array_append(out, f);
      nfiles++;
      nbytes += json_integer_value(json_object_get(f, "size"));
      *end = at;
    }
    p = (pos){p.version + 1, -1, 0};
  }
  for (int64_t v = p.version; v <= latest; v++) {
    json_t *files;
    if (commit_files(ds, v, &files, err) != SR_OK) return SR_ERROR;
    if (!files) return SR_OK;
    int64_t n = (int64_t)json_array_size(files);
    for (int64_t k = v == p.version ? p.index + 1 : 0; k < n; k++) {
      pos at = {v, k, 0};
      if ((until && pos_cmp(at, *until) > 0) || FULL()) return SR_OK;
      json_t *f = json_array_get(files, (size_t)k);
      json_array_append(out, f);
      nfiles++;
      nbytes += json_integer_value(json_object_get(f, "size"));
      *end = at;
    }
  }
#undef FULL
  return SR_OK;
}

/* Keeps the latest snapshot current; SR_OK with ds->latest NULL while there is no table. */
static sr_status refresh(delta_source *ds, sr_error **err) {
  if (!ds->latest) {
    sr_delta_snapshot *s = sr_delta_snapshot_open(ds->table, -1, err);
    if (!s) return SR_ERROR;
    if (s->version < 0) {
      sr_delta_snapshot_free(s);
      return SR_OK;
    }
    ds->latest = s;
  } else if (sr_delta_snapshot_update(ds->latest, NULL, err) != SR_OK) {
    return SR_ERROR;
  }
  return sr_delta_check_readable(ds->latest, err);
}

static sr_status check_reservoir(delta_source *ds, const json_t *offset, sr_error **err) {
  const char *was = json_string_value(json_object_get(offset, "reservoirId"));
  const char *now = json_string_value(json_object_get(ds->latest->metadata, "id"));
  if (was && *was && now && strcmp(was, now) != 0)
    return sr_error_set(err, SR_ERROR, "the Delta table %s was replaced by another table (id %s, the "
                        "query read %s); give the query a new checkpointLocation", ds->table, now, was);
  return SR_OK;
}

/* --- the callbacks --------------------------------------------------------------------------------- */

static sr_status dsrc_open(sr_source *src, const sr_connector_config *cfg, sr_error **err) {
  delta_source *ds = calloc(1, sizeof *ds);
  if (!ds) return sr_error_set(err, SR_ERROR, "out of memory");
  src->impl = ds;
  sr_arena_init(&ds->arena);
  const sr_option_spec *spec = src->ops->options;
  const char *path = sr_opt_str(cfg->options, spec, "path", NULL);
  if (!path) return sr_error_set(err, SR_ERROR, "`path` is required (the Delta table's directory)");
  ds->table = strdup(path);
  ds->commit_files = json_object();
  if (!ds->table || !ds->commit_files) return sr_error_set(err, SR_ERROR, "out of memory");
  ds->max_files = sr_opt_int(cfg->options, spec, "maxFilesPerTrigger", DEFAULT_MAX_FILES);
  ds->max_bytes = sr_opt_size(cfg->options, spec, "maxBytesPerTrigger", 0);
  if (ds->max_files <= 0 || ds->max_bytes < 0)
    return sr_error_set(err, SR_ERROR, "maxFilesPerTrigger must be positive");
  ds->ignore_deletes = sr_opt_bool(cfg->options, spec, "ignoreDeletes", 0);
  ds->ignore_changes = sr_opt_bool(cfg->options, spec, "ignoreChanges", 0);
  ds->skip_change_commits = sr_opt_bool(cfg->options, spec, "skipChangeCommits", 0);
  const char *sv = sr_opt_str(cfg->options, spec, "startingVersion", NULL);
  ds->starting_version = -1;
  if (sv && strcmp(sv, "latest") == 0) {
    ds->starting_latest = 1;
  } else if (sv) {
    char *end;
    long long v = strtoll(sv, &end, 10);
    if (end == sv || *end || v < 0)
      return sr_error_set(err, SR_ERROR, "startingVersion must be a version number or \"latest\", not \"%s\"", sv);
    ds->starting_version = v;
  }
  if (refresh(ds, err) != SR_OK) return SR_ERROR;
  ds->open_version = ds->latest ? ds->latest->version : -1;
  return SR_OK;
}

/* The newest version a plan may take. */
static int64_t plan_limit(sr_source *src, delta_source *ds) {
  return src->available_now ? ds->open_version : ds->latest->version;
}

static void prune_cache(delta_source *ds, int64_t below) {
  const char *key;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(ds->commit_files, tmp, key, v)
    if (strtoll(key, NULL, 10) < below) json_object_del(ds->commit_files, key);
}

static sr_status dsrc_plan(sr_source *src, const json_t *start, json_t **end, sr_error **err) {
  delta_source *ds = src->impl;
  *end = NULL;
  if (refresh(ds, err) != SR_OK) return SR_ERROR;
  if (!ds->latest) return SR_OK; /* no table yet */
  int64_t latest = plan_limit(src, ds);
  pos from, origin;
  if (start) {
    if (pos_parse(start, &from, &origin) != 0)
      return sr_error_set(err, SR_ERROR, "the checkpoint's Delta source offset is not one: give the query a "
                          "new checkpointLocation");
    if (check_reservoir(ds, start, err) != SR_OK) return SR_ERROR;
  } else if (ds->starting_latest) {
    from = origin = (pos){ds->latest->version + 1, -1, 0};
  } else if (ds->starting_version >= 0) {
    from = origin = (pos){ds->starting_version, -1, 0};
  } else {
    if (latest < 0) return SR_OK;
    from = origin = (pos){latest, -1, 1};
  }
  prune_cache(ds, from.version);
  json_t *files = json_array();
  pos to;
  sr_status st = files ? collect(ds, from, NULL, latest, !src->ignore_limits, files, &to, err)
                       : sr_error_set(err, SR_ERROR, "out of memory");
  if (st == SR_OK && json_array_size(files) > 0 && !(*end = pos_json(ds, to, origin)))
    st = sr_error_set(err, SR_ERROR, "out of memory");
  json_decref(files);
  return st;
}

static sr_status dsrc_read(sr_source *src, const json_t *start, const json_t *end, lua_State *L,
                           int rows_idx, int *nrows, sr_error **err) {
  delta_source *ds = src->impl;
  pos from, to, origin, o2;
  if (pos_parse(end, &to, &origin) != 0 || (start && pos_parse(start, &from, &o2) != 0))
    return sr_error_set(err, SR_ERROR, "the checkpoint's Delta source offsets are not ones: give the query "
                        "a new checkpointLocation");
  if (!start) from = origin;
  if (refresh(ds, err) != SR_OK) return SR_ERROR;
  if (!ds->latest) return sr_error_set(err, SR_ERROR, "the Delta table %s is gone", ds->table);
  if (check_reservoir(ds, end, err) != SR_OK) return SR_ERROR;
  json_t *files = json_array();
  pos got;
  sr_status st = files ? collect(ds, from, &to, to.version, 0, files, &got, err)
                       : sr_error_set(err, SR_ERROR, "out of memory");
  if (st == SR_OK && pos_cmp(got, to) != 0)
    st = sr_error_set(err, SR_ERROR, "the Delta table %s no longer has the files of this batch (up to "
                      "version %" PRId64 "): its log was cleaned up or rewritten", ds->table, to.version);
  ds->files_read = 0;
  ds->bytes_read = 0;
  rows_idx = sr_lua_absindex(L, rows_idx);
  size_t i;
  json_t *add;
  json_array_foreach(files, i, add) {
    if (st != SR_OK) break;
    sr_value *rows;
    int64_t n;
    /* memory lives in ds (freed at the next read or close), so a Lua error leaks nothing */
    sr_arena_reset(&ds->arena);
    st = sr_delta_read_file(ds->latest, add, NULL, 0, &ds->arena, &rows, &n, err);
    for (int64_t r = 0; st == SR_OK && r < n; r++) {
      sr_delta_push_row(L, ds->latest->schema, &rows[r]);
      lua_rawseti(L, rows_idx, ++*nrows);
    }
    ds->files_read++;
    ds->bytes_read += json_integer_value(json_object_get(add, "size"));
  }
  sr_arena_reset(&ds->arena);
  json_decref(files);
  return st;
}

static void dsrc_describe(sr_source *src, json_t *o) {
  delta_source *ds = src->impl;
  char desc[4200];
  snprintf(desc, sizeof desc, "DeltaSource[%s]", ds->table);
  json_object_set_new(o, "description", json_string(desc));
  json_object_set_new(o, "metrics", json_pack("{s:I,s:I}", "numFilesRead", (json_int_t)ds->files_read,
                                              "numBytesRead", (json_int_t)ds->bytes_read));
}

/* Asked when a plan found nothing: with availableNow, plans stop at the version that was the
** newest at open, so nothing left means done. */
static int dsrc_drained(sr_source *src, const json_t *end) { return src->available_now; }

static void dsrc_close(sr_source *src) {
  delta_source *ds = src->impl;
  if (!ds) return;
  free(ds->table);
  sr_delta_snapshot_free(ds->latest);
  sr_delta_snapshot_free(ds->initial);
  json_decref(ds->initial_files);
  json_decref(ds->commit_files);
  sr_arena_free(&ds->arena);
  free(ds);
  src->impl = NULL;
}

const sr_source_ops sr_source_delta = {
  .name = "delta", .options = delta_source_options, .needs_schema = 0, .columns = NULL,
  .open = dsrc_open, .plan = dsrc_plan, .read = dsrc_read, .describe = dsrc_describe,
  .drained = dsrc_drained, .close = dsrc_close,
};
