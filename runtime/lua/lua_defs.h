/*
** streamrun --lua-defs DIR: writes DIR/streamrun.lua, the definitions the Lua language server
** reads to complete and check a job (lua/streamrun/luadefs.lua makes the text).
*/
#ifndef SR_LUA_DEFS_H
#define SR_LUA_DEFS_H

/* Writes the file (DIR created as needed, the file replaced atomically). Returns an exit code
** (0, or 2 with the reason on stderr). */
int sr_lua_defs_main(const char *dir);

#endif
