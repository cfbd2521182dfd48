/* sr_buf: see buf.h. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sr_buf_reserve(sr_buf *b, size_t extra) {
  if (b->cap - b->len > extra) return 0;  /* keeps one byte for the NUL */
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len <= extra) cap *= 2;
  char *d = realloc(b->data, cap);
  if (!d) return -1;
  b->data = d;
  b->cap = cap;
  return 0;
}

int sr_buf_append(sr_buf *b, const void *p, size_t n) {
  if (sr_buf_reserve(b, n) != 0) return -1;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int sr_buf_puts(sr_buf *b, const char *s) { return sr_buf_append(b, s, strlen(s)); }

int sr_buf_putc(sr_buf *b, char c) {
  if (sr_buf_reserve(b, 1) != 0) return -1;
  b->data[b->len++] = c;
  b->data[b->len] = '\0';
  return 0;
}

int sr_buf_printf(sr_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || sr_buf_reserve(b, (size_t)n) != 0) return -1;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

const char *sr_buf_cstr(sr_buf *b) {
  if (sr_buf_reserve(b, 0) != 0) return NULL;
  b->data[b->len] = '\0';
  return b->data;
}

void sr_buf_clear(sr_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

void sr_buf_free(sr_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
