/*
** static_table: the static side of stream-static joins. See static_table.h.
**
** The multimap keeps every byte (keys and rows) in one buffer, a key array and a row array
** indexed by 32-bit positions, and an open-addressing slot array over the keys (linear
** probing, at most half full). A key's rows form a linked list through the row array, in the
** order they were added. Nothing is ever removed: a changed static table is rebuilt whole.
*/
#include "static_table.h"

#include "delta_table.h"

#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bytes.h"
#include "csv_rows.h"
#include "fsutil.h"
#include "partition_dirs.h"

typedef struct key_ent {
  uint64_t off;
  uint32_t len, hash32;
  uint32_t head, tail; /* row index + 1 */
  uint32_t count;
} key_ent;

typedef struct row_ent {
  uint64_t off;
  uint32_t len;
  uint32_t next; /* row index + 1; 0: the key's last row */
} row_ent;

struct sr_static_table {
  sr_buf data;
  key_ent *keys;
  uint32_t nkeys, kcap;
  row_ent *rows;
  uint32_t nrows, rcap;
  uint32_t *slots; /* key index + 1; 0: empty */
  uint32_t nslots; /* a power of two */
  char **columns;
  int ncolumns, ccap;
};

sr_static_table *sr_static_table_new(void) {
  sr_static_table *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->nslots = 16;
  t->slots = calloc(t->nslots, sizeof *t->slots);
  if (!t->slots) {
    free(t);
    return NULL;
  }
  return t;
}

void sr_static_table_free(sr_static_table *t) {
  if (!t) return;
  sr_buf_free(&t->data);
  free(t->keys);
  free(t->rows);
  free(t->slots);
  for (int i = 0; i < t->ncolumns; i++) free(t->columns[i]);
  free(t->columns);
  free(t);
}

/* The slot holding key, or the empty slot where it would go. */
static uint32_t find_slot(const sr_static_table *t, const void *key, size_t klen, uint32_t h32) {
  uint32_t mask = t->nslots - 1, i = h32 & mask;
  for (;;) {
    uint32_t k = t->slots[i];
    if (k == 0) return i;
    const key_ent *e = &t->keys[k - 1];
    if (e->hash32 == h32 && e->len == klen && memcmp(t->data.data + e->off, key, klen) == 0)
      return i;
    i = (i + 1) & mask;
  }
}

/* Doubles the slot array. Returns 0, or -1 when out of memory (the table is unchanged). */
static int grow_slots(sr_static_table *t) {
  if (t->nslots > UINT32_MAX / 2) return -1;
  uint32_t n = t->nslots * 2, mask = n - 1;
  uint32_t *slots = calloc(n, sizeof *slots);
  if (!slots) return -1;
  for (uint32_t k = 0; k < t->nkeys; k++) {
    uint32_t i = t->keys[k].hash32 & mask;
    while (slots[i]) i = (i + 1) & mask;
    slots[i] = k + 1;
  }
  free(t->slots);
  t->slots = slots;
  t->nslots = n;
  return 0;
}

/* Makes room for one more element of an array of size elements. 0, or -1. */
static int reserve(void **arr, uint32_t n, uint32_t *cap, size_t size) {
  if (n < *cap) return 0;
  if (*cap >= UINT32_MAX / 2) return -1;
  uint32_t ncap = *cap ? *cap * 2 : 64;
  void *p = realloc(*arr, (size_t)ncap * size);
  if (!p) return -1;
  *arr = p;
  *cap = ncap;
  return 0;
}

int sr_static_table_add(sr_static_table *t, const void *key, size_t klen, const void *row,
                        size_t rlen) {
  if (klen > UINT32_MAX || rlen > UINT32_MAX || t->nrows == UINT32_MAX - 1) return -1;
  if ((uint64_t)(t->nkeys + 1) * 2 > t->nslots && grow_slots(t) != 0) return -1;
  if (reserve((void **)&t->rows, t->nrows, &t->rcap, sizeof *t->rows) != 0) return -1;
  uint32_t h32 = (uint32_t)sr_hash64(key, klen);
  uint32_t slot = find_slot(t, key, klen, h32);
  size_t len0 = t->data.len;
  if (t->slots[slot] == 0) {
    if (reserve((void **)&t->keys, t->nkeys, &t->kcap, sizeof *t->keys) != 0 ||
        sr_buf_append(&t->data, key, klen) != 0)
      return -1;
    t->keys[t->nkeys] = (key_ent){len0, (uint32_t)klen, h32, 0, 0, 0};
  }
  uint64_t roff = t->data.len;
  if (sr_buf_append(&t->data, row, rlen) != 0) {
    t->data.len = len0; /* drop the key appended above, if any */
    return -1;
  }
  if (t->slots[slot] == 0) t->slots[slot] = ++t->nkeys;
  key_ent *e = &t->keys[t->slots[slot] - 1];
  t->rows[t->nrows] = (row_ent){roff, (uint32_t)rlen, 0};
  t->nrows++;
  if (e->tail) t->rows[e->tail - 1].next = t->nrows;
  else e->head = t->nrows;
  e->tail = t->nrows;
  e->count++;
  return 0;
}

int sr_static_table_add_column(sr_static_table *t, const char *name, size_t len) {
  for (int i = 0; i < t->ncolumns; i++)
    if (strlen(t->columns[i]) == len && memcmp(t->columns[i], name, len) == 0) return 0;
  if (t->ncolumns == t->ccap) {
    int cap = t->ccap ? t->ccap * 2 : 16;
    char **p = realloc(t->columns, (size_t)cap * sizeof *p);
    if (!p) return -1;
    t->columns = p;
    t->ccap = cap;
  }
  char *copy = malloc(len + 1);
  if (!copy) return -1;
  memcpy(copy, name, len);
  copy[len] = '\0';
  t->columns[t->ncolumns++] = copy;
  return 0;
}

int sr_static_table_ncolumns(const sr_static_table *t) { return t->ncolumns; }
const char *sr_static_table_column(const sr_static_table *t, int i) { return t->columns[i]; }

uint32_t sr_static_table_find(const sr_static_table *t, const void *key, size_t klen,
                              sr_static_cursor *c) {
  c->t = t;
  c->next = 0;
  if (klen > UINT32_MAX) return 0;
  uint32_t slot = find_slot(t, key, klen, (uint32_t)sr_hash64(key, klen));
  if (t->slots[slot] == 0) return 0;
  const key_ent *e = &t->keys[t->slots[slot] - 1];
  c->next = e->head;
  return e->count;
}

int sr_static_cursor_next(sr_static_cursor *c, const void **row, size_t *rlen) {
  if (c->next == 0) return 0;
  const row_ent *r = &c->t->rows[c->next - 1];
  *row = c->t->data.data + r->off;
  *rlen = r->len;
  c->next = r->next;
  return 1;
}

size_t sr_static_table_nrows(const sr_static_table *t) { return t->nrows; }
size_t sr_static_table_nkeys(const sr_static_table *t) { return t->nkeys; }

size_t sr_static_table_bytes(const sr_static_table *t) {
  return sizeof *t + t->data.cap + (size_t)t->kcap * sizeof *t->keys +
         (size_t)t->rcap * sizeof *t->rows + (size_t)t->nslots * sizeof *t->slots;
}

/* --- the cache ------------------------------------------------------------------------------ */

typedef struct cache_entry {
  char *identity;
  char *fingerprint;
  sr_static_table *table;
  uint64_t used; /* the use clock at the last get/put */
} cache_entry;

static cache_entry cache[SR_STATIC_CACHE_MAX];
static int cache_n;
static uint64_t use_clock;

static void entry_free(cache_entry *e) {
  free(e->identity);
  free(e->fingerprint);
  sr_static_table_free(e->table);
  memset(e, 0, sizeof *e);
}

static int cache_find(const char *identity) {
  for (int i = 0; i < cache_n; i++)
    if (strcmp(cache[i].identity, identity) == 0) return i;
  return -1;
}

sr_static_table *sr_static_cache_get(const char *identity, const char **fingerprint) {
  int i = cache_find(identity);
  if (i < 0) return NULL;
  cache[i].used = ++use_clock;
  if (fingerprint) *fingerprint = cache[i].fingerprint;
  return cache[i].table;
}

int sr_static_cache_put(const char *identity, const char *fingerprint, sr_static_table *t) {
  char *id = strdup(identity), *fp = strdup(fingerprint);
  int i = cache_find(identity);
  if (!id || !fp) {
    free(id);
    free(fp);
    sr_static_table_free(t);
    if (i >= 0) {
      entry_free(&cache[i]);
      cache[i] = cache[--cache_n];
    }
    return -1;
  }
  if (i < 0 && cache_n == SR_STATIC_CACHE_MAX) {
    int oldest = 0;
    for (int k = 1; k < cache_n; k++)
      if (cache[k].used < cache[oldest].used) oldest = k;
    entry_free(&cache[oldest]);
    i = oldest;
  } else if (i < 0) {
    i = cache_n++;
  } else {
    entry_free(&cache[i]);
  }
  cache[i] = (cache_entry){id, fp, t, ++use_clock};
  return 0;
}

void sr_static_cache_clear(void) {
  for (int i = 0; i < cache_n; i++) entry_free(&cache[i]);
  cache_n = 0;
}

int sr_static_cache_size(void) { return cache_n; }

/* --- files: json and csv ---------------------------------------------------------------------- */

typedef struct file_info {
  char *path;
  int64_t size;
  int64_t mtime_ns;
} file_info;

/* The files of one table and a read buffer. Held by a userdata while load() calls Lua, so a
** Lua error (out of memory) frees them through __gc. */
typedef struct file_list {
  file_info *files;
  int n, cap;
  char *buf;
} file_list;

static void file_list_free(file_list *fl) {
  for (int i = 0; i < fl->n; i++) free(fl->files[i].path);
  free(fl->files);
  free(fl->buf);
  memset(fl, 0, sizeof *fl);
}

static int by_path(const void *a, const void *b) {
  return strcmp(((const file_info *)a)->path, ((const file_info *)b)->path);
}

static int list_add(file_list *fl, const char *path, const struct stat *st) {
  if (fl->n == fl->cap) {
    int cap = fl->cap ? fl->cap * 2 : 16;
    file_info *p = realloc(fl->files, (size_t)cap * sizeof *p);
    if (!p) return -1;
    fl->files = p;
    fl->cap = cap;
  }
  char *copy = strdup(path);
  if (!copy) return -1;
  fl->files[fl->n++] = (file_info){copy, (int64_t)st->st_size,
                                   (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec};
  return 0;
}

/* The table's files, sorted by path: path itself when it is a file, else the visible regular
** files of the directory (names starting with '.' or '_' are skipped, as Spark skips them). */
/* The files of a directory and of its partition folders (key=value, partition_dirs.h), as the file
** sources list them. */
static sr_status list_dir(const char *path, file_list *fl, int depth, sr_error **err) {
  DIR *d = opendir(path);
  if (!d) return sr_error_set(err, SR_ERROR, "static table %s: %s", path, strerror(errno));
  sr_status rc = SR_OK;
  struct dirent *de;
  while (rc == SR_OK && (de = readdir(d))) {
    if (de->d_name[0] == '.' || de->d_name[0] == '_') continue;
    char full[PATH_MAX];
    struct stat st;
    if ((size_t)snprintf(full, sizeof full, "%s/%s", path, de->d_name) >= sizeof full) continue;
    if (stat(full, &st) != 0) continue; /* gone */
    if (S_ISDIR(st.st_mode) && depth < SR_PARTITION_MAX && sr_partition_dir(de->d_name))
      rc = list_dir(full, fl, depth + 1, err);
    else if (S_ISREG(st.st_mode) && list_add(fl, full, &st) != 0)
      rc = sr_error_set(err, SR_ERROR, "out of memory");
  }
  closedir(d);
  return rc;
}

static sr_status list_files(const char *path, file_list *fl, sr_error **err) {
  struct stat st;
  if (stat(path, &st) != 0)
    return sr_error_set(err, SR_ERROR, "static table %s: %s", path, strerror(errno));
  if (!S_ISDIR(st.st_mode)) {
    if (list_add(fl, path, &st) != 0) return sr_error_set(err, SR_ERROR, "out of memory");
    return SR_OK;
  }
  sr_status rc = list_dir(path, fl, 0, err);
  if (rc == SR_OK && fl->n > 1) qsort(fl->files, (size_t)fl->n, sizeof *fl->files, by_path);
  return rc;
}

static sr_status files_fingerprint(const char *path, const sr_options *o, sr_buf *out,
                                   sr_error **err) {
  file_list fl = {0};
  sr_status rc = list_files(path, &fl, err);
  for (int i = 0; rc == SR_OK && i < fl.n; i++)
    if (sr_buf_printf(out, "%s\t%lld\t%lld\n", fl.files[i].path, (long long)fl.files[i].size,
                      (long long)fl.files[i].mtime_ns) != 0)
      rc = sr_error_set(err, SR_ERROR, "out of memory");
  file_list_free(&fl);
  return rc;
}

static int file_list_gc(lua_State *L) {
  file_list_free(lua_touserdata(L, 1));
  return 0;
}

/* Loads every file with decode: the json and csv formats differ only in it. */
static sr_status load_files(lua_State *L, const char *path, const sr_options *o,
                            const sr_schema *schema, int rows_idx, int *nrows, sr_bad_fn bad,
                            void *bad_ud, int is_csv, sr_error **err) {
  sr_csv_options csv;
  memset(&csv, 0, sizeof csv);
  sr_linesep line_sep;
  const char *line_sep_text = sr_opt_str(o, NULL, "lineSep", NULL);
  if (sr_linesep_set(&line_sep, line_sep_text, is_csv ? 2 : SR_LINESEP_MAX) != 0)
    return sr_error_set(err, SR_ERROR, "lineSep must be %s, not \"%s\"",
                        is_csv ? "one character" : "1 to 16 bytes", line_sep_text);
  if (is_csv) {
    const char *sep = sr_opt_str(o, NULL, "sep", ",");
    csv.sep = sep[0] ? sep[0] : ',';
    csv.header = sr_opt_bool(o, NULL, "header", 0);
    csv.multiline = sr_opt_bool(o, NULL, "multiLine", 0);
    csv.line_sep = line_sep;
  }
  file_list *fl = lua_newuserdata(L, sizeof *fl);
  memset(fl, 0, sizeof *fl);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, file_list_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  sr_status rc = list_files(path, fl, err);
  for (int i = 0; rc == SR_OK && i < fl->n; i++) {
    size_t len;
    int before = *nrows;
    fl->buf = sr_fs_read_all(fl->files[i].path, &len, err);
    if (!fl->buf) {
      rc = SR_ERROR;
      break;
    }
    if (is_csv)
      sr_csv_decode_lines(L, rows_idx, nrows, fl->buf, len, schema, &csv, fl->files[i].path, 1,
                          bad, bad_ud);
    else {
      int64_t nlines;
      sr_json_decode_piece_sep(L, rows_idx, nrows, fl->buf, len, schema, &line_sep,
                               sr_opt_bool(o, NULL, "allowSingleQuotes", 1), fl->files[i].path, 1,
                               bad, bad_ud, &nlines);
    }
    free(fl->buf);
    fl->buf = NULL;
    sr_partitions_set(L, rows_idx, before + 1, *nrows, schema, path, fl->files[i].path);
  }
  file_list_free(fl);
  lua_pop(L, 1);
  return rc;
}

static sr_status json_load(lua_State *L, const char *path, const sr_options *o,
                           const sr_schema *schema, int rows_idx, int *nrows, sr_bad_fn bad,
                           void *bad_ud, sr_error **err) {
  return load_files(L, path, o, schema, rows_idx, nrows, bad, bad_ud, 0, err);
}

static sr_status csv_load(lua_State *L, const char *path, const sr_options *o,
                          const sr_schema *schema, int rows_idx, int *nrows, sr_bad_fn bad,
                          void *bad_ud, sr_error **err) {
  return load_files(L, path, o, schema, rows_idx, nrows, bad, bad_ud, 1, err);
}

static const sr_option_spec json_options[] = {
  {"path", SR_OPT_STRING, NULL, "a JSON lines file, or a directory of them"},
  {"lineSep", SR_OPT_STRING, NULL, "the line end; by default \"\\n\", \"\\r\\n\" or \"\\r\""},
  {NULL},
};

static const sr_option_spec csv_options[] = {
  {"path", SR_OPT_STRING, NULL, "a CSV file, or a directory of them"},
  {"header", SR_OPT_BOOL, "false", "the first line of each file names the columns"},
  {"sep", SR_OPT_STRING, ",", "the field separator (one character)"},
  {"lineSep", SR_OPT_STRING, NULL, "the line end; by default \"\\n\", \"\\r\\n\" or \"\\r\""},
  {"multiLine", SR_OPT_BOOL, "false", "a quoted value may span lines"},
  {NULL},
};

static const sr_static_format json_format = {"json", json_options, files_fingerprint, json_load};
static const sr_static_format csv_format = {"csv", csv_options, files_fingerprint, csv_load};

/* Every format a static table can be read from. A new one (Delta) is one more entry. */
static const sr_static_format *const formats[] = {&json_format, &csv_format, &sr_delta_static_format, NULL};

const sr_static_format *sr_static_format_find(const char *name) {
  for (int i = 0; formats[i]; i++)
    if (strcmp(formats[i]->name, name) == 0) return formats[i];
  return NULL;
}

const char *const *sr_static_format_names(void) {
  static const char *names[sizeof formats / sizeof formats[0]];
  for (size_t i = 0; formats[i]; i++) names[i] = formats[i]->name;
  return names;
}
