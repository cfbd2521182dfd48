/*
** The C functions of `streamrun.core` that belong to the engine (each pushes a table of
** functions; lua_host merges them). The codec functions are in lua_codec.h.
*/
#ifndef SR_LUA_LIBS_H
#define SR_LUA_LIBS_H
#include <lua.h>

struct sr_bad_records;

/* source_names(), sink_names(), log(level, text), parse_json_column(rows, n, column, schema, where) */
int sr_open_engine_lib(lua_State *L);
/* memory_table(name) */
int sr_open_memory_lib(lua_State *L);
/* Registers every library above and the codec library with lua_host. */
void sr_register_core_libs(void);

/* Where C functions called from Lua send bad input for the batch now running: set by the
** engine before each batch, read by parse_json_column and the static-table loaders (may be
** NULL outside a batch). */
void sr_lua_set_bad_records(lua_State *L, struct sr_bad_records *br);
struct sr_bad_records *sr_lua_bad_records(lua_State *L);

#endif
