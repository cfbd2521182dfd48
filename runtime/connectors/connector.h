/*
** Connectors: one struct of callbacks per source and per sink, filled with designated
** initializers in its own file (source_files.c, sink_delta.c, ...) and listed once in
** connectors.c. The engine never switches on a connector's name: it looks the struct up by
** the job's `format`, checks the job's options against the struct's option table, and calls
** the callbacks in the order below.
**
** Source, per batch:  plan -> (engine writes offsets/N) -> read -> ... -> commit
** Sink, per batch:    write(batch_id) -> commit(batch_id) -> (engine writes commits/N)
**
** Replays: after a crash the engine calls read(start, end) again with exactly the offsets it
** logged, so read must be deterministic for a given range; and it may call sink write/commit
** again for a batch the sink already committed, so sinks must be idempotent by batch id.
**
** Lua: read and write receive the query's lua_State and run inside the engine's protected call
** (lua_pcall with a traceback handler), so they may use the Lua C API and raise Lua errors
** (but must free their C resources first: see STYLE.md). Everything that must outlive a batch
** or a reload of the job lives in the connector's C struct, never in Lua.
*/
#ifndef SR_CONNECTOR_H
#define SR_CONNECTOR_H
#include <jansson.h>
#include <lua.h>
#include <stdint.h>

#include "options.h"
#include "schema.h"
#include "sr_error.h"

/* Where bad records go (badRecordsPath): one JSON line each with the reason, the origin
** (file or topic/partition), the line or offset, the batch id and the record itself. */
typedef struct sr_bad_records sr_bad_records;
/* Records one bad record. origin/record may be NULL. Never fails the batch: a write error is
** remembered and reported by sr_bad_records_flush. Counts toward numBadRecords. */
void sr_bad_record(sr_bad_records *br, const char *origin, int64_t line_or_offset,
                   const char *record, size_t record_len, const char *reason);
/* The same for a Kafka record: where it is in Kafka (topic, partition, offset) instead of a
** line; origin (the operator that found it bad, e.g. parse_json's job line) may be NULL. */
void sr_bad_record_kafka(sr_bad_records *br, const char *origin, const char *topic, int32_t partition,
                         int64_t offset, const char *record, size_t record_len, const char *reason);

typedef struct sr_connector_config {
  const sr_options *options;    /* the job's options for this connector, checked */
  const sr_schema *schema;      /* source: the declared schema; sink: the output columns
                                   known from the plan, in order, NULL when unknown — a hint
                                   for types and order: a row may lack some and have others */
  const char *const *columns;   /* sink: the output rows' column names in order, NULL-
                                   terminated, when the plan knows them exactly (a Spark
                                   DataFrame's schema: rows have these and no others); NULL
                                   when it does not (after a map, a flat_map, ...) */
  int schema_guessed;           /* sink: the rows were made by a function (map) the plan cannot
                                   see into: `schema` is its input's columns, types and order
                                   for the columns the rows hold, not columns to create */
  const char *checkpoint_dir;   /* the query's checkpointLocation (absolute) */
  const char *state_dir;        /* a directory of this connector's own inside the checkpoint
                                   (sources/<n>/ or sinks/), created by the engine */
  const char *query_id;         /* stable across restarts (checkpoint metadata) */
  const char *query_name;
  const char *output_mode;      /* sinks: "append", "update" or "complete" */
  sr_bad_records *bad;          /* sources: where bad input goes */
  const char *job_dir;          /* the job file's folder (relative paths are relative to the
                                   working directory, as in Spark) */
  const json_t *resume_end;     /* sources: the end offsets of the newest batch in offsets/
                                   (NULL for a new query); anything a source logged itself
                                   beyond it belongs to a batch that was never logged */
  int64_t continuous_ms;        /* the continuous trigger's interval; 0 under any other
                                   trigger. Connectors tune for latency under it (docs/KAFKA.md,
                                   "Latency"); the guarantees stay those of every trigger */
} sr_connector_config;

typedef struct sr_source sr_source;
typedef struct sr_sink sr_sink;

/* A text column of a record: ptr NULL is nil. */
typedef struct sr_view_text {
  const char *ptr;
  size_t len;
} sr_view_text;

/* A column's C type in a record: sr_view_text, int32_t, or int64_t. SR_VIEW_INT64_NIL is nil,
** so that an int64 column that may be nil (a Kafka record's timestamp) needs no flag. */
typedef enum { SR_VIEW_TEXT, SR_VIEW_INT32, SR_VIEW_INT64 } sr_view_type;
#define SR_VIEW_INT64_NIL INT64_MIN

/* A column of a source's records as C code reads it (sink write_view). */
typedef struct sr_view_column {
  const char *name;     /* NULL ends a list */
  sr_view_type type;
  size_t offset;        /* of the column's value in a record */
} sr_view_column;

/* A batch as an array of the source's own fixed-size C records, which a Lua module of the
** source's turns into rows through the FFI inside the query's generated loop. A row that no
** operator keeps is then never allocated (LuaJIT sinks it), and building one costs a traced
** table constructor instead of a C API call per field.
** When a query hands the source's rows to its sink untouched (the plan is source -> sink),
** a sink with write_view reads the records in C through `columns` and no row is made at all. */
typedef struct sr_row_view {
  const void *records;  /* count records, valid until the source's next read or close */
  int count;
  const sr_view_column *columns; /* every column of the rows, or NULL when one of them has no
                                    C form here (the sink then gets rows) */
  size_t record_size;
} sr_row_view;

typedef struct sr_source_ops {
  const char *name;                 /* the job's format = "..." */
  const sr_option_spec *options;    /* terminated by {NULL} */
  int needs_schema;                 /* 1: the job must give `schema` (csv without header ...) */
  const char *columns;              /* the columns a source always has, as DDL ("timestamp
                                       timestamp, value long"), or NULL: the job's schema */
  /* Optional: the schema of this source when the job gives none, from what is there now
  ** (Spark's spark.sql.streaming.schemaInference). Called when the job's plan is built, before
  ** any open, with the job's options (unchecked). Sets *out to a new schema the caller frees;
  ** SR_ERROR with the reason (no data to infer from, unreadable files) otherwise. */
  sr_status (*infer_schema)(const sr_options *options, sr_schema **out, sr_error **err);
  /* Optional: checks what it can of the job's options without side effects (nothing created,
  ** no broker contacted), so that --check refuses what open would. Called for --check and
  ** before any query of the job opens, with a config holding only options, schema and job_dir.
  ** Returns SR_OK or SR_ERROR with *err. */
  sr_status (*check)(const sr_connector_config *cfg, sr_error **err);
  /* Allocates the source's state in src->impl. */
  sr_status (*open)(sr_source *src, const sr_connector_config *cfg, sr_error **err);
  /* Plans the next batch after the one that ended at `start` (NULL: the query's first batch).
  ** Sets *end to a new JSON value the engine owns, or NULL (or a copy of start) when there is
  ** no new data yet. With src->available_now, plan only what existed when the source opened. */
  sr_status (*plan)(sr_source *src, const json_t *start, json_t **end, sr_error **err);
  /* Appends the rows of (start, end] to the Lua array at rows_idx, whose length is *nrows,
  ** and updates *nrows. Deterministic for a given range. */
  sr_status (*read)(sr_source *src, const json_t *start, const json_t *end, lua_State *L,
                    int rows_idx, int *nrows, sr_error **err);
  /* Optional, instead of read (a source has one or the other): the records of (start, end].
  ** Deterministic for a given range. view_module names the embedded Lua module that reads
  ** them; it returns {ctype = "<pointer C type>", reader = function(options) -> row,
  ** cache = function() -> a table (optional; default {}), columns = function(options) -> DDL
  ** or nil (optional: the rows' columns when they are not `columns` below)}, where
  ** row(records, i, cache) builds the row of record i (from 0) for a source with the job's
  ** options. The engine makes one cache per source of a compiled query and passes it to every
  ** row() of every batch (until the job reloads): the module may keep there what repeats
  ** across rows, such as strings, as long as it depends only on the source's options or on
  ** what its records say for the source's whole life (the Kafka source's topic ids). */
  sr_status (*read_view)(sr_source *src, const json_t *start, const json_t *end, sr_row_view *view,
                         sr_error **err);
  const char *view_module;
  /* The batch ending at `end` is committed everywhere: release what it held (cleanSource). */
  sr_status (*commit)(sr_source *src, const json_t *end, sr_error **err);
  /* Optional: adds description, startOffset/endOffset-like fields to a progress record. */
  void (*describe)(sr_source *src, json_t *progress_source);
  /* Optional: 1 if everything present at start has been planned (availableNow ends). */
  int (*drained)(sr_source *src, const json_t *end);
  /* Optional: a descriptor that becomes readable when new data may have come, or -1. Under
  ** the continuous trigger an idle query waits on it (poll) instead of planning again every
  ** few ms; plan clears it. A wake-up without data is harmless: plan finds nothing. */
  int (*wake_fd)(sr_source *src);
  void (*close)(sr_source *src); /* frees impl; accepts a source whose open failed */
} sr_source_ops;

struct sr_source {
  const sr_source_ops *ops;
  void *impl;
  sr_connector_config cfg;
  int available_now;                /* availableNow or once: plan only what exists at open */
  int ignore_limits;                /* once: one batch takes everything (Spark's Trigger.Once) */
};

typedef struct sr_sink_ops {
  const char *name;
  const sr_option_spec *options;
  /* The output modes it supports ("append", "update", "complete"), NULL-terminated; NULL: all.
  ** The engine refuses another before anything opens (--check too). */
  const char *const *output_modes;
  /* 1: its output is not durable (it prints, keeps rows in memory, drops them, or hands them
  ** to the job's own function), so a query may run without a checkpointLocation, in a
  ** temporary one removed at the end. 0: the engine refuses a query with none, as Spark does
  ** (DataStreamWriter.startQuery's useTempCheckpointLocation). */
  int temp_checkpoint_ok;
  /* Optional: as a source's check; the config holds options, schema, columns, output_mode and
  ** job_dir (the output columns let a sink refuse a plan without a column it needs). */
  sr_status (*check)(const sr_connector_config *cfg, sr_error **err);
  sr_status (*open)(sr_sink *sink, const sr_connector_config *cfg, sr_error **err);
  /* Writes rows[1..nrows] of the Lua array at rows_idx as batch batch_id. spec_idx is the
  ** stack index of the query's write_stream table (for foreach_batch's fn). A batch the sink
  ** has already committed must be skipped: replays happen. */
  sr_status (*write)(sr_sink *sink, int64_t batch_id, lua_State *L, int rows_idx, int nrows,
                     int spec_idx, sr_error **err);
  /* Optional: writes batch batch_id from a source's records (see sr_row_view), for a query
  ** whose rows go from the source to the sink untouched. A column the sink looks for and the
  ** records lack is nil. Otherwise the same contract as write. */
  sr_status (*write_view)(sr_sink *sink, int64_t batch_id, const sr_row_view *view,
                          sr_error **err);
  /* Makes batch_id's output visible and durable. */
  sr_status (*commit)(sr_sink *sink, int64_t batch_id, sr_error **err);
  void (*describe)(sr_sink *sink, json_t *progress_sink); /* optional */
  void (*close)(sr_sink *sink);
  /* Optional: what the sink's own log says this query committed, for the engine to cross-check
  ** against the checkpoint at open (ckpt.c I5). *batch_id: the newest batch recorded, as
  ** committed or as begun (Kafka's pending batch), which offsets/ must have (-1: none); *every: 1 when the log records every committed batch, empty ones too (so it must
  ** reach the checkpoint's newest commit), 0 when it is a lower bound (Delta commits nothing
  ** for an empty batch); where: the log that says so, for messages; with *every, the folder
  ** of its per-batch records, each named by its batch id. Returns SR_OK, or
  ** SR_ERROR with *err naming the damaged file. */
  sr_status (*committed)(sr_sink *sink, int64_t *batch_id, int *every, char *where, size_t wherelen,
                         sr_error **err);
} sr_sink_ops;

struct sr_sink {
  const sr_sink_ops *ops;
  void *impl;
  sr_connector_config cfg;
};

/* The registry (connectors.c). NULL when no connector has that name. */
const sr_source_ops *sr_source_lookup(const char *format);
const sr_sink_ops *sr_sink_lookup(const char *format);
/* NULL-terminated lists of the names, for error messages. */
const char *const *sr_source_names(void);
const char *const *sr_sink_names(void);

#endif
