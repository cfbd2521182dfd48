/*
** The Kafka sink (format "kafka"): rows give `value` (string; nil writes a null value, a
** tombstone), `key`, `headers` ({{key=, value=}, ...} or {name = value}), `topic` (or the
** `topic` option, which wins, as in Spark) and `partition` (optional). Exactly once across
** crashes; docs/KAFKA.md states the guarantee for readers.
**
** Every message carries one header after the row's own, the batch marker:
**     streamrun = "<query id>:<batch id>:<seq>"      e.g. "5bf40ff6-...-72aee0244d9e:12:5616"
** seq is the row's position in the batch (0-based); both numbers in decimal without leading
** zeros. A message is this batch's when its marker is this batch's "<query id>:<batch id>:"
** followed by digits only: the last two colons of a marker delimit the numbers, so no other
** (query, batch) can produce that. It replaces the three headers of earlier versions
** (streamrun.query, streamrun.batch, streamrun.seq), which cost about as much as the rest of
** the produce path (two more allocations per message in librdkafka and ~40 more bytes); the
** replay scan still recognises them, so a batch begun by an earlier version completes without
** duplicates. Text, not binary, so that kcat -J and JSON tools still read the topic (kcat
** writes binary header bytes into its JSON unescaped).
**
** The pending file, <state_dir>/kafka-sink-pending.json, is written atomically before any
** message of a batch is produced into a partition it does not name:
**     {"query": "...", "batch": K, "from": {"topic": {"0": 120, ...}}}
** It says: every batch from K on wrote its messages at or after from[p] in partition p, and
** nothing into a partition `from` does not name. Offsets only grow, so a later batch keeps
** the file as long as it writes to partitions the file names: no fsync of the sink's for most
** batches. A batch that writes to a new partition adds it, at its log end now, before its
** first produce. `from` is moved up to the log ends (and K to the batch) once the partitions
** it names have grown by REFRESH_OFFSETS, which bounds what a replay reads. The log ends come
** from the delivery reports of this process's own messages (their offset + 1: a lower bound
** of the end from then on), else from the brokers (ListOffsets), so a batch asks none.
**
** write(N):
**   - N < K, or N committed by this process, or below a batch this process began: skip. The
**     engine starts batch N+1 only after N is committed everywhere.
**   - N above the batch this process last began: a new batch, produce every row.
**   - N the batch this process last began (its commit failed), or the first write of this
**     process with N >= K (a crash may have cut it short): a replay. First wait for every
**     message this process still has in flight; then read each partition of `from` from that
**     offset to its end and note the seqs found with (this query, N); produce only the rows
**     whose seq is missing.
** commit(N): flush: wait until every message is acknowledged or failed (on_delivery counts
** the failures). A failed delivery is SR_RETRY (or SR_ERROR when permanent), never silent: the
** engine retries and the retry is a replay.
**
** Invariants: (1) a message of batch N lies at or after from[p] in its partition p, because
** the pending file is durable before the first produce and offsets only grow; (2) the
** idempotent producer never writes a message twice within one producer session; so (3) a
** replay finds every message an earlier attempt got into the log, and produces each seq at
** most once more. The one gap: a request of a crashed process that the broker appends after
** the replay scanned (a stuck in-flight request): see docs/KAFKA.md.
**
** Partitions are chosen here, not by librdkafka, so that a replay sends a row where its first
** attempt did: the `partition` column, else the key's hash (kafka.partitioner, default
** murmur2_random as the Java client), else, for rows without a key, blocks of 1024 rows in
** turn. With kafka.transactional.id each batch is also one Kafka transaction (begun in write,
** committed in commit) and the replay scan reads with read_committed.
*/
#include <jansson.h>
#include <lauxlib.h>
#include <librdkafka/rdkafka.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "kafka_sink.h"
#include "lua_aux.h"

#define NULL_KEY_BLOCK 1024 /* rows without a key go to one partition per block */
#define METADATA_MAX_AGE_MS 30000

static const sr_option_spec kk_options[] = {
  {"kafka.*", SR_OPT_STRING, NULL,
   "any librdkafka producer property, e.g. kafka.bootstrap.servers, kafka.compression.type, "
   "kafka.transactional.id (one Kafka transaction per batch), kafka.partitioner"},
  {"topic", SR_OPT_STRING, NULL, "the topic every row goes to (else each row's `topic` column)"},
  {NULL, 0, NULL, NULL},
};

static const struct { const char *name; kk_partitioner fn; } partitioners[] = {
  {"murmur2_random", rd_kafka_msg_partitioner_murmur2_random},
  {"murmur2", rd_kafka_msg_partitioner_murmur2},
  {"consistent_random", rd_kafka_msg_partitioner_consistent_random},
  {"consistent", rd_kafka_msg_partitioner_consistent},
  {"fnv1a_random", rd_kafka_msg_partitioner_fnv1a_random},
  {"fnv1a", rd_kafka_msg_partitioner_fnv1a},
  {"random", rd_kafka_msg_partitioner_random},
};

/* ---- the producer ------------------------------------------------------------------- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  kk_sink *ks = opaque;
  if (!m->err) {
    const char *topic = rd_kafka_topic_name(m->rkt);
    rd_kafka_topic_partition_t *e = sr_kafka_tp_find(ks->known_ends, topic, m->partition);
    if (!e) sr_kafka_tp_set(ks->known_ends, topic, m->partition, m->offset + 1);
    else if (e->offset < m->offset + 1) e->offset = m->offset + 1;
    return;
  }
  if (ks->dr_failed++ == 0) {
    ks->dr_err = m->err;
    snprintf(ks->dr_errmsg, sizeof ks->dr_errmsg, "%s partition %d: %s",
             rd_kafka_topic_name(m->rkt), (int)m->partition, rd_kafka_err2str(m->err));
  }
}

static sr_status producer_new(kk_sink *ks, sr_error **err) {
  char errstr[512];
  const sr_kafka_setting defaults[] = {
    {"client.id", "streamrun", NULL},
    /* Not librdkafka's 5: with the queue below bounded, a partition's share of it stays under
    ** batch.num.messages, so the sender waited out the linger while write waited for room, a
    ** stall per round (100,000 rows: 0.19 s with 5 ms, 0.17 s with 1 or 0). Not 0 under the
    ** continuous trigger either: a message would wait 1 ms less, but at 100,000 messages/s the
    ** sends in small requests made batches of ~40,000 rows take ~1 s to produce (p50 latency
    ** 1.3 s, against 0.5 s with 1 ms). */
    {"linger.ms", "1", NULL},
    {"batch.num.messages", "10000", NULL},
    /* Messages waiting for their acknowledgement: when the queue is full, write waits for the
    ** brokers (which bound the rate anyway) and the next messages reuse the memory of the
    ** delivered ones. A batch queued whole (100,000 messages, ~40 MB with their headers)
    ** spent more time faulting in fresh pages than producing. */
    {"queue.buffering.max.messages", "10000", NULL},
    /* Bounds how long commit waits while brokers are away (librdkafka's default is 5 min);
    ** not above transaction.timeout.ms, as transactions require. */
    {"message.timeout.ms", "60000", NULL},
    {"log.connection.close", "false", NULL},
    /* A report for every message, not only for failures: delivered messages then come back
    ** to this thread, which frees them (in rd_kafka_poll) where it allocated them. Freed by the
    ** broker thread instead, each went through malloc's locked arena and this thread kept
    ** faulting in fresh memory: 100,000 messages took 180 ms to produce instead of 130. */
    {"delivery.report.only.error", "false", NULL},
    {NULL, NULL, NULL},
  };
  const sr_kafka_setting forced[] = {
    {"enable.idempotence", "true", "exactly-once needs the idempotent producer"},
    {NULL, NULL, NULL},
  };
  const char *const skip[] = {"partitioner", NULL};
  rd_kafka_conf_t *conf = sr_kafka_conf_new(ks->opts, defaults, forced, skip, WHAT, err);
  if (!conf) return SR_ERROR;
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_opaque(conf, ks);
  if (!(ks->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr))) {
    rd_kafka_conf_destroy(conf);
    return sr_error_set(err, SR_ERROR, "%s: cannot create the producer: %s", WHAT, errstr);
  }
  ks->txn_ready = ks->txn_open = 0;
  return SR_OK;
}

static void topics_release(kk_sink *ks) {
  for (int i = 0; i < ks->ntopics; i++) {
    if (ks->topics[i].rkt) rd_kafka_topic_destroy(ks->topics[i].rkt);
    ks->topics[i].rkt = NULL;
    ks->topics[i].partitions = 0;
  }
}

/* Destroys the producer; in-flight requests are given a moment to settle first, so that a
** replay by a later producer sees everything they wrote. */
static void producer_destroy(kk_sink *ks) {
  if (!ks->rk) return;
  rd_kafka_purge(ks->rk, RD_KAFKA_PURGE_F_QUEUE);
  rd_kafka_flush(ks->rk, 5000);
  if (ks->txn_open) {
    rd_kafka_error_t *e = rd_kafka_abort_transaction(ks->rk, 5000);
    rd_kafka_error_destroy(e);
  }
  topics_release(ks);
  rd_kafka_destroy(ks->rk);
  ks->rk = NULL;
}

/* Waits until nothing is queued or in flight; delivery reports are served meanwhile. */
static void drain(kk_sink *ks) {
  while (rd_kafka_outq_len(ks->rk) > 0) rd_kafka_flush(ks->rk, 1000);
}

/* SR_RETRY after a fatal producer error (a fresh producer takes over), else SR_OK. */
static sr_status check_fatal(kk_sink *ks, sr_error **err) {
  char errstr[256];
  rd_kafka_resp_err_t e = rd_kafka_fatal_error(ks->rk, errstr, sizeof errstr);
  if (!e) return SR_OK;
  sr_status st = ks->transactional ? SR_ERROR : SR_RETRY;
  sr_error_set(err, st, "%s: the producer failed: %s (%s)%s", WHAT, errstr, rd_kafka_err2name(e),
               ks->transactional ? "; another producer with this transactional.id may be running" : "");
  producer_destroy(ks);
  if (st == SR_RETRY && producer_new(ks, NULL) != SR_OK) st = SR_RETRY; /* retried at next write */
  return st;
}

/* Turns a transaction API error into a status, aborting the transaction when it must be. */
static sr_status txn_error(kk_sink *ks, rd_kafka_error_t *e, const char *doing, sr_error **err) {
  sr_status st = rd_kafka_error_is_fatal(e) ? SR_ERROR : SR_RETRY;
  sr_error_set(err, st, "%s: %s: %s", WHAT, doing, rd_kafka_error_string(e));
  if (rd_kafka_error_txn_requires_abort(e) && ks->txn_open) {
    rd_kafka_error_t *a = rd_kafka_abort_transaction(ks->rk, ks->timeout_ms);
    rd_kafka_error_destroy(a);
    ks->txn_open = 0;
  }
  rd_kafka_error_destroy(e);
  return st;
}

/* ---- topics and partitions ------------------------------------------------------------ */

int kk_topic_index(kk_sink *ks, const char *name, size_t len) {
  for (int i = 0; i < ks->ntopics; i++)
    if (strlen(ks->topics[i].name) == len && memcmp(ks->topics[i].name, name, len) == 0) return i;
  kk_topic *t = realloc(ks->topics, (size_t)(ks->ntopics + 1) * sizeof *t);
  if (!t) return -1;
  ks->topics = t;
  memset(&t[ks->ntopics], 0, sizeof *t);
  if (!(t[ks->ntopics].name = strndup(name, len))) return -1;
  return ks->ntopics++;
}

/* Learns the topic's partition count (asking the brokers at most every 30 s). A topic that
** does not exist is asked for again for a few seconds (brokers may create it on request). */
static sr_status topic_ready(kk_sink *ks, kk_topic *t, sr_error **err) {
  int64_t now = sr_kafka_now_ms();
  if (t->partitions > 0 && now - t->checked_ms < METADATA_MAX_AGE_MS) return SR_OK;
  if (!t->rkt && !(t->rkt = rd_kafka_topic_new(ks->rk, t->name, NULL)))
    return sr_kafka_error(err, rd_kafka_last_error(), "%s: topic '%s'", WHAT, t->name);
  int64_t deadline = now + (ks->timeout_ms < 5000 ? ks->timeout_ms : 5000);
  for (;;) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(ks->rk, 0, t->rkt, &md, ks->timeout_ms);
    if (!e && md->topic_cnt == 1) e = md->topics[0].err;
    if (!e) t->partitions = md->topics[0].partition_cnt;
    if (md) rd_kafka_metadata_destroy(md);
    if (!e && t->partitions > 0) break;
    if (e && e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART && e != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)
      return sr_kafka_error(err, e, "%s: metadata of topic '%s'", WHAT, t->name);
    if (sr_kafka_now_ms() >= deadline)
      return sr_error_set(err, SR_ERROR, "%s: topic '%s' does not exist (create it, or let the "
                          "brokers create topics on use)", WHAT, t->name);
    rd_kafka_poll(ks->rk, 200);
  }
  t->checked_ms = now;
  return SR_OK;
}

/* ---- write / commit ------------------------------------------------------------------ */

/* The partition row `seq` goes to (see the top). */
static int32_t partition_of(kk_sink *ks, const kk_row *row, int64_t batch, int seq) {
  const kk_topic *t = &ks->topics[row->topic];
  if (row->partition >= 0) return row->partition;
  if (row->key.ptr)
    return ks->partitioner(t->rkt, row->key.ptr, row->key.len, t->partitions, NULL, NULL);
  return (int32_t)((uint64_t)(batch + seq / NULL_KEY_BLOCK) % (uint64_t)t->partitions);
}

/* Produces row `seq` to `partition` with its headers and the batch marker (kk_mark_batch was
** called). */
static sr_status produce_row(kk_sink *ks, const kk_batch *b, const kk_row *row, int32_t partition,
                             int seq, sr_error **err) {
  rd_kafka_headers_t *h = rd_kafka_headers_new((size_t)row->hdr_n + 1);
  for (int k = 0; k < row->hdr_n; k++) {
    const kk_hdr *hd = &b->hdrs[row->hdr_first + k];
    rd_kafka_header_add(h, hd->name.ptr, (ssize_t)hd->name.len, hd->value.ptr, (ssize_t)hd->value.len);
  }
  size_t mark_len = ks->mark_prefix_len + kk_put_decimal(ks->mark + ks->mark_prefix_len, (uint64_t)seq);
  rd_kafka_header_add(h, H_MARK, sizeof H_MARK - 1, ks->mark, (ssize_t)mark_len);
  for (;;) {
    rd_kafka_resp_err_t e = rd_kafka_producev(
        ks->rk, RD_KAFKA_V_RKT(ks->topics[row->topic].rkt), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_VALUE((void *)row->value.ptr, row->value.len),
        RD_KAFKA_V_KEY(row->key.ptr, row->key.len),
        RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (!e) return SR_OK;
    if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_headers_destroy(h);
      return sr_kafka_error(err, e, "%s: producing to topic '%s' partition %d", WHAT,
                            ks->topics[row->topic].name, (int)partition);
    }
    rd_kafka_poll(ks->rk, 10); /* the queue is full: let deliveries make room */
  }
}

/* Points the batch's texts made here (numbers) at the buffer, which has stopped growing. */
static void resolve_texts(kk_batch *b) {
  for (int i = 0; b->rows && i < b->nrows; i++) {
    kk_resolve_text(&b->rows[i].key, &b->text);
    kk_resolve_text(&b->rows[i].value, &b->text);
  }
  for (int i = 0; i < b->nhdrs; i++) {
    kk_resolve_text(&b->hdrs[i].name, &b->text);
    kk_resolve_text(&b->hdrs[i].value, &b->text);
  }
}

/* Where the rows go: every topic is made ready, each row's partition noted in ks->partitions
** and every partition in targets, before the first row is produced. */
static sr_status route_rows(kk_sink *ks, int64_t batch_id, kk_batch *b,
                            rd_kafka_topic_partition_list_t *targets, sr_error **err) {
  sr_status st;
  kk_view_row tmp;
  int last_topic = -1;
  int32_t last_partition = -1;
  for (int i = 0; i < b->nrows; i++) {
    const kk_row *row = kk_row_at(b, i, &tmp, err);
    if (!row) return SR_ERROR;
    const kk_topic *t = &ks->topics[row->topic];
    if (row->topic != last_topic && (st = topic_ready(ks, &ks->topics[row->topic], err)) != SR_OK)
      return st;
    /* Computed once: the pending file must name every partition the rows go to, and the
    ** `random` partitioner gives another one each time. */
    int32_t partition = ks->partitions[i] = partition_of(ks, row, batch_id, i);
    if (partition >= t->partitions)
      return sr_error_set(err, SR_ERROR, "%s: batch %lld row %d: topic '%s' has no partition %d",
                          WHAT, (long long)batch_id, i + 1, t->name, (int)partition);
    if ((partition != last_partition || row->topic != last_topic) &&
        !sr_kafka_tp_find(targets, t->name, partition))
      rd_kafka_topic_partition_list_add(targets, t->name, partition);
    last_topic = row->topic;
    last_partition = partition;
  }
  return SR_OK;
}

/* Transactions: ready (which also fences an earlier producer with this transactional.id and
** aborts what it left open), and the failed attempt's own transaction aborted. */
static sr_status txn_prepare(kk_sink *ks, sr_error **err) {
  rd_kafka_error_t *e;
  if (!ks->txn_ready) {
    if ((e = rd_kafka_init_transactions(ks->rk, ks->timeout_ms)))
      return txn_error(ks, e, "initializing transactions", err);
    ks->txn_ready = 1;
  }
  if (ks->txn_open) {
    e = rd_kafka_abort_transaction(ks->rk, ks->timeout_ms);
    ks->txn_open = 0;
    if (e) return txn_error(ks, e, "aborting the failed attempt's transaction", err);
  }
  return SR_OK;
}

/* Produces every row whose seq is not in found (a replay's scan found the others). */
static sr_status produce_rows(kk_sink *ks, kk_batch *b, const unsigned char *found, sr_error **err) {
  sr_status st;
  kk_view_row tmp;
  ks->dr_failed = 0;
  ks->dr_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int i = 0; i < b->nrows; i++) {
    if (found[i]) continue;
    const kk_row *row = kk_row_at(b, i, &tmp, err); /* checked by route_rows */
    if (!row) return SR_ERROR;
    if ((st = produce_row(ks, b, row, ks->partitions[i], i, err)) != SR_OK) return st;
    ks->last_written++;
    if ((i & 1023) == 0) rd_kafka_poll(ks->rk, 0);
  }
  return SR_OK;
}

/* Writes the batch's rows (collected in b->rows, or read from b->view by kk_row_at) as batch
** batch_id (see the top): route the rows; let nothing of an earlier attempt be on its way;
** make the pending file cover their partitions; on a replay, scan for the rows already
** written; produce the others (inside the batch's transaction when transactional). */
static sr_status write_batch(kk_sink *ks, int64_t batch_id, kk_batch *b, sr_error **err) {
  sr_status st = SR_OK;
  int nrows = b->nrows;
  unsigned char *found = NULL;
  rd_kafka_topic_partition_list_t *targets = rd_kafka_topic_partition_list_new(8);
  resolve_texts(b);
  if ((st = route_rows(ks, batch_id, b, targets, err)) != SR_OK) goto done;
  drain(ks); /* nothing of an earlier attempt may still be on its way (see the top) */
  if ((st = check_fatal(ks, err)) != SR_OK) goto done;
  int replay = ks->begun < 0 ? ks->pending_batch >= 0 : batch_id == ks->begun;
  if ((st = kk_pending_cover(ks, batch_id, targets, replay, err)) != SR_OK) goto done;
  ks->begun = batch_id;
  if (ks->transactional && (st = txn_prepare(ks, err)) != SR_OK) goto done;
  if (!(found = calloc((size_t)nrows, 1))) {
    st = sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
    goto done;
  }
  kk_mark_batch(ks, batch_id);
  if (replay) {
    int64_t hits = kk_replay_scan(ks, batch_id, found, nrows, err);
    if (hits < 0) {
      st = (*err && (*err)->status == SR_ERROR) ? SR_ERROR : SR_RETRY;
      goto done;
    }
    ks->last_skipped = hits;
  }
  if (ks->transactional) {
    rd_kafka_error_t *e = rd_kafka_begin_transaction(ks->rk);
    if (e) {
      st = txn_error(ks, e, "beginning a transaction", err);
      goto done;
    }
    ks->txn_open = 1;
  }
  st = produce_rows(ks, b, found, err);
done:
  free(found);
  rd_kafka_topic_partition_list_destroy(targets);
  return st;
}

/* Makes *arr hold at least n elements of size elem, keeping it from batch to batch: a fresh
** array of a batch's size would be mapped and faulted in anew each time. */
static sr_status reserve_kept(void **arr, size_t *cap, size_t n, size_t elem, sr_error **err) {
  if (n <= *cap) return SR_OK;
  free(*arr);
  *cap = 0;
  if (!(*arr = malloc(n * elem))) return sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
  *cap = n;
  return SR_OK;
}

/* Starts a write: *todo = 0 when batch_id was written before (or is empty) and there is
** nothing to do. */
static sr_status begin_write(kk_sink *ks, int64_t batch_id, int nrows, kk_batch *b, int *todo,
                             sr_error **err) {
  *b = (kk_batch){.ks = ks, .nrows = nrows, .text = SR_BUF_INIT};
  ks->last_written = ks->last_skipped = 0;
  *todo = 0;
  if (batch_id < ks->pending_batch || batch_id < ks->begun || batch_id == ks->committed || nrows <= 0)
    return SR_OK;
  if (!ks->rk && producer_new(ks, err) != SR_OK) return SR_ERROR;
  if (reserve_kept((void **)&ks->partitions, &ks->partitions_cap, (size_t)nrows,
                   sizeof *ks->partitions, err) != SR_OK)
    return SR_ERROR;
  *todo = 1;
  return SR_OK;
}

static sr_status kk_write(sr_sink *sink, int64_t batch_id, lua_State *L, int rows_idx, int nrows,
                          int spec_idx, sr_error **err) {
  (void)spec_idx;
  kk_sink *ks = sink->impl;
  kk_batch b;
  int todo;
  rows_idx = sr_lua_absindex(L, rows_idx);
  luaL_checkstack(L, 4, "kafka sink");
  lua_pushcfunction(L, kk_collect_rows); /* before anything of ours is held: it may raise */
  int fn_idx = lua_gettop(L);
  sr_status st = begin_write(ks, batch_id, nrows, &b, &todo, err);
  if (st != SR_OK || !todo) goto done;
  if ((st = reserve_kept((void **)&ks->rows, &ks->rows_cap, (size_t)nrows, sizeof *ks->rows,
                         err)) != SR_OK)
    goto done;
  b.rows = ks->rows;
  lua_pushvalue(L, rows_idx);
  lua_pushlightuserdata(L, &b);
  if (lua_pcall(L, 2, 0, 0) != 0) {
    st = sr_error_set(err, SR_ERROR, "%s: batch %lld: %s", WHAT, (long long)batch_id,
                      lua_isstring(L, -1) ? lua_tostring(L, -1) : "error reading rows");
    goto done;
  }
  if (b.errmsg[0]) {
    st = sr_error_set(err, SR_ERROR, "%s: batch %lld: %s", WHAT, (long long)batch_id, b.errmsg);
    goto done;
  }
  st = write_batch(ks, batch_id, &b, err);
done:
  kk_batch_free(&b);
  lua_settop(L, fn_idx - 1);
  return st;
}

static sr_status kk_write_view(sr_sink *sink, int64_t batch_id, const sr_row_view *view,
                               sr_error **err) {
  kk_sink *ks = sink->impl;
  kk_batch b;
  int todo;
  sr_status st = begin_write(ks, batch_id, view->count, &b, &todo, err);
  if (st == SR_OK && todo && (st = kk_view_columns(&b, view, err)) == SR_OK)
    st = write_batch(ks, batch_id, &b, err);
  kk_batch_free(&b);
  return st;
}

static sr_status kk_commit(sr_sink *sink, int64_t batch_id, sr_error **err) {
  kk_sink *ks = sink->impl;
  sr_status st;
  if (batch_id < ks->pending_batch || batch_id < ks->begun || batch_id == ks->committed) return SR_OK;
  if (!ks->rk) return sr_error_set(err, SR_RETRY, "%s: batch %lld was not written", WHAT, (long long)batch_id);
  if (ks->txn_open) {
    rd_kafka_error_t *e = rd_kafka_commit_transaction(ks->rk, -1);
    if (e) return txn_error(ks, e, "committing the batch's transaction", err);
    ks->txn_open = 0;
  }
  drain(ks);
  if ((st = check_fatal(ks, err)) != SR_OK) return st;
  if (ks->dr_failed > 0) {
    st = sr_kafka_err_retriable(ks->dr_err) ? SR_RETRY : SR_ERROR;
    sr_error_set(err, st, "%s: batch %lld: %lld message(s) not delivered; the first: %s", WHAT,
                 (long long)batch_id, (long long)ks->dr_failed, ks->dr_errmsg);
    ks->dr_failed = 0;
    return st;
  }
  ks->committed = batch_id;
  return SR_OK;
}

/* ---- describe, open, close ----------------------------------------------------------- */

static void kk_describe(sr_sink *sink, json_t *progress) {
  kk_sink *ks = sink->impl;
  char desc[300];
  snprintf(desc, sizeof desc, "KafkaSink[%s]", ks->topic_opt ? ks->topic_opt : "topic column");
  json_object_set_new(progress, "description", json_string(desc));
  json_object_set_new(progress, "numOutputRows", json_integer(ks->last_written));
  json_object_set_new(progress, "numRowsAlreadyWritten", json_integer(ks->last_skipped));
}

static void kk_close(sr_sink *sink) {
  kk_sink *ks = sink->impl;
  if (!ks) return;
  producer_destroy(ks);
  for (int i = 0; i < ks->ntopics; i++) free(ks->topics[i].name);
  free(ks->topics);
  if (ks->pending_from) rd_kafka_topic_partition_list_destroy(ks->pending_from);
  if (ks->known_ends) rd_kafka_topic_partition_list_destroy(ks->known_ends);
  free(ks->topic_opt);
  free(ks->query_id);
  free(ks->mark);
  free(ks->rows);
  free(ks->partitions);
  free(ks->pending_path);
  free(ks);
  sink->impl = NULL;
}

static int has_column(const char *const *columns, const char *name) {
  for (int i = 0; columns[i]; i++)
    if (strcmp(columns[i], name) == 0) return 1;
  return 0;
}

/* Spark's KafkaWriter.validateQuery: "Required attribute 'value' not found", and "topic option
** required when no 'topic' attribute is present". Checked here when the plan knows the
** columns; when it does not, kk_collect_rows refuses a row without a value. */
static sr_status kk_check(const sr_connector_config *cfg, sr_error **err) {
  const char *pname = sr_opt_str(cfg->options, kk_options, "kafka.partitioner", "murmur2_random");
  int known = 0;
  for (size_t i = 0; i < sizeof partitioners / sizeof *partitioners; i++)
    known |= strcmp(partitioners[i].name, pname) == 0;
  if (!known)
    return sr_error_set(err, SR_ERROR, "%s: option 'kafka.partitioner' must be one of murmur2_random, "
                        "murmur2, consistent_random, consistent, fnv1a_random, fnv1a, random; not "
                        "\"%s\"", WHAT, pname);
  if (!cfg->columns) return SR_OK;
  char list[512] = "";
  for (int i = 0; cfg->columns[i]; i++)
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", cfg->columns[i]);
  if (!has_column(cfg->columns, "value"))
    return sr_error_set(err, SR_ERROR, "Required attribute 'value' not found: the rows written to "
                        "Kafka have no column 'value' (they have %s); give them one, e.g. "
                        ":select{value = function(r) return sr.to_json(r) end}", list);
  if (!sr_opt_str(cfg->options, kk_options, "topic", NULL) && !has_column(cfg->columns, "topic"))
    return sr_error_set(err, SR_ERROR, "topic option required when no 'topic' attribute is present "
                        "(the rows have %s): give the sink option 'topic' or a column 'topic'", list);
  return SR_OK;
}

static sr_status kk_open(sr_sink *sink, const sr_connector_config *cfg, sr_error **err) {
  const sr_options *o = cfg->options;
  kk_sink *ks = calloc(1, sizeof *ks);
  sink->impl = ks;
  if (!ks) return sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
  ks->opts = o;
  ks->pending_batch = -1;
  ks->committed = -1;
  ks->timeout_ms = 30000;
  ks->pending_from = rd_kafka_topic_partition_list_new(1);
  ks->known_ends = rd_kafka_topic_partition_list_new(8);
  ks->begun = -1;
  const char *id = cfg->query_id ? cfg->query_id : cfg->query_name;
  if (!id)
    return sr_error_set(err, SR_ERROR, "%s needs the query's id (a checkpointLocation)", WHAT);
  const char *topic = sr_opt_str(o, kk_options, "topic", NULL);
  ks->mark_id_len = strlen(id);
  if (!(ks->query_id = strdup(id)) || (topic && !(ks->topic_opt = strdup(topic))) ||
      !(ks->mark = malloc(ks->mark_id_len + MARK_NUMBERS)))
    return sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
  memcpy(ks->mark, id, ks->mark_id_len);
  ks->mark[ks->mark_id_len] = ':';
  if (kk_check(cfg, err) != SR_OK) return SR_ERROR;
  ks->value_required = cfg->columns == NULL;
  const char *pname = sr_opt_str(o, kk_options, "kafka.partitioner", "murmur2_random");
  for (size_t i = 0; i < sizeof partitioners / sizeof *partitioners; i++)
    if (strcmp(partitioners[i].name, pname) == 0) ks->partitioner = partitioners[i].fn;
  if (!ks->partitioner)
    return sr_error_set(err, SR_ERROR, "%s: option 'kafka.partitioner' must be one of murmur2_random, "
                        "murmur2, consistent_random, consistent, fnv1a_random, fnv1a, random; not "
                        "\"%s\"", WHAT, pname);
  ks->transactional = sr_opt_str(o, kk_options, "kafka.transactional.id", NULL) != NULL;
  if (cfg->state_dir) {
    size_t len = strlen(cfg->state_dir) + sizeof PENDING_FILE + 1;
    if (!(ks->pending_path = malloc(len))) return sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
    snprintf(ks->pending_path, len, "%s/%s", cfg->state_dir, PENDING_FILE);
  }
  sr_status st = kk_pending_load(ks, err);
  if (st != SR_OK) return st;
  return producer_new(ks, err);
}

/* The batch the pending file names, for the engine's cross-check against offsets/ (ckpt.c
** I5): it was logged before the sink wrote it, so a pending batch beyond the newest offsets
** means offsets were removed, and the next batch would be taken for its replay (its rows
** found in the topic skipped). Not every batch writes the file (empty ones do not). */
static sr_status kk_committed(sr_sink *sink, int64_t *batch_id, int *every, char *where, size_t wherelen,
                              sr_error **err) {
  kk_sink *ks = sink->impl;
  *batch_id = ks->pending_batch;
  *every = 0;
  snprintf(where, wherelen, "%s", ks->pending_path ? ks->pending_path : "");
  return SR_OK;
}

const sr_sink_ops sr_sink_kafka = {
  .name = "kafka",
  .committed = kk_committed,
  .options = kk_options,
  .check = kk_check,
  .open = kk_open,
  .write = kk_write,
  .write_view = kk_write_view,
  .commit = kk_commit,
  .describe = kk_describe,
  .close = kk_close,
};
