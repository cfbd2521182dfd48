/*
** Parquet writer and reader: round trips of every type, codec and encoding through our own
** reader; our files read by DuckDB (an independent reader, tests/node/duckdb_query.mjs); the
** Delta golden files (Spark/parquet-mr) and DuckDB-written files read by us and compared
** value by value with what DuckDB reads from them.
**
** DuckDB comes from npm: without tests/node/node_modules this test fails and says to run
** `npm ci --prefix tests/node`.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <unistd.h>
#include "arena.h"
#include "buf.h"
#include "parquet_meta.h"
#include "parquet_read.h"
#include "parquet_rle.h"
#include "parquet_write.h"
#include "sr_test.h"
#include "timeutil.h"

/* ---- environment ---- */

static const char *env_or(const char *name, const char *fallback) {
  const char *v = getenv(name);
  return v && *v ? v : fallback;
}
static const char *source_dir(void) { return env_or("SR_SOURCE_DIR", "."); }
#include "duckdb_test.h"
static const char *fixtures(void) { return env_or("SR_FIXTURES", "tests/fixtures"); }

static char tmp_dir[64];

static void remove_tmp_dir(void) {
  DIR *d = opendir(tmp_dir);
  if (!d) return;
  struct dirent *e;
  char path[512];
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", tmp_dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(tmp_dir);
}

static const char *tmp_path(const char *name) {
  static char paths[16][256];
  static int next;
  char *p = paths[next++ % 16];
  snprintf(p, 256, "%s/%s", tmp_dir, name);
  return p;
}

static void write_file(const char *path, const sr_buf *b) {
  FILE *f = fopen(path, "wb");
  ASSERT_TRUE(f != NULL);
  ASSERT_EQ_INT(fwrite(b->data, 1, b->len, f), b->len);
  ASSERT_EQ_INT(fclose(f), 0);
}

/* ---- building values ---- */

static sr_arena arena;

static sr_value v_null(void) { sr_value v = {SR_VAL_NULL, {0}}; return v; }
static sr_value v_int(int64_t i) { sr_value v = {SR_VAL_INT, {.i = i}}; return v; }
static sr_value v_dbl(double d) { sr_value v = {SR_VAL_DOUBLE, {.d = d}}; return v; }
static sr_value v_bool(int b) { sr_value v = {SR_VAL_BOOL, {.b = b}}; return v; }
static sr_value v_str(const char *s) {
  sr_value v = {SR_VAL_STRING, {0}};
  v.u.str.ptr = sr_arena_strndup(&arena, s, strlen(s));
  v.u.str.len = strlen(s);
  return v;
}
static sr_value v_bin(const void *p, size_t n) {
  sr_value v = {SR_VAL_BINARY, {0}};
  char *c = sr_arena_alloc(&arena, n + 1);
  memcpy(c, p, n);
  v.u.str.ptr = c;
  v.u.str.len = n;
  return v;
}
/* A struct or list of n values given as arguments. */
static sr_value v_list(sr_val_kind kind, int n, const sr_value *items) {
  sr_value v = {kind, {0}};
  v.u.list.items = sr_arena_alloc(&arena, sizeof(sr_value) * (size_t)(n ? n : 1));
  if (n) memcpy(v.u.list.items, items, sizeof(sr_value) * (size_t)n);
  v.u.list.n = n;
  return v;
}
#define V_STRUCT(...) v_list(SR_VAL_STRUCT, (int)(sizeof((sr_value[]){__VA_ARGS__}) / sizeof(sr_value)), (sr_value[]){__VA_ARGS__})
#define V_LIST(...) v_list(SR_VAL_LIST, (int)(sizeof((sr_value[]){__VA_ARGS__}) / sizeof(sr_value)), (sr_value[]){__VA_ARGS__})
static sr_value v_empty_list(void) { return v_list(SR_VAL_LIST, 0, NULL); }

static sr_field *add(sr_schema *s, const char *name, sr_type t, int nullable) {
  sr_field *f = sr_schema_add(s, name, t);
  ASSERT_TRUE(f != NULL);
  f->nullable = nullable;
  return f;
}
static sr_field *add_array(sr_schema *s, const char *name, sr_type elem, int elem_nullable) {
  sr_field *f = add(s, name, SR_TYPE_ARRAY, 1);
  f->element = calloc(1, sizeof(sr_field));
  f->element->name = strdup("element");
  f->element->type = elem;
  f->element->nullable = elem_nullable;
  return f;
}
static sr_field *add_map(sr_schema *s, const char *name, sr_type key, sr_type value) {
  sr_field *f = add(s, name, SR_TYPE_MAP, 1);
  f->children = sr_schema_new();
  add(f->children, "key", key, 0);
  add(f->children, "value", value, 1);
  return f;
}

/* Every type, nesting and nullability the writer supports. */
static sr_schema *all_types_schema(void) {
  sr_schema *s = sr_schema_new();
  add(s, "l", SR_TYPE_LONG, 1);
  add(s, "i", SR_TYPE_INT, 1);
  add(s, "sh", SR_TYPE_SHORT, 1);
  add(s, "by", SR_TYPE_BYTE, 1);
  add(s, "d", SR_TYPE_DOUBLE, 1);
  add(s, "f", SR_TYPE_FLOAT, 1);
  add(s, "b", SR_TYPE_BOOLEAN, 1);
  add(s, "s", SR_TYPE_STRING, 1);
  add(s, "bin", SR_TYPE_BINARY, 1);
  add(s, "ts", SR_TYPE_TIMESTAMP, 1);
  add(s, "dt", SR_TYPE_DATE, 1);
  sr_field *dec = add(s, "dec", SR_TYPE_DECIMAL, 1);
  dec->precision = 10;
  dec->scale = 2;
  sr_field *big = add(s, "dec38", SR_TYPE_DECIMAL, 1);
  big->precision = 38;
  big->scale = 6;
  sr_field *st = add(s, "st", SR_TYPE_STRUCT, 1);
  st->children = sr_schema_new();
  add(st->children, "a", SR_TYPE_INT, 1);
  add(st->children, "b", SR_TYPE_STRING, 0);
  sr_field *inner = add(st->children, "inner", SR_TYPE_STRUCT, 1);
  inner->children = sr_schema_new();
  add(inner->children, "x", SR_TYPE_DOUBLE, 1);
  add_array(s, "arr", SR_TYPE_LONG, 1);
  sr_field *nested = add_array(s, "nested", SR_TYPE_ARRAY, 1);  /* array<array<string>> */
  nested->element->element = calloc(1, sizeof(sr_field));
  nested->element->element->name = strdup("element");
  nested->element->element->type = SR_TYPE_STRING;
  nested->element->element->nullable = 1;
  sr_field *structs = add_array(s, "structs", SR_TYPE_STRUCT, 0);  /* array<struct<k, tags>> */
  structs->element->children = sr_schema_new();
  add(structs->element->children, "k", SR_TYPE_STRING, 1);
  sr_field *tags = add(structs->element->children, "tags", SR_TYPE_ARRAY, 1);
  tags->element = calloc(1, sizeof(sr_field));
  tags->element->name = strdup("element");
  tags->element->type = SR_TYPE_INT;
  tags->element->nullable = 0;
  add_map(s, "m", SR_TYPE_STRING, SR_TYPE_LONG);
  add(s, "req", SR_TYPE_LONG, 0);
  return s;
}

static const char *const words[] = {"", "alpha", "beta", "gamma", "ünïcødé ✓", "delta",
  "a rather long string that goes past sixty-four characters so statistics must cut it short"};

/* Row i of all_types_schema: a mix of values, nulls, empty and nested lists. */
static sr_value all_types_row(int64_t i) {
  int null_row = i % 11 == 5;  /* every nullable column null */
  sr_value row[20];
  int k = 0;
  uint8_t bytes[4] = {(uint8_t)i, 0, 0xff, (uint8_t)(i * 7)};
  row[k++] = null_row ? v_null() : v_int(i * 1000003 - (INT64_C(1) << 40) * (i % 3));
  row[k++] = null_row ? v_null() : v_int((int32_t)(i * 7919) * (i % 2 ? -1 : 1));
  row[k++] = null_row ? v_null() : v_int((int16_t)(i * 31 - 1000));
  row[k++] = null_row ? v_null() : v_int((int8_t)(i * 3 - 100));
  row[k++] = null_row ? v_null() : v_dbl(i % 13 == 0 ? -0.0 : (double)i / 7.0 - 3.0);
  row[k++] = null_row ? v_null() : v_dbl((float)((double)i * 0.1f));
  row[k++] = null_row ? v_null() : v_bool(i % 3 == 0);
  row[k++] = null_row ? v_null() : v_str(words[i % 7]);
  row[k++] = null_row ? v_null() : v_bin(bytes, (size_t)(i % 5));
  row[k++] = null_row ? v_null() : v_int(1600000000123 + i * 86400001 - (i % 4 == 1 ? INT64_C(1700000000000) : 0));
  row[k++] = null_row ? v_null() : v_int(18000 + i - (i % 6 == 2 ? 20000 : 0));
  row[k++] = null_row ? v_null() : v_dbl((double)i * 1.25 - 40);
  row[k++] = null_row ? v_null() : v_dbl((double)i * 1000000.5 - 7);
  sr_value inner = i % 4 == 0 ? v_null() : V_STRUCT(i % 8 == 1 ? v_null() : v_dbl((double)i / 4));
  row[k++] = null_row ? v_null() : V_STRUCT(i % 5 == 0 ? v_null() : v_int(i), v_str(words[(i + 1) % 7]), inner);
  row[k++] = null_row ? v_null() : i % 4 == 0 ? v_empty_list() : i % 4 == 1 ? V_LIST(v_int(i)) : V_LIST(v_int(i), v_null(), v_int(-i));
  row[k++] = null_row ? v_null() : i % 3 == 0 ? V_LIST(V_LIST(v_str("x"), v_null()), v_empty_list(), v_null(), V_LIST(v_str(words[i % 7])))
                                  : i % 3 == 1 ? v_empty_list() : V_LIST(V_LIST(v_str("y")));
  row[k++] = null_row ? v_null() : i % 2 ? V_LIST(V_STRUCT(v_str("k1"), V_LIST(v_int(1), v_int(2))), V_STRUCT(v_null(), v_null()))
                                  : V_LIST(V_STRUCT(v_str("k2"), v_empty_list()));
  row[k++] = null_row ? v_null() : i % 3 == 0 ? v_empty_list() : V_LIST(V_STRUCT(v_str("a"), v_int(i)), V_STRUCT(v_str("b"), i % 2 ? v_null() : v_int(-i)));
  row[k++] = v_int(i);
  return v_list(SR_VAL_STRUCT, k, row);
}

/* ---- comparing values ---- */

/* Exact equality (doubles bit for bit except NaN == NaN); f describes the value (NULL: no
** type at hand). A float column's expected value is the double rounded to float. */
static int same_value(const sr_field *f, const sr_value *want, const sr_value *got) {
  if (want->kind != got->kind) return 0;
  switch (want->kind) {
  case SR_VAL_NULL: return 1;
  case SR_VAL_BOOL: return !want->u.b == !got->u.b;
  case SR_VAL_INT: return want->u.i == got->u.i;
  case SR_VAL_DOUBLE: {
    double w = f && f->type == SR_TYPE_FLOAT ? (double)(float)want->u.d : want->u.d;
    return (isnan(w) && isnan(got->u.d)) || (w == got->u.d && signbit(w) == signbit(got->u.d));
  }
  case SR_VAL_STRING: case SR_VAL_BINARY:
    return want->u.str.len == got->u.str.len && memcmp(want->u.str.ptr, got->u.str.ptr, want->u.str.len) == 0;
  case SR_VAL_STRUCT: case SR_VAL_LIST: {
    if (want->u.list.n != got->u.list.n) return 0;
    sr_field entry;  /* a map's items are {key, value} structs */
    memset(&entry, 0, sizeof entry);
    entry.type = SR_TYPE_STRUCT;
    entry.children = f ? f->children : NULL;
    for (int i = 0; i < want->u.list.n; i++) {
      const sr_field *c = NULL;
      if (f && want->kind == SR_VAL_STRUCT) c = &f->children->fields[i];
      else if (f && f->type == SR_TYPE_ARRAY) c = f->element;
      else if (f && f->type == SR_TYPE_MAP) c = &entry;
      if (!same_value(c, &want->u.list.items[i], &got->u.list.items[i])) return 0;
    }
    return 1;
  }
  }
  return 0;
}

static void assert_same_row(const sr_schema *s, const sr_value *want, const sr_value *got, int64_t row) {
  sr_field root;
  memset(&root, 0, sizeof root);
  root.type = SR_TYPE_STRUCT;
  root.children = (sr_schema *)s;
  if (same_value(&root, want, got)) return;
  sr_buf a = SR_BUF_INIT, b = SR_BUF_INIT;
  duck_dump_value(want, &a);
  duck_dump_value(got, &b);
  SR_FAIL("row %" PRId64 " differs:\n  want %s\n  got  %s", row, sr_buf_cstr(&a), sr_buf_cstr(&b));
}

static void assert_same_schema(const sr_schema *want, const sr_schema *got) {
  ASSERT_EQ_INT(got->nfields, want->nfields);
  for (int i = 0; i < want->nfields; i++) {
    const sr_field *w = &want->fields[i], *g = &got->fields[i];
    ASSERT_EQ_STR(g->name, w->name);
    ASSERT_EQ_STR(sr_type_name(g->type), sr_type_name(w->type));
    ASSERT_EQ_INT(g->nullable, w->nullable);
    if (w->type == SR_TYPE_DECIMAL) {
      ASSERT_EQ_INT(g->precision, w->precision);
      ASSERT_EQ_INT(g->scale, w->scale);
    }
    if (w->children) assert_same_schema(w->children, g->children);
    if (w->element) {
      sr_schema ws = {1, w->element}, gs = {1, g->element};
      assert_same_schema(&ws, &gs);
    }
  }
}

/* ---- writing and reading with our code ---- */

static void write_rows(const sr_schema *s, const sr_pq_write_options *o, int64_t n,
                       sr_value (*make)(int64_t), const char *path) {
  sr_error *err = NULL;
  sr_pq_writer *w = sr_pq_writer_new(s, o, &err);
  if (!w) SR_FAIL("writer_new: %s", err->message);
  for (int64_t i = 0; i < n; i++) {
    if (sr_pq_writer_add_row(w, (sr_value[]){make(i)}, &err) != SR_OK)
      SR_FAIL("add_row %" PRId64 ": %s", i, err->message);
    if (i % 256 == 255) sr_arena_reset(&arena);  /* the writer copied what it needs */
  }
  ASSERT_EQ_INT(sr_pq_writer_num_rows(w), n);
  sr_buf file = SR_BUF_INIT;
  if (sr_pq_writer_finish(w, &file, &err) != SR_OK) SR_FAIL("finish: %s", err->message);
  write_file(path, &file);
  sr_buf_free(&file);
  sr_pq_writer_free(w);
}

/* Reads path with our reader and checks every row against make(i) and the schema. */
static void check_rows(const char *path, const sr_schema *s, int64_t n, sr_value (*make)(int64_t)) {
  sr_error *err = NULL;
  sr_pq_reader *r = sr_pq_reader_open(path, &err);
  if (!r) SR_FAIL("open %s: %s", path, err->message);
  assert_same_schema(s, sr_pq_reader_schema(r));
  ASSERT_EQ_INT(sr_pq_reader_num_rows(r), n);
  sr_arena rows_arena;
  sr_arena_init(&rows_arena);
  sr_value *rows = NULL;
  int64_t nrows = -1;
  if (sr_pq_reader_read_rows(r, &rows_arena, &rows, &nrows, &err) != SR_OK) SR_FAIL("read %s: %s", path, err->message);
  sr_pq_reader_free(r);  /* rows live in the arena, not in the reader */
  ASSERT_EQ_INT(nrows, n);
  for (int64_t i = 0; i < n; i++) {
    sr_value want = make(i);
    assert_same_row(s, &want, &rows[i], i);
    if (i % 256 == 255) sr_arena_reset(&arena);
  }
  sr_arena_free(&rows_arena);
}

SR_TEST(rle_hybrid_round_trips) {
  uint32_t values[5000], back[5000];
  unsigned seed = 7;
  for (int width = 0; width <= 20; width++) {
    for (int pattern = 0; pattern < 4; pattern++) {
      int n = pattern == 3 ? 5000 : 1 + pattern * 37 + width;
      uint32_t mask = width == 32 ? 0xffffffffu : (1u << width) - 1;
      for (int i = 0; i < n; i++) {
        seed = seed * 1103515245 + 12345;
        /* runs of repeats mixed with noise: both RLE and bit-packed runs, and partial groups */
        values[i] = ((i / 13) % 2 ? (uint32_t)(i / 26) : seed >> 8) & mask;
      }
      sr_buf out = SR_BUF_INIT;
      sr_pq_rle_encoder e;
      sr_pq_rle_init(&e, &out, width);
      for (int i = 0; i < n; i++) sr_pq_rle_put(&e, values[i]);
      ASSERT_EQ_INT(sr_pq_rle_finish(&e), 0);
      memset(back, 0xab, sizeof back);
      ASSERT_EQ_INT(sr_pq_rle_decode((const uint8_t *)out.data, out.len, width, back, (size_t)n), 0);
      for (int i = 0; i < n; i++) ASSERT_EQ_INT(back[i], values[i]);
      /* one value short of the data: still fine; truncated input: refused */
      if (out.len > 1) ASSERT_EQ_INT(sr_pq_rle_decode((const uint8_t *)out.data, out.len / 2, width, back, (size_t)n), -1);
      sr_buf_free(&out);
    }
  }
  /* 1000 equal values take one RLE run: a varint header and one value byte */
  sr_buf out = SR_BUF_INIT;
  sr_pq_rle_encoder e;
  sr_pq_rle_init(&e, &out, 3);
  for (int i = 0; i < 1000; i++) sr_pq_rle_put(&e, 5);
  ASSERT_EQ_INT(sr_pq_rle_finish(&e), 0);
  ASSERT_EQ_INT(out.len, 3);
  sr_buf_free(&out);
}

SR_TEST(round_trip_every_type_codec_and_encoding) {
  sr_schema *s = all_types_schema();
  const sr_pq_codec codecs[] = {SR_PQ_UNCOMPRESSED, SR_PQ_SNAPPY, SR_PQ_ZSTD, SR_PQ_GZIP};
  for (int c = 0; c < 4; c++) {
    for (int variant = 0; variant < 3; variant++) {
      sr_pq_write_options o;
      sr_pq_write_options_init(&o);
      o.codec = codecs[c];
      o.dictionary = variant != 1;
      o.data_page_v2 = variant == 2;
      o.page_bytes = variant == 2 ? 512 : 0;  /* many small pages, cut at row boundaries */
      char name[64];
      snprintf(name, sizeof name, "rt_%s_%d.parquet", sr_pq_codec_name(codecs[c]), variant);
      write_rows(s, &o, 700, all_types_row, tmp_path(name));
      check_rows(tmp_path(name), s, 700, all_types_row);
    }
  }
  sr_schema_free(s);
}

static sr_value small_row(int64_t i) {
  return V_STRUCT(v_int(i), i % 3 ? v_str(words[i % 7]) : v_null(), V_LIST(v_int(i), v_int(i + 1)));
}

static sr_schema *small_schema(void) {
  sr_schema *s = sr_schema_new();
  add(s, "id", SR_TYPE_LONG, 0);
  add(s, "name", SR_TYPE_STRING, 1);
  add_array(s, "xs", SR_TYPE_LONG, 0);
  return s;
}

SR_TEST(zero_rows_and_many_row_groups) {
  sr_schema *s = all_types_schema();
  write_rows(s, NULL, 0, all_types_row, tmp_path("empty.parquet"));
  check_rows(tmp_path("empty.parquet"), s, 0, all_types_row);
  sr_schema_free(s);

  s = small_schema();
  sr_pq_write_options o;
  sr_pq_write_options_init(&o);
  o.row_group_bytes = 2000;
  write_rows(s, &o, 5000, small_row, tmp_path("groups.parquet"));
  check_rows(tmp_path("groups.parquet"), s, 5000, small_row);
  sr_error *err = NULL;
  sr_pq_reader *r = sr_pq_reader_open(tmp_path("groups.parquet"), &err);
  ASSERT_TRUE(r != NULL);
  if (sr_pq_reader_num_row_groups(r) < 20) SR_FAIL("expected many row groups, got %d", sr_pq_reader_num_row_groups(r));
  /* projection: only some columns, in the order asked */
  sr_arena a;
  sr_arena_init(&a);
  sr_value *rows;
  int64_t n;
  ASSERT_EQ_INT(sr_pq_reader_read_columns(r, (int[]){2, 0}, 2, &a, &rows, &n, &err), SR_OK);
  ASSERT_EQ_INT(n, 5000);
  ASSERT_EQ_INT(rows[4321].u.list.n, 2);
  ASSERT_EQ_INT(rows[4321].u.list.items[0].u.list.items[1].u.i, 4322);
  ASSERT_EQ_INT(rows[4321].u.list.items[1].u.i, 4321);
  ASSERT_EQ_INT(sr_pq_reader_read_columns(r, (int[]){3}, 1, &a, &rows, &n, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "no column 3") != NULL);
  sr_error_free(err);
  sr_arena_free(&a);
  sr_pq_reader_free(r);
  sr_schema_free(s);
}

static sr_value distinct_row(int64_t i) {
  char text[64];
  snprintf(text, sizeof text, "distinct-value-%012" PRId64 "-padding-padding", i * 7);
  return V_STRUCT(v_int(i * 1000), v_str(text), v_str(words[i % 7]));
}

/* Over 1 MiB of distinct values: the dictionary is dropped midway for PLAIN, while a column of
** few values keeps its dictionary. */
SR_TEST(dictionary_falls_back_to_plain_when_too_big) {
  sr_schema *s = sr_schema_new();
  add(s, "n", SR_TYPE_LONG, 0);
  add(s, "text", SR_TYPE_STRING, 0);
  add(s, "word", SR_TYPE_STRING, 1);
  write_rows(s, NULL, 150000, distinct_row, tmp_path("big_dict.parquet"));
  check_rows(tmp_path("big_dict.parquet"), s, 150000, distinct_row);
  sr_schema_free(s);
}

static const sr_pq_column_stats *find_stats(const sr_pq_writer *w, const char *dotted) {
  for (int i = 0; i < sr_pq_writer_stats_count(w); i++) {
    const sr_pq_column_stats *st = sr_pq_writer_stats(w, i);
    char path[256] = "";
    for (int d = 0; d < st->depth; d++) {
      if (d) strcat(path, ".");
      strcat(path, st->names[d]);
    }
    if (strcmp(path, dotted) == 0) return st;
  }
  SR_FAIL("no statistics for %s", dotted);
}

static sr_value stats_row(int64_t i) {
  static char long_text[160];
  const char *s = i == 2 ? "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-past-32" : i == 3 ? "aardvark" : "m";
  if (i == 4) {  /* "b" and 70 two-byte characters: cut at a character boundary */
    strcpy(long_text, "b");
    for (int k = 0; k < 70; k++) strcat(long_text, "\xc3\xa9");
    s = long_text;
  }
  double d = i == 1 ? NAN : i == 2 ? -0.0 : i == 3 ? 2.5 : i == 4 ? -1.5 : 0.0;
  return V_STRUCT(i == 0 ? v_null() : v_int(100 - i * 10), v_dbl(d), v_str(s),
                  v_int(1700000000000 + i), V_STRUCT(i == 1 ? v_null() : v_int(i * 3)),
                  V_LIST(v_int(i)), v_bin("\x01", 1));
}

static sr_schema *stats_schema(void) {
  sr_schema *s = sr_schema_new();
  add(s, "n", SR_TYPE_LONG, 1);
  add(s, "d", SR_TYPE_DOUBLE, 1);
  add(s, "s", SR_TYPE_STRING, 1);
  add(s, "ts", SR_TYPE_TIMESTAMP, 1);
  sr_field *st = add(s, "st", SR_TYPE_STRUCT, 1);
  st->children = sr_schema_new();
  add(st->children, "x", SR_TYPE_INT, 1);
  add_array(s, "xs", SR_TYPE_LONG, 1);
  add(s, "bin", SR_TYPE_BINARY, 1);
  return s;
}

SR_TEST(statistics_for_delta_and_the_footer) {
  sr_schema *s = stats_schema();
  sr_error *err = NULL;
  sr_pq_write_options o;
  sr_pq_write_options_init(&o);
  o.row_group_bytes = 1;  /* one row per row group: file stats merge across groups */
  sr_pq_writer *w = sr_pq_writer_new(s, &o, &err);
  ASSERT_TRUE(w != NULL);
  ASSERT_TRUE(sr_pq_writer_stats(w, 0) == NULL);  /* not before finish */
  for (int64_t i = 0; i < 5; i++) ASSERT_EQ_INT(sr_pq_writer_add_row(w, (sr_value[]){stats_row(i)}, &err), SR_OK);
  sr_buf file = SR_BUF_INIT;
  ASSERT_EQ_INT(sr_pq_writer_finish(w, &file, &err), SR_OK);
  write_file(tmp_path("stats.parquet"), &file);
  sr_buf_free(&file);
  ASSERT_EQ_INT(sr_pq_writer_stats_count(w), 7);

  const sr_pq_column_stats *n = find_stats(w, "n");
  ASSERT_EQ_INT(n->null_count, 1);
  ASSERT_TRUE(n->has_min_max);
  ASSERT_EQ_INT(n->min.u.i, 60);
  ASSERT_EQ_INT(n->max.u.i, 90);
  ASSERT_EQ_INT(n->in_list, 0);

  const sr_pq_column_stats *d = find_stats(w, "d");  /* NaN left out; zeros widened */
  ASSERT_EQ_INT(d->null_count, 0);
  ASSERT_EQ_DBL(d->min.u.d, -1.5);
  ASSERT_EQ_DBL(d->max.u.d, 2.5);

  const sr_pq_column_stats *str = find_stats(w, "s");
  ASSERT_EQ_INT(str->min.kind, SR_VAL_STRING);
  ASSERT_EQ_STR(str->min.u.str.ptr, "aardvark");
  /* 32 characters kept, the last one raised so the bound stays above the real value */
  ASSERT_EQ_STR(str->max.u.str.ptr, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz{");

  const sr_pq_column_stats *ts = find_stats(w, "ts");
  ASSERT_EQ_INT(ts->min.u.i, 1700000000000);
  ASSERT_EQ_INT(ts->max.u.i, 1700000000004);
  ASSERT_EQ_STR(sr_type_name(ts->type), "timestamp");

  const sr_pq_column_stats *x = find_stats(w, "st.x");
  ASSERT_EQ_INT(x->null_count, 1);
  ASSERT_EQ_INT(x->min.u.i, 0);
  ASSERT_EQ_INT(x->max.u.i, 12);

  const sr_pq_column_stats *xs = find_stats(w, "xs.element");
  ASSERT_EQ_INT(xs->in_list, 1);
  ASSERT_EQ_INT(find_stats(w, "bin")->has_min_max, 0);
  sr_pq_writer_free(w);
  sr_schema_free(s);
}

SR_TEST(writer_refuses_bad_rows_and_stays_usable) {
  sr_schema *s = small_schema();
  add_map(s, "m", SR_TYPE_STRING, SR_TYPE_INT);
  sr_error *err = NULL;
  sr_pq_writer *w = sr_pq_writer_new(s, NULL, &err);
  ASSERT_TRUE(w != NULL);
  struct { sr_value row; const char *message; } bad[] = {
    {V_STRUCT(v_str("x"), v_null(), v_empty_list(), v_null()), "column id: expected long, got string"},
    {V_STRUCT(v_null(), v_null(), v_empty_list(), v_null()), "column id: null in a column that is not nullable"},
    {V_STRUCT(v_int(1), v_int(2), v_empty_list(), v_null()), "column name: expected string, got integer"},
    {V_STRUCT(v_int(1), v_null(), V_LIST(v_null()), v_null()), "column xs.element: null in a column"},
    {V_STRUCT(v_int(1), v_null(), v_empty_list(), V_LIST(V_STRUCT(v_null(), v_int(1)))), "column m.key: null"},
    {V_STRUCT(v_int(1), v_null(), v_empty_list(), V_LIST(V_STRUCT(v_str("k"), v_int(INT64_C(1) << 40)))), "out of range for int"},
    {V_STRUCT(v_int(1), v_null(), v_empty_list()), "a Parquet row must be a struct of 4 values"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ASSERT_EQ_INT(sr_pq_writer_add_row(w, &bad[i].row, &err), SR_ERROR);
    if (!strstr(err->message, bad[i].message)) SR_FAIL("case %zu: \"%s\" lacks \"%s\"", i, err->message, bad[i].message);
    sr_error_free(err);
    err = NULL;
  }
  ASSERT_EQ_INT(sr_pq_writer_add_row(w, (sr_value[]){V_STRUCT(v_int(7), v_str("ok"), V_LIST(v_int(1)),
                                                       V_LIST(V_STRUCT(v_str("k"), v_int(3))))}, &err), SR_OK);
  sr_buf file = SR_BUF_INIT;
  ASSERT_EQ_INT(sr_pq_writer_finish(w, &file, &err), SR_OK);
  ASSERT_EQ_INT(sr_pq_writer_add_row(w, (sr_value[]){V_STRUCT(v_int(8), v_null(), v_empty_list(), v_null())}, &err), SR_ERROR);
  sr_error_free(err);
  err = NULL;
  write_file(tmp_path("refused.parquet"), &file);
  sr_buf_free(&file);
  sr_pq_writer_free(w);
  sr_pq_reader *r = sr_pq_reader_open(tmp_path("refused.parquet"), &err);
  ASSERT_TRUE(r != NULL);
  ASSERT_EQ_INT(sr_pq_reader_num_rows(r), 1);
  sr_pq_reader_free(r);

  sr_schema *bad_schema = sr_schema_new();
  sr_field *dec = add(bad_schema, "d", SR_TYPE_DECIMAL, 1);
  dec->precision = 40;
  ASSERT_TRUE(sr_pq_writer_new(bad_schema, NULL, &err) == NULL);
  ASSERT_TRUE(strstr(err->message, "decimal(40,0)") != NULL);
  sr_error_free(err);
  sr_schema_free(bad_schema);
  sr_schema_free(s);
}

SR_TEST(reader_survives_corrupt_files) {
  sr_schema *s = all_types_schema();
  write_rows(s, NULL, 50, all_types_row, tmp_path("good.parquet"));
  sr_schema_free(s);
  FILE *f = fopen(tmp_path("good.parquet"), "rb");
  ASSERT_TRUE(f != NULL);
  static uint8_t good[1 << 16], bad[1 << 16];
  size_t n = fread(good, 1, sizeof good, f);
  fclose(f);
  ASSERT_TRUE(n > 100 && n < sizeof good);
  unsigned seed = 1;
  int opened = 0, failed = 0;
  for (int round = 0; round < 300; round++) {
    memcpy(bad, good, n);
    size_t len = n;
    if (round % 10 == 9) {
      len = n - 1 - (size_t)round % (n - 1);  /* truncated */
    } else {
      for (int k = 0; k < 1 + round % 4; k++) {
        seed = seed * 1103515245 + 12345;
        bad[(seed >> 4) % n] ^= (uint8_t)(1 + (seed >> 20) % 255);
      }
    }
    const char *path = tmp_path("bad.parquet");
    FILE *o = fopen(path, "wb");
    fwrite(bad, 1, len, o);
    fclose(o);
    sr_error *err = NULL;
    sr_pq_reader *r = sr_pq_reader_open(path, &err);
    if (!r) { ASSERT_TRUE(err && err->message[0]); sr_error_free(err); failed++; continue; }
    opened++;
    sr_arena a;
    sr_arena_init(&a);
    sr_value *rows;
    int64_t nrows;
    if (sr_pq_reader_read_rows(r, &a, &rows, &nrows, &err) != SR_OK) { ASSERT_TRUE(err != NULL); sr_error_free(err); }
    sr_arena_free(&a);
    sr_pq_reader_free(r);
  }
  ASSERT_TRUE(opened > 0 && failed > 0);
  sr_error *err = NULL;
  ASSERT_TRUE(sr_pq_reader_open(tmp_path("no-such-file.parquet"), &err) == NULL);
  ASSERT_TRUE(strstr(err->message, "no-such-file.parquet") != NULL);
  sr_error_free(err);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorts paths by name and returns the query that reads them all in that order (the caller
** frees it). */
static char *duck_read_sql(char **paths, int npaths) {
  qsort(paths, (size_t)npaths, sizeof *paths, cmp_str);
  sr_buf sql = SR_BUF_INIT;
  sr_buf_puts(&sql, "SELECT * EXCLUDE (filename, file_row_number) FROM read_parquet([");
  for (int i = 0; i < npaths; i++) sr_buf_printf(&sql, "%s'%s'", i ? ", " : "", paths[i]);
  sr_buf_puts(&sql, "], filename=true, file_row_number=true, hive_partitioning=false) ORDER BY filename, file_row_number");
  return sql.data;
}

/* Reads every file (sorted, as duck_read_sql left them) with our reader and checks all rows
** against DuckDB's rows for them. Returns the rows compared. */
static int64_t compare_rows(char **paths, int npaths, json_t *rows) {
  size_t k = 0;
  for (int i = 0; i < npaths; i++) {
    sr_error *err = NULL;
    sr_pq_reader *r = sr_pq_reader_open(paths[i], &err);
    if (!r) SR_FAIL("%s", err->message);
    sr_arena a;
    sr_arena_init(&a);
    sr_value *ours;
    int64_t n;
    if (sr_pq_reader_read_rows(r, &a, &ours, &n, &err) != SR_OK) SR_FAIL("%s", err->message);
    sr_field root;
    memset(&root, 0, sizeof root);
    root.type = SR_TYPE_STRUCT;
    root.children = (sr_schema *)sr_pq_reader_schema(r);
    for (int64_t row = 0; row < n; row++, k++) {
      if (k >= json_array_size(rows)) SR_FAIL("%s: DuckDB has fewer rows than we read", paths[i]);
      char path[600];
      snprintf(path, sizeof path, "%s row %" PRId64, strrchr(paths[i], '/') + 1, row);
      duck_check_value(&root, &ours[row], json_array_get(rows, k), path, 0);
    }
    sr_arena_free(&a);
    sr_pq_reader_free(r);
  }
  ASSERT_EQ_INT(json_array_size(rows), k);
  return (int64_t)k;
}

/* Both steps for one set of files, in one DuckDB run. */
static int64_t compare_with_duckdb(char **paths, int npaths) {
  char *sql = duck_read_sql(paths, npaths);
  json_t *rows = duck(sql);
  int64_t n = compare_rows(paths, npaths, rows);
  json_decref(rows);
  free(sql);
  return n;
}

/* Parquet files under dir (recursively), appended to paths. */
static void find_parquet(const char *dir, char **paths, int *n, int max) {
  DIR *d = opendir(dir);
  if (!d) SR_FAIL("cannot open %s: %s (is SR_FIXTURES right?)", dir, strerror(errno));
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || strcmp(e->d_name, "_delta_log") == 0) continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    size_t len = strlen(e->d_name);
    if (len > 8 && strcmp(e->d_name + len - 8, ".parquet") == 0) {
      ASSERT_TRUE(*n < max);
      paths[(*n)++] = strdup(path);
    } else if (e->d_type == DT_DIR) {
      find_parquet(path, paths, n, max);
    }
  }
  closedir(d);
}

SR_TEST(golden_files_read_the_same_as_duckdb) {
  /* each table's data files, and the checkpoint (deeply nested, maps and a list) on its own */
  static const char *const tables[] = {"data-reader-primitives", "snapshot-data0", "snapshot-data1",
                                       "kernel-timestamp-TIMESTAMP_MICROS", "basic-with-checkpoint", NULL};
  enum { NT = sizeof tables / sizeof *tables };
  char *paths[NT][64];
  int n[NT] = {0};
  char *sqls[NT];
  char path[512];
  snprintf(path, sizeof path, "%s/delta-golden/basic-with-checkpoint/_delta_log/00000000000000000010.checkpoint.parquet", fixtures());
  for (int t = 0; t < NT; t++) {
    if (tables[t]) {
      char dir[512];
      snprintf(dir, sizeof dir, "%s/delta-golden/%s", fixtures(), tables[t]);
      find_parquet(dir, paths[t], &n[t], 64);
      ASSERT_TRUE(n[t] > 0);
    } else {
      paths[t][n[t]++] = strdup(path);
    }
    sqls[t] = duck_read_sql(paths[t], n[t]);
  }
  json_t *results = duck_many((const char *const *)sqls, NT);
  for (int t = 0; t < NT; t++) {
    int64_t rows = compare_rows(paths[t], n[t], json_array_get(results, (size_t)t));
    if (tables[t] ? rows < 5 : rows != 24) SR_FAIL("%s: %" PRId64 " rows compared", tables[t] ? tables[t] : "checkpoint", rows);
    for (int i = 0; i < n[t]; i++) free(paths[t][i]);
    free(sqls[t]);
  }
  json_decref(results);
  sr_error *err = NULL;
  sr_pq_reader *r = sr_pq_reader_open(path, &err);
  ASSERT_TRUE(r != NULL);
  const sr_schema *s = sr_pq_reader_schema(r);
  const sr_field *add = &s->fields[sr_schema_find(s, "add")];
  const sr_field *pv = &add->children->fields[sr_schema_find(add->children, "partitionValues")];
  ASSERT_EQ_STR(sr_type_name(pv->type), "map");
  ASSERT_EQ_STR(pv->children->fields[0].name, "key");
  ASSERT_EQ_INT(pv->children->fields[0].nullable, 0);
  const sr_field *md = &s->fields[sr_schema_find(s, "metaData")];
  const sr_field *pc = &md->children->fields[sr_schema_find(md->children, "partitionColumns")];
  ASSERT_EQ_STR(sr_type_name(pc->type), "array");
  ASSERT_EQ_STR(sr_type_name(pc->element->type), "string");
  sr_pq_reader_free(r);
}

/* Checks the footer statistics DuckDB sees in duck_stats.parquet: one row per row group (see
** stats_row), columns d, n, s of each group in that order. */
static void check_footer_stats(json_t *rows) {
  ASSERT_EQ_INT(json_array_size(rows), 15);
  /* [group][d, n, s]: min, max, nulls */
  static const char *const want_stats[5][3][3] = {
    {{"-0.0", "0.0", "0"}, {NULL, NULL, "1"}, {"m", "m", "0"}},
    {{NULL, NULL, "0"}, {"90", "90", "0"}, {"m", "m", "0"}},
    {{"-0.0", "0.0", "0"}, {"80", "80", "0"},
     {"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-past-32", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-past-32", "0"}},
    {{"2.5", "2.5", "0"}, {"70", "70", "0"}, {"aardvark", "aardvark", "0"}},
    {{"-1.5", "-1.5", "0"}, {"60", "60", "0"}, {NULL, NULL, "0"}}};
  for (int g = 0; g < 5; g++) {
    for (int c = 0; c < 3; c++) {
      json_t *r = json_array_get(rows, (size_t)(g * 3 + c));
      json_t *min = json_object_get(r, "stats_min_value"), *max = json_object_get(r, "stats_max_value");
      char nulls[32];
      snprintf(nulls, sizeof nulls, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(r, "stats_null_count")));
      ASSERT_EQ_STR(nulls, want_stats[g][c][2]);
      if (g == 4 && c == 2) {  /* "b" + 70 x "é": 64 characters, the max's last raised to "ê" */
        char want_min[200] = "b", want_max[200] = "b";
        for (int k = 0; k < 63; k++) strcat(want_min, "\xc3\xa9");
        for (int k = 0; k < 62; k++) strcat(want_max, "\xc3\xa9");
        strcat(want_max, "\xc3\xaa");
        ASSERT_EQ_STR(json_string_value(min), want_min);
        ASSERT_EQ_STR(json_string_value(max), want_max);
      } else if (!want_stats[g][c][0]) {
        ASSERT_TRUE(json_is_null(min) && json_is_null(max));
      } else {
        ASSERT_EQ_STR(json_string_value(min), want_stats[g][c][0]);
        ASSERT_EQ_STR(json_string_value(max), want_stats[g][c][1]);
      }
    }
  }
}

SR_TEST(duckdb_reads_our_files) {
  sr_schema *s = all_types_schema();
  const sr_pq_codec codecs[] = {SR_PQ_UNCOMPRESSED, SR_PQ_SNAPPY, SR_PQ_ZSTD, SR_PQ_GZIP, SR_PQ_ZSTD};
  char *paths[5];
  for (int c = 0; c < 5; c++) {
    sr_pq_write_options o;
    sr_pq_write_options_init(&o);
    o.codec = codecs[c];
    o.dictionary = c != 4;      /* the last one: PLAIN, v2 pages, small pages and row groups */
    o.data_page_v2 = c == 4;
    o.page_bytes = c == 4 ? 700 : 0;
    o.row_group_bytes = c == 4 ? 30000 : 0;
    char name[64];
    snprintf(name, sizeof name, "duck_%d_%s.parquet", c, sr_pq_codec_name(codecs[c]));
    paths[c] = strdup(tmp_path(name));
    write_rows(s, &o, 400, all_types_row, paths[c]);
  }
  write_rows(s, NULL, 0, all_types_row, tmp_path("duck_empty.parquet"));
  sr_schema *small = small_schema();
  sr_pq_write_options o;
  sr_pq_write_options_init(&o);
  o.row_group_bytes = 2000;
  write_rows(small, &o, 3000, small_row, tmp_path("duck_groups.parquet"));
  sr_schema_free(small);
  sr_schema *st = stats_schema();
  sr_pq_write_options_init(&o);
  o.row_group_bytes = 1;  /* a row group per row */
  write_rows(st, &o, 5, stats_row, tmp_path("duck_stats.parquet"));
  sr_schema_free(st);

  sr_buf q[4] = {SR_BUF_INIT, SR_BUF_INIT, SR_BUF_INIT, SR_BUF_INIT};
  sr_buf_printf(&q[0], "SELECT * FROM read_parquet('%s')", paths[1]);
  sr_buf_printf(&q[1], "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('%s'))", paths[0]);
  sr_buf_printf(&q[2],
      "SELECT (SELECT count(*) FROM read_parquet('%s')) AS empty_rows, "
      "(SELECT count(*) FROM read_parquet('%s')) AS group_rows, "
      "(SELECT sum(id) FROM read_parquet('%s')) AS id_sum, "
      "(SELECT count(DISTINCT row_group_id) FROM parquet_metadata('%s')) AS groups, "
      "(SELECT encodings FROM parquet_metadata('%s') WHERE path_in_schema = 's') AS s_dict, "
      "(SELECT encodings FROM parquet_metadata('%s') WHERE path_in_schema = 'd') AS d_plain, "
      "(SELECT string_agg(DISTINCT encodings) FROM parquet_metadata('%s') WHERE path_in_schema = 's') AS s_plain",
      tmp_path("duck_empty.parquet"), tmp_path("duck_groups.parquet"), tmp_path("duck_groups.parquet"),
      tmp_path("duck_groups.parquet"), paths[1], paths[1], paths[4]);
  sr_buf_printf(&q[3], "SELECT row_group_id, path_in_schema, stats_min_value, stats_max_value, stats_null_count "
                "FROM parquet_metadata('%s') WHERE path_in_schema IN ('n', 'd', 's') "
                "ORDER BY row_group_id, path_in_schema", tmp_path("duck_stats.parquet"));
  char *read_all_sql = duck_read_sql(paths, 5);
  const char *sqls[] = {read_all_sql, q[0].data, q[1].data, q[2].data, q[3].data};
  json_t *results = duck_many(sqls, 5);

  /* every file, every codec and encoding: DuckDB reads what our reader reads (and that is
  ** what we wrote: see round_trip_every_type_codec_and_encoding) */
  ASSERT_EQ_INT(compare_rows(paths, 5, json_array_get(results, 0)), 5 * 400);

  /* and the values we meant to write, checked directly against DuckDB for one file */
  json_t *rows = json_array_get(results, 1);
  sr_field root;
  memset(&root, 0, sizeof root);
  root.type = SR_TYPE_STRUCT;
  root.children = s;
  ASSERT_EQ_INT(json_array_size(rows), 400);
  for (int64_t i = 0; i < 400; i++) {
    sr_value want = all_types_row(i);
    duck_check_value(&root, &want, json_array_get(rows, (size_t)i), "written row", 0);
  }

  /* the types DuckDB sees */
  rows = json_array_get(results, 2);
  static const char *const want_types[][2] = {
    {"l", "BIGINT"}, {"i", "INTEGER"}, {"sh", "SMALLINT"}, {"by", "TINYINT"}, {"d", "DOUBLE"},
    {"f", "FLOAT"}, {"b", "BOOLEAN"}, {"s", "VARCHAR"}, {"bin", "BLOB"},
    {"ts", "TIMESTAMP WITH TIME ZONE"}, {"dt", "DATE"}, {"dec", "DECIMAL(10,2)"},
    {"dec38", "DECIMAL(38,6)"}, {"st", "STRUCT(a INTEGER, b VARCHAR, \"inner\" STRUCT(x DOUBLE))"},
    {"arr", "BIGINT[]"}, {"nested", "VARCHAR[][]"}, {"structs", "STRUCT(k VARCHAR, tags INTEGER[])[]"},
    {"m", "MAP(VARCHAR, BIGINT)"}, {"req", "BIGINT"}};
  ASSERT_EQ_INT(json_array_size(rows), sizeof want_types / sizeof *want_types);
  for (size_t i = 0; i < json_array_size(rows); i++) {
    json_t *row = json_array_get(rows, i);
    ASSERT_EQ_STR(json_string_value(json_object_get(row, "column_name")), want_types[i][0]);
    ASSERT_EQ_STR(json_string_value(json_object_get(row, "column_type")), want_types[i][1]);
  }

  /* an empty file, many row groups, where dictionaries were used */
  json_t *row = json_array_get(json_array_get(results, 3), 0);
  ASSERT_EQ_INT(json_integer_value(json_object_get(row, "empty_rows")), 0);
  ASSERT_EQ_INT(json_integer_value(json_object_get(row, "group_rows")), 3000);
  ASSERT_EQ_INT(json_number_value(json_object_get(row, "id_sum")), 2999 * 3000 / 2);
  if (json_integer_value(json_object_get(row, "groups")) < 20) SR_FAIL("expected many row groups");
  /* few distinct strings pay for a dictionary, distinct doubles do not; dictionary off is off */
  ASSERT_TRUE(strstr(json_string_value(json_object_get(row, "s_dict")), "RLE_DICTIONARY") != NULL);
  ASSERT_TRUE(strstr(json_string_value(json_object_get(row, "d_plain")), "DICTIONARY") == NULL);
  ASSERT_TRUE(strstr(json_string_value(json_object_get(row, "s_plain")), "DICTIONARY") == NULL);

  check_footer_stats(json_array_get(results, 4));

  json_decref(results);
  free(read_all_sql);
  for (int i = 0; i < 4; i++) sr_buf_free(&q[i]);
  for (int c = 0; c < 5; c++) free(paths[c]);
  sr_schema_free(s);
}

SR_TEST(we_read_duckdb_files_the_same_as_duckdb) {
  static const char *const formats[] = {
    "COMPRESSION 'snappy'", "COMPRESSION 'zstd'", "COMPRESSION 'gzip'", "COMPRESSION 'uncompressed'",
    "COMPRESSION 'zstd', PARQUET_VERSION V2", "COMPRESSION 'snappy', PARQUET_VERSION V2, ROW_GROUP_SIZE 1000"};
  const char *select =
      "SELECT (i * 1000003 - 500000000000)::BIGINT AS l, CASE WHEN i % 7 = 0 THEN NULL ELSE i::INT END AS n, "
      "(i % 100)::TINYINT AS ti, (i * 3)::SMALLINT AS si, (i % 200)::UTINYINT AS ut, (i * 100000)::UINTEGER AS ui, "
      "i / 7.0 AS d, (i / 3.0)::FLOAT AS f, i % 3 = 0 AS b, 'str' || (i % 50) AS s, md5(i::VARCHAR) AS u, "
      "TIMESTAMP '1969-12-31 23:00:00' + INTERVAL (i * 1234567) MICROSECOND AS ts, "
      "(TIMESTAMP '2020-01-01' + INTERVAL (i * 1001) MILLISECOND)::TIMESTAMP_MS AS ts_ms, "
      "(TIMESTAMP '2020-01-01' + INTERVAL (i * 7) MICROSECOND)::TIMESTAMP_NS AS ts_ns, "
      "DATE '1960-01-01' + i::INT AS dt, (i * 1.125)::DECIMAL(18,3) AS dec18, "
      "(i * 12345678901.5)::DECIMAL(38,10) AS dec38, (i / 8)::DECIMAL(4,1) AS dec4, encode('b' || i) AS bl, "
      "CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN [] ELSE [i::INT, NULL, i::INT + 1] END AS lst, "
      "{'a': i, 'b': CASE WHEN i % 5 = 0 THEN NULL ELSE 'x' || i END} AS st, "
      "MAP {'k' || (i % 3): i::INT} AS mp, [[i::BIGINT], []] AS nested "
      "FROM range(0, 3000) t(i)";
  sr_buf sql = SR_BUF_INIT;
  char *paths[6];
  for (int k = 0; k < 6; k++) {
    char name[64];
    snprintf(name, sizeof name, "from_duckdb_%d.parquet", k);
    paths[k] = strdup(tmp_path(name));
    sr_buf_printf(&sql, "COPY (%s) TO '%s' (FORMAT parquet, %s);\n", select, paths[k], formats[k]);
  }
  char *read_sql = duck_read_sql(paths, 6);
  sr_buf_puts(&sql, read_sql);  /* the files DuckDB wrote, read back by DuckDB in the same run */
  json_t *rows = duck(sr_buf_cstr(&sql));
  ASSERT_EQ_INT(compare_rows(paths, 6, rows), 6 * 3000);
  json_decref(rows);
  free(read_sql);
  sr_error *err = NULL;
  sr_pq_reader *r = sr_pq_reader_open(paths[5], &err);
  ASSERT_TRUE(r != NULL);
  if (sr_pq_reader_num_row_groups(r) < 2) SR_FAIL("expected several row groups, got %d", sr_pq_reader_num_row_groups(r));
  const sr_schema *s = sr_pq_reader_schema(r);
  static const char *const want[][2] = {{"ti", "byte"}, {"si", "short"}, {"ut", "short"}, {"ui", "long"},
                                        {"ts_ns", "timestamp"}, {"dec38", "decimal"}, {"bl", "binary"},
                                        {"mp", "map"}, {"nested", "array"}};
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    int idx = sr_schema_find(s, want[i][0]);
    ASSERT_TRUE(idx >= 0);
    ASSERT_EQ_STR(sr_type_name(s->fields[idx].type), want[i][1]);
  }
  sr_pq_reader_free(r);
  for (int k = 0; k < 6; k++) free(paths[k]);
  sr_buf_free(&sql);
}

/* ---- a hand-made file for an encoding neither we nor DuckDB write ---- */

static void put_uvarint(sr_buf *b, uint64_t v) {
  while (v >= 0x80) { sr_buf_putc(b, (char)(v | 0x80)); v >>= 7; }
  sr_buf_putc(b, (char)v);
}

/* DELTA_BINARY_PACKED (Encodings.md) of at most 129 values: one block of 128 deltas in four
** miniblocks of 32. */
static void delta_encode(const int64_t *v, int n, sr_buf *out) {
  put_uvarint(out, 128);
  put_uvarint(out, 4);
  put_uvarint(out, (uint64_t)n);
  put_uvarint(out, ((uint64_t)v[0] << 1) ^ (uint64_t)(v[0] >> 63));
  if (n < 2) return;
  int64_t min = INT64_MAX;
  for (int i = 1; i < n; i++) if (v[i] - v[i - 1] < min) min = v[i] - v[i - 1];
  put_uvarint(out, ((uint64_t)min << 1) ^ (uint64_t)(min >> 63));
  int widths[4] = {0};
  for (int i = 1; i < n; i++) {
    int w = sr_pq_bit_width((uint64_t)(v[i] - v[i - 1] - min));
    if (w > widths[(i - 1) / 32]) widths[(i - 1) / 32] = w;
  }
  for (int m = 0; m < 4; m++) sr_buf_putc(out, (char)widths[m]);
  for (int m = 0; m * 32 < n - 1; m++) {
    uint8_t packed[4 * 64] = {0};
    for (int i = 0; i < 32; i++) {
      int k = 1 + m * 32 + i;
      uint64_t d = k < n ? (uint64_t)(v[k] - v[k - 1] - min) : 0;
      for (int b = 0; b < widths[m]; b++)
        if (d >> b & 1) packed[(i * widths[m] + b) / 8] |= (uint8_t)(1 << ((i * widths[m] + b) % 8));
    }
    sr_buf_append(out, packed, (size_t)(4 * widths[m]));
  }
}

/* One column of a hand-made file: its leaf's path and type, and one uncompressed v1 page. */
typedef struct hand_column {
  int physical;
  const char *path[2];
  int npath;
  int encoding;
  int num_values;  /* levels */
  sr_buf body;     /* levels and values, as a v1 page holds them */
} hand_column;

/* Writes a Parquet file of one row group from the footer schema and the columns' pages. */
static void write_hand_file(const char *path, sr_pq_schema_element *schema, int nschema,
                            hand_column *cols, int ncols, int64_t rows) {
  sr_buf file = SR_BUF_INIT;
  sr_buf_puts(&file, "PAR1");
  sr_pq_column_meta metas[4];
  ASSERT_TRUE(ncols <= 4);
  for (int c = 0; c < ncols; c++) {
    size_t start = file.len;
    sr_pq_page_header h;
    memset(&h, 0, sizeof h);
    h.type = SR_PQ_PAGE_DATA;
    h.uncompressed_size = h.compressed_size = (int32_t)cols[c].body.len;
    h.num_values = cols[c].num_values;
    h.encoding = cols[c].encoding;
    h.def_encoding = h.rep_encoding = SR_PQ_ENC_RLE;
    ASSERT_EQ_INT(sr_pq_page_header_encode(&h, &file), 0);
    sr_buf_append(&file, cols[c].body.data, cols[c].body.len);
    metas[c] = (sr_pq_column_meta){.type = cols[c].physical, .nencodings = 1, .encodings = {cols[c].encoding},
                                   .npath = cols[c].npath, .path = (char **)cols[c].path, .codec = SR_PQ_UNCOMPRESSED,
                                   .num_values = cols[c].num_values, .data_page_offset = (int64_t)start,
                                   .dictionary_page_offset = -1};
    metas[c].total_uncompressed_size = metas[c].total_compressed_size = (int64_t)(file.len - start);
  }
  sr_pq_row_group rg = {.ncolumns = ncols, .columns = metas, .num_rows = rows, .file_offset = 4};
  sr_pq_file_meta m = {.version = 1, .nschema = nschema, .schema = schema, .num_rows = rows,
                       .nrow_groups = 1, .row_groups = &rg};
  size_t footer_at = file.len;
  ASSERT_EQ_INT(sr_pq_meta_encode(&m, &file), 0);
  uint32_t footer_len = (uint32_t)(file.len - footer_at);
  sr_buf_append(&file, &footer_len, 4);  /* little-endian host, as the writer assumes */
  sr_buf_puts(&file, "PAR1");
  write_file(path, &file);
  sr_buf_free(&file);
  for (int c = 0; c < ncols; c++) sr_buf_free(&cols[c].body);
}

/* Appends v1 levels: a 4-byte length and the RLE/bit-packed hybrid. */
static void put_levels(sr_buf *b, const int *levels, int n, int max_level) {
  size_t at = b->len;
  sr_buf_append(b, "\0\0\0\0", 4);
  sr_pq_rle_encoder e;
  sr_pq_rle_init(&e, b, sr_pq_bit_width((uint64_t)max_level));
  for (int i = 0; i < n; i++) sr_pq_rle_put(&e, (uint32_t)levels[i]);
  ASSERT_EQ_INT(sr_pq_rle_finish(&e), 0);
  uint32_t len = (uint32_t)(b->len - at - 4);
  memcpy(b->data + at, &len, 4);
}

static void read_all(const char *path, sr_arena *a, sr_value **rows, int64_t *n) {
  sr_error *err = NULL;
  sr_pq_reader *r = sr_pq_reader_open(path, &err);
  if (!r) SR_FAIL("%s", err->message);
  if (sr_pq_reader_read_rows(r, a, rows, n, &err) != SR_OK) SR_FAIL("%s", err->message);
  sr_pq_reader_free(r);
}

/* A footer SchemaElement: type -1 for a group, repetition -1 for the root. */
static sr_pq_schema_element element(const char *name, int type, int repetition, int num_children,
                                    int converted) {
  sr_pq_schema_element e;
  memset(&e, 0, sizeof e);
  e.name = (char *)name;
  e.type = type;
  e.repetition = repetition;
  e.num_children = num_children;
  e.converted = converted;
  return e;
}

SR_TEST(reads_delta_byte_array_strings) {
  static const char *const values[] = {"apple", "applesauce", "apricot", "banana", "band", "", "bandana", "\xc3\xa9t\xc3\xa9"};
  enum { N = 8 };
  int64_t prefix[N], suffix[N];
  hand_column col = {.physical = SR_PQ_BYTE_ARRAY, .path = {"s"}, .npath = 1,
                     .encoding = SR_PQ_ENC_DELTA_BYTE_ARRAY, .num_values = N, .body = SR_BUF_INIT};
  sr_buf data = SR_BUF_INIT;
  for (int i = 0; i < N; i++) {
    size_t p = 0;
    while (i > 0 && values[i][p] && values[i][p] == values[i - 1][p]) p++;
    prefix[i] = (int64_t)p;
    suffix[i] = (int64_t)(strlen(values[i]) - p);
    sr_buf_puts(&data, values[i] + p);
  }
  delta_encode(prefix, N, &col.body);
  delta_encode(suffix, N, &col.body);
  sr_buf_append(&col.body, data.data, data.len);
  sr_buf_free(&data);
  sr_pq_schema_element schema[] = {
    element("schema", -1, -1, 1, -1), element("s", SR_PQ_BYTE_ARRAY, SR_PQ_REQUIRED, 0, SR_PQ_CT_UTF8)};
  char *path = strdup(tmp_path("delta_byte_array.parquet"));
  write_hand_file(path, schema, 2, &col, 1, N);
  sr_arena a;
  sr_arena_init(&a);
  sr_value *rows;
  int64_t n;
  read_all(path, &a, &rows, &n);
  ASSERT_EQ_INT(n, N);
  for (int i = 0; i < N; i++) {
    const sr_value *v = &rows[i].u.list.items[0];
    ASSERT_EQ_INT(v->kind, SR_VAL_STRING);
    ASSERT_EQ_STR(sr_arena_strndup(&a, v->u.str.ptr, v->u.str.len), values[i]);
  }
  sr_arena_free(&a);
  ASSERT_EQ_INT(compare_with_duckdb(&path, 1), N);  /* the hand-made file is valid Parquet */
  free(path);
}

/* Spark's INT96 timestamps, a legacy 2-level list and a bare repeated field. */
SR_TEST(reads_int96_and_legacy_lists) {
  enum { ROWS = 4 };
  /* INT96: nanoseconds of the day (8 bytes) then the Julian day (4 bytes), little-endian */
  struct { int64_t nanos; int32_t julian; int64_t want_us; } ts[ROWS] = {
    {1000000, 2440588, 1000}, {86399999000000, 2440587, -1000}, {0, 2458850, 1577836800000000},
    {999999, 2440588, 999}};
  hand_column cols[3] = {
    {.physical = SR_PQ_INT96, .path = {"t"}, .npath = 1, .encoding = SR_PQ_ENC_PLAIN, .num_values = ROWS},
    {.physical = SR_PQ_INT32, .path = {"a", "array"}, .npath = 2, .encoding = SR_PQ_ENC_PLAIN, .num_values = 5},
    {.physical = SR_PQ_INT32, .path = {"r"}, .npath = 1, .encoding = SR_PQ_ENC_PLAIN, .num_values = 5}};
  for (int i = 0; i < ROWS; i++) {
    sr_buf_append(&cols[0].body, &ts[i].nanos, 8);
    sr_buf_append(&cols[0].body, &ts[i].julian, 4);
  }
  /* a: [1, 2], null, [], [3]  (optional group (LIST) { repeated int32 array }) */
  put_levels(&cols[1].body, (int[]){0, 1, 0, 0, 0}, 5, 1);
  put_levels(&cols[1].body, (int[]){2, 2, 0, 1, 2}, 5, 2);
  sr_buf_append(&cols[1].body, (int32_t[]){1, 2, 3}, 12);
  /* r: [5, 6], [], [7], []  (repeated int32 r) */
  put_levels(&cols[2].body, (int[]){0, 1, 0, 0, 0}, 5, 1);
  put_levels(&cols[2].body, (int[]){1, 1, 0, 1, 0}, 5, 1);
  sr_buf_append(&cols[2].body, (int32_t[]){5, 6, 7}, 12);
  sr_pq_schema_element schema[] = {
    element("schema", -1, -1, 3, -1),
    element("t", SR_PQ_INT96, SR_PQ_REQUIRED, 0, -1),
    element("a", -1, SR_PQ_OPTIONAL, 1, SR_PQ_CT_LIST),
    element("array", SR_PQ_INT32, SR_PQ_REPEATED, 0, -1),
    element("r", SR_PQ_INT32, SR_PQ_REPEATED, 0, -1)};
  char *path = strdup(tmp_path("legacy.parquet"));
  write_hand_file(path, schema, 5, cols, 3, ROWS);
  sr_error *err = NULL;
  sr_pq_reader *r = sr_pq_reader_open(path, &err);
  if (!r) SR_FAIL("%s", err->message);
  const sr_schema *s = sr_pq_reader_schema(r);
  ASSERT_EQ_STR(sr_type_name(s->fields[0].type), "timestamp");
  ASSERT_EQ_STR(sr_type_name(s->fields[1].type), "array");
  ASSERT_EQ_INT(s->fields[1].nullable, 1);
  ASSERT_EQ_STR(sr_type_name(s->fields[1].element->type), "int");
  ASSERT_EQ_INT(s->fields[1].element->nullable, 0);
  ASSERT_EQ_STR(sr_type_name(s->fields[2].type), "array");
  ASSERT_EQ_INT(s->fields[2].nullable, 0);
  sr_pq_reader_free(r);
  sr_arena a;
  sr_arena_init(&a);
  sr_value *rows;
  int64_t n;
  read_all(path, &a, &rows, &n);
  ASSERT_EQ_INT(n, ROWS);
  for (int i = 0; i < ROWS; i++) ASSERT_EQ_INT(rows[i].u.list.items[0].u.i, ts[i].want_us);
  sr_buf got = SR_BUF_INIT;
  for (int i = 0; i < ROWS; i++) {
    duck_dump_value(&rows[i].u.list.items[1], &got);
    sr_buf_putc(&got, ' ');
    duck_dump_value(&rows[i].u.list.items[2], &got);
    sr_buf_putc(&got, ';');
  }
  ASSERT_EQ_STR(sr_buf_cstr(&got), "[1, 2] [5, 6];null [];[] [7];[3] [];");
  sr_buf_free(&got);
  sr_arena_free(&a);
  ASSERT_EQ_INT(compare_with_duckdb(&path, 1), ROWS);
  free(path);
}

int main(void) {
  snprintf(tmp_dir, sizeof tmp_dir, "/tmp/sr_test_parquet_XXXXXX");
  if (!mkdtemp(tmp_dir)) SR_FAIL("mkdtemp: %s", strerror(errno));
  atexit(remove_tmp_dir);
  sr_arena_init(&arena);
  int rc = SR_RUN(rle_hybrid_round_trips, round_trip_every_type_codec_and_encoding,
                  zero_rows_and_many_row_groups, dictionary_falls_back_to_plain_when_too_big,
                  statistics_for_delta_and_the_footer,
                  writer_refuses_bad_rows_and_stays_usable, reader_survives_corrupt_files,
                  golden_files_read_the_same_as_duckdb, duckdb_reads_our_files,
                  we_read_duckdb_files_the_same_as_duckdb, reads_delta_byte_array_strings,
                  reads_int96_and_legacy_lists);
  sr_arena_free(&arena);
  return rc;
}
