/*
** The Kafka source's read: the messages of a batch's offsets, from the stashes and the
** consumer (assigned again at the batch's start when it does not stand there), as the records
** of a view (connector.h's sr_row_view).
*/
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_source.h"
#include "sr_log.h"

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
    ks_part *p = ks_part_find((ks_source *)ks, r[i].topic, r[i].partition);
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
  ks_parts_free(ks);
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
  if (st != SR_OK) ks_parts_free(ks);
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

/* Each partition's range, and where the range's records go (see above). A range without a
** partition has nothing to read and is outside the log (see reassign); a partition without
** a range (none is expected) reads nothing. Room is made for the records. */
static sr_status place_ranges(ks_source *ks, ks_read *rd, const ks_range *r, int n, sr_error **err) {
  int64_t span = 0; /* the positions the read's records may take (see above) */
  for (int k = 0; k < ks->nparts; k++) ks->parts[k].range = -1;
  for (int i = 0; i < n; i++) {
    ks_part *p = ks_part_find(ks, r[i].topic, r[i].partition);
    rd->first_pos[i] = rd->next_pos[i] = span;
    if (!p) continue;
    p->range = i;
    p->from = r[i].from;
    p->to = r[i].to;
    p->done = 0;
    if (r[i].to > r[i].from) span += r[i].to - r[i].from;
  }
  if (span > INT32_MAX)
    return sr_error_set(err, SR_ERROR, "%s: a batch of %lld offsets is too large; set "
                        "maxOffsetsPerTrigger", WHAT, (long long)span);
  if (batch_reserve(&ks->batch, (int)span) != 0)
    return sr_error_set(err, SR_ERROR, "%s: out of memory for a batch of %lld offsets", WHAT,
                        (long long)span);
  return SR_OK;
}

/* Takes the messages inside each range from the partitions' stashes. *active: the partitions
** that still need messages from the consumer. */
static sr_status take_stashed(ks_source *ks, ks_read *rd, int *active, sr_error **err) {
  sr_status st;
  *active = 0;
  for (int k = 0; k < ks->nparts; k++) {
    ks_part *p = &ks->parts[k];
    if (p->range < 0) continue;
    /* The stash holds the messages at and after `next`: take those inside the range. */
    while (p->stash_len > p->stash_head && p->stash[p->stash_head]->offset < p->to) {
      rd_kafka_message_t *m = p->stash[p->stash_head++];
      p->stash_bytes -= m->len + m->key_len;
      if ((st = take_message(ks, rd, p, m, err)) != SR_OK) return st;
    }
    if (!check_done(p)) (*active)++;
    /* A partition needed past its stash, or one whose stash went back under the bound: under
    ** the continuous trigger a batch may end at the stash's end (plan_fetched), and a paused
    ** partition would then wait for the next full plan. */
    if (p->paused && p->stash_bytes <= STASH_MAX_BYTES) ks_pause_part(ks, p, 0);
  }
  return SR_OK;
}

/* One polled message: an end of partition, an error, one of the batch's (a record), or one past
** the range (stashed for the next batch). *active and *last_progress follow. */
static sr_status read_message(ks_source *ks, ks_read *rd, rd_kafka_message_t *m, ks_part **cache,
                              int *active, int64_t *last_progress, sr_error **err) {
  sr_status st;
  ks_part *p = m->rkt ? ks_part_of(ks, m, cache) : NULL;
  if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    /* Everything before the log end m->offset has been delivered (in order). */
    if (p && p->stash_len == p->stash_head && m->offset > p->next) p->next = m->offset;
    if (p && check_done(p)) { (*active)--; *last_progress = sr_kafka_now_ms(); }
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
      if (for_active)
        return sr_error_set(err, SR_RETRY, "%s: topic '%s' partition %d: offset out of range "
                            "(%s); checking for data loss", WHAT, p->topic, (int)p->partition, text);
    } else if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || code == RD_KAFKA_RESP_ERR__FATAL ||
               code == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
               (for_active && !sr_kafka_err_retriable(code))) {
      return sr_kafka_error(err, code, "%s: consuming: %s", WHAT, text);
    }
    /* Other errors: transient ones librdkafka retries by itself (the timeout bounds them),
    ** and the never-joined group's coordinator lookups, which reading does not need. */
  } else if (!p || m->offset < p->next) {
    rd_kafka_message_destroy(m); /* not ours, or before a seek: outdated */
  } else if (p->done || m->offset >= p->to) {
    if (ks_stash_push(p, m) != 0) {
      rd_kafka_message_destroy(m);
      return sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
    }
    if (check_done(p)) { (*active)--; *last_progress = sr_kafka_now_ms(); }
    if (p->stash_bytes > STASH_MAX_BYTES && !p->paused) ks_pause_part(ks, p, 1);
  } else {
    if ((st = take_message(ks, rd, p, m, err)) != SR_OK) return st;
    if (check_done(p)) (*active)--;
    *last_progress = sr_kafka_now_ms();
  }
  return SR_OK;
}

/* Polls the consumer until the `active` partitions reach their ends; SR_RETRY after
** kafkaConsumer.pollTimeoutMs without progress. */
static sr_status read_consumer(ks_source *ks, ks_read *rd, rd_kafka_message_t **polled, int active,
                               sr_error **err) {
  sr_status st;
  int64_t last_progress = sr_kafka_now_ms();
  ks_part *cache = NULL;
  while (active > 0) {
    ssize_t got = poll_messages(ks, polled);
    for (ssize_t k = 0; k < got; k++) {
      rd_kafka_message_t *m = polled[k];
      polled[k] = NULL;
      if ((st = read_message(ks, rd, m, &cache, &active, &last_progress, err)) != SR_OK) return st;
    }
    if (active > 0 && sr_kafka_now_ms() - last_progress > ks->timeout_ms) {
      for (int i = 0; i < ks->nparts; i++) {
        ks_part *p = &ks->parts[i];
        if (p->done) continue;
        return sr_error_set(err, SR_RETRY, "%s: no progress for %d ms reading topic '%s' "
                            "partition %d (at offset %lld, batch ends at %lld): are the brokers "
                            "reachable?", WHAT, ks->timeout_ms, p->topic, (int)p->partition,
                            (long long)p->next, (long long)p->to);
      }
      return SR_OK;
    }
  }
  return SR_OK;
}

/* The read's start and end offsets, for describe(). */
static void describe_read(ks_source *ks, const ks_range *r, int n,
                          const rd_kafka_topic_partition_list_t *endl) {
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
}

/* Reads [start, end) of every partition as the batch's records: the consumer assigned again
** unless it stands at start (can_continue, reassign), the ranges placed (place_ranges), the
** stashes taken (take_stashed), then the consumer polled to the ranges' ends (read_consumer). */
sr_status ks_read_view(sr_source *src, const json_t *start, const json_t *end,
                       sr_row_view *view, sr_error **err) {
  ks_source *ks = src->impl;
  ks_batch *b = &ks->batch;
  sr_status st = SR_OK;
  int active = 0;
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
  if ((st = place_ranges(ks, &rd, r, n, err)) != SR_OK) goto done;
  if ((st = take_stashed(ks, &rd, &active, err)) != SR_OK) goto done;
  if ((st = read_consumer(ks, &rd, polled, active, err)) != SR_OK) goto done;
  batch_close_gaps(b, &rd, n);
  *view = (sr_row_view){.records = b->recs, .count = b->count, .record_size = sizeof(ks_rec),
                        .columns = ks->include_headers ? NULL : ks_columns};
  describe_read(ks, r, n, endl);
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
