/*
** The Kafka source's consumer across batches: the partitions it is assigned, and the
** messages it fetched past a batch's end, kept in each partition's stash for the next batch
** (the top of source_kafka.c).
*/
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_source.h"

/* ---- partitions and their stashes ----------------------------------------------------- */

static void part_clear_stash(ks_part *p) {
  for (int i = p->stash_head; i < p->stash_len; i++) rd_kafka_message_destroy(p->stash[i]);
  p->stash_head = p->stash_len = 0;
  p->stash_bytes = 0;
}

void ks_parts_free(ks_source *ks) {
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

ks_part *ks_part_find(ks_source *ks, const char *topic, int32_t partition) {
  for (int i = 0; i < ks->nparts; i++)
    if (ks->parts[i].partition == partition && strcmp(ks->parts[i].topic, topic) == 0)
      return &ks->parts[i];
  return NULL;
}

/* The part a message belongs to; pointer compare first (librdkafka has one handle per topic). */
ks_part *ks_part_of(ks_source *ks, const rd_kafka_message_t *m, ks_part **cache) {
  if (*cache && (*cache)->rkt == m->rkt && (*cache)->partition == m->partition) return *cache;
  for (int i = 0; i < ks->nparts; i++)
    if (ks->parts[i].rkt == m->rkt && ks->parts[i].partition == m->partition)
      return *cache = &ks->parts[i];
  ks_part *p = ks_part_find(ks, rd_kafka_topic_name(m->rkt), m->partition);
  if (p) p->rkt = m->rkt;
  return *cache = p;
}

int ks_stash_push(ks_part *p, rd_kafka_message_t *m) {
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

void ks_pause_part(ks_source *ks, ks_part *p, int pause) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
  if (pause) rd_kafka_pause_partitions(ks->rk, l);
  else rd_kafka_resume_partitions(ks->rk, l);
  rd_kafka_topic_partition_list_destroy(l);
  p->paused = pause;
}

/* Moves what the consumer queue holds into the partitions' stashes, without waiting.
** Returns 0, or -1 when the queue held an error (then the assignment is invalid: a full plan
** and the read's slow path look into it). */
int ks_stash_fetched(ks_source *ks) {
  rd_kafka_message_t *polled[256];
  ks_part *cache = NULL;
  int failed = 0;
  for (ssize_t got; (got = rd_kafka_consume_batch_queue(ks->queue, 0, polled, 256)) > 0;) {
    for (ssize_t k = 0; k < got; k++) {
      rd_kafka_message_t *m = polled[k];
      ks_part *p = m->rkt ? ks_part_of(ks, m, &cache) : NULL;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (p && p->stash_len == p->stash_head && m->offset > p->next) p->next = m->offset;
      } else if (m->err) {
        failed = 1;
      } else if (p && m->offset >= p->next) {
        if (ks_stash_push(p, m) != 0) failed = 1;
        else {
          if (p->stash_bytes > STASH_MAX_BYTES && !p->paused) ks_pause_part(ks, p, 1);
          continue; /* the stash owns it */
        }
      }
      rd_kafka_message_destroy(m);
    }
  }
  if (failed) ks->assignment_valid = 0;
  return failed ? -1 : 0;
}
