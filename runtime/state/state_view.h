/*
** state_view: a stateful operator's state as rows, read from a checkpoint, as Spark's state
** data source reads it (StateDataSource, docs/streaming/structured-streaming-state-data-source.md:
** options operatorId, default 0, and batchId, default the latest committed batch, which must be
** committed and not yet cleaned up; rows key, value, partition_id; the state as it was after
** that batch, store version batchId + 1).
** `streamrun state CHECKPOINT` prints it as JSON lines; streamrun.testing reads it in a spec.
** Read only: the store is opened at that version and closed; no lock is taken, so it may be
** read while the query runs (for incidents).
*/
#ifndef SR_STATE_VIEW_H
#define SR_STATE_VIEW_H
#include <lua.h>
#include <stdint.h>

#include "sr_error.h"

/* The newest batch in CHECKPOINT/commits (-1: none). */
int64_t sr_state_view_last_batch(const char *checkpoint);

/* [-0, +1 on success, m] Pushes the entries of operator `op`'s state after batch `batch`
** (< 0: the last committed), every partition's, as an array of {key = k, value = v,
** partition_id = p} (Lua values as the operator stored them), in packed-key order. Returns SR_OK, or SR_ERROR with *err (nothing pushed) naming
** the checkpoint file at fault, or saying the operator or the batch is not there. */
sr_status sr_state_view_push(lua_State *L, const char *checkpoint, int op, int64_t batch,
                             sr_error **err);

/* streamrun state CHECKPOINT [--operator N] [--batch B]: one JSON line per entry,
** {"operatorId":N,"batchId":B,"partition_id":P,"key":...,"value":...}. Returns an exit code. */
int sr_state_main(int argc, char **argv);

#endif
