/* sr_schema: see schema.h. */
#include "schema.h"

#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
  [SR_TYPE_STRING] = "string",   [SR_TYPE_LONG] = "long",     [SR_TYPE_INT] = "int",
  [SR_TYPE_DOUBLE] = "double",   [SR_TYPE_BOOLEAN] = "boolean", [SR_TYPE_TIMESTAMP] = "timestamp",
  [SR_TYPE_DATE] = "date",       [SR_TYPE_BINARY] = "binary", [SR_TYPE_STRUCT] = "struct",
  [SR_TYPE_ARRAY] = "array",     [SR_TYPE_FLOAT] = "float",   [SR_TYPE_SHORT] = "short",
  [SR_TYPE_BYTE] = "byte",       [SR_TYPE_DECIMAL] = "decimal",
  [SR_TYPE_MAP] = "map",
};

const char *sr_type_name(sr_type t) {
  return (unsigned)t < sizeof type_names / sizeof *type_names ? type_names[t] : "?";
}

/* Every spelling a job may use: ours, Spark's SQL names and the usual SQL synonyms. */
static const struct { const char *name; sr_type type; } type_aliases[] = {
  {"string", SR_TYPE_STRING}, {"long", SR_TYPE_LONG}, {"bigint", SR_TYPE_LONG},
  {"int", SR_TYPE_INT}, {"integer", SR_TYPE_INT}, {"double", SR_TYPE_DOUBLE},
  {"boolean", SR_TYPE_BOOLEAN}, {"timestamp", SR_TYPE_TIMESTAMP},
  {"timestamp_ltz", SR_TYPE_TIMESTAMP}, {"timestamp_ntz", SR_TYPE_TIMESTAMP},
  {"date", SR_TYPE_DATE}, {"binary", SR_TYPE_BINARY}, {"float", SR_TYPE_FLOAT},
  {"real", SR_TYPE_FLOAT}, {"short", SR_TYPE_SHORT}, {"smallint", SR_TYPE_SHORT},
  {"byte", SR_TYPE_BYTE}, {"tinyint", SR_TYPE_BYTE}, {"decimal", SR_TYPE_DECIMAL},
  {"dec", SR_TYPE_DECIMAL}, {"numeric", SR_TYPE_DECIMAL}, {"array", SR_TYPE_ARRAY},
  {"struct", SR_TYPE_STRUCT}, {"map", SR_TYPE_MAP}, {"varchar", SR_TYPE_STRING},
  {"char", SR_TYPE_STRING},
};
enum { NALIASES = sizeof type_aliases / sizeof *type_aliases };

int sr_type_parse(const char *name, sr_type *t) {
  for (int i = 0; i < NALIASES; i++) {
    if (strcmp(name, type_aliases[i].name) == 0) { *t = type_aliases[i].type; return 0; }
  }
  return -1;
}

const char *const *sr_type_spellings(void) {
  static const char *names[NALIASES + 1];
  for (int i = 0; i < NALIASES; i++) names[i] = type_aliases[i].name;
  return names;
}

sr_schema *sr_schema_new(void) { return calloc(1, sizeof(sr_schema)); }

sr_field *sr_schema_add(sr_schema *s, const char *name, sr_type type) {
  sr_field *fields = realloc(s->fields, (size_t)(s->nfields + 1) * sizeof *fields);
  if (!fields) return NULL;
  s->fields = fields;
  sr_field *f = &fields[s->nfields];
  memset(f, 0, sizeof *f);
  f->name = strdup(name);
  if (!f->name) return NULL;
  f->type = type;
  f->nullable = 1;
  s->nfields++;
  return f;
}

int sr_schema_find(const sr_schema *s, const char *name) {
  for (int i = 0; i < s->nfields; i++)
    if (strcmp(s->fields[i].name, name) == 0) return i;
  return -1;
}

static void field_clear(sr_field *f);

static int field_equal(const sr_field *a, const sr_field *b) {
  if (strcmp(a->name, b->name) != 0 || a->type != b->type || a->nullable != b->nullable ||
      a->precision != b->precision || a->scale != b->scale)
    return 0;
  if (!sr_schema_equal(a->children, b->children)) return 0;
  if ((a->element == NULL) != (b->element == NULL)) return 0;
  return a->element == NULL || field_equal(a->element, b->element);
}

int sr_schema_equal(const sr_schema *a, const sr_schema *b) {
  if (!a || !b) return a == b;
  if (a->nfields != b->nfields) return 0;
  for (int i = 0; i < a->nfields; i++)
    if (!field_equal(&a->fields[i], &b->fields[i])) return 0;
  return 1;
}

static int field_copy(sr_field *dst, const sr_field *src) {
  *dst = *src;
  dst->name = strdup(src->name);
  dst->children = NULL;
  dst->element = NULL;
  if (!dst->name) return -1;
  if (src->children && !(dst->children = sr_schema_copy(src->children))) return -1;
  if (src->element) {
    dst->element = calloc(1, sizeof(sr_field));
    if (!dst->element || field_copy(dst->element, src->element) != 0) return -1;
  }
  return 0;
}

sr_schema *sr_schema_copy(const sr_schema *s) {
  sr_schema *c = sr_schema_new();
  if (!c) return NULL;
  c->fields = calloc((size_t)(s->nfields ? s->nfields : 1), sizeof(sr_field));
  if (!c->fields) { free(c); return NULL; }
  for (int i = 0; i < s->nfields; i++) {
    c->nfields = i + 1;
    if (field_copy(&c->fields[i], &s->fields[i]) != 0) { sr_schema_free(c); return NULL; }
  }
  return c;
}

static void field_clear(sr_field *f) {
  free(f->name);
  sr_schema_free(f->children);
  if (f->element) { field_clear(f->element); free(f->element); }
}

void sr_schema_free(sr_schema *s) {
  if (!s) return;
  for (int i = 0; i < s->nfields; i++) field_clear(&s->fields[i]);
  free(s->fields);
  free(s);
}
