/* The codec functions of streamrun.core, and schemas as Lua values: see lua_codec.h. */
#include "lua_codec.h"

#include <ctype.h>
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csv_rows.h"
#include "json_rows.h"
#include "lua_int64.h"
#include "lua_aux.h"
#include "lua_types.h"
#include "options.h"
#include "timeutil.h"

static const char schema_mt[] = "streamrun.schema";

typedef struct schema_box { sr_schema *schema; } schema_box;

/* ------------------------------------------------------------------------------------------ */
/* Schema userdata                                                                              */

const sr_schema *sr_lua_toschema(lua_State *L, int idx) {
  schema_box *b = luaL_testudata(L, idx, schema_mt);
  return b ? b->schema : NULL;
}

const sr_schema *sr_lua_checkschema(lua_State *L, int idx) {
  const sr_schema *s = sr_lua_toschema(L, idx);
  if (!s) luaL_typerror(L, idx, "schema");
  return s;
}

static void type_text(const sr_field *f, sr_buf *b);

static int is_plain_name(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_') return 0;
  return 1;
}

static void fields_text(const sr_schema *s, const char *name_sep, sr_buf *b) {
  for (int i = 0; i < s->nfields; i++) {
    const sr_field *f = &s->fields[i];
    if (i) sr_buf_puts(b, ", ");
    if (is_plain_name(f->name)) {
      sr_buf_puts(b, f->name);
    } else {  /* backquoted, `` for a backquote, as Spark's DDL has it */
      sr_buf_putc(b, '`');
      for (const char *c = f->name; *c; c++) {
        if (*c == '`') sr_buf_putc(b, '`');
        sr_buf_putc(b, *c);
      }
      sr_buf_putc(b, '`');
    }
    sr_buf_puts(b, name_sep);
    type_text(f, b);
    if (!f->nullable) sr_buf_puts(b, " not null");
  }
}

static void type_text(const sr_field *f, sr_buf *b) {
  switch (f->type) {
    case SR_TYPE_ARRAY:
      sr_buf_puts(b, "array<");
      if (f->element) type_text(f->element, b);
      sr_buf_putc(b, '>');
      break;
    case SR_TYPE_STRUCT:
      sr_buf_puts(b, "struct<");
      if (f->children) fields_text(f->children, ": ", b);
      sr_buf_putc(b, '>');
      break;
    case SR_TYPE_MAP:
      sr_buf_puts(b, "map<");
      if (f->children && f->children->nfields == 2) {
        type_text(&f->children->fields[0], b);
        sr_buf_puts(b, ", ");
        type_text(&f->children->fields[1], b);
      }
      sr_buf_putc(b, '>');
      break;
    case SR_TYPE_DECIMAL: sr_buf_printf(b, "decimal(%d,%d)", f->precision, f->scale); break;
    default: sr_buf_puts(b, sr_type_name(f->type));
  }
}

/* Pushes text built into a buffer held by a codec memory userdata (no leak if pushing fails). */
static void push_buf_text(lua_State *L, sr__codec_mem *m, sr_buf *b) {
  lua_pushlstring(L, b->data ? b->data : "", b->len);
  sr__codec_mem_release(m);
}

static int schema_tostring(lua_State *L) {
  const sr_schema *s = sr_lua_checkschema(L, 1);
  sr__codec_mem *m = sr__codec_mem_push(L);
  fields_text(s, " ", &m->text);
  push_buf_text(L, m, &m->text);
  return 1;
}

static int schema_columns(lua_State *L) {
  const sr_schema *s = sr_lua_checkschema(L, 1);
  sr__codec_mem *m = sr__codec_mem_push(L);
  lua_createtable(L, s->nfields, 0);
  for (int i = 0; i < s->nfields; i++) {
    lua_createtable(L, 2, 0);
    lua_pushstring(L, s->fields[i].name);
    lua_rawseti(L, -2, 1);
    sr_buf_clear(&m->text);
    type_text(&s->fields[i], &m->text);
    lua_pushlstring(L, m->text.data ? m->text.data : "", m->text.len);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, i + 1);
  }
  sr__codec_mem_release(m);
  return 1;
}

static int schema_gc(lua_State *L) {
  schema_box *b = lua_touserdata(L, 1);
  sr_schema_free(b->schema);
  b->schema = NULL;
  return 0;
}

/* [-0, +1, m] A new schema userdata owning an empty schema. */
static sr_schema *push_new_schema(lua_State *L) {
  if (sr_lua_newmetatable(L, schema_mt, schema_gc)) {
    static const luaL_Reg methods[] = {{"columns", schema_columns}, {NULL, NULL}};
    lua_pushcfunction(L, schema_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_newtable(L);
    luaL_register(L, NULL, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  schema_box *b = sr_lua_newudata(L, sizeof *b, schema_mt, schema_gc);
  b->schema = sr_schema_new();
  if (!b->schema) luaL_error(L, "out of memory");
  return b->schema;
}

void sr_lua_push_schema(lua_State *L, sr_schema *schema) {
  sr_schema *empty = push_new_schema(L);
  schema_box *b = lua_touserdata(L, -1);
  sr_schema_free(empty);
  b->schema = schema;
}

/* ------------------------------------------------------------------------------------------ */
/* Schema specs. Errors raise at once: the schema being built belongs to a userdata already,   */
/* so its __gc frees whatever was built.                                                       */

static const char valid_types[] =
  "string, long, int, double, boolean, timestamp, date, binary, array<T>, struct<...>, "
  "map<K, V>, float, short, byte, decimal(p,s)";

static void unknown_type(lua_State *L, const char *path, const char *name) {
  const char *near = sr_nearest_name(name, sr_type_spellings());
  luaL_error(L, "column %s: unknown type \"%s\"%s%s%s; valid types: %s", path, name,
             near ? " (did you mean " : "", near ? near : "", near ? "?)" : "", valid_types);
}

static sr_field *add_field(lua_State *L, sr_schema *s, const char *name, const char *path) {
  if (sr_schema_find(s, name) >= 0) luaL_error(L, "column %s: declared twice", path);
  sr_field *f = sr_schema_add(s, name, SR_TYPE_STRING);
  if (!f) luaL_error(L, "out of memory");
  return f;
}

static sr_field *new_element(lua_State *L, const char *name) {
  sr_field *e = calloc(1, sizeof *e);
  if (!e) luaL_error(L, "out of memory");
  e->name = strdup(name);
  e->nullable = 1;
  if (!e->name) {
    free(e);
    luaL_error(L, "out of memory");
  }
  return e;
}

static sr_schema *new_children(lua_State *L, sr_field *f) {
  f->children = sr_schema_new();
  if (!f->children) luaL_error(L, "out of memory");
  return f->children;
}

/* ---- Spark DDL ---- */

typedef struct ddl {
  lua_State *L;
  const char *p;
} ddl;

static void ddl_ws(ddl *d) {
  while (isspace((unsigned char)*d->p)) d->p++;
}

static void ddl_expect(ddl *d, char c, const char *path) {
  ddl_ws(d);
  if (*d->p != c)
    luaL_error(d->L, "column %s: expected '%c' in the schema text at \"%.20s\"", path, c, d->p);
  d->p++;
}

/* A word ([A-Za-z0-9_]+) or a `backquoted name`; "" when there is none. */
static void ddl_name(ddl *d, char *out, size_t cap) {
  size_t n = 0;
  ddl_ws(d);
  if (*d->p == '`') {
    d->p++;
    for (;;) {
      if (!*d->p) luaL_error(d->L, "unterminated `name` in the schema text");
      if (*d->p == '`' && d->p[1] != '`') { d->p++; break; }
      if (*d->p == '`') d->p++;
      if (n + 1 < cap) out[n++] = *d->p;
      d->p++;
    }
  } else {
    while (isalnum((unsigned char)*d->p) || *d->p == '_') {
      if (n + 1 < cap) out[n++] = *d->p;
      d->p++;
    }
  }
  out[n] = '\0';
}

static int ddl_int(ddl *d, const char *path) {
  ddl_ws(d);
  if (!isdigit((unsigned char)*d->p)) luaL_error(d->L, "column %s: expected a number in the schema text", path);
  int v = 0;
  while (isdigit((unsigned char)*d->p)) v = v * 10 + (*d->p++ - '0');
  return v;
}

static void ddl_fields(ddl *d, sr_schema *s, const char *prefix, char close);

static void ddl_type(ddl *d, sr_field *f, const char *path) {
  char word[64];
  ddl_name(d, word, sizeof word);
  for (char *c = word; *c; c++) *c = (char)tolower((unsigned char)*c);
  if (!word[0]) luaL_error(d->L, "column %s: expected a type in the schema text at \"%.20s\"", path, d->p);
  if (sr_type_parse(word, &f->type) != 0) unknown_type(d->L, path, word);
  switch (f->type) {
    case SR_TYPE_ARRAY:
      ddl_expect(d, '<', path);
      f->element = new_element(d->L, "element");
      ddl_type(d, f->element, path);
      ddl_expect(d, '>', path);
      break;
    case SR_TYPE_STRUCT:
      ddl_expect(d, '<', path);
      ddl_fields(d, new_children(d->L, f), path, '>');
      ddl_expect(d, '>', path);
      break;
    case SR_TYPE_MAP: {
      sr_schema *kv = new_children(d->L, f);
      ddl_expect(d, '<', path);
      ddl_type(d, add_field(d->L, kv, "key", path), path);
      ddl_expect(d, ',', path);
      ddl_type(d, add_field(d->L, kv, "value", path), path);
      ddl_expect(d, '>', path);
      break;
    }
    case SR_TYPE_DECIMAL:
      f->precision = 10;  /* Spark's default decimal(10,0) */
      ddl_ws(d);
      if (*d->p == '(') {
        d->p++;
        f->precision = ddl_int(d, path);
        ddl_ws(d);
        if (*d->p == ',') { d->p++; f->scale = ddl_int(d, path); }
        ddl_expect(d, ')', path);
      }
      break;
    case SR_TYPE_STRING:
      ddl_ws(d);
      if (strcmp(word, "string") != 0) {  /* varchar(n), char(n): the length is not enforced */
        ddl_expect(d, '(', path);
        ddl_int(d, path);
        ddl_expect(d, ')', path);
      }
      break;
    default: break;
  }
}

static int ddl_keyword(ddl *d, const char *kw) {
  size_t n = strlen(kw);
  ddl_ws(d);
  if (strncasecmp(d->p, kw, n) != 0 || isalnum((unsigned char)d->p[n]) || d->p[n] == '_') return 0;
  d->p += n;
  return 1;
}

/* name [:] type [NOT NULL] [COMMENT '...'], separated by commas, up to close or the end. */
static void ddl_fields(ddl *d, sr_schema *s, const char *prefix, char close) {
  ddl_ws(d);
  if (*d->p == close) return;
  for (;;) {
    char name[256], path[512];
    ddl_name(d, name, sizeof name);
    if (!name[0]) luaL_error(d->L, "expected a column name in the schema text at \"%.20s\"", d->p);
    snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", name);
    sr_field *f = add_field(d->L, s, name, path);
    ddl_ws(d);
    if (*d->p == ':') d->p++;
    ddl_type(d, f, path);  /* f stays valid: only f's own children grow below */
    if (ddl_keyword(d, "not")) {
      if (!ddl_keyword(d, "null")) luaL_error(d->L, "column %s: expected NULL after NOT", path);
      f->nullable = 0;
    }
    if (ddl_keyword(d, "comment")) {
      ddl_ws(d);
      char q = *d->p;
      if (q != '\'' && q != '"') luaL_error(d->L, "column %s: expected a quoted comment", path);
      const char *endq = strchr(d->p + 1, q);
      if (!endq) luaL_error(d->L, "column %s: unterminated comment", path);
      d->p = endq + 1;
    }
    ddl_ws(d);
    if (*d->p != ',') break;
    d->p++;
  }
  ddl_ws(d);
  if (*d->p != close)
    luaL_error(d->L, "unexpected \"%.20s\" in the schema text (expected ',' or the end)", d->p);
}

/* ---- Lua table specs ---- */

static void spec_struct(lua_State *L, int idx, sr_schema *s, const char *prefix);

/* The type of the value at idx for field f. */
static void spec_type(lua_State *L, int idx, sr_field *f, const char *path) {
  if (!lua_checkstack(L, 8)) luaL_error(L, "schema nested too deeply");
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      ddl d = {L, lua_tostring(L, idx)};
      ddl_type(&d, f, path);
      ddl_ws(&d);
      if (*d.p) luaL_error(L, "column %s: unexpected \"%s\" after the type", path, d.p);
      return;
    }
    case LUA_TUSERDATA: {
      const sr_schema *c = sr_lua_toschema(L, idx);
      if (!c) break;
      f->type = SR_TYPE_STRUCT;
      f->children = sr_schema_copy(c);
      if (!f->children) luaL_error(L, "out of memory");
      return;
    }
    case LUA_TTABLE: {
      lua_rawgeti(L, idx, 1);
      const char *kind = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
      lua_pop(L, 1);
      if (kind && strcmp(kind, "array") == 0) {
        f->type = SR_TYPE_ARRAY;
        f->element = new_element(L, "element");
        lua_rawgeti(L, idx, 2);
        spec_type(L, lua_gettop(L), f->element, path);
        lua_pop(L, 1);
      } else if (kind && strcmp(kind, "map") == 0) {
        sr_schema *kv = new_children(L, f);
        f->type = SR_TYPE_MAP;
        lua_rawgeti(L, idx, 2);
        spec_type(L, lua_gettop(L), add_field(L, kv, "key", path), path);
        lua_rawgeti(L, idx, 3);
        spec_type(L, lua_gettop(L), add_field(L, kv, "value", path), path);
        lua_pop(L, 2);
      } else if (kind) {
        luaL_error(L, "column %s: a type table is {\"array\", T}, {\"map\", K, V} or a table of "
                      "columns, not {\"%s\", ...}", path, kind);
      } else {
        f->type = SR_TYPE_STRUCT;
        spec_struct(L, idx, new_children(L, f), path);
      }
      return;
    }
    default: break;
  }
  luaL_error(L, "column %s: a type must be a type name or a table, got %s; valid types: %s", path,
             luaL_typename(L, idx), valid_types);
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The columns of the table at idx: a list of {name, type}, or name = type sorted by name. */
static void spec_struct(lua_State *L, int idx, sr_schema *s, const char *prefix) {
  char path[512];
  lua_rawgeti(L, idx, 1);
  int list = lua_istable(L, -1);
  lua_pop(L, 1);
  if (list) {
    int n = (int)lua_objlen(L, idx);
    for (int i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, i);
      int e = lua_gettop(L);
      lua_rawgeti(L, e, 1);
      if (!lua_istable(L, e) || lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "schema%s%s: entry %d of the column list is not {name, type}",
                   *prefix ? " of " : "", prefix, i);
      snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", lua_tostring(L, -1));
      sr_field *f = add_field(L, s, lua_tostring(L, -1), path);
      lua_rawgeti(L, e, 2);
      spec_type(L, lua_gettop(L), f, path);
      lua_settop(L, e - 1);
    }
    return;
  }
  /* map form: gather the names on the stack (anchored) and sort them */
  int base = lua_gettop(L), n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "schema%s%s: a column name must be a string, got %s", *prefix ? " of " : "",
                 prefix, luaL_typename(L, -1));
    if (!lua_checkstack(L, 4)) luaL_error(L, "schema too large");
    lua_pushvalue(L, -1);
    n++;
  }
  const char **names = lua_newuserdata(L, (size_t)(n ? n : 1) * sizeof *names);
  for (int i = 0; i < n; i++) names[i] = lua_tostring(L, base + 1 + i);
  qsort(names, (size_t)n, sizeof *names, name_cmp);
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", names[i]);
    sr_field *f = add_field(L, s, names[i], path);
    lua_getfield(L, idx, names[i]);
    spec_type(L, lua_gettop(L), f, path);
    lua_pop(L, 1);
  }
  lua_settop(L, base);
}

/* [-0, +1, v] Pushes the schema userdata for the spec at idx (the value itself when it is one). */
static const sr_schema *push_schema(lua_State *L, int idx) {
  idx = sr_lua_absindex(L, idx);
  const sr_schema *existing = sr_lua_toschema(L, idx);
  if (existing) {
    lua_pushvalue(L, idx);
    return existing;
  }
  int t = lua_type(L, idx);
  if (t != LUA_TSTRING && t != LUA_TTABLE)
    luaL_error(L, "a schema is a table of columns or DDL text (\"a long, b string\"), got %s",
               luaL_typename(L, idx));
  sr_schema *s = push_new_schema(L);
  if (t == LUA_TSTRING) {
    ddl d = {L, lua_tostring(L, idx)};
    ddl_fields(&d, s, "", '\0');
  } else {
    lua_rawgeti(L, idx, 1);
    int kind = lua_type(L, -1) == LUA_TSTRING;
    lua_pop(L, 1);
    if (kind) luaL_error(L, "a schema is a table of columns; {\"array\", T} is a column's type");
    spec_struct(L, idx, s, "");
  }
  return s;
}

static int l_schema(lua_State *L) {
  luaL_checkany(L, 1);
  push_schema(L, 1);
  return 1;
}

/* The schema argument at idx: NULL for nil/none, else a schema (built from a spec when needed;
** the userdata is left on the stack to keep it alive). */
static const sr_schema *opt_schema(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return NULL;
  return push_schema(L, idx);
}

/* ------------------------------------------------------------------------------------------ */
/* JSON and time helpers                                                                        */

static int l_from_json(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  char err[256];
  if (sr_json_decode_value(L, text, len, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  return 1;
}

static int l_to_json(lua_State *L) {
  luaL_checkany(L, 1);
  char err[384];
  sr__codec_mem *m = sr__codec_mem_push(L);
  if (sr_json_encode_value(L, 1, &m->text, err, sizeof err) != 0) {
    sr__codec_mem_release(m);
    return luaL_error(L, "to_json: %s", err);
  }
  push_buf_text(L, m, &m->text);
  return 1;
}

static int l_parse_timestamp(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  int64_t ms;
  if (sr_time_parse(text, len, &ms) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "not a timestamp: \"%s\" (expected ISO-8601 such as 2026-11-23T10:00:00.001Z)", text);
    return 2;
  }
  sr_lua_push_int64(L, ms);
  return 1;
}

static int64_t check_int64(lua_State *L, int idx, const char *what) {
  int64_t v;
  if (sr_lua_to_int64(L, idx, &v) != 0)
    luaL_argerror(L, idx, lua_pushfstring(L, "%s expected (an integer), got %s", what, luaL_typename(L, idx)));
  return v;
}

static int l_format_timestamp(lua_State *L) {
  char out[32];
  int64_t us;
  size_t n = sr_lua_typed(L, 1, &us, NULL) == SR_LV_TIMESTAMP
                 ? sr_time_format_us(us, out) : sr_time_format(check_int64(L, 1, "milliseconds"), out);
  lua_pushlstring(L, out, n);
  return 1;
}

/* core.parse_timestamp_us(text) -> microseconds (a number, or int64 beyond 2^53) | nil, err */
static int l_parse_timestamp_us(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  int64_t us;
  if (sr_time_parse_us(text, len, &us) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "not a timestamp: \"%s\" (expected ISO-8601 such as 2026-11-23T10:00:00.001Z)", text);
    return 2;
  }
  sr_lua_push_int64(L, us);
  return 1;
}

/* core.format_timestamp_us(us) -> ISO-8601 UTC text, 6 fraction digits when not whole ms */
static int l_format_timestamp_us(lua_State *L) {
  char out[32];
  size_t n = sr_time_format_us(check_int64(L, 1, "microseconds"), out);
  lua_pushlstring(L, out, n);
  return 1;
}

static int l_parse_date(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  int32_t days;
  if (sr_date_parse(text, len, &days) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "not a date: \"%s\" (expected 2026-11-23)", text);
    return 2;
  }
  lua_pushnumber(L, days);
  return 1;
}

static int l_format_date(lua_State *L) {
  int32_t d;
  int64_t days = sr_lua_typed(L, 1, NULL, &d) == SR_LV_DATE ? d : check_int64(L, 1, "days");
  if (days < INT32_MIN || days > INT32_MAX) return luaL_argerror(L, 1, "days out of range");
  char out[16];
  size_t n = sr_date_format((int32_t)days, out);
  lua_pushlstring(L, out, n);
  return 1;
}

static int l_duration(lua_State *L) {
  if (lua_type(L, 1) == LUA_TNUMBER) {
    lua_settop(L, 1);
    return 1;
  }
  const char *text = luaL_checkstring(L, 1);
  int64_t ms;
  /* a true second argument admits a sign: "-5 seconds" (a window's startTime) */
  int rc = lua_toboolean(L, 2) ? sr_duration_parse_signed(text, &ms) : sr_duration_parse(text, &ms);
  if (rc != 0) {
    lua_pushnil(L);
    if (rc == -2)
      lua_pushfstring(L, "\"%s\" should not be negative", text);
    else
      lua_pushfstring(L, "not a duration: \"%s\" (expected e.g. \"10 seconds\", \"500 milliseconds\")", text);
    return 2;
  }
  sr_lua_push_int64(L, ms);
  return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Batch codecs for Lua (specs and users of the module); the C sources call json_rows/csv_rows  */

typedef struct lua_bad { lua_State *L; int fn; } lua_bad;

static void call_bad_fn(void *ud, const char *origin, int64_t line, const char *record,
                        size_t len, const char *reason) {
  lua_bad *b = ud;
  lua_State *L = b->L;
  lua_pushvalue(L, b->fn);
  if (origin) lua_pushstring(L, origin);
  else lua_pushnil(L);
  lua_pushnumber(L, (lua_Number)line);
  if (record) lua_pushlstring(L, record, len);
  else lua_pushnil(L);
  lua_pushstring(L, reason);
  lua_call(L, 4, 0);
}

static void csv_opts(lua_State *L, int idx, sr_csv_options *o) {
  memset(o, 0, sizeof *o);
  o->sep = ',';
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_getfield(L, idx, "sep");
  if (!lua_isnil(L, -1)) {
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (!s || n != 1) luaL_error(L, "csv option sep must be one character");
    o->sep = s[0];
  }
  lua_getfield(L, idx, "header");
  o->header = lua_toboolean(L, -1);
  lua_getfield(L, idx, "multiLine");
  o->multiline = lua_toboolean(L, -1);
  lua_getfield(L, idx, "lineSep");
  if (!lua_isnil(L, -1) && sr_linesep_set(&o->line_sep, lua_tostring(L, -1), 2) != 0)
    luaL_error(L, "csv option lineSep must be one character");
  lua_pop(L, 4);
}

/* decode_*_lines(rows, nrows, text, schema, [csv opts,] origin, first_line, bad_fn) */
static int decode_lines(lua_State *L, int csv) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int nrows = (int)luaL_checkinteger(L, 2);
  size_t len;
  const char *text = luaL_checklstring(L, 3, &len);
  sr_csv_options opts;
  if (csv) csv_opts(L, 5, &opts);
  int a = csv ? 6 : 5;
  const char *origin = luaL_optstring(L, a, NULL);
  int64_t first_line = (int64_t)luaL_optnumber(L, a + 1, 1);
  lua_bad b = {L, a + 2};
  int has_bad = !lua_isnoneornil(L, a + 2);
  if (has_bad) luaL_checktype(L, a + 2, LUA_TFUNCTION);
  const sr_schema *schema = opt_schema(L, 4);
  int nbad = csv ? sr_csv_decode_lines(L, 1, &nrows, text, len, schema, &opts, origin, first_line,
                                       has_bad ? call_bad_fn : NULL, &b)
                 : sr_json_decode_lines(L, 1, &nrows, text, len, schema, origin, first_line,
                                        has_bad ? call_bad_fn : NULL, &b);
  lua_pushinteger(L, nrows);
  lua_pushinteger(L, nbad);
  return 2;
}

static int l_decode_json_lines(lua_State *L) { return decode_lines(L, 0); }
static int l_decode_csv_lines(lua_State *L) { return decode_lines(L, 1); }

/* encode_json_rows(rows, n, schema) / encode_csv_rows(rows, n, schema, opts) */
static int encode_rows(lua_State *L, int csv) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int n = (int)luaL_checkinteger(L, 2);
  sr_csv_options opts;
  if (csv) csv_opts(L, 4, &opts);
  const sr_schema *schema = opt_schema(L, 3);
  char err[512];
  sr__codec_mem *m = sr__codec_mem_push(L);
  int rc = csv ? sr_csv_encode_rows(L, 1, n, schema, &opts, opts.header, &m->text, err, sizeof err)
               : sr_json_encode_rows(L, 1, n, schema, &m->text, err, sizeof err);
  if (rc != 0) {
    sr__codec_mem_release(m);
    return luaL_error(L, "%s: %s", csv ? "encode_csv_rows" : "encode_json_rows", err);
  }
  push_buf_text(L, m, &m->text);
  return 1;
}

static int l_encode_json_rows(lua_State *L) { return encode_rows(L, 0); }
static int l_encode_csv_rows(lua_State *L) { return encode_rows(L, 1); }

int sr_open_codec_lib(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"from_json", l_from_json},
    {"to_json", l_to_json},
    {"parse_timestamp", l_parse_timestamp},
    {"format_timestamp", l_format_timestamp},
    {"parse_timestamp_us", l_parse_timestamp_us},
    {"format_timestamp_us", l_format_timestamp_us},
    {"parse_date", l_parse_date},
    {"format_date", l_format_date},
    {"duration", l_duration},
    {"schema", l_schema},
    {"decode_json_lines", l_decode_json_lines},
    {"encode_json_rows", l_encode_json_rows},
    {"decode_csv_lines", l_decode_csv_lines},
    {"encode_csv_rows", l_encode_csv_rows},
    {NULL, NULL},
  };
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  return 1;
}
