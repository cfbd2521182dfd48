/*
** A state store's files: their names, the directory's listing, and reading them back with
** every check (see state_internal.h).
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
*/
#include "state_internal.h"
#include "bytes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

void sr__file_header(unsigned char *h, int kind, int64_t version, uint64_t count) {
  memcpy(h, FILE_MAGIC, 4);
  h[4] = FILE_FORMAT;
  h[5] = (unsigned char)kind;
  h[6] = h[7] = 0;
  sr_store_le64(h + 8, (uint64_t)version);
  sr_store_le64(h + 16, count);
}

uint32_t sr__crc_of(uint32_t crc, const void *p, size_t n) {
  const Bytef *b = p;
  while (n > 0) {
    uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
    crc = (uint32_t)crc32(crc, b, chunk);
    b += chunk;
    n -= chunk;
  }
  return crc;
}

void sr__file_name(char *out, size_t size, const char *dir, int64_t version, int kind) {
  snprintf(out, size, "%s/%" PRId64 ".%s", dir, version, kind == KIND_DELTA ? "delta" : "snapshot");
}

/* ---- directory listing --------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

void sr__dir_files_free(dir_files *f) {
  free(f->v[0]);
  free(f->v[1]);
}

/* Lists dir's delta and snapshot versions; with remove_temps, also deletes stray temp files. */
sr_status sr__dir_list(const char *dir, dir_files *f, int remove_temps, sr_error **err) {
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
int64_t sr__newest_snapshot(const dir_files *f, int64_t limit) {
  for (size_t i = f->n[1]; i-- > 0;)
    if (f->v[1][i] <= limit) return f->v[1][i];
  return 0;
}

void sr__file_unmap(state_file *f) {
  if (f->map) munmap(f->map, f->size);
  f->map = NULL;
}

/* Maps dir/<version>.<kind> and checks its magic, format, CRC, kind and version. A missing
** file sets *missing (the error names it). */
sr_status sr__file_map(state_file *f, const char *dir, int64_t version, int kind, int *missing,
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
int sr__file_next(const state_file *f, const unsigned char **p, rec_view *r) {
  const unsigned char *q = *p, *end = f->map + f->size - 4;
  if (q >= end) return 0;
  r->start = q;
  r->op = *q++;
  r->vlen = 0;
  if ((r->op != OP_PUT && !(r->op == OP_REMOVE && f->map[5] == KIND_DELTA)) ||
      !(q = sr_varint_get(q, end, &r->klen)) ||
      (r->op == OP_PUT && !(q = sr_varint_get(q, end, &r->vlen))) ||
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
sr_status sr__file_load(kvmap *m, const char *dir, int64_t version, int kind, sr_buf *overlay,
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
/* Loads version `version` into the empty map m from the files on disk. */
sr_status sr__load_version(kvmap *m, const char *dir, int64_t version, sr_error **err) {
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

