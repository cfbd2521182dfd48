/* `require "streamrun.core"` from a plain LuaJIT (busted specs): the same functions the
** streamrun binary preloads. */
#include <lua.h>

#include "lua_host.h"
#include "lua_libs.h"

int luaopen_streamrun_core(lua_State *L) {
  sr_register_core_libs();
  return sr_lua_open_core(L);
}
