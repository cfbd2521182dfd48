/*
** The codec functions of `streamrun.core` (merged into it by lua_host), and schemas as Lua
** values.
**
** sr_open_codec_lib pushes a table of:
**   from_json(text)            -> value | nil, err   (longs stay exact: int64 cdata beyond 2^53)
**   to_json(value)             -> text               (sorted keys; raises for functions, cycles)
**   parse_timestamp(text)      -> ms | nil, err      (timeutil.h forms)
**   format_timestamp(ms)       -> "2026-11-23T10:00:00.001Z"
**   parse_date(text)           -> days | nil, err
**   format_date(days)          -> "2026-11-23"
**   duration(text)             -> ms | nil, err      ("10 seconds"; a number is taken as ms)
**   schema(spec)               -> schema userdata    (raises with the column at fault)
**   decode_json_lines(rows, nrows, text, schema|nil, origin, first_line, bad_fn|nil) -> nrows, nbad
**   encode_json_rows(rows, n, schema|nil)            -> text (raises naming row and column)
**   decode_csv_lines(rows, nrows, text, schema|nil, {sep=, header=}|nil, origin, first_line,
**                    bad_fn|nil)                     -> nrows, nbad
**   encode_csv_rows(rows, n, schema|nil, {sep=, header=}|nil) -> text
** bad_fn(origin, line, record, reason) is called once per bad record.
** Wherever a schema is taken, a schema userdata or any spec form below is accepted.
**
** Schema specs (the job's `schema = ...`):
**   {auction = "long", price = "double"}      columns sorted by name
**   {{"auction", "long"}, {"price", "double"}} in the given order
**   "auction long, price double, tags array<string>, loc struct<lat: double, lon: double>"
**                                              Spark DDL (NOT NULL and COMMENT '...' allowed)
**   nested: {a = {x = "long"}} (a struct), {"array", "long"}, {"map", "string", "long"},
**   and type strings "array<long>", "struct<x: long>", "map<string, long>", "decimal(10,2)".
** Type names: string, long (bigint), int (integer), double, boolean, timestamp, date, binary,
** float, short (smallint), byte (tinyint), decimal; Spark's spellings are accepted.
** A schema userdata has :columns() -> {{name, type_text}, ...} and tostring() -> DDL text.
*/
#ifndef SR_LUA_CODEC_H
#define SR_LUA_CODEC_H
#include <lua.h>

#include "schema.h"

/* [-0, +1, m] Pushes the table of codec functions. */
int sr_open_codec_lib(lua_State *L);

/* [-0, +0, v] The schema of the schema userdata at idx; raises a Lua error when it is not one.
** The schema belongs to the userdata: copy it (sr_schema_copy) to keep it beyond the value. */
const sr_schema *sr_lua_checkschema(lua_State *L, int idx);
/* [-0, +1, m] Pushes a schema userdata that owns schema from now on (its __gc frees it). */
void sr_lua_push_schema(lua_State *L, sr_schema *schema);
/* [-0, +0, -] Like sr_lua_checkschema, but NULL instead of an error. */
const sr_schema *sr_lua_toschema(lua_State *L, int idx);

#endif
