/* Column chunk encoding for the writer: see parquet_column.h. */
#include "parquet_column.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "bytes.h"
#include "parquet_codec.h"
#include "parquet_rle.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "PLAIN floats and doubles are copied as little-endian host values"
#endif

static int plain_width(const sr_pq_leaf *leaf) {
  switch (leaf->physical) {
  case SR_PQ_BOOLEAN: return 1;
  case SR_PQ_INT32: case SR_PQ_FLOAT: return 4;
  case SR_PQ_INT64: case SR_PQ_DOUBLE: return 8;
  case SR_PQ_INT96: return 12;
  case SR_PQ_FIXED_LEN_BYTE_ARRAY: return leaf->type_length;
  default: return 0;
  }
}

void sr_pq_chunk_init(sr_pq_chunk *c, const sr_pq_leaf *leaf, int dictionary) {
  memset(c, 0, sizeof *c);
  c->leaf = leaf;
  c->width = plain_width(leaf);
  c->dict_on = dictionary && leaf->physical != SR_PQ_BOOLEAN;
}

void sr_pq_chunk_free(sr_pq_chunk *c) {
  free(c->def);
  free(c->rep);
  sr_buf_free(&c->plain);
  sr_buf_free(&c->dict);
  free(c->dict_off);
  free(c->slots);
  free(c->indices);
  memset(c, 0, sizeof *c);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap * 2 : 1024;
  while (n < need) n *= 2;
  void *q = realloc(*p, n * elem);
  if (!q) return -1;
  *p = q;
  *cap = n;
  return 0;
}

void sr_pq_chunk_level(sr_pq_chunk *c, int rep, int def) {
  if (c->nlevels == c->levels_cap) {
    size_t cap = c->levels_cap ? c->levels_cap * 2 : 1024;
    uint8_t *d = c->def, *r = c->rep;
    if (c->leaf->max_def && !(d = realloc(c->def, cap))) goto oom;
    c->def = d;
    if (c->leaf->max_rep && !(r = realloc(c->rep, cap))) goto oom;
    c->rep = r;
    c->levels_cap = cap;
  }
  if (c->leaf->max_def) c->def[c->nlevels] = (uint8_t)def;
  if (c->leaf->max_rep) c->rep[c->nlevels] = (uint8_t)rep;
  c->nlevels++;
  return;
oom:
  c->failed = 1;
}

/* Two's complement unscaled value of a decimal, from a double or an integer. */
static __int128 decimal_unscaled(const sr_pq_leaf *leaf, const sr_value *v) {
  if (v->kind == SR_VAL_INT) {
    __int128 u = v->u.i;
    for (int i = 0; i < leaf->scale; i++) u *= 10;
    return u;
  }
  long double x = (long double)v->u.d * powl(10.0L, leaf->scale);
  return (__int128)roundl(x);
}

/* The PLAIN bytes of v (without a byte array's length): *p points at them (tmp or the value). */
static size_t to_plain(const sr_pq_chunk *c, const sr_value *v, uint8_t *tmp, const uint8_t **p) {
  const sr_pq_leaf *leaf = c->leaf;
  *p = tmp;
  switch (leaf->conv) {
  case SR_PQC_BOOL: tmp[0] = v->u.b != 0; return 1;
  case SR_PQC_INT32: sr_store_le(tmp, (uint64_t)v->u.i, 4); return 4;
  case SR_PQC_INT64: sr_store_le(tmp, (uint64_t)v->u.i, 8); return 8;
  case SR_PQC_TS_MICROS: sr_store_le(tmp, (uint64_t)v->u.i, 8); return 8;
  case SR_PQC_DOUBLE: {
    double d = v->kind == SR_VAL_INT ? (double)v->u.i : v->u.d;
    memcpy(tmp, &d, 8);
    return 8;
  }
  case SR_PQC_FLOAT: {
    float f = v->kind == SR_VAL_INT ? (float)v->u.i : (float)v->u.d;
    memcpy(tmp, &f, 4);
    return 4;
  }
  case SR_PQC_DECIMAL: {
    __int128 u = decimal_unscaled(leaf, v);
    if (leaf->physical == SR_PQ_INT32 || leaf->physical == SR_PQ_INT64) {
      sr_store_le(tmp, (uint64_t)u, c->width);
    } else {  /* big-endian two's complement */
      for (int i = 0; i < c->width; i++) tmp[c->width - 1 - i] = (uint8_t)(u >> (8 * i));
    }
    return (size_t)c->width;
  }
  default:
    *p = v->u.str.ptr ? (const uint8_t *)v->u.str.ptr : tmp;  /* an empty value may have no pointer */
    return v->u.str.len;
  }
}


/* Entry e of the dictionary: its value bytes (without the length prefix). */
static const uint8_t *dict_entry(const sr_pq_chunk *c, uint32_t e, size_t *len) {
  if (c->width) {
    *len = (size_t)c->width;
    return (const uint8_t *)c->dict.data + (size_t)e * (size_t)c->width;
  }
  const uint8_t *p = (const uint8_t *)c->dict.data + c->dict_off[e];
  *len = (size_t)sr_load_le(p, 4);
  return p + 4;
}

/* The hot path of every value: fixed widths copy with a constant size (no libc call). */
static int append_plain(sr_pq_chunk *c, const uint8_t *p, size_t len) {
  sr_buf *b = &c->plain;
  if (b->cap - b->len <= len + 4 && sr_buf_reserve(b, len + 4) != 0) return -1;
  uint8_t *at = (uint8_t *)b->data + b->len;
  switch (c->width) {
  case 8: memcpy(at, p, 8); break;
  case 4: memcpy(at, p, 4); break;
  case 0:
    sr_store_le(at, len, 4);
    memcpy(at + 4, p, len);
    len += 4;
    break;
  default: memcpy(at, p, len); break;
  }
  b->len += len;
  b->data[b->len] = '\0';  /* sr_buf's invariant */
  return 0;
}

static void dict_reset(sr_pq_chunk *c) {
  sr_buf_clear(&c->dict);
  c->ndict = 0;
  if (c->slots) memset(c->slots, 0, sizeof *c->slots * c->nslots);
}

/* Turns the values so far into PLAIN and stops using the dictionary in this row group. */
static int dict_abandon(sr_pq_chunk *c) {
  sr_buf_clear(&c->plain);
  for (size_t i = 0; i < c->nvalues; i++) {
    size_t len;
    const uint8_t *p = dict_entry(c, c->indices[i], &len);
    if (append_plain(c, p, len) != 0) return -1;
  }
  c->dict_on = 0;
  dict_reset(c);
  return 0;
}

static int inline_key(const sr_pq_chunk *c) { return c->width == 4 || c->width == 8; }

static uint64_t slot_hash(const sr_pq_chunk *c, uint64_t key) {
  if (!inline_key(c)) return key;  /* already a hash */
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdULL;
  return key ^ (key >> 33);
}

static int dict_rehash(sr_pq_chunk *c, uint32_t nslots) {
  sr_pq_dict_slot *slots = calloc(nslots, sizeof *slots);
  if (!slots) return -1;
  for (uint32_t k = 0; k < c->nslots; k++) {
    if (!c->slots[k].index1) continue;
    uint32_t i = (uint32_t)slot_hash(c, c->slots[k].key) & (nslots - 1);
    while (slots[i].index1) i = (i + 1) & (nslots - 1);
    slots[i] = c->slots[k];
  }
  free(c->slots);
  c->slots = slots;
  c->nslots = nslots;
  return 0;
}

/* Adds the value's index to the dictionary encoding. Returns 1 when done, 0 when the
** dictionary was abandoned (the caller appends PLAIN), -1 when out of memory. */
static int dict_put(sr_pq_chunk *c, const uint8_t *p, size_t len, int64_t dict_limit) {
  if (!c->nslots && dict_rehash(c, 1024) != 0) return -1;
  int by_value = inline_key(c);
  uint64_t key = by_value ? sr_load_le(p, c->width) : sr_hash64(p, len);
  uint32_t mask = c->nslots - 1, i = (uint32_t)slot_hash(c, key) & mask, e;
  for (;;) {
    const sr_pq_dict_slot *s = &c->slots[i];
    if (!s->index1) break;
    if (s->key == key) {
      size_t elen;
      const uint8_t *ep = by_value ? NULL : dict_entry(c, s->index1 - 1, &elen);
      if (by_value || (elen == len && memcmp(ep, p, len) == 0)) { e = s->index1 - 1; goto found; }
    }
    i = (i + 1) & mask;
  }
  if ((int64_t)(c->dict.len + len + 4) > dict_limit) return dict_abandon(c) == 0 ? 0 : -1;
  if (!c->width) {
    size_t cap = c->dict_off_cap;
    if (grow((void **)&c->dict_off, &cap, c->ndict + 1, sizeof *c->dict_off) != 0) return -1;
    c->dict_off_cap = (uint32_t)cap;
    c->dict_off[c->ndict] = (uint32_t)c->dict.len;
    uint8_t n[4];
    sr_store_le(n, len, 4);
    if (sr_buf_append(&c->dict, n, 4) != 0) return -1;
  }
  if (sr_buf_append(&c->dict, p, len) != 0) return -1;
  e = c->ndict++;
  c->slots[i].key = key;
  c->slots[i].index1 = e + 1;
  if (c->ndict * 2 > c->nslots && dict_rehash(c, c->nslots * 2) != 0) return -1;
found:
  if (grow((void **)&c->indices, &c->indices_cap, c->nvalues + 1, sizeof *c->indices) != 0) return -1;
  c->indices[c->nvalues] = e;
  return 1;
}

void sr_pq_chunk_value(sr_pq_chunk *c, const sr_value *v, int64_t dict_limit) {
  uint8_t tmp[16];
  const uint8_t *p;
  size_t len = to_plain(c, v, tmp, &p);
  int rc = 0;
  if (c->dict_on) rc = dict_put(c, p, len, dict_limit);
  if (rc == 0 && append_plain(c, p, len) != 0) rc = -1;
  if (rc < 0) { c->failed = 1; return; }
  c->nvalues++;
  c->plain_bytes += (int64_t)len + (c->width ? 0 : 4);
}

size_t sr_pq_chunk_mem(const sr_pq_chunk *c) {
  return c->plain.len + c->dict.len + (c->dict_on ? c->nvalues * 4 : 0) + c->nlevels * 2;
}

/* ---- statistics ---- */

static int cmp_int(int64_t a, int64_t b) { return (a > b) - (a < b); }

int sr_pq_compare(const sr_pq_leaf *leaf, const uint8_t *a, size_t alen, const uint8_t *b,
                  size_t blen) {
  switch (leaf->physical) {
  case SR_PQ_BOOLEAN: return cmp_int(a[0], b[0]);
  case SR_PQ_INT32: return cmp_int((int32_t)sr_load_le(a, 4), (int32_t)sr_load_le(b, 4));
  case SR_PQ_INT64: return cmp_int((int64_t)sr_load_le(a, 8), (int64_t)sr_load_le(b, 8));
  case SR_PQ_FLOAT: {
    float x, y;
    memcpy(&x, a, 4);
    memcpy(&y, b, 4);
    return (x > y) - (x < y);
  }
  case SR_PQ_DOUBLE: {
    double x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    return (x > y) - (x < y);
  }
  default: {
    size_t n = alen < blen ? alen : blen;
    if (leaf->conv == SR_PQC_DECIMAL && n > 0 && a[0] != b[0])  /* signed big-endian */
      return cmp_int((int8_t)a[0], (int8_t)b[0]);
    int r = n ? memcmp(a, b, n) : 0;
    return r ? (r > 0) - (r < 0) : cmp_int((int64_t)alen, (int64_t)blen);
  }
  }
}

/* A FLOAT (w == 4) or DOUBLE (w == 8) PLAIN value. */
static double float_at(const uint8_t *p, size_t w) {
  if (w == 8) { double d; memcpy(&d, p, 8); return d; }
  float f;
  memcpy(&f, p, 4);
  return f;
}

static int is_nan(const sr_pq_leaf *leaf, const uint8_t *p) {
  if (leaf->physical == SR_PQ_DOUBLE) return isnan(float_at(p, 8));
  if (leaf->physical == SR_PQ_FLOAT) return isnan(float_at(p, 4));
  return 0;
}

static void stats_see(const sr_pq_leaf *leaf, sr_pq_minmax *mm, const uint8_t *p, size_t len) {
  if (is_nan(leaf, p)) return;  /* NaN has no place in an order: left out, as the spec says */
  if (!mm->has) {
    mm->has = 1;
    mm->min = mm->max = p;
    mm->min_len = mm->max_len = len;
    return;
  }
  if (sr_pq_compare(leaf, p, len, mm->min, mm->min_len) < 0) { mm->min = p; mm->min_len = len; }
  if (sr_pq_compare(leaf, p, len, mm->max, mm->max_len) > 0) { mm->max = p; mm->max_len = len; }
}

/* Min and max over the chunk's values, copied into the arena. Returns 0 or -1 (memory). */
static int chunk_minmax(const sr_pq_chunk *c, sr_arena *a, sr_pq_minmax *mm) {
  memset(mm, 0, sizeof *mm);
  const sr_pq_leaf *leaf = c->leaf;
  if (c->dict_on) {
    for (uint32_t e = 0; e < c->ndict; e++) {
      size_t len;
      const uint8_t *p = dict_entry(c, e, &len);
      stats_see(leaf, mm, p, len);
    }
  } else if (leaf->physical == SR_PQ_INT64 || leaf->physical == SR_PQ_INT32) {
    /* the common case, without a call per value */
    int w = c->width;
    const uint8_t *p = (const uint8_t *)c->plain.data, *lo = p, *hi = p;
    int64_t min = INT64_MAX, max = INT64_MIN;
    for (size_t i = 0; i < c->nvalues; i++, p += w) {
      int64_t v = w == 8 ? (int64_t)sr_load_le(p, 8) : (int32_t)sr_load_le(p, 4);
      if (v < min) { min = v; lo = p; }
      if (v > max) { max = v; hi = p; }
    }
    if (c->nvalues) *mm = (sr_pq_minmax){1, lo, hi, (size_t)w, (size_t)w};
  } else {
    const uint8_t *p = (const uint8_t *)c->plain.data, *end = p + c->plain.len;
    while (p < end) {
      size_t len = (size_t)c->width;
      if (!len) { len = (size_t)sr_load_le(p, 4); p += 4; }
      stats_see(leaf, mm, p, len);
      p += len;
    }
  }
  if (!mm->has) return 0;
  uint8_t *min = sr_arena_alloc(a, mm->min_len + 1), *max = sr_arena_alloc(a, mm->max_len + 1);
  if (!min || !max) return -1;
  memcpy(min, mm->min, mm->min_len);
  memcpy(max, mm->max, mm->max_len);
  /* A zero bound is written as -0.0 (min) and +0.0 (max) so both zeros fall inside. */
  if (leaf->physical == SR_PQ_DOUBLE || leaf->physical == SR_PQ_FLOAT) {
    static const uint8_t neg_zero_d[8] = {0, 0, 0, 0, 0, 0, 0, 0x80}, neg_zero_f[4] = {0, 0, 0, 0x80};
    size_t w = (size_t)c->width;
    if (float_at(min, w) == 0) memcpy(min, w == 8 ? neg_zero_d : neg_zero_f, w);
    if (float_at(max, w) == 0) memset(max, 0, w);
  }
  mm->min = min;
  mm->max = max;
  return 0;
}

/* ---- pages ---- */

typedef struct page_writer {
  const sr_pq_chunk *c;
  const sr_pq_chunk_options *o;
  sr_buf *file;
  sr_buf body, comp, hdr;
  int64_t uncompressed_total, compressed_total;
  sr_error **err;
} page_writer;

/* Compresses body[from..) (what precedes is written as is: v2 levels), then appends the header
** and the page to the file. */
static sr_status emit_page(page_writer *pw, sr_pq_page_header *h, size_t from) {
  sr_buf_clear(&pw->comp);
  sr_buf_clear(&pw->hdr);
  if (from && sr_buf_append(&pw->comp, pw->body.data, from) != 0) goto oom;
  if (sr_pq_compress(pw->o->codec, pw->body.data + from, pw->body.len - from, &pw->comp, pw->err) != SR_OK)
    return SR_ERROR;
  h->uncompressed_size = (int32_t)pw->body.len;
  h->compressed_size = (int32_t)pw->comp.len;
  if (pw->body.len > INT32_MAX || pw->comp.len > INT32_MAX)
    return sr_error_set(pw->err, SR_ERROR, "Parquet page larger than 2 GiB");
  if (sr_pq_page_header_encode(h, &pw->hdr) != 0 ||
      sr_buf_append(pw->file, pw->hdr.data, pw->hdr.len) != 0 ||
      sr_buf_append(pw->file, pw->comp.data, pw->comp.len) != 0)
    goto oom;
  pw->uncompressed_total += (int64_t)(pw->hdr.len + pw->body.len);
  pw->compressed_total += (int64_t)(pw->hdr.len + pw->comp.len);
  return SR_OK;
oom:
  return sr_error_set(pw->err, SR_ERROR, "out of memory writing a Parquet page");
}

/* Appends levels [l0, l1) RLE-encoded; with_length adds v1's 4-byte length prefix. */
static int put_levels(sr_buf *out, const uint8_t *levels, size_t l0, size_t l1, int max_level,
                      int with_length) {
  size_t at = out->len;
  if (with_length && sr_buf_append(out, "\0\0\0\0", 4) != 0) return -1;
  sr_pq_rle_encoder e;
  sr_pq_rle_init(&e, out, sr_pq_bit_width((uint64_t)max_level));
  for (size_t i = l0; i < l1; i++) sr_pq_rle_put(&e, levels[i]);
  if (sr_pq_rle_finish(&e) != 0) return -1;
  if (with_length) sr_store_le((uint8_t *)out->data + at, out->len - at - 4, 4);
  return 0;
}

/* Appends values [v0, v1) in the page's encoding; *plain_at is the PLAIN byte offset of v0 and
** is advanced past v1. */
static int put_values(page_writer *pw, size_t v0, size_t v1, size_t *plain_at, int bit_width) {
  const sr_pq_chunk *c = pw->c;
  sr_buf *out = &pw->body;
  if (c->dict_on) {
    if (sr_buf_putc(out, (char)bit_width) != 0) return -1;
    sr_pq_rle_encoder e;
    sr_pq_rle_init(&e, out, bit_width);
    for (size_t i = v0; i < v1; i++) sr_pq_rle_put(&e, c->indices[i]);
    return sr_pq_rle_finish(&e);
  }
  const uint8_t *base = (const uint8_t *)c->plain.data;
  if (c->leaf->physical == SR_PQ_BOOLEAN) {
    size_t n = v1 - v0, at = out->len;
    if (sr_buf_reserve(out, (n + 7) / 8) != 0) return -1;
    memset(out->data + at, 0, (n + 7) / 8);
    for (size_t i = 0; i < n; i++)
      if (base[v0 + i]) out->data[at + i / 8] |= (char)(1 << (i % 8));
    out->len += (n + 7) / 8;
    return 0;
  }
  size_t end = *plain_at;
  if (c->width) {
    end += (v1 - v0) * (size_t)c->width;
  } else {
    for (size_t i = v0; i < v1; i++) end += 4 + (size_t)sr_load_le(base + end, 4);
  }
  int rc = end > *plain_at ? sr_buf_append(out, base + *plain_at, end - *plain_at) : 0;
  *plain_at = end;
  return rc;
}

static sr_status write_data_pages(page_writer *pw, int64_t *first_offset) {
  const sr_pq_chunk *c = pw->c;
  const sr_pq_leaf *leaf = c->leaf;
  int bit_width = c->dict_on ? sr_pq_bit_width(c->ndict ? c->ndict - 1 : 0) : 0;
  if (c->dict_on && bit_width == 0) bit_width = 1;
  double value_bytes = c->dict_on ? (double)c->nvalues * bit_width / 8 : (double)c->plain.len;
  double total = value_bytes + (double)c->nlevels / 4;
  size_t pages = (size_t)ceil(total / (double)(pw->o->page_bytes > 0 ? pw->o->page_bytes : 1));
  if (pages < 1) pages = 1;
  size_t per_page = (c->nlevels + pages - 1) / pages;
  if (per_page < 1) per_page = 1;
  size_t l0 = 0, v0 = 0, plain_at = 0;
  *first_offset = (int64_t)pw->file->len;
  do {
    size_t l1 = l0 + per_page < c->nlevels ? l0 + per_page : c->nlevels;
    while (leaf->max_rep && l1 < c->nlevels && c->rep[l1] != 0) l1++;  /* whole rows per page */
    size_t nvals = l1 - l0, rows = l1 - l0;
    if (leaf->max_def) {
      nvals = 0;
      for (size_t i = l0; i < l1; i++) nvals += c->def[i] == leaf->max_def;
    }
    if (leaf->max_rep) {
      rows = 0;
      for (size_t i = l0; i < l1; i++) rows += c->rep[i] == 0;
    }
    sr_pq_page_header h;
    memset(&h, 0, sizeof h);
    h.num_values = (int32_t)(l1 - l0);
    h.encoding = c->dict_on ? SR_PQ_ENC_RLE_DICTIONARY : SR_PQ_ENC_PLAIN;
    sr_buf_clear(&pw->body);
    int v1 = !pw->o->page_v2;
    size_t rep_at = pw->body.len;
    if (leaf->max_rep && put_levels(&pw->body, c->rep, l0, l1, leaf->max_rep, v1) != 0) goto oom;
    size_t def_at = pw->body.len;
    if (leaf->max_def && put_levels(&pw->body, c->def, l0, l1, leaf->max_def, v1) != 0) goto oom;
    size_t values_at = pw->body.len;
    if (put_values(pw, v0, v0 + nvals, &plain_at, bit_width) != 0) goto oom;
    if (v1) {
      h.type = SR_PQ_PAGE_DATA;
      h.def_encoding = h.rep_encoding = SR_PQ_ENC_RLE;
      values_at = 0;  /* a v1 page is compressed whole */
    } else {
      h.type = SR_PQ_PAGE_DATA_V2;
      h.num_nulls = (int32_t)(l1 - l0 - nvals);
      h.num_rows = (int32_t)rows;
      h.rep_levels_len = (int32_t)(def_at - rep_at);
      h.def_levels_len = (int32_t)(values_at - def_at);
      h.is_compressed = pw->o->codec != SR_PQ_UNCOMPRESSED;
    }
    if (emit_page(pw, &h, values_at) != SR_OK) return SR_ERROR;
    l0 = l1;
    v0 += nvals;
  } while (l0 < c->nlevels);
  return SR_OK;
oom:
  return sr_error_set(pw->err, SR_ERROR, "out of memory writing a Parquet page");
}

static void chunk_reset(sr_pq_chunk *c, int dictionary) {
  c->nlevels = c->nvalues = 0;
  c->plain_bytes = 0;
  sr_buf_clear(&c->plain);
  dict_reset(c);
  c->dict_on = dictionary && c->leaf->physical != SR_PQ_BOOLEAN;
}

static sr_status out_of_memory(sr_error **err) {
  return sr_error_set(err, SR_ERROR, "out of memory writing a Parquet column chunk");
}

sr_status sr_pq_chunk_flush(sr_pq_chunk *c, const sr_pq_chunk_options *o, sr_buf *file,
                            sr_arena *meta_arena, sr_pq_column_meta *meta, sr_pq_minmax *mm,
                            sr_error **err) {
  page_writer pw;
  memset(&pw, 0, sizeof pw);
  pw.c = c;
  pw.o = o;
  pw.file = file;
  pw.err = err;
  sr_status st = SR_OK;
  memset(meta, 0, sizeof *meta);
  meta->dictionary_page_offset = -1;
  if (c->dict_on) {
    /* Keep the dictionary only when it pays: entries plus packed indices below PLAIN. */
    int bw = sr_pq_bit_width(c->ndict ? c->ndict - 1 : 0);
    int64_t dict_cost = (int64_t)c->dict.len + ((int64_t)c->nvalues * (bw ? bw : 1) + 7) / 8;
    if (c->nvalues == 0 || dict_cost >= c->plain_bytes) {
      if (dict_abandon(c) != 0) { st = out_of_memory(err); goto done; }
    }
  }
  if (chunk_minmax(c, meta_arena, mm) != 0) { st = out_of_memory(err); goto done; }
  if (c->dict_on) {
    meta->dictionary_page_offset = (int64_t)file->len;
    sr_pq_page_header h;
    memset(&h, 0, sizeof h);
    h.type = SR_PQ_PAGE_DICTIONARY;
    h.num_values = (int32_t)c->ndict;
    h.encoding = SR_PQ_ENC_PLAIN;
    if (sr_buf_append(&pw.body, c->dict.data, c->dict.len) != 0) { st = out_of_memory(err); goto done; }
    if ((st = emit_page(&pw, &h, 0)) != SR_OK) goto done;
  }
  if ((st = write_data_pages(&pw, &meta->data_page_offset)) != SR_OK) goto done;
  const sr_pq_leaf *leaf = c->leaf;
  meta->type = leaf->physical;
  meta->encodings[meta->nencodings++] = SR_PQ_ENC_PLAIN;
  meta->encodings[meta->nencodings++] = SR_PQ_ENC_RLE;
  if (c->dict_on) meta->encodings[meta->nencodings++] = SR_PQ_ENC_RLE_DICTIONARY;
  meta->npath = leaf->npath;
  meta->path = leaf->path;
  meta->codec = o->codec;
  meta->num_values = (int64_t)c->nlevels;
  meta->total_uncompressed_size = pw.uncompressed_total;
  meta->total_compressed_size = pw.compressed_total;
  meta->stats.has_null_count = 1;
  meta->stats.null_count = (int64_t)(c->nlevels - c->nvalues);
  chunk_reset(c, o->dictionary);
done:
  sr_buf_free(&pw.body);
  sr_buf_free(&pw.comp);
  sr_buf_free(&pw.hdr);
  return st;
}
