/*
** The Delta sink: each batch becomes Parquet files and ONE commit of the table's log (the
** log itself is delta_log.c: format, commit order and crash safety are at its top).
**
** write(N) refreshes the snapshot and skips N when the table's txn for this query (appId =
** the query id) is already >= N: the batch was committed before a crash (exactly-once, as
** Spark's DeltaSink). Otherwise it converts the Lua rows to the table's columns (a new table
** takes the plan's columns and infers the others from the batch; mergeSchema adds new columns
** with a metaData action), drops rows whose mergeKeys are in the table (delta_keys.c), and
** writes one Parquet file per partition (more with maxRecordsPerFile), each fsynced with its
** directory: invisible until a commit names it, so a crash leaves orphans, never a half table.
**
** commit(N) writes version v+1 = commitInfo, [protocol, metaData], txn{appId, N}, [remove
** every file: complete mode], add... put-if-absent. When another writer took v+1, the sink
** reads the commits it missed and tries again on top of them: appends do not conflict; a
** metaData change is accepted when the columns this batch wrote are unchanged; complete mode
** removes whatever is live then; with mergeKeys, a concurrent file holding a key this batch
** admitted (or removed data) sends the batch back to be run again (SR_RETRY). After the
** commit the key index commits, and every checkpointInterval versions a Parquet checkpoint is
** written.
*/
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "connector.h"
#include "delta_keys.h"
#include "delta_log.h"
#include "delta_lua.h"
#include "delta_schema.h"
#include "fsutil.h"
#include "lua_aux.h"
#include "parquet_write.h"
#include "sr_log.h"

#ifndef SR_VERSION
#define SR_VERSION "dev"
#endif

#define MAX_COMMIT_ATTEMPTS 1000

static const sr_option_spec delta_sink_options[] = {
  {"path", SR_OPT_STRING, NULL, "the Delta table's directory (created by the first commit)"},
  {"partitionBy", SR_OPT_STRING, NULL, "partition columns: \"a,b\" or a list; Hive-style directories"},
  {"mergeSchema", SR_OPT_BOOL, "false", "add columns the table lacks to its schema"},
  {"mergeKeys", SR_OPT_STRING, NULL, "insert-only merge: rows whose key columns are already in the table are not written"},
  {"compression", SR_OPT_STRING, "snappy", "Parquet compression: snappy, zstd, gzip or none"},
  {"maxRecordsPerFile", SR_OPT_INT, "0", "at most this many rows per data file (0: no limit)"},
  {"rowGroupSize", SR_OPT_SIZE, "128MB", "buffered bytes that close a Parquet row group"},
  {"checkpointInterval", SR_OPT_INT, "10", "a Parquet checkpoint every this many commits (the table's delta.checkpointInterval wins)"},
  {"userMetadata", SR_OPT_STRING, NULL, "text recorded in each commit's commitInfo"},
  {NULL},
};

/* One data file being written: the rows of one partition. */
typedef struct part_file {
  char *dir;                /* relative to the table, escaped; "" without partitions */
  json_t *values;           /* its partitionValues */
  sr_pq_writer *w;
  int64_t rows;
  int64_t *nulls;           /* per data column */
} part_file;

typedef struct delta_sink {
  char *table;
  const char *app_id;
  char **partition_by;      /* the option's columns (a new table's partitioning) */
  int npartition_by, partition_given;
  char **merge_keys;
  int nmerge_keys;
  int merge_schema, complete;
  char *user_metadata;
  sr_pq_write_options pq;
  const char *codec_ext;
  int64_t max_records, checkpoint_interval;
  const sr_schema *plan_schema;
  int plan_guessed; /* plan_schema is a map's input: a new table takes only what rows hold */
  sr_delta_snapshot *snap;
  sr_delta_keys *keys;
  sr_delta_conv conv;

  /* the pending batch */
  int64_t pending_batch;    /* -1: none */
  int pending_skip;         /* already in the table */
  int64_t read_version;
  sr_schema *schema;        /* the columns rows were converted to (table + new ones) */
  sr_schema *data_schema;   /* schema minus partition columns: the files' columns */
  int *data_cols;           /* data column i -> schema index */
  int *part_cols;           /* partition column j -> schema index */
  char **part_names;
  int npart;
  int creates_table;        /* the commit carries protocol and metaData */
  json_t *new_metadata;     /* metaData to commit (new table or mergeSchema), or NULL */
  json_t *adds;             /* add actions of the files written */
  part_file *files;
  int nfiles, cap;
  json_t *file_index;       /* partition dir -> index in files */
  json_t *sync_dirs;        /* directories to fsync before the commit (a set) */
  int64_t rows_out, rows_dup, bytes_out;
  sr_arena arena;
  sr_buf buf, pdir;

  /* for progress */
  int64_t last_version, last_files, last_dups;
} delta_sink;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A random (version 4) UUID. */
static void new_uuid(char out[37]) {
  uint8_t b[16];
  if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
    for (int i = 0; i < 16; i++) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      b[i] = (uint8_t)(x >> 56);
    }
  }
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
           b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* --- options ------------------------------------------------------------------------------- */

static void free_names(char **names, int n) {
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* A column list: "a, b" or a JSON array of names. */
static sr_status parse_columns(const char *option, const char *text, char ***out, int *n,
                               sr_error **err) {
  *out = NULL;
  *n = 0;
  if (!text) return SR_OK;
  char **names = NULL;
  int count = 0;
  json_t *arr = NULL;
  while (*text == ' ') text++;
  if (*text == '[') {
    arr = json_loads(text, 0, NULL);
    if (!json_is_array(arr)) {
      json_decref(arr);
      return sr_error_set(err, SR_ERROR, "%s must be a list of column names, not %s", option, text);
    }
  }
  size_t cap = arr ? json_array_size(arr) + 1 : strlen(text) + 1;
  names = calloc(cap, sizeof *names);
  if (!names) {
    json_decref(arr);
    return sr_error_set(err, SR_ERROR, "out of memory");
  }
  sr_status st = SR_OK;
  if (arr) {
    for (size_t i = 0; i < json_array_size(arr) && st == SR_OK; i++) {
      const char *name = json_string_value(json_array_get(arr, i));
      if (!name || !*name) st = sr_error_set(err, SR_ERROR, "%s: item %zu is not a column name", option, i + 1);
      else if (!(names[count++] = strdup(name))) st = sr_error_set(err, SR_ERROR, "out of memory");
    }
  } else {
    const char *p = text;
    while (*p && st == SR_OK) {
      const char *comma = strchr(p, ',');
      size_t len = comma ? (size_t)(comma - p) : strlen(p);
      const char *a = p, *b = p + len;
      while (a < b && (*a == ' ' || *a == '\t')) a++;
      while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
      if (b > a && !(names[count++] = strndup(a, (size_t)(b - a)))) st = sr_error_set(err, SR_ERROR, "out of memory");
      p = comma ? comma + 1 : p + len;
    }
  }
  json_decref(arr);
  if (st != SR_OK) {
    free_names(names, count);
    return st;
  }
  *out = names;
  *n = count;
  return SR_OK;
}

static sr_status parse_codec(delta_sink *ds, const char *name, sr_error **err) {
  static const struct { const char *name; sr_pq_codec codec; const char *ext; } codecs[] = {
    {"snappy", SR_PQ_SNAPPY, ".snappy"}, {"zstd", SR_PQ_ZSTD, ".zstd"}, {"gzip", SR_PQ_GZIP, ".gz"},
    {"none", SR_PQ_UNCOMPRESSED, ""}, {"uncompressed", SR_PQ_UNCOMPRESSED, ""},
  };
  for (size_t i = 0; i < sizeof codecs / sizeof *codecs; i++) {
    if (strcasecmp(name, codecs[i].name) == 0) {
      ds->pq.codec = codecs[i].codec;
      ds->codec_ext = codecs[i].ext;
      return SR_OK;
    }
  }
  return sr_error_set(err, SR_ERROR, "compression must be snappy, zstd, gzip or none, not \"%s\"", name);
}

/* --- the pending batch ------------------------------------------------------------------------ */

static void free_files(delta_sink *ds) {
  for (int i = 0; i < ds->nfiles; i++) {
    free(ds->files[i].dir);
    json_decref(ds->files[i].values);
    sr_pq_writer_free(ds->files[i].w);
    free(ds->files[i].nulls);
  }
  ds->nfiles = 0;
  json_object_clear(ds->file_index);
}

/* Forgets everything about the pending batch (its files stay on disk as orphans). */
static void reset_batch(delta_sink *ds) {
  free_files(ds);
  sr_schema_free(ds->schema);
  sr_schema_free(ds->data_schema);
  ds->schema = ds->data_schema = NULL;
  free(ds->data_cols);
  free(ds->part_cols);
  ds->data_cols = ds->part_cols = NULL;
  free_names(ds->part_names, ds->npart);
  ds->part_names = NULL;
  ds->npart = 0;
  json_decref(ds->new_metadata);
  ds->new_metadata = NULL;
  ds->creates_table = 0;
  json_array_clear(ds->adds);
  json_object_clear(ds->sync_dirs);
  ds->rows_out = ds->rows_dup = ds->bytes_out = 0;
  ds->pending_skip = 0;
  sr_arena_reset(&ds->arena);
  sr_delta_conv_free(&ds->conv);
}

/* Splits schema into data and partition columns for the batch. */
static sr_status layout_columns(delta_sink *ds, sr_error **err) {
  sr_schema *s = ds->schema;
  free(ds->data_cols);
  free(ds->part_cols);
  ds->data_cols = calloc((size_t)(s->nfields ? s->nfields : 1), sizeof *ds->data_cols);
  ds->part_cols = calloc((size_t)(ds->npart ? ds->npart : 1), sizeof *ds->part_cols);
  if (!ds->data_cols || !ds->part_cols) return sr_error_set(err, SR_ERROR, "out of memory");
  for (int j = 0; j < ds->npart; j++) {
    int c = sr_schema_find(s, ds->part_names[j]);
    if (c < 0)
      return sr_error_set(err, SR_ERROR, "partitionBy column %s is not a column of the output",
                          ds->part_names[j]);
    if (!sr_delta_partition_type_ok(s->fields[c].type))
      return sr_error_set(err, SR_ERROR, "partitionBy column %s has type %s; Delta cannot partition by it",
                          ds->part_names[j], sr_type_name(s->fields[c].type));
    ds->part_cols[j] = c;
  }
  sr_schema *tmp = sr_schema_new();
  if (!tmp) return sr_error_set(err, SR_ERROR, "out of memory");
  int n = 0;
  for (int i = 0; i < s->nfields; i++) {
    int is_part = 0;
    for (int j = 0; j < ds->npart; j++) is_part |= ds->part_cols[j] == i;
    if (is_part) continue;
    /* a copy of the field: sr_schema_copy of a one-field schema keeps nested types */
    sr_schema one = {1, &s->fields[i]};
    sr_schema *c = sr_schema_copy(&one);
    sr_field *f = c ? sr_schema_add(tmp, s->fields[i].name, s->fields[i].type) : NULL;
    if (!f) {
      sr_schema_free(c);
      sr_schema_free(tmp);
      return sr_error_set(err, SR_ERROR, "out of memory");
    }
    free(f->name);
    *f = c->fields[0];
    c->nfields = 0;
    sr_schema_free(c);
    ds->data_cols[n++] = i;
  }
  sr_schema_free(ds->data_schema);
  ds->data_schema = tmp;
  return SR_OK;
}

/* The part file of the row's partition, created at first use; NULL when out of memory. */
static part_file *file_for(delta_sink *ds, const sr_value *row, sr_error **err) {
  sr_buf *d = &ds->pdir;
  sr_buf_clear(d);
  for (int j = 0; j < ds->npart; j++) {
    const sr_field *f = &ds->schema->fields[ds->part_cols[j]];
    if (j) sr_buf_putc(d, '/');
    sr_delta_escape_dir(f->name, strlen(f->name), d);
    sr_buf_putc(d, '=');
    size_t at = d->len;
    int rc = sr_delta_partition_format(f, &row->u.list.items[ds->part_cols[j]], d);
    if (rc == 1) {
      sr_buf_puts(d, SR_DELTA_NULL_PARTITION);
    } else if (rc == 0) {
      /* escape in place: the text is at [at, len) */
      char *raw = strndup(d->data + at, d->len - at);
      d->len = at;
      if (!raw || sr_delta_escape_dir(raw, strlen(raw), d) != 0) {
        free(raw);
        sr_error_set(err, SR_ERROR, "out of memory");
        return NULL;
      }
      free(raw);
    }
  }
  const char *dir = sr_buf_cstr(d);
  if (!dir) {
    sr_error_set(err, SR_ERROR, "out of memory");
    return NULL;
  }
  json_t *idx = json_object_get(ds->file_index, dir);
  if (idx) return &ds->files[json_integer_value(idx)];
  if (ds->nfiles == ds->cap) {
    int cap = ds->cap ? ds->cap * 2 : 8;
    part_file *grown = realloc(ds->files, sizeof *grown * (size_t)cap);
    if (!grown) {
      sr_error_set(err, SR_ERROR, "out of memory");
      return NULL;
    }
    ds->files = grown;
    ds->cap = cap;
  }
  part_file *pf = &ds->files[ds->nfiles];
  memset(pf, 0, sizeof *pf);
  pf->dir = strdup(dir);
  pf->values = json_object();
  pf->nulls = calloc((size_t)(ds->data_schema->nfields ? ds->data_schema->nfields : 1), sizeof *pf->nulls);
  if (!pf->dir || !pf->values || !pf->nulls) {
    free(pf->dir);
    json_decref(pf->values);
    free(pf->nulls);
    sr_error_set(err, SR_ERROR, "out of memory");
    return NULL;
  }
  ds->nfiles++;
  for (int j = 0; j < ds->npart; j++) {
    const sr_field *f = &ds->schema->fields[ds->part_cols[j]];
    sr_buf_clear(&ds->buf);
    int rc = sr_delta_partition_format(f, &row->u.list.items[ds->part_cols[j]], &ds->buf);
    json_t *v = rc == 0 ? json_stringn(ds->buf.data, ds->buf.len) : json_null();
    if (rc == 0 && !v) {
      sr_error_set(err, SR_ERROR, "partition column %s: a value that is not UTF-8", f->name);
      return NULL;
    }
    json_object_set_new(pf->values, f->name, v);
  }
  json_object_set_new(ds->file_index, dir, json_integer(ds->nfiles - 1));
  return pf;
}

/* Marks dir (relative) and its parents up to the table for an fsync before the commit. */
static void sync_later(delta_sink *ds, const char *dir) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s", dir);
  for (;;) {
    json_object_set_new(ds->sync_dirs, tmp, json_true());
    char *slash = strrchr(tmp, '/');
    if (!slash) break;
    *slash = '\0';
  }
  json_object_set_new(ds->sync_dirs, "", json_true());
}

/* Writes bytes to a new file (never an existing one) and fsyncs it. */
static sr_status write_data_file(const char *path, const sr_buf *bytes, sr_error **err) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return sr_error_set(err, SR_RETRY, "cannot create %s: %s", path, strerror(errno));
  const char *p = bytes->data;
  size_t left = bytes->len;
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    p += n;
    left -= (size_t)n;
  }
  int e = left ? errno : 0;
  if (!e && fsync(fd) != 0) e = errno;
  if (close(fd) != 0 && !e) e = errno;
  if (e) {
    unlink(path);
    return sr_error_set(err, SR_RETRY, "cannot write %s: %s", path, strerror(e));
  }
  return SR_OK;
}

/* Finishes pf's writer into a data file and records its add action. */
static sr_status finish_file(delta_sink *ds, part_file *pf, sr_error **err) {
  if (!pf->w || pf->rows == 0) return SR_OK;
  sr_buf_clear(&ds->buf);
  if (sr_pq_writer_finish(pf->w, &ds->buf, err) != SR_OK) return SR_ERROR;
  char uuid[37], rel[4200], abs[8400];
  new_uuid(uuid);
  snprintf(rel, sizeof rel, "%s%spart-%05d-%s-c000%s.parquet", pf->dir, *pf->dir ? "/" : "",
           (int)json_array_size(ds->adds), uuid, ds->codec_ext);
  snprintf(abs, sizeof abs, "%s/%s", ds->table, pf->dir);
  if (sr_fs_mkdirs(abs, err) != SR_OK) return SR_RETRY;
  snprintf(abs, sizeof abs, "%s/%s", ds->table, rel);
  if (write_data_file(abs, &ds->buf, err) != SR_OK) return SR_RETRY;
  sync_later(ds, pf->dir);
  json_t *stats = sr_delta_stats_json(pf->w, ds->data_schema, pf->rows, pf->nulls);
  char *stats_text = stats ? json_dumps(stats, JSON_COMPACT) : NULL;
  json_decref(stats);
  sr_buf uri = SR_BUF_INIT;
  json_t *add = NULL;
  if (stats_text && sr_delta_uri_encode(rel, &uri) == 0 && sr_buf_cstr(&uri))
    add = json_pack("{s:{s:s,s:O,s:I,s:I,s:b,s:s}}", "add", "path", uri.data, "partitionValues",
                    pf->values, "size", (json_int_t)ds->buf.len, "modificationTime",
                    (json_int_t)now_ms(), "dataChange", 1, "stats", stats_text);
  free(stats_text);
  sr_buf_free(&uri);
  if (!add || json_array_append_new(ds->adds, add) != 0) return sr_error_set(err, SR_ERROR, "out of memory");
  ds->bytes_out += (int64_t)ds->buf.len;
  sr_pq_writer_free(pf->w);
  pf->w = NULL;
  pf->rows = 0;
  memset(pf->nulls, 0, sizeof *pf->nulls * (size_t)(ds->data_schema->nfields ? ds->data_schema->nfields : 1));
  return SR_OK;
}

/* Adds a converted row (schema order) to its partition's file. */
static sr_status add_row(delta_sink *ds, const sr_value *row, int64_t row_no, sr_error **err) {
  part_file *pf = ds->npart ? file_for(ds, row, err) : NULL;
  if (ds->npart && !pf) return SR_ERROR;
  if (!ds->npart) {
    if (ds->nfiles == 0) {
      sr_value none = {SR_VAL_STRUCT, {0}};
      if (!file_for(ds, &none, err)) return SR_ERROR;
    }
    pf = &ds->files[0];
  }
  if (!pf->w && !(pf->w = sr_pq_writer_new(ds->data_schema, &ds->pq, err))) return SR_ERROR;
  int nd = ds->data_schema->nfields;
  sr_value data = *row;
  if (ds->npart) {
    sr_value *items = sr_arena_alloc(&ds->arena, sizeof *items * (size_t)(nd ? nd : 1));
    if (!items) return sr_error_set(err, SR_ERROR, "out of memory");
    for (int i = 0; i < nd; i++) items[i] = row->u.list.items[ds->data_cols[i]];
    data.u.list.items = items;
    data.u.list.n = nd;
  }
  for (int i = 0; i < nd; i++) pf->nulls[i] += data.u.list.items[i].kind == SR_VAL_NULL;
  if (sr_pq_writer_add_row(pf->w, &data, err) != SR_OK) {
    if (err) sr_error_prefix(*err, "row %" PRId64, row_no);
    return SR_ERROR;
  }
  pf->rows++;
  ds->rows_out++;
  if (ds->max_records > 0 && pf->rows >= ds->max_records) return finish_file(ds, pf, err);
  return SR_OK;
}

static int has_name(char **names, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(names[i], name) == 0) return 1;
  return 0;
}

/* The metaData action of a new table, or of the table with the batch's new columns. */
static json_t *build_metadata(delta_sink *ds, sr_error **err) {
  json_t *md;
  if (!ds->snap->metadata) {
    char uuid[37];
    new_uuid(uuid);
    json_t *schema = sr_delta_schema_json(ds->schema);
    char *text = schema ? json_dumps(schema, JSON_COMPACT) : NULL;
    json_decref(schema);
    json_t *pcols = json_array();
    for (int j = 0; pcols && j < ds->npart; j++) json_array_append_new(pcols, json_string(ds->part_names[j]));
    md = text && pcols ? json_pack("{s:s,s:{s:s,s:{}},s:s,s:o,s:{},s:I}", "id", uuid, "format", "provider",
                                   "parquet", "options", "schemaString", text, "partitionColumns", pcols,
                                   "configuration", "createdTime", (json_int_t)now_ms())
                       : NULL;
    if (!md) json_decref(pcols);
    free(text);
  } else {
    /* keep the table's schemaString as written (field metadata, nullability) and append */
    const char *old = json_string_value(json_object_get(ds->snap->metadata, "schemaString"));
    json_t *doc = json_loads(old ? old : "", 0, NULL);
    json_t *fields = json_object_get(doc, "fields");
    int ok = json_is_array(fields);
    for (int i = ds->snap->schema->nfields; ok && i < ds->schema->nfields; i++)
      ok = json_array_append_new(fields, sr_delta_field_json(&ds->schema->fields[i])) == 0;
    char *text = ok ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    md = text ? json_deep_copy(ds->snap->metadata) : NULL;
    if (md) json_object_set_new(md, "schemaString", json_string(text));
    free(text);
  }
  if (!md) sr_error_set(err, SR_ERROR, "out of memory (or a column name that is not UTF-8)");
  return md;
}

/* Converts and writes the batch's rows; *unknown is set when a row has a column the schema
** lacks (the caller extends the schema and starts over). */
static sr_status convert_rows(delta_sink *ds, lua_State *L, int rows_idx, int nrows, int *unknown,
                              sr_error **err) {
  char why[512];
  *unknown = 0;
  if (sr_delta_conv_begin(L, &ds->conv, ds->schema) != 0) return sr_error_set(err, SR_ERROR, "out of memory");
  sr_status st = SR_OK;
  for (int r = 1; r <= nrows && st == SR_OK; r++) {
    lua_rawgeti(L, rows_idx, r);
    sr_value row;
    int rc = sr_delta_conv_row(L, &ds->conv, lua_gettop(L), &ds->arena, &row, why, sizeof why);
    if (rc == 1) {
      *unknown = 1;
    } else if (rc < 0) {
      st = sr_error_set(err, SR_ERROR, "row %d: %s", r, why);
    } else {
      int admit = ds->keys ? sr_delta_keys_admit(ds->keys, &row, err) : 1;
      if (admit < 0) st = SR_ERROR;
      else if (admit == 0) ds->rows_dup++;
      else st = add_row(ds, &row, r, err);
    }
    lua_pop(L, 1);
    sr_arena_reset(&ds->arena);
    if (*unknown) break;
  }
  sr_delta_conv_end(L, &ds->conv);
  return st;
}

/* Extends ds->schema with the batch's columns it lacks, or refuses them. */
static sr_status add_new_columns(delta_sink *ds, lua_State *L, int rows_idx, int nrows, sr_error **err) {
  char why[512];
  int before = ds->schema->nfields;
  int added = sr_delta_infer_columns(L, rows_idx, nrows, ds->schema, ds->schema, why, sizeof why);
  if (added < 0) return sr_error_set(err, SR_ERROR, "%s", why);
  if (added == 0) return SR_OK; /* a partition or key column no row has: refused by name later */
  if (ds->snap->metadata && !ds->merge_schema) {
    sr_buf names = SR_BUF_INIT;
    for (int i = 0; i < before; i++) sr_buf_printf(&names, "%s%s", i ? ", " : "", ds->schema->fields[i].name);
    sr_status st = sr_error_set(err, SR_ERROR, "column %s is not in the schema of the table %s (%s); "
                                "set mergeSchema = true to add it", ds->schema->fields[before].name,
                                ds->table, names.data ? names.data : "");
    sr_buf_free(&names);
    return st;
  }
  /* a column the plan knows takes the plan's type (a timestamp is a number in Lua) */
  for (int i = before; ds->plan_schema && !ds->plan_guessed && i < ds->schema->nfields; i++) {
    int k = sr_schema_find(ds->plan_schema, ds->schema->fields[i].name);
    if (k < 0) continue;
    sr_schema one = {1, &ds->plan_schema->fields[k]};
    sr_schema *copy = sr_schema_copy(&one);
    if (!copy) return sr_error_set(err, SR_ERROR, "out of memory");
    sr_field inferred = ds->schema->fields[i];
    ds->schema->fields[i] = copy->fields[0];
    copy->fields[0] = inferred; /* freed with the copy */
    sr_schema_free(copy);
  }
  return SR_OK;
}

static sr_status dsink_write(sr_sink *sink, int64_t batch_id, lua_State *L, int rows_idx, int nrows,
                             int spec_idx, sr_error **err) {
  delta_sink *ds = sink->impl;
  reset_batch(ds);
  ds->pending_batch = batch_id;
  rows_idx = sr_lua_absindex(L, rows_idx);
  if (sr_delta_snapshot_update(ds->snap, NULL, err) != SR_OK) return SR_ERROR;
  if (ds->snap->version >= 0 && sr_delta_txn_version(ds->snap, ds->app_id) >= batch_id) {
    ds->pending_skip = 1; /* committed before a crash: exactly once */
    return SR_OK;
  }
  if (ds->snap->metadata && sr_delta_check_writable(ds->snap, err) != SR_OK) return SR_ERROR;
  if (ds->complete && sr_delta_config(ds->snap, "delta.appendOnly") &&
      strcmp(sr_delta_config(ds->snap, "delta.appendOnly"), "true") == 0)
    return sr_error_set(err, SR_ERROR, "the table %s is append-only (delta.appendOnly): complete output "
                        "mode would remove its files", ds->table);
  ds->read_version = ds->snap->version;
  if (ds->snap->metadata) {
    ds->schema = sr_schema_copy(ds->snap->schema);
    ds->npart = ds->snap->npartition;
    ds->part_names = calloc((size_t)(ds->npart ? ds->npart : 1), sizeof *ds->part_names);
    for (int j = 0; ds->part_names && j < ds->npart; j++)
      ds->part_names[j] = strdup(ds->snap->partition_columns[j]);
  } else {
    /* the plan's columns, or after a map only those the rows hold (inferred, typed by the plan) */
    ds->schema = ds->plan_schema && !ds->plan_guessed ? sr_schema_copy(ds->plan_schema) : sr_schema_new();
    ds->npart = ds->npartition_by;
    ds->part_names = calloc((size_t)(ds->npart ? ds->npart : 1), sizeof *ds->part_names);
    for (int j = 0; ds->part_names && j < ds->npart; j++) ds->part_names[j] = strdup(ds->partition_by[j]);
  }
  if (!ds->schema || !ds->part_names) return sr_error_set(err, SR_ERROR, "out of memory");
  if (!ds->snap->metadata && nrows == 0) return SR_OK; /* no table and nothing to create it with */
  int unknown = 0;
  for (int attempt = 0;; attempt++) {
    if (!ds->snap->metadata) {
      /* a new table: partition and key columns must be known before rows are routed */
      int missing = 0;
      for (int j = 0; j < ds->npart; j++) missing |= sr_schema_find(ds->schema, ds->part_names[j]) < 0;
      for (int j = 0; j < ds->nmerge_keys; j++) missing |= sr_schema_find(ds->schema, ds->merge_keys[j]) < 0;
      if (missing && add_new_columns(ds, L, rows_idx, nrows, err) != SR_OK) return SR_ERROR;
    }
    if (layout_columns(ds, err) != SR_OK) return SR_ERROR;
    if (ds->keys && sr_delta_keys_begin(ds->keys, ds->snap, ds->schema, batch_id, err) != SR_OK)
      return SR_ERROR;
    sr_status st = convert_rows(ds, L, rows_idx, nrows, &unknown, err);
    if (st != SR_OK) return st;
    if (!unknown) break;
    if (attempt > 0)
      return sr_error_set(err, SR_ERROR, "internal: column %s still unknown after inference", ds->conv.unknown);
    free_files(ds);
    ds->rows_out = ds->rows_dup = 0;
    if (add_new_columns(ds, L, rows_idx, nrows, err) != SR_OK) return SR_ERROR;
  }
  for (int i = 0; i < ds->nfiles; i++) {
    sr_status st = finish_file(ds, &ds->files[i], err);
    if (st != SR_OK) return st;
  }
  /* the files must be durable before a commit names them (delta_log.c, invariant 1) */
  const char *dir;
  json_t *v;
  json_object_foreach(ds->sync_dirs, dir, v) {
    char abs[8400];
    snprintf(abs, sizeof abs, "%s/%s", ds->table, dir);
    if (sr_fs_sync_dir(abs, err) != SR_OK) return SR_RETRY;
  }
  ds->creates_table = ds->snap->metadata == NULL;
  if (ds->creates_table || ds->schema->nfields > ds->snap->schema->nfields) {
    if (!(ds->new_metadata = build_metadata(ds, err))) return SR_ERROR;
  }
  return SR_OK;
}

/* --- commit ------------------------------------------------------------------------------------ */

/* The actions of the commit, on top of the snapshot as it is now. */
static json_t *build_actions(delta_sink *ds, int64_t batch_id, char *txn_id) {
  int64_t now = now_ms();
  int nadds = (int)json_array_size(ds->adds);
  int nremoves = ds->complete ? (int)json_object_size(ds->snap->files) : 0;
  char epoch[24], n_add[24], n_rm[24], n_rows[24], n_bytes[24];
  snprintf(epoch, sizeof epoch, "%" PRId64, batch_id);
  snprintf(n_add, sizeof n_add, "%d", nadds);
  snprintf(n_rm, sizeof n_rm, "%d", nremoves);
  snprintf(n_rows, sizeof n_rows, "%" PRId64, ds->rows_out);
  snprintf(n_bytes, sizeof n_bytes, "%" PRId64, ds->bytes_out);
  json_t *info = json_pack("{s:I,s:s,s:{s:s,s:s,s:s},s:s,s:b,s:{s:s,s:s,s:s,s:s},s:s,s:s}",
                           "timestamp", (json_int_t)now, "operation", "STREAMING UPDATE",
                           "operationParameters", "outputMode", ds->complete ? "Complete" : "Append",
                           "queryId", ds->app_id, "epochId", epoch, "isolationLevel", "Serializable",
                           "isBlindAppend", !ds->complete && !ds->keys, "operationMetrics",
                           "numAddedFiles", n_add, "numRemovedFiles", n_rm, "numOutputRows", n_rows,
                           "numOutputBytes", n_bytes, "engineInfo", "streamrun/" SR_VERSION,
                           "txnId", txn_id);
  json_t *actions = json_array();
  /* every action must make it in: a commit without its txn would break exactly-once */
  int ok = info && actions;
  if (ok && ds->read_version >= 0) json_object_set_new(info, "readVersion", json_integer(ds->read_version));
  if (ok && ds->user_metadata) json_object_set_new(info, "userMetadata", json_string(ds->user_metadata));
  ok = ok && json_array_append_new(actions, json_pack("{s:O}", "commitInfo", info)) == 0;
  if (ok && ds->creates_table)
    ok = json_array_append_new(actions, json_pack("{s:{s:i,s:i}}", "protocol", "minReaderVersion", 1,
                                                  "minWriterVersion", 2)) == 0;
  if (ok && ds->new_metadata)
    ok = json_array_append_new(actions, json_pack("{s:O}", "metaData", ds->new_metadata)) == 0;
  ok = ok && json_array_append_new(actions, json_pack("{s:{s:s,s:I,s:I}}", "txn", "appId", ds->app_id,
                                                      "version", (json_int_t)batch_id, "lastUpdated",
                                                      (json_int_t)now)) == 0;
  const char *path;
  json_t *add;
  if (ok && ds->complete) {
    json_object_foreach(ds->snap->files, path, add) {
      json_t *rm = json_pack("{s:s,s:I,s:b,s:b}", "path", path, "deletionTimestamp", (json_int_t)now,
                             "dataChange", 1, "extendedFileMetadata", 1);
      json_t *pv = json_object_get(add, "partitionValues"), *size = json_object_get(add, "size");
      if (rm && pv) json_object_set(rm, "partitionValues", pv);
      if (rm && size) json_object_set(rm, "size", size);
      if (!rm || json_array_append_new(actions, json_pack("{s:o}", "remove", rm)) != 0) {
        ok = 0;
        break;
      }
    }
  }
  size_t i;
  json_array_foreach(ds->adds, i, add) ok = ok && json_array_append(actions, add) == 0;
  json_decref(info);
  if (!ok) {
    json_decref(actions);
    return NULL;
  }
  return actions;
}

/* The columns this batch wrote are in schema s with the same types and the same partitioning. */
static int batch_fits(delta_sink *ds, const sr_delta_snapshot *s) {
  if (!s->schema || s->npartition != ds->npart) return 0;
  for (int j = 0; j < ds->npart; j++)
    if (strcmp(s->partition_columns[j], ds->part_names[j]) != 0) return 0;
  for (int i = 0; i < ds->schema->nfields; i++) {
    int k = sr_schema_find(s->schema, ds->schema->fields[i].name);
    sr_schema a = {1, &ds->schema->fields[i]}, b = {1, k >= 0 ? &s->schema->fields[k] : NULL};
    if (k < 0 || !sr_schema_equal(&a, &b)) return 0;
  }
  return 1;
}

/* Reads the commits another writer made since the snapshot, deciding whether this batch can
** still commit on top of them. Sets *done when one of them holds this batch's txn. */
static sr_status catch_up(delta_sink *ds, int64_t batch_id, int *done, sr_error **err) {
  int meta_changed = 0, key_conflict = 0;
  *done = 0;
  for (;;) {
    json_t *actions;
    if (sr_delta_read_commit(ds->table, ds->snap->version + 1, &actions, err) != SR_OK) return SR_ERROR;
    if (!actions) break;
    size_t i;
    json_t *a;
    json_array_foreach(actions, i, a)
      meta_changed |= json_object_get(a, "metaData") || json_object_get(a, "protocol");
    sr_status st = sr_delta_snapshot_apply(ds->snap, actions, err);
    if (st == SR_OK && ds->keys) st = sr_delta_keys_absorb(ds->keys, ds->snap, actions, &key_conflict, err);
    json_decref(actions);
    if (st != SR_OK) return st;
  }
  if (sr_delta_txn_version(ds->snap, ds->app_id) >= batch_id) {
    *done = 1;
    return SR_OK;
  }
  if (key_conflict)
    return sr_error_set(err, SR_RETRY, "another writer added rows with this batch's mergeKeys (or removed "
                        "data) in %s; the batch runs again", ds->table);
  if (meta_changed) {
    if (sr_delta_check_writable(ds->snap, err) != SR_OK) return SR_ERROR;
    if (!batch_fits(ds, ds->snap))
      return sr_error_set(err, SR_RETRY, "another writer changed the schema of %s; the batch runs again "
                          "with the new schema", ds->table);
    /* the table (or its new schema) already holds every column this batch wrote */
    ds->creates_table = 0;
    json_decref(ds->new_metadata);
    ds->new_metadata = NULL;
    if (ds->schema->nfields > ds->snap->schema->nfields && !(ds->new_metadata = build_metadata(ds, err)))
      return SR_ERROR;
  }
  return SR_OK;
}

/* fsyncs the directory holding path. */
static sr_status sync_parent(const char *path, sr_error **err) {
  char parent[4200];
  snprintf(parent, sizeof parent, "%s", path);
  char *slash = strrchr(parent, '/');
  if (!slash) return sr_fs_sync_dir(".", err);
  if (slash == parent) slash[1] = '\0';
  else *slash = '\0';
  return sr_fs_sync_dir(parent, err);
}

static void after_commit(delta_sink *ds) {
  sr_error *e = NULL;
  if (ds->keys && sr_delta_keys_commit(ds->keys, ds->snap, &e) != SR_OK) {
    sr_log("warning", NULL, -1, "delta sink %s: the mergeKeys index stays behind (caught up next batch): %s",
            ds->table, e ? e->message : "?");
    sr_error_free(e);
    e = NULL;
  }
  int64_t interval = ds->checkpoint_interval;
  const char *conf = sr_delta_config(ds->snap, "delta.checkpointInterval");
  if (conf && atoll(conf) > 0) interval = atoll(conf);
  if (interval > 0 && ds->snap->version > 0 && ds->snap->version % interval == 0) {
    sr_delta_snapshot_expire_tombstones(ds->snap, now_ms());
    if (sr_delta_checkpoint_write(ds->snap, now_ms(), &e) != SR_OK) {
      sr_log("error", NULL, -1, "delta sink: %s", e ? e->message : "checkpoint failed");
      sr_error_free(e);
    } else {
      sr_delta_log_cleanup(ds->snap, now_ms()); /* as Delta does after a checkpoint */
    }
  }
}

static sr_status dsink_commit(sr_sink *sink, int64_t batch_id, sr_error **err) {
  delta_sink *ds = sink->impl;
  if (ds->pending_batch != batch_id)
    return sr_error_set(err, SR_ERROR, "internal: commit of batch %" PRId64 " without its write", batch_id);
  ds->pending_batch = -1;
  if (ds->pending_skip) return SR_OK;
  if (json_array_size(ds->adds) == 0 && !ds->new_metadata && !(ds->complete && ds->snap->version >= 0))
    return SR_OK; /* nothing to add: an empty append leaves the table as it is */
  char txn_id[37];
  new_uuid(txn_id);
  for (int attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
    json_t *actions = build_actions(ds, batch_id, txn_id);
    if (!actions) return sr_error_set(err, SR_ERROR, "out of memory");
    int lost = 0;
    sr_status st = sr_delta_commit(ds->table, ds->snap->version + 1, actions, &lost, err);
    if (st == SR_OK && !lost) st = sr_delta_snapshot_apply(ds->snap, actions, err);
    json_decref(actions);
    if (st != SR_OK) return st;
    if (!lost) {
      /* a new table: its directory's own entry must be durable before the batch counts as
      ** committed (the commit and _delta_log are synced by sr_delta_commit) */
      if (ds->creates_table && (sr_fs_sync_dir(ds->table, err) != SR_OK || sync_parent(ds->table, err) != SR_OK))
        return SR_RETRY;
      ds->last_version = ds->snap->version;
      ds->last_files = (int64_t)json_array_size(ds->adds);
      ds->last_dups = ds->rows_dup;
      after_commit(ds);
      return SR_OK;
    }
    int done;
    if ((st = catch_up(ds, batch_id, &done, err)) != SR_OK) return st;
    if (done) return SR_OK; /* another run of this query committed the batch: ours are orphans */
  }
  return sr_error_set(err, SR_RETRY, "%s: %d commit attempts lost to other writers", ds->table,
                      MAX_COMMIT_ATTEMPTS);
}

/* --- open, describe, close ------------------------------------------------------------------- */

static sr_status dsink_open(sr_sink *sink, const sr_connector_config *cfg, sr_error **err) {
  delta_sink *ds = calloc(1, sizeof *ds);
  if (!ds) return sr_error_set(err, SR_ERROR, "out of memory");
  sink->impl = ds;
  const sr_option_spec *spec = sink->ops->options;
  ds->pending_batch = -1;
  ds->last_version = -1;
  sr_arena_init(&ds->arena);
  ds->adds = json_array();
  ds->file_index = json_object();
  ds->sync_dirs = json_object();
  if (!ds->adds || !ds->file_index || !ds->sync_dirs) return sr_error_set(err, SR_ERROR, "out of memory");
  const char *path = sr_opt_str(cfg->options, spec, "path", NULL);
  if (!path) return sr_error_set(err, SR_ERROR, "`path` is required (the Delta table's directory)");
  if (!(ds->table = strdup(path))) return sr_error_set(err, SR_ERROR, "out of memory");
  size_t len = strlen(ds->table);
  while (len > 1 && ds->table[len - 1] == '/') ds->table[--len] = '\0';
  ds->app_id = cfg->query_id;
  ds->plan_schema = cfg->schema;
  ds->plan_guessed = cfg->schema_guessed;
  const char *mode = cfg->output_mode ? cfg->output_mode : "append";
  if (strcmp(mode, "update") == 0)
    return sr_error_set(err, SR_ERROR, "the delta sink does not support update output mode (neither does "
                        "Spark's: \"Data source DeltaDataSource does not support Update output mode\"): a "
                        "table's rows cannot be updated in place by a stream; use append, or complete to "
                        "rewrite the table each batch");
  if (strcmp(mode, "append") != 0 && strcmp(mode, "complete") != 0)
    return sr_error_set(err, SR_ERROR, "unknown output mode %s", mode);
  ds->complete = strcmp(mode, "complete") == 0;
  ds->merge_schema = sr_opt_bool(cfg->options, spec, "mergeSchema", 0);
  sr_pq_write_options_init(&ds->pq);
  ds->pq.row_group_bytes = sr_opt_size(cfg->options, spec, "rowGroupSize", 128 << 20);
  ds->max_records = sr_opt_int(cfg->options, spec, "maxRecordsPerFile", 0);
  ds->checkpoint_interval = sr_opt_int(cfg->options, spec, "checkpointInterval", 10);
  const char *um = sr_opt_str(cfg->options, spec, "userMetadata", NULL);
  if (um && !(ds->user_metadata = strdup(um))) return sr_error_set(err, SR_ERROR, "out of memory");
  if (parse_codec(ds, sr_opt_str(cfg->options, spec, "compression", "snappy"), err) != SR_OK) return SR_ERROR;
  const char *pby = sr_opt_str(cfg->options, spec, "partitionBy", NULL);
  ds->partition_given = pby != NULL;
  if (parse_columns("partitionBy", pby, &ds->partition_by, &ds->npartition_by, err) != SR_OK) return SR_ERROR;
  if (parse_columns("mergeKeys", sr_opt_str(cfg->options, spec, "mergeKeys", NULL), &ds->merge_keys,
                    &ds->nmerge_keys, err) != SR_OK)
    return SR_ERROR;
  if (ds->nmerge_keys && ds->complete)
    return sr_error_set(err, SR_ERROR, "mergeKeys cannot be used with complete output mode (complete "
                        "rewrites the whole table each batch)");
  if (!(ds->snap = sr_delta_snapshot_open(ds->table, -1, err))) return SR_ERROR;
  if (ds->snap->metadata) {
    if (sr_delta_check_writable(ds->snap, err) != SR_OK) return SR_ERROR;
    int same = ds->npartition_by == ds->snap->npartition;
    for (int j = 0; same && j < ds->npartition_by; j++)
      same = has_name(ds->snap->partition_columns, ds->snap->npartition, ds->partition_by[j]);
    if (ds->partition_given && !same) {
      sr_buf have = SR_BUF_INIT;
      for (int j = 0; j < ds->snap->npartition; j++)
        sr_buf_printf(&have, "%s%s", j ? ", " : "", ds->snap->partition_columns[j]);
      sr_status st = sr_error_set(err, SR_ERROR, "partitionBy (%s) differs from the partition columns of "
                                  "the table %s ([%s])", pby, ds->table, have.data ? have.data : "");
      sr_buf_free(&have);
      return st;
    }
  }
  if (ds->nmerge_keys) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/merge_keys", cfg->state_dir);
    if (!(ds->keys = sr_delta_keys_open(dir, ds->merge_keys, ds->nmerge_keys, err))) return SR_ERROR;
  }
  return SR_OK;
}

static void dsink_describe(sr_sink *sink, json_t *o) {
  delta_sink *ds = sink->impl;
  char desc[4200];
  snprintf(desc, sizeof desc, "DeltaSink[%s]", ds->table);
  json_object_set_new(o, "description", json_string(desc));
  json_t *m = json_pack("{s:I,s:I}", "tableVersion", (json_int_t)ds->last_version, "numAddedFiles",
                        (json_int_t)ds->last_files);
  if (m && ds->keys) {
    json_object_set_new(m, "numDuplicateRows", json_integer(ds->last_dups));
    json_object_set_new(m, "numMergeKeys", json_integer(sr_delta_keys_count(ds->keys)));
    json_object_set_new(m, "numMergeKeyFilesRead", json_integer(sr_delta_keys_files_scanned(ds->keys)));
  }
  if (m) json_object_set_new(o, "metrics", m);
}

static void dsink_close(sr_sink *sink) {
  delta_sink *ds = sink->impl;
  if (!ds) return;
  reset_batch(ds);
  free(ds->files);
  json_decref(ds->adds);
  json_decref(ds->file_index);
  json_decref(ds->sync_dirs);
  free(ds->table);
  free(ds->user_metadata);
  free_names(ds->partition_by, ds->npartition_by);
  free_names(ds->merge_keys, ds->nmerge_keys);
  sr_delta_snapshot_free(ds->snap);
  sr_delta_keys_close(ds->keys);
  sr_arena_free(&ds->arena);
  sr_buf_free(&ds->buf);
  sr_buf_free(&ds->pdir);
  free(ds);
  sink->impl = NULL;
}

/* The table's txn for this query is the newest batch it committed; a lower bound, as an
** empty append commits nothing. (Several queries may write one table, as with Delta's own
** streaming writers: each has its own txn appId, the query id, so none mistakes another's
** batches for its own.) */
static sr_status dsink_committed(sr_sink *sink, int64_t *batch_id, int *every, char *where,
                                 size_t wherelen, sr_error **err) {
  delta_sink *ds = sink->impl;
  *every = 0;
  *batch_id = ds->snap->version >= 0 ? sr_delta_txn_version(ds->snap, ds->app_id) : -1;
  snprintf(where, wherelen, "%s/_delta_log, txn of appId %s", ds->table, ds->app_id);
  return SR_OK;
}

/* What open would refuse in the options alone, and partitionBy / mergeKeys columns the output
** rows do not have when the plan knows them (Delta: "Partition column `x` not found in schema").
** Reads no table. */
static sr_status dsink_check(const sr_connector_config *cfg, sr_error **err) {
  const sr_option_spec *spec = delta_sink_options;
  if (!sr_opt_str(cfg->options, spec, "path", NULL))
    return sr_error_set(err, SR_ERROR, "`path` is required (the Delta table's directory)");
  delta_sink tmp;
  memset(&tmp, 0, sizeof tmp);
  if (parse_codec(&tmp, sr_opt_str(cfg->options, spec, "compression", "snappy"), err) != SR_OK) return SR_ERROR;
  static const char *const lists[] = {"partitionBy", "mergeKeys"};
  for (int k = 0; k < 2; k++) {
    char **names;
    int n;
    if (parse_columns(lists[k], sr_opt_str(cfg->options, spec, lists[k], NULL), &names, &n, err) != SR_OK)
      return SR_ERROR;
    sr_status st = SR_OK;
    if (k == 1 && n > 0 && cfg->output_mode && strcmp(cfg->output_mode, "complete") == 0)
      st = sr_error_set(err, SR_ERROR, "mergeKeys cannot be used with complete output mode (complete "
                        "rewrites the whole table each batch)");
    for (int i = 0; st == SR_OK && cfg->columns && i < n; i++) {
      int found = 0;
      for (int c = 0; cfg->columns[c]; c++) found |= strcmp(cfg->columns[c], names[i]) == 0;
      if (!found) {
        char have[512] = "";
        for (int c = 0; cfg->columns[c]; c++)
          snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", c ? ", " : "", cfg->columns[c]);
        st = sr_error_set(err, SR_ERROR, "%s column '%s' is not among the output columns (%s)%s",
                          lists[k], names[i], have,
                          k == 0 ? " (Delta: \"Partition column not found in schema\")" : "");
      }
    }
    free_names(names, n);
    if (st != SR_OK) return st;
  }
  return SR_OK;
}

/* Delta's DeltaDataSource.createSink: "if (outputMode != OutputMode.Append && outputMode !=
** OutputMode.Complete) throw DeltaErrors.outputModeNotSupportedException". */
static const char *const delta_modes[] = {"append", "complete", NULL};

const sr_sink_ops sr_sink_delta = {
  .name = "delta", .options = delta_sink_options, .output_modes = delta_modes, .check = dsink_check,
  .open = dsink_open, .write = dsink_write,
  .commit = dsink_commit, .describe = dsink_describe, .close = dsink_close,
  .committed = dsink_committed,
};
