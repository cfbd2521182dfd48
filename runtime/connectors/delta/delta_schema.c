/* Delta's text forms of schemas, partition values, paths and statistics: see delta_schema.h. */
#include "delta_schema.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

/* --- schemaString ------------------------------------------------------------------------ */

static sr_status parse_type(json_t *type, sr_field *f, const char *path, sr_error **err);

/* Fills a struct's children from a {"type":"struct","fields":[...]} object. */
static sr_status parse_struct(json_t *obj, sr_schema *out, const char *path, sr_error **err) {
  json_t *fields = json_object_get(obj, "fields");
  if (!json_is_array(fields))
    return sr_error_set(err, SR_ERROR, "schemaString: %s: a struct without \"fields\"", path);
  size_t i;
  json_t *jf;
  json_array_foreach(fields, i, jf) {
    const char *name = json_string_value(json_object_get(jf, "name"));
    json_t *type = json_object_get(jf, "type");
    if (!name || !type)
      return sr_error_set(err, SR_ERROR, "schemaString: %s: field %zu has no name or type", path, i);
    if (json_is_string(type) && strcmp(json_string_value(type), "void") == 0) continue;
    char sub[512];
    snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", name);
    sr_field *f = sr_schema_add(out, name, SR_TYPE_STRING);
    if (!f) return sr_error_set(err, SR_ERROR, "out of memory");
    json_t *nullable = json_object_get(jf, "nullable");
    f->nullable = !json_is_false(nullable);
    if (parse_type(type, f, sub, err) != SR_OK) return SR_ERROR;
  }
  return SR_OK;
}

static sr_status parse_primitive(const char *name, sr_field *f, const char *path, sr_error **err) {
  static const struct { const char *name; sr_type type; } prims[] = {
    {"string", SR_TYPE_STRING}, {"long", SR_TYPE_LONG}, {"integer", SR_TYPE_INT},
    {"short", SR_TYPE_SHORT}, {"byte", SR_TYPE_BYTE}, {"float", SR_TYPE_FLOAT},
    {"double", SR_TYPE_DOUBLE}, {"boolean", SR_TYPE_BOOLEAN}, {"binary", SR_TYPE_BINARY},
    {"date", SR_TYPE_DATE}, {"timestamp", SR_TYPE_TIMESTAMP}, {"timestamp_ntz", SR_TYPE_TIMESTAMP},
  };
  for (size_t i = 0; i < sizeof prims / sizeof *prims; i++) {
    if (strcmp(name, prims[i].name) == 0) {
      f->type = prims[i].type;
      return SR_OK;
    }
  }
  int p = 10, s = 0;
  if (strcmp(name, "decimal") == 0 || sscanf(name, "decimal(%d,%d)", &p, &s) == 2) {
    if (p < 1 || p > 38 || s < 0 || s > p)
      return sr_error_set(err, SR_ERROR, "schemaString: column %s: bad %s", path, name);
    f->type = SR_TYPE_DECIMAL;
    f->precision = p;
    f->scale = s;
    return SR_OK;
  }
  if (strncmp(name, "char(", 5) == 0 || strncmp(name, "varchar(", 8) == 0) {
    f->type = SR_TYPE_STRING;
    return SR_OK;
  }
  return sr_error_set(err, SR_ERROR, "schemaString: column %s has type %s, which streamrun cannot read",
                      path, name);
}

static sr_status parse_type(json_t *type, sr_field *f, const char *path, sr_error **err) {
  if (json_is_string(type)) return parse_primitive(json_string_value(type), f, path, err);
  const char *kind = json_string_value(json_object_get(type, "type"));
  if (!kind) return sr_error_set(err, SR_ERROR, "schemaString: column %s: a type without \"type\"", path);
  if (strcmp(kind, "struct") == 0) {
    f->type = SR_TYPE_STRUCT;
    if (!(f->children = sr_schema_new())) return sr_error_set(err, SR_ERROR, "out of memory");
    return parse_struct(type, f->children, path, err);
  }
  if (strcmp(kind, "array") == 0) {
    json_t *et = json_object_get(type, "elementType");
    if (!et) return sr_error_set(err, SR_ERROR, "schemaString: column %s: an array without elementType", path);
    f->type = SR_TYPE_ARRAY;
    if (!(f->element = calloc(1, sizeof *f->element)) || !(f->element->name = strdup("element")))
      return sr_error_set(err, SR_ERROR, "out of memory");
    f->element->nullable = !json_is_false(json_object_get(type, "containsNull"));
    return parse_type(et, f->element, path, err);
  }
  if (strcmp(kind, "map") == 0) {
    json_t *kt = json_object_get(type, "keyType"), *vt = json_object_get(type, "valueType");
    if (!kt || !vt) return sr_error_set(err, SR_ERROR, "schemaString: column %s: a map without keyType/valueType", path);
    f->type = SR_TYPE_MAP;
    if (!(f->children = sr_schema_new())) return sr_error_set(err, SR_ERROR, "out of memory");
    sr_field *k = sr_schema_add(f->children, "key", SR_TYPE_STRING);
    if (!k) return sr_error_set(err, SR_ERROR, "out of memory");
    k->nullable = 0;
    if (parse_type(kt, k, path, err) != SR_OK) return SR_ERROR;
    sr_field *v = sr_schema_add(f->children, "value", SR_TYPE_STRING);
    if (!v) return sr_error_set(err, SR_ERROR, "out of memory");
    v->nullable = !json_is_false(json_object_get(type, "valueContainsNull"));
    return parse_type(vt, v, path, err);
  }
  return parse_primitive(kind, f, path, err);
}

sr_schema *sr_delta_schema_parse(const char *schema_string, sr_error **err) {
  json_error_t jerr;
  json_t *doc = json_loads(schema_string ? schema_string : "", 0, &jerr);
  if (!doc) {
    sr_error_set(err, SR_ERROR, "schemaString is not JSON: %s", jerr.text);
    return NULL;
  }
  sr_schema *s = sr_schema_new();
  sr_status st = s ? SR_OK : sr_error_set(err, SR_ERROR, "out of memory");
  if (st == SR_OK && !json_is_object(doc))
    st = sr_error_set(err, SR_ERROR, "schemaString is not a struct type");
  if (st == SR_OK) st = parse_struct(doc, s, "", err);
  json_decref(doc);
  if (st != SR_OK) {
    sr_schema_free(s);
    return NULL;
  }
  return s;
}

const char *sr_delta_type_name(const sr_field *f, char out[32]) {
  switch (f->type) {
  case SR_TYPE_INT: return "integer";
  case SR_TYPE_DECIMAL:
    snprintf(out, 32, "decimal(%d,%d)", f->precision, f->scale);
    return out;
  default: return sr_type_name(f->type);
  }
}

static json_t *type_json(const sr_field *f) {
  char buf[32];
  switch (f->type) {
  case SR_TYPE_STRUCT: return sr_delta_schema_json(f->children);
  case SR_TYPE_ARRAY:
    if (!f->element) return NULL;
    return json_pack("{s:s,s:o,s:b}", "type", "array", "elementType", type_json(f->element),
                     "containsNull", f->element->nullable);
  case SR_TYPE_MAP:
    if (!f->children || f->children->nfields != 2) return NULL;
    return json_pack("{s:s,s:o,s:o,s:b}", "type", "map", "keyType", type_json(&f->children->fields[0]),
                     "valueType", type_json(&f->children->fields[1]), "valueContainsNull",
                     f->children->fields[1].nullable);
  default: return json_string(sr_delta_type_name(f, buf));
  }
}

json_t *sr_delta_field_json(const sr_field *f) {
  return json_pack("{s:s,s:o,s:b,s:{}}", "name", f->name, "type", type_json(f), "nullable",
                   f->nullable, "metadata");
}

json_t *sr_delta_schema_json(const sr_schema *s) {
  json_t *fields = json_array();
  for (int i = 0; s && fields && i < s->nfields; i++) {
    if (json_array_append_new(fields, sr_delta_field_json(&s->fields[i])) != 0) {
      json_decref(fields);
      return NULL;
    }
  }
  return json_pack("{s:s,s:o}", "type", "struct", "fields", fields);
}

/* --- partition values -------------------------------------------------------------------- */

int sr_delta_partition_type_ok(sr_type t) {
  return t != SR_TYPE_BINARY && t != SR_TYPE_STRUCT && t != SR_TYPE_ARRAY && t != SR_TYPE_MAP;
}

/* The shortest text that reads back as d. */
static int format_double(double d, sr_buf *out) {
  char tmp[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, d);
    if (strtod(tmp, NULL) == d) break;
  }
  return sr_buf_puts(out, tmp);
}

int sr_delta_partition_format(const sr_field *f, const sr_value *v, sr_buf *out) {
  char tmp[48];
  switch (v->kind) {
  case SR_VAL_NULL: return 1;
  case SR_VAL_BOOL: return sr_buf_puts(out, v->u.b ? "true" : "false");
  case SR_VAL_STRING: case SR_VAL_BINARY:
    if (v->u.str.len == 0) return 1;  /* Delta reads "" as null: say so rather than lie */
    return sr_buf_append(out, v->u.str.ptr, v->u.str.len);
  case SR_VAL_DOUBLE:
    if (f->type == SR_TYPE_DECIMAL) return sr_buf_printf(out, "%.*f", f->scale, v->u.d);
    return format_double(f->type == SR_TYPE_FLOAT ? (double)(float)v->u.d : v->u.d, out);
  case SR_VAL_INT:
    if (f->type == SR_TYPE_TIMESTAMP) {
      sr_time_format_us(v->u.i, tmp);
      return sr_buf_puts(out, tmp);
    }
    if (f->type == SR_TYPE_DATE) {
      sr_date_format((int32_t)v->u.i, tmp);
      return sr_buf_puts(out, tmp);
    }
    if (f->type == SR_TYPE_DOUBLE || f->type == SR_TYPE_FLOAT) return format_double((double)v->u.i, out);
    if (f->type == SR_TYPE_DECIMAL && f->scale > 0)
      return sr_buf_printf(out, "%" PRId64 ".%0*d", v->u.i, f->scale, 0);
    return sr_buf_printf(out, "%" PRId64, v->u.i);
  default: return 1;
  }
}

int sr_delta_partition_parse(const sr_field *f, const char *text, sr_arena *a, sr_value *out,
                             char *errbuf, size_t errlen) {
  memset(out, 0, sizeof *out);
  out->kind = SR_VAL_NULL;
  if (!text || !*text) return 0;
  size_t len = strlen(text);
  char *end = NULL;
  switch (f->type) {
  case SR_TYPE_STRING: case SR_TYPE_BINARY: {
    char *s = sr_arena_strndup(a, text, len);
    if (!s) { snprintf(errbuf, errlen, "out of memory"); return -1; }
    out->kind = f->type == SR_TYPE_STRING ? SR_VAL_STRING : SR_VAL_BINARY;
    out->u.str.ptr = s;
    out->u.str.len = len;
    return 0;
  }
  case SR_TYPE_LONG: case SR_TYPE_INT: case SR_TYPE_SHORT: case SR_TYPE_BYTE: {
    long long x = strtoll(text, &end, 10);
    if (end == text || *end) break;
    out->kind = SR_VAL_INT;
    out->u.i = x;
    return 0;
  }
  case SR_TYPE_DOUBLE: case SR_TYPE_FLOAT: case SR_TYPE_DECIMAL: {
    double d = strtod(text, &end);
    if (end == text || *end) break;
    out->kind = SR_VAL_DOUBLE;
    out->u.d = d;
    return 0;
  }
  case SR_TYPE_BOOLEAN:
    if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0) break;
    out->kind = SR_VAL_BOOL;
    out->u.b = text[0] == 't';
    return 0;
  case SR_TYPE_DATE: {
    int32_t days;
    if (sr_date_parse(text, len, &days) != 0) break;
    out->kind = SR_VAL_INT;
    out->u.i = days;
    return 0;
  }
  case SR_TYPE_TIMESTAMP: {
    /* Spark writes "2020-01-01 08:09:10.001" in the writer's zone; with no zone, it is read
    ** as UTC (as delta-kernel does by default), ISO text with Z or an offset as written */
    int64_t us;
    if (sr_time_parse_us(text, len, &us) != 0) break;
    out->kind = SR_VAL_INT;
    out->u.i = us;
    return 0;
  }
  default: break;
  }
  snprintf(errbuf, errlen, "partition value \"%.100s\" of column %s is not a %s", text, f->name,
           sr_type_name(f->type));
  return -1;
}

/* --- paths --------------------------------------------------------------------------------- */

static const char hexdig[] = "0123456789ABCDEF";

int sr_delta_escape_dir(const char *s, size_t n, sr_buf *out) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    int esc = c < 0x20 || c == 0x7f || strchr("\"#%'*/:=?\\{[]^", c) != NULL;
    int rc = esc ? sr_buf_putc(out, '%') || sr_buf_putc(out, hexdig[c >> 4]) ||
                       sr_buf_putc(out, hexdig[c & 15])
                 : sr_buf_putc(out, (char)c);
    if (rc != 0) return -1;
  }
  return 0;
}

int sr_delta_uri_encode(const char *path, sr_buf *out) {
  for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
    unsigned char c = *p;
    int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~' || c == '/' || c == '=';
    int rc = plain ? sr_buf_putc(out, (char)c)
                   : sr_buf_putc(out, '%') || sr_buf_putc(out, hexdig[c >> 4]) ||
                         sr_buf_putc(out, hexdig[c & 15]);
    if (rc != 0) return -1;
  }
  return 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int sr_delta_uri_decode(const char *uri, sr_buf *out) {
  for (const char *p = uri; *p; p++) {
    char c = *p;
    if (c == '%') {
      int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
      if (hi < 0 || lo < 0) return -1;
      c = (char)(hi << 4 | lo);
      p += 2;
    }
    if (sr_buf_putc(out, c) != 0) return -1;
  }
  return 0;
}

/* --- statistics ---------------------------------------------------------------------------- */

/* The object at names[0..depth-1) under root, created as needed. */
static json_t *stats_parent(json_t *root, const char *const *names, int depth) {
  json_t *o = root;
  for (int i = 0; o && i < depth - 1; i++) {
    json_t *next = json_object_get(o, names[i]);
    if (!next) {
      next = json_object();
      if (!next || json_object_set_new(o, names[i], next) != 0) return NULL;
    }
    o = next;
  }
  return o;
}

/* A bound as JSON, or NULL when Delta keeps none for it (booleans, non-finite doubles, text
** that is not UTF-8). */
static json_t *bound_json(sr_type type, const sr_value *v, int max) {
  char tmp[32];
  switch (v->kind) {
  case SR_VAL_INT:
    if (type == SR_TYPE_TIMESTAMP) {  /* Delta keeps timestamp bounds in ms: max rounds up */
      int64_t ms = v->u.i / 1000 - (v->u.i % 1000 < 0);
      if (max && v->u.i % 1000 != 0) ms++;
      sr_time_format(ms, tmp);
      return json_string(tmp);
    }
    if (type == SR_TYPE_DATE) {
      sr_date_format((int32_t)v->u.i, tmp);
      return json_string(tmp);
    }
    return json_integer((json_int_t)v->u.i);
  case SR_VAL_DOUBLE:
    return isfinite(v->u.d) ? json_real(v->u.d) : NULL;
  case SR_VAL_STRING:
    return json_stringn(v->u.str.ptr, v->u.str.len);
  default:
    return NULL;
  }
}

json_t *sr_delta_stats_json(const sr_pq_writer *w, const sr_schema *file_schema,
                            int64_t num_records, const int64_t *top_nulls) {
  json_t *mins = json_object(), *maxs = json_object(), *nulls = json_object();
  json_t *stats = json_pack("{s:I,s:o,s:o,s:o}", "numRecords", (json_int_t)num_records,
                            "minValues", mins, "maxValues", maxs, "nullCount", nulls);
  if (!stats) return NULL;
  for (int i = 0; i < file_schema->nfields; i++) {
    sr_type t = file_schema->fields[i].type;
    if ((t == SR_TYPE_ARRAY || t == SR_TYPE_MAP) &&
        json_object_set_new(nulls, file_schema->fields[i].name, json_integer(top_nulls[i])) != 0)
      goto oom;
  }
  int n = sr_pq_writer_stats_count(w);
  for (int i = 0; i < n; i++) {
    const sr_pq_column_stats *cs = sr_pq_writer_stats(w, i);
    if (cs->in_list) continue;
    const char *leaf = cs->names[cs->depth - 1];
    json_t *np = stats_parent(nulls, cs->names, cs->depth);
    if (!np || json_object_set_new(np, leaf, json_integer((json_int_t)cs->null_count)) != 0) goto oom;
    if (!cs->has_min_max || cs->type == SR_TYPE_BOOLEAN) continue;
    json_t *lo = bound_json(cs->type, &cs->min, 0), *hi = bound_json(cs->type, &cs->max, 1);
    if (!lo || !hi) {
      json_decref(lo);
      json_decref(hi);
      continue;
    }
    json_t *mp = stats_parent(mins, cs->names, cs->depth), *xp = stats_parent(maxs, cs->names, cs->depth);
    if (!mp || !xp || json_object_set_new(mp, leaf, lo) != 0 || json_object_set_new(xp, leaf, hi) != 0)
      goto oom;
  }
  return stats;
oom:
  json_decref(stats);
  return NULL;
}
