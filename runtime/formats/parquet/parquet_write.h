/*
** sr_pq_writer: rows in, one whole Parquet file's bytes out.
**
** Layout written: "PAR1", row groups (one column chunk per leaf: an optional dictionary page,
** then data pages of about page_bytes cut at row boundaries), the FileMetaData footer, its
** length, "PAR1". Levels use the RLE/bit-packed hybrid; values are PLAIN or RLE_DICTIONARY.
** Column statistics (min_value, max_value, null_count) go into each ColumnMetaData, and the
** file-wide ones are available after finish for Delta's add.stats.
**
** Types: long/int/short/byte -> INT64/INT32 with INT(bits, signed); double; float; boolean;
** string -> BYTE_ARRAY STRING; binary -> BYTE_ARRAY; timestamp -> INT64
** TIMESTAMP(isAdjustedToUTC=true, MICROS) from milliseconds; date -> INT32 DATE; decimal ->
** INT32/INT64/FIXED_LEN_BYTE_ARRAY DECIMAL (from a double or an integer value); struct -> group;
** array -> 3-level LIST; map -> MAP with a key_value group (a map value is an SR_VAL_LIST of
** SR_VAL_STRUCT {key, value}; keys must not be null).
**
** Row values: a long/int/short/byte/date/timestamp column takes SR_VAL_INT (range-checked);
** double/float/decimal take SR_VAL_DOUBLE or SR_VAL_INT; string/binary take SR_VAL_STRING or
** SR_VAL_BINARY; boolean takes SR_VAL_BOOL; struct SR_VAL_STRUCT in schema order; array and
** map SR_VAL_LIST. Anything else is refused with the column's name and the row is not added.
*/
#ifndef SR_PARQUET_WRITE_H
#define SR_PARQUET_WRITE_H
#include <stdint.h>
#include "buf.h"
#include "parquet_codec.h"
#include "schema.h"
#include "sr_error.h"
#include "value.h"

typedef struct sr_pq_write_options {
  int64_t row_group_bytes; /* buffered bytes that close a row group; default 128 MiB */
  sr_pq_codec codec;       /* default SR_PQ_SNAPPY */
  int dictionary;          /* 1 (default): dictionary-encode when it pays, PLAIN fallback */
  int64_t page_bytes;      /* target data page size; default 1 MiB */
  int data_page_v2;        /* 1: write DATA_PAGE_V2 pages (default 0: v1, what every reader takes) */
} sr_pq_write_options;

typedef struct sr_pq_writer sr_pq_writer;

/* File-wide statistics of one leaf column, available after sr_pq_writer_finish. */
typedef struct sr_pq_column_stats {
  int depth;
  const char *const *names; /* sr_schema names from the top-level field down to the leaf
                            ** (array elements are "element", map entries "key"/"value") */
  sr_type type;             /* the leaf's type */
  int in_list;              /* under an array or map: Delta keeps no stats for such columns */
  int64_t null_count;       /* null leaf values (for in_list: null or empty entries) */
  int has_min_max;          /* 0 when every value was null or NaN, and for binary columns */
  sr_value min, max;        /* typed as a row value: timestamps in ms, decimals as doubles;
                            ** strings cut to 32 characters, max then rounded up so it stays
                            ** an upper bound. Point into the writer: valid until it is freed. */
} sr_pq_column_stats;

/* Fills o with the defaults above. */
void sr_pq_write_options_init(sr_pq_write_options *o);
/* A writer for rows of `schema` (copied). o may be NULL for the defaults. Returns NULL and sets
** *err when the schema cannot be written as Parquet or the options are invalid; allocates. */
sr_pq_writer *sr_pq_writer_new(const sr_schema *schema, const sr_pq_write_options *o, sr_error **err);
/* Adds one row: an SR_VAL_STRUCT with one value per schema field (the writer copies what it
** needs). A row that does not fit the schema returns SR_ERROR and is not added; the writer
** stays usable. Out of memory returns SR_ERROR and the writer refuses all later calls. */
sr_status sr_pq_writer_add_row(sr_pq_writer *w, const sr_value *row, sr_error **err);
/* Rows added so far. */
int64_t sr_pq_writer_num_rows(const sr_pq_writer *w);
/* Ends the file and appends its bytes to file_bytes (taking the writer's buffer when
** file_bytes is empty, so no copy). Returns SR_OK or SR_ERROR; the writer accepts no rows after. */
sr_status sr_pq_writer_finish(sr_pq_writer *w, sr_buf *file_bytes, sr_error **err);
/* After finish: the number of leaf columns and the statistics of leaf i (depth-first schema
** order), owned by the writer; NULL before finish or when i is out of range. */
int sr_pq_writer_stats_count(const sr_pq_writer *w);
const sr_pq_column_stats *sr_pq_writer_stats(const sr_pq_writer *w, int i);
/* Accepts NULL. */
void sr_pq_writer_free(sr_pq_writer *w);

#endif
