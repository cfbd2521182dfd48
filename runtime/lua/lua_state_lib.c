/*
** The state store's Lua bindings (see lua_state_lib.h): keys and values cross as packed bytes
** (lua_pack.c), a batch's keys in one call.
*/
#include "lua_state_lib.h"
#include "lua_aux.h"
#include "lua_pack.h"

#include <lauxlib.h>

#define HANDLE_MT "streamrun.state" /* the metatable of state handles, in the registry */

/* A state handle: an operator's partitions (state_parts.h; each key goes to its own), or
** NULL once detached. */
typedef struct handle {
  sr_state_parts *ps;
  int owned; /* collecting the handle closes ps */
} handle;

static int handle_gc(lua_State *L) {
  handle *h = lua_touserdata(L, 1);
  if (h->owned) sr_state_parts_close(h->ps);
  h->ps = NULL;
  return 0;
}

void sr_lua_push_state(lua_State *L, sr_state_parts *ps, int owned) {
  handle *h = sr_lua_newudata(L, sizeof *h, HANDLE_MT, handle_gc);
  h->ps = ps;
  h->owned = owned;
}

sr_state_parts *sr_lua_check_state(lua_State *L, int idx) {
  handle *h = sr_lua_checkudata(L, idx, HANDLE_MT, "state store handle");
  if (!h->ps) luaL_argerror(L, idx, "state store handle used after its batch or close");
  return h->ps;
}

sr_state_parts *sr_lua_state_detach(lua_State *L, int idx) {
  handle *h = luaL_testudata(L, idx, HANDLE_MT);
  if (!h) return NULL;
  sr_state_parts *ps = h->ps;
  h->ps = NULL;
  h->owned = 0;
  return ps;
}

/* The count argument at i, or #t. */
static int opt_count(lua_State *L, int i, int t) {
  luaL_checktype(L, t, LUA_TTABLE);
  return lua_isnoneornil(L, i) ? (int)lua_objlen(L, t) : luaL_checkint(L, i);
}

/* Pushes the unpacked stored bytes or raises. */
static void unpack_or_raise(lua_State *L, const void *p, size_t n) {
  if (sr_lua_unpack(L, p, n) != 0)
    luaL_error(L, "a state entry is not a packed Lua value (%d bytes)", (int)n);
}

static int l_pack(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  sr_lua_packer *pk = sr__lua_packer_begin(L, "state value");
  sr_buf *val = sr__lua_packer_value(pk);
  sr__lua_pack_or_raise(L, pk, 1, "state value", val);
  lua_pushlstring(L, val->data, val->len);
  return 1;
}

static int l_unpack(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  if (sr_lua_unpack(L, s, n) != 0) luaL_argerror(L, 1, "not a packed Lua value");
  return 1;
}

static int l_get_many(lua_State *L) {
  sr_state_parts *ps = sr_lua_check_state(L, 1);
  int n = opt_count(L, 3, 2);
  lua_settop(L, 3);
  sr_lua_packer *pk = sr__lua_packer_begin(L, "state key");
  sr_buf *key = sr__lua_packer_key(pk);
  lua_createtable(L, n, 0);
  int values = lua_gettop(L);
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, 2, i);
    sr__lua_pack_or_raise(L, pk, values + 1, "state key", key);
    lua_pop(L, 1);
    const void *v;
    size_t vlen;
    sr_state_store *st = sr_state_parts_route(ps, key->data, key->len);
    if (!sr_state_get(st, key->data, key->len, &v, &vlen)) continue;
    unpack_or_raise(L, v, vlen);
    lua_rawseti(L, values, i);
  }
  lua_pushinteger(L, n);
  return 2;
}

static int l_put_many(lua_State *L) {
  sr_state_parts *ps = sr_lua_check_state(L, 1);
  luaL_checktype(L, 3, LUA_TTABLE);
  int n = opt_count(L, 4, 2);
  lua_settop(L, 4);
  sr_lua_packer *pk = sr__lua_packer_begin(L, "state key");
  sr_buf *key = sr__lua_packer_key(pk);
  sr_buf *val = sr__lua_packer_value(pk);
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, 2, i);
    lua_rawgeti(L, 3, i);
    sr__lua_pack_or_raise(L, pk, -2, "state key", key);
    sr_state_store *st = sr_state_parts_route(ps, key->data, key->len);
    sr_error *e = NULL;
    if (lua_isnil(L, -1)) {
      if (sr_state_remove(st, key->data, key->len, &e) < 0) sr_lua_raise(L, e, "state store failure");
    } else {
      sr__lua_pack_or_raise(L, pk, lua_gettop(L), "state value", val);
      if (sr_state_put(st, key->data, key->len, val->data, val->len, &e) != SR_OK)
        sr_lua_raise(L, e, "state store failure");
    }
    lua_pop(L, 2);
  }
  return 0;
}

static int l_remove_many(lua_State *L) {
  sr_state_parts *ps = sr_lua_check_state(L, 1);
  int n = opt_count(L, 3, 2), removed = 0;
  lua_settop(L, 3);
  sr_lua_packer *pk = sr__lua_packer_begin(L, "state key");
  sr_buf *key = sr__lua_packer_key(pk);
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, 2, i);
    sr__lua_pack_or_raise(L, pk, -1, "state key", key);
    lua_pop(L, 1);
    sr_error *e = NULL;
    int r = sr_state_remove(sr_state_parts_route(ps, key->data, key->len), key->data,
                            key->len, &e);
    if (r < 0) sr_lua_raise(L, e, "state store failure");
    removed += r;
  }
  lua_pushinteger(L, removed);
  return 1;
}

static int l_scan(lua_State *L) {
  sr_state_parts *ps = sr_lua_check_state(L, 1);
  sr_state_stats s;
  sr_state_parts_get_stats(ps, &s);
  lua_createtable(L, (int)s.num_rows_total, 0);
  lua_createtable(L, (int)s.num_rows_total, 0);
  sr_state_iter it;
  const void *k, *v;
  size_t kl, vl;
  int n = 0;
  for (int p = 0; p < sr_state_parts_count(ps); p++) {
    sr_state_iter_init(sr_state_parts_at(ps, p), &it);
    while (sr_state_iter_next(&it, &k, &kl, &v, &vl)) {
      n++;
      unpack_or_raise(L, k, kl);
      lua_rawseti(L, -3, n);
      unpack_or_raise(L, v, vl);
      lua_rawseti(L, -2, n);
    }
  }
  lua_pushinteger(L, n);
  return 3;
}

static int l_stats(lua_State *L) {
  sr_state_stats s;
  sr_state_parts_get_stats(sr_lua_check_state(L, 1), &s);
  lua_createtable(L, 0, 6);
  const struct { const char *name; int64_t v; } f[] = {
      {"version", s.version}, {"num_rows_total", s.num_rows_total},
      {"num_rows_updated", s.num_rows_updated}, {"num_rows_removed", s.num_rows_removed},
      {"memory_used_bytes", s.memory_used_bytes}, {"commit_time_ms", s.commit_time_ms}};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    lua_pushnumber(L, (lua_Number)f[i].v);
    lua_setfield(L, -2, f[i].name);
  }
  return 1;
}

int sr_open_state_lib(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"pack", l_pack}, {"unpack", l_unpack}, {"get_many", l_get_many}, {"put_many", l_put_many},
      {"remove_many", l_remove_many}, {"scan", l_scan}, {"stats", l_stats}, {NULL, NULL}};
  sr__lua_packer_begin(L, "state value"); /* makes the packer's cache now, not in a batch */
  lua_pop(L, 1);
  lua_createtable(L, 0, (int)(sizeof fns / sizeof fns[0]) - 1);
  for (const luaL_Reg *r = fns; r->name; r++) {
    lua_pushcfunction(L, r->func);
    lua_setfield(L, -2, r->name);
  }
  return 1;
}
