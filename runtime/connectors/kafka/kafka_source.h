/*
** kafka_source: what the Kafka source's files share (internal to the source).
**
** - source_kafka.c: the source's options, its plan (the offsets a batch ends at) and its
**   other ops; the offsets JSON and the consumer across batches are described at its top.
** - kafka_consumer.c: the consumer's partitions and what it fetched past a batch's end (each
**   partition's stash).
** - kafka_read.c: a batch's read: the consumer assigned at the batch's start, its messages
**   turned into the records of a view.
*/
#ifndef SR_KAFKA_SOURCE_H
#define SR_KAFKA_SOURCE_H
#include <librdkafka/rdkafka.h>
#include <regex.h>
#include <stdint.h>

#include "arena.h"
#include "connector.h"
#include "kafka_common.h"

#define WHAT "the kafka source"
#define STASH_MAX_BYTES (4 << 20)  /* per partition, past the batch's end */
#define POLL_BATCH 1024            /* messages per rd_kafka_consume_batch_queue call */
#define POLL_WAIT_MS 100

typedef enum { KS_SUBSCRIBE, KS_PATTERN, KS_ASSIGN } ks_mode;

/* A partition in the consumer's assignment. */
typedef struct ks_part {
  char *topic;
  int32_t partition;
  const rd_kafka_topic_t *rkt;  /* librdkafka's handle, learnt from the first message */
  int64_t from, to;             /* the current read's range */
  int range;                    /* its index among the read's ranges (row order, see below) */
  /* Every message before `next` has been handed out or is absent; the next message to come
  ** (the stash's first, then the consumer's) is the first one at or after `next`. */
  int64_t next;
  int done, paused;
  rd_kafka_message_t **stash;   /* messages polled at or past `to`, in offset order */
  int stash_head, stash_len, stash_cap;
  size_t stash_bytes;
} ks_part;

/* A partition's range in one read. topic points into the batch's end list. */
typedef struct ks_range {
  const char *topic;
  int32_t partition;
  int64_t from, to;
} ks_range;

/* The last read's records and the bytes they point to (see "read" below), kept until the
** next read. */
typedef struct ks_batch {
  struct ks_rec *recs;          /* in `bytes` */
  int count;
  sr_arena bytes;               /* the records, and the keys, values and headers copied */
} ks_batch;

typedef struct ks_source {
  rd_kafka_t *rk;               /* fetches: the assigned partitions, always long-polling */
  rd_kafka_queue_t *queue;      /* rk's consumer queue */
  /* Metadata and offset queries, on connections of their own: on rk's they would wait behind
  ** the brokers' held Fetch requests (up to fetch.wait.max.ms each). No group.id. */
  rd_kafka_t *meta;
  ks_mode mode;
  char **topics;                /* subscribe: the topics; assign: the assigned topics */
  int ntopics;
  regex_t pattern;
  int have_pattern;
  rd_kafka_topic_partition_list_t *assign;
  const char *starting;         /* startingOffsets text (owned by the options) */
  int64_t starting_ts;          /* startingTimestamp, or -1 */
  json_t *starting_by_ts;       /* startingOffsetsByTimestamp, or NULL */
  int64_t max_offsets;          /* maxOffsetsPerTrigger, 0: no limit */
  int fail_on_data_loss, include_headers;
  int fetch_retries;            /* availableNow/once: plans that may fail in a row (Spark's
                                   fetchOffset.numRetries) before the query fails */
  int plan_failures;            /* consecutive retriable plan failures */
  const char *bootstrap;        /* kafka.bootstrap.servers (owned by the options), for messages */
  int timeout_ms;               /* kafkaConsumer.pollTimeoutMs: also bounds metadata calls */
  char *initial_path;           /* NULL without a state directory */
  rd_kafka_topic_partition_list_t *initial; /* resolved starting offsets, once known */
  rd_kafka_topic_partition_list_t *cap;     /* availableNow: the latest offsets at start */
  rd_kafka_topic_partition_list_t *planned; /* the last planned end (or the start) */
  ks_part *parts;
  int nparts;
  int assignment_valid;         /* 0: the next read takes the slow path */
  int64_t loss_events, loss_offsets;
  json_t *desc_start, *desc_end, *desc_latest;
  char description[256];
  char **known;                 /* topics whose metadata rk has (see know_topics) */
  rd_kafka_topic_t **known_rkt;
  int nknown;
  int64_t continuous_ms;        /* the continuous trigger's interval, or 0 (see the top) */
  int64_t full_plan_due_ms;     /* continuous: when the next plan asks the brokers again */
  int wake[2];                  /* continuous: the pipe librdkafka wakes an idle query with */
  ks_batch batch;
  sr_view_text *topic_names;    /* by topic_id - 1 (see ks_rec), for the source's life */
  int ntopic_names;
} ks_source;

/* kafka_consumer.c: the consumer's partitions and their stashes. */
/* Frees the partitions (and their stashes); the next read takes the slow path. */
void ks_parts_free(ks_source *ks);
/* The partition topic/partition of the assignment, or NULL. */
ks_part *ks_part_find(ks_source *ks, const char *topic, int32_t partition);
/* The partition a message belongs to (*cache: the last one found), or NULL. */
ks_part *ks_part_of(ks_source *ks, const rd_kafka_message_t *m, ks_part **cache);
/* Keeps m (owned from then on) in p's stash. Returns 0, or -1 when out of memory. */
int ks_stash_push(ks_part *p, rd_kafka_message_t *m);
/* Pauses (pause = 1) or resumes p's fetches. */
void ks_pause_part(ks_source *ks, ks_part *p, int pause);
/* Moves what the consumer queue holds into the stashes, without waiting. Returns 0, or -1
** when the queue held an error (the assignment is then invalid). */
int ks_stash_fetched(ks_source *ks);

/* kafka_read.c: the read op. */
sr_status ks_read_view(sr_source *src, const json_t *start, const json_t *end,
                       sr_row_view *view, sr_error **err);

#endif
