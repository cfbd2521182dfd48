/*
** sr_state_parts: an operator's state split into partitions (see state_parts.h).
**
** Why the partition count is fixed for a checkpoint: a key's partition is its hash mod n, so
** another n would look for most keys in partitions that do not hold them. The engine records n
** in the offset log (ckpt.c, "conf") and refuses another (query.c), as Spark keeps
** spark.sql.shuffle.partitions from OffsetSeqMetadata.conf for a checkpoint.
*/
#include "state_parts.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

struct sr_state_parts {
  int n;
  sr_state_store *stores[];
};

static uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static uint32_t load_le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Murmur3_x86_32 as Austin Appleby published it (the tail is the standard one, not the
** per-byte variant of Spark's hashUnsafeBytes). */
uint32_t sr__murmur3_32(const void *key, size_t len, uint32_t seed) {
  const unsigned char *p = key;
  const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
  uint32_t h = seed;
  size_t nblocks = len / 4;
  for (size_t i = 0; i < nblocks; i++) {
    uint32_t k = load_le32(p + 4 * i) * c1;
    h ^= rotl32(k, 15) * c2;
    h = rotl32(h, 13) * 5 + 0xe6546b64u;
  }
  const unsigned char *tail = p + 4 * nblocks;
  uint32_t k = 0;
  switch (len & 3) {
    case 3: k ^= (uint32_t)tail[2] << 16; /* fall through */
    case 2: k ^= (uint32_t)tail[1] << 8;  /* fall through */
    case 1: k ^= tail[0]; h ^= rotl32(k * c1, 15) * c2;
  }
  h ^= (uint32_t)len;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

uint32_t sr_state_partition_of(const void *key, size_t klen, int n) {
  if (n <= 1) return 0;
  return sr__murmur3_32(key, klen, 42) % (uint32_t)n;
}

sr_state_parts *sr_state_parts_open(const char *op_dir, int n, int64_t version,
                                    const sr_state_options *o, sr_error **err) {
  if (n < 1 || n > SR_STATE_MAX_PARTITIONS) {
    sr_error_set(err, SR_ERROR, "internal: %d state partitions", n);
    return NULL;
  }
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/%d", op_dir, n);
  if (version > 0 && sr_fs_exists(dir)) {
    sr_error_set(err, SR_ERROR, "%s exists, but the checkpoint records %d state partition%s: the "
                 "state was written with more, or the checkpoint's files were mixed with another's",
                 dir, n, n == 1 ? "" : "s");
    return NULL;
  }
  sr_state_parts *ps = calloc(1, sizeof *ps + (size_t)n * sizeof ps->stores[0]);
  if (!ps) {
    sr_error_set(err, SR_ERROR, "out of memory");
    return NULL;
  }
  ps->n = n;
  for (int p = 0; p < n; p++) {
    snprintf(dir, sizeof dir, "%s/%d", op_dir, p);
    if (!(ps->stores[p] = sr_state_open(dir, version, o, err))) {
      if (*err && n > 1) sr_error_prefix(*err, "partition %d of %d", p, n);
      sr_state_parts_close(ps);
      return NULL;
    }
  }
  return ps;
}

void sr_state_parts_close(sr_state_parts *ps) {
  if (!ps) return;
  for (int p = 0; p < ps->n; p++) sr_state_close(ps->stores[p]);
  free(ps);
}

int sr_state_parts_count(const sr_state_parts *ps) { return ps->n; }

sr_state_store *sr_state_parts_at(const sr_state_parts *ps, int p) { return ps->stores[p]; }

sr_state_store *sr_state_parts_route(const sr_state_parts *ps, const void *key, size_t klen) {
  return ps->stores[sr_state_partition_of(key, klen, ps->n)];
}

/* One partition's commit, on a thread of its own. */
typedef struct commit_job {
  sr_state_store *st;
  sr_status rc;
  sr_error *err;
} commit_job;

static void *commit_main(void *arg) {
  commit_job *j = arg;
  j->rc = sr_state_commit(j->st, &j->err);
  return NULL;
}

/* The partitions commit at once, a thread each but the first (on the caller's): each commit
** ends in fsyncs, and concurrent fsyncs share the file system's journal commits, so n
** partitions cost far less than n commits in a row (on the machine this was measured on, one
** atomic write took 5 ms, 8 in a row 66 ms, 8 side by side 6 ms on a quiet disk). Stores are
** independent (state_store.h), so their commits may run side by side. */
sr_status sr_state_parts_commit(sr_state_parts *ps, sr_error **err) {
  if (ps->n == 1) return sr_state_commit(ps->stores[0], err);
  commit_job *jobs = calloc((size_t)ps->n, sizeof *jobs);
  pthread_t *threads = calloc((size_t)ps->n, sizeof *threads);
  char *started = calloc((size_t)ps->n, 1);
  if (!jobs || !threads || !started) {
    free(jobs);
    free(threads);
    free(started);
    return sr_error_set(err, SR_ERROR, "out of memory committing state partitions");
  }
  for (int p = 0; p < ps->n; p++) {
    jobs[p].st = ps->stores[p];
    /* a thread that cannot start: that partition commits on this thread below */
    if (p > 0) started[p] = pthread_create(&threads[p], NULL, commit_main, &jobs[p]) == 0;
  }
  for (int p = 0; p < ps->n; p++)
    if (!started[p]) commit_main(&jobs[p]);
  sr_status rc = SR_OK;
  for (int p = 0; p < ps->n; p++) {
    if (started[p]) pthread_join(threads[p], NULL);
    if (jobs[p].rc != SR_OK && rc == SR_OK) {
      rc = SR_ERROR;
      sr_error_prefix(jobs[p].err, "partition %d of %d", p, ps->n);
      sr_error_free(*err);
      *err = jobs[p].err;
      jobs[p].err = NULL;
    }
    sr_error_free(jobs[p].err);
  }
  free(jobs);
  free(threads);
  free(started);
  return rc;
}

void sr_state_parts_get_stats(const sr_state_parts *ps, sr_state_stats *out) {
  memset(out, 0, sizeof *out);
  for (int p = 0; p < ps->n; p++) {
    sr_state_stats s;
    sr_state_get_stats(ps->stores[p], &s);
    out->version = s.version;
    out->num_rows_total += s.num_rows_total;
    out->num_rows_updated += s.num_rows_updated;
    out->num_rows_removed += s.num_rows_removed;
    out->memory_used_bytes += s.memory_used_bytes;
    out->commit_time_ms += s.commit_time_ms;
  }
}
