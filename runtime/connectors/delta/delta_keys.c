/*
** The mergeKeys index: see delta_keys.h.
**
** Store entries: key = the encoded key columns (below), value = empty for a key the table has,
** or the 8-byte id of the batch that admitted it (so a concurrent writer's key that equals one
** of this batch's is told apart from an old one); bookkeeping entries start with 0xff, which
** no encoded key does:
**   0xff "version"  the table version the index describes (8 bytes, little-endian)
**   0xff "table"    the table's metaData.id
**   0xff "keys"     the key column names, separated by 0x1f
** Encoding, per key column: 'i' + 8 bytes (integers, dates, timestamps in ms), 'n' + 8 bytes
** (decimals: the unscaled value), 'd' + 8 bytes (doubles; floats rounded to float first, -0
** as 0), 'b' + 1 byte, 's' + varint length + bytes (strings, binary), 'l' + varint count +
** items (structs, arrays, maps), 'z' (a null inside a nested value).
*/
#include "delta_keys.h"

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "bytes.h"
#include "delta_table.h"
#include "state_store.h"

static const char META_VERSION[] = "\xff" "version";
static const char META_TABLE[] = "\xff" "table";
static const char META_KEYS[] = "\xff" "keys";

struct sr_delta_keys {
  char **names;
  int n;
  sr_state_store *store;
  int *cols;              /* key columns in the batch's row schema */
  sr_type *types;
  int *scales;
  int64_t version;        /* committed: the table version described, -1 none */
  char *table_id;         /* committed */
  int keys_match;         /* committed key columns are these */
  uint8_t marker[8];      /* the batch id, as admitted keys' value */
  sr_buf key, joined;
  sr_arena arena;
  int64_t files_scanned;
};

/* --- encoding -------------------------------------------------------------------------------- */

static int put_u64(sr_buf *b, char tag, uint64_t v) {
  char bytes[9];
  bytes[0] = tag;
  for (int i = 0; i < 8; i++) bytes[1 + i] = (char)(v >> (56 - 8 * i));
  return sr_buf_append(b, bytes, 9);
}

static int encode_value(sr_buf *b, sr_type type, int scale, const sr_value *v) {
  switch (v->kind) {
  case SR_VAL_NULL: return sr_buf_putc(b, 'z');
  case SR_VAL_BOOL: return sr_buf_putc(b, 'b') || sr_buf_putc(b, (char)(v->u.b != 0));
  case SR_VAL_INT:
    if (type == SR_TYPE_DECIMAL) return put_u64(b, 'n', (uint64_t)(v->u.i * (int64_t)pow(10, scale)));
    if (type == SR_TYPE_DOUBLE || type == SR_TYPE_FLOAT) {
      sr_value d = {SR_VAL_DOUBLE, {.d = (double)v->u.i}};
      return encode_value(b, type, scale, &d);
    }
    return put_u64(b, 'i', (uint64_t)v->u.i);
  case SR_VAL_DOUBLE: {
    if (type == SR_TYPE_DECIMAL) return put_u64(b, 'n', (uint64_t)llround(v->u.d * pow(10, scale)));
    double d = type == SR_TYPE_FLOAT ? (double)(float)v->u.d : v->u.d;
    if (d == 0) d = 0; /* -0 */
    if (isnan(d)) d = NAN;
    uint64_t bits;
    memcpy(&bits, &d, 8);
    return put_u64(b, 'd', bits);
  }
  case SR_VAL_STRING: case SR_VAL_BINARY:
    return sr_buf_putc(b, 's') || sr_varint_put(b, v->u.str.len) || sr_buf_append(b, v->u.str.ptr, v->u.str.len);
  case SR_VAL_STRUCT: case SR_VAL_LIST:
    if (sr_buf_putc(b, 'l') || sr_varint_put(b, (uint64_t)v->u.list.n)) return -1;
    for (int i = 0; i < v->u.list.n; i++)
      if (encode_value(b, SR_TYPE_STRUCT, 0, &v->u.list.items[i]) != 0) return -1;
    return 0;
  }
  return -1;
}

/* Encodes the key of row into k->key: key column i is row item pos ? pos[i] : i. Returns 0,
** 1 when a key column is null, -1 when out of memory. */
static int encode_key(sr_delta_keys *k, const sr_value *row, const int *pos) {
  sr_buf_clear(&k->key);
  for (int i = 0; i < k->n; i++) {
    const sr_value *v = &row->u.list.items[pos ? pos[i] : i];
    if (v->kind == SR_VAL_NULL) return 1;
    if (encode_value(&k->key, k->types[i], k->scales[i], v) != 0) return -1;
  }
  return 0;
}

/* --- opening --------------------------------------------------------------------------------- */

/* The newest store version on disk (0 for none). */
static int64_t newest_store_version(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int64_t best = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    char *end;
    long long v = strtoll(de->d_name, &end, 10);
    if (end != de->d_name && (strcmp(end, ".delta") == 0 || strcmp(end, ".snapshot") == 0) && v > best)
      best = v;
  }
  closedir(d);
  return best;
}

static int join_names(sr_delta_keys *k) {
  sr_buf_clear(&k->joined);
  for (int i = 0; i < k->n; i++)
    if ((i && sr_buf_putc(&k->joined, '\x1f')) || sr_buf_puts(&k->joined, k->names[i])) return -1;
  return 0;
}

/* Reads the committed bookkeeping entries. */
static void read_meta(sr_delta_keys *k) {
  const void *val;
  size_t len;
  k->version = -1;
  free(k->table_id);
  k->table_id = NULL;
  if (sr_state_get(k->store, META_VERSION, sizeof META_VERSION - 1, &val, &len) && len == 8) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | ((const uint8_t *)val)[i];
    k->version = (int64_t)v;
  }
  if (sr_state_get(k->store, META_TABLE, sizeof META_TABLE - 1, &val, &len))
    k->table_id = strndup(val, len);
  k->keys_match = sr_state_get(k->store, META_KEYS, sizeof META_KEYS - 1, &val, &len) &&
                  len == k->joined.len && memcmp(val, k->joined.data, len) == 0;
}

void sr_delta_keys_close(sr_delta_keys *k) {
  if (!k) return;
  sr_state_close(k->store);
  for (int i = 0; i < k->n; i++) free(k->names[i]);
  free(k->names);
  free(k->cols);
  free(k->types);
  free(k->scales);
  free(k->table_id);
  sr_buf_free(&k->key);
  sr_buf_free(&k->joined);
  sr_arena_free(&k->arena);
  free(k);
}

sr_delta_keys *sr_delta_keys_open(const char *dir, char *const *names, int n, sr_error **err) {
  sr_delta_keys *k = calloc(1, sizeof *k);
  if (!k) {
    sr_error_set(err, SR_ERROR, "out of memory");
    return NULL;
  }
  sr_arena_init(&k->arena);
  k->names = calloc((size_t)(n ? n : 1), sizeof *k->names);
  k->cols = calloc((size_t)(n ? n : 1), sizeof *k->cols);
  k->types = calloc((size_t)(n ? n : 1), sizeof *k->types);
  k->scales = calloc((size_t)(n ? n : 1), sizeof *k->scales);
  int ok = k->names && k->cols && k->types && k->scales;
  for (int i = 0; ok && i < n; i++) {
    ok = (k->names[i] = strdup(names[i])) != NULL;
    k->n = i + 1;
  }
  if (!ok || join_names(k) != 0) {
    sr_error_set(err, SR_ERROR, "out of memory");
    sr_delta_keys_close(k);
    return NULL;
  }
  k->store = sr_state_open(dir, newest_store_version(dir), NULL, err);
  if (!k->store) {
    if (err) sr_error_prefix(*err, "the mergeKeys index");
    sr_delta_keys_close(k);
    return NULL;
  }
  read_meta(k);
  return k;
}

/* --- keeping up with the table ------------------------------------------------------------------ */

/* Removes every key (not the bookkeeping entries). */
static sr_status clear_keys(sr_delta_keys *k, sr_error **err) {
  sr_state_iter it;
  sr_state_iter_init(k->store, &it);
  const void *key, *val;
  size_t klen, vlen;
  while (sr_state_iter_next(&it, &key, &klen, &val, &vlen)) {
    if (klen > 0 && ((const uint8_t *)key)[0] == 0xff) continue;
    if (sr_state_remove(k->store, key, klen, err) < 0) return SR_ERROR;
  }
  return SR_OK;
}

/* Adds the keys of one live file of s. With conflict set, a key this batch admitted sets it. */
static sr_status scan_file(sr_delta_keys *k, const sr_delta_snapshot *s, json_t *add, int *conflict,
                           sr_error **err) {
  int cols[64];
  if (k->n > 64) return sr_error_set(err, SR_ERROR, "mergeKeys: at most 64 key columns");
  for (int i = 0; i < k->n; i++) {
    cols[i] = s->schema ? sr_schema_find(s->schema, k->names[i]) : -1;
    if (cols[i] < 0)
      return sr_error_set(err, SR_ERROR, "mergeKeys column %s is not in the table %s", k->names[i], s->table);
  }
  sr_value *rows;
  int64_t nrows;
  sr_status st = sr_delta_read_file(s, add, cols, k->n, &k->arena, &rows, &nrows, err);
  for (int64_t r = 0; st == SR_OK && r < nrows; r++) {
    int rc = encode_key(k, &rows[r], NULL);
    if (rc < 0) st = sr_error_set(err, SR_ERROR, "out of memory");
    if (rc != 0) continue;
    const void *val;
    size_t vlen;
    if (sr_state_get(k->store, k->key.data, k->key.len, &val, &vlen)) {
      if (conflict && vlen == 8 && memcmp(val, k->marker, 8) == 0) *conflict = 1;
      continue;
    }
    st = sr_state_put(k->store, k->key.data, k->key.len, "", 0, err);
  }
  sr_arena_reset(&k->arena);
  k->files_scanned++;
  return st;
}

static sr_status scan_all(sr_delta_keys *k, const sr_delta_snapshot *s, sr_error **err) {
  if (clear_keys(k, err) != SR_OK) return SR_ERROR;
  const char *path;
  json_t *add;
  json_object_foreach(s->files, path, add)
    if (scan_file(k, s, add, NULL, err) != SR_OK) return SR_ERROR;
  return SR_OK;
}

static int removes_data(json_t *action) {
  json_t *rm = json_object_get(action, "remove");
  return rm && !json_is_false(json_object_get(rm, "dataChange"));
}

/* Brings the index from its committed version up to s. */
static sr_status sync(sr_delta_keys *k, const sr_delta_snapshot *s, sr_error **err) {
  if (s->version < 0) return k->version >= 0 ? clear_keys(k, err) : SR_OK;
  const char *id = json_string_value(json_object_get(s->metadata, "id"));
  if (k->version < 0 || k->version > s->version || !k->keys_match || !id || !k->table_id ||
      strcmp(id, k->table_id) != 0)
    return scan_all(k, s, err);
  for (int64_t v = k->version + 1; v <= s->version; v++) {
    json_t *actions;
    if (sr_delta_read_commit(s->table, v, &actions, err) != SR_OK) return SR_ERROR;
    if (!actions) return scan_all(k, s, err); /* cleaned from the log: start over */
    size_t i;
    json_t *a;
    int removed = 0;
    json_array_foreach(actions, i, a) removed |= removes_data(a);
    sr_status st = SR_OK;
    json_array_foreach(actions, i, a) {
      json_t *add = json_object_get(a, "add");
      const char *path = json_string_value(json_object_get(add, "path"));
      /* only files still live: a later commit may have removed them */
      if (removed || !path || !json_object_get(s->files, path)) continue;
      if ((st = scan_file(k, s, add, NULL, err)) != SR_OK) break;
    }
    json_decref(actions);
    if (st != SR_OK) return st;
    if (removed) return scan_all(k, s, err);
  }
  return SR_OK;
}

sr_status sr_delta_keys_begin(sr_delta_keys *k, const sr_delta_snapshot *s,
                              const sr_schema *row_schema, int64_t batch_id, sr_error **err) {
  sr_state_abort(k->store);
  read_meta(k);
  for (int i = 0; i < 8; i++) k->marker[i] = (uint8_t)((uint64_t)batch_id >> (8 * i));
  for (int i = 0; i < k->n; i++) {
    int c = row_schema ? sr_schema_find(row_schema, k->names[i]) : -1;
    if (c < 0)
      return sr_error_set(err, SR_ERROR, "mergeKeys column %s is not a column of the output", k->names[i]);
    k->cols[i] = c;
    k->types[i] = row_schema->fields[c].type;
    k->scales[i] = row_schema->fields[c].scale;
  }
  return sync(k, s, err);
}

int sr_delta_keys_admit(sr_delta_keys *k, const sr_value *row, sr_error **err) {
  int rc = encode_key(k, row, k->cols);
  if (rc != 0) {
    if (rc < 0) sr_error_set(err, SR_ERROR, "out of memory");
    return rc < 0 ? -1 : 1;
  }
  const void *val;
  size_t vlen;
  if (sr_state_get(k->store, k->key.data, k->key.len, &val, &vlen)) return 0;
  return sr_state_put(k->store, k->key.data, k->key.len, k->marker, 8, err) == SR_OK ? 1 : -1;
}

sr_status sr_delta_keys_absorb(sr_delta_keys *k, const sr_delta_snapshot *s, json_t *actions,
                               int *conflict, sr_error **err) {
  size_t i;
  json_t *a;
  json_array_foreach(actions, i, a) {
    if (removes_data(a)) *conflict = 1;
    json_t *add = json_object_get(a, "add");
    if (add && scan_file(k, s, add, conflict, err) != SR_OK) return SR_ERROR;
  }
  return SR_OK;
}

sr_status sr_delta_keys_commit(sr_delta_keys *k, const sr_delta_snapshot *s, sr_error **err) {
  uint8_t v[8];
  for (int i = 0; i < 8; i++) v[i] = (uint8_t)((uint64_t)s->version >> (8 * i));
  const char *id = json_string_value(json_object_get(s->metadata, "id"));
  if (!id) id = "";
  if (sr_state_put(k->store, META_VERSION, sizeof META_VERSION - 1, v, 8, err) != SR_OK ||
      sr_state_put(k->store, META_TABLE, sizeof META_TABLE - 1, id, strlen(id), err) != SR_OK ||
      sr_state_put(k->store, META_KEYS, sizeof META_KEYS - 1, k->joined.data, k->joined.len, err) != SR_OK ||
      sr_state_commit(k->store, err) != SR_OK) {
    sr_state_abort(k->store);
    return SR_ERROR;
  }
  read_meta(k);
  return SR_OK;
}

int64_t sr_delta_keys_count(const sr_delta_keys *k) {
  sr_state_stats st;
  sr_state_get_stats(k->store, &st);
  int64_t meta = 0;
  const void *val;
  size_t len;
  meta += sr_state_get(k->store, META_VERSION, sizeof META_VERSION - 1, &val, &len);
  meta += sr_state_get(k->store, META_TABLE, sizeof META_TABLE - 1, &val, &len);
  meta += sr_state_get(k->store, META_KEYS, sizeof META_KEYS - 1, &val, &len);
  return st.num_rows_total - meta;
}

int64_t sr_delta_keys_files_scanned(const sr_delta_keys *k) { return k->files_scanned; }
