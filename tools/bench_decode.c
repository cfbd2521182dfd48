/*
** Micro-benchmark of the record codecs (not run by ctest). Build by hand from the repository:
**
**   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2 --target srcore
**   gcc -std=c11 -D_GNU_SOURCE -O2 $(printf -- '-I%s ' runtime/*/ runtime/*/*/) \
**       -I/usr/include/luajit-2.1 tools/bench_decode.c build/libsrcore.a \
**       $(pkg-config --libs luajit rdkafka jansson libzstd zlib libsystemd libmicrohttpd) \
**       -lsnappy -lpthread -lm -ldl -o /tmp/bench_decode
**   luajit bench/gen_bids.lua 1000000 /tmp/bids 10
**   /tmp/bench_decode /tmp/bids [repeats]
**
** Decodes every file of the directory in one call per file (as the json source does) with the
** schema {auction=long, bidder=long, price=double}, with the full 7-column schema, and with no
** schema; encodes the 3-column rows back; and runs lua-cjson on the same lines in a LuaJIT loop
** in the same process. Reports records/s of process CPU time (the machine is shared), best of
** the repeats.
*/
#include <dirent.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_rows.h"
#include "lua_codec.h"

typedef struct input { char **data; size_t *len; int nfiles; long records; } input;

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(const char *dir, input *in) {
  DIR *d = opendir(dir);
  if (!d) { perror(dir); return -1; }
  char *names[1024];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 1024)
    if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, name_cmp);
  in->data = calloc((size_t)n, sizeof *in->data);
  in->len = calloc((size_t)n, sizeof *in->len);
  in->nfiles = n;
  in->records = 0;
  for (int i = 0; i < n; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return -1; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    in->data[i] = malloc((size_t)size + 1);
    in->len[i] = fread(in->data[i], 1, (size_t)size, f);
    fclose(f);
    for (size_t k = 0; k < in->len[i]; k++) in->records += in->data[i][k] == '\n';
    free(names[i]);
  }
  return 0;
}

/* Decodes every file once; returns the CPU seconds. *rows gets the rows of the last file. */
static double decode_all(lua_State *L, const input *in, const sr_schema *schema, long *total) {
  double t0 = cpu_now();
  *total = 0;
  for (int i = 0; i < in->nfiles; i++) {
    lua_settop(L, 1);
    lua_createtable(L, 0, 0);
    int n = 0;
    int bad = sr_json_decode_lines(L, 2, &n, in->data[i], in->len[i], schema, "bench", 1, NULL, NULL);
    if (bad) fprintf(stderr, "unexpected: %d bad records\n", bad);
    *total += n;
  }
  return cpu_now() - t0;
}

static const sr_schema *make_schema(lua_State *L, const char *ddl) {
  lua_getfield(L, 1, "schema");
  lua_pushstring(L, ddl);
  lua_call(L, 1, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, ddl);  /* keep it alive */
  lua_getfield(L, LUA_REGISTRYINDEX, ddl);
  const sr_schema *s = sr_lua_checkschema(L, -1);
  lua_pop(L, 1);
  return s;
}

static void report(const char *what, long records, double secs) {
  printf("%-44s %9ld records  %7.3f s cpu  %6.2f M records/s\n", what, records, secs, records / secs / 1e6);
}

static const char cjson_loop[] =
  "local cjson = require 'cjson'\n"
  "local decode, find, sub = cjson.decode, string.find, string.sub\n"
  "return function(text, keep)\n"
  "  local rows, n, pos = {}, 0, 1\n"
  "  while true do\n"
  "    local nl = find(text, '\\n', pos, true)\n"
  "    if not nl then break end\n"
  "    local r = decode(sub(text, pos, nl - 1))\n"
  "    if keep then n = n + 1; rows[n] = r end\n"
  "    pos = nl + 1\n"
  "  end\n"
  "  return rows\n"
  "end\n";

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp/bids";
  int repeats = argc > 2 ? atoi(argv[2]) : 3;
  input in;
  if (load_dir(dir, &in) != 0) return 1;
  printf("%s: %d files, %ld records\n", dir, in.nfiles, in.records);

  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  sr_open_codec_lib(L);  /* stack slot 1 for the whole run */
  const sr_schema *s3 = make_schema(L, "auction long, bidder long, price double");
  const sr_schema *s7 = make_schema(L, "auction long, bidder long, price double, channel string, "
                                       "url string, dateTime timestamp, extra string");
  struct { const char *name; const sr_schema *schema; } runs[] = {
    {"decode, schema auction/bidder/price", s3},
    {"decode, schema of all 7 columns", s7},
    {"decode, no schema (inferred)", NULL},
  };
  for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
    double best = 1e9;
    long total = 0;
    for (int k = 0; k < repeats; k++) {
      double t = decode_all(L, &in, runs[r].schema, &total);
      lua_settop(L, 1);
      lua_gc(L, LUA_GCCOLLECT, 0);
      if (t < best) best = t;
    }
    report(runs[r].name, total, best);
  }

  /* encode: the 3-column rows of every file, back to JSON lines */
  {
    double best = 1e9;
    long total = 0;
    sr_buf out = SR_BUF_INIT;
    char err[256];
    for (int k = 0; k < repeats; k++) {
      double t = 0;
      total = 0;
      for (int i = 0; i < in.nfiles; i++) {
        lua_settop(L, 1);
        lua_createtable(L, 0, 0);
        int n = 0;
        sr_json_decode_lines(L, 2, &n, in.data[i], in.len[i], s3, "bench", 1, NULL, NULL);
        double t0 = cpu_now();
        sr_buf_clear(&out);
        if (sr_json_encode_rows(L, 2, n, s3, &out, err, sizeof err) != 0) fprintf(stderr, "%s\n", err);
        t += cpu_now() - t0;
        total += n;
      }
      lua_settop(L, 1);
      lua_gc(L, LUA_GCCOLLECT, 0);
      if (t < best) best = t;
    }
    report("encode, schema auction/bidder/price", total, best);
    sr_buf_free(&out);
  }

  /* the filter/project job of bench/baseline_filter.lua: decode, a Lua filter and
  ** projection (one call per batch), encode; against the same work done with lua-cjson */
  {
    static const char filter_src[] =
      "return function(rows, n)\n"
      "  local out, m = {}, 0\n"
      "  for i = 1, n do\n"
      "    local r = rows[i]\n"
      "    if r.price > 5000 then\n"
      "      m = m + 1\n"
      "      out[m] = { auction = r.auction, bidder = r.bidder, price = r.price, price_eur = r.price * 0.908 }\n"
      "    end\n"
      "  end\n"
      "  return out, m\n"
      "end\n";
    static const char baseline_src[] =
      "local cjson = require 'cjson'\n"
      "local decode, encode, find, sub, concat = cjson.decode, cjson.encode, string.find, string.sub, table.concat\n"
      "return function(text)\n"
      "  local buf, pos, parts = {}, 1, {}\n"
      "  while true do\n"
      "    local nl = find(text, '\\n', pos, true)\n"
      "    if not nl then break end\n"
      "    local r = decode(sub(text, pos, nl - 1))\n"
      "    if r.price > 5000 then\n"
      "      buf[#buf + 1] = encode{ auction = r.auction, bidder = r.bidder, price = r.price, price_eur = r.price * 0.908 }\n"
      "      if #buf == 4096 then parts[#parts + 1] = concat(buf, '\\n'); buf = {} end\n"
      "    end\n"
      "    pos = nl + 1\n"
      "  end\n"
      "  parts[#parts + 1] = concat(buf, '\\n')\n"
      "  return concat(parts, '\\n')\n"
      "end\n";
    const sr_schema *s4 = make_schema(L, "auction long, bidder long, price double, price_eur double");
    luaL_loadbuffer(L, filter_src, sizeof filter_src - 1, "=filter");
    lua_call(L, 0, 1);
    int filter = lua_gettop(L);
    luaL_loadbuffer(L, baseline_src, sizeof baseline_src - 1, "=baseline");
    lua_call(L, 0, 1);
    int baseline = lua_gettop(L);
    sr_buf out = SR_BUF_INIT;
    char err[256];
    double best = 1e9, best_base = 1e9;
    for (int k = 0; k < repeats; k++) {
      double t0 = cpu_now();
      for (int i = 0; i < in.nfiles; i++) {
        lua_settop(L, baseline);
        lua_createtable(L, 0, 0);
        int n = 0;
        sr_json_decode_lines(L, baseline + 1, &n, in.data[i], in.len[i], s3, "bench", 1, NULL, NULL);
        lua_pushvalue(L, filter);
        lua_pushvalue(L, baseline + 1);
        lua_pushinteger(L, n);
        lua_call(L, 2, 2);
        sr_buf_clear(&out);
        if (sr_json_encode_rows(L, -2, (int)lua_tointeger(L, -1), s4, &out, err, sizeof err) != 0)
          fprintf(stderr, "%s\n", err);
      }
      double t = cpu_now() - t0;
      lua_settop(L, baseline);
      lua_gc(L, LUA_GCCOLLECT, 0);
      if (t < best) best = t;
      t0 = cpu_now();
      for (int i = 0; i < in.nfiles; i++) {
        lua_pushvalue(L, baseline);
        lua_pushlstring(L, in.data[i], in.len[i]);
        lua_call(L, 1, 0);
      }
      t = cpu_now() - t0;
      lua_gc(L, LUA_GCCOLLECT, 0);
      if (t < best_base) best_base = t;
    }
    report("filter/project: codecs + Lua filter", in.records, best);
    report("filter/project: lua-cjson loop (baseline)", in.records, best_base);
    sr_buf_free(&out);
    lua_settop(L, 1);
  }

  /* lua-cjson on the same lines, same process */
  if (luaL_loadbuffer(L, cjson_loop, sizeof cjson_loop - 1, "=cjson_loop") != 0) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 1;
  }
  lua_call(L, 0, 1);
  int fn = lua_gettop(L);
  for (int keep = 0; keep <= 1; keep++) {
    double best = 1e9;
    for (int k = 0; k < repeats; k++) {
      double t0 = cpu_now();
      for (int i = 0; i < in.nfiles; i++) {
        lua_pushvalue(L, fn);
        lua_pushlstring(L, in.data[i], in.len[i]);
        lua_pushboolean(L, keep);
        lua_call(L, 2, 0);
      }
      double t = cpu_now() - t0;
      lua_gc(L, LUA_GCCOLLECT, 0);
      if (t < best) best = t;
    }
    report(keep ? "lua-cjson loop, rows kept in an array" : "lua-cjson loop, rows dropped", in.records, best);
  }
  lua_close(L);
  for (int i = 0; i < in.nfiles; i++) free(in.data[i]);
  free(in.data);
  free(in.len);
  return 0;
}
