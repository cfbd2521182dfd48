/*
** sr_state: versioned key/value state of one operator partition (see state_store.h): the API
** and a version's life (open, changes, abort, commit). The store is four files, one job each:
** this one; state_map.c, the in-memory table; state_file.c, the files' format, written down at
** its top, and reading them back; state_maint.c, the background snapshots and pruning. What
** they share is in state_internal.h.
**
** CRASH-SAFETY INVARIANTS
**
** 1. A file is only ever made visible under its final name by rename(2) of a fully written,
**    fsynced temp file, followed by an fsync of the directory (sr_fs_write_atomic; the
**    snapshot writer does the same while streaming). So a file under its final name is
**    complete; a crash leaves at most a stray *.tmp-* file, removed by the next writer.
** 2. Commit of version V+1 writes V+1.delta before the store reports V+1. The engine writes its
**    own commit log only after that, so every version the engine has committed has its delta
**    (or a snapshot at or after it) on disk.
** 3. The engine may crash after the store wrote V+1.delta (or later files) but before its own
**    commit log: a restart opens version V and ignores files above V. The first commit of the
**    reopened store removes them (snapshots above V would otherwise be taken as the newest
**    base later) before writing its own V+1.delta over the stale one.
** 4. A snapshot is an optimisation: it is built by a background thread from the files on disk
**    (never from the live map, which may hold uncommitted changes): the deltas since the
**    newest older snapshot are loaded into a small overlay map, and that snapshot streams
**    through it into the new file, written by invariant 1. A crash mid-snapshot leaves the
**    deltas that reach every version, so opening never depends on a snapshot being written.
** 5. Pruning runs after a snapshot S' is written for version W. Every version >= E =
**    W - min_versions_to_retain + 1 stays reachable: with S the newest snapshot <= E, only
**    deltas <= S and snapshots < S are removed. min_versions_to_retain is at least 2, so the
**    version before the newest (the engine's after a crash between the two commits) survives.
** 6. Only an open store's jobs touch its directory: close waits for them (sr_state_close), so
**    once the engine releases the checkpoint's lock no thread of this process writes or
**    removes a state file there, and the next store on the directory, in this process or
**    another, is the only writer.
*/
#include "state_internal.h"
#include "bytes.h"
#include "fsutil.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SNAPSHOT_INTERVAL 10
#define DEFAULT_MIN_RETAIN 100
#define STORE_MAGIC 0x53525354u /* a live store (assert_store_state) */

enum { UNDO_INSERTED = 1, UNDO_UPDATED = 2, UNDO_REMOVED = 3 };

/* ---- the store ----------------------------------------------------------------------------- */

/* The in-memory invariants (cheap ones) between operations, like SQLite's assert_pager_state:
** records since the last commit lie above heap_mark, garbage is part of the heap, every live
** key has an entry and the load stays under 3/4. */
static void assert_store_state(const sr_state_store *st) {
  const kvmap *m = &st->map;
  (void)m;
  assert(st->magic == STORE_MAGIC && st->version >= 0);
  assert(st->heap_mark <= m->heap_len && m->heap_len <= m->heap_cap);
  assert(st->garbage_mark <= m->garbage);
  assert(m->garbage <= m->heap_len);
  assert(m->n_live <= m->n_ents && m->n_ents <= m->ent_cap);
  assert(m->n_live == 0 || (uint64_t)m->n_live <= m->slot_cap / 4 * 3);
  assert(st->n_undo == 0 || (st->undo[st->n_undo - 1] >> 2) < m->heap_len);
}

sr_state_store *sr_state_open(const char *dir, int64_t version, const sr_state_options *o,
                              sr_error **err) {
  sr_state_store *st = NULL;
  if (version < 0) {
    sr_error_set(err, SR_ERROR, "state version %" PRId64 " is negative", version);
    goto fail;
  }
  if (sr_fs_mkdirs(dir, err) != SR_OK) goto fail;
  st = calloc(1, sizeof *st);
  if (!st || !(st->dir = strdup(dir))) {
    sr_error_set(err, SR_ERROR, "out of memory opening state store %s", dir);
    goto fail;
  }
  for (size_t n = strlen(st->dir); n > 1 && st->dir[n - 1] == '/'; n--) st->dir[n - 1] = '\0';
  sr__wait_jobs_for_dir(st->dir);
  st->magic = STORE_MAGIC;
  st->map.free_head = NO_ENT;
  st->snapshot_interval = o && o->snapshot_interval > 0 ? o->snapshot_interval : DEFAULT_SNAPSHOT_INTERVAL;
  st->min_retain = o && o->min_versions_to_retain > 0 ? o->min_versions_to_retain : DEFAULT_MIN_RETAIN;
  if (st->min_retain < 2) st->min_retain = 2; /* invariant 5 */
  if (sr__load_version(&st->map, st->dir, version, err) != SR_OK) goto fail;
  if (sr__map_wants_compaction(&st->map)) sr__map_compact(&st->map);
  st->version = version;
  st->heap_mark = st->map.heap_len;
  st->garbage_mark = st->map.garbage;
  assert_store_state(st);
  return st;
fail:
  sr_state_close(st);
  return NULL;
}

void sr_state_close(sr_state_store *st) {
  if (!st) return;
  sr__maint_finish(st);
  sr__map_free(&st->map);
  free(st->undo);
  free(st->dir);
  st->magic = 0;
  free(st);
}

int sr_state_get(sr_state_store *st, const void *key, size_t klen, const void **val, size_t *vlen) {
  uint64_t slot;
  int64_t idx = sr__map_find(&st->map, key, klen, sr_hash64(key, klen), &slot);
  if (idx < 0) return 0;
  const unsigned char *r = rec_at(&st->map, st->map.ents[idx] & ENT_OFF);
  *vlen = rec_u32(r, 1);
  *val = r + REC_HDR + rec_u32(r, 0);
  return 1;
}

static int undo_reserve(sr_state_store *st) {
  if (st->n_undo < st->undo_cap) return 0;
  size_t cap = st->undo_cap ? st->undo_cap * 2 : 256;
  uint64_t *u = realloc(st->undo, cap * sizeof *u);
  if (!u) return -1;
  st->undo = u;
  st->undo_cap = cap;
  return 0;
}

sr_status sr_state_put(sr_state_store *st, const void *key, size_t klen, const void *val,
                       size_t vlen, sr_error **err) {
  if (klen > SR_STATE_MAX_LEN || vlen > SR_STATE_MAX_LEN)
    return sr_error_set(err, SR_ERROR, "state key or value too large (%zu/%zu bytes, limit %zu)",
                        klen, vlen, SR_STATE_MAX_LEN);
  uint64_t old;
  int64_t idx = undo_reserve(st) == 0 ? sr__map_put(&st->map, key, klen, val, vlen, &old) : -1;
  if (idx < 0) return sr_error_set(err, SR_ERROR, "out of memory in state store %s", st->dir);
  uint64_t off = st->map.ents[idx];
  st->map.ents[idx] |= ENT_DIRTY;
  st->undo[st->n_undo++] = old == UINT64_MAX ? off << 2 | UNDO_INSERTED : old << 2 | UNDO_UPDATED;
  st->n_updated++;
  return SR_OK;
}

int sr_state_remove(sr_state_store *st, const void *key, size_t klen, sr_error **err) {
  if (undo_reserve(st) != 0) {
    sr_error_set(err, SR_ERROR, "out of memory in state store %s", st->dir);
    return -1;
  }
  uint64_t old;
  if (!sr__map_del(&st->map, key, klen, &old)) return 0;
  st->undo[st->n_undo++] = old << 2 | UNDO_REMOVED;
  st->n_removed++;
  return 1;
}

void sr_state_abort(sr_state_store *st) {
  kvmap *m = &st->map;
  for (size_t i = st->n_undo; i-- > 0;) {
    uint64_t off = st->undo[i] >> 2, slot, ignored;
    const unsigned char *r = rec_at(m, off);
    const void *key = r + REC_HDR;
    uint32_t klen = rec_u32(r, 0);
    uint64_t h = sr_hash64(key, klen);
    int64_t idx = sr__map_find(m, key, klen, h, &slot);
    switch (st->undo[i] & 3) {
      case UNDO_INSERTED:
        assert(idx >= 0);
        sr__map_del(m, key, klen, &ignored);
        break;
      case UNDO_UPDATED:
        assert(idx >= 0);
        m->ents[idx] = off;
        break;
      default:
        /* Re-linking never grows: the map held this many keys before the remove. */
        assert(idx < 0 && m->n_live < m->n_ents && (uint64_t)m->n_live + 1 <= m->slot_cap / 4 * 3);
        sr__map_link(m, slot, h, off);
        break;
    }
  }
  m->heap_len = st->heap_mark; /* records appended since the commit are unreferenced now */
  m->garbage = st->garbage_mark;
  st->n_undo = 0;
  st->n_updated = st->n_removed = 0;
  assert_store_state(st);
}

/* Appends the delta records of the version's changes; clears their dirty marks. */
static int delta_records(sr_state_store *st, sr_buf *b, uint64_t *count) {
  kvmap *m = &st->map;
  for (size_t i = 0; i < st->n_undo; i++) {
    const unsigned char *r = rec_at(m, st->undo[i] >> 2);
    uint32_t klen = rec_u32(r, 0);
    uint64_t slot;
    int64_t idx = sr__map_find(m, r + REC_HDR, klen, sr_hash64(r + REC_HDR, klen), &slot);
    if (idx >= 0 && !(m->ents[idx] & ENT_DIRTY)) continue; /* written already */
    if (idx >= 0) {
      m->ents[idx] &= ~ENT_DIRTY;
      const unsigned char *cur = rec_at(m, m->ents[idx]);
      uint32_t vlen = rec_u32(cur, 1);
      if (sr_buf_putc(b, OP_PUT) || sr_varint_put(b, klen) || sr_varint_put(b, vlen) ||
          sr_buf_append(b, cur + REC_HDR, (size_t)klen + vlen))
        return -1;
    } else if (sr_buf_putc(b, OP_REMOVE) || sr_varint_put(b, klen) ||
               sr_buf_append(b, r + REC_HDR, klen)) {
      return -1;
    }
    (*count)++;
  }
  return 0;
}

/* Invariant 3: before the first write, forget what a crashed run left above our version. */
static sr_status remove_stale(sr_state_store *st, sr_error **err) {
  dir_files f;
  if (sr__dir_list(st->dir, &f, 1, err) != SR_OK) return SR_ERROR;
  for (int which = 0; which < 2; which++) {
    for (size_t i = 0; i < f.n[which]; i++) {
      if (f.v[which][i] <= st->version) continue;
      char path[4200];
      sr__file_name(path, sizeof path, st->dir, f.v[which][i],
                    which == 0 ? KIND_DELTA : KIND_SNAPSHOT);
      if (unlink(path) != 0 && errno != ENOENT) {
        sr_error_set(err, SR_ERROR, "cannot remove stale state file %s: %s", path, strerror(errno));
        sr__dir_files_free(&f);
        return SR_ERROR;
      }
    }
  }
  sr__dir_files_free(&f);
  return sr_fs_sync_dir(st->dir, err);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

sr_status sr_state_commit(sr_state_store *st, sr_error **err) {
  int64_t t0 = now_ms();
  sr_buf b = SR_BUF_INIT;
  uint64_t count = 0;
  unsigned char hdr[FILE_HDR];
  char path[4200];
  sr_status rc = SR_ERROR;
  if (!st->wrote_since_open && remove_stale(st, err) != SR_OK) goto done;
  st->wrote_since_open = 1;
  if (sr_buf_append(&b, hdr, sizeof hdr) != 0 || delta_records(st, &b, &count) != 0) {
    sr_error_set(err, SR_ERROR, "out of memory writing a state delta in %s", st->dir);
    goto done;
  }
  sr__file_header((unsigned char *)b.data, KIND_DELTA, st->version + 1, count);
  uint32_t crc = sr__crc_of(0, b.data, b.len);
  unsigned char t[4];
  sr_store_le32(t, crc);
  if (sr_buf_append(&b, t, 4) != 0) {
    sr_error_set(err, SR_ERROR, "out of memory writing a state delta in %s", st->dir);
    goto done;
  }
  sr__file_name(path, sizeof path, st->dir, st->version + 1, KIND_DELTA);
  if (sr_fs_write_atomic(path, b.data, b.len, err) != SR_OK) goto done;
  rc = SR_OK;
  st->version++;
  st->n_undo = 0;
  if (st->undo_cap > 65536) { /* one huge version should not pin its undo log */
    free(st->undo);
    st->undo = NULL;
    st->undo_cap = 0;
  }
  st->n_updated = st->n_removed = 0;
  if (sr__map_wants_compaction(&st->map)) sr__map_compact(&st->map);
  st->heap_mark = st->map.heap_len;
  st->garbage_mark = st->map.garbage;
  st->commit_ms = now_ms() - t0;
  if (st->version % st->snapshot_interval == 0) sr__queue_snapshot(st);
  assert_store_state(st);
done:
  if (rc != SR_OK) {
    /* The changes stay pending: mark every live changed key dirty again. */
    for (size_t i = 0; i < st->n_undo; i++) {
      const unsigned char *r = rec_at(&st->map, st->undo[i] >> 2);
      uint64_t slot;
      int64_t idx = sr__map_find(&st->map, r + REC_HDR, rec_u32(r, 0),
                             sr_hash64(r + REC_HDR, rec_u32(r, 0)), &slot);
      if (idx >= 0) st->map.ents[idx] |= ENT_DIRTY;
    }
  }
  sr_buf_free(&b);
  return rc;
}

int64_t sr_state_version(const sr_state_store *st) { return st->version; }

void sr_state_get_stats(const sr_state_store *st, sr_state_stats *out) {
  out->version = st->version;
  out->num_rows_total = st->map.n_live;
  out->num_rows_updated = st->n_updated;
  out->num_rows_removed = st->n_removed;
  out->memory_used_bytes =
      (int64_t)(sizeof *st + sr__map_bytes(&st->map) + st->undo_cap * sizeof(uint64_t));
  out->commit_time_ms = st->commit_ms;
}

void sr_state_iter_init(sr_state_store *st, sr_state_iter *it) {
  it->st = st;
  it->next = 0;
}

int sr_state_iter_next(sr_state_iter *it, const void **key, size_t *klen, const void **val,
                       size_t *vlen) {
  const kvmap *m = &it->st->map;
  while (it->next < m->n_ents) {
    uint64_t e = m->ents[it->next++];
    if (e & ENT_FREE) continue;
    const unsigned char *r = rec_at(m, e & ENT_OFF);
    *klen = rec_u32(r, 0);
    *vlen = rec_u32(r, 1);
    *key = r + REC_HDR;
    *val = r + REC_HDR + *klen;
    return 1;
  }
  return 0;
}
