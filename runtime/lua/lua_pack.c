/*
** sr_lua_pack: Lua values <-> bytes (see lua_pack.h); the state store's Lua bindings that
** use it are lua_state_lib.c.
**
** Scratch memory (one buffer pair per nesting level, for sorting hash parts) lives in a full
** userdata with __gc, kept with the ffi helpers in a table in the registry. So code that runs
** unprotected inside a Lua C function may raise (out of memory) without leaking, and packing
** a batch does no malloc once the buffers have grown.
*/
#include "lua_pack.h"
#include "bytes.h"
#include "lua_aux.h"

#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LUA_TCDATA
#define LUA_TCDATA 10 /* LuaJIT's type tag of FFI cdata; lua.h does not name it */
#endif

/* T_TIMESTAMP (zigzag varint of us), T_DATE (zigzag varint of days) and T_BINARY (varint length,
** bytes) came last: older state has none, and reads the same. */
enum { T_NIL, T_FALSE, T_TRUE, T_INT, T_UINT, T_DOUBLE, T_STRING, T_TABLE, T_TIMESTAMP, T_DATE, T_BINARY };
enum { C_CLASSIFY = 1, C_MK_I64, C_MK_U64, C_PACKER, C_PROTECTED, C_MK_TS, C_MK_DATE, C_MK_BIN };
enum { K_OTHER, K_I64, K_U64, K_TIMESTAMP, K_DATE, K_BINARY }; /* the classifier's kinds of cdata */
enum { P_ARRAY, P_VALUE_OF, P_KEY };

#define EXACT_INT 9007199254740992.0 /* 2^53 */

typedef struct pair {
  size_t koff, klen, voff, vlen;
} pair;

typedef struct level {
  sr_buf keys, vals; /* a table's packed hash keys, and its packed array items then values */
  pair *pairs;
  size_t npairs, cap;
} level;

typedef struct path_elem {
  int kind;      /* P_ARRAY: item `index`; P_VALUE_OF / P_KEY: value of / the key at stack_idx */
  int stack_idx;
  int64_t index;
} path_elem;

typedef struct sr_lua_packer {
  level lv[SR_LUA_PACK_MAX_DEPTH + 1];
  const void *tables[SR_LUA_PACK_MAX_DEPTH + 1]; /* the tables being packed: cycle check */
  path_elem path[SR_LUA_PACK_MAX_DEPTH + 1];
  int classify_idx; /* stack index of the cdata classifier, 0 without ffi */
  const char *what;
  char err[512];
  sr_buf key, val; /* the bindings' packed key and value */
} packer;

static char cache_key; /* registry[&cache_key] = the cache table (C_* fields) */

/* ---- the registry cache ------------------------------------------------------------------ */

static const char ffi_helpers[] =
    "local ffi = require('ffi')\n"
    "local istype, i64, u64 = ffi.istype, ffi.typeof('int64_t'), ffi.typeof('uint64_t')\n"
    "local bi, bu, copy = ffi.new('int64_t[1]'), ffi.new('uint64_t[1]'), ffi.copy\n"
    "local ok, T = pcall(require, 'streamrun.types')\n"
    "local TS, DATE, BIN = ok and T.TS, ok and T.DATE, ok and T.is_binary\n"
    "return function(v)\n"
    "  if istype(i64, v) then return 1 elseif istype(u64, v) then return 2 end\n"
    "  if TS and istype(TS, v) then return 3 elseif DATE and istype(DATE, v) then return 4 end\n"
    "  if BIN and BIN(v) then return 5 end\n"
    "  return 0\n"
    "end, function(s) copy(bi, s, 8) return bi[0] end,\n"
    "function(s) copy(bu, s, 8) return bu[0] end,\n"
    "TS and function(s) copy(bi, s, 8) return TS(bi[0]) end, DATE, ok and T.binary\n";

static int packer_gc(lua_State *L) {
  packer *pk = lua_touserdata(L, 1);
  for (int i = 0; i <= SR_LUA_PACK_MAX_DEPTH; i++) {
    sr_buf_free(&pk->lv[i].keys);
    sr_buf_free(&pk->lv[i].vals);
    free(pk->lv[i].pairs);
  }
  sr_buf_free(&pk->key);
  sr_buf_free(&pk->val);
  return 0;
}

static int pack_protected(lua_State *L);

/* [-0, +1, m] Pushes the cache table, creating it on first use. Without ffi (no `require`),
** the cdata helpers are absent and cdata cannot be packed. */
static void push_cache(lua_State *L) {
  lua_pushlightuserdata(L, &cache_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (!lua_isnil(L, -1)) return;
  lua_pop(L, 1);
  lua_createtable(L, 5, 0);
  int base = lua_gettop(L);
  if (luaL_loadbuffer(L, ffi_helpers, sizeof ffi_helpers - 1, "=sr_lua_pack") == 0 &&
      lua_pcall(L, 0, 6, 0) == 0) {
    lua_rawseti(L, base, C_MK_BIN);
    lua_rawseti(L, base, C_MK_DATE);
    lua_rawseti(L, base, C_MK_TS);
    for (int i = 3; i >= 1; i--) lua_rawseti(L, base, i);
  }
  lua_settop(L, base);
  packer *pk = lua_newuserdata(L, sizeof *pk);
  memset(pk, 0, sizeof *pk);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, packer_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawseti(L, base, C_PACKER);
  lua_pushcfunction(L, pack_protected);
  lua_rawseti(L, base, C_PROTECTED);
  lua_pushlightuserdata(L, &cache_key);
  lua_pushvalue(L, base);
  lua_rawset(L, LUA_REGISTRYINDEX);
}

/* [-0, +0, m] The packer, with its classifier pushed (or 0 when ffi is absent) and its
** classify_idx set: the caller pops one value when done. */
static packer *packer_begin(lua_State *L, const char *what) {
  push_cache(L);
  lua_rawgeti(L, -1, C_PACKER);
  packer *pk = lua_touserdata(L, -1);
  lua_pop(L, 1);
  lua_rawgeti(L, -1, C_CLASSIFY);
  lua_remove(L, -2);
  pk->classify_idx = lua_isnil(L, -1) ? 0 : lua_gettop(L);
  pk->what = what;
  pk->err[0] = '\0';
  return pk;
}

/* ---- packing ------------------------------------------------------------------------------- */

static int put_tagged_int(sr_buf *b, int64_t v) {
  return sr_buf_putc(b, T_INT) || sr_varint_put(b, sr_zigzag(v));
}

/* Appends one path element's text to s (a key shown as .name, ["text"] or [n]). */
static void describe_elem(lua_State *L, const path_elem *e, char *s, size_t size) {
  size_t n = strlen(s);
  if (e->kind == P_ARRAY) {
    snprintf(s + n, size - n, "[%lld]", (long long)e->index);
    return;
  }
  if (e->kind == P_KEY) {
    snprintf(s + n, size - n, "<key>");
    return;
  }
  int t = lua_type(L, e->stack_idx);
  if (t == LUA_TSTRING) {
    size_t len;
    const char *k = lua_tolstring(L, e->stack_idx, &len);
    int ident = len > 0 && len < 64 && !(k[0] >= '0' && k[0] <= '9');
    for (size_t i = 0; i < len && ident; i++)
      ident = k[i] == '_' || (k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
              (k[i] >= '0' && k[i] <= '9');
    if (ident) snprintf(s + n, size - n, ".%s", k);
    else snprintf(s + n, size - n, "[\"%.40s%s\"]", k, len > 40 ? "..." : "");
  } else if (t == LUA_TNUMBER) {
    snprintf(s + n, size - n, "[%.17g]", lua_tonumber(L, e->stack_idx));
  } else if (t == LUA_TBOOLEAN) {
    snprintf(s + n, size - n, "[%s]", lua_toboolean(L, e->stack_idx) ? "true" : "false");
  } else {
    snprintf(s + n, size - n, "[%s]", lua_typename(L, t));
  }
}

/* Sets pk->err to "<what> <path>: <msg>" for a failure at depth. Returns -1. */
static int pack_fail(lua_State *L, packer *pk, int depth, const char *msg) {
  char path[384] = "";
  for (int d = 0; d < depth; d++) describe_elem(L, &pk->path[d], path, sizeof path);
  snprintf(pk->err, sizeof pk->err, "%s%s%s: %s", pk->what, path[0] ? " " : "", path, msg);
  return -1;
}

static int cmp_pairs(const void *a, const void *b, void *ctx) {
  const level *lv = ctx;
  const pair *x = a, *y = b;
  size_t n = x->klen < y->klen ? x->klen : y->klen;
  int c = memcmp(lv->keys.data + x->koff, lv->keys.data + y->koff, n);
  if (c || x->klen != y->klen) return c ? c : (x->klen < y->klen ? -1 : 1);
  /* Equal packed keys (5 and 5LL are distinct Lua keys): order by value for determinism. */
  n = x->vlen < y->vlen ? x->vlen : y->vlen;
  c = memcmp(lv->vals.data + x->voff, lv->vals.data + y->voff, n);
  return c ? c : (x->vlen > y->vlen) - (x->vlen < y->vlen);
}

static int pack_value(lua_State *L, packer *pk, int idx, int depth, sr_buf *out);

/* Packs the table at idx: array part t[1..n] up to the first nil, then the other pairs. */
static int pack_table(lua_State *L, packer *pk, int idx, int depth, sr_buf *out) {
  const void *self = lua_topointer(L, idx);
  for (int d = 0; d < depth; d++)
    if (pk->tables[d] == self) return pack_fail(L, pk, depth, "a table that contains itself cannot be stored");
  if (depth >= SR_LUA_PACK_MAX_DEPTH || !lua_checkstack(L, 4))
    return pack_fail(L, pk, depth, "tables nested this deeply cannot be stored");
  pk->tables[depth] = self;
  level *lv = &pk->lv[depth];
  sr_buf_clear(&lv->keys);
  sr_buf_clear(&lv->vals);
  lv->npairs = 0;
  int64_t narr = 0;
  pk->path[depth].kind = P_ARRAY;
  for (;; narr++) {
    lua_rawgeti(L, idx, (int)(narr + 1));
    if (lua_isnil(L, -1)) break;
    pk->path[depth].index = narr + 1;
    if (pack_value(L, pk, lua_gettop(L), depth + 1, &lv->vals) != 0) return -1;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  size_t arr_bytes = lv->vals.len;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int key = lua_gettop(L) - 1;
    if (lua_type(L, key) == LUA_TNUMBER) {
      double k = lua_tonumber(L, key);
      if (k >= 1 && k <= (double)narr && k == floor(k)) {
        lua_pop(L, 1);
        continue;
      }
    }
    if (lv->npairs == lv->cap) {
      size_t cap = lv->cap ? lv->cap * 2 : 16;
      pair *p = realloc(lv->pairs, cap * sizeof *p);
      if (!p) return pack_fail(L, pk, depth, "out of memory");
      lv->pairs = p;
      lv->cap = cap;
    }
    pair *p = &lv->pairs[lv->npairs++];
    pk->path[depth] = (path_elem){P_KEY, key, 0};
    p->koff = lv->keys.len;
    if (pack_value(L, pk, key, depth + 1, &lv->keys) != 0) return -1;
    p->klen = lv->keys.len - p->koff;
    pk->path[depth] = (path_elem){P_VALUE_OF, key, 0};
    p->voff = lv->vals.len;
    if (pack_value(L, pk, key + 1, depth + 1, &lv->vals) != 0) return -1;
    p->vlen = lv->vals.len - p->voff;
    lua_pop(L, 1);
  }
  if (lv->npairs > 1) qsort_r(lv->pairs, lv->npairs, sizeof(pair), cmp_pairs, lv);
  if (sr_buf_putc(out, T_TABLE) || sr_varint_put(out, (uint64_t)narr) ||
      sr_varint_put(out, lv->npairs) || (arr_bytes && sr_buf_append(out, lv->vals.data, arr_bytes)))
    return pack_fail(L, pk, depth, "out of memory");
  for (size_t i = 0; i < lv->npairs; i++) {
    const pair *p = &lv->pairs[i];
    if (sr_buf_append(out, lv->keys.data + p->koff, p->klen) ||
        sr_buf_append(out, lv->vals.data + p->voff, p->vlen))
      return pack_fail(L, pk, depth, "out of memory");
  }
  return 0;
}

static int pack_cdata(lua_State *L, packer *pk, int idx, int depth, sr_buf *out) {
  int kind = 0;
  if (pk->classify_idx) {
    lua_pushvalue(L, pk->classify_idx);
    lua_pushvalue(L, idx);
    lua_call(L, 1, 1);
    kind = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  if (!kind)
    return pack_fail(L, pk, depth, "a cdata other than int64_t, uint64_t, timestamp, date or binary cannot be stored");
  int rc;
  if (kind == K_BINARY) {
    const unsigned char *b = lua_topointer(L, idx);
    int32_t len;
    memcpy(&len, b, sizeof len);
    size_t n = len > 0 ? (size_t)len : 0;
    rc = sr_buf_putc(out, T_BINARY) || sr_varint_put(out, n) || sr_buf_append(out, b + sizeof len, n);
    return rc ? pack_fail(L, pk, depth, "out of memory") : 0;
  }
  if (kind == K_DATE) {
    int32_t days;
    memcpy(&days, lua_topointer(L, idx), sizeof days);
    rc = sr_buf_putc(out, T_DATE) || sr_varint_put(out, sr_zigzag(days));
    return rc ? pack_fail(L, pk, depth, "out of memory") : 0;
  }
  uint64_t u;
  memcpy(&u, lua_topointer(L, idx), 8);
  if (kind == K_TIMESTAMP) {
    rc = sr_buf_putc(out, T_TIMESTAMP) || sr_varint_put(out, sr_zigzag((int64_t)u));
  } else {
    rc = kind == K_U64 && u > INT64_MAX ? sr_buf_putc(out, T_UINT) || sr_varint_put(out, u)
                                        : put_tagged_int(out, (int64_t)u);
  }
  return rc ? pack_fail(L, pk, depth, "out of memory") : 0;
}

int sr_lua_pack_scalar(lua_State *L, int idx, sr_buf *out) {
  int rc;
  switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
      rc = sr_buf_putc(out, lua_toboolean(L, idx) ? T_TRUE : T_FALSE);
      break;
    case LUA_TNUMBER: {
      double d = lua_tonumber(L, idx);
      if (d == floor(d) && fabs(d) <= EXACT_INT) {
        rc = put_tagged_int(out, (int64_t)d);
        break;
      }
      uint64_t bits;
      memcpy(&bits, &d, 8);
      if (d != d) bits = UINT64_C(0x7FF8000000000000); /* one NaN, for determinism */
      unsigned char b[9] = {T_DOUBLE};
      sr_store_le64(b + 1, bits);
      rc = sr_buf_append(out, b, sizeof b);
      break;
    }
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      rc = sr_buf_putc(out, T_STRING) || sr_varint_put(out, len) || sr_buf_append(out, s, len);
      break;
    }
    default:
      return 0;
  }
  return rc ? -1 : 1;
}

static int pack_value(lua_State *L, packer *pk, int idx, int depth, sr_buf *out) {
  int rc = 0;
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
      rc = sr_buf_putc(out, T_NIL);
      break;
    case LUA_TBOOLEAN:
    case LUA_TNUMBER:
    case LUA_TSTRING:
      rc = sr_lua_pack_scalar(L, idx, out) < 0;
      break;
    case LUA_TTABLE:
      return pack_table(L, pk, idx, depth, out);
    case LUA_TCDATA:
      return pack_cdata(L, pk, idx, depth, out);
    case LUA_TFUNCTION:
      return pack_fail(L, pk, depth, "a function cannot be stored");
    case LUA_TTHREAD:
      return pack_fail(L, pk, depth, "a coroutine cannot be stored");
    default:
      return pack_fail(L, pk, depth, "a userdata cannot be stored");
  }
  return rc ? pack_fail(L, pk, depth, "out of memory") : 0;
}

/* For lua_cpcall: builds the cache under protection, so sr_lua_pack never raises. */
static int build_cache(lua_State *L) {
  push_cache(L);
  return 0;
}

typedef struct pack_call {
  const char *what;
  sr_buf *out;
  char *errbuf;
  size_t errlen;
  int rc;
} pack_call;

/* Called through lua_pcall with (value, pack_call *). */
static int pack_protected(lua_State *L) {
  pack_call *c = lua_touserdata(L, 2);
  packer *pk = packer_begin(L, c->what);
  c->rc = pack_value(L, pk, 1, 0, c->out);
  if (c->rc != 0 && c->errlen) snprintf(c->errbuf, c->errlen, "%s", pk->err);
  return 0;
}

int sr_lua_pack_as(lua_State *L, int idx, const char *what, sr_buf *out, char *errbuf,
                   size_t errlen) {
  int top = lua_gettop(L);
  size_t len0 = out->len;
  idx = sr_lua_absindex(L, idx);
  pack_call c = {what, out, errbuf, errlen, -1};
  if (!lua_checkstack(L, 4)) {
    snprintf(errbuf, errlen, "%s: Lua stack overflow", what);
    return -1;
  }
  lua_pushlightuserdata(L, &cache_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (!lua_istable(L, -1) && lua_cpcall(L, build_cache, NULL) != 0) {
    lua_settop(L, top);
    snprintf(errbuf, errlen, "%s: out of memory", what);
    return -1;
  }
  lua_settop(L, top);
  push_cache(L);
  lua_rawgeti(L, -1, C_PROTECTED);
  lua_pushvalue(L, idx);
  lua_pushlightuserdata(L, &c);
  if (lua_pcall(L, 2, 0, 0) != 0) {
    const char *m = lua_tostring(L, -1);
    snprintf(errbuf, errlen, "%s: %s", what, m ? m : "out of memory");
    c.rc = -1;
  }
  lua_settop(L, top);
  if (c.rc != 0) {
    out->len = len0;
    if (out->data) out->data[len0] = '\0';
  }
  return c.rc;
}

int sr_lua_pack(lua_State *L, int idx, sr_buf *out, char *errbuf, size_t errlen) {
  return sr_lua_pack_as(L, idx, "state value", out, errbuf, errlen);
}

/* ---- unpacking ----------------------------------------------------------------------------- */

/* Pushes an int64 or uint64 value as a number when exact, else as cdata via the cache's maker
** (at stack index cache). Returns 0, or -1 without ffi. */
static int push_integer(lua_State *L, int cache, uint64_t bits, int is_unsigned) {
  int64_t s = (int64_t)bits;
  if (is_unsigned ? bits <= (uint64_t)EXACT_INT : (s >= -(int64_t)EXACT_INT && s <= (int64_t)EXACT_INT)) {
    lua_pushnumber(L, is_unsigned ? (double)bits : (double)s);
    return 0;
  }
  lua_rawgeti(L, cache, is_unsigned ? C_MK_U64 : C_MK_I64);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return -1;
  }
  lua_pushlstring(L, (const char *)&bits, 8);
  lua_call(L, 1, 1);
  return 0;
}

/* Pushes one value from p; returns the byte after it, or NULL (the caller resets the stack). */
static const unsigned char *unpack_value(lua_State *L, int cache, const unsigned char *p,
                                         const unsigned char *end, int depth) {
  uint64_t a, b;
  if (p >= end || depth > SR_LUA_PACK_MAX_DEPTH || !lua_checkstack(L, 4)) return NULL;
  switch (*p++) {
    case T_NIL: lua_pushnil(L); return p;
    case T_FALSE: lua_pushboolean(L, 0); return p;
    case T_TRUE: lua_pushboolean(L, 1); return p;
    case T_INT:
      if (!(p = sr_varint_get(p, end, &a))) return NULL;
      return push_integer(L, cache, (uint64_t)sr_unzigzag(a), 0) ? NULL : p;
    case T_UINT:
      if (!(p = sr_varint_get(p, end, &a))) return NULL;
      return push_integer(L, cache, a, 1) ? NULL : p;
    case T_BINARY:
      if (!(p = sr_varint_get(p, end, &a)) || a > (uint64_t)(end - p)) return NULL;
      lua_rawgeti(L, cache, C_MK_BIN);
      if (lua_isnil(L, -1) || lua_isboolean(L, -1)) return NULL; /* no streamrun.types here */
      lua_pushlstring(L, (const char *)p, (size_t)a);
      lua_call(L, 1, 1);
      return p + a;
    case T_TIMESTAMP:
    case T_DATE: {
      int is_ts = p[-1] == T_TIMESTAMP;
      if (!(p = sr_varint_get(p, end, &a))) return NULL;
      int64_t v = sr_unzigzag(a);
      if (!is_ts && (v < INT32_MIN || v > INT32_MAX)) return NULL;
      lua_rawgeti(L, cache, is_ts ? C_MK_TS : C_MK_DATE);
      if (lua_isnil(L, -1) || lua_isboolean(L, -1)) return NULL; /* no streamrun.types here */
      if (is_ts) lua_pushlstring(L, (const char *)&v, 8);
      else lua_pushnumber(L, (lua_Number)v);
      lua_call(L, 1, 1);
      return p;
    }
    case T_DOUBLE: {
      if (end - p < 8) return NULL;
      uint64_t bits = sr_load_le64(p);
      double d;
      memcpy(&d, &bits, 8);
      lua_pushnumber(L, d);
      return p + 8;
    }
    case T_STRING:
      if (!(p = sr_varint_get(p, end, &a)) || a > (uint64_t)(end - p)) return NULL;
      lua_pushlstring(L, (const char *)p, (size_t)a);
      return p + a;
    case T_TABLE: {
      /* Every item takes at least one byte: bound the sizes before allocating. */
      if (!(p = sr_varint_get(p, end, &a)) || !(p = sr_varint_get(p, end, &b)) ||
          a > (uint64_t)(end - p) || b > (uint64_t)(end - p) / 2 || a + b > INT32_MAX)
        return NULL;
      lua_createtable(L, (int)a, (int)b);
      int t = lua_gettop(L);
      for (uint64_t i = 1; i <= a; i++) {
        if (!(p = unpack_value(L, cache, p, end, depth + 1))) return NULL;
        lua_rawseti(L, t, (int)i);
      }
      for (uint64_t i = 0; i < b; i++) {
        if (!(p = unpack_value(L, cache, p, end, depth + 1))) return NULL;
        if (lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) != lua_tonumber(L, -1)))
          return NULL; /* nil and NaN cannot be keys */
        if (!(p = unpack_value(L, cache, p, end, depth + 1))) return NULL;
        lua_rawset(L, t);
      }
      return p;
    }
    default:
      return NULL;
  }
}

int sr_lua_unpack(lua_State *L, const void *p, size_t n) {
  int top = lua_gettop(L);
  push_cache(L);
  const unsigned char *end = (const unsigned char *)p + n;
  const unsigned char *q = unpack_value(L, top + 1, p, end, 0);
  if (q != end) {
    lua_settop(L, top);
    return -1;
  }
  lua_remove(L, top + 1);
  return 0;
}

/* ---- packing inside a Lua C function ------------------------------------------------------- */

sr_lua_packer *sr__lua_packer_begin(lua_State *L, const char *what) {
  return packer_begin(L, what);
}

sr_buf *sr__lua_packer_key(sr_lua_packer *pk) { return &pk->key; }
sr_buf *sr__lua_packer_value(sr_lua_packer *pk) { return &pk->val; }

/* Packs the value at idx into b (cleared first) or raises with the packer's message. The
** packer must be begun (its classifier on the stack). */
void sr__lua_pack_or_raise(lua_State *L, sr_lua_packer *pk, int idx, const char *what,
                           sr_buf *b) {
  idx = sr_lua_absindex(L, idx);
  sr_buf_clear(b);
  pk->what = what;
  if (pack_value(L, pk, idx, 0, b) != 0) luaL_error(L, "%s", pk->err);
}
