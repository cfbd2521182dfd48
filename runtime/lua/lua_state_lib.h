/*
** sr_open_state_lib: the state store's Lua bindings, part of `streamrun.core`. Keys and values
** cross as packed bytes (lua_pack.h), a batch's keys in one call.
*/
#ifndef SR_LUA_STATE_LIB_H
#define SR_LUA_STATE_LIB_H
#include <lua.h>

/* [-0, +1, m] Pushes a table of functions Lua code calls once per batch on a state store
** handle (a light userdata sr_state_parts * the engine passes: an operator's partitions; each
** packed key is read from and written to its own partition, sr_state_partition_of):
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

#endif
