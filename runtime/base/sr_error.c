/* sr_error: see sr_error.h. */
#include "sr_error.h"

#include <stdarg.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *vformat(const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  char *s = malloc((size_t)(n < 0 ? 0 : n) + 1);
  if (!s) return NULL;
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

static sr_status error_setv(sr_error **err, sr_status status, const char *fmt, va_list ap) {
  if (!err) return status;
  sr_error *e = malloc(sizeof *e);
  if (e) {
    e->status = status;
    e->message = vformat(fmt, ap);
    if (!e->message) e->message = strdup("out of memory");
  }
  sr_error_free(*err); /* a newer error replaces an older one */
  *err = e;
  return status;
}

sr_status sr_error_set(sr_error **err, sr_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sr_status s = error_setv(err, status, fmt, ap);
  va_end(ap);
  return s;
}

void sr_error_prefix(sr_error *e, const char *fmt, ...) {
  if (!e) return;
  va_list ap;
  va_start(ap, fmt);
  char *prefix = vformat(fmt, ap);
  va_end(ap);
  if (!prefix) return;
  size_t n = strlen(prefix) + 2 + strlen(e->message) + 1;
  char *s = malloc(n);
  if (s) {
    snprintf(s, n, "%s: %s", prefix, e->message);
    free(e->message);
    e->message = s;
  }
  free(prefix);
}

void sr_error_free(sr_error *e) {
  if (!e) return;
  free(e->message);
  free(e);
}
