/* lua_host's helpers for C code that works on Lua arrays. */
#include <lauxlib.h>
#include <lualib.h>

#include "lua_host.h"
#include "sr_test.h"

/* t (a global) as "v1 v2 ...", nil as "-", over t[1..n]. */
static const char *listing(lua_State *L, int n) {
  lua_pushinteger(L, n);
  lua_setglobal(L, "n");
  if (luaL_dostring(L, "local out = {}\n"
                       "for i = 1, n do out[i] = t[i] == nil and '-' or tostring(t[i]) end\n"
                       "return table.concat(out, ' ')") != 0)
    SR_FAIL("Lua: %s", lua_tostring(L, -1));
  const char *s = lua_tostring(L, -1);
  lua_pop(L, 1);
  return s; /* interned: alive while the state is */
}

/* A sparse t[1..8] from Lua source, then sr_lua_close_holes over [first, last]. */
static int close_holes(lua_State *L, const char *make, int first, int last) {
  if (luaL_dostring(L, make) != 0) SR_FAIL("Lua: %s", lua_tostring(L, -1));
  lua_getglobal(L, "t");
  int top = lua_gettop(L);
  int n = sr_lua_close_holes(L, -1, first, last);
  ASSERT_EQ_INT(lua_gettop(L), top); /* leaves the stack as it was */
  lua_pop(L, 1);
  return n;
}

SR_TEST(close_holes_keeps_order_and_clears_the_tail) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  /* holes in the middle and at the end of the span; t[1] and t[8] are outside it */
  ASSERT_EQ_INT(close_holes(L, "t = {'x', 'a', nil, 'b', nil, nil, 'c', 'y'}", 2, 7), 3);
  ASSERT_EQ_STR(listing(L, 8), "x a b c - - - y");
  /* no hole: nothing moves */
  ASSERT_EQ_INT(close_holes(L, "t = {1, 2, 3, 4}", 1, 4), 4);
  ASSERT_EQ_STR(listing(L, 4), "1 2 3 4");
  /* only holes, and a hole first */
  ASSERT_EQ_INT(close_holes(L, "t = {}", 1, 5), 0);
  ASSERT_EQ_STR(listing(L, 5), "- - - - -");
  ASSERT_EQ_INT(close_holes(L, "t = {}; t[3] = 'z'", 1, 3), 1);
  ASSERT_EQ_STR(listing(L, 3), "z - -");
  /* tables move as values (rows) */
  ASSERT_EQ_INT(close_holes(L, "t = {}; t[2] = {k = 1}; t[4] = {k = 2}", 1, 4), 2);
  ASSERT_EQ_INT(luaL_dostring(L, "return t[1].k * 10 + t[2].k"), 0);
  ASSERT_EQ_INT(lua_tointeger(L, -1), 12);
  lua_close(L);
}

int main(void) { return SR_RUN(close_holes_keeps_order_and_clears_the_tail); }
