/*
** Bytes: the encodings the on-disk formats share, in one place. Varints are LEB128 (7 bits a
** byte, low group first, the high bit set on all but the last: protobuf's, Thrift compact's and
** Parquet's ULEB128, and the state store's and packed values' lengths); zigzag maps signed to
** unsigned so that small negative numbers stay short. Little-endian loads and stores go byte by
** byte, so they are right on any host (compilers turn them into one move on x86 and arm64).
** sr_hash64 is the one hash of byte strings for in-memory tables.
**
** Everything here is static inline: these run per value in decoders. Nothing allocates except
** sr_varint_put, which appends to an sr_buf.
*/
#ifndef SR_BYTES_H
#define SR_BYTES_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

#define SR_VARINT_MAX 10 /* bytes of the longest varint: a 64-bit value */

/* Writes v as a varint at out (room for SR_VARINT_MAX bytes); returns the bytes written. */
static inline int sr_varint_encode(uint8_t *out, uint64_t v) {
  int n = 0;
  while (v >= 0x80) {
    out[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  out[n++] = (uint8_t)v;
  return n;
}

/* Appends v as a varint to b. Returns 0, or -1 when out of memory (b unchanged). */
static inline int sr_varint_put(sr_buf *b, uint64_t v) {
  uint8_t tmp[SR_VARINT_MAX];
  return sr_buf_append(b, tmp, (size_t)sr_varint_encode(tmp, v));
}

/* Reads a varint from [p, end) into *v. Returns the byte after it, or NULL when the input ends
** inside it or it runs past 10 bytes (not a varint; *v is then unset). */
static inline const uint8_t *sr_varint_get(const uint8_t *p, const uint8_t *end, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; p < end && shift < 64; shift += 7) {
    uint8_t c = *p++;
    r |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *v = r;
      return p;
    }
  }
  return NULL;
}

static inline uint64_t sr_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t sr_unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* The low n bytes of v at p, little-endian (n <= 8). */
static inline void sr_store_le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}
/* n little-endian bytes at p (n <= 8), zero-extended. */
static inline uint64_t sr_load_le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}
static inline void sr_store_le32(uint8_t *p, uint32_t v) { sr_store_le(p, v, 4); }
static inline void sr_store_le64(uint8_t *p, uint64_t v) { sr_store_le(p, v, 8); }
static inline uint32_t sr_load_le32(const uint8_t *p) { return (uint32_t)sr_load_le(p, 4); }
static inline uint64_t sr_load_le64(const uint8_t *p) { return sr_load_le(p, 8); }

/* A 64-bit hash of n bytes: multiply-xorshift over 8-byte words, finished with murmur3's
** fmix64 so that every output bit depends on every input bit (tables take their slot from the
** upper bits, a partitioner would take it from the lower ones). Not for anything on disk: the
** words are read in host byte order. */
static inline uint64_t sr_hash64(const void *p, size_t n) {
  const unsigned char *s = p;
  uint64_t h = 0x9E3779B97F4A7C15u ^ ((uint64_t)n * 0xFF51AFD7ED558CCDu);
  for (; n >= 8; s += 8, n -= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = (h ^ w) * 0x9FB21C651E98DF25u;
    h ^= h >> 29;
  }
  if (n > 0) {
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0x9FB21C651E98DF25u;
  }
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDu;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53u;
  h ^= h >> 33;
  return h;
}

#endif
