/*
** The Kafka sink's pending file, <state_dir>/kafka-sink-pending.json: where every batch from
** K on began in each partition it writes to (the protocol: the top of sink_kafka.c).
*/
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "kafka_sink.h"

#define REFRESH_OFFSETS 100000 /* the pending file's partitions grew by this much: move it up */

/* ---- the pending file --------------------------------------------------------------- */

static sr_status pending_write(kk_sink *ks, int64_t batch, sr_error **err) {
  sr_status st = SR_OK;
  char *dump = NULL;
  json_t *root = json_pack("{s:s, s:I}", "query", ks->query_id, "batch", (json_int_t)batch);
  json_t *from = sr_kafka_offsets_json(ks->pending_from);
  if (!root || !from || json_object_set_new(root, "from", from) != 0 ||
      !(dump = json_dumps(root, JSON_COMPACT))) {
    st = sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
    goto done;
  }
  from = NULL;
  if (ks->pending_path) {
    size_t len = strlen(dump);
    char *body = realloc(dump, len + 2);
    if (!body) {
      st = sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
      goto done;
    }
    dump = body;
    dump[len++] = '\n';
    st = sr_fs_write_checked(ks->pending_path, PENDING_FILE, dump, len, err);
  }
  if (st == SR_OK) ks->pending_batch = batch;
done:
  json_decref(from);
  json_decref(root);
  free(dump);
  return st;
}

sr_status kk_pending_load(kk_sink *ks, sr_error **err) {
  sr_status st = SR_OK;
  size_t len;
  json_error_t jerr;
  json_t *root = NULL;
  char *text = NULL;
  if (!ks->pending_path || !sr_fs_exists(ks->pending_path)) return SR_OK;
  int checked; /* a checked file (fsutil.h); one from before checksums is parsed strictly below */
  if (!(text = sr_fs_read_checked(ks->pending_path, PENDING_FILE, &len, &checked, err))) return SR_ERROR;
  root = json_loadb(text, len, 0, &jerr);
  json_t *batch = json_object_get(root, "batch"), *query = json_object_get(root, "query");
  if (!json_is_integer(batch) || !json_is_string(query) || !json_object_get(root, "from")) {
    st = sr_error_set(err, SR_ERROR, "%s: %s is damaged; it says which batch was being written",
                      WHAT, ks->pending_path);
    goto done;
  }
  if (strcmp(json_string_value(query), ks->query_id) != 0) {
    /* the file says where another query's batch began: trusting it, or ignoring it, would
    ** skip or repeat this query's messages */
    st = sr_error_set(err, SR_ERROR, "%s: %s was written by query %s, but this checkpoint's query is %s: "
                      "it was copied from another checkpoint. Restore this checkpoint's own file",
                      WHAT, ks->pending_path, json_string_value(query), ks->query_id);
    goto done;
  }
  rd_kafka_topic_partition_list_t *from = sr_kafka_offsets_parse(json_object_get(root, "from"),
                                                                 ks->pending_path, err);
  if (!from) {
    st = SR_ERROR;
    goto done;
  }
  rd_kafka_topic_partition_list_destroy(ks->pending_from);
  ks->pending_from = from;
  ks->pending_batch = json_integer_value(batch);
done:
  json_decref(root);
  free(text);
  return st;
}

/* Makes the pending file name every partition of targets before batch `batch` produces into
** them (see the top): a new partition at its log end (known from deliveries, else asked), and
** for a new batch, `from` moved up when it fell REFRESH_OFFSETS behind. Writes the file only
** when it changes. */
sr_status kk_pending_cover(kk_sink *ks, int64_t batch, const rd_kafka_topic_partition_list_t *targets,
                               int replay, sr_error **err) {
  int64_t k = ks->pending_batch < 0 ? batch : ks->pending_batch, behind = 0;
  for (int i = 0; !replay && i < ks->pending_from->cnt; i++) {
    const rd_kafka_topic_partition_t *f = &ks->pending_from->elems[i];
    const rd_kafka_topic_partition_t *e = sr_kafka_tp_find(ks->known_ends, f->topic, f->partition);
    if (e && e->offset > f->offset) behind += e->offset - f->offset;
  }
  if (behind >= REFRESH_OFFSETS) {
    /* every batch before this one is committed: none of them needs `from` any more */
    for (int i = 0; i < ks->pending_from->cnt; i++) {
      rd_kafka_topic_partition_t *f = &ks->pending_from->elems[i];
      const rd_kafka_topic_partition_t *e = sr_kafka_tp_find(ks->known_ends, f->topic, f->partition);
      if (e && e->offset > f->offset) f->offset = e->offset;
    }
    k = batch;
  }
  int added = 0;
  rd_kafka_topic_partition_list_t *ask = rd_kafka_topic_partition_list_new(targets->cnt);
  for (int i = 0; i < targets->cnt; i++) {
    const rd_kafka_topic_partition_t *t = &targets->elems[i];
    if (sr_kafka_tp_find(ks->pending_from, t->topic, t->partition)) continue;
    const rd_kafka_topic_partition_t *e = sr_kafka_tp_find(ks->known_ends, t->topic, t->partition);
    if (e) sr_kafka_tp_set(ks->pending_from, t->topic, t->partition, e->offset);
    else rd_kafka_topic_partition_list_add(ask, t->topic, t->partition)->offset = RD_KAFKA_OFFSET_END;
    added++;
  }
  sr_status st = sr_kafka_list_offsets(ks->rk, ask, ks->timeout_ms, err);
  for (int i = 0; st == SR_OK && i < ask->cnt; i++)
    sr_kafka_tp_set(ks->pending_from, ask->elems[i].topic, ask->elems[i].partition, ask->elems[i].offset);
  rd_kafka_topic_partition_list_destroy(ask);
  if (st == SR_OK && (added > 0 || k != ks->pending_batch)) st = pending_write(ks, k, err);
  return st;
}
