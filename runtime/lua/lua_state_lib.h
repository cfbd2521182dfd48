/*
** sr_open_state_lib: the state store's Lua bindings, part of `streamrun.core`. Keys and values
** cross as packed bytes (lua_pack.h), a batch's keys in one call.
*/
#ifndef SR_LUA_STATE_LIB_H
#define SR_LUA_STATE_LIB_H
#include <lua.h>

#include "state_parts.h"

/* [-0, +1, m] Pushes a table of functions Lua code calls once per batch on a state store
** handle (sr_lua_push_state: an operator's partitions; each packed key is read from and
** written to its own partition, sr_state_partition_of):
**   pack(v) -> s                      unpack(s) -> v
**   get_many(store, keys [, n]) -> values, n     (values[i] nil when keys[i] is absent)
**   put_many(store, keys, values [, n]) -> nil   (values[i] nil removes keys[i])
**   remove_many(store, keys [, n]) -> removed count
**   scan(store) -> keys, values, n    (every entry, partition after partition)
**   stats(store) -> {version=, num_rows_total=, num_rows_updated=, num_rows_removed=,
**                    memory_used_bytes=, commit_time_ms=}
** n defaults to #keys. These raise a Lua error for an unpackable key/value (naming its path),
** a bad handle, stored bytes that are not a packed value, or a store failure (out of memory).
** Returns 1. */
int sr_open_state_lib(lua_State *L);

/* [-0, +1, m] Pushes a handle on ps for those functions: a full userdata with the registry's
** metatable "streamrun.state", so a handle is checked by its metatable and nothing else passes
** for one. With owned, collecting the handle closes ps (specs' state_open); otherwise the
** caller keeps ps and detaches the handle before it closes ps or the batch ends. */
void sr_lua_push_state(lua_State *L, sr_state_parts *ps, int owned);
/* [-0, +0, v] The partitions of the handle at idx; raises "bad argument" when idx is not a
** handle, or is one that was detached. */
sr_state_parts *sr_lua_check_state(lua_State *L, int idx);
/* [-0, +0, -] Detaches the handle at idx: later calls with it raise, and it no longer owns
** anything. Returns what it referred to (the caller now owns it when it was owned), or NULL
** (also when idx is not a handle). */
sr_state_parts *sr_lua_state_detach(lua_State *L, int idx);

#endif
