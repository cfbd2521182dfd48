/*
** kafka_sink: what the Kafka sink's files share (internal to the sink).
**
** - sink_kafka.c: the sink's ops, its producer and its topics; the protocol is described at
**   its top (the batch marker, the pending file, write and commit).
** - kafka_rows.c: a batch's rows, collected from Lua rows or read record by record from a
**   source's view, as the key, value, topic, partition and headers a message is made of.
** - kafka_pending.c: the pending file, <state_dir>/kafka-sink-pending.json.
** - kafka_marker.c: the batch marker every message carries, and the replay scan that reads
**   it back to find what an earlier attempt of a batch already wrote.
*/
#ifndef SR_KAFKA_SINK_H
#define SR_KAFKA_SINK_H
#include <librdkafka/rdkafka.h>
#include <lua.h>
#include <stdint.h>

#include "buf.h"
#include "connector.h"
#include "kafka_common.h"

#define WHAT "the kafka sink"
#define PENDING_FILE "kafka-sink-pending.json"
#define H_MARK "streamrun"
#define MARK_NUMBERS 32               /* room for ":<batch id>:<seq>": 1 + 19 + 1 + 10 */

typedef int32_t (*kk_partitioner)(const rd_kafka_topic_t *rkt, const void *key, size_t keylen,
                                  int32_t partition_cnt, void *rkt_opaque, void *msg_opaque);

typedef struct kk_topic {
  char *name;
  rd_kafka_topic_t *rkt;
  int32_t partitions;         /* 0: not known yet */
  int64_t checked_ms;
} kk_topic;

/* A text field of a row: a Lua string (ptr) or text made here (off into the batch's buffer);
** absent (nil) when neither. */
typedef struct kk_text {
  const char *ptr;
  size_t len;
  long off;                   /* >= 0: in the buffer; ptr is set once the buffer stops growing */
} kk_text;

typedef struct kk_row {
  kk_text key, value;
  int topic;                  /* index into the sink's topics */
  int32_t partition;          /* the row's `partition`, or -1 */
  int hdr_first, hdr_n;
} kk_row;

typedef struct kk_hdr {
  kk_text name, value;
} kk_hdr;

typedef struct kk_sink {
  rd_kafka_t *rk;
  const sr_options *opts;
  char *topic_opt;
  int value_required;         /* the plan does not know the columns: a row without `value` is
                                 refused (it cannot be told from a null value) */
  char *query_id;
  kk_row *rows;               /* the rows of the batch being written (kk_collect_rows) */
  size_t rows_cap;
  int32_t *partitions;        /* where each row of the batch goes (write_batch) */
  size_t partitions_cap;
  char *mark;                 /* the marker header's value, "<query id>:<batch id>:<seq>" */
  size_t mark_id_len;         /* strlen(query id) */
  size_t mark_prefix_len;     /* "<query id>:<batch id>:" for the batch being written */
  char *pending_path;         /* NULL without a state directory: exactly-once within the process */
  int64_t pending_batch;      /* K of the pending file (see the top); -1: none */
  rd_kafka_topic_partition_list_t *pending_from;
  rd_kafka_topic_partition_list_t *known_ends; /* a lower bound of log ends, from deliveries */
  int64_t begun;              /* the last batch this process began writing, -1 */
  int64_t committed;          /* the last batch this process committed, -1 */
  int transactional, txn_ready, txn_open;
  kk_partitioner partitioner;
  kk_topic *topics;
  int ntopics;
  int timeout_ms;
  /* Delivery reports (dr_msg_cb runs in this thread, inside rd_kafka_poll/flush). */
  int64_t dr_failed;
  rd_kafka_resp_err_t dr_err;
  char dr_errmsg[256];
  /* For describe(). */
  int64_t last_written, last_skipped;
} kk_sink;

typedef struct kk_batch {
  kk_sink *ks;
  int nrows;
  kk_row *rows;               /* kk_collect_rows: the rows; NULL for a view */
  kk_hdr *hdrs;
  int nhdrs, hdrs_cap;
  sr_buf text;                /* numbers turned into text */
  char errmsg[512];           /* a row the sink cannot write (set instead of raising) */
  /* write_view: the records, read row by row (kk_row_at) instead of collected into rows: an
  ** array of 100,000 rows was 6 MB of fresh memory, 20 ms of page faults on its own. */
  const sr_row_view *view;
  const sr_view_column *value_col, *key_col, *topic_col, *partition_col;
  int view_topic;             /* the topic of the last record read (or of the option) */
  const char *view_topic_name;/* that record's topic text: the same pointer, the same topic */
} kk_batch;

/* A row read from a record (kk_row_at), with room for its numbers turned into text. */
#define VIEW_NUM_SIZE 24 /* INT64_MIN in decimal, and its end */
typedef struct kk_view_row {
  kk_row row;
  char num[2][VIEW_NUM_SIZE];
} kk_view_row;

/* sink_kafka.c */
/* The index of topic name[0..len) in ks->topics, added when new (its partitions not known
** yet); -1 when out of memory. */
int kk_topic_index(kk_sink *ks, const char *name, size_t len);

/* kafka_rows.c: a batch's rows (kk_batch); nothing here talks to Kafka. */
void kk_batch_free(kk_batch *b);
/* [-0, +0, m] Lua function (rows, batch): fills batch->rows; a row the sink cannot write sets
** batch->errmsg (no Lua error). */
int kk_collect_rows(lua_State *L);
/* Finds the columns a view gives the sink; SR_ERROR when it gives no topic. */
sr_status kk_view_columns(kk_batch *b, const sr_row_view *v, sr_error **err);
/* Row i of the batch: the collected one, or one read from record i into *tmp; NULL with *err. */
const kk_row *kk_row_at(kk_batch *b, int i, kk_view_row *tmp, sr_error **err);
/* Points t at the batch's buffer when it was made there (once the buffer stops growing). */
void kk_resolve_text(kk_text *t, const sr_buf *buf);

/* kafka_pending.c: the pending file (the top of sink_kafka.c). */
/* Reads the file at open, if any: SR_ERROR naming it when damaged or another query's. */
sr_status kk_pending_load(kk_sink *ks, sr_error **err);
/* Makes the file name every partition of targets before batch `batch` produces into them;
** written (atomically, checked) only when it changes. */
sr_status kk_pending_cover(kk_sink *ks, int64_t batch, const rd_kafka_topic_partition_list_t *targets,
                           int replay, sr_error **err);

/* kafka_marker.c: the batch marker and the replay scan. */
/* Writes v in decimal at p (no terminator). Returns the number of digits. */
size_t kk_put_decimal(char *p, uint64_t v);
/* Sets the marker's prefix "<query id>:<batch>:" for the batch about to be written or checked. */
void kk_mark_batch(kk_sink *ks, int64_t batch);
/* Reads pending_from[p] .. end of every partition and sets found[seq] for each message of this
** query's batch `batch`. Returns how many it found, or -1 with *err set. */
int64_t kk_replay_scan(kk_sink *ks, int64_t batch, unsigned char *found, int nrows, sr_error **err);

#endif
