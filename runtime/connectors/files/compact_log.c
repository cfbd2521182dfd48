/* compact_log: see compact_log.h. */
#include "compact_log.h"

#include <ctype.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crash.h"

int sr_clog_is_compact(int64_t id, int64_t interval) {
  return interval > 0 && id >= 0 && (id + 1) % interval == 0;
}

void sr_clog_path(const char *dir, int64_t id, int compact, char *out, size_t outlen) {
  snprintf(out, outlen, "%s/%" PRId64 "%s", dir, id, compact ? ".compact" : "");
}

/* The id of a log file's name, *compact set for N.compact; -1 for any other name. */
static int64_t parse_name(const char *name, int *compact) {
  const char *p = name;
  while (isdigit((unsigned char)*p)) p++;
  if (p == name || p - name > 18) return -1;
  *compact = strcmp(p, ".compact") == 0;
  if (*p && !*compact) return -1;
  return strtoll(name, NULL, 10);
}

void sr_clog_list(const char *dir, int64_t limit, sr_clog_scan *out) {
  *out = (sr_clog_scan){-1, -1, -1};
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    int compact;
    int64_t n = parse_name(de->d_name, &compact);
    if (n < 0) continue;
    if (n > out->newest) out->newest = n;
    if (compact && n <= limit && n > out->compact) out->compact = n;
    if (n > limit + 1 && (out->beyond < 0 || n < out->beyond)) out->beyond = n;
  }
  closedir(d);
}

static int by_id(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

void sr_clog_cleanup(const char *dir, int64_t below, int64_t batch) {
  if (below <= 0) return;
  DIR *d = opendir(dir);
  if (!d) return;
  /* ids with the compact flag in the low bit, so that one sort puts them oldest first */
  int64_t *ids = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    int compact;
    int64_t id = parse_name(de->d_name, &compact);
    if (id < 0 || id >= below) continue;
    if (n == cap) {
      int64_t *grown = realloc(ids, (cap = cap ? cap * 2 : 32) * sizeof *ids);
      if (!grown) break; /* what is left is deleted by a later batch */
      ids = grown;
    }
    ids[n++] = id * 2 + compact;
  }
  closedir(d);
  if (n > 0) qsort(ids, n, sizeof *ids, by_id);
  for (size_t i = 0; i < n; i++) {
    char path[4200];
    sr_clog_path(dir, ids[i] / 2, (int)(ids[i] % 2), path, sizeof path);
    unlink(path);
    if (i == n / 2) sr_crash_point("compact_cleanup", batch);
  }
  free(ids);
}
