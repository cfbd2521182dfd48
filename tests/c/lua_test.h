/*
** Running Lua snippets in a C test: a snippet that must run (an error fails the test with
** Lua's message, its traceback and the C line that ran it) and one that must fail with a
** given message.
*/
#ifndef SR_LUA_TEST_H
#define SR_LUA_TEST_H
#include <lauxlib.h>
#include <string.h>

#include "sr_test.h"

static inline int lua_test_traceback(lua_State *L) {
  luaL_traceback(L, L, lua_tostring(L, 1), 1);
  return 1;
}

#define run_lua(L, code) lua_test_run((L), (code), __LINE__)
static inline void lua_test_run(lua_State *L, const char *code, int line) {
  int top = lua_gettop(L);
  lua_pushcfunction(L, lua_test_traceback);
  if (luaL_loadstring(L, code) != 0 || lua_pcall(L, 0, 0, top + 1) != 0)
    SR_FAIL("line %d: Lua: %s", line, lua_tostring(L, -1));
  lua_settop(L, top);
}

#define run_lua_fails(L, code, needle) lua_test_fails((L), (code), (needle), __LINE__)
static inline void lua_test_fails(lua_State *L, const char *code, const char *needle, int line) {
  int top = lua_gettop(L);
  if (luaL_loadstring(L, code) != 0) SR_FAIL("line %d: Lua: %s", line, lua_tostring(L, -1));
  if (lua_pcall(L, 0, 0, 0) == 0) SR_FAIL("line %d: Lua code did not fail: %s", line, code);
  const char *m = lua_tostring(L, -1);
  if (!m || !strstr(m, needle))
    SR_FAIL("line %d: error \"%s\" lacks \"%s\"", line, m ? m : "(null)", needle);
  lua_settop(L, top);
}

#endif
