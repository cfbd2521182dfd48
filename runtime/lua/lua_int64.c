/* Exact 64-bit integers in LuaJIT: see lua_int64.h. */
#include "lua_int64.h"
#include "lua_aux.h"
#include "lua_host.h"

#include <lauxlib.h>
#include <math.h>
#include <string.h>

/* The registry holds {make, kind} under this key's address. make(hi, lo) builds an int64_t
** from two 32-bit halves (numbers are exact there, so no precision is lost on the way in);
** kind(x) says 1 for an int64_t cdata, 2 for uint64_t, 0 otherwise. */
static const char helpers_key = 'k';
enum { HELPER_MAKE = 1, HELPER_KIND = 2 };

static const char helpers_src[] =
  "local ffi = require 'ffi'\n"
  "local i64, u64, istype = ffi.typeof('int64_t'), ffi.typeof('uint64_t'), ffi.istype\n"
  "return { function(hi, lo) return i64(hi) * 4294967296 + lo end,\n"
  "  function(x) if istype(i64, x) then return 1 elseif istype(u64, x) then return 2 end return 0 end }\n";

static void push_helper(lua_State *L, int which) {
  sr_lua_push_once(L, &helpers_key, helpers_src, sizeof helpers_src - 1, "=streamrun.int64");
  lua_rawgeti(L, -1, which);
  lua_remove(L, -2);
}

void sr_lua_push_int64(lua_State *L, int64_t v) {
  if (v >= -SR_LUA_EXACT_MAX && v <= SR_LUA_EXACT_MAX) {
    lua_pushnumber(L, (lua_Number)v);
    return;
  }
  uint64_t u = (uint64_t)v;
  push_helper(L, HELPER_MAKE);
  lua_pushnumber(L, (lua_Number)(int32_t)(uint32_t)(u >> 32));
  lua_pushnumber(L, (lua_Number)(uint32_t)u);
  lua_call(L, 2, 1);
}

/* 1 for int64_t cdata, 2 for uint64_t cdata, 0 for anything else. */
static int cdata_kind(lua_State *L, int idx) {
  if (lua_type(L, idx) != SR_LUA_TCDATA) return 0;
  idx = sr_lua_absindex(L, idx);
  push_helper(L, HELPER_KIND);
  lua_pushvalue(L, idx);
  lua_call(L, 1, 1);
  int kind = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return kind;
}

int sr_lua_to_int64(lua_State *L, int idx, int64_t *v) {
  if (lua_type(L, idx) == LUA_TNUMBER) {
    double d = lua_tonumber(L, idx);
    /* [-2^63, 2^63) and integral; the bounds are exact doubles. */
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || floor(d) != d) return -1;
    *v = (int64_t)d;
    return 0;
  }
  int kind = cdata_kind(L, idx);
  if (kind == 0) return -1;
  uint64_t u;
  memcpy(&u, lua_topointer(L, idx), sizeof u);
  if (kind == 2 && u > (uint64_t)INT64_MAX) return -1;
  *v = (int64_t)u;
  return 0;
}

int sr_lua_to_uint64(lua_State *L, int idx, uint64_t *v) {
  if (cdata_kind(L, idx) != 2) return -1;
  memcpy(v, lua_topointer(L, idx), sizeof *v);
  return 0;
}
