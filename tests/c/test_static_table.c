/* Tests of the static side of stream-static joins: the multimap, the cache, the json/csv
** formats (fingerprints follow file changes) and the Lua bindings (keys, build, probe). */
#include "static_table.h"
#include "lua_codec.h"
#include "lua_pack.h"
#include "lua_state_lib.h"
#include "lua_static.h"
#include "fsutil.h"
#include "lua_test.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];

static void make_tmpdir(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/sr-static-XXXXXX");
  ASSERT_TRUE(mkdtemp(tmpdir) != NULL);
}

static void write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  ASSERT_EQ_INT(sr_fs_write_atomic(path, text, strlen(text), NULL), SR_OK);
}

SR_TEST(multimap_groups_rows_by_key_in_order) {
  sr_static_table *t = sr_static_table_new();
  ASSERT_TRUE(t != NULL);
  char key[32], row[32];
  /* 20000 rows over 1000 keys: the slot array grows many times */
  for (int i = 0; i < 20000; i++) {
    int klen = snprintf(key, sizeof key, "k%d", i % 1000);
    int rlen = snprintf(row, sizeof row, "row%d", i);
    ASSERT_EQ_INT(sr_static_table_add(t, key, (size_t)klen, row, (size_t)rlen), 0);
  }
  ASSERT_EQ_INT(sr_static_table_nrows(t), 20000);
  ASSERT_EQ_INT(sr_static_table_nkeys(t), 1000);
  for (int k = 0; k < 1000; k += 37) {
    int klen = snprintf(key, sizeof key, "k%d", k);
    sr_static_cursor c;
    ASSERT_EQ_INT(sr_static_table_find(t, key, (size_t)klen, &c), 20);
    const void *p;
    size_t len;
    for (int j = 0; j < 20; j++) {
      ASSERT_TRUE(sr_static_cursor_next(&c, &p, &len));
      int rlen = snprintf(row, sizeof row, "row%d", k + j * 1000);
      ASSERT_EQ_INT(len, rlen);
      ASSERT_TRUE(memcmp(p, row, len) == 0);
    }
    ASSERT_TRUE(!sr_static_cursor_next(&c, &p, &len));
  }
  sr_static_cursor c;
  ASSERT_EQ_INT(sr_static_table_find(t, "k1000", 5, &c), 0);
  const void *p;
  size_t len;
  ASSERT_TRUE(!sr_static_cursor_next(&c, &p, &len));
  /* the empty key is a key like any other (a join without key columns) */
  ASSERT_EQ_INT(sr_static_table_add(t, "", 0, "x", 1), 0);
  ASSERT_EQ_INT(sr_static_table_find(t, "", 0, &c), 1);
  ASSERT_EQ_INT(sr_static_table_add_column(t, "a", 1), 0);
  ASSERT_EQ_INT(sr_static_table_add_column(t, "b", 1), 0);
  ASSERT_EQ_INT(sr_static_table_add_column(t, "a", 1), 0);
  ASSERT_EQ_INT(sr_static_table_ncolumns(t), 2);
  ASSERT_EQ_STR(sr_static_table_column(t, 1), "b");
  ASSERT_TRUE(sr_static_table_bytes(t) > 20000 * 8);
  sr_static_table_free(t);
  sr_static_table_free(NULL);
}

SR_TEST(cache_replaces_and_evicts_the_least_recently_used) {
  sr_static_cache_clear();
  const char *fp = NULL;
  ASSERT_TRUE(sr_static_cache_get("a", &fp) == NULL);
  sr_static_table *t1 = sr_static_table_new(), *t2 = sr_static_table_new();
  ASSERT_EQ_INT(sr_static_cache_put("a", "v1", t1), 0);
  ASSERT_TRUE(sr_static_cache_get("a", &fp) == t1);
  ASSERT_EQ_STR(fp, "v1");
  ASSERT_EQ_INT(sr_static_cache_put("a", "v2", t2), 0); /* t1 is freed (ASan checks) */
  ASSERT_TRUE(sr_static_cache_get("a", &fp) == t2);
  ASSERT_EQ_STR(fp, "v2");
  ASSERT_EQ_INT(sr_static_cache_size(), 1);
  char id[32];
  for (int i = 0; i < SR_STATIC_CACHE_MAX + 5; i++) {
    snprintf(id, sizeof id, "t%d", i);
    ASSERT_EQ_INT(sr_static_cache_put(id, "v", sr_static_table_new()), 0);
    ASSERT_TRUE(sr_static_cache_get("a", NULL) == t2); /* kept in use: never the oldest */
  }
  ASSERT_EQ_INT(sr_static_cache_size(), SR_STATIC_CACHE_MAX);
  ASSERT_TRUE(sr_static_cache_get("t0", NULL) == NULL);
  snprintf(id, sizeof id, "t%d", SR_STATIC_CACHE_MAX + 4);
  ASSERT_TRUE(sr_static_cache_get(id, NULL) != NULL);
  sr_static_cache_clear();
  ASSERT_EQ_INT(sr_static_cache_size(), 0);
}

static char *fingerprint(const sr_static_format *f, const char *path, sr_error **err) {
  sr_buf b = SR_BUF_INIT;
  if (f->fingerprint(path, NULL, &b, err) != SR_OK) {
    sr_buf_free(&b);
    return NULL;
  }
  char *s = strdup(sr_buf_cstr(&b));
  sr_buf_free(&b);
  return s;
}

SR_TEST(file_fingerprints_follow_changes) {
  make_tmpdir();
  const sr_static_format *f = sr_static_format_find("json");
  ASSERT_TRUE(f != NULL);
  ASSERT_TRUE(sr_static_format_find("csv") != NULL);
  ASSERT_TRUE(sr_static_format_find("parquet") == NULL);
  write_file(tmpdir, "a.json", "{\"id\":1}\n");
  char *fp1 = fingerprint(f, tmpdir, NULL);
  ASSERT_TRUE(fp1 != NULL);
  char *again = fingerprint(f, tmpdir, NULL);
  ASSERT_EQ_STR(again, fp1);
  /* hidden and underscore files are not part of the table */
  write_file(tmpdir, ".hidden", "x");
  write_file(tmpdir, "_SUCCESS", "");
  char *fp2 = fingerprint(f, tmpdir, NULL);
  ASSERT_EQ_STR(fp2, fp1);
  write_file(tmpdir, "b.json", "{\"id\":2}\n");
  char *fp3 = fingerprint(f, tmpdir, NULL);
  ASSERT_TRUE(strcmp(fp3, fp1) != 0);
  /* the same name rewritten with other contents (size differs) */
  write_file(tmpdir, "b.json", "{\"id\":22}\n");
  char *fp4 = fingerprint(f, tmpdir, NULL);
  ASSERT_TRUE(strcmp(fp4, fp3) != 0);
  /* a single file as the path */
  char file[512];
  snprintf(file, sizeof file, "%s/a.json", tmpdir);
  char *fp5 = fingerprint(f, file, NULL);
  ASSERT_TRUE(fp5 != NULL && strstr(fp5, "a.json") && !strstr(fp5, "b.json"));
  sr_error *err = NULL;
  snprintf(file, sizeof file, "%s/missing", tmpdir);
  ASSERT_TRUE(fingerprint(f, file, &err) == NULL);
  ASSERT_TRUE(err && strstr(err->message, "missing"));
  sr_error_free(err);
  free(fp1); free(again); free(fp2); free(fp3); free(fp4); free(fp5);
  sr_fs_remove_tree(tmpdir, NULL);
}

/* Merges the functions of the table open() pushes into the table at t. */
static void merge_lib(lua_State *L, int t, lua_CFunction open) {
  open(L);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_settable(L, t);
  }
  lua_pop(L, 1);
}

/* A state with `core` holding the join, state store and codec functions. */
static lua_State *new_state(void) {
  lua_State *L = luaL_newstate();
  ASSERT_TRUE(L != NULL);
  luaL_openlibs(L);
  lua_newtable(L);
  int core = lua_gettop(L);
  merge_lib(L, core, sr_open_static_lib);
  merge_lib(L, core, sr_open_state_lib);
  merge_lib(L, core, sr_open_codec_lib);
  lua_setglobal(L, "core");
  return L;
}

SR_TEST(join_keys_pack_like_state_keys) {
  lua_State *L = new_state();
  run_lua(L,
          "local rows = { {a = 5}, {a = 5.0}, {a = 5.5}, {a = -3}, {a = 'x'}, {a = true},\n"
          "  {a = false}, {a = 2^60}, {a = -0.0}, {}, {a = {start = 1, ['end'] = 2}},\n"
          "  {a = require('ffi').new('int64_t', 5)} }\n"
          "local keys, n = core.join_keys(rows, #rows, {'a'})\n"
          "assert(n == #rows)\n"
          "for i = 1, n do\n"
          "  if rows[i].a == nil then assert(keys[i] == nil, 'nil key ' .. i)\n"
          "  else assert(keys[i] == core.pack(rows[i].a), 'key ' .. i) end\n"
          "end\n"
          "assert(keys[1] == keys[2] and keys[1] == keys[12] and keys[1] ~= keys[3])\n"
          /* two columns: self-delimiting, so ('ab','c') and ('a','bc') differ */
          "local k2 = core.join_keys({ {x = 'ab', y = 'c'}, {x = 'a', y = 'bc'}, {x = 'a'} }, 3,\n"
          "                          {'x', 'y'})\n"
          "assert(k2[1] ~= k2[2] and k2[3] == nil)\n"
          "local k0 = core.join_keys({ {x = 1}, {} }, 2, {})\n"
          "assert(k0[1] == '' and k0[2] == '')\n");
  run_lua_fails(L, "core.join_keys({ {a = print} }, 1, {'a'})", "join key column a");
  run_lua_fails(L, "core.join_keys({ 7 }, 1, {'a'})", "row 1 is a number");
  lua_close(L);
}

SR_TEST(build_check_and_probe_a_json_table) {
  sr_static_cache_clear();
  make_tmpdir();
  write_file(tmpdir, "p1.json",
             "{\"id\":1,\"name\":\"ann\",\"city\":\"Oslo\"}\n"
             "{\"id\":2,\"name\":\"bob\"}\n"
             "not json\n"
             "{\"name\":\"nokey\"}\n");
  write_file(tmpdir, "p2.json", "{\"id\":1,\"name\":\"ann2\",\"zip\":\"0150\"}\n");
  lua_State *L = new_state();
  lua_pushstring(L, tmpdir);
  lua_setglobal(L, "dir");
  run_lua(L,
          "local id, opts = 'people', { path = dir }\n"
          "local fp = core.static_check(id, 'json', dir, opts)\n"
          "assert(type(fp) == 'string' and fp:find('p1.json'))\n"
          "local rows, n = core.static_load('json', dir, opts, nil)\n"
          "assert(n == 4, n)\n"
          "assert(core.static_build(id, fp, rows, n, {'id'}) == 3)\n"
          "assert(core.static_check(id, 'json', dir, opts) == nil)\n"
          "local cols = core.static_columns(id)\n"
          "table.sort(cols)\n"
          "assert(table.concat(cols, ',') == 'city,id,name,zip', table.concat(cols, ','))\n"
          "local stream = { {id = 1, v = 'a'}, {id = 3}, {id = 2.0}, {}, {id = 1} }\n"
          "local m, k = core.static_probe(id, stream, #stream, {'id'}, false)\n"
          "assert(k == 5, k)\n"
          "assert(#m[1] == 2 and m[1][1].name == 'ann' and m[1][2].name == 'ann2')\n"
          "assert(m[2] == nil and m[4] == nil and #m[3] == 1 and m[3][1].name == 'bob')\n"
          "assert(m[1][1] ~= m[5][1], 'each match is a fresh table')\n"
          "local e = core.static_probe(id, stream, #stream, {'id'}, true)\n"
          "assert(e[1] == true and e[2] == nil and e[3] == true)\n");
  /* a new file changes the fingerprint: the next check asks for a rebuild */
  write_file(tmpdir, "p3.json", "{\"id\":3,\"name\":\"cy\"}\n");
  run_lua(L,
          "local fp = core.static_check('people', 'json', dir, { path = dir })\n"
          "assert(fp and fp:find('p3.json'))\n"
          "local rows, n = core.static_load('json', dir, { path = dir }, core.schema('id long, name string'))\n"
          "assert(n == 5 and rows[1].city == nil)\n"
          "core.static_build('people', fp, rows, n, {'id'})\n"
          "local m = core.static_probe('people', { {id = 3} }, 1, {'id'}, false)\n"
          "assert(m[1][1].name == 'cy')\n");
  run_lua_fails(L, "core.static_check('x', 'json', dir, { path = dir, maxFilesPerTriger = '1' })",
                "maxFilesPerTriger");
  run_lua_fails(L, "core.static_check('x', 'parquet', dir, { path = dir })", "formats: json, csv");
  run_lua_fails(L, "core.static_check('x', 'json', dir .. '/nope', { path = dir .. '/nope' })",
                "nope");
  run_lua_fails(L, "core.static_probe('never built', {}, 0, {'id'}, false)", "not built");
  lua_close(L);
  sr_static_cache_clear();
  sr_fs_remove_tree(tmpdir, NULL);
}

SR_TEST(csv_table_with_header) {
  sr_static_cache_clear();
  make_tmpdir();
  write_file(tmpdir, "c.csv", "code;label\nA;alpha\nB;beta\n");
  lua_State *L = new_state();
  lua_pushstring(L, tmpdir);
  lua_setglobal(L, "dir");
  run_lua(L,
          "local opts = { path = dir, header = 'true', sep = ';' }\n"
          "local fp = core.static_check('codes', 'csv', dir, opts)\n"
          "local rows, n = core.static_load('csv', dir, opts, nil)\n"
          "assert(n == 2 and rows[2].label == 'beta')\n"
          "core.static_build('codes', fp, rows, n, {'code'})\n"
          "local m = core.static_probe('codes', { {code = 'B'} }, 1, {'code'}, false)\n"
          "assert(m[1][1].label == 'beta')\n");
  lua_close(L);
  sr_static_cache_clear();
  sr_fs_remove_tree(tmpdir, NULL);
}

int main(void) {
  return SR_RUN(multimap_groups_rows_by_key_in_order,
                cache_replaces_and_evicts_the_least_recently_used, file_fingerprints_follow_changes,
                join_keys_pack_like_state_keys, build_check_and_probe_a_json_table,
                csv_table_with_header);
}
