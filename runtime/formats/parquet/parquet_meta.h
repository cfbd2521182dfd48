/*
** Parquet metadata: the parts of parquet.thrift (apache/parquet-format) that the writer fills
** and the reader needs, as plain C structs, with their Thrift compact encoding and decoding.
** Enum values are the ones in parquet.thrift. Fields the reader does not use are skipped on
** decode; fields the writer does not know are never written.
*/
#ifndef SR_PARQUET_META_H
#define SR_PARQUET_META_H
#include <stddef.h>
#include <stdint.h>
#include "arena.h"
#include "buf.h"
#include "sr_error.h"

enum { /* Type */
  SR_PQ_BOOLEAN = 0, SR_PQ_INT32 = 1, SR_PQ_INT64 = 2, SR_PQ_INT96 = 3, SR_PQ_FLOAT = 4,
  SR_PQ_DOUBLE = 5, SR_PQ_BYTE_ARRAY = 6, SR_PQ_FIXED_LEN_BYTE_ARRAY = 7
};
enum { SR_PQ_REQUIRED = 0, SR_PQ_OPTIONAL = 1, SR_PQ_REPEATED = 2 }; /* FieldRepetitionType */
enum { /* ConvertedType */
  SR_PQ_CT_UTF8 = 0, SR_PQ_CT_MAP = 1, SR_PQ_CT_MAP_KEY_VALUE = 2, SR_PQ_CT_LIST = 3,
  SR_PQ_CT_ENUM = 4, SR_PQ_CT_DECIMAL = 5, SR_PQ_CT_DATE = 6, SR_PQ_CT_TIME_MILLIS = 7,
  SR_PQ_CT_TIME_MICROS = 8, SR_PQ_CT_TIMESTAMP_MILLIS = 9, SR_PQ_CT_TIMESTAMP_MICROS = 10,
  SR_PQ_CT_UINT_8 = 11, SR_PQ_CT_UINT_16 = 12, SR_PQ_CT_UINT_32 = 13, SR_PQ_CT_UINT_64 = 14,
  SR_PQ_CT_INT_8 = 15, SR_PQ_CT_INT_16 = 16, SR_PQ_CT_INT_32 = 17, SR_PQ_CT_INT_64 = 18,
  SR_PQ_CT_JSON = 19, SR_PQ_CT_BSON = 20, SR_PQ_CT_INTERVAL = 21
};
enum { /* LogicalType union member ids */
  SR_PQ_LT_NONE = 0, SR_PQ_LT_STRING = 1, SR_PQ_LT_MAP = 2, SR_PQ_LT_LIST = 3, SR_PQ_LT_ENUM = 4,
  SR_PQ_LT_DECIMAL = 5, SR_PQ_LT_DATE = 6, SR_PQ_LT_TIME = 7, SR_PQ_LT_TIMESTAMP = 8,
  SR_PQ_LT_INTEGER = 10, SR_PQ_LT_UNKNOWN = 11, SR_PQ_LT_JSON = 12, SR_PQ_LT_BSON = 13,
  SR_PQ_LT_UUID = 14
};
enum { SR_PQ_UNIT_MILLIS = 1, SR_PQ_UNIT_MICROS = 2, SR_PQ_UNIT_NANOS = 3 }; /* TimeUnit */
enum { /* Encoding */
  SR_PQ_ENC_PLAIN = 0, SR_PQ_ENC_PLAIN_DICTIONARY = 2, SR_PQ_ENC_RLE = 3,
  SR_PQ_ENC_BIT_PACKED = 4, SR_PQ_ENC_DELTA_BINARY_PACKED = 5,
  SR_PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6, SR_PQ_ENC_DELTA_BYTE_ARRAY = 7,
  SR_PQ_ENC_RLE_DICTIONARY = 8, SR_PQ_ENC_BYTE_STREAM_SPLIT = 9
};
enum { /* PageType */
  SR_PQ_PAGE_DATA = 0, SR_PQ_PAGE_INDEX = 1, SR_PQ_PAGE_DICTIONARY = 2, SR_PQ_PAGE_DATA_V2 = 3
};

typedef struct sr_pq_schema_element {
  char *name;
  int type;          /* physical type; -1 for a group */
  int type_length;   /* FIXED_LEN_BYTE_ARRAY width */
  int repetition;    /* -1 for the root */
  int num_children;  /* 0 for a leaf */
  int converted;     /* ConvertedType, -1 when absent */
  int scale, precision;
  int logical;       /* LogicalType member, SR_PQ_LT_NONE when absent */
  int time_unit;     /* TIMESTAMP, TIME */
  int utc;           /* TIMESTAMP, TIME: isAdjustedToUTC */
  int int_bits, int_signed; /* INTEGER */
} sr_pq_schema_element;

typedef struct sr_pq_statistics {
  int has_min_max;
  const void *min_value, *max_value;  /* PLAIN bytes (byte arrays without the length) */
  size_t min_len, max_len;
  int has_null_count;
  int64_t null_count;
} sr_pq_statistics;

typedef struct sr_pq_column_meta {
  int type;
  int nencodings;
  int encodings[4];
  int npath;
  char **path;                     /* path_in_schema */
  int codec;
  int64_t num_values;
  int64_t total_uncompressed_size, total_compressed_size;
  int64_t data_page_offset;
  int64_t dictionary_page_offset;  /* -1 when absent */
  sr_pq_statistics stats;
} sr_pq_column_meta;

typedef struct sr_pq_row_group {
  int ncolumns;
  sr_pq_column_meta *columns;
  int64_t total_byte_size, num_rows, file_offset, total_compressed_size;
} sr_pq_row_group;

typedef struct sr_pq_file_meta {
  int32_t version;
  int nschema;
  sr_pq_schema_element *schema;  /* depth-first, [0] is the root */
  int64_t num_rows;
  int nrow_groups;
  sr_pq_row_group *row_groups;
  const char *created_by;        /* NULL when absent */
} sr_pq_file_meta;

typedef struct sr_pq_page_header {
  int type;
  int32_t uncompressed_size, compressed_size;
  int32_t num_values;            /* data v1/v2 and dictionary pages */
  int encoding;                  /* of the values */
  int def_encoding, rep_encoding;              /* v1 */
  int32_t num_nulls, num_rows;                 /* v2 */
  int32_t def_levels_len, rep_levels_len;      /* v2 */
  int is_compressed;                           /* v2, default 1 */
} sr_pq_page_header;

/* Appends the footer's FileMetaData (with a TYPE_ORDER column order per leaf, so readers trust
** min_value/max_value). Returns 0, or -1 when out of memory. Does not keep pointers. */
int sr_pq_meta_encode(const sr_pq_file_meta *m, sr_buf *out);
/* Decodes a footer. Names, arrays and strings are allocated in `a` (the caller's, which owns
** them); statistics are not decoded. Returns SR_OK or SR_ERROR (malformed footer) with *err. */
sr_status sr_pq_meta_decode(const void *p, size_t n, sr_arena *a, sr_pq_file_meta *m,
                            sr_error **err);
/* Appends a page header. Returns 0, or -1 when out of memory. */
int sr_pq_page_header_encode(const sr_pq_page_header *h, sr_buf *out);
/* Decodes a page header at p (at most n bytes) and sets *used to its length. Returns 0, or -1
** when it is malformed or truncated. Does not allocate. */
int sr_pq_page_header_decode(const void *p, size_t n, sr_pq_page_header *h, size_t *used);

#endif
