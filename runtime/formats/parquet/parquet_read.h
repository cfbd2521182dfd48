/*
** sr_pq_reader: reads a Parquet file into rows (sr_values), as written by Spark/parquet-mr,
** Arrow, DuckDB or our writer.
**
** Schema mapping (file -> sr_schema): BOOLEAN boolean; INT32 int (DATE date, INT_8/INT(8) byte,
** INT_16 short, UINT_8 short, UINT_16 int, UINT_32 long); INT64 long (TIMESTAMP* / INT96
** timestamp in ms: MILLIS/MICROS/NANOS floored to ms); FLOAT float; DOUBLE double; BYTE_ARRAY
** string when annotated UTF8/STRING/ENUM/JSON, else binary; FIXED_LEN_BYTE_ARRAY binary;
** DECIMAL on any of them decimal(precision, scale) with the value as the nearest double; groups
** struct; LIST (3-level, legacy 2-level) and bare repeated fields array; MAP/MAP_KEY_VALUE map
** (a value is an SR_VAL_LIST of SR_VAL_STRUCT {key, value}). Nullable = OPTIONAL.
*/
#ifndef SR_PARQUET_READ_H
#define SR_PARQUET_READ_H
#include <stdint.h>
#include "arena.h"
#include "schema.h"
#include "sr_error.h"
#include "value.h"

typedef struct sr_pq_reader sr_pq_reader;

/* Opens a file and reads its footer and schema (the file is mapped, not read). Returns NULL and
** sets *err when it cannot be opened (SR_ERROR; the message names the path) or is not a
** Parquet file we can read (encrypted footer, unknown physical type...). */
sr_pq_reader *sr_pq_reader_open(const char *path, sr_error **err);
/* The file's schema, owned by the reader. */
const sr_schema *sr_pq_reader_schema(const sr_pq_reader *r);
int64_t sr_pq_reader_num_rows(const sr_pq_reader *r);
int sr_pq_reader_num_row_groups(const sr_pq_reader *r);
/* The footer's created_by ("parquet-mr version 1.12.3 ..."), or NULL. Owned by the reader. */
const char *sr_pq_reader_created_by(const sr_pq_reader *r);
/* Reads every row: *rows becomes an array of *nrows SR_VAL_STRUCT values in schema order.
** Everything (rows, strings) is allocated in `a` and stays valid after the reader is freed.
** Returns SR_OK, or SR_ERROR with *err (corrupt data, unsupported encoding or codec). */
sr_status sr_pq_reader_read_rows(sr_pq_reader *r, sr_arena *a, sr_value **rows, int64_t *nrows,
                                 sr_error **err);
/* Like sr_pq_reader_read_rows for some top-level columns only: each row holds nfields values,
** those of schema fields fields[0..nfields) in that order. Columns not asked for are not read.
** An index out of range returns SR_ERROR. */
sr_status sr_pq_reader_read_columns(sr_pq_reader *r, const int *fields, int nfields, sr_arena *a,
                                    sr_value **rows, int64_t *nrows, sr_error **err);
/* Accepts NULL. */
void sr_pq_reader_free(sr_pq_reader *r);

#endif
