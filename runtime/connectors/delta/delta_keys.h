/*
** delta_keys: the key index of the Delta sink's mergeKeys (insert-only merge): the set of the
** key values already in the target table, so a batch drops rows whose key is there without
** scanning the table.
**
** It is a state store (state_store.h) in the sink's checkpoint directory, holding one entry per
** key (the key columns' values, encoded) plus three bookkeeping entries: the table version the
** set describes, the table's id, and the key columns. It is committed only AFTER the Delta
** commit of the batch whose keys it adds, so it never claims a key the table lacks. Behind
** the table (a crash between the two commits, another writer's commits, a new checkpoint
** directory), sr_delta_keys_sync reads the key columns of just the files added since; when a
** commit in between removed data (complete mode, another tool's delete), or the index is for
** another table or other keys, it is rebuilt from every live file.
**
** Keys with a null column never match (SQL's MERGE ... ON t.k = s.k): such rows are always
** written. Nothing here touches Lua.
*/
#ifndef SR_DELTA_KEYS_H
#define SR_DELTA_KEYS_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "delta_log.h"
#include "sr_error.h"
#include "value.h"

typedef struct sr_delta_keys sr_delta_keys;

/* Opens (creating) the index in dir for the key columns names[0..n) (copied). Allocates;
** close with sr_delta_keys_close. NULL with *err when the store cannot be opened. */
sr_delta_keys *sr_delta_keys_open(const char *dir, char *const *names, int n, sr_error **err);
/* Discards uncommitted changes and frees. Accepts NULL. */
void sr_delta_keys_close(sr_delta_keys *k);

/* Starts batch batch_id, whose rows follow row_schema (the table's schema, or the one its
** first commit will create): discards what an earlier attempt left uncommitted, then brings
** the index up to snapshot s (see above). Returns SR_OK, or SR_ERROR with *err (a key column
** not in the schema, a file that cannot be read). */
sr_status sr_delta_keys_begin(sr_delta_keys *k, const sr_delta_snapshot *s,
                              const sr_schema *row_schema, int64_t batch_id, sr_error **err);
/* Whether the row (values in row_schema's order) is to be written: 1 when its key is neither in the table nor earlier in this batch (the key is then
** recorded for the batch), or when a key column is null; 0 for a duplicate; -1 with *err when
** out of memory. */
int sr_delta_keys_admit(sr_delta_keys *k, const sr_value *row, sr_error **err);
/* After losing a commit race: adds the keys of the files another writer's commit (its
** actions; s is the snapshot after it) added. Sets *conflict when one of them is a key this
** batch admitted, or the commit removed data: the batch must be run again. */
sr_status sr_delta_keys_absorb(sr_delta_keys *k, const sr_delta_snapshot *s, json_t *actions,
                               int *conflict, sr_error **err);
/* Commits the batch's keys as the index of snapshot s (the batch's Delta commit is durable
** and s includes it). Returns SR_OK or SR_ERROR (the index then stays behind; the next begin catches up). */
sr_status sr_delta_keys_commit(sr_delta_keys *k, const sr_delta_snapshot *s, sr_error **err);
/* Keys in the index (committed or admitted). */
int64_t sr_delta_keys_count(const sr_delta_keys *k);
/* Files whose key columns begin and absorb have read since the index was opened. */
int64_t sr_delta_keys_files_scanned(const sr_delta_keys *k);

#endif
