/*
** sr_buf: a growable byte buffer for encoders and file writers. Every append returns 0, or -1
** when out of memory (the buffer keeps what it had).
*/
#ifndef SR_BUF_H
#define SR_BUF_H
#include <stddef.h>
#include <stdint.h>

typedef struct sr_buf {
  char *data;  /* NUL-terminated when len > 0 or after sr_buf_cstr */
  size_t len, cap;
} sr_buf;

#define SR_BUF_INIT {NULL, 0, 0}

int sr_buf_reserve(sr_buf *b, size_t extra);
int sr_buf_append(sr_buf *b, const void *p, size_t n);
int sr_buf_puts(sr_buf *b, const char *s);
int sr_buf_putc(sr_buf *b, char c);
int sr_buf_printf(sr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A NUL-terminated view of the contents ("" when empty); NULL when out of memory. */
const char *sr_buf_cstr(sr_buf *b);
void sr_buf_clear(sr_buf *b); /* keeps the memory */
void sr_buf_free(sr_buf *b);  /* releases it; the buffer is empty and reusable */

#endif
