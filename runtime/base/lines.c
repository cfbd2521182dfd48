/* Line ends of the text readers: see lines.h. */
#include "lines.h"

#include <string.h>

int sr_linesep_set(sr_linesep *ls, const char *text, size_t max) {
  memset(ls, 0, sizeof *ls);
  if (!text) return 0;
  size_t n = strlen(text);
  if (n == 0 || n > max || n > SR_LINESEP_MAX) return -1;
  memcpy(ls->bytes, text, n);
  ls->len = n;
  return 0;
}

static const char *find_sep(const char *p, const char *end, const sr_linesep *ls) {
  if (ls->len == 1) return memchr(p, ls->bytes[0], (size_t)(end - p));
  return memmem(p, (size_t)(end - p), ls->bytes, ls->len);
}

const char *sr_line_end(const char *p, const char *end, const sr_linesep *ls, const char **next) {
  if (ls && ls->len) {
    const char *s = find_sep(p, end, ls);
    *next = s ? s + ls->len : end;
    return s ? s : end;
  }
  const char *nl = memchr(p, '\n', (size_t)(end - p));
  const char *stop = nl ? nl : end;
  const char *cr = memchr(p, '\r', (size_t)(stop - p));
  if (cr) {
    *next = cr + 1 < end && cr[1] == '\n' ? cr + 2 : cr + 1;
    return cr;
  }
  *next = nl ? nl + 1 : end;
  return stop;
}

size_t sr_line_term_at(const char *p, const char *end, const sr_linesep *ls) {
  if (p >= end) return 0;
  if (ls && ls->len)
    return (size_t)(end - p) >= ls->len && memcmp(p, ls->bytes, ls->len) == 0 ? ls->len : 0;
  if (*p == '\n') return 1;
  if (*p == '\r') return p + 1 < end && p[1] == '\n' ? 2 : 1;
  return 0;
}

size_t sr_line_count(const char *p, const char *end, const sr_linesep *ls) {
  size_t n = 0;
  if (ls && ls->len) {
    for (const char *s; p < end && (s = find_sep(p, end, ls)); p = s + ls->len) n++;
    return n;
  }
  for (; p < end; p++)
    if (*p == '\n' || (*p == '\r' && (p + 1 == end || p[1] != '\n'))) n++;
  return n;
}

size_t sr_lines_whole(const char *buf, size_t len, const sr_linesep *ls, int eof) {
  if (ls && ls->len) {
    if (len < ls->len) return 0;
    for (size_t i = len - ls->len + 1; i-- > 0;)
      if (memcmp(buf + i, ls->bytes, ls->len) == 0) return i + ls->len;
    return 0;
  }
  size_t i = len;
  if (i > 0 && buf[i - 1] == '\r' && !eof) i--;  /* maybe the first half of a "\r\n" */
  while (i > 0 && buf[i - 1] != '\n' && buf[i - 1] != '\r') i--;
  return i;
}
