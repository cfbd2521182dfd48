/*
** lua_host: the lua_States the runtime creates, and the one way C calls into Lua.
**
** Each job gets its own lua_State (whose bytes LuaJIT counts, so memory is known per job),
** the streamrun module compiled into the binary, and the
** `streamrun.core` module of C functions; `os.exit` raises an error instead of ending the
** process in the middle of a batch. sr_lua_pcall is a protected call whose message
** handler keeps the user's file:line and appends a traceback (lua.c's msghandler).
*/
#ifndef SR_LUA_HOST_H
#define SR_LUA_HOST_H
#include <lua.h>
#include <stddef.h>

/* A new state with the standard libraries, package searchers for the embedded modules and
** for job_dir (a job's own modules). Returns NULL when out of memory. */
lua_State *sr_lua_new(const char *job_dir);
/* The bytes the state has allocated (LuaJIT counts them per state). */
size_t sr_lua_memory(lua_State *L);
/* The state's heap (lua_alloc.h), or NULL when it uses LuaJIT's own allocator. */
struct sr_lua_heap *sr_lua_heap_of(lua_State *L);
void sr_lua_close(lua_State *L); /* accepts NULL */
/* For a state the process keeps until it exits: does not close it (see lua_host.c). */
void sr_lua_close_at_exit(lua_State *L);

/* lua_pcall with the traceback handler. On error the message (with traceback) is left on the
** stack as a string. Returns the lua_pcall status. [-(nargs+1), +(nresults|1), -] */
int sr_lua_pcall(lua_State *L, int nargs, int nresults);

/* Pushes the value the Lua chunk src (len bytes, chunk name `name`) returns, running the chunk
** only the first time in this state: the value is kept in the registry under key's address.
** For C code that needs a small compiled Lua helper. Raises a Lua error if src does not load.
** [-0, +1, e] */
void sr_lua_push_once(lua_State *L, const void *key, const char *src, size_t len, const char *name);

/* Registers a C function table merged into `streamrun.core` (called by modules that provide
** bindings before any job runs). Not thread-safe; call at start-up. */
typedef int (*sr_lua_lib_fn)(lua_State *L); /* pushes a table of functions */
void sr_lua_add_core_lib(sr_lua_lib_fn open);
/* The `streamrun.core` opener: pushes one table with every registered library's functions.
** [-0, +1, m] */
int sr_lua_open_core(lua_State *L);

#endif
