/* UTF-8 checks and repair: see utf8.h. */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

int sr_utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0], lo = 0x80, hi = 0xBF;
  int need;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) need = 1;
  else if (c == 0xE0) need = 2, lo = 0xA0;         /* no overlong 3-byte forms */
  else if (c >= 0xE1 && c <= 0xEC) need = 2;
  else if (c == 0xED) need = 2, hi = 0x9F;         /* no surrogates */
  else if (c >= 0xEE && c <= 0xEF) need = 2;
  else if (c == 0xF0) need = 3, lo = 0x90;         /* no overlong 4-byte forms */
  else if (c >= 0xF1 && c <= 0xF3) need = 3;
  else if (c == 0xF4) need = 3, hi = 0x8F;         /* nothing beyond U+10FFFF */
  else return -1;
  for (int i = 1; i <= need; i++) {
    if ((size_t)i >= n || s[i] < lo || s[i] > hi) return -i;
    lo = 0x80;
    hi = 0xBF;
  }
  return need + 1;
}

size_t sr_utf8_valid_len(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    if (n - i >= 8) {
      uint64_t w;
      memcpy(&w, p + i, 8);
      if (!(w & 0x8080808080808080ull)) { i += 8; continue; }
    }
    if (p[i] < 0x80) { i++; continue; }
    int k = sr_utf8_seq(p + i, n - i);
    if (k < 0) return i;
    i += (size_t)k;
  }
  return n;
}

size_t sr_utf8_repair(char *out, const char *s, size_t n) {
  char *o = out;
  size_t i = 0;
  while (i < n) {
    size_t ok = sr_utf8_valid_len(s + i, n - i);
    memcpy(o, s + i, ok);
    o += ok;
    i += ok;
    if (i == n) break;
    int k = sr_utf8_seq((const unsigned char *)s + i, n - i);
    i += (size_t)-k;
    memcpy(o, "\xEF\xBF\xBD", 3);
    o += 3;
  }
  return (size_t)(o - out);
}
