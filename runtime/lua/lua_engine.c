/* The engine's functions in streamrun.core. See lua_libs.h. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connector.h"
#include "json_rows.h"
#include "lua_aux.h"
#include "lua_codec.h"
#include "lua_host.h"
#include "lua_int64.h"
#include "lua_libs.h"
#include "lua_pack.h"
#include "lua_state_lib.h"
#include "lua_static.h"
#include "options.h"
#include "sr_log.h"

static const char BAD_KEY[] = "streamrun.bad_records";

void sr_lua_set_bad_records(lua_State *L, struct sr_bad_records *br) {
  lua_pushlightuserdata(L, br);
  lua_setfield(L, LUA_REGISTRYINDEX, BAD_KEY);
}

struct sr_bad_records *sr_lua_bad_records(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, BAD_KEY);
  sr_bad_records *br = lua_type(L, -1) == LUA_TLIGHTUSERDATA ? lua_touserdata(L, -1) : NULL;
  lua_pop(L, 1);
  return br;
}

static void push_names(lua_State *L, const char *const *names) {
  lua_newtable(L);
  for (int i = 0; names[i]; i++) {
    lua_pushstring(L, names[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

static int l_source_names(lua_State *L) { push_names(L, sr_source_names()); return 1; }
static int l_sink_names(lua_State *L) { push_names(L, sr_sink_names()); return 1; }

/* source_columns(format) -> the DDL of the columns the source always has, or nil */
static int l_source_columns(lua_State *L) {
  const sr_source_ops *ops = sr_source_lookup(luaL_checkstring(L, 1));
  if (ops && ops->columns) lua_pushstring(L, ops->columns);
  else lua_pushnil(L);
  return 1;
}

/* connector_options("source"|"sink", format) -> the connector's option table as
** {{name, type, default, description}, ...} (type: string, int, bool, duration, size, json;
** default and description may be nil), and for a sink its output modes ({...}, nil: all);
** nil for an unknown format. For the editor definitions (streamrun.luadefs). */
static int l_connector_options(lua_State *L) {
  static const char *const type_names[] = {"string", "int", "bool", "duration", "size", "json"};
  int sink = strcmp(luaL_checkstring(L, 1), "sink") == 0;
  const char *format = luaL_checkstring(L, 2);
  const sr_source_ops *src = sink ? NULL : sr_source_lookup(format);
  const sr_sink_ops *snk = sink ? sr_sink_lookup(format) : NULL;
  const sr_option_spec *specs = src ? src->options : snk ? snk->options : NULL;
  if (!src && !snk) return 0;
  lua_newtable(L);
  for (int i = 0; specs && specs[i].name; i++) {
    const sr_option_spec *o = &specs[i];
    lua_createtable(L, 4, 0);
    lua_pushstring(L, o->name);
    lua_rawseti(L, -2, 1);
    lua_pushstring(L, type_names[o->type]);
    lua_rawseti(L, -2, 2);
    if (o->default_value) { lua_pushstring(L, o->default_value); lua_rawseti(L, -2, 3); }
    if (o->description) { lua_pushstring(L, o->description); lua_rawseti(L, -2, 4); }
    lua_rawseti(L, -2, i + 1);
  }
  if (snk && snk->output_modes) push_names(L, snk->output_modes);
  else lua_pushnil(L);
  return 2;
}

/* source_view_module(format) -> the Lua module that turns the source's C records into rows,
** or nil when the source builds its rows itself. */
static int l_source_view_module(lua_State *L) {
  const sr_source_ops *ops = sr_source_lookup(luaL_checkstring(L, 1));
  if (ops && ops->read_view) lua_pushstring(L, ops->view_module);
  else lua_pushnil(L);
  return 1;
}

/* infer_schema(format, options) -> schema | nil (the source does not infer: its columns are
** its own or unknown); raises the reason when it cannot infer (no file to infer from) or when
** an option is unknown (with the nearest valid name). */
static int l_infer_schema(lua_State *L) {
  const sr_source_ops *ops = sr_source_lookup(luaL_checkstring(L, 1));
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!ops || !ops->infer_schema) return 0;
  sr_options *o = sr_options_new();
  if (!o) return luaL_error(L, "out of memory");
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      const char *v = lua_type(L, -1) == LUA_TBOOLEAN ? (lua_toboolean(L, -1) ? "true" : "false")
                    : lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1)
                    : NULL;
      if (v) sr_options_set(o, lua_tostring(L, -2), v);
    }
    lua_pop(L, 1);
  }
  /* an option's typo is the first thing to tell (job.c checks the same way at start) */
  static const char *const extra[] = {"badRecordsPath", "format", "schema", NULL};
  char what[128];
  snprintf(what, sizeof what, "the %s source", ops->name);
  sr_schema *schema = NULL;
  sr_error *err = NULL;
  sr_status st = sr_options_check(o, ops->options, extra, what, &err);
  if (st == SR_OK) st = ops->infer_schema(o, &schema, &err);
  sr_options_free(o);
  if (st != SR_OK) return sr_lua_raise(L, err, "cannot infer the schema");
  sr_lua_push_schema(L, schema);
  return 1;
}

/* nearest_name(name, {candidates}) -> the nearest candidate by edit distance (options.h), or nil */
static int l_nearest_name(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  int n = (int)lua_objlen(L, 2);
  const char **cands = lua_newuserdata(L, (size_t)(n + 1) * sizeof *cands);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, 2, i + 1);
    cands[i] = lua_tostring(L, -1); /* the strings stay alive in the table */
    lua_pop(L, 1);
    if (!cands[i]) return luaL_error(L, "nearest_name: candidate %d is not a string", i + 1);
  }
  cands[n] = NULL;
  const char *near = sr_nearest_name(name, cands);
  if (near) lua_pushstring(L, near);
  else lua_pushnil(L);
  return 1;
}

static int l_log(lua_State *L) {
  const char *level = luaL_checkstring(L, 1);
  const char *text = luaL_checkstring(L, 2);
  sr_log(strcmp(level, "error") == 0 || strcmp(level, "warn") == 0 || strcmp(level, "warning") == 0 ? level : "info", NULL, -1, "[%s] %s", level, text);
  return 0;
}

/* Where parse_json's bad rows go: a row read from Kafka (it has topic, partition and offset)
** is recorded by its place in Kafka; another by its index in the batch. */
typedef struct parse_bad {
  sr_bad_records *br;
  lua_State *L;
  int rows_idx;
} parse_bad;

static void bad_value(void *ud, const char *origin, int64_t line, const char *record, size_t len,
                      const char *reason) {
  parse_bad *pb = ud;
  lua_State *L = pb->L;
  int64_t offset;
  /* sr_json_decode_column reports row `line` before it moves anything past it: it is intact */
  lua_rawgeti(L, pb->rows_idx, (int)line);
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "topic");
    lua_getfield(L, -2, "partition");
    lua_getfield(L, -3, "offset");
    if (lua_type(L, -3) == LUA_TSTRING && lua_type(L, -2) == LUA_TNUMBER &&
        sr_lua_to_int64(L, -1, &offset) == 0) {
      sr_bad_record_kafka(pb->br, origin, lua_tostring(L, -3), (int32_t)lua_tointeger(L, -2), offset,
                          record, len, reason);
      lua_pop(L, 4);
      return;
    }
    lua_pop(L, 3);
  }
  lua_pop(L, 1);
  sr_bad_record(pb->br, origin, line, record, len, reason);
}

/* parse_json_column(rows, n, column, schema|nil, where) -> rows, n
** Replaces each row's JSON text column by the fields it holds, typed by the schema; rows whose
** text is not a JSON object or does not fit go to the bad records and are dropped. One call
** per batch. */
static int l_parse_json_column(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int n = (int)luaL_checkinteger(L, 2);
  const char *column = luaL_checkstring(L, 3);
  const sr_schema *schema = lua_isnil(L, 4) ? NULL : sr_lua_toschema(L, 4);
  const char *where = luaL_optstring(L, 5, "parse_json");
  parse_bad pb = {sr_lua_bad_records(L), L, 1};
  sr_json_decode_column(L, 1, &n, column, schema, where, pb.br ? bad_value : NULL, &pb);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, n);
  return 2;
}

/* dead_letter(origin, record, reason): one row the batch leaves out (onError = "dead_letter")
** goes to the query's bad records, counted in numBadRecords. Nothing when the query has none
** (a unit test's state). */
static int l_dead_letter(lua_State *L) {
  const char *origin = luaL_checkstring(L, 1);
  size_t len;
  const char *record = luaL_checklstring(L, 2, &len);
  const char *reason = luaL_checkstring(L, 3);
  sr_bad_records *bad = sr_lua_bad_records(L);
  if (bad) sr_bad_record(bad, origin, 0, record, len, reason);
  return 0;
}

int sr_open_engine_lib(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"source_names", l_source_names},
    {"sink_names", l_sink_names},
    {"source_columns", l_source_columns},
    {"source_view_module", l_source_view_module},
    {"connector_options", l_connector_options},
    {"log", l_log},
    {"infer_schema", l_infer_schema},
    {"nearest_name", l_nearest_name},
    {"parse_json_column", l_parse_json_column},
    {"dead_letter", l_dead_letter},
    {NULL, NULL},
  };
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  return 1;
}

void sr_register_core_libs(void) {
  sr_lua_add_core_lib(sr_open_codec_lib);
  sr_lua_add_core_lib(sr_open_engine_lib);
  sr_lua_add_core_lib(sr_open_memory_lib);
  sr_lua_add_core_lib(sr_open_state_lib);
  sr_lua_add_core_lib(sr_open_static_lib);
}
