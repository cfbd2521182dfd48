/*
** sr_pq_chunk: one leaf column's data for the row group being written. The writer shreds rows
** into levels and values here; at the end of the row group the chunk encodes itself into pages
** (an optional dictionary page, then data pages) appended to the file, and fills its
** ColumnMetaData with statistics.
**
** Values are kept PLAIN (booleans one byte each) or, while dictionary encoding is on, as indices
** into a dictionary of distinct PLAIN values. A dictionary that grows past dict_limit bytes is
** abandoned for the rest of the row group (its indices are expanded back to PLAIN), and at the
** end one that would not be smaller than PLAIN is dropped too.
*/
#ifndef SR_PARQUET_COLUMN_H
#define SR_PARQUET_COLUMN_H
#include <stddef.h>
#include <stdint.h>
#include "arena.h"
#include "buf.h"
#include "parquet_meta.h"
#include "parquet_schema.h"
#include "sr_error.h"
#include "value.h"

/* A dictionary hash slot. key is the value itself for 4- and 8-byte values (a lookup then
** never touches the entries: one cache miss, not two) and the value's hash otherwise. */
typedef struct sr_pq_dict_slot {
  uint64_t key;
  uint32_t index1;           /* entry index + 1; 0 is an empty slot */
} sr_pq_dict_slot;

typedef struct sr_pq_chunk {
  const sr_pq_leaf *leaf;
  int width;                 /* PLAIN bytes of a fixed-width value; 0 for BYTE_ARRAY */
  uint8_t *def, *rep;        /* levels, kept only when the leaf's max level is > 0 */
  size_t nlevels, levels_cap;
  size_t nvalues;            /* non-null values */
  int64_t plain_bytes;       /* what the values take PLAIN */
  sr_buf plain;
  int dict_on;               /* values go to the dictionary */
  sr_buf dict;               /* distinct values, PLAIN */
  uint32_t *dict_off;        /* BYTE_ARRAY: offset of entry i's length prefix in dict */
  uint32_t ndict, dict_off_cap;
  sr_pq_dict_slot *slots;    /* open-addressing hash table of the entries */
  uint32_t nslots;
  uint32_t *indices;         /* one per non-null value while dict_on */
  size_t indices_cap;
  int failed;                /* out of memory: the writer refuses further work */
} sr_pq_chunk;

/* Per-file settings for encoding chunks. */
typedef struct sr_pq_chunk_options {
  int codec;
  int dictionary;            /* try dictionary encoding */
  int64_t dict_limit;        /* bytes of distinct values before the dictionary is abandoned */
  int64_t page_bytes;        /* target size of a data page's values */
  int page_v2;               /* DATA_PAGE_V2 instead of DATA_PAGE */
} sr_pq_chunk_options;

/* Statistics of encoded values in PLAIN form (byte arrays without the length). */
typedef struct sr_pq_minmax {
  int has;
  const uint8_t *min, *max;
  size_t min_len, max_len;
} sr_pq_minmax;

void sr_pq_chunk_init(sr_pq_chunk *c, const sr_pq_leaf *leaf, int dictionary);
/* Releases the chunk's memory. Accepts a zeroed chunk. */
void sr_pq_chunk_free(sr_pq_chunk *c);
/* Appends one level pair (rep is ignored when the leaf is not repeated). */
void sr_pq_chunk_level(sr_pq_chunk *c, int rep, int def);
/* Appends a value already checked against the leaf's type (see the writer's validation). */
void sr_pq_chunk_value(sr_pq_chunk *c, const sr_value *v, int64_t dict_limit);
/* Bytes the chunk holds so far, to decide when a row group is full. */
size_t sr_pq_chunk_mem(const sr_pq_chunk *c);
/* Encodes the chunk's pages at the end of file (its length is the file offset), fills *meta
** (path and statistics copied into meta_arena) and *mm (the chunk's min/max, also in
** meta_arena), then empties the chunk for the next row group. Returns SR_OK or SR_ERROR. */
sr_status sr_pq_chunk_flush(sr_pq_chunk *c, const sr_pq_chunk_options *o, sr_buf *file,
                            sr_arena *meta_arena, sr_pq_column_meta *meta, sr_pq_minmax *mm,
                            sr_error **err);
/* Compares two PLAIN values of the leaf's physical type in its sort order (signed integers,
** floats by value, byte arrays unsigned, decimals signed). <0, 0, >0. */
int sr_pq_compare(const sr_pq_leaf *leaf, const uint8_t *a, size_t alen, const uint8_t *b,
                  size_t blen);

#endif
