/*
** sr_tc: the Thrift compact protocol, just enough for Parquet's metadata (file footer and page
** headers). Spec: apache/thrift doc/specs/thrift-compact-protocol.md.
**
** Writing: an sr_tc_writer appends to an sr_buf. Open a struct with sr_tc_struct_begin (or
** sr_tc_field_struct for a struct-typed field), write fields in increasing id order, close it
** with sr_tc_struct_end (writes the stop byte). Lists: sr_tc_field_list, then exactly that many
** elements with the sr_tc_elem_* calls (struct elements: sr_tc_struct_begin/end). The writer
** never fails midway: an out-of-memory append sets `failed`, later calls do nothing, and the
** caller checks `failed` once at the end.
**
** Reading: an sr_tc_reader walks a byte range with bounds checks. Any malformed input sets
** `error` and every later read returns zero values, so a decoder checks `error` once at the end
** rather than after each call. Nesting deeper than SR_TC_MAX_DEPTH is refused (untrusted files).
*/
#ifndef SR_THRIFT_COMPACT_H
#define SR_THRIFT_COMPACT_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/* Compact type ids as they appear in field headers (list element types use the same numbers,
** except that a bool element is SR_TC_BOOL_TRUE's value 1 or 2 on the wire). */
enum {
  SR_TC_STOP = 0, SR_TC_BOOL_TRUE = 1, SR_TC_BOOL_FALSE = 2, SR_TC_I8 = 3, SR_TC_I16 = 4,
  SR_TC_I32 = 5, SR_TC_I64 = 6, SR_TC_DOUBLE = 7, SR_TC_BINARY = 8, SR_TC_LIST = 9,
  SR_TC_SET = 10, SR_TC_MAP = 11, SR_TC_STRUCT = 12
};
enum { SR_TC_MAX_DEPTH = 64 };

typedef struct sr_tc_writer {
  sr_buf *out;
  int depth;
  int16_t last_id[SR_TC_MAX_DEPTH];  /* last field id per open struct, for the id deltas */
  int failed;                        /* 1 after an allocation failure or a nesting overflow */
} sr_tc_writer;

/* Starts writing to out (appends). Does not allocate. */
void sr_tc_writer_init(sr_tc_writer *w, sr_buf *out);
void sr_tc_struct_begin(sr_tc_writer *w);
void sr_tc_struct_end(sr_tc_writer *w);
void sr_tc_field_bool(sr_tc_writer *w, int16_t id, int v);
void sr_tc_field_i8(sr_tc_writer *w, int16_t id, int8_t v);
void sr_tc_field_i32(sr_tc_writer *w, int16_t id, int32_t v);
void sr_tc_field_i64(sr_tc_writer *w, int16_t id, int64_t v);
void sr_tc_field_binary(sr_tc_writer *w, int16_t id, const void *p, size_t n);
void sr_tc_field_string(sr_tc_writer *w, int16_t id, const char *s);
/* A struct-typed field: writes the header and opens the struct; close with sr_tc_struct_end. */
void sr_tc_field_struct(sr_tc_writer *w, int16_t id);
/* A list-typed field of n elements of elem_type (SR_TC_I32, SR_TC_BINARY, SR_TC_STRUCT...). */
void sr_tc_field_list(sr_tc_writer *w, int16_t id, int elem_type, int32_t n);
void sr_tc_elem_i32(sr_tc_writer *w, int32_t v);
void sr_tc_elem_i64(sr_tc_writer *w, int64_t v);
void sr_tc_elem_binary(sr_tc_writer *w, const void *p, size_t n);

typedef struct sr_tc_reader {
  const uint8_t *p, *end;
  int depth;
  int error;  /* 1 once the input was found malformed or truncated */
} sr_tc_reader;

/* A field header: type SR_TC_STOP ends the struct. For bool fields the value is in the type
** (SR_TC_BOOL_TRUE / SR_TC_BOOL_FALSE) and there is nothing more to read. */
typedef struct sr_tc_field {
  int type;
  int16_t id;
} sr_tc_field;

void sr_tc_reader_init(sr_tc_reader *r, const void *p, size_t n);
/* Enters a struct (depth check); every sr_tc_read_struct_begin needs a matching _end after its
** STOP field was read. last_id must start at 0 and is updated by sr_tc_read_field. */
void sr_tc_read_struct_begin(sr_tc_reader *r);
void sr_tc_read_struct_end(sr_tc_reader *r);
/* Reads the next field header; returns 0 at the stop field (or on error), 1 otherwise. */
int sr_tc_read_field(sr_tc_reader *r, int16_t *last_id, sr_tc_field *f);
int64_t sr_tc_read_i64(sr_tc_reader *r);  /* also reads i32/i16 zigzag varints */
int32_t sr_tc_read_i32(sr_tc_reader *r);
int sr_tc_read_i8(sr_tc_reader *r);
double sr_tc_read_double(sr_tc_reader *r);
/* A binary/string field: *p points into the input (not NUL-terminated). */
void sr_tc_read_binary(sr_tc_reader *r, const uint8_t **p, size_t *n);
/* A list or set header: element type and count. The count is checked against the bytes left. */
void sr_tc_read_list(sr_tc_reader *r, int *elem_type, int32_t *n);
/* Reads a bool list element (1 byte). */
int sr_tc_read_bool_elem(sr_tc_reader *r);
/* Skips a value of the given type (a field's or a list element's), recursing into containers. */
void sr_tc_skip(sr_tc_reader *r, int type);

#endif
