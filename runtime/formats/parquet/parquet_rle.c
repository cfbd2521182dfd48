/* RLE / bit-packing hybrid: see parquet_rle.h. */
#include "parquet_rle.h"

#include <string.h>

#include "bytes.h"

int sr_pq_bit_width(uint64_t max_value) {
  int w = 0;
  while (max_value) { w++; max_value >>= 1; }
  return w;
}

static void out_append(sr_pq_rle_encoder *e, const void *p, size_t n) {
  if (!e->failed && sr_buf_append(e->out, p, n) != 0) e->failed = 1;
}

static void out_varint(sr_pq_rle_encoder *e, uint64_t v) {
  uint8_t tmp[SR_VARINT_MAX];
  out_append(e, tmp, (size_t)sr_varint_encode(tmp, v));
}

void sr_pq_rle_init(sr_pq_rle_encoder *e, sr_buf *out, int bit_width) {
  memset(e, 0, sizeof *e);
  e->out = out;
  e->bit_width = bit_width;
  e->header_pos = SIZE_MAX;
}

static void end_bitpacked_run(sr_pq_rle_encoder *e) {
  if (e->header_pos == SIZE_MAX) return;
  if (!e->failed) e->out->data[e->header_pos] = (char)(e->groups << 1 | 1);
  e->header_pos = SIZE_MAX;
  e->groups = 0;
}

static void write_bitpacked_group(sr_pq_rle_encoder *e) {
  if (e->groups >= 63) end_bitpacked_run(e);
  if (e->header_pos == SIZE_MAX) {
    e->header_pos = e->out->len;
    out_append(e, "", 1);  /* the header byte, filled in when the run ends */
  }
  uint8_t packed[32];  /* 8 values of at most 32 bits, LSB first */
  uint64_t acc = 0;
  int bits = 0, n = 0;
  uint64_t mask = e->bit_width >= 32 ? 0xffffffffu : ((uint64_t)1 << e->bit_width) - 1;
  for (int i = 0; i < 8; i++) {
    acc |= ((uint64_t)e->buffered[i] & mask) << bits;
    bits += e->bit_width;
    while (bits >= 8) {
      packed[n++] = (uint8_t)acc;
      acc >>= 8;
      bits -= 8;
    }
  }
  out_append(e, packed, (size_t)e->bit_width);
  e->nbuffered = 0;
  e->repeat = 0;
  e->groups++;
}

static void write_rle_run(sr_pq_rle_encoder *e) {
  end_bitpacked_run(e);
  out_varint(e, (uint64_t)e->repeat << 1);
  uint8_t v[4];
  for (int i = 0; i < 4; i++) v[i] = (uint8_t)(e->prev >> (8 * i));
  out_append(e, v, (size_t)(e->bit_width + 7) / 8);
  e->repeat = 0;
  e->nbuffered = 0;
}

void sr_pq_rle_put(sr_pq_rle_encoder *e, uint32_t value) {
  if (value == e->prev && e->repeat > 0) {
    /* Eight in a row certainly make an RLE run: only count from here on. */
    if (++e->repeat >= 8) return;
  } else {
    if (e->repeat >= 8) write_rle_run(e);
    e->repeat = 1;
    e->prev = value;
  }
  e->buffered[e->nbuffered++] = value;
  if (e->nbuffered == 8) write_bitpacked_group(e);
}

int sr_pq_rle_finish(sr_pq_rle_encoder *e) {
  if (e->repeat >= 8) {
    write_rle_run(e);
  } else if (e->nbuffered > 0) {
    for (int i = e->nbuffered; i < 8; i++) e->buffered[i] = 0;
    write_bitpacked_group(e);
  }
  end_bitpacked_run(e);
  return e->failed ? -1 : 0;
}

/* Unpacks 8 LSB-first values of width bits from in (width bytes). */
static void unpack8(const uint8_t *in, int width, uint32_t *out) {
  uint64_t mask = width >= 32 ? 0xffffffffu : ((uint64_t)1 << width) - 1;
  int bit = 0;
  for (int i = 0; i < 8; i++, bit += width) {
    uint64_t window = 0;
    int first = bit >> 3, last = (bit + width + 7) >> 3;
    for (int b = last - 1; b >= first; b--) window = window << 8 | in[b];
    out[i] = (uint32_t)((window >> (bit & 7)) & mask);
  }
}

int sr_pq_rle_decode(const uint8_t *p, size_t n, int bit_width, uint32_t *out, size_t count) {
  if (bit_width < 0 || bit_width > 32) return -1;
  const uint8_t *end = p + n;
  size_t done = 0;
  size_t value_bytes = (size_t)(bit_width + 7) / 8;
  while (done < count) {
    uint64_t header = 0;
    int shift = 0;
    for (;;) {
      if (p >= end || shift > 63) return -1;
      uint8_t b = *p++;
      header |= (uint64_t)(b & 0x7f) << shift;
      shift += 7;
      if (!(b & 0x80)) break;
    }
    if (header & 1) {
      uint64_t groups = header >> 1;
      for (uint64_t g = 0; g < groups && done < count; g++) {
        uint32_t vals[8];
        if ((size_t)(end - p) < (size_t)bit_width) return -1;
        unpack8(p, bit_width, vals);
        p += bit_width;
        for (int i = 0; i < 8 && done < count; i++) out[done++] = vals[i];
      }
    } else {
      uint64_t run = header >> 1;
      if ((size_t)(end - p) < value_bytes) return -1;
      uint32_t v = 0;
      for (size_t i = 0; i < value_bytes; i++) v |= (uint32_t)p[i] << (8 * i);
      p += value_bytes;
      if (run == 0) return -1;  /* would loop forever */
      for (uint64_t i = 0; i < run && done < count; i++) out[done++] = v;
    }
  }
  return 0;
}

int sr_pq_bitpacked_legacy_decode(const uint8_t *p, size_t n, int bit_width, uint32_t *out,
                                  size_t count, size_t *used) {
  if (bit_width < 0 || bit_width > 32) return -1;
  size_t bytes = (count * (size_t)bit_width + 7) / 8;
  if (bytes > n) return -1;
  size_t bit = 0;
  for (size_t i = 0; i < count; i++) {
    uint32_t v = 0;
    for (int b = 0; b < bit_width; b++, bit++) v = v << 1 | (p[bit >> 3] >> (7 - (bit & 7)) & 1);
    out[i] = v;
  }
  *used = bytes;
  return 0;
}
