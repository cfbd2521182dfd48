/*
** static_table: the static side of a stream-static join (`stream:join(sr.read{...}, ...)`).
**
** Three parts:
**  - sr_static_table: the table's rows grouped by join key, an immutable multimap from packed
**    key bytes to packed row bytes (lua_pack.h format), built once per change of the table.
**    A batch probes it with every stream row's key; nothing is rebuilt per batch.
**  - the cache: built tables kept in C, keyed by the identity of what was built (format, path,
**    options, schema, join keys, the static side's operations), so they outlive a reload of the
**    job's lua_State. An entry holds the fingerprint of the files it was built from; a new
**    fingerprint means the table changed and must be rebuilt.
**  - the formats: a static table is read by a small per-format pair of functions (fingerprint,
**    load). json and csv files are here; another format (Delta) plugs in with one entry in the
**    `formats` array of static_table.c.
**
** Single-threaded, as the engine is (one thread per job runs every query in turn).
*/
#ifndef SR_STATIC_TABLE_H
#define SR_STATIC_TABLE_H
#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "json_rows.h"
#include "options.h"
#include "schema.h"
#include "sr_error.h"

/* --- the multimap ------------------------------------------------------------------------ */

typedef struct sr_static_table sr_static_table;

/* An empty table. Returns NULL when out of memory. Free with sr_static_table_free. */
sr_static_table *sr_static_table_new(void);
void sr_static_table_free(sr_static_table *t); /* accepts NULL */

/* Appends a row (bytes copied) under key (copied on the key's first row). The rows of one key
** keep the order they were added in. Returns 0, or -1 when out of memory or past 2^32 rows or
** keys (the table is unchanged). */
int sr_static_table_add(sr_static_table *t, const void *key, size_t klen, const void *row,
                        size_t rlen);

/* Adds a column name (copied) to the table's list of columns, once (duplicates are ignored).
** The list describes the rows for output naming. Returns 0, or -1 when out of memory. */
int sr_static_table_add_column(sr_static_table *t, const char *name, size_t len);
int sr_static_table_ncolumns(const sr_static_table *t);
/* Column i (0-based, in the order added), NUL-terminated; owned by the table. */
const char *sr_static_table_column(const sr_static_table *t, int i);

/* A key's rows: sr_static_table_find positions c at the first row of key and returns how many
** rows the key has (0 when absent); sr_static_cursor_next returns 1 with the next row (bytes
** owned by the table, valid until it is freed) or 0 after the last. Never fails. */
typedef struct sr_static_cursor {
  const sr_static_table *t;
  uint32_t next; /* row index + 1; 0 at the end */
} sr_static_cursor;
uint32_t sr_static_table_find(const sr_static_table *t, const void *key, size_t klen,
                              sr_static_cursor *c);
int sr_static_cursor_next(sr_static_cursor *c, const void **row, size_t *rlen);

size_t sr_static_table_nrows(const sr_static_table *t);
size_t sr_static_table_nkeys(const sr_static_table *t);
size_t sr_static_table_bytes(const sr_static_table *t); /* memory held, for logs and tests */

/* --- the cache ---------------------------------------------------------------------------- */

#define SR_STATIC_CACHE_MAX 32 /* tables kept; the least recently used one goes first */

/* The table built for identity, or NULL. *fingerprint (if not NULL) gets the fingerprint it
** was built from (owned by the cache). Marks the entry as used. Never fails. */
sr_static_table *sr_static_cache_get(const char *identity, const char **fingerprint);
/* Installs t (ownership passes to the cache, also on failure) as the table of identity built
** from fingerprint, replacing and freeing an older table of the same identity; past
** SR_STATIC_CACHE_MAX entries, the least recently used other entry is freed. Returns 0, or -1
** when out of memory (t is freed and identity has no table). */
int sr_static_cache_put(const char *identity, const char *fingerprint, sr_static_table *t);
/* Frees every cached table (at exit, and for tests). */
void sr_static_cache_clear(void);
int sr_static_cache_size(void);

/* --- the formats -------------------------------------------------------------------------- */

typedef struct sr_static_format {
  const char *name;               /* the `format` of sr.read{...} */
  const sr_option_spec *options;  /* every option it takes, `path` included */
  /* Appends to out a text that changes whenever the table's contents may have changed (for
  ** files: each file's name, size and mtime; for Delta: the table version). Does not touch
  ** Lua. Returns SR_OK, or SR_ERROR with *err set (e.g. the path does not exist). */
  sr_status (*fingerprint)(const char *path, const sr_options *o, sr_buf *out, sr_error **err);
  /* [-0, +0, m] Appends one Lua table per row of the table to the array at rows_idx (length
  ** *nrows, updated), typed by schema (NULL: inferred). Bad rows go to bad (may be NULL).
  ** Returns SR_OK, or SR_ERROR with *err set. May raise a Lua error only when out of memory,
  ** so any memory it holds while calling Lua lives in a userdata with __gc. */
  sr_status (*load)(lua_State *L, const char *path, const sr_options *o, const sr_schema *schema,
                    int rows_idx, int *nrows, sr_bad_fn bad, void *bad_ud, sr_error **err);
} sr_static_format;

/* The format named name, or NULL. */
const sr_static_format *sr_static_format_find(const char *name);
/* The names of every format, NULL-terminated (static). */
const char *const *sr_static_format_names(void);

#endif
