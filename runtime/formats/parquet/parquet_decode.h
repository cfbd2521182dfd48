/*
** Decoding one column chunk for the reader: its pages (dictionary, data v1 and v2; any codec
** of parquet_codec.h) into definition/repetition levels and the non-null values as sr_values.
** Value encodings: PLAIN, PLAIN_DICTIONARY / RLE_DICTIONARY, RLE (booleans),
** DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and BYTE_STREAM_SPLIT.
** Physical values become row values as the leaf's conversion says (timestamps to ms, decimals
** to doubles, INT96 to ms).
*/
#ifndef SR_PARQUET_DECODE_H
#define SR_PARQUET_DECODE_H
#include <stddef.h>
#include <stdint.h>
#include "arena.h"
#include "parquet_meta.h"
#include "parquet_schema.h"
#include "sr_error.h"
#include "value.h"

typedef struct sr_pq_column_data {
  uint8_t *def, *rep;    /* NULL when the leaf's max level is 0 */
  size_t nlevels, levels_cap;
  sr_value *values;      /* the non-null values in order */
  size_t nvalues, values_cap;
} sr_pq_column_data;

/* Appends the levels and values of the chunk described by meta (file holds the whole file).
** Strings and binaries point into page buffers allocated in `a`, so they live as long as the
** arena. Returns SR_OK, or SR_ERROR with *err naming what is malformed or unsupported. */
sr_status sr_pq_decode_chunk(const uint8_t *file, size_t file_len, const sr_pq_column_meta *meta,
                             const sr_pq_leaf *leaf, sr_arena *a, sr_pq_column_data *out,
                             sr_error **err);
/* Empties the data (keeps nothing). Accepts a zeroed struct. */
void sr_pq_column_data_free(sr_pq_column_data *d);

#endif
