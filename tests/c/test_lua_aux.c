/* lua_aux.h: absolute indices, raising an sr_error, userdata with __gc checked by metatable. */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "lua_aux.h"
#include "sr_test.h"

SR_TEST(absindex) {
  lua_State *L = luaL_newstate();
  lua_pushinteger(L, 1);
  lua_pushinteger(L, 2);
  ASSERT_EQ_INT(sr_lua_absindex(L, -1), 2);
  ASSERT_EQ_INT(sr_lua_absindex(L, -2), 1);
  ASSERT_EQ_INT(sr_lua_absindex(L, 1), 1);
  ASSERT_EQ_INT(sr_lua_absindex(L, LUA_REGISTRYINDEX), LUA_REGISTRYINDEX);
  ASSERT_EQ_INT(sr_lua_absindex(L, LUA_GLOBALSINDEX), LUA_GLOBALSINDEX);
  ASSERT_EQ_INT(sr_lua_absindex(L, lua_upvalueindex(1)), lua_upvalueindex(1));
  lua_close(L);
}

static int raises(lua_State *L) {
  sr_error *e = NULL;
  sr_error_set(&e, SR_ERROR, "the %s is gone", (const char *)lua_touserdata(L, 1));
  return sr_lua_raise(L, e, "fallback");
}

static int raises_null(lua_State *L) { return sr_lua_raise(L, NULL, "fallback"); }

SR_TEST(raise_error) {
  lua_State *L = luaL_newstate();
  lua_pushcfunction(L, raises);
  lua_pushlightuserdata(L, "file");
  ASSERT_EQ_INT(lua_pcall(L, 1, 0, 0), LUA_ERRRUN);
  ASSERT_EQ_STR(lua_tostring(L, -1), "the file is gone");
  lua_pushcfunction(L, raises_null);
  ASSERT_EQ_INT(lua_pcall(L, 0, 0, 0), LUA_ERRRUN);
  ASSERT_EQ_STR(lua_tostring(L, -1), "fallback");
  lua_close(L);
}

static int collected;
typedef struct box { int owned; char pad[60]; } box;
static int box_gc(lua_State *L) {
  box *b = lua_touserdata(L, 1);
  collected += 1 + b->owned;
  return 0;
}

static int check_box(lua_State *L) {
  sr_lua_checkudata(L, 1, "test.box", "box");
  return 0;
}

SR_TEST(userdata) {
  lua_State *L = luaL_newstate();
  collected = 0;
  box *a = sr_lua_newudata(L, sizeof *a, "test.box", box_gc);
  static const box zero;
  ASSERT_TRUE(memcmp(a, &zero, sizeof zero) == 0);
  a->owned = 10;
  box *b = sr_lua_newudata(L, sizeof *b, "test.box", box_gc);
  ASSERT_TRUE(lua_getmetatable(L, -1) && lua_getmetatable(L, -3));
  ASSERT_TRUE(lua_rawequal(L, -1, -2));  /* one metatable, made once */
  lua_pop(L, 2);
  ASSERT_TRUE(sr_lua_checkudata(L, -2, "test.box", "box") == a);
  ASSERT_TRUE(sr_lua_checkudata(L, -1, "test.box", "box") == b);
  ASSERT_EQ_INT(sr_lua_newmetatable(L, "test.box", box_gc), 0);
  lua_pop(L, 1);
  lua_pushcfunction(L, check_box);
  lua_newuserdata(L, sizeof(box));  /* a userdata of another kind */
  ASSERT_EQ_INT(lua_pcall(L, 1, 0, 0), LUA_ERRRUN);
  ASSERT_TRUE(strstr(lua_tostring(L, -1), "box expected, got userdata") != NULL);
  lua_pop(L, 1);
  lua_pushcfunction(L, check_box);
  lua_pushinteger(L, 3);
  ASSERT_EQ_INT(lua_pcall(L, 1, 0, 0), LUA_ERRRUN);
  ASSERT_TRUE(strstr(lua_tostring(L, -1), "box expected, got number") != NULL);
  lua_close(L);
  ASSERT_EQ_INT(collected, 12);  /* both collected, the one that owned something too */
}

int main(void) { return SR_RUN(absindex, raise_error, userdata); }
