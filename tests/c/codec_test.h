/*
** What the codec tests share (test_json_rows.c, test_csv_rows.c): a lua_State with the codec
** library as the global `codec`, running Lua snippets, schemas from DDL text, a collector of
** bad records, and the Lua value on top as JSON text. Included by one test file each: the
** definitions are static.
*/
#ifndef SR_CODEC_TEST_H
#define SR_CODEC_TEST_H
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>

#include "json_rows.h"
#include "lua_codec.h"
#include "lua_test.h"

static lua_State *L;

/* Each test's process closes its state at the end, so the leak check sees a clean exit. */
static void teardown(void) {
  if (L) lua_close(L);
  L = NULL;
}

static void setup(void) {
  teardown();
  L = luaL_newstate();
  luaL_openlibs(L);
  sr_open_codec_lib(L);
  lua_setglobal(L, "codec");
}

/* Runs a Lua chunk in the file's state; a Lua error fails the test with the C line. */
#define LUA_RUN(code) run_lua(L, code)

/* The schema for a spec (DDL text), kept alive in the registry. */
static const sr_schema *schema_of(const char *ddl) {
  if (!ddl) return NULL;
  lua_getglobal(L, "codec");
  lua_getfield(L, -1, "schema");
  lua_pushstring(L, ddl);
  if (lua_pcall(L, 1, 1, 0) != 0) SR_FAIL("schema \"%s\": %s", ddl, lua_tostring(L, -1));
  const sr_schema *s = sr_lua_checkschema(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, ddl);
  lua_pop(L, 1);
  return s;
}

/* The bad records a decode reported (the first 32). */
typedef struct bads {
  int n;
  int64_t lines[32];
  char records[32][256];
  char reasons[32][512];
  char origin[64];
} bads;

static void collect_bad(void *ud, const char *origin, int64_t line, const char *record, size_t len,
                        const char *reason) {
  bads *b = ud;
  if (b->n < 32) {
    b->lines[b->n] = line;
    snprintf(b->records[b->n], sizeof b->records[0], "%.*s", (int)len, record);
    snprintf(b->reasons[b->n], sizeof b->reasons[0], "%s", reason);
    snprintf(b->origin, sizeof b->origin, "%s", origin ? origin : "(null)");
  }
  b->n++;
}

static char json_out[65536];

/* The Lua value on top as JSON text (popped). */
static const char *top_json(void) {
  sr_buf out = SR_BUF_INIT;
  char err[256];
  if (sr_json_encode_value(L, -1, &out, err, sizeof err) != 0) SR_FAIL("encode: %s", err);
  snprintf(json_out, sizeof json_out, "%s", out.data ? out.data : "");
  sr_buf_free(&out);
  lua_pop(L, 1);
  return json_out;
}

#endif
