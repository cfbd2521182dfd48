/* Timestamps and dates as Lua values, seen from C: the cdata header layout lua_types.c reads
** (a LuaJIT that moved ctypeid fails here, loudly), reading and making them, and their packing
** in state (lua_pack.c) and as JSON. */
#include <lauxlib.h>
#include <string.h>

#include "json_rows.h"
#include "lua_host.h"
#include "lua_int64.h"
#include "lua_libs.h"
#include "lua_pack.h"
#include "lua_types.h"
#include "buf.h"
#include "sr_test.h"

static lua_State *new_state(void) {
  lua_State *L = sr_lua_new(NULL);
  ASSERT_TRUE(L != NULL);
  return L;
}

/* Pushes what the Lua expression evaluates to. */
static void eval(lua_State *L, const char *expr) {
  char code[512];
  snprintf(code, sizeof code, "local sr = require 'streamrun'; local ffi = require 'ffi'; return %s", expr);
  if (luaL_loadstring(L, code) != 0 || sr_lua_pcall(L, 0, 1) != 0) SR_FAIL("Lua: %s", lua_tostring(L, -1));
}

/* LuaJIT 2.1's GCcdata: GCHeader (GCRef nextgc; uint8_t marked, gct), uint16_t ctypeid, then
** the payload. The id read behind lua_topointer must be what ffi.typeof says. */
SR_TEST(header_layout_is_pinned) {
  lua_State *L = new_state();
  eval(L, "ffi.abi('gc64')");
  int gc64 = lua_toboolean(L, -1);
  eval(L, "tonumber(ffi.typeof(sr.timestamp(0)))");
  eval(L, "sr.timestamp(0)");
  ASSERT_EQ_INT(sr_lua_cdata_ctypeid(lua_topointer(L, -1), gc64), (int)lua_tointeger(L, -2));
  eval(L, "tonumber(ffi.typeof('int64_t'))");
  eval(L, "5LL");
  ASSERT_EQ_INT(sr_lua_cdata_ctypeid(lua_topointer(L, -1), gc64), (int)lua_tointeger(L, -2));
  sr_lua_close(L);
}

SR_TEST(reads_and_makes_values) {
  lua_State *L = new_state();
  int64_t us = 0;
  int32_t days = 0;
  eval(L, "sr.timestamp('2026-11-23T10:00:00.000001Z')");
  ASSERT_EQ_INT(sr_lua_typed(L, -1, &us, &days), SR_LV_TIMESTAMP);
  ASSERT_EQ_INT(us, 1795428000000001LL);
  eval(L, "sr.date('2026-11-23')");
  ASSERT_EQ_INT(sr_lua_typed(L, -1, &us, &days), SR_LV_DATE);
  ASSERT_EQ_INT(days, 20780);
  eval(L, "2LL^60");
  ASSERT_EQ_INT(sr_lua_typed(L, -1, &us, &days), SR_LV_OTHER);
  eval(L, "1795428000000");
  ASSERT_EQ_INT(sr_lua_typed(L, -1, &us, &days), SR_LV_OTHER);
  lua_settop(L, 0);
  const int64_t samples[] = {0, -1, 1795428000000001LL, INT64_MAX, INT64_MIN, (1LL << 53) + 1};
  for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
    sr_lua_push_timestamp(L, samples[i]);
    ASSERT_EQ_INT(sr_lua_typed(L, -1, &us, NULL), SR_LV_TIMESTAMP);
    ASSERT_EQ_INT(us, samples[i]);
  }
  sr_lua_push_date(L, -3);
  ASSERT_EQ_INT(sr_lua_typed(L, -1, NULL, &days), SR_LV_DATE);
  ASSERT_EQ_INT(days, -3);
  lua_getglobal(L, "tostring");
  lua_pushvalue(L, -2);
  lua_call(L, 1, 1);
  ASSERT_EQ_STR(lua_tostring(L, -1), "1969-12-29");
  sr_lua_close(L);
}

SR_TEST(packs_and_encodes_by_type) {
  lua_State *L = new_state();
  eval(L, "{ at = sr.timestamp('2026-11-23T10:00:00.000001Z'), d = sr.date(20780), n = 1795428000000 }");
  sr_buf b = {0};
  ASSERT_EQ_INT(sr_lua_pack(L, -1, &b, NULL, 0), 0);
  ASSERT_EQ_INT(sr_lua_unpack(L, b.data, b.len), 0);
  lua_getfield(L, -1, "at");
  int64_t us;
  ASSERT_EQ_INT(sr_lua_typed(L, -1, &us, NULL), SR_LV_TIMESTAMP);
  ASSERT_EQ_INT(us, 1795428000000001LL);
  lua_getfield(L, -2, "d");
  int32_t days;
  ASSERT_EQ_INT(sr_lua_typed(L, -1, NULL, &days), SR_LV_DATE);
  ASSERT_EQ_INT(days, 20780);
  lua_getfield(L, -3, "n");
  ASSERT_EQ_INT(lua_type(L, -1), LUA_TNUMBER);
  lua_pop(L, 4);
  sr_buf_clear(&b);
  char err[256];
  ASSERT_EQ_INT(sr_json_encode_value(L, -1, &b, err, sizeof err), 0);
  ASSERT_EQ_STR(b.data, "{\"at\":\"2026-11-23T10:00:00.000001Z\",\"d\":\"2026-11-23\",\"n\":1795428000000}");
  sr_buf_free(&b);
  sr_lua_close(L);
}

int main(void) {
  sr_register_core_libs();
  return SR_RUN(header_layout_is_pinned, reads_and_makes_values, packs_and_encodes_by_type);
}
