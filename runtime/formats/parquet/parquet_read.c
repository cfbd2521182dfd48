/* sr_pq_reader: see parquet_read.h. Pages are decoded by parquet_decode.c; this file reads the
** footer and puts decoded columns back together into rows (Dremel record assembly). */
#include "parquet_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "parquet_decode.h"
#include "parquet_meta.h"
#include "parquet_schema.h"

struct sr_pq_reader {
  char *path;
  const uint8_t *data;  /* the mapped file */
  size_t size;
  sr_arena meta_arena;  /* the decoded footer */
  sr_pq_file_meta meta;
  sr_pq_layout *layout;
};

void sr_pq_reader_free(sr_pq_reader *r) {
  if (!r) return;
  if (r->data) munmap((void *)r->data, r->size);
  sr_pq_layout_free(r->layout);
  sr_arena_free(&r->meta_arena);
  free(r->path);
  free(r);
}

static sr_status map_file(sr_pq_reader *r, sr_error **err) {
  int fd = open(r->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sr_error_set(err, SR_ERROR, "%s: %s", r->path, strerror(errno));
  sr_status st = SR_OK;
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    st = sr_error_set(err, SR_ERROR, "%s: %s", r->path, strerror(errno));
  } else if (sb.st_size < 12) {
    st = sr_error_set(err, SR_ERROR, "%s: too small to be a Parquet file (%lld bytes)", r->path,
                      (long long)sb.st_size);
  } else {
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      st = sr_error_set(err, SR_ERROR, "%s: mmap: %s", r->path, strerror(errno));
    } else {
      r->data = p;
      r->size = (size_t)sb.st_size;
    }
  }
  close(fd);
  return st;
}

/* Every row group must have one chunk per leaf (chunk types are checked when decoded). */
static sr_status check_row_groups(sr_pq_reader *r, sr_error **err) {
  int64_t rows = 0;
  for (int g = 0; g < r->meta.nrow_groups; g++) {
    const sr_pq_row_group *rg = &r->meta.row_groups[g];
    if (rg->ncolumns != r->layout->nleaves)
      return sr_error_set(err, SR_ERROR, "%s: row group %d has %d columns, the schema %d leaves",
                          r->path, g, rg->ncolumns, r->layout->nleaves);
    if (rg->num_rows < 0) return sr_error_set(err, SR_ERROR, "%s: negative row count", r->path);
    rows += rg->num_rows;
  }
  if (rows != r->meta.num_rows)
    return sr_error_set(err, SR_ERROR, "%s: row groups hold %lld rows, the footer says %lld",
                        r->path, (long long)rows, (long long)r->meta.num_rows);
  return SR_OK;
}

sr_pq_reader *sr_pq_reader_open(const char *path, sr_error **err) {
  sr_pq_reader *r = calloc(1, sizeof *r);
  if (!r || !(r->path = strdup(path))) {
    free(r);
    sr_error_set(err, SR_ERROR, "out of memory opening %s", path);
    return NULL;
  }
  sr_arena_init(&r->meta_arena);
  if (map_file(r, err) != SR_OK) goto fail;
  const uint8_t *tail = r->data + r->size - 8;
  if (memcmp(r->data, "PAR1", 4) != 0 || memcmp(tail + 4, "PAR1", 4) != 0) {
    sr_error_set(err, SR_ERROR, "%s: not a Parquet file%s", path,
                 memcmp(tail + 4, "PARE", 4) == 0 ? " we can read (encrypted footer)" : " (no PAR1 magic)");
    goto fail;
  }
  size_t footer_len = (size_t)tail[0] | (size_t)tail[1] << 8 | (size_t)tail[2] << 16 | (size_t)tail[3] << 24;
  if (footer_len > r->size - 12) {
    sr_error_set(err, SR_ERROR, "%s: footer length %zu exceeds the file", path, footer_len);
    goto fail;
  }
  if (sr_pq_meta_decode(tail - footer_len, footer_len, &r->meta_arena, &r->meta, err) != SR_OK ||
      !(r->layout = sr_pq_layout_from_file(&r->meta, err)) || check_row_groups(r, err) != SR_OK) {
    if (err && *err) sr_error_prefix(*err, "%s", path);
    goto fail;
  }
  return r;
fail:
  sr_pq_reader_free(r);
  return NULL;
}

const sr_schema *sr_pq_reader_schema(const sr_pq_reader *r) { return r->layout->schema; }
int64_t sr_pq_reader_num_rows(const sr_pq_reader *r) { return r->meta.num_rows; }
int sr_pq_reader_num_row_groups(const sr_pq_reader *r) { return r->meta.nrow_groups; }
const char *sr_pq_reader_created_by(const sr_pq_reader *r) { return r->meta.created_by; }

/* ---- record assembly ---- */

typedef struct cursor {
  sr_pq_column_data data;
  size_t level, value;
} cursor;

typedef struct assembler {
  const sr_pq_layout *l;
  cursor *cols;        /* per leaf; only the projected leaves hold data */
  sr_arena *a;
  int bad;             /* levels ran out or disagree: the file is corrupt */
  int oom;
} assembler;

static int peek_def(assembler *as, int leaf) {
  const cursor *c = &as->cols[leaf];
  if (c->level >= c->data.nlevels) { as->bad = 1; return 0; }
  return as->l->leaves[leaf].max_def ? c->data.def[c->level] : 0;
}

/* Consumes one (null or empty) entry from every leaf under n. */
static void skip_entry(assembler *as, const sr_pq_node *n) {
  for (int i = n->first_leaf; i < n->first_leaf + n->nleaves; i++) {
    cursor *c = &as->cols[i];
    if (c->level >= c->data.nlevels) { as->bad = 1; return; }
    if (as->l->leaves[i].max_def && c->data.def[c->level] == as->l->leaves[i].max_def) c->value++;
    c->level++;
  }
}

/* Elements of the list starting at the current position: one, plus every later entry of its
** first leaf repeated at the list's level before the first entry that starts something
** shallower (deeper entries belong to nested lists). */
static int count_elements(assembler *as, const sr_pq_node *n) {
  const cursor *c = &as->cols[n->first_leaf];
  int count = 1;
  for (size_t i = c->level + 1; i < c->data.nlevels; i++) {
    int rep = c->data.rep[i];
    if (rep < n->rep) break;
    count += rep == n->rep;
  }
  return count;
}

static void assemble(assembler *as, const sr_pq_node *n, sr_value *out) {
  memset(out, 0, sizeof *out);  /* SR_VAL_NULL */
  if (as->bad || as->oom) return;
  if (n->kind == SR_PQN_LEAF) {
    cursor *c = &as->cols[n->leaf];
    int def = peek_def(as, n->leaf);
    if (as->bad) return;
    if (def >= n->def) {
      if (c->value >= c->data.nvalues) { as->bad = 1; return; }
      *out = c->data.values[c->value++];
    }
    c->level++;
    return;
  }
  int def = peek_def(as, n->first_leaf);
  if (as->bad) return;
  if (def < n->def) { skip_entry(as, n); return; }
  if (n->kind == SR_PQN_LIST && def < n->elem_def) {
    skip_entry(as, n);
    out->kind = SR_VAL_LIST;
    return;
  }
  int count = n->kind == SR_PQN_STRUCT ? n->nchildren : count_elements(as, n);
  sr_value *items = sr_arena_alloc(as->a, sizeof *items * (size_t)(count ? count : 1));
  if (!items) { as->oom = 1; return; }
  out->kind = n->kind == SR_PQN_STRUCT ? SR_VAL_STRUCT : SR_VAL_LIST;
  out->u.list.items = items;
  out->u.list.n = count;
  for (int i = 0; i < count; i++)
    assemble(as, n->kind == SR_PQN_STRUCT ? &n->children[i] : n->children, &items[i]);
}

static sr_status read_row_group(sr_pq_reader *r, assembler *as, int g, const int *fields,
                                int nfields, sr_value *rows, sr_error **err) {
  const sr_pq_row_group *rg = &r->meta.row_groups[g];
  sr_status st = SR_OK;
  for (int f = 0; f < nfields; f++) {
    const sr_pq_node *n = &as->l->fields[fields[f]];
    for (int i = n->first_leaf; i < n->first_leaf + n->nleaves; i++) {
      if ((st = sr_pq_decode_chunk(r->data, r->size, &rg->columns[i], &as->l->leaves[i], as->a,
                                   &as->cols[i].data, err)) != SR_OK)
        goto done;
    }
  }
  for (int64_t row = 0; row < rg->num_rows; row++) {
    sr_value *items = sr_arena_alloc(as->a, sizeof *items * (size_t)(nfields ? nfields : 1));
    if (!items) { as->oom = 1; break; }
    rows[row].kind = SR_VAL_STRUCT;
    rows[row].u.list.items = items;
    rows[row].u.list.n = nfields;
    for (int f = 0; f < nfields; f++) assemble(as, &as->l->fields[fields[f]], &items[f]);
    if (as->bad || as->oom) break;
  }
  for (int f = 0; f < nfields && !as->bad; f++) {
    const sr_pq_node *n = &as->l->fields[fields[f]];
    for (int i = n->first_leaf; i < n->first_leaf + n->nleaves; i++)
      if (as->cols[i].level != as->cols[i].data.nlevels || as->cols[i].value != as->cols[i].data.nvalues)
        as->bad = 1;
  }
  if (as->oom) st = sr_error_set(err, SR_ERROR, "out of memory reading %s", r->path);
  else if (as->bad)
    st = sr_error_set(err, SR_ERROR, "%s: row group %d: column levels do not add up to %lld rows",
                      r->path, g, (long long)rg->num_rows);
done:
  for (int i = 0; i < as->l->nleaves; i++) {
    sr_pq_column_data_free(&as->cols[i].data);
    as->cols[i].level = as->cols[i].value = 0;
  }
  return st;
}

sr_status sr_pq_reader_read_columns(sr_pq_reader *r, const int *fields, int nfields, sr_arena *a,
                                    sr_value **rows, int64_t *nrows, sr_error **err) {
  *rows = NULL;
  *nrows = 0;
  for (int f = 0; f < nfields; f++) {
    if (fields[f] < 0 || fields[f] >= r->layout->nfields)
      return sr_error_set(err, SR_ERROR, "%s: no column %d (the file has %d)", r->path, fields[f],
                          r->layout->nfields);
    for (int g = 0; g < f; g++)
      if (fields[g] == fields[f])
        return sr_error_set(err, SR_ERROR, "%s: column %d asked for twice", r->path, fields[f]);
  }
  int64_t total = r->meta.num_rows;
  if (total < 0 || (uint64_t)total > SIZE_MAX / sizeof(sr_value))
    return sr_error_set(err, SR_ERROR, "%s: impossible row count %lld", r->path, (long long)total);
  assembler as = {r->layout, NULL, a, 0, 0};
  sr_value *out = sr_arena_alloc(a, sizeof *out * (size_t)(total ? total : 1));
  as.cols = calloc((size_t)(r->layout->nleaves ? r->layout->nleaves : 1), sizeof *as.cols);
  sr_status st = SR_OK;
  if (!out || !as.cols) {
    st = sr_error_set(err, SR_ERROR, "out of memory reading %s", r->path);
    goto done;
  }
  int64_t at = 0;
  for (int g = 0; g < r->meta.nrow_groups; g++) {
    if ((st = read_row_group(r, &as, g, fields, nfields, out + at, err)) != SR_OK) goto done;
    at += r->meta.row_groups[g].num_rows;
  }
  *rows = out;
  *nrows = total;
done:
  free(as.cols);
  return st;
}

sr_status sr_pq_reader_read_rows(sr_pq_reader *r, sr_arena *a, sr_value **rows, int64_t *nrows,
                                 sr_error **err) {
  int n = r->layout->nfields;
  int *fields = malloc(sizeof *fields * (size_t)(n ? n : 1));
  if (!fields) return sr_error_set(err, SR_ERROR, "out of memory reading %s", r->path);
  for (int i = 0; i < n; i++) fields[i] = i;
  sr_status st = sr_pq_reader_read_columns(r, fields, n, a, rows, nrows, err);
  free(fields);
  return st;
}
