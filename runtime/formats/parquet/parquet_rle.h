/*
** Parquet's RLE / bit-packing hybrid (Encodings.md), used for definition and repetition levels,
** dictionary indices and RLE booleans:
**
**   run := (varint(count << 1) value-in-ceil(width/8)-bytes)        an RLE run
**        | (varint(groups << 1 | 1) groups*8 values bit-packed LSB-first)  a bit-packed run
**
** The encoder follows parquet-mr's: values are buffered in groups of 8; eight equal values in a
** row turn into an RLE run, anything else is bit-packed, at most 63 groups per bit-packed run
** so its header is one byte (reserved before the groups are known).
*/
#ifndef SR_PARQUET_RLE_H
#define SR_PARQUET_RLE_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/* Bits needed for values 0..max_value (0 for 0). */
int sr_pq_bit_width(uint64_t max_value);

typedef struct sr_pq_rle_encoder {
  sr_buf *out;
  int bit_width;
  uint32_t buffered[8];
  int nbuffered;
  uint32_t prev;
  int64_t repeat;
  size_t header_pos;  /* SIZE_MAX when no bit-packed run is open */
  int groups;
  int failed;         /* set on out of memory; later calls do nothing */
} sr_pq_rle_encoder;

/* Starts appending to out. Does not allocate. */
void sr_pq_rle_init(sr_pq_rle_encoder *e, sr_buf *out, int bit_width);
void sr_pq_rle_put(sr_pq_rle_encoder *e, uint32_t value);
/* Flushes the last run (padding a partial group with zeros). Returns 0, or -1 when out of memory. */
int sr_pq_rle_finish(sr_pq_rle_encoder *e);

/* Decodes exactly `count` values from p[0..n) into out. Returns 0, or -1 when the input is
** malformed or ends early (extra trailing bytes are allowed: pages pad). Does not allocate. */
int sr_pq_rle_decode(const uint8_t *p, size_t n, int bit_width, uint32_t *out, size_t count);
/* The deprecated BIT_PACKED level encoding (MSB-first, no header): reads count values and sets
** *used to the bytes consumed. Returns 0, or -1 when the input is too short. */
int sr_pq_bitpacked_legacy_decode(const uint8_t *p, size_t n, int bit_width, uint32_t *out,
                                  size_t count, size_t *used);

#endif
