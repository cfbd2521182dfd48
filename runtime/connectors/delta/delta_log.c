/*
** delta_log: see delta_log.h.
**
** ON-DISK FORMAT (delta-io/delta PROTOCOL.md; only what this file reads and writes)
**
**   <table>/_delta_log/NNNNNNNNNNNNNNNNNNNN.json   commit N (20 digits): one action per line,
**        {"commitInfo":{...}} {"protocol":{...}} {"metaData":{...}} {"add":{...}}
**        {"remove":{...}} {"txn":{"appId","version","lastUpdated"}}; other actions are skipped
**   <table>/_delta_log/N.checkpoint.parquet         the replayed state at N, one action per
**        row in struct columns txn, add, remove, metaData, protocol (multi-part checkpoints
**        N.checkpoint.O.P.parquet are read too; V2/UUID-named ones are not)
**   <table>/_delta_log/_last_checkpoint             {"version","size","sizeInBytes",
**        "numOfAddFiles"}: a hint where the newest checkpoint is
**
** Replay: the newest complete checkpoint at or before the version wanted, then each JSON commit
** after it in order. The latest protocol and metaData win, a txn's latest version per appId
** wins, an add puts its path among the live files and a remove takes it out (keeping it as a
** tombstone).
**
** WRITE ORDER AND WHY A CRASH IS SAFE
**
** 1. Data files are written and fsynced (with their directories) before the commit naming
**    them exists; a file no commit names is invisible to every reader, so a crash before the
**    commit only leaves an orphan (as with Spark; VACUUM removes such files).
** 2. A commit is written to a temp file, fsynced, then link(2)ed to its name (sr_fs_write_new),
**    which fails when the name exists: a commit is never replaced, so of two writers racing
**    for version N exactly one wins; the other sees the name taken (*lost) and retries at N+1
**    on top of the winner. A crash leaves the commit either absent or complete.
** 3. A checkpoint at N is written only after commit N exists, by rename of a complete temp
**    file; _last_checkpoint is replaced the same way afterwards, and only by a newer version.
**    Readers that find no checkpoint, or a stale _last_checkpoint, replay more JSON commits:
**    checkpoints change how fast a table is read, never what it holds.
*/
#include "delta_log.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "delta_schema.h"
#include "fsutil.h"
#include "options.h"
#include "parquet_read.h"
#include "parquet_write.h"

#define WRITABLE_WRITER_VERSION 2
#define DEFAULT_TOMBSTONE_RETENTION_MS (7LL * 86400 * 1000)
#define DEFAULT_LOG_RETENTION_MS (30LL * 86400 * 1000) /* delta.logRetentionDuration */
#define DAY_MS (86400LL * 1000)

void sr_delta_log_file(const char *table, int64_t version, const char *suffix, char *out,
                       size_t outlen) {
  snprintf(out, outlen, "%s/_delta_log/%020" PRId64 "%s", table, version, suffix);
}

/* --- the snapshot -------------------------------------------------------------------------- */

static void free_partition_columns(sr_delta_snapshot *s) {
  for (int i = 0; i < s->npartition; i++) free(s->partition_columns[i]);
  free(s->partition_columns);
  s->partition_columns = NULL;
  s->npartition = 0;
}

void sr_delta_snapshot_free(sr_delta_snapshot *s) {
  if (!s) return;
  free(s->table);
  json_decref(s->protocol);
  json_decref(s->metadata);
  sr_schema_free(s->schema);
  free_partition_columns(s);
  json_decref(s->files);
  json_decref(s->tombstones);
  json_decref(s->txns);
  free(s);
}

static sr_delta_snapshot *snapshot_new(const char *path, sr_error **err) {
  sr_delta_snapshot *s = calloc(1, sizeof *s);
  if (s) {
    s->table = strdup(path);
    s->files = json_object();
    s->tombstones = json_object();
    s->txns = json_object();
  }
  if (!s || !s->table || !s->files || !s->tombstones || !s->txns) {
    sr_delta_snapshot_free(s);
    sr_error_set(err, SR_ERROR, "out of memory");
    return NULL;
  }
  size_t len = strlen(s->table);
  while (len > 1 && s->table[len - 1] == '/') s->table[--len] = '\0';
  s->version = -1;
  s->checkpoint_version = -1;
  return s;
}

static sr_status apply_metadata(sr_delta_snapshot *s, json_t *md, sr_error **err) {
  const char *schema_string = json_string_value(json_object_get(md, "schemaString"));
  sr_schema *schema = sr_delta_schema_parse(schema_string, err);
  if (!schema) return SR_ERROR;
  json_t *pcols = json_object_get(md, "partitionColumns");
  size_t n = json_array_size(pcols);
  char **names = calloc(n ? n : 1, sizeof *names);
  if (!names) {
    sr_schema_free(schema);
    return sr_error_set(err, SR_ERROR, "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    const char *name = json_string_value(json_array_get(pcols, i));
    if (!name || sr_schema_find(schema, name) < 0 || !(names[i] = strdup(name))) {
      for (size_t k = 0; k < i; k++) free(names[k]);
      free(names);
      sr_schema_free(schema);
      return sr_error_set(err, SR_ERROR, "metaData: partition column %s is not in the schema",
                          name ? name : "?");
    }
  }
  free_partition_columns(s);
  s->partition_columns = names;
  s->npartition = (int)n;
  sr_schema_free(s->schema);
  s->schema = schema;
  json_decref(s->metadata);
  s->metadata = json_incref(md);
  return SR_OK;
}

/* Applies one action object ({"add": {...}} ...). */
static sr_status apply_action(sr_delta_snapshot *s, json_t *action, sr_error **err) {
  json_t *v;
  if ((v = json_object_get(action, "add"))) {
    const char *path = json_string_value(json_object_get(v, "path"));
    if (!path) return sr_error_set(err, SR_ERROR, "an add action without a path");
    json_object_del(s->tombstones, path);
    if (json_object_set(s->files, path, v) != 0) return sr_error_set(err, SR_ERROR, "out of memory");
  } else if ((v = json_object_get(action, "remove"))) {
    const char *path = json_string_value(json_object_get(v, "path"));
    if (!path) return sr_error_set(err, SR_ERROR, "a remove action without a path");
    json_object_del(s->files, path);
    if (json_object_set(s->tombstones, path, v) != 0) return sr_error_set(err, SR_ERROR, "out of memory");
  } else if ((v = json_object_get(action, "txn"))) {
    const char *app = json_string_value(json_object_get(v, "appId"));
    if (app && json_object_set(s->txns, app, v) != 0) return sr_error_set(err, SR_ERROR, "out of memory");
  } else if ((v = json_object_get(action, "metaData"))) {
    return apply_metadata(s, v, err);
  } else if ((v = json_object_get(action, "protocol"))) {
    json_decref(s->protocol);
    s->protocol = json_incref(v);
  }
  return SR_OK;
}

sr_status sr_delta_snapshot_apply(sr_delta_snapshot *s, json_t *actions, sr_error **err) {
  size_t i;
  json_t *a;
  json_array_foreach(actions, i, a) {
    if (apply_action(s, a, err) != SR_OK) {
      if (err) sr_error_prefix(*err, "%s: version %" PRId64, s->table, s->version + 1);
      return SR_ERROR;
    }
  }
  s->version++;
  return SR_OK;
}

int64_t sr_delta_txn_version(const sr_delta_snapshot *s, const char *app_id) {
  json_t *t = json_object_get(s->txns, app_id);
  json_t *v = json_object_get(t, "version");
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

const char *sr_delta_config(const sr_delta_snapshot *s, const char *key) {
  return json_string_value(json_object_get(json_object_get(s->metadata, "configuration"), key));
}

/* --- commits --------------------------------------------------------------------------------- */

sr_status sr_delta_read_commit(const char *path, int64_t version, json_t **actions, sr_error **err) {
  char file[4200];
  sr_delta_log_file(path, version, ".json", file, sizeof file);
  *actions = NULL;
  size_t len;
  sr_error *rerr = NULL;
  char *text = sr_fs_read_all(file, &len, &rerr);
  if (!text) {
    if (errno == ENOENT) {
      sr_error_free(rerr);
      return SR_OK;
    }
    if (err) *err = rerr;
    else sr_error_free(rerr);
    return SR_ERROR;
  }
  json_t *list = json_array();
  sr_status st = list ? SR_OK : sr_error_set(err, SR_ERROR, "out of memory");
  size_t pos = 0;
  int line = 0;
  while (st == SR_OK && pos < len) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - text) : len;
    line++;
    size_t a = pos, b = end;
    while (a < b && (text[a] == ' ' || text[a] == '\r' || text[a] == '\t')) a++;
    while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\r' || text[b - 1] == '\t')) b--;
    if (b > a) {
      json_error_t jerr;
      json_t *action = json_loadb(text + a, b - a, 0, &jerr);
      if (!json_is_object(action)) {
        json_decref(action);
        st = sr_error_set(err, SR_ERROR, "%s line %d is not a JSON object: %s", file, line,
                          action ? "another value" : jerr.text);
      } else if (json_array_append_new(list, action) != 0) {
        st = sr_error_set(err, SR_ERROR, "out of memory");
      }
    }
    pos = end + 1;
  }
  free(text);
  if (st != SR_OK) {
    json_decref(list);
    return st;
  }
  *actions = list;
  return SR_OK;
}

sr_status sr_delta_commit(const char *path, int64_t version, json_t *actions, int *lost,
                          sr_error **err) {
  *lost = 0;
  char file[4200], dir[4200];
  snprintf(dir, sizeof dir, "%s/_delta_log", path);
  if (sr_fs_mkdirs(dir, err) != SR_OK) return SR_ERROR;
  sr_buf text = SR_BUF_INIT;
  size_t i;
  json_t *a;
  sr_status st = SR_OK;
  json_array_foreach(actions, i, a) {
    char *line = json_dumps(a, JSON_COMPACT);
    if (!line || sr_buf_puts(&text, line) != 0 || sr_buf_putc(&text, '\n') != 0)
      st = sr_error_set(err, SR_ERROR, "out of memory");
    free(line);
    if (st != SR_OK) break;
  }
  sr_delta_log_file(path, version, ".json", file, sizeof file);
  sr_error *werr = NULL;
  if (st == SR_OK && sr_fs_write_new(file, text.data, text.len, &werr) != SR_OK) {
    if (sr_fs_exists(file)) {
      *lost = 1; /* another writer's commit holds the name: put-if-absent said no */
      sr_error_free(werr);
    } else {
      st = SR_ERROR;
      if (err) *err = werr;
      else sr_error_free(werr);
    }
  }
  sr_buf_free(&text);
  return st;
}

/* --- listing the log ------------------------------------------------------------------------- */

typedef struct cp_part { int64_t version; int part, parts; } cp_part;

typedef struct log_listing {
  int64_t max_json;       /* newest JSON commit, -1: none */
  cp_part *cps;           /* checkpoint files found */
  int ncps, cap;
} log_listing;

/* 20 digits at s, then returns the rest, or NULL. */
static const char *parse_version(const char *s, int64_t *v) {
  int64_t x = 0;
  for (int i = 0; i < 20; i++) {
    if (s[i] < '0' || s[i] > '9') return NULL;
    x = x * 10 + (s[i] - '0');
  }
  *v = x;
  return s + 20;
}

static sr_status list_log(const char *table, log_listing *l, sr_error **err) {
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/_delta_log", table);
  l->max_json = -1;
  DIR *d = opendir(dir);
  if (!d) {
    if (errno == ENOENT || errno == ENOTDIR) return SR_OK;
    return sr_error_set(err, SR_ERROR, "cannot list %s: %s", dir, strerror(errno));
  }
  struct dirent *de;
  sr_status st = SR_OK;
  while ((de = readdir(d)) && st == SR_OK) {
    int64_t v;
    const char *rest = parse_version(de->d_name, &v);
    if (!rest) continue;
    int part = 1, parts = 1, used = 0;
    if (strcmp(rest, ".json") == 0) {
      if (v > l->max_json) l->max_json = v;
      continue;
    }
    if (strcmp(rest, ".checkpoint.parquet") != 0 &&
        !(sscanf(rest, ".checkpoint.%10d.%10d.parquet%n", &part, &parts, &used) == 2 &&
          rest[used] == '\0' && parts > 1 && part >= 1 && part <= parts))
      continue;
    if (l->ncps == l->cap) {
      int cap = l->cap ? l->cap * 2 : 16;
      cp_part *grown = realloc(l->cps, (size_t)cap * sizeof *grown);
      if (!grown) {
        st = sr_error_set(err, SR_ERROR, "out of memory");
        break;
      }
      l->cps = grown;
      l->cap = cap;
    }
    l->cps[l->ncps++] = (cp_part){v, part, parts};
  }
  closedir(d);
  return st;
}

/* The newest checkpoint at or before max_version with all its parts, or -1; *parts gets its
** number of parts. */
static int64_t newest_checkpoint(const log_listing *l, int64_t max_version, int *parts) {
  int64_t best = -1;
  for (int i = 0; i < l->ncps; i++) {
    const cp_part *c = &l->cps[i];
    if (c->version > max_version || c->version <= best) continue;
    int found = 0; /* parts of the same version and part count: each part listed once */
    for (int k = 0; k < l->ncps; k++)
      if (l->cps[k].version == c->version && l->cps[k].parts == c->parts) found++;
    if (found == c->parts) {
      best = c->version;
      *parts = c->parts;
    }
  }
  return best;
}

/* --- reading a checkpoint -------------------------------------------------------------------- */

/* A checkpoint value as the JSON the same action has in a commit. NULL for a null value. */
static json_t *value_json(const sr_field *f, const sr_value *v) {
  if (v->kind == SR_VAL_NULL) return NULL;
  switch (f->type) {
  case SR_TYPE_STRUCT: {
    json_t *o = json_object();
    for (int i = 0; o && i < f->children->nfields && i < v->u.list.n; i++) {
      json_t *c = value_json(&f->children->fields[i], &v->u.list.items[i]);
      if (c) json_object_set_new(o, f->children->fields[i].name, c);
    }
    return o;
  }
  case SR_TYPE_MAP: {
    json_t *o = json_object();
    for (int i = 0; o && i < v->u.list.n; i++) {
      const sr_value *e = &v->u.list.items[i];
      if (e->kind != SR_VAL_STRUCT || e->u.list.n != 2 || e->u.list.items[0].kind != SR_VAL_STRING) continue;
      char *key = strndup(e->u.list.items[0].u.str.ptr, e->u.list.items[0].u.str.len);
      json_t *val = value_json(&f->children->fields[1], &e->u.list.items[1]);
      if (key) json_object_set_new(o, key, val ? val : json_null());
      else json_decref(val);
      free(key);
    }
    return o;
  }
  case SR_TYPE_ARRAY: {
    json_t *a = json_array();
    for (int i = 0; a && i < v->u.list.n; i++) {
      json_t *c = value_json(f->element, &v->u.list.items[i]);
      json_array_append_new(a, c ? c : json_null());
    }
    return a;
  }
  default:
    break;
  }
  switch (v->kind) {
  case SR_VAL_BOOL: return json_boolean(v->u.b);
  case SR_VAL_INT: return json_integer((json_int_t)v->u.i);
  case SR_VAL_DOUBLE: return json_real(v->u.d);
  case SR_VAL_STRING: case SR_VAL_BINARY: return json_stringn(v->u.str.ptr, v->u.str.len);
  default: return NULL;
  }
}

static const char *const action_columns[] = {"txn", "add", "remove", "metaData", "protocol"};
enum { NACTION_COLUMNS = 5 };

static sr_status read_checkpoint_file(sr_delta_snapshot *s, const char *file, sr_error **err) {
  sr_pq_reader *r = sr_pq_reader_open(file, err);
  if (!r) return SR_ERROR;
  const sr_schema *fs = sr_pq_reader_schema(r);
  int fields[NACTION_COLUMNS], which[NACTION_COLUMNS], n = 0;
  for (int i = 0; i < NACTION_COLUMNS; i++) {
    int f = sr_schema_find(fs, action_columns[i]);
    if (f >= 0 && fs->fields[f].type == SR_TYPE_STRUCT) {
      fields[n] = f;
      which[n++] = i;
    }
  }
  sr_arena a;
  sr_arena_init(&a);
  sr_value *rows = NULL;
  int64_t nrows = 0;
  sr_status st = sr_pq_reader_read_columns(r, fields, n, &a, &rows, &nrows, err);
  for (int64_t row = 0; st == SR_OK && row < nrows; row++) {
    for (int c = 0; c < n && st == SR_OK; c++) {
      json_t *obj = value_json(&fs->fields[fields[c]], &rows[row].u.list.items[c]);
      if (!obj) continue;
      json_t *action = json_object();
      if (!action || json_object_set_new(action, action_columns[which[c]], obj) != 0)
        st = sr_error_set(err, SR_ERROR, "out of memory");
      else
        st = apply_action(s, action, err);
      json_decref(action);
    }
  }
  if (st != SR_OK && err) sr_error_prefix(*err, "checkpoint %s", file);
  sr_arena_free(&a);
  sr_pq_reader_free(r);
  return st;
}

static sr_status read_checkpoint(sr_delta_snapshot *s, int64_t version, int parts, sr_error **err) {
  char file[4200], suffix[64];
  for (int p = 1; p <= parts; p++) {
    if (parts == 1) snprintf(suffix, sizeof suffix, ".checkpoint.parquet");
    else snprintf(suffix, sizeof suffix, ".checkpoint.%010d.%010d.parquet", p, parts);
    sr_delta_log_file(s->table, version, suffix, file, sizeof file);
    if (read_checkpoint_file(s, file, err) != SR_OK) return SR_ERROR;
  }
  s->version = version;
  s->checkpoint_version = version;
  return SR_OK;
}

/* --- opening and updating ---------------------------------------------------------------------- */

/* Applies commits s->version+1 .. last; each must exist. */
static sr_status replay_commits(sr_delta_snapshot *s, int64_t last, sr_error **err) {
  while (s->version < last) {
    json_t *actions;
    if (sr_delta_read_commit(s->table, s->version + 1, &actions, err) != SR_OK) return SR_ERROR;
    if (!actions)
      return sr_error_set(err, SR_ERROR, "%s: the Delta log has no commit %" PRId64
                          " (and no checkpoint after it): the table cannot be read",
                          s->table, s->version + 1);
    sr_status st = sr_delta_snapshot_apply(s, actions, err);
    json_decref(actions);
    if (st != SR_OK) return SR_ERROR;
  }
  return SR_OK;
}

sr_delta_snapshot *sr_delta_snapshot_open(const char *path, int64_t version, sr_error **err) {
  sr_delta_snapshot *s = snapshot_new(path, err);
  if (!s) return NULL;
  log_listing l;
  memset(&l, 0, sizeof l);
  sr_status st = list_log(s->table, &l, err);
  if (st == SR_OK) {
    int64_t last = l.max_json;
    for (int i = 0; i < l.ncps; i++)
      if (l.cps[i].version > last) last = l.cps[i].version; /* commits cleaned up after it */
    if (version >= 0 && version > last)
      st = sr_error_set(err, SR_ERROR, "%s: the Delta table has no version %" PRId64
                        " (its newest is %" PRId64 ")", s->table, version, last);
    if (version >= 0) last = version;
    int parts = 1;
    int64_t cp = newest_checkpoint(&l, last, &parts);
    if (st == SR_OK && cp >= 0) st = read_checkpoint(s, cp, parts, err);
    if (st == SR_OK) st = replay_commits(s, last, err);
  }
  free(l.cps);
  if (st != SR_OK) {
    sr_delta_snapshot_free(s);
    return NULL;
  }
  return s;
}

sr_status sr_delta_snapshot_update(sr_delta_snapshot *s, int64_t *applied, sr_error **err) {
  int64_t start = s->version;
  if (applied) *applied = 0;
  for (;;) {
    json_t *actions;
    if (sr_delta_read_commit(s->table, s->version + 1, &actions, err) != SR_OK) return SR_ERROR;
    if (!actions) break;
    sr_status st = sr_delta_snapshot_apply(s, actions, err);
    json_decref(actions);
    if (st != SR_OK) return SR_ERROR;
  }
  if (applied) *applied = s->version - start;
  return SR_OK;
}

int64_t sr_delta_latest_version(const char *path) {
  char file[4200];
  snprintf(file, sizeof file, "%s/_delta_log/_last_checkpoint", path);
  json_t *lc = json_load_file(file, 0, NULL);
  int64_t v = json_is_integer(json_object_get(lc, "version"))
                  ? (int64_t)json_integer_value(json_object_get(lc, "version")) : -1;
  json_decref(lc);
  if (v < 0) {
    log_listing l;
    memset(&l, 0, sizeof l);
    if (list_log(path, &l, NULL) != SR_OK) {
      free(l.cps);
      return -1;
    }
    free(l.cps);
    return l.max_json;
  }
  for (;;) {
    sr_delta_log_file(path, v + 1, ".json", file, sizeof file);
    if (!sr_fs_exists(file)) return v;
    v++;
  }
}

/* --- protocol -------------------------------------------------------------------------------- */

static int json_int_of(json_t *o, const char *key, int dflt) {
  json_t *v = json_object_get(o, key);
  return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

sr_status sr_delta_check_readable(const sr_delta_snapshot *s, sr_error **err) {
  int reader = json_int_of(s->protocol, "minReaderVersion", 1);
  const char *mapping = sr_delta_config(s, "delta.columnMapping.mode");
  if (mapping && strcmp(mapping, "none") != 0)
    return sr_error_set(err, SR_ERROR, "%s uses column mapping (mode %s), which streamrun cannot read",
                        s->table, mapping);
  if (reader <= 2) return SR_OK;
  if (reader > 3)
    return sr_error_set(err, SR_ERROR, "%s needs Delta reader version %d; streamrun reads up to 3",
                        s->table, reader);
  static const char *const known[] = {"timestampNtz", "deletionVectors", "vacuumProtocolCheck",
                                      "columnMapping", NULL};
  size_t i;
  json_t *f;
  json_array_foreach(json_object_get(s->protocol, "readerFeatures"), i, f) {
    const char *name = json_string_value(f);
    int ok = 0;
    for (int k = 0; name && known[k]; k++) ok |= strcmp(name, known[k]) == 0;
    if (!ok)
      return sr_error_set(err, SR_ERROR, "%s uses the Delta reader feature %s, which streamrun "
                          "does not support", s->table, name ? name : "?");
  }
  return SR_OK;
}

sr_status sr_delta_check_writable(const sr_delta_snapshot *s, sr_error **err) {
  int writer = json_int_of(s->protocol, "minWriterVersion", 2);
  if (writer > WRITABLE_WRITER_VERSION)
    return sr_error_set(err, SR_ERROR, "%s needs Delta writer version %d (constraints, generated "
                        "columns, change data feed or table features); streamrun writes up to %d",
                        s->table, writer, WRITABLE_WRITER_VERSION);
  const char *schema_string = json_string_value(json_object_get(s->metadata, "schemaString"));
  if (schema_string && strstr(schema_string, "delta.invariants"))
    return sr_error_set(err, SR_ERROR, "%s has column invariants, which streamrun cannot check: "
                        "it does not write to it", s->table);
  return sr_delta_check_readable(s, err);
}

/* --- writing a checkpoint ---------------------------------------------------------------------- */

static sr_field *add_field(sr_schema *s, const char *name, sr_type t) { return sr_schema_add(s, name, t); }

/* A map<string,string> column, its values nullable. */
static int add_string_map(sr_schema *s, const char *name) {
  sr_field *f = add_field(s, name, SR_TYPE_MAP);
  if (!f || !(f->children = sr_schema_new())) return -1;
  sr_field *k = add_field(f->children, "key", SR_TYPE_STRING);
  if (!k) return -1;
  k->nullable = 0;
  return add_field(f->children, "value", SR_TYPE_STRING) ? 0 : -1;
}

static sr_schema *add_struct(sr_schema *s, const char *name) {
  sr_field *f = add_field(s, name, SR_TYPE_STRUCT);
  if (!f || !(f->children = sr_schema_new())) return NULL;
  return f->children;
}

/* The checkpoint schema Spark writes (the one in the golden table's _last_checkpoint). */
static sr_schema *checkpoint_schema(void) {
  sr_schema *s = sr_schema_new(), *t;
  int ok = s != NULL;
  ok = ok && (t = add_struct(s, "txn")) && add_field(t, "appId", SR_TYPE_STRING) &&
       add_field(t, "version", SR_TYPE_LONG) && add_field(t, "lastUpdated", SR_TYPE_LONG);
  ok = ok && (t = add_struct(s, "add")) && add_field(t, "path", SR_TYPE_STRING) &&
       add_string_map(t, "partitionValues") == 0 && add_field(t, "size", SR_TYPE_LONG) &&
       add_field(t, "modificationTime", SR_TYPE_LONG) && add_field(t, "dataChange", SR_TYPE_BOOLEAN) &&
       add_string_map(t, "tags") == 0 && add_field(t, "stats", SR_TYPE_STRING);
  ok = ok && (t = add_struct(s, "remove")) && add_field(t, "path", SR_TYPE_STRING) &&
       add_field(t, "deletionTimestamp", SR_TYPE_LONG) && add_field(t, "dataChange", SR_TYPE_BOOLEAN) &&
       add_field(t, "extendedFileMetadata", SR_TYPE_BOOLEAN) &&
       add_string_map(t, "partitionValues") == 0 && add_field(t, "size", SR_TYPE_LONG) &&
       add_string_map(t, "tags") == 0;
  sr_schema *fmt = NULL;
  ok = ok && (t = add_struct(s, "metaData")) && add_field(t, "id", SR_TYPE_STRING) &&
       add_field(t, "name", SR_TYPE_STRING) && add_field(t, "description", SR_TYPE_STRING) &&
       (fmt = add_struct(t, "format")) && add_field(fmt, "provider", SR_TYPE_STRING) &&
       add_string_map(fmt, "options") == 0 && add_field(t, "schemaString", SR_TYPE_STRING);
  sr_field *pc = NULL;
  ok = ok && (pc = add_field(t, "partitionColumns", SR_TYPE_ARRAY)) &&
       (pc->element = calloc(1, sizeof *pc->element)) && (pc->element->name = strdup("element"));
  if (ok) {
    pc->element->type = SR_TYPE_STRING;
    pc->element->nullable = 1;
  }
  ok = ok && add_string_map(t, "configuration") == 0 && add_field(t, "createdTime", SR_TYPE_LONG);
  ok = ok && (t = add_struct(s, "protocol")) && add_field(t, "minReaderVersion", SR_TYPE_INT) &&
       add_field(t, "minWriterVersion", SR_TYPE_INT);
  if (!ok) {
    sr_schema_free(s);
    return NULL;
  }
  return s;
}

/* A JSON action value as the checkpoint column f holds it. Returns 0, or -1 out of memory. */
static int json_value(sr_arena *a, const sr_field *f, json_t *j, sr_value *out) {
  memset(out, 0, sizeof *out);
  out->kind = SR_VAL_NULL;
  if (!j || json_is_null(j)) return 0;
  switch (f->type) {
  case SR_TYPE_STRUCT: {
    if (!json_is_object(j)) return 0;
    int n = f->children->nfields;
    sr_value *items = sr_arena_alloc(a, sizeof *items * (size_t)(n ? n : 1));
    if (!items) return -1;
    for (int i = 0; i < n; i++)
      if (json_value(a, &f->children->fields[i], json_object_get(j, f->children->fields[i].name), &items[i]) != 0)
        return -1;
    out->kind = SR_VAL_STRUCT;
    out->u.list.items = items;
    out->u.list.n = n;
    return 0;
  }
  case SR_TYPE_MAP: {
    if (!json_is_object(j)) return 0;
    int n = (int)json_object_size(j), i = 0;
    sr_value *items = sr_arena_alloc(a, sizeof *items * (size_t)(n ? n : 1));
    if (!items) return -1;
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
      sr_value *kv = sr_arena_alloc(a, sizeof *kv * 2);
      if (!kv) return -1;
      kv[0].kind = SR_VAL_STRING;
      kv[0].u.str.ptr = key;
      kv[0].u.str.len = strlen(key);
      if (json_value(a, &f->children->fields[1], v, &kv[1]) != 0) return -1;
      items[i].kind = SR_VAL_STRUCT;
      items[i].u.list.items = kv;
      items[i++].u.list.n = 2;
    }
    out->kind = SR_VAL_LIST;
    out->u.list.items = items;
    out->u.list.n = i;
    return 0;
  }
  case SR_TYPE_ARRAY: {
    if (!json_is_array(j)) return 0;
    int n = (int)json_array_size(j);
    sr_value *items = sr_arena_alloc(a, sizeof *items * (size_t)(n ? n : 1));
    if (!items) return -1;
    for (int i = 0; i < n; i++)
      if (json_value(a, f->element, json_array_get(j, (size_t)i), &items[i]) != 0) return -1;
    out->kind = SR_VAL_LIST;
    out->u.list.items = items;
    out->u.list.n = n;
    return 0;
  }
  case SR_TYPE_STRING:
    if (!json_is_string(j)) return 0;
    out->kind = SR_VAL_STRING;
    out->u.str.ptr = json_string_value(j);
    out->u.str.len = json_string_length(j);
    return 0;
  case SR_TYPE_BOOLEAN:
    if (!json_is_boolean(j)) return 0;
    out->kind = SR_VAL_BOOL;
    out->u.b = json_is_true(j);
    return 0;
  default:
    if (!json_is_number(j)) return 0;
    out->kind = SR_VAL_INT;
    out->u.i = json_is_integer(j) ? (int64_t)json_integer_value(j) : (int64_t)json_number_value(j);
    return 0;
  }
}

/* Adds one checkpoint row holding the action object j in column `column` (others null). */
static sr_status add_action_row(sr_pq_writer *w, const sr_schema *cs, sr_arena *a, int column,
                                json_t *j, sr_error **err) {
  sr_value items[NACTION_COLUMNS];
  memset(items, 0, sizeof items);
  if (json_value(a, &cs->fields[column], j, &items[column]) != 0)
    return sr_error_set(err, SR_ERROR, "out of memory");
  sr_value row = {SR_VAL_STRUCT, {0}};
  row.u.list.items = items;
  row.u.list.n = cs->nfields;
  sr_status st = sr_pq_writer_add_row(w, &row, err);
  sr_arena_reset(a);
  return st;
}

static int64_t tombstone_retention_ms(const sr_delta_snapshot *s) {
  const char *text = sr_delta_config(s, "delta.deletedFileRetentionDuration");
  int64_t ms;
  if (text && sr_duration_parse(text, &ms) == 0) return ms;
  return DEFAULT_TOMBSTONE_RETENTION_MS;
}

/* Replaces _last_checkpoint unless it names a checkpoint at or after version. */
static sr_status write_last_checkpoint(const sr_delta_snapshot *s, int64_t rows, size_t bytes,
                                       int64_t adds, sr_error **err) {
  char file[4200];
  snprintf(file, sizeof file, "%s/_delta_log/_last_checkpoint", s->table);
  json_t *old = json_load_file(file, 0, NULL);
  json_t *ov = json_object_get(old, "version");
  int newer = json_is_integer(ov) && json_integer_value(ov) >= s->version;
  json_decref(old);
  if (newer) return SR_OK;
  json_t *doc = json_pack("{s:I,s:I,s:I,s:I}", "version", (json_int_t)s->version, "size",
                          (json_int_t)rows, "sizeInBytes", (json_int_t)bytes, "numOfAddFiles",
                          (json_int_t)adds);
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  sr_status st = text ? sr_fs_write_atomic(file, text, strlen(text), err)
                      : sr_error_set(err, SR_ERROR, "out of memory");
  free(text);
  return st;
}

void sr_delta_snapshot_expire_tombstones(sr_delta_snapshot *s, int64_t now_ms) {
  int64_t expire_before = now_ms - tombstone_retention_ms(s);
  const char *key;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(s->tombstones, tmp, key, v) {
    json_t *ts = json_object_get(v, "deletionTimestamp");
    if (json_is_integer(ts) && json_integer_value(ts) < expire_before) json_object_del(s->tombstones, key);
  }
}

sr_status sr_delta_checkpoint_write(const sr_delta_snapshot *s, int64_t now_ms, sr_error **err) {
  if (s->version < 0 || !s->metadata || !s->protocol)
    return sr_error_set(err, SR_ERROR, "%s: no table to checkpoint", s->table);
  sr_schema *cs = checkpoint_schema();
  if (!cs) return sr_error_set(err, SR_ERROR, "out of memory");
  enum { C_TXN, C_ADD, C_REMOVE, C_META, C_PROTOCOL };
  sr_buf bytes = SR_BUF_INIT;
  sr_arena a;
  sr_arena_init(&a);
  int64_t rows = 0;
  sr_pq_writer *w = sr_pq_writer_new(cs, NULL, err);
  sr_status st = w ? SR_OK : SR_ERROR;
  if (st == SR_OK) st = add_action_row(w, cs, &a, C_PROTOCOL, s->protocol, err);
  if (st == SR_OK) st = add_action_row(w, cs, &a, C_META, s->metadata, err);
  rows = 2;
  const char *key;
  json_t *v;
  json_object_foreach(s->txns, key, v) {
    if (st == SR_OK) st = add_action_row(w, cs, &a, C_TXN, v, err);
    rows++;
  }
  json_object_foreach(s->files, key, v) {
    if (st == SR_OK) st = add_action_row(w, cs, &a, C_ADD, v, err);
    rows++;
  }
  int64_t expire_before = now_ms - tombstone_retention_ms(s);
  json_object_foreach(s->tombstones, key, v) {
    json_t *ts = json_object_get(v, "deletionTimestamp");
    if (json_is_integer(ts) && json_integer_value(ts) < expire_before) continue;
    if (st == SR_OK) st = add_action_row(w, cs, &a, C_REMOVE, v, err);
    rows++;
  }
  if (st == SR_OK) st = sr_pq_writer_finish(w, &bytes, err);
  char file[4200];
  sr_delta_log_file(s->table, s->version, ".checkpoint.parquet", file, sizeof file);
  if (st == SR_OK) st = sr_fs_write_atomic(file, bytes.data, bytes.len, err);
  if (st == SR_OK)
    st = write_last_checkpoint(s, rows, bytes.len, (int64_t)json_object_size(s->files), err);
  if (st != SR_OK && err) sr_error_prefix(*err, "checkpoint of %s at version %" PRId64, s->table, s->version);
  sr_pq_writer_free(w);
  sr_arena_free(&a);
  sr_buf_free(&bytes);
  sr_schema_free(cs);
  return st;
}

/* --- removing expired log files --------------------------------------------------------------- */

/* The modification time of a file in ms, or INT64_MAX when it cannot be had (kept, then). */
static int64_t mtime_ms(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return INT64_MAX;
  return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

int sr_delta_log_cleanup(const sr_delta_snapshot *s, int64_t now_ms) {
  const char *on = sr_delta_config(s, "delta.enableExpiredLogCleanup");
  if (on && strcasecmp(on, "false") == 0) return 0;
  const char *text = sr_delta_config(s, "delta.logRetentionDuration");
  int64_t retention;
  if (!text || sr_duration_parse(text, &retention) != 0) retention = DEFAULT_LOG_RETENTION_MS;
  int64_t cutoff = now_ms - retention;
  cutoff -= ((cutoff % DAY_MS) + DAY_MS) % DAY_MS; /* to the day before, as Delta truncates it */
  log_listing l = {0};
  if (list_log(s->table, &l, NULL) != SR_OK) return 0;
  /* the newest complete checkpoint at most the snapshot's version that has expired itself */
  int64_t keep = -1;
  for (int64_t below = s->version; below >= 0;) {
    int parts = 1;
    int64_t c = newest_checkpoint(&l, below, &parts);
    if (c < 0) break;
    char file[4200], suffix[64];
    if (parts == 1) snprintf(suffix, sizeof suffix, ".checkpoint.parquet");
    else snprintf(suffix, sizeof suffix, ".checkpoint.%010d.%010d.parquet", parts, parts);
    sr_delta_log_file(s->table, c, suffix, file, sizeof file);
    if (mtime_ms(file) <= cutoff) {
      keep = c;
      break;
    }
    below = c - 1;
  }
  free(l.cps);
  if (keep <= 0) return 0;
  /* every commit and checkpoint below it that has expired too; versions from keep on read */
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/_delta_log", s->table);
  DIR *d = opendir(dir);
  if (!d) return 0;
  int removed = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    int64_t v;
    const char *rest = parse_version(de->d_name, &v);
    if (!rest || v >= keep || (strcmp(rest, ".json") != 0 && strncmp(rest, ".checkpoint.", 12) != 0))
      continue;
    char file[4200 + 256];
    snprintf(file, sizeof file, "%s/%s", dir, de->d_name);
    if (mtime_ms(file) <= cutoff && unlink(file) == 0) removed++;
  }
  closedir(d);
  return removed;
}
