/* Partition discovery: see partition_dirs.h. The rules are Spark's PartitioningUtils
** (parsePathFragmentAsSeq, inferPartitionColumnValue, resolveTypeConflicts). */
#include "partition_dirs.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lua_aux.h"
#include "lua_int64.h"
#include "lua_types.h"
#include "timeutil.h"

static const char default_partition[] = "__HIVE_DEFAULT_PARTITION__";

int sr_partition_dir(const char *name) {
  const char *eq = strchr(name, '=');
  return eq && eq > name;
}

static int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
  return -1;
}

/* s[0..n) with %XX unescaped into out (cap bytes, NUL-terminated). 0, or -1 when too long. */
static int unescape(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (o + 1 >= cap) return -1;
    if (s[i] == '%' && i + 2 < n && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out[o++] = (char)(hex(s[i + 1]) << 4 | hex(s[i + 2]));
      i += 2;
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = '\0';
  return 0;
}

int sr_partitions_of(const char *dir, const char *path, sr_partition *out, int max) {
  size_t dl = strlen(dir);
  while (dl > 1 && dir[dl - 1] == '/') dl--;
  if (strncmp(path, dir, dl) != 0 || path[dl] != '/') return 0;
  const char *p = path + dl + 1, *slash;
  int n = 0;
  while ((slash = strchr(p, '/'))) {
    const char *eq = memchr(p, '=', (size_t)(slash - p));
    if (!eq || eq == p || n == max) return 0;
    sr_partition *part = &out[n++];
    if (unescape(p, (size_t)(eq - p), part->name, sizeof part->name) != 0 ||
        unescape(eq + 1, (size_t)(slash - eq - 1), part->value, sizeof part->value) != 0)
      return 0;
    part->is_null = strcmp(part->value, default_partition) == 0;
    p = slash + 1;
  }
  return n;
}

/* The whole text is an integer in [lo, hi]. */
static int whole_int(const char *s, int64_t lo, int64_t hi, int64_t *v) {
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (!*s || *end || errno || x < lo || x > hi) return 0;
  *v = x;
  return 1;
}

/* Java's Double.parseDouble: decimal digits with a sign, point and exponent, or NaN/Infinity
** (strtod would also take hex, "inf" and "nan"). */
static int whole_double(const char *s, double *v) {
  const char *t = s + (*s == '-' || *s == '+');
  if (strcmp(t, "NaN") == 0 || strcmp(t, "Infinity") == 0) {
    *v = strcmp(t, "NaN") == 0 ? NAN : *s == '-' ? -INFINITY : INFINITY;
    return 1;
  }
  if (strspn(s, "0123456789+-.eE") != strlen(s)) return 0;
  char *end;
  *v = strtod(s, &end);
  return *s && !*end;
}

/* Spark's timestamp formatter wants a time of day: "2026-11-23 10:00:00"; a date alone is a date. */
static int is_timestamp(const char *s, int64_t *us) {
  return strlen(s) > 10 && sr_time_parse_us(s, strlen(s), us) == 0;
}

sr_type sr_partition_infer(const sr_partition *p) {
  int64_t i;
  double d;
  int32_t days;
  const char *s = p->value;
  if (p->is_null) return SR_TYPE_STRING;
  if (whole_int(s, INT32_MIN, INT32_MAX, &i)) return SR_TYPE_INT;
  if (whole_int(s, INT64_MIN, INT64_MAX, &i)) return SR_TYPE_LONG;
  if (whole_double(s, &d)) return SR_TYPE_DOUBLE;  /* Spark: decimal(p,0) first beyond a long */
  if (is_timestamp(s, &i)) return SR_TYPE_TIMESTAMP;
  if (sr_date_parse(s, strlen(s), &days) == 0) return SR_TYPE_DATE;
  return SR_TYPE_STRING;
}

sr_type sr_partition_widen(int a, sr_type b) {
  if (a < 0 || (sr_type)a == b) return b;
  sr_type x = (sr_type)a;
  int xn = x == SR_TYPE_INT || x == SR_TYPE_LONG || x == SR_TYPE_DOUBLE;
  int bn = b == SR_TYPE_INT || b == SR_TYPE_LONG || b == SR_TYPE_DOUBLE;
  if (xn && bn) return x == SR_TYPE_DOUBLE || b == SR_TYPE_DOUBLE ? SR_TYPE_DOUBLE : SR_TYPE_LONG;
  if ((x == SR_TYPE_DATE && b == SR_TYPE_TIMESTAMP) || (x == SR_TYPE_TIMESTAMP && b == SR_TYPE_DATE))
    return SR_TYPE_TIMESTAMP;
  return SR_TYPE_STRING;
}

void sr_partition_push(lua_State *L, sr_type t, const sr_partition *p) {
  const char *s = p->value;
  int64_t i;
  double d;
  int32_t days;
  if (p->is_null) { lua_pushnil(L); return; }
  switch (t) {
    case SR_TYPE_STRING: lua_pushstring(L, s); return;
    case SR_TYPE_LONG:
      if (whole_int(s, INT64_MIN, INT64_MAX, &i)) { sr_lua_push_int64(L, i); return; }
      break;
    case SR_TYPE_INT:
      if (whole_int(s, INT32_MIN, INT32_MAX, &i)) { lua_pushnumber(L, (lua_Number)i); return; }
      break;
    case SR_TYPE_SHORT:
      if (whole_int(s, INT16_MIN, INT16_MAX, &i)) { lua_pushnumber(L, (lua_Number)i); return; }
      break;
    case SR_TYPE_BYTE:
      if (whole_int(s, INT8_MIN, INT8_MAX, &i)) { lua_pushnumber(L, (lua_Number)i); return; }
      break;
    case SR_TYPE_DOUBLE: case SR_TYPE_FLOAT:
      if (whole_double(s, &d)) { lua_pushnumber(L, d); return; }
      break;
    case SR_TYPE_BOOLEAN:
      if (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0) {
        lua_pushboolean(L, strcasecmp(s, "true") == 0);
        return;
      }
      break;
    case SR_TYPE_TIMESTAMP:
      if (sr_time_parse_us(s, strlen(s), &i) == 0) { sr_lua_push_timestamp_value(L, i); return; }
      break;
    case SR_TYPE_DATE:
      if (sr_date_parse(s, strlen(s), &days) == 0) { lua_pushnumber(L, days); return; }
      break;
    default: lua_pushstring(L, s); return;  /* a partition is a scalar: other types see its text */
  }
  lua_pushnil(L);
}

void sr_partitions_set(lua_State *L, int rows_idx, int first, int last, const sr_schema *schema,
                       const char *dir, const char *path) {
  rows_idx = sr_lua_absindex(L, rows_idx);
  sr_partition parts[SR_PARTITION_MAX];
  int n = schema && first <= last ? sr_partitions_of(dir, path, parts, SR_PARTITION_MAX) : 0;
  for (int k = 0; k < n; k++) {
    int f = sr_schema_find(schema, parts[k].name);
    if (f < 0) continue;  /* as Spark, only the columns of the source's schema */
    lua_pushstring(L, parts[k].name);
    sr_partition_push(L, schema->fields[f].type, &parts[k]);
    for (int r = first; r <= last; r++) {
      lua_rawgeti(L, rows_idx, r);
      lua_pushvalue(L, -3);
      lua_pushvalue(L, -3);
      lua_rawset(L, -3);  /* the path's value wins over a field of the same name, as in Spark */
      lua_pop(L, 1);
    }
    lua_pop(L, 2);
  }
}
