/*
** Lua rows -> JSON lines: the encoder of json_rows.h, and the text of CSV cells (sr__format_cell).
**
** Encoding walks each row table once with lua_next: a key is matched to a schema field by the
** address of its interned string (the plan's names are those very strings), each field's
** value stays on the stack until it is written in schema order after its pre-escaped
** `,"name":`, and only the other keys are sorted.
** Doubles are written by sr__fmt_double (json_number.c).
*/
#include <assert.h>
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"
#include "lua_aux.h"
#include "lua_int64.h"
#include "lua_types.h"
#include "timeutil.h"
#include "utf8.h"

enum {
  MAX_ENC_DEPTH = 1000 /* nesting of encoded tables, as deep as what can be decoded; deeper
                          is a cycle */
};

/* ------------------------------------------------------------------------------------------ */
/* Encoder                                                                                      */

typedef struct jenc {
  lua_State *L;
  sr__codec_mem *mem; /* aux holds the key lists of the tables being encoded */
  sr_buf *out;
  char *err;
  size_t errlen;
  int64_t row;        /* 1-based row for messages; 0 for a single value */
  int depth;
  int npath;
  struct { const char *name; size_t len; int64_t index; } path[MAX_PATH];
} jenc;

/* A number of ms beyond the timestamps Spark holds would be written as text no reader takes
** (a year of 7 digits): refused, as the readers refuse such input. */
#define TS_RANGE_MSG "%lld ms is beyond the timestamps Spark can hold (years -290308 to +294247)"

static int enc_fail(jenc *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int enc_fail(jenc *e, const char *fmt, ...) {
  char what[256], path[256];
  size_t len = 0;
  path[0] = '\0';
  int n = e->npath < MAX_PATH ? e->npath : MAX_PATH;
  for (int i = 0; i < n && len < sizeof path; i++) {
    int w = e->path[i].name
                ? snprintf(path + len, sizeof path - len, "%s%.*s", i ? "." : "",
                           (int)e->path[i].len, e->path[i].name)
                : snprintf(path + len, sizeof path - len, "[%lld]", (long long)e->path[i].index);
    if (w < 0) break;
    len += (size_t)w;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  if (!e->errlen) return -1;
  if (e->row && path[0]) snprintf(e->err, e->errlen, "row %lld, column %s: %s", (long long)e->row, path, what);
  else if (e->row) snprintf(e->err, e->errlen, "row %lld: %s", (long long)e->row, what);
  else if (path[0]) snprintf(e->err, e->errlen, "at %s: %s", path, what);
  else snprintf(e->err, e->errlen, "%s", what);
  return -1;
}

static void enc_path_push(jenc *e, const char *name, size_t len, int64_t index) {
  if (e->npath < MAX_PATH) {
    e->path[e->npath].name = name;
    e->path[e->npath].len = len;
    e->path[e->npath].index = index;
  }
  e->npath++;
}

/* Room for n more bytes (and the NUL that ends every public call). */
static inline int out_room(jenc *e, size_t n) {
  sr_buf *b = e->out;
  if (b->cap - b->len > n) return 0;
  return sr_buf_reserve(b, n) == 0 ? 0 : enc_fail(e, "out of memory");
}

/* Appends without the NUL: the public functions terminate the text once at their end. */
static inline int put(jenc *e, const void *p, size_t n) {
  if (out_room(e, n) != 0) return -1;
  memcpy(e->out->data + e->out->len, p, n);
  e->out->len += n;
  return 0;
}

static void out_terminate(sr_buf *out) {
  if (out->data) out->data[out->len] = '\0';
}

static const char hex_digits[] = "0123456789abcdef";

/* Writes s[0..n) quoted and escaped at o ('"', '\\' and control characters; other bytes,
** UTF-8 or not, pass through); o has room for 6 * n + 2 bytes. Returns the end. */
/* The bytes sr__json_escape stops at: str_class's, and every byte >= 0x80 (checked as UTF-8). */
static const unsigned char enc_class[256] = {
  C16(CLS_CTRL), C16(CLS_CTRL),
  0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20: '"' */
  C16(0), C16(0),
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, /* 0x50: '\\' */
  C16(0), C16(0),
  C16(4), C16(4), C16(4), C16(4), C16(4), C16(4), C16(4), C16(4),
};

/* Writes s as a JSON string at o (room for 6 * n + 2 bytes). Ill-formed UTF-8 is written as
** U+FFFD, as Jackson writes a Java String in which the decoder already put U+FFFD: the output
** is always valid JSON, whatever bytes a Lua string holds. */
char *sr__json_escape(char *o, const char *s, size_t n) {
  *o++ = '"';
  for (size_t i = 0; i < n;) {
    size_t run = i;
    while (run < n && !enc_class[(unsigned char)s[run]]) run++;
    memcpy(o, s + i, run - i);
    o += run - i;
    if (run == n) break;
    if ((unsigned char)s[run] >= 0x80) {
      int k = sr_utf8_seq((const unsigned char *)s + run, n - run);
      if (k > 0) {
        memcpy(o, s + run, (size_t)k);
        o += k;
        i = run + (size_t)k;
      } else {
        memcpy(o, "\xEF\xBF\xBD", 3);
        o += 3;
        i = run + (size_t)-k;
      }
      continue;
    }
    unsigned char c = (unsigned char)s[run];
    *o++ = '\\';
    switch (c) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '\n': *o++ = 'n'; break;
      case '\r': *o++ = 'r'; break;
      case '\t': *o++ = 't'; break;
      case '\b': *o++ = 'b'; break;
      case '\f': *o++ = 'f'; break;
      default:
        *o++ = 'u'; *o++ = '0'; *o++ = '0';
        *o++ = hex_digits[c >> 4];
        *o++ = hex_digits[c & 15];
    }
    i = run + 1;
  }
  *o++ = '"';
  return o;
}

static int put_string(jenc *e, const char *s, size_t n) {
  if (out_room(e, n * 6 + 2) != 0) return -1;
  sr_buf *b = e->out;
  b->len = (size_t)(sr__json_escape(b->data + b->len, s, n) - b->data);
  return 0;
}

static int put_number(jenc *e, double d) {
  if (!isfinite(d)) {  /* NaN/Infinity as Jackson writes them */
    char tmp[40];
    return put_string(e, tmp, sr__fmt_double(d, tmp));
  }
  if (out_room(e, 40) != 0) return -1;
  e->out->len += sr__fmt_double(d, e->out->data + e->out->len);
  return 0;
}

/* A key of a table being written, other than the schema's fields; kept in mem->aux, addressed
** by offset (it may move). */
typedef struct kent {
  int key_idx;       /* stack index of the saved key */
  int val_idx;       /* stack index of its value, or 0: lua_rawget it */
  int type;          /* the key's Lua type */
  const char *s;     /* a string key's bytes; NULL: the text is in num */
  size_t len;
  char num[40];
} kent;

/* The saved keys of one table: n kents from aux offset off; aux->len was mark before. */
typedef struct kspan { size_t mark, off; int n; } kspan;

enum { KEEP_VALUES = 32 };  /* collect_keys keeps at most this many values of other keys */

static const char *kent_text(const kent *k) { return k->s ? k->s : k->num; }

static int kent_cmp(const void *a, const void *b) {
  const kent *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(kent_text(x), kent_text(y), n);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

static void sort_keys(kent *k, size_t n) {
  if (n > 16) { qsort(k, n, sizeof *k, kent_cmp); return; }
  for (size_t i = 1; i < n; i++) {  /* rows have few extra keys: insertion sort */
    kent t = k[i];
    size_t j = i;
    while (j > 0 && kent_cmp(&k[j - 1], &t) > 0) { k[j] = k[j - 1]; j--; }
    k[j] = t;
  }
}

static int enc_value(jenc *e, int idx, const sr_field *f, const jstruct *child);

/* The field of s named k[0..kn), or -1 (for the window struct, which has no plan). */
static int field_by_name(const sr_schema *s, const char *k, size_t kn) {
  for (int i = 0; i < s->nfields; i++)
    if (strlen(s->fields[i].name) == kn && memcmp(s->fields[i].name, k, kn) == 0) return i;
  return -1;
}

/* One pass of lua_next over the table at idx. The value of each field of s (found through
** its plan st when there is one) stays on the stack at vslot[i] (0: the table lacks it); every
** other key is saved on the stack and listed in *ks (in aux), with its value too when
** keep_values and it is among the first KEEP_VALUES (an array of thousands of elements must
** not need two stack slots each). *array says whether the saved keys make an array (positive
** integers, at most half of 1..max missing, or max <= 10), and *length is then the largest.
** Returns 0, or -1 (out of memory). */
static int collect_keys(jenc *e, int idx, const jstruct *st, const sr_schema *s, int *vslot,
                        int keep_values, kspan *ks, int *array, int *length) {
  lua_State *L = e->L;
  sr_buf *aux = &e->mem->aux;
  int nfields = s ? s->nfields : 0;
  double maxk = 0;
  *array = 1;
  for (int i = 0; i < nfields; i++) vslot[i] = 0;
  ks->n = 0;
  ks->mark = aux->len;
  ks->off = (aux->len + 15) & ~(size_t)15;
  if (sr_buf_reserve(aux, ks->off - aux->len) != 0) return enc_fail(e, "out of memory");
  aux->len = ks->off;
  int top = lua_gettop(L) + 1;  /* the slot of the key lua_next goes on from */
  lua_pushnil(L);
  for (int iter = 0; lua_next(L, idx); iter++) {  /* ... key value */
    if (iter % 8 == 0 && !lua_checkstack(L, 24)) luaL_error(L, "stack overflow");
    int t = lua_type(L, top);
    const char *k = NULL;
    size_t kn = 0;
    if (t == LUA_TSTRING) {
      *array = 0;
      k = lua_tolstring(L, top, &kn);
      int i = !nfields ? -1 : st ? jstruct_find_lua(st, k) : field_by_name(s, k, kn);
      if (i >= 0) {
        lua_insert(L, -2);  /* ... value key: the value stays, the key goes on iterating */
        vslot[i] = top++;
        continue;
      }
    } else if (t == LUA_TNUMBER) {
      double kd = lua_tonumber(L, top);
      if (kd >= 1 && floor(kd) == kd) { if (kd > maxk) maxk = kd; }
      else *array = 0;
    } else {
      *array = 0;
    }
    if (sr_buf_reserve(aux, sizeof(kent)) != 0) return enc_fail(e, "out of memory");
    kent *ke = (kent *)(aux->data + aux->len);
    aux->len += sizeof(kent);
    ke->key_idx = top;
    ke->type = t;
    ke->s = k;
    ke->len = kn;
    if (keep_values && ks->n < KEEP_VALUES) {
      lua_pushvalue(L, top);  /* ... key value key */
      ke->val_idx = top + 1;
      top += 2;
    } else {
      lua_pop(L, 1);
      lua_pushvalue(L, -1);  /* the lower copy stays as the saved key */
      ke->val_idx = 0;
      top++;
    }
    ks->n++;
  }
  /* 1..n, or sparse with few holes (lua-cjson's rule; holes are written as null) */
  if (ks->n == 0 || (maxk > 2.0 * ks->n && maxk > 10)) *array = 0;
  *length = *array ? (int)maxk : 0;
  return 0;
}

/* Writes the saved keys of ks of the table at idx as sorted "key":value members (after a comma
** when *first_member is 0), values typed by vf (NULL: inferred); then frees ks. */
static int enc_members(jenc *e, int idx, kspan *ks, int *first_member, const sr_field *vf,
                       const jstruct *vchild) {
  lua_State *L = e->L;
  sr_buf *aux = &e->mem->aux;
  int n = ks->n, rc = 0;
  kent *k = (kent *)(aux->data + ks->off);
  for (int i = 0; i < n; i++) {
    if (k[i].type == LUA_TNUMBER) {
      k[i].len = sr__fmt_double(lua_tonumber(L, k[i].key_idx), k[i].num);
    } else if (k[i].type != LUA_TSTRING) {
      aux->len = ks->mark;
      return enc_fail(e, "cannot encode a table key of type %s", lua_typename(L, k[i].type));
    }
  }
  sort_keys(k, (size_t)n);
  for (int i = 0; i < n && rc == 0; i++) {
    kent *ki = (kent *)(aux->data + ks->off) + i;  /* aux may have moved in a nested call */
    const char *name = kent_text(ki);
    size_t len = ki->len;
    int key_idx = ki->key_idx, val_idx = ki->val_idx;
    if ((!*first_member && put(e, ",", 1) != 0) || put_string(e, name, len) != 0 || put(e, ":", 1) != 0) {
      rc = -1;
      break;
    }
    *first_member = 0;
    if (!val_idx) {
      lua_pushvalue(L, key_idx);
      lua_rawget(L, idx);
    }
    /* a numeric key's text lives in aux, which may move: name the column by its index */
    enc_path_push(e, ki->s ? name : NULL, len, ki->s ? 0 : (int64_t)lua_tonumber(L, key_idx));
    rc = enc_value(e, val_idx ? val_idx : lua_gettop(L), vf, vchild);
    e->npath--;
    if (!val_idx) lua_pop(L, 1);
  }
  aux->len = ks->mark;
  return rc;
}

/* An object: the schema's fields (s, with its plan st when there is one) in order and typed,
** then the table's other keys sorted. s NULL: every key sorted. Without a plan, s is the
** window struct (two fields). */
static int enc_object(jenc *e, int idx, const jstruct *st, const sr_schema *s) {
  lua_State *L = e->L;
  int window_slots[2], *vslot = st ? st->vslot : window_slots;
  int first_member = 1, array, length, base = lua_gettop(L);
  kspan ks;
  assert(st || !s || s->nfields <= 2);
  if (collect_keys(e, idx, st, s, vslot, 1, &ks, &array, &length) != 0 || put(e, "{", 1) != 0) return -1;
  for (int i = 0; s && i < s->nfields; i++) {
    if (!vslot[i]) continue;
    const sr_field *f = &s->fields[i];
    size_t len = st ? st->fields[i].len : strlen(f->name);
    if (st) {
      const jfield *jf = &st->fields[i];
      if (put(e, jf->member + first_member, jf->member_len - (size_t)first_member) != 0) return -1;
    } else if ((!first_member && put(e, ",", 1) != 0) || put_string(e, f->name, len) != 0 || put(e, ":", 1) != 0) {
      return -1;
    }
    first_member = 0;
    enc_path_push(e, f->name, len, 0);
    if (enc_value(e, vslot[i], f, st ? st->fields[i].child : NULL) != 0) return -1;
    e->npath--;
  }
  if (ks.n && enc_members(e, idx, &ks, &first_member, NULL, NULL) != 0) return -1;
  e->mem->aux.len = ks.mark;
  lua_settop(L, base);
  return put(e, "}", 1);
}

/* Elements 1..n in order (holes as null), typed by elem when given. */
static int enc_array(jenc *e, int idx, int n, const sr_field *elem, const jstruct *child) {
  lua_State *L = e->L;
  if (put(e, "[", 1) != 0) return -1;
  for (int i = 1; i <= n; i++) {
    if (i > 1 && put(e, ",", 1) != 0) return -1;
    lua_rawgeti(L, idx, i);
    enc_path_push(e, NULL, 0, i);
    if (enc_value(e, lua_gettop(L), elem, child) != 0) return -1;
    e->npath--;
    lua_pop(L, 1);
  }
  return put(e, "]", 1);
}

static int enc_table(jenc *e, int idx, const sr_field *f, const jstruct *child) {
  lua_State *L = e->L;
  if (e->depth >= MAX_ENC_DEPTH) return enc_fail(e, "a cycle or nesting deeper than %d", MAX_ENC_DEPTH);
  if (!lua_checkstack(L, 8)) luaL_error(L, "stack overflow");
  e->depth++;
  int rc, array, length, first_member = 1, base = lua_gettop(L);
  kspan ks;
  if (f && f->type == SR_TYPE_STRUCT && f->children) {
    rc = enc_object(e, idx, child, f->children);
  } else if ((rc = collect_keys(e, idx, NULL, NULL, NULL, 0, &ks, &array, &length)) == 0) {
    const sr_field *map_of = f && f->type == SR_TYPE_MAP ? map_value(f) : NULL;
    if (!map_of && (array || (ks.n == 0 && f && f->type == SR_TYPE_ARRAY))) {
      e->mem->aux.len = ks.mark;
      lua_settop(L, base);
      rc = enc_array(e, idx, length, f && f->type == SR_TYPE_ARRAY ? f->element : NULL, child);
    } else {  /* an object from the keys just saved: a map's values typed, else every key sorted */
      rc = put(e, "{", 1);
      if (rc == 0 && ks.n) rc = enc_members(e, idx, &ks, &first_member, map_of, map_of ? child : NULL);
      if (rc == 0) rc = put(e, "}", 1);
    }
  }
  if (rc == 0) lua_settop(L, base);
  e->depth--;
  return rc;
}

/* A window value ({start = ms, ["end"] = ms}) in a column typed timestamp: written as the
** struct<start: timestamp, end: timestamp> it is. */
static char window_start[] = "start", window_end[] = "end";
static sr_field window_fields[2] = {
  {.name = window_start, .type = SR_TYPE_TIMESTAMP, .nullable = 1},
  {.name = window_end, .type = SR_TYPE_TIMESTAMP, .nullable = 1},
};
static const sr_schema window_schema = {2, window_fields};

static int enc_value(jenc *e, int idx, const sr_field *f, const jstruct *child) {
  lua_State *L = e->L;
  int t = lua_type(L, idx);
  char tmp[48];
  int64_t v;
  uint64_t u;
  int32_t days;
  if (t == SR_LUA_TCDATA) {  /* a timestamp or date is written as what it is, whatever f says */
    sr_lua_vtype vt = sr_lua_typed(L, idx, &v, &days);
    if (vt == SR_LV_TIMESTAMP) return put_string(e, tmp, sr_time_format_us(v, tmp));
    if (vt == SR_LV_DATE) return put_string(e, tmp, sr_date_format(days, tmp));
    if (vt == SR_LV_BINARY) {  /* base64, as Spark's JSON writer */
      size_t n;
      const char *s = sr_lua_binary_bytes(L, idx, &n);
      if (put(e, "\"", 1) != 0 || sr__base64_encode(e->out, s, n) != 0) return enc_fail(e, "out of memory");
      return put(e, "\"", 1);
    }
  }
  if (f) {
    switch (f->type) {
      case SR_TYPE_TIMESTAMP:
        if ((t == LUA_TNUMBER || t == SR_LUA_TCDATA) && sr_lua_to_int64(L, idx, &v) == 0) {
          if (!sr_time_in_range(v)) return enc_fail(e, TS_RANGE_MSG, (long long)v);
          return put_string(e, tmp, sr_time_format(v, tmp));
        }
        if (t == LUA_TTABLE) {
          if (e->depth >= MAX_ENC_DEPTH) return enc_fail(e, "a cycle or nesting deeper than %d", MAX_ENC_DEPTH);
          if (!lua_checkstack(L, 8)) luaL_error(L, "stack overflow");
          e->depth++;
          int rc = enc_object(e, idx, NULL, &window_schema);
          e->depth--;
          return rc;
        }
        break;
      case SR_TYPE_DATE:
        if (t == LUA_TNUMBER && sr_lua_to_int64(L, idx, &v) == 0 && v >= INT32_MIN && v <= INT32_MAX)
          return put_string(e, tmp, sr_date_format((int32_t)v, tmp));
        break;
      case SR_TYPE_BINARY:
        if (t == LUA_TSTRING) {
          size_t n;
          const char *s = lua_tolstring(L, idx, &n);
          if (put(e, "\"", 1) != 0 || sr__base64_encode(e->out, s, n) != 0) return enc_fail(e, "out of memory");
          return put(e, "\"", 1);
        }
        break;
      default: break;  /* other types are written as their Lua values are */
    }
  }
  switch (t) {
    case LUA_TNIL: return put(e, "null", 4);
    case LUA_TBOOLEAN: return lua_toboolean(L, idx) ? put(e, "true", 4) : put(e, "false", 5);
    case LUA_TNUMBER: return put_number(e, lua_tonumber(L, idx));
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      return put_string(e, s, n);
    }
    case LUA_TTABLE: return enc_table(e, idx, f, child);
    case SR_LUA_TCDATA:
      if (sr_lua_to_int64(L, idx, &v) == 0) return put(e, tmp, sr__fmt_int64(v, tmp));
      if (sr_lua_to_uint64(L, idx, &u) == 0) return put(e, tmp, sr__fmt_uint64(u, tmp));
      return enc_fail(e, "cannot encode a cdata value (only int64_t/uint64_t)");
    default: return enc_fail(e, "cannot encode a %s value", lua_typename(L, t));
  }
}

static void enc_setup(jenc *e, lua_State *L, sr_buf *out, char *errbuf, size_t errlen) {
  memset(e, 0, sizeof *e);
  e->L = L;
  e->out = out;
  e->err = errbuf;
  e->errlen = errlen;
  if (errlen) errbuf[0] = '\0';
  if (!lua_checkstack(L, 16)) luaL_error(L, "stack overflow");
  e->mem = sr__codec_mem_push(L);
}

int sr_json_encode_range(lua_State *L, int rows_idx, int first, int last, const sr_schema *schema,
                         sr_buf *out, char *errbuf, size_t errlen) {
  rows_idx = sr_lua_absindex(L, rows_idx);
  int base = lua_gettop(L), rc = 0;
  jenc e;
  enc_setup(&e, L, out, errbuf, errlen);
  const jstruct *plan = schema ? sr__json_plan_push(L, schema) : NULL;
  int work = lua_gettop(L);
  for (int i = first; i <= last && rc == 0; i++) {
    size_t mark = out->len;
    e.row = i;
    e.npath = 0;
    e.depth = 0;
    e.mem->aux.len = 0;
    lua_rawgeti(L, rows_idx, i);
    if (!lua_istable(L, -1)) rc = enc_fail(&e, "not a table but a %s", luaL_typename(L, -1));
    else if (enc_object(&e, work + 1, plan, schema) != 0 || put(&e, "\n", 1) != 0) rc = -1;
    if (rc != 0) out->len = mark;
    lua_settop(L, work);
  }
  out_terminate(out);
  sr__codec_mem_release(e.mem);
  lua_settop(L, base);
  return rc;
}

int sr_json_encode_rows(lua_State *L, int rows_idx, int nrows, const sr_schema *schema,
                        sr_buf *out, char *errbuf, size_t errlen) {
  return sr_json_encode_range(L, rows_idx, 1, nrows, schema, out, errbuf, errlen);
}

int sr_json_encode_value(lua_State *L, int idx, sr_buf *out, char *errbuf, size_t errlen) {
  idx = sr_lua_absindex(L, idx);
  int base = lua_gettop(L);
  jenc e;
  enc_setup(&e, L, out, errbuf, errlen);
  int rc = enc_value(&e, idx, NULL, NULL);
  out_terminate(out);
  sr__codec_mem_release(e.mem);
  lua_settop(L, base);
  return rc;
}

/* A cell holding JSON text: tables and int64 cdata, typed by f when given. */
static int format_json_cell(lua_State *L, sr__codec_mem *mem, int idx, const jfield *jf, sr_buf *out,
                            char *errbuf, size_t errlen) {
  jenc e;
  memset(&e, 0, sizeof e);
  e.L = L;
  e.mem = mem;
  e.out = out;
  e.err = errbuf;
  e.errlen = errlen;
  size_t aux_mark = mem->aux.len;
  int base = lua_gettop(L), rc = enc_value(&e, idx, jf ? jf->f : NULL, jf ? jf->child : NULL);
  lua_settop(L, base);
  mem->aux.len = aux_mark;
  out_terminate(out);
  return rc;
}

int sr__format_cell(lua_State *L, sr__codec_mem *mem, int idx, const sr__jplan *plan, int i,
                    sr_buf *out, int *is_null, char *errbuf, size_t errlen) {
  idx = sr_lua_absindex(L, idx);
  const jfield *jf = plan && i >= 0 ? &((const jstruct *)plan)->fields[i] : NULL;
  const sr_field *f = jf ? jf->f : NULL;
  int t = lua_type(L, idx), rc;
  char tmp[48];
  int64_t v;
  size_t n;
  *is_null = t == LUA_TNIL;
  if (*is_null) return 0;
  if (t == LUA_TSTRING) {
    const char *s = lua_tolstring(L, idx, &n);
    rc = f && f->type == SR_TYPE_BINARY ? sr__base64_encode(out, s, n) : sr_buf_append(out, s, n);
  } else if (t == LUA_TBOOLEAN) {
    rc = sr_buf_puts(out, lua_toboolean(L, idx) ? "true" : "false");
  } else if (t == LUA_TNUMBER || t == SR_LUA_TCDATA) {
    int32_t days;
    sr_lua_vtype vt = t == SR_LUA_TCDATA ? sr_lua_typed(L, idx, &v, &days) : SR_LV_OTHER;
    if (vt == SR_LV_BINARY) {
      const char *s = sr_lua_binary_bytes(L, idx, &n);
      rc = sr__base64_encode(out, s, n);
      if (rc != 0) snprintf(errbuf, errlen, "out of memory");
      return rc;
    } else if (vt == SR_LV_TIMESTAMP)
      n = sr_time_format_us(v, tmp);
    else if (vt == SR_LV_DATE)
      n = sr_date_format(days, tmp);
    else if (f && f->type == SR_TYPE_TIMESTAMP && sr_lua_to_int64(L, idx, &v) == 0) {
      if (!sr_time_in_range(v)) {
        snprintf(errbuf, errlen, TS_RANGE_MSG, (long long)v);
        return -1;
      }
      n = sr_time_format(v, tmp);
    }
    else if (f && f->type == SR_TYPE_DATE && sr_lua_to_int64(L, idx, &v) == 0 && v >= INT32_MIN && v <= INT32_MAX)
      n = sr_date_format((int32_t)v, tmp);
    else if (t == LUA_TNUMBER)
      n = sr__fmt_double(lua_tonumber(L, idx), tmp);
    else  /* int64 cdata: exact digits, as JSON has them */
      return format_json_cell(L, mem, idx, jf, out, errbuf, errlen);
    rc = sr_buf_append(out, tmp, n);
  } else {
    return format_json_cell(L, mem, idx, jf, out, errbuf, errlen);
  }
  if (rc != 0) snprintf(errbuf, errlen, "out of memory");
  return rc;
}
