/* libFuzzer: the state-value unpacker (lua_pack.h) on arbitrary bytes; a value it accepts can
** be packed again (what the store hands back, an operator writes back). */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_pack.h"

static lua_State *L;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!L) {
    L = luaL_newstate();
    luaL_openlibs(L);
  }
  lua_settop(L, 0);
  if (sr_lua_unpack(L, data, size) == 0) {
    sr_buf out = SR_BUF_INIT;
    char err[256];
    if (sr_lua_pack(L, 1, &out, err, sizeof err) != 0) {
      fprintf(stderr, "an unpacked value does not pack: %s\n", err);
      abort();
    }
    sr_buf_free(&out);
  }
  lua_settop(L, 0);
  lua_gc(L, LUA_GCSTEP, 100);
  return 0;
}
