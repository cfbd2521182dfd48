/*
** delta_log: the transaction log of a Delta table (<table>/_delta_log/), after delta-io/delta
** PROTOCOL.md: reading it into a snapshot (log replay from the newest checkpoint), writing a
** commit put-if-absent, and writing Parquet checkpoints with _last_checkpoint. The on-disk
** format and why a crash at any instant leaves a readable table are at the top of delta_log.c.
**
** A snapshot keeps actions as jansson objects exactly as the log spells them (an add's "path"
** is the URI-encoded relative path, "partitionValues" an object of strings or nulls), so what
** is read can be written back into a checkpoint without loss. Nothing here touches Lua.
*/
#ifndef SR_DELTA_LOG_H
#define SR_DELTA_LOG_H
#include <jansson.h>
#include <stdint.h>

#include "buf.h"
#include "schema.h"
#include "sr_error.h"

typedef struct sr_delta_snapshot {
  char *table;              /* the table's directory, without a trailing '/' */
  int64_t version;          /* the version the snapshot is at; -1: no commit yet (no table) */
  json_t *protocol;         /* the protocol action's object; NULL before the first */
  json_t *metadata;         /* the metaData action's object; NULL before the first */
  sr_schema *schema;        /* metadata's schemaString, parsed; NULL without metadata */
  int npartition;           /* metadata's partitionColumns */
  char **partition_columns;
  json_t *files;            /* live files: path -> add object, in the order they were added */
  json_t *tombstones;       /* removed files still kept for VACUUM: path -> remove object */
  json_t *txns;             /* appId -> txn object */
  int64_t checkpoint_version; /* the checkpoint the replay started from; -1: none */
} sr_delta_snapshot;

/* Reads the table at `path` as of `version` (-1: the newest): the newest complete checkpoint
** at or before it, then every JSON commit after it. A directory without _delta_log (or with
** no commit yet) gives a snapshot at version -1. Allocates; free with sr_delta_snapshot_free.
** Returns NULL with *err set when a needed file is missing (the message names it), unreadable
** or not valid, or when the version asked for does not exist. */
sr_delta_snapshot *sr_delta_snapshot_open(const char *path, int64_t version, sr_error **err);
/* Applies every commit written after s->version (probing version+1, +2 ... until one is
** missing). Sets *applied (may be NULL) to the number of commits applied. Returns SR_OK, or
** SR_ERROR with *err (the snapshot then stays at the last commit applied completely). */
sr_status sr_delta_snapshot_update(sr_delta_snapshot *s, int64_t *applied, sr_error **err);
/* Applies one commit's actions (an array of action objects) as version s->version + 1.
** Takes no reference to actions (values are copied by reference count). Returns SR_OK, or
** SR_ERROR for an invalid action (a metaData with an unreadable schema...). */
sr_status sr_delta_snapshot_apply(sr_delta_snapshot *s, json_t *actions, sr_error **err);
/* Forgets tombstones older than the table's delta.deletedFileRetentionDuration (default 7
** days) before now_ms, as a checkpoint does, so a long-running writer's snapshot stays small. */
void sr_delta_snapshot_expire_tombstones(sr_delta_snapshot *s, int64_t now_ms);
/* Accepts NULL. */
void sr_delta_snapshot_free(sr_delta_snapshot *s);

/* The latest txn version recorded for app_id, or -1. */
int64_t sr_delta_txn_version(const sr_delta_snapshot *s, const char *app_id);
/* A configuration value of the table's metaData, or NULL. */
const char *sr_delta_config(const sr_delta_snapshot *s, const char *key);
/* SR_OK when streamrun can read the table (protocol versions and reader features it supports,
** no column mapping), else SR_ERROR saying what it uses. */
sr_status sr_delta_check_readable(const sr_delta_snapshot *s, sr_error **err);
/* SR_OK when streamrun can write the table (writer version <= 2 and no column invariants). */
sr_status sr_delta_check_writable(const sr_delta_snapshot *s, sr_error **err);

/* The newest version of the table (the newest JSON commit), or -1 when there is none or the
** log cannot be read. Cheap: reads _last_checkpoint and probes the commits after it. */
int64_t sr_delta_latest_version(const char *path);
/* Reads commit `version`: *actions becomes a new array of its action objects. A commit that
** does not exist gives SR_OK with *actions NULL. SR_ERROR when it cannot be read or is not
** JSON lines. */
sr_status sr_delta_read_commit(const char *path, int64_t version, json_t **actions, sr_error **err);

/* Writes commit `version` of the table with actions (one JSON line each), put-if-absent: it
** never replaces an existing commit. Creates _delta_log when needed. Returns SR_OK with
** *lost = 0 when written and durable, SR_OK with *lost = 1 when that version already exists
** (another writer committed first: update the snapshot and try the next one), or SR_ERROR. */
sr_status sr_delta_commit(const char *path, int64_t version, json_t *actions, int *lost,
                          sr_error **err);

/* Writes <version>.checkpoint.parquet for the snapshot (txn, add, remove, metaData and
** protocol as struct columns, one action per row; tombstones older than the table's
** delta.deletedFileRetentionDuration, default 7 days, before now_ms are dropped), then points
** _last_checkpoint at it unless it already names a newer checkpoint. Both writes are atomic.
** Returns SR_OK or SR_ERROR (the table stays readable without the checkpoint). */
sr_status sr_delta_checkpoint_write(const sr_delta_snapshot *s, int64_t now_ms, sr_error **err);

/* Delta's MetadataCleanup.cleanUpExpiredLogs, run after a checkpoint: unless the table sets
** delta.enableExpiredLogCleanup to false, the commits and checkpoints older than
** delta.logRetentionDuration (default 30 days) before now_ms, the cut-off truncated to the
** day, are removed below the newest complete checkpoint that is that old itself, so that every
** version from that checkpoint on still reads (older ones no longer do, as in Delta). Without
** it a table written by a long-running query keeps one JSON commit per batch forever.
** Returns how many files were removed; a file that cannot be removed is left for next time. */
int sr_delta_log_cleanup(const sr_delta_snapshot *s, int64_t now_ms);

/* The path of a log file: <table>/_delta_log/<20-digit version><suffix>. */
void sr_delta_log_file(const char *table, int64_t version, const char *suffix, char *out,
                       size_t outlen);

#endif
