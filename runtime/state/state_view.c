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
#include "state_parts.h"
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

/* An entry of one partition, sorted by its packed key so that a listing reads the same every
** time, whatever the number of partitions. */
typedef struct entry {
  const void *key, *val;
  size_t klen, vlen;
  int part;
} entry;

static int by_key(const void *a, const void *b) {
  const entry *x = a, *y = b;
  size_t n = x->klen < y->klen ? x->klen : y->klen;
  int c = memcmp(x->key, y->key, n);
  return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

typedef struct entries {
  entry *e;
  size_t n, cap;
} entries;

/* Appends partition part's entries (pointing into st, which must stay open). */
static sr_status collect(entries *es, sr_state_store *st, int part, sr_error **err) {
  sr_state_iter it;
  sr_state_iter_init(st, &it);
  entry e = {.part = part};
  while (sr_state_iter_next(&it, &e.key, &e.klen, &e.val, &e.vlen)) {
    if (es->n == es->cap) {
      entry *grown = realloc(es->e, (es->cap = es->cap ? es->cap * 2 : 64) * sizeof *grown);
      if (!grown) return sr_error_set(err, SR_ERROR, "out of memory");
      es->e = grown;
    }
    es->e[es->n++] = e;
  }
  return SR_OK;
}

static void push_entries(lua_State *L, entries *es) {
  if (es->n) qsort(es->e, es->n, sizeof *es->e, by_key);
  lua_createtable(L, (int)es->n, 0);
  for (size_t i = 0; i < es->n; i++) {
    const entry *e = &es->e[i];
    lua_createtable(L, 0, 3);
    if (sr_lua_unpack(L, e->key, e->klen) != 0) lua_pushnil(L);
    lua_setfield(L, -2, "key");
    if (sr_lua_unpack(L, e->val, e->vlen) != 0) lua_pushnil(L);
    lua_setfield(L, -2, "value");
    lua_pushinteger(L, e->part);
    lua_setfield(L, -2, "partition_id");
    lua_rawseti(L, -2, (int)i + 1);
  }
}

/* How many partitions operator op's state has: its folders 0, 1, ... in a row (0: none). The
** query checked the count against offsets/N's record when it wrote them. */
static int count_partitions(const char *op_dir) {
  char path[4300];
  int n = 0;
  for (; n < SR_STATE_MAX_PARTITIONS; n++) {
    snprintf(path, sizeof path, "%s/%d", op_dir, n);
    DIR *d = opendir(path);
    if (!d) break;
    closedir(d);
  }
  return n;
}

sr_status sr_state_view_push(lua_State *L, const char *checkpoint, int op, int64_t batch,
                             sr_error **err) {
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/state/%d", checkpoint, op);
  int nparts = count_partitions(dir);
  if (nparts == 0)
    return sr_error_set(err, SR_ERROR, "%s has no state of operator %d (%s/0 is missing)", checkpoint,
                        op, dir);
  int64_t last = sr_state_view_last_batch(checkpoint);
  if (batch < 0) batch = last;
  if (batch < 0 || batch > last)
    return sr_error_set(err, SR_ERROR, "%s: batch %" PRId64 " is not committed (the last committed "
                        "batch is %" PRId64 ")", checkpoint, batch, last);
  sr_state_store *st[SR_STATE_MAX_PARTITIONS] = {0};
  entries es = {0};
  sr_status rc = SR_OK;
  for (int p = 0; p < nparts && rc == SR_OK; p++) {
    char pdir[4300];
    snprintf(pdir, sizeof pdir, "%s/%d", dir, p);
    st[p] = sr_state_open(pdir, batch + 1, NULL, err);
    rc = st[p] ? collect(&es, st[p], p, err) : SR_ERROR;
  }
  if (rc == SR_OK) push_entries(L, &es);
  free(es.e);
  for (int p = 0; p < nparts; p++) sr_state_close(st[p]);
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
