/* `require "streamrun.core"` from a plain LuaJIT (busted specs): the same functions the
** streamrun binary preloads, plus what only specs need: opening and committing state stores
** themselves, which in the binary only the engine does (query.c). */
#include <lauxlib.h>
#include <lua.h>

#include "lua_aux.h"
#include "lua_host.h"
#include "lua_libs.h"
#include "lua_state_lib.h"

/* state_open(dir, version [, partitions]) -> an operator's state in dir/<p>/ (a handle as the
** engine passes, which owns the partitions: state_close, or collecting it, closes them) */
static int l_state_open(lua_State *L) {
  sr_error *err = NULL;
  sr_state_parts *ps = sr_state_parts_open(luaL_checkstring(L, 1), (int)luaL_optinteger(L, 3, 1),
                                           (int64_t)luaL_checknumber(L, 2), NULL, &err);
  if (!ps) return sr_lua_raise(L, err, "state store error");
  sr_lua_push_state(L, ps, 1);
  return 1;
}

static int l_state_commit(lua_State *L) {
  sr_error *err = NULL;
  if (sr_state_parts_commit(sr_lua_check_state(L, 1), &err) != SR_OK)
    return sr_lua_raise(L, err, "state store error");
  return 0;
}

static int l_state_close(lua_State *L) {
  sr_state_parts_close(sr_lua_state_detach(L, 1));
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
