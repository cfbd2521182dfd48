/*
** Timestamps and dates as Lua values (lua/streamrun/types.lua): `sr_timestamp` cdata holding
** microseconds since the epoch, `sr_date` cdata holding days. C reads and makes them here.
**
** LuaJIT's C API can neither create nor inspect cdata. Making one calls a small Lua function
** (cached in the registry, as lua_int64.c does). Reading one is cheap: lua_topointer(cdata) is
** the payload, and LuaJIT keeps the value's ctype id in the 16 bits of its GCcdata header just
** before it (GCHeader; uint16_t ctypeid; then the payload): at payload - 6 with GC64, - 2 without.
** The ids of the two types are looked up once per lua_State; the first use checks the layout
** on a sample value and raises if LuaJIT's header moved (tests/c/test_lua_types.c pins it too).
** The lua_State must have the standard libraries open and `streamrun.core` loadable.
*/
#ifndef SR_LUA_TYPES_H
#define SR_LUA_TYPES_H
#include <lua.h>
#include <stdint.h>

/* What a Lua value is, as far as the typed values go. */
typedef enum { SR_LV_OTHER = 0, SR_LV_TIMESTAMP, SR_LV_DATE, SR_LV_BINARY } sr_lua_vtype;

/* [-0, +0, e] The typed-value kind of the value at idx: SR_LV_OTHER for anything that is not
** a timestamp or date cdata (numbers, strings, int64 cdata, ...). Sets *us (timestamp) or *days
** (date) when it is one; either pointer may be NULL. A binary value (`sr_binary`, a length and
** the bytes) is SR_LV_BINARY: sr_lua_binary_bytes reads it. Looks at the registry only for a cdata.
** May raise (first use: loading the types module; a LuaJIT whose header layout differs). */
sr_lua_vtype sr_lua_typed(lua_State *L, int idx, int64_t *us, int32_t *days);

/* [-0, +1, e] Pushes a timestamp of us microseconds / a date / a binary value holding a copy of
** the len bytes at p. In a state without the streamrun module: ms, days, a string. May raise
** (out of memory). */
void sr_lua_push_timestamp(lua_State *L, int64_t us);
void sr_lua_push_date(lua_State *L, int32_t days);
void sr_lua_push_binary(lua_State *L, const void *p, size_t len);

/* [-0, +0, -] The bytes of the binary value at idx (sr_lua_typed said SR_LV_BINARY): a pointer
** into the cdata, valid while it is alive, and their count in *len. */
const char *sr_lua_binary_bytes(lua_State *L, int idx, size_t *len);

/* [-0, +1, e] How the sources push a timestamp column's value: whole milliseconds as a number of
** ms (the engine's fast path; exec.lua makes it a timestamp before user code sees it), anything
** finer as a timestamp, so no microsecond is lost. May raise (out of memory). */
void sr_lua_push_timestamp_value(lua_State *L, int64_t us);

/* The ctype id stored in a cdata's header, given lua_topointer of it: exposed for the layout test. */
uint16_t sr_lua_cdata_ctypeid(const void *payload, int gc64);

#endif
