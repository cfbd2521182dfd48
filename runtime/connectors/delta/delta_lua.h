/*
** delta_lua: Lua rows <-> sr_value rows for the Delta sink and reader.
**
** Values in Lua follow the job contract (json_rows.h): long = number, or int64_t cdata beyond
** 2^53; timestamp = integer ms since the epoch (an ISO-8601 string is also taken); date =
** integer days (or "2026-11-23"); binary = string; struct = table of fields; array = 1-based
** table; map = table; null = nil (an absent key).
**
** Converting a batch: sr_delta_conv_begin pushes every column name once and remembers the
** address of each interned name, so a row is converted by ONE lua_next walk over its keys,
** each key found by its address (no string hashing or comparison per row). A key that is not
** a column is reported (the sink then infers its type with sr_delta_infer_columns, or refuses
** it); a value whose Lua type does not fit its column is an error naming the column.
*/
#ifndef SR_DELTA_LUA_H
#define SR_DELTA_LUA_H
#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "schema.h"
#include "value.h"

typedef struct sr_delta_conv {
  const sr_schema *schema;  /* the columns, borrowed for the conversion */
  int base;                 /* stack top before begin */
  const void **slot_key;    /* open addressing: interned name address -> column */
  int *slot_col;
  unsigned mask;
  char unknown[256];        /* after sr_delta_conv_row returned 1: the unknown key */
} sr_delta_conv;

/* [-0, +ncolumns, m] Prepares converting rows of schema (borrowed until end). Returns 0, or -1
** when out of C memory. Raises only when Lua is out of memory. */
int sr_delta_conv_begin(lua_State *L, sr_delta_conv *c, const sr_schema *schema);
/* [-0, +0, m] Converts the row table at stack index row_idx into out (an SR_VAL_STRUCT with one
** value per column, allocated in a; strings point into Lua and stay valid while the row table
** lives). Returns 0; 1 when the row has a key that is not a column (its name in c->unknown);
** -1 with a reason naming the column in errbuf. */
int sr_delta_conv_row(lua_State *L, sr_delta_conv *c, int row_idx, sr_arena *a, sr_value *out,
                      char *errbuf, size_t errlen);
/* [-ncolumns, +0, -] Pops what begin pushed and frees c's memory. Accepts a failed begin. */
void sr_delta_conv_end(lua_State *L, sr_delta_conv *c);
/* Frees c's memory without touching the stack (after a Lua error skipped end). Idempotent. */
void sr_delta_conv_free(sr_delta_conv *c);

/* [-0, +0, m] Infers the type of every column of rows[1..nrows] (the Lua array at rows_idx)
** that `known` lacks, and appends those columns to `out` sorted by name: numbers that are all
** integral -> long, else double; int64 cdata -> long; strings; booleans; a table with items
** 1..n -> array (element type inferred the same way); a table with string keys -> struct; an
** empty table only -> array<string>. Returns the number of columns added, or -1 with a reason
** (a column holding a string in one row and a number in another...) in errbuf. */
int sr_delta_infer_columns(lua_State *L, int rows_idx, int nrows, const sr_schema *known,
                           sr_schema *out, char *errbuf, size_t errlen);

/* [-0, +1, m] Pushes v, a value of field f, as the job contract has it (nil for null). */
void sr_delta_push_value(lua_State *L, const sr_field *f, const sr_value *v);
/* [-0, +1, m] Pushes a row table of the schema's fields (nulls left out). */
void sr_delta_push_row(lua_State *L, const sr_schema *s, const sr_value *row);

#endif
