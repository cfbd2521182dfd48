/*
** test_driver: see test_driver.h.
**
** What is real and what is replaced. A driver loads the job with sr_job_load (the file runs
** unchanged; its options are checked against its own connectors, whose side-effect checks such
** as "the input path exists" are skipped) and opens each query with sr_query_open, so the plan
** checks, operators, state stores, checkpoint, watermark and output modes are the engine's. Then:
**   - a source is `input`: its offset is the number of rows lists (adds) it has handed over;
**     the lists live in C, outside the job's lua_State, as JSON lines encoded with the
**     source's schema and decoded with it at read (so rows take the types a file source gives);
**   - a sink is `capture`: batch N's rows, as JSON lines, go at commit to
**     <checkpoint>/sink/N.jsonl, a checked file (fsutil.c); a batch already there is skipped,
**     so a replay after a crash writes nothing twice, as a real exactly-once sink;
**   - every query runs as a processingTime trigger whose ticks are the spec's calls, and
**     processing time is the driver's clock (sr_set_wall_clock), 0 until the spec moves it.
** Checkpoints go under a folder of the driver's own (TMPDIR, else /dev/shm, else /tmp),
** removed when the driver is closed unless the spec gave it.
*/
#include "test_driver.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "connector.h"
#include "fsutil.h"
#include "job.h"
#include "json_rows.h"
#include "lua_aux.h"
#include "lua_guard.h"
#include "lua_host.h"
#include "lua_libs.h"
#include "progress.h"
#include "crash.h"
#include "query.h"
#include "state_view.h"

#define DRIVER_MT "streamrun.test_driver"
#define INPUT_OPTION "streamrun.testInput" /* the option a source finds its input by */

/* --- inputs: rows a spec added, in C ------------------------------------------------------ */

typedef struct test_input {
  char id[64];            /* the value of INPUT_OPTION: unique in the process */
  char *query, *name;     /* the query, and the source's `name` option (or NULL) */
  int position;           /* the source's position in its query, from 1 */
  sr_schema *schema;      /* the source's schema (NULL: types inferred from the values) */
  sr_buf *adds;           /* one JSON lines text per add: offset k is adds[0..k) */
  int nadds, cap;
  struct test_input *next;
} test_input;

static test_input *inputs; /* of every open driver */
static int next_input_id;

static test_input *input_find(const char *id) {
  for (test_input *in = inputs; in; in = in->next)
    if (strcmp(in->id, id) == 0) return in;
  return NULL;
}

static void input_free(test_input *in) {
  for (test_input **p = &inputs; *p; p = &(*p)->next)
    if (*p == in) { *p = in->next; break; }
  for (int i = 0; i < in->nadds; i++) sr_buf_free(&in->adds[i]);
  free(in->adds);
  free(in->query);
  free(in->name);
  sr_schema_free(in->schema);
  free(in);
}

static int64_t offset_of(const json_t *v) { return v && json_is_integer(v) ? json_integer_value(v) : 0; }

static sr_status input_open(sr_source *src, const sr_connector_config *cfg, sr_error **err) {
  const char *id = sr_opt_str(cfg->options, NULL, INPUT_OPTION, NULL);
  if (!id || !(src->impl = input_find(id)))
    return sr_error_set(err, SR_ERROR, "internal: no test input %s", id ? id : "(none)");
  return SR_OK;
}

/* Everything added so far, as Spark's MemoryStream plans its latest offset. */
static sr_status input_plan(sr_source *src, const json_t *start, json_t **end, sr_error **err) {
  (void)err;
  test_input *in = src->impl;
  *end = in->nadds > offset_of(start) ? json_integer(in->nadds) : NULL;
  return SR_OK;
}

static void bad_row(void *ud, const char *origin, int64_t line, const char *record, size_t len,
                    const char *reason) {
  sr_bad_record(ud, origin, line, record, len, reason);
}

static sr_status input_read(sr_source *src, const json_t *start, const json_t *end, lua_State *L,
                            int rows_idx, int *nrows, sr_error **err) {
  test_input *in = src->impl;
  int64_t from = offset_of(start), to = offset_of(end);
  if (to > in->nadds)
    return sr_error_set(err, SR_ERROR, "the checkpoint logged %" PRId64 " adds of input %s, the "
                        "spec made %d", to, in->name ? in->name : in->query, in->nadds);
  char origin[128];
  for (int64_t k = from; k < to; k++) {
    snprintf(origin, sizeof origin, "add %" PRId64, k + 1);
    sr_json_decode_lines(L, rows_idx, nrows, in->adds[k].data, in->adds[k].len, src->cfg.schema,
                         origin, 1, bad_row, src->cfg.bad);
  }
  return SR_OK;
}

static void input_close(sr_source *src) { src->impl = NULL; /* the driver owns the input */ }

static const sr_option_spec no_options[] = {{NULL}};

static const sr_source_ops input_source = {
  .name = "input", .options = no_options, .open = input_open, .plan = input_plan,
  .read = input_read, .close = input_close,
};

/* --- capture: each batch's output in a checked file --------------------------------------- */

typedef struct capture {
  const sr_connector_config *cfg;
  sr_buf pending;
  int64_t pending_batch;  /* the batch pending holds; -1: none (or one already captured) */
} capture;

static void capture_path(const char *dir, int64_t batch, char *path, size_t len) {
  snprintf(path, len, "%s/%" PRId64 ".jsonl", dir, batch);
}

static void capture_tag(const char *query_id, int64_t batch, char *tag, size_t len) {
  snprintf(tag, len, "capture/%" PRId64 "@%s", batch, query_id);
}

static sr_status capture_open(sr_sink *sink, const sr_connector_config *cfg, sr_error **err) {
  capture *c = calloc(1, sizeof *c);
  if (!c) return sr_error_set(err, SR_ERROR, "out of memory");
  c->cfg = &sink->cfg;
  c->pending_batch = -1;
  sink->impl = c;
  (void)cfg;
  return SR_OK;
}

static sr_status capture_write(sr_sink *sink, int64_t batch_id, lua_State *L, int rows_idx, int nrows,
                               int spec_idx, sr_error **err) {
  (void)spec_idx;
  capture *c = sink->impl;
  char path[4200], errbuf[512];
  capture_path(c->cfg->state_dir, batch_id, path, sizeof path);
  c->pending_batch = -1;
  sr_buf_clear(&c->pending);
  if (sr_fs_exists(path)) return SR_OK; /* a replay of a batch already captured */
  if (sr_json_encode_rows(L, rows_idx, nrows, c->cfg->schema, &c->pending, errbuf, sizeof errbuf) != 0)
    return sr_error_set(err, SR_ERROR, "cannot capture the output: %s", errbuf);
  c->pending_batch = batch_id;
  return SR_OK;
}

static sr_status capture_commit(sr_sink *sink, int64_t batch_id, sr_error **err) {
  capture *c = sink->impl;
  if (c->pending_batch != batch_id) return SR_OK;
  char path[4200], tag[128];
  capture_path(c->cfg->state_dir, batch_id, path, sizeof path);
  capture_tag(c->cfg->query_id, batch_id, tag, sizeof tag);
  /* a checked file's body ends with a line end: an empty batch is one blank line */
  if (c->pending.len == 0 && sr_buf_putc(&c->pending, '\n') != 0)
    return sr_error_set(err, SR_ERROR, "out of memory");
  return sr_fs_write_checked(path, tag, c->pending.data, c->pending.len, err);
}

/* Every batch is captured, empty ones too: the newest file must reach the newest commit. */
static sr_status capture_committed(sr_sink *sink, int64_t *batch_id, int *every, char *where,
                                   size_t wherelen, sr_error **err) {
  (void)err;
  capture *c = sink->impl;
  *batch_id = -1;
  *every = 1;
  snprintf(where, wherelen, "%s", c->cfg->state_dir);
  DIR *d = opendir(c->cfg->state_dir);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    char *rest;
    long long n = strtoll(e->d_name, &rest, 10);
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && strcmp(rest, ".jsonl") == 0 && n > *batch_id)
      *batch_id = n;
  }
  if (d) closedir(d);
  return SR_OK;
}

static void capture_close(sr_sink *sink) {
  capture *c = sink->impl;
  if (!c) return;
  sr_buf_free(&c->pending);
  free(c);
  sink->impl = NULL;
}

static const sr_sink_ops capture_sink = {
  .name = "capture", .options = no_options, .open = capture_open, .write = capture_write,
  .commit = capture_commit, .committed = capture_committed, .close = capture_close,
};

/* --- the driver ---------------------------------------------------------------------------- */

typedef struct driver {
  struct driver *next;    /* in open_drivers */
  char *path, *dir;       /* the job file and its folder */
  char *root;             /* the checkpoints: root/<query name> */
  int own_root;           /* made by the driver: removed at close */
  int argc;
  char **argv;
  sr_job_loaded ld;
  sr_job_lua jl;
  sr_query **qs;
  int nq;
  test_input **ins;       /* every input the job's queries have had, in order of appearance */
  int nins;
  int64_t clock_ms;
} driver;

static driver *clock_owner; /* the driver whose batch is running */
static int64_t driver_clock(void) { return clock_owner ? clock_owner->clock_ms : 0; }

/* Drivers not closed yet: busted ends the process with os.exit, without closing the Lua state
** whose __gc would close them, so their temporary checkpoints are removed at exit. (A forked
** child ends with _exit and leaves them to its parent.) */
static driver *open_drivers;

static void remove_temporary_checkpoints(void) {
  for (driver *d = open_drivers; d; d = d->next)
    if (d->own_root) sr_fs_remove_tree(d->root, NULL);
}

static void track(driver *d) {
  static int registered;
  if (!registered) registered = atexit(remove_temporary_checkpoints) == 0;
  d->next = open_drivers;
  open_drivers = d;
}

static void untrack(driver *d) {
  for (driver **p = &open_drivers; *p; p = &(*p)->next)
    if (*p == d) { *p = d->next; break; }
}

static test_input *driver_input(driver *d, const char *query, int position, const sr_query_source_spec *ss,
                                sr_error **err) {
  for (int i = 0; i < d->nins; i++)
    if (strcmp(d->ins[i]->query, query) == 0 && d->ins[i]->position == position) return d->ins[i];
  test_input *in = calloc(1, sizeof *in);
  test_input **grown = realloc(d->ins, (size_t)(d->nins + 1) * sizeof *grown);
  if (!in || !grown) {
    free(in);
    if (grown) d->ins = grown;
    sr_error_set(err, SR_ERROR, "out of memory");
    return NULL;
  }
  d->ins = grown;
  snprintf(in->id, sizeof in->id, "%d", ++next_input_id);
  in->query = strdup(query);
  const char *name = sr_opt_str(ss->options, NULL, "name", NULL);
  in->name = name ? strdup(name) : NULL;
  in->position = position;
  in->schema = ss->schema ? sr_schema_copy(ss->schema) : NULL;
  in->next = inputs;
  inputs = in;
  d->ins[d->nins++] = in;
  return in;
}

static void close_queries(driver *d) {
  for (int i = 0; i < d->nq; i++) sr_query_close(d->qs[i]);
  free(d->qs);
  d->qs = NULL;
  d->nq = 0;
  sr_job_unload(&d->ld);
  memset(&d->jl, 0, sizeof d->jl);
}

/* Replaces a spec's connectors and checkpoint by the driver's. */
static sr_status substitute(driver *d, sr_query_spec *s, sr_error **err) {
  char ckpt[4200];
  snprintf(ckpt, sizeof ckpt, "%s/%s", d->root, s->name);
  free(s->checkpoint);
  s->checkpoint = strdup(ckpt);
  s->trigger = SR_TRIGGER_PROCESSING_TIME;
  for (int k = 0; k < s->nsources; k++) {
    test_input *in = driver_input(d, s->name, k + 1, &s->sources[k], err);
    if (!in) return SR_ERROR;
    s->sources[k].ops = &input_source;
    sr_options_set(s->sources[k].options, INPUT_OPTION, in->id);
  }
  s->sink_ops = &capture_sink;
  return s->checkpoint ? SR_OK : sr_error_set(err, SR_ERROR, "out of memory");
}

/* Loads the job file into a fresh state and opens every query from its checkpoint, all or
** none, as a start of `streamrun JOB.lua` does. */
static sr_status open_queries(driver *d, sr_error **err) {
  sr_job_options o;
  memset(&o, 0, sizeof o);
  o.path = d->path;
  o.argc = d->argc;
  o.argv = d->argv;
  o.test_doubles = 1;
  if (sr_job_load(&o, d->dir, &d->ld, err) != SR_OK) return SR_ERROR;
  if (d->ld.nqueries == 0) {
    sr_job_unload(&d->ld);
    return sr_error_set(err, SR_ERROR, "%s defines no query", d->path);
  }
  d->qs = calloc((size_t)d->ld.nqueries, sizeof *d->qs);
  if (!d->qs) return sr_error_set(err, SR_ERROR, "out of memory");
  for (int i = 0; i < d->ld.nqueries; i++) {
    sr_query_spec *s = sr_job_read_spec(&d->ld, i + 1, 1, err);
    if (!s || substitute(d, s, err) != SR_OK) {
      sr_query_spec_free(s);
      close_queries(d);
      return SR_ERROR;
    }
    if (!(d->qs[i] = sr_query_open(s, d->dir, NULL, err))) {
      close_queries(d);
      return SR_ERROR;
    }
    d->nq = i + 1;
  }
  d->jl.L = d->ld.L;
  d->jl.descs_ref = d->ld.descs_ref;
  d->jl.collect_first = 1;
  return SR_OK;
}

static driver *check_driver(lua_State *L) {
  driver *d = luaL_checkudata(L, 1, DRIVER_MT);
  if (!d->path) luaL_error(L, "the test driver was closed");
  return d;
}

static sr_query *check_query(lua_State *L, driver *d, int idx) {
  int i = (int)luaL_checkinteger(L, idx);
  if (i < 1 || i > d->nq) luaL_error(L, "no query %d (the job has %d)", i, d->nq);
  return d->qs[i - 1];
}

static void set_path(driver *d, const char *path) {
  char *copy = strdup(path), *dir = strdup(dirname(copy));
  free(copy);
  copy = strdup(path);
  free(d->path);
  free(d->dir);
  d->path = copy;
  d->dir = dir;
}

static void driver_free(driver *d) {
  if (!d->path) return;
  untrack(d);
  close_queries(d);
  for (int i = 0; i < d->nins; i++) input_free(d->ins[i]);
  free(d->ins);
  if (d->own_root) sr_fs_remove_tree(d->root, NULL);
  for (int i = 0; i < d->argc; i++) free(d->argv[i]);
  free(d->argv);
  free(d->path);
  free(d->dir);
  free(d->root);
  memset(d, 0, sizeof *d);
}

/* A new folder for checkpoints: TMPDIR, else /dev/shm (memory: a spec's fsyncs cost nothing),
** else /tmp. Returns it malloc'd, or NULL with errno. */
static char *make_tmpdir(void) {
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  char tmpl[4200];
  snprintf(tmpl, sizeof tmpl, "%s/streamrun-test-XXXXXX", base);
  return mkdtemp(tmpl) ? strdup(tmpl) : NULL;
}

/* tmpdir() -> a new empty folder (the caller removes it) */
static int l_tmpdir(lua_State *L) {
  char *dir = make_tmpdir();
  if (!dir) return luaL_error(L, "cannot make a temporary folder: %s", strerror(errno));
  lua_pushstring(L, dir);
  free(dir);
  return 1;
}

static int l_close(lua_State *L);

/* open(path, {args = {...}, checkpoint = dir}) -> driver */
static int l_open(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int opts = lua_istable(L, 2) ? 2 : 0;
  driver *d = sr_lua_newudata(L, sizeof *d, DRIVER_MT, l_close);
  set_path(d, path);
  track(d);
  if (opts) {
    lua_getfield(L, opts, "args");
    int n = lua_istable(L, -1) ? (int)lua_objlen(L, -1) : 0;
    d->argv = calloc((size_t)n + 1, sizeof *d->argv);
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, -1, i + 1);
      d->argv[i] = strdup(luaL_checkstring(L, -1));
      d->argc = i + 1;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_getfield(L, opts, "checkpoint");
    if (lua_isstring(L, -1)) d->root = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  sr_error *err = NULL;
  if (d->root && sr_fs_mkdirs(d->root, &err) != SR_OK) {
    driver_free(d);
    return sr_lua_raise(L, err, "unknown error");
  }
  if (!d->root && !(d->own_root = (d->root = make_tmpdir()) != NULL)) {
    int e = errno;
    driver_free(d);
    return luaL_error(L, "cannot make a checkpoint folder: %s", strerror(e));
  }
  if (open_queries(d, &err) != SR_OK) {
    driver_free(d);
    return sr_lua_raise(L, err, "unknown error");
  }
  return 1;
}

/* d:queries() -> {{name=, output_mode=, stateful = {signature, ...}}, ...} */
static int l_queries(lua_State *L) {
  driver *d = check_driver(L);
  lua_createtable(L, d->nq, 0);
  for (int i = 0; i < d->nq; i++) {
    const sr_query_spec *s = sr_query_spec_of(d->qs[i]);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, s->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, s->output_mode ? s->output_mode : "append");
    lua_setfield(L, -2, "output_mode");
    lua_createtable(L, s->nstateful, 0);
    for (int k = 0; k < s->nstateful; k++) {
      lua_pushstring(L, s->stateful_sigs[k] ? s->stateful_sigs[k] : "?");
      lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "stateful");
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* d:inputs() -> {{query=, position=, name=}, ...} (index: the input's number for add) */
static int l_inputs(lua_State *L) {
  driver *d = check_driver(L);
  lua_createtable(L, d->nins, 0);
  for (int i = 0; i < d->nins; i++) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, d->ins[i]->query);
    lua_setfield(L, -2, "query");
    lua_pushinteger(L, d->ins[i]->position);
    lua_setfield(L, -2, "position");
    if (d->ins[i]->name) {
      lua_pushstring(L, d->ins[i]->name);
      lua_setfield(L, -2, "name");
    }
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* d:add(input, rows): the rows become the input's next offset. */
static int l_add(lua_State *L) {
  driver *d = check_driver(L);
  int i = (int)luaL_checkinteger(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  if (i < 1 || i > d->nins) return luaL_error(L, "no input %d", i);
  test_input *in = d->ins[i - 1];
  if (in->nadds == in->cap) {
    int cap = in->cap ? in->cap * 2 : 16;
    sr_buf *grown = realloc(in->adds, (size_t)cap * sizeof *grown);
    if (!grown) return luaL_error(L, "out of memory");
    in->adds = grown;
    in->cap = cap;
  }
  sr_buf text = SR_BUF_INIT;
  char errbuf[512];
  if (sr_json_encode_rows(L, 3, (int)lua_objlen(L, 3), in->schema, &text, errbuf, sizeof errbuf) != 0) {
    sr_buf_free(&text);
    return luaL_error(L, "input %s: %s", in->name ? in->name : in->query, errbuf);
  }
  in->adds[in->nadds++] = text;
  return 0;
}

/* d:step(query) -> "ran" | "idle" | "done": one step of the query's trigger loop. Raises the
** query's error when the batch fails. */
static int l_step(lua_State *L) {
  driver *d = check_driver(L);
  sr_query *q = check_query(L, d, 2);
  sr_error *err = NULL;
  sr_step step;
  clock_owner = d;
  sr_set_wall_clock(driver_clock);
  sr_status st = sr_query_step(q, &d->jl, &step, &err);
  sr_set_wall_clock(NULL);
  clock_owner = NULL;
  if (st != SR_OK) return sr_lua_raise(L, err, "unknown error");
  lua_pushstring(L, step == SR_STEP_RAN ? "ran" : step == SR_STEP_DONE ? "done" : "idle");
  return 1;
}

static int l_next_batch(lua_State *L) {
  driver *d = check_driver(L);
  lua_pushnumber(L, (lua_Number)sr_query_next_batch(check_query(L, d, 2)));
  return 1;
}

static int l_watermark(lua_State *L) {
  driver *d = check_driver(L);
  int64_t wm = sr_query_watermark_ms(check_query(L, d, 2));
  if (wm == INT64_MIN) return 0;
  lua_pushnumber(L, (lua_Number)wm);
  return 1;
}

/* d:progress(query) -> the last batch's progress record as a table, or nil */
static int l_progress(lua_State *L) {
  driver *d = check_driver(L);
  const json_t *p = sr_query_last_progress(check_query(L, d, 2));
  if (!p) return 0;
  char *text = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
  char errbuf[256];
  int rc = text ? sr_json_decode_value(L, text, strlen(text), errbuf, sizeof errbuf) : -1;
  free(text);
  if (rc != 0) return luaL_error(L, "cannot read the progress record");
  return 1;
}

/* d:output(query, batch) -> the rows the batch wrote, or nil when it has not run */
static int l_output(lua_State *L) {
  driver *d = check_driver(L);
  sr_query *q = check_query(L, d, 2);
  int64_t batch = (int64_t)luaL_checknumber(L, 3);
  char dir[4200], path[4300], tag[128];
  snprintf(dir, sizeof dir, "%s/sink", sr_query_checkpoint_dir(q));
  capture_path(dir, batch, path, sizeof path);
  capture_tag(sr_query_id(q), batch, tag, sizeof tag);
  sr_error *err = NULL;
  size_t len;
  int checked;
  char *body = sr_fs_read_checked(path, tag, &len, &checked, &err);
  if (!body) {
    if (errno == ENOENT) { sr_error_free(err); return 0; }
    return sr_lua_raise(L, err, "unknown error");
  }
  lua_newtable(L);
  int n = 0;
  sr_json_decode_lines(L, lua_gettop(L), &n, body, len, NULL, path, 1, NULL, NULL);
  free(body);
  return 1;
}

/* d:state(query, operator (from 0), [batch]) -> {{key=, value=}, ...} */
static int l_state(lua_State *L) {
  driver *d = check_driver(L);
  sr_query *q = check_query(L, d, 2);
  int op = (int)luaL_checkinteger(L, 3);
  int64_t batch = lua_isnumber(L, 4) ? (int64_t)lua_tonumber(L, 4) : -1;
  sr_error *err = NULL;
  if (sr_state_view_push(L, sr_query_checkpoint_dir(q), op, batch, &err) != SR_OK)
    return sr_lua_raise(L, err, "unknown error");
  return 1;
}

static int l_set_clock(lua_State *L) {
  driver *d = check_driver(L);
  d->clock_ms = (int64_t)luaL_checknumber(L, 2);
  return 0;
}

static int l_clock(lua_State *L) {
  lua_pushnumber(L, (lua_Number)check_driver(L)->clock_ms);
  return 1;
}

/* d:restart([path]): closes every query and the job's state, then loads the job file (path:
** another version of it) and opens the queries from their checkpoints, as a new process would.
** A version that does not load, or that the checkpoints cannot carry (query.c's check), is
** refused with the reason and the version before goes on, as a hot reload refuses it. */
static int l_restart(lua_State *L) {
  driver *d = check_driver(L);
  const char *path = luaL_optstring(L, 2, NULL);
  char *before = strdup(d->path);
  close_queries(d);
  if (path) set_path(d, path);
  sr_error *err = NULL, *again = NULL;
  if (open_queries(d, &err) == SR_OK) {
    free(before);
    return 0;
  }
  set_path(d, before);
  free(before);
  if (open_queries(d, &again) != SR_OK) {
    sr_error *both = NULL;
    sr_error_set(&both, SR_ERROR, "%s; and the version before cannot open again: %s",
                 err ? err->message : "?", again ? again->message : "?");
    sr_error_free(err);
    sr_error_free(again);
    err = both;
  }
  return sr_lua_raise(L, err, "unknown error");
}

static int l_close(lua_State *L) {
  driver *d = luaL_checkudata(L, 1, DRIVER_MT);
  driver_free(d);
  return 0;
}

/* fork() -> pid (0 in the child), after flushing stdio so nothing is written twice. */
static int l_fork(lua_State *L) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return luaL_error(L, "fork: %s", strerror(errno));
  lua_pushinteger(L, pid);
  return 1;
}

/* wait(pid) -> "killed", signal | "exited", status */
static int l_wait(lua_State *L) {
  pid_t pid = (pid_t)luaL_checkinteger(L, 1);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return luaL_error(L, "waitpid: %s", strerror(errno));
  if (WIFSIGNALED(status)) {
    lua_pushliteral(L, "killed");
    lua_pushinteger(L, WTERMSIG(status));
  } else {
    lua_pushliteral(L, "exited");
    lua_pushinteger(L, WEXITSTATUS(status));
  }
  return 2;
}

/* exit(code): ends a forked child at once (no atexit handlers, no stdio of the parent's). */
static int l_exit(lua_State *L) {
  fflush(NULL);
  _exit((int)luaL_optinteger(L, 1, 0));
}

static int l_crash_at(lua_State *L) {
  sr_set_crash_at(luaL_checkstring(L, 1), (int64_t)luaL_checknumber(L, 2));
  return 0;
}

static int l_crash_points(lua_State *L) {
  lua_newtable(L);
  for (int i = 0; sr_crash_points[i]; i++) {
    lua_pushstring(L, sr_crash_points[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

int sr_open_test_driver(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"queries", l_queries}, {"inputs", l_inputs}, {"add", l_add}, {"step", l_step},
    {"next_batch", l_next_batch}, {"watermark", l_watermark}, {"progress", l_progress},
    {"output", l_output}, {"state", l_state}, {"set_clock", l_set_clock}, {"clock", l_clock},
    {"restart", l_restart}, {"close", l_close}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {
    {"open", l_open}, {"tmpdir", l_tmpdir}, {"fork", l_fork}, {"wait", l_wait}, {"exit", l_exit},
    {"crash_at", l_crash_at}, {"crash_points", l_crash_points}, {NULL, NULL}};
  static int guarded;
  if (!guarded) { sr_guard_init(); guarded = 1; }
  sr_register_core_libs();
  if (sr_lua_newmetatable(L, DRIVER_MT, l_close)) {
    lua_newtable(L);
    luaL_register(L, NULL, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  return 1;
}

/* --- streamrun test ---------------------------------------------------------------------- */

/* busted ends with os.exit(failures + errors): the contract is 0 or 1. */
static int test_exit(lua_State *L) {
  int code = lua_isboolean(L, 1) ? !lua_toboolean(L, 1) : (int)luaL_optinteger(L, 1, 0) != 0;
  fflush(NULL);
  exit(code);
}

int sr_test_main(int argc, char **argv) {
  sr_register_core_libs();
  sr_progress_set_summary(0);
  lua_State *L = sr_lua_new(".");
  if (!L) {
    fputs("streamrun test: out of memory\n", stderr);
    return 1;
  }
  lua_getglobal(L, "os");
  lua_pushcfunction(L, test_exit);
  lua_setfield(L, -2, "exit");
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, sr_open_test_driver);
  lua_setfield(L, -2, "streamrun.test_driver");
  lua_pop(L, 3);
  lua_createtable(L, argc, 1);
  lua_pushliteral(L, "streamrun test");
  lua_rawseti(L, -2, 0);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setglobal(L, "arg");
  static const char run[] =
    "local ok, runner = pcall(require, 'busted.runner')\n"
    "if not ok then\n"
    "  error('streamrun test needs busted (Debian: apt-get install lua-busted): ' .. runner, 0)\n"
    "end\n"
    "runner({ standalone = false })\n";
  int code = 0;
  if (luaL_loadbuffer(L, run, sizeof run - 1, "=streamrun test") != 0 || sr_lua_pcall(L, 0, 0) != 0) {
    fprintf(stderr, "streamrun test: %s\n", lua_tostring(L, -1));
    code = 1;
  }
  fflush(NULL);
  sr_lua_close_at_exit(L);
  return code;
}
