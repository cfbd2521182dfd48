/* sr_pq_writer: see parquet_write.h. Column chunk encoding lives in parquet_column.c. */
#include "parquet_write.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "arena.h"
#include "parquet_column.h"
#include "parquet_meta.h"
#include "parquet_schema.h"

#ifndef SR_VERSION
#define SR_VERSION "dev"
#endif

enum {
  DICT_LIMIT = 1 << 20,       /* parquet-mr's default dictionary page size */
  FOOTER_STAT_CHARS = 64,     /* byte-array bounds in the footer are cut to this */
  DELTA_STAT_CHARS = 32       /* Delta's dataSkippingStringPrefixLength */
};

struct sr_pq_writer {
  sr_pq_layout *layout;
  sr_pq_write_options opt;
  sr_pq_chunk_options copt;
  sr_pq_chunk *chunks;        /* one per leaf */
  sr_buf file;
  int64_t rg_rows, num_rows;
  sr_pq_row_group *rgs;
  int nrgs, rgs_cap;
  sr_arena meta;              /* column metadata and statistics bytes */
  sr_pq_minmax *file_mm;      /* per leaf, over all row groups */
  int64_t *null_counts;
  sr_pq_column_stats *stats;  /* after finish */
  int broken;                 /* a failure mid-write left the chunks inconsistent */
  int finished;
};

void sr_pq_write_options_init(sr_pq_write_options *o) {
  memset(o, 0, sizeof *o);
  o->row_group_bytes = 128 << 20;
  o->codec = SR_PQ_SNAPPY;
  o->dictionary = 1;
  o->page_bytes = 1 << 20;
}

void sr_pq_writer_free(sr_pq_writer *w) {
  if (!w) return;
  if (w->layout)
    for (int i = 0; i < w->layout->nleaves; i++) sr_pq_chunk_free(&w->chunks[i]);
  free(w->chunks);
  sr_pq_layout_free(w->layout);
  sr_buf_free(&w->file);
  free(w->rgs);
  sr_arena_free(&w->meta);
  free(w->file_mm);
  free(w->null_counts);
  free(w->stats);
  free(w);
}

sr_pq_writer *sr_pq_writer_new(const sr_schema *schema, const sr_pq_write_options *o, sr_error **err) {
  sr_pq_writer *w = calloc(1, sizeof *w);
  if (!w) {
    sr_error_set(err, SR_ERROR, "out of memory creating a Parquet writer");
    return NULL;
  }
  sr_arena_init(&w->meta);
  if (o) w->opt = *o; else sr_pq_write_options_init(&w->opt);
  sr_pq_write_options def;
  sr_pq_write_options_init(&def);
  if (w->opt.row_group_bytes <= 0) w->opt.row_group_bytes = def.row_group_bytes;
  if (w->opt.page_bytes <= 0) w->opt.page_bytes = def.page_bytes;
  if (strcmp(sr_pq_codec_name(w->opt.codec), "?") == 0) {
    sr_error_set(err, SR_ERROR, "unsupported Parquet codec %d", (int)w->opt.codec);
    goto fail;
  }
  w->copt.codec = w->opt.codec;
  w->copt.dictionary = w->opt.dictionary != 0;
  w->copt.dict_limit = DICT_LIMIT;
  w->copt.page_bytes = w->opt.page_bytes;
  w->copt.page_v2 = w->opt.data_page_v2 != 0;
  if (!(w->layout = sr_pq_layout_from_schema(schema, err))) goto fail;
  int n = w->layout->nleaves;
  w->chunks = calloc((size_t)(n ? n : 1), sizeof *w->chunks);
  w->file_mm = calloc((size_t)(n ? n : 1), sizeof *w->file_mm);
  w->null_counts = calloc((size_t)(n ? n : 1), sizeof *w->null_counts);
  if (!w->chunks || !w->file_mm || !w->null_counts || sr_buf_append(&w->file, "PAR1", 4) != 0) {
    sr_error_set(err, SR_ERROR, "out of memory creating a Parquet writer");
    goto fail;
  }
  for (int i = 0; i < n; i++) sr_pq_chunk_init(&w->chunks[i], &w->layout->leaves[i], w->copt.dictionary);
  return w;
fail:
  sr_pq_writer_free(w);
  return NULL;
}

/* ---- checking a row against the schema ---- */

/* The chain of names from a leaf back to the top-level field, for error messages. */
typedef struct name_chain {
  const char *name;
  const struct name_chain *up;
} name_chain;

static sr_status refuse(const name_chain *at, sr_error **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static sr_status refuse(const name_chain *at, sr_error **err, const char *fmt, ...) {
  const char *names[64];
  int n = 0;
  for (const name_chain *c = at; c && n < 64; c = c->up) names[n++] = c->name;
  char path[512] = "";
  size_t len = 0;
  for (int i = n - 1; i >= 0 && len < sizeof path; i--)
    len += (size_t)snprintf(path + len, sizeof path - len, "%s%s", i == n - 1 ? "" : ".", names[i]);
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return sr_error_set(err, SR_ERROR, "column %s: %s", path, msg);
}

static const char *kind_name(sr_val_kind k) {
  static const char *const names[] = {"null", "boolean", "integer", "double", "string",
                                      "binary", "struct", "list"};
  return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}

static sr_status check_leaf(const sr_pq_node *n, const sr_value *v, const name_chain *at,
                            sr_error **err) {
  static const int64_t limits[] = {[SR_TYPE_INT] = INT32_MAX, [SR_TYPE_DATE] = INT32_MAX,
                                   [SR_TYPE_SHORT] = INT16_MAX, [SR_TYPE_BYTE] = INT8_MAX,
                                   [SR_TYPE_TIMESTAMP] = INT64_MAX};
  switch (n->type) {
  case SR_TYPE_LONG:
    if (v->kind == SR_VAL_INT) return SR_OK;
    break;
  case SR_TYPE_INT: case SR_TYPE_DATE: case SR_TYPE_SHORT: case SR_TYPE_BYTE: case SR_TYPE_TIMESTAMP:
    if (v->kind != SR_VAL_INT) break;
    if (v->u.i > limits[n->type] || v->u.i < -limits[n->type] - (n->type != SR_TYPE_TIMESTAMP))
      return refuse(at, err, "%" PRId64 " is out of range for %s", v->u.i, sr_type_name(n->type));
    return SR_OK;
  case SR_TYPE_DOUBLE: case SR_TYPE_FLOAT:
    if (v->kind == SR_VAL_DOUBLE || v->kind == SR_VAL_INT) return SR_OK;
    break;
  case SR_TYPE_DECIMAL:
    return SR_OK;  /* checked with its precision by check_decimal */
  case SR_TYPE_BOOLEAN:
    if (v->kind == SR_VAL_BOOL) return SR_OK;
    break;
  case SR_TYPE_STRING: case SR_TYPE_BINARY:
    if (v->kind != SR_VAL_STRING && v->kind != SR_VAL_BINARY) break;
    if (v->u.str.len > INT32_MAX) return refuse(at, err, "value longer than 2 GiB");
    return SR_OK;
  default:
    break;
  }
  return refuse(at, err, "expected %s, got %s", sr_type_name(n->type), kind_name(v->kind));
}

static sr_status check_decimal(const sr_pq_leaf *leaf, const sr_value *v, const name_chain *at,
                               sr_error **err) {
  if (v->kind != SR_VAL_DOUBLE && v->kind != SR_VAL_INT)
    return refuse(at, err, "expected decimal, got %s", kind_name(v->kind));
  long double x = v->kind == SR_VAL_INT ? (long double)v->u.i : (long double)v->u.d;
  long double unscaled = roundl(x * powl(10.0L, leaf->scale));
  if (!isfinite(x) || fabsl(unscaled) >= powl(10.0L, leaf->precision))
    return refuse(at, err, "%.17Lg does not fit decimal(%d,%d)", x, leaf->precision, leaf->scale);
  return SR_OK;
}

static sr_status check_value(const sr_pq_writer *w, const sr_pq_node *n, const sr_value *v,
                             const name_chain *up, sr_error **err);

/* A struct's fields; `at` names the struct (a map's entry struct goes by its map's name). */
static sr_status check_struct(const sr_pq_writer *w, const sr_pq_node *n, const sr_value *v,
                              const name_chain *at, sr_error **err) {
  if (v->kind != SR_VAL_STRUCT || v->u.list.n != n->nchildren)
    return refuse(at, err, "expected a struct of %d values, got %s", n->nchildren, kind_name(v->kind));
  for (int i = 0; i < n->nchildren; i++)
    if (check_value(w, &n->children[i], &v->u.list.items[i], at, err) != SR_OK) return SR_ERROR;
  return SR_OK;
}

static sr_status check_value(const sr_pq_writer *w, const sr_pq_node *n, const sr_value *v,
                             const name_chain *up, sr_error **err) {
  name_chain at = {n->name, up};
  if (v->kind == SR_VAL_NULL)
    return n->nullable ? SR_OK : refuse(&at, err, "null in a column that is not nullable");
  switch (n->kind) {
  case SR_PQN_LEAF:
    if (n->type == SR_TYPE_DECIMAL) return check_decimal(&w->layout->leaves[n->leaf], v, &at, err);
    return check_leaf(n, v, &at, err);
  case SR_PQN_STRUCT:
    return check_struct(w, n, v, &at, err);
  case SR_PQN_LIST:
    if (v->kind != SR_VAL_LIST)
      return refuse(&at, err, "expected %s (a list), got %s", sr_type_name(n->type), kind_name(v->kind));
    for (int i = 0; i < v->u.list.n; i++) {
      const sr_value *item = &v->u.list.items[i];
      sr_status st = n->type != SR_TYPE_MAP ? check_value(w, n->children, item, &at, err)
                     : item->kind == SR_VAL_NULL ? refuse(&at, err, "a map entry is null")
                     : check_struct(w, n->children, item, &at, err);
      if (st != SR_OK) return st;
    }
    return SR_OK;
  }
  return SR_OK;
}

/* ---- shredding a row into the chunks (Dremel) ---- */

static void null_leaves(sr_pq_writer *w, const sr_pq_node *n, int rep, int def) {
  for (int i = n->first_leaf; i < n->first_leaf + n->nleaves; i++)
    sr_pq_chunk_level(&w->chunks[i], rep, def);
}

static void shred(sr_pq_writer *w, const sr_pq_node *n, const sr_value *v, int rep) {
  if (v->kind == SR_VAL_NULL) {
    null_leaves(w, n, rep, n->def - 1);
    return;
  }
  switch (n->kind) {
  case SR_PQN_LEAF: {
    sr_pq_chunk *c = &w->chunks[n->leaf];
    sr_pq_chunk_level(c, rep, n->def);
    sr_pq_chunk_value(c, v, w->copt.dict_limit);
    return;
  }
  case SR_PQN_STRUCT:
    for (int i = 0; i < n->nchildren; i++) shred(w, &n->children[i], &v->u.list.items[i], rep);
    return;
  case SR_PQN_LIST:
    if (v->u.list.n == 0) {
      null_leaves(w, n, rep, n->def);  /* present but empty */
      return;
    }
    for (int i = 0; i < v->u.list.n; i++) shred(w, n->children, &v->u.list.items[i], i ? n->rep : rep);
    return;
  }
}

/* ---- statistics bounds ---- */

static size_t utf8_len(uint8_t lead) {
  return lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
}

/* The length of the prefix of at most `limit` characters (utf8) or bytes. */
static size_t prefix_len(const uint8_t *p, size_t len, size_t limit, int utf8) {
  if (!utf8) return len < limit ? len : limit;
  size_t i = 0;
  for (size_t chars = 0; i < len && chars < limit; chars++) i += utf8_len(p[i]);
  return i < len ? i : len;
}

/* Makes out[0..len) (a prefix of a longer value) into the smallest value above every value that
** starts with it: the last character (or byte) goes up by one and what follows goes. Returns
** the new length, or 0 when no such value exists (all 0xff bytes, or U+10FFFF). */
static size_t round_up(uint8_t *out, size_t len, int utf8) {
  while (len > 0) {
    if (!utf8) {
      if (out[len - 1] != 0xff) { out[len - 1]++; return len; }
      len--;
      continue;
    }
    size_t start = len - 1;
    while (start > 0 && (out[start] & 0xc0) == 0x80) start--;
    size_t n = len - start;
    if (n != utf8_len(out[start])) return 0;  /* not UTF-8 after all: no bound */
    uint32_t cp = n == 1 ? out[start] : (uint32_t)(out[start] & (0xff >> (n + 1)));
    for (size_t i = 1; i < n; i++) cp = cp << 6 | (out[start + i] & 0x3f);
    if (cp >= 0x10ffff) { len = start; continue; }
    cp = cp + 1 == 0xd800 ? 0xe000 : cp + 1;
    if (cp < 0x80) { out[start] = (uint8_t)cp; return start + 1; }
    if (cp < 0x800) { out[start] = (uint8_t)(0xc0 | cp >> 6); out[start + 1] = (uint8_t)(0x80 | (cp & 0x3f)); return start + 2; }
    if (cp < 0x10000) {
      out[start] = (uint8_t)(0xe0 | cp >> 12);
      out[start + 1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
      out[start + 2] = (uint8_t)(0x80 | (cp & 0x3f));
      return start + 3;
    }
    out[start] = (uint8_t)(0xf0 | cp >> 18);
    out[start + 1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
    out[start + 2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
    out[start + 3] = (uint8_t)(0x80 | (cp & 0x3f));
    return start + 4;
  }
  return 0;
}

/* Bounds of byte-array statistics cut to `limit` characters; copies into the arena when cut.
** Returns 0, or -1 when out of memory; *has becomes 0 when the max has no short bound. */
static int cut_bounds(sr_arena *a, int utf8, size_t limit, const uint8_t **min, size_t *min_len,
                      const uint8_t **max, size_t *max_len, int *has) {
  *min_len = prefix_len(*min, *min_len, limit, utf8);
  size_t cut = prefix_len(*max, *max_len, limit, utf8);
  if (cut == *max_len) return 0;
  uint8_t *out = sr_arena_alloc(a, cut + 4);
  if (!out) return -1;
  memcpy(out, *max, cut);
  *max_len = round_up(out, cut, utf8);
  *max = out;
  if (*max_len == 0) *has = 0;
  return 0;
}

static int is_byte_array(const sr_pq_leaf *leaf) {
  return leaf->conv == SR_PQC_STRING || leaf->conv == SR_PQC_BINARY;
}

/* The footer's min_value/max_value for a chunk's min/max. */
static int footer_stats(sr_pq_writer *w, const sr_pq_leaf *leaf, const sr_pq_minmax *mm,
                        sr_pq_statistics *st) {
  st->has_min_max = mm->has;
  if (!mm->has) return 0;
  const uint8_t *min = mm->min, *max = mm->max;
  size_t min_len = mm->min_len, max_len = mm->max_len;
  if (is_byte_array(leaf) &&
      cut_bounds(&w->meta, leaf->conv == SR_PQC_STRING, FOOTER_STAT_CHARS, &min, &min_len, &max,
                 &max_len, &st->has_min_max) != 0)
    return -1;
  st->min_value = min;
  st->min_len = min_len;
  st->max_value = max;
  st->max_len = max_len;
  return 0;
}

static void merge_minmax(const sr_pq_leaf *leaf, sr_pq_minmax *into, const sr_pq_minmax *mm) {
  if (!mm->has) return;
  if (!into->has) { *into = *mm; return; }
  if (sr_pq_compare(leaf, mm->min, mm->min_len, into->min, into->min_len) < 0) {
    into->min = mm->min;
    into->min_len = mm->min_len;
  }
  if (sr_pq_compare(leaf, mm->max, mm->max_len, into->max, into->max_len) > 0) {
    into->max = mm->max;
    into->max_len = mm->max_len;
  }
}

/* ---- row groups and the footer ---- */

static sr_status flush_row_group(sr_pq_writer *w, sr_error **err) {
  const sr_pq_layout *l = w->layout;
  if (w->nrgs == w->rgs_cap) {
    int cap = w->rgs_cap ? w->rgs_cap * 2 : 8;
    sr_pq_row_group *rgs = realloc(w->rgs, sizeof *rgs * (size_t)cap);
    if (!rgs) goto oom;
    w->rgs = rgs;
    w->rgs_cap = cap;
  }
  sr_pq_row_group *rg = &w->rgs[w->nrgs];
  memset(rg, 0, sizeof *rg);
  rg->columns = sr_arena_alloc(&w->meta, sizeof *rg->columns * (size_t)(l->nleaves ? l->nleaves : 1));
  if (!rg->columns) goto oom;
  rg->ncolumns = l->nleaves;
  rg->num_rows = w->rg_rows;
  rg->file_offset = (int64_t)w->file.len;
  for (int i = 0; i < l->nleaves; i++) {
    sr_pq_minmax mm;
    sr_pq_column_meta *meta = &rg->columns[i];
    if (sr_pq_chunk_flush(&w->chunks[i], &w->copt, &w->file, &w->meta, meta, &mm, err) != SR_OK)
      return SR_ERROR;
    if (footer_stats(w, &l->leaves[i], &mm, &meta->stats) != 0) goto oom;
    merge_minmax(&l->leaves[i], &w->file_mm[i], &mm);
    w->null_counts[i] += meta->stats.null_count;
    rg->total_byte_size += meta->total_uncompressed_size;
    rg->total_compressed_size += meta->total_compressed_size;
  }
  w->nrgs++;
  w->rg_rows = 0;
  return SR_OK;
oom:
  return sr_error_set(err, SR_ERROR, "out of memory writing a Parquet row group");
}

sr_status sr_pq_writer_add_row(sr_pq_writer *w, const sr_value *row, sr_error **err) {
  if (w->broken || w->finished)
    return sr_error_set(err, SR_ERROR, "Parquet writer is %s", w->finished ? "finished" : "in an error state");
  const sr_pq_layout *l = w->layout;
  if (!row || row->kind != SR_VAL_STRUCT || row->u.list.n != l->nfields)
    return sr_error_set(err, SR_ERROR, "a Parquet row must be a struct of %d values", l->nfields);
  for (int i = 0; i < l->nfields; i++)
    if (check_value(w, &l->fields[i], &row->u.list.items[i], NULL, err) != SR_OK) return SR_ERROR;
  size_t mem = 0;
  for (int i = 0; i < l->nfields; i++) shred(w, &l->fields[i], &row->u.list.items[i], 0);
  for (int i = 0; i < l->nleaves; i++) {
    if (w->chunks[i].failed) {
      w->broken = 1;
      return sr_error_set(err, SR_ERROR, "out of memory buffering a Parquet row");
    }
    mem += sr_pq_chunk_mem(&w->chunks[i]);
  }
  w->rg_rows++;
  w->num_rows++;
  if ((int64_t)mem >= w->opt.row_group_bytes && flush_row_group(w, err) != SR_OK) {
    w->broken = 1;
    return SR_ERROR;
  }
  return SR_OK;
}

int64_t sr_pq_writer_num_rows(const sr_pq_writer *w) { return w->num_rows; }

/* A statistics bound as a row value. Returns 0, or -1 when out of memory. */
static int stat_value(sr_pq_writer *w, const sr_pq_leaf *leaf, const uint8_t *p, size_t len,
                      sr_value *v) {
  uint64_t bits = 0;
  for (int i = (len < 8 ? (int)len : 8) - 1; i >= 0; i--) bits = bits << 8 | p[i];
  switch (leaf->conv) {
  case SR_PQC_BOOL: v->kind = SR_VAL_BOOL; v->u.b = p[0] != 0; return 0;
  case SR_PQC_INT32: v->kind = SR_VAL_INT; v->u.i = (int32_t)bits; return 0;
  case SR_PQC_INT64: v->kind = SR_VAL_INT; v->u.i = (int64_t)bits; return 0;
  case SR_PQC_TS_MICROS: v->kind = SR_VAL_INT; v->u.i = (int64_t)bits; return 0;
  case SR_PQC_DOUBLE: v->kind = SR_VAL_DOUBLE; memcpy(&v->u.d, p, 8); return 0;
  case SR_PQC_FLOAT: {
    float f;
    memcpy(&f, p, 4);
    v->kind = SR_VAL_DOUBLE;
    v->u.d = f;
    return 0;
  }
  case SR_PQC_DECIMAL: {
    __int128 u = 0;
    if (leaf->physical == SR_PQ_INT32) u = (int32_t)bits;
    else if (leaf->physical == SR_PQ_INT64) u = (int64_t)bits;
    else {
      u = (int8_t)p[0];  /* sign-extend the big-endian bytes */
      for (size_t i = 1; i < len; i++) u = u * 256 + p[i];
    }
    v->kind = SR_VAL_DOUBLE;
    v->u.d = (double)((long double)u / powl(10.0L, leaf->scale));
    return 0;
  }
  default: {
    char *s = sr_arena_strndup(&w->meta, (const char *)p, len);
    if (!s) return -1;
    v->kind = SR_VAL_STRING;
    v->u.str.ptr = s;
    v->u.str.len = len;
    return 0;
  }
  }
}

static int build_stats(sr_pq_writer *w) {
  const sr_pq_layout *l = w->layout;
  w->stats = calloc((size_t)(l->nleaves ? l->nleaves : 1), sizeof *w->stats);
  if (!w->stats) return -1;
  for (int i = 0; i < l->nleaves; i++) {
    const sr_pq_leaf *leaf = &l->leaves[i];
    sr_pq_column_stats *st = &w->stats[i];
    st->depth = leaf->nnames;
    st->names = leaf->names;
    st->type = leaf->type;
    st->in_list = leaf->max_rep > 0;
    st->null_count = w->null_counts[i];
    sr_pq_minmax mm = w->file_mm[i];
    st->has_min_max = mm.has && leaf->conv != SR_PQC_BINARY;
    if (st->has_min_max && leaf->conv == SR_PQC_STRING &&
        cut_bounds(&w->meta, 1, DELTA_STAT_CHARS, &mm.min, &mm.min_len, &mm.max, &mm.max_len,
                   &st->has_min_max) != 0)
      return -1;
    if (st->has_min_max && (stat_value(w, leaf, mm.min, mm.min_len, &st->min) != 0 ||
                            stat_value(w, leaf, mm.max, mm.max_len, &st->max) != 0))
      return -1;
  }
  return 0;
}

sr_status sr_pq_writer_finish(sr_pq_writer *w, sr_buf *file_bytes, sr_error **err) {
  if (w->broken || w->finished)
    return sr_error_set(err, SR_ERROR, "Parquet writer is %s", w->finished ? "finished" : "in an error state");
  w->finished = 1;
  if (w->rg_rows > 0 && flush_row_group(w, err) != SR_OK) return SR_ERROR;
  sr_pq_file_meta m;
  memset(&m, 0, sizeof m);
  m.version = 1;
  m.nschema = w->layout->nelements;
  m.schema = w->layout->elements;
  m.num_rows = w->num_rows;
  m.nrow_groups = w->nrgs;
  m.row_groups = w->rgs;
  m.created_by = "streamrun version " SR_VERSION;
  size_t footer_at = w->file.len;
  if (sr_pq_meta_encode(&m, &w->file) != 0) goto oom;
  uint32_t footer_len = (uint32_t)(w->file.len - footer_at);
  uint8_t tail[8] = {(uint8_t)footer_len, (uint8_t)(footer_len >> 8), (uint8_t)(footer_len >> 16),
                     (uint8_t)(footer_len >> 24), 'P', 'A', 'R', '1'};
  if (sr_buf_append(&w->file, tail, 8) != 0 || build_stats(w) != 0) goto oom;
  if (file_bytes->len == 0) {
    sr_buf_free(file_bytes);
    *file_bytes = w->file;
    memset(&w->file, 0, sizeof w->file);
  } else if (sr_buf_append(file_bytes, w->file.data, w->file.len) != 0) {
    goto oom;
  }
  return SR_OK;
oom:
  w->broken = 1;
  return sr_error_set(err, SR_ERROR, "out of memory finishing a Parquet file");
}

int sr_pq_writer_stats_count(const sr_pq_writer *w) { return w->stats ? w->layout->nleaves : 0; }

const sr_pq_column_stats *sr_pq_writer_stats(const sr_pq_writer *w, int i) {
  if (!w->stats || i < 0 || i >= w->layout->nleaves) return NULL;
  return &w->stats[i];
}
