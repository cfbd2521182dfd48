/*
** The Kafka sink's batch marker, the header "streamrun" = "<query id>:<batch id>:<seq>" every
** message carries (the top of sink_kafka.c), and the replay scan that reads the markers back to
** find which rows of a batch an earlier attempt already wrote.
*/
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_sink.h"

#define H_QUERY "streamrun.query"     /* the three headers of earlier versions */
#define H_BATCH "streamrun.batch"
#define H_SEQ "streamrun.seq"

/* Producer-only properties, left out of the replay scan's consumer configuration. */
static const char *const producer_only[] = {
  "transactional.id", "transaction.timeout.ms", "enable.idempotence", "enable.gapless.guarantee",
  "acks", "request.required.acks", "linger.ms", "queue.buffering.max.ms", "batch.num.messages",
  "batch.size", "compression.codec", "compression.type", "compression.level",
  "queue.buffering.max.messages", "queue.buffering.max.kbytes", "message.timeout.ms",
  "delivery.timeout.ms", "partitioner", "retries", "message.send.max.retries",
  "max.in.flight.requests.per.connection", "max.in.flight", "retry.backoff.ms",
  "sticky.partitioning.linger.ms", "request.timeout.ms", "queuing.strategy",
  "produce.offset.report", "msg_order_cmp", "delivery.report.only.error",
  "queue.buffering.backpressure.threshold", NULL,
};

/* ---- the batch marker ---------------------------------------------------------------- */

/* Writes v in decimal at p (no terminator). Returns the number of digits. */
size_t kk_put_decimal(char *p, uint64_t v) {
  char tmp[20];
  size_t n = 0;
  do tmp[n++] = (char)('0' + v % 10); while ((v /= 10) > 0);
  for (size_t i = 0; i < n; i++) p[i] = tmp[n - 1 - i];
  return n;
}

/* Sets the marker's prefix "<query id>:<batch>:" for the batch about to be written or checked. */
void kk_mark_batch(kk_sink *ks, int64_t batch) {
  char *p = ks->mark + ks->mark_id_len + 1;
  p += kk_put_decimal(p, (uint64_t)batch);
  *p++ = ':';
  ks->mark_prefix_len = (size_t)(p - ks->mark);
}

/* The seq a message of this query's current batch (kk_mark_batch) carries, or -1 when it is not
** one: another query's or batch's, or no marker. Reads the marker, else the three headers of
** earlier versions. */
static int64_t mark_seq(const kk_sink *ks, const rd_kafka_message_t *m, const char *batch_text) {
  rd_kafka_headers_t *h;
  const void *v;
  size_t len;
  if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR) return -1;
  if (rd_kafka_header_get_last(h, H_MARK, &v, &len) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char *t = v;
    size_t p = ks->mark_prefix_len;
    if (!t || len <= p || len > p + 10 || memcmp(t, ks->mark, p) != 0) return -1;
    int64_t seq = 0;
    for (; p < len; p++) {
      if (t[p] < '0' || t[p] > '9') return -1;
      seq = seq * 10 + (t[p] - '0');
    }
    return seq;
  }
  const char *want[] = {ks->query_id, batch_text};
  const char *names[] = {H_QUERY, H_BATCH};
  for (int k = 0; k < 2; k++)
    if (rd_kafka_header_get_last(h, names[k], &v, &len) != RD_KAFKA_RESP_ERR_NO_ERROR || !v ||
        len != strlen(want[k]) || memcmp(v, want[k], len) != 0)
      return -1;
  char seq[24];
  if (rd_kafka_header_get_last(h, H_SEQ, &v, &len) != RD_KAFKA_RESP_ERR_NO_ERROR || !v ||
      len >= sizeof seq)
    return -1;
  memcpy(seq, v, len);
  seq[len] = '\0';
  return strtoll(seq, NULL, 10);
}

/* ---- the replay scan ----------------------------------------------------------------- */

/* The consumer of a replay scan: of this query's group (never joined), reading only what a
** transaction committed when the sink writes in transactions. NULL with *err set. */
static rd_kafka_t *scan_consumer(kk_sink *ks, sr_error **err) {
  char errstr[512], group[512];
  snprintf(group, sizeof group, "streamrun-kafka-sink-%s", ks->query_id);
  const sr_kafka_setting defaults[] = {
    {"client.id", "streamrun-sink-check", NULL},
    {"group.id", group, NULL},
    {"log.connection.close", "false", NULL},
    {NULL, NULL, NULL},
  };
  const sr_kafka_setting forced[] = {
    {"enable.auto.commit", "false", ""},
    {"auto.offset.reset", "error", ""},
    {"enable.partition.eof", "true", ""},
    {"isolation.level", ks->transactional ? "read_committed" : "read_uncommitted", ""},
    {NULL, NULL, NULL},
  };
  rd_kafka_t *rk;
  rd_kafka_conf_t *conf = sr_kafka_conf_new(ks->opts, defaults, forced, producer_only, WHAT, err);
  if (!conf) return NULL;
  if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr))) {
    rd_kafka_conf_destroy(conf);
    sr_error_set(err, SR_ERROR, "%s: cannot create the consumer that checks a replay: %s", WHAT, errstr);
    return NULL;
  }
  rd_kafka_poll_set_consumer(rk);
  return rk;
}

/* A scan in progress: the partitions assigned (offset -1 once read to its end) and their ends. */
typedef struct kk_scan {
  kk_sink *ks;
  const char *batch_text;
  unsigned char *found;
  int nrows;
  rd_kafka_topic_partition_list_t *asg, *ends;
  int active;                 /* partitions not read to their end yet */
  int64_t hits;
  int64_t last_progress;
} kk_scan;

/* Takes one polled message: a marker of this batch sets found[seq]; a partition is done at
** its end offset, past a gap, or at its end of log. Returns 0, or -1 with *err set when the
** scan cannot go on. */
static int scan_message(kk_scan *sc, const rd_kafka_message_t *m, sr_error **err) {
  rd_kafka_topic_partition_t *a =
      m->rkt ? sr_kafka_tp_find(sc->asg, rd_kafka_topic_name(m->rkt), m->partition) : NULL;
  int64_t pos = -1; /* every message before pos has been seen */
  if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    pos = m->offset;
  } else if (m->err) {
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || !sr_kafka_err_retriable(m->err)) {
      sr_kafka_error(err, m->err, "%s: checking what a replayed batch already wrote (%s)",
                     WHAT, rd_kafka_message_errstr(m));
      return -1;
    }
  } else if (a) {
    pos = m->offset + 1;
    int64_t s = mark_seq(sc->ks, m, sc->batch_text);
    if (s >= 0 && s < sc->nrows && !sc->found[s]) {
      sc->found[s] = 1;
      sc->hits++;
    }
  }
  if (a && a->offset >= 0 && pos >= 0) {
    if (pos >= sr_kafka_tp_find(sc->ends, a->topic, a->partition)->offset) {
      a->offset = -1;
      sc->active--;
    }
    sc->last_progress = sr_kafka_now_ms();
  }
  return 0;
}

/* Reads the assigned partitions to their ends (scan_message). SR_OK, or SR_RETRY/SR_ERROR. */
static sr_status scan_read(kk_scan *sc, rd_kafka_t *rk, rd_kafka_queue_t *q, sr_error **err) {
  rd_kafka_message_t *msgs[512];
  sc->last_progress = sr_kafka_now_ms();
  while (sc->active > 0) {
    /* What is queued, else wait for one (a timeout here would wait for a full array). */
    ssize_t got = rd_kafka_consume_batch_queue(q, 0, msgs, sizeof msgs / sizeof *msgs);
    if (got == 0 && (msgs[0] = rd_kafka_consumer_poll(rk, 100))) got = 1;
    int failed = 0;
    for (ssize_t k = 0; k < got; k++) {
      if (!failed && scan_message(sc, msgs[k], err) != 0) failed = 1; /* the rest is dropped */
      rd_kafka_message_destroy(msgs[k]);
    }
    if (failed) return SR_ERROR;
    if (got < 0 || sr_kafka_now_ms() - sc->last_progress > sc->ks->timeout_ms)
      return sr_error_set(err, SR_RETRY, "%s: timed out checking what a replayed batch already wrote", WHAT);
  }
  return SR_OK;
}

/* Reads pending_from[p] .. end of every partition and sets found[seq] for each message of this
** query's batch `batch`. Returns how many it found, or -1 with *err set. */
int64_t kk_replay_scan(kk_sink *ks, int64_t batch, unsigned char *found, int nrows, sr_error **err) {
  char batch_text[32];
  rd_kafka_queue_t *q = NULL;
  snprintf(batch_text, sizeof batch_text, "%lld", (long long)batch);
  kk_scan sc = {.ks = ks, .batch_text = batch_text, .found = found, .nrows = nrows, .hits = -1};
  sc.ends = rd_kafka_topic_partition_list_copy(ks->pending_from);
  sc.asg = rd_kafka_topic_partition_list_new(sc.ends->cnt + 1);
  rd_kafka_t *rk = scan_consumer(ks, err);
  if (!rk) goto done;
  q = rd_kafka_queue_get_consumer(rk);
  sr_kafka_tp_fill(sc.ends, RD_KAFKA_OFFSET_END);
  if (sr_kafka_list_offsets(rk, sc.ends, ks->timeout_ms, err) != SR_OK) goto done;
  for (int i = 0; i < sc.ends->cnt; i++) {
    const rd_kafka_topic_partition_t *f = &ks->pending_from->elems[i];
    if (sc.ends->elems[i].offset > f->offset) {
      rd_kafka_topic_partition_list_add(sc.asg, f->topic, f->partition)->offset = f->offset;
      sc.active++;
    }
  }
  sc.hits = 0;
  if (sc.active == 0) goto done;
  rd_kafka_resp_err_t e = rd_kafka_assign(rk, sc.asg);
  if (e) {
    sc.hits = -1;
    sr_kafka_error(err, e, "%s: checking what a replayed batch already wrote", WHAT);
    goto done;
  }
  if (scan_read(&sc, rk, q, err) != SR_OK) sc.hits = -1;
done:
  if (q) rd_kafka_queue_destroy(q);
  if (rk) {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
  rd_kafka_topic_partition_list_destroy(sc.ends);
  rd_kafka_topic_partition_list_destroy(sc.asg);
  return sc.hits;
}
