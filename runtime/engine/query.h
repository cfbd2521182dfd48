/*
** query: one running streaming query — its checkpoint, sources, sink, state stores and
** watermark — and the life of one micro-batch (query.c explains the order of its steps).
**
** A query's Lua side (the batch function compiled by streamrun.exec) lives in the job's
** lua_State, which the job may replace between batches (hot reload); the query itself keeps
** everything that must survive in C and finds its Lua function through sr_job_lua.
*/
#ifndef SR_QUERY_H
#define SR_QUERY_H
#include <jansson.h>
#include <lua.h>
#include <stdint.h>
#include <stdio.h>

#include "connector.h"
#include "sr_error.h"

typedef enum { SR_TRIGGER_PROCESSING_TIME, SR_TRIGGER_ONCE, SR_TRIGGER_AVAILABLE_NOW,
               SR_TRIGGER_CONTINUOUS } sr_trigger_kind;

/* Where the query finds its Lua batch function: descriptor list in the registry, and its index. */
typedef struct sr_job_lua {
  lua_State *L;
  int descs_ref;   /* registry ref to the list exec.queries() returned */
  int64_t reloads, reload_refusals;   /* of the job so far, for progress */
  size_t trimmed_reserved; /* the heap's size when its free pages were last given back */
  int collect_first; /* collect before the next batch: the state is new, or a query ended
                        without collecting its last batch's garbage (see query.c) */
} sr_job_lua;

typedef struct sr_query_source_spec {
  const sr_source_ops *ops;
  sr_options *options;
  sr_schema *schema;   /* NULL when the job gave none */
  char *where;         /* job file:line of read_stream */
} sr_query_source_spec;

/* Everything a query is defined by, read from its Lua descriptor. Owned by the query. */
typedef struct sr_query_spec {
  char *name;               /* queryName, or "query-<index>" */
  char *where;              /* job file:line of write_stream */
  int index;                /* 1-based position in the job's descriptor list */
  char *checkpoint;         /* NULL: a temporary one (console/memory/noop/foreach sinks only) */
  char *output_mode;
  sr_trigger_kind trigger;
  int64_t trigger_ms;
  int nsources;
  sr_query_source_spec *sources;
  const sr_sink_ops *sink_ops;
  sr_options *sink_options;
  sr_schema *output_schema; /* NULL when the plan does not know the columns */
  char **output_columns;    /* the output rows' column names in order, NULL-terminated, when the
                               plan knows them exactly (desc.output_columns); NULL otherwise */
  int output_schema_guessed; /* rows made by a function: output_schema is the input's columns */
  int nstateful;
  char **stateful_sigs;     /* what each stateful operator's state depends on */
  int no_data_batches;      /* 1: a processingTime trigger runs a batch even without new data
                               (an operator acts on the clock: processing-time timeouts) */
  int64_t batch_timeout_ms; /* batchTimeout: the longest a batch may run in Lua (<= 0: none) */
  int64_t min_batches_to_retain; /* minBatchesToRetain: batches of offsets/commits and state
                                    versions kept for recovery (Spark's, default 100; <= 0: 100) */
  int watermark_batches;    /* 1: a new watermark runs a no-data batch (some operator emits or
                               evicts by it; 0 when all ignore it: complete-mode aggregations) */
  int nwatermarks;
  int64_t *watermark_delay_ms;
  int watermark_policy_max; /* multipleWatermarkPolicy: 0 "min" (Spark's default), 1 "max" */
  int state_partitions;     /* numStatePartitions the job asks for (1..SR_STATE_MAX_PARTITIONS);
                               0: not given (a new checkpoint takes the default, an existing one
                               keeps its own) */
  char *plan_json;          /* sources and stateful operators, for the compatibility check */
} sr_query_spec;

void sr_query_spec_free(sr_query_spec *s); /* accepts NULL */
/* What sr_query_open would refuse in the spec itself, before anything is created (a durable
** sink without a checkpointLocation). Returns SR_OK or SR_ERROR with *err. */
sr_status sr_query_spec_check(const sr_query_spec *s, sr_error **err);
/* Appends to out (NUL-terminated, of size len) what changed between two plan descriptions
** (plan_json: sources and stateful operators) in words: "its source 1 changed from json path in
** to json path elsewhere; a stateful operator ... was added". */
void sr_plan_change_words(const char *before, const char *after, char *out, size_t len);

typedef struct sr_query sr_query;

/* Result of one step of the query's trigger loop. */
typedef enum { SR_STEP_RAN, SR_STEP_IDLE, SR_STEP_DONE } sr_step;

/* Opens the checkpoint (taking its lock), checks the plan against it, opens sources, sink and
** state, and decides where to resume. Takes ownership of spec. progress_file may be NULL.
** Returns NULL with *err on failure (the spec is freed). */
sr_query *sr_query_open(sr_query_spec *spec, const char *job_dir, FILE *progress_file, sr_error **err);

/* Runs the next batch if there is work (new data, a replay, or a watermark that moved with state
** waiting). Calls into Lua through jl. Returns SR_OK with *step set, SR_RETRY (transient: try
** again after a backoff), or SR_ERROR (the query has failed; *err says why, with the job's
** file and line). */
sr_status sr_query_step(sr_query *q, sr_job_lua *jl, sr_step *step, sr_error **err);

const sr_query_spec *sr_query_spec_of(const sr_query *q);
/* 1 when the last step failed because a stop signal interrupted its batch's user code (the
** batch was not committed: it re-runs at the next start). */
int sr_query_interrupted(const sr_query *q);
/* The descriptors an idle query can wait on for new data (sr_source_ops.wake_fd), at most max
** of them, for the continuous trigger. Returns their count, or -1 when a source has none. */
int sr_query_wake_fds(sr_query *q, int *fds, int max);
/* After a reload: the query's descriptor is now at position index (1-based) of the new list. */
void sr_query_set_index(sr_query *q, int index);
/* The batch the next step runs; the watermark it runs with (INT64_MIN: the query has none);
** the last batch's progress record (NULL before one; owned by the query, valid until its next
** step or close); the checkpoint directory and the query id it holds. */
int64_t sr_query_next_batch(const sr_query *q);
int64_t sr_query_watermark_ms(const sr_query *q);
const json_t *sr_query_last_progress(const sr_query *q);
const char *sr_query_checkpoint_dir(const sr_query *q);
const char *sr_query_id(const sr_query *q);
/* Closes connectors, state and the checkpoint lock. Accepts NULL. */
void sr_query_close(sr_query *q);

/* Milliseconds of CLOCK_MONOTONIC / CLOCK_REALTIME. */
int64_t sr_now_mono_ms(void);
int64_t sr_now_wall_ms(void);
/* Makes sr_now_wall_ms (a batch's processing time) read now_ms instead of the system clock
** (NULL: back to it). For streamrun test's virtual clock; not thread-safe. */
void sr_set_wall_clock(int64_t (*now_ms)(void));


#endif
