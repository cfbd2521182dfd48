/* The join functions of streamrun.core. See lua_static.h. */
#include <lauxlib.h>
#include <string.h>

#include "connector.h"
#include "lua_aux.h"
#include "lua_codec.h"
#include "lua_pack.h"
#include "lua_static.h"
#include "lua_libs.h"
#include "static_table.h"

/* Scratch memory of one call, freed by __gc if the call raises. */
typedef struct scratch {
  sr_buf key, row;
  sr_options *options;
  sr_static_table *table; /* being built; NULL once handed to the cache */
} scratch;

static int scratch_gc(lua_State *L) {
  scratch *s = lua_touserdata(L, 1);
  sr_buf_free(&s->key);
  sr_buf_free(&s->row);
  sr_options_free(s->options);
  sr_static_table_free(s->table);
  memset(s, 0, sizeof *s);
  return 0;
}

/* [-0, +1, m] */
static scratch *push_scratch(lua_State *L) {
  return sr_lua_newudata(L, sizeof(scratch), "streamrun.join_scratch", scratch_gc);
}

static const sr_static_format *check_format(lua_State *L, int idx) {
  const char *name = luaL_checkstring(L, idx);
  const sr_static_format *f = sr_static_format_find(name);
  if (f) return f;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  const char *const *names = sr_static_format_names();
  for (int i = 0; names[i]; i++) {
    if (i) luaL_addstring(&b, ", ");
    luaL_addstring(&b, names[i]);
  }
  luaL_pushresult(&b);
  luaL_error(L, "a static table (sr.read) cannot be read from format %s (formats: %s)", name,
             lua_tostring(L, -1));
  return NULL;
}

/* The options table at idx (name -> text) as sr_options owned by s, checked against f. */
static const sr_options *check_options(lua_State *L, int idx, const sr_static_format *f,
                                       scratch *s) {
  luaL_checktype(L, idx, LUA_TTABLE);
  s->options = sr_options_new();
  if (!s->options) luaL_error(L, "out of memory");
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING &&
        sr_options_set(s->options, lua_tostring(L, -2), lua_tostring(L, -1)) != 0)
      luaL_error(L, "out of memory");
    lua_pop(L, 1);
  }
  static const char *const extra[] = {"format", "schema", NULL};
  char what[64];
  snprintf(what, sizeof what, "the %s static table", f->name);
  sr_error *e = NULL;
  if (sr_options_check(s->options, f->options, extra, what, &e) != SR_OK) sr_lua_raise(L, e, what);
  return s->options;
}

/* Appends the packed value at idx (lua_pack.h's bytes, so keys equal core.pack's). Returns 0,
** or -1 with the reason in errbuf. */
static int pack_scalar(lua_State *L, int idx, sr_buf *out, char *errbuf, size_t errlen) {
  int rc = sr_lua_pack_scalar(L, idx, out);
  if (rc == 0) return sr_lua_pack_as(L, idx, "join key", out, errbuf, errlen);
  if (rc < 0) snprintf(errbuf, errlen, "out of memory");
  return rc < 0 ? -1 : 0;
}

/* Packs the key of the row table at row into out (cleared first): the values of the ncols key
** column names at stack indices cols..cols+ncols-1, one after another (each is self-delimiting,
** so different keys never give the same bytes). Returns 1, 0 when a key column is nil, or
** raises for a value that cannot be a key (a function). */
static int pack_key(lua_State *L, int row, int cols, int ncols, sr_buf *out) {
  char err[256];
  sr_buf_clear(out);
  for (int c = 0; c < ncols; c++) {
    lua_pushvalue(L, cols + c);
    lua_rawget(L, row);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      return 0;
    }
    if (pack_scalar(L, lua_gettop(L), out, err, sizeof err) != 0)
      luaL_error(L, "join key column %s: %s", lua_tostring(L, cols + c), err);
    lua_pop(L, 1);
  }
  return 1;
}

/* Pushes the names of the key column list at idx; returns their count. */
static int push_keycols(lua_State *L, int idx) {
  luaL_checktype(L, idx, LUA_TTABLE);
  int n = (int)lua_objlen(L, idx);
  luaL_checkstack(L, n + 8, "too many join key columns");
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "join key column %d is not a name", i);
  }
  return n;
}

/* Pushes row i of the rows table at idx; raises when it is not a table. */
static void push_row(lua_State *L, int rows, int i) {
  lua_rawgeti(L, rows, i);
  if (!lua_istable(L, -1))
    luaL_error(L, "join input row %d is a %s, not a table", i, luaL_typename(L, -1));
}

static int l_static_formats(lua_State *L) {
  const char *const *names = sr_static_format_names();
  lua_newtable(L);
  for (int i = 0; names[i]; i++) {
    lua_pushstring(L, names[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int l_static_check(lua_State *L) {
  const char *identity = luaL_checkstring(L, 1);
  const sr_static_format *f = check_format(L, 2);
  const char *path = luaL_checkstring(L, 3);
  lua_settop(L, 4);
  scratch *s = push_scratch(L);
  const sr_options *o = check_options(L, 4, f, s);
  sr_error *e = NULL;
  if (f->fingerprint(path, o, &s->row, &e) != SR_OK) sr_lua_raise(L, e, "static table");
  const char *cached = NULL;
  const char *now = s->row.data ? s->row.data : "";
  if (sr_static_cache_get(identity, &cached) && strcmp(cached, now) == 0) {
    lua_pushnil(L);
  } else {
    lua_pushlstring(L, now, s->row.len);
  }
  return 1;
}

static void bad_to_records(void *ud, const char *origin, int64_t line, const char *record,
                           size_t len, const char *reason) {
  sr_bad_record(ud, origin, line, record, len, reason);
}

static int l_static_load(lua_State *L) {
  const sr_static_format *f = check_format(L, 1);
  const char *path = luaL_checkstring(L, 2);
  lua_settop(L, 4);
  const sr_schema *schema = lua_isnil(L, 4) ? NULL : sr_lua_checkschema(L, 4);
  scratch *s = push_scratch(L);
  const sr_options *o = check_options(L, 3, f, s);
  sr_bad_records *bad = sr_lua_bad_records(L);
  lua_newtable(L);
  int rows = lua_gettop(L), n = 0;
  sr_error *e = NULL;
  if (f->load(L, path, o, schema, rows, &n, bad ? bad_to_records : NULL, bad, &e) != SR_OK)
    sr_lua_raise(L, e, "static table");
  lua_pushinteger(L, n);
  return 2;
}

static int l_static_build(lua_State *L) {
  const char *identity = luaL_checkstring(L, 1);
  const char *fingerprint = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  int n = luaL_checkint(L, 4);
  lua_settop(L, 5);
  int ncols = push_keycols(L, 5), cols = 6;
  scratch *s = push_scratch(L);
  if (!(s->table = sr_static_table_new())) luaL_error(L, "out of memory");
  lua_newtable(L); /* the column names seen, as a set */
  int seen = lua_gettop(L);
  char err[256];
  for (int i = 1; i <= n; i++) {
    push_row(L, 3, i);
    int row = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, row)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) != LUA_TSTRING) continue;
      lua_pushvalue(L, -1);
      lua_rawget(L, seen);
      int known = !lua_isnil(L, -1);
      lua_pop(L, 1);
      if (known) continue;
      size_t len;
      const char *name = lua_tolstring(L, -1, &len);
      if (sr_static_table_add_column(s->table, name, len) != 0) luaL_error(L, "out of memory");
      lua_pushvalue(L, -1);
      lua_pushboolean(L, 1);
      lua_rawset(L, seen);
    }
    if (pack_key(L, row, cols, ncols, &s->key)) {
      sr_buf_clear(&s->row);
      if (sr_lua_pack_as(L, row, "static table row", &s->row, err, sizeof err) != 0)
        luaL_error(L, "static table row %d: %s", i, err);
      if (sr_static_table_add(s->table, s->key.data ? s->key.data : "", s->key.len,
                              s->row.data, s->row.len) != 0)
        luaL_error(L, "out of memory building the static table");
    }
    lua_settop(L, seen);
  }
  lua_Number kept = (lua_Number)sr_static_table_nrows(s->table);
  sr_static_table *t = s->table;
  s->table = NULL;
  if (sr_static_cache_put(identity, fingerprint, t) != 0) luaL_error(L, "out of memory");
  lua_pushnumber(L, kept);
  return 1;
}

static const sr_static_table *check_cached(lua_State *L, int idx) {
  const sr_static_table *t = sr_static_cache_get(luaL_checkstring(L, idx), NULL);
  if (!t) luaL_error(L, "internal: the static table was not built before it was probed");
  return t;
}

static int l_static_probe(lua_State *L) {
  const sr_static_table *t = check_cached(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  int n = luaL_checkint(L, 3);
  int exists_only = lua_toboolean(L, 5);
  lua_settop(L, 5);
  int ncols = push_keycols(L, 4), cols = 6;
  scratch *s = push_scratch(L);
  lua_createtable(L, n, 0);
  int matches = lua_gettop(L);
  double nmatched = 0;
  for (int i = 1; i <= n; i++) {
    push_row(L, 2, i);
    sr_static_cursor c;
    uint32_t count = pack_key(L, matches + 1, cols, ncols, &s->key)
                         ? sr_static_table_find(t, s->key.data ? s->key.data : "", s->key.len, &c)
                         : 0;
    lua_pop(L, 1);
    if (count == 0) continue;
    nmatched += count;
    if (exists_only) {
      lua_pushboolean(L, 1);
    } else {
      lua_createtable(L, (int)count, 0);
      const void *row;
      size_t rlen;
      for (int k = 1; sr_static_cursor_next(&c, &row, &rlen); k++) {
        if (sr_lua_unpack(L, row, rlen) != 0) luaL_error(L, "internal: a corrupt static row");
        lua_rawseti(L, -2, k);
      }
    }
    lua_rawseti(L, matches, i);
  }
  lua_pushnumber(L, nmatched);
  return 2;
}

static int l_static_columns(lua_State *L) {
  const sr_static_table *t = check_cached(L, 1);
  int n = sr_static_table_ncolumns(t);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, sr_static_table_column(t, i));
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int l_join_keys(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int n = luaL_checkint(L, 2);
  lua_settop(L, 3);
  int ncols = push_keycols(L, 3), cols = 4;
  scratch *s = push_scratch(L);
  lua_createtable(L, n, 0);
  int keys = lua_gettop(L);
  for (int i = 1; i <= n; i++) {
    push_row(L, 1, i);
    int has = pack_key(L, keys + 1, cols, ncols, &s->key);
    lua_pop(L, 1);
    if (!has) continue;
    lua_pushlstring(L, s->key.data ? s->key.data : "", s->key.len);
    lua_rawseti(L, keys, i);
  }
  lua_pushinteger(L, n);
  return 2;
}

int sr_open_static_lib(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"static_formats", l_static_formats}, {"static_check", l_static_check},
      {"static_load", l_static_load},       {"static_build", l_static_build},
      {"static_probe", l_static_probe},     {"static_columns", l_static_columns},
      {"join_keys", l_join_keys},           {NULL, NULL}};
  lua_createtable(L, 0, (int)(sizeof fns / sizeof fns[0]) - 1);
  for (const luaL_Reg *r = fns; r->name; r++) {
    lua_pushcfunction(L, r->func);
    lua_setfield(L, -2, r->name);
  }
  return 1;
}
