/* Single-quoted JSON into standard JSON: see json_quotes.h. */
#include "json_quotes.h"

#include <string.h>

/* p just after an opening quote `q`: appends the string's body to out as the body of a
** double-quoted string, and its closing '"'. Returns the byte after the closing quote, or end
** when there is none (the decoder then says the string is unterminated). *fail gets -1 when out
** of memory. */
static const char *copy_string(const char *p, const char *end, char q, sr_buf *out, int *fail) {
  while (p < end && *p != q) {
    const char *run = p;
    while (p < end && *p != q && *p != '\\' && *p != '"') p++;
    *fail |= sr_buf_append(out, run, (size_t)(p - run));
    if (p == end || *p == q) break;
    if (*p == '"') {  /* reached only inside a single-quoted string */
      *fail |= sr_buf_append(out, "\\\"", 2);
      p++;
    } else if (end - p < 2) {
      *fail |= sr_buf_putc(out, *p++);
    } else {  /* Jackson takes \' where single quotes are allowed */
      *fail |= p[1] == '\'' ? sr_buf_putc(out, '\'') : sr_buf_append(out, p, 2);
      p += 2;
    }
  }
  if (p == end) return end;  /* unterminated: left so, for the decoder's reason */
  *fail |= sr_buf_putc(out, '"');
  return p + 1;
}

int sr_json_requote(const char *text, size_t n, sr_buf *out) {
  const char *p = text, *end = text + n;
  if (!memchr(text, '\'', n)) return 0;
  sr_buf_clear(out);
  int fail = sr_buf_reserve(out, n + n / 4 + 16);
  while (p < end && !fail) {
    const char *q = p;
    while (q < end && *q != '"' && *q != '\'') q++;
    fail |= sr_buf_append(out, p, (size_t)(q - p));
    if (q == end) break;
    fail |= sr_buf_putc(out, '"');
    p = copy_string(q + 1, end, *q, out, &fail);
  }
  return fail ? -1 : 1;
}
