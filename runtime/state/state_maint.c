/*
** The background maintenance of state stores (see state_internal.h): one process-wide thread
** builds snapshots from the files on disk and prunes the files no retained version needs
** (invariants 4 and 5 at the top of state_store.c).
*/
#include "state_internal.h"
#include "bytes.h"
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static sr_status write_all(int fd, const void *data, size_t n, const char *path, sr_error **err) {
  const char *p = data;
  while (n > 0) {
    ssize_t k = write(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return sr_error_set(err, SR_ERROR, "cannot write %s: %s", path, strerror(errno));
    p += k;
    n -= (size_t)k;
  }
  return SR_OK;
}

/* Streams a snapshot's records to its temp file 1 MB at a time, with their CRC. */
typedef struct snap_writer {
  int fd;
  char tmp[4300];
  sr_buf b;
  uint32_t crc;
  uint64_t body_len, count;
} snap_writer;

static sr_status sw_flush(snap_writer *w, sr_error **err) {
  w->crc = sr__crc_of(w->crc, w->b.data, w->b.len);
  w->body_len += w->b.len;
  sr_status rc = write_all(w->fd, w->b.data, w->b.len, w->tmp, err);
  sr_buf_clear(&w->b);
  return rc;
}

/* Appends one record: raw bytes (raw != NULL), or a put of key/val. */
static sr_status sw_record(snap_writer *w, const rec_view *raw, const void *key, uint32_t klen,
                           const void *val, uint32_t vlen, sr_error **err) {
  int bad = raw ? sr_buf_append(&w->b, raw->start, (size_t)(raw->end - raw->start))
                : sr_buf_putc(&w->b, OP_PUT) || sr_varint_put(&w->b, klen) ||
                      sr_varint_put(&w->b, vlen) || sr_buf_append(&w->b, key, klen) ||
                      (vlen && sr_buf_append(&w->b, val, vlen));
  if (bad) return sr_error_set(err, SR_ERROR, "out of memory writing %s", w->tmp);
  w->count++;
  return w->b.len >= (1u << 20) ? sw_flush(w, err) : SR_OK;
}

/* Writes <version>.snapshot by invariants 1 and 4: the deltas since the newest older snapshot
** go into an overlay map (each key's last op), then the older snapshot streams through it.
** Memory is proportional to the keys changed since that snapshot, not to the state. */
static sr_status sr__snapshot_build(const char *dir, int64_t version, sr_error **err) {
  dir_files files;
  if (sr__dir_list(dir, &files, 0, err) != SR_OK) return SR_ERROR;
  int64_t base = sr__newest_snapshot(&files, version - 1);
  sr__dir_files_free(&files);
  kvmap ov = {0};
  ov.free_head = NO_ENT;
  sr_buf scratch = SR_BUF_INIT;
  state_file prev = {0};
  snap_writer w = {-1, "", SR_BUF_INIT, 0, 0, 0};
  char path[4200];
  unsigned char hdr[FILE_HDR] = {0};
  int missing, more = 0;
  sr_status rc = SR_ERROR;
  for (int64_t v = base + 1; v <= version; v++)
    if (sr__file_load(&ov, dir, v, KIND_DELTA, &scratch, err) != SR_OK) goto done;
  if (base > 0 && sr__file_map(&prev, dir, base, KIND_SNAPSHOT, &missing, err) != SR_OK) goto done;
  sr__file_name(path, sizeof path, dir, version, KIND_SNAPSHOT);
  snprintf(w.tmp, sizeof w.tmp, "%s.tmp-%ld", path, (long)getpid());
  w.fd = open(w.tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w.fd < 0) {
    sr_error_set(err, SR_ERROR, "cannot create %s: %s", w.tmp, strerror(errno));
    goto done;
  }
  if (write_all(w.fd, hdr, sizeof hdr, w.tmp, err) != SR_OK) goto done; /* rewritten below */
  const unsigned char *p = prev.map ? prev.map + FILE_HDR : NULL;
  rec_view r;
  uint64_t slot;
  while (prev.map && (more = sr__file_next(&prev, &p, &r)) == 1) {
    if (sr__map_find(&ov, r.key, r.klen, sr_hash64(r.key, r.klen), &slot) >= 0) continue;
    if (sw_record(&w, &r, NULL, 0, NULL, 0, err) != SR_OK) goto done;
  }
  if (more < 0) {
    sr_error_set(err, SR_ERROR, "state file %s has a malformed record", prev.path);
    goto done;
  }
  for (uint32_t i = 0; i < ov.n_ents; i++) {
    if (ov.ents[i] & ENT_FREE) continue;
    const unsigned char *rec = rec_at(&ov, ov.ents[i] & ENT_OFF);
    uint32_t klen = rec_u32(rec, 0), vlen = rec_u32(rec, 1);
    const unsigned char *val = rec + REC_HDR + klen;
    if (val[0] == OP_PUT &&
        sw_record(&w, NULL, rec + REC_HDR, klen, val + 1, vlen - 1, err) != SR_OK)
      goto done;
  }
  if (sw_flush(&w, err) != SR_OK) goto done;
  sr__file_header(hdr, KIND_SNAPSHOT, version, w.count);
  uint32_t crc =
      (uint32_t)crc32_combine(sr__crc_of(0, hdr, sizeof hdr), w.crc, (z_off_t)w.body_len);
  unsigned char trailer[4];
  sr_store_le32(trailer, crc);
  if (write_all(w.fd, trailer, 4, w.tmp, err) != SR_OK) goto done;
  if (pwrite(w.fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr || fsync(w.fd) != 0) {
    sr_error_set(err, SR_ERROR, "cannot write %s: %s", w.tmp, strerror(errno));
    goto done;
  }
  int closed = close(w.fd);
  w.fd = -1;
  if (closed != 0 || rename(w.tmp, path) != 0) {
    sr_error_set(err, SR_ERROR, "cannot write %s: %s", path, strerror(errno));
    goto done;
  }
  rc = sr_fs_sync_dir(dir, err);
done:
  if (w.fd >= 0) close(w.fd);
  if (rc != SR_OK && w.tmp[0]) unlink(w.tmp);
  sr_buf_free(&w.b);
  sr_buf_free(&scratch);
  sr__file_unmap(&prev);
  sr__map_free(&ov);
  return rc;
}

/* Removes files no version >= newest - retain + 1 needs (invariant 5). */
static sr_status sr__prune(const char *dir, int64_t newest, int64_t retain, sr_error **err) {
  dir_files f;
  if (sr__dir_list(dir, &f, 0, err) != SR_OK) return SR_ERROR;
  int64_t base = sr__newest_snapshot(&f, newest - retain + 1);
  int removed = 0;
  for (int which = 0; base > 0 && which < 2; which++) {
    for (size_t i = 0; i < f.n[which]; i++) {
      int64_t v = f.v[which][i];
      if (which == 0 ? v > base : v >= base) break;
      char path[4200];
      sr__file_name(path, sizeof path, dir, v, which == 0 ? KIND_DELTA : KIND_SNAPSHOT);
      removed |= unlink(path) == 0;
    }
  }
  sr__dir_files_free(&f);
  return removed ? sr_fs_sync_dir(dir, err) : SR_OK;
}

/* A job reports to its store, which close keeps open until its jobs are done (invariant 6). */
typedef struct maint_job {
  struct maint_job *next;
  sr_state_store *st;
  char *dir;
  int64_t version, retain;
} maint_job;

/* One process-wide worker serves every store, so many partitions cost one thread, and one
** snapshot is built at a time (its memory is a second copy of one partition's state). */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_work = PTHREAD_COND_INITIALIZER, g_done = PTHREAD_COND_INITIALIZER;
static maint_job *g_head, *g_tail, *g_running;
static int g_started;

static sr_status run_job(const maint_job *j, sr_error **err) {
  char path[4200];
  sr__file_name(path, sizeof path, j->dir, j->version, KIND_SNAPSHOT);
  if (!sr_fs_exists(path) && sr__snapshot_build(j->dir, j->version, err) != SR_OK) return SR_ERROR;
  return sr__prune(j->dir, j->version, j->retain, err);
}

/* Runs j (the caller made it g_running) and reports to its store. */
static void job_run_and_finish(maint_job *j) {
  sr_error *e = NULL;
  if (run_job(j, &e) != SR_OK) sr_error_prefix(e, "background snapshot of %s", j->dir);
  pthread_mutex_lock(&g_mu);
  if (e && !j->st->bg_error) {
    j->st->bg_error = e;
    e = NULL;
  }
  j->st->pending--;
  g_running = NULL;
  pthread_cond_broadcast(&g_done);
  pthread_mutex_unlock(&g_mu);
  sr_error_free(e); /* a second failure: the first one is reported */
  free(j->dir);
  free(j);
}

static void *worker_main(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&g_mu);
    while (!g_head) pthread_cond_wait(&g_work, &g_mu);
    maint_job *j = g_head;
    g_head = j->next;
    if (!g_head) g_tail = NULL;
    g_running = j;
    pthread_mutex_unlock(&g_mu);
    job_run_and_finish(j);
  }
  return NULL;
}

/* Queues a snapshot of the store's version; without a thread, builds it now. */
void sr__queue_snapshot(sr_state_store *st) {
  maint_job *j = calloc(1, sizeof *j);
  char *dir = strdup(st->dir);
  if (!j || !dir) {
    free(j);
    free(dir);
    return; /* a skipped snapshot only costs replaying more deltas */
  }
  *j = (maint_job){NULL, st, dir, st->version, st->min_retain};
  pthread_mutex_lock(&g_mu);
  if (!g_started) {
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    g_started = pthread_create(&t, &a, worker_main, NULL) == 0;
    pthread_attr_destroy(&a);
  }
  st->pending++;
  if (g_started) {
    if (g_tail) g_tail->next = j;
    else g_head = j;
    g_tail = j;
    pthread_cond_signal(&g_work);
    pthread_mutex_unlock(&g_mu);
    return;
  }
  while (g_running) pthread_cond_wait(&g_done, &g_mu);
  g_running = j;
  pthread_mutex_unlock(&g_mu);
  job_run_and_finish(j);
}

/* Waits until no job for dir is queued or running. Every closed store's jobs are done
** (invariant 6), but another store may be open on dir: a view of a running query's state
** (state_view.c, from streamrun test) must not list the files while that query's job prunes. */
void sr__wait_jobs_for_dir(const char *dir) {
  pthread_mutex_lock(&g_mu);
  for (;;) {
    int busy = g_running && strcmp(g_running->dir, dir) == 0;
    for (maint_job *j = g_head; j && !busy; j = j->next) busy = strcmp(j->dir, dir) == 0;
    if (!busy) break;
    pthread_cond_wait(&g_done, &g_mu);
  }
  pthread_mutex_unlock(&g_mu);
}

/* Close waits for the store's snapshot jobs (invariant 6). A job that outlived its store raced
** the next writer of the directory: the engine releases the checkpoint's lock right after
** closing its stores, and a restart opening the store at V removes V+1.* at its first commit
** (invariant 3) and writes its own V+1.delta; the old process's job for V+1 could fail on the
** removed delta, or rename its V+1.snapshot (built from the rolled-back delta) in after the
** removal. The new run's job then kept that file (it exists), and later opens and pruning
** used it as the base: state the engine never committed, or deltas pruned under it. A clean
** exit right after close also killed a running job, so no snapshot was left at all. */
void sr__maint_finish(sr_state_store *st) {
  sr_error *ignored = NULL;
  sr_state_wait_maintenance(st, &ignored); /* a failed snapshot: the deltas are still there */
  sr_error_free(ignored);
}

sr_status sr_state_wait_maintenance(sr_state_store *st, sr_error **err) {
  pthread_mutex_lock(&g_mu);
  while (st->pending > 0) pthread_cond_wait(&g_done, &g_mu);
  sr_error *e = st->bg_error;
  st->bg_error = NULL;
  pthread_mutex_unlock(&g_mu);
  if (!e) return SR_OK;
  sr_status s = sr_error_set(err, SR_ERROR, "%s", e->message);
  sr_error_free(e);
  return s;
}
