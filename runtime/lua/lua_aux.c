/* The C<->Lua boundary's auxiliary layer: see lua_aux.h. */
#include "lua_aux.h"

#include <stdio.h>
#include <string.h>

int sr_lua_raise(lua_State *L, sr_error *e, const char *fallback) {
  char msg[4096];
  snprintf(msg, sizeof msg, "%s", e ? e->message : fallback);
  sr_error_free(e);
  return luaL_error(L, "%s", msg);
}

int sr_lua_newmetatable(lua_State *L, const char *tname, lua_CFunction gc) {
  if (!luaL_newmetatable(L, tname)) return 0;
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__gc");
  return 1;
}

void *sr_lua_newudata(lua_State *L, size_t size, const char *tname, lua_CFunction gc) {
  void *p = lua_newuserdata(L, size);
  memset(p, 0, size);
  sr_lua_newmetatable(L, tname, gc);
  lua_setmetatable(L, -2);
  return p;
}

void *sr_lua_checkudata(lua_State *L, int idx, const char *tname, const char *what) {
  void *p = luaL_testudata(L, idx, tname);
  if (!p) luaL_typerror(L, idx, what);
  return p;
}
