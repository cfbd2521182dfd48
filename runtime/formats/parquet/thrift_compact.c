/* sr_tc: see thrift_compact.h. */
#include "thrift_compact.h"

#include <string.h>

#include "bytes.h"

/* ---- writing ---- */

static void put_byte(sr_tc_writer *w, uint8_t b) {
  if (!w->failed && sr_buf_putc(w->out, (char)b) != 0) w->failed = 1;
}

static void put_varint(sr_tc_writer *w, uint64_t v) {
  if (!w->failed && sr_varint_put(w->out, v) != 0) w->failed = 1;
}

static void field_header(sr_tc_writer *w, int16_t id, int type) {
  if (w->depth <= 0) { w->failed = 1; return; }
  int16_t *last = &w->last_id[w->depth - 1];
  int delta = id - *last;
  if (delta > 0 && delta <= 15) {
    put_byte(w, (uint8_t)(delta << 4 | type));
  } else {
    put_byte(w, (uint8_t)type);
    put_varint(w, sr_zigzag(id));
  }
  *last = id;
}

void sr_tc_writer_init(sr_tc_writer *w, sr_buf *out) {
  memset(w, 0, sizeof *w);
  w->out = out;
}

void sr_tc_struct_begin(sr_tc_writer *w) {
  if (w->depth >= SR_TC_MAX_DEPTH) { w->failed = 1; return; }
  w->last_id[w->depth++] = 0;
}

void sr_tc_struct_end(sr_tc_writer *w) {
  put_byte(w, SR_TC_STOP);
  if (w->depth > 0) w->depth--;
}

void sr_tc_field_bool(sr_tc_writer *w, int16_t id, int v) {
  field_header(w, id, v ? SR_TC_BOOL_TRUE : SR_TC_BOOL_FALSE);
}

void sr_tc_field_i8(sr_tc_writer *w, int16_t id, int8_t v) {
  field_header(w, id, SR_TC_I8);
  put_byte(w, (uint8_t)v);
}

void sr_tc_field_i32(sr_tc_writer *w, int16_t id, int32_t v) {
  field_header(w, id, SR_TC_I32);
  put_varint(w, sr_zigzag(v));
}

void sr_tc_field_i64(sr_tc_writer *w, int16_t id, int64_t v) {
  field_header(w, id, SR_TC_I64);
  put_varint(w, sr_zigzag(v));
}

void sr_tc_field_binary(sr_tc_writer *w, int16_t id, const void *p, size_t n) {
  field_header(w, id, SR_TC_BINARY);
  sr_tc_elem_binary(w, p, n);
}

void sr_tc_field_string(sr_tc_writer *w, int16_t id, const char *s) {
  sr_tc_field_binary(w, id, s, strlen(s));
}

void sr_tc_field_struct(sr_tc_writer *w, int16_t id) {
  field_header(w, id, SR_TC_STRUCT);
  sr_tc_struct_begin(w);
}

void sr_tc_field_list(sr_tc_writer *w, int16_t id, int elem_type, int32_t n) {
  field_header(w, id, SR_TC_LIST);
  if (n < 15) {
    put_byte(w, (uint8_t)(n << 4 | elem_type));
  } else {
    put_byte(w, (uint8_t)(0xf0 | elem_type));
    put_varint(w, (uint64_t)n);
  }
}

void sr_tc_elem_i32(sr_tc_writer *w, int32_t v) { put_varint(w, sr_zigzag(v)); }
void sr_tc_elem_i64(sr_tc_writer *w, int64_t v) { put_varint(w, sr_zigzag(v)); }

void sr_tc_elem_binary(sr_tc_writer *w, const void *p, size_t n) {
  put_varint(w, n);
  if (!w->failed && n && sr_buf_append(w->out, p, n) != 0) w->failed = 1;
}

/* ---- reading ---- */

void sr_tc_reader_init(sr_tc_reader *r, const void *p, size_t n) {
  r->p = p;
  r->end = r->p + n;
  r->depth = 0;
  r->error = 0;
}

static int get_byte(sr_tc_reader *r) {
  if (r->error || r->p >= r->end) { r->error = 1; return 0; }
  return *r->p++;
}

static uint64_t get_varint(sr_tc_reader *r) {
  uint64_t v;
  const uint8_t *next = r->error ? NULL : sr_varint_get(r->p, r->end, &v);
  if (!next) { r->error = 1; return 0; }  /* truncated, or more than 10 bytes */
  r->p = next;
  return v;
}

void sr_tc_read_struct_begin(sr_tc_reader *r) {
  if (++r->depth > SR_TC_MAX_DEPTH) r->error = 1;
}

void sr_tc_read_struct_end(sr_tc_reader *r) { r->depth--; }

int sr_tc_read_field(sr_tc_reader *r, int16_t *last_id, sr_tc_field *f) {
  int b = get_byte(r);
  f->type = b & 0x0f;
  f->id = 0;
  if (r->error || f->type == SR_TC_STOP) return 0;
  int delta = b >> 4;
  f->id = delta ? (int16_t)(*last_id + delta) : (int16_t)sr_unzigzag(get_varint(r));
  *last_id = f->id;
  return !r->error;
}

int64_t sr_tc_read_i64(sr_tc_reader *r) { return sr_unzigzag(get_varint(r)); }

int32_t sr_tc_read_i32(sr_tc_reader *r) {
  int64_t v = sr_tc_read_i64(r);
  if (v < INT32_MIN || v > INT32_MAX) { r->error = 1; return 0; }
  return (int32_t)v;
}

int sr_tc_read_i8(sr_tc_reader *r) { return (int8_t)get_byte(r); }

double sr_tc_read_double(sr_tc_reader *r) {
  if (r->error || r->end - r->p < 8) { r->error = 1; return 0; }
  uint64_t bits = 0;
  for (int i = 7; i >= 0; i--) bits = bits << 8 | r->p[i];  /* little-endian on the wire */
  r->p += 8;
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

void sr_tc_read_binary(sr_tc_reader *r, const uint8_t **p, size_t *n) {
  uint64_t len = get_varint(r);
  if (r->error || len > (uint64_t)(r->end - r->p)) {
    r->error = 1;
    *p = NULL;
    *n = 0;
    return;
  }
  *p = r->p;
  *n = (size_t)len;
  r->p += len;
}

void sr_tc_read_list(sr_tc_reader *r, int *elem_type, int32_t *n) {
  int b = get_byte(r);
  *elem_type = b & 0x0f;
  uint64_t count = (uint64_t)b >> 4;
  if (count == 15) count = get_varint(r);
  /* Every element takes at least one byte: a larger count is a lie that would make the
  ** caller allocate without bound. */
  if (r->error || count > (uint64_t)(r->end - r->p)) {
    r->error = 1;
    *n = 0;
    return;
  }
  *n = (int32_t)count;
}

int sr_tc_read_bool_elem(sr_tc_reader *r) { return get_byte(r) == 1; }

void sr_tc_skip(sr_tc_reader *r, int type) {
  if (r->error) return;
  switch (type) {
  case SR_TC_BOOL_TRUE: case SR_TC_BOOL_FALSE: return;  /* a field bool: no payload */
  case SR_TC_I8: get_byte(r); return;
  case SR_TC_I16: case SR_TC_I32: case SR_TC_I64: get_varint(r); return;
  case SR_TC_DOUBLE:
    if (r->end - r->p < 8) r->error = 1; else r->p += 8;
    return;
  case SR_TC_BINARY: {
    const uint8_t *p;
    size_t n;
    sr_tc_read_binary(r, &p, &n);
    return;
  }
  case SR_TC_LIST: case SR_TC_SET: {
    int et;
    int32_t n;
    sr_tc_read_list(r, &et, &n);
    sr_tc_read_struct_begin(r);  /* lists nest too: bound the recursion */
    for (int32_t i = 0; i < n && !r->error; i++) {
      if (et == SR_TC_BOOL_TRUE || et == SR_TC_BOOL_FALSE) get_byte(r);
      else sr_tc_skip(r, et);
    }
    sr_tc_read_struct_end(r);
    return;
  }
  case SR_TC_MAP: {
    uint64_t n = get_varint(r);
    if (n == 0) return;
    int kv = get_byte(r);
    if (n > (uint64_t)(r->end - r->p)) { r->error = 1; return; }
    sr_tc_read_struct_begin(r);
    for (uint64_t i = 0; i < n && !r->error; i++) {
      int kt = kv >> 4, vt = kv & 0x0f;
      if (kt == SR_TC_BOOL_TRUE || kt == SR_TC_BOOL_FALSE) get_byte(r); else sr_tc_skip(r, kt);
      if (vt == SR_TC_BOOL_TRUE || vt == SR_TC_BOOL_FALSE) get_byte(r); else sr_tc_skip(r, vt);
    }
    sr_tc_read_struct_end(r);
    return;
  }
  case SR_TC_STRUCT: {
    sr_tc_read_struct_begin(r);
    int16_t last = 0;
    sr_tc_field f;
    while (sr_tc_read_field(r, &last, &f)) sr_tc_skip(r, f.type);
    sr_tc_read_struct_end(r);
    return;
  }
  default:
    r->error = 1;  /* an unknown type cannot be skipped: its size is unknown */
  }
}
