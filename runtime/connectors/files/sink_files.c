/*
** The file sinks: json (JSON lines) and csv, one file per batch, exactly-once.
**
** Batch N is encoded and written to a hidden file (.part-N-<query>.<ext>.inprogress) by
** write(), which fsyncs its data; commit() renames it to part-N-<query>.<ext> (a name fixed by
** the batch id, so a replay replaces rather than adds), fsyncs the directory, and then records
** N in path/_streamrun_metadata/N (atomically: temp, fsync, rename, fsync of the directory).
** A batch found in that log is skipped by write(): it was committed before a crash. Readers
** that skip names starting with '.' or '_' (as Spark and DuckDB globs on part-* do) never see
** half a batch, and the metadata log says which files are complete batches.
**
** The log: _streamrun_metadata/N is a checked file (fsutil.h, tag "_streamrun_metadata/N")
** holding {"batchId":N,"files":[...],"queryId":"<id>"}. A sink path belongs to one query: at
** open, the newest entry names the query that writes the path, and another query is refused
** (it would otherwise take that query's batches 0..N for its own and skip them as already
** committed, as Spark's FileStreamSink.addBatch does: it skips every batch id up to its log's
** latest, whoever wrote it). Entries written before the query id was recorded name it by their part files
** (part-N-<first 8 characters of the id>). The newest entry is also what the engine
** cross-checks against the checkpoint (committed(): every batch has an entry, empty ones too).
** A damaged entry (checksum, tag, batch id) stops the query naming it.
**
** Compaction (compact_log.h; Spark's FileStreamSinkLog): at every compactInterval-th batch N
** the entry is N.compact, {"batchId":N,"queryId":Q,"batches":[<record>...]}: the records of the
** batches since the previous compact file, its own last. Once it is durable, the entries and
** compact files below N are removed (every batch up to N is committed, and N.compact says so:
** write() skips a batch at or below it). Unlike Spark's, the compact file does not carry every
** file ever written forward: nothing reads this log to list files (readers take part-* names,
** and the batch's files are whole before their names appear), so the log stays fewer than
** compactInterval entries and one compact file however long the query runs.
**
** Why the hidden file is written in place (no temp file and rename, no fsync of its
** directory): nothing reads it after a crash. Until _streamrun_metadata/N exists the batch is
** replayed, and the replay's write() truncates and rewrites the hidden file; commit() renames
** only the file that write() of the same run completed. What recovery needs is that part-N
** has its data once its name is durable: write()'s fsync of the data comes before commit()'s
** rename and directory fsync, and both before the log entry that stops replays.
**
** csv: every file has the same columns, in the same order (the header, when asked for), as
** Spark's CSV writer writes its DataFrame's schema: the plan's output columns when it knows
** them exactly (cfg->columns, renamed and computed columns included). When it does not (after a
** map), the columns are those of the first batch's rows in first-seen order (row by row; a
** row's new columns in the plan's order where it has them, then by name), recorded in
** <state_dir>/csv-columns.json before the batch's file is written, so that later batches and
** restarts keep them. A later row with a column not among them fails the batch, naming it,
** rather than losing it. A replay of the first batch finds the record and uses it.
*/
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "compact_log.h"
#include "connector.h"
#include "crash.h"
#include "csv_rows.h"
#include "fsutil.h"
#include "json_rows.h"
#include "strset.h"

#define CSV_COLUMNS_FILE "csv-columns.json"

typedef struct new_column { const char *name; int rank; } new_column;

typedef struct files_sink {
  char *dir;
  char *meta_dir;
  const char *ext;
  int csv;
  sr_csv_options csv_opts;
  char qid[9];
  const char *query_id;     /* the whole id (the checkpoint's metadata) */
  const char *checkpoint;   /* for messages */
  int64_t newest_logged;    /* the newest entry of the log at open, -1 none */
  int64_t compact_interval; /* compactInterval: every N-th entry is a compact file */
  int64_t last_compact;     /* the newest compact entry, -1 none: every batch to it committed */
  int64_t pending_batch;    /* written, not yet committed; -1 none */
  int pending_skip;         /* the pending batch was already committed: commit does nothing */
  int pending_empty;
  int64_t files_written;
  sr_buf buf;
  sr_fs_writer part;        /* the hidden file being written; kept here so that a Lua error
                               raised while encoding (out of memory) cannot leak it */
  /* csv: the columns every file has (see the top); NULL until known */
  char **columns;
  int ncolumns;
  int columns_from_plan;
  int64_t columns_batch;    /* the batch whose rows fixed them (-1: the plan's) */
  char *columns_path;       /* <state_dir>/csv-columns.json, NULL without a state_dir */
  sr_strset *column_set;
  new_column *row_new;      /* scratch for one row's new columns (here, so a raise leaks nothing) */
  int row_new_cap;
} files_sink;

/* json: rows encoded and appended to the hidden file per slice, so that the device writes one
** slice while the next is encoded (sr_fs_writer), and write()'s fsync waits for little. */
enum { JSON_SLICE_ROWS = 8192 };

#define COMPACT_OPTION \
  {"compactInterval", SR_OPT_INT, "10", "every this many batches the sink's log is compacted into one file"}

static const sr_option_spec json_sink_options[] = {
  {"path", SR_OPT_STRING, NULL, "the output directory"},
  COMPACT_OPTION,
  {NULL},
};

static const sr_option_spec csv_sink_options[] = {
  {"path", SR_OPT_STRING, NULL, "the output directory"},
  COMPACT_OPTION,
  {"header", SR_OPT_BOOL, "false", "write the column names as the first line of each file"},
  {"sep", SR_OPT_STRING, ",", "the field separator (one character)"},
  {NULL},
};

static void part_name(files_sink *fs, int64_t batch, int hidden, char *out, size_t outlen) {
  snprintf(out, outlen, "%s/%spart-%05" PRId64 "-%s.%s%s", fs->dir, hidden ? "." : "", batch,
           fs->qid, fs->ext, hidden ? ".inprogress" : "");
}

static void meta_name(files_sink *fs, int64_t batch, int compact, char *out, size_t outlen) {
  sr_clog_path(fs->meta_dir, batch, compact, out, outlen);
}

/* One batch's record: {"batchId":N,"files":[...]} (and its writer's "queryId"). */
static int record_ok(json_t *r, int64_t batch) {
  json_t *id = json_object_get(r, "batchId"), *qid = json_object_get(r, "queryId");
  return json_is_integer(id) && json_integer_value(id) == batch &&
         json_is_array(json_object_get(r, "files")) && (!qid || json_is_string(qid));
}

/* Reads log file `batch` (a compact file when `compact`: {"batchId":N,"queryId":Q,"batches":
** [<record>...]}, the records of the batches it replaced, its own last): *found 0 when absent;
** else checks it (checksum, tag, batch ids) and sets *owner (when not NULL) to the query id
** that wrote it ("" when an old entry does not say), and *doc (when not NULL) to the file's
** JSON (a new reference). Returns SR_ERROR with *err naming the file when it is damaged. */
static sr_status log_file(files_sink *fs, int64_t batch, int compact, int *found, char *owner,
                          size_t ownerlen, json_t **doc_out, sr_error **err) {
  char path[4200], tag[80];
  meta_name(fs, batch, compact, path, sizeof path);
  snprintf(tag, sizeof tag, "_streamrun_metadata/%" PRId64 "%s", batch, compact ? ".compact" : "");
  *found = 0;
  if (owner) owner[0] = '\0';
  size_t len;
  int checked;
  sr_error *rerr = NULL;
  char *text = sr_fs_read_checked(path, tag, &len, &checked, &rerr);
  if (!text && errno == ENOENT) { sr_error_free(rerr); return SR_OK; }
  if (!text) { if (err) *err = rerr; else sr_error_free(rerr); return SR_ERROR; }
  *found = 1;
  json_error_t jerr;
  json_t *doc = json_loadb(text, len, 0, &jerr), *rec = doc;
  free(text);
  int ok = record_ok(doc, batch) || (compact && json_is_integer(json_object_get(doc, "batchId")) &&
                                     json_integer_value(json_object_get(doc, "batchId")) == batch &&
                                     json_is_string(json_object_get(doc, "queryId")));
  if (ok && compact) {
    json_t *recs = json_object_get(doc, "batches");
    size_t n = json_array_size(recs);
    ok = json_is_array(recs) && n > 0;
    for (size_t i = 0; ok && i < n; i++)
      ok = record_ok(json_array_get(recs, i), batch - (int64_t)(n - 1 - i));
    rec = json_array_get(recs, n - 1);
  }
  json_t *qid = json_object_get(doc, "queryId"), *files = json_object_get(rec, "files");
  sr_status st = SR_OK;
  if (!ok) {
    st = sr_error_set(err, SR_ERROR, "%s is damaged: not the sink's record of batch %" PRId64 "%s", path,
                      batch, checked ? "" : " (and it has no checksum line)");
  } else if (owner && qid) {
    snprintf(owner, ownerlen, "%s", json_string_value(qid));
  } else if (owner && json_array_size(files) > 0) {
    /* an entry from before the id was recorded: part-NNNNN-<8 characters of the id>.<ext> */
    const char *name = json_string_value(json_array_get(files, 0)), *dash = name ? strrchr(name, '-') : NULL;
    if (dash && strlen(dash + 1) > 8) snprintf(owner, ownerlen, "%.8s", dash + 1);
  }
  if (doc_out && st == SR_OK) *doc_out = json_incref(doc);
  json_decref(doc);
  return st;
}

/* Whether batch `batch` is logged: in its own entry (read and checked), or below the newest
** compact file (every batch to it was committed: compact files are written at commit). */
static sr_status log_entry(files_sink *fs, int64_t batch, int *found, sr_error **err) {
  if (batch <= fs->last_compact) { *found = 1; return SR_OK; }
  return log_file(fs, batch, 0, found, NULL, 0, NULL, err);
}

static sr_status add_column(files_sink *fs, const char *name, sr_error **err) {
  char **grown = realloc(fs->columns, (size_t)(fs->ncolumns + 2) * sizeof *grown);
  if (!grown) return sr_error_set(err, SR_ERROR, "out of memory");
  fs->columns = grown;
  if (!(fs->columns[fs->ncolumns] = strdup(name)) || sr_strset_add(fs->column_set, name) < 0)
    return sr_error_set(err, SR_ERROR, "out of memory");
  fs->columns[++fs->ncolumns] = NULL;
  return SR_OK;
}

/* The csv columns: the plan's, or those recorded by an earlier run (see the top). */
static sr_status csv_columns_open(files_sink *fs, const sr_connector_config *cfg, sr_error **err) {
  fs->columns_batch = -1;
  if (!(fs->column_set = sr_strset_new())) return sr_error_set(err, SR_ERROR, "out of memory");
  if (cfg->columns) {
    fs->columns_from_plan = 1;
    for (int i = 0; cfg->columns[i]; i++)
      if (add_column(fs, cfg->columns[i], err) != SR_OK) return SR_ERROR;
    return SR_OK;
  }
  if (!cfg->state_dir) return SR_OK;
  size_t n = strlen(cfg->state_dir) + sizeof CSV_COLUMNS_FILE + 1;
  if (!(fs->columns_path = malloc(n))) return sr_error_set(err, SR_ERROR, "out of memory");
  snprintf(fs->columns_path, n, "%s/%s", cfg->state_dir, CSV_COLUMNS_FILE);
  if (!sr_fs_exists(fs->columns_path)) return SR_OK;
  json_error_t jerr;
  json_t *doc = json_load_file(fs->columns_path, 0, &jerr);
  json_t *cols = json_object_get(doc, "columns");
  sr_status st = SR_OK;
  if (!json_is_array(cols)) {
    st = sr_error_set(err, SR_ERROR, "%s is damaged: %s", fs->columns_path, doc ? "no columns" : jerr.text);
  } else {
    fs->columns_batch = json_integer_value(json_object_get(doc, "batchId"));
    for (size_t i = 0; st == SR_OK && i < json_array_size(cols); i++)
      st = add_column(fs, json_string_value(json_array_get(cols, i)) ? json_string_value(json_array_get(cols, i)) : "", err);
  }
  json_decref(doc);
  return st;
}

/* A sink path belongs to one query (see the top). */
static sr_status check_owner(sr_sink *sink, files_sink *fs, sr_error **err) {
  sr_clog_scan scan;
  sr_clog_list(fs->meta_dir, INT64_MAX - 1, &scan);
  fs->newest_logged = scan.newest;
  fs->last_compact = scan.compact;
  if (fs->newest_logged < 0) return SR_OK;
  int compact = scan.newest == scan.compact;
  char owner[64], path[4200];
  int found;
  if (log_file(fs, fs->newest_logged, compact, &found, owner, sizeof owner, NULL, err) != SR_OK)
    return SR_ERROR;
  /* the newest compact file says which batches are committed: checked too, and missing when
  ** this interval wrote one that is neither there nor replaced by its batch's own entry */
  int64_t expected = (scan.newest + 1) / fs->compact_interval * fs->compact_interval - 1;
  meta_name(fs, expected, 0, path, sizeof path);
  if (expected > scan.compact && !sr_fs_exists(path)) {
    meta_name(fs, expected, 1, path, sizeof path);
    return sr_error_set(err, SR_ERROR, "the %s sink's log %s is missing (the log runs to batch %" PRId64
                        "): which batches were committed is lost", sink->ops->name, path, scan.newest);
  }
  if (!compact && scan.compact >= 0 &&
      log_file(fs, scan.compact, 1, &found, NULL, 0, NULL, err) != SR_OK)
    return SR_ERROR;
  if (!found || !owner[0] || strncmp(owner, fs->query_id, strlen(owner)) == 0) return SR_OK;
  meta_name(fs, fs->newest_logged, compact, path, sizeof path);
  return sr_error_set(err, SR_ERROR,
                      "the %s sink's path %s holds the output of another query (id %s, per %s); this "
                      "query's id is %s (checkpoint %s). A sink path belongs to one query: its log "
                      "would make this one skip its batches as already committed. Give this query "
                      "its own path, or run the other query with its own checkpoint",
                      sink->ops->name, fs->dir, owner, path, fs->query_id, fs->checkpoint);
}

static sr_status fsink_committed(sr_sink *sink, int64_t *batch_id, int *every, char *where,
                                 size_t wherelen, sr_error **err) {
  files_sink *fs = sink->impl;
  *batch_id = fs->newest_logged;
  *every = 1;
  snprintf(where, wherelen, "%s", fs->meta_dir);
  return SR_OK;
}

static int new_column_cmp(const void *a, const void *b) {
  const new_column *x = a, *y = b;
  if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
  return strcmp(x->name, y->name);
}

/* [-0, +0, m] Without the plan's columns: fixes them from the first batch's rows and records
** them, or checks that every row's columns are among those fixed. */
static sr_status csv_columns_scan(sr_sink *sink, int64_t batch_id, lua_State *L, int rows_idx,
                                  int nrows, sr_error **err) {
  files_sink *fs = sink->impl;
  if (fs->columns_from_plan) return SR_OK;
  int fixing = fs->columns == NULL;
  const sr_schema *hint = sink->cfg.schema;
  luaL_checkstack(L, 4, "csv sink");
  for (int i = 1; i <= nrows; i++) {
    lua_rawgeti(L, rows_idx, i);
    int row = lua_gettop(L), nnew = 0;
    if (!lua_istable(L, row)) { lua_pop(L, 1); continue; }  /* the encoder reports it */
    lua_pushnil(L);
    while (lua_next(L, row)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) != LUA_TSTRING) continue;
      const char *name = lua_tostring(L, -1);  /* the row keeps the string alive */
      if (sr_strset_has(fs->column_set, name)) continue;
      if (!fixing) {
        char list[1024] = "";
        for (int c = 0; c < fs->ncolumns; c++)
          snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", c ? ", " : "", fs->columns[c]);
        sr_status st = sr_error_set(err, SR_ERROR, "row %d has a column '%s' that the csv sink's "
                                    "files do not have: their columns (%s) were fixed by the rows of "
                                    "batch %" PRId64 ", as the plan does not know them (a map "
                                    "reshapes rows). Name the columns with :select{...} before "
                                    "write_stream (with a new checkpointLocation and path)",
                                    i, name, list, fs->columns_batch);
        lua_settop(L, row - 1);
        return st;
      }
      if (nnew == fs->row_new_cap) {
        int cap = fs->row_new_cap ? 2 * fs->row_new_cap : 16;
        new_column *grown = realloc(fs->row_new, (size_t)cap * sizeof *grown);
        if (!grown) { lua_settop(L, row - 1); return sr_error_set(err, SR_ERROR, "out of memory"); }
        fs->row_new = grown;
        fs->row_new_cap = cap;
      }
      int k = hint ? sr_schema_find(hint, name) : -1;
      fs->row_new[nnew++] = (new_column){name, k >= 0 ? k : INT32_MAX};
    }
    if (nnew > 1) qsort(fs->row_new, (size_t)nnew, sizeof *fs->row_new, new_column_cmp);
    for (int k = 0; k < nnew; k++)
      if (add_column(fs, fs->row_new[k].name, err) != SR_OK) { lua_settop(L, row - 1); return SR_ERROR; }
    lua_settop(L, row - 1);
  }
  if (!fixing || fs->ncolumns == 0) return SR_OK;
  fs->columns_batch = batch_id;
  if (!fs->columns_path) return SR_OK;
  json_t *cols = json_array();
  for (int c = 0; c < fs->ncolumns; c++) json_array_append_new(cols, json_string(fs->columns[c]));
  json_t *doc = json_pack("{s:I,s:o}", "batchId", (json_int_t)batch_id, "columns", cols);
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  sr_status st = text ? sr_fs_write_atomic(fs->columns_path, text, strlen(text), err)
                      : sr_error_set(err, SR_ERROR, "out of memory");
  free(text);
  return st;
}

static sr_status fsink_check(const sr_connector_config *cfg, sr_error **err) {
  if (!sr_opt_str(cfg->options, NULL, "path", NULL))
    return sr_error_set(err, SR_ERROR, "`path` is required (the output directory)");
  const char *sep = sr_opt_str(cfg->options, NULL, "sep", ",");
  if (strlen(sep) != 1) return sr_error_set(err, SR_ERROR, "sep must be one character, not \"%s\"", sep);
  return SR_OK;
}

static sr_status fsink_open(sr_sink *sink, const sr_connector_config *cfg, sr_error **err) {
  files_sink *fs = calloc(1, sizeof *fs);
  if (!fs) return sr_error_set(err, SR_ERROR, "out of memory");
  sink->impl = fs;
  fs->csv = strcmp(sink->ops->name, "csv") == 0;
  fs->ext = fs->csv ? "csv" : "json";
  fs->pending_batch = -1;
  fs->part = (sr_fs_writer)SR_FS_WRITER_INIT;
  const char *path = sr_opt_str(cfg->options, sink->ops->options, "path", NULL);
  if (!path) return sr_error_set(err, SR_ERROR, "`path` is required (the output directory)");
  fs->dir = strdup(path);
  size_t n = strlen(path) + 32;
  fs->meta_dir = malloc(n);
  if (!fs->dir || !fs->meta_dir) return sr_error_set(err, SR_ERROR, "out of memory");
  snprintf(fs->meta_dir, n, "%s/_streamrun_metadata", path);
  snprintf(fs->qid, sizeof fs->qid, "%.8s", cfg->query_id);
  fs->query_id = cfg->query_id;
  fs->checkpoint = cfg->checkpoint_dir;
  fs->compact_interval = sr_opt_int(cfg->options, sink->ops->options, "compactInterval", SR_CLOG_DEFAULT_INTERVAL);
  if (fs->compact_interval < 1) return sr_error_set(err, SR_ERROR, "compactInterval must be 1 or more");
  if (fs->csv) {
    const char *sep = sr_opt_str(cfg->options, sink->ops->options, "sep", ",");
    if (strlen(sep) != 1) return sr_error_set(err, SR_ERROR, "sep must be one character, not \"%s\"", sep);
    fs->csv_opts.sep = sep[0];
    fs->csv_opts.header = sr_opt_bool(cfg->options, sink->ops->options, "header", 0);
    if (csv_columns_open(fs, cfg, err) != SR_OK) return SR_ERROR;
  }
  if (cfg->output_mode && strcmp(cfg->output_mode, "append") != 0)
    return sr_error_set(err, SR_ERROR,
                        "the %s sink supports only append output mode (files are never rewritten), "
                        "not %s", sink->ops->name, cfg->output_mode);
  if (sr_fs_mkdirs(fs->meta_dir, err) != SR_OK) return SR_ERROR;
  return check_owner(sink, fs, err);
}

static sr_status fsink_write(sr_sink *sink, int64_t batch_id, lua_State *L, int rows_idx, int nrows,
                             int spec_idx, sr_error **err) {
  files_sink *fs = sink->impl;
  char path[4200];
  fs->pending_batch = batch_id;
  if (log_entry(fs, batch_id, &fs->pending_skip, err) != SR_OK) return SR_ERROR;
  fs->pending_empty = nrows == 0;
  if (fs->pending_skip || nrows == 0) return SR_OK;
  char errbuf[512];
  part_name(fs, batch_id, 1, path, sizeof path);
  if (fs->csv) {
    if (csv_columns_scan(sink, batch_id, L, rows_idx, nrows, err) != SR_OK) return SR_ERROR;
    sr_buf_clear(&fs->buf);
    static const char *const none[] = {NULL};  /* rows without columns: empty lines */
    if (sr_csv_encode_named(L, rows_idx, nrows, fs->columns ? (const char *const *)fs->columns : none,
                            fs->ncolumns,
                            sink->cfg.schema, &fs->csv_opts, fs->csv_opts.header, &fs->buf, errbuf,
                            sizeof errbuf) != 0)
      return sr_error_set(err, SR_ERROR, "cannot encode the output: %s", errbuf);
    return sr_fs_write_synced(path, fs->buf.data, fs->buf.len, err);
  }
  if (sr_fs_writer_open(&fs->part, path, err) != SR_OK) return SR_ERROR;
  for (int first = 1; first <= nrows; first += JSON_SLICE_ROWS) {
    int last = nrows - first < JSON_SLICE_ROWS ? nrows : first + JSON_SLICE_ROWS - 1;
    sr_buf_clear(&fs->buf);
    if (sr_json_encode_range(L, rows_idx, first, last, sink->cfg.schema, &fs->buf, errbuf, sizeof errbuf) != 0) {
      sr_fs_writer_abort(&fs->part);
      return sr_error_set(err, SR_ERROR, "cannot encode the output: %s", errbuf);
    }
    if (sr_fs_writer_append(&fs->part, fs->buf.data, fs->buf.len, err) != SR_OK) return SR_ERROR;
  }
  return sr_fs_writer_finish(&fs->part, err);
}

/* The compact file of batch n (see the top): the records of the batches since the previous
** one, then rec, batch n's (stolen). Returns a new doc, or NULL with *err naming the entry that
** is missing or damaged. */
static json_t *compact_doc(files_sink *fs, int64_t n, json_t *rec, sr_error **err) {
  json_t *recs = json_array(), *r;
  for (int64_t k = fs->last_compact + 1; k < n; k++) {
    int found;
    if (log_file(fs, k, 0, &found, NULL, 0, &r, err) != SR_OK) goto fail;
    if (!found) {
      char path[4200];
      meta_name(fs, k, 0, path, sizeof path);
      sr_error_set(err, SR_ERROR, "the sink's log %s is missing: every committed batch has its record", path);
      goto fail;
    }
    json_object_del(r, "queryId"); /* the compact file's own says it */
    json_array_append_new(recs, r);
  }
  json_t *doc = json_pack("{s:I,s:O,s:o}", "batchId", (json_int_t)n, "queryId",
                          json_object_get(rec, "queryId"), "batches", recs);
  json_object_del(rec, "queryId");
  json_array_append_new(recs, rec);
  return doc;
fail:
  json_decref(recs);
  json_decref(rec);
  return NULL;
}

static sr_status fsink_commit(sr_sink *sink, int64_t batch_id, sr_error **err) {
  files_sink *fs = sink->impl;
  if (fs->pending_batch != batch_id)
    return sr_error_set(err, SR_ERROR, "internal: commit of batch %" PRId64 " without its write", batch_id);
  fs->pending_batch = -1;
  if (fs->pending_skip) return SR_OK;
  char hidden[4200], final[4200], meta[4200];
  part_name(fs, batch_id, 0, final, sizeof final);
  json_t *files = json_array();
  if (!fs->pending_empty) {
    part_name(fs, batch_id, 1, hidden, sizeof hidden);
    if (rename(hidden, final) != 0)
      return sr_error_set(err, SR_ERROR, "cannot rename %s to %s: %s", hidden, final, strerror(errno));
    if (sr_fs_sync_dir(final, err) != SR_OK) return SR_ERROR;
    json_array_append_new(files, json_string(strrchr(final, '/') + 1));
    fs->files_written++;
  }
  json_t *doc = json_pack("{s:I,s:o,s:s}", "batchId", (json_int_t)batch_id, "files", files, "queryId",
                          fs->query_id);
  int compact = sr_clog_is_compact(batch_id, fs->compact_interval);
  if (compact && !(doc = compact_doc(fs, batch_id, doc, err))) return SR_ERROR;
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  meta_name(fs, batch_id, compact, meta, sizeof meta);
  char tag[80];
  snprintf(tag, sizeof tag, "_streamrun_metadata/%" PRId64 "%s", batch_id, compact ? ".compact" : "");
  size_t len = text ? strlen(text) : 0;
  char *body = text ? realloc(text, len + 2) : NULL;
  if (body) body[len++] = '\n';
  sr_status st = body ? sr_fs_write_checked(meta, tag, body, len, err)
                      : sr_error_set(err, SR_ERROR, "out of memory");
  free(body ? body : text);
  if (st != SR_OK) return st;
  if (batch_id > fs->newest_logged) fs->newest_logged = batch_id;
  if (compact) {
    sr_crash_point("sink_compact", batch_id);
    /* every batch to this one is committed, and says so: what it replaces can go */
    fs->last_compact = batch_id;
    sr_clog_cleanup(fs->meta_dir, batch_id, batch_id);
  }
  return SR_OK;
}

static void fsink_describe(sr_sink *sink, json_t *o) {
  files_sink *fs = sink->impl;
  char desc[4200];
  snprintf(desc, sizeof desc, "FileSink[%s]", fs->dir);
  json_object_set_new(o, "description", json_string(desc));
}

static void fsink_close(sr_sink *sink) {
  files_sink *fs = sink->impl;
  if (!fs) return;
  sr_fs_writer_abort(&fs->part);
  sr_buf_free(&fs->buf);
  for (int i = 0; i < fs->ncolumns; i++) free(fs->columns[i]);
  free(fs->columns);
  free(fs->columns_path);
  sr_strset_free(fs->column_set);
  free(fs->row_new);
  free(fs->dir);
  free(fs->meta_dir);
  free(fs);
  sink->impl = NULL;
}

/* Spark's file sink is append-only (DataSource.createSink: "Data source json does not support
** Update output mode"): a file once written is never rewritten. */
static const char *const append_only[] = {"append", NULL};

const sr_sink_ops sr_sink_json = {
  .name = "json", .options = json_sink_options, .output_modes = append_only, .check = fsink_check, .open = fsink_open, .write = fsink_write,
  .commit = fsink_commit, .describe = fsink_describe, .close = fsink_close,
  .committed = fsink_committed,
};

const sr_sink_ops sr_sink_csv = {
  .name = "csv", .options = csv_sink_options, .output_modes = append_only, .check = fsink_check, .open = fsink_open, .write = fsink_write,
  .commit = fsink_commit, .describe = fsink_describe, .close = fsink_close,
  .committed = fsink_committed,
};
