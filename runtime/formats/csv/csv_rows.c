/*
** CSV <-> Lua rows: see csv_rows.h.
**
** A record is split into fields first (pointers into the input; a field's quotes are only
** undone when its value is built), then each field is converted by its column's type and set
** with a pre-pushed key. Keys: the schema plan's names (json_rows.h), or the header's names,
** or _cN names pushed once per call. Stack layout during decoding:
**   base+1 field list memory, base+2 value memory, base+3 cell memory, [plan and names],
**   [header/_cN keys], work...
** where the key region only grows between records, never while a row is being built.
*/
#include "csv_rows.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "lua_aux.h"
#include "lua_int64.h"
#include "lua_types.h"
#include "timeutil.h"
#include "utf8.h"

enum { SNIPPET = 40 };

typedef struct cfield {
  const char *s;
  size_t len;
  int quoted;   /* was quoted: empty means "" rather than null */
  int doubled;  /* holds "" pairs to undo */
} cfield;

typedef struct cdec {
  lua_State *L;
  sr__codec_mem *lists; /* text: the record's cfield array; aux: column -> key/field map */
  sr__codec_mem *mem;   /* for values: base64, and the JSON decoder's unescaped strings */
  sr__codec_mem *cell;  /* text: a field's text with "" pairs undone, which a JSON cell's
                           decoding reads while it writes into mem: never the same buffer */
  const sr_schema *schema;
  const sr__jplan *plan;
  char sep;
  int multiline;        /* quoted fields may hold line ends */
  sr_linesep ls;        /* the line ends */
  int nfields;          /* fields of the current record */
  int ncols;            /* columns mapped in lists->aux */
  char *reason;
  size_t reason_len;
} cdec;

static cfield *fields_of(cdec *c) { return (cfield *)c->lists->text.data; }
static int *colmap_of(cdec *c) { return (int *)c->lists->aux.data; }

static void set_reason(cdec *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(cdec *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->reason, c->reason_len, fmt, ap);
  va_end(ap);
}

static void add_field(cdec *c, const char *s, size_t len, int quoted, int doubled) {
  sr_buf *b = &c->lists->text;
  if (sr_buf_reserve(b, sizeof(cfield)) != 0) luaL_error(c->L, "out of memory");
  cfield *f = (cfield *)(b->data + b->len);
  f->s = s;
  f->len = len;
  f->quoted = quoted;
  f->doubled = doubled;
  b->len += sizeof(cfield);
  c->nfields++;
}

/* Whether a line terminator starts at q (q < lim). */
static inline int term_at(const cdec *c, const char *q, const char *lim) {
  if (!c->ls.len) return *q == '\n' || *q == '\r';
  return *q == c->ls.bytes[0] && sr_line_term_at(q, lim, &c->ls) != 0;
}

/* Splits the record at *pp into fields. Without multiLine a record is one line (as Spark reads
** it: lines first, then each line parsed), so a quote must close on its line; with multiLine a
** quoted field may hold line ends. On return *pp is past the record's terminator, *stop is the
** record's end (before it) and *lines counts the terminators consumed. Returns 0, or -1 with
** the reason set: the bad record then ends at its line end (an unterminated quote with
** multiLine: at the end of the text, which it swallowed). */
static int split_record(cdec *c, const char **pp, const char *end, const char **stop, int64_t *lines) {
  const char *p = *pp, *rec = p, *next = end;
  const char *lim = c->multiline ? end : sr_line_end(p, end, &c->ls, &next);
  char sep = c->sep;
  c->lists->text.len = 0;
  c->nfields = 0;
  *lines = 0;
  for (;;) {
    if (p < lim && *p == '"') {
      const char *q = p + 1, *close;
      int doubled = 0;
      for (;;) {
        close = memchr(q, '"', (size_t)(lim - q));
        if (!close) {
          if (c->multiline) {
            set_reason(c, "not CSV: unterminated quoted field starting at byte %zu (it runs to the end of the file)",
                       (size_t)(p - rec) + 1);
            *lines += (int64_t)sr_line_count(p, end, &c->ls);
            *stop = *pp = end;
          } else {
            set_reason(c, "not CSV: unterminated quoted field starting at byte %zu (without multiLine a "
                       "record ends at its line end)", (size_t)(p - rec) + 1);
            *stop = lim;
            *pp = next;
            *lines += next > lim;
          }
          return -1;
        }
        if (close + 1 < lim && close[1] == '"') { doubled = 1; q = close + 2; continue; }
        break;
      }
      if (c->multiline) *lines += (int64_t)sr_line_count(p, close, &c->ls);
      add_field(c, p + 1, (size_t)(close - p - 1), 1, doubled);
      p = close + 1;
      if (p < lim && *p != sep && !term_at(c, p, lim)) {
        set_reason(c, "not CSV: unexpected text after a closing quote at byte %zu", (size_t)(p - rec) + 1);
        if (c->multiline) lim = sr_line_end(p, end, &c->ls, &next);
        *stop = lim;
        *pp = next;
        *lines += next > lim;
        return -1;
      }
    } else {
      const char *q = p;
      while (q < lim && *q != sep && !term_at(c, q, lim)) q++;
      add_field(c, p, (size_t)(q - p), 0, 0);
      p = q;
    }
    if (p < lim && *p == sep) { p++; continue; }
    /* end of record: at a line end or at the end of the text */
    *stop = p;
    if (c->multiline) next = p + sr_line_term_at(p, end, &c->ls);
    *lines += next > p;
    *pp = next;
    return 0;
  }
}

/* The field's text with "" pairs undone (into cell->text when needed). */
static void field_text(cdec *c, const cfield *f, const char **s, size_t *n) {
  if (!f->doubled) { *s = f->s; *n = f->len; return; }
  sr_buf *b = &c->cell->text;
  b->len = 0;
  if (sr_buf_reserve(b, f->len) != 0) luaL_error(c->L, "out of memory");
  char *o = b->data;
  for (size_t i = 0; i < f->len; i++) {
    o[0] = f->s[i];
    o++;
    if (f->s[i] == '"' && i + 1 < f->len && f->s[i + 1] == '"') i++;
  }
  *s = b->data;
  *n = (size_t)(o - b->data);
}

static int fail_cell(cdec *c, const sr_field *f, const char *s, size_t n, const char *detail) {
  set_reason(c, "column %s: expected %s, got \"%.*s%s\"%s", f->name, sr_type_name(f->type),
             (int)(n > SNIPPET ? SNIPPET : n), s, n > SNIPPET ? "..." : "", detail ? detail : "");
  return -1;
}

/* [+-]digits into an int64. 0, -1 (not an integer) or -2 (out of range). */
static int parse_int64(const char *s, size_t n, int64_t *v) {
  const char *p = s, *end = s + n;
  int neg = 0;
  if (p < end && (*p == '+' || *p == '-')) neg = *p++ == '-';
  if (p == end) return -1;
  uint64_t m = 0;
  int big = 0;
  for (; p < end; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (d > 9) return -1;
    if (m > (UINT64_MAX - d) / 10) big = 1;
    else m = m * 10 + d;
  }
  if (big || m > (uint64_t)INT64_MAX + neg) return -2;
  *v = neg ? (int64_t)(0 - m) : (int64_t)m;
  return 0;
}

/* Decimal text into a double: JSON's grammar plus a leading '+', ".5", "5." and exponents;
** NaN/Infinity/Inf words. No hex or other strtod extensions. */
static int parse_double(const char *s, size_t n, double *d) {
  const char *p = s, *end = s + n;
  static const struct { const char *w; double v; } words[] = {
    {"NaN", NAN}, {"Infinity", INFINITY}, {"+Infinity", INFINITY}, {"-Infinity", -INFINITY},
    {"Inf", INFINITY}, {"+Inf", INFINITY}, {"-Inf", -INFINITY},
  };
  for (size_t i = 0; i < sizeof words / sizeof *words; i++)
    if (strlen(words[i].w) == n && strncasecmp(words[i].w, s, n) == 0) { *d = words[i].v; return 0; }
  if (p < end && *p == '+') p++;
  sr__jnum num;
  const char *q = sr__json_scan_number(p, end, &num);
  if (q == end) { *d = sr__jnum_double(&num, p, q); return 0; }
  char buf[128];
  if (n == 0 || n >= sizeof buf) return -1;
  for (size_t i = 0; i < n; i++)
    if (!strchr("0123456789.eE+-", s[i])) return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  char *stop;
  *d = strtod(buf, &stop);
  return *stop == '\0' ? 0 : -1;
}

/* Pushes the value of one cell of schema field i. 0, or -1 with the reason set. */
static int push_cell(cdec *c, int i, const cfield *cf) {
  lua_State *L = c->L;
  const sr_field *f = &c->schema->fields[i];
  const char *s;
  size_t n;
  int64_t v;
  double d;
  int32_t days;
  field_text(c, cf, &s, &n);
  switch (f->type) {
    case SR_TYPE_STRING: sr__push_utf8(L, s, n); return 0;
    case SR_TYPE_LONG: case SR_TYPE_INT: case SR_TYPE_SHORT: case SR_TYPE_BYTE: {
      int rc = parse_int64(s, n, &v);
      if (rc == 0 && ((f->type == SR_TYPE_INT && (v < INT32_MIN || v > INT32_MAX)) ||
                      (f->type == SR_TYPE_SHORT && (v < INT16_MIN || v > INT16_MAX)) ||
                      (f->type == SR_TYPE_BYTE && (v < INT8_MIN || v > INT8_MAX))))
        rc = -2;
      if (rc != 0) return fail_cell(c, f, s, n, rc == -2 ? " (out of range)" : NULL);
      if (f->type == SR_TYPE_LONG) sr_lua_push_int64(L, v);
      else lua_pushnumber(L, (lua_Number)v);
      return 0;
    }
    case SR_TYPE_DOUBLE: case SR_TYPE_FLOAT: case SR_TYPE_DECIMAL:
      if (parse_double(s, n, &d) != 0) return fail_cell(c, f, s, n, NULL);
      lua_pushnumber(L, d);
      return 0;
    case SR_TYPE_BOOLEAN:
      if (n == 4 && strncasecmp(s, "true", 4) == 0) lua_pushboolean(L, 1);
      else if (n == 5 && strncasecmp(s, "false", 5) == 0) lua_pushboolean(L, 0);
      else return fail_cell(c, f, s, n, NULL);
      return 0;
    case SR_TYPE_TIMESTAMP:
      if (sr_time_parse_us(s, n, &v) == 0) {  /* text keeps its microseconds */
        sr_lua_push_timestamp_value(L, v);
        return 0;
      } else {
        sr__jnum num;
        const char *p = n && *s == '+' ? s + 1 : s;
        if (sr__json_scan_number(p, s + n, &num) != s + n || sr__jnum_seconds_ms(&num, p, s + n, &v) != 0)
          return fail_cell(c, f, s, n, NULL);
      }
      sr_lua_push_int64(L, v);
      return 0;
    case SR_TYPE_DATE:
      if (sr_date_parse(s, n, &days) == 0) { lua_pushnumber(L, days); return 0; }
      if (parse_int64(s, n, &v) == 0 && v >= INT32_MIN && v <= INT32_MAX) { lua_pushnumber(L, (lua_Number)v); return 0; }
      return fail_cell(c, f, s, n, NULL);
    case SR_TYPE_BINARY:
      if (sr__base64_decode(&c->mem->aux, s, n) != 0) return fail_cell(c, f, s, n, " (not base64)");
      lua_pushlstring(L, c->mem->aux.data, c->mem->aux.len);
      return 0;
    default:  /* struct, array, map: the cell holds JSON */
      return sr__json_decode_typed(L, c->mem, c->plan, i, s, n, c->reason, c->reason_len);
  }
}

static void push_lower(lua_State *L, const char *s, size_t n) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t i = 0; i < n; i++) luaL_addchar(&b, (char)tolower((unsigned char)s[i]));
  luaL_pushresult(&b);
}

/* Pushes the header's n names made safe as Spark's CSVUtils.makeSafeHeader makes them (its
** default, case-insensitive): an empty name is _c<j>; a name that occurs more than once, in any
** case, is the name followed by its index j. */
static void push_safe_header(cdec *c, int n) {
  lua_State *L = c->L;
  const cfield *hdr = fields_of(c);
  int names = lua_gettop(L) + 1;
  for (int j = 0; j < n; j++) {
    const char *s;
    size_t len;
    field_text(c, &hdr[j], &s, &len);
    sr__push_utf8(L, s, len);
  }
  lua_createtable(L, 0, n);  /* lower-case name -> how many times */
  int counts = lua_gettop(L);
  for (int pass = 0; pass < 2; pass++) {
    for (int j = 0; j < n; j++) {
      size_t len;
      const char *s = lua_tolstring(L, names + j, &len);
      if (len == 0) {
        if (pass) {
          lua_pushfstring(L, "_c%d", j);
          lua_replace(L, names + j);
        }
        continue;
      }
      push_lower(L, s, len);
      if (pass == 0) {
        lua_pushvalue(L, -1);
        lua_rawget(L, counts);
        lua_pushnumber(L, lua_tonumber(L, -1) + 1);
        lua_replace(L, -2);
        lua_rawset(L, counts);
      } else {
        lua_rawget(L, counts);
        int dup = lua_tonumber(L, -1) > 1;
        lua_pop(L, 1);
        if (dup) {
          luaL_Buffer b;
          luaL_buffinit(L, &b);
          luaL_addlstring(&b, s, len);
          lua_pushfstring(L, "%d", j);
          luaL_addvalue(&b);
          luaL_pushresult(&b);
          lua_replace(L, names + j);
        }
      }
    }
  }
  lua_settop(L, counts - 1);
}

/* Maps header names to schema fields, or pushes them as keys (no schema). */
static void map_header(cdec *c) {
  lua_State *L = c->L;
  sr_buf *m = &c->lists->aux;
  int n = c->nfields;
  m->len = 0;
  if (sr_buf_reserve(m, (size_t)n * sizeof(int)) != 0) luaL_error(L, "out of memory");
  if (!lua_checkstack(L, n + 16)) luaL_error(L, "too many columns (%d)", n);
  int names = lua_gettop(L) + 1;
  push_safe_header(c, n);
  for (int j = 0; j < n; j++) {
    if (c->schema) {
      size_t len;
      const char *s = lua_tolstring(L, names + j, &len);
      colmap_of(c)[j] = sr__json_plan_find(c->plan, s, len);
    } else {
      colmap_of(c)[j] = names + j;
    }
  }
  if (c->schema) lua_settop(L, names - 1);
  m->len = (size_t)n * sizeof(int);
  c->ncols = n;
}

/* Without a schema or header: makes sure keys _c0.._c(n-1) are pushed (between records only). */
static void ensure_positional_keys(cdec *c, int n) {
  lua_State *L = c->L;
  if (n <= c->ncols) return;
  sr_buf *m = &c->lists->aux;
  if (sr_buf_reserve(m, (size_t)(n - c->ncols) * sizeof(int)) != 0) luaL_error(L, "out of memory");
  if (!lua_checkstack(L, n - c->ncols + 8)) luaL_error(L, "too many columns (%d)", n);
  for (int j = c->ncols; j < n; j++) {
    lua_pushfstring(L, "_c%d", j);
    colmap_of(c)[j] = lua_gettop(L);
  }
  m->len = (size_t)n * sizeof(int);
  c->ncols = n;
}

/* Pushes the row of the split record. 0, or -1 with the reason set. */
static int build_row(cdec *c, int header) {
  lua_State *L = c->L;
  const cfield *cf = fields_of(c);
  int n = c->nfields;
  lua_createtable(L, 0, c->schema ? c->schema->nfields : n);
  for (int j = 0; j < n; j++) {
    if (cf[j].len == 0 && !cf[j].quoted) continue;  /* null */
    int i;
    if (c->schema) {
      i = header ? (j < c->ncols ? colmap_of(c)[j] : -1) : (j < c->schema->nfields ? j : -1);
      if (i < 0) continue;
      lua_pushvalue(L, sr__json_plan_key(c->plan, i));
      if (push_cell(c, i, &cf[j]) != 0) return -1;
    } else {
      if (j >= c->ncols) continue;  /* beyond the header */
      const char *s;
      size_t len;
      lua_pushvalue(L, colmap_of(c)[j]);
      field_text(c, &cf[j], &s, &len);
      sr__push_utf8(L, s, len);
    }
    lua_rawset(L, -3);
  }
  return 0;
}

int sr_csv_decode_lines(lua_State *L, int rows_idx, int *nrows, const char *buf, size_t len,
                        const sr_schema *schema, const sr_csv_options *opts, const char *origin,
                        int64_t first_line, sr_bad_fn bad, void *bad_ud) {
  rows_idx = sr_lua_absindex(L, rows_idx);
  int base = lua_gettop(L), nbad = 0, n = *nrows;
  char reason[512];
  cdec c;
  memset(&c, 0, sizeof c);
  c.L = L;
  c.schema = schema;
  c.sep = opts && opts->sep ? opts->sep : ',';
  c.multiline = opts && opts->multiline;
  if (opts) c.ls = opts->line_sep;
  c.reason = reason;
  c.reason_len = sizeof reason;
  if (!lua_checkstack(L, 16)) luaL_error(L, "stack overflow");
  c.lists = sr__codec_mem_push(L);
  c.mem = sr__codec_mem_push(L);
  c.cell = sr__codec_mem_push(L);
  if (schema) c.plan = sr__json_plan_push(L, schema);
  int header = opts && opts->header && first_line <= 1, header_done = !header;
  const char *p = buf, *end = buf + len;
  if (first_line <= 1 && len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
  int64_t line = first_line;
  while (p < end) {
    size_t term = sr_line_term_at(p, end, &c.ls);
    if (term) {  /* an empty line */
      p += term;
      line++;
      continue;
    }
    const char *rec = p, *stop;
    int64_t lines;
    reason[0] = '\0';
    int rc = split_record(&c, &p, end, &stop, &lines);
    if (rc == 0 && !header_done) {
      map_header(&c);
      header_done = 1;
    } else {
      if (rc == 0 && !schema && !header) ensure_positional_keys(&c, c.nfields);
      int work = lua_gettop(L);
      if (rc == 0 && build_row(&c, header) == 0) {
        lua_rawseti(L, rows_idx, ++n);
      } else {
        lua_settop(L, work);
        nbad++;
        if (bad) bad(bad_ud, origin, line, rec, (size_t)(stop - rec), reason);
      }
    }
    line += lines;
  }
  *nrows = n;
  sr__codec_mem_release(c.lists);
  sr__codec_mem_release(c.mem);
  sr__codec_mem_release(c.cell);
  lua_settop(L, base);
  return nbad;
}

/* ------------------------------------------------------------------------------------------ */
/* Encoder                                                                                      */

static int needs_quotes(const char *s, size_t n, char sep) {
  if (n == 0) return 1;  /* "" is the empty string; an empty field is null */
  for (size_t i = 0; i < n; i++)
    if (s[i] == sep || s[i] == '"' || s[i] == '\n' || s[i] == '\r') return 1;
  return 0;
}

/* Appends one cell; ill-formed UTF-8 becomes U+FFFD, as in a Java String Spark's writer gets. */
static int put_cell(sr_buf *out, const char *s, size_t n, char sep) {
  if (sr_utf8_valid_len(s, n) < n) {
    char *fixed = malloc(3 * n + 1);
    if (!fixed) return -1;
    int rc = put_cell(out, fixed, sr_utf8_repair(fixed, s, n), sep);
    free(fixed);
    return rc;
  }
  if (!needs_quotes(s, n, sep)) return sr_buf_append(out, s, n);
  if (sr_buf_reserve(out, 2 * n + 2) != 0) return -1;
  char *o = out->data + out->len;
  *o++ = '"';
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"') *o++ = '"';
    *o++ = s[i];
  }
  *o++ = '"';
  out->len = (size_t)(o - out->data);
  out->data[out->len] = '\0';
  return 0;
}

/* A column to write: its name, the stack index of its key, and its field in the plan (-1:
** untyped, written as its Lua value is). */
typedef struct ccol { const char *s; size_t len; int key_idx; int field; } ccol;

static int ccol_cmp(const void *a, const void *b) {
  const ccol *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->s, y->s, n);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The columns to write into cols->text (a ccol array): the schema's (names pushed by the plan),
** or the sorted string keys of the first row (pushed here). Returns how many, or -1 when out of
** memory. */
static int list_columns(lua_State *L, sr__codec_mem *cols, const sr_schema *schema,
                        const sr__jplan *plan, int rows_idx, int nrows, const char *const *names,
                        int nnames) {
  int ncols = 0;
  if (names) {  /* the given names, typed by the schema's field of that name if any */
    if (!lua_checkstack(L, nnames + 8)) luaL_error(L, "stack overflow");
    if (sr_buf_reserve(&cols->text, (size_t)nnames * sizeof(ccol)) != 0) return -1;
    for (int j = 0; j < nnames; j++) {
      ccol *c = (ccol *)cols->text.data + j;
      c->s = names[j];
      c->len = strlen(c->s);
      c->field = schema ? sr_schema_find(schema, names[j]) : -1;
      if (c->field >= 0) {
        c->key_idx = sr__json_plan_key(plan, c->field);
      } else {
        lua_pushlstring(L, c->s, c->len);
        c->key_idx = lua_gettop(L);
      }
    }
    cols->text.len = (size_t)nnames * sizeof(ccol);
    return nnames;
  }
  if (schema) {
    ncols = schema->nfields;
    if (sr_buf_reserve(&cols->text, (size_t)ncols * sizeof(ccol)) != 0) return -1;
    for (int j = 0; j < ncols; j++) {
      ccol *c = (ccol *)cols->text.data + j;
      c->s = schema->fields[j].name;
      c->len = strlen(c->s);
      c->key_idx = sr__json_plan_key(plan, j);
      c->field = j;
    }
    cols->text.len = (size_t)ncols * sizeof(ccol);
    return ncols;
  }
  if (nrows <= 0) return 0;
  lua_rawgeti(L, rows_idx, 1);
  int first = lua_gettop(L);
  if (!lua_istable(L, first)) return 0;  /* the row loop reports it */
  lua_pushnil(L);
  while (lua_next(L, first)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) continue;
    if (!lua_checkstack(L, 8)) luaL_error(L, "stack overflow");
    if (sr_buf_reserve(&cols->text, sizeof(ccol)) != 0) return -1;
    ccol *c = (ccol *)cols->text.data + ncols++;
    cols->text.len += sizeof(ccol);
    lua_pushvalue(L, -1);  /* the lower copy stays as the column's key */
    c->key_idx = lua_gettop(L) - 1;
    c->field = -1;
    c->s = lua_tolstring(L, c->key_idx, &c->len);
  }
  if (ncols > 1) qsort(cols->text.data, (size_t)ncols, sizeof(ccol), ccol_cmp);
  return ncols;
}

/* Appends the row at stack index row as one line. 0, or -1 with errbuf set. */
static int encode_row(lua_State *L, sr__codec_mem *mem, int row, int64_t i, const ccol *col,
                      int ncols, const sr__jplan *plan, char sep, sr_buf *out, char *errbuf,
                      size_t errlen) {
  char cell_err[384];
  if (!lua_istable(L, row)) {
    snprintf(errbuf, errlen, "row %lld: not a table but a %s", (long long)i, luaL_typename(L, row));
    return -1;
  }
  for (int j = 0; j < ncols; j++) {
    int is_null;
    if (j && sr_buf_putc(out, sep) != 0) return snprintf(errbuf, errlen, "out of memory"), -1;
    lua_pushvalue(L, col[j].key_idx);
    lua_rawget(L, row);
    sr_buf_clear(&mem->text);
    if (sr__format_cell(L, mem, -1, plan, col[j].field, &mem->text, &is_null, cell_err, sizeof cell_err) != 0) {
      snprintf(errbuf, errlen, "row %lld, column %.*s: %s", (long long)i, (int)col[j].len, col[j].s, cell_err);
      return -1;
    }
    if (!is_null && put_cell(out, mem->text.data ? mem->text.data : "", mem->text.len, sep) != 0)
      return snprintf(errbuf, errlen, "out of memory"), -1;
    lua_pop(L, 1);
  }
  if (sr_buf_putc(out, '\n') != 0) return snprintf(errbuf, errlen, "out of memory"), -1;
  return 0;
}

static int encode(lua_State *L, int rows_idx, int nrows, const char *const *names, int nnames,
                  const sr_schema *schema, const sr_csv_options *opts, int write_header,
                  sr_buf *out, char *errbuf, size_t errlen) {
  rows_idx = sr_lua_absindex(L, rows_idx);
  int base = lua_gettop(L), rc = 0;
  char sep = opts && opts->sep ? opts->sep : ',';
  char local_err[8];
  if (!errlen) {  /* messages are always written somewhere */
    errbuf = local_err;
    errlen = sizeof local_err;
  }
  errbuf[0] = '\0';
  if (!lua_checkstack(L, 16)) luaL_error(L, "stack overflow");
  sr__codec_mem *cols = sr__codec_mem_push(L);  /* text: the ccol array */
  sr__codec_mem *mem = sr__codec_mem_push(L);
  const sr__jplan *plan = schema ? sr__json_plan_push(L, schema) : NULL;
  int ncols = list_columns(L, cols, schema, plan, rows_idx, nrows, names, nnames);
  int work = lua_gettop(L);
  const ccol *col = (const ccol *)cols->text.data;
  if (ncols < 0) {
    snprintf(errbuf, errlen, "out of memory");
    rc = -1;
    goto done;
  }
  if (write_header && ncols > 0) {
    for (int j = 0; j < ncols && rc == 0; j++)
      if ((j && sr_buf_putc(out, sep) != 0) || put_cell(out, col[j].s, col[j].len, sep) != 0) rc = -1;
    if (rc != 0 || sr_buf_putc(out, '\n') != 0) {
      snprintf(errbuf, errlen, "out of memory");
      rc = -1;
      goto done;
    }
  }
  for (int i = 1; i <= nrows && rc == 0; i++) {
    size_t mark = out->len;
    lua_rawgeti(L, rows_idx, i);
    rc = encode_row(L, mem, work + 1, i, col, ncols, plan, sep, out, errbuf, errlen);
    if (rc != 0) {  /* keep only whole rows */
      out->len = mark;
      if (out->data) out->data[mark] = '\0';
    }
    lua_settop(L, work);
  }
done:
  sr__codec_mem_release(cols);
  sr__codec_mem_release(mem);
  lua_settop(L, base);
  return rc;
}

int sr_csv_encode_rows(lua_State *L, int rows_idx, int nrows, const sr_schema *schema,
                       const sr_csv_options *opts, int write_header, sr_buf *out, char *errbuf,
                       size_t errlen) {
  return encode(L, rows_idx, nrows, NULL, 0, schema, opts, write_header, out, errbuf, errlen);
}

int sr_csv_encode_named(lua_State *L, int rows_idx, int nrows, const char *const *names, int ncols,
                        const sr_schema *types, const sr_csv_options *opts, int write_header,
                        sr_buf *out, char *errbuf, size_t errlen) {
  return encode(L, rows_idx, nrows, names, ncols, types, opts, write_header, out, errbuf, errlen);
}
