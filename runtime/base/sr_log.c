/* sr_log: see sr_log.h. */
#include "sr_log.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "monitor.h"
#include "timeutil.h"

static int json_format;

void sr_log_set_json(int on) { json_format = on; }
int sr_log_is_json(void) { return json_format; }

/* The job's file:line a message names: the last "NAME.lua:LINE" of its first line (an error
** report reads "job.lua:9: batch 3 failed: job.lua:4: why", the row's operator last). */
static int job_where(const char *m, char *out, size_t len) {
  size_t first_line = strcspn(m, "\n");
  int found = 0;
  for (const char *p = strstr(m, ".lua:"); p && (size_t)(p - m) < first_line; p = strstr(p + 1, ".lua:")) {
    const char *d = p + 5;
    if (!isdigit((unsigned char)*d)) continue;
    const char *s = p;
    while (s > m && !isspace((unsigned char)s[-1]) && !strchr("('\"[", s[-1])) s--;
    while (isdigit((unsigned char)*d)) d++;
    size_t n = (size_t)(d - s);
    if (n >= len) n = len - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    found = 1;
  }
  return found;
}

/* "batch N" in a message about a query, when the caller did not know N. */
static int64_t batch_named(const char *m) {
  const char *p = strstr(m, "batch ");
  return p && isdigit((unsigned char)p[6]) ? strtoll(p + 6, NULL, 10) : -1;
}

void sr_log_at(const char *source, int line, const char *level, const char *query, int64_t batch,
               const char *fmt, ...) {
  char msg[16384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  size_t n = strlen(msg);
  while (n > 0 && msg[n - 1] == '\n') msg[--n] = '\0'; /* the line's end is the format's */
  char where[512];
  int has_where = job_where(msg, where, sizeof where);
  if (strcmp(level, "info") != 0) sr_monitor_log(level, query, msg, has_where ? where : NULL);
  if (!json_format) {
    fprintf(stderr, "streamrun: %s\n", msg);
    return;
  }
  const char *text = msg;
  size_t lvl = strlen(level);
  if (strncmp(text, level, lvl) == 0 && strncmp(text + lvl, ": ", 2) == 0) text += lvl + 2;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char t[40];
  sr_time_format((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, t);
  const char *base = strrchr(source, '/');
  char src[256];
  snprintf(src, sizeof src, "%s:%d", base ? base + 1 : source, line);
  json_t *o = json_pack("{s:s,s:s}", "time", t, "level", level);
  if (query) json_object_set_new(o, "query", json_string(query));
  if (batch < 0 && query) batch = batch_named(msg);
  if (batch >= 0) json_object_set_new(o, "batch", json_integer(batch));
  json_t *m = json_string(text);
  if (!m) { /* not UTF-8 (a path, a record): bytes past ASCII become '?' */
    for (char *c = msg; *c; c++)
      if ((unsigned char)*c >= 0x80) *c = '?';
    m = json_string(text);
  }
  json_object_set_new(o, "message", m);
  if (has_where) json_object_set_new(o, "where", json_string(where));
  json_object_set_new(o, "source", json_string(src));
  char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(o);
  if (s) {
    fprintf(stderr, "%s\n", s);
    free(s);
  }
}
