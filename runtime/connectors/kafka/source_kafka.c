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
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connector.h"
#include "fsutil.h"
#include "kafka_source.h"

#define INITIAL_FILE "initial-offsets.json"

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

/* ---- partitions and their offsets ------------------------------------------------------ */

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
    const ks_part *p = ks_part_find(ks, start->elems[i].topic, start->elems[i].partition);
    if (!p || p->next != start->elems[i].offset) return 0;
  }
  return 1;
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
    const ks_part *p = ks_part_find(ks, endl->elems[i].topic, endl->elems[i].partition);
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

/* Continuous trigger: the wake-ups and the consumer queue emptied, then the plan between full
** plans (plan_fetched). *handled = 1 when that answered. */
static sr_status plan_continuous(sr_source *src, const json_t *start, json_t **end, int *handled,
                                 sr_error **err) {
  ks_source *ks = src->impl;
  /* Emptied by every plan, before the queue is looked at: no wake-up is lost, and one left
  ** unread would wake the idle query again and again. */
  char drain[64];
  while (read(ks->wake[0], drain, sizeof drain) > 0) {}
  /* The queue is emptied too, full plans included: librdkafka wakes a queue that goes from
  ** empty to not, so a message, or an end-of-partition event, left in it would keep the next
  ** message from waking the idle query (it waited for the next full plan, a second). */
  if (ks->assignment_valid) ks_stash_fetched(ks);
  sr_status st = plan_fetched(src, start, end, handled, err);
  if (st == SR_OK && !*handled) ks->full_plan_due_ms = sr_kafka_now_ms() + ks->continuous_ms;
  return st;
}

/* Where the batch starts: *base, the previous batch's end (or the initial offsets), and
** *note, the partitions whose start is not that ("$start", see the top). */
static sr_status plan_base(ks_source *ks, const json_t *start, const rd_kafka_topic_partition_list_t *live,
                           rd_kafka_topic_partition_list_t **base,
                           rd_kafka_topic_partition_list_t **note, sr_error **err) {
  sr_status st;
  if (start) {
    if (!(*base = sr_kafka_offsets_parse(start, "the batch's start offsets", err))) return SR_ERROR;
    *note = rd_kafka_topic_partition_list_new(4);
    return SR_OK;
  }
  if ((st = initial_offsets(ks, live, err)) != SR_OK) return st;
  *base = rd_kafka_topic_partition_list_copy(ks->initial);
  *note = rd_kafka_topic_partition_list_copy(ks->initial);
  return SR_OK;
}

/* Partitions that appeared: read from their earliest offset. */
static sr_status plan_fresh(ks_source *ks, const rd_kafka_topic_partition_list_t *live,
                            rd_kafka_topic_partition_list_t *base,
                            rd_kafka_topic_partition_list_t *note, sr_error **err) {
  rd_kafka_topic_partition_list_t *fresh = rd_kafka_topic_partition_list_new(4);
  for (int i = 0; i < live->cnt; i++)
    if (!sr_kafka_tp_find(base, live->elems[i].topic, live->elems[i].partition))
      rd_kafka_topic_partition_list_add(fresh, live->elems[i].topic, live->elems[i].partition)
          ->offset = RD_KAFKA_OFFSET_BEGINNING;
  sr_status st = resolve_logical(ks, fresh, err);
  for (int i = 0; st == SR_OK && i < fresh->cnt; i++) {
    sr_kafka_tp_set(base, fresh->elems[i].topic, fresh->elems[i].partition, fresh->elems[i].offset);
    sr_kafka_tp_set(note, fresh->elems[i].topic, fresh->elems[i].partition, fresh->elems[i].offset);
  }
  rd_kafka_topic_partition_list_destroy(fresh);
  return st;
}

/* A log that now ends (latest) before where the query stands was deleted and recreated or
** truncated: an error with failOnDataLoss, else the partition starts again at its earliest
** offset (noted). *resets: how many did. */
static sr_status plan_lost(ks_source *ks, const rd_kafka_topic_partition_list_t *latest,
                           const rd_kafka_topic_partition_list_t *base,
                           rd_kafka_topic_partition_list_t *note, int *resets, sr_error **err) {
  sr_status st = SR_OK;
  rd_kafka_topic_partition_list_t *reset = rd_kafka_topic_partition_list_new(4);
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
  *resets = reset->cnt;
done:
  rd_kafka_topic_partition_list_destroy(reset);
  return st;
}

/* The batch's end: each partition of base from its start up to latest (availableNow: no
** further than the cap), maxOffsetsPerTrigger shared out. *any = 0 when no partition moves. */
static sr_status plan_end(ks_source *ks, const rd_kafka_topic_partition_list_t *base,
                          const rd_kafka_topic_partition_list_t *note,
                          const rd_kafka_topic_partition_list_t *latest,
                          rd_kafka_topic_partition_list_t **endl, int *any, sr_error **err) {
  int n = base->cnt;
  int64_t *from = malloc((size_t)(n ? n : 1) * sizeof *from);
  int64_t *to = malloc((size_t)(n ? n : 1) * sizeof *to);
  if (!from || !to) {
    free(from);
    free(to);
    return sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
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
  *endl = rd_kafka_topic_partition_list_copy(base);
  *any = 0;
  for (int i = 0; i < n; i++) {
    (*endl)->elems[i].offset = to[i];
    *any |= to[i] > from[i];
  }
  free(from);
  free(to);
  return SR_OK;
}

/* The offsets JSON of the batch: endl, and note as "$start" (see the top). */
static sr_status plan_json(const rd_kafka_topic_partition_list_t *endl,
                           rd_kafka_topic_partition_list_t *note, json_t **end, sr_error **err) {
  json_t *out = sr_kafka_offsets_json(endl);
  if (!out) return sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
  if (note->cnt > 0) {
    rd_kafka_topic_partition_list_sort(note, NULL, NULL);
    json_t *nj = sr_kafka_offsets_json(note);
    if (!nj || json_object_set_new(out, "$start", nj) != 0) {
      json_decref(out);
      return sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
    }
  }
  *end = out;
  return SR_OK;
}

/* availableNow reads what is there and ends: brokers it cannot reach are not waited for
** forever, but for fetchOffset.numRetries attempts (Spark's KafkaOffsetReader gives up after
** as many, failing the query). Returns st, or SR_ERROR once the attempts are spent. */
static sr_status plan_give_up(sr_source *src, sr_status st, sr_error **err) {
  ks_source *ks = src->impl;
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

/* A full plan: the partitions that exist (discover), where the batch starts (plan_base, new
** partitions from plan_fresh), the log ends (latest), lost data (plan_lost), where it ends
** (plan_end) and its offsets JSON (plan_json). */
static sr_status ks_plan(sr_source *src, const json_t *start, json_t **end, sr_error **err) {
  ks_source *ks = src->impl;
  sr_status st = SR_OK;
  rd_kafka_topic_partition_list_t *live = NULL, *base = NULL, *note = NULL, *latest = NULL,
                                  *endl = NULL;
  int resets = 0, any = 0;
  *end = NULL;
  /* availableNow, and the batches reached the offsets the first plan found: nothing more to
  ** plan, and no need to ask the brokers (partitions found later are not read either). */
  if (src->available_now && start && ks_drained(src, start)) return SR_OK;
  if (ks->continuous_ms > 0) {
    int handled;
    if ((st = plan_continuous(src, start, end, &handled, err)) != SR_OK || handled) return st;
  }
  if ((st = discover(ks, &live, err)) != SR_OK) goto done;
  if ((st = plan_base(ks, start, live, &base, &note, err)) != SR_OK) goto done;
  if ((st = plan_fresh(ks, live, base, note, err)) != SR_OK) goto done;
  latest = rd_kafka_topic_partition_list_copy(live);
  sr_kafka_tp_fill(latest, RD_KAFKA_OFFSET_END);
  if ((st = sr_kafka_list_offsets(ks->meta, latest, ks->timeout_ms, err)) != SR_OK) goto done;
  if ((st = plan_lost(ks, latest, base, note, &resets, err)) != SR_OK) goto done;
  if (src->available_now && !ks->cap) ks->cap = rd_kafka_topic_partition_list_copy(latest);
  if ((st = plan_end(ks, base, note, latest, &endl, &any, err)) != SR_OK) goto done;
  json_decref(ks->desc_latest);
  ks->desc_latest = sr_kafka_offsets_json(latest);
  if (ks->planned) rd_kafka_topic_partition_list_destroy(ks->planned);
  ks->planned = rd_kafka_topic_partition_list_copy(any ? endl : base);
  if (!any) goto done; /* no new data: *end stays NULL */
  ks->loss_events += resets;
  st = plan_json(endl, note, end, err);
done:
  st = plan_give_up(src, st, err);
  rd_kafka_topic_partition_list_t *lists[] = {live, base, note, latest, endl};
  for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
    if (lists[i]) rd_kafka_topic_partition_list_destroy(lists[i]);
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
  ks_parts_free(ks);
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
