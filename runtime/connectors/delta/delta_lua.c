/* Lua rows <-> sr_value rows for Delta: see delta_lua.h. */
#include "delta_lua.h"

#include <inttypes.h>
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_int64.h"
#include "lua_types.h"
#include "timeutil.h"

#define MAX_DEPTH 100

/* --- Lua -> sr_value ----------------------------------------------------------------------- */

static unsigned slot_of(const void *p, unsigned mask) {
  uint64_t h = ((uint64_t)(uintptr_t)p >> 3) * 0x9E3779B97F4A7C15ull;
  return (unsigned)(h >> 32) & mask;
}

int sr_delta_conv_begin(lua_State *L, sr_delta_conv *c, const sr_schema *schema) {
  memset(c, 0, sizeof *c);
  c->schema = schema;
  c->base = lua_gettop(L);
  unsigned cap = 8;
  while (cap < (unsigned)schema->nfields * 2 + 2) cap *= 2;
  c->slot_key = calloc(cap, sizeof *c->slot_key);
  c->slot_col = calloc(cap, sizeof *c->slot_col);
  if (!c->slot_key || !c->slot_col) return -1;
  c->mask = cap - 1;
  luaL_checkstack(L, schema->nfields + 8, "delta: too many columns");
  for (int i = 0; i < schema->nfields; i++) {
    /* the name stays on the stack, so its interned string (and address) lives until end */
    lua_pushstring(L, schema->fields[i].name);
    const void *p = lua_tostring(L, -1);
    unsigned s = slot_of(p, c->mask);
    while (c->slot_key[s]) s = (s + 1) & c->mask;
    c->slot_key[s] = p;
    c->slot_col[s] = i;
  }
  return 0;
}

void sr_delta_conv_free(sr_delta_conv *c) {
  free(c->slot_key);
  free(c->slot_col);
  c->slot_key = NULL;
  c->slot_col = NULL;
}

void sr_delta_conv_end(lua_State *L, sr_delta_conv *c) {
  if (lua_gettop(L) > c->base) lua_settop(L, c->base);
  sr_delta_conv_free(c);
}

static const char *lua_kind(lua_State *L, int idx) {
  int t = lua_type(L, idx);
  if (t != SR_LUA_TCDATA) return lua_typename(L, t);
  sr_lua_vtype vt = sr_lua_typed(L, idx, NULL, NULL);
  return vt == SR_LV_TIMESTAMP ? "timestamp" : vt == SR_LV_DATE ? "date" : "cdata";
}

/* A number of ms (a fraction keeps us) as microseconds. Returns 0, or -1 out of range. */
static int ms_to_us(double ms, int64_t *us) {
  double u = floor(ms * 1000.0 + 0.5);
  if (!(u >= -9223372036854775808.0 && u < 9223372036854775808.0)) return -1;
  *us = (int64_t)u;
  return 0;
}

static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(err, errlen, "column %s: %s", path, msg);
  return -1;
}

static int mismatch(lua_State *L, int idx, const sr_field *f, const char *path, char *err, size_t errlen) {
  if (lua_type(L, idx) == LUA_TSTRING)
    return fail(err, errlen, path, "expected %s, got string \"%.40s\"", sr_type_name(f->type),
                lua_tostring(L, idx));
  if (lua_type(L, idx) == LUA_TNUMBER)
    return fail(err, errlen, path, "expected %s, got number %.17g%s", sr_type_name(f->type),
                lua_tonumber(L, idx),
                f->type == SR_TYPE_LONG ? " (a column whose first values were whole numbers is long: "
                                          "declare it double in the source's schema to store fractions)" : "");
  return fail(err, errlen, path, "expected %s, got %s", sr_type_name(f->type), lua_kind(L, idx));
}

/* A whole number (integral double within int64, or int64 cdata). 0 or -1. */
static int whole_number(lua_State *L, int idx, int64_t *v) {
  if (lua_type(L, idx) == LUA_TNUMBER) {
    double d = lua_tonumber(L, idx);
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || floor(d) != d) return -1;
    *v = (int64_t)d;
    return 0;
  }
  return sr_lua_to_int64(L, idx, v);
}

static int convert(lua_State *L, int idx, const sr_field *f, sr_arena *a, sr_value *out,
                   const char *path, int depth, char *err, size_t errlen);

static int convert_struct(lua_State *L, int idx, const sr_schema *s, sr_arena *a, sr_value *out,
                          const char *path, int depth, char *err, size_t errlen) {
  int n = s->nfields;
  sr_value *items = sr_arena_alloc(a, sizeof *items * (size_t)(n ? n : 1));
  if (!items) return fail(err, errlen, path, "out of memory");
  char sub[512];
  for (int i = 0; i < n; i++) {
    snprintf(sub, sizeof sub, "%s.%s", path, s->fields[i].name);
    lua_getfield(L, idx, s->fields[i].name);
    int rc = convert(L, lua_gettop(L), &s->fields[i], a, &items[i], sub, depth + 1, err, errlen);
    lua_pop(L, 1);
    if (rc != 0) return rc;
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (!key || sr_schema_find(s, key) < 0) {
      lua_pop(L, 2);
      return fail(err, errlen, path, "field %s is not in the table's schema (mergeSchema adds "
                  "top-level columns only)", key ? key : "(not a name)");
    }
    lua_pop(L, 1);
  }
  out->kind = SR_VAL_STRUCT;
  out->u.list.items = items;
  out->u.list.n = n;
  return 0;
}

static int convert_array(lua_State *L, int idx, const sr_field *f, sr_arena *a, sr_value *out,
                         const char *path, int depth, char *err, size_t errlen) {
  int n = (int)lua_objlen(L, idx);
  if (n == 0) {
    lua_pushnil(L);
    if (lua_next(L, idx)) {
      lua_pop(L, 2);
      return fail(err, errlen, path, "expected array, got a table with keys other than 1..n");
    }
  }
  sr_value *items = sr_arena_alloc(a, sizeof *items * (size_t)(n ? n : 1));
  if (!items) return fail(err, errlen, path, "out of memory");
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, idx, i + 1);
    int rc = convert(L, lua_gettop(L), f->element, a, &items[i], path, depth + 1, err, errlen);
    lua_pop(L, 1);
    if (rc != 0) return rc;
  }
  out->kind = SR_VAL_LIST;
  out->u.list.items = items;
  out->u.list.n = n;
  return 0;
}

static int convert_map(lua_State *L, int idx, const sr_field *f, sr_arena *a, sr_value *out,
                       const char *path, int depth, char *err, size_t errlen) {
  int n = 0, cap = 8;
  sr_value *items = sr_arena_alloc(a, sizeof *items * (size_t)cap);
  if (!items) return fail(err, errlen, path, "out of memory");
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (n == cap) {
      sr_value *grown = sr_arena_alloc(a, sizeof *items * (size_t)cap * 2);
      if (!grown) { lua_pop(L, 2); return fail(err, errlen, path, "out of memory"); }
      memcpy(grown, items, sizeof *items * (size_t)cap);
      items = grown;
      cap *= 2;
    }
    sr_value *kv = sr_arena_alloc(a, sizeof *kv * 2);
    int top = lua_gettop(L);
    int rc = kv ? 0 : fail(err, errlen, path, "out of memory");
    if (rc == 0) rc = convert(L, top - 1, &f->children->fields[0], a, &kv[0], path, depth + 1, err, errlen);
    if (rc == 0) rc = convert(L, top, &f->children->fields[1], a, &kv[1], path, depth + 1, err, errlen);
    if (rc != 0) {
      lua_pop(L, 2);
      return rc;
    }
    items[n].kind = SR_VAL_STRUCT;
    items[n].u.list.items = kv;
    items[n++].u.list.n = 2;
    lua_pop(L, 1);
  }
  out->kind = SR_VAL_LIST;
  out->u.list.items = items;
  out->u.list.n = n;
  return 0;
}

static int convert(lua_State *L, int idx, const sr_field *f, sr_arena *a, sr_value *out,
                   const char *path, int depth, char *err, size_t errlen) {
  int t = lua_type(L, idx);
  out->kind = SR_VAL_NULL;
  if (t == LUA_TNIL) return 0;
  if (depth > MAX_DEPTH) return fail(err, errlen, path, "nested deeper than %d", MAX_DEPTH);
  size_t len;
  switch (f->type) {
  case SR_TYPE_LONG: case SR_TYPE_INT: case SR_TYPE_SHORT: case SR_TYPE_BYTE:
    if (whole_number(L, idx, &out->u.i) != 0) return mismatch(L, idx, f, path, err, errlen);
    out->kind = SR_VAL_INT;
    return 0;
  case SR_TYPE_TIMESTAMP:  /* a timestamp, ISO text, or a number of ms (old jobs) */
    if (t == LUA_TSTRING) {
      const char *s = lua_tolstring(L, idx, &len);
      if (sr_time_parse_us(s, len, &out->u.i) != 0) return mismatch(L, idx, f, path, err, errlen);
    } else if (t == LUA_TNUMBER) {
      if (ms_to_us(lua_tonumber(L, idx), &out->u.i) != 0) return mismatch(L, idx, f, path, err, errlen);
    } else if (sr_lua_typed(L, idx, &out->u.i, NULL) != SR_LV_TIMESTAMP) {
      int64_t ms;
      if (sr_lua_typed(L, idx, NULL, NULL) != SR_LV_OTHER || whole_number(L, idx, &ms) != 0 ||
          ms > INT64_MAX / 1000 || ms < INT64_MIN / 1000)
        return mismatch(L, idx, f, path, err, errlen);
      out->u.i = ms * 1000;
    }
    out->kind = SR_VAL_INT;
    return 0;
  case SR_TYPE_DATE:
    if (t == SR_LUA_TCDATA && sr_lua_typed(L, idx, NULL, NULL) != SR_LV_OTHER) {
      int32_t days;
      if (sr_lua_typed(L, idx, NULL, &days) != SR_LV_DATE) return mismatch(L, idx, f, path, err, errlen);
      out->u.i = days;
    } else if (t == LUA_TSTRING) {
      int32_t days;
      const char *s = lua_tolstring(L, idx, &len);
      if (sr_date_parse(s, len, &days) != 0) return mismatch(L, idx, f, path, err, errlen);
      out->u.i = days;
    } else if (whole_number(L, idx, &out->u.i) != 0) {
      return mismatch(L, idx, f, path, err, errlen);
    }
    out->kind = SR_VAL_INT;
    return 0;
  case SR_TYPE_DOUBLE: case SR_TYPE_FLOAT: case SR_TYPE_DECIMAL:
    if (t == LUA_TNUMBER) {
      out->u.d = lua_tonumber(L, idx);
    } else {
      int64_t v;
      if (whole_number(L, idx, &v) != 0) return mismatch(L, idx, f, path, err, errlen);
      out->u.d = (double)v;
    }
    out->kind = SR_VAL_DOUBLE;
    return 0;
  case SR_TYPE_BOOLEAN:
    if (t != LUA_TBOOLEAN) return mismatch(L, idx, f, path, err, errlen);
    out->kind = SR_VAL_BOOL;
    out->u.b = lua_toboolean(L, idx);
    return 0;
  case SR_TYPE_STRING: case SR_TYPE_BINARY:
    if (f->type == SR_TYPE_BINARY && t == SR_LUA_TCDATA && sr_lua_typed(L, idx, NULL, NULL) == SR_LV_BINARY) {
      out->u.str.ptr = sr_lua_binary_bytes(L, idx, &out->u.str.len);
      out->kind = SR_VAL_BINARY;
      return 0;
    }
    if (t != LUA_TSTRING) return mismatch(L, idx, f, path, err, errlen);
    out->u.str.ptr = lua_tolstring(L, idx, &out->u.str.len);
    out->kind = f->type == SR_TYPE_STRING ? SR_VAL_STRING : SR_VAL_BINARY;
    return 0;
  case SR_TYPE_STRUCT:
    if (t != LUA_TTABLE) return mismatch(L, idx, f, path, err, errlen);
    return convert_struct(L, idx, f->children, a, out, path, depth, err, errlen);
  case SR_TYPE_ARRAY:
    if (t != LUA_TTABLE) return mismatch(L, idx, f, path, err, errlen);
    return convert_array(L, idx, f, a, out, path, depth, err, errlen);
  case SR_TYPE_MAP:
    if (t != LUA_TTABLE) return mismatch(L, idx, f, path, err, errlen);
    return convert_map(L, idx, f, a, out, path, depth, err, errlen);
  }
  return mismatch(L, idx, f, path, err, errlen);
}

/* The common top-level cases without the general conversion's bookkeeping: a number into an
** integer, timestamp, date or double column, a string, a boolean. Returns 1 when done. */
static int convert_fast(lua_State *L, int idx, int t, const sr_field *f, sr_value *out) {
  if (t == LUA_TNUMBER) {
    double d = lua_tonumber(L, idx);
    switch (f->type) {
    case SR_TYPE_TIMESTAMP:
      if (ms_to_us(d, &out->u.i) != 0) return 0;
      out->kind = SR_VAL_INT;
      return 1;
    case SR_TYPE_LONG: case SR_TYPE_INT: case SR_TYPE_SHORT: case SR_TYPE_BYTE: case SR_TYPE_DATE:
      if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || (double)(int64_t)d != d) return 0;
      out->kind = SR_VAL_INT;
      out->u.i = (int64_t)d;
      return 1;
    case SR_TYPE_DOUBLE: case SR_TYPE_FLOAT: case SR_TYPE_DECIMAL:
      out->kind = SR_VAL_DOUBLE;
      out->u.d = d;
      return 1;
    default:
      return 0;
    }
  }
  if (t == LUA_TSTRING && (f->type == SR_TYPE_STRING || f->type == SR_TYPE_BINARY)) {
    out->u.str.ptr = lua_tolstring(L, idx, &out->u.str.len);
    out->kind = f->type == SR_TYPE_STRING ? SR_VAL_STRING : SR_VAL_BINARY;
    return 1;
  }
  if (t == LUA_TBOOLEAN && f->type == SR_TYPE_BOOLEAN) {
    out->kind = SR_VAL_BOOL;
    out->u.b = lua_toboolean(L, idx);
    return 1;
  }
  return 0;
}

int sr_delta_conv_row(lua_State *L, sr_delta_conv *c, int row_idx, sr_arena *a, sr_value *out,
                      char *errbuf, size_t errlen) {
  const sr_schema *s = c->schema;
  int n = s->nfields;
  sr_value *items = sr_arena_alloc(a, sizeof *items * (size_t)(n ? n : 1));
  if (!items) {
    snprintf(errbuf, errlen, "out of memory");
    return -1;
  }
  memset(items, 0, sizeof *items * (size_t)(n ? n : 1)); /* SR_VAL_NULL is 0 */
  out->kind = SR_VAL_STRUCT;
  out->u.list.items = items;
  out->u.list.n = n;
  if (lua_type(L, row_idx) != LUA_TTABLE) {
    snprintf(errbuf, errlen, "a row is a %s, not a table", lua_kind(L, row_idx));
    return -1;
  }
  int key = lua_gettop(L) + 1, val = key + 1; /* where lua_next leaves them */
  lua_pushnil(L);
  while (lua_next(L, row_idx)) {
    int col = -1;
    if (lua_type(L, key) == LUA_TSTRING) {
      const void *p = lua_tostring(L, key);
      for (unsigned k = slot_of(p, c->mask); c->slot_key[k]; k = (k + 1) & c->mask) {
        if (c->slot_key[k] == p) {
          col = c->slot_col[k];
          break;
        }
      }
    }
    if (col < 0) {
      if (lua_type(L, key) == LUA_TSTRING) snprintf(c->unknown, sizeof c->unknown, "%s", lua_tostring(L, key));
      else snprintf(c->unknown, sizeof c->unknown, "[%s key]", lua_kind(L, key));
      lua_settop(L, key - 1);
      return 1;
    }
    const sr_field *f = &s->fields[col];
    int t = lua_type(L, val);
    if (!convert_fast(L, val, t, f, &items[col])) {
      int rc = convert(L, val, f, a, &items[col], f->name, 0, errbuf, errlen);
      if (rc != 0) {
        lua_settop(L, key - 1);
        return rc;
      }
    }
    lua_settop(L, key);
  }
  return 0;
}

/* --- inference ------------------------------------------------------------------------------- */

enum {
  K_INT = 1, K_FRAC = 2, K_STRING = 4, K_BOOL = 8, K_ARRAY = 16, K_STRUCT = 32, K_EMPTY = 64,
  K_OTHER = 128, K_TIMESTAMP = 256, K_DATE = 512, K_BINARY = 1024
};

typedef struct inode {
  char *name;
  unsigned kinds;
  const char *other;      /* the Lua type behind K_OTHER */
  struct inode *kids;     /* struct fields */
  int nkids, cap;
  struct inode *elem;     /* array element */
} inode;

static void inode_clear(inode *n) {
  free(n->name);
  for (int i = 0; i < n->nkids; i++) inode_clear(&n->kids[i]);
  free(n->kids);
  if (n->elem) {
    inode_clear(n->elem);
    free(n->elem);
  }
}

static inode *inode_child(inode *n, const char *name) {
  for (int i = 0; i < n->nkids; i++)
    if (strcmp(n->kids[i].name, name) == 0) return &n->kids[i];
  if (n->nkids == n->cap) {
    int cap = n->cap ? n->cap * 2 : 8;
    inode *grown = realloc(n->kids, sizeof *grown * (size_t)cap);
    if (!grown) return NULL;
    n->kids = grown;
    n->cap = cap;
  }
  inode *k = &n->kids[n->nkids];
  memset(k, 0, sizeof *k);
  if (!(k->name = strdup(name))) return NULL;
  n->nkids++;
  return k;
}

/* Records the kind of the value at idx (absolute). Returns 0, or -1 out of memory. */
static int observe(lua_State *L, int idx, inode *n, int depth) {
  int t = lua_type(L, idx);
  int64_t v;
  switch (t) {
  case LUA_TNIL: return 0;
  case LUA_TNUMBER: {
    double d = lua_tonumber(L, idx);
    n->kinds |= floor(d) == d && fabs(d) < 9223372036854775808.0 ? K_INT : K_FRAC;
    return 0;
  }
  case LUA_TSTRING: n->kinds |= K_STRING; return 0;
  case LUA_TBOOLEAN: n->kinds |= K_BOOL; return 0;
  case LUA_TTABLE: break;
  default:
    if (t == SR_LUA_TCDATA && sr_lua_to_int64(L, idx, &v) == 0) {
      n->kinds |= K_INT;
      return 0;
    }
    if (t == SR_LUA_TCDATA) {
      sr_lua_vtype vt = sr_lua_typed(L, idx, NULL, NULL);
      if (vt != SR_LV_OTHER) {
        n->kinds |= vt == SR_LV_TIMESTAMP ? K_TIMESTAMP : vt == SR_LV_DATE ? K_DATE : K_BINARY;
        return 0;
      }
    }
    n->kinds |= K_OTHER;
    n->other = lua_kind(L, idx);
    return 0;
  }
  if (depth > MAX_DEPTH) {
    n->kinds |= K_OTHER;
    n->other = "table nested too deep";
    return 0;
  }
  int len = (int)lua_objlen(L, idx);
  if (len > 0) {
    n->kinds |= K_ARRAY;
    if (!n->elem && !(n->elem = calloc(1, sizeof *n->elem))) return -1;
    for (int i = 1; i <= len; i++) {
      lua_rawgeti(L, idx, i);
      int rc = observe(L, lua_gettop(L), n->elem, depth + 1);
      lua_pop(L, 1);
      if (rc != 0) return rc;
    }
    return 0;
  }
  int any = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    any = 1;
    if (lua_type(L, -2) != LUA_TSTRING) {
      n->kinds |= K_OTHER;
      n->other = "table with keys that are not names";
      lua_pop(L, 2);
      return 0;
    }
    n->kinds |= K_STRUCT;
    inode *k = inode_child(n, lua_tostring(L, -2));
    int rc = k ? observe(L, lua_gettop(L), k, depth + 1) : -1;
    lua_pop(L, 1);
    if (rc != 0) {
      lua_pop(L, 1);
      return rc;
    }
  }
  if (!any) n->kinds |= K_EMPTY;
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const inode *)a)->name, ((const inode *)b)->name);
}

static const char *kinds_text(unsigned k, char *out, size_t len) {
  static const char *const names[] = {"integer", "fractional number", "string", "boolean", "array",
                                      "table", "empty table", "other", "timestamp", "date", "binary"};
  size_t used = 0;
  out[0] = '\0';
  for (int i = 0; i < 11; i++)
    if (k & (1u << i))
      used += (size_t)snprintf(out + used, used < len ? len - used : 0, "%s%s", used ? " and " : "", names[i]);
  return out;
}

/* Sets f's type from what n saw. Returns 0, or -1 with a reason. */
static int resolve(inode *n, sr_field *f, const char *path, char *err, size_t errlen) {
  char kinds[200];
  unsigned k = n->kinds;
  if (k & K_OTHER) return fail(err, errlen, path, "a %s cannot be stored in Delta", n->other);
  unsigned scalar = k & (K_INT | K_FRAC | K_STRING | K_BOOL), container = k & (K_ARRAY | K_STRUCT | K_EMPTY);
  /* numbers beside timestamps (dates) are ms (days): the sources push whole ms as numbers */
  int timed = !!(k & (K_TIMESTAMP | K_DATE));
  int groups = (!timed && (scalar & (K_INT | K_FRAC))) + !!(scalar & K_STRING) + !!(scalar & K_BOOL) +
               !!container + !!(k & K_TIMESTAMP) + !!(k & K_DATE) + ((k & K_DATE) && (k & K_FRAC)) +
               !!(k & K_BINARY);
  if (groups > 1 || ((k & K_ARRAY) && (k & K_STRUCT)))
    return fail(err, errlen, path, "values of several types (%s); a column has one type",
                kinds_text(k, kinds, sizeof kinds));
  f->nullable = 1;
  if (k & K_BINARY) f->type = SR_TYPE_BINARY;
  else if (k & K_TIMESTAMP) f->type = SR_TYPE_TIMESTAMP;
  else if (k & K_DATE) f->type = SR_TYPE_DATE;
  else if (k & K_FRAC) f->type = SR_TYPE_DOUBLE;
  else if (k & K_INT) f->type = SR_TYPE_LONG;
  else if (k & K_BOOL) f->type = SR_TYPE_BOOLEAN;
  else if (k & K_STRUCT) {
    f->type = SR_TYPE_STRUCT;
    if (!(f->children = sr_schema_new())) return fail(err, errlen, path, "out of memory");
    qsort(n->kids, (size_t)n->nkids, sizeof *n->kids, by_name);
    for (int i = 0; i < n->nkids; i++) {
      char sub[512];
      snprintf(sub, sizeof sub, "%s.%s", path, n->kids[i].name);
      sr_field *c = sr_schema_add(f->children, n->kids[i].name, SR_TYPE_STRING);
      if (!c) return fail(err, errlen, path, "out of memory");
      if (resolve(&n->kids[i], c, sub, err, errlen) != 0) return -1;
    }
  } else if (k & (K_ARRAY | K_EMPTY)) {
    f->type = SR_TYPE_ARRAY;
    if (!(f->element = calloc(1, sizeof *f->element)) || !(f->element->name = strdup("element")))
      return fail(err, errlen, path, "out of memory");
    f->element->nullable = 1;
    if (n->elem && n->elem->kinds && resolve(n->elem, f->element, path, err, errlen) != 0) return -1;
  } else {
    f->type = SR_TYPE_STRING;
  }
  return 0;
}

int sr_delta_infer_columns(lua_State *L, int rows_idx, int nrows, const sr_schema *known,
                           sr_schema *out, char *errbuf, size_t errlen) {
  inode root;
  memset(&root, 0, sizeof root);
  int rc = 0;
  for (int r = 1; r <= nrows && rc == 0; r++) {
    lua_rawgeti(L, rows_idx, r);
    int row = lua_gettop(L);
    if (lua_type(L, row) != LUA_TTABLE) {
      lua_pop(L, 1);
      continue; /* the conversion reports it */
    }
    lua_pushnil(L);
    while (rc == 0 && lua_next(L, row)) {
      if (lua_type(L, -2) != LUA_TSTRING) {
        snprintf(errbuf, errlen, "row %d has a %s key; a row's keys are column names", r,
                 lua_kind(L, -2));
        rc = -1;
        lua_pop(L, 2);
        break;
      }
      const char *name = lua_tostring(L, -2);
      if (!known || sr_schema_find(known, name) < 0) {
        inode *k = inode_child(&root, name);
        rc = k ? observe(L, lua_gettop(L), k, 1) : -1;
        if (rc != 0 && !k) snprintf(errbuf, errlen, "out of memory");
      }
      lua_pop(L, 1);
      if (rc != 0) lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  if (rc == 0) {
    qsort(root.kids, (size_t)root.nkids, sizeof *root.kids, by_name);
    for (int i = 0; i < root.nkids && rc == 0; i++) {
      sr_field *f = sr_schema_add(out, root.kids[i].name, SR_TYPE_STRING);
      rc = f ? resolve(&root.kids[i], f, root.kids[i].name, errbuf, errlen)
             : fail(errbuf, errlen, root.kids[i].name, "out of memory");
    }
  }
  int added = root.nkids;
  inode_clear(&root);
  return rc == 0 ? added : -1;
}

/* --- sr_value -> Lua --------------------------------------------------------------------------- */

void sr_delta_push_value(lua_State *L, const sr_field *f, const sr_value *v) {
  switch (v->kind) {
  case SR_VAL_NULL: lua_pushnil(L); return;
  case SR_VAL_BOOL: lua_pushboolean(L, v->u.b); return;
  case SR_VAL_INT:
    if (f->type == SR_TYPE_LONG) sr_lua_push_int64(L, v->u.i);
    /* values, not numbers: the plan does not know a table's columns, so the sinks go by them */
    else if (f->type == SR_TYPE_TIMESTAMP) sr_lua_push_timestamp(L, v->u.i);
    else if (f->type == SR_TYPE_DATE && v->u.i >= INT32_MIN && v->u.i <= INT32_MAX) sr_lua_push_date(L, (int32_t)v->u.i);
    else lua_pushnumber(L, (lua_Number)v->u.i);
    return;
  case SR_VAL_DOUBLE: lua_pushnumber(L, v->u.d); return;
  case SR_VAL_STRING: case SR_VAL_BINARY:
    if (f->type == SR_TYPE_BINARY) sr_lua_push_binary(L, v->u.str.ptr, v->u.str.len);
    else lua_pushlstring(L, v->u.str.ptr, v->u.str.len);
    return;
  case SR_VAL_STRUCT:
    if (f->type == SR_TYPE_STRUCT && f->children) {
      sr_delta_push_row(L, f->children, v);
      return;
    }
    break;
  case SR_VAL_LIST:
    luaL_checkstack(L, 4, "delta: nested too deep");
    if (f->type == SR_TYPE_ARRAY && f->element) {
      lua_createtable(L, v->u.list.n, 0);
      for (int i = 0; i < v->u.list.n; i++) {
        if (v->u.list.items[i].kind == SR_VAL_NULL) continue; /* a hole, as JSON null gives */
        sr_delta_push_value(L, f->element, &v->u.list.items[i]);
        lua_rawseti(L, -2, i + 1);
      }
      return;
    }
    if (f->type == SR_TYPE_MAP && f->children && f->children->nfields == 2) {
      lua_createtable(L, 0, v->u.list.n);
      for (int i = 0; i < v->u.list.n; i++) {
        const sr_value *e = &v->u.list.items[i];
        if (e->kind != SR_VAL_STRUCT || e->u.list.n != 2 || e->u.list.items[0].kind == SR_VAL_NULL ||
            e->u.list.items[1].kind == SR_VAL_NULL)
          continue;
        sr_delta_push_value(L, &f->children->fields[0], &e->u.list.items[0]);
        sr_delta_push_value(L, &f->children->fields[1], &e->u.list.items[1]);
        lua_rawset(L, -3);
      }
      return;
    }
    break;
  }
  lua_pushnil(L);
}

void sr_delta_push_row(lua_State *L, const sr_schema *s, const sr_value *row) {
  luaL_checkstack(L, 4, "delta: nested too deep");
  lua_createtable(L, 0, s->nfields);
  for (int i = 0; i < s->nfields && i < row->u.list.n; i++) {
    if (row->u.list.items[i].kind == SR_VAL_NULL) continue;
    sr_delta_push_value(L, &s->fields[i], &row->u.list.items[i]);
    lua_setfield(L, -2, s->fields[i].name);
  }
}
