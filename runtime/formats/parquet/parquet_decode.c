/* Column chunk decoding: see parquet_decode.h. Encodings.md in apache/parquet-format. */
#include "parquet_decode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bytes.h"
#include "parquet_codec.h"
#include "parquet_rle.h"

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void sr_pq_column_data_free(sr_pq_column_data *d) {
  free(d->def);
  free(d->rep);
  free(d->values);
  memset(d, 0, sizeof *d);
}

/* ---- physical values to row values ---- */

/* unscaled * 10^-scale as the nearest double: exact division when both operands are exact,
** otherwise through decimal text, which strtod rounds correctly. */
static double decimal_to_double(__int128 unscaled, int scale) {
  static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  __int128 limit = (__int128)1 << 53;
  if (unscaled > -limit && unscaled < limit && scale >= 0 && scale <= 22)
    return (double)(int64_t)unscaled / pow10[scale];
  char digits[48], text[64];
  int n = 0, neg = unscaled < 0;
  unsigned __int128 u = neg ? -(unsigned __int128)unscaled : (unsigned __int128)unscaled;
  do { digits[n++] = (char)('0' + (int)(u % 10)); u /= 10; } while (u);
  snprintf(text, sizeof text, "%s", neg ? "-" : "");
  size_t len = strlen(text);
  for (int i = n - 1; i >= 0 && len < sizeof text - 8; i--) text[len++] = digits[i];
  snprintf(text + len, sizeof text - len, "e%d", -scale);
  return strtod(text, NULL);
}

/* An integer physical value (INT32 sign-extended, or INT64) as the leaf's row value. */
static void convert_int(const sr_pq_leaf *leaf, int64_t x, sr_value *v) {
  v->kind = SR_VAL_INT;
  switch (leaf->conv) {
  case SR_PQC_UINT32: v->u.i = (uint32_t)x; break;
  case SR_PQC_TS_MILLIS: v->u.i = x * 1000; break;  /* timestamps are us, as Spark's */
  case SR_PQC_TS_MICROS: v->u.i = x; break;
  case SR_PQC_TS_NANOS: v->u.i = floor_div(x, 1000); break;
  case SR_PQC_DECIMAL: v->kind = SR_VAL_DOUBLE; v->u.d = decimal_to_double(x, leaf->scale); break;
  default: v->u.i = x; break;
  }
}

/* A byte-array or fixed-length value (p stays referenced for strings and binaries). */
static void convert_bytes(const sr_pq_leaf *leaf, const uint8_t *p, size_t len, sr_value *v) {
  if (leaf->conv == SR_PQC_DECIMAL) {
    __int128 u = len ? (int8_t)p[0] : 0;  /* big-endian two's complement */
    for (size_t i = 1; i < len && i < 16; i++) u = u * 256 + p[i];
    v->kind = SR_VAL_DOUBLE;
    v->u.d = decimal_to_double(u, leaf->scale);
    return;
  }
  v->kind = leaf->conv == SR_PQC_STRING ? SR_VAL_STRING : SR_VAL_BINARY;
  v->u.str.ptr = (const char *)p;
  v->u.str.len = len;
}

static int fixed_width(const sr_pq_leaf *leaf) {
  switch (leaf->physical) {
  case SR_PQ_INT32: case SR_PQ_FLOAT: return 4;
  case SR_PQ_INT64: case SR_PQ_DOUBLE: return 8;
  case SR_PQ_INT96: return 12;
  case SR_PQ_FIXED_LEN_BYTE_ARRAY: return leaf->type_length;
  default: return 0;
  }
}

/* One PLAIN fixed-width value (not BOOLEAN, not BYTE_ARRAY). */
static void convert_fixed(const sr_pq_leaf *leaf, const uint8_t *p, sr_value *v) {
  switch (leaf->physical) {
  case SR_PQ_INT32: convert_int(leaf, (int32_t)sr_load_le(p, 4), v); return;
  case SR_PQ_INT64: convert_int(leaf, (int64_t)sr_load_le(p, 8), v); return;
  case SR_PQ_INT96: {  /* nanoseconds of the day, then the Julian day */
    int64_t nanos = (int64_t)sr_load_le(p, 8);
    int64_t julian = (int32_t)sr_load_le(p + 8, 4);
    v->kind = SR_VAL_INT;
    v->u.i = (julian - 2440588) * 86400000000LL + floor_div(nanos, 1000);
    return;
  }
  case SR_PQ_FLOAT: {
    float f;
    memcpy(&f, p, 4);
    v->kind = SR_VAL_DOUBLE;
    v->u.d = f;
    return;
  }
  case SR_PQ_DOUBLE:
    v->kind = SR_VAL_DOUBLE;
    memcpy(&v->u.d, p, 8);
    return;
  default:
    convert_bytes(leaf, p, (size_t)leaf->type_length, v);
  }
}

/* ---- value encodings ---- */

/* n PLAIN values; returns the bytes used or -1 when the input is too short. */
static long decode_plain(const sr_pq_leaf *leaf, const uint8_t *p, size_t len, size_t n,
                         sr_value *out) {
  const uint8_t *start = p, *end = p + len;
  if (leaf->physical == SR_PQ_BOOLEAN) {
    if ((n + 7) / 8 > len) return -1;
    for (size_t i = 0; i < n; i++) {
      out[i].kind = SR_VAL_BOOL;
      out[i].u.b = p[i / 8] >> (i % 8) & 1;
    }
    return (long)((n + 7) / 8);
  }
  if (leaf->physical == SR_PQ_BYTE_ARRAY) {
    for (size_t i = 0; i < n; i++) {
      if (end - p < 4) return -1;
      size_t l = (size_t)sr_load_le(p, 4);
      p += 4;
      if ((size_t)(end - p) < l) return -1;
      convert_bytes(leaf, p, l, &out[i]);
      p += l;
    }
    return (long)(p - start);
  }
  size_t w = (size_t)fixed_width(leaf);
  if (w == 0 || n > len / w) return -1;
  for (size_t i = 0; i < n; i++) convert_fixed(leaf, p + i * w, &out[i]);
  return (long)(n * w);
}

static int read_uvarint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  const uint8_t *next = sr_varint_get(*p, end, v);
  if (!next) return -1;
  *p = next;
  return 0;
}

/* DELTA_BINARY_PACKED: decodes its values (at most max) into out, sets *count and returns the
** bytes used, or -1 when malformed. */
static long decode_delta_ints(const uint8_t *p, size_t len, int64_t *out, size_t max, size_t *count) {
  const uint8_t *start = p, *end = p + len;
  uint64_t block, nmini, total, zz;
  if (read_uvarint(&p, end, &block) || read_uvarint(&p, end, &nmini) ||
      read_uvarint(&p, end, &total) || read_uvarint(&p, end, &zz))
    return -1;
  if (nmini == 0 || block == 0 || block % nmini || (block / nmini) % 8 || total > max) return -1;
  uint64_t per_mini = block / nmini;
  uint64_t value = (zz >> 1) ^ -(zz & 1);
  size_t done = 0;
  if (total > 0) out[done++] = (int64_t)value;
  while (done < total) {
    uint64_t mzz;
    if (read_uvarint(&p, end, &mzz) || (uint64_t)(end - p) < nmini) return -1;
    uint64_t min_delta = (mzz >> 1) ^ -(mzz & 1);
    const uint8_t *widths = p;
    p += nmini;
    for (uint64_t m = 0; m < nmini && done < total; m++) {
      int w = widths[m];
      if (w > 64) return -1;
      size_t bytes = (size_t)(per_mini * (uint64_t)w / 8);
      if ((size_t)(end - p) < bytes) return -1;
      for (uint64_t i = 0; i < per_mini && done < total; i++) {
        uint64_t bit = i * (uint64_t)w, delta = 0;
        for (int b = 0; b < w; b++, bit++) delta |= (uint64_t)(p[bit >> 3] >> (bit & 7) & 1) << b;
        value += min_delta + delta;  /* wraps as the spec's two's complement arithmetic does */
        out[done++] = (int64_t)value;
      }
      p += bytes;
    }
  }
  *count = done;
  return (long)(p - start);
}

/* Byte arrays from lengths and concatenated data (DELTA_LENGTH_BYTE_ARRAY's layout). */
static int decode_delta_length(const sr_pq_leaf *leaf, const uint8_t *p, size_t len, size_t n,
                               sr_value *out) {
  int64_t *lengths = malloc(sizeof *lengths * (n ? n : 1));
  if (!lengths) return -1;
  size_t count = 0;
  long used = decode_delta_ints(p, len, lengths, n, &count);
  int rc = used < 0 || count != n ? -1 : 0;
  const uint8_t *data = p + (used < 0 ? 0 : used), *end = p + len;
  for (size_t i = 0; i < n && rc == 0; i++) {
    if (lengths[i] < 0 || (uint64_t)lengths[i] > (uint64_t)(end - data)) { rc = -1; break; }
    convert_bytes(leaf, data, (size_t)lengths[i], &out[i]);
    data += lengths[i];
  }
  free(lengths);
  return rc;
}

/* DELTA_BYTE_ARRAY: each value is a prefix of the previous one plus a suffix; values are
** rebuilt in the arena. */
static int decode_delta_byte_array(const sr_pq_leaf *leaf, const uint8_t *p, size_t len, size_t n,
                                   sr_arena *a, sr_value *out) {
  int64_t *prefix = malloc(sizeof *prefix * (n ? n : 1));
  sr_value *suffix = malloc(sizeof *suffix * (n ? n : 1));
  sr_pq_leaf as_binary = *leaf;
  as_binary.conv = SR_PQC_BINARY;
  size_t count = 0;
  long used = prefix && suffix ? decode_delta_ints(p, len, prefix, n, &count) : -1;
  int rc = used < 0 || count != n ? -1
           : decode_delta_length(&as_binary, p + used, len - (size_t)used, n, suffix);
  const uint8_t *prev = NULL;
  size_t prev_len = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    if (prefix[i] < 0 || (size_t)prefix[i] > prev_len) { rc = -1; break; }
    size_t l = (size_t)prefix[i] + suffix[i].u.str.len;
    uint8_t *v = sr_arena_alloc(a, l + 1);
    if (!v) { rc = -1; break; }
    if (prefix[i]) memcpy(v, prev, (size_t)prefix[i]);
    memcpy(v + prefix[i], suffix[i].u.str.ptr, suffix[i].u.str.len);
    convert_bytes(leaf, v, l, &out[i]);
    prev = v;
    prev_len = l;
  }
  free(prefix);
  free(suffix);
  return rc;
}

/* BYTE_STREAM_SPLIT: byte j of value i is at j * n + i. */
static int decode_stream_split(const sr_pq_leaf *leaf, const uint8_t *p, size_t len, size_t n,
                               sr_value *out) {
  size_t w = (size_t)fixed_width(leaf);
  /* values are rebuilt in a scratch buffer: only types converted on the spot can use it */
  if (leaf->physical == SR_PQ_FIXED_LEN_BYTE_ARRAY && leaf->conv != SR_PQC_DECIMAL) return -1;
  if (w == 0 || w > 16 || n > len / w) return -1;
  uint8_t tmp[16];
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < w; j++) tmp[j] = p[j * n + i];
    convert_fixed(leaf, tmp, &out[i]);
  }
  return 0;
}

typedef struct chunk_state {
  const sr_pq_leaf *leaf;
  const sr_pq_column_meta *meta;
  sr_arena *a;
  sr_value *dict;
  size_t ndict;
  uint32_t *scratch;        /* levels and indices */
  size_t scratch_cap;
  int64_t remaining;        /* levels the chunk has yet to deliver */
  sr_error **err;
} chunk_state;

static sr_status bad(chunk_state *s, const char *what) {
  return sr_error_set(s->err, SR_ERROR, "Parquet column %s: %s", s->leaf->npath ? s->leaf->path[s->leaf->npath - 1] : "?", what);
}

static int scratch(chunk_state *s, size_t n) {
  if (n <= s->scratch_cap) return 0;
  uint32_t *p = realloc(s->scratch, sizeof *p * n);
  if (!p) return -1;
  s->scratch = p;
  s->scratch_cap = n;
  return 0;
}

static sr_status decode_values(chunk_state *s, int encoding, const uint8_t *p, size_t len,
                               size_t n, sr_value *out) {
  const sr_pq_leaf *leaf = s->leaf;
  switch (encoding) {
  case SR_PQ_ENC_PLAIN:
    return decode_plain(leaf, p, len, n, out) < 0 ? bad(s, "PLAIN values are truncated") : SR_OK;
  case SR_PQ_ENC_PLAIN_DICTIONARY:
  case SR_PQ_ENC_RLE_DICTIONARY: {
    if (!s->dict) return bad(s, "dictionary-encoded page without a dictionary page");
    if (n == 0) return SR_OK;
    if (len < 1 || scratch(s, n) != 0) return bad(s, "dictionary indices are truncated");
    if (sr_pq_rle_decode(p + 1, len - 1, p[0], s->scratch, n) != 0)
      return bad(s, "malformed dictionary indices");
    for (size_t i = 0; i < n; i++) {
      if (s->scratch[i] >= s->ndict) return bad(s, "dictionary index out of range");
      out[i] = s->dict[s->scratch[i]];
    }
    return SR_OK;
  }
  case SR_PQ_ENC_RLE: {  /* booleans, with a 4-byte length */
    if (leaf->physical != SR_PQ_BOOLEAN || len < 4 || scratch(s, n) != 0)
      return bad(s, "unsupported RLE values");
    size_t l = (size_t)sr_load_le(p, 4);
    if (l > len - 4 || sr_pq_rle_decode(p + 4, l, 1, s->scratch, n) != 0)
      return bad(s, "malformed RLE booleans");
    for (size_t i = 0; i < n; i++) {
      out[i].kind = SR_VAL_BOOL;
      out[i].u.b = s->scratch[i] != 0;
    }
    return SR_OK;
  }
  case SR_PQ_ENC_DELTA_BINARY_PACKED: {
    if (leaf->physical != SR_PQ_INT32 && leaf->physical != SR_PQ_INT64)
      return bad(s, "DELTA_BINARY_PACKED on a non-integer column");
    int64_t *ints = malloc(sizeof *ints * (n ? n : 1));
    size_t count = 0;
    long used = ints ? decode_delta_ints(p, len, ints, n, &count) : -1;
    for (size_t i = 0; used >= 0 && i < count; i++)
      convert_int(leaf, leaf->physical == SR_PQ_INT32 ? (int32_t)ints[i] : ints[i], &out[i]);
    free(ints);
    return used < 0 || count != n ? bad(s, "malformed DELTA_BINARY_PACKED values") : SR_OK;
  }
  case SR_PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
    if (leaf->physical != SR_PQ_BYTE_ARRAY || decode_delta_length(leaf, p, len, n, out) != 0)
      return bad(s, "malformed DELTA_LENGTH_BYTE_ARRAY values");
    return SR_OK;
  case SR_PQ_ENC_DELTA_BYTE_ARRAY:
    if ((leaf->physical != SR_PQ_BYTE_ARRAY && leaf->physical != SR_PQ_FIXED_LEN_BYTE_ARRAY) ||
        decode_delta_byte_array(leaf, p, len, n, s->a, out) != 0)
      return bad(s, "malformed DELTA_BYTE_ARRAY values");
    return SR_OK;
  case SR_PQ_ENC_BYTE_STREAM_SPLIT:
    if (decode_stream_split(leaf, p, len, n, out) != 0)
      return bad(s, "malformed BYTE_STREAM_SPLIT values");
    return SR_OK;
  default: {
    char msg[64];
    snprintf(msg, sizeof msg, "unsupported value encoding %d", encoding);
    return bad(s, msg);
  }
  }
}

/* ---- levels and pages ---- */

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap && *p) return 0;  /* never NULL after: callers add offsets to it */
  size_t n = *cap ? *cap : 1024;
  while (n < need) n *= 2;
  void *q = realloc(*p, n * elem);
  if (!q) return -1;
  *p = q;
  *cap = n;
  return 0;
}

/* Decodes n levels into dst (uint8). v1: encoding RLE with a 4-byte length or BIT_PACKED;
** v2 (len_known): RLE of exactly len bytes. Returns the bytes used or -1. */
static long decode_levels(chunk_state *s, const uint8_t *p, size_t len, int encoding, int v2,
                          int max_level, size_t n, uint8_t *dst) {
  int width = sr_pq_bit_width((uint64_t)max_level);
  if (scratch(s, n) != 0) return -1;
  size_t used;
  if (v2) {
    if (sr_pq_rle_decode(p, len, width, s->scratch, n) != 0) return -1;
    used = len;
  } else if (encoding == SR_PQ_ENC_BIT_PACKED) {
    if (sr_pq_bitpacked_legacy_decode(p, len, width, s->scratch, n, &used) != 0) return -1;
  } else {
    if (len < 4) return -1;
    size_t l = (size_t)sr_load_le(p, 4);
    if (l > len - 4 || sr_pq_rle_decode(p + 4, l, width, s->scratch, n) != 0) return -1;
    used = 4 + l;
  }
  for (size_t i = 0; i < n; i++) {
    if (s->scratch[i] > (uint32_t)max_level) return -1;
    dst[i] = (uint8_t)s->scratch[i];
  }
  return (long)used;
}

/* Page bytes that values may point into (byte arrays) must outlive the mapped file: they are
** copied into the arena. Other values are converted on the spot and need no copy. */
static const uint8_t *keep(chunk_state *s, const uint8_t *raw, size_t len) {
  if (s->leaf->physical != SR_PQ_BYTE_ARRAY && s->leaf->physical != SR_PQ_FIXED_LEN_BYTE_ARRAY) return raw;
  uint8_t *copy = sr_arena_alloc(s->a, len + 1);
  if (copy) memcpy(copy, raw, len);
  return copy;
}

/* The page body (after decompression when the whole page is compressed). */
static sr_status read_dictionary(chunk_state *s, const sr_pq_page_header *h, const uint8_t *body,
                                 size_t len) {
  if (h->encoding != SR_PQ_ENC_PLAIN && h->encoding != SR_PQ_ENC_PLAIN_DICTIONARY)
    return bad(s, "dictionary page is not PLAIN");
  if (h->num_values < 0 || (size_t)h->num_values > len * 8 + 8)
    return bad(s, "dictionary page has an impossible number of values");
  free(s->dict);
  s->ndict = (size_t)h->num_values;
  s->dict = malloc(sizeof *s->dict * (s->ndict ? s->ndict : 1));
  if (!s->dict) return sr_error_set(s->err, SR_ERROR, "out of memory reading a dictionary");
  if (decode_plain(s->leaf, body, len, s->ndict, s->dict) < 0)
    return bad(s, "dictionary page is truncated");
  return SR_OK;
}

static sr_status read_data_page(chunk_state *s, const sr_pq_page_header *h, const uint8_t *raw,
                                sr_pq_column_data *out) {
  const sr_pq_leaf *leaf = s->leaf;
  int v2 = h->type == SR_PQ_PAGE_DATA_V2;
  /* A page cannot hold more than what is left of its chunk: this also bounds the memory a
  ** corrupt header can make us allocate. */
  if (h->num_values < 0 || (int64_t)h->num_values > s->remaining)
    return bad(s, "page holds more values than its column chunk");
  size_t n = (size_t)h->num_values;
  size_t clen = (size_t)h->compressed_size, ulen = (size_t)h->uncompressed_size;
  size_t levels_len = v2 ? (size_t)h->rep_levels_len + (size_t)h->def_levels_len : 0;
  if (v2 && (h->rep_levels_len < 0 || h->def_levels_len < 0 || levels_len > clen || levels_len > ulen))
    return bad(s, "page v2 level lengths are out of range");
  /* v1 compresses the whole page; v2 only what follows the levels, and maybe not even that. */
  const uint8_t *body = raw;
  size_t body_len = clen;
  if (s->meta->codec == SR_PQ_UNCOMPRESSED || (v2 && !h->is_compressed)) {
    if (!(body = keep(s, raw, clen))) return sr_error_set(s->err, SR_ERROR, "out of memory reading a page");
  } else {
    uint8_t *buf = sr_arena_alloc(s->a, ulen + 1);
    if (!buf) return sr_error_set(s->err, SR_ERROR, "out of memory reading a page");
    memcpy(buf, raw, levels_len);
    if (sr_pq_decompress(s->meta->codec, raw + levels_len, clen - levels_len, buf + levels_len,
                         ulen - levels_len, s->err) != SR_OK)
      return SR_ERROR;
    body = buf;
    body_len = ulen;
  }
  if (grow((void **)&out->def, &out->levels_cap, out->nlevels + n, 1) != 0)
    return sr_error_set(s->err, SR_ERROR, "out of memory reading levels");
  if (leaf->max_rep) {
    uint8_t *rep = realloc(out->rep, out->levels_cap);
    if (!rep) return sr_error_set(s->err, SR_ERROR, "out of memory reading levels");
    out->rep = rep;
  }
  const uint8_t *p = body, *end = body + body_len;
  uint8_t *def = out->def + out->nlevels;
  if (leaf->max_rep) {
    size_t l = v2 ? (size_t)h->rep_levels_len : (size_t)(end - p);
    long used = decode_levels(s, p, l, h->rep_encoding, v2, leaf->max_rep, n, out->rep + out->nlevels);
    if (used < 0) return bad(s, "malformed repetition levels");
    p += used;
  } else if (v2) {
    p += h->rep_levels_len;
  }
  size_t nvals = n;
  if (leaf->max_def) {
    size_t l = v2 ? (size_t)h->def_levels_len : (size_t)(end - p);
    long used = decode_levels(s, p, l, h->def_encoding, v2, leaf->max_def, n, def);
    if (used < 0) return bad(s, "malformed definition levels");
    p += used;
    nvals = 0;
    for (size_t i = 0; i < n; i++) nvals += def[i] == leaf->max_def;
  } else if (v2) {
    p += h->def_levels_len;
  }
  if (grow((void **)&out->values, &out->values_cap, out->nvalues + nvals, sizeof *out->values) != 0)
    return sr_error_set(s->err, SR_ERROR, "out of memory reading values");
  if (decode_values(s, h->encoding, p, (size_t)(end - p), nvals, out->values + out->nvalues) != SR_OK)
    return SR_ERROR;
  out->nlevels += n;
  out->nvalues += nvals;
  return SR_OK;
}

sr_status sr_pq_decode_chunk(const uint8_t *file, size_t file_len, const sr_pq_column_meta *meta,
                             const sr_pq_leaf *leaf, sr_arena *a, sr_pq_column_data *out,
                             sr_error **err) {
  chunk_state s = {leaf, meta, a, NULL, 0, NULL, 0, 0, err};
  sr_status st = SR_OK;
  int64_t pos = meta->data_page_offset;
  if (meta->dictionary_page_offset >= 4 && meta->dictionary_page_offset < pos)
    pos = meta->dictionary_page_offset;
  if (meta->type != leaf->physical) { st = bad(&s, "column chunk type differs from the schema"); goto done; }
  if (pos < 4 || pos > (int64_t)file_len || meta->total_compressed_size < 0 ||
      meta->total_compressed_size > (int64_t)file_len - pos) {
    st = bad(&s, "column chunk lies outside the file");
    goto done;
  }
  int64_t end = pos + meta->total_compressed_size;
  size_t levels_at_start = out->nlevels;
  while ((int64_t)(out->nlevels - levels_at_start) < meta->num_values) {
    sr_pq_page_header h;
    size_t used;
    if (pos >= end || sr_pq_page_header_decode(file + pos, (size_t)(end - pos), &h, &used) != 0) {
      st = bad(&s, "malformed or missing page header");
      goto done;
    }
    pos += (int64_t)used;
    if (h.compressed_size > end - pos) { st = bad(&s, "page runs past its column chunk"); goto done; }
    const uint8_t *raw = file + pos;
    pos += h.compressed_size;
    if (h.type == SR_PQ_PAGE_DICTIONARY) {
      const uint8_t *body;
      size_t len = (size_t)h.compressed_size;
      if (meta->codec == SR_PQ_UNCOMPRESSED) {
        body = keep(&s, raw, len);
      } else {
        uint8_t *buf = sr_arena_alloc(a, (size_t)h.uncompressed_size + 1);
        len = (size_t)h.uncompressed_size;
        if (buf && (st = sr_pq_decompress(meta->codec, raw, (size_t)h.compressed_size, buf, len, err)) != SR_OK)
          goto done;
        body = buf;
      }
      if (!body) { st = sr_error_set(err, SR_ERROR, "out of memory reading a page"); goto done; }
      if ((st = read_dictionary(&s, &h, body, len)) != SR_OK) goto done;
    } else if (h.type == SR_PQ_PAGE_DATA || h.type == SR_PQ_PAGE_DATA_V2) {
      s.remaining = meta->num_values - (int64_t)(out->nlevels - levels_at_start);
      if ((st = read_data_page(&s, &h, raw, out)) != SR_OK) goto done;
    }  /* index pages and unknown page types carry nothing we need */
  }
done:
  free(s.dict);
  free(s.scratch);
  return st;
}
