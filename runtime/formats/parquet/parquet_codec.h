/*
** Page compression for Parquet: snappy (libsnappy's C API), zstd (libzstd), gzip (zlib).
** Codec numbers are parquet.thrift's CompressionCodec values, so they go into the footer as-is.
*/
#ifndef SR_PARQUET_CODEC_H
#define SR_PARQUET_CODEC_H
#include <stddef.h>
#include "buf.h"
#include "sr_error.h"

typedef enum sr_pq_codec {
  SR_PQ_UNCOMPRESSED = 0, SR_PQ_SNAPPY = 1, SR_PQ_GZIP = 2, SR_PQ_ZSTD = 6
} sr_pq_codec;

/* The codec's name ("snappy"), or "?" for a codec we do not support. Static. */
const char *sr_pq_codec_name(int codec);
/* Appends n bytes of src compressed with codec to out. Returns SR_OK, or SR_ERROR with *err
** (out of memory, unknown codec); out keeps what it had before the call. */
sr_status sr_pq_compress(int codec, const void *src, size_t n, sr_buf *out, sr_error **err);
/* Decompresses src into exactly dst_len bytes at dst. Returns SR_OK, or SR_ERROR with *err
** when the data is corrupt, has another length, or the codec is unsupported (LZO, Brotli,
** LZ4). Does not allocate beyond the codec's own state. */
sr_status sr_pq_decompress(int codec, const void *src, size_t n, void *dst, size_t dst_len,
                           sr_error **err);

#endif
