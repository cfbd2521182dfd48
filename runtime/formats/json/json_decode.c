/*
** JSON lines -> Lua rows: the decoder of json_rows.h.
**
** Decoding is a hand-written recursive-descent parser that writes straight into Lua tables.
** Why it is fast:
**  - a "plan" is built once per call: every schema field name (nested ones too) is pushed as a
**    Lua string once and reused with lua_pushvalue, and each struct level gets a tiny hash
**    table (length, first and last byte) to match keys with one probe and one memcmp;
**  - rows of a stream repeat their keys in the same order, so each struct level remembers the
**    key at each position of the previous object: a key is usually recognized, closing quote
**    included, by one comparison of a few words, without scanning it or looking it up;
**  - values of undeclared fields are skipped by a scanner that builds nothing;
**  - strings are scanned 16 bytes at a time; strings without escapes go from the input buffer
**    to lua_pushlstring directly;
**  - integers are parsed into int64 (exact), up to 7 digits at once, and doubles whose decimal
**    mantissa fits 2^53 with |exponent| <= 22 are computed as m * 10^e or m / 10^e, which IEEE
**    rounds correctly (Clinger's fast path), so strtod is only the fallback;
**  - no malloc per row: scratch memory (unescaped strings, base64) lives in one buffer per call.
**
** Invariants: every decode_* function pushes exactly one value and returns 0, or returns -1
** with d->reason set and leaves junk on the stack that the record level removes (lua_settop).
** The first error of a record wins (set_reason keeps it).
*/
#include "json_rows.h"

#include <assert.h>
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json_internal.h"
#include "json_quotes.h"
#include "lua_aux.h"
#include "lua_int64.h"
#include "lua_types.h"
#include "timeutil.h"
#include "utf8.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum {
  /* Nesting of a record, skipped parts included: Jackson's default maxNestingDepth (1000),
  ** beyond which Spark's reader fails the record. Decoding recurses once per level (a few
  ** hundred bytes of C stack each, a few Lua slots); skipping is a loop. */
  MAX_DEPTH = 1000,
  KEY_CACHE = 32,      /* inferred decoding: top-level keys remembered by position */
  SNIPPET = 40         /* bytes of a bad value quoted in a reason */
};

/* ------------------------------------------------------------------------------------------ */
/* Integers                                                                                     */

/* The common case, [-]digits (1 to 18, so no overflow) with no fraction or exponent: returns
** the number's end and sets *v; NULL sends the caller to sr__json_scan_number (also for -0, a
** double's negative zero). Up to 7 digits are read at once when 8 bytes are there (SWAR: the
** digit bytes are found with one mask and combined with three multiplications). */
static inline const char *fast_int(const char *p, const char *end, int64_t *v) {
  int neg = *p == '-';
  const char *q = p + neg, *start = q;
  uint64_t m = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (end - q >= 8) {
    uint64_t w;
    memcpy(&w, q, 8);
    uint64_t x = w ^ 0x3030303030303030ULL;  /* digit bytes become 0..9 */
    uint64_t other = (((x & 0x7F7F7F7F7F7F7F7FULL) + 0x7676767676767676ULL) | x) & 0x8080808080808080ULL;
    if (other) {  /* fewer than 8 digits */
      int n = __builtin_ctzll(other) >> 3;
      if (n == 0 || (*q == '0' && (n > 1 || neg))) return NULL;
      if (q[n] == '.' || q[n] == 'e' || q[n] == 'E') return NULL;
      x <<= 64 - 8 * n;  /* the n digits in the high bytes, zeros (leading digits) below */
      x = x * 10 + (x >> 8);
      x = ((x & 0x000000FF000000FFULL) * 0x000F424000000064ULL +
           ((x >> 16) & 0x000000FF000000FFULL) * 0x0000271000000001ULL) >> 32;
      *v = neg ? -(int64_t)(uint32_t)x : (int64_t)(uint32_t)x;
      return q + n;
    }
  }
#endif
  while (q < end && is_digit(*q)) {
    if (q - start == 18) return NULL;
    m = m * 10 + (uint64_t)(*q++ - '0');
  }
  if (q == start || (*start == '0' && (q - start > 1 || neg))) return NULL;
  if (q < end && (*q == '.' || *q == 'e' || *q == 'E')) return NULL;
  *v = neg ? -(int64_t)m : (int64_t)m;
  return q;
}

/* ------------------------------------------------------------------------------------------ */
/* Decoder                                                                                      */

typedef struct jdec {
  lua_State *L;
  sr__codec_mem *mem;
  const char *rec;      /* the record's first byte: positions in reasons count from it */
  char *reason;
  size_t reason_len;
  int depth;
  int npath;            /* may exceed MAX_PATH; only the first MAX_PATH entries are kept */
  struct { const char *name; size_t len; int64_t index; } path[MAX_PATH];
  /* Inferred decoding: the top-level keys of the last record, by position, as Lua strings at
  ** stack slots kc_base..kc_base+KEY_CACHE-1 (0: no cache). */
  int kc_base;
  const char *kc_ptr[KEY_CACHE];
  size_t kc_len[KEY_CACHE];
  int nkeys_hint;
  int into;             /* 0, or the stack index of a table the record's fields go into */
  int repair_utf8;      /* text pushed to Lua gets U+FFFD for invalid UTF-8 (0: the record
                           was checked whole before decoding) */
} jdec;

static void set_reason(jdec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(jdec *d, const char *fmt, ...) {
  if (d->reason[0]) return;  /* the first error of a record wins */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->reason, d->reason_len, fmt, ap);
  va_end(ap);
}

static int fail_syntax(jdec *d, const char *p, const char *end, const char *what) {
  size_t at = (size_t)(p - d->rec) + 1;
  if (p >= end) set_reason(d, "not JSON: %s at byte %zu (end of record)", what, at);
  else set_reason(d, "not JSON: %s at byte %zu", what, at);
  return -1;
}
#define C16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
/* Bytes that end the fast scan of a string: 1 quote, 2 backslash, 3 control character. */
static const unsigned char str_class[256] = {
  C16(CLS_CTRL), C16(CLS_CTRL),
  0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20: '"' */
  C16(0), C16(0),
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, /* 0x50: '\\' */
  C16(0), C16(0), C16(0), C16(0), C16(0), C16(0), C16(0), C16(0), C16(0), C16(0),
};
static const unsigned char ws_class[256] = {[' '] = 1, ['\t'] = 1, ['\r'] = 1, ['\n'] = 1};

static inline const char *skip_ws(const char *p, const char *end) {
  while (p < end && ws_class[(unsigned char)*p]) p++;
  return p;
}

/* The first byte at or after p that is '"', '\\' or a control character, or end: 16 bytes at a
** time with SSE2 (every x86-64 has it), one at a time elsewhere. */
static inline const char *find_special(const char *p, const char *end) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), ctrl = _mm_set1_epi8(0x1f);
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                               _mm_cmpeq_epi8(_mm_min_epu8(v, ctrl), v)); /* v <= 0x1f */
    unsigned m = (unsigned)_mm_movemask_epi8(hit);
    if (m) return p + __builtin_ctz(m);
    p += 16;
  }
#endif
  while (p < end && !str_class[(unsigned char)*p]) p++;
  return p;
}

/* p just after an opening quote. Returns the closing quote (setting *esc when the string has
** escapes), or NULL with the reason set. */
static inline const char *scan_string(jdec *d, const char *p, const char *end, int *esc) {
  *esc = 0;
  for (;;) {
    p = find_special(p, end);
    if (p >= end) return fail_syntax(d, p, end, "unterminated string"), NULL;
    int cls = str_class[(unsigned char)*p];
    if (cls == 1) return p;
    if (cls == CLS_CTRL) return fail_syntax(d, p, end, "control character in string"), NULL;
    if (end - p < 2) return fail_syntax(d, p + 1, end, "unterminated string"), NULL;
    *esc = 1;
    p += 2;  /* the escaped byte is checked when unescaping */
  }
}

static int hex4(const char *p, unsigned *v) {
  unsigned x = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    x <<= 4;
    if (c >= '0' && c <= '9') x |= (unsigned)(c - '0');
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') x |= (unsigned)((c | 0x20) - 'a' + 10);
    else return -1;
  }
  *v = x;
  return 0;
}

static char *put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) { *o++ = (char)cp; }
  else if (cp < 0x800) { *o++ = (char)(0xC0 | cp >> 6); *o++ = (char)(0x80 | (cp & 0x3F)); }
  else if (cp < 0x10000) {
    *o++ = (char)(0xE0 | cp >> 12);
    *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  } else {
    *o++ = (char)(0xF0 | cp >> 18);
    *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
    *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  }
  return o;
}

void sr__push_utf8(lua_State *L, const char *s, size_t n) {
  size_t ok = sr_utf8_valid_len(s, n);
  if (ok == n) {
    lua_pushlstring(L, s, n);
    return;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (;;) {
    luaL_addlstring(&b, s, ok);
    s += ok;
    n -= ok;
    if (n == 0) break;
    size_t bad = (size_t)-sr_utf8_seq((const unsigned char *)s, n);
    luaL_addlstring(&b, "\xEF\xBF\xBD", 3);
    s += bad;
    n -= bad;
    ok = sr_utf8_valid_len(s, n);
  }
  luaL_pushresult(&b);
}

/* Pushes text as a Lua string; with repair_utf8, each ill-formed UTF-8 sequence becomes U+FFFD
** (as Java's decoder makes it when Spark reads a UTF8String: from_json, CSV cells). */
static void push_str(jdec *d, const char *s, size_t n) {
  if (d->repair_utf8) sr__push_utf8(d->L, s, n);
  else lua_pushlstring(d->L, s, n);
}

/* Decodes the escapes of [s, stop) into mem->text (never longer than the input), which must
** not hold the input: it may move, and the copies below must not overlap. */
static int unescape(jdec *d, const char *s, const char *stop, const char **out, size_t *n) {
  sr_buf *b = &d->mem->text;
  assert(!b->data || s >= b->data + b->cap || stop <= b->data);
  b->len = 0;
  if (sr_buf_reserve(b, (size_t)(stop - s)) != 0) luaL_error(d->L, "out of memory");
  char *o = b->data;
  const char *p = s;
  while (p < stop) {
    const char *bs = memchr(p, '\\', (size_t)(stop - p));
    if (!bs) bs = stop;
    memcpy(o, p, (size_t)(bs - p));
    o += bs - p;
    if (bs == stop) break;
    p = bs + 2;  /* scan_string guaranteed the byte after each backslash */
    switch (bs[1]) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '/': *o++ = '/'; break;
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
      case 'u': {
        unsigned cp, lo;
        if (stop - p < 4 || hex4(p, &cp) != 0)
          return fail_syntax(d, bs, stop + 1, "invalid \\u escape");
        p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && stop - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
            hex4(p + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          p += 6;
        } else if (cp >= 0xD800 && cp <= 0xDFFF) {
          cp = 0xFFFD;  /* a lone surrogate has no UTF-8 form */
        }
        o = put_utf8(o, cp);
        break;
      }
      default: return fail_syntax(d, bs, stop + 1, "invalid escape");
    }
  }
  *out = b->data;
  *n = (size_t)(o - b->data);
  return 0;
}

/* p at an opening quote: the string's bytes, unescaped if needed (valid until the next call). */
static int get_string(jdec *d, const char **pp, const char *end, const char **s, size_t *n,
                      int *esc) {
  const char *start = *pp + 1, *stop = scan_string(d, start, end, esc);
  if (!stop) return -1;
  *pp = stop + 1;
  if (!*esc) {
    *s = start;
    *n = (size_t)(stop - start);
    return 0;
  }
  return unescape(d, start, stop, s, n);
}

static int is_lit(const char *p, const char *end, const char *word, size_t n) {
  return (size_t)(end - p) >= n && memcmp(p, word, n) == 0;
}

/* Skips one value of any kind without building it; checks brackets, strings and literals. */
static int skip_value(jdec *d, const char **pp, const char *end) {
  char closers[MAX_DEPTH];
  int depth = 0, max = MAX_DEPTH - d->depth;  /* the levels above this value count */
  const char *p = *pp;
  for (;;) {
    /* a value starts at p */
    if (p >= end) return fail_syntax(d, p, end, "expected a value");
    switch (*p) {
      case '"': {
        int esc;
        if (!(p = scan_string(d, p + 1, end, &esc))) return -1;
        p++;
        break;
      }
      case '{': case '[':
        if (depth >= max) return fail_syntax(d, p, end, "nesting too deep (more than 1000 levels)");
        closers[depth++] = *p == '{' ? '}' : ']';
        p = skip_ws(p + 1, end);
        if (p < end && *p == closers[depth - 1]) { p++; depth--; break; }
        if (closers[depth - 1] == '}') goto key;
        continue;
      case 't': if (!is_lit(p, end, "true", 4)) goto bad; p += 4; break;
      case 'f': if (!is_lit(p, end, "false", 5)) goto bad; p += 5; break;
      case 'n': if (!is_lit(p, end, "null", 4)) goto bad; p += 4; break;
      default: {
        sr__jnum num;
        const char *q = sr__json_scan_number(p, end, &num);
        if (!q) goto bad;
        p = q;
      }
    }
    /* after a value: close containers or go on to the next element */
    for (;;) {
      if (depth == 0) { *pp = p; return 0; }
      p = skip_ws(p, end);
      char closer = closers[depth - 1];
      if (p < end && *p == closer) { p++; depth--; continue; }
      if (p < end && *p == ',') break;
      return fail_syntax(d, p, end, closer == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    p = skip_ws(p + 1, end);
    if (closers[depth - 1] == ']') continue;
  key:
    if (p >= end || *p != '"') return fail_syntax(d, p, end, "expected '\"' (a key)");
    {
      int esc;
      if (!(p = scan_string(d, p + 1, end, &esc))) return -1;
      p++;
    }
    p = skip_ws(p, end);
    if (p >= end || *p != ':') return fail_syntax(d, p, end, "expected ':'");
    p = skip_ws(p + 1, end);
  }
bad:
  return fail_syntax(d, p, end, "invalid value");
}

/* ---- typed decoding ---- */

static void type_text(const sr_field *f, char *out, size_t cap) {
  char inner[96];
  if (f->type == SR_TYPE_ARRAY && f->element) {
    type_text(f->element, inner, sizeof inner);
    snprintf(out, cap, "array<%s>", inner);
  } else if (f->type == SR_TYPE_MAP && map_value(f)) {
    type_text(map_value(f), inner, sizeof inner);
    snprintf(out, cap, "map<string, %s>", inner);
  } else {
    snprintf(out, cap, "%s", sr_type_name(f->type));
  }
}

static void path_text(const jdec *d, char *out, size_t cap) {
  size_t len = 0;
  out[0] = '\0';
  int n = d->npath < MAX_PATH ? d->npath : MAX_PATH;
  for (int i = 0; i < n && len < cap; i++) {
    int w;
    if (d->path[i].name)
      w = snprintf(out + len, cap - len, "%s%.*s", i ? "." : "", (int)d->path[i].len, d->path[i].name);
    else
      w = snprintf(out + len, cap - len, "[%lld]", (long long)d->path[i].index);
    if (w < 0) break;
    len += (size_t)w;
  }
  if (d->npath > MAX_PATH && len < cap) snprintf(out + len, cap - len, "...");
}

static void path_push(jdec *d, const char *name, size_t len, int64_t index) {
  if (d->npath < MAX_PATH) {
    d->path[d->npath].name = name;
    d->path[d->npath].len = len;
    d->path[d->npath].index = index;
  }
  d->npath++;
}

/* "column a.b: expected long, got string \"x\"" (+ detail). p is the value's first byte. */
static int fail_type(jdec *d, const sr_field *f, const char *p, const char *end, const char *detail) {
  const char *q = p;
  if (skip_value(d, &q, end) != 0) return -1;  /* malformed after all: that is the reason */
  const char *kind = *p == '"' ? "string" : *p == '{' ? "object" : *p == '[' ? "array" :
                     *p == 't' || *p == 'f' ? "boolean" : "number";
  char path[256], type[128];
  path_text(d, path, sizeof path);
  type_text(f, type, sizeof type);
  size_t n = (size_t)(q - p);
  set_reason(d, "column %s: expected %s, got %s %.*s%s%s", path, type, kind,
             (int)(n > SNIPPET ? SNIPPET : n), p, n > SNIPPET ? "..." : "", detail ? detail : "");
  return -1;
}

static int decode_typed(jdec *d, const sr_field *f, const jstruct *child, const char **pp,
                        const char *end);

/* 1 if a[0..n) == b[0..n), n >= 4: two overlapping loads of 4 or 8 bytes cover 4..16 bytes. */
static inline int same_bytes(const char *a, const char *b, size_t n) {
  uint64_t x, y, x2, y2;
  if (n > 16) return memcmp(a, b, n) == 0;
  if (n >= 8) {
    memcpy(&x, a, 8); memcpy(&y, b, 8);
    memcpy(&x2, a + n - 8, 8); memcpy(&y2, b + n - 8, 8);
    return ((x ^ y) | (x2 ^ y2)) == 0;
  }
  uint32_t u, v, u2, v2;
  memcpy(&u, a, 4); memcpy(&v, b, 4);
  memcpy(&u2, a + n - 4, 4); memcpy(&v2, b + n - 4, 4);
  return ((u ^ v) | (u2 ^ v2)) == 0;
}

/* 1 if the key at p (just after its opening quote) is the one pr remembers: the same bytes
** and the closing quote (pr->text holds both). pr's text had no backslash, so that quote ends
** this key too. */
static inline int key_is(const char *p, const char *end, const jpred *pr) {
  size_t n = (size_t)pr->len + 1;
  if ((size_t)(end - p) < n) return 0;
  if (n >= 4) return same_bytes(p, pr->text, n);
  return memcmp(p, pr->text, n) == 0;
}

/* Remembers the key k[0..n) at a position of a struct level, unless it had escapes or is long. */
static inline void key_remember(jpred *pr, const char *k, size_t n, int esc, int field) {
  if (esc || n + 1 > KEY_PRED_TEXT) {
    pr->field = -2;
    return;
  }
  memcpy(pr->text, k, n);
  pr->text[n] = '"';
  pr->len = (int)n;
  pr->field = field;
}

/* The common values inline: a long or a double written as a plain integer. Returns the end of
** the value with it pushed, or NULL (nothing pushed) for decode_typed to deal with. */
static inline const char *decode_plain_number(lua_State *L, const sr_field *f, const char *p,
                                              const char *end) {
  int64_t v;
  const char *q;
  if (p >= end || (f->type != SR_TYPE_LONG && f->type != SR_TYPE_DOUBLE) || !(q = fast_int(p, end, &v)))
    return NULL;
  if (f->type == SR_TYPE_LONG && (v < -SR_LUA_EXACT_MAX || v > SR_LUA_EXACT_MAX)) sr_lua_push_int64(L, v);
  else lua_pushnumber(L, (lua_Number)v);  /* for a double: int64 -> double rounds as strtod would */
  return q;
}

/* An object of a struct level. Rows of a stream mostly repeat their keys in the same order, so
** the key at each position of the previous object is remembered (jpred) and checked first with
** one memcmp, instead of scanning the key and looking it up. */
static int decode_object(jdec *d, const jstruct *st, const char **pp, const char *end) {
  lua_State *L = d->L;
  const char *p = skip_ws(*pp + 1, end), *q;
  if (d->depth++ >= MAX_DEPTH) return fail_syntax(d, *pp, end, "nesting too deep (more than 1000 levels)");
  if (d->depth > 1 && !lua_checkstack(L, 8)) luaL_error(L, "stack overflow");
  if (d->depth == 1 && d->into) lua_pushvalue(L, d->into);
  else lua_createtable(L, 0, st->n);
  if (p < end && *p == '}') goto done;
  for (int pos = 0;; pos++) {
    int i, esc;
    if (p >= end || *p != '"') return fail_syntax(d, p, end, "expected '\"' (a key)");
    jpred *pr = pos < KEY_PRED ? &st->pred[pos] : NULL;
    if (pr && pr->field > -2 && key_is(p + 1, end, pr)) {
      i = pr->field;
      p += pr->len + 2;
    } else {
      const char *k;
      size_t kn;
      if (get_string(d, &p, end, &k, &kn, &esc) != 0) return -1;
      i = jstruct_find(st, k, kn);
      if (pr) key_remember(pr, k, kn, esc, i);
    }
    p = skip_ws(p, end);
    if (p >= end || *p != ':') return fail_syntax(d, p, end, "expected ':'");
    p = skip_ws(p + 1, end);
    if (i >= 0) {
      const jfield *jf = &st->fields[i];
      lua_pushvalue(L, jf->key_idx);
      if ((q = decode_plain_number(L, jf->f, p, end))) {
        p = q;
      } else {
        path_push(d, jf->name, jf->len, 0);
        if (decode_typed(d, jf->f, jf->child, &p, end) != 0) return -1;
        d->npath--;
      }
      lua_rawset(L, -3);
    } else if (p < end && *p == '"') {  /* an undeclared string: checked, not built */
      if (!(q = scan_string(d, p + 1, end, &esc))) return -1;
      p = q + 1;
    } else if (skip_value(d, &p, end) != 0) {
      return -1;
    }
    p = skip_ws(p, end);
    if (p < end && *p == ',') { p = skip_ws(p + 1, end); continue; }
    if (p < end && *p == '}') break;
    return fail_syntax(d, p, end, "expected ',' or '}'");
  }
done:
  d->depth--;
  *pp = p + 1;
  return 0;
}

static int decode_array(jdec *d, const sr_field *elem, const jstruct *child, const char **pp,
                        const char *end) {
  lua_State *L = d->L;
  const char *p = skip_ws(*pp + 1, end);
  if (d->depth++ >= MAX_DEPTH) return fail_syntax(d, *pp, end, "nesting too deep (more than 1000 levels)");
  if (!lua_checkstack(L, 8)) luaL_error(L, "stack overflow");
  lua_createtable(L, 4, 0);
  if (p < end && *p == ']') goto done;
  for (int i = 1;; i++) {
    path_push(d, NULL, 0, i);
    if (decode_typed(d, elem, child, &p, end) != 0) return -1;
    d->npath--;
    if (lua_isnil(L, -1)) lua_pop(L, 1);  /* a null element stays a hole */
    else lua_rawseti(L, -2, i);
    p = skip_ws(p, end);
    if (p < end && *p == ',') { p = skip_ws(p + 1, end); continue; }
    if (p < end && *p == ']') break;
    return fail_syntax(d, p, end, "expected ',' or ']'");
  }
done:
  d->depth--;
  *pp = p + 1;
  return 0;
}

/* A map: a JSON object with any keys, its values typed by the map's value field. */
static int decode_map(jdec *d, const sr_field *vf, const jstruct *child, const char **pp,
                      const char *end) {
  lua_State *L = d->L;
  const char *p = skip_ws(*pp + 1, end);
  if (d->depth++ >= MAX_DEPTH) return fail_syntax(d, *pp, end, "nesting too deep (more than 1000 levels)");
  if (!lua_checkstack(L, 8)) luaL_error(L, "stack overflow");
  lua_createtable(L, 0, 4);
  if (p < end && *p == '}') goto done;
  for (;;) {
    const char *k;
    size_t kn;
    int esc;
    if (p >= end || *p != '"') return fail_syntax(d, p, end, "expected '\"' (a key)");
    if (get_string(d, &p, end, &k, &kn, &esc) != 0) return -1;
    push_str(d, k, kn);
    k = lua_tolstring(L, -1, &kn);  /* stable, for the path in reasons */
    p = skip_ws(p, end);
    if (p >= end || *p != ':') return fail_syntax(d, p, end, "expected ':'");
    p = skip_ws(p + 1, end);
    path_push(d, k, kn, 0);
    if (decode_typed(d, vf, child, &p, end) != 0) return -1;
    d->npath--;
    lua_rawset(L, -3);
    p = skip_ws(p, end);
    if (p < end && *p == ',') { p = skip_ws(p + 1, end); continue; }
    if (p < end && *p == '}') break;
    return fail_syntax(d, p, end, "expected ',' or '}'");
  }
done:
  d->depth--;
  *pp = p + 1;
  return 0;
}

/* A timestamp or date value. A top-level column's goes as the engine's fast path (ms, days:
** exec.lua makes it a value only if user code sees it); one deeper in nested data (a struct's
** field, an array's element, a map's value) as a value, since the row's typed columns are made
** values one level deep only (JOB-API.md, Rows and types). */
static void push_timestamp(jdec *d, int64_t us) {
  if (d->depth > 1) sr_lua_push_timestamp(d->L, us);
  else sr_lua_push_timestamp_value(d->L, us);
}

static void push_date(jdec *d, int32_t days) {
  if (d->depth > 1) sr_lua_push_date(d->L, days);
  else lua_pushnumber(d->L, days);
}

/* The steps of decode_typed, one per kind of column: p (= *pp) is the value's first byte, not
** null. Each pushes the value and sets *pp after it, or fails as decode_typed does. */

static int decode_integer(jdec *d, const sr_field *f, const char **pp, const char *end) {
  const char *p = *pp, *q;
  sr__jnum num;
  int64_t v;
  if (*p != '-' && !is_digit(*p)) return fail_type(d, f, p, end, NULL);
  if (!(q = fast_int(p, end, &v))) {
    if (!(q = sr__json_scan_number(p, end, &num))) return fail_syntax(d, p, end, "invalid number");
    if (!num.is_int) return fail_type(d, f, p, end, NULL);
    if (sr__jnum_int64(&num, &v) != 0) return fail_type(d, f, p, end, " (out of range)");
  }
  if ((f->type == SR_TYPE_INT && (v < INT32_MIN || v > INT32_MAX)) ||
      (f->type == SR_TYPE_SHORT && (v < INT16_MIN || v > INT16_MAX)) ||
      (f->type == SR_TYPE_BYTE && (v < INT8_MIN || v > INT8_MAX)))
    return fail_type(d, f, p, end, " (out of range)");
  if (f->type == SR_TYPE_LONG) sr_lua_push_int64(d->L, v);
  else lua_pushnumber(d->L, (lua_Number)v);
  *pp = q;
  return 0;
}

/* double, float, decimal: any number, or the strings "NaN", "Infinity", "-Infinity". */
static int decode_fractional(jdec *d, const sr_field *f, const char **pp, const char *end) {
  lua_State *L = d->L;
  const char *p = *pp, *q, *s;
  size_t n;
  int esc;
  sr__jnum num;
  int64_t v;
  if (*p == '-' || is_digit(*p)) {
    if ((q = fast_int(p, end, &v))) {
      lua_pushnumber(L, (lua_Number)v);  /* int64 -> double rounds as strtod would */
    } else {
      if (!(q = sr__json_scan_number(p, end, &num))) return fail_syntax(d, p, end, "invalid number");
      lua_pushnumber(L, sr__jnum_double(&num, p, q));
    }
    *pp = q;
    return 0;
  }
  if (*p != '"') return fail_type(d, f, p, end, NULL);
  q = p;
  if (get_string(d, &q, end, &s, &n, &esc) != 0) return -1;
  if (n == 3 && memcmp(s, "NaN", 3) == 0) lua_pushnumber(L, NAN);
  else if (n == 8 && memcmp(s, "Infinity", 8) == 0) lua_pushnumber(L, INFINITY);
  else if (n == 9 && memcmp(s, "-Infinity", 9) == 0) lua_pushnumber(L, -INFINITY);
  else return fail_type(d, f, p, end, NULL);
  *pp = q;
  return 0;
}

static int decode_boolean(jdec *d, const sr_field *f, const char **pp, const char *end) {
  const char *p = *pp;
  if (is_lit(p, end, "true", 4)) { lua_pushboolean(d->L, 1); *pp = p + 4; return 0; }
  if (is_lit(p, end, "false", 5)) { lua_pushboolean(d->L, 0); *pp = p + 5; return 0; }
  return fail_type(d, f, p, end, NULL);
}

static int decode_string(jdec *d, const char **pp, const char *end) {
  const char *p = *pp, *q, *s;
  size_t n;
  int esc;
  if (*p == '"') {
    if (get_string(d, pp, end, &s, &n, &esc) != 0) return -1;
    push_str(d, s, n);
    return 0;
  }
  q = p;  /* Spark keeps any other value as its JSON text */
  if (skip_value(d, &q, end) != 0) return -1;
  push_str(d, p, (size_t)(q - p));
  *pp = q;
  return 0;
}

static int decode_timestamp(jdec *d, const sr_field *f, const char **pp, const char *end) {
  const char *p = *pp, *q, *s;
  size_t n;
  int esc;
  sr__jnum num;
  int64_t v;
  if (*p == '"') {
    q = p;
    if (get_string(d, &q, end, &s, &n, &esc) != 0) return -1;
    if (sr_time_parse_us(s, n, &v) != 0) return fail_type(d, f, p, end, NULL);
    push_timestamp(d, v);  /* text keeps its microseconds */
    *pp = q;
    return 0;
  } else if (*p == '-' || is_digit(*p)) {
    if (!(q = sr__json_scan_number(p, end, &num))) return fail_syntax(d, p, end, "invalid number");
    if (sr__jnum_seconds_ms(&num, p, q, &v) != 0 || v > INT64_MAX / 1000 || v < INT64_MIN / 1000)
      return fail_type(d, f, p, end, " (out of range)");
  } else {
    return fail_type(d, f, p, end, NULL);
  }
  push_timestamp(d, v * 1000);
  *pp = q;
  return 0;
}

static int decode_date(jdec *d, const sr_field *f, const char **pp, const char *end) {
  const char *p = *pp, *q, *s;
  size_t n;
  int esc;
  sr__jnum num;
  int64_t v;
  if (*p == '"') {
    int32_t days;
    q = p;
    if (get_string(d, &q, end, &s, &n, &esc) != 0) return -1;
    if (sr_date_parse(s, n, &days) != 0) return fail_type(d, f, p, end, NULL);
    push_date(d, days);
  } else if (*p == '-' || is_digit(*p)) {
    if (!(q = sr__json_scan_number(p, end, &num))) return fail_syntax(d, p, end, "invalid number");
    if (!num.is_int) return fail_type(d, f, p, end, NULL);
    if (sr__jnum_int64(&num, &v) != 0 || v < INT32_MIN || v > INT32_MAX)
      return fail_type(d, f, p, end, " (out of range)");
    push_date(d, (int32_t)v);
  } else {
    return fail_type(d, f, p, end, NULL);
  }
  *pp = q;
  return 0;
}

static int decode_binary(jdec *d, const sr_field *f, const char **pp, const char *end) {
  const char *p = *pp, *q, *s;
  size_t n;
  int esc;
  if (*p != '"') return fail_type(d, f, p, end, NULL);
  q = p;
  if (get_string(d, &q, end, &s, &n, &esc) != 0) return -1;
  if (sr__base64_decode(&d->mem->aux, s, n) != 0) return fail_type(d, f, p, end, " (not base64)");
  lua_pushlstring(d->L, d->mem->aux.data, d->mem->aux.len);
  *pp = q;
  return 0;
}

static int decode_typed(jdec *d, const sr_field *f, const jstruct *child, const char **pp,
                        const char *end) {
  const char *p = *pp;
  if (p >= end) return fail_syntax(d, p, end, "expected a value");
  char c = *p;
  if (c == 'n') {
    if (!is_lit(p, end, "null", 4)) return fail_syntax(d, p, end, "invalid value");
    lua_pushnil(d->L);
    *pp = p + 4;
    return 0;
  }
  switch (f->type) {
    case SR_TYPE_LONG: case SR_TYPE_INT: case SR_TYPE_SHORT: case SR_TYPE_BYTE:
      return decode_integer(d, f, pp, end);
    case SR_TYPE_DOUBLE: case SR_TYPE_FLOAT: case SR_TYPE_DECIMAL:
      return decode_fractional(d, f, pp, end);
    case SR_TYPE_BOOLEAN: return decode_boolean(d, f, pp, end);
    case SR_TYPE_STRING: return decode_string(d, pp, end);
    case SR_TYPE_TIMESTAMP: return decode_timestamp(d, f, pp, end);
    case SR_TYPE_DATE: return decode_date(d, f, pp, end);
    case SR_TYPE_BINARY: return decode_binary(d, f, pp, end);
    case SR_TYPE_STRUCT:
      if (c != '{' || !child) return fail_type(d, f, p, end, NULL);
      return decode_object(d, child, pp, end);
    case SR_TYPE_ARRAY:
      if (c != '[' || !f->element) return fail_type(d, f, p, end, NULL);
      return decode_array(d, f->element, child, pp, end);
    case SR_TYPE_MAP:
      if (c != '{' || !map_value(f)) return fail_type(d, f, p, end, NULL);
      return decode_map(d, map_value(f), child, pp, end);
  }
  return fail_type(d, f, p, end, NULL);
}

/* ---- inferred decoding ---- */

static void push_key_cached(jdec *d, int pos, const char *k, size_t kn) {
  lua_State *L = d->L;
  if (pos < KEY_CACHE && d->kc_base) {
    if (d->kc_len[pos] == kn && d->kc_ptr[pos] && memcmp(d->kc_ptr[pos], k, kn) == 0) {
      lua_pushvalue(L, d->kc_base + pos);
      return;
    }
    lua_pushlstring(L, k, kn);
    lua_pushvalue(L, -1);
    lua_replace(L, d->kc_base + pos);
    d->kc_ptr[pos] = lua_tolstring(L, d->kc_base + pos, &d->kc_len[pos]);
    return;
  }
  lua_pushlstring(L, k, kn);
}

static int decode_any(jdec *d, const char **pp, const char *end, int top);

/* The steps of decode_any: p (= *pp) at '{' or '['. top: the record's own object, whose keys go
** through the key cache and which may be decoded into d->into. */
static int decode_any_object(jdec *d, const char **pp, const char *end, int top) {
  lua_State *L = d->L;
  const char *p = *pp, *s;
  size_t n;
  int esc;
  if (d->depth++ >= MAX_DEPTH) return fail_syntax(d, p, end, "nesting too deep (more than 1000 levels)");
  if (!lua_checkstack(L, 8)) luaL_error(L, "stack overflow");
  if (top && d->into) lua_pushvalue(L, d->into);
  else lua_createtable(L, 0, top ? d->nkeys_hint : 4);
  p = skip_ws(p + 1, end);
  int nkeys = 0;
  if (p < end && *p == '}') goto object_done;
  for (;; nkeys++) {
    if (p >= end || *p != '"') return fail_syntax(d, p, end, "expected '\"' (a key)");
    if (get_string(d, &p, end, &s, &n, &esc) != 0) return -1;
    if (top && !esc && (!d->repair_utf8 || sr_utf8_valid_len(s, n) == n)) push_key_cached(d, nkeys, s, n);
    else push_str(d, s, n);
    p = skip_ws(p, end);
    if (p >= end || *p != ':') return fail_syntax(d, p, end, "expected ':'");
    p = skip_ws(p + 1, end);
    if (decode_any(d, &p, end, 0) != 0) return -1;
    if (lua_isnil(L, -1)) lua_pop(L, 2);
    else lua_rawset(L, -3);
    p = skip_ws(p, end);
    if (p < end && *p == ',') { p = skip_ws(p + 1, end); continue; }
    if (p < end && *p == '}') { nkeys++; break; }
    return fail_syntax(d, p, end, "expected ',' or '}'");
  }
object_done:
  if (top) d->nkeys_hint = nkeys;
  d->depth--;
  *pp = p + 1;
  return 0;
}

static int decode_any_array(jdec *d, const char **pp, const char *end) {
  lua_State *L = d->L;
  const char *p = *pp;
  if (d->depth++ >= MAX_DEPTH) return fail_syntax(d, p, end, "nesting too deep (more than 1000 levels)");
  if (!lua_checkstack(L, 8)) luaL_error(L, "stack overflow");
  lua_createtable(L, 4, 0);
  p = skip_ws(p + 1, end);
  if (p < end && *p == ']') goto array_done;
  for (int i = 1;; i++) {
    if (decode_any(d, &p, end, 0) != 0) return -1;
    if (lua_isnil(L, -1)) lua_pop(L, 1);
    else lua_rawseti(L, -2, i);
    p = skip_ws(p, end);
    if (p < end && *p == ',') { p = skip_ws(p + 1, end); continue; }
    if (p < end && *p == ']') break;
    return fail_syntax(d, p, end, "expected ',' or ']'");
  }
array_done:
  d->depth--;
  *pp = p + 1;
  return 0;
}

static int decode_any(jdec *d, const char **pp, const char *end, int top) {
  lua_State *L = d->L;
  const char *p = *pp, *s;
  size_t n;
  int esc;
  if (p >= end) return fail_syntax(d, p, end, "expected a value");
  switch (*p) {
    case '{': return decode_any_object(d, pp, end, top);
    case '[': return decode_any_array(d, pp, end);
    case '"':
      if (get_string(d, pp, end, &s, &n, &esc) != 0) return -1;
      push_str(d, s, n);
      return 0;
    case 't':
      if (!is_lit(p, end, "true", 4)) break;
      lua_pushboolean(L, 1);
      *pp = p + 4;
      return 0;
    case 'f':
      if (!is_lit(p, end, "false", 5)) break;
      lua_pushboolean(L, 0);
      *pp = p + 5;
      return 0;
    case 'n':
      if (!is_lit(p, end, "null", 4)) break;
      lua_pushnil(L);
      *pp = p + 4;
      return 0;
    default: {
      sr__jnum num;
      int64_t v;
      const char *q = fast_int(p, end, &v);
      if (q) {
        sr_lua_push_int64(L, v);
        *pp = q;
        return 0;
      }
      if (!(q = sr__json_scan_number(p, end, &num))) break;
      if (num.is_int && sr__jnum_int64(&num, &v) == 0) sr_lua_push_int64(L, v);
      else lua_pushnumber(L, sr__jnum_double(&num, p, q));
      *pp = q;
      return 0;
    }
  }
  return fail_syntax(d, p, end, "invalid value");
}

/* ---- records ---- */

/* Decodes the record [p, end) and pushes its table. 0, or -1 with the reason set (the caller
** restores the stack). plan NULL: inferred types. */
static int decode_record(jdec *d, const jstruct *plan, const char *p, const char *end) {
  d->rec = p;
  d->reason[0] = '\0';
  d->depth = 0;
  d->npath = 0;
  p = skip_ws(p, end);
  if (p >= end || *p != '{') {
    const char *what = p >= end ? NULL : *p == '[' ? "an array" : *p == '"' ? "a string" :
                       *p == '-' || is_digit(*p) ? "a number" :
                       is_lit(p, end, "true", 4) || is_lit(p, end, "false", 5) ? "a boolean" :
                       is_lit(p, end, "null", 4) ? "null" : NULL;
    if (what) set_reason(d, "not a JSON object: the record is %s", what);
    else fail_syntax(d, p, end, "expected '{'");
    return -1;
  }
  if ((plan ? decode_object(d, plan, &p, end) : decode_any(d, &p, end, 1)) != 0) return -1;
  p = skip_ws(p, end);
  if (p < end) return fail_syntax(d, p, end, "unexpected text after the object");
  return 0;
}

/* decode_record, and for a record it refuses that holds a single quote, decode_record again on
** its standard-JSON rewrite (Spark's allowSingleQuotes: json_quotes.h); the reason is the
** rewrite's. top: the stack to restore before the second try. */
static int decode_quoted(jdec *d, const jstruct *plan, const char *p, const char *end, int top) {
  if (decode_record(d, plan, p, end) == 0) return 0;
  sr_buf *q = &d->mem->quoted;
  int rc = sr_json_requote(p, (size_t)(end - p), q);
  if (rc < 0) luaL_error(d->L, "out of memory");
  if (rc == 0) return -1;
  lua_settop(d->L, top);
  return decode_record(d, plan, q->data, q->data + q->len);
}

static int is_blank_line(const char *p, const char *end) {
  return skip_ws(p, end) == end;
}

/* [-0, +(2 + names | 2 + KEY_CACHE), e] Pushes the call's memory and the plan (or the inferred
** key cache) and sets up d. Returns the plan (NULL without a schema). */
static const jstruct *dec_setup(lua_State *L, jdec *d, const sr_schema *schema, char *reason,
                                size_t reason_len) {
  memset(d, 0, sizeof *d);
  d->L = L;
  d->reason = reason;
  d->reason_len = reason_len;
  d->repair_utf8 = 1;
  reason[0] = '\0';
  if (!lua_checkstack(L, KEY_CACHE + 16)) luaL_error(L, "stack overflow");
  d->mem = sr__codec_mem_push(L);
  if (schema) return sr__json_plan_push(L, schema);
  d->nkeys_hint = 8;
  d->kc_base = lua_gettop(L) + 1;
  for (int i = 0; i < KEY_CACHE; i++) lua_pushnil(L);
  return NULL;
}

int sr_json_decode_piece(lua_State *L, int rows_idx, int *nrows, const char *buf, size_t len,
                         const sr_schema *schema, const char *origin, int64_t first_line,
                         sr_bad_fn bad, void *bad_ud, int64_t *nlines) {
  return sr_json_decode_piece_sep(L, rows_idx, nrows, buf, len, schema, NULL, 1, origin,
                                  first_line, bad, bad_ud, nlines);
}

int sr_json_decode_piece_sep(lua_State *L, int rows_idx, int *nrows, const char *buf, size_t len,
                             const sr_schema *schema, const sr_linesep *ls, int single_quotes,
                             const char *origin, int64_t first_line, sr_bad_fn bad, void *bad_ud,
                             int64_t *nlines) {
  rows_idx = sr_lua_absindex(L, rows_idx);
  int base = lua_gettop(L), nbad = 0, n = *nrows;
  char reason[512];
  jdec d;
  const jstruct *plan = dec_setup(L, &d, schema, reason, sizeof reason);
  d.repair_utf8 = 0;  /* each line is checked whole first */
  int work = lua_gettop(L);
  const char *p = buf, *end = buf + len;
  int64_t line = first_line;
  if (first_line <= 1 && len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
  for (; p < end; line++) {
    const char *next, *stop = sr_line_end(p, end, ls, &next);
    if (!is_blank_line(p, stop)) {
      /* Spark hands a file's line bytes to Jackson's UTF-8 parser, which refuses invalid UTF-8
      ** ("Invalid UTF-8 start byte"): the record is corrupt, not repaired */
      size_t valid = sr_utf8_valid_len(p, (size_t)(stop - p));
      int rc;
      if (valid < (size_t)(stop - p)) {
        snprintf(reason, sizeof reason, "not JSON: invalid UTF-8 at byte %zu", valid + 1);
        rc = -1;
      } else {
        rc = single_quotes ? decode_quoted(&d, plan, p, stop, work) : decode_record(&d, plan, p, stop);
      }
      if (rc == 0) {
        lua_rawseti(L, rows_idx, ++n);
      } else {
        lua_settop(L, work);
        nbad++;
        if (bad) bad(bad_ud, origin, line, p, (size_t)(stop - p), reason);
      }
    }
    p = next;
  }
  *nrows = n;
  *nlines = line - first_line;
  sr__codec_mem_release(d.mem);
  lua_settop(L, base);
  return nbad;
}

int sr_json_decode_lines(lua_State *L, int rows_idx, int *nrows, const char *buf, size_t len,
                         const sr_schema *schema, const char *origin, int64_t first_line,
                         sr_bad_fn bad, void *bad_ud) {
  int64_t nlines;
  return sr_json_decode_piece(L, rows_idx, nrows, buf, len, schema, origin, first_line, bad,
                              bad_ud, &nlines);
}

int sr_json_decode_column(lua_State *L, int rows_idx, int *nrows, const char *column,
                          const sr_schema *schema, const char *origin, sr_bad_fn bad, void *bad_ud) {
  rows_idx = sr_lua_absindex(L, rows_idx);
  int base = lua_gettop(L), nbad = 0, kept = 0, n = *nrows;
  char reason[512];
  jdec d;
  const jstruct *plan = dec_setup(L, &d, schema, reason, sizeof reason);
  lua_pushstring(L, column);
  int key = lua_gettop(L), row = key + 1;
  for (int i = 1; i <= n; i++) {
    size_t len = 0;
    const char *text = NULL;
    lua_rawgeti(L, rows_idx, i);
    if (!lua_istable(L, row)) {
      snprintf(reason, sizeof reason, "the row is not a table but a %s", luaL_typename(L, row));
    } else {
      lua_pushvalue(L, key);
      lua_rawget(L, row);  /* the text stays on the stack while the row changes */
      if (lua_type(L, -1) == LUA_TSTRING) text = lua_tolstring(L, -1, &len);
      else snprintf(reason, sizeof reason, "column %s: expected JSON text, got %s", column, luaL_typename(L, -1));
    }
    int ok = 0;
    if (text) {
      lua_pushvalue(L, key);
      lua_pushnil(L);
      lua_rawset(L, row);
      d.into = row;
      ok = decode_quoted(&d, plan, text, text + len, lua_gettop(L)) == 0;
      d.into = 0;
    }
    if (ok) {
      lua_pushvalue(L, row);
      lua_rawseti(L, rows_idx, ++kept);  /* kept <= i: compacts in place */
    } else {
      nbad++;
      if (bad) bad(bad_ud, origin, i, text, len, reason);
    }
    lua_settop(L, key);
  }
  for (int i = kept + 1; i <= n; i++) {
    lua_pushnil(L);
    lua_rawseti(L, rows_idx, i);
  }
  *nrows = kept;
  sr__codec_mem_release(d.mem);
  lua_settop(L, base);
  return nbad;
}

static void copy_reason(char *err, size_t errlen, const char *reason) {
  if (errlen) snprintf(err, errlen, "%s", reason);
}

int sr_json_decode_record(lua_State *L, const char *text, size_t len, const sr_schema *schema,
                          char *err, size_t errlen) {
  int base = lua_gettop(L);
  char reason[512];
  jdec d;
  const jstruct *plan = dec_setup(L, &d, schema, reason, sizeof reason);
  int rc = decode_quoted(&d, plan, text, text + len, lua_gettop(L));
  sr__codec_mem_release(d.mem);
  if (rc != 0) {
    copy_reason(err, errlen, reason);
    lua_settop(L, base);
    return -1;
  }
  lua_replace(L, base + 1);
  lua_settop(L, base + 1);
  return 0;
}

/* One JSON value of any kind filling [p, end) (blanks around it aside), pushed. 0, or -1 with
** the reason set. */
static int decode_whole_value(jdec *d, const char *p, const char *end) {
  d->rec = p;
  d->reason[0] = '\0';
  p = skip_ws(p, end);
  if (decode_any(d, &p, end, 0) != 0) return -1;
  if ((p = skip_ws(p, end)) < end) return fail_syntax(d, p, end, "unexpected text after the value");
  return 0;
}

int sr_json_decode_value(lua_State *L, const char *text, size_t len, char *err, size_t errlen) {
  int base = lua_gettop(L);
  char reason[512];
  jdec d;
  dec_setup(L, &d, NULL, reason, sizeof reason);
  int top = lua_gettop(L);
  int rc = decode_whole_value(&d, text, text + len);
  sr_buf *q = &d.mem->quoted;
  int quoted = rc != 0 ? sr_json_requote(text, len, q) : 0;  /* allowSingleQuotes, as decode_quoted */
  if (quoted < 0) luaL_error(L, "out of memory");
  if (quoted > 0) {
    lua_settop(L, top);
    rc = decode_whole_value(&d, q->data, q->data + q->len);
  }
  sr__codec_mem_release(d.mem);
  if (rc != 0) {
    copy_reason(err, errlen, reason);
    lua_settop(L, base);
    return -1;
  }
  lua_replace(L, base + 1);
  lua_settop(L, base + 1);
  return 0;
}

int sr__json_decode_typed(lua_State *L, sr__codec_mem *mem, const sr__jplan *plan, int i,
                          const char *text, size_t len, char *reason, size_t reason_len) {
  const jfield *jf = &((const jstruct *)plan)->fields[i];
  int base = lua_gettop(L);
  jdec d;
  memset(&d, 0, sizeof d);
  d.L = L;
  d.mem = mem;
  d.reason = reason;
  d.reason_len = reason_len;
  d.rec = text;
  d.depth = 1;        /* a CSV cell is a column of its record: what it nests is deeper */
  d.repair_utf8 = 1;  /* a CSV cell: Spark has decoded the line into a String */
  reason[0] = '\0';
  if (!lua_checkstack(L, 8)) luaL_error(L, "stack overflow");
  const char *p = skip_ws(text, text + len), *end = text + len;
  path_push(&d, jf->name, jf->len, 0);
  int rc = decode_typed(&d, jf->f, jf->child, &p, end);
  if (rc == 0 && (p = skip_ws(p, end)) < end)
    rc = fail_syntax(&d, p, end, "unexpected text after the value");
  if (rc != 0) lua_settop(L, base);
  return rc;
}

