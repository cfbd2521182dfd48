/*
** sr_state: versioned key/value state of one operator partition (see state_store.h).
**
** ON-DISK FORMAT
**
** The store's directory holds only these files (V is a decimal version, no leading zeros):
**
**   V.delta       the keys version V changed: the state of V = the state of V-1 + this file
**   V.snapshot    the whole state of version V
**   *.tmp-PID     a file being written (by sr_fs_write_atomic or the snapshot writer)
**
** Both kinds share one layout, all integers little-endian:
**
**   offset 0   4 bytes  magic "SRST"
**          4   1 byte   format version (1)
**          5   1 byte   kind: 'D' delta, 'S' snapshot
**          6   2 bytes  zero
**          8   8 bytes  the version V (must match the file name)
**         16   8 bytes  number of records
**         24   records, each: op (1 put, 2 remove), varint key length, for a put a varint
**                      value length, the key bytes, for a put the value bytes
**    size-4    4 bytes  CRC-32 (zlib) of every byte before it
**
** A snapshot holds only puts. Within a delta a key may appear more than once (removed, then
** put again); records apply in order. A reader verifies the magic, format version, kind,
** version, CRC, record count and that the records end exactly at the CRC, so a torn, truncated
** or misnamed file is refused with an error naming it, never loaded.
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
**
** IN MEMORY
**
** The state is an open-addressing (linear probing, backward-shift deletion) table of 8-byte
** slots over an array of 8-byte entries; an entry is the offset of its record in one growable
** byte heap (record: u32 key length, u32 value length, key, value). A put appends a new record;
** the old one becomes garbage, reclaimed by compaction at commit. A slot holds the upper 32
** bits of the key's hash (which also give its home slot, so growing never rereads keys) and
** the entry index. Every put/remove of a version appends an undo word (kind + record offset) so
** abort restores the previous version without disk, and commit finds the changed keys from it.
*/
#include "state_store.h"
#include "buf.h"
#include "bytes.h"
#include "fsutil.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define FILE_MAGIC "SRST"
#define FILE_FORMAT 1
#define FILE_HDR 24
#define FILE_MIN (FILE_HDR + 4)
#define KIND_DELTA 'D'
#define KIND_SNAPSHOT 'S'
#define OP_PUT 1
#define OP_REMOVE 2

#define DEFAULT_SNAPSHOT_INTERVAL 10
#define DEFAULT_MIN_RETAIN 100
#define STORE_MAGIC 0x53525354u /* a live store (assert_store_state) */

#define ENT_FREE (UINT64_C(1) << 63)
#define ENT_DIRTY (UINT64_C(1) << 62)
#define ENT_OFF ((UINT64_C(1) << 62) - 1)
#define NO_ENT UINT32_MAX
#define REC_HDR 8

enum { UNDO_INSERTED = 1, UNDO_UPDATED = 2, UNDO_REMOVED = 3 };

/* ---- the hash table ---------------------------------------------------------------------- */

typedef struct kvmap {
  uint64_t *slots;   /* 0 empty, else (hash >> 32) << 32 | (entry index + 1) */
  uint64_t slot_cap; /* a power of two */
  uint64_t *ents;    /* record offset | ENT_DIRTY, or ENT_FREE | next free index */
  uint32_t n_ents, ent_cap, free_head, n_live;
  char *heap;
  uint64_t heap_len, heap_cap, garbage;
} kvmap;

static uint64_t home_of(uint64_t tag, uint64_t cap) { return (tag * cap) >> 32; }

static const unsigned char *rec_at(const kvmap *m, uint64_t off) {
  return (const unsigned char *)m->heap + off;
}
static uint32_t rec_u32(const unsigned char *r, int i) {
  uint32_t v;
  memcpy(&v, r + 4 * i, 4);
  return v;
}
static uint64_t rec_size(const kvmap *m, uint64_t off) {
  const unsigned char *r = rec_at(m, off);
  return REC_HDR + (uint64_t)rec_u32(r, 0) + rec_u32(r, 1);
}

static void sr__map_free(kvmap *m) {
  free(m->slots);
  free(m->ents);
  free(m->heap);
  memset(m, 0, sizeof *m);
}

static size_t sr__map_bytes(const kvmap *m) {
  return (size_t)m->slot_cap * 8 + (size_t)m->ent_cap * 8 + (size_t)m->heap_cap;
}

/* Grows the slot array so that n live keys stay under a 3/4 load. 0, or -1 out of memory. */
static int sr__map_reserve_slots(kvmap *m, uint64_t n) {
  if (n <= m->slot_cap / 4 * 3 && m->slot_cap) return 0;
  uint64_t cap = m->slot_cap ? m->slot_cap : 16;
  while (n > cap / 4 * 3) cap *= 2;
  if (cap > (UINT64_C(1) << 32)) return -1;
  uint64_t *slots = calloc(cap, sizeof *slots);
  if (!slots) return -1;
  for (uint64_t i = 0; i < m->slot_cap; i++) {
    uint64_t s = m->slots[i];
    if (!s) continue;
    uint64_t j = home_of(s >> 32, cap);
    while (slots[j]) j = (j + 1) & (cap - 1);
    slots[j] = s;
  }
  free(m->slots);
  m->slots = slots;
  m->slot_cap = cap;
  return 0;
}

static int map_reserve_ent(kvmap *m) {
  if (m->free_head != NO_ENT || m->n_ents < m->ent_cap) return 0;
  if (m->ent_cap == NO_ENT - 1) return -1;
  uint64_t cap = m->ent_cap ? (uint64_t)m->ent_cap + m->ent_cap / 2 : 64;
  if (cap >= NO_ENT) cap = NO_ENT - 1;
  uint64_t *e = realloc(m->ents, cap * sizeof *e);
  if (!e) return -1;
  m->ents = e;
  m->ent_cap = (uint32_t)cap;
  return 0;
}

static int sr__map_reserve_heap(kvmap *m, uint64_t extra) {
  if (m->heap_len + extra <= m->heap_cap) return 0;
  uint64_t cap = m->heap_cap ? m->heap_cap + m->heap_cap / 2 : 4096;
  while (cap < m->heap_len + extra) cap += cap / 2;
  if (cap > ENT_OFF) return -1;
  char *h = realloc(m->heap, cap);
  if (!h) return -1;
  m->heap = h;
  m->heap_cap = cap;
  return 0;
}

/* Finds key. Returns its entry index and its slot in *slot, or -1 with *slot the empty slot
** where it would go. */
static int64_t sr__map_find(const kvmap *m, const void *key, size_t klen, uint64_t h, uint64_t *slot) {
  uint64_t tag = h >> 32, mask = m->slot_cap - 1;
  if (!m->slot_cap) { *slot = 0; return -1; }
  for (uint64_t i = home_of(tag, m->slot_cap);; i = (i + 1) & mask) {
    uint64_t s = m->slots[i];
    if (!s) { *slot = i; return -1; }
    if ((s >> 32) != tag) continue;
    uint32_t idx = (uint32_t)s - 1;
    const unsigned char *r = rec_at(m, m->ents[idx] & ENT_OFF);
    if (rec_u32(r, 0) == klen && memcmp(r + REC_HDR, key, klen) == 0) {
      *slot = i;
      return idx;
    }
  }
}

/* Empties slot i, shifting back later keys of its cluster that may live there. */
static void map_slot_delete(kvmap *m, uint64_t i) {
  uint64_t mask = m->slot_cap - 1;
  for (uint64_t j = (i + 1) & mask; m->slots[j]; j = (j + 1) & mask) {
    uint64_t h = home_of(m->slots[j] >> 32, m->slot_cap);
    int stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
    if (!stays) {
      m->slots[i] = m->slots[j];
      i = j;
    }
  }
  m->slots[i] = 0;
}

static uint64_t map_append_rec(kvmap *m, const void *key, uint32_t klen, const void *val,
                               uint32_t vlen) {
  uint64_t off = m->heap_len;
  char *p = m->heap + off;
  memcpy(p, &klen, 4);
  memcpy(p + 4, &vlen, 4);
  memcpy(p + REC_HDR, key, klen);
  if (vlen) memcpy(p + REC_HDR + klen, val, vlen);
  m->heap_len += REC_HDR + (uint64_t)klen + vlen;
  return off;
}

/* Links a record already in the heap under a new entry at the empty slot `slot`. The caller
** reserved the slot load and an entry. */
static uint32_t sr__map_link(kvmap *m, uint64_t slot, uint64_t h, uint64_t off) {
  uint32_t idx;
  if (m->free_head != NO_ENT) {
    idx = m->free_head;
    m->free_head = (uint32_t)(m->ents[idx] & ~ENT_FREE);
  } else {
    idx = m->n_ents++;
  }
  m->ents[idx] = off;
  m->slots[slot] = (h >> 32) << 32 | ((uint64_t)idx + 1);
  m->n_live++;
  return idx;
}

/* Inserts or replaces. Returns the entry index, or -1 when out of memory (map unchanged).
** *old_off is the replaced record's offset, or UINT64_MAX for a new key. */
static int64_t sr__map_put(kvmap *m, const void *key, size_t klen, const void *val, size_t vlen,
                       uint64_t *old_off) {
  uint64_t h = sr_hash64(key, klen), slot;
  if (sr__map_reserve_slots(m, (uint64_t)m->n_live + 1) != 0 || map_reserve_ent(m) != 0 ||
      sr__map_reserve_heap(m, REC_HDR + (uint64_t)klen + vlen) != 0)
    return -1;
  int64_t idx = sr__map_find(m, key, klen, h, &slot);
  uint64_t off = map_append_rec(m, key, (uint32_t)klen, val, (uint32_t)vlen);
  if (idx < 0) {
    *old_off = UINT64_MAX;
    return sr__map_link(m, slot, h, off);
  }
  *old_off = m->ents[idx] & ENT_OFF;
  m->garbage += rec_size(m, *old_off);
  m->ents[idx] = off;
  return idx;
}

/* Removes key. Returns 1 with the record's offset in *old_off, or 0 when absent. */
static int sr__map_del(kvmap *m, const void *key, size_t klen, uint64_t *old_off) {
  uint64_t slot;
  int64_t idx = sr__map_find(m, key, klen, sr_hash64(key, klen), &slot);
  if (idx < 0) return 0;
  *old_off = m->ents[idx] & ENT_OFF;
  m->garbage += rec_size(m, *old_off);
  m->ents[idx] = ENT_FREE | m->free_head;
  m->free_head = (uint32_t)idx;
  m->n_live--;
  map_slot_delete(m, slot);
  return 1;
}

/* Rewrites the heap with only live records. Best effort: kept as is when out of memory. */
static void sr__map_compact(kvmap *m) {
  uint64_t live = m->heap_len - m->garbage;
  uint64_t cap = live + live / 8 + 4096;
  char *heap = malloc(cap);
  if (!heap) return;
  uint64_t len = 0;
  for (uint32_t i = 0; i < m->n_ents; i++) {
    if (m->ents[i] & ENT_FREE) continue;
    uint64_t off = m->ents[i] & ENT_OFF, n = rec_size(m, off);
    memcpy(heap + len, m->heap + off, n);
    m->ents[i] = len | (m->ents[i] & ENT_DIRTY);
    len += n;
  }
  free(m->heap);
  m->heap = heap;
  m->heap_len = len;
  m->heap_cap = cap;
  m->garbage = 0;
}

static int sr__map_wants_compaction(const kvmap *m) {
  return m->garbage > 65536 && m->garbage > m->heap_len / 2;
}

/* ---- files ------------------------------------------------------------------------------- */

static void sr__file_header(unsigned char *h, int kind, int64_t version, uint64_t count) {
  memcpy(h, FILE_MAGIC, 4);
  h[4] = FILE_FORMAT;
  h[5] = (unsigned char)kind;
  h[6] = h[7] = 0;
  sr_store_le64(h + 8, (uint64_t)version);
  sr_store_le64(h + 16, count);
}

static uint32_t sr__crc_of(uint32_t crc, const void *p, size_t n) {
  const Bytef *b = p;
  while (n > 0) {
    uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
    crc = (uint32_t)crc32(crc, b, chunk);
    b += chunk;
    n -= chunk;
  }
  return crc;
}

static void sr__file_name(char *out, size_t size, const char *dir, int64_t version, int kind) {
  snprintf(out, size, "%s/%" PRId64 ".%s", dir, version, kind == KIND_DELTA ? "delta" : "snapshot");
}

/* ---- directory listing --------------------------------------------------------------------- */

typedef struct dir_files {
  int64_t *v[2]; /* [0] deltas, [1] snapshots, ascending */
  size_t n[2], cap[2];
} dir_files;

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static void sr__dir_files_free(dir_files *f) {
  free(f->v[0]);
  free(f->v[1]);
}

/* Lists dir's delta and snapshot versions; with remove_temps, also deletes stray temp files. */
static sr_status sr__dir_list(const char *dir, dir_files *f, int remove_temps, sr_error **err) {
  memset(f, 0, sizeof *f);
  DIR *d = opendir(dir);
  if (!d) return sr_error_set(err, SR_ERROR, "cannot list state directory %s: %s", dir, strerror(errno));
  struct dirent *de;
  while ((de = readdir(d))) {
    const char *s = de->d_name;
    if (remove_temps && strstr(s, ".tmp-")) {
      char path[4200];
      snprintf(path, sizeof path, "%s/%s", dir, s);
      unlink(path);
      continue;
    }
    char *end;
    if (s[0] < '0' || s[0] > '9') continue;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    int which = strcmp(end, ".delta") == 0 ? 0 : strcmp(end, ".snapshot") == 0 ? 1 : -1;
    if (which < 0 || errno || (s[0] == '0' && end != s + 1)) continue; /* not ours: "05.delta" */
    if (f->n[which] == f->cap[which]) {
      size_t cap = f->cap[which] ? f->cap[which] * 2 : 32;
      int64_t *nv = realloc(f->v[which], cap * sizeof *nv);
      if (!nv) {
        closedir(d);
        sr__dir_files_free(f);
        return sr_error_set(err, SR_ERROR, "out of memory listing %s", dir);
      }
      f->v[which] = nv;
      f->cap[which] = cap;
    }
    f->v[which][f->n[which]++] = v;
  }
  closedir(d);
  for (int i = 0; i < 2; i++)
    if (f->n[i]) qsort(f->v[i], f->n[i], sizeof(int64_t), cmp_i64);
  return SR_OK;
}

/* The newest snapshot version <= limit, or 0. */
static int64_t sr__newest_snapshot(const dir_files *f, int64_t limit) {
  for (size_t i = f->n[1]; i-- > 0;)
    if (f->v[1][i] <= limit) return f->v[1][i];
  return 0;
}

/* A state file mapped read-only, verified but for its records. */
typedef struct state_file {
  char path[4200];
  unsigned char *map;
  size_t size;
  uint64_t count;
} state_file;

typedef struct rec_view {
  int op;
  const unsigned char *start, *key, *val, *end; /* the record is [start, end) */
  uint64_t klen, vlen;
} rec_view;

static void sr__file_unmap(state_file *f) {
  if (f->map) munmap(f->map, f->size);
  f->map = NULL;
}

/* Maps dir/<version>.<kind> and checks its magic, format, CRC, kind and version. A missing
** file sets *missing (the error names it). */
static sr_status sr__file_map(state_file *f, const char *dir, int64_t version, int kind, int *missing,
                          sr_error **err) {
  sr__file_name(f->path, sizeof f->path, dir, version, kind);
  f->map = NULL;
  *missing = 0;
  struct stat sb;
  const char *path = f->path;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *missing = errno == ENOENT;
    return sr_error_set(err, SR_ERROR, "state file %s %s", path, *missing ? "is missing" : strerror(errno));
  }
  sr_status rc = SR_ERROR;
  unsigned char *map = MAP_FAILED;
  size_t size = 0;
  if (fstat(fd, &sb) != 0) {
    sr_error_set(err, SR_ERROR, "cannot stat state file %s: %s", path, strerror(errno));
    goto done;
  }
  size = (size_t)sb.st_size;
  if (size < FILE_MIN) {
    sr_error_set(err, SR_ERROR, "state file %s is truncated (%zu bytes)", path, size);
    goto done;
  }
  map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) {
    sr_error_set(err, SR_ERROR, "cannot map state file %s: %s", path, strerror(errno));
    goto done;
  }
  madvise(map, size, MADV_SEQUENTIAL);
  if (memcmp(map, FILE_MAGIC, 4) != 0) {
    sr_error_set(err, SR_ERROR, "%s is not a state store file (bad magic)", path);
    goto done;
  }
  if (map[4] != FILE_FORMAT) {
    sr_error_set(err, SR_ERROR, "state file %s has format version %d; this build reads %d",
                 path, map[4], FILE_FORMAT);
    goto done;
  }
  uint32_t want = sr_load_le32(map + size - 4);
  if (sr__crc_of(0, map, size - 4) != want) {
    sr_error_set(err, SR_ERROR, "state file %s is corrupt or torn (checksum mismatch)", path);
    goto done;
  }
  if (map[5] != kind || (int64_t)sr_load_le64(map + 8) != version) {
    sr_error_set(err, SR_ERROR, "state file %s holds %s version %" PRId64 ", not what its name says",
                 path, map[5] == KIND_DELTA ? "delta" : "snapshot", (int64_t)sr_load_le64(map + 8));
    goto done;
  }
  f->map = map;
  f->size = size;
  f->count = sr_load_le64(map + 16);
  map = MAP_FAILED;
  rc = SR_OK;
done:
  if (map != MAP_FAILED) munmap(map, size);
  close(fd);
  return rc;
}

/* Parses the record at *p into r. Returns 1, 0 at the end of the records, -1 when malformed. */
static int sr__file_next(const state_file *f, const unsigned char **p, rec_view *r) {
  const unsigned char *q = *p, *end = f->map + f->size - 4;
  if (q >= end) return 0;
  r->start = q;
  r->op = *q++;
  r->vlen = 0;
  if ((r->op != OP_PUT && !(r->op == OP_REMOVE && f->map[5] == KIND_DELTA)) ||
      !(q = sr_varint_get(q, end, &r->klen)) || (r->op == OP_PUT && !(q = sr_varint_get(q, end, &r->vlen))) ||
      r->klen > SR_STATE_MAX_LEN || r->vlen > SR_STATE_MAX_LEN ||
      (uint64_t)(end - q) < r->klen + r->vlen)
    return -1;
  r->key = q;
  r->val = q + r->klen;
  r->end = *p = r->val + r->vlen;
  return 1;
}

/* Applies every record of dir/<version>.<kind> to m. With overlay (a scratch buffer), stores
** each key's last op instead: value = op byte + value, so a remove is kept as a tombstone. */
static sr_status sr__file_load(kvmap *m, const char *dir, int64_t version, int kind, sr_buf *overlay,
                           sr_error **err) {
  state_file f;
  int missing, more;
  if (sr__file_map(&f, dir, version, kind, &missing, err) != SR_OK) return SR_ERROR;
  sr_status rc = SR_ERROR;
  uint64_t n = 0, old;
  const unsigned char *p = f.map + FILE_HDR;
  rec_view r;
  /* A snapshot's size is known: size the table and heap once (a record takes at most 17 more
  ** bytes in the file than in the heap, so this never over-reserves by much). */
  if (kind == KIND_SNAPSHOT && f.count <= UINT32_MAX &&
      (sr__map_reserve_slots(m, f.count) != 0 ||
       sr__map_reserve_heap(m, f.size + f.count * REC_HDR) != 0))
    goto oom;
  while ((more = sr__file_next(&f, &p, &r)) == 1) {
    if (overlay) {
      sr_buf_clear(overlay);
      if (sr_buf_putc(overlay, (char)r.op) || (r.vlen && sr_buf_append(overlay, r.val, r.vlen)) ||
          sr__map_put(m, r.key, r.klen, overlay->data, overlay->len, &old) < 0)
        goto oom;
    } else if (r.op == OP_REMOVE) {
      sr__map_del(m, r.key, r.klen, &old);
    } else if (sr__map_put(m, r.key, r.klen, r.val, r.vlen, &old) < 0) {
      goto oom;
    }
    n++;
  }
  if (more < 0)
    sr_error_set(err, SR_ERROR, "state file %s has a malformed record %" PRIu64, f.path, n);
  else if (n != f.count)
    sr_error_set(err, SR_ERROR, "state file %s has %" PRIu64 " records, its header says %" PRIu64,
                 f.path, n, f.count);
  else
    rc = SR_OK;
  goto done;
oom:
  sr_error_set(err, SR_ERROR, "out of memory loading %s", f.path);
done:
  sr__file_unmap(&f);
  return rc;
}

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

/* Loads version `version` into the empty map m from the files on disk. */
static sr_status sr__load_version(kvmap *m, const char *dir, int64_t version, sr_error **err) {
  dir_files f;
  if (sr__dir_list(dir, &f, 0, err) != SR_OK) return SR_ERROR;
  int64_t base = sr__newest_snapshot(&f, version);
  sr__dir_files_free(&f);
  sr_status rc = base > 0 ? sr__file_load(m, dir, base, KIND_SNAPSHOT, NULL, err) : SR_OK;
  for (int64_t v = base + 1; rc == SR_OK && v <= version; v++)
    rc = sr__file_load(m, dir, v, KIND_DELTA, NULL, err);
  if (rc != SR_OK && err && *err)
    sr_error_prefix(*err, "cannot load state version %" PRId64, version);
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

/* ---- the background snapshot thread -------------------------------------------------------- */

struct sr_state_store {
  uint32_t magic;
  char *dir;
  int64_t version, snapshot_interval, min_retain;
  kvmap map;
  uint64_t *undo; /* (record offset << 2) | UNDO_* for every change since the last commit */
  size_t n_undo, undo_cap;
  uint64_t heap_mark, garbage_mark; /* heap length and garbage at the last commit */
  int64_t n_updated, n_removed, commit_ms;
  int wrote_since_open; /* the first commit removes files above the opened version */
  int pending;          /* queued or running snapshot jobs; guarded by g_mu */
  sr_error *bg_error;   /* first background failure; guarded by g_mu */
};

/* A job needs nothing from its store but where to report: a closed store's jobs still run
** (st == NULL), so a store closed right after a commit still gets its snapshot. */
typedef struct maint_job {
  struct maint_job *next;
  sr_state_store *st; /* NULL once the store closed; guarded by g_mu */
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

/* Runs j (the caller made it g_running) and reports to its store, if still open. */
static void job_run_and_finish(maint_job *j) {
  sr_error *e = NULL;
  if (run_job(j, &e) != SR_OK) sr_error_prefix(e, "background snapshot of %s", j->dir);
  pthread_mutex_lock(&g_mu);
  if (j->st) {
    if (e && !j->st->bg_error) {
      j->st->bg_error = e;
      e = NULL;
    }
    j->st->pending--;
  }
  g_running = NULL;
  pthread_cond_broadcast(&g_done);
  pthread_mutex_unlock(&g_mu);
  sr_error_free(e); /* a closed store's failed snapshot: the deltas are still there */
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
static void sr__queue_snapshot(sr_state_store *st) {
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

/* Waits until no job for dir is queued or running: a job of an earlier store on the same
** directory could otherwise write a snapshot of a version this store is about to rewrite. */
static void sr__wait_jobs_for_dir(const char *dir) {
  pthread_mutex_lock(&g_mu);
  for (;;) {
    int busy = g_running && strcmp(g_running->dir, dir) == 0;
    for (maint_job *j = g_head; j && !busy; j = j->next) busy = strcmp(j->dir, dir) == 0;
    if (!busy) break;
    pthread_cond_wait(&g_done, &g_mu);
  }
  pthread_mutex_unlock(&g_mu);
}

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
  pthread_mutex_lock(&g_mu);
  for (maint_job *j = g_head; j; j = j->next)
    if (j->st == st) j->st = NULL;
  if (g_running && g_running->st == st) g_running->st = NULL;
  pthread_mutex_unlock(&g_mu);
  sr_error_free(st->bg_error);
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
