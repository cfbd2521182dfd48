/* `require "streamrun.core"` from a plain LuaJIT (busted specs): the same functions the
** streamrun binary preloads, plus what only specs need: opening and committing state stores
** themselves, which in the binary only the engine does (query.c). */
#include <lauxlib.h>
#include <lua.h>

#include "lua_host.h"
#include "lua_libs.h"
#include "state_parts.h"

static int raise_error(lua_State *L, sr_error *err) {
  lua_pushstring(L, err ? err->message : "state store error");
  sr_error_free(err);
  return lua_error(L);
}

/* state_open(dir, version [, partitions]) -> an operator's state in dir/<p>/ (a light
** userdata, as the engine passes it) */
static int l_state_open(lua_State *L) {
  sr_error *err = NULL;
  sr_state_parts *ps = sr_state_parts_open(luaL_checkstring(L, 1), (int)luaL_optinteger(L, 3, 1),
                                           (int64_t)luaL_checknumber(L, 2), NULL, &err);
  if (!ps) return raise_error(L, err);
  lua_pushlightuserdata(L, ps);
  return 1;
}

static int l_state_commit(lua_State *L) {
  sr_error *err = NULL;
  if (sr_state_parts_commit(lua_touserdata(L, 1), &err) != SR_OK) return raise_error(L, err);
  return 0;
}

static int l_state_close(lua_State *L) {
  sr_state_parts_close(lua_touserdata(L, 1));
  return 0;
}

int luaopen_streamrun_core(lua_State *L) {
  sr_register_core_libs();
  sr_lua_open_core(L);
  lua_pushcfunction(L, l_state_open);
  lua_setfield(L, -2, "state_open");
  lua_pushcfunction(L, l_state_commit);
  lua_setfield(L, -2, "state_commit");
  lua_pushcfunction(L, l_state_close);
  lua_setfield(L, -2, "state_close");
  return 1;
}
