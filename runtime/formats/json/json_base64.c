/*
** Base64 of binary values in JSON and CSV text (json_rows.h).
*/
#include <stdint.h>

#include "json_rows.h"

/* ------------------------------------------------------------------------------------------ */
/* Base64                                                                                       */

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sr__base64_encode(sr_buf *out, const void *p, size_t n) {
  const unsigned char *s = p;
  if (sr_buf_reserve(out, (n + 2) / 3 * 4) != 0) return -1;
  char *o = out->data + out->len;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
    *o++ = b64_chars[v >> 18];
    *o++ = b64_chars[v >> 12 & 63];
    *o++ = b64_chars[v >> 6 & 63];
    *o++ = b64_chars[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
    *o++ = b64_chars[v >> 18];
    *o++ = b64_chars[v >> 12 & 63];
    *o++ = i + 1 < n ? b64_chars[v >> 6 & 63] : '=';
    *o++ = '=';
  }
  out->len = (size_t)(o - out->data);
  out->data[out->len] = '\0';
  return 0;
}

static int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int sr__base64_decode(sr_buf *out, const char *s, size_t n) {
  out->len = 0;
  while (n > 0 && s[n - 1] == '=') n--;
  if (n % 4 == 1 || sr_buf_reserve(out, n / 4 * 3 + 3) != 0) return -1;
  unsigned char *o = (unsigned char *)out->data;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64_value((unsigned char)s[i]);
    if (v < 0) return -1;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *o++ = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  out->len = (size_t)((char *)o - out->data);
  out->data[out->len] = '\0';
  return 0;
}
