/*
** sr_lua_pack: a compact, deterministic binary form of Lua values, used for state keys and
** values (the state store's Lua bindings are lua_state_lib.h).
**
** Packable: nil, booleans, numbers, int64_t/uint64_t cdata, strings, and tables of these
** (nested, array and hash parts). Equal values pack to identical bytes: a table's hash part is
** written in the order of its keys' packed bytes, and its array part is t[1..n] for the first
** n non-nil items, so packed bytes serve as hash keys for composite group keys. Integers are
** normalised: a number that is an integer within +-2^53, and any int64_t cdata (or uint64_t
** cdata up to 2^63-1), pack as the same varint, and unpack as a number within +-2^53 and as an
** int64_t cdata beyond. Other numbers (fractions, and doubles beyond 2^53, which are not exact
** integers) pack as 8-byte doubles and unpack as numbers. uint64_t cdata above 2^63-1 unpack as
** uint64_t cdata.
**
** Format (one tag byte, then): 0 nil | 1 false | 2 true | 3 zigzag varint integer |
** 4 varint uint64 above 2^63-1 | 5 IEEE double, 8 bytes little-endian (one NaN) |
** 6 varint length, bytes: a string | 7 varint narr, varint nhash, narr values, nhash key/value
** pairs sorted by the key's packed bytes: a table.
**
** Refused, with the path of the value: functions, userdata, threads, other cdata, tables
** containing themselves, and nesting deeper than SR_LUA_PACK_MAX_DEPTH.
*/
#ifndef SR_LUA_PACK_H
#define SR_LUA_PACK_H
#include <stddef.h>
#include <lua.h>
#include "buf.h"

#define SR_LUA_PACK_MAX_DEPTH 100

/* Appends the packed form of the value at idx to out (owned by the caller). Runs protected:
** never raises. Returns 0, or -1 with out as it was and a message in errbuf such as
** "state value .a.b: a function cannot be stored" (or "out of memory"). Stack unchanged. */
int sr_lua_pack(lua_State *L, int idx, sr_buf *out, char *errbuf, size_t errlen);
/* The fast path of sr_lua_pack for a boolean, number or string at idx, the same bytes it
** would write (per-row keys such as join keys use it). Returns 1 when packed, 0 when the value
** is of another type (use sr_lua_pack), -1 when out of memory. Never raises. */
int sr_lua_pack_scalar(lua_State *L, int idx, sr_buf *out);

/* The same, with `what` instead of "state value" to start messages ("group key", ...). */
int sr_lua_pack_as(lua_State *L, int idx, const char *what, sr_buf *out, char *errbuf,
                   size_t errlen);

/* [-0, +1 on success, m] Pushes the value packed in p[0..n). Returns 0, or -1 (nothing pushed)
** when the bytes are not exactly one packed value. Raises only when Lua runs out of memory. */
int sr_lua_unpack(lua_State *L, const void *p, size_t n);

/* Internal, for Lua C functions that pack many values in one call (lua_state_lib.c): the
** packer, whose key and value buffers are kept in the registry (so a raise leaks nothing, and
** they are reused across calls). */
typedef struct sr_lua_packer sr_lua_packer;
/* [-0, +1, m] The packer, its cdata classifier pushed (or nil without ffi): pop it when done. */
sr_lua_packer *sr__lua_packer_begin(lua_State *L, const char *what);
sr_buf *sr__lua_packer_key(sr_lua_packer *pk);
sr_buf *sr__lua_packer_value(sr_lua_packer *pk);
/* [-0, +0, v] Packs the value at idx into b (cleared first; one of the packer's buffers), or
** raises "<what> <path>: <why>". The packer must be begun in this call. */
void sr__lua_pack_or_raise(lua_State *L, sr_lua_packer *pk, int idx, const char *what,
                           sr_buf *b);

#endif
