/* Timestamps and dates as Lua values: see lua_types.h. */
#include "lua_types.h"
#include "lua_host.h"
#include "lua_int64.h"

#include <lauxlib.h>
#include <string.h>

/* registry[&helpers_key] = {make_ts, make_date, ts_id, date_id, gc64}, checked on load. */
static const char helpers_key = 't';
enum { H_MAKE_TS = 1, H_MAKE_DATE, H_TS_ID, H_DATE_ID, H_GC64, H_BIN_ID, H_MAKE_BIN };

static const char helpers_src[] =
  "local ffi = require 'ffi'\n"
  "local ok, T = pcall(require, 'streamrun.types')\n"
  "if not ok then return { false, false, 0, 0, 0, 0, false } end\n"  /* a bare state: no typed values */
  "local i64, TS, DATE = ffi.typeof('int64_t'), T.TS, T.DATE\n"
  "return { function(us, lo) if lo then return TS(i64(us) * 4294967296 + lo) end return TS(us) end,\n"
  "  DATE, T.timestamp_id, T.date_id, ffi.abi('gc64') and 1 or 0, T.binary_id, T.binary }\n";

uint16_t sr_lua_cdata_ctypeid(const void *payload, int gc64) {
  uint16_t id;
  memcpy(&id, (const char *)payload - (gc64 ? 6 : 2), sizeof id);
  return id;
}

/* Pushes the helpers table; on its first load in this state, checks the header layout on a
** sample of each type (a mismatch raises: reading ids would be reading garbage). */
static void push_helpers(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&helpers_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (lua_istable(L, -1)) return;
  lua_pop(L, 1);
  if (luaL_loadbuffer(L, helpers_src, sizeof helpers_src - 1, "=streamrun.types.c") != 0) lua_error(L);
  lua_call(L, 0, 1);
  int h = lua_gettop(L);
  lua_rawgeti(L, h, H_GC64);
  int gc64 = (int)lua_tointeger(L, -1);
  lua_rawgeti(L, h, H_TS_ID);
  lua_rawgeti(L, h, H_DATE_ID);
  int ts_id = (int)lua_tointeger(L, -2), date_id = (int)lua_tointeger(L, -1);
  lua_pop(L, 3);
  if (ts_id == 0) return;  /* not loadable (yet: it may be loading): not kept, tried again */
  lua_rawgeti(L, h, H_MAKE_TS);
  lua_pushnumber(L, 1);
  lua_call(L, 1, 1);
  lua_rawgeti(L, h, H_MAKE_DATE);
  lua_pushnumber(L, 1);
  lua_call(L, 1, 1);
  if (sr_lua_cdata_ctypeid(lua_topointer(L, -2), gc64) != ts_id ||
      sr_lua_cdata_ctypeid(lua_topointer(L, -1), gc64) != date_id)
    luaL_error(L, "streamrun: this LuaJIT's cdata header is not the layout streamrun reads");
  lua_pop(L, 2);
  lua_rawgeti(L, h, H_BIN_ID);
  int bin_id = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  lua_rawgeti(L, h, H_MAKE_BIN);
  lua_pushliteral(L, "x");
  lua_call(L, 1, 1);
  if (sr_lua_cdata_ctypeid(lua_topointer(L, -1), gc64) != bin_id)
    luaL_error(L, "streamrun: this LuaJIT's cdata header is not the layout streamrun reads");
  lua_pop(L, 1);
  lua_pushlightuserdata(L, (void *)&helpers_key);  /* kept only once checked */
  lua_pushvalue(L, h);
  lua_rawset(L, LUA_REGISTRYINDEX);
}

sr_lua_vtype sr_lua_typed(lua_State *L, int idx, int64_t *us, int32_t *days) {
  if (lua_type(L, idx) != SR_LUA_TCDATA) return SR_LV_OTHER;
  const void *p = lua_topointer(L, idx);
  push_helpers(L);
  lua_rawgeti(L, -1, H_GC64);
  lua_rawgeti(L, -2, H_TS_ID);
  lua_rawgeti(L, -3, H_DATE_ID);
  lua_rawgeti(L, -4, H_BIN_ID);
  int gc64 = (int)lua_tointeger(L, -4);
  int ts_id = (int)lua_tointeger(L, -3), date_id = (int)lua_tointeger(L, -2);
  int bin_id = (int)lua_tointeger(L, -1);
  lua_pop(L, 5);
  if (ts_id == 0) return SR_LV_OTHER;
  uint16_t id = sr_lua_cdata_ctypeid(p, gc64);
  if (id == ts_id) {
    if (us) memcpy(us, p, sizeof *us);
    return SR_LV_TIMESTAMP;
  }
  if (id == date_id) {
    if (days) memcpy(days, p, sizeof *days);
    return SR_LV_DATE;
  }
  if (id == bin_id) return SR_LV_BINARY;
  return SR_LV_OTHER;
}

void sr_lua_push_timestamp(lua_State *L, int64_t us) {
  push_helpers(L);
  lua_rawgeti(L, -1, H_MAKE_TS);
  lua_remove(L, -2);
  if (!lua_isfunction(L, -1)) {  /* a bare state: ms, as before the values */
    lua_pop(L, 1);
    sr_lua_push_int64(L, us / 1000 - (us % 1000 < 0));
    return;
  }
  if (us >= -SR_LUA_EXACT_MAX && us <= SR_LUA_EXACT_MAX) {
    lua_pushnumber(L, (lua_Number)us);
    lua_call(L, 1, 1);
    return;
  }
  uint64_t u = (uint64_t)us;
  lua_pushnumber(L, (lua_Number)(int32_t)(uint32_t)(u >> 32));
  lua_pushnumber(L, (lua_Number)(uint32_t)u);
  lua_call(L, 2, 1);
}

void sr_lua_push_date(lua_State *L, int32_t days) {
  push_helpers(L);
  lua_rawgeti(L, -1, H_MAKE_DATE);
  lua_remove(L, -2);
  if (lua_isnil(L, -1) || lua_isboolean(L, -1)) {  /* a bare state: days */
    lua_pop(L, 1);
    lua_pushnumber(L, days);
    return;
  }
  lua_pushnumber(L, days);
  lua_call(L, 1, 1);
}

void sr_lua_push_timestamp_value(lua_State *L, int64_t us) {
  if (us % 1000 == 0 && us / 1000 >= -SR_LUA_EXACT_MAX && us / 1000 <= SR_LUA_EXACT_MAX)
    lua_pushnumber(L, (lua_Number)(us / 1000));
  else
    sr_lua_push_timestamp(L, us);
}

void sr_lua_push_binary(lua_State *L, const void *p, size_t len) {
  push_helpers(L);
  lua_rawgeti(L, -1, H_MAKE_BIN);
  lua_remove(L, -2);
  if (!lua_isfunction(L, -1)) {  /* a bare state: the bytes as a string */
    lua_pop(L, 1);
    lua_pushlstring(L, p, len);
    return;
  }
  lua_pushlstring(L, p, len);
  lua_call(L, 1, 1);
}

const char *sr_lua_binary_bytes(lua_State *L, int idx, size_t *len) {
  const char *p = lua_topointer(L, idx);  /* struct sr_binary { int32_t len_; uint8_t data_[?]; } */
  int32_t n;
  memcpy(&n, p, sizeof n);
  *len = n > 0 ? (size_t)n : 0;
  return p + sizeof n;
}
