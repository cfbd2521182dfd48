/* Page compression: see parquet_codec.h. */
#include "parquet_codec.h"

#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

const char *sr_pq_codec_name(int codec) {
  switch (codec) {
  case SR_PQ_UNCOMPRESSED: return "uncompressed";
  case SR_PQ_SNAPPY: return "snappy";
  case SR_PQ_GZIP: return "gzip";
  case SR_PQ_ZSTD: return "zstd";
  default: return "?";
  }
}

static sr_status gzip_compress(const void *src, size_t n, sr_buf *out, sr_error **err) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return sr_error_set(err, SR_ERROR, "gzip: cannot initialise the compressor");
  sr_status st = SR_OK;
  size_t bound = deflateBound(&zs, (uLong)n);
  if (sr_buf_reserve(out, bound) != 0) {
    st = sr_error_set(err, SR_ERROR, "out of memory compressing a page");
    goto done;
  }
  zs.next_in = (Bytef *)src;
  zs.avail_in = (uInt)n;
  zs.next_out = (Bytef *)out->data + out->len;
  zs.avail_out = (uInt)bound;
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
    st = sr_error_set(err, SR_ERROR, "gzip: compression failed");
    goto done;
  }
  out->len += zs.total_out;
done:
  deflateEnd(&zs);
  return st;
}

sr_status sr_pq_compress(int codec, const void *src, size_t n, sr_buf *out, sr_error **err) {
  switch (codec) {
  case SR_PQ_UNCOMPRESSED:
    if (sr_buf_append(out, src, n) != 0)
      return sr_error_set(err, SR_ERROR, "out of memory compressing a page");
    return SR_OK;
  case SR_PQ_SNAPPY: {
    size_t cap = snappy_max_compressed_length(n);
    if (sr_buf_reserve(out, cap) != 0)
      return sr_error_set(err, SR_ERROR, "out of memory compressing a page");
    if (snappy_compress(src, n, out->data + out->len, &cap) != SNAPPY_OK)
      return sr_error_set(err, SR_ERROR, "snappy: compression failed");
    out->len += cap;
    return SR_OK;
  }
  case SR_PQ_ZSTD: {
    size_t cap = ZSTD_compressBound(n);
    if (sr_buf_reserve(out, cap) != 0)
      return sr_error_set(err, SR_ERROR, "out of memory compressing a page");
    size_t r = ZSTD_compress(out->data + out->len, cap, src, n, ZSTD_CLEVEL_DEFAULT);
    if (ZSTD_isError(r)) return sr_error_set(err, SR_ERROR, "zstd: %s", ZSTD_getErrorName(r));
    out->len += r;
    return SR_OK;
  }
  case SR_PQ_GZIP:
    return gzip_compress(src, n, out, err);
  default:
    return sr_error_set(err, SR_ERROR, "unsupported Parquet codec %d", codec);
  }
}

/* gzip or zlib data, possibly several concatenated gzip members (some writers emit them). */
static sr_status gzip_decompress(const void *src, size_t n, void *dst, size_t dst_len,
                                 sr_error **err) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 15 + 32) != Z_OK)
    return sr_error_set(err, SR_ERROR, "gzip: cannot initialise the decompressor");
  sr_status st = SR_OK;
  zs.next_in = (Bytef *)src;
  zs.avail_in = (uInt)n;
  zs.next_out = dst;
  zs.avail_out = (uInt)dst_len;
  for (;;) {
    int rc = inflate(&zs, Z_FINISH);
    if (rc == Z_STREAM_END && zs.avail_in > 0 && zs.avail_out > 0) {
      if (inflateReset(&zs) != Z_OK) break;
      continue;
    }
    if (rc != Z_STREAM_END) st = sr_error_set(err, SR_ERROR, "gzip: corrupt page data");
    break;
  }
  if (st == SR_OK && zs.total_out != dst_len)
    st = sr_error_set(err, SR_ERROR, "gzip: page has %lu bytes, expected %zu", zs.total_out, dst_len);
  inflateEnd(&zs);
  return st;
}

sr_status sr_pq_decompress(int codec, const void *src, size_t n, void *dst, size_t dst_len,
                           sr_error **err) {
  switch (codec) {
  case SR_PQ_UNCOMPRESSED:
    if (n != dst_len)
      return sr_error_set(err, SR_ERROR, "uncompressed page has %zu bytes, expected %zu", n, dst_len);
    memcpy(dst, src, n);
    return SR_OK;
  case SR_PQ_SNAPPY: {
    size_t len = 0;
    if (snappy_uncompressed_length(src, n, &len) != SNAPPY_OK || len != dst_len)
      return sr_error_set(err, SR_ERROR, "snappy: corrupt page (length %zu, expected %zu)", len, dst_len);
    if (snappy_uncompress(src, n, dst, &len) != SNAPPY_OK)
      return sr_error_set(err, SR_ERROR, "snappy: corrupt page data");
    return SR_OK;
  }
  case SR_PQ_ZSTD: {
    size_t r = ZSTD_decompress(dst, dst_len, src, n);
    if (ZSTD_isError(r)) return sr_error_set(err, SR_ERROR, "zstd: %s", ZSTD_getErrorName(r));
    if (r != dst_len)
      return sr_error_set(err, SR_ERROR, "zstd: page has %zu bytes, expected %zu", r, dst_len);
    return SR_OK;
  }
  case SR_PQ_GZIP:
    return gzip_decompress(src, n, dst, dst_len, err);
  default:
    return sr_error_set(err, SR_ERROR, "unsupported Parquet compression codec %d (%s)", codec,
                        codec == 3 ? "LZO" : codec == 4 ? "Brotli" : codec == 5 || codec == 7 ? "LZ4" : "unknown");
  }
}
