/* Parquet metadata: see parquet_meta.h. Field ids are parquet.thrift's. */
#include "parquet_meta.h"

#include <string.h>
#include "thrift_compact.h"

/* ---- encoding ---- */

static void encode_logical(sr_tc_writer *w, const sr_pq_schema_element *e) {
  sr_tc_field_struct(w, 10);            /* SchemaElement.logicalType */
  sr_tc_field_struct(w, (int16_t)e->logical);
  switch (e->logical) {
  case SR_PQ_LT_DECIMAL:
    sr_tc_field_i32(w, 1, e->scale);
    sr_tc_field_i32(w, 2, e->precision);
    break;
  case SR_PQ_LT_TIMESTAMP: case SR_PQ_LT_TIME:
    sr_tc_field_bool(w, 1, e->utc);
    sr_tc_field_struct(w, 2);           /* TimeUnit union */
    sr_tc_field_struct(w, (int16_t)e->time_unit);
    sr_tc_struct_end(w);
    sr_tc_struct_end(w);
    break;
  case SR_PQ_LT_INTEGER:
    sr_tc_field_i8(w, 1, (int8_t)e->int_bits);
    sr_tc_field_bool(w, 2, e->int_signed);
    break;
  default:
    break;                              /* the empty annotation structs */
  }
  sr_tc_struct_end(w);
  sr_tc_struct_end(w);
}

static void encode_element(sr_tc_writer *w, const sr_pq_schema_element *e) {
  sr_tc_struct_begin(w);
  if (e->type >= 0) sr_tc_field_i32(w, 1, e->type);
  if (e->type == SR_PQ_FIXED_LEN_BYTE_ARRAY) sr_tc_field_i32(w, 2, e->type_length);
  if (e->repetition >= 0) sr_tc_field_i32(w, 3, e->repetition);
  sr_tc_field_string(w, 4, e->name);
  if (e->type < 0) sr_tc_field_i32(w, 5, e->num_children);
  if (e->converted >= 0) sr_tc_field_i32(w, 6, e->converted);
  if (e->converted == SR_PQ_CT_DECIMAL) {
    sr_tc_field_i32(w, 7, e->scale);
    sr_tc_field_i32(w, 8, e->precision);
  }
  if (e->logical != SR_PQ_LT_NONE) encode_logical(w, e);
  sr_tc_struct_end(w);
}

static void encode_column(sr_tc_writer *w, const sr_pq_column_meta *c) {
  sr_tc_struct_begin(w);                /* ColumnChunk */
  sr_tc_field_i64(w, 2, 0);             /* file_offset: no metadata outside the footer */
  sr_tc_field_struct(w, 3);             /* ColumnMetaData */
  sr_tc_field_i32(w, 1, c->type);
  sr_tc_field_list(w, 2, SR_TC_I32, c->nencodings);
  for (int i = 0; i < c->nencodings; i++) sr_tc_elem_i32(w, c->encodings[i]);
  sr_tc_field_list(w, 3, SR_TC_BINARY, c->npath);
  for (int i = 0; i < c->npath; i++) sr_tc_elem_binary(w, c->path[i], strlen(c->path[i]));
  sr_tc_field_i32(w, 4, c->codec);
  sr_tc_field_i64(w, 5, c->num_values);
  sr_tc_field_i64(w, 6, c->total_uncompressed_size);
  sr_tc_field_i64(w, 7, c->total_compressed_size);
  sr_tc_field_i64(w, 9, c->data_page_offset);
  if (c->dictionary_page_offset >= 0) sr_tc_field_i64(w, 11, c->dictionary_page_offset);
  sr_tc_field_struct(w, 12);            /* Statistics */
  if (c->stats.has_null_count) sr_tc_field_i64(w, 3, c->stats.null_count);
  if (c->stats.has_min_max) {
    sr_tc_field_binary(w, 5, c->stats.max_value, c->stats.max_len);
    sr_tc_field_binary(w, 6, c->stats.min_value, c->stats.min_len);
  }
  sr_tc_struct_end(w);
  sr_tc_struct_end(w);
  sr_tc_struct_end(w);
}

int sr_pq_meta_encode(const sr_pq_file_meta *m, sr_buf *out) {
  sr_tc_writer w;
  sr_tc_writer_init(&w, out);
  sr_tc_struct_begin(&w);
  sr_tc_field_i32(&w, 1, m->version);
  sr_tc_field_list(&w, 2, SR_TC_STRUCT, m->nschema);
  int nleaves = 0;
  for (int i = 0; i < m->nschema; i++) {
    encode_element(&w, &m->schema[i]);
    nleaves += m->schema[i].type >= 0;
  }
  sr_tc_field_i64(&w, 3, m->num_rows);
  sr_tc_field_list(&w, 4, SR_TC_STRUCT, m->nrow_groups);
  for (int g = 0; g < m->nrow_groups; g++) {
    const sr_pq_row_group *rg = &m->row_groups[g];
    sr_tc_struct_begin(&w);
    sr_tc_field_list(&w, 1, SR_TC_STRUCT, rg->ncolumns);
    for (int c = 0; c < rg->ncolumns; c++) encode_column(&w, &rg->columns[c]);
    sr_tc_field_i64(&w, 2, rg->total_byte_size);
    sr_tc_field_i64(&w, 3, rg->num_rows);
    sr_tc_field_i64(&w, 5, rg->file_offset);
    sr_tc_field_i64(&w, 6, rg->total_compressed_size);
    sr_tc_struct_end(&w);
  }
  if (m->created_by) sr_tc_field_string(&w, 6, m->created_by);
  sr_tc_field_list(&w, 7, SR_TC_STRUCT, nleaves);  /* column_orders: TYPE_ORDER for each leaf */
  for (int i = 0; i < nleaves; i++) {
    sr_tc_struct_begin(&w);
    sr_tc_field_struct(&w, 1);
    sr_tc_struct_end(&w);
    sr_tc_struct_end(&w);
  }
  sr_tc_struct_end(&w);
  return w.failed ? -1 : 0;
}

int sr_pq_page_header_encode(const sr_pq_page_header *h, sr_buf *out) {
  sr_tc_writer w;
  sr_tc_writer_init(&w, out);
  sr_tc_struct_begin(&w);
  sr_tc_field_i32(&w, 1, h->type);
  sr_tc_field_i32(&w, 2, h->uncompressed_size);
  sr_tc_field_i32(&w, 3, h->compressed_size);
  if (h->type == SR_PQ_PAGE_DATA) {
    sr_tc_field_struct(&w, 5);
    sr_tc_field_i32(&w, 1, h->num_values);
    sr_tc_field_i32(&w, 2, h->encoding);
    sr_tc_field_i32(&w, 3, h->def_encoding);
    sr_tc_field_i32(&w, 4, h->rep_encoding);
    sr_tc_struct_end(&w);
  } else if (h->type == SR_PQ_PAGE_DICTIONARY) {
    sr_tc_field_struct(&w, 7);
    sr_tc_field_i32(&w, 1, h->num_values);
    sr_tc_field_i32(&w, 2, h->encoding);
    sr_tc_struct_end(&w);
  } else if (h->type == SR_PQ_PAGE_DATA_V2) {
    sr_tc_field_struct(&w, 8);
    sr_tc_field_i32(&w, 1, h->num_values);
    sr_tc_field_i32(&w, 2, h->num_nulls);
    sr_tc_field_i32(&w, 3, h->num_rows);
    sr_tc_field_i32(&w, 4, h->encoding);
    sr_tc_field_i32(&w, 5, h->def_levels_len);
    sr_tc_field_i32(&w, 6, h->rep_levels_len);
    sr_tc_field_bool(&w, 7, h->is_compressed);
    sr_tc_struct_end(&w);
  }
  sr_tc_struct_end(&w);
  return w.failed ? -1 : 0;
}

/* ---- decoding ---- */

/* 1 when the field has the expected type; otherwise skips it (a writer we do not understand
** is not a reason to fail) and returns 0. */
static int want(sr_tc_reader *r, const sr_tc_field *f, int type) {
  int is_bool = f->type == SR_TC_BOOL_TRUE || f->type == SR_TC_BOOL_FALSE;
  if (f->type == type || (is_bool && type == SR_TC_BOOL_TRUE)) return 1;
  sr_tc_skip(r, f->type);
  return 0;
}

static char *read_string(sr_tc_reader *r, sr_arena *a) {
  const uint8_t *p;
  size_t n;
  sr_tc_read_binary(r, &p, &n);
  if (r->error) return NULL;
  char *s = sr_arena_strndup(a, (const char *)p, n);
  if (!s) r->error = 1;
  return s;
}

/* An empty annotation struct or a union whose chosen member is all we need: returns the id of
** the member that is set (0 for none) and skips its contents. */
static int read_union_id(sr_tc_reader *r) {
  int id = 0;
  int16_t last = 0;
  sr_tc_field f;
  sr_tc_read_struct_begin(r);
  while (sr_tc_read_field(r, &last, &f)) {
    if (!id) id = f.id;
    sr_tc_skip(r, f.type);
  }
  sr_tc_read_struct_end(r);
  return id;
}

static void decode_time_fields(sr_tc_reader *r, sr_pq_schema_element *e) {
  int16_t last = 0;
  sr_tc_field f;
  sr_tc_read_struct_begin(r);
  while (sr_tc_read_field(r, &last, &f)) {
    if (f.id == 1 && want(r, &f, SR_TC_BOOL_TRUE)) e->utc = f.type == SR_TC_BOOL_TRUE;
    else if (f.id == 2 && want(r, &f, SR_TC_STRUCT)) e->time_unit = read_union_id(r);
    else if (f.id != 1 && f.id != 2) sr_tc_skip(r, f.type);
  }
  sr_tc_read_struct_end(r);
}

static void decode_logical(sr_tc_reader *r, sr_pq_schema_element *e) {
  int16_t last = 0;
  sr_tc_field f;
  sr_tc_read_struct_begin(r);
  while (sr_tc_read_field(r, &last, &f)) {
    if (f.type != SR_TC_STRUCT || e->logical) { sr_tc_skip(r, f.type); continue; }
    e->logical = f.id;
    if (f.id == SR_PQ_LT_TIMESTAMP || f.id == SR_PQ_LT_TIME) { decode_time_fields(r, e); continue; }
    int16_t l2 = 0;
    sr_tc_field g;
    sr_tc_read_struct_begin(r);
    while (sr_tc_read_field(r, &l2, &g)) {
      if (f.id == SR_PQ_LT_DECIMAL && (g.id == 1 || g.id == 2)) {
        if (want(r, &g, SR_TC_I32)) *(g.id == 1 ? &e->scale : &e->precision) = sr_tc_read_i32(r);
      } else if (f.id == SR_PQ_LT_INTEGER && g.id == 1) {
        if (want(r, &g, SR_TC_I8)) e->int_bits = sr_tc_read_i8(r);
      } else if (f.id == SR_PQ_LT_INTEGER && g.id == 2) {
        if (want(r, &g, SR_TC_BOOL_TRUE)) e->int_signed = g.type == SR_TC_BOOL_TRUE;
      } else {
        sr_tc_skip(r, g.type);
      }
    }
    sr_tc_read_struct_end(r);
  }
  sr_tc_read_struct_end(r);
}

static void decode_element(sr_tc_reader *r, sr_arena *a, sr_pq_schema_element *e) {
  memset(e, 0, sizeof *e);
  e->type = e->repetition = e->converted = -1;
  int16_t last = 0;
  sr_tc_field f;
  sr_tc_read_struct_begin(r);
  while (sr_tc_read_field(r, &last, &f)) {
    switch (f.id) {
    case 1: if (want(r, &f, SR_TC_I32)) e->type = sr_tc_read_i32(r); break;
    case 2: if (want(r, &f, SR_TC_I32)) e->type_length = sr_tc_read_i32(r); break;
    case 3: if (want(r, &f, SR_TC_I32)) e->repetition = sr_tc_read_i32(r); break;
    case 4: if (want(r, &f, SR_TC_BINARY)) e->name = read_string(r, a); break;
    case 5: if (want(r, &f, SR_TC_I32)) e->num_children = sr_tc_read_i32(r); break;
    case 6: if (want(r, &f, SR_TC_I32)) e->converted = sr_tc_read_i32(r); break;
    case 7: if (want(r, &f, SR_TC_I32)) e->scale = sr_tc_read_i32(r); break;
    case 8: if (want(r, &f, SR_TC_I32)) e->precision = sr_tc_read_i32(r); break;
    case 10: if (want(r, &f, SR_TC_STRUCT)) decode_logical(r, e); break;
    default: sr_tc_skip(r, f.type);
    }
  }
  sr_tc_read_struct_end(r);
  if (!e->name) r->error = 1;  /* required */
}

static void decode_path(sr_tc_reader *r, sr_arena *a, sr_pq_column_meta *c) {
  int et;
  int32_t n;
  sr_tc_read_list(r, &et, &n);
  if (et != SR_TC_BINARY && n > 0) { r->error = 1; return; }
  c->path = sr_arena_alloc(a, sizeof(char *) * (size_t)(n ? n : 1));
  if (!c->path) { r->error = 1; return; }
  for (int32_t i = 0; i < n && !r->error; i++) c->path[i] = read_string(r, a);
  c->npath = n;
}

static void decode_column_meta(sr_tc_reader *r, sr_arena *a, sr_pq_column_meta *c) {
  int16_t last = 0;
  sr_tc_field f;
  sr_tc_read_struct_begin(r);
  while (sr_tc_read_field(r, &last, &f)) {
    switch (f.id) {
    case 1: if (want(r, &f, SR_TC_I32)) c->type = sr_tc_read_i32(r); break;
    case 3: if (want(r, &f, SR_TC_LIST)) decode_path(r, a, c); break;
    case 4: if (want(r, &f, SR_TC_I32)) c->codec = sr_tc_read_i32(r); break;
    case 5: if (want(r, &f, SR_TC_I64)) c->num_values = sr_tc_read_i64(r); break;
    case 6: if (want(r, &f, SR_TC_I64)) c->total_uncompressed_size = sr_tc_read_i64(r); break;
    case 7: if (want(r, &f, SR_TC_I64)) c->total_compressed_size = sr_tc_read_i64(r); break;
    case 9: if (want(r, &f, SR_TC_I64)) c->data_page_offset = sr_tc_read_i64(r); break;
    case 11: if (want(r, &f, SR_TC_I64)) c->dictionary_page_offset = sr_tc_read_i64(r); break;
    default: sr_tc_skip(r, f.type);
    }
  }
  sr_tc_read_struct_end(r);
}

/* A ColumnChunk; returns 0 when it has no meta_data (or keeps its data in another file). */
static int decode_column(sr_tc_reader *r, sr_arena *a, sr_pq_column_meta *c) {
  memset(c, 0, sizeof *c);
  c->dictionary_page_offset = -1;
  int has_meta = 0, external = 0;
  int16_t last = 0;
  sr_tc_field f;
  sr_tc_read_struct_begin(r);
  while (sr_tc_read_field(r, &last, &f)) {
    if (f.id == 3 && want(r, &f, SR_TC_STRUCT)) { decode_column_meta(r, a, c); has_meta = 1; }
    else if (f.id == 1) { external = 1; sr_tc_skip(r, f.type); }
    else if (f.id != 3) sr_tc_skip(r, f.type);
  }
  sr_tc_read_struct_end(r);
  return has_meta && !external;
}

static int decode_row_group(sr_tc_reader *r, sr_arena *a, sr_pq_row_group *rg) {
  memset(rg, 0, sizeof *rg);
  int ok = 1;
  int16_t last = 0;
  sr_tc_field f;
  sr_tc_read_struct_begin(r);
  while (sr_tc_read_field(r, &last, &f)) {
    if (f.id == 1 && want(r, &f, SR_TC_LIST)) {
      int et;
      int32_t n;
      sr_tc_read_list(r, &et, &n);
      if (et != SR_TC_STRUCT && n > 0) { r->error = 1; break; }
      rg->columns = sr_arena_alloc(a, sizeof *rg->columns * (size_t)(n ? n : 1));
      if (!rg->columns) { r->error = 1; break; }
      for (int32_t i = 0; i < n && !r->error; i++) ok &= decode_column(r, a, &rg->columns[i]);
      rg->ncolumns = n;
    } else if (f.id == 2 && want(r, &f, SR_TC_I64)) rg->total_byte_size = sr_tc_read_i64(r);
    else if (f.id == 3 && want(r, &f, SR_TC_I64)) rg->num_rows = sr_tc_read_i64(r);
    else if (f.id != 1 && f.id != 2 && f.id != 3) sr_tc_skip(r, f.type);
  }
  sr_tc_read_struct_end(r);
  return ok;
}

sr_status sr_pq_meta_decode(const void *p, size_t n, sr_arena *a, sr_pq_file_meta *m,
                            sr_error **err) {
  memset(m, 0, sizeof *m);
  sr_tc_reader r;
  sr_tc_reader_init(&r, p, n);
  int columns_ok = 1;
  int16_t last = 0;
  sr_tc_field f;
  sr_tc_read_struct_begin(&r);
  while (sr_tc_read_field(&r, &last, &f)) {
    int et;
    int32_t cnt;
    if (f.id == 1 && want(&r, &f, SR_TC_I32)) {
      m->version = sr_tc_read_i32(&r);
    } else if ((f.id == 2 || f.id == 4) && want(&r, &f, SR_TC_LIST)) {
      sr_tc_read_list(&r, &et, &cnt);
      if (et != SR_TC_STRUCT && cnt > 0) { r.error = 1; break; }
      size_t size = f.id == 2 ? sizeof *m->schema : sizeof *m->row_groups;
      void *arr = sr_arena_alloc(a, size * (size_t)(cnt ? cnt : 1));
      if (!arr) { r.error = 1; break; }
      if (f.id == 2) {
        m->schema = arr;
        for (int32_t i = 0; i < cnt && !r.error; i++) decode_element(&r, a, &m->schema[i]);
        m->nschema = cnt;
      } else {
        m->row_groups = arr;
        for (int32_t i = 0; i < cnt && !r.error; i++) columns_ok &= decode_row_group(&r, a, &m->row_groups[i]);
        m->nrow_groups = cnt;
      }
    } else if (f.id == 3 && want(&r, &f, SR_TC_I64)) {
      m->num_rows = sr_tc_read_i64(&r);
    } else if (f.id == 6 && want(&r, &f, SR_TC_BINARY)) {
      m->created_by = read_string(&r, a);
    } else if (f.id < 1 || f.id > 6 || f.id == 5) {
      sr_tc_skip(&r, f.type);
    }
  }
  sr_tc_read_struct_end(&r);
  if (r.error) return sr_error_set(err, SR_ERROR, "malformed Parquet footer (FileMetaData)");
  if (m->nschema < 1) return sr_error_set(err, SR_ERROR, "Parquet footer has no schema");
  if (!columns_ok)
    return sr_error_set(err, SR_ERROR, "Parquet column chunk without metadata or in another file");
  return SR_OK;
}

static void decode_data_header(sr_tc_reader *r, sr_pq_page_header *h) {
  int16_t last = 0;
  sr_tc_field f;
  sr_tc_read_struct_begin(r);
  while (sr_tc_read_field(r, &last, &f)) {
    if (f.id >= 1 && f.id <= 4 && want(r, &f, SR_TC_I32)) {
      int32_t v = sr_tc_read_i32(r);
      if (f.id == 1) h->num_values = v;
      else if (f.id == 2) h->encoding = v;
      else if (f.id == 3) h->def_encoding = v;
      else h->rep_encoding = v;
    } else if (f.id < 1 || f.id > 4) {
      sr_tc_skip(r, f.type);
    }
  }
  sr_tc_read_struct_end(r);
}

static void decode_v2_header(sr_tc_reader *r, sr_pq_page_header *h) {
  int16_t last = 0;
  sr_tc_field f;
  sr_tc_read_struct_begin(r);
  while (sr_tc_read_field(r, &last, &f)) {
    if (f.id == 7 && want(r, &f, SR_TC_BOOL_TRUE)) {
      h->is_compressed = f.type == SR_TC_BOOL_TRUE;
    } else if (f.id >= 1 && f.id <= 6 && want(r, &f, SR_TC_I32)) {
      int32_t v = sr_tc_read_i32(r);
      switch (f.id) {
      case 1: h->num_values = v; break;
      case 2: h->num_nulls = v; break;
      case 3: h->num_rows = v; break;
      case 4: h->encoding = v; break;
      case 5: h->def_levels_len = v; break;
      default: h->rep_levels_len = v; break;
      }
    } else if (f.id < 1 || f.id > 7) {
      sr_tc_skip(r, f.type);
    }
  }
  sr_tc_read_struct_end(r);
}

int sr_pq_page_header_decode(const void *p, size_t n, sr_pq_page_header *h, size_t *used) {
  memset(h, 0, sizeof *h);
  h->type = -1;
  h->is_compressed = 1;
  sr_tc_reader r;
  sr_tc_reader_init(&r, p, n);
  int16_t last = 0;
  sr_tc_field f;
  sr_tc_read_struct_begin(&r);
  while (sr_tc_read_field(&r, &last, &f)) {
    if (f.id >= 1 && f.id <= 3 && want(&r, &f, SR_TC_I32)) {
      int32_t v = sr_tc_read_i32(&r);
      if (f.id == 1) h->type = v;
      else if (f.id == 2) h->uncompressed_size = v;
      else h->compressed_size = v;
    } else if ((f.id == 5 || f.id == 7) && want(&r, &f, SR_TC_STRUCT)) {
      decode_data_header(&r, h);  /* the dictionary header's fields 1-2 share the layout */
    } else if (f.id == 8 && want(&r, &f, SR_TC_STRUCT)) {
      decode_v2_header(&r, h);
    } else if (f.id < 1 || f.id == 4 || f.id == 6 || f.id > 8) {
      sr_tc_skip(&r, f.type);
    }
  }
  sr_tc_read_struct_end(&r);
  if (r.error || h->type < 0 || h->compressed_size < 0 || h->uncompressed_size < 0) return -1;
  *used = (size_t)(r.p - (const uint8_t *)p);
  return 0;
}
