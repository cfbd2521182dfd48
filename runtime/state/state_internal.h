/*
** What the files of the state store share, and nothing else includes: the file format's
** constants, the in-memory table (state_map.c), reading the files (state_file.c), the
** background snapshots and pruning (state_maint.c) and the store itself (state_store.c).
** Nothing here calls into Lua. The format is written down at the top of state_file.c, the
** table at the top of state_map.c, the crash-safety invariants at the top of state_store.c.
*/
#ifndef SR_STATE_INTERNAL_H
#define SR_STATE_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "state_store.h"

#define FILE_MAGIC "SRST"
#define FILE_FORMAT 1
#define FILE_HDR 24
#define FILE_MIN (FILE_HDR + 4)
#define KIND_DELTA 'D'
#define KIND_SNAPSHOT 'S'
#define OP_PUT 1
#define OP_REMOVE 2

#define ENT_FREE (UINT64_C(1) << 63)
#define ENT_DIRTY (UINT64_C(1) << 62)
#define ENT_OFF ((UINT64_C(1) << 62) - 1)
#define NO_ENT UINT32_MAX
#define REC_HDR 8

/* ---- the table (state_map.c) --------------------------------------------------------------- */

/* An empty table is all zeros but free_head = NO_ENT. */
typedef struct kvmap {
  uint64_t *slots;   /* 0 empty, else (hash >> 32) << 32 | (entry index + 1) */
  uint64_t slot_cap; /* a power of two */
  uint64_t *ents;    /* record offset | ENT_DIRTY, or ENT_FREE | next free index */
  uint32_t n_ents, ent_cap, free_head, n_live;
  char *heap;
  uint64_t heap_len, heap_cap, garbage;
} kvmap;

static inline const unsigned char *rec_at(const kvmap *m, uint64_t off) {
  return (const unsigned char *)m->heap + off;
}
/* Field i of the record r: 0 its key length, 1 its value length (host byte order: the heap
** never leaves memory). */
static inline uint32_t rec_u32(const unsigned char *r, int i) {
  uint32_t v;
  memcpy(&v, r + 4 * i, 4);
  return v;
}

/* Frees what m holds and zeroes it. */
void sr__map_free(kvmap *m);
/* The bytes m has allocated. */
size_t sr__map_bytes(const kvmap *m);
/* Grows the slots so that n live keys stay under a 3/4 load. 0, or -1 out of memory. */
int sr__map_reserve_slots(kvmap *m, uint64_t n);
/* Grows the heap for extra more bytes. 0, or -1 out of memory. */
int sr__map_reserve_heap(kvmap *m, uint64_t extra);
/* Finds key (h = sr_hash64 of it). Returns its entry index and its slot in *slot, or -1 with
** *slot the empty slot where it would go. */
int64_t sr__map_find(const kvmap *m, const void *key, size_t klen, uint64_t h, uint64_t *slot);
/* Links the record at heap offset off under a new entry at the empty slot `slot`; the caller
** reserved the load and an entry. Returns the entry index. */
uint32_t sr__map_link(kvmap *m, uint64_t slot, uint64_t h, uint64_t off);
/* Inserts or replaces. Returns the entry index, or -1 when out of memory (m unchanged).
** *old_off is the replaced record's offset, or UINT64_MAX for a new key. */
int64_t sr__map_put(kvmap *m, const void *key, size_t klen, const void *val, size_t vlen,
                    uint64_t *old_off);
/* Removes key. Returns 1 with the record's offset in *old_off, or 0 when absent. */
int sr__map_del(kvmap *m, const void *key, size_t klen, uint64_t *old_off);
/* Rewrites the heap with only live records (best effort: as is when out of memory). */
void sr__map_compact(kvmap *m);
/* 1 when the garbage is worth a compaction. */
int sr__map_wants_compaction(const kvmap *m);

/* ---- the files (state_file.c) -------------------------------------------------------------- */

/* A directory's delta and snapshot versions. */
typedef struct dir_files {
  int64_t *v[2]; /* [0] deltas, [1] snapshots, ascending */
  size_t n[2], cap[2];
} dir_files;

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

/* Writes a file's FILE_HDR bytes at h. */
void sr__file_header(unsigned char *h, int kind, int64_t version, uint64_t count);
/* zlib's CRC-32 of n bytes after crc (0 to start), for any n. */
uint32_t sr__crc_of(uint32_t crc, const void *p, size_t n);
/* dir/<version>.delta or .snapshot into out. */
void sr__file_name(char *out, size_t size, const char *dir, int64_t version, int kind);
/* Lists dir's delta and snapshot versions into f (freed with sr__dir_files_free); with
** remove_temps, also deletes stray temp files. SR_OK, or SR_ERROR with *err set. */
sr_status sr__dir_list(const char *dir, dir_files *f, int remove_temps, sr_error **err);
void sr__dir_files_free(dir_files *f);
/* The newest snapshot version <= limit, or 0. */
int64_t sr__newest_snapshot(const dir_files *f, int64_t limit);
/* Maps dir/<version>.<kind> into f (unmapped with sr__file_unmap) and checks its magic,
** format, CRC, kind and version. SR_ERROR with *err naming the file, and *missing set when
** it does not exist. */
sr_status sr__file_map(state_file *f, const char *dir, int64_t version, int kind, int *missing,
                       sr_error **err);
void sr__file_unmap(state_file *f);
/* Parses the record at *p into r. Returns 1, 0 at the end of the records, -1 when malformed. */
int sr__file_next(const state_file *f, const unsigned char **p, rec_view *r);
/* Applies every record of dir/<version>.<kind> to m; with overlay (a scratch buffer), stores
** each key's last op instead (value = op byte + value: a remove is kept as a tombstone). */
sr_status sr__file_load(kvmap *m, const char *dir, int64_t version, int kind, sr_buf *overlay,
                        sr_error **err);
/* Loads version `version` into the empty map m from the files on disk. */
sr_status sr__load_version(kvmap *m, const char *dir, int64_t version, sr_error **err);

/* ---- the store (state_store.c) and its maintenance (state_maint.c) ------------------------- */

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
  int pending;          /* queued or running snapshot jobs; guarded by state_maint.c's lock */
  sr_error *bg_error;   /* first background failure; guarded by state_maint.c's lock */
};

/* Queues a snapshot of st's version (and pruning after it); without a thread, runs it now. */
void sr__queue_snapshot(sr_state_store *st);
/* Waits until no job for dir is queued or running. */
void sr__wait_jobs_for_dir(const char *dir);
/* Waits for st's queued and running jobs (a failure is dropped), before st is freed. */
void sr__maint_finish(sr_state_store *st);

#endif
