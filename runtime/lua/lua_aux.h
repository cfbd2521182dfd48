/*
** The auxiliary layer of the C<->Lua boundary, as lauxlib is Lua's: the few things every file
** that talks to a lua_State needs, written once. Built only on lua.h and lauxlib.h.
**
** Userdata that own C memory are full userdata with a named metatable in the registry (so
** they are checked by metatable, never by a magic number, and their __gc frees what they own
** however the Lua call ends: STYLE.md, "Errors"). Errors from C (sr_error) reach Lua through
** sr_lua_raise, which frees them before the raise skips the C frames.
*/
#ifndef SR_LUA_AUX_H
#define SR_LUA_AUX_H
#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>

#include "sr_error.h"

/* [-0, +0, -] idx as an absolute stack index, which names the same slot however the stack
** grows after; pseudo-indices (the registry, upvalues) are returned as they are. LuaJIT has
** no lua_absindex. */
static inline int sr_lua_absindex(lua_State *L, int idx) {
  return idx < 0 && idx > LUA_REGISTRYINDEX ? lua_gettop(L) + idx + 1 : idx;
}

/* [-0, +0, v] Raises e's message as a Lua error (fallback when e is NULL), freeing e first:
** the raise skips C cleanup. A message longer than 4 KB is cut. Never returns; typed int so a
** C function can `return sr_lua_raise(...)`. */
int sr_lua_raise(lua_State *L, sr_error *e, const char *fallback);

/* [-0, +1, m] Pushes the registry's metatable `tname`, made on first use with __gc = gc.
** Returns 1 when it was made by this call (the caller then adds its other fields), else 0. */
int sr_lua_newmetatable(lua_State *L, const char *tname, lua_CFunction gc);

/* [-0, +1, m] Pushes a new full userdata of size bytes, zeroed, with the metatable `tname`
** (sr_lua_newmetatable). gc(L) gets the userdata at index 1 and must accept one that a raise
** left half set up (still zeroed where nothing was stored). Returns its memory. */
void *sr_lua_newudata(lua_State *L, size_t size, const char *tname, lua_CFunction gc);

/* [-0, +0, v] The memory of the userdata at idx when its metatable is `tname`; otherwise
** raises "bad argument #idx (<what> expected, got <type>)". */
void *sr_lua_checkudata(lua_State *L, int idx, const char *tname, const char *what);

#endif
