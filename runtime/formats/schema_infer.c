/* Schema inference for the file sources: see schema_infer.h. */
#include "schema_infer.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "json_quotes.h"
#include "json_rows.h"
#include "timeutil.h"

/* Text Spark's default timestampFormat would read as a timestamp: a date and a time. */
static int is_timestamp_text(const char *s, size_t n) {
  int64_t ms;
  return n >= 16 && (s[10] == 'T' || s[10] == ' ') && sr_time_parse(s, n, &ms) == 0;
}

/* The inferred kinds, ordered so that NULL says nothing and STRING absorbs every mix. */
typedef enum { K_NULL, K_BOOL, K_INT, K_LONG, K_DOUBLE, K_TIMESTAMP, K_STRING, K_STRUCT, K_ARRAY } kind;

typedef struct itype itype;
typedef struct ifield {
  char *name;
  size_t len;
  int plain;     /* the name has no '"' nor '\\': its JSON text is its bytes */
  uint64_t head, mask; /* the name's first 8 bytes (fewer: zeros), and 0xff where they are */
  itype *type;
} ifield;

struct itype {
  kind k;
  ifield *fields;  /* K_STRUCT, in order of first sight */
  int nfields, cap;
  itype *elem;     /* K_ARRAY */
};

static void itype_clear(itype *t) {
  for (int i = 0; i < t->nfields; i++) {
    free(t->fields[i].name);
    itype_clear(t->fields[i].type);
    free(t->fields[i].type);
  }
  free(t->fields);
  t->fields = NULL;
  t->nfields = t->cap = 0;
  if (t->elem) {
    itype_clear(t->elem);
    free(t->elem);
    t->elem = NULL;
  }
}

/* Spark's findTightestCommonType for the kinds seen here, then StringType for any other mix
** (JsonInferSchema.compatibleType, CSVInferSchema.compatibleType). */
static kind widen(kind have, kind seen) {
  if (have == seen || seen == K_NULL) return have;
  if (have == K_NULL) return seen;
  int num_have = have == K_INT || have == K_LONG || have == K_DOUBLE;
  int num_seen = seen == K_INT || seen == K_LONG || seen == K_DOUBLE;
  if (num_have && num_seen) return have > seen ? have : seen;
  return K_STRING;
}

/* Sets t to kind k (widened); a struct or array that becomes a string loses its children. */
static void observe(itype *t, kind k) {
  kind w = widen(t->k, k);
  if (w == K_STRING && (t->k == K_STRUCT || t->k == K_ARRAY)) itype_clear(t);
  t->k = w;
}

/* ---- JSON --------------------------------------------------------------------------------- */

struct sr_json_infer {
  itype root;  /* K_STRUCT */
  int infer_timestamp;
  int single_quotes;  /* allowSingleQuotes: a record is read as its standard-JSON rewrite */
  sr_buf quoted;      /* that rewrite */
  int oom;
  char *key;   /* a key with escapes, unescaped */
  size_t key_cap;
};

sr_json_infer *sr_json_infer_new(int infer_timestamp, int single_quotes) {
  sr_json_infer *inf = calloc(1, sizeof *inf);
  if (inf) {
    inf->root.k = K_STRUCT;
    inf->infer_timestamp = infer_timestamp;
    inf->single_quotes = single_quotes;
  }
  return inf;
}

void sr_json_infer_free(sr_json_infer *inf) {
  if (!inf) return;
  itype_clear(&inf->root);
  sr_buf_free(&inf->quoted);
  free(inf->key);
  free(inf);
}

static const char *ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
  return p;
}

/* The first '"' or '\\' in [p, end), or end. Sixteen bytes at a time with SSE2, then eight:
** a byte of v equals c when the same byte of v ^ c*0x01..01 is zero (the has-zero-byte test). */
static const char *quote_or_backslash(const char *p, const char *end) {
#ifdef __SSE2__
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    int hit = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
    if (hit) return p + __builtin_ctz((unsigned)hit);
    p += 16;
  }
#endif
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  while (end - p >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    uint64_t hit = ((q - ones) & ~q & highs) | ((b - ones) & ~b & highs);
    if (hit) return p + (__builtin_ctzll(hit) >> 3);
    p += 8;
  }
  while (p < end && *p != '"' && *p != '\\') p++;
  return p;
}

/* The end of the string whose opening quote is at p (just past its closing quote), or NULL.
** *escaped tells whether it holds a backslash. */
static const char *string_end(const char *p, const char *end, int *escaped) {
  *escaped = 0;
  for (const char *q = p + 1;;) {
    q = quote_or_backslash(q, end);
    if (q >= end) return NULL;
    if (*q == '"') return q + 1;
    *escaped = 1;
    q += 2; /* the backslash and the character it escapes */
    if (q > end) return NULL;
  }
}

/* a[0..n) == b[0..n) (keys are short: no call to memcmp). */
static int same_bytes(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}

/* name[0..len) == f's name. */
static int same_name(const ifield *f, const char *name, size_t len) {
  return f->len == len && same_bytes(f->name, name, len);
}

/* Is the plain key f the text at p, its opening quote? Its first 8 bytes are one compare of a
** word: memcmp was a sixth of the scan of the benchmark's bids, and a byte loop mispredicts its
** end at every key; this took ~18% off the scan (--check of filter_inferred.lua). */
static int key_at(const ifield *f, const char *p, const char *end) {
  const char *k = p + 1;
  if (!f->plain || (size_t)(end - k) <= f->len || k[f->len] != '"') return 0;
  if (end - k < 8) return same_bytes(k, f->name, f->len);
  uint64_t w;
  memcpy(&w, k, 8);
  return (w & f->mask) == f->head && (f->len <= 8 || same_bytes(k + 8, f->name + 8, f->len - 8));
}

static void put_utf8(char *out, size_t *n, uint32_t cp) {
  if (cp < 0x80) out[(*n)++] = (char)cp;
  else if (cp < 0x800) {
    out[(*n)++] = (char)(0xC0 | (cp >> 6));
    out[(*n)++] = (char)(0x80 | (cp & 0x3F));
  } else {
    out[(*n)++] = (char)(0xE0 | (cp >> 12));
    out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[(*n)++] = (char)(0x80 | (cp & 0x3F));
  }
}

/* Unescapes the key s[0..len) (between its quotes) into inf->key. Returns its length, or -1. */
static long unescape_key(sr_json_infer *inf, const char *s, size_t len) {
  if (len * 3 + 1 > inf->key_cap) {
    char *k = realloc(inf->key, len * 3 + 1);
    if (!k) { inf->oom = 1; return -1; }
    inf->key = k;
    inf->key_cap = len * 3 + 1;
  }
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c != '\\') { inf->key[n++] = c; continue; }
    if (++i >= len) return -1;
    switch (s[i]) {
      case 'b': inf->key[n++] = '\b'; break;
      case 'f': inf->key[n++] = '\f'; break;
      case 'n': inf->key[n++] = '\n'; break;
      case 'r': inf->key[n++] = '\r'; break;
      case 't': inf->key[n++] = '\t'; break;
      case 'u': {
        if (i + 4 >= len) return -1;
        uint32_t cp = 0;
        for (int d = 1; d <= 4; d++) {
          char h = s[i + d];
          cp = cp * 16 + (uint32_t)(h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                    : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 0);
        }
        put_utf8(inf->key, &n, cp);
        i += 4;
        break;
      }
      default: inf->key[n++] = s[i];
    }
  }
  return (long)n;
}

/* The field named name[0..len) of struct t, added (kind NULL) when new. *cursor is where the
** previous key was found plus one: records usually repeat their keys in the same order. */
static itype *struct_field(sr_json_infer *inf, itype *t, const char *name, size_t len, int *cursor) {
  int c = *cursor;
  if (c < t->nfields && same_name(&t->fields[c], name, len)) {
    *cursor = c + 1;
    return t->fields[c].type;
  }
  for (int i = 0; i < t->nfields; i++) {
    if (same_name(&t->fields[i], name, len)) {
      *cursor = i + 1;
      return t->fields[i].type;
    }
  }
  if (t->nfields == t->cap) {
    int cap = t->cap ? t->cap * 2 : 8;
    ifield *f = realloc(t->fields, (size_t)cap * sizeof *f);
    if (!f) { inf->oom = 1; return NULL; }
    t->fields = f;
    t->cap = cap;
  }
  ifield *f = &t->fields[t->nfields];
  f->name = malloc(len + 1);
  f->type = calloc(1, sizeof *f->type);
  if (!f->name || !f->type) {
    free(f->name);
    free(f->type);
    inf->oom = 1;
    return NULL;
  }
  memcpy(f->name, name, len);
  f->name[len] = '\0';
  f->len = len;
  f->plain = !memchr(name, '"', len) && !memchr(name, '\\', len);
  size_t h = len < 8 ? len : 8;
  f->head = f->mask = 0;
  memcpy(&f->head, name, h);
  memset(&f->mask, 0xff, h);
  *cursor = ++t->nfields;
  return f->type;
}

static int is_digit(char c) { return (unsigned char)(c - '0') < 10; }

/* The end of the JSON number at p, or NULL; *k is K_LONG for an integer within 64 bits, else
** K_DOUBLE. Integers of 19 digits and more are checked exactly (json_rows.h's scanner). */
static const char *number_end(const char *p, const char *end, kind *k) {
  const char *q = p + (p < end && *p == '-');
  const char *digits = q;
  while (q < end && is_digit(*q)) q++;
  size_t nd = (size_t)(q - digits);
  if (nd == 0 || (nd > 1 && *digits == '0')) return NULL;
  *k = K_LONG;
  if (q < end && *q == '.') {
    const char *f = ++q;
    while (q < end && is_digit(*q)) q++;
    if (q == f) return NULL;
    *k = K_DOUBLE;
  }
  if (q < end && (*q == 'e' || *q == 'E')) {
    q += 1 + (q + 1 < end && (q[1] == '+' || q[1] == '-'));
    const char *e = q;
    while (q < end && is_digit(*q)) q++;
    if (q == e) return NULL;
    *k = K_DOUBLE;
  }
  if (*k == K_LONG && nd >= 19) {
    sr__jnum num;
    int64_t v;
    if (!sr__json_scan_number(p, end, &num) || sr__jnum_int64(&num, &v) != 0) *k = K_DOUBLE;
  }
  return q;
}

/* Reads the JSON value at p (within [p, end)) into t (NULL: only skips it, validating its
** structure). Returns the end of the value, or NULL when the text is not JSON. */
static const char *json_value(sr_json_infer *inf, itype *t, const char *p, const char *end, int depth) {
  if (p >= end || depth > 200) return NULL;
  if (t && t->k == K_STRING) t = NULL; /* nothing more to learn */
  switch (*p) {
    case '{': {
      if (t) observe(t, K_STRUCT);
      if (t && t->k != K_STRUCT) t = NULL;
      p = ws(p + 1, end);
      if (p < end && *p == '}') return p + 1;
      int cursor = 0;
      for (;;) {
        if (p >= end || *p != '"') return NULL;
        itype *ft = NULL;
        const char *kend = NULL;
        if (t && cursor < t->nfields) { /* the key the records so far had next */
          const ifield *f = &t->fields[cursor];
          if (key_at(f, p, end)) {
            kend = p + f->len + 2;
            ft = f->type;
            cursor++;
          }
        }
        int esc;
        if (!kend && !(kend = string_end(p, end, &esc))) return NULL;
        if (t && !ft) {
          const char *name = p + 1;
          long len = (long)(kend - p - 2);
          if (esc) {
            len = unescape_key(inf, name, (size_t)len);
            if (len < 0) return NULL;
            name = inf->key;
          }
          ft = struct_field(inf, t, name, (size_t)len, &cursor);
          if (!ft) return NULL;
        }
        p = ws(kend, end);
        if (p >= end || *p != ':') return NULL;
        p = json_value(inf, ft, ws(p + 1, end), end, depth + 1);
        if (!p) return NULL;
        p = ws(p, end);
        if (p < end && *p == ',') { p = ws(p + 1, end); continue; }
        if (p < end && *p == '}') return p + 1;
        return NULL;
      }
    }
    case '[': {
      if (t) observe(t, K_ARRAY);
      if (t && t->k != K_ARRAY) t = NULL;
      if (t && !t->elem && !(t->elem = calloc(1, sizeof *t->elem))) { inf->oom = 1; return NULL; }
      p = ws(p + 1, end);
      if (p < end && *p == ']') return p + 1;
      for (;;) {
        p = json_value(inf, t ? t->elem : NULL, p, end, depth + 1);
        if (!p) return NULL;
        p = ws(p, end);
        if (p < end && *p == ',') { p = ws(p + 1, end); continue; }
        if (p < end && *p == ']') return p + 1;
        return NULL;
      }
    }
    case '"': {
      int esc;
      const char *s = string_end(p, end, &esc);
      if (!s) return NULL;
      size_t len = (size_t)(s - p - 2);
      if (t && len > 0) { /* "" is a null to Spark's inference */
        kind k = K_STRING;
        if (inf->infer_timestamp && !esc && (t->k == K_NULL || t->k == K_TIMESTAMP) &&
            is_timestamp_text(p + 1, len))
          k = K_TIMESTAMP;
        observe(t, k);
      }
      return s;
    }
    case 't':
      if (end - p < 4 || memcmp(p, "true", 4) != 0) return NULL;
      if (t) observe(t, K_BOOL);
      return p + 4;
    case 'f':
      if (end - p < 5 || memcmp(p, "false", 5) != 0) return NULL;
      if (t) observe(t, K_BOOL);
      return p + 5;
    case 'n':
      if (end - p < 4 || memcmp(p, "null", 4) != 0) return NULL;
      return p + 4;
    default: {
      kind k;
      const char *q = number_end(p, end, &k);
      if (q && t && t->k != k) observe(t, k);
      return q;
    }
  }
}

int sr_json_infer_add(sr_json_infer *inf, const char *buf, size_t len) {
  const char *p = buf, *end = buf + len;
  while (p < end && !inf->oom) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *stop = nl ? nl : end;
    const char *q = ws(p, stop);
    if (p == buf && stop - q >= 3 && memcmp(q, "\xEF\xBB\xBF", 3) == 0) q += 3; /* a BOM */
    int rc = q < stop && *q == '{' && inf->single_quotes
                 ? sr_json_requote(q, (size_t)(stop - q), &inf->quoted) : 0;
    if (rc < 0) inf->oom = 1;
    else if (rc > 0) json_value(inf, &inf->root, inf->quoted.data, inf->quoted.data + inf->quoted.len, 0);
    else if (q < stop && *q == '{') json_value(inf, &inf->root, q, stop, 0);
    p = nl ? nl + 1 : end;
  }
  return inf->oom ? -1 : 0;
}

/* Widens dst by everything src says (the same as having read src's records into dst). */
static void merge_type(sr_json_infer *inf, itype *dst, const itype *src) {
  if (src->k == K_NULL || inf->oom) return;
  observe(dst, src->k);
  if (dst->k == K_STRUCT && src->k == K_STRUCT) {
    for (int i = 0; i < src->nfields && !inf->oom; i++) {
      int cursor = i;
      itype *ft = struct_field(inf, dst, src->fields[i].name, src->fields[i].len, &cursor);
      if (ft) merge_type(inf, ft, src->fields[i].type);
    }
  } else if (dst->k == K_ARRAY && src->k == K_ARRAY && src->elem) {
    if (!dst->elem && !(dst->elem = calloc(1, sizeof *dst->elem))) { inf->oom = 1; return; }
    merge_type(inf, dst->elem, src->elem);
  }
}

int sr_json_infer_merge(sr_json_infer *into, const sr_json_infer *from) {
  merge_type(into, &into->root, &from->root);
  return into->oom ? -1 : 0;
}

/* ---- to a schema ------------------------------------------------------------------------ */

static int by_name(const void *a, const void *b) {
  const ifield *x = *(ifield *const *)a, *y = *(ifield *const *)b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->name, y->name, n);
  if (c) return c;
  return x->len < y->len ? -1 : x->len > y->len;
}

static const sr_type kind_type[] = {
  [K_NULL] = SR_TYPE_STRING, [K_BOOL] = SR_TYPE_BOOLEAN, [K_INT] = SR_TYPE_INT,
  [K_LONG] = SR_TYPE_LONG, [K_DOUBLE] = SR_TYPE_DOUBLE, [K_TIMESTAMP] = SR_TYPE_TIMESTAMP,
  [K_STRING] = SR_TYPE_STRING, [K_STRUCT] = SR_TYPE_STRUCT, [K_ARRAY] = SR_TYPE_ARRAY,
};

/* 1 when t has no column left after Spark's canonicalizeType (an empty struct, or an array of
** one): such a field is dropped. */
static int vanishes(const itype *t) {
  if (t->k == K_ARRAY) return t->elem && vanishes(t->elem);
  if (t->k != K_STRUCT) return 0;
  for (int i = 0; i < t->nfields; i++)
    if (t->fields[i].len > 0 && !vanishes(t->fields[i].type)) return 0;
  return 1;
}

static int fill_struct(sr_schema *s, const itype *t);

/* Fills f (its name set) with the type of t. 0, or -1 when out of memory. */
static int fill_field(sr_field *f, const itype *t) {
  f->type = kind_type[t->k];
  if (t->k == K_STRUCT) {
    f->children = sr_schema_new();
    return f->children ? fill_struct(f->children, t) : -1;
  }
  if (t->k == K_ARRAY) {
    f->element = calloc(1, sizeof *f->element);
    if (!f->element || !(f->element->name = strdup("element"))) return -1;
    f->element->nullable = 1;
    static const itype null_type = {K_NULL, NULL, 0, 0, NULL};
    return fill_field(f->element, t->elem ? t->elem : &null_type);
  }
  return 0;
}

/* The fields of struct t, sorted by name (JsonInferSchema sorts them), into s. */
static int fill_struct(sr_schema *s, const itype *t) {
  const ifield **order = malloc((size_t)(t->nfields ? t->nfields : 1) * sizeof *order);
  if (!order) return -1;
  int n = 0;
  for (int i = 0; i < t->nfields; i++)
    if (t->fields[i].len > 0 && !vanishes(t->fields[i].type)) order[n++] = &t->fields[i];
  qsort(order, (size_t)n, sizeof *order, by_name);
  int rc = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    sr_field *f = sr_schema_add(s, order[i]->name, SR_TYPE_STRING);
    rc = f ? fill_field(f, order[i]->type) : -1;
  }
  free(order);
  return rc;
}

sr_schema *sr_json_infer_schema(const sr_json_infer *inf) {
  sr_schema *s = sr_schema_new();
  if (s && fill_struct(s, &inf->root) != 0) {
    sr_schema_free(s);
    return NULL;
  }
  return s;
}

/* ---- CSV ---------------------------------------------------------------------------------- */

struct sr_csv_infer {
  sr_csv_options opts;
  int infer_types;
  int ncols;        /* -1 until the first record */
  char **names;
  kind *kinds;
  char *cell;       /* a quoted cell with "" pairs, undone */
  size_t cell_cap;
  int oom;
};

sr_csv_infer *sr_csv_infer_new(const sr_csv_options *opts, int infer_types) {
  sr_csv_infer *inf = calloc(1, sizeof *inf);
  if (!inf) return NULL;
  inf->opts = *opts;
  if (!inf->opts.sep) inf->opts.sep = ',';
  inf->infer_types = infer_types;
  inf->ncols = -1;
  return inf;
}

void sr_csv_infer_free(sr_csv_infer *inf) {
  if (!inf) return;
  for (int i = 0; i < inf->ncols; i++) free(inf->names[i]);
  free(inf->names);
  free(inf->kinds);
  free(inf->cell);
  free(inf);
}

/* Splits the record at *pp (RFC 4180, as csv_rows.c reads it) and calls cell() for each field
** (its text with "" pairs undone, whether it was quoted). Returns the number of fields, 0 for
** an empty line; *pp moves past the record. */
typedef void (*cell_fn)(sr_csv_infer *inf, int i, const char *s, size_t n, int quoted);

static int csv_record(sr_csv_infer *inf, const char **pp, const char *end, cell_fn cell) {
  const char *p = *pp;
  char sep = inf->opts.sep;
  if (p < end && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))) {
    *pp = p + (*p == '\r' ? 2 : 1);
    return 0;
  }
  int n = 0;
  for (;;) {
    if (p < end && *p == '"') {
      const char *q = p + 1, *close;
      size_t len = 0;
      for (;;) {
        close = memchr(q, '"', (size_t)(end - q));
        if (!close) close = end;
        size_t piece = (size_t)(close - q);
        if (len + piece + 1 > inf->cell_cap) {
          size_t cap = (len + piece + 1) * 2;
          char *c = realloc(inf->cell, cap);
          if (!c) { inf->oom = 1; *pp = end; return n; }
          inf->cell = c;
          inf->cell_cap = cap;
        }
        memcpy(inf->cell + len, q, piece);
        len += piece;
        if (close + 1 < end && close[1] == '"') { inf->cell[len++] = '"'; q = close + 2; continue; }
        break;
      }
      cell(inf, n++, inf->cell, len, 1);
      p = close < end ? close + 1 : end;
      while (p < end && *p != sep && *p != '\n') p++; /* text after the quote: a bad record */
    } else {
      const char *q = p;
      while (q < end && *q != sep && *q != '\n') q++;
      const char *fend = q;
      if ((q == end || *q == '\n') && fend > p && fend[-1] == '\r') fend--;
      cell(inf, n++, p, (size_t)(fend - p), 0);
      p = q;
    }
    if (p < end && *p == sep) { p++; continue; }
    *pp = p < end ? p + 1 : end;
    return n;
  }
}

static void count_cell(sr_csv_infer *inf, int i, const char *s, size_t n, int quoted) {
  (void)inf; (void)i; (void)s; (void)n; (void)quoted;
}

static void header_cell(sr_csv_infer *inf, int i, const char *s, size_t n, int quoted) {
  (void)quoted;
  char **names = realloc(inf->names, (size_t)(i + 1) * sizeof *names);
  if (!names) { inf->oom = 1; return; }
  inf->names = names;
  char gen[24];
  if (n == 0 || !inf->opts.header) { /* Spark names a column without a header name _c<i> */
    n = (size_t)snprintf(gen, sizeof gen, "_c%d", i);
    s = gen;
  }
  names[i] = malloc(n + 1);
  if (!names[i]) { inf->oom = 1; return; }
  memcpy(names[i], s, n);
  names[i][n] = '\0';
}

/* CSVInferSchema.inferField: int, long, double, timestamp, boolean, else string. */
static kind csv_kind(const char *s, size_t n) {
  if (n == 0) return K_NULL;
  size_t i = (*s == '-' || *s == '+') ? 1 : 0;
  if (i < n) {
    size_t d = i;
    while (d < n && s[d] >= '0' && s[d] <= '9') d++;
    if (d == n && n - i <= 19) {
      char tmp[24];
      memcpy(tmp, s, n);
      tmp[n] = '\0';
      char *e;
      long long v = strtoll(tmp, &e, 10);
      if (n - i < 19 || (v != LLONG_MAX && v != LLONG_MIN))
        return v >= INT32_MIN && v <= INT32_MAX ? K_INT : K_LONG;
    }
  }
  if (n < 64) {
    char tmp[64];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *e;
    strtod(tmp, &e);
    int word = (n == 3 && strcasecmp(tmp, "nan") == 0) || strcasecmp(tmp, "infinity") == 0 ||
               strcasecmp(tmp, "-infinity") == 0 || strcasecmp(tmp, "+infinity") == 0;
    int digits = strspn(tmp + ((*tmp == '-' || *tmp == '+') ? 1 : 0), "0123456789.") > 0;
    /* Double.parseDouble: digits, or NaN/Infinity; not C's hex floats or "inf" */
    if (*e == '\0' && (word || (digits && !strpbrk(tmp, "xXpP")))) return K_DOUBLE;
    if (strcasecmp(tmp, "true") == 0 || strcasecmp(tmp, "false") == 0) return K_BOOL;
  }
  return is_timestamp_text(s, n) ? K_TIMESTAMP : K_STRING;
}

static void type_cell(sr_csv_infer *inf, int i, const char *s, size_t n, int quoted) {
  if (i >= inf->ncols) return; /* extra fields are dropped when read */
  if (n == 0 && quoted) { inf->kinds[i] = widen(inf->kinds[i], K_STRING); return; }
  if (inf->kinds[i] == K_STRING) return;
  inf->kinds[i] = widen(inf->kinds[i], csv_kind(s, n));
}

int sr_csv_infer_add_file(sr_csv_infer *inf, const char *buf, size_t len) {
  const char *p = buf, *end = buf + len;
  if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
  int first = 1; /* with a header, each file's first record is its header */
  while (p < end && !inf->oom) {
    if (inf->ncols < 0) {
      const char *start = p;
      int n = csv_record(inf, &p, end, count_cell);
      if (n == 0) continue;
      p = start;
      csv_record(inf, &p, end, header_cell);
      if (inf->oom) break;
      inf->ncols = n;
      inf->kinds = calloc((size_t)n, sizeof *inf->kinds);
      if (!inf->kinds) { inf->oom = 1; break; }
      first = 0;
      if (inf->opts.header) continue;
      p = start;
    }
    if (!inf->infer_types) break;
    int n = csv_record(inf, &p, end, first && inf->opts.header ? count_cell : type_cell);
    if (n > 0) first = 0;
  }
  return inf->oom ? -1 : 0;
}

/* CSVUtils.makeSafeHeader: a name the header has twice (in any case) gets its index appended. */
static int duplicated(const sr_csv_infer *inf, int i) {
  for (int j = 0; j < inf->ncols; j++)
    if (j != i && strcasecmp(inf->names[i], inf->names[j]) == 0) return 1;
  return 0;
}

sr_schema *sr_csv_infer_schema(const sr_csv_infer *inf) {
  sr_schema *s = sr_schema_new();
  for (int i = 0; s && i < inf->ncols; i++) {
    char name[4096];
    snprintf(name, sizeof name, duplicated(inf, i) ? "%s%d" : "%s", inf->names[i], i);
    if (!sr_schema_add(s, name, kind_type[inf->infer_types ? inf->kinds[i] : K_STRING])) {
      sr_schema_free(s);
      s = NULL;
    }
  }
  return s;
}
