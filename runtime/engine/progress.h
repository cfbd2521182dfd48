/*
** progress: one StreamingQueryProgress record per batch, with Spark's field names, appended as a
** JSON line to <checkpointLocation>/progress/progress.jsonl (and to --progress FILE), plus a
** one-line summary on stderr when it is a terminal.
**
** progress.jsonl is rotated so that a query running for weeks keeps a bounded checkpoint: a
** record that would take it past max_bytes first renames it to progress.jsonl.1 (the older .1
** to .2, and so on up to SR_PROGRESS_KEEP files; the oldest is dropped). Spark keeps only the
** last spark.sql.streaming.numRecentProgressUpdates (100) in memory; the HTTP API and top
** read the records from memory (monitor.c), not from the file.
*/
#ifndef SR_PROGRESS_H
#define SR_PROGRESS_H
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

enum { SR_PROGRESS_KEEP = 2 };                     /* rotated files kept */
#define SR_PROGRESS_MAX_BYTES (8LL * 1024 * 1024)  /* per file */

typedef struct sr_progress {
  char *dir;
  char *name;
  char id[40];
  char run_id[40];
  FILE *file;           /* progress/progress.jsonl, opened on the first record */
  long long file_bytes; /* its size */
  long long max_bytes;  /* rotated past this size (SR_PROGRESS_MAX_BYTES unless a test sets it) */
  int tty;              /* stderr is a terminal: print the one-line summary */
  int64_t last_trigger_wall_ms;
  json_t *last;         /* the last record emitted, or NULL (streamrun test reads it) */
} sr_progress;

typedef struct sr_progress_batch {
  int64_t batch_id, timestamp_ms;
  int64_t num_input_rows, num_output_rows, num_bad_records;
  int64_t latest_offset_ms, wal_commit_ms, add_batch_ms, commit_ms, trigger_ms;
  int has_event_time;
  double et_min, et_max, et_avg;
  int64_t watermark_ms;          /* INT64_MIN: none */
  json_t *sources;               /* borrowed: array of source records */
  json_t *sink;                  /* borrowed */
  json_t *state_operators;       /* borrowed: array */
  json_t *extra;                 /* borrowed, may be NULL: merged into the record */
} sr_progress_batch;

/* Fills p (a new run id). Creates nothing until the first record. */
void sr_progress_init(sr_progress *p, const char *dir, const char *name, const char *query_id);
/* Builds the record, appends it to the progress file and to also (may be NULL), prints the
** summary. I/O errors are reported once on stderr: progress is for people, not recovery. */
void sr_progress_emit(sr_progress *p, const sr_progress_batch *b, FILE *also);
void sr_progress_free(sr_progress *p);
/* Off: no one-line summaries on a terminal (streamrun test, whose batches a spec reads). */
void sr_progress_set_summary(int on);

#endif
