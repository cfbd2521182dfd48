/*
** The file sources: json (JSON lines), csv and text over a directory, picking up new files as
** they appear. Files are expected to be written elsewhere and renamed in (so they are whole
** when seen); names starting with '.' or '_' are ignored, as Spark ignores them.
**
** Log: plan writes sources/<i>/<N> (atomically) listing the files of batch N, before the
** engine writes offsets/N = {"logOffset": N}. read() of batch N reads exactly the files listed
** in sources/<i>/<N>, so a replay sees the same files. At open, entries beyond the newest
** logged batch belong to a plan whose offsets were never written; they are removed, and their
** files become new again. Every file ever listed is "seen" and never read again.
**
** json and csv decode into Lua row tables (read); text hands over its lines as C records
** pointing into its mapped files (read_view, see text_read_view).
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "connector.h"
#include "csv_rows.h"
#include "fsutil.h"
#include "json_rows.h"
#include "strset.h"
#include "sr_log.h"

typedef enum { FMT_JSON, FMT_CSV, FMT_TEXT } file_format;

typedef struct file_entry {
  char *path;
  int64_t size;
  int64_t mtime_ms;
} file_entry;

typedef struct files_source {
  file_format format;
  char *dir;
  int64_t max_files, max_bytes, max_file_age_ms;
  int64_t files_outstanding, bytes_outstanding; /* left by the last plan for later batches */
  int latest_first;
  char *clean;                /* off | archive | delete */
  char *archive_dir;
  sr_csv_options csv;
  sr_strset *seen;
  int64_t newest_mtime_ms;    /* of every file seen: maxFileAge is relative to it */
  sr_strset *initial;         /* availableNow: the files present at open */
  int first_batch;            /* a new query: Spark takes every file in its first batch */
  int64_t next_log;           /* the log entry the next plan writes */
  int64_t files_in_last_batch, bytes_in_last_batch;
  sr_buf chunk;               /* json: the piece of a file being decoded, reused */
  sr_buf lines;               /* text: the batch's records (sr_view_text), into maps */
  sr_buf maps;                /* text: the batch's files, mapped (text_map) */
  int fd;                     /* json: the file being read, -1 none; kept here so that a Lua
                                 error raised while decoding (out of memory) cannot leak it */
} files_source;

#define COMMON_OPTIONS                                                                          \
  {"path", SR_OPT_STRING, NULL, "the directory to read; new files are picked up as they appear"}, \
  {"maxFilesPerTrigger", SR_OPT_INT, NULL, "at most this many new files per batch"},              \
  {"maxBytesPerTrigger", SR_OPT_SIZE, NULL, "at most about this many bytes per batch (at least one file)"}, \
  {"latestFirst", SR_OPT_BOOL, "false", "process the newest files first"},                        \
  {"maxFileAge", SR_OPT_DURATION, "7 days", "ignore files older than the newest seen by this much"}, \
  {"cleanSource", SR_OPT_STRING, "off", "after a batch commits: off, archive or delete its files"}, \
  {"sourceArchiveDir", SR_OPT_STRING, NULL, "where cleanSource=archive moves files"},             \
  {"fileNameOnly", SR_OPT_BOOL, "false", "accepted for Spark compatibility; files are tracked by path"}

static const sr_option_spec json_options[] = {COMMON_OPTIONS, {NULL}};
static const sr_option_spec text_options[] = {COMMON_OPTIONS, {NULL}};
static const sr_option_spec csv_options[] = {
  COMMON_OPTIONS,
  {"header", SR_OPT_BOOL, "false", "the first line of each file names the columns"},
  {"sep", SR_OPT_STRING, ",", "the field separator (one character)"},
  {NULL},
};

static void entry_free(file_entry *e) { free(e->path); }

/* --- the log of planned batches ------------------------------------------------------- */

static void log_path(const sr_source *src, int64_t n, char *out, size_t outlen) {
  snprintf(out, outlen, "%s/%" PRId64, src->cfg.state_dir, n);
}

/* Loads log entry n into a JSON array of files. NULL when absent or unreadable. */
static json_t *log_read(const sr_source *src, int64_t n, sr_error **err) {
  char path[4200];
  log_path(src, n, path, sizeof path);
  json_error_t jerr;
  json_t *doc = json_load_file(path, 0, &jerr);
  if (!doc) {
    sr_error_set(err, SR_ERROR, "cannot read the file source log %s: %s", path, jerr.text);
    return NULL;
  }
  json_t *files = json_incref(json_object_get(doc, "files"));
  json_decref(doc);
  if (!json_is_array(files)) {
    json_decref(files);
    sr_error_set(err, SR_ERROR, "%s: no file list in it", path);
    return NULL;
  }
  return files;
}

static int64_t log_offset_of(const json_t *offsets) {
  json_t *v = json_object_get(offsets, "logOffset");
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* Rebuilds the seen set from the log, dropping entries no offsets/N refers to. */
static sr_status load_log(sr_source *src, files_source *fs, sr_error **err) {
  int64_t last = src->cfg.resume_end ? log_offset_of(src->cfg.resume_end) : -1;
  DIR *d = opendir(src->cfg.state_dir);
  if (!d) return sr_error_set(err, SR_ERROR, "cannot open %s: %s", src->cfg.state_dir, strerror(errno));
  struct dirent *de;
  sr_status st = SR_OK;
  while ((de = readdir(d)) && st == SR_OK) {
    char *end;
    long long n = strtoll(de->d_name, &end, 10);
    if (end == de->d_name || *end) continue;
    if (n > last) {
      char path[4200];
      log_path(src, n, path, sizeof path);
      unlink(path); /* a plan whose offsets were never logged */
      continue;
    }
    json_t *files = log_read(src, n, err);
    if (!files) { st = SR_ERROR; break; }
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) {
      const char *p = json_string_value(json_object_get(f, "path"));
      int64_t mtime = json_integer_value(json_object_get(f, "mtime"));
      if (p) sr_strset_add(fs->seen, p);
      if (mtime > fs->newest_mtime_ms) fs->newest_mtime_ms = mtime;
    }
    json_decref(files);
  }
  closedir(d);
  fs->next_log = last + 1;
  return st;
}

/* --- listing ----------------------------------------------------------------------------- */

static int visible(const char *name) { return name[0] != '.' && name[0] != '_'; }

/* The regular files of the directory not yet seen, into *out (malloc'd array). */
static sr_status list_new_files(files_source *fs, file_entry **out, int *nout, sr_error **err) {
  *out = NULL;
  *nout = 0;
  DIR *d = opendir(fs->dir);
  if (!d) {
    if (errno == ENOENT) return SR_OK; /* not there yet: no data */
    return sr_error_set(err, SR_RETRY, "cannot list %s: %s", fs->dir, strerror(errno));
  }
  int cap = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!visible(de->d_name)) continue;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", fs->dir, de->d_name);
    if (sr_strset_has(fs->seen, path)) continue;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (*nout == cap) {
      cap = cap ? cap * 2 : 64;
      file_entry *grown = realloc(*out, (size_t)cap * sizeof **out);
      if (!grown) { closedir(d); return sr_error_set(err, SR_ERROR, "out of memory"); }
      *out = grown;
    }
    file_entry *e = &(*out)[(*nout)++];
    e->path = strdup(path);
    e->size = st.st_size;
    e->mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
  }
  closedir(d);
  return SR_OK;
}

static int by_age(const void *a, const void *b) {
  const file_entry *x = a, *y = b;
  if (x->mtime_ms != y->mtime_ms) return x->mtime_ms < y->mtime_ms ? -1 : 1;
  return strcmp(x->path, y->path);
}

static int by_age_desc(const void *a, const void *b) { return by_age(b, a); }

/* --- the source callbacks ------------------------------------------------------------ */

static sr_status files_open(sr_source *src, const sr_connector_config *cfg, sr_error **err) {
  files_source *fs = calloc(1, sizeof *fs);
  if (!fs) return sr_error_set(err, SR_ERROR, "out of memory");
  src->impl = fs;
  fs->fd = -1;
  const sr_option_spec *spec = src->ops->options;
  fs->format = strcmp(src->ops->name, "csv") == 0 ? FMT_CSV
             : strcmp(src->ops->name, "text") == 0 ? FMT_TEXT : FMT_JSON;
  const char *path = sr_opt_str(cfg->options, spec, "path", NULL);
  if (!path) return sr_error_set(err, SR_ERROR, "`path` is required (the directory to read)");
  fs->dir = strdup(path);
  size_t len = strlen(fs->dir);
  while (len > 1 && fs->dir[len - 1] == '/') fs->dir[--len] = '\0';
  fs->max_files = sr_opt_int(cfg->options, spec, "maxFilesPerTrigger", 0);
  fs->max_bytes = sr_opt_size(cfg->options, spec, "maxBytesPerTrigger", 0);
  fs->latest_first = sr_opt_bool(cfg->options, spec, "latestFirst", 0);
  fs->max_file_age_ms = sr_opt_duration_ms(cfg->options, spec, "maxFileAge", 0);
  fs->clean = strdup(sr_opt_str(cfg->options, spec, "cleanSource", "off"));
  const char *archive = sr_opt_str(cfg->options, spec, "sourceArchiveDir", NULL);
  if (strcasecmp(fs->clean, "off") && strcasecmp(fs->clean, "archive") && strcasecmp(fs->clean, "delete"))
    return sr_error_set(err, SR_ERROR, "cleanSource must be off, archive or delete, not \"%s\"", fs->clean);
  if (strcasecmp(fs->clean, "archive") == 0 && !archive)
    return sr_error_set(err, SR_ERROR, "cleanSource=archive needs sourceArchiveDir");
  if (archive) fs->archive_dir = strdup(archive);
  if (fs->max_files < 0 || fs->max_bytes < 0)
    return sr_error_set(err, SR_ERROR, "maxFilesPerTrigger and maxBytesPerTrigger must be positive");
  if (fs->format == FMT_CSV) {
    const char *sep = sr_opt_str(cfg->options, spec, "sep", ",");
    if (strlen(sep) != 1) return sr_error_set(err, SR_ERROR, "sep must be one character, not \"%s\"", sep);
    fs->csv.sep = sep[0];
    fs->csv.header = sr_opt_bool(cfg->options, spec, "header", 0);
  }
  fs->seen = sr_strset_new();
  if (!fs->seen) return sr_error_set(err, SR_ERROR, "out of memory");
  if (load_log(src, fs, err) != SR_OK) return SR_ERROR;
  fs->first_batch = fs->next_log == 0;
  if (src->available_now) {
    /* availableNow: the files present now are the whole input */
    file_entry *files;
    int n;
    if (list_new_files(fs, &files, &n, err) != SR_OK) return SR_ERROR;
    fs->initial = sr_strset_new();
    for (int i = 0; i < n; i++) {
      sr_strset_add(fs->initial, files[i].path);
      entry_free(&files[i]);
    }
    free(files);
  }
  return SR_OK;
}

/* Keeps the files a batch may take: age, availableNow's snapshot, the rate limits. */
static int select_files(files_source *fs, sr_source *src, file_entry *files, int n) {
  int kept = 0;
  for (int i = 0; i < n; i++) {
    if (files[i].mtime_ms > fs->newest_mtime_ms) fs->newest_mtime_ms = files[i].mtime_ms;
  }
  for (int i = 0; i < n; i++) {
    int ok = !fs->initial || sr_strset_has(fs->initial, files[i].path);
    /* Spark: maxFileAge applies from the second batch on, and not at all when latestFirst
    ** and maxFilesPerTrigger are both set */
    if (ok && !fs->first_batch && fs->max_file_age_ms > 0 && !(fs->latest_first && fs->max_files > 0))
      ok = files[i].mtime_ms >= fs->newest_mtime_ms - fs->max_file_age_ms;
    if (ok) files[kept++] = files[i];
    else entry_free(&files[i]);
  }
  fs->files_outstanding = fs->bytes_outstanding = 0;
  if (kept == 0) return 0; /* files may be NULL: qsort must not see it */
  qsort(files, (size_t)kept, sizeof *files, fs->latest_first ? by_age_desc : by_age);
  if (src->ignore_limits) return kept;
  int take = 0;
  int64_t bytes = 0;
  while (take < kept) {
    if (fs->max_files > 0 && take >= fs->max_files) break;
    if (fs->max_bytes > 0 && take > 0 && bytes + files[take].size > fs->max_bytes) break;
    bytes += files[take].size;
    take++;
  }
  fs->files_outstanding = kept - take;
  fs->bytes_outstanding = 0;
  for (int i = take; i < kept; i++) {
    fs->bytes_outstanding += files[i].size;
    entry_free(&files[i]);
  }
  return take;
}

static sr_status files_plan(sr_source *src, const json_t *start, json_t **end, sr_error **err) {
  files_source *fs = src->impl;
  *end = NULL;
  file_entry *files;
  int n;
  if (list_new_files(fs, &files, &n, err) != SR_OK) return SR_RETRY;
  n = select_files(fs, src, files, n);
  if (n == 0) {
    free(files);
    return SR_OK;
  }
  int64_t log_id = start ? log_offset_of(start) + 1 : fs->next_log;
  if (log_id < fs->next_log) log_id = fs->next_log;
  json_t *list = json_array();
  for (int i = 0; i < n; i++) {
    json_array_append_new(list, json_pack("{s:s,s:I,s:I}", "path", files[i].path, "size",
                                          (json_int_t)files[i].size, "mtime", (json_int_t)files[i].mtime_ms));
  }
  json_t *doc = json_pack("{s:I,s:o}", "batch", (json_int_t)log_id, "files", list);
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  char path[4200];
  log_path(src, log_id, path, sizeof path);
  sr_status st = text ? sr_fs_write_atomic(path, text, strlen(text), err)
                      : sr_error_set(err, SR_ERROR, "out of memory");
  free(text);
  if (st == SR_OK) {
    for (int i = 0; i < n; i++) sr_strset_add(fs->seen, files[i].path);
    fs->next_log = log_id + 1;
    fs->first_batch = 0;
    *end = json_pack("{s:I}", "logOffset", (json_int_t)log_id);
  }
  for (int i = 0; i < n; i++) entry_free(&files[i]);
  free(files);
  return st;
}

static void bad_to_sink(void *ud, const char *origin, int64_t line, const char *record, size_t len,
                        const char *reason) {
  sr_bad_record(ud, origin, line, record, len, reason);
}

/* JSON lines: a file is read in pieces of about JSON_PIECE bytes into one reused buffer and
** each piece, cut after its last '\n', is decoded at once. The decoder then reads bytes that
** read() has just put in the cache, and no buffer of a file's size is allocated (and faulted
** in) per file. A line longer than a piece grows the buffer. */
enum { JSON_PIECE = 256 * 1024 };

static sr_status read_json_file(sr_source *src, files_source *fs, const char *path, lua_State *L,
                                int rows_idx, int *nrows, sr_error **err) {
  sr_buf *b = &fs->chunk;
  int64_t line = 1, nlines;
  if (fs->fd >= 0) close(fs->fd);  /* left open by a Lua error in an earlier read */
  int fd = fs->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sr_error_set(err, SR_ERROR, "cannot open %s: %s", path, strerror(errno));
  b->len = 0;
  sr_status st = SR_OK;
  for (int eof = 0; !eof;) {
    if (sr_buf_reserve(b, JSON_PIECE) != 0) {
      st = sr_error_set(err, SR_ERROR, "out of memory reading %s", path);
      break;
    }
    size_t got;
    if ((st = sr_fs_read_fd(fd, path, b->data + b->len, JSON_PIECE, &got, err)) != SR_OK) break;
    eof = got < JSON_PIECE;
    b->len += got;
    fs->bytes_in_last_batch += (int64_t)got;
    const char *nl = eof ? NULL : memrchr(b->data, '\n', b->len);
    size_t piece = eof ? b->len : nl ? (size_t)(nl - b->data) + 1 : 0;
    if (piece == 0) continue;
    sr_json_decode_piece(L, rows_idx, nrows, b->data, piece, src->cfg.schema, path, line, bad_to_sink,
                         src->cfg.bad, &nlines);
    line += nlines;
    memmove(b->data, b->data + piece, b->len - piece);
    b->len -= piece;
  }
  close(fd);
  fs->fd = -1;
  return st;
}

/* The files of the batch ending at `end` (its log entry), counted for describe(). */
static json_t *batch_files(sr_source *src, const json_t *end, sr_error **err) {
  files_source *fs = src->impl;
  json_t *files = log_read(src, log_offset_of(end), err);
  fs->files_in_last_batch = files ? (int64_t)json_array_size(files) : 0;
  fs->bytes_in_last_batch = 0;
  return files;
}

static sr_status files_read(sr_source *src, const json_t *start, const json_t *end, lua_State *L,
                            int rows_idx, int *nrows, sr_error **err) {
  files_source *fs = src->impl;
  json_t *files = batch_files(src, end, err);
  if (!files) return SR_ERROR;
  size_t i;
  json_t *f;
  sr_status st = SR_OK;
  json_array_foreach(files, i, f) {
    const char *path = json_string_value(json_object_get(f, "path"));
    lua_checkstack(L, 8);
    if (fs->format == FMT_JSON) {
      st = read_json_file(src, fs, path, L, rows_idx, nrows, err);
    } else {
      size_t len;
      char *buf = sr_fs_read_all(path, &len, err);
      if (!buf) {
        st = SR_ERROR;
      } else {
        fs->bytes_in_last_batch += (int64_t)len;
        sr_csv_decode_lines(L, rows_idx, nrows, buf, len, src->cfg.schema, &fs->csv, path, 1, bad_to_sink,
                            src->cfg.bad);
        free(buf);
      }
    }
    if (st != SR_OK) {
      sr_error_prefix(*err, "a file of this batch is gone (it was listed in the batch's log)");
      break;
    }
  }
  json_decref(files);
  return st;
}

/* text: a record per line, its text without the line end ("\n" or "\r\n"), pointing into
** the batch's files, which stay mapped until the next read (the row view's lifetime). Mapped,
** not read: the pages are the page cache's, which the kernel can drop and read again, so a
** batch of files larger than memory still runs. read() into fresh memory took 48 ms for a
** 12 MB file on the benchmark machine, page faults mostly, and into the arena's populated huge
** pages as long as mapping did (11-17 ms with the lines found, ~6 ms of it the records
** array's fresh pages). Files are whole and left alone once they appear (the directory's
** contract, see the top); one truncated while its batch runs would end the process with
** SIGBUS, and the batch is run again at restart.
** lua/streamrun/sources/text.lua makes the rows {value = line}. */
static const sr_view_column text_columns[] = {{"value", SR_VIEW_TEXT, 0}, {NULL, 0, 0}};

typedef struct text_map {
  void *addr;
  size_t len;
} text_map;

static void text_unmap(files_source *fs) {
  const text_map *m = (const text_map *)fs->maps.data;
  for (size_t i = 0; i < fs->maps.len / sizeof *m; i++) munmap(m[i].addr, m[i].len);
  fs->maps.len = 0;
}

/* Maps the file at path and adds a record per line to fs->lines. */
static sr_status text_add_file(files_source *fs, const char *path, sr_error **err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    sr_error_set(err, SR_ERROR, "cannot open %s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    return SR_ERROR;
  }
  size_t size = (size_t)st.st_size;
  void *addr = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0) : NULL;
  int e = errno;
  close(fd);
  if (addr == MAP_FAILED) return sr_error_set(err, SR_ERROR, "cannot map %s: %s", path, strerror(e));
  if (!size) return SR_OK;
  text_map m = {addr, size};
  if (sr_buf_append(&fs->maps, &m, sizeof m) != 0) {
    munmap(addr, size);
    return sr_error_set(err, SR_ERROR, "out of memory reading %s", path);
  }
  fs->bytes_in_last_batch += (int64_t)size;
  for (const char *p = addr, *end = p + size; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *stop = nl ? nl : end;
    size_t len = (size_t)(stop - p);
    if (len > 0 && p[len - 1] == '\r') len--;
    sr_view_text line = {p, len};
    if (sr_buf_append(&fs->lines, &line, sizeof line) != 0)
      return sr_error_set(err, SR_ERROR, "out of memory reading %s", path);
    p = stop + 1;
  }
  return SR_OK;
}

static sr_status text_read_view(sr_source *src, const json_t *start, const json_t *end,
                                sr_row_view *view, sr_error **err) {
  files_source *fs = src->impl;
  json_t *files = batch_files(src, end, err);
  if (!files) return SR_ERROR;
  text_unmap(fs);
  fs->lines.len = 0;
  size_t i;
  json_t *f;
  sr_status st = SR_OK;
  json_array_foreach(files, i, f) {
    st = text_add_file(fs, json_string_value(json_object_get(f, "path")), err);
    if (st != SR_OK) {
      sr_error_prefix(*err, "a file of this batch is gone (it was listed in the batch's log)");
      break;
    }
  }
  json_decref(files);
  if (st != SR_OK) return st;
  *view = (sr_row_view){.records = fs->lines.data, .count = (int)(fs->lines.len / sizeof(sr_view_text)),
                        .columns = text_columns, .record_size = sizeof(sr_view_text)};
  return SR_OK;
}

/* cleanSource: the batch is committed, so its files may go. */
static sr_status files_commit(sr_source *src, const json_t *end, sr_error **err) {
  files_source *fs = src->impl;
  if (strcasecmp(fs->clean, "off") == 0) return SR_OK;
  json_t *files = log_read(src, log_offset_of(end), err);
  if (!files) return SR_ERROR;
  size_t i;
  json_t *f;
  sr_status st = SR_OK;
  json_array_foreach(files, i, f) {
    const char *path = json_string_value(json_object_get(f, "path"));
    if (strcasecmp(fs->clean, "delete") == 0) {
      if (unlink(path) != 0 && errno != ENOENT)
        sr_log("warning", NULL, -1, "cleanSource: cannot delete %s: %s", path, strerror(errno));
      continue;
    }
    /* archive: keep the file's path below the archive directory, as Spark does */
    char abs[PATH_MAX], dest[PATH_MAX * 2];
    if (!realpath(path, abs)) continue; /* already archived by an earlier attempt */
    snprintf(dest, sizeof dest, "%s%s", fs->archive_dir, abs);
    char *slash = strrchr(dest, '/');
    *slash = '\0';
    if (sr_fs_mkdirs(dest, err) != SR_OK) { st = SR_ERROR; break; }
    *slash = '/';
    if (rename(abs, dest) != 0)
      sr_log("warning", NULL, -1, "cleanSource: cannot archive %s: %s", path, strerror(errno));
  }
  json_decref(files);
  return st;
}

static void files_describe(sr_source *src, json_t *o) {
  files_source *fs = src->impl;
  char desc[4200];
  snprintf(desc, sizeof desc, "FileStreamSource[%s]", fs->dir);
  json_object_set_new(o, "description", json_string(desc));
  json_t *m = json_object();
  json_object_set_new(m, "numFilesRead", json_integer(fs->files_in_last_batch));
  json_object_set_new(m, "numBytesRead", json_integer(fs->bytes_in_last_batch));
  /* the backlog as the batch's listing saw it: files the rate limits left for later batches */
  json_object_set_new(m, "numFilesOutstanding", json_integer(fs->files_outstanding));
  json_object_set_new(m, "numBytesOutstanding", json_integer(fs->bytes_outstanding));
  json_object_set_new(o, "metrics", m);
}

/* Asked when a plan found nothing: with availableNow that means none of the files present at
** open is left that the query may take. */
static int files_drained(sr_source *src, const json_t *end) {
  files_source *fs = src->impl;
  return fs->initial != NULL;
}

static void files_close(sr_source *src) {
  files_source *fs = src->impl;
  if (!fs) return;
  sr_strset_free(fs->seen);
  sr_strset_free(fs->initial);
  sr_buf_free(&fs->chunk);
  text_unmap(fs);
  sr_buf_free(&fs->maps);
  sr_buf_free(&fs->lines);
  if (fs->fd >= 0) close(fs->fd);
  free(fs->dir);
  free(fs->clean);
  free(fs->archive_dir);
  free(fs);
  src->impl = NULL;
}

#define FILE_SOURCE(fmt, opts, schema_needed, ...)                                         \
  {                                                                                      \
    .name = fmt, .options = opts, .needs_schema = schema_needed, .open = files_open,     \
    .plan = files_plan, .commit = files_commit, .describe = files_describe,              \
    .drained = files_drained, .close = files_close, __VA_ARGS__                          \
  }

const sr_source_ops sr_source_json = FILE_SOURCE("json", json_options, 0, .read = files_read);
const sr_source_ops sr_source_csv = FILE_SOURCE("csv", csv_options, 0, .read = files_read);
const sr_source_ops sr_source_text = FILE_SOURCE("text", text_options, 0, .read_view = text_read_view,
                                                 .view_module = "streamrun.sources.text");
