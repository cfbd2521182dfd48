/* streamrun --lua-defs: see lua_defs.h. */
#include "lua_defs.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "fsutil.h"
#include "job.h"
#include "lua_host.h"
#include "lua_libs.h"
#include "sr_log.h"

int sr_lua_defs_main(const char *dir) {
  sr_register_core_libs();
  lua_State *L = sr_lua_new(dir);
  if (!L) {
    sr_log("error", NULL, -1, "out of memory creating a Lua state");
    return SR_EXIT_INVALID;
  }
  lua_getglobal(L, "require");
  lua_pushliteral(L, "streamrun.luadefs");
  int code = SR_EXIT_INVALID;
  if (sr_lua_pcall(L, 1, 1) != 0) goto lua_fail;
  lua_getfield(L, -1, "generate");
  if (sr_lua_pcall(L, 0, 1) != 0) goto lua_fail;
  size_t len;
  const char *text = lua_tolstring(L, -1, &len);
  char path[4096];
  snprintf(path, sizeof path, "%s/streamrun.lua", dir);
  sr_error *err = NULL;
  if (sr_fs_mkdirs(dir, &err) != SR_OK || sr_fs_write_atomic(path, text, len, &err) != SR_OK) {
    sr_log("error", NULL, -1, "%s", err->message);
    sr_error_free(err);
  } else {
    code = SR_EXIT_OK;
  }
  sr_lua_close(L);
  return code;
lua_fail:
  sr_log("error", NULL, -1, "--lua-defs: %s", lua_tostring(L, -1));
  sr_lua_close(L);
  return code;
}
