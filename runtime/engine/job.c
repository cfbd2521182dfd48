/*
** job: load a job file, open its queries, run their triggers. See job.h.
**
** One lua_State per job, one thread: the queries take turns, each when its trigger is due.
** A reload (SIGHUP) builds a fresh lua_State from the file, compiles it, and swaps it in
** between two batches only if every query's plan is one its checkpoint can carry; otherwise
** the old state keeps running and the refusal is logged.
*/
#include "job.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "connector.h"
#include "lua_codec.h"
#include "lua_alloc.h"
#include "lua_guard.h"
#include "lua_host.h"
#include "lua_libs.h"
#include "monitor.h"
#include "options.h"
#include "query.h"
#include "watch.h"
#include "sr_log.h"

#define MAX_WAKE_FDS 8 /* per query: its sources' wake_fd (more sources: no waiting on them) */

static volatile sig_atomic_t stop_requested, reload_requested;

void sr_job_request_stop(void) {
  stop_requested = 1;
  sr_guard_stop(); /* a batch still in user code a second from now is interrupted */
}
void sr_job_request_reload(void) { reload_requested = 1; }

typedef struct running {
  sr_query *q;
  int done, failed;
  int64_t next_due_ms;
  int64_t backoff_ms;
} running;

void sr_job_unload(sr_job_loaded *ld) {
  sr_lua_close(ld->L);
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

/* streamrun test feeds every source rows from memory: no source hands over C records. */
static sr_status rows_only(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "streamrun.exec");
  if (sr_lua_pcall(L, 1, 1) != 0) return SR_ERROR;
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "rows_only");
  lua_pop(L, 1);
  return SR_OK;
}

sr_status sr_job_load(const sr_job_options *o, const char *dir, sr_job_loaded *ld, sr_error **err) {
  memset(ld, 0, sizeof *ld);
  if (!(ld->L = sr_lua_new(dir))) {
    sr_job_unload(ld);
    return sr_error_set(err, SR_ERROR, "out of memory creating a Lua state");
  }
  lua_State *L = ld->L;
  sr_lua_heap *heap = sr_lua_heap_of(L);
  if (heap) sr_lua_heap_set_limit(heap, o->memory_limit);
  set_args(L, o);
  if (o->test_doubles && rows_only(L) != SR_OK) goto lua_fail;
  if (luaL_loadfile(L, o->path) != 0) {
    sr_error_set(err, SR_ERROR, "%s", lua_tostring(L, -1));
    sr_job_unload(ld);
    return SR_ERROR;
  }
  if (sr_lua_pcall(L, 0, 0) != 0) {
    sr_error_set(err, SR_ERROR, "%s", lua_tostring(L, -1));
    sr_job_unload(ld);
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
  sr_job_unload(ld);
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

/* A list of strings at field `name` as a NULL-terminated array, or NULL when absent. */
static char **field_names(lua_State *L, int idx, const char *name) {
  lua_getfield(L, idx, name);
  char **names = NULL;
  if (lua_istable(L, -1)) {
    int n = (int)lua_objlen(L, -1);
    names = calloc((size_t)n + 1, sizeof *names);
    for (int i = 0; names && i < n; i++) {
      lua_rawgeti(L, -1, i + 1);
      names[i] = strdup(lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return names;
}

/* Options every source takes beside its own (the engine's: exec.lua keeps those it reads
** itself out of the connector's options, so here they only serve "did you mean"). A sink's are
** the query's own options, which the descriptor lists (sink.engine_keys, exec.lua). */
static const char *const common_source_options[] = {"badRecordsPath", "format", "name", "schema", NULL};

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

/* What open would refuse, found before anything opens (and by --check): the connector's own
** check of its options, and the sink's output mode. */
static sr_status check_source(const sr_query_source_spec *ss, sr_error **err) {
  sr_connector_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.options = ss->options;
  cfg.schema = ss->schema;
  if (ss->ops->check(&cfg, err) == SR_OK) return SR_OK;
  if (*err) sr_error_prefix(*err, "%s: %s source", ss->where, ss->ops->name);
  return SR_ERROR;
}

static sr_status check_sink(const sr_query_spec *s, int doubles, sr_error **err) {
  const sr_sink_ops *ops = s->sink_ops;
  const char *mode = s->output_mode ? s->output_mode : "append";
  if (ops->output_modes) {
    char list[64] = "";
    int ok = 0;
    for (int i = 0; ops->output_modes[i]; i++) {
      ok |= strcmp(ops->output_modes[i], mode) == 0;
      snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", ops->output_modes[i]);
    }
    /* Spark's DataSource.createSink (file formats) and DeltaDataSource.createSink: "Data
    ** source <name> does not support <Mode> output mode" */
    if (!ok)
      return sr_error_set(err, SR_ERROR, "%s: the %s sink does not support %s output mode, only %s "
                          "(Spark refuses it too: \"Data source %s does not support %c%s output mode\")",
                          s->where, ops->name, mode, list, ops->name, toupper((unsigned char)mode[0]),
                          mode[0] ? mode + 1 : "");
  }
  if (!ops->check || doubles) return SR_OK;
  sr_connector_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.options = s->sink_options;
  cfg.schema = s->output_schema;
  cfg.columns = (const char *const *)s->output_columns;
  cfg.output_mode = mode;
  if (ops->check(&cfg, err) == SR_OK) return SR_OK;
  if (*err) sr_error_prefix(*err, "%s: %s sink", s->where, ops->name);
  return SR_ERROR;
}

static sr_status read_sources(lua_State *L, int d, sr_query_spec *s, json_t *plan, int doubles,
                              sr_error **err) {
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
    } else if (ss->ops->check && !doubles && check_source(ss, err) != SR_OK) {
      st = SR_ERROR;
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

static sr_status read_sink(lua_State *L, int d, sr_query_spec *s, int doubles, sr_error **err) {
  lua_getfield(L, d, "sink");
  int e = lua_gettop(L);
  char *format = field_str(L, e, "format");
  s->sink_ops = format ? sr_sink_lookup(format) : NULL;
  lua_getfield(L, e, "options");
  s->sink_options = read_options(L, lua_gettop(L));
  lua_pop(L, 1);
  char **engine_keys = field_names(L, e, "engine_keys");
  lua_pop(L, 1);
  sr_status st = SR_OK;
  if (!s->sink_ops)
    st = unknown_format(format ? format : "?", sr_sink_names(), "sink", s->where, err);
  else if (check_connector_options(s->sink_options, s->sink_ops->options,
                                   (const char *const *)engine_keys, "sink", s->sink_ops->name,
                                   s->where, err) != SR_OK)
    st = SR_ERROR;
  else
    st = check_sink(s, doubles, err);
  for (int i = 0; engine_keys && engine_keys[i]; i++) free(engine_keys[i]);
  free(engine_keys);
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
  lua_getfield(L, d, "no_data_batches");
  s->no_data_batches = lua_toboolean(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, d, "watermark_batches");
  s->watermark_batches = lua_isnil(L, -1) || lua_toboolean(L, -1);
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
  char *policy = field_str(L, d, "watermark_policy"); /* exec.lua checked it: "min" or "max" */
  s->watermark_policy_max = policy && strcmp(policy, "max") == 0;
  free(policy);
  lua_getfield(L, d, "state_partitions"); /* exec.lua checked it: nil or 1..1024 */
  s->state_partitions = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return s->stateful_sigs && s->watermark_delay_ms ? SR_OK : SR_ERROR;
}

static sr_trigger_kind trigger_of(const char *kind) {
  if (kind && strcmp(kind, "once") == 0) return SR_TRIGGER_ONCE;
  if (kind && strcmp(kind, "availableNow") == 0) return SR_TRIGGER_AVAILABLE_NOW;
  if (kind && strcmp(kind, "continuous") == 0) return SR_TRIGGER_CONTINUOUS;
  return SR_TRIGGER_PROCESSING_TIME;
}

/* See job.h. */
sr_query_spec *sr_job_read_spec(sr_job_loaded *ld, int i, int doubles, sr_error **err) {
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
  lua_getfield(L, d, "batch_timeout_ms");
  s->batch_timeout_ms = (int64_t)lua_tonumber(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, d, "min_batches_to_retain");
  s->min_batches_to_retain = (int64_t)lua_tonumber(L, -1);
  lua_pop(L, 1);
  s->output_schema = field_schema(L, d, "output_schema");
  s->output_columns = field_names(L, d, "output_columns");
  lua_getfield(L, d, "output_schema_guessed");
  s->output_schema_guessed = lua_toboolean(L, -1);
  lua_pop(L, 1);
  json_t *plan = json_object();
  sr_status st = read_sources(L, d, s, plan, doubles, err);
  if (st == SR_OK) st = read_sink(L, d, s, doubles, err);
  if (st == SR_OK && read_stateful(L, d, s, plan) != SR_OK)
    st = sr_error_set(err, SR_ERROR, "out of memory");
  if (st == SR_OK) st = sr_query_spec_check(s, err);
  s->plan_json = json_dumps(plan, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(plan);
  lua_pop(L, 2);
  if (st != SR_OK) {
    sr_query_spec_free(s);
    return NULL;
  }
  return s;
}

/* --check prints the plan as text; --check --json adds it to plans (desc.plan_json()). */
static void print_warnings_and_plan(sr_job_loaded *ld, int i, int print_plan, json_t *plans) {
  lua_State *L = ld->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ld->descs_ref);
  lua_rawgeti(L, -1, i);
  if (plans) {
    lua_getfield(L, -1, "plan_json");
    json_t *doc = NULL;
    if (sr_lua_pcall(L, 0, 1) == 0) doc = json_loads(lua_tostring(L, -1), 0, NULL);
    if (doc) json_array_append_new(plans, doc);
    else sr_log("error", NULL, -1, "query %d: its plan as JSON: %s", i, lua_tostring(L, -1));
    lua_pop(L, 1);
  } else if (print_plan) {
    lua_getfield(L, -1, "plan_text");
    printf("%s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_getfield(L, -1, "warnings");
  for (int w = 1; w <= (int)lua_objlen(L, -1); w++) {
    lua_rawgeti(L, -1, w);
    sr_log("warning", NULL, -1, "warning: %s", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_pop(L, 3);
}

/* --- the running job --------------------------------------------------------------------- */

typedef struct job {
  const sr_job_options *o;
  char *dir;
  sr_job_loaded ld;
  running *qs;
  int nq;
  sr_job_lua jl;
  sr_watch *watch;
  int reload_pending;      /* a save was seen: reload once the files are stable */
  int interrupted;         /* a stop signal interrupted a batch */
  int notify;              /* started by a service manager that listens (NOTIFY_SOCKET) */
  int watchdog;            /* it also expects WATCHDOG=1 (WatchdogSec=) */
  int64_t ping_every_ms;   /* how often the loop tells it how things stand */
  int64_t pinged_ms;       /* when it last did */
  uint64_t batches;        /* batches run since start, for STATUS= */
} job;

/* The job file and the Lua modules it required from its own folder: what a save of reloads. */
static void watch_job_files(job *j) {
  if (!j->watch) return;
  lua_State *L = j->ld.L;
  static const char list_modules[] =
    "local dir = ...\n"
    "local files = {}\n"
    "for name in pairs(package.loaded) do\n"
    "  local p = package.searchpath(name, dir .. '/?.lua;' .. dir .. '/?/init.lua')\n"
    "  if p then files[#files + 1] = p end\n"
    "end\n"
    "return files\n";
  const char *paths[64];
  int n = 0;
  paths[n++] = j->o->path;
  if (luaL_loadstring(L, list_modules) == 0) {
    lua_pushstring(L, j->dir);
    if (sr_lua_pcall(L, 1, 1) == 0) {
      for (int i = 1; i <= (int)lua_objlen(L, -1) && n < 64; i++) {
        lua_rawgeti(L, -1, i);
        paths[n++] = lua_tostring(L, -1);
        lua_pop(L, 1); /* the string stays alive in the table on the stack */
      }
    }
  }
  if (sr_watch_set(j->watch, paths, n) != 0)
    sr_log("warning", NULL, -1, "warning: cannot watch %s for changes; SIGHUP still reloads", j->o->path);
  lua_settop(L, 0);
}

/* Tells the monitor (--http) a query started, with its plan as --check prints it. */
static void publish_started(sr_job_loaded *ld, int i, const sr_query *q) {
  if (!sr_monitor_enabled()) return;
  lua_State *L = ld->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ld->descs_ref);
  lua_rawgeti(L, -1, i);
  lua_getfield(L, -1, "plan_text");
  const sr_query_spec *s = sr_query_spec_of(q);
  sr_monitor_query_started(s->name, lua_tostring(L, -1), s->where);
  lua_pop(L, 3);
}

static running *add_query(job *j, sr_query *q) {
  running *grown = realloc(j->qs, (size_t)(j->nq + 1) * sizeof *grown);
  if (!grown) return NULL;
  j->qs = grown;
  memset(&j->qs[j->nq], 0, sizeof *j->qs);
  j->qs[j->nq].q = q;
  return &j->qs[j->nq++];
}

static running *find_running(job *j, const char *name) {
  for (int i = 0; i < j->nq; i++)
    if (j->qs[i].q && strcmp(sr_query_spec_of(j->qs[i].q)->name, name) == 0) return &j->qs[i];
  return NULL;
}

/* What a reload does to one query. */
typedef enum { KEEP, REOPEN, START } reload_action;

static int same_str(const char *a, const char *b) {
  return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int same_names(char **a, char **b) {
  if (!a || !b) return a == b;
  int i = 0;
  for (; a[i] && b[i]; i++)
    if (strcmp(a[i], b[i]) != 0) return 0;
  return a[i] == b[i];
}

/* What changed between two versions of a query that its checkpoint cannot carry, in words. */
static void describe_change(const sr_query_spec *cur, const sr_query_spec *ns, char *out, size_t len) {
  if (strcmp(cur->sink_ops->name, ns->sink_ops->name) != 0)
    snprintf(out + strlen(out), len - strlen(out), "its sink changed from %s to %s%s", cur->sink_ops->name,
             ns->sink_ops->name, strcmp(cur->plan_json, ns->plan_json) != 0 ? "; " : "");
  sr_plan_change_words(cur->plan_json, ns->plan_json, out, len);
}

/* KEEP: only functions changed, swap them in. REOPEN: options, trigger, columns or the
** checkpoint changed: close the query and open it again from its checkpoint. Refuses (returns
** -1 with why) a change the checkpoint cannot carry. */
static int classify(const sr_query_spec *cur, const sr_query_spec *ns, reload_action *a, char *why, size_t len) {
  if (!same_str(cur->checkpoint, ns->checkpoint)) { *a = REOPEN; return 0; } /* a new checkpoint carries anything */
  if (strcmp(cur->plan_json, ns->plan_json) != 0 || strcmp(cur->sink_ops->name, ns->sink_ops->name) != 0) {
    snprintf(why, len, "query %s changed what its checkpoint %s cannot carry: ", cur->name,
             cur->checkpoint ? cur->checkpoint : "");
    describe_change(cur, ns, why, len);
    snprintf(why + strlen(why), len - strlen(why), ". Give it a new checkpointLocation to start over");
    return -1;
  }
  int same = same_str(cur->output_mode, ns->output_mode) && cur->trigger == ns->trigger &&
             cur->trigger_ms == ns->trigger_ms && cur->batch_timeout_ms == ns->batch_timeout_ms &&
             cur->min_batches_to_retain == ns->min_batches_to_retain &&
             sr_options_equal(cur->sink_options, ns->sink_options) &&
             sr_schema_equal(cur->output_schema, ns->output_schema) &&
             same_names(cur->output_columns, ns->output_columns) && cur->nwatermarks == ns->nwatermarks &&
             cur->watermark_policy_max == ns->watermark_policy_max &&
             cur->state_partitions == ns->state_partitions;
  for (int i = 0; same && i < cur->nsources; i++)
    same = sr_options_equal(cur->sources[i].options, ns->sources[i].options) &&
           sr_schema_equal(cur->sources[i].schema, ns->sources[i].schema);
  for (int i = 0; same && i < cur->nwatermarks; i++)
    same = cur->watermark_delay_ms[i] == ns->watermark_delay_ms[i];
  *a = same ? KEEP : REOPEN;
  return 0;
}

static void refuse_reload(job *j, const char *why) {
  j->jl.reload_refusals++;
  sr_monitor_reload(0, why, 0);
  sr_log("error", NULL, -1, "reload of %s refused, the running version goes on: %s", j->o->path, why);
}

/* Loads the saved job into a fresh lua_State and, if every query's change can be carried,
** switches to it between two batches: changed functions take over from the next batch, state
** and offsets carry on; new queries start, removed ones stop (they are between batches, so
** after their last commit). All or nothing: a refusal leaves everything as it was. */
static void reload(job *j) {
  sr_job_loaded next;
  sr_error *err = NULL;
  int64_t t0 = sr_now_mono_ms();
  if (sr_job_load(j->o, j->dir, &next, &err) != SR_OK) {
    refuse_reload(j, err->message);
    sr_error_free(err);
    return;
  }
  int n = next.nqueries;
  sr_query_spec **specs = calloc((size_t)n + 1, sizeof *specs);
  reload_action *acts = calloc((size_t)n + 1, sizeof *acts);
  running **olds = calloc((size_t)n + 1, sizeof *olds);
  char why[1024] = "";
  int ok = specs && acts && olds;
  for (int i = 0; ok && i < n; i++) {
    specs[i] = sr_job_read_spec(&next, i + 1, 0, &err);
    if (!specs[i]) { snprintf(why, sizeof why, "%s", err->message); ok = 0; break; }
    for (int k = 0; k < i; k++)
      if (strcmp(specs[k]->name, specs[i]->name) == 0) {
        snprintf(why, sizeof why, "two queries are named %s", specs[i]->name);
        ok = 0;
      }
    olds[i] = find_running(j, specs[i]->name);
    if (ok && olds[i] && !olds[i]->done)
      ok = classify(sr_query_spec_of(olds[i]->q), specs[i], &acts[i], why, sizeof why) == 0;
    else
      acts[i] = START;
  }
  if (!ok) {
    refuse_reload(j, why[0] ? why : "out of memory");
    for (int i = 0; specs && i < n; i++) sr_query_spec_free(specs[i]);
    sr_job_unload(&next);
    goto out;
  }
  /* queries the new version no longer defines stop */
  for (int i = 0; i < j->nq; i++) {
    running *r = &j->qs[i];
    int kept = 0;
    for (int k = 0; k < n; k++) kept |= olds[k] == r;
    if (!kept && r->q) {
      sr_log("info", NULL, -1, "query %s is no longer in the job: stopped", sr_query_spec_of(r->q)->name);
      sr_monitor_query_ended(sr_query_spec_of(r->q)->name, 0, "no longer in the job");
      sr_query_close(r->q);
      r->q = NULL;
      r->done = 1;
    }
  }
  sr_job_unload(&j->ld);
  j->ld = next;
  j->jl.L = next.L;
  j->jl.descs_ref = next.descs_ref;
  j->jl.collect_first = 1;
  for (int i = 0; i < n; i++) {
    if (acts[i] == KEEP) {
      sr_query_set_index(olds[i]->q, i + 1);
      sr_query_spec_free(specs[i]);
      continue;
    }
    if (olds[i] && olds[i]->q) { sr_query_close(olds[i]->q); olds[i]->q = NULL; }
    sr_query *q = sr_query_open(specs[i], j->dir, j->o->progress, &err);
    running *r = olds[i] ? olds[i] : (q ? add_query(j, q) : NULL);
    if (olds[i]) { memset(r, 0, sizeof *r); r->q = q; }
    if (q) publish_started(&j->ld, i + 1, q);
    if (!q) {
      sr_log("error", NULL, -1, "after the reload, query %d cannot start: %s", i + 1, err ? err->message : "?");
      sr_error_free(err);
      err = NULL;
      if (r) r->done = r->failed = 1;
    }
  }
  j->jl.reloads++;
  sr_monitor_reload(1, NULL, sr_now_mono_ms() - t0);
  watch_job_files(j);
  sr_log("info", NULL, -1, "reloaded %s in %" PRId64 " ms", j->o->path, sr_now_mono_ms() - t0);
out:
  free(specs);
  free(acts);
  free(olds);
}

/* --- the service manager ---------------------------------------------------------------
** systemd's notify protocol (sd_notify(3), a unit with Type=notify): READY=1 once every query
** has started, WATCHDOG=1 from the loop at least every half of WatchdogSec (every quarter, so a
** late wake-up still makes it), STOPPING=1 when the loop ends (a stop signal, a failure, or
** every query done), STATUS= a one-line state with each. Without NOTIFY_SOCKET every call is a
** no-op. Never from the signal handler: sd_notify is not async-signal-safe, so a stop signal
** is reported when the loop sees it, after the batch in flight. A batch that outlasts the
** watchdog interval is what the watchdog is there to catch. */

static void service_start(job *j) {
  const char *sock = getenv("NOTIFY_SOCKET");
  j->notify = sock && *sock;
  if (!j->notify) return;
  uint64_t usec = 0;
  j->watchdog = sd_watchdog_enabled(0, &usec) > 0 && usec > 0;
  j->ping_every_ms = j->watchdog ? (int64_t)(usec / 4000) : 5000;
  if (j->ping_every_ms < 1) j->ping_every_ms = 1;
  j->pinged_ms = sr_now_mono_ms();
  sd_notifyf(0, "READY=1\nSTATUS=%d %s running", j->nq, j->nq == 1 ? "query" : "queries");
}

/* Watchdog and status, when the last ones are ping_every_ms old. */
static void service_ping(job *j, int64_t now) {
  if (!j->notify || now - j->pinged_ms < j->ping_every_ms) return;
  int active = 0;
  for (int i = 0; i < j->nq; i++) active += j->qs[i].q && !j->qs[i].done;
  sd_notifyf(0, "%sSTATUS=%d %s running, %" PRIu64 " batches", j->watchdog ? "WATCHDOG=1\n" : "",
             active, active == 1 ? "query" : "queries", j->batches);
  j->pinged_ms = now;
}

static void service_stop(job *j, int failed) {
  if (!j->notify) return;
  sd_notifyf(0, "STOPPING=1\nSTATUS=stopping: %s", stop_requested ? "a stop signal arrived"
             : failed ? "a query failed" : "every query ended");
}

/* --- the trigger loop ------------------------------------------------------------------- */

/* The continuous trigger runs the next batch as soon as one ends. An idle query whose sources
** can say when data comes (wake_fd) waits on them, planning anyway once per interval (the
** Kafka source then asks the brokers for new partitions, as Spark's KafkaContinuousStream
** checks its partitions at each epoch); others plan again every 10 ms. Unlike Spark's
** ContinuousExecution, whose rows flow while EpochCoordinator commits epochs asynchronously
** (at-least-once), these are the micro-batches of every trigger, each logged before it runs:
** the guarantees stay (docs/JOB-API.md, "Triggers, latency and guarantees"). */
static int64_t next_due_after(running *r, int64_t started, sr_step step, int64_t now) {
  const sr_query_spec *s = sr_query_spec_of(r->q);
  switch (s->trigger) {
    case SR_TRIGGER_CONTINUOUS: {
      if (step == SR_STEP_RAN) return now;
      int fds[MAX_WAKE_FDS];
      return now + (sr_query_wake_fds(r->q, fds, MAX_WAKE_FDS) > 0 && s->trigger_ms > 0 ? s->trigger_ms : 10);
    }
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

/* Sleeps until `ms` from now, a signal, a save of a watched file, or new data for an idle
** continuous query (its sources' wake_fd), which is then due at once. */
static void wait_for(job *j, int64_t ms) {
  if (ms <= 0) return;
  struct pollfd p[1 + MAX_WAKE_FDS * 4];
  running *owner[1 + MAX_WAKE_FDS * 4];
  int n = 0;
  if (j->watch) p[n++] = (struct pollfd){sr_watch_fd(j->watch), POLLIN, 0};
  for (int i = 0; i < j->nq; i++) {
    running *r = &j->qs[i];
    if (r->done || !r->q || sr_query_spec_of(r->q)->trigger != SR_TRIGGER_CONTINUOUS) continue;
    int fds[MAX_WAKE_FDS];
    int k = sr_query_wake_fds(r->q, fds, MAX_WAKE_FDS);
    for (int f = 0; f < k && n < (int)(sizeof p / sizeof *p); f++) {
      owner[n] = r;
      p[n++] = (struct pollfd){fds[f], POLLIN, 0};
    }
  }
  if (poll(p, (nfds_t)n, (int)(ms > 1000 ? 1000 : ms)) <= 0) return;
  for (int i = j->watch ? 1 : 0; i < n; i++)
    if (p[i].revents) owner[i]->next_due_ms = sr_now_mono_ms();
}

/* One step of one query; its outcome decides when it is due again. */
static void step_query(job *j, running *r, int *failed) {
  sr_error *err = NULL;
  sr_step step;
  int64_t started = sr_now_mono_ms();
  sr_status st = sr_query_step(r->q, &j->jl, &step, &err);
  int64_t now = sr_now_mono_ms();
  const char *name = sr_query_spec_of(r->q)->name;
  if (st == SR_OK) {
    r->backoff_ms = 0;
    if (step == SR_STEP_RAN) j->batches++;
    if (step == SR_STEP_DONE) { r->done = 1; sr_monitor_query_ended(name, 0, NULL); }
    else r->next_due_ms = next_due_after(r, started, step, now);
  } else if (st == SR_RETRY) {
    r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : 100;
    if (r->backoff_ms > 10000) r->backoff_ms = 10000;
    sr_log("warning", name, -1, "[%s] %s; retrying in %" PRId64 " ms", name,
            err ? err->message : "transient error", r->backoff_ms);
    r->next_due_ms = now + r->backoff_ms;
  } else if (sr_query_interrupted(r->q)) {
    sr_log("error", name, -1, "query %s stopped in the middle of a batch (%s); the batch was not "
            "committed and re-runs at the next start", name, err ? err->message : "interrupted");
    r->done = 1;
    j->interrupted = 1;
    sr_monitor_query_ended(name, 0, err ? err->message : "interrupted");
  } else {
    sr_log("error", name, -1, "query %s failed: %s", name, err ? err->message : "unknown error");
    r->done = r->failed = 1;
    *failed = 1;
    sr_monitor_query_ended(name, 1, err ? err->message : "unknown error");
  }
  sr_error_free(err);
}

static int run_loop(job *j) {
  int failed = 0;
  for (;;) {
    if (stop_requested) break;
    int64_t now = sr_now_mono_ms();
    if (j->watch && sr_watch_changed(j->watch) && !j->o->no_reload) j->reload_pending = 1;
    /* Editors save in steps: reload once the files have not changed for 100 ms. Measured from
    ** their mtimes, not from when the change was noticed, so a save made during a long batch
    ** takes effect from the very next batch. */
    int64_t settle_ms = 0;
    if (j->reload_pending) {
      struct timespec ts; /* the real clock: mtimes are real, whatever SR_TEST_CLOCK says */
      clock_gettime(CLOCK_REALTIME, &ts);
      int64_t quiet = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - sr_watch_newest_mtime_ms(j->watch);
      settle_ms = quiet >= 100 ? 0 : 100 - quiet;
    }
    if (reload_requested || (j->reload_pending && settle_ms == 0)) {
      reload_requested = 0;
      j->reload_pending = 0;
      if (!j->o->no_reload) reload(j);
    }
    int active = 0;
    int64_t wake = now + 1000;
    for (int i = 0; i < j->nq && !stop_requested; i++) {
      running *r = &j->qs[i];
      service_ping(j, sr_now_mono_ms());
      if (r->done || !r->q) continue;
      if (sr_now_mono_ms() >= r->next_due_ms) step_query(j, r, &failed);
      /* a query that just finished is not waited for (the loop ends at once when it was the last) */
      if (!r->done) active = 1;
      if (!r->done && r->next_due_ms < wake) wake = r->next_due_ms;
    }
    if (!active) break;
    if (j->reload_pending && now + settle_ms < wake) wake = now + settle_ms;
    if (j->notify && j->pinged_ms + j->ping_every_ms < wake) wake = j->pinged_ms + j->ping_every_ms;
    now = sr_now_mono_ms();
    if (wake > now && !stop_requested && !reload_requested) wait_for(j, wake - now);
  }
  service_stop(j, failed);
  if (failed) return SR_EXIT_FAILED;
  return j->interrupted ? SR_EXIT_INTERRUPTED : SR_EXIT_OK;
}

/* --check --json's answer on stdout (docs/JOB-API.md, "Checking a job as JSON"): the plans, and
** the warnings and errors logged meanwhile (notes). Takes both. */
static void print_check_json(json_t *plans, json_t *notes, int code) {
  json_t *errors = json_array(), *warnings = json_array(), *note;
  size_t i;
  json_array_foreach(notes, i, note) {
    int is_error = strcmp(json_string_value(json_object_get(note, "level")), "error") == 0;
    json_object_del(note, "level");
    json_array_append(is_error ? errors : warnings, note);
  }
  json_decref(notes);
  json_t *doc = json_pack("{s:b,s:i,s:o,s:o,s:o}", "ok", code == SR_EXIT_OK, "exitCode", code,
                          "queries", plans, "warnings", warnings, "errors", errors);
  json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  fputc('\n', stdout);
  json_decref(doc);
}

int sr_job_run(const sr_job_options *o) {
  job j;
  memset(&j, 0, sizeof j);
  j.o = o;
  char *pathcopy = strdup(o->path);
  j.dir = strdup(dirname(pathcopy));
  free(pathcopy);
  sr_register_core_libs();
  if (!o->check_only && sr_guard_init() != 0)
    sr_log("error", NULL, -1, "no batch timer (%s): batchTimeout is not enforced", strerror(errno));
  sr_error *err = NULL;
  int code = SR_EXIT_INVALID;
  json_t *plans = NULL, *notes = NULL;
  if (o->check_json) {
    plans = json_array();
    sr_log_capture(notes = json_array());
  }
  if (sr_job_load(o, j.dir, &j.ld, &err) != SR_OK) {
    sr_log("error", NULL, -1, "%s", err->message);
    goto out;
  }
  int n = j.ld.nqueries;
  sr_query_spec **specs = calloc((size_t)n + 1, sizeof *specs);
  for (int i = 0; i < n; i++) {
    print_warnings_and_plan(&j.ld, i + 1, o->check_only, plans);
    specs[i] = sr_job_read_spec(&j.ld, i + 1, 0, &err);
    if (!specs[i]) {
      sr_log("error", NULL, -1, "%s", err->message);
      for (int k = 0; k < i; k++) sr_query_spec_free(specs[k]);
      free(specs);
      goto out_loaded;
    }
  }
  if (n == 0) {
    /* Spark has nothing to start either: a job without a query is a mistake, not a success */
    sr_log("error", NULL, -1, "%s defines no query: nothing to run (end a stream with "
           ":write_stream{...} to start one)", o->path);
    free(specs);
    goto out_loaded;
  }
  if (o->check_only) {
    for (int i = 0; i < n; i++) sr_query_spec_free(specs[i]);
    free(specs);
    if (!plans) printf("plan OK: %d %s\n", n, n == 1 ? "query" : "queries");
    code = SR_EXIT_OK;
    goto out_loaded;
  }
  /* All or none: every query opens before any batch runs; when one cannot start, those
  ** already open are closed and none runs (exit 2, as for any job that cannot start). */
  code = SR_EXIT_OK;
  for (int i = 0; i < n; i++) {
    sr_query *q = sr_query_open(specs[i], j.dir, o->progress, &err);
    specs[i] = NULL;
    if (q) publish_started(&j.ld, i + 1, q);
    if (!q || !add_query(&j, q)) {
      sr_log("error", NULL, -1, "%s", err ? err->message : "cannot open query");
      if (n > 1) sr_log("error", NULL, -1, "no query of %s started", o->path);
      sr_query_close(q);
      code = SR_EXIT_INVALID;
      for (int k = i + 1; k < n; k++) sr_query_spec_free(specs[k]);
      break;
    }
  }
  free(specs);
  j.jl.L = j.ld.L;
  j.jl.descs_ref = j.ld.descs_ref;
  j.jl.collect_first = 1;
  if (!o->no_reload) {
    j.watch = sr_watch_new();
    watch_job_files(&j);
  }
  if (code == SR_EXIT_OK) {
    sr_monitor_job_started(j.nq);
    service_start(&j);
    code = run_loop(&j);
  }
  for (int i = 0; i < j.nq; i++) sr_query_close(j.qs[i].q);
out_loaded:
  sr_lua_close_at_exit(j.ld.L); /* sr_job_run ends the process (main.c) */
out:
  if (plans) {
    sr_log_capture(NULL);
    print_check_json(plans, notes, code);
  }
  sr_watch_free(j.watch);
  free(j.qs);
  sr_error_free(err);
  free(j.dir);
  return code;
}
