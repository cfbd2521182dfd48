/* bytes.h: varints at the edges of each length, what a truncated or overlong varint does,
** zigzag, little-endian loads and stores, and that the hash is spread in its low bits too. */
#include <string.h>

#include "bytes.h"
#include "sr_test.h"

static void roundtrip(uint64_t v, int len) {
  uint8_t b[SR_VARINT_MAX];
  ASSERT_EQ_INT(sr_varint_encode(b, v), len);
  uint64_t got = 0;
  ASSERT_TRUE(sr_varint_get(b, b + len, &got) == b + len);
  ASSERT_TRUE(got == v);
  ASSERT_TRUE(sr_varint_get(b, b + len - 1, &got) == NULL); /* cut short by one byte */
}

SR_TEST(varint_lengths) {
  roundtrip(0, 1);
  roundtrip(127, 1);
  roundtrip(128, 2);
  roundtrip(300, 2);
  roundtrip(16383, 2);
  roundtrip(16384, 3);
  roundtrip(UINT64_C(1) << 63, 10);
  roundtrip(UINT64_MAX, 10);
  uint8_t b[SR_VARINT_MAX];
  sr_varint_encode(b, 300);
  ASSERT_EQ_INT(b[0], 0xac);  /* protobuf's example: 300 is ac 02 */
  ASSERT_EQ_INT(b[1], 0x02);
}

SR_TEST(varint_refused) {
  uint8_t eleven[11];
  memset(eleven, 0x80, sizeof eleven);
  uint64_t v = 7;
  ASSERT_TRUE(sr_varint_get(eleven, eleven + sizeof eleven, &v) == NULL);
  ASSERT_TRUE(sr_varint_get(eleven, eleven, &v) == NULL);  /* empty input */
  ASSERT_TRUE(v == 7);
}

SR_TEST(varint_put) {
  sr_buf b = {0};
  ASSERT_EQ_INT(sr_varint_put(&b, 1), 0);
  ASSERT_EQ_INT(sr_varint_put(&b, UINT64_MAX), 0);
  ASSERT_EQ_INT(b.len, 11);
  uint64_t x = 0, y = 0;
  const uint8_t *p = (const uint8_t *)b.data, *end = p + b.len;
  p = sr_varint_get(p, end, &x);
  ASSERT_TRUE(p && sr_varint_get(p, end, &y) == end);
  ASSERT_TRUE(x == 1 && y == UINT64_MAX);
  sr_buf_free(&b);
}

SR_TEST(zigzag) {
  ASSERT_TRUE(sr_zigzag(0) == 0 && sr_zigzag(-1) == 1 && sr_zigzag(1) == 2 && sr_zigzag(-2) == 3);
  ASSERT_TRUE(sr_zigzag(INT64_MAX) == UINT64_MAX - 1 && sr_zigzag(INT64_MIN) == UINT64_MAX);
  const int64_t vs[] = {0, 1, -1, 63, -64, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) ASSERT_TRUE(sr_unzigzag(sr_zigzag(vs[i])) == vs[i]);
}

SR_TEST(little_endian) {
  uint8_t b[8];
  sr_store_le64(b, UINT64_C(0x0807060504030201));
  for (int i = 0; i < 8; i++) ASSERT_EQ_INT(b[i], i + 1);
  ASSERT_TRUE(sr_load_le64(b) == UINT64_C(0x0807060504030201));
  ASSERT_TRUE(sr_load_le32(b) == 0x04030201u);
  ASSERT_TRUE(sr_load_le(b, 3) == 0x030201u);
  sr_store_le32(b, 0xdeadbeefu);
  ASSERT_EQ_INT(b[0], 0xef);
  ASSERT_EQ_INT(b[3], 0xde);
  ASSERT_EQ_INT(b[4], 5);  /* the bytes after the four are not touched */
}

/* Keys that differ in one byte, by length or only in their last partial word hash apart, and
** keys that differ only in their high bits spread over 256 buckets by the hash's low 8 bits
** (a partitioner takes the low bits): about 64 each, none empty, none crowded. */
SR_TEST(hash_spread) {
  ASSERT_TRUE(sr_hash64("abc", 3) == sr_hash64("abc", 3));
  ASSERT_TRUE(sr_hash64("abc", 3) != sr_hash64("abd", 3));
  ASSERT_TRUE(sr_hash64("", 0) != sr_hash64("\0", 1));
  ASSERT_TRUE(sr_hash64("12345678x", 9) != sr_hash64("12345678y", 9));
  int buckets[256] = {0};
  for (uint32_t i = 0; i < 256 * 64; i++) {
    uint8_t key[8];
    sr_store_le64(key, (uint64_t)i << 48);
    buckets[sr_hash64(key, sizeof key) & 255]++;
  }
  for (int i = 0; i < 256; i++) ASSERT_TRUE(buckets[i] > 16 && buckets[i] < 128);
}

int main(void) {
  return SR_RUN(varint_lengths, varint_refused, varint_put, zigzag, little_endian, hash_spread);
}
