/*
** delta_table: reading a Delta table's rows. A live file's rows come out in the table's column
** order: data columns from its Parquet file (matched by name, so files written before a column
** was added read it as null, and nested structs are matched by field name), partition columns
** from the add action's partitionValues typed by the schema (null, or __HIVE_DEFAULT_PARTITION__
** in the directory name, reads as null). Files with deletion vectors are refused.
**
** For Lua: sr_delta_read_snapshot reads a whole snapshot into row tables (sr.read{format =
** "delta"}), and sr_delta_static_format plugs Delta into the static tables of stream-static
** joins (static_table.h).
*/
#ifndef SR_DELTA_TABLE_H
#define SR_DELTA_TABLE_H
#include <jansson.h>
#include <lua.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "delta_log.h"
#include "sr_error.h"
#include "static_table.h"
#include "value.h"

/* Appends the file system path of an add/remove action's path (a URI relative to the table,
** or an absolute file: URI) to out. Returns 0, or -1 for a bad escape or out of memory. */
int sr_delta_file_path(const sr_delta_snapshot *s, const char *action_path, sr_buf *out);

/* Reads table columns cols[0..ncols) (indexes into s->schema; cols NULL: every column in
** order, ncols ignored) of the live file `add` (an add action object of s). *rows becomes an
** array of *nrows SR_VAL_STRUCT values holding those columns, everything allocated in a.
** Returns SR_OK, or SR_ERROR with *err naming the file (missing, not Parquet, a partition
** value that does not parse, a deletion vector). Does not touch Lua. */
sr_status sr_delta_read_file(const sr_delta_snapshot *s, json_t *add, const int *cols, int ncols,
                             sr_arena *a, sr_value **rows, int64_t *nrows, sr_error **err);

/* [-0, +0, m] Reads the table at path as of its newest version into Lua: one row table per
** row appended to the array at rows_idx (length *nrows, updated); *version (may be NULL) gets
** the version read. Memory held while calling Lua lives in a userdata with __gc, so a Lua
** memory error leaks nothing. Returns SR_OK, or SR_ERROR with *err (no table at path, a
** protocol streamrun cannot read, a file that cannot be read). */
sr_status sr_delta_read_snapshot(const char *path, lua_State *L, int rows_idx, int *nrows,
                                 int64_t *version, sr_error **err);
/* The same at a given version (-1: the newest). */
sr_status sr_delta_read_snapshot_at(const char *path, int64_t at_version, lua_State *L,
                                    int rows_idx, int *nrows, int64_t *version, sr_error **err);

/* The `delta` format of static tables: options path and versionAsOf; the fingerprint is the
** version read, so a table that gets a new commit is rebuilt. For static_table.c's formats. */
extern const sr_static_format sr_delta_static_format;

#endif
