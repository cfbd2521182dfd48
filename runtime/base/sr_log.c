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
static json_t *captured; /* --check --json: the warnings and errors, for stdout */

void sr_log_set_json(int on) { json_format = on; }
void sr_log_capture(json_t *list) { captured = list; }
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

/* text (a part of msg, whose bytes may be changed) as a JSON string; when it is not UTF-8 (a
** path, a record), bytes past ASCII become '?'. */
static json_t *json_text(char *msg, const char *text) {
  json_t *m = json_string(text);
  if (m) return m;
  for (char *c = msg; *c; c++)
    if ((unsigned char)*c >= 0x80) *c = '?';
  return json_string(text);
}

/* Appends {"level", "message", "file", "line"} to the captured list: where ("job.lua:12") split
** into file and line, both left out when the message names no job line; a message that starts
** with where loses it. */
static void capture(const char *level, const char *text, const char *where) {
  char copy[16384];
  size_t wl = where ? strlen(where) : 0;
  if (wl && strncmp(text, where, wl) == 0 && strncmp(text + wl, ": ", 2) == 0) text += wl + 2;
  snprintf(copy, sizeof copy, "%s", text);
  json_t *o = json_pack("{s:s,s:o}", "level", level, "message", json_text(copy, copy));
  const char *colon = where ? strrchr(where, ':') : NULL;
  if (colon) {
    json_object_set_new(o, "file", json_stringn(where, (size_t)(colon - where)));
    json_object_set_new(o, "line", json_integer(strtoll(colon + 1, NULL, 10)));
  }
  json_array_append_new(captured, o);
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
  const char *text = msg;
  size_t lvl = strlen(level);
  if (strncmp(text, level, lvl) == 0 && strncmp(text + lvl, ": ", 2) == 0) text += lvl + 2;
  if (captured && strcmp(level, "info") != 0) capture(level, text, has_where ? where : NULL);
  if (!json_format) {
    fprintf(stderr, "streamrun: %s\n", msg);
    return;
  }
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
  json_object_set_new(o, "message", json_text(msg, text));
  if (has_where) json_object_set_new(o, "where", json_string(where));
  json_object_set_new(o, "source", json_string(src));
  char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(o);
  if (s) {
    fprintf(stderr, "%s\n", s);
    free(s);
  }
}
