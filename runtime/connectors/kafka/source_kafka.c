/*
** The Kafka source (format "kafka"), with Spark's option names and columns.
**
** Offsets belong to the checkpoint, not to a consumer group. The consumer never joins or
** commits to a group: it has a group.id only because librdkafka's rd_kafka_assign() wants one,
** and every read assigns partitions at explicit offsets.
**
** The offsets JSON that plan() returns (the engine logs it as offsets/N):
**
**     {"topic": {"0": 120, "1": 98}, "$start": {"topic": {"1": 0}}}
**
**   - one entry per known partition: the offset after the batch (where the next one starts);
**   - "$start" (never a topic: '$' is not allowed in Kafka topic names): where this batch
**     starts for the partitions whose start is not the previous batch's end: every partition
**     of the query's first batch (startingOffsets resolved to numbers), a partition that
**     appeared while running (its earliest offset when found), and one reset after data loss
**     with failOnDataLoss=false.
**
** Invariant: read(start, end) reads, per partition of end, exactly the offsets
** [$start[p] or start[p], end[p]), nothing depends on the broker's state at read time except
** the records themselves, so a replay after a crash yields the same rows (unless the records
** were deleted in between, which failOnDataLoss reports). end[p] is an upper bound: offsets
** that hold transaction markers or were compacted away are simply absent.
**
** Initial offsets: startingOffsets/startingTimestamp are resolved once, by the query's first
** plan, and written to <state_dir>/initial-offsets.json before plan returns. Later plans of a
** query that has not run a batch yet (plan found no data, or the process restarted) start
** from that file, so "latest" means the latest when the query first started, as in Spark.
**
** The consumer across batches: a read that finishes leaves the partitions assigned and
** librdkafka keeps prefetching. Messages polled past a partition's end are kept in the
** partition's stash (up to STASH_MAX_BYTES, then the partition is paused: librdkafka then
** refetches from the message after the last one handed out). The next read continues without
** a seek when every partition's `next` equals the batch's start (the fast path, the usual
** case); otherwise it checks for data loss and assigns again at the exact start offsets (the
** slow path: the first read, replays, after errors).
**
** Under the continuous trigger (cfg->continuous_ms) the latency is the time a message waits,
** so the source waits less: the consumer's fetches are held 1 ms, not 100; a plan between two
** full plans (one per continuous interval) asks no broker but ends the batch after the
** messages the consumer has already fetched (plan_fetched), which the read then takes from the
** stash at once; and an idle query sleeps on wake_fd, which librdkafka writes to when the
** consumer queue gets a message. What a batch holds is still fixed by its offsets/N before it
** runs, so replays and exactly-once are as under any trigger.
*/
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <regex.h>
#include <stddef.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "connector.h"
#include "fsutil.h"
#include "kafka_common.h"
#include "sr_log.h"

#define WHAT "the kafka source"
#define INITIAL_FILE "initial-offsets.json"
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

static const sr_option_spec ks_options[] = {
  {"kafka.*", SR_OPT_STRING, NULL,
   "any librdkafka consumer property, e.g. kafka.bootstrap.servers, kafka.security.protocol, "
   "kafka.sasl.mechanisms, kafka.isolation.level"},
  {"subscribe", SR_OPT_STRING, NULL, "comma-separated list of topics to read"},
  {"subscribePattern", SR_OPT_STRING, NULL,
   "read every topic whose whole name matches this POSIX extended regular expression"},
  {"assign", SR_OPT_JSON, NULL, "JSON {\"topic\": [0, 1]}: read exactly these partitions"},
  {"startingOffsets", SR_OPT_STRING, "latest",
   "where a new query starts: earliest, latest, or JSON {\"topic\": {\"0\": 23, \"1\": -2}} "
   "(-2 earliest, -1 latest); a restarted query continues from its checkpoint"},
  {"startingTimestamp", SR_OPT_INT, NULL,
   "a new query starts in every partition at the first record at or after this time (ms "
   "since the epoch); overrides startingOffsets"},
  {"startingOffsetsByTimestamp", SR_OPT_JSON, NULL,
   "JSON {\"topic\": {\"0\": ms}}: startingTimestamp per partition"},
  {"maxOffsetsPerTrigger", SR_OPT_INT, NULL,
   "at most this many offsets per batch, split across partitions in proportion to their lag"},
  {"failOnDataLoss", SR_OPT_BOOL, "true",
   "fail when offsets the query needs are gone (retention, a deleted topic); false: skip "
   "them and count them in progress"},
  {"includeHeaders", SR_OPT_BOOL, "false", "add the column headers = {{key=, value=}, ...}"},
  {"kafkaConsumer.pollTimeoutMs", SR_OPT_INT, "30000",
   "how long a read or a metadata call waits for the brokers before the batch is retried"},
  {"fetchOffset.numRetries", SR_OPT_INT, "3",
   "availableNow and once: how many times in a row planning a batch may fail to reach the "
   "brokers (each waiting kafkaConsumer.pollTimeoutMs) before the query fails; a live "
   "trigger retries for as long as the brokers are away"},
  {"groupIdPrefix", SR_OPT_STRING, "streamrun-kafka-source",
   "prefix of the group.id librdkafka requires (no group is joined, nothing is committed)"},
  {NULL, 0, NULL, NULL},
};

/* ---- helpers -------------------------------------------------------------------------- */

static void part_clear_stash(ks_part *p) {
  for (int i = p->stash_head; i < p->stash_len; i++) rd_kafka_message_destroy(p->stash[i]);
  p->stash_head = p->stash_len = 0;
  p->stash_bytes = 0;
}

static void parts_free(ks_source *ks) {
  for (int i = 0; i < ks->nparts; i++) {
    part_clear_stash(&ks->parts[i]);
    free(ks->parts[i].stash);
    free(ks->parts[i].topic);
  }
  free(ks->parts);
  ks->parts = NULL;
  ks->nparts = 0;
  ks->assignment_valid = 0;
}

static ks_part *part_find(ks_source *ks, const char *topic, int32_t partition) {
  for (int i = 0; i < ks->nparts; i++)
    if (ks->parts[i].partition == partition && strcmp(ks->parts[i].topic, topic) == 0)
      return &ks->parts[i];
  return NULL;
}

/* The part a message belongs to; pointer compare first (librdkafka has one handle per topic). */
static ks_part *part_of(ks_source *ks, const rd_kafka_message_t *m, ks_part **cache) {
  if (*cache && (*cache)->rkt == m->rkt && (*cache)->partition == m->partition) return *cache;
  for (int i = 0; i < ks->nparts; i++)
    if (ks->parts[i].rkt == m->rkt && ks->parts[i].partition == m->partition)
      return *cache = &ks->parts[i];
  ks_part *p = part_find(ks, rd_kafka_topic_name(m->rkt), m->partition);
  if (p) p->rkt = m->rkt;
  return *cache = p;
}

static int stash_push(ks_part *p, rd_kafka_message_t *m) {
  if (p->stash_head > 0 && p->stash_head == p->stash_len) p->stash_head = p->stash_len = 0;
  if (p->stash_len == p->stash_cap) {
    int cap = p->stash_cap ? p->stash_cap * 2 : 64;
    rd_kafka_message_t **s = realloc(p->stash, (size_t)cap * sizeof *s);
    if (!s) return -1;
    p->stash = s;
    p->stash_cap = cap;
  }
  p->stash[p->stash_len++] = m;
  p->stash_bytes += m->len + m->key_len;
  return 0;
}

static void pause_part(ks_source *ks, ks_part *p, int pause) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
  if (pause) rd_kafka_pause_partitions(ks->rk, l);
  else rd_kafka_resume_partitions(ks->rk, l);
  rd_kafka_topic_partition_list_destroy(l);
  p->paused = pause;
}

static int wants_topic(const ks_source *ks, const char *topic) {
  if (ks->mode == KS_PATTERN)
    return strncmp(topic, "__", 2) != 0 && regexec(&ks->pattern, topic, 0, NULL, 0) == 0;
  for (int i = 0; i < ks->ntopics; i++)
    if (strcmp(ks->topics[i], topic) == 0) return 1;
  return 0;
}

/* The partitions that exist now among those the options name, sorted. */
static sr_status discover(ks_source *ks, rd_kafka_topic_partition_list_t **out, sr_error **err) {
  const struct rd_kafka_metadata *md = NULL;
  sr_status st = SR_OK;
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
  /* All topics: asking for named ones (or holding handles for them) makes brokers with
  ** auto.create.topics.enable create the topics that do not exist yet. */
  rd_kafka_resp_err_t e = rd_kafka_metadata(ks->meta, 1, NULL, &md, ks->timeout_ms);
  if (e) {
    st = sr_kafka_error(err, e, "%s: fetching the topics' metadata", WHAT);
    goto done;
  }
  for (int i = 0; i < md->topic_cnt; i++) {
    const struct rd_kafka_metadata_topic *t = &md->topics[i];
    if (!wants_topic(ks, t->topic)) continue;
    /* A topic that does not exist (yet) has no partitions to read: not an error. */
    if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
        t->err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)
      continue;
    if (t->err) {
      st = sr_kafka_error(err, t->err, "%s: metadata of topic '%s'", WHAT, t->topic);
      goto done;
    }
    for (int j = 0; j < t->partition_cnt; j++) {
      int32_t id = t->partitions[j].id;
      if (ks->mode == KS_ASSIGN && !sr_kafka_tp_find(ks->assign, t->topic, id)) continue;
      rd_kafka_topic_partition_list_add(l, t->topic, id);
    }
  }
  rd_kafka_topic_partition_list_sort(l, NULL, NULL);
done:
  if (md) rd_kafka_metadata_destroy(md);
  if (st != SR_OK) {
    rd_kafka_topic_partition_list_destroy(l);
    l = NULL;
  }
  *out = l;
  return st;
}

/* Resolves the elements holding -1 (latest) or -2 (earliest) to offsets, in one round. */
static sr_status resolve_logical(ks_source *ks, rd_kafka_topic_partition_list_t *l, sr_error **err) {
  rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_new(l->cnt);
  for (int i = 0; i < l->cnt; i++)
    if (l->elems[i].offset == RD_KAFKA_OFFSET_END || l->elems[i].offset == RD_KAFKA_OFFSET_BEGINNING)
      rd_kafka_topic_partition_list_add(q, l->elems[i].topic, l->elems[i].partition)->offset =
          l->elems[i].offset;
  sr_status st = sr_kafka_list_offsets(ks->meta, q, ks->timeout_ms, err);
  for (int i = 0; st == SR_OK && i < q->cnt; i++)
    sr_kafka_tp_find(l, q->elems[i].topic, q->elems[i].partition)->offset = q->elems[i].offset;
  rd_kafka_topic_partition_list_destroy(q);
  return st;
}

/* Checks that spec (startingOffsets or ...ByTimestamp JSON) names exactly the live partitions,
** as Spark requires, and copies its values into l (a copy of live). */
static sr_status take_per_partition(const rd_kafka_topic_partition_list_t *spec,
                                    rd_kafka_topic_partition_list_t *l, const char *option,
                                    sr_error **err) {
  for (int i = 0; i < l->cnt; i++) {
    rd_kafka_topic_partition_t *s = sr_kafka_tp_find(spec, l->elems[i].topic, l->elems[i].partition);
    if (!s)
      return sr_error_set(err, SR_ERROR, "%s: option '%s' gives no offset for topic '%s' "
                          "partition %d; give every partition", WHAT, option, l->elems[i].topic,
                          (int)l->elems[i].partition);
    l->elems[i].offset = s->offset;
  }
  for (int i = 0; i < spec->cnt; i++)
    if (!sr_kafka_tp_find(l, spec->elems[i].topic, spec->elems[i].partition))
      return sr_error_set(err, SR_ERROR, "%s: option '%s' names topic '%s' partition %d, which "
                          "is not among the partitions read", WHAT, option, spec->elems[i].topic,
                          (int)spec->elems[i].partition);
  return SR_OK;
}

/* Resolves startingOffsets/startingTimestamp for the live partitions (see the top). */
static sr_status resolve_starting(ks_source *ks, const rd_kafka_topic_partition_list_t *live,
                                  rd_kafka_topic_partition_list_t **out, sr_error **err) {
  sr_status st = SR_OK;
  json_t *json = NULL;
  rd_kafka_topic_partition_list_t *spec = NULL;
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_copy(live);
  if (ks->starting_ts >= 0 || ks->starting_by_ts) {
    if (ks->starting_ts >= 0) {
      sr_kafka_tp_fill(l, ks->starting_ts);
    } else {
      if (!(spec = sr_kafka_offsets_parse(ks->starting_by_ts, "startingOffsetsByTimestamp", err)) ||
          (st = take_per_partition(spec, l, "startingOffsetsByTimestamp", err)) != SR_OK) {
        st = SR_ERROR;
        goto done;
      }
    }
    if ((st = sr_kafka_list_offsets(ks->meta, l, ks->timeout_ms, err)) != SR_OK) goto done;
    /* No record at or after the time: start at the end (Spark's "latest" strategy). */
    st = resolve_logical(ks, l, err);
  } else if (strcmp(ks->starting, "earliest") == 0 || strcmp(ks->starting, "latest") == 0) {
    sr_kafka_tp_fill(l, ks->starting[0] == 'e' ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END);
    st = resolve_logical(ks, l, err);
  } else {
    json_error_t jerr;
    if (!(json = json_loads(ks->starting, 0, &jerr))) {
      st = sr_error_set(err, SR_ERROR, "%s: startingOffsets must be earliest, latest or JSON "
                        "{\"topic\": {\"0\": 23}}, not \"%s\"", WHAT, ks->starting);
      goto done;
    }
    if (!(spec = sr_kafka_offsets_parse(json, "startingOffsets", err)) ||
        (st = take_per_partition(spec, l, "startingOffsets", err)) != SR_OK) {
      st = SR_ERROR;
      goto done;
    }
    for (int i = 0; i < l->cnt; i++)
      if (l->elems[i].offset < RD_KAFKA_OFFSET_BEGINNING) {
        st = sr_error_set(err, SR_ERROR, "%s: startingOffsets for topic '%s' partition %d is %lld;"
                          " use an offset >= 0, -2 (earliest) or -1 (latest)", WHAT,
                          l->elems[i].topic, (int)l->elems[i].partition,
                          (long long)l->elems[i].offset);
        goto done;
      }
    st = resolve_logical(ks, l, err);
  }
done:
  json_decref(json);
  if (spec) rd_kafka_topic_partition_list_destroy(spec);
  if (st != SR_OK) {
    rd_kafka_topic_partition_list_destroy(l);
    l = NULL;
  }
  *out = l;
  return st;
}

/* The query's starting offsets: from memory, from the state file, or resolved and saved. */
static sr_status initial_offsets(ks_source *ks, const rd_kafka_topic_partition_list_t *live,
                                 sr_error **err) {
  sr_status st = SR_OK;
  char *text = NULL, *dump = NULL;
  json_t *json = NULL;
  if (ks->initial) return SR_OK;
  if (ks->initial_path && sr_fs_exists(ks->initial_path)) {
    json_error_t jerr;
    size_t len;
    int checked; /* a checked file (fsutil.h); one from before checksums must parse */
    if (!(text = sr_fs_read_checked(ks->initial_path, INITIAL_FILE, &len, &checked, err))) {
      st = SR_ERROR;
      goto done;
    }
    if (!(json = json_loadb(text, len, 0, &jerr))) {
      st = sr_error_set(err, SR_ERROR, "%s: %s is not JSON: %s", WHAT, ks->initial_path, jerr.text);
      goto done;
    }
    if (!(ks->initial = sr_kafka_offsets_parse(json, ks->initial_path, err))) st = SR_ERROR;
    goto done;
  }
  rd_kafka_topic_partition_list_t *l = NULL;
  if ((st = resolve_starting(ks, live, &l, err)) != SR_OK) goto done;
  if (ks->initial_path) {
    if (!(json = sr_kafka_offsets_json(l)) || !(dump = json_dumps(json, JSON_COMPACT))) {
      rd_kafka_topic_partition_list_destroy(l);
      st = sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
      goto done;
    }
    size_t dlen = strlen(dump);
    char *body = realloc(dump, dlen + 2);
    if (body) {
      dump = body;
      dump[dlen++] = '\n';
    }
    if ((st = body ? sr_fs_write_checked(ks->initial_path, INITIAL_FILE, dump, dlen, err)
                   : sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT)) != SR_OK) {
      rd_kafka_topic_partition_list_destroy(l);
      goto done;
    }
  }
  ks->initial = l;
done:
  free(text);
  free(dump);
  json_decref(json);
  return st;
}

typedef struct { int idx; uint64_t rem; } ks_share;

static int share_cmp(const void *a, const void *b) {
  const ks_share *x = a, *y = b;
  if (x->rem != y->rem) return x->rem < y->rem ? 1 : -1;
  return x->idx - y->idx;
}

/* maxOffsetsPerTrigger: gives each partition limit * lag / total_lag offsets (rounded down),
** then the remainder one by one to the largest fractions, so the batch has exactly `limit`. */
static void rate_limit(const int64_t *from, int64_t *to, int n, int64_t limit) {
  unsigned __int128 total = 0, given = 0;
  for (int i = 0; i < n; i++) total += (uint64_t)(to[i] - from[i]);
  if (total <= (unsigned __int128)limit) return;
  ks_share *shares = malloc((size_t)(n > 0 ? n : 1) * sizeof *shares);
  for (int i = 0; i < n; i++) {
    unsigned __int128 want = (unsigned __int128)(uint64_t)limit * (uint64_t)(to[i] - from[i]);
    uint64_t give = (uint64_t)(want / total);
    if (shares) shares[i] = (ks_share){i, (uint64_t)(want % total)};
    to[i] = from[i] + (int64_t)give;
    given += give;
  }
  if (!shares) return; /* out of memory: a slightly smaller batch is still correct */
  qsort(shares, (size_t)n, sizeof *shares, share_cmp);
  for (int k = 0; k < n && given < (unsigned __int128)limit; k++)
    if (shares[k].rem > 0) { to[shares[k].idx]++; given++; }
  free(shares);
}

/* ---- plan ----------------------------------------------------------------------------- */

static int ks_drained(sr_source *src, const json_t *end);

/* 1 when the consumer stands at every partition of start, as the last read left it. */
static int stands_at(ks_source *ks, const rd_kafka_topic_partition_list_t *start) {
  if (!ks->assignment_valid || ks->nparts != start->cnt) return 0;
  for (int i = 0; i < start->cnt; i++) {
    const ks_part *p = part_find(ks, start->elems[i].topic, start->elems[i].partition);
    if (!p || p->next != start->elems[i].offset) return 0;
  }
  return 1;
}

/* Moves what the consumer queue holds into the partitions' stashes, without waiting.
** Returns 0, or -1 when the queue held an error (then the assignment is invalid: a full plan
** and the read's slow path look into it). */
static int stash_fetched(ks_source *ks) {
  rd_kafka_message_t *polled[256];
  ks_part *cache = NULL;
  int failed = 0;
  for (ssize_t got; (got = rd_kafka_consume_batch_queue(ks->queue, 0, polled, 256)) > 0;) {
    for (ssize_t k = 0; k < got; k++) {
      rd_kafka_message_t *m = polled[k];
      ks_part *p = m->rkt ? part_of(ks, m, &cache) : NULL;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (p && p->stash_len == p->stash_head && m->offset > p->next) p->next = m->offset;
      } else if (m->err) {
        failed = 1;
      } else if (p && m->offset >= p->next) {
        if (stash_push(p, m) != 0) failed = 1;
        else {
          if (p->stash_bytes > STASH_MAX_BYTES && !p->paused) pause_part(ks, p, 1);
          continue; /* the stash owns it */
        }
      }
      rd_kafka_message_destroy(m);
    }
  }
  if (failed) ks->assignment_valid = 0;
  return failed ? -1 : 0;
}

/* Continuous trigger, between full plans: the batch after start ends after the messages the
** consumer has fetched (see the top). *handled = 0 when a full plan must answer instead: one
** is due, or the consumer does not stand at start (the first batch, after a replay or an
** error). Partitions found since the last full plan wait for the next one. */
static sr_status plan_fetched(sr_source *src, const json_t *start, json_t **end, int *handled,
                              sr_error **err) {
  ks_source *ks = src->impl;
  *handled = 0;
  if (!start || !ks->assignment_valid || sr_kafka_now_ms() >= ks->full_plan_due_ms) return SR_OK;
  rd_kafka_topic_partition_list_t *endl = sr_kafka_offsets_parse(start, "the batch's start offsets", err);
  if (!endl) return SR_ERROR;
  sr_status st = SR_OK;
  if (!stands_at(ks, endl)) goto done;
  *handled = 1;
  int n = endl->cnt, any = 0;
  size_t slots = n > 0 ? (size_t)n : 1;
  int64_t *from = malloc(slots * sizeof *from), *to = malloc(slots * sizeof *to);
  if (!from || !to) {
    st = sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
    goto out;
  }
  for (int i = 0; i < n; i++) {
    const ks_part *p = part_find(ks, endl->elems[i].topic, endl->elems[i].partition);
    from[i] = to[i] = endl->elems[i].offset;
    if (p->stash_len > p->stash_head) to[i] = p->stash[p->stash_len - 1]->offset + 1;
  }
  if (ks->max_offsets > 0) rate_limit(from, to, n, ks->max_offsets);
  for (int i = 0; i < n; i++) {
    any |= to[i] > from[i];
    endl->elems[i].offset = to[i];
  }
  if (any) {
    rd_kafka_topic_partition_list_destroy(ks->planned);
    ks->planned = rd_kafka_topic_partition_list_copy(endl);
    if (!(*end = sr_kafka_offsets_json(endl))) st = sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
  }
out:
  free(from);
  free(to);
done:
  rd_kafka_topic_partition_list_destroy(endl);
  return st;
}

static sr_status ks_plan(sr_source *src, const json_t *start, json_t **end, sr_error **err) {
  ks_source *ks = src->impl;
  sr_status st = SR_OK;
  rd_kafka_topic_partition_list_t *live = NULL, *base = NULL, *note = NULL, *fresh = NULL,
                                  *latest = NULL, *reset = NULL, *endl = NULL;
  int64_t *from = NULL, *to = NULL;
  json_t *out = NULL;
  *end = NULL;
  /* availableNow, and the batches reached the offsets the first plan found: nothing more to
  ** plan, and no need to ask the brokers (partitions found later are not read either). */
  if (src->available_now && start && ks_drained(src, start)) return SR_OK;
  if (ks->continuous_ms > 0) {
    /* Emptied by every plan, before the queue is looked at: no wake-up is lost, and one left
    ** unread would wake the idle query again and again. */
    char drain[64];
    while (read(ks->wake[0], drain, sizeof drain) > 0) {}
    /* The queue is emptied too, full plans included: librdkafka wakes a queue that goes from
    ** empty to not, so a message, or an end-of-partition event, left in it would keep the next
    ** message from waking the idle query (it waited for the next full plan, a second). */
    if (ks->assignment_valid) stash_fetched(ks);
    int handled;
    if ((st = plan_fetched(src, start, end, &handled, err)) != SR_OK || handled) return st;
    ks->full_plan_due_ms = sr_kafka_now_ms() + ks->continuous_ms;
  }
  if ((st = discover(ks, &live, err)) != SR_OK) goto done;
  if (start) {
    if (!(base = sr_kafka_offsets_parse(start, "the batch's start offsets", err))) {
      st = SR_ERROR;
      goto done;
    }
    note = rd_kafka_topic_partition_list_new(4);
  } else {
    if ((st = initial_offsets(ks, live, err)) != SR_OK) goto done;
    base = rd_kafka_topic_partition_list_copy(ks->initial);
    note = rd_kafka_topic_partition_list_copy(ks->initial);
  }
  /* Partitions that appeared: read from their earliest offset. */
  fresh = rd_kafka_topic_partition_list_new(4);
  for (int i = 0; i < live->cnt; i++)
    if (!sr_kafka_tp_find(base, live->elems[i].topic, live->elems[i].partition))
      rd_kafka_topic_partition_list_add(fresh, live->elems[i].topic, live->elems[i].partition)
          ->offset = RD_KAFKA_OFFSET_BEGINNING;
  if ((st = resolve_logical(ks, fresh, err)) != SR_OK) goto done;
  for (int i = 0; i < fresh->cnt; i++) {
    sr_kafka_tp_set(base, fresh->elems[i].topic, fresh->elems[i].partition, fresh->elems[i].offset);
    sr_kafka_tp_set(note, fresh->elems[i].topic, fresh->elems[i].partition, fresh->elems[i].offset);
  }
  latest = rd_kafka_topic_partition_list_copy(live);
  sr_kafka_tp_fill(latest, RD_KAFKA_OFFSET_END);
  if ((st = sr_kafka_list_offsets(ks->meta, latest, ks->timeout_ms, err)) != SR_OK) goto done;
  /* A log that now ends before where the query stands was deleted and recreated or truncated. */
  reset = rd_kafka_topic_partition_list_new(4);
  for (int i = 0; i < latest->cnt; i++) {
    const rd_kafka_topic_partition_t *l = &latest->elems[i];
    const rd_kafka_topic_partition_t *b = sr_kafka_tp_find(base, l->topic, l->partition);
    const rd_kafka_topic_partition_t *n = sr_kafka_tp_find(note, l->topic, l->partition);
    int64_t at = n ? n->offset : b->offset;
    if (at <= l->offset) continue;
    if (ks->fail_on_data_loss) {
      st = sr_error_set(err, SR_ERROR, "%s: topic '%s' partition %d: the query is at offset %lld "
                        "but the log now ends at %lld (the topic was deleted and recreated, or "
                        "truncated): some data may have been lost. Set failOnDataLoss=false to "
                        "continue from the earliest offset", WHAT, l->topic, (int)l->partition,
                        (long long)at, (long long)l->offset);
      goto done;
    }
    rd_kafka_topic_partition_list_add(reset, l->topic, l->partition)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  if ((st = resolve_logical(ks, reset, err)) != SR_OK) goto done;
  for (int i = 0; i < reset->cnt; i++)
    sr_kafka_tp_set(note, reset->elems[i].topic, reset->elems[i].partition, reset->elems[i].offset);
  if (src->available_now && !ks->cap) ks->cap = rd_kafka_topic_partition_list_copy(latest);

  int n = base->cnt, any = 0;
  from = malloc((size_t)(n ? n : 1) * sizeof *from);
  to = malloc((size_t)(n ? n : 1) * sizeof *to);
  if (!from || !to) {
    st = sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
    goto done;
  }
  for (int i = 0; i < n; i++) {
    const rd_kafka_topic_partition_t *b = &base->elems[i];
    const rd_kafka_topic_partition_t *nt = sr_kafka_tp_find(note, b->topic, b->partition);
    const rd_kafka_topic_partition_t *l = sr_kafka_tp_find(latest, b->topic, b->partition);
    from[i] = nt ? nt->offset : b->offset;
    to[i] = l ? l->offset : from[i]; /* a partition gone from the metadata stays where it is */
    if (ks->cap) {
      const rd_kafka_topic_partition_t *c = sr_kafka_tp_find(ks->cap, b->topic, b->partition);
      if (!c || c->offset < to[i]) to[i] = c ? c->offset : from[i];
    }
    if (to[i] < from[i]) to[i] = from[i];
  }
  if (ks->max_offsets > 0) rate_limit(from, to, n, ks->max_offsets);
  endl = rd_kafka_topic_partition_list_copy(base);
  for (int i = 0; i < n; i++) {
    endl->elems[i].offset = to[i];
    any |= to[i] > from[i];
  }
  json_decref(ks->desc_latest);
  ks->desc_latest = sr_kafka_offsets_json(latest);
  if (ks->planned) rd_kafka_topic_partition_list_destroy(ks->planned);
  ks->planned = rd_kafka_topic_partition_list_copy(any ? endl : base);
  if (!any) goto done; /* no new data: *end stays NULL */
  ks->loss_events += reset->cnt;
  if (!(out = sr_kafka_offsets_json(endl))) {
    st = sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
    goto done;
  }
  if (note->cnt > 0) {
    rd_kafka_topic_partition_list_sort(note, NULL, NULL);
    json_t *nj = sr_kafka_offsets_json(note);
    if (!nj || json_object_set_new(out, "$start", nj) != 0) {
      st = sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
      goto done;
    }
  }
  *end = out;
  out = NULL;
done:
  json_decref(out);
  free(from);
  free(to);
  rd_kafka_topic_partition_list_t *lists[] = {live, base, note, fresh, latest, reset, endl};
  for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
    if (lists[i]) rd_kafka_topic_partition_list_destroy(lists[i]);
  /* availableNow reads what is there and ends: brokers it cannot reach are not waited for
  ** forever, but for fetchOffset.numRetries attempts (Spark's KafkaOffsetReader gives up after
  ** as many, failing the query) */
  ks->plan_failures = st == SR_RETRY ? ks->plan_failures + 1 : 0;
  if (st == SR_RETRY && src->available_now && ks->plan_failures >= ks->fetch_retries && err && *err) {
    char *last = strdup((*err)->message);
    sr_error_free(*err);
    *err = NULL;
    st = sr_error_set(err, SR_ERROR, "%s cannot reach its brokers %s: %d attempts of %d ms each "
                      "failed (fetchOffset.numRetries, kafkaConsumer.pollTimeoutMs); the last: %s",
                      WHAT, ks->bootstrap ? ks->bootstrap : "(kafka.bootstrap.servers)",
                      ks->plan_failures, ks->timeout_ms, last ? last : "?");
    free(last);
  }
  return st;
}

/* ---- read ----------------------------------------------------------------------------- */

/* A read hands the engine a view (connector.h's sr_row_view): one record per message, whose
** key, value and headers are copied into the batch's arena, and the message is destroyed at
** once. Kept instead, 100,000 messages held librdkafka's buffers, which it then allocated
** anew page by page in its threads' arenas: 0.26 s for kafka -> noop instead of 0.17.
** The engine builds rows from the records in Lua (lua/streamrun/sources/kafka.lua, inside
** the query's compiled loop), or, for a query whose rows go to the sink untouched, the sink
** reads the records in C and no row is made: kafka -> kafka or kafka -> noop builds no Lua
** table. The record is declared again for the FFI in kafka.lua, with the same fields in the
** same order (tests/c/test_kafka.c checks the offsets against ks_columns). */
typedef struct ks_rec {
  sr_view_text key, value;          /* ptr NULL: a null key or value */
  sr_view_text topic;               /* ks->topic_names[topic_id - 1] (NUL-terminated) */
  int64_t offset;
  int64_t timestamp;                /* ms; SR_VIEW_INT64_NIL: none */
  int32_t partition;
  int32_t timestamp_type;           /* Spark's: 0 CreateTime, 1 LogAppendTime, -1 none */
  int32_t topic_id;                 /* from 1, the same topic for the source's life */
  int32_t nheaders;
  const sr_view_text *headers;      /* nheaders (name, value) pairs; NULL without includeHeaders */
} ks_rec;

/* The records' columns for C readers: all of them but headers, which have no C form (a
** source with includeHeaders gives no columns, and its sink gets rows). */
static const sr_view_column ks_columns[] = {
  {"key", SR_VIEW_TEXT, offsetof(ks_rec, key)},
  {"value", SR_VIEW_TEXT, offsetof(ks_rec, value)},
  {"topic", SR_VIEW_TEXT, offsetof(ks_rec, topic)},
  {"partition", SR_VIEW_INT32, offsetof(ks_rec, partition)},
  {"offset", SR_VIEW_INT64, offsetof(ks_rec, offset)},
  {"timestamp", SR_VIEW_INT64, offsetof(ks_rec, timestamp)},
  {"timestampType", SR_VIEW_INT32, offsetof(ks_rec, timestamp_type)},
  {NULL, 0, 0},
};

/* Rows come in the order the brokers deliver them, partitions interleaved as fetches return,
** which need not be the same when a batch is read again. The Kafka sink numbers a batch's
** rows by position to recognise what an earlier attempt wrote, so a read puts each record
** where one order wants it: the batch's ranges in the order of its offsets (what offsets/N
** holds), each range's records by offset. Range i's records start at the sum of the sizes
** (to - from) of the ranges before it, in an array made that size up front. A range that
** yields fewer records (offsets of transaction markers, or compacted away) leaves a gap after
** its records, closed when the read ends. */

/* What one read keeps while it runs. */
typedef struct ks_read {
  int64_t *first_pos, *next_pos;    /* by range: its first position, and its next record's */
  const rd_kafka_topic_t *last_rkt; /* the last message's topic handle, and its topic_id */
  int32_t last_id;
} ks_read;

/* Makes room for n records, in the batch's arena with the bytes they point to. Returns 0, or
** -1 when out of memory. */
static int batch_reserve(ks_batch *b, int n) {
  b->count = 0;
  sr_arena_reset(&b->bytes);
  b->recs = sr_arena_alloc(&b->bytes, (size_t)(n ? n : 1) * sizeof *b->recs);
  return b->recs ? 0 : -1;
}

/* Moves each range's records up against the previous range's, keeping their order, and sets
** the batch's count. */
static void batch_close_gaps(ks_batch *b, const ks_read *rd, int nranges) {
  int64_t n = 0;
  for (int i = 0; i < nranges; i++) {
    int64_t len = rd->next_pos[i] - rd->first_pos[i];
    if (len > 0 && n != rd->first_pos[i])
      memmove(&b->recs[n], &b->recs[rd->first_pos[i]], (size_t)len * sizeof *b->recs);
    n += len;
  }
  b->count = (int)n;
}

/* Copies m's headers into the batch as (name, value) pairs: sets *pairs and *n. -1: out of
** memory. */
static int copy_headers(ks_batch *b, rd_kafka_message_t *m, const sr_view_text **pairs,
                        int32_t *n) {
  rd_kafka_headers_t *h;
  const char *name;
  const void *val;
  size_t len, k = 0;
  size_t cnt = rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR
                   ? rd_kafka_header_cnt(h) : 0;
  sr_view_text *out = sr_arena_alloc(&b->bytes, (2 * cnt + 1) * sizeof *out);
  if (!out) return -1;
  for (; k < cnt && rd_kafka_header_get_all(h, k, &name, &val, &len) == 0; k++) {
    size_t nlen = strlen(name);
    char *copy = sr_arena_alloc(&b->bytes, nlen + (val ? len : 0) + 1);
    if (!copy) return -1;
    out[2 * k] = (sr_view_text){memcpy(copy, name, nlen), nlen};
    out[2 * k + 1] = (sr_view_text){val ? memcpy(copy + nlen, val, len) : NULL, val ? len : 0};
  }
  *pairs = out;
  *n = (int32_t)k;
  return 0;
}

/* The topic_id of a message's topic (see ks_rec). A topic handle names one topic while a
** message holds it, so the read's last handle is a safe shortcut. -1: out of memory. */
static int32_t topic_id(ks_source *ks, ks_read *rd, const rd_kafka_topic_t *rkt) {
  if (rkt == rd->last_rkt) return rd->last_id;
  const char *name = rd_kafka_topic_name(rkt);
  int id = 0;
  while (id < ks->ntopic_names && strcmp(ks->topic_names[id].ptr, name) != 0) id++;
  if (id == ks->ntopic_names) {
    sr_view_text *names = realloc(ks->topic_names, (size_t)(id + 1) * sizeof *names);
    if (!names) return -1;
    ks->topic_names = names;
    if (!(names[id].ptr = strdup(name))) return -1;
    names[id].len = strlen(name);
    ks->ntopic_names++;
  }
  rd->last_rkt = rkt;
  return rd->last_id = id + 1;
}

/* Takes message m of p's range into the batch, at its position, and destroys it. SR_OK, or
** SR_ERROR with *err set when out of memory. */
static sr_status take_message(ks_source *ks, ks_read *rd, ks_part *p, rd_kafka_message_t *m,
                              sr_error **err) {
  ks_batch *b = &ks->batch;
  const sr_view_text *headers = NULL;
  int32_t nheaders = 0;
  int32_t id = topic_id(ks, rd, m->rkt);
  char *bytes = id < 0 ? NULL : sr_arena_alloc(&b->bytes, m->key_len + m->len + 1);
  if (!bytes || (ks->include_headers && copy_headers(b, m, &headers, &nheaders) != 0)) {
    rd_kafka_message_destroy(m);
    return sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
  }
  rd_kafka_timestamp_type_t tstype;
  int64_t ts = rd_kafka_message_timestamp(m, &tstype);
  b->recs[rd->next_pos[p->range]++] = (ks_rec){
      .key = {m->key ? memcpy(bytes, m->key, m->key_len) : NULL, m->key_len},
      .value = {m->payload ? memcpy(bytes + m->key_len, m->payload, m->len) : NULL,
                m->payload ? m->len : 0},
      .topic = ks->topic_names[id - 1], .offset = m->offset,
      .timestamp = tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? SR_VIEW_INT64_NIL : ts,
      .partition = m->partition,
      .timestamp_type = tstype == RD_KAFKA_TIMESTAMP_CREATE_TIME       ? 0
                        : tstype == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? 1
                                                                       : -1,
      .topic_id = id, .nheaders = nheaders, .headers = headers};
  p->next = m->offset + 1;
  rd_kafka_message_destroy(m);
  return SR_OK;
}

/* The batch's ranges from its start and end JSON (see the top). */
static sr_status ranges_of(const json_t *start, const json_t *end, rd_kafka_topic_partition_list_t **endl,
                           ks_range **out, sr_error **err) {
  rd_kafka_topic_partition_list_t *startl = NULL, *note = NULL;
  ks_range *r = NULL;
  sr_status st = SR_OK;
  *out = NULL;
  if (!(*endl = sr_kafka_offsets_parse(end, "the batch's end offsets", err)) ||
      (start && !(startl = sr_kafka_offsets_parse(start, "the batch's start offsets", err)))) {
    st = SR_ERROR;
    goto done;
  }
  const json_t *nj = json_object_get(end, "$start");
  if (nj && !(note = sr_kafka_offsets_parse(nj, "the batch's $start offsets", err))) {
    st = SR_ERROR;
    goto done;
  }
  r = calloc((size_t)((*endl)->cnt ? (*endl)->cnt : 1), sizeof *r);
  if (!r) {
    st = sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
    goto done;
  }
  for (int i = 0; i < (*endl)->cnt; i++) {
    const rd_kafka_topic_partition_t *e = &(*endl)->elems[i];
    const rd_kafka_topic_partition_t *f = sr_kafka_tp_find(note, e->topic, e->partition);
    if (!f) f = sr_kafka_tp_find(startl, e->topic, e->partition);
    if (!f) {
      st = sr_error_set(err, SR_ERROR, "%s: the batch's offsets give no start for topic '%s' "
                        "partition %d", WHAT, e->topic, (int)e->partition);
      goto done;
    }
    r[i] = (ks_range){e->topic, e->partition, f->offset, e->offset};
  }
  *out = r;
  r = NULL;
done:
  free(r);
  if (startl) rd_kafka_topic_partition_list_destroy(startl);
  if (note) rd_kafka_topic_partition_list_destroy(note);
  return st;
}

/* 1 when the consumer already stands at every range's start (see the top). */
static int can_continue(const ks_source *ks, const ks_range *r, int n) {
  if (!ks->assignment_valid || ks->nparts != n) return 0;
  for (int i = 0; i < n; i++) {
    ks_part *p = part_find((ks_source *)ks, r[i].topic, r[i].partition);
    if (!p || p->next != r[i].from) return 0;
  }
  return 1;
}

/* Asks for the earliest (lo) and latest (hi) offsets of the ranges' partitions. A partition
** with something to read must answer; an idle one that cannot (its topic was deleted, its
** leader is away) gets -1/-1 and is not assigned. */
static sr_status query_bounds(ks_source *ks, const ks_range *r, int n,
                              rd_kafka_topic_partition_list_t *lo,
                              rd_kafka_topic_partition_list_t *hi, sr_error **err) {
  for (int i = 0; i < n; i++) {
    rd_kafka_topic_partition_list_add(lo, r[i].topic, r[i].partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_topic_partition_list_add(hi, r[i].topic, r[i].partition)->offset = RD_KAFKA_OFFSET_END;
  }
  if (n == 0) return SR_OK;
  rd_kafka_topic_partition_list_t *lists[] = {lo, hi};
  for (int k = 0; k < 2; k++) {
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(ks->meta, lists[k], ks->timeout_ms);
    for (int i = 0; i < n; i++) {
      rd_kafka_resp_err_t pe = e ? e : lists[k]->elems[i].err;
      if (!pe) continue;
      if (r[i].from < r[i].to)
        return sr_kafka_error(err, pe, "%s: querying the offsets of topic '%s' partition %d",
                              WHAT, r[i].topic, (int)r[i].partition);
      lo->elems[i].offset = hi->elems[i].offset = -1;
    }
  }
  return SR_OK;
}

/* Makes rk learn the ranges' topics before they are assigned: it would otherwise find their
** leaders only at its next periodic refresh of unknown topics (about a second later). The
** topics exist (they have offsets), so asking for them by name creates nothing. */
static sr_status know_topics(ks_source *ks, const ks_range *r, int n, sr_error **err) {
  for (int i = 0; i < n; i++) {
    int known = 0;
    for (int k = 0; k < ks->nknown && !known; k++) known = strcmp(ks->known[k], r[i].topic) == 0;
    if (known || r[i].from == r[i].to) continue;
    char **names = realloc(ks->known, (size_t)(ks->nknown + 1) * sizeof *names);
    if (names) ks->known = names;
    rd_kafka_topic_t **rkts = realloc(ks->known_rkt, (size_t)(ks->nknown + 1) * sizeof *rkts);
    if (rkts) ks->known_rkt = rkts;
    if (!names || !rkts || !(names[ks->nknown] = strdup(r[i].topic)))
      return sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
    rkts[ks->nknown] = rd_kafka_topic_new(ks->rk, r[i].topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rkts[ks->nknown] ? rd_kafka_metadata(ks->rk, 0, rkts[ks->nknown], &md,
                                                                ks->timeout_ms)
                                             : rd_kafka_last_error();
    if (md) rd_kafka_metadata_destroy(md);
    if (!rkts[ks->nknown]) free(names[ks->nknown]);
    else ks->nknown++;
    if (e) return sr_kafka_error(err, e, "%s: metadata of topic '%s'", WHAT, r[i].topic);
  }
  return SR_OK;
}

/* The slow path: checks the ranges against the brokers' earliest/latest offsets (data loss)
** and assigns every partition at its range's start. May narrow the ranges in r. */
static sr_status reassign(ks_source *ks, ks_range *r, int n, sr_error **err) {
  sr_status st = SR_OK;
  rd_kafka_topic_partition_list_t *lo = rd_kafka_topic_partition_list_new(n ? n : 1);
  rd_kafka_topic_partition_list_t *hi = rd_kafka_topic_partition_list_new(n ? n : 1);
  rd_kafka_topic_partition_list_t *asg = rd_kafka_topic_partition_list_new(n ? n : 1);
  rd_kafka_assign(ks->rk, NULL);
  parts_free(ks);
  if ((st = query_bounds(ks, r, n, lo, hi, err)) != SR_OK) goto done;
  if (n > 0 && !(ks->parts = calloc((size_t)n, sizeof *ks->parts))) {
    st = sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
    goto done;
  }
  for (int i = 0; i < n; i++) {
    int64_t earliest = lo->elems[i].offset, latest = hi->elems[i].offset;
    if (r[i].from < r[i].to && (r[i].from < earliest || r[i].to > latest)) {
      int64_t lost_lo = r[i].from < earliest ? (earliest < r[i].to ? earliest : r[i].to) - r[i].from : 0;
      int64_t lost_hi = r[i].to > latest ? r[i].to - (latest > r[i].from ? latest : r[i].from) : 0;
      if (ks->fail_on_data_loss) {
        st = sr_error_set(err, SR_ERROR, "%s: topic '%s' partition %d: the batch needs offsets "
                          "%lld to %lld but the broker has %lld to %lld: some data may have been "
                          "lost because it is not in Kafka any more (aged out by retention, or the "
                          "topic was deleted). Set failOnDataLoss=false to skip it", WHAT,
                          r[i].topic, (int)r[i].partition, (long long)r[i].from,
                          (long long)r[i].to - 1, (long long)earliest, (long long)latest - 1);
        goto done;
      }
      sr_log("warning", NULL, -1, "%s: topic '%s' partition %d: skipping %lld offset(s) no longer "
              "in Kafka (failOnDataLoss=false)", WHAT, r[i].topic, (int)r[i].partition,
              (long long)(lost_lo + lost_hi));
      ks->loss_events++;
      ks->loss_offsets += lost_lo + lost_hi;
      if (r[i].from < earliest) r[i].from = earliest < r[i].to ? earliest : r[i].to;
      if (r[i].to > latest) r[i].to = latest > r[i].from ? latest : r[i].from;
    }
    /* A partition with nothing to read is assigned too (it prefetches for the next batch),
    ** unless the fetch would fail because its offset is outside the log. */
    if (r[i].from == r[i].to && (r[i].from < earliest || r[i].from > latest)) continue;
    ks_part *p = &ks->parts[ks->nparts];
    if (!(p->topic = strdup(r[i].topic))) {
      st = sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
      goto done;
    }
    ks->nparts++;
    p->partition = r[i].partition;
    p->next = r[i].from;
    rd_kafka_topic_partition_list_add(asg, r[i].topic, r[i].partition)->offset = r[i].from;
  }
  if ((st = know_topics(ks, r, n, err)) != SR_OK) goto done;
  rd_kafka_resp_err_t e = rd_kafka_assign(ks->rk, asg);
  if (e) {
    st = sr_kafka_error(err, e, "%s: assigning %d partition(s)", WHAT, asg->cnt);
    goto done;
  }
  ks->assignment_valid = 1;
done:
  if (st != SR_OK) parts_free(ks);
  rd_kafka_topic_partition_list_destroy(lo);
  rd_kafka_topic_partition_list_destroy(hi);
  rd_kafka_topic_partition_list_destroy(asg);
  return st;
}

/* Takes what the consumer queue holds (up to POLL_BATCH messages), or waits up to
** POLL_WAIT_MS for one: rd_kafka_consume_batch_queue with a timeout would wait for a full
** batch. Returns the count. */
static ssize_t poll_messages(ks_source *ks, rd_kafka_message_t **polled) {
  ssize_t got = rd_kafka_consume_batch_queue(ks->queue, 0, polled, POLL_BATCH);
  if (got > 0) return got;
  polled[0] = rd_kafka_consumer_poll(ks->rk, POLL_WAIT_MS);
  return polled[0] ? 1 : 0;
}

/* Marks p done when it reached its end. Returns 1 when it just became done. */
static int check_done(ks_part *p) {
  if (p->done) return 0;
  if (p->next >= p->to || p->stash_len > p->stash_head) p->done = 1;
  return p->done;
}

static sr_status ks_read_view(sr_source *src, const json_t *start, const json_t *end,
                              sr_row_view *view, sr_error **err) {
  ks_source *ks = src->impl;
  ks_batch *b = &ks->batch;
  sr_status st = SR_OK;
  int active = 0;
  int64_t span = 0; /* the positions the read's records may take (see above) */
  rd_kafka_topic_partition_list_t *endl = NULL;
  ks_range *r = NULL;
  rd_kafka_message_t **polled = NULL;
  ks_read rd = {0};
  memset(view, 0, sizeof *view);

  if ((st = ranges_of(start, end, &endl, &r, err)) != SR_OK) goto done;
  int n = endl->cnt;
  rd.first_pos = calloc((size_t)(n ? n : 1), sizeof *rd.first_pos);
  rd.next_pos = calloc((size_t)(n ? n : 1), sizeof *rd.next_pos);
  polled = malloc(POLL_BATCH * sizeof *polled);
  if (!rd.first_pos || !rd.next_pos || !polled) {
    st = sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
    goto done;
  }
  if (!can_continue(ks, r, n) && (st = reassign(ks, r, n, err)) != SR_OK) goto done;
  /* Each partition's range, and where the range's records go (see above). A range without a
  ** partition has nothing to read and is outside the log (see reassign); a partition without
  ** a range (none is expected) reads nothing. */
  for (int k = 0; k < ks->nparts; k++) ks->parts[k].range = -1;
  for (int i = 0; i < n; i++) {
    ks_part *p = part_find(ks, r[i].topic, r[i].partition);
    rd.first_pos[i] = rd.next_pos[i] = span;
    if (!p) continue;
    p->range = i;
    p->from = r[i].from;
    p->to = r[i].to;
    p->done = 0;
    if (r[i].to > r[i].from) span += r[i].to - r[i].from;
  }
  if (span > INT32_MAX) {
    st = sr_error_set(err, SR_ERROR, "%s: a batch of %lld offsets is too large; set "
                      "maxOffsetsPerTrigger", WHAT, (long long)span);
    goto done;
  }
  if (batch_reserve(b, (int)span) != 0) {
    st = sr_error_set(err, SR_ERROR, "%s: out of memory for a batch of %lld offsets", WHAT,
                      (long long)span);
    goto done;
  }
  for (int k = 0; k < ks->nparts; k++) {
    ks_part *p = &ks->parts[k];
    if (p->range < 0) continue;
    /* The stash holds the messages at and after `next`: take those inside the range. */
    while (p->stash_len > p->stash_head && p->stash[p->stash_head]->offset < p->to) {
      rd_kafka_message_t *m = p->stash[p->stash_head++];
      p->stash_bytes -= m->len + m->key_len;
      if ((st = take_message(ks, &rd, p, m, err)) != SR_OK) goto done;
    }
    if (!check_done(p)) active++;
    /* A partition needed past its stash, or one whose stash went back under the bound: under
    ** the continuous trigger a batch may end at the stash's end (plan_fetched), and a paused
    ** partition would then wait for the next full plan. */
    if (p->paused && p->stash_bytes <= STASH_MAX_BYTES) pause_part(ks, p, 0);
  }

  int64_t last_progress = sr_kafka_now_ms();
  ks_part *cache = NULL;
  while (active > 0) {
    ssize_t got = poll_messages(ks, polled);
    for (ssize_t k = 0; k < got; k++) {
      rd_kafka_message_t *m = polled[k];
      polled[k] = NULL;
      ks_part *p = m->rkt ? part_of(ks, m, &cache) : NULL;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        /* Everything before the log end m->offset has been delivered (in order). */
        if (p && p->stash_len == p->stash_head && m->offset > p->next) p->next = m->offset;
        if (p && check_done(p)) { active--; last_progress = sr_kafka_now_ms(); }
        rd_kafka_message_destroy(m);
      } else if (m->err) {
        rd_kafka_resp_err_t code = m->err;
        char text[256];
        snprintf(text, sizeof text, "%s", rd_kafka_message_errstr(m));
        int for_active = p && !p->done;
        rd_kafka_message_destroy(m);
        if (code == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
            code == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
          /* Retention passed the consumer: the slow path will find out what was lost. */
          ks->assignment_valid = 0;
          if (for_active) {
            st = sr_error_set(err, SR_RETRY, "%s: topic '%s' partition %d: offset out of range "
                              "(%s); checking for data loss", WHAT, p->topic, (int)p->partition, text);
            goto done;
          }
        } else if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || code == RD_KAFKA_RESP_ERR__FATAL ||
                   code == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
                   (for_active && !sr_kafka_err_retriable(code))) {
          st = sr_kafka_error(err, code, "%s: consuming: %s", WHAT, text);
          goto done;
        }
        /* Other errors: transient ones librdkafka retries by itself (the timeout bounds them),
        ** and the never-joined group's coordinator lookups, which reading does not need. */
      } else if (!p || m->offset < p->next) {
        rd_kafka_message_destroy(m); /* not ours, or before a seek: outdated */
      } else if (p->done || m->offset >= p->to) {
        if (stash_push(p, m) != 0) {
          rd_kafka_message_destroy(m);
          st = sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
          goto done;
        }
        if (check_done(p)) { active--; last_progress = sr_kafka_now_ms(); }
        if (p->stash_bytes > STASH_MAX_BYTES && !p->paused) pause_part(ks, p, 1);
      } else {
        if ((st = take_message(ks, &rd, p, m, err)) != SR_OK) goto done;
        if (check_done(p)) active--;
        last_progress = sr_kafka_now_ms();
      }
    }
    if (active > 0 && sr_kafka_now_ms() - last_progress > ks->timeout_ms) {
      for (int i = 0; i < ks->nparts; i++) {
        ks_part *p = &ks->parts[i];
        if (p->done) continue;
        st = sr_error_set(err, SR_RETRY, "%s: no progress for %d ms reading topic '%s' "
                          "partition %d (at offset %lld, batch ends at %lld): are the brokers "
                          "reachable?", WHAT, ks->timeout_ms, p->topic, (int)p->partition,
                          (long long)p->next, (long long)p->to);
        break;
      }
      goto done;
    }
  }
  batch_close_gaps(b, &rd, n);
  *view = (sr_row_view){.records = b->recs, .count = b->count, .record_size = sizeof(ks_rec),
                        .columns = ks->include_headers ? NULL : ks_columns};
  json_decref(ks->desc_start);
  json_decref(ks->desc_end);
  ks->desc_start = json_object();
  for (int i = 0; ks->desc_start && i < n; i++) {
    json_t *t = json_object_get(ks->desc_start, r[i].topic);
    if (!t) json_object_set_new(ks->desc_start, r[i].topic, t = json_object());
    char key[16];
    snprintf(key, sizeof key, "%d", (int)r[i].partition);
    if (t) json_object_set_new(t, key, json_integer(r[i].from));
  }
  ks->desc_end = sr_kafka_offsets_json(endl);
done:
  free(rd.first_pos);
  free(rd.next_pos);
  free(polled);
  free(r);
  if (endl) rd_kafka_topic_partition_list_destroy(endl);
  if (st != SR_OK) {
    /* The engine retries the whole batch: the next read assigns again. */
    ks->assignment_valid = 0;
    b->count = 0;
  }
  return st;
}

/* ---- commit, describe, drained, open, close -------------------------------------------- */

static int ks_wake_fd(sr_source *src) {
  ks_source *ks = src->impl;
  return ks && ks->continuous_ms > 0 ? ks->wake[0] : -1;
}

static sr_status ks_commit(sr_source *src, const json_t *end, sr_error **err) {
  (void)src;
  (void)end;
  (void)err;
  return SR_OK; /* offsets live in the checkpoint: nothing to release */
}

static void put_offsets(json_t *obj, const char *name, json_t *offsets) {
  if (offsets) json_object_set(obj, name, offsets);
}

static void ks_describe(sr_source *src, json_t *progress) {
  ks_source *ks = src->impl;
  json_object_set_new(progress, "description", json_string(ks->description));
  put_offsets(progress, "startOffset", ks->desc_start);
  put_offsets(progress, "endOffset", ks->desc_end);
  put_offsets(progress, "latestOffset", ks->desc_latest);
  /* Spark's metrics: how far the batch's end is behind the latest offsets. */
  if (ks->desc_end && ks->desc_latest) {
    int64_t min = INT64_MAX, max = 0, sum = 0, cnt = 0;
    const char *topic, *pkey;
    json_t *parts, *off;
    json_object_foreach(ks->desc_latest, topic, parts) {
      json_object_foreach(parts, pkey, off) {
        json_t *e = json_object_get(json_object_get(ks->desc_end, topic), pkey);
        int64_t behind = json_integer_value(off) - (e ? json_integer_value(e) : 0);
        if (behind < 0) behind = 0;
        if (behind < min) min = behind;
        if (behind > max) max = behind;
        sum += behind;
        cnt++;
      }
    }
    if (cnt > 0) {
      char buf[32];
      json_t *metrics = json_object();
      snprintf(buf, sizeof buf, "%lld", (long long)min);
      json_object_set_new(metrics, "minOffsetsBehindLatest", json_string(buf));
      snprintf(buf, sizeof buf, "%lld", (long long)max);
      json_object_set_new(metrics, "maxOffsetsBehindLatest", json_string(buf));
      snprintf(buf, sizeof buf, "%.1f", (double)sum / (double)cnt);
      json_object_set_new(metrics, "avgOffsetsBehindLatest", json_string(buf));
      json_object_set_new(progress, "metrics", metrics);
    }
  }
  json_object_set_new(progress, "numDataLossEvents", json_integer(ks->loss_events));
  json_object_set_new(progress, "numOffsetsLost", json_integer(ks->loss_offsets));
}

static int ks_drained(sr_source *src, const json_t *end) {
  ks_source *ks = src->impl;
  if (!ks->cap) return 0;
  rd_kafka_topic_partition_list_t *at = end ? sr_kafka_offsets_parse(end, "end", NULL) : NULL;
  const rd_kafka_topic_partition_list_t *upto = at ? at : ks->planned;
  int drained = upto != NULL;
  for (int i = 0; drained && i < ks->cap->cnt; i++) {
    const rd_kafka_topic_partition_t *c = &ks->cap->elems[i];
    const rd_kafka_topic_partition_t *u = sr_kafka_tp_find(upto, c->topic, c->partition);
    drained = u && u->offset >= c->offset;
  }
  if (at) rd_kafka_topic_partition_list_destroy(at);
  return drained;
}

static void ks_close(sr_source *src) {
  ks_source *ks = src->impl;
  if (!ks) return;
  sr_arena_free(&ks->batch.bytes);
  for (int i = 0; i < ks->ntopic_names; i++) free((char *)ks->topic_names[i].ptr);
  free(ks->topic_names);
  parts_free(ks);
  if (ks->queue && ks->continuous_ms > 0) rd_kafka_queue_io_event_enable(ks->queue, -1, NULL, 0);
  if (ks->queue) rd_kafka_queue_destroy(ks->queue);
  for (int i = 0; i < 2; i++)
    if (ks->wake[i] > 0) close(ks->wake[i]);
  for (int i = 0; i < ks->nknown; i++) {
    rd_kafka_topic_destroy(ks->known_rkt[i]);
    free(ks->known[i]);
  }
  free(ks->known);
  free(ks->known_rkt);
  for (int i = 0; i < ks->ntopics; i++) free(ks->topics[i]);
  free(ks->topics);
  if (ks->rk) {
    rd_kafka_consumer_close(ks->rk);
    rd_kafka_destroy(ks->rk);
  }
  if (ks->meta) rd_kafka_destroy(ks->meta);
  if (ks->have_pattern) regfree(&ks->pattern);
  rd_kafka_topic_partition_list_t *lists[] = {ks->assign, ks->initial, ks->cap, ks->planned};
  for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
    if (lists[i]) rd_kafka_topic_partition_list_destroy(lists[i]);
  json_decref(ks->starting_by_ts);
  json_decref(ks->desc_start);
  json_decref(ks->desc_end);
  json_decref(ks->desc_latest);
  free(ks->initial_path);
  free(ks);
  src->impl = NULL;
}

static int add_topic(ks_source *ks, const char *name, size_t len) {
  for (int i = 0; i < ks->ntopics; i++)
    if (strlen(ks->topics[i]) == len && strncmp(ks->topics[i], name, len) == 0) return 0;
  char **t = realloc(ks->topics, (size_t)(ks->ntopics + 1) * sizeof *t);
  if (!t) return -1;
  ks->topics = t;
  if (!(t[ks->ntopics] = strndup(name, len))) return -1;
  ks->ntopics++;
  return 0;
}

/* Reads subscribe / subscribePattern / assign: exactly one must be given. */
static sr_status parse_mode(ks_source *ks, const sr_options *o, sr_error **err) {
  const char *sub = sr_opt_str(o, ks_options, "subscribe", NULL);
  const char *pat = sr_opt_str(o, ks_options, "subscribePattern", NULL);
  const char *asg = sr_opt_str(o, ks_options, "assign", NULL);
  if ((sub != NULL) + (pat != NULL) + (asg != NULL) != 1)
    return sr_error_set(err, SR_ERROR, "%s needs exactly one of the options 'subscribe', "
                        "'subscribePattern' and 'assign'", WHAT);
  if (sub) {
    ks->mode = KS_SUBSCRIBE;
    for (const char *p = sub; *p;) {
      while (*p == ',' || *p == ' ' || *p == '\t') p++;
      const char *q = p;
      while (*q && *q != ',') q++;
      const char *e = q;
      while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
      if (e > p && add_topic(ks, p, (size_t)(e - p)) != 0)
        return sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
      p = q;
    }
    if (ks->ntopics == 0)
      return sr_error_set(err, SR_ERROR, "%s: option 'subscribe' names no topic", WHAT);
    snprintf(ks->description, sizeof ks->description, "KafkaV2[Subscribe[%s]]", sub);
  } else if (pat) {
    ks->mode = KS_PATTERN;
    size_t len = strlen(pat) + 5;
    char *anchored = malloc(len);
    if (!anchored) return sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
    snprintf(anchored, len, "^(%s)$", pat); /* Spark matches the whole topic name */
    int rc = regcomp(&ks->pattern, anchored, REG_EXTENDED | REG_NOSUB);
    free(anchored);
    if (rc != 0) {
      char msg[256];
      regerror(rc, &ks->pattern, msg, sizeof msg);
      return sr_error_set(err, SR_ERROR, "%s: option 'subscribePattern' \"%s\" is not a valid "
                          "regular expression: %s", WHAT, pat, msg);
    }
    ks->have_pattern = 1;
    snprintf(ks->description, sizeof ks->description, "KafkaV2[SubscribePattern[%s]]", pat);
  } else {
    ks->mode = KS_ASSIGN;
    json_error_t jerr;
    json_t *j = json_loads(asg, 0, &jerr);
    sr_status st = SR_OK;
    if (!json_is_object(j)) {
      st = sr_error_set(err, SR_ERROR, "%s: option 'assign' must be JSON {\"topic\": [0, 1]}", WHAT);
      goto assign_done;
    }
    ks->assign = rd_kafka_topic_partition_list_new(8);
    const char *topic;
    json_t *parts;
    json_object_foreach(j, topic, parts) {
      size_t i;
      json_t *pn;
      if (!json_is_array(parts)) {
        st = sr_error_set(err, SR_ERROR, "%s: option 'assign': topic '%s' must map to a list "
                          "of partition numbers", WHAT, topic);
        goto assign_done;
      }
      json_array_foreach(parts, i, pn) {
        if (!json_is_integer(pn) || json_integer_value(pn) < 0 || json_integer_value(pn) > INT32_MAX) {
          st = sr_error_set(err, SR_ERROR, "%s: option 'assign': topic '%s' has a partition that "
                            "is not a number >= 0", WHAT, topic);
          goto assign_done;
        }
        sr_kafka_tp_set(ks->assign, topic, (int32_t)json_integer_value(pn), 0);
      }
      if (add_topic(ks, topic, strlen(topic)) != 0) {
        st = sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
        goto assign_done;
      }
    }
    snprintf(ks->description, sizeof ks->description, "KafkaV2[Assign[%s]]", asg);
  assign_done:
    json_decref(j);
    return st;
  }
  return SR_OK;
}

/* What can be refused without a broker: the topics option, and startingOffsets /
** startingOffsetsByTimestamp that are not earliest, latest or offsets JSON (Spark's
** KafkaSourceProvider.validateStreamOptions refuses these when the stream is defined). */
static sr_status ks_check(const sr_connector_config *cfg, sr_error **err) {
  const sr_options *o = cfg->options;
  sr_source tmp = {.impl = calloc(1, sizeof(ks_source))};
  if (!tmp.impl) return sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
  sr_status st = parse_mode(tmp.impl, o, err);
  ks_close(&tmp);
  if (st != SR_OK) return st;
  if (sr_opt_int(o, ks_options, "maxOffsetsPerTrigger", 0) < 0)
    return sr_error_set(err, SR_ERROR, "%s: option 'maxOffsetsPerTrigger' must be positive", WHAT);
  const char *starting = sr_opt_str(o, ks_options, "startingOffsets", "latest");
  const char *by_ts = sr_opt_str(o, ks_options, "startingOffsetsByTimestamp", NULL);
  const char *texts[] = {strcmp(starting, "earliest") && strcmp(starting, "latest") ? starting : NULL, by_ts};
  const char *names[] = {"startingOffsets", "startingOffsetsByTimestamp"};
  for (int k = 0; k < 2; k++) {
    if (!texts[k]) continue;
    json_error_t jerr;
    json_t *j = json_loads(texts[k], 0, &jerr);
    if (!j)
      return k == 0 ? sr_error_set(err, SR_ERROR, "%s: startingOffsets must be earliest, latest or "
                                   "JSON {\"topic\": {\"0\": 23}}, not \"%s\"", WHAT, starting)
                    : sr_error_set(err, SR_ERROR, "%s: option 'startingOffsetsByTimestamp' is not "
                                   "JSON: %s", WHAT, jerr.text);
    rd_kafka_topic_partition_list_t *l = sr_kafka_offsets_parse(j, names[k], err);
    json_decref(j);
    if (!l) {
      if (*err) sr_error_prefix(*err, "%s", WHAT);
      return SR_ERROR;
    }
    for (int i = 0; k == 0 && st == SR_OK && i < l->cnt; i++)
      if (l->elems[i].offset < RD_KAFKA_OFFSET_BEGINNING)
        st = sr_error_set(err, SR_ERROR, "%s: startingOffsets for topic '%s' partition %d is %lld;"
                          " use an offset >= 0, -2 (earliest) or -1 (latest)", WHAT,
                          l->elems[i].topic, (int)l->elems[i].partition, (long long)l->elems[i].offset);
    rd_kafka_topic_partition_list_destroy(l);
    if (st != SR_OK) return st;
  }
  return SR_OK;
}

static sr_status ks_open(sr_source *src, const sr_connector_config *cfg, sr_error **err) {
  const sr_options *o = cfg->options;
  sr_status st = SR_OK;
  char errstr[512], group[512];
  rd_kafka_conf_t *conf = NULL;
  ks_source *ks = calloc(1, sizeof *ks);
  src->impl = ks;
  if (!ks) return sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
  if ((st = parse_mode(ks, o, err)) != SR_OK) goto done;
  ks->starting = sr_opt_str(o, ks_options, "startingOffsets", "latest");
  ks->starting_ts = sr_opt_int(o, ks_options, "startingTimestamp", -1);
  const char *by_ts = sr_opt_str(o, ks_options, "startingOffsetsByTimestamp", NULL);
  if (by_ts) {
    json_error_t jerr;
    if (!(ks->starting_by_ts = json_loads(by_ts, 0, &jerr))) {
      st = sr_error_set(err, SR_ERROR, "%s: option 'startingOffsetsByTimestamp' is not JSON: %s",
                        WHAT, jerr.text);
      goto done;
    }
  }
  ks->max_offsets = sr_opt_int(o, ks_options, "maxOffsetsPerTrigger", 0);
  if (ks->max_offsets < 0) {
    st = sr_error_set(err, SR_ERROR, "%s: option 'maxOffsetsPerTrigger' must be positive", WHAT);
    goto done;
  }
  ks->fail_on_data_loss = sr_opt_bool(o, ks_options, "failOnDataLoss", 1);
  ks->fetch_retries = (int)sr_opt_int(o, ks_options, "fetchOffset.numRetries", 3);
  if (ks->fetch_retries < 1) ks->fetch_retries = 1;
  ks->bootstrap = sr_opt_str(o, ks_options, "kafka.bootstrap.servers", NULL);
  ks->include_headers = sr_opt_bool(o, ks_options, "includeHeaders", 0);
  int64_t timeout = sr_opt_int(o, ks_options, "kafkaConsumer.pollTimeoutMs", 30000);
  ks->timeout_ms = timeout < 1 ? 1 : timeout > 3600000 ? 3600000 : (int)timeout;
  if (cfg->state_dir) {
    size_t len = strlen(cfg->state_dir) + sizeof INITIAL_FILE + 1;
    if (!(ks->initial_path = malloc(len))) {
      st = sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
      goto done;
    }
    snprintf(ks->initial_path, len, "%s/%s", cfg->state_dir, INITIAL_FILE);
  }
  snprintf(group, sizeof group, "%s-%s", sr_opt_str(o, ks_options, "groupIdPrefix", "streamrun"),
           cfg->query_id ? cfg->query_id : "query");
  const sr_kafka_setting defaults[] = {
    {"client.id", "streamrun", NULL},
    {"group.id", group, NULL},
    {"isolation.level", "read_uncommitted", NULL}, /* Kafka's and Spark's default */
    {"log.connection.close", "false", NULL},
    /* a new batch's first fetch returns soon; under continuous a fetch that waits holds up
    ** the messages behind it (on librdkafka's mock cluster: a broker answers when data comes) */
    {"fetch.wait.max.ms", cfg->continuous_ms > 0 ? "1" : "100", NULL},
    {"queued.min.messages", "200000", NULL},
    {NULL, NULL, NULL},
  };
  const sr_kafka_setting forced[] = {
    {"enable.auto.commit", "false", "offsets live in the checkpoint, not in a consumer group"},
    {"enable.auto.offset.store", "false", "offsets live in the checkpoint, not in a consumer group"},
    {"auto.offset.reset", "error", "use startingOffsets, and failOnDataLoss for offsets gone"},
    {"enable.partition.eof", "true", "the source needs to see where each partition ends"},
    {NULL, NULL, NULL},
  };
  if (!(conf = sr_kafka_conf_new(o, defaults, forced, NULL, WHAT, err))) {
    st = SR_ERROR;
    goto done;
  }
  rd_kafka_conf_t *meta_conf = rd_kafka_conf_dup(conf);
  char meta_id[] = "streamrun-offsets";
  rd_kafka_conf_set(meta_conf, "client.id", meta_id, errstr, sizeof errstr);
  if (!(ks->meta = rd_kafka_new(RD_KAFKA_CONSUMER, meta_conf, errstr, sizeof errstr))) {
    rd_kafka_conf_destroy(meta_conf);
    st = sr_error_set(err, SR_ERROR, "%s: cannot create the consumer: %s", WHAT, errstr);
    goto done;
  }
  if (!(ks->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr))) {
    st = sr_error_set(err, SR_ERROR, "%s: cannot create the consumer: %s", WHAT, errstr);
    goto done;
  }
  conf = NULL; /* rd_kafka_new took it */
  rd_kafka_poll_set_consumer(ks->rk);
  ks->queue = rd_kafka_queue_get_consumer(ks->rk);
  if ((ks->continuous_ms = cfg->continuous_ms) > 0) {
    if (pipe2(ks->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
      ks->continuous_ms = 0;
      st = sr_error_set(err, SR_ERROR, "%s: cannot make a pipe: %s", WHAT, strerror(errno));
      goto done;
    }
    rd_kafka_queue_io_event_enable(ks->queue, ks->wake[1], "1", 1);
  }
done:
  if (conf) rd_kafka_conf_destroy(conf);
  return st;
}

const sr_source_ops sr_source_kafka = {
  .name = "kafka",
  /* Spark's columns (rows built by lua/streamrun/sources/kafka.lua); key and value are
  ** binary-safe Lua strings; headers is nil unless includeHeaders. */
  .columns = "key string, value string, topic string, partition int, offset long, "
             "timestamp timestamp, timestampType int, "
             "headers array<struct<key: string, value: string>>",
  .options = ks_options,
  .needs_schema = 0,
  .check = ks_check,
  .open = ks_open,
  .plan = ks_plan,
  .read_view = ks_read_view,
  .view_module = "streamrun.sources.kafka",
  .commit = ks_commit,
  .describe = ks_describe,
  .drained = ks_drained,
  .wake_fd = ks_wake_fd,
  .close = ks_close,
};
