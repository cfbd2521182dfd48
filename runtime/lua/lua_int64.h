/*
** Exact 64-bit integers (the `long` type) in LuaJIT.
**
** A long whose magnitude is <= 2^53 is a plain Lua number (exact in a double); beyond that it
** is an int64_t cdata, as LuaJIT's FFI makes them (`12345678901234567890LL`), so arithmetic and
** comparisons in user code stay exact. LuaJIT's C API cannot create or inspect cdata, so two
** small Lua functions built with `ffi` do it; they are created on first use and cached in the
** registry. The lua_State must have the standard libraries open (`require "ffi"` must work).
*/
#ifndef SR_LUA_INT64_H
#define SR_LUA_INT64_H
#include <lua.h>
#include <stdint.h>

/* lua_type() of a cdata value: LuaJIT's LUA_TCDATA, which lua.h does not define. */
#define SR_LUA_TCDATA 10

/* The largest magnitude pushed as a plain number: 2^53. */
#define SR_LUA_EXACT_MAX 9007199254740992LL

/* [-0, +1, m] Pushes v: a number when |v| <= 2^53, else an int64_t cdata. May raise a Lua
** error (out of memory; the first call also loads the ffi helpers). */
void sr_lua_push_int64(lua_State *L, int64_t v);

/* [-0, +0, m] Reads an exact 64-bit integer at idx: a number that is integral and within
** int64_t, an int64_t cdata, or a uint64_t cdata <= INT64_MAX. Does not convert strings.
** Returns 0 and sets *v, or -1 (nothing else is changed). May raise only on out of memory. */
int sr_lua_to_int64(lua_State *L, int idx, int64_t *v);

/* [-0, +0, m] Like sr_lua_to_int64 for a uint64_t cdata of any value (the encoders print
** them exactly). Returns 0 and sets *v, or -1 when idx is not a uint64_t cdata. */
int sr_lua_to_uint64(lua_State *L, int idx, uint64_t *v);

#endif
