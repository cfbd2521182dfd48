/* fsutil: see fsutil.h. */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

sr_status sr_fs_mkdirs(const char *path, sr_error **err) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return sr_error_set(err, SR_ERROR, "path too long: %s", path);
  for (char *p = buf + 1; ; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return sr_error_set(err, SR_ERROR, "cannot create directory %s: %s", buf, strerror(errno));
      *p = c;
      if (c == '\0') break;
    }
  }
  return SR_OK;
}

sr_status sr_fs_sync_dir(const char *path, sr_error **err) {
  struct stat st;
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  const char *dir = (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) ? buf : dirname(buf);
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return sr_error_set(err, SR_ERROR, "cannot open directory %s: %s", dir, strerror(errno));
  int rc = fsync(fd);
  close(fd);
  if (rc != 0) return sr_error_set(err, SR_ERROR, "fsync of %s failed: %s", dir, strerror(errno));
  return SR_OK;
}

enum { WRITEBACK_MIN = 64 * 1024 };

void sr_fs_writer_abort(sr_fs_writer *w) {
  if (w->fd >= 0) {
    close(w->fd);
    unlink(w->path);
  }
  w->fd = -1;
  free(w->path);
  w->path = NULL;
}

/* Fails the writer with errno's reason: the file is removed. */
static sr_status writer_fail(sr_fs_writer *w, const char *what, sr_error **err) {
  int e = errno;
  sr_error_set(err, SR_ERROR, "cannot %s %s: %s", what, w->path, strerror(e));
  sr_fs_writer_abort(w);
  return SR_ERROR;
}

sr_status sr_fs_writer_open(sr_fs_writer *w, const char *path, sr_error **err) {
  sr_fs_writer_abort(w);
  w->size = 0;
  if (!(w->path = strdup(path))) return sr_error_set(err, SR_ERROR, "out of memory");
  w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd < 0) {
    sr_error_set(err, SR_ERROR, "cannot create %s: %s", path, strerror(errno));
    sr_fs_writer_abort(w);
    return SR_ERROR;
  }
  return SR_OK;
}

sr_status sr_fs_writer_append(sr_fs_writer *w, const void *data, size_t len, sr_error **err) {
  const char *p = data;
  long long start = w->size;
  for (size_t left = len; left > 0;) {
    ssize_t n = write(w->fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return writer_fail(w, "write", err);
    p += n;
    left -= (size_t)n;
  }
  w->size += (long long)len;
  /* A hint, for pieces worth a device write of their own: where it is refused, the final fsync
  ** does all the work. */
  if (len >= WRITEBACK_MIN) (void)sync_file_range(w->fd, start, (off_t)len, SYNC_FILE_RANGE_WRITE);
  return SR_OK;
}

sr_status sr_fs_writer_finish(sr_fs_writer *w, sr_error **err) {
  if (fsync(w->fd) != 0) return writer_fail(w, "write", err);
  int fd = w->fd;
  w->fd = -1;
  if (close(fd) != 0) {
    int e = errno;
    unlink(w->path);
    errno = e;
    return writer_fail(w, "write", err);
  }
  free(w->path);
  w->path = NULL;
  return SR_OK;
}

sr_status sr_fs_write_synced(const char *path, const void *data, size_t len, sr_error **err) {
  sr_fs_writer w = SR_FS_WRITER_INIT;
  if (sr_fs_writer_open(&w, path, err) != SR_OK || sr_fs_writer_append(&w, data, len, err) != SR_OK)
    return SR_ERROR;
  return sr_fs_writer_finish(&w, err);
}

/* Writes data to a fresh temp file beside path and fsyncs it; fills tmp with its name. */
static sr_status write_temp(const char *path, const void *data, size_t len, char *tmp,
                            size_t tmpsize, sr_error **err) {
  snprintf(tmp, tmpsize, "%s.tmp-%ld", path, (long)getpid());
  return sr_fs_write_synced(tmp, data, len, err);
}

sr_status sr_fs_write_atomic(const char *path, const void *data, size_t len, sr_error **err) {
  char tmp[4200];
  if (write_temp(path, data, len, tmp, sizeof tmp, err) != SR_OK) return SR_ERROR;
  if (rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return sr_error_set(err, SR_ERROR, "cannot rename %s to %s: %s", tmp, path, strerror(e));
  }
  return sr_fs_sync_dir(path, err);
}

sr_status sr_fs_write_new(const char *path, const void *data, size_t len, sr_error **err) {
  char tmp[4200];
  if (write_temp(path, data, len, tmp, sizeof tmp, err) != SR_OK) return SR_ERROR;
  /* link(2) fails with EEXIST instead of replacing: put-if-absent. */
  int rc = link(tmp, path);
  int e = errno;
  unlink(tmp);
  if (rc != 0)
    return sr_error_set(err, SR_ERROR, "cannot create %s: %s", path, strerror(e));
  return sr_fs_sync_dir(path, err);
}

sr_status sr_fs_read_fd(int fd, const char *path, char *buf, size_t cap, size_t *got, sr_error **err) {
  *got = 0;
  while (*got < cap) {
    ssize_t r = read(fd, buf + *got, cap - *got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      sr_error_set(err, SR_ERROR, "cannot read %s: %s", path, strerror(e));
      errno = e;
      return SR_ERROR;
    }
    if (r == 0) break;
    *got += (size_t)r;
  }
  return SR_OK;
}

char *sr_fs_read_all(const char *path, size_t *len, sr_error **err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    sr_error_set(err, SR_ERROR, "cannot open %s: %s", path, strerror(e));
    errno = e;
    return NULL;
  }
  /* One allocation of the file's size (input files are tens of MB: growing a buffer by doubling
  ** copied each of them several times); it still grows if the file does while we read. */
  struct stat st;
  /* (+1: room to read the end of file without growing when the size was right) */
  size_t cap = fstat(fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, n = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (!buf) { close(fd); sr_error_set(err, SR_ERROR, "out of memory reading %s", path); return NULL; }
    size_t got;
    if (sr_fs_read_fd(fd, path, buf + n, cap - n, &got, err) != SR_OK) {
      int e = errno;
      free(buf);
      close(fd);
      errno = e;
      return NULL;
    }
    n += got;
    if (n < cap) break; /* the end of the file */
    char *b = realloc(buf, cap * 2 + 1);
    if (!b) free(buf);
    buf = b;
    cap *= 2;
  }
  close(fd);
  buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

unsigned long sr_crc32(unsigned long crc, const void *p, size_t n) {
  const unsigned char *b = p;
  while (n > 0) { /* zlib takes a uInt length */
    uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
    crc = crc32(crc, b, chunk);
    b += chunk;
    n -= chunk;
  }
  return crc;
}

#define CHECKED_MARK "#crc32 "

sr_status sr_fs_write_checked(const char *path, const char *tag, const void *body, size_t len,
                              sr_error **err) {
  if (len == 0 || ((const char *)body)[len - 1] != '\n' || strpbrk(tag, " \n"))
    return sr_error_set(err, SR_ERROR, "internal: %s: a checked file's body ends with a newline "
                        "and its tag has no spaces", path);
  unsigned long crc = sr_crc32(sr_crc32(0, body, len), tag, strlen(tag));
  size_t cap = len + strlen(tag) + 32;
  char *text = malloc(cap);
  if (!text) return sr_error_set(err, SR_ERROR, "out of memory writing %s", path);
  memcpy(text, body, len);
  int n = snprintf(text + len, cap - len, CHECKED_MARK "%08lx %s\n", crc, tag);
  sr_status st = sr_fs_write_atomic(path, text, len + (size_t)n, err);
  free(text);
  return st;
}

/* Fails a read of a damaged checked file: errno EBADMSG tells it from a missing one. */
static char *checked_damaged(char *text, sr_error **err, const char *fmt, const char *path,
                             const char *detail) {
  free(text);
  sr_error_set(err, SR_ERROR, fmt, path, detail);
  errno = EBADMSG;
  return NULL;
}

char *sr_fs_read_checked(const char *path, const char *tag, size_t *len, int *checked, sr_error **err) {
  size_t n;
  *checked = 0;
  char *text = sr_fs_read_all(path, &n, err);
  if (!text) return NULL;
  if (n == 0) /* nothing this module or the old writers wrote is empty */
    return checked_damaged(text, err, "%s is damaged: %s", path, "it is empty (truncated?)");
  /* the last line: after the '\n' before the final one */
  size_t end = n > 0 && text[n - 1] == '\n' ? n - 1 : n, start = end;
  while (start > 0 && text[start - 1] != '\n') start--;
  char *last = text + start;
  /* (a last line that looks like a trailer is one, maybe damaged: a flipped '#', or a flipped
  ** newline before it, must not pass it off as the body of a file from before checksums) */
  if (start == end || (*last != '#' && !memmem(last, end - start, "#crc32", 6) &&
                       !(end - start > 7 && strncmp(last + 1, "crc32 ", 6) == 0))) {
    /* no trailer: written before checksums (the caller parses it strictly) */
    if (len) *len = n;
    return text;
  }
  unsigned long want;
  int tag_at = 0;
  if (end != n - 1 || n - start < sizeof CHECKED_MARK ||
      strncmp(last, CHECKED_MARK, strlen(CHECKED_MARK)) != 0 ||
      strspn(last + strlen(CHECKED_MARK), "0123456789abcdef") != 8 ||
      sscanf(last + strlen(CHECKED_MARK), "%8lx %n", &want, &tag_at) != 1 || tag_at != 9)
    return checked_damaged(text, err, "%s is damaged: %s", path,
                           "its checksum line is incomplete (the file was truncated or edited)");
  text[end] = '\0';
  const char *found = last + strlen(CHECKED_MARK) + tag_at;
  unsigned long crc = sr_crc32(sr_crc32(0, text, start), found, strlen(found));
  if (crc != want)
    return checked_damaged(text, err, "%s is damaged: %s", path,
                           "its checksum does not match its contents (torn, truncated or edited)");
  if (strcmp(found, tag) != 0) {
    char detail[600];
    snprintf(detail, sizeof detail, "this file was written as %.250s, not as %.250s (copied from "
             "another name or another checkpoint?)", found, tag);
    return checked_damaged(text, err, "%s does not belong here: %s", path, detail);
  }
  text[start] = '\0';
  *checked = 1;
  if (len) *len = start;
  return text;
}

int sr_fs_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

sr_status sr_fs_remove_tree(const char *path, sr_error **err) {
  struct stat st;
  if (lstat(path, &st) != 0) return SR_OK;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    if (!d) return sr_error_set(err, SR_ERROR, "cannot open %s: %s", path, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d))) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
      char child[4096];
      snprintf(child, sizeof child, "%s/%s", path, de->d_name);
      if (sr_fs_remove_tree(child, err) != SR_OK) { closedir(d); return SR_ERROR; }
    }
    closedir(d);
    if (rmdir(path) != 0) return sr_error_set(err, SR_ERROR, "cannot remove %s: %s", path, strerror(errno));
  } else if (unlink(path) != 0) {
    return sr_error_set(err, SR_ERROR, "cannot remove %s: %s", path, strerror(errno));
  }
  return SR_OK;
}
