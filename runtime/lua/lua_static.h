/*
** The join functions of `streamrun.core` (lua/streamrun/ops/join*.lua call them once per
** batch, never per row). Each raises a Lua error for bad arguments and when out of memory.
**
**   static_formats() -> {"json", "csv", ...}
**   static_check(identity, format, path, options) -> nil | fingerprint
**       nil when the table cached for identity was built from the files as they are now; else
**       the files' new fingerprint, to pass to static_build after loading. Raises for an
**       unknown format or option (naming the nearest valid one) or a path that is not there.
**   static_load(format, path, options, schema|nil) -> rows, n
**       Reads the whole static table into Lua rows (bad rows go to the batch's bad records).
**   static_build(identity, fingerprint, rows, n, keycols) -> nrows
**       Builds the C hash table of rows[1..n] keyed by keycols and caches it under identity
**       (replacing the table built before). Rows with a nil key column can never match and
**       are left out. Returns the number of rows kept.
**   static_probe(identity, rows, n, keycols, exists_only) -> matches, nmatched
**       matches[i] is the list of static rows (fresh tables) whose key equals rows[i]'s key,
**       or true when exists_only, or nil when there are none (or rows[i] has a nil key).
**   static_columns(identity) -> {name, ...}   every column seen in the built table's rows
**   join_keys(rows, n, keycols) -> keys, n
**       keys[i] is the packed key of rows[i] (a string; equal keys give equal strings), or nil
**       when a key column is nil. With no key columns every row's key is "".
**
** options is a table of option name -> text; keycols a list of column names. Keys pack as
** sr_lua_pack does (integers normalised, so 5, 5.0 and 5LL are one key; tables such as a
** window {start=, end=} by content); scalars take a fast path here that writes the same bytes.
*/
#ifndef SR_LUA_STATIC_H
#define SR_LUA_STATIC_H
#include <lua.h>

/* [-0, +1, m] Pushes the table of join functions above (merged into streamrun.core). */
int sr_open_static_lib(lua_State *L);

#endif
