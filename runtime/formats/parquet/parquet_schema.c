/* The Parquet layout of a schema: see parquet_schema.h. */
#include "parquet_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 100, MAX_LEVEL = 255 };

/* State shared by both directions while walking the tree. */
typedef struct build {
  sr_pq_layout *l;
  int nelements, nleaves, depth;
  const char *pq_path[2 * MAX_DEPTH + 4];  /* Parquet names below the root (<= 2 per depth) */
  int npq;
  const char *names[2 * MAX_DEPTH + 4];    /* sr_schema names from the top-level field */
  int nnames;
  sr_error **err;
} build;

static sr_pq_layout *layout_new(void) {
  sr_pq_layout *l = calloc(1, sizeof *l);
  if (l) sr_arena_init(&l->arena);
  return l;
}

void sr_pq_layout_free(sr_pq_layout *l) {
  if (!l) return;
  sr_schema_free(l->schema);
  sr_arena_free(&l->arena);
  free(l);
}

static void *zalloc(build *b, size_t n) {
  void *p = sr_arena_alloc(&b->l->arena, n ? n : 1);
  if (p) memset(p, 0, n ? n : 1);
  else sr_error_set(b->err, SR_ERROR, "out of memory building the Parquet schema");
  return p;
}

/* Fills the leaf's paths from the build stacks. Returns 0 or -1 (out of memory). */
static int leaf_paths(build *b, sr_pq_leaf *leaf) {
  leaf->path = zalloc(b, sizeof(char *) * (size_t)b->npq);
  leaf->names = zalloc(b, sizeof(char *) * (size_t)b->nnames);
  if (!leaf->path || !leaf->names) return -1;
  for (int i = 0; i < b->npq; i++) leaf->path[i] = (char *)b->pq_path[i];
  for (int i = 0; i < b->nnames; i++) leaf->names[i] = b->names[i];
  leaf->npath = b->npq;
  leaf->nnames = b->nnames;
  return 0;
}

static int check_levels(build *b, const sr_pq_node *n) {
  if (n->def <= MAX_LEVEL && n->rep <= MAX_LEVEL && n->elem_def <= MAX_LEVEL && b->depth <= MAX_DEPTH)
    return 0;
  sr_error_set(b->err, SR_ERROR, "column %s is nested too deeply for Parquet here", n->name);
  return -1;
}

/* ---- writer: sr_schema -> layout + SchemaElements ---- */

static int count_elements(const sr_field *f, int *leaves) {
  switch (f->type) {
  case SR_TYPE_STRUCT: {
    int n = 1;
    for (int i = 0; f->children && i < f->children->nfields; i++)
      n += count_elements(&f->children->fields[i], leaves);
    return n;
  }
  case SR_TYPE_ARRAY:
    return 2 + (f->element ? count_elements(f->element, leaves) : 0);
  case SR_TYPE_MAP: {
    int n = 2;
    for (int i = 0; f->children && i < f->children->nfields; i++)
      n += count_elements(&f->children->fields[i], leaves);
    return n;
  }
  default:
    (*leaves)++;
    return 1;
  }
}

static sr_pq_schema_element *new_element(build *b, const char *name, int repetition) {
  sr_pq_schema_element *e = &b->l->elements[b->nelements++];
  memset(e, 0, sizeof *e);
  e->name = (char *)name;
  e->repetition = repetition;
  e->type = e->converted = -1;
  return e;
}

static void int_annotation(sr_pq_schema_element *e, int physical, int bits, int converted) {
  e->type = physical;
  e->converted = converted;
  e->logical = SR_PQ_LT_INTEGER;
  e->int_bits = bits;
  e->int_signed = 1;
}

/* The physical type and annotations of a leaf field; 0, or -1 for a type without a mapping. */
static int writer_leaf(build *b, const sr_field *f, sr_pq_schema_element *e, sr_pq_leaf *leaf) {
  leaf->type = f->type;
  switch (f->type) {
  case SR_TYPE_STRING:
    e->type = SR_PQ_BYTE_ARRAY;
    e->converted = SR_PQ_CT_UTF8;
    e->logical = SR_PQ_LT_STRING;
    leaf->conv = SR_PQC_STRING;
    break;
  case SR_TYPE_BINARY: e->type = SR_PQ_BYTE_ARRAY; leaf->conv = SR_PQC_BINARY; break;
  case SR_TYPE_LONG: int_annotation(e, SR_PQ_INT64, 64, SR_PQ_CT_INT_64); leaf->conv = SR_PQC_INT64; break;
  case SR_TYPE_INT: int_annotation(e, SR_PQ_INT32, 32, SR_PQ_CT_INT_32); leaf->conv = SR_PQC_INT32; break;
  case SR_TYPE_SHORT: int_annotation(e, SR_PQ_INT32, 16, SR_PQ_CT_INT_16); leaf->conv = SR_PQC_INT32; break;
  case SR_TYPE_BYTE: int_annotation(e, SR_PQ_INT32, 8, SR_PQ_CT_INT_8); leaf->conv = SR_PQC_INT32; break;
  case SR_TYPE_DOUBLE: e->type = SR_PQ_DOUBLE; leaf->conv = SR_PQC_DOUBLE; break;
  case SR_TYPE_FLOAT: e->type = SR_PQ_FLOAT; leaf->conv = SR_PQC_FLOAT; break;
  case SR_TYPE_BOOLEAN: e->type = SR_PQ_BOOLEAN; leaf->conv = SR_PQC_BOOL; break;
  case SR_TYPE_DATE:
    e->type = SR_PQ_INT32;
    e->converted = SR_PQ_CT_DATE;
    e->logical = SR_PQ_LT_DATE;
    leaf->conv = SR_PQC_INT32;
    break;
  case SR_TYPE_TIMESTAMP:
    e->type = SR_PQ_INT64;
    e->converted = SR_PQ_CT_TIMESTAMP_MICROS;
    e->logical = SR_PQ_LT_TIMESTAMP;
    e->utc = 1;
    e->time_unit = SR_PQ_UNIT_MICROS;
    leaf->conv = SR_PQC_TS_MICROS;
    break;
  case SR_TYPE_DECIMAL:
    if (f->precision < 1 || f->precision > 38 || f->scale < 0 || f->scale > f->precision) {
      sr_error_set(b->err, SR_ERROR, "column %s: decimal(%d,%d) is outside decimal(1..38, 0..precision)",
                   f->name, f->precision, f->scale);
      return -1;
    }
    e->converted = SR_PQ_CT_DECIMAL;
    e->logical = SR_PQ_LT_DECIMAL;
    e->precision = leaf->precision = f->precision;
    e->scale = leaf->scale = f->scale;
    leaf->conv = SR_PQC_DECIMAL;
    if (f->precision <= 9) {
      e->type = SR_PQ_INT32;
    } else if (f->precision <= 18) {
      e->type = SR_PQ_INT64;
    } else {  /* the fewest bytes that hold 10^precision - 1 in two's complement (Spark's rule) */
      e->type = SR_PQ_FIXED_LEN_BYTE_ARRAY;
      e->type_length = f->precision <= 21 ? 9 : f->precision <= 23 ? 10 : f->precision <= 26 ? 11
                     : f->precision <= 28 ? 12 : f->precision <= 30 ? 13 : f->precision <= 33 ? 14
                     : f->precision <= 35 ? 15 : 16;
    }
    break;
  default:
    sr_error_set(b->err, SR_ERROR, "column %s: type %s has no Parquet mapping", f->name,
                 sr_type_name(f->type));
    return -1;
  }
  leaf->physical = e->type;
  leaf->type_length = e->type_length;
  return 0;
}

static int writer_field(build *b, const sr_field *f, const char *pq_name, int repetition,
                        int parent_def, int parent_rep, sr_pq_node *node);

static int writer_children(build *b, const sr_schema *s, sr_pq_node *node, int def, int rep) {
  node->nchildren = s->nfields;
  node->children = zalloc(b, sizeof *node->children * (size_t)s->nfields);
  if (!node->children) return -1;
  for (int i = 0; i < s->nfields; i++) {
    const sr_field *c = &s->fields[i];
    if (writer_field(b, c, c->name, c->nullable ? SR_PQ_OPTIONAL : SR_PQ_REQUIRED, def, rep,
                     &node->children[i]) != 0)
      return -1;
  }
  return 0;
}

static int writer_field(build *b, const sr_field *f, const char *pq_name, int repetition,
                        int parent_def, int parent_rep, sr_pq_node *node) {
  node->name = f->name;
  node->type = f->type;
  node->nullable = repetition == SR_PQ_OPTIONAL;
  node->def = parent_def + node->nullable;
  node->rep = parent_rep;
  node->first_leaf = b->nleaves;
  b->depth++;
  b->pq_path[b->npq++] = pq_name;
  b->names[b->nnames++] = f->name;
  if (check_levels(b, node) != 0) return -1;
  sr_pq_schema_element *e = new_element(b, pq_name, repetition);
  switch (f->type) {
  case SR_TYPE_STRUCT:
    if (!f->children || f->children->nfields == 0)
      return sr_error_set(b->err, SR_ERROR, "column %s: a struct needs at least one field", f->name), -1;
    node->kind = SR_PQN_STRUCT;
    e->num_children = f->children->nfields;
    if (writer_children(b, f->children, node, node->def, parent_rep) != 0) return -1;
    break;
  case SR_TYPE_ARRAY:
  case SR_TYPE_MAP: {
    int is_map = f->type == SR_TYPE_MAP;
    if (is_map ? !f->children || f->children->nfields != 2 : !f->element)
      return sr_error_set(b->err, SR_ERROR, "column %s: %s", f->name,
                          is_map ? "a map needs key and value fields" : "an array needs an element type"), -1;
    node->kind = SR_PQN_LIST;
    node->elem_def = node->def + 1;
    node->rep = parent_rep + 1;
    e->num_children = 1;
    e->converted = is_map ? SR_PQ_CT_MAP : SR_PQ_CT_LIST;
    e->logical = is_map ? SR_PQ_LT_MAP : SR_PQ_LT_LIST;
    const char *group = is_map ? "key_value" : "list";
    sr_pq_schema_element *g = new_element(b, group, SR_PQ_REPEATED);
    g->num_children = is_map ? 2 : 1;
    b->pq_path[b->npq++] = group;
    node->nchildren = 1;
    node->children = zalloc(b, sizeof *node->children);
    if (!node->children) return -1;
    sr_pq_node *child = node->children;
    if (is_map) {
      /* The entry struct has no field of its own: both its leaves are always "present" at the
      ** key_value level, and its key is required as Parquet demands. */
      child->kind = SR_PQN_STRUCT;
      child->name = f->name;
      child->type = SR_TYPE_STRUCT;
      child->def = node->elem_def;
      child->rep = node->rep;
      child->first_leaf = b->nleaves;
      child->nchildren = 2;
      child->children = zalloc(b, sizeof *child->children * 2);
      if (!child->children) return -1;
      const sr_field *k = &f->children->fields[0], *v = &f->children->fields[1];
      if (writer_field(b, k, "key", SR_PQ_REQUIRED, node->elem_def, node->rep, &child->children[0]) != 0 ||
          writer_field(b, v, "value", v->nullable ? SR_PQ_OPTIONAL : SR_PQ_REQUIRED, node->elem_def,
                       node->rep, &child->children[1]) != 0)
        return -1;
      child->nleaves = b->nleaves - child->first_leaf;
    } else if (writer_field(b, f->element, "element",
                            f->element->nullable ? SR_PQ_OPTIONAL : SR_PQ_REQUIRED, node->elem_def,
                            node->rep, child) != 0) {
      return -1;
    }
    b->npq--;
    break;
  }
  default: {
    node->kind = SR_PQN_LEAF;
    node->leaf = b->nleaves;
    sr_pq_leaf *leaf = &b->l->leaves[b->nleaves++];
    leaf->max_def = node->def;
    leaf->max_rep = parent_rep;
    if (writer_leaf(b, f, e, leaf) != 0 || leaf_paths(b, leaf) != 0) return -1;
    break;
  }
  }
  node->nleaves = b->nleaves - node->first_leaf;
  b->depth--;
  b->npq--;
  b->nnames--;
  return 0;
}

sr_pq_layout *sr_pq_layout_from_schema(const sr_schema *schema, sr_error **err) {
  build b;
  memset(&b, 0, sizeof b);
  b.err = err;
  sr_pq_layout *l = b.l = layout_new();
  if (!l) {
    sr_error_set(err, SR_ERROR, "out of memory building the Parquet schema");
    return NULL;
  }
  if (!(l->schema = sr_schema_copy(schema))) {
    sr_error_set(err, SR_ERROR, "out of memory building the Parquet schema");
    goto fail;
  }
  const sr_schema *s = l->schema;
  int nel = 1, nleaves = 0;
  for (int i = 0; i < s->nfields; i++) nel += count_elements(&s->fields[i], &nleaves);
  l->elements = zalloc(&b, sizeof *l->elements * (size_t)nel);
  l->leaves = zalloc(&b, sizeof *l->leaves * (size_t)nleaves);
  l->fields = zalloc(&b, sizeof *l->fields * (size_t)s->nfields);
  if (!l->elements || !l->leaves || !l->fields) goto fail;
  sr_pq_schema_element *root = new_element(&b, "schema", -1);
  root->num_children = s->nfields;
  l->nfields = s->nfields;
  for (int i = 0; i < s->nfields; i++) {
    const sr_field *f = &s->fields[i];
    if (writer_field(&b, f, f->name, f->nullable ? SR_PQ_OPTIONAL : SR_PQ_REQUIRED, 0, 0,
                     &l->fields[i]) != 0)
      goto fail;
  }
  l->nelements = b.nelements;
  l->nleaves = b.nleaves;
  return l;
fail:
  sr_pq_layout_free(l);
  return NULL;
}

/* ---- reader: SchemaElements -> layout + sr_schema ---- */

typedef struct reader_build {
  build b;
  const sr_pq_file_meta *m;
} reader_build;

static int is_decimal(const sr_pq_schema_element *e) {
  return e->converted == SR_PQ_CT_DECIMAL || e->logical == SR_PQ_LT_DECIMAL;
}

static int ts_unit(const sr_pq_schema_element *e) {
  if (e->logical == SR_PQ_LT_TIMESTAMP) return e->time_unit;
  if (e->converted == SR_PQ_CT_TIMESTAMP_MILLIS) return SR_PQ_UNIT_MILLIS;
  if (e->converted == SR_PQ_CT_TIMESTAMP_MICROS) return SR_PQ_UNIT_MICROS;
  return 0;
}

/* An integer annotation's width and signedness from either the logical or converted type. */
static void int_kind(const sr_pq_schema_element *e, int *bits, int *is_signed) {
  *bits = 0;
  *is_signed = 1;
  if (e->logical == SR_PQ_LT_INTEGER) {
    *bits = e->int_bits;
    *is_signed = e->int_signed;
  } else if (e->converted >= SR_PQ_CT_UINT_8 && e->converted <= SR_PQ_CT_INT_64) {
    static const int widths[] = {8, 16, 32, 64};
    *bits = widths[(e->converted - SR_PQ_CT_UINT_8) % 4];
    *is_signed = e->converted >= SR_PQ_CT_INT_8;
  }
}

static int reader_leaf(build *b, const sr_pq_schema_element *e, sr_field *f, sr_pq_leaf *leaf) {
  leaf->physical = e->type;
  leaf->type_length = e->type_length;
  int bits, is_signed;
  int_kind(e, &bits, &is_signed);
  if (is_decimal(e) && e->type != SR_PQ_BOOLEAN && e->type != SR_PQ_FLOAT &&
      e->type != SR_PQ_DOUBLE && e->type != SR_PQ_INT96) {
    if (e->type == SR_PQ_FIXED_LEN_BYTE_ARRAY && (e->type_length < 1 || e->type_length > 16)) {
      sr_error_set(b->err, SR_ERROR, "column %s: decimal of %d bytes is not supported", e->name, e->type_length);
      return -1;
    }
    leaf->conv = SR_PQC_DECIMAL;
    f->type = SR_TYPE_DECIMAL;
    f->precision = leaf->precision = e->precision > 0 ? e->precision : 38;
    f->scale = leaf->scale = e->scale;
  } else {
    switch (e->type) {
    case SR_PQ_BOOLEAN: leaf->conv = SR_PQC_BOOL; f->type = SR_TYPE_BOOLEAN; break;
    case SR_PQ_INT32:
      leaf->conv = SR_PQC_INT32;
      if (e->converted == SR_PQ_CT_DATE || e->logical == SR_PQ_LT_DATE) f->type = SR_TYPE_DATE;
      else if (bits == 8) f->type = is_signed ? SR_TYPE_BYTE : SR_TYPE_SHORT;
      else if (bits == 16) f->type = is_signed ? SR_TYPE_SHORT : SR_TYPE_INT;
      else if (bits == 32 && !is_signed) { leaf->conv = SR_PQC_UINT32; f->type = SR_TYPE_LONG; }
      else f->type = SR_TYPE_INT;
      break;
    case SR_PQ_INT64:
      switch (ts_unit(e)) {
      case SR_PQ_UNIT_MILLIS: leaf->conv = SR_PQC_TS_MILLIS; f->type = SR_TYPE_TIMESTAMP; break;
      case SR_PQ_UNIT_MICROS: leaf->conv = SR_PQC_TS_MICROS; f->type = SR_TYPE_TIMESTAMP; break;
      case SR_PQ_UNIT_NANOS: leaf->conv = SR_PQC_TS_NANOS; f->type = SR_TYPE_TIMESTAMP; break;
      default: leaf->conv = SR_PQC_INT64; f->type = SR_TYPE_LONG; break;
      }
      break;
    case SR_PQ_INT96: leaf->conv = SR_PQC_INT96; f->type = SR_TYPE_TIMESTAMP; break;
    case SR_PQ_FLOAT: leaf->conv = SR_PQC_FLOAT; f->type = SR_TYPE_FLOAT; break;
    case SR_PQ_DOUBLE: leaf->conv = SR_PQC_DOUBLE; f->type = SR_TYPE_DOUBLE; break;
    case SR_PQ_BYTE_ARRAY: {
      int text = e->converted == SR_PQ_CT_UTF8 || e->converted == SR_PQ_CT_ENUM ||
                 e->converted == SR_PQ_CT_JSON || e->logical == SR_PQ_LT_STRING ||
                 e->logical == SR_PQ_LT_ENUM || e->logical == SR_PQ_LT_JSON;
      leaf->conv = text ? SR_PQC_STRING : SR_PQC_BINARY;
      f->type = text ? SR_TYPE_STRING : SR_TYPE_BINARY;
      break;
    }
    case SR_PQ_FIXED_LEN_BYTE_ARRAY:
      if (e->type_length < 0) goto bad;
      leaf->conv = SR_PQC_BINARY;
      f->type = SR_TYPE_BINARY;
      break;
    default:
      goto bad;
    }
  }
  leaf->type = f->type;
  return 0;
bad:
  sr_error_set(b->err, SR_ERROR, "column %s: unsupported Parquet physical type %d", e->name, e->type);
  return -1;
}

static sr_schema *new_schema(build *b, int n) {
  sr_schema *s = calloc(1, sizeof *s);
  if (s && (s->fields = calloc((size_t)(n ? n : 1), sizeof(sr_field))) != NULL) {
    s->nfields = n;
    return s;
  }
  free(s);
  sr_error_set(b->err, SR_ERROR, "out of memory building the Parquet schema");
  return NULL;
}

static int set_name(build *b, sr_field *f, const char *name) {
  f->name = strdup(name);
  if (f->name) return 0;
  sr_error_set(b->err, SR_ERROR, "out of memory building the Parquet schema");
  return -1;
}

/* Converts the subtree at element idx into *f and *node. `name` overrides the field name (list
** elements, map keys and values); force_required treats a REPEATED element as the element of
** the list it forms. Returns the index after the subtree, or -1 with b->err set. */
static int reader_field(reader_build *rb, int idx, const char *name, int parent_def,
                        int parent_rep, int force_required, sr_field *f, sr_pq_node *node);

/* A list whose element subtree starts at elem_idx. skip_group: elem_idx is the only child of
** the 3-level repeated group (whose name joins the Parquet path); otherwise elem_idx is the
** repeated field itself, taken as a required element. */
static int reader_list(reader_build *rb, int elem_idx, int skip_group, const char *name,
                       int nullable, sr_field *f, sr_pq_node *node) {
  build *b = &rb->b;
  node->kind = SR_PQN_LIST;
  node->elem_def = node->def + 1;
  node->rep = node->rep + 1;
  f->type = SR_TYPE_ARRAY;
  f->nullable = nullable;
  node->nchildren = 1;
  node->children = zalloc(b, sizeof *node->children);
  if (!node->children || set_name(b, f, name) != 0) return -1;
  if (!(f->element = calloc(1, sizeof *f->element))) {
    sr_error_set(b->err, SR_ERROR, "out of memory building the Parquet schema");
    return -1;
  }
  if (skip_group) b->pq_path[b->npq++] = rb->m->schema[elem_idx - 1].name;
  int next = reader_field(rb, elem_idx, "element", node->elem_def, node->rep, !skip_group,
                          f->element, node->children);
  if (skip_group) b->npq--;
  return next;
}

/* A map: kv_idx is its repeated key_value group of two fields. */
static int reader_map(reader_build *rb, int kv_idx, int nullable, sr_field *f, sr_pq_node *node) {
  build *b = &rb->b;
  node->kind = SR_PQN_LIST;
  node->elem_def = node->def + 1;
  node->rep = node->rep + 1;
  f->type = SR_TYPE_MAP;
  f->nullable = nullable;
  node->nchildren = 1;
  sr_pq_node *entry = node->children = zalloc(b, sizeof *node->children);
  if (!entry || !(f->children = new_schema(b, 2))) return -1;
  entry->kind = SR_PQN_STRUCT;
  entry->name = node->name;
  entry->type = SR_TYPE_STRUCT;
  entry->def = node->elem_def;
  entry->rep = node->rep;
  entry->first_leaf = b->nleaves;
  entry->nchildren = 2;
  entry->children = zalloc(b, sizeof *entry->children * 2);
  if (!entry->children) return -1;
  b->pq_path[b->npq++] = rb->m->schema[kv_idx].name;
  int next = reader_field(rb, kv_idx + 1, "key", entry->def, entry->rep, 0,
                          &f->children->fields[0], &entry->children[0]);
  if (next >= 0)
    next = reader_field(rb, next, "value", entry->def, entry->rep, 0, &f->children->fields[1],
                        &entry->children[1]);
  b->npq--;
  entry->nleaves = b->nleaves - entry->first_leaf;
  return next;
}

static int reader_struct(reader_build *rb, int idx, sr_field *f, sr_pq_node *node) {
  build *b = &rb->b;
  const sr_pq_schema_element *e = &rb->m->schema[idx];
  node->kind = SR_PQN_STRUCT;
  f->type = SR_TYPE_STRUCT;
  node->nchildren = e->num_children;
  node->children = zalloc(b, sizeof *node->children * (size_t)e->num_children);
  if (!node->children || !(f->children = new_schema(b, e->num_children))) return -1;
  int next = idx + 1;
  for (int i = 0; i < e->num_children && next >= 0; i++)
    next = reader_field(rb, next, NULL, node->def, node->rep, 0, &f->children->fields[i],
                        &node->children[i]);
  return next;
}

static int reader_field(reader_build *rb, int idx, const char *name, int parent_def,
                        int parent_rep, int force_required, sr_field *f, sr_pq_node *node) {
  build *b = &rb->b;
  const sr_pq_file_meta *m = rb->m;
  if (idx < 0 || idx >= m->nschema)
    return sr_error_set(b->err, SR_ERROR, "Parquet schema ends early (num_children too large)"), -1;
  const sr_pq_schema_element *e = &m->schema[idx];
  int repetition = force_required ? SR_PQ_REQUIRED : e->repetition;
  if (repetition < SR_PQ_REQUIRED || repetition > SR_PQ_REPEATED)
    return sr_error_set(b->err, SR_ERROR, "Parquet field %s has no supported repetition", e->name), -1;
  if (!name) name = e->name;
  node->name = e->name;
  node->nullable = f->nullable = repetition == SR_PQ_OPTIONAL;
  node->def = parent_def + node->nullable;
  node->rep = parent_rep;
  node->first_leaf = b->nleaves;
  b->depth++;
  b->names[b->nnames++] = name;
  int next = -1;
  if (check_levels(b, node) != 0) goto done;
  if (repetition == SR_PQ_REPEATED) {  /* a bare repeated field: a required list of it */
    next = reader_list(rb, idx, 0, name, 0, f, node);
    goto done;
  }
  b->pq_path[b->npq++] = e->name;
  if (e->type >= 0) {
    node->kind = SR_PQN_LEAF;
    node->leaf = b->nleaves;
    sr_pq_leaf *leaf = &b->l->leaves[b->nleaves++];
    leaf->max_def = node->def;
    leaf->max_rep = parent_rep;
    if (set_name(b, f, name) == 0 && reader_leaf(b, e, f, leaf) == 0 && leaf_paths(b, leaf) == 0)
      next = idx + 1;
  } else if (e->num_children < 1) {
    sr_error_set(b->err, SR_ERROR, "Parquet group %s has no fields", e->name);
  } else {
    int c = e->num_children == 1 && idx + 1 < m->nschema ? idx + 1 : -1;
    const sr_pq_schema_element *ce = c >= 0 ? &m->schema[c] : NULL;
    int is_list = e->converted == SR_PQ_CT_LIST || e->logical == SR_PQ_LT_LIST;
    int is_map = e->converted == SR_PQ_CT_MAP || e->converted == SR_PQ_CT_MAP_KEY_VALUE ||
                 e->logical == SR_PQ_LT_MAP;
    if (is_list && ce && ce->repetition == SR_PQ_REPEATED) {
      /* LogicalTypes.md backward-compatibility rules: the repeated child is the element unless
      ** it is a group of exactly one field not named "array" or "<list>_tuple". */
      char tuple[512];
      snprintf(tuple, sizeof tuple, "%s_tuple", e->name);
      int three_level = ce->type < 0 && ce->num_children == 1 && strcmp(ce->name, "array") != 0 &&
                        strcmp(ce->name, tuple) != 0;
      next = reader_list(rb, three_level ? c + 1 : c, three_level, name, f->nullable, f, node);
    } else if (is_map && ce && ce->repetition == SR_PQ_REPEATED && ce->type < 0 &&
               ce->num_children == 2) {
      if (set_name(b, f, name) == 0) next = reader_map(rb, c, f->nullable, f, node);
    } else if (set_name(b, f, name) == 0) {
      next = reader_struct(rb, idx, f, node);
    }
  }
  b->npq--;
done:
  node->type = f->type;
  node->nleaves = b->nleaves - node->first_leaf;
  b->depth--;
  b->nnames--;
  return next;
}

sr_pq_layout *sr_pq_layout_from_file(const sr_pq_file_meta *m, sr_error **err) {
  reader_build rb;
  memset(&rb, 0, sizeof rb);
  rb.m = m;
  rb.b.err = err;
  build *b = &rb.b;
  sr_pq_layout *l = b->l = layout_new();
  if (!l) {
    sr_error_set(err, SR_ERROR, "out of memory building the Parquet schema");
    return NULL;
  }
  const sr_pq_schema_element *root = &m->schema[0];
  int nleaves = 0;
  for (int i = 0; i < m->nschema; i++) nleaves += m->schema[i].type >= 0;
  if (root->type >= 0 || root->num_children < 0) {
    sr_error_set(err, SR_ERROR, "Parquet schema root is not a group");
    goto fail;
  }
  l->leaves = zalloc(b, sizeof *l->leaves * (size_t)nleaves);
  l->fields = zalloc(b, sizeof *l->fields * (size_t)root->num_children);
  if (!l->leaves || !l->fields || !(l->schema = new_schema(b, root->num_children))) goto fail;
  l->nfields = root->num_children;
  int next = 1;
  for (int i = 0; i < root->num_children; i++) {
    next = reader_field(&rb, next, NULL, 0, 0, 0, &l->schema->fields[i], &l->fields[i]);
    if (next < 0) goto fail;
  }
  if (next != m->nschema) {
    sr_error_set(err, SR_ERROR, "Parquet schema has %d elements, its tree uses %d", m->nschema, next);
    goto fail;
  }
  l->nleaves = b->nleaves;
  return l;
fail:
  sr_pq_layout_free(l);
  return NULL;
}
