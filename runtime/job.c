/*
** job: load a job file, open its queries, run their triggers. See job.h.
**
** One lua_State per job, one thread: the queries take turns, each when its trigger is due.
** A reload (SIGHUP) builds a fresh lua_State from the file, compiles it, and swaps it in
** between two batches only if every query's plan is one its checkpoint can carry; otherwise
** the old state keeps running and the refusal is logged.
*/
#include "job.h"

#include <errno.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "connector.h"
#include "lua_codec.h"
#include "lua_host.h"
#include "lua_libs.h"
#include "options.h"
#include "query.h"

static volatile sig_atomic_t stop_requested, reload_requested;

void sr_job_request_stop(void) { stop_requested = 1; }
void sr_job_request_reload(void) { reload_requested = 1; }

typedef struct loaded {
  lua_State *L;
  sr_lua_mem *mem;
  int descs_ref;
  int nqueries;
} loaded;

typedef struct running {
  sr_query *q;
  int done, failed;
  int64_t next_due_ms;
  int64_t backoff_ms;
} running;

static void loaded_free(loaded *ld) {
  sr_lua_close(ld->L);
  free(ld->mem);
  memset(ld, 0, sizeof *ld);
}

static void set_args(lua_State *L, const sr_job_options *o) {
  lua_createtable(L, o->argc, 1);
  lua_pushstring(L, o->path);
  lua_rawseti(L, -2, 0);
  for (int i = 0; i < o->argc; i++) {
    lua_pushstring(L, o->argv[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setglobal(L, "arg");
}

/* Runs the job file and compiles its queries into a fresh state. */
static sr_status load_job(const sr_job_options *o, const char *dir, loaded *ld, sr_error **err) {
  memset(ld, 0, sizeof *ld);
  ld->mem = calloc(1, sizeof *ld->mem);
  if (!ld->mem || !(ld->L = sr_lua_new(ld->mem, dir))) {
    loaded_free(ld);
    return sr_error_set(err, SR_ERROR, "out of memory creating a Lua state");
  }
  lua_State *L = ld->L;
  set_args(L, o);
  if (luaL_loadfile(L, o->path) != 0) {
    sr_error_set(err, SR_ERROR, "%s", lua_tostring(L, -1));
    loaded_free(ld);
    return SR_ERROR;
  }
  if (sr_lua_pcall(L, 0, 0) != 0) {
    sr_error_set(err, SR_ERROR, "%s", lua_tostring(L, -1));
    loaded_free(ld);
    return SR_ERROR;
  }
  lua_getglobal(L, "require");
  lua_pushliteral(L, "streamrun.exec");
  if (sr_lua_pcall(L, 1, 1) != 0) goto lua_fail;
  lua_getfield(L, -1, "queries");
  lua_remove(L, -2);
  if (sr_lua_pcall(L, 0, 1) != 0) goto lua_fail;
  ld->nqueries = (int)lua_objlen(L, -1);
  ld->descs_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return SR_OK;
lua_fail:
  sr_error_set(err, SR_ERROR, "%s", lua_tostring(L, -1));
  loaded_free(ld);
  return SR_ERROR;
}

/* --- reading a compiled descriptor into a query spec ------------------------------------ */

static char *field_str(lua_State *L, int idx, const char *name) {
  lua_getfield(L, idx, name);
  char *s = lua_isstring(L, -1) ? strdup(lua_tostring(L, -1)) : NULL;
  lua_pop(L, 1);
  return s;
}

static sr_options *read_options(lua_State *L, int idx) {
  sr_options *o = sr_options_new();
  if (!o) return NULL;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_isstring(L, -1))
      sr_options_set(o, lua_tostring(L, -2), lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return o;
}

static sr_schema *field_schema(lua_State *L, int idx, const char *name) {
  lua_getfield(L, idx, name);
  sr_schema *s = NULL;
  if (!lua_isnil(L, -1)) {
    const sr_schema *ls = sr_lua_toschema(L, -1);
    if (ls) s = sr_schema_copy(ls);
  }
  lua_pop(L, 1);
  return s;
}

static const char *const common_source_options[] = {"badRecordsPath", NULL};

static sr_status check_connector_options(const sr_options *opts, const sr_option_spec *specs,
                                         const char *const *extra, const char *kind,
                                         const char *name, const char *where, sr_error **err) {
  char what[128];
  snprintf(what, sizeof what, "the %s %s", name, kind);
  if (sr_options_check(opts, specs, extra, what, err) != SR_OK) {
    sr_error_prefix(*err, "%s", where);
    return SR_ERROR;
  }
  return SR_OK;
}

static sr_status unknown_format(const char *format, const char *const *names, const char *kind,
                                const char *where, sr_error **err) {
  const char *near = sr_nearest_name(format, names);
  char list[512] = "";
  for (int i = 0; names[i]; i++) {
    strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
    strncat(list, names[i], sizeof list - strlen(list) - 1);
  }
  if (near)
    return sr_error_set(err, SR_ERROR, "%s: unknown %s format '%s'; did you mean '%s'? (%s)",
                        where, kind, format, near, list);
  return sr_error_set(err, SR_ERROR, "%s: unknown %s format '%s' (%s)", where, kind, format, list);
}

static sr_status read_sources(lua_State *L, int d, sr_query_spec *s, json_t *plan, sr_error **err) {
  lua_getfield(L, d, "sources");
  int t = lua_gettop(L);
  s->nsources = (int)lua_objlen(L, t);
  s->sources = calloc((size_t)(s->nsources ? s->nsources : 1), sizeof *s->sources);
  json_t *plan_sources = json_array();
  json_object_set_new(plan, "sources", plan_sources);
  sr_status st = SR_OK;
  for (int i = 0; i < s->nsources && st == SR_OK; i++) {
    lua_rawgeti(L, t, i + 1);
    int e = lua_gettop(L);
    sr_query_source_spec *ss = &s->sources[i];
    char *format = field_str(L, e, "format");
    ss->where = field_str(L, e, "where");
    ss->ops = format ? sr_source_lookup(format) : NULL;
    lua_getfield(L, e, "options");
    ss->options = read_options(L, lua_gettop(L));
    lua_pop(L, 1);
    ss->schema = field_schema(L, e, "schema");
    if (!ss->ops) {
      st = unknown_format(format ? format : "?", sr_source_names(), "source", ss->where, err);
    } else if (check_connector_options(ss->options, ss->ops->options, common_source_options,
                                       "source", ss->ops->name, ss->where, err) != SR_OK) {
      st = SR_ERROR;
    } else if (ss->ops->needs_schema && !ss->schema) {
      st = sr_error_set(err, SR_ERROR, "%s: the %s source needs a `schema`", ss->where, ss->ops->name);
    } else {
      /* what identifies the source for the checkpoint: its format and where it reads */
      json_t *id = json_object();
      json_object_set_new(id, "format", json_string(format));
      const char *keys[] = {"path", "subscribe", "subscribePattern", "assign"};
      for (int k = 0; k < 4; k++) {
        const char *v = sr_opt_str(ss->options, NULL, keys[k], NULL);
        if (v) json_object_set_new(id, keys[k], json_string(v));
      }
      json_array_append_new(plan_sources, id);
    }
    free(format);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return st;
}

static sr_status read_sink(lua_State *L, int d, sr_query_spec *s, sr_error **err) {
  lua_getfield(L, d, "sink");
  int e = lua_gettop(L);
  char *format = field_str(L, e, "format");
  s->sink_ops = format ? sr_sink_lookup(format) : NULL;
  lua_getfield(L, e, "options");
  s->sink_options = read_options(L, lua_gettop(L));
  lua_pop(L, 2);
  sr_status st = SR_OK;
  if (!s->sink_ops)
    st = unknown_format(format ? format : "?", sr_sink_names(), "sink", s->where, err);
  else
    st = check_connector_options(s->sink_options, s->sink_ops->options, NULL, "sink",
                                 s->sink_ops->name, s->where, err);
  free(format);
  return st;
}

static sr_status read_stateful(lua_State *L, int d, sr_query_spec *s, json_t *plan) {
  lua_getfield(L, d, "stateful");
  int t = lua_gettop(L);
  s->nstateful = (int)lua_objlen(L, t);
  s->stateful_sigs = calloc((size_t)(s->nstateful ? s->nstateful : 1), sizeof(char *));
  json_t *arr = json_array();
  for (int i = 0; i < s->nstateful; i++) {
    lua_rawgeti(L, t, i + 1);
    s->stateful_sigs[i] = field_str(L, lua_gettop(L), "signature");
    json_array_append_new(arr, json_string(s->stateful_sigs[i] ? s->stateful_sigs[i] : "?"));
    lua_pop(L, 1);
  }
  json_object_set_new(plan, "stateful", arr);
  lua_pop(L, 1);
  lua_getfield(L, d, "watermarks");
  t = lua_gettop(L);
  s->nwatermarks = (int)lua_objlen(L, t);
  s->watermark_delay_ms = calloc((size_t)(s->nwatermarks ? s->nwatermarks : 1), sizeof(int64_t));
  for (int i = 0; i < s->nwatermarks; i++) {
    lua_rawgeti(L, t, i + 1);
    lua_getfield(L, -1, "delay_ms");
    s->watermark_delay_ms[i] = (int64_t)lua_tonumber(L, -1);
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  return s->stateful_sigs && s->watermark_delay_ms ? SR_OK : SR_ERROR;
}

static sr_trigger_kind trigger_of(const char *kind) {
  if (kind && strcmp(kind, "once") == 0) return SR_TRIGGER_ONCE;
  if (kind && strcmp(kind, "availableNow") == 0) return SR_TRIGGER_AVAILABLE_NOW;
  if (kind && strcmp(kind, "continuous") == 0) return SR_TRIGGER_CONTINUOUS;
  return SR_TRIGGER_PROCESSING_TIME;
}

/* Builds the spec of descriptor i (1-based) of a loaded job. */
static sr_query_spec *read_spec(loaded *ld, int i, sr_error **err) {
  lua_State *L = ld->L;
  sr_query_spec *s = calloc(1, sizeof *s);
  if (!s) { sr_error_set(err, SR_ERROR, "out of memory"); return NULL; }
  lua_rawgeti(L, LUA_REGISTRYINDEX, ld->descs_ref);
  lua_rawgeti(L, -1, i);
  int d = lua_gettop(L);
  s->index = i;
  s->name = field_str(L, d, "name");
  if (!s->name) {
    char buf[32];
    snprintf(buf, sizeof buf, "query-%d", i);
    s->name = strdup(buf);
  }
  s->where = field_str(L, d, "where");
  s->checkpoint = field_str(L, d, "checkpoint");
  s->output_mode = field_str(L, d, "output_mode");
  char *tk = field_str(L, d, "trigger_kind");
  s->trigger = trigger_of(tk);
  free(tk);
  lua_getfield(L, d, "trigger_ms");
  s->trigger_ms = (int64_t)lua_tonumber(L, -1);
  lua_pop(L, 1);
  s->output_schema = field_schema(L, d, "output_schema");
  json_t *plan = json_object();
  sr_status st = read_sources(L, d, s, plan, err);
  if (st == SR_OK) st = read_sink(L, d, s, err);
  if (st == SR_OK && read_stateful(L, d, s, plan) != SR_OK)
    st = sr_error_set(err, SR_ERROR, "out of memory");
  s->plan_json = json_dumps(plan, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(plan);
  lua_pop(L, 2);
  if (st != SR_OK) {
    sr_query_spec_free(s);
    return NULL;
  }
  return s;
}

static void print_warnings_and_plan(loaded *ld, int i, int print_plan) {
  lua_State *L = ld->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ld->descs_ref);
  lua_rawgeti(L, -1, i);
  if (print_plan) {
    lua_getfield(L, -1, "plan_text");
    printf("%s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_getfield(L, -1, "warnings");
  for (int w = 1; w <= (int)lua_objlen(L, -1); w++) {
    lua_rawgeti(L, -1, w);
    fprintf(stderr, "streamrun: warning: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_pop(L, 3);
}

/* --- hot reload ------------------------------------------------------------------------- */

/* Swaps in a new version of the job when every running query's plan is one its checkpoint can
** carry (same sources, same stateful operators) and the query set is unchanged. */
static void try_reload(const sr_job_options *o, const char *dir, loaded *ld, running *qs, int nq) {
  loaded next;
  sr_error *err = NULL;
  if (load_job(o, dir, &next, &err) != SR_OK) {
    fprintf(stderr, "streamrun: reload refused, the running version goes on: %s\n", err->message);
    sr_error_free(err);
    return;
  }
  const char *why = NULL;
  char reason[1024];
  if (next.nqueries != nq) {
    snprintf(reason, sizeof reason, "the job now defines %d queries instead of %d", next.nqueries, nq);
    why = reason;
  }
  for (int i = 0; i < nq && !why; i++) {
    sr_query_spec *ns = read_spec(&next, i + 1, &err);
    const sr_query_spec *cur = sr_query_spec_of(qs[i].q);
    if (!ns) {
      snprintf(reason, sizeof reason, "%s", err->message);
      why = reason;
    } else if (strcmp(ns->plan_json, cur->plan_json) != 0 ||
               strcmp(ns->sink_ops->name, cur->sink_ops->name) != 0 ||
               (ns->checkpoint == NULL) != (cur->checkpoint == NULL) ||
               (ns->checkpoint && strcmp(ns->checkpoint, cur->checkpoint) != 0)) {
      snprintf(reason, sizeof reason,
               "query %s changed its sources, sink, checkpoint or stateful operators (%s -> %s); "
               "its checkpoint cannot carry that", cur->name, cur->plan_json, ns->plan_json);
      why = reason;
    }
    sr_query_spec_free(ns);
    sr_error_free(err);
    err = NULL;
  }
  if (why) {
    fprintf(stderr, "streamrun: reload refused, the running version goes on: %s\n", why);
    loaded_free(&next);
    return;
  }
  loaded_free(ld);
  *ld = next;
  fprintf(stderr, "streamrun: reloaded %s\n", o->path);
}

/* --- the trigger loop ------------------------------------------------------------------- */

static void sleep_ms(int64_t ms) {
  if (ms <= 0) return;
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&ts, NULL); /* a signal ends the sleep early, as it should */
}

static int64_t next_due_after(const sr_query_spec *s, int64_t started, sr_step step, int64_t now) {
  switch (s->trigger) {
    case SR_TRIGGER_CONTINUOUS:
      return step == SR_STEP_RAN ? now : now + 10;
    case SR_TRIGGER_ONCE:
    case SR_TRIGGER_AVAILABLE_NOW:
      return step == SR_STEP_RAN ? now : now + 50;
    default: {
      /* an overrunning batch starts the next at once; otherwise wait for the next interval */
      int64_t due = started + (s->trigger_ms > 0 ? s->trigger_ms : 0);
      return due > now ? due : now;
    }
  }
}

static int run_loop(const sr_job_options *o, const char *dir, loaded *ld, running *qs, int nq) {
  sr_job_lua jl = {ld->L, ld->descs_ref};
  int failed = 0;
  for (;;) {
    if (stop_requested) break;
    if (reload_requested && !o->no_reload) {
      reload_requested = 0;
      try_reload(o, dir, ld, qs, nq);
      jl.L = ld->L;
      jl.descs_ref = ld->descs_ref;
    }
    int active = 0;
    int64_t now = sr_now_mono_ms(), wake = now + 200;
    for (int i = 0; i < nq && !stop_requested; i++) {
      running *r = &qs[i];
      if (r->done) continue;
      active = 1;
      if (now >= r->next_due_ms) {
        sr_error *err = NULL;
        sr_step step;
        int64_t started = sr_now_mono_ms();
        sr_status st = sr_query_step(r->q, &jl, &step, &err);
        now = sr_now_mono_ms();
        if (st == SR_OK) {
          r->backoff_ms = 0;
          if (step == SR_STEP_DONE) { r->done = 1; continue; }
          r->next_due_ms = next_due_after(sr_query_spec_of(r->q), started, step, now);
        } else if (st == SR_RETRY) {
          r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : 100;
          if (r->backoff_ms > 10000) r->backoff_ms = 10000;
          fprintf(stderr, "streamrun: [%s] %s; retrying in %" PRId64 " ms\n",
                  sr_query_spec_of(r->q)->name, err ? err->message : "transient error", r->backoff_ms);
          r->next_due_ms = now + r->backoff_ms;
        } else {
          fprintf(stderr, "streamrun: query %s failed: %s\n", sr_query_spec_of(r->q)->name,
                  err ? err->message : "unknown error");
          r->done = r->failed = 1;
          failed = 1;
        }
        sr_error_free(err);
      }
      if (!r->done && r->next_due_ms < wake) wake = r->next_due_ms;
    }
    if (!active) break;
    now = sr_now_mono_ms();
    if (wake > now && !stop_requested && !reload_requested) sleep_ms(wake - now);
  }
  return failed ? SR_EXIT_FAILED : SR_EXIT_OK;
}

int sr_job_run(const sr_job_options *o) {
  char *pathcopy = strdup(o->path);
  char *dir = strdup(dirname(pathcopy));
  free(pathcopy);
  sr_register_core_libs();
  sr_error *err = NULL;
  loaded ld;
  int code = SR_EXIT_INVALID;
  running *qs = NULL;
  int nq = 0;
  if (load_job(o, dir, &ld, &err) != SR_OK) {
    fprintf(stderr, "streamrun: %s\n", err->message);
    goto out;
  }
  qs = calloc((size_t)(ld.nqueries ? ld.nqueries : 1), sizeof *qs);
  sr_query_spec **specs = calloc((size_t)(ld.nqueries ? ld.nqueries : 1), sizeof *specs);
  for (int i = 0; i < ld.nqueries; i++) {
    print_warnings_and_plan(&ld, i + 1, o->check_only);
    specs[i] = read_spec(&ld, i + 1, &err);
    if (!specs[i]) {
      fprintf(stderr, "streamrun: %s\n", err->message);
      for (int k = 0; k < i; k++) sr_query_spec_free(specs[k]);
      free(specs);
      goto out_loaded;
    }
  }
  if (ld.nqueries == 0) fprintf(stderr, "streamrun: %s defines no query (no write_stream)\n", o->path);
  if (o->check_only) {
    for (int i = 0; i < ld.nqueries; i++) sr_query_spec_free(specs[i]);
    free(specs);
    printf("plan OK: %d %s\n", ld.nqueries, ld.nqueries == 1 ? "query" : "queries");
    code = SR_EXIT_OK;
    goto out_loaded;
  }
  code = SR_EXIT_OK;
  for (int i = 0; i < ld.nqueries; i++) {
    qs[nq].q = sr_query_open(specs[i], dir, o->progress, &err);
    specs[i] = NULL;
    if (!qs[nq].q) {
      fprintf(stderr, "streamrun: %s\n", err ? err->message : "cannot open query");
      code = SR_EXIT_FAILED;
      for (int k = i + 1; k < ld.nqueries; k++) sr_query_spec_free(specs[k]);
      break;
    }
    nq++;
  }
  free(specs);
  if (code == SR_EXIT_OK) code = run_loop(o, dir, &ld, qs, nq);
  for (int i = 0; i < nq; i++) sr_query_close(qs[i].q);
out_loaded:
  loaded_free(&ld);
out:
  free(qs);
  sr_error_free(err);
  free(dir);
  return code;
}
