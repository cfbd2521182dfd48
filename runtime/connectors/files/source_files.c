/*
** The file sources: json (JSON lines), csv and text over a directory, picking up new files as
** they appear. Names starting with '.' or '_' are ignored, as Spark ignores them. Files in
** partition folders (key=value, partition_dirs.h) below the directory are listed too, by their
** paths, so the log below is the same for them; json and csv rows get the folders' values.
**
** Log: plan writes sources/<i>/<N> (atomically) listing the files of batch N, each with the
** size and modification time it had when listed, before the engine writes offsets/N =
** {"logOffset": N}. An entry is a checked file (fsutil.h) holding {"batch":N,"files":[{"path",
** "size","mtime"}...]}, tagged "sources/<i>/<N>@<query id>"; entries from before checksums are
** parsed strictly. read() of batch N reads exactly the files listed in sources/<i>/<N>, and of
** each exactly the bytes listed, so a replay sees the same input. Log ids run from 0 without a
** gap (an id follows the previous batch's end, so even batches without data from this source
** add none). At open, with L the id in the newest offsets/N: entries 0..L must all be there and
** whole; an entry L+1 belongs to a plan whose offsets were never written (a crash between the
** two writes), so it is ignored, its files become new again, and the next plan writes over it;
** an entry above L+1 cannot come
** from a crash (offsets files were removed), and the open fails naming it. Every file ever
** listed is "seen" and never read again.
**
** Compaction (compact_log.h; Spark's FileStreamSourceLog): every compactInterval-th entry N is
** written as N.compact instead, {"batch":N,"purgedBefore":T,"batches":[<entry>...]}: the
** previous compact file's batches and the entries since, then batch N's. Files older than
** maxFileAge before the newest seen are dropped from it, as Spark's SeenFilesMap.purge drops
** them from its map, and batches left empty with them; T (SeenFilesMap.lastPurgeTimestamp)
** keeps such files refused, whatever maxFileAge a later run has. So the log holds at most two
** compact files (the newest, and the one before until a later batch is planned) and fewer than
** 2 x compactInterval entries: its size follows maxFileAge, not the batch count. At
** open the seen set is the newest compact file at most L and the entries after it, which must
** all be there; its own entry N of a batch is read from N.compact.
**
** Files that change: Spark reads a file once and expects it whole when it appears (written
** elsewhere and renamed in). Producers that write in place are met half way:
**   - a file is taken only once it is stable: its modification time at least fileStableMs old,
**     or its size and modification time unchanged for fileStableMs since it was first listed.
**     (availableNow and once wait for the files present at start to become stable.)
**   - read() checks each file against its log entry: a file now shorter is an error naming it
**     (its logged rows cannot be read); a longer or rewritten one is read up to its logged
**     size, with a warning naming it and the change. Files are read, never mapped, so a file
**     truncated while its batch runs cannot end the process with SIGBUS.
**   - the files of recent batches are stat'ed again at each listing, and a change after their
**     batch was logged (rows appended later, a rewrite) is reported once per file: it is not
**     read, and the warning says so.
**   - a file of a logged batch that is gone fails the batch naming it, as Spark does; with
**     ignoreMissingFiles (Spark's option) it is skipped with a warning and counted in
**     progress as numMissingFiles.
**
** json and csv decode into Lua row tables (read); text hands over its lines as C records
** pointing into the batch's bytes (read_view, see text_read_view).
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "compact_log.h"
#include "connector.h"
#include "crash.h"
#include "csv_rows.h"
#include "fsutil.h"
#include "json_rows.h"
#include "partition_dirs.h"
#include "schema_infer.h"
#include "lines.h"
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
  sr_linesep line_sep;        /* lineSep: json, text (csv: csv.line_sep) */
  int single_quotes;          /* json: allowSingleQuotes */
  sr_strset *seen;
  int64_t newest_mtime_ms;    /* of every file seen: maxFileAge is relative to it */
  sr_strset *initial;         /* availableNow: the files present at open */
  int first_batch;            /* a new query: Spark takes every file in its first batch */
  int64_t next_log;           /* the log entry the next plan writes */
  int64_t compact_interval;   /* compactInterval: every N-th entry is a compact file */
  int64_t last_compact;       /* the newest compact entry logged, -1 none */
  int64_t purged_before_ms;   /* files older were dropped from the log (maxFileAge): never new
                                 again, as Spark's SeenFilesMap.lastPurgeTimestamp; INT64_MIN none */
  int64_t files_in_last_batch, bytes_in_last_batch, missing_in_last_batch;
  int64_t stable_ms;          /* fileStableMs */
  int ignore_missing;         /* ignoreMissingFiles */
  json_t *unstable;           /* path -> [size, mtime, first listed (monotonic ms)]: not yet stable */
  int64_t unstable_initial;   /* availableNow: files present at open not yet stable */
  json_t *recent;             /* path -> [size, mtime, batch, reported]: files of recent batches,
                                 checked for changes at each listing (oldest first) */
  char log_name[64];          /* "sources/<i>": the log's name in the checkpoint, for tags */
  const char *query_id;
  sr_buf chunk;               /* json: the piece of a file being decoded, reused */
  sr_buf lines;               /* text: the batch's records (sr_view_text), into text */
  sr_buf text;                /* text: the batch's bytes, reused from batch to batch */
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
  {"fileNameOnly", SR_OPT_BOOL, "false", "accepted for Spark compatibility; files are tracked by path"}, \
  {"fileStableMs", SR_OPT_INT, "500", "take a file only once its size and modification time have held this long (0: at once)"}, \
  {"ignoreMissingFiles", SR_OPT_BOOL, "false", "skip, and count, a file of a logged batch that is gone instead of failing"}, \
  {"compactInterval", SR_OPT_INT, "10", "every this many batches the source's log is compacted into one file"}

#define LINE_SEP_OPTION \
  {"lineSep", SR_OPT_STRING, NULL, "the line end; by default \"\\n\", \"\\r\\n\" or \"\\r\""}

static const sr_option_spec json_options[] = {
  COMMON_OPTIONS,
  LINE_SEP_OPTION,
  {"inferTimestamp", SR_OPT_BOOL, "false", "without a schema: infer text that is an ISO-8601 timestamp as timestamp"},
  {"allowSingleQuotes", SR_OPT_BOOL, "true", "names and strings may be 'single-quoted' (false: such records are bad)"},
  {NULL},
};
static const sr_option_spec text_options[] = {COMMON_OPTIONS, LINE_SEP_OPTION, {NULL}};
static const sr_option_spec csv_options[] = {
  COMMON_OPTIONS,
  LINE_SEP_OPTION,
  {"header", SR_OPT_BOOL, "false", "the first line of each file names the columns"},
  {"sep", SR_OPT_STRING, ",", "the field separator (one character)"},
  {"inferSchema", SR_OPT_BOOL, "false", "without a schema: type the columns from the values (else all strings)"},
  {"multiLine", SR_OPT_BOOL, "false", "a quoted value may span lines"},
  {NULL},
};

static void entry_free(file_entry *e) { free(e->path); }

/* --- the log of planned batches ------------------------------------------------------- */

static void log_path(const sr_source *src, int64_t n, int compact, char *out, size_t outlen) {
  sr_clog_path(src->cfg.state_dir, n, compact, out, outlen);
}

static void log_tag(const files_source *fs, int64_t n, int compact, char *out, size_t outlen) {
  snprintf(out, outlen, "%s/%" PRId64 "%s@%s", fs->log_name, n, compact ? ".compact" : "",
           fs->query_id ? fs->query_id : "");
}

/* A logged batch: {"batch":N,"files":[{"path","size","mtime"}...]}, its batch id n (any id at
** most n when below_n). */
static int batch_ok(const json_t *b, int64_t n, int below_n) {
  json_t *files = json_object_get(b, "files"), *batch = json_object_get(b, "batch");
  int ok = json_is_integer(batch) && json_is_array(files) &&
           (below_n ? json_integer_value(batch) <= n : json_integer_value(batch) == n);
  size_t i;
  json_t *f;
  json_array_foreach(files, i, f) {
    ok = ok && json_is_string(json_object_get(f, "path")) && json_is_integer(json_object_get(f, "size")) &&
         json_is_integer(json_object_get(f, "mtime"));
  }
  return ok;
}

/* Loads log file n, checked: its checksum and tag (or for an entry from before checksums, a
** strict parse), its batch id, every file's path, size and mtime. A plain entry is one logged
** batch; a compact one is {"batch":N,"purgedBefore":T,"batches":[<logged batch>...]}, its
** batches in order. NULL with *err naming the file when it is missing or damaged. */
static json_t *log_load(const sr_source *src, int64_t n, int compact, sr_error **err) {
  const files_source *fs = src->impl;
  char path[4200], tag[160];
  log_path(src, n, compact, path, sizeof path);
  log_tag(fs, n, compact, tag, sizeof tag);
  size_t len;
  int checked;
  char *text = sr_fs_read_checked(path, tag, &len, &checked, err);
  if (!text) {
    if (*err) sr_error_prefix(*err, "the file source's log");
    return NULL;
  }
  json_error_t jerr;
  json_t *doc = json_loadb(text, len, 0, &jerr);
  free(text);
  int ok;
  if (!compact) {
    ok = batch_ok(doc, n, 0);
  } else {
    json_t *batches = json_object_get(doc, "batches"), *b, *purged = json_object_get(doc, "purgedBefore");
    ok = json_is_integer(json_object_get(doc, "batch")) && json_integer_value(json_object_get(doc, "batch")) == n &&
         json_is_array(batches) && (!purged || json_is_integer(purged));
    int64_t prev = -1;
    size_t i;
    json_array_foreach(batches, i, b) {
      ok = ok && batch_ok(b, n, 1) && json_integer_value(json_object_get(b, "batch")) > prev;
      if (ok) prev = json_integer_value(json_object_get(b, "batch"));
    }
    ok = ok && prev == n; /* its own batch last */
  }
  if (!ok) {
    json_decref(doc);
    sr_error_set(err, SR_ERROR, "%s is damaged: not the file source's log of batch %" PRId64 "%s", path, n,
                 checked ? "" : " (and it has no checksum line)");
    return NULL;
  }
  return doc;
}

/* Whether batch n is logged in a compact file (its own entry is the one read when both are
** there), and that file's path into out when out is not NULL. */
static int log_of_batch(const sr_source *src, int64_t n, char *out, size_t outlen) {
  char path[4200];
  log_path(src, n, 0, path, sizeof path);
  int compact = !sr_fs_exists(path) && (log_path(src, n, 1, path, sizeof path), sr_fs_exists(path));
  if (out) log_path(src, n, compact, out, outlen);
  return compact;
}

/* The files of logged batch n (a JSON array, a new reference): in its own entry, or in the
** compact file of its own id. NULL with *err naming the entry when it is missing or damaged. */
static json_t *log_read(const sr_source *src, int64_t n, sr_error **err) {
  int compact = log_of_batch(src, n, NULL, 0);
  json_t *doc = log_load(src, n, compact, err), *files = NULL;
  if (doc && !compact) files = json_object_get(doc, "files");
  if (doc && compact) files = json_object_get(json_array_get(json_object_get(doc, "batches"),
                                                             json_array_size(json_object_get(doc, "batches")) - 1),
                                              "files");
  json_incref(files);
  json_decref(doc);
  return files;
}

static int64_t log_offset_of(const json_t *offsets) {
  json_t *v = json_object_get(offsets, "logOffset");
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* Remembers a logged file for the change check at each listing (see the top). */
static void recent_add(files_source *fs, const char *path, int64_t size, int64_t mtime, int64_t batch) {
  enum { RECENT_MAX = 4096 };
  json_object_set_new(fs->recent, path, json_pack("[I,I,I,b]", (json_int_t)size, (json_int_t)mtime,
                                                  (json_int_t)batch, 0));
  while (json_object_size(fs->recent) > RECENT_MAX)
    json_object_del(fs->recent, json_object_iter_key(json_object_iter(fs->recent)));
}

/* Adds a logged batch's files to the seen set (and the recent ones to the change check). */
static void seen_add_batch(files_source *fs, json_t *files, int64_t n, int64_t last) {
  size_t i;
  json_t *f;
  json_array_foreach(files, i, f) {
    const char *p = json_string_value(json_object_get(f, "path"));
    int64_t size = json_integer_value(json_object_get(f, "size"));
    int64_t mtime = json_integer_value(json_object_get(f, "mtime"));
    sr_strset_add(fs->seen, p);
    if (n > last - 100) recent_add(fs, p, size, mtime, n);
    if (mtime > fs->newest_mtime_ms) fs->newest_mtime_ms = mtime;
  }
}

/* Adds a compact file's batches to the seen set; its purge time is the source's. */
static void seen_add_compact(files_source *fs, json_t *doc, int64_t last) {
  json_t *purged = json_object_get(doc, "purgedBefore"), *b;
  if (purged) fs->purged_before_ms = json_integer_value(purged);
  size_t i;
  json_array_foreach(json_object_get(doc, "batches"), i, b)
    seen_add_batch(fs, json_object_get(b, "files"), json_integer_value(json_object_get(b, "batch")), last);
}

/* Rebuilds the seen set from the log: the newest compact file at most the last logged entry,
** and the entries after it (see the top for what is checked). */
static sr_status load_log(sr_source *src, files_source *fs, sr_error **err) {
  int64_t last = src->cfg.resume_end ? log_offset_of(src->cfg.resume_end) : -1;
  sr_clog_scan scan;
  sr_clog_list(src->cfg.state_dir, last, &scan);
  /* an entry last + 1 is a plan whose offsets were never logged; its files are new again, and
  ** the next plan writes its own entry over it. Left in place until then: were the offsets
  ** removed by hand, the open fails later (the sink's log) with the entry still there. */
  char path[4200];
  if (scan.beyond >= 0) {
    log_path(src, scan.beyond, 0, path, sizeof path);
    return sr_error_set(err, SR_ERROR, "the file source's log %s (or .compact) is beyond the checkpoint's "
                        "newest offsets (which end at log entry %" PRId64 "): offsets files were removed or "
                        "replaced. Refusing to guess which files were read", path, last);
  }
  /* the compact file this interval would have written last, to name it when it is gone */
  int64_t expected = (last + 1) / fs->compact_interval * fs->compact_interval - 1;
  for (int64_t n = scan.compact + 1; n <= last; n++) {
    log_path(src, n, 0, path, sizeof path);
    if (sr_fs_exists(path)) continue;
    if (expected > scan.compact && n <= expected) log_path(src, expected, 1, path, sizeof path);
    return sr_error_set(err, SR_ERROR, "the file source's log %s is missing (the log runs to entry %"
                        PRId64 "): which files it read is lost", path, last);
  }
  if (scan.compact >= 0) {
    json_t *doc = log_load(src, scan.compact, 1, err);
    if (!doc) return SR_ERROR;
    seen_add_compact(fs, doc, last);
    json_decref(doc);
  }
  for (int64_t n = scan.compact + 1; n <= last; n++) {
    json_t *doc = log_load(src, n, 0, err);
    if (!doc) return SR_ERROR;
    seen_add_batch(fs, json_object_get(doc, "files"), n, last);
    json_decref(doc);
  }
  fs->last_compact = scan.compact;
  fs->next_log = last + 1;
  return SR_OK;
}

/* --- listing ----------------------------------------------------------------------------- */

static int visible(const char *name) { return name[0] != '.' && name[0] != '_'; }

static int64_t mtime_ms_of(const struct stat *st) {
  return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

static int64_t clock_ms(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A file of a recent batch changed since it was logged: reported once (see the top). */
static void check_recent(files_source *fs, const char *path, const struct stat *st) {
  json_t *r = json_object_get(fs->recent, path);
  if (!r || json_is_true(json_array_get(r, 3))) return;
  int64_t size = json_integer_value(json_array_get(r, 0)), mtime = json_integer_value(json_array_get(r, 1));
  if (st->st_size == size && mtime_ms_of(st) == mtime) return;
  sr_log("warning", NULL, -1, "warning: %s changed after it was read in a batch (log entry %" PRId64
          "): %" PRId64 " bytes then, %lld now%s. The change is not read: files must be complete "
          "when they appear (write them elsewhere and rename them in)", path,
          (int64_t)json_integer_value(json_array_get(r, 2)), size, (long long)st->st_size,
          st->st_size == size ? ", modified in place" : "");
  json_array_set_new(r, 3, json_true());
}

/* 1 when a listed file may be taken (fileStableMs, see the top); else it is remembered. */
static int is_stable(files_source *fs, const char *path, const struct stat *st, int64_t now_wall,
                     int64_t now_mono) {
  if (fs->stable_ms <= 0) return 1;
  int64_t mtime = mtime_ms_of(st);
  json_t *u = json_object_get(fs->unstable, path);
  if (now_wall - mtime >= fs->stable_ms) {
    if (u) json_object_del(fs->unstable, path);
    return 1;
  }
  if (u && json_integer_value(json_array_get(u, 0)) == st->st_size &&
      json_integer_value(json_array_get(u, 1)) == mtime) {
    if (now_mono - json_integer_value(json_array_get(u, 2)) >= fs->stable_ms) {
      json_object_del(fs->unstable, path);
      return 1;
    }
    return 0;
  }
  json_object_set_new(fs->unstable, path, json_pack("[I,I,I]", (json_int_t)st->st_size, (json_int_t)mtime,
                                                    (json_int_t)now_mono));
  return 0;
}

/* A listing in progress: the files found so far. */
typedef struct listing {
  file_entry *files;
  int n, cap;
  int64_t now_wall, now_mono;
} listing;

/* Adds the files of dir not yet seen to l, and those of its partition folders ("key=value",
** partition_dirs.h) below it: Spark's file source lists them all, and partition discovery gives
** their rows the folders' values. */
static sr_status list_dir(files_source *fs, const char *dir, int all, listing *l, int depth,
                          sr_error **err) {
  DIR *d = opendir(dir);
  if (!d) {
    if (errno == ENOENT) return SR_OK; /* not there yet (or gone): no data */
    return sr_error_set(err, SR_RETRY, "cannot list %s: %s", dir, strerror(errno));
  }
  sr_status st = SR_OK;
  struct dirent *de;
  while (st == SR_OK && (de = readdir(d))) {
    if (!visible(de->d_name)) continue;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    int seen = sr_strset_has(fs->seen, path);
    if (seen && !json_object_get(fs->recent, path)) continue;
    struct stat sb;
    if (stat(path, &sb) != 0) {
      if (errno == ENOENT) continue; /* removed since the listing */
      /* a file the query cannot see is not "no data": it would be skipped for good */
      st = sr_error_set(err, SR_ERROR, "cannot read %s: %s%s", path, strerror(errno),
                        errno == EACCES ? " (the directory lets this user list its names but "
                        "not reach its files)" : "");
      break;
    }
    if (S_ISDIR(sb.st_mode) && depth < SR_PARTITION_MAX && sr_partition_dir(de->d_name)) {
      st = list_dir(fs, path, all, l, depth + 1, err);
      continue;
    }
    if (!S_ISREG(sb.st_mode)) continue;
    if (seen) {
      check_recent(fs, path, &sb);
      continue;
    }
    if (!all && !is_stable(fs, path, &sb, l->now_wall, l->now_mono)) {
      if (fs->initial && sr_strset_has(fs->initial, path)) fs->unstable_initial++;
      continue;
    }
    if (l->n == l->cap) {
      l->cap = l->cap ? l->cap * 2 : 64;
      file_entry *grown = realloc(l->files, (size_t)l->cap * sizeof *l->files);
      if (!grown) { st = sr_error_set(err, SR_ERROR, "out of memory"); break; }
      l->files = grown;
    }
    file_entry *e = &l->files[l->n++];
    e->path = strdup(path);
    e->size = sb.st_size;
    e->mtime_ms = mtime_ms_of(&sb);
  }
  closedir(d);
  return st;
}

/* The regular files of the directory (and its partition folders) not yet seen, into *out
** (malloc'd array): all of them with `all`, else only the stable ones. Files of recent batches
** are checked for changes. */
static sr_status list_new_files(files_source *fs, int all, file_entry **out, int *nout, sr_error **err) {
  fs->unstable_initial = 0;
  listing l = {.now_wall = clock_ms(CLOCK_REALTIME), .now_mono = clock_ms(CLOCK_MONOTONIC)};
  sr_status st = list_dir(fs, fs->dir, all, &l, 0, err);
  if (st != SR_OK) { /* callers see no files on an error */
    for (int i = 0; i < l.n; i++) entry_free(&l.files[i]);
    free(l.files);
    l.files = NULL;
    l.n = 0;
  }
  *out = l.files;
  *nout = l.n;
  return st;
}

static int by_age(const void *a, const void *b) {
  const file_entry *x = a, *y = b;
  if (x->mtime_ms != y->mtime_ms) return x->mtime_ms < y->mtime_ms ? -1 : 1;
  return strcmp(x->path, y->path);
}

static int by_age_desc(const void *a, const void *b) { return by_age(b, a); }

/* --- the source callbacks ------------------------------------------------------------ */

/* A path that does not exist is refused before the query starts, as Spark's DataSource
** refuses it when the stream is defined ("Path does not exist: <path>",
** QueryCompilationErrors.dataPathNotExistError): otherwise availableNow would end having read
** nothing and a live trigger would wait forever. Once running, a directory that goes away is
** no data (list_new_files). */
static sr_status files_check(const sr_connector_config *cfg, sr_error **err) {
  const char *path = sr_opt_str(cfg->options, NULL, "path", NULL);
  if (!path) return sr_error_set(err, SR_ERROR, "`path` is required (the directory to read)");
  const char *clean = sr_opt_str(cfg->options, NULL, "cleanSource", "off");
  if (strcasecmp(clean, "off") && strcasecmp(clean, "archive") && strcasecmp(clean, "delete"))
    return sr_error_set(err, SR_ERROR, "cleanSource must be off, archive or delete, not \"%s\"", clean);
  if (strcasecmp(clean, "archive") == 0 && !sr_opt_str(cfg->options, NULL, "sourceArchiveDir", NULL))
    return sr_error_set(err, SR_ERROR, "cleanSource=archive needs sourceArchiveDir");
  const char *sep = sr_opt_str(cfg->options, NULL, "sep", ",");
  if (strlen(sep) != 1) return sr_error_set(err, SR_ERROR, "sep must be one character, not \"%s\"", sep);
  if (!sr_fs_exists(path)) return sr_error_set(err, SR_ERROR, "Path does not exist: %s", path);
  return SR_OK;
}

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
  const char *max_files = sr_opt_str(cfg->options, spec, "maxFilesPerTrigger", NULL);
  /* unset is no limit; set, it must be positive (Spark's FileStreamOptions refuses 0 too) */
  if (max_files && fs->max_files <= 0)
    return sr_error_set(err, SR_ERROR, "maxFilesPerTrigger must be a positive integer, not \"%s\"",
                        max_files);
  if (fs->max_bytes < 0) return sr_error_set(err, SR_ERROR, "maxBytesPerTrigger must be positive");
  /* Spark: lineSep may not be empty; csv's is one character (two tolerated, for "\r\n") */
  const char *line_sep = sr_opt_str(cfg->options, spec, "lineSep", NULL);
  if (sr_linesep_set(&fs->line_sep, line_sep, fs->format == FMT_CSV ? 2 : SR_LINESEP_MAX) != 0)
    return sr_error_set(err, SR_ERROR, "lineSep must be %s, not \"%s\"",
                        fs->format == FMT_CSV ? "one character" : "1 to 16 bytes", line_sep);
  if (fs->format == FMT_CSV) {
    const char *sep = sr_opt_str(cfg->options, spec, "sep", ",");
    if (strlen(sep) != 1) return sr_error_set(err, SR_ERROR, "sep must be one character, not \"%s\"", sep);
    fs->csv.sep = sep[0];
    fs->csv.header = sr_opt_bool(cfg->options, spec, "header", 0);
    fs->csv.multiline = sr_opt_bool(cfg->options, spec, "multiLine", 0);
    fs->csv.line_sep = fs->line_sep;
  }
  fs->stable_ms = sr_opt_int(cfg->options, spec, "fileStableMs", 500);
  fs->ignore_missing = sr_opt_bool(cfg->options, spec, "ignoreMissingFiles", 0);
  fs->single_quotes = sr_opt_bool(cfg->options, spec, "allowSingleQuotes", 1);
  if (fs->stable_ms < 0) return sr_error_set(err, SR_ERROR, "fileStableMs must be 0 or more");
  fs->query_id = cfg->query_id;
  {
    /* the log's name in the checkpoint ("sources/0"), for the tags of its entries */
    size_t n = cfg->checkpoint_dir ? strlen(cfg->checkpoint_dir) : 0;
    const char *rel = n && strncmp(cfg->state_dir, cfg->checkpoint_dir, n) == 0 && cfg->state_dir[n] == '/'
                          ? cfg->state_dir + n + 1 : cfg->state_dir;
    snprintf(fs->log_name, sizeof fs->log_name, "%s", rel);
  }
  fs->compact_interval = sr_opt_int(cfg->options, spec, "compactInterval", SR_CLOG_DEFAULT_INTERVAL);
  if (fs->compact_interval < 1) return sr_error_set(err, SR_ERROR, "compactInterval must be 1 or more");
  fs->last_compact = -1;
  fs->purged_before_ms = INT64_MIN;
  fs->seen = sr_strset_new();
  fs->unstable = json_object();
  fs->recent = json_object();
  if (!fs->seen || !fs->unstable || !fs->recent) return sr_error_set(err, SR_ERROR, "out of memory");
  if (load_log(src, fs, err) != SR_OK) return SR_ERROR;
  fs->first_batch = fs->next_log == 0;
  if (src->available_now) {
    /* availableNow: the files present now are the whole input */
    file_entry *files;
    int n;
    if (list_new_files(fs, 1, &files, &n, err) != SR_OK) return SR_ERROR;
    fs->initial = sr_strset_new();
    for (int i = 0; i < n; i++) {
      sr_strset_add(fs->initial, files[i].path);
      entry_free(&files[i]);
    }
    free(files);
  }
  return SR_OK;
}

/* maxFileAge applies: not when latestFirst and maxFilesPerTrigger are both set (Spark's
** FileStreamSource.maxFileAgeMs is then Long.MaxValue), nor when it is 0. */
static int age_applies(const files_source *fs) {
  return fs->max_file_age_ms > 0 && !(fs->latest_first && fs->max_files > 0);
}

/* Keeps the files a batch may take: age, availableNow's snapshot, the rate limits. */
static int select_files(files_source *fs, sr_source *src, file_entry *files, int n) {
  int kept = 0;
  for (int i = 0; i < n; i++) {
    if (files[i].mtime_ms > fs->newest_mtime_ms) fs->newest_mtime_ms = files[i].mtime_ms;
  }
  for (int i = 0; i < n; i++) {
    int ok = !fs->initial || sr_strset_has(fs->initial, files[i].path);
    /* Spark: maxFileAge applies from the second batch on (age_applies) */
    if (ok && !fs->first_batch && age_applies(fs))
      ok = files[i].mtime_ms >= fs->newest_mtime_ms - fs->max_file_age_ms;
    if (ok && files[i].mtime_ms < fs->purged_before_ms) ok = 0; /* purged from the log */
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

/* Drops from a compact file's batches the files older than maxFileAge before the newest seen,
** as SeenFilesMap.purge drops them, and the batches left without files; not the batch being
** logged (its last). Files that old are refused by the listing anyway, and purged_before_ms
** keeps refusing them should maxFileAge grow later. */
static void purge_batches(files_source *fs, json_t *batches) {
  if (!age_applies(fs)) return;
  int64_t limit = fs->newest_mtime_ms - fs->max_file_age_ms;
  if (limit > fs->purged_before_ms) fs->purged_before_ms = limit;
  size_t nb = json_array_size(batches);
  for (size_t i = nb - 1; i-- > 0;) {
    json_t *files = json_object_get(json_array_get(batches, i), "files");
    for (size_t j = json_array_size(files); j-- > 0;)
      if (json_integer_value(json_object_get(json_array_get(files, j), "mtime")) < fs->purged_before_ms)
        json_array_remove(files, j);
    if (json_array_size(files) == 0) json_array_remove(batches, i);
  }
}

/* The compact file of entry n (see compact_log.h): the batches of the previous compact file
** and of the entries after it, purged, then batch n's files. Its batches become the seen set:
** files purged from the log are forgotten in memory too. Returns a new doc, NULL with *err. */
static json_t *compact_doc(sr_source *src, files_source *fs, int64_t n, json_t *list, sr_error **err) {
  json_t *batches = json_array();
  if (fs->last_compact >= 0) {
    json_t *prev = log_load(src, fs->last_compact, 1, err);
    if (!prev) { json_decref(batches); return NULL; }
    json_array_extend(batches, json_object_get(prev, "batches"));
    json_decref(prev);
  }
  for (int64_t k = fs->last_compact + 1; k < n; k++) {
    json_t *entry = log_load(src, k, 0, err);
    if (!entry) { json_decref(batches); return NULL; }
    json_array_append(batches, entry);
    json_decref(entry);
  }
  json_array_append_new(batches, json_pack("{s:I,s:O}", "batch", (json_int_t)n, "files", list));
  purge_batches(fs, batches);
  json_t *doc = json_pack("{s:I,s:o}", "batch", (json_int_t)n, "batches", batches);
  if (fs->purged_before_ms != INT64_MIN)
    json_object_set_new(doc, "purgedBefore", json_integer((json_int_t)fs->purged_before_ms));
  sr_strset *seen = sr_strset_new();
  if (!doc || !seen) {
    json_decref(doc);
    sr_strset_free(seen);
    sr_error_set(err, SR_ERROR, "out of memory");
    return NULL;
  }
  sr_strset_free(fs->seen);
  fs->seen = seen;
  seen_add_compact(fs, doc, INT64_MAX); /* the recent files' change check goes on as it was */
  return doc;
}

/* Logs entry n with the files of list (stolen): its own file, or every compactInterval-th
** entry a compact file; then removes what the previous compact file covers (compact_log.h). */
static sr_status log_write(sr_source *src, files_source *fs, int64_t n, json_t *list, sr_error **err) {
  int compact = sr_clog_is_compact(n, fs->compact_interval);
  json_t *doc = compact ? compact_doc(src, fs, n, list, err)
                        : json_pack("{s:I,s:O}", "batch", (json_int_t)n, "files", list);
  json_decref(list);
  if (!doc) return err && *err ? SR_ERROR : sr_error_set(err, SR_ERROR, "out of memory");
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  char path[4200], tag[160];
  /* an entry n of the other kind is a plan never logged in offsets (or of another interval) */
  log_path(src, n, !compact, path, sizeof path);
  unlink(path);
  log_path(src, n, compact, path, sizeof path);
  log_tag(fs, n, compact, tag, sizeof tag);
  size_t len = text ? strlen(text) : 0;
  char *body = text ? realloc(text, len + 2) : NULL;
  if (body) body[len++] = '\n';
  sr_status st = body ? sr_fs_write_checked(path, tag, body, len, err)
                      : sr_error_set(err, SR_ERROR, "out of memory");
  free(body ? body : text);
  if (st != SR_OK) return st;
  sr_crash_point("source_compact", compact ? n : -1);
  /* the previous compact file's batch is logged in offsets: what it covers can go */
  sr_clog_cleanup(src->cfg.state_dir, fs->last_compact, n);
  if (compact) fs->last_compact = n;
  return SR_OK;
}

static sr_status files_plan(sr_source *src, const json_t *start, json_t **end, sr_error **err) {
  files_source *fs = src->impl;
  *end = NULL;
  file_entry *files;
  int n;
  /* availableNow and once end when a plan finds nothing: they wait here for the files present
  ** at open to become stable, up to a bound past which those left are for a later run */
  int64_t waited = 0, bound = fs->stable_ms * 10 > 10000 ? fs->stable_ms * 10 : 10000;
  for (;;) {
    sr_status listed = list_new_files(fs, 0, &files, &n, err);
    if (listed != SR_OK) return listed;
    if (!fs->initial || fs->unstable_initial == 0) break;
    if (waited >= bound) {
      sr_log("warning", NULL, -1, "warning: %s: %" PRId64 " file(s) still changing after %" PRId64
              " ms (fileStableMs %" PRId64 "); left for a later run", fs->dir, fs->unstable_initial,
              waited, fs->stable_ms);
      break;
    }
    for (int i = 0; i < n; i++) entry_free(&files[i]);
    free(files);
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
    waited += 20;
  }
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
  sr_status st = log_write(src, fs, log_id, list, err);
  if (st == SR_OK) {
    for (int i = 0; i < n; i++) {
      sr_strset_add(fs->seen, files[i].path);
      recent_add(fs, files[i].path, files[i].size, files[i].mtime_ms, log_id);
    }
    fs->next_log = log_id + 1;
    fs->first_batch = 0;
    *end = json_pack("{s:I}", "logOffset", (json_int_t)log_id);
  }
  for (int i = 0; i < n; i++) entry_free(&files[i]);
  free(files);
  return st;
}

/* Opens a file of a logged batch and checks it against its log entry f (see the top):
** *fd = -1 when it is gone and ignoreMissingFiles skips it; *size = the bytes to read, the
** size it was listed with. */
static sr_status open_listed(sr_source *src, files_source *fs, const json_t *f, int64_t log_id,
                             int *fd, int64_t *size, sr_error **err) {
  const char *path = json_string_value(json_object_get(f, "path"));
  int64_t listed = json_integer_value(json_object_get(f, "size"));
  int64_t mtime = json_integer_value(json_object_get(f, "mtime"));
  char log[4200];
  log_of_batch(src, log_id, log, sizeof log);
  *fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (*fd < 0 && errno == ENOENT && fs->ignore_missing) {
    sr_log("warning", NULL, -1, "warning: %s, a file of the batch logged in %s, is gone; skipped "
            "(ignoreMissingFiles)", path, log);
    fs->missing_in_last_batch++;
    return SR_OK;
  }
  if (*fd < 0 || fstat(*fd, &st) != 0) {
    int e = errno;
    if (*fd >= 0) close(*fd);
    *fd = -1;
    if (e == ENOENT)
      return sr_error_set(err, SR_ERROR, "a file of this batch is gone: %s (listed in %s); its rows "
                          "cannot be read. Restore it, or set ignoreMissingFiles = true to skip it "
                          "(its rows are then lost)", path, log);
    return sr_error_set(err, SR_ERROR, "cannot open %s: %s", path, strerror(e));
  }
  if (st.st_size < listed) {
    close(*fd);
    *fd = -1;
    return sr_error_set(err, SR_ERROR, "%s was truncated after it was listed for this batch (in %s): %"
                        PRId64 " bytes then, %lld now; the rows logged for the batch cannot be read",
                        path, log, listed, (long long)st.st_size);
  }
  if (st.st_size > listed || mtime_ms_of(&st) != mtime) {
    sr_log("warning", NULL, -1, "warning: %s changed after it was listed for a batch (in %s): %" PRId64
            " bytes then, %lld now%s. The batch reads the %" PRId64 " bytes it listed; the change is "
            "not read", path, log, listed, (long long)st.st_size,
            st.st_size == listed ? ", modified in place" : "", listed);
    json_t *r = json_object_get(fs->recent, path);
    if (r) json_array_set_new(r, 3, json_true()); /* reported */
  }
  *size = listed;
  return SR_OK;
}

/* Reads exactly n bytes of fd at its position into buf; a short read means the file was
** truncated while being read. */
static sr_status read_exactly(int fd, const char *path, char *buf, size_t n, sr_error **err) {
  size_t got;
  if (sr_fs_read_fd(fd, path, buf, n, &got, err) != SR_OK) return SR_ERROR;
  if (got < n)
    return sr_error_set(err, SR_ERROR, "%s was truncated while its batch read it (%zu bytes short)", path,
                        n - got);
  return SR_OK;
}

static void bad_to_sink(void *ud, const char *origin, int64_t line, const char *record, size_t len,
                        const char *reason) {
  sr_bad_record(ud, origin, line, record, len, reason);
}

/* JSON lines: a file is read in pieces of about JSON_PIECE bytes into one reused buffer and
** each piece, cut after its last line end, is decoded at once. The decoder then reads bytes that
** read() has just put in the cache, and no buffer of a file's size is allocated (and faulted
** in) per file. A line longer than a piece grows the buffer. */
enum { JSON_PIECE = 256 * 1024 };

static sr_status read_json_file(sr_source *src, files_source *fs, const char *path, int64_t size,
                                lua_State *L, int rows_idx, int *nrows, sr_error **err) {
  sr_buf *b = &fs->chunk;
  int64_t line = 1, nlines, left = size;
  b->len = 0;
  sr_status st = SR_OK;
  for (int eof = 0; !eof;) {
    if (sr_buf_reserve(b, JSON_PIECE) != 0) {
      st = sr_error_set(err, SR_ERROR, "out of memory reading %s", path);
      break;
    }
    size_t want = left < JSON_PIECE ? (size_t)left : JSON_PIECE;
    if ((st = read_exactly(fs->fd, path, b->data + b->len, want, err)) != SR_OK) break;
    left -= (int64_t)want;
    eof = left == 0;
    b->len += want;
    fs->bytes_in_last_batch += (int64_t)want;
    size_t piece = eof ? b->len : sr_lines_whole(b->data, b->len, &fs->line_sep, 0);
    if (piece == 0) continue;
    sr_json_decode_piece_sep(L, rows_idx, nrows, b->data, piece, src->cfg.schema, &fs->line_sep,
                             fs->single_quotes, path, line, bad_to_sink, src->cfg.bad, &nlines);
    line += nlines;
    memmove(b->data, b->data + piece, b->len - piece);
    b->len -= piece;
  }
  return st;
}

/* The files of the batch ending at `end` (its log entry), counted for describe(). */
static json_t *batch_files(sr_source *src, const json_t *end, sr_error **err) {
  files_source *fs = src->impl;
  json_t *files = log_read(src, log_offset_of(end), err);
  fs->files_in_last_batch = files ? (int64_t)json_array_size(files) : 0;
  fs->bytes_in_last_batch = 0;
  fs->missing_in_last_batch = 0;
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
    int64_t size;
    lua_checkstack(L, 8);
    if (fs->fd >= 0) close(fs->fd); /* left open by a Lua error in an earlier read */
    if ((st = open_listed(src, fs, f, log_offset_of(end), &fs->fd, &size, err)) != SR_OK) break;
    if (fs->fd < 0) continue; /* gone, skipped */
    int before = *nrows;
    if (fs->format == FMT_JSON) {
      st = read_json_file(src, fs, path, size, L, rows_idx, nrows, err);
    } else {
      char *buf = malloc((size_t)size + 1);
      if (!buf) st = sr_error_set(err, SR_ERROR, "out of memory reading %s", path);
      else if ((st = read_exactly(fs->fd, path, buf, (size_t)size, err)) == SR_OK) {
        buf[size] = '\0';
        fs->bytes_in_last_batch += size;
        sr_csv_decode_lines(L, rows_idx, nrows, buf, (size_t)size, src->cfg.schema, &fs->csv, path, 1,
                            bad_to_sink, src->cfg.bad);
      }
      free(buf);
    }
    close(fs->fd);
    fs->fd = -1;
    if (st != SR_OK) break;
    sr_partitions_set(L, rows_idx, before + 1, *nrows, src->cfg.schema, fs->dir, path);
  }
  json_decref(files);
  return st;
}

/* text: a record per line, its text without the line end ("\n", "\r\n", "\r" or lineSep), pointing into
** the batch's bytes, which stay until the next read (the row view's lifetime). The files are
** read, not mapped: a mapped file truncated while its batch ran would end the process with
** SIGBUS, and a read one cannot change under the batch. The bytes go into one buffer reused
** from batch to batch, so after the first batches its pages are already faulted in (read()
** into fresh memory took 48 ms for a 12 MB file, page faults mostly, and into populated pages
** as long as mapping did, 11-17 ms).
** lua/streamrun/sources/text.lua makes the rows {value = line}. */
static const sr_view_column text_columns[] = {{"value", SR_VIEW_TEXT, 0}, {NULL, 0, 0}};

/* Reads the file at fd (size bytes) onto fs->text and adds a record per line to fs->lines,
** its pointer an offset into fs->text until text_read_view fixes them up. */
static sr_status text_add_file(files_source *fs, const char *path, int fd, int64_t size, sr_error **err) {
  if (size == 0) return SR_OK;
  size_t at = fs->text.len;
  if (sr_buf_reserve(&fs->text, (size_t)size + 1) != 0)
    return sr_error_set(err, SR_ERROR, "out of memory reading %s", path);
  if (read_exactly(fd, path, fs->text.data + at, (size_t)size, err) != SR_OK) return SR_ERROR;
  fs->text.len += (size_t)size;
  fs->bytes_in_last_batch += size;
  const char *base = fs->text.data;
  for (const char *p = base + at, *end = base + at + size, *next; p < end; p = next) {
    const char *stop = sr_line_end(p, end, &fs->line_sep, &next);
    sr_view_text line = {(const char *)(uintptr_t)(p - base), (size_t)(stop - p)};
    if (sr_buf_append(&fs->lines, &line, sizeof line) != 0)
      return sr_error_set(err, SR_ERROR, "out of memory reading %s", path);
  }
  return SR_OK;
}

static sr_status text_read_view(sr_source *src, const json_t *start, const json_t *end,
                                sr_row_view *view, sr_error **err) {
  files_source *fs = src->impl;
  json_t *files = batch_files(src, end, err);
  if (!files) return SR_ERROR;
  fs->text.len = 0;
  fs->lines.len = 0;
  size_t i;
  json_t *f;
  sr_status st = SR_OK;
  json_array_foreach(files, i, f) {
    int fd;
    int64_t size;
    if ((st = open_listed(src, fs, f, log_offset_of(end), &fd, &size, err)) != SR_OK) break;
    if (fd < 0) continue;
    st = text_add_file(fs, json_string_value(json_object_get(f, "path")), fd, size, err);
    close(fd);
    if (st != SR_OK) break;
  }
  json_decref(files);
  if (st != SR_OK) return st;
  /* the text buffer is complete (no more moves): offsets become pointers */
  sr_view_text *lines = (sr_view_text *)fs->lines.data;
  size_t count = fs->lines.len / sizeof *lines;
  for (size_t k = 0; k < count; k++) lines[k].ptr = fs->text.data + (uintptr_t)lines[k].ptr;
  *view = (sr_row_view){.records = fs->lines.data, .count = (int)count,
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
  json_object_set_new(m, "numMissingFiles", json_integer(fs->missing_in_last_batch));
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
  sr_buf_free(&fs->text);
  sr_buf_free(&fs->lines);
  json_decref(fs->unstable);
  json_decref(fs->recent);
  if (fs->fd >= 0) close(fs->fd);
  free(fs->dir);
  free(fs->clean);
  free(fs->archive_dir);
  free(fs);
  src->impl = NULL;
}

/* --- schema inference ---------------------------------------------------------------- */

static int by_path(const void *a, const void *b) {
  return strcmp(((const file_entry *)a)->path, ((const file_entry *)b)->path);
}

/* Every visible regular file of the directory now (Spark lists them all, read or not). */
static sr_status list_all_files(const char *dir, file_entry **files, int *n, sr_error **err) {
  files_source probe = {.dir = (char *)dir, .seen = sr_strset_new()};
  if (!probe.seen) return sr_error_set(err, SR_ERROR, "out of memory");
  sr_status st = list_new_files(&probe, 1, files, n, err);
  sr_strset_free(probe.seen);
  if (st == SR_OK && *n > 0) qsort(*files, (size_t)*n, sizeof **files, by_path);
  return st;
}

/* Reads one file in pieces cut after a line end, handing each to the JSON inference. */
static sr_status infer_json_file(sr_json_infer *inf, const char *path, sr_buf *b, sr_error **err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sr_error_set(err, SR_ERROR, "cannot open %s: %s", path, strerror(errno));
  b->len = 0;
  sr_status st = SR_OK;
  for (int eof = 0; !eof && st == SR_OK;) {
    size_t got;
    if (sr_buf_reserve(b, JSON_PIECE) != 0) { st = sr_error_set(err, SR_ERROR, "out of memory"); break; }
    if ((st = sr_fs_read_fd(fd, path, b->data + b->len, JSON_PIECE, &got, err)) != SR_OK) break;
    eof = got < JSON_PIECE;
    b->len += got;
    const char *nl = eof ? NULL : memrchr(b->data, '\n', b->len);
    size_t piece = eof ? b->len : nl ? (size_t)(nl - b->data) + 1 : 0;
    if (piece == 0) continue;
    if (sr_json_infer_add(inf, b->data, piece) != 0) st = sr_error_set(err, SR_ERROR, "out of memory");
    memmove(b->data, b->data + piece, b->len - piece);
    b->len -= piece;
  }
  close(fd);
  return st;
}

/* JSON inference over a share of the files: every nth file from first, in a thread of its own
** (the scan is the start-up's cost; files are independent and their results merge). */
typedef struct infer_share {
  const file_entry *files;
  int nfiles, first, step;
  sr_json_infer *inf;
  sr_status st;
  sr_error *err;
} infer_share;

static void *infer_share_run(void *arg) {
  infer_share *sh = arg;
  sr_buf b = {0};
  for (int i = sh->first; i < sh->nfiles && sh->st == SR_OK; i += sh->step)
    sh->st = infer_json_file(sh->inf, sh->files[i].path, &b, &sh->err);
  sr_buf_free(&b);
  return NULL;
}

/* Infers the JSON schema of files into *out, on up to as many threads as there are cores (4 at
** most). */
static sr_status infer_json_files(const file_entry *files, int n, int infer_timestamp,
                                  int single_quotes, sr_schema **out, sr_error **err) {
  enum { MAX_SHARES = 4 };
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int nshares = cores < 1 ? 1 : cores > MAX_SHARES ? MAX_SHARES : (int)cores;
  if (nshares > n) nshares = n;
  infer_share shares[MAX_SHARES];
  pthread_t threads[MAX_SHARES];
  int started[MAX_SHARES] = {0};
  sr_status st = SR_OK;
  for (int i = 0; i < nshares; i++) {
    shares[i] = (infer_share){.files = files, .nfiles = n, .first = i, .step = nshares,
                              .inf = sr_json_infer_new(infer_timestamp, single_quotes)};
    if (!shares[i].inf) { shares[i].st = sr_error_set(&shares[i].err, SR_ERROR, "out of memory"); continue; }
    if (i > 0) started[i] = pthread_create(&threads[i], NULL, infer_share_run, &shares[i]) == 0;
    if (i > 0 && !started[i]) shares[i].step = 0; /* no thread: run below, on this one */
  }
  if (shares[0].inf) infer_share_run(&shares[0]);
  for (int i = 1; i < nshares; i++) {
    if (started[i]) pthread_join(threads[i], NULL);
    else if (shares[i].inf) { shares[i].step = nshares; infer_share_run(&shares[i]); }
  }
  for (int i = 0; i < nshares; i++) {
    if (shares[i].st != SR_OK && st == SR_OK) {
      st = shares[i].st;
      *err = shares[i].err;
      shares[i].err = NULL;
    }
    if (st == SR_OK && i > 0 && sr_json_infer_merge(shares[0].inf, shares[i].inf) != 0)
      st = sr_error_set(err, SR_ERROR, "out of memory");
  }
  if (st == SR_OK && !(*out = sr_json_infer_schema(shares[0].inf))) st = sr_error_set(err, SR_ERROR, "out of memory");
  for (int i = 0; i < nshares; i++) {
    sr_error_free(shares[i].err);
    sr_json_infer_free(shares[i].inf);
  }
  return st;
}

/* Adds to schema the partition columns of the files' folders (partition_dirs.h), in the order of
** their levels, each of the widest type its values have (string when only null): Spark's
** inferred partition schema, appended to the data schema; a data column of the same name takes
** the partition's type, as the folder's value is what its rows get. 0, or -1 out of memory. */
static int add_partition_columns(sr_schema *schema, const char *dir, const file_entry *files, int n) {
  sr_partition parts[SR_PARTITION_MAX];
  char names[SR_PARTITION_MAX * 2][256];
  int types[SR_PARTITION_MAX * 2], ncols = 0;
  for (int i = 0; i < n; i++) {
    int np = sr_partitions_of(dir, files[i].path, parts, SR_PARTITION_MAX);
    for (int k = 0; k < np; k++) {
      int c = 0;
      while (c < ncols && strcmp(names[c], parts[k].name) != 0) c++;
      if (c == ncols) {
        if (ncols == SR_PARTITION_MAX * 2) continue;
        memcpy(names[ncols], parts[k].name, sizeof names[ncols]);
        types[ncols++] = -1;
      }
      if (!parts[k].is_null) types[c] = (int)sr_partition_widen(types[c], sr_partition_infer(&parts[k]));
    }
  }
  for (int c = 0; c < ncols; c++) {
    sr_type t = types[c] < 0 ? SR_TYPE_STRING : (sr_type)types[c];
    int f = sr_schema_find(schema, names[c]);
    sr_field *field = f >= 0 ? &schema->fields[f] : NULL;
    if (field && !field->children && !field->element) field->type = t;
    else if (!field && !sr_schema_add(schema, names[c], t)) return -1;
  }
  return 0;
}

/* DataSource.sourceSchema with schema inference on: the schema of every file in the directory
** now; no file is an error, as in Spark ("Unable to infer schema for JSON. It must be specified
** manually."; FileStreamSourceSuite "FileStreamSource schema: json, no existing files"). */
static sr_status files_infer_schema(const sr_options *options, file_format format, sr_schema **out,
                                    sr_error **err) {
  const sr_option_spec *spec = format == FMT_CSV ? csv_options : json_options;
  const char *what = format == FMT_CSV ? "CSV" : "JSON";
  const char *dir = sr_opt_str(options, spec, "path", NULL);
  *out = NULL;
  if (!dir) return sr_error_set(err, SR_ERROR, "`path` is required (the directory to read)");
  /* Spark's DataSource checks the path before it infers (files_check) */
  if (!sr_fs_exists(dir))
    return sr_error_set(err, SR_ERROR, "%s source: Path does not exist: %s",
                        format == FMT_CSV ? "csv" : "json", dir);
  file_entry *files = NULL;
  int n = 0;
  if (list_all_files(dir, &files, &n, err) != SR_OK) return SR_ERROR;
  if (n == 0) {
    free(files);
    return sr_error_set(err, SR_ERROR, "Unable to infer schema for %s: %s has no file to infer it from. "
                        "It must be specified manually: give the source a `schema` (or put a file "
                        "there before the query starts)", what, dir);
  }
  sr_status st = SR_OK;
  if (format == FMT_JSON) {
    st = infer_json_files(files, n, sr_opt_bool(options, spec, "inferTimestamp", 0),
                          sr_opt_bool(options, spec, "allowSingleQuotes", 1), out, err);
  } else {
    const char *sep = sr_opt_str(options, spec, "sep", ",");
    sr_csv_options o = {.sep = sep[0] ? sep[0] : ',', .header = sr_opt_bool(options, spec, "header", 0)};
    int types = sr_opt_bool(options, spec, "inferSchema", 0);
    sr_csv_infer *inf = sr_csv_infer_new(&o, types);
    if (!inf) st = sr_error_set(err, SR_ERROR, "out of memory");
    /* without inferSchema only the first record of the first file matters */
    for (int i = 0; i < n && st == SR_OK && (types || i == 0); i++) {
      size_t len;
      char *buf = sr_fs_read_all(files[i].path, &len, err);
      if (!buf) { st = SR_ERROR; break; }
      if (sr_csv_infer_add_file(inf, buf, len) != 0) st = sr_error_set(err, SR_ERROR, "out of memory");
      free(buf);
    }
    if (st == SR_OK && !(*out = sr_csv_infer_schema(inf))) st = sr_error_set(err, SR_ERROR, "out of memory");
    sr_csv_infer_free(inf);
  }
  if (st == SR_OK && add_partition_columns(*out, dir, files, n) != 0)
    st = sr_error_set(err, SR_ERROR, "out of memory");
  for (int i = 0; i < n; i++) entry_free(&files[i]);
  free(files);
  return st;
}

static sr_status json_infer_schema(const sr_options *o, sr_schema **out, sr_error **err) {
  return files_infer_schema(o, FMT_JSON, out, err);
}

static sr_status csv_infer_schema(const sr_options *o, sr_schema **out, sr_error **err) {
  return files_infer_schema(o, FMT_CSV, out, err);
}

#define FILE_SOURCE(fmt, opts, schema_needed, ...)                                         \
  {                                                                                      \
    .name = fmt, .options = opts, .needs_schema = schema_needed, .check = files_check,   \
    .open = files_open,                                                                  \
    .plan = files_plan, .commit = files_commit, .describe = files_describe,              \
    .drained = files_drained, .close = files_close, __VA_ARGS__                          \
  }

const sr_source_ops sr_source_json = FILE_SOURCE("json", json_options, 0, .read = files_read,
                                                 .infer_schema = json_infer_schema);
const sr_source_ops sr_source_csv = FILE_SOURCE("csv", csv_options, 0, .read = files_read,
                                                .infer_schema = csv_infer_schema);
const sr_source_ops sr_source_text = FILE_SOURCE("text", text_options, 0, .read_view = text_read_view,
                                                 .view_module = "streamrun.sources.text");
