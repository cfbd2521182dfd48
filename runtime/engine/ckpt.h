/*
** ckpt: a query's checkpoint directory (checkpointLocation), laid out as Spark's.
** The format and the order of writes that make a crash at any instant safe are at the top of
** ckpt.c. All writes go through sr_fs_write_atomic, as checked files (fsutil.h).
*/
#ifndef SR_CKPT_H
#define SR_CKPT_H
#include <jansson.h>
#include <stdint.h>
#include "sr_error.h"

typedef struct sr_ckpt sr_ckpt;

/* What offsets/N records beside the sources' end offsets (Spark's OffsetSeqMetadata). */
typedef struct sr_batch_meta {
  int64_t watermark_ms;     /* the watermark batch N runs with (INT64_MIN: none yet) */
  int64_t batch_ts_ms;      /* processing time of batch N, fixed for replays */
  const char *watermark_policy; /* multipleWatermarkPolicy the query runs with ("min", "max"),
                                   a static string; read: NULL when the log has none */
  int state_partitions;         /* numStatePartitions the state is split into; 0: not recorded
                                   (a log written before partitions: one partition) */
} sr_batch_meta;

/* Opens (creating) the directory, takes its exclusive lock, removes temp files of dead
** writers, reads or writes `metadata`, and checks the logs' shape (ckpt.c, I3). Fails naming
** the holder (pid, host, start time) when another process holds the lock: at once when it is
** alive, after up to 5 s of waiting when it is dead or dying. Fails naming the file when the
** checkpoint is damaged. Returns NULL with *err set on failure. The caller closes it. */
sr_ckpt *sr_ckpt_open(const char *dir, sr_error **err);
/* Releases the lock. Accepts NULL. */
void sr_ckpt_close(sr_ckpt *c);

const char *sr_ckpt_dir(const sr_ckpt *c);
const char *sr_ckpt_query_id(const sr_ckpt *c);

/* The highest N with offsets/N (commits/N), or -1 when there is none. */
int64_t sr_ckpt_latest_offsets(const sr_ckpt *c);
int64_t sr_ckpt_latest_commit(const sr_ckpt *c);

/* Writes offsets/N: meta and one JSON value per source (ends is a JSON array; NULL entries are
** "no data from that source"). Durable when it returns SR_OK. */
sr_status sr_ckpt_write_offsets(sr_ckpt *c, int64_t batch_id, const sr_batch_meta *meta,
                                json_t *ends, sr_error **err);
/* Reads offsets/N, checked (checksum and tag, or an old file's strict parse). *ends is a new
** reference the caller releases (json_decref). SR_ERROR naming the file when it is missing or
** damaged. */
sr_status sr_ckpt_read_offsets(sr_ckpt *c, int64_t batch_id, sr_batch_meta *meta,
                               json_t **ends, sr_error **err);
/* Writes commits/N with the watermark the next batch runs with and, for each of the query's n
** with_watermark operators, the max event time it has seen (INT64_MIN: none yet). Durable when
** it returns SR_OK. */
sr_status sr_ckpt_write_commit(sr_ckpt *c, int64_t batch_id, int64_t next_watermark_ms,
                               const int64_t *max_event_ms, int n, sr_error **err);
/* Reads commits/N, checked like offsets/N; every commit records the next watermark (INT64_MIN:
** none yet), and one without it is damaged. max_event_ms[0..n) is filled only when the log
** holds exactly n max event times (else left as it is: a checkpoint written before they were
** kept, or for another number of with_watermark operators). */
sr_status sr_ckpt_read_commit(sr_ckpt *c, int64_t batch_id, int64_t *next_watermark_ms,
                              int64_t *max_event_ms, int n, sr_error **err);

/* Deletes offsets/commits older than keep_from (retention, like minBatchesToRetain). */
void sr_ckpt_prune(sr_ckpt *c, int64_t keep_from);

/* Reads/writes a small named JSON object at the checkpoint's top level ("plan"), a checked
** file. *doc NULL when absent; SR_ERROR naming the file when it is damaged. */
sr_status sr_ckpt_read_doc(sr_ckpt *c, const char *name, json_t **doc, sr_error **err);
sr_status sr_ckpt_write_doc(sr_ckpt *c, const char *name, json_t *doc, sr_error **err);

/* Joins the checkpoint dir and a relative path into out (size outlen). */
void sr_ckpt_path(const sr_ckpt *c, const char *rel, char *out, size_t outlen);

#endif
