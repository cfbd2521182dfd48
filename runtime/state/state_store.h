/*
** sr_state: the versioned key/value store of one stateful operator's partition, with the
** semantics of Spark's HDFSBackedStateStore.
**
** A store lives in <checkpoint>/state/<operator>/<partition>/. Version v is the state after v
** commits (version 0 is empty). Each commit writes <v>.delta (the keys the version changed);
** every snapshot_interval versions a background thread writes <v>.snapshot (the whole state)
** from the files on disk and prunes files no retained version needs. The on-disk format is
** written at the top of state_file.c, why a crash at any instant is safe at the top of
** state_store.c.
**
** Keys and values are byte strings (up to SR_STATE_MAX_LEN bytes each). A store is used by one
** thread at a time; stores are independent of each other. Nothing here calls into Lua.
*/
#ifndef SR_STATE_STORE_H
#define SR_STATE_STORE_H
#include <stddef.h>
#include <stdint.h>
#include "sr_error.h"

#define SR_STATE_MAX_LEN ((size_t)1 << 30)

typedef struct sr_state_store sr_state_store;

typedef struct sr_state_options {
  int64_t snapshot_interval;      /* a snapshot every N versions; <= 0: default 10 */
  int64_t min_versions_to_retain; /* versions kept reachable; <= 0: default 100 (Spark's
                                     spark.sql.streaming.minBatchesToRetain) */
} sr_state_options;

typedef struct sr_state_stats {
  int64_t version;           /* committed version the store is at */
  int64_t num_rows_total;    /* live keys, including uncommitted changes */
  int64_t num_rows_updated;  /* puts since the last commit/abort */
  int64_t num_rows_removed;  /* removes of present keys since the last commit/abort */
  int64_t memory_used_bytes; /* bytes allocated by the store (tables, data, undo log) */
  int64_t commit_time_ms;    /* how long the last commit took (writing its delta) */
} sr_state_stats;

/* Opens the store in dir (created if missing) at exactly committed version `version` (>= 0):
** the newest snapshot <= version plus the deltas after it. Files of versions above `version`
** (a crash between the store's commit and the engine's commit log) are ignored, and removed or
** overwritten by this store's first commit. o may be NULL (defaults). Allocates; the caller
** frees with sr_state_close. Returns NULL with *err set (SR_ERROR) when a needed file is
** missing (the message names it), corrupt or unreadable, or memory runs out. */
sr_state_store *sr_state_open(const char *dir, int64_t version, const sr_state_options *o,
                              sr_error **err);
/* Discards uncommitted changes, waits for this store's queued and running background
** snapshots (a failure is dropped: the deltas are still there) and frees the store, so no
** thread touches dir after it returns. Accepts NULL. */
void sr_state_close(sr_state_store *st);

/* Looks up key. Returns 1 and points *val and *vlen at the stored value (owned by the store,
** valid until the next put, remove, commit, abort or close), or 0 when absent. Never fails. */
int sr_state_get(sr_state_store *st, const void *key, size_t klen, const void **val,
                 size_t *vlen);
/* Inserts or replaces key's value (both copied). Allocates. Returns SR_OK, or SR_ERROR with
** *err set when out of memory or a length exceeds SR_STATE_MAX_LEN (the store is unchanged). */
sr_status sr_state_put(sr_state_store *st, const void *key, size_t klen, const void *val,
                       size_t vlen, sr_error **err);
/* Removes key. Returns 1 if it was present, 0 if absent, -1 with *err set when out of memory
** (the store is unchanged). */
int sr_state_remove(sr_state_store *st, const void *key, size_t klen, sr_error **err);

/* Writes <version+1>.delta atomically with every key changed since the last commit, then the
** store is at version+1 and, every snapshot_interval versions, queues a background snapshot.
** Returns SR_OK, or SR_ERROR with *err set when the delta cannot be written: the store then
** stays at its version with its changes pending (commit may be retried, or abort called). */
sr_status sr_state_commit(sr_state_store *st, sr_error **err);
/* Discards the changes made since the last commit (from the in-memory undo log). */
void sr_state_abort(sr_state_store *st);

int64_t sr_state_version(const sr_state_store *st);
void sr_state_get_stats(const sr_state_store *st, sr_state_stats *out);

/* Waits until this store's queued background snapshots (and pruning) have finished. Returns
** SR_OK, or SR_ERROR with the first background failure since the last call (a failed snapshot
** leaves the deltas usable, so this is worth logging, not fatal). For tests and clean stops. */
sr_status sr_state_wait_maintenance(sr_state_store *st, sr_error **err);

/* Iteration over every live entry, in no particular order. Removing the entry just returned
** (sr_state_remove with its key) is allowed and does not disturb the iteration; entries put
** during the iteration may or may not be visited. A put invalidates the returned pointers. */
typedef struct sr_state_iter {
  sr_state_store *st;
  uint32_t next;
} sr_state_iter;

void sr_state_iter_init(sr_state_store *st, sr_state_iter *it);
/* Returns 1 with the next entry (pointers owned by the store), or 0 at the end. */
int sr_state_iter_next(sr_state_iter *it, const void **key, size_t *klen, const void **val,
                       size_t *vlen);

#endif
