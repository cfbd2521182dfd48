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
** Why the hidden file is written in place (no temp file and rename, no fsync of its
** directory): nothing reads it after a crash. Until _streamrun_metadata/N exists the batch is
** replayed, and the replay's write() truncates and rewrites the hidden file; commit() renames
** only the file that write() of the same run completed. What recovery needs is that part-N
** has its data once its name is durable: write()'s fsync of the data comes before commit()'s
** rename and directory fsync, and both before the log entry that stops replays.
*/
#include <errno.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "connector.h"
#include "csv_rows.h"
#include "fsutil.h"
#include "json_rows.h"

typedef struct files_sink {
  char *dir;
  char *meta_dir;
  const char *ext;
  int csv;
  sr_csv_options csv_opts;
  char qid[9];
  int64_t pending_batch;    /* written, not yet committed; -1 none */
  int pending_skip;         /* the pending batch was already committed: commit does nothing */
  int pending_empty;
  int64_t files_written;
  sr_buf buf;
  sr_fs_writer part;        /* the hidden file being written; kept here so that a Lua error
                               raised while encoding (out of memory) cannot leak it */
} files_sink;

/* json: rows encoded and appended to the hidden file per slice, so that the device writes one
** slice while the next is encoded (sr_fs_writer), and write()'s fsync waits for little. */
enum { JSON_SLICE_ROWS = 8192 };

static const sr_option_spec json_sink_options[] = {
  {"path", SR_OPT_STRING, NULL, "the output directory"},
  {NULL},
};

static const sr_option_spec csv_sink_options[] = {
  {"path", SR_OPT_STRING, NULL, "the output directory"},
  {"header", SR_OPT_BOOL, "false", "write the column names as the first line of each file"},
  {"sep", SR_OPT_STRING, ",", "the field separator (one character)"},
  {NULL},
};

static void part_name(files_sink *fs, int64_t batch, int hidden, char *out, size_t outlen) {
  snprintf(out, outlen, "%s/%spart-%05" PRId64 "-%s.%s%s", fs->dir, hidden ? "." : "", batch,
           fs->qid, fs->ext, hidden ? ".inprogress" : "");
}

static void meta_name(files_sink *fs, int64_t batch, char *out, size_t outlen) {
  snprintf(out, outlen, "%s/%" PRId64, fs->meta_dir, batch);
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
  if (fs->csv) {
    const char *sep = sr_opt_str(cfg->options, sink->ops->options, "sep", ",");
    if (strlen(sep) != 1) return sr_error_set(err, SR_ERROR, "sep must be one character, not \"%s\"", sep);
    fs->csv_opts.sep = sep[0];
    fs->csv_opts.header = sr_opt_bool(cfg->options, sink->ops->options, "header", 0);
  }
  if (cfg->output_mode && strcmp(cfg->output_mode, "append") != 0)
    return sr_error_set(err, SR_ERROR,
                        "the %s sink supports only append output mode (files are never rewritten), "
                        "not %s", sink->ops->name, cfg->output_mode);
  return sr_fs_mkdirs(fs->meta_dir, err);
}

static sr_status fsink_write(sr_sink *sink, int64_t batch_id, lua_State *L, int rows_idx, int nrows,
                             int spec_idx, sr_error **err) {
  files_sink *fs = sink->impl;
  char path[4200];
  fs->pending_batch = batch_id;
  meta_name(fs, batch_id, path, sizeof path);
  fs->pending_skip = sr_fs_exists(path);
  fs->pending_empty = nrows == 0;
  if (fs->pending_skip || nrows == 0) return SR_OK;
  char errbuf[512];
  part_name(fs, batch_id, 1, path, sizeof path);
  if (fs->csv) {
    sr_buf_clear(&fs->buf);
    /* after a map without a schema the plan's columns are its input's: the rows' own are used */
    const sr_schema *cols = sink->cfg.schema_guessed ? NULL : sink->cfg.schema;
    if (sr_csv_encode_rows(L, rows_idx, nrows, cols, &fs->csv_opts, fs->csv_opts.header, &fs->buf,
                           errbuf, sizeof errbuf) != 0)
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
  json_t *doc = json_pack("{s:I,s:o}", "batchId", (json_int_t)batch_id, "files", files);
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  meta_name(fs, batch_id, meta, sizeof meta);
  sr_status st = text ? sr_fs_write_atomic(meta, text, strlen(text), err)
                      : sr_error_set(err, SR_ERROR, "out of memory");
  free(text);
  return st;
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
  free(fs->dir);
  free(fs->meta_dir);
  free(fs);
  sink->impl = NULL;
}

const sr_sink_ops sr_sink_json = {
  .name = "json", .options = json_sink_options, .open = fsink_open, .write = fsink_write,
  .commit = fsink_commit, .describe = fsink_describe, .close = fsink_close,
};

const sr_sink_ops sr_sink_csv = {
  .name = "csv", .options = csv_sink_options, .open = fsink_open, .write = fsink_write,
  .commit = fsink_commit, .describe = fsink_describe, .close = fsink_close,
};
