/* state_view: see state_view.h. */
#include "state_view.h"

#include <dirent.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json_rows.h"
#include "lua_host.h"
#include "lua_libs.h"
#include "lua_pack.h"
#include "state_store.h"

int64_t sr_state_view_last_batch(const char *checkpoint) {
  char path[4200];
  snprintf(path, sizeof path, "%s/commits", checkpoint);
  DIR *d = opendir(path);
  if (!d) return -1;
  int64_t last = -1;
  struct dirent *e;
  while ((e = readdir(d))) {
    char *end;
    long long n = strtoll(e->d_name, &end, 10);
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && *end == '\0' && n > last) last = n;
  }
  closedir(d);
  return last;
}

/* Sorts the entries by their packed key, so that a listing reads the same every time. */
typedef struct entry {
  const void *key, *val;
  size_t klen, vlen;
} entry;

static int by_key(const void *a, const void *b) {
  const entry *x = a, *y = b;
  size_t n = x->klen < y->klen ? x->klen : y->klen;
  int c = memcmp(x->key, y->key, n);
  return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

static sr_status push_entries(lua_State *L, sr_state_store *st, sr_error **err) {
  entry *es = NULL;
  size_t n = 0, cap = 0;
  sr_state_iter it;
  sr_state_iter_init(st, &it);
  entry e;
  while (sr_state_iter_next(&it, &e.key, &e.klen, &e.val, &e.vlen)) {
    if (n == cap) {
      entry *grown = realloc(es, (cap = cap ? cap * 2 : 64) * sizeof *es);
      if (!grown) {
        free(es);
        return sr_error_set(err, SR_ERROR, "out of memory");
      }
      es = grown;
    }
    es[n++] = e;
  }
  if (n) qsort(es, n, sizeof *es, by_key);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_createtable(L, 0, 2);
    if (sr_lua_unpack(L, es[i].key, es[i].klen) != 0) lua_pushnil(L);
    lua_setfield(L, -2, "key");
    if (sr_lua_unpack(L, es[i].val, es[i].vlen) != 0) lua_pushnil(L);
    lua_setfield(L, -2, "value");
    lua_rawseti(L, -2, (int)i + 1);
  }
  free(es);
  return SR_OK;
}

sr_status sr_state_view_push(lua_State *L, const char *checkpoint, int op, int64_t batch,
                             sr_error **err) {
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/state/%d/0", checkpoint, op);
  DIR *d = opendir(dir);
  if (!d)
    return sr_error_set(err, SR_ERROR, "%s has no state of operator %d (%s is missing)", checkpoint,
                        op, dir);
  closedir(d);
  int64_t last = sr_state_view_last_batch(checkpoint);
  if (batch < 0) batch = last;
  if (batch < 0 || batch > last)
    return sr_error_set(err, SR_ERROR, "%s: batch %" PRId64 " is not committed (the last committed "
                        "batch is %" PRId64 ")", checkpoint, batch, last);
  sr_state_store *st = sr_state_open(dir, batch + 1, NULL, err);
  if (!st) return SR_ERROR;
  sr_status rc = push_entries(L, st, err);
  sr_state_close(st);
  return rc;
}

static const char usage[] = "usage: streamrun state CHECKPOINT [--operator N] [--batch B]\n";

int sr_state_main(int argc, char **argv) {
  const char *ckpt = NULL;
  int op = 0;
  int64_t batch = -1;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--operator") == 0 && i + 1 < argc) op = atoi(argv[++i]);
    else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) batch = strtoll(argv[++i], NULL, 10);
    else if (argv[i][0] != '-' && !ckpt) ckpt = argv[i];
    else { fputs(usage, stderr); return 2; }
  }
  if (!ckpt) { fputs(usage, stderr); return 2; }
  if (batch < 0) batch = sr_state_view_last_batch(ckpt);
  sr_register_core_libs();
  lua_State *L = sr_lua_new(NULL);
  sr_error *err = NULL;
  if (!L || sr_state_view_push(L, ckpt, op, batch, &err) != SR_OK) {
    fprintf(stderr, "streamrun state: %s\n", err ? err->message : "out of memory");
    sr_error_free(err);
    sr_lua_close(L);
    return 1;
  }
  sr_buf line = SR_BUF_INIT;
  char errbuf[256];
  int code = 0;
  for (int i = 1; i <= (int)lua_objlen(L, -1) && code == 0; i++) {
    lua_rawgeti(L, -1, i);
    lua_pushinteger(L, op);
    lua_setfield(L, -2, "operatorId");
    lua_pushnumber(L, (lua_Number)batch);
    lua_setfield(L, -2, "batchId");
    lua_pushinteger(L, 0);
    lua_setfield(L, -2, "partition_id");
    sr_buf_clear(&line);
    if (sr_json_encode_value(L, lua_gettop(L), &line, errbuf, sizeof errbuf) != 0) {
      fprintf(stderr, "streamrun state: entry %d: %s\n", i, errbuf);
      code = 1;
    } else {
      fwrite(line.data, 1, line.len, stdout);
      fputc('\n', stdout);
    }
    lua_pop(L, 1);
  }
  sr_buf_free(&line);
  sr_lua_close(L);
  return code;
}
