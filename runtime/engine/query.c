/*
** query: one streaming query and its micro-batches. See query.h.
**
** The life of batch N (the order is what makes a crash at any instant safe; ckpt.c states the
** invariants it relies on; sr_query_step runs the steps, each a function named after it:
** step_plan, step_log, step_run, commit_batch):
**   1. plan    each source plans its end offsets after the previous batch's (a replay instead
**              reads them back from offsets/N);
**   2. log     offsets/N is written, with the watermark and the batch's processing time;
**   3. run     in ONE protected call into Lua: every source reads its range straight into a Lua
**              array, the query's compiled batch function runs over them, and the sink writes
**              the result as batch N (a sink skips a batch it already committed);
**   4. commit  bad records, state stores (version N+1), the sink's commit of batch N, then
**              commits/N with the next watermark; then the sources release what the batch
**              held (cleanSource), and a progress record is written.
** A failure before commits/N leaves batch N to be re-run from offsets/N on the next start.
*/
#include "query.h"

#include <inttypes.h>
#include <lauxlib.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bad_records.h"
#include "ckpt.h"
#include "crash.h"
#include "fsutil.h"
#include "lua_alloc.h"
#include "lua_guard.h"
#include "lua_host.h"
#include "lua_libs.h"
#include "progress.h"
#include "state_parts.h"
#include "lua_pack.h"
#include "lua_state_lib.h"
#include "sr_log.h"

struct sr_query {
  sr_query_spec *spec;
  sr_ckpt *ckpt;
  char *tmp_ckpt;           /* a temporary checkpoint directory we remove at close */
  sr_source *sources;
  int nopen_sources;
  sr_sink sink;
  int sink_open;
  char **source_state_dirs;
  char *sink_state_dir;
  sr_bad_records *bad;
  char run_id[40];

  int64_t next_batch;       /* the batch the next step runs */
  json_t *prev_ends;        /* end offsets of batch next_batch-1 (array per source), or NULL */
  json_t *logged_ends;      /* at open: the end offsets of the newest batch in offsets/ */
  int replay;               /* 1: next_batch is logged in offsets/ but not committed */
  int interrupted;          /* the last step's batch was interrupted by a stop signal */
  int64_t watermark_ms;     /* the watermark the next batch runs with: from 0 up, never back;
                               INT64_MIN for a query without with_watermark */
  int64_t ran_watermark_ms; /* the watermark the last committed batch ran with */
  int64_t *wm_max_event;    /* per with_watermark: max event time seen; INT64_MIN: none */
  int64_t *rows_in_per_source; /* per source: the rows the running batch read from it */
  int wm_policy_max;        /* the multipleWatermarkPolicy in force: the checkpoint's (Spark) */
  int drained;              /* availableNow/once: the sources have nothing more to plan */
  int ran_once;

  int state_partitions;      /* numStatePartitions: the checkpoint's, fixed at its first batch */
  sr_state_parts **stores;   /* one per stateful operator: state/<i>/<p>, at version next_batch */

  sr_progress progress;
  FILE *progress_file;
};

int64_t sr_now_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t (*wall_clock)(void); /* streamrun test's virtual clock, when set */

void sr_set_wall_clock(int64_t (*now_ms)(void)) { wall_clock = now_ms; }

int64_t sr_now_wall_ms(void) {
  if (wall_clock) return wall_clock();
  /* Tests of processing-time behaviour (timeouts) set the clock: SR_TEST_CLOCK names a file
  ** holding the current time in ms, read at each call. */
  const char *fake = getenv("SR_TEST_CLOCK");
  if (fake) {
    FILE *f = fopen(fake, "r");
    long long ms = 0;
    if (f) {
      if (fscanf(f, "%lld", &ms) != 1) ms = 0;
      fclose(f);
      return ms;
    }
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sr_query_spec_free(sr_query_spec *s) {
  if (!s) return;
  free(s->name);
  free(s->where);
  free(s->checkpoint);
  free(s->output_mode);
  for (int i = 0; i < s->nsources; i++) {
    sr_options_free(s->sources[i].options);
    sr_schema_free(s->sources[i].schema);
    free(s->sources[i].where);
  }
  free(s->sources);
  sr_options_free(s->sink_options);
  sr_schema_free(s->output_schema);
  for (int i = 0; s->output_columns && s->output_columns[i]; i++) free(s->output_columns[i]);
  free(s->output_columns);
  for (int i = 0; i < s->nstateful; i++) free(s->stateful_sigs[i]);
  free(s->stateful_sigs);
  free(s->watermark_delay_ms);
  free(s->plan_json);
  free(s);
}

const sr_query_spec *sr_query_spec_of(const sr_query *q) { return q->spec; }
int sr_query_interrupted(const sr_query *q) { return q->interrupted; }

int sr_query_wake_fds(sr_query *q, int *fds, int max) {
  int n = 0;
  if (q->spec->nsources > max) return -1;
  for (int i = 0; i < q->spec->nsources; i++) {
    sr_source *src = &q->sources[i];
    int fd = src->ops->wake_fd ? src->ops->wake_fd(src) : -1;
    if (fd < 0) return -1; /* a source without one: the query cannot wait on descriptors */
    fds[n++] = fd;
  }
  return n;
}
void sr_query_set_index(sr_query *q, int index) { q->spec->index = index; }
int64_t sr_query_next_batch(const sr_query *q) { return q->next_batch; }
int64_t sr_query_watermark_ms(const sr_query *q) { return q->watermark_ms; }
const json_t *sr_query_last_progress(const sr_query *q) { return q->progress.last; }
const char *sr_query_checkpoint_dir(const sr_query *q) { return sr_ckpt_dir(q->ckpt); }
const char *sr_query_id(const sr_query *q) { return sr_ckpt_query_id(q->ckpt); }

/* --- opening ------------------------------------------------------------------------- */

sr_status sr_query_spec_check(const sr_query_spec *s, sr_error **err) {
  if (!s->checkpoint && !s->sink_ops->temp_checkpoint_ok)
    return sr_error_set(err, SR_ERROR,
                        "%s: checkpointLocation is required for the %s sink: its exactly-once "
                        "guarantee is kept in the checkpoint", s->where, s->sink_ops->name);
  return SR_OK;
}

static sr_status open_checkpoint(sr_query *q, sr_error **err) {
  sr_query_spec *s = q->spec;
  const char *dir = s->checkpoint;
  char tmp[256];
  if (!dir) {
    if (sr_query_spec_check(s, err) != SR_OK) return SR_ERROR;
    const char *base = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/streamrun-%ld-%s", base ? base : "/tmp", (long)getpid(), s->name);
    q->tmp_ckpt = strdup(tmp);
    dir = tmp;
  }
  q->ckpt = sr_ckpt_open(dir, err);
  if (!q->ckpt) {
    if (*err) sr_error_prefix(*err, "%s", s->where);
    return SR_ERROR;
  }
  return SR_OK;
}

/* A source as words: its format and where it reads ("json path in", "kafka subscribe bids"). */
static void source_words(const json_t *id, char *out, size_t len) {
  const char *key, *format = json_string_value(json_object_get(id, "format"));
  json_t *v;
  snprintf(out, len, "%s", format ? format : "?");
  json_object_foreach((json_t *)id, key, v) {
    if (strcmp(key, "format") != 0 && json_is_string(v))
      snprintf(out + strlen(out), len - strlen(out), " %s %s", key, json_string_value(v));
  }
}

void sr_plan_change_words(const char *before, const char *after, char *out, size_t len) {
  json_t *a = json_loads(before, 0, NULL), *b = json_loads(after, 0, NULL);
  char wa[512], wb[512];
  size_t start = strlen(out);
#define SAY(...) snprintf(out + strlen(out), len - strlen(out), __VA_ARGS__)
#define SEP (strlen(out) > start ? "; " : "")
  json_t *sa = json_object_get(a, "sources"), *sb = json_object_get(b, "sources");
  if (json_array_size(sa) != json_array_size(sb)) {
    SAY("%sit reads %zu sources instead of %zu", SEP, json_array_size(sb), json_array_size(sa));
  } else {
    for (size_t i = 0; i < json_array_size(sa); i++) {
      if (json_equal(json_array_get(sa, i), json_array_get(sb, i))) continue;
      source_words(json_array_get(sa, i), wa, sizeof wa);
      source_words(json_array_get(sb, i), wb, sizeof wb);
      SAY("%sits source %zu changed from %.200s to %.200s", SEP, i + 1, wa, wb);
    }
  }
  json_t *ta = json_object_get(a, "stateful"), *tb = json_object_get(b, "stateful");
  size_t na = json_array_size(ta), nb = json_array_size(tb);
  for (size_t i = 0; i < (na > nb ? na : nb); i++) {
    const char *x = json_string_value(json_array_get(ta, i)), *y = json_string_value(json_array_get(tb, i));
    if (x && y && strcmp(x, y) == 0) continue;
    if (x && y) SAY("%sits stateful operator %zu changed from %.200s to %.200s", SEP, i + 1, x, y);
    else if (x) SAY("%sits stateful operator %zu (%.200s) was removed", SEP, i + 1, x);
    else SAY("%sa stateful operator %.200s was added", SEP, y);
  }
#undef SEP
#undef SAY
  json_decref(a);
  json_decref(b);
}

/* A checkpoint written by another plan (another source, another stateful operator) cannot be
** carried: refuse at start, saying what changed. */
static sr_status check_plan(sr_query *q, sr_error **err) {
  json_t *stored = NULL;
  if (sr_ckpt_read_doc(q->ckpt, "plan", &stored, err) != SR_OK) return SR_ERROR;
  json_error_t jerr;
  json_t *now = json_loads(q->spec->plan_json, 0, &jerr);
  if (!now) {
    json_decref(stored);
    return sr_error_set(err, SR_ERROR, "internal: bad plan description: %s", jerr.text);
  }
  sr_status st = SR_OK;
  if (!stored) {
    st = sr_ckpt_write_doc(q->ckpt, "plan", now, err);
  } else if (!json_equal(json_object_get(stored, "sources"), json_object_get(now, "sources")) ||
             !json_equal(json_object_get(stored, "stateful"), json_object_get(now, "stateful"))) {
    char *was = json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS);
    char why[1024] = "";
    sr_plan_change_words(was ? was : "{}", q->spec->plan_json, why, sizeof why);
    free(was);
    st = sr_error_set(err, SR_ERROR,
                      "%s: the checkpoint %s was written by another version of this query: %s. The "
                      "checkpoint cannot carry that change: give the query a new checkpointLocation",
                      q->spec->where, sr_ckpt_dir(q->ckpt), why);
  }
  json_decref(now);
  json_decref(stored);
  return st;
}

static char *subdir(sr_query *q, const char *fmt, int i, sr_error **err) {
  char rel[64], path[4200];
  snprintf(rel, sizeof rel, fmt, i);
  sr_ckpt_path(q->ckpt, rel, path, sizeof path);
  if (sr_fs_mkdirs(path, err) != SR_OK) return NULL;
  return strdup(path);
}

static void fill_config(sr_query *q, sr_connector_config *cfg, const sr_options *options,
                        const sr_schema *schema, const char *state_dir, const char *job_dir) {
  memset(cfg, 0, sizeof *cfg);
  cfg->options = options;
  cfg->schema = schema;
  cfg->checkpoint_dir = sr_ckpt_dir(q->ckpt);
  cfg->state_dir = state_dir;
  cfg->query_id = sr_ckpt_query_id(q->ckpt);
  cfg->query_name = q->spec->name;
  cfg->output_mode = q->spec->output_mode;
  cfg->bad = q->bad;
  cfg->job_dir = job_dir;
  cfg->continuous_ms = q->spec->trigger == SR_TRIGGER_CONTINUOUS ? q->spec->trigger_ms : 0;
}

/* offsets/N has one line per source. */
static sr_status check_ends(sr_query *q, int64_t batch_id, const json_t *ends, sr_error **err) {
  if (json_array_size(ends) == (size_t)q->spec->nsources) return SR_OK;
  return sr_error_set(err, SR_ERROR, "%s/offsets/%" PRId64 " is damaged: it has %zu offsets lines, the "
                      "query has %d sources", sr_ckpt_dir(q->ckpt), batch_id, json_array_size(ends),
                      q->spec->nsources);
}

/* The partition count a checkpoint's state was split into is the one it keeps (offsets/N's
** conf; none recorded: one partition, as written before partitions existed). Spark keeps
** spark.sql.shuffle.partitions from OffsetSeqMetadata.conf over the session's value with a
** warning (OffsetSeqMetadata.setSessionConf); here a numStatePartitions the job asks for that
** differs is refused, so nobody believes a checkpoint was re-split when it was not. A query
** without state has nothing split: it keeps the recorded count silently. */
static sr_status check_state_partitions(sr_query *q, int64_t batch, int recorded, sr_error **err) {
  if (recorded == 0) recorded = 1;
  int asked = q->spec->state_partitions;
  q->state_partitions = recorded;
  if (asked == 0 || asked == recorded || q->spec->nstateful == 0) return SR_OK;
  char path[4200], rel[64];
  snprintf(rel, sizeof rel, "offsets/%" PRId64, batch);
  sr_ckpt_path(q->ckpt, rel, path, sizeof path);
  return sr_error_set(err, SR_ERROR,
                      "%s: numStatePartitions is %d, but the checkpoint %s keeps its state in %d "
                      "partition%s (%s%s): a key's partition is its hash modulo the count, so the "
                      "state cannot be read with another. Leave numStatePartitions out (the "
                      "checkpoint's count is kept) or give the query a new checkpointLocation",
                      q->spec->where, asked, sr_ckpt_dir(q->ckpt), recorded,
                      recorded == 1 ? "" : "s", path,
                      recorded == 1 ? ", recorded there or written before partitions" : "");
}

/* Decides where to resume from the offset and commit logs (ckpt.c invariant I3), and rebuilds
** the watermark there. Spark's global watermark starts at 0 (WatermarkTracker.globalWatermarkMs)
** and a restart takes it back from the offset log (MicroBatchExecution.populateStartOffsets);
** each with_watermark operator's max event time is taken back from the commit log, so the
** watermark goes on as if there had been no restart (Spark forgets them: an operator counts
** as 0 until it sees data again, which can only hold the watermark back). The policy is the
** one the checkpoint was written with, as Spark's OffsetSeqMetadata.setSessionConf does. */
static sr_status find_resume_point(sr_query *q, sr_error **err) {
  int64_t last_off = sr_ckpt_latest_offsets(q->ckpt);
  int64_t last_commit = sr_ckpt_latest_commit(q->ckpt);
  int nwm = q->spec->nwatermarks;
  q->wm_policy_max = q->spec->watermark_policy_max;
  q->state_partitions = q->spec->state_partitions > 0 ? q->spec->state_partitions
                                                      : SR_STATE_DEFAULT_PARTITIONS;
  q->watermark_ms = INT64_MIN;
  q->ran_watermark_ms = INT64_MIN;
  if (last_off < 0) {
    q->next_batch = 0;
  } else if (last_commit != last_off && last_commit != last_off - 1) {
    return sr_error_set(err, SR_ERROR,
                        "checkpoint %s is inconsistent: offsets end at batch %" PRId64
                        " but commits at %" PRId64 " (files were removed by hand?)",
                        sr_ckpt_dir(q->ckpt), last_off, last_commit);
  } else {
    sr_batch_meta meta;
    if (last_commit == last_off) {
      /* everything logged was committed: continue after it */
      if (sr_ckpt_read_offsets(q->ckpt, last_off, &meta, &q->prev_ends, err) != SR_OK) return SR_ERROR;
      if (sr_ckpt_read_commit(q->ckpt, last_commit, &q->watermark_ms, q->wm_max_event, nwm, err) != SR_OK)
        return SR_ERROR;
      q->ran_watermark_ms = meta.watermark_ms;
      q->logged_ends = json_incref(q->prev_ends);
      q->next_batch = last_off + 1;
    } else {
      /* batch last_off was logged and not committed: re-run it with exactly its offsets, from
      ** the max event times as the commit before it left them */
      int64_t ignored;
      q->next_batch = last_off;
      q->replay = 1;
      if (last_off > 0 &&
          (sr_ckpt_read_offsets(q->ckpt, last_off - 1, &meta, &q->prev_ends, err) != SR_OK ||
           sr_ckpt_read_commit(q->ckpt, last_off - 1, &ignored, q->wm_max_event, nwm, err) != SR_OK))
        return SR_ERROR;
      if (sr_ckpt_read_offsets(q->ckpt, last_off, &meta, &q->logged_ends, err) != SR_OK) return SR_ERROR;
      q->watermark_ms = meta.watermark_ms;
    }
    /* a log without the policy was written before it was recorded: "min", Spark's default */
    int logged_max = meta.watermark_policy && strcmp(meta.watermark_policy, "max") == 0;
    if (nwm > 0 && logged_max != q->wm_policy_max)
      sr_log("warning", NULL, -1, "warning: %s: query %s keeps multipleWatermarkPolicy '%s' from its "
              "checkpoint, not '%s' (as Spark: the policy cannot change for a checkpoint)",
              q->spec->where, q->spec->name, logged_max ? "max" : "min", q->wm_policy_max ? "max" : "min");
    q->wm_policy_max = logged_max;
    if (check_state_partitions(q, last_off, meta.state_partitions, err) != SR_OK) return SR_ERROR;
  }
  /* a query with a watermark has one from batch 0, never below 0 (a checkpoint written before
  ** this rule logged none); a query without has none */
  if (nwm == 0) {
    q->watermark_ms = q->ran_watermark_ms = INT64_MIN;
  } else {
    if (q->watermark_ms < 0) q->watermark_ms = 0;
    if (q->ran_watermark_ms < 0) q->ran_watermark_ms = 0;
  }
  if (last_off < 0) return SR_OK;
  return check_ends(q, last_off, q->logged_ends, err) != SR_OK ||
         (q->prev_ends && check_ends(q, q->replay ? last_off - 1 : last_off, q->prev_ends, err) != SR_OK)
             ? SR_ERROR : SR_OK;
}

/* The sink's own log against the checkpoint (ckpt.c I5): a batch the sink committed that
** offsets/ does not have, or a commit the sink's complete log does not have, means files of
** one or the other were removed or replaced; going on would skip or repeat output. */
static sr_status check_sink_log(sr_query *q, sr_error **err) {
  if (!q->sink.ops->committed) return SR_OK;
  int64_t sink_batch = -1;
  int every = 0;
  char where[4200] = "";
  if (q->sink.ops->committed(&q->sink, &sink_batch, &every, where, sizeof where, err) != SR_OK)
    return SR_ERROR;
  int64_t last_off = sr_ckpt_latest_offsets(q->ckpt), last_commit = sr_ckpt_latest_commit(q->ckpt);
  if (sink_batch > last_off)
    return sr_error_set(err, SR_ERROR,
                        "the %s sink's log %s records batch %" PRId64 " as written by this query, "
                        "but the checkpoint %s has offsets only up to batch %" PRId64 ": its "
                        "offsets/%" PRId64 " is missing (removed or replaced?). Refusing to guess",
                        q->sink.ops->name, where, sink_batch, sr_ckpt_dir(q->ckpt), last_off, last_off + 1);
  if (every && sink_batch < last_commit)
    return sr_error_set(err, SR_ERROR,
                        "the checkpoint %s has commits/%" PRId64 ", but the %s sink's log %s ends at "
                        "batch %" PRId64 ": %s/%" PRId64 " is missing (removed or replaced?). Refusing "
                        "to guess", sr_ckpt_dir(q->ckpt), last_commit, q->sink.ops->name, where,
                        sink_batch, where, sink_batch + 1);
  return SR_OK;
}

static void close_stores(sr_query *q) {
  for (int i = 0; q->stores && i < q->spec->nstateful; i++) {
    sr_state_parts_close(q->stores[i]);
    q->stores[i] = NULL;
  }
}

/* minBatchesToRetain (Spark's spark.sql.streaming.minBatchesToRetain): how many batches of
** offsets, commits and state versions recovery keeps. */
static int64_t retained_batches(const sr_query *q) {
  return q->spec->min_batches_to_retain > 0 ? q->spec->min_batches_to_retain : 100;
}

/* Opens every stateful operator's store at exactly the version batch next_batch reads: the
** state after batches 0..next_batch-1 (Spark's versioning). Also used to roll back: a batch
** that failed after its stores committed re-runs against the version before it. */
static sr_status open_stores(sr_query *q, sr_error **err) {
  close_stores(q);
  if (!q->stores) q->stores = calloc((size_t)(q->spec->nstateful + 1), sizeof *q->stores);
  if (!q->stores) return sr_error_set(err, SR_ERROR, "out of memory");
  for (int i = 0; i < q->spec->nstateful; i++) {
    char *dir = subdir(q, "state/%d", i, err);
    if (!dir) return SR_ERROR;
    sr_state_options o = {.min_versions_to_retain = retained_batches(q)};
    q->stores[i] = sr_state_parts_open(dir, q->state_partitions, q->next_batch, &o, err);
    free(dir);
    if (!q->stores[i]) {
      if (*err) sr_error_prefix(*err, "state of operator %d (%s)", i, q->spec->stateful_sigs[i]);
      return SR_ERROR;
    }
  }
  return SR_OK;
}

sr_query *sr_query_open(sr_query_spec *spec, const char *job_dir, FILE *progress_file, sr_error **err) {
  sr_query *q = calloc(1, sizeof *q);
  if (!q) {
    sr_query_spec_free(spec);
    sr_error_set(err, SR_ERROR, "out of memory");
    return NULL;
  }
  q->spec = spec;
  q->progress_file = progress_file;
  if (open_checkpoint(q, err) != SR_OK) goto fail;
  if (check_plan(q, err) != SR_OK) goto fail;
  {
    char bad_dir[4200];
    const char *opt_bad = NULL;
    for (int i = 0; i < spec->nsources && !opt_bad; i++)
      opt_bad = sr_opt_str(spec->sources[i].options, NULL, "badRecordsPath", NULL);
    if (opt_bad) snprintf(bad_dir, sizeof bad_dir, "%s", opt_bad);
    else sr_ckpt_path(q->ckpt, "bad_records", bad_dir, sizeof bad_dir);
    q->bad = sr_bad_records_new(bad_dir);
  }
  q->wm_max_event = calloc((size_t)(spec->nwatermarks ? spec->nwatermarks : 1), sizeof(int64_t));
  q->sources = calloc((size_t)(spec->nsources ? spec->nsources : 1), sizeof(sr_source));
  q->source_state_dirs = calloc((size_t)(spec->nsources ? spec->nsources : 1), sizeof(char *));
  q->rows_in_per_source = calloc((size_t)(spec->nsources ? spec->nsources : 1), sizeof(int64_t));
  if (!q->bad || !q->wm_max_event || !q->sources || !q->source_state_dirs || !q->rows_in_per_source) {
    sr_error_set(err, SR_ERROR, "out of memory");
    goto fail;
  }
  for (int i = 0; i < spec->nwatermarks; i++) q->wm_max_event[i] = INT64_MIN;
  if (find_resume_point(q, err) != SR_OK) goto fail;
  for (int i = 0; i < spec->nsources; i++) {
    sr_query_source_spec *ss = &spec->sources[i];
    sr_source *src = &q->sources[i];
    if (!(q->source_state_dirs[i] = subdir(q, "sources/%d", i, err))) goto fail;
    src->ops = ss->ops;
    src->available_now = spec->trigger == SR_TRIGGER_AVAILABLE_NOW || spec->trigger == SR_TRIGGER_ONCE;
    fill_config(q, &src->cfg, ss->options, ss->schema, q->source_state_dirs[i], job_dir);
    src->ignore_limits = spec->trigger == SR_TRIGGER_ONCE;
    src->cfg.resume_end = q->logged_ends ? json_array_get(q->logged_ends, (size_t)i) : NULL;
    if (json_is_null(src->cfg.resume_end)) src->cfg.resume_end = NULL;
    q->nopen_sources = i + 1;
    if (ss->ops->open(src, &src->cfg, err) != SR_OK) {
      if (*err) sr_error_prefix(*err, "%s: %s source", ss->where, ss->ops->name);
      goto fail;
    }
  }
  if (open_stores(q, err) != SR_OK) goto fail;
  if (!(q->sink_state_dir = subdir(q, "sink", 0, err))) goto fail;
  q->sink.ops = spec->sink_ops;
  fill_config(q, &q->sink.cfg, spec->sink_options, spec->output_schema, q->sink_state_dir, job_dir);
  q->sink.cfg.columns = (const char *const *)spec->output_columns;
  q->sink.cfg.schema_guessed = spec->output_schema_guessed;
  if (spec->sink_ops->open(&q->sink, &q->sink.cfg, err) != SR_OK) {
    if (*err) sr_error_prefix(*err, "%s: %s sink", spec->where, spec->sink_ops->name);
    goto fail;
  }
  q->sink_open = 1;
  if (check_sink_log(q, err) != SR_OK) goto fail;
  {
    char pdir[4200];
    sr_ckpt_path(q->ckpt, "progress", pdir, sizeof pdir);
    sr_progress_init(&q->progress, pdir, spec->name, sr_ckpt_query_id(q->ckpt));
    snprintf(q->run_id, sizeof q->run_id, "%s", q->progress.run_id);
  }
  return q;
fail:
  sr_query_close(q);
  return NULL;
}

void sr_query_close(sr_query *q) {
  if (!q) return;
  if (q->sink_open && q->sink.ops->close) q->sink.ops->close(&q->sink);
  if (q->stores) close_stores(q);
  free(q->stores);
  for (int i = 0; i < q->nopen_sources; i++)
    if (q->sources[i].ops->close) q->sources[i].ops->close(&q->sources[i]);
  for (int i = 0; q->source_state_dirs && q->spec && i < q->spec->nsources; i++)
    free(q->source_state_dirs[i]);
  free(q->source_state_dirs);
  free(q->sink_state_dir);
  free(q->sources);
  free(q->wm_max_event);
  free(q->rows_in_per_source);
  json_decref(q->prev_ends);
  json_decref(q->logged_ends);
  sr_bad_records_free(q->bad);
  sr_progress_free(&q->progress);
  sr_ckpt_close(q->ckpt);
  if (q->tmp_ckpt) sr_fs_remove_tree(q->tmp_ckpt, NULL);
  free(q->tmp_ckpt);
  sr_query_spec_free(q->spec);
  free(q);
}

/* --- one batch ------------------------------------------------------------------------ */

/* What a batch knows while it runs; passed through the protected call. */
typedef struct batch {
  sr_query *q;
  sr_job_lua *jl;
  int64_t id;
  json_t *ends;             /* this batch's end offsets, per source */
  sr_batch_meta meta;
  int64_t rows_in, rows_out; /* rows per source: q->rows_in_per_source */
  sr_status status;         /* of a connector call that failed inside the Lua call */
  sr_error *err;
  /* event-time statistics the batch function reported, per watermark operator */
  double et_min, et_max, et_sum, et_count;
  json_t *op_metrics;       /* per stateful operator: what it reported, then the store's stats */
} batch;

static const json_t *start_of(sr_query *q, int i) {
  return q->prev_ends ? json_array_get(q->prev_ends, (size_t)i) : NULL;
}

static int is_null(const json_t *v) { return v == NULL || json_is_null(v); }

/* Reads source i's rows of batch b and sets *n: into *view (read_view), or into an array of
** row tables pushed on L (read). Returns 0 with nothing pushed and b->status, b->err set. */
static int read_input(batch *b, int i, lua_State *L, sr_row_view *view, int *n) {
  sr_query *q = b->q;
  sr_source *src = &q->sources[i];
  const json_t *start = start_of(q, i), *end = json_array_get(b->ends, (size_t)i);
  int has_rows = !is_null(end) && !json_equal((json_t *)start, (json_t *)end);
  const json_t *from = is_null(start) ? NULL : start;
  *n = 0;
  memset(view, 0, sizeof *view);
  if (src->ops->read_view) {
    if (has_rows) b->status = src->ops->read_view(src, from, end, view, &b->err);
    *n = view->count;
  } else {
    lua_newtable(L);
    if (has_rows) b->status = src->ops->read(src, from, end, L, lua_gettop(L), n, &b->err);
    if (b->status != SR_OK) lua_pop(L, 1);
  }
  if (b->status != SR_OK) {
    if (b->err) sr_error_prefix(b->err, "%s: %s source", q->spec->sources[i].where, src->ops->name);
    return 0;
  }
  return 1;
}

static void set_sink_error_prefix(batch *b) {
  if (b->status != SR_OK && b->err)
    sr_error_prefix(b->err, "%s: %s sink, batch %" PRId64, b->q->spec->where, b->q->sink.ops->name, b->id);
}

/* A query whose plan hands its one source's rows to the sink untouched (desc.direct), where
** the sink can read the source's records in C: the sink writes them, and no row is made in
** Lua. Returns 1 when it wrote the batch (or failed: b->status). */
static int write_direct(batch *b, lua_State *L, int desc, const sr_row_view *view) {
  if (!view->columns || !b->q->sink.ops->write_view || b->q->spec->nsources != 1) return 0;
  lua_getfield(L, desc, "direct");
  int direct = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (!direct) return 0;
  b->rows_out = view->count;
  b->status = b->q->sink.ops->write_view(&b->q->sink, b->id, view, &b->err);
  set_sink_error_prefix(b);
  return 1;
}

/* Pushes inputs[i] = {rows = {...}, n = count}, or {view = records, n = count} (sr_row_view),
** one per source. Returns 0 when the batch ends here: a read failed (b->status), or the sink
** wrote the one source's records itself (write_direct). */
static int push_inputs(batch *b, lua_State *L, int desc) {
  sr_query *q = b->q;
  sr_query_spec *s = q->spec;
  lua_createtable(L, s->nsources, 0);
  int inputs = lua_gettop(L);
  for (int i = 0; i < s->nsources; i++) {
    sr_row_view view;
    int n = 0;
    if (!read_input(b, i, L, &view, &n)) return 0;
    q->rows_in_per_source[i] = n;
    b->rows_in += n;
    if (q->sources[i].ops->read_view) {
      if (write_direct(b, L, desc, &view)) return 0;
      lua_pushlightuserdata(L, (void *)view.records);
    }
    lua_createtable(L, 0, 2);
    lua_insert(L, -2);
    lua_setfield(L, -2, q->sources[i].ops->read_view ? "view" : "rows");
    lua_pushinteger(L, n);
    lua_setfield(L, -2, "n");
    lua_rawseti(L, inputs, i + 1);
  }
  return 1;
}

/* Pushes the batch function's ctx: the batch's id, watermark and time, the state stores and a
** table per stateful operator for what it reports. */
static void push_ctx(batch *b, lua_State *L) {
  sr_query *q = b->q;
  sr_query_spec *s = q->spec;
  lua_createtable(L, 0, 6);
  int ctx = lua_gettop(L);
  lua_pushnumber(L, (lua_Number)b->id);
  lua_setfield(L, ctx, "batch_id");
  if (b->meta.watermark_ms != INT64_MIN) {
    lua_pushnumber(L, (lua_Number)b->meta.watermark_ms);
    lua_setfield(L, ctx, "watermark_ms");
  }
  lua_pushnumber(L, (lua_Number)b->meta.batch_ts_ms);
  lua_setfield(L, ctx, "batch_ts_ms");
  lua_createtable(L, s->nstateful, 0);
  for (int i = 0; i < s->nstateful; i++) {
    sr_lua_push_state(L, q->stores[i], 0);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, ctx, "stores");
  lua_createtable(L, s->nstateful, 0);
  for (int i = 0; i < s->nstateful; i++) {
    lua_newtable(L);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, ctx, "state_metrics");
}

/* The state handles in ctx.stores serve this batch only: one the job kept raises from now on. */
static void detach_stores(batch *b, lua_State *L, int ctx) {
  lua_getfield(L, ctx, "stores");
  for (int i = 0; i < b->q->spec->nstateful; i++) {
    lua_rawgeti(L, -1, i + 1);
    sr_lua_state_detach(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* Event time statistics, folded over the watermark operators for progress (ctx.event_time). */
static void fold_event_time(batch *b, lua_State *L, int ctx) {
  sr_query *q = b->q;
  lua_getfield(L, ctx, "event_time");
  for (int w = 0; w < q->spec->nwatermarks && lua_istable(L, -1); w++) {
    lua_rawgeti(L, -1, w + 1);
    lua_getfield(L, -1, "count");
    double count = lua_tonumber(L, -1);
    lua_getfield(L, -2, "max");
    double mx = lua_tonumber(L, -1);
    lua_getfield(L, -3, "min");
    double mn = lua_tonumber(L, -1);
    lua_getfield(L, -4, "sum");
    double sum = lua_tonumber(L, -1);
    lua_pop(L, 5);
    if (count > 0) {
      if ((int64_t)mx > q->wm_max_event[w]) q->wm_max_event[w] = (int64_t)mx;
      if (b->et_count == 0 || mn < b->et_min) b->et_min = mn;
      if (b->et_count == 0 || mx > b->et_max) b->et_max = mx;
      b->et_sum += sum;
      b->et_count += count;
    }
  }
  lua_pop(L, 1);
}

/* What each stateful operator reported (numRowsDroppedByWatermark, ...), for progress
** (ctx.state_metrics). */
static void fold_state_metrics(batch *b, lua_State *L, int ctx) {
  lua_getfield(L, ctx, "state_metrics");
  for (int i = 0; i < b->q->spec->nstateful && lua_istable(L, -1) && b->op_metrics; i++) {
    lua_rawgeti(L, -1, i + 1);
    json_t *m = json_array_get(b->op_metrics, (size_t)i);
    if (lua_istable(L, -1) && m) {
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TNUMBER)
          json_object_set_new(m, lua_tostring(L, -2), json_integer((json_int_t)lua_tonumber(L, -1)));
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* Reads the sources, runs the batch function, writes the sink: all inside one lua_pcall.
** [-1 (the batch userdata), +0, e] */
static int batch_in_lua(lua_State *L) {
  batch *b = lua_touserdata(L, 1);
  sr_query *q = b->q;
  /* the compiled query descriptor */
  lua_rawgeti(L, LUA_REGISTRYINDEX, b->jl->descs_ref);
  lua_rawgeti(L, -1, q->spec->index);
  int desc = lua_gettop(L);
  lua_getfield(L, desc, "run");
  int run = lua_gettop(L);
  if (!push_inputs(b, L, desc)) return 0;
  int inputs = lua_gettop(L);
  push_ctx(b, L);
  int ctx = lua_gettop(L);
  lua_pushvalue(L, run);
  lua_pushvalue(L, inputs);
  lua_pushvalue(L, ctx);
  lua_call(L, 2, 2);
  detach_stores(b, L, ctx);
  int nout = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  int out = lua_gettop(L);
  b->rows_out = nout;
  fold_event_time(b, L, ctx);
  fold_state_metrics(b, L, ctx);
  lua_getfield(L, desc, "sink");
  lua_getfield(L, -1, "spec");
  int spec = lua_gettop(L);
  b->status = q->sink.ops->write(&q->sink, b->id, L, out, nout, spec, &b->err);
  set_sink_error_prefix(b);
  return 0;
}

/* Plans batch next_batch from every source. Sets b->ends; *has_data = 0 when none has new data. */
static sr_status plan_batch(sr_query *q, batch *b, int *has_data, sr_error **err) {
  sr_query_spec *s = q->spec;
  b->ends = json_array();
  *has_data = 0;
  for (int i = 0; i < s->nsources; i++) {
    sr_source *src = &q->sources[i];
    const json_t *start = start_of(q, i);
    json_t *end = NULL;
    sr_status st = src->ops->plan(src, is_null(start) ? NULL : start, &end, err);
    if (st != SR_OK) {
      if (*err) sr_error_prefix(*err, "%s: %s source", s->sources[i].where, src->ops->name);
      return st;
    }
    if (end && !json_equal(end, (json_t *)start)) {
      *has_data = 1;
      json_array_append_new(b->ends, end);
    } else {
      json_decref(end);
      json_array_append_new(b->ends, start ? json_deep_copy(start) : json_null());
    }
  }
  return SR_OK;
}

/* The watermark after this batch, as Spark's WatermarkTracker.updateWatermark: each
** with_watermark operator's max event time minus its delay, 0 for an operator that has seen no
** data yet ("populate 0 if we haven't seen any data yet"), so a busy input cannot make an idle
** one's first rows late; the minimum of them (MinWatermark) or, with multipleWatermarkPolicy
** "max", the maximum (MaxWatermark); never below the current watermark, which starts at 0. */
static int64_t next_watermark(sr_query *q) {
  if (q->spec->nwatermarks == 0) return q->watermark_ms;
  int64_t chosen = 0;
  for (int i = 0; i < q->spec->nwatermarks; i++) {
    int64_t w = q->wm_max_event[i] == INT64_MIN ? 0 : q->wm_max_event[i] - q->spec->watermark_delay_ms[i];
    if (i == 0 || (q->wm_policy_max ? w > chosen : w < chosen)) chosen = w;
  }
  return chosen > q->watermark_ms ? chosen : q->watermark_ms;
}

static void record_progress(sr_query *q, batch *b, int64_t t_start, int64_t t_planned,
                            int64_t t_logged, int64_t t_ran, int64_t t_end) {
  sr_progress_batch pb;
  memset(&pb, 0, sizeof pb);
  pb.batch_id = b->id;
  pb.timestamp_ms = b->meta.batch_ts_ms;
  pb.num_input_rows = b->rows_in;
  pb.num_output_rows = b->rows_out;
  pb.num_bad_records = sr_bad_records_count(q->bad);
  pb.latest_offset_ms = t_planned - t_start;
  pb.wal_commit_ms = t_logged - t_planned;
  pb.add_batch_ms = t_ran - t_logged;
  pb.commit_ms = t_end - t_ran;
  pb.trigger_ms = t_end - t_start;
  pb.has_event_time = b->et_count > 0;
  pb.et_min = b->et_min;
  pb.et_max = b->et_max;
  pb.et_avg = b->et_count > 0 ? b->et_sum / b->et_count : 0;
  pb.watermark_ms = b->meta.watermark_ms;
  json_t *sources = json_array();
  for (int i = 0; i < q->spec->nsources; i++) {
    json_t *o = json_object();
    json_object_set_new(o, "description", json_string(q->sources[i].ops->name));
    const json_t *start = start_of(q, i);
    json_object_set_new(o, "startOffset", start ? json_deep_copy(start) : json_null());
    json_object_set_new(o, "endOffset", json_deep_copy(json_array_get(b->ends, (size_t)i)));
    json_object_set_new(o, "numInputRows", json_integer(q->rows_in_per_source[i]));
    if (q->sources[i].ops->describe) q->sources[i].ops->describe(&q->sources[i], o);
    json_array_append_new(sources, o);
  }
  json_t *sink = json_object();
  json_object_set_new(sink, "description", json_string(q->sink.ops->name));
  json_object_set_new(sink, "numOutputRows", json_integer(b->rows_out));
  if (q->sink.ops->describe) q->sink.ops->describe(&q->sink, sink);
  pb.sources = sources;
  pb.sink = sink;
  /* luaMemoryBytes: in use at the batch's end, before its collection; luaHeapBytes: held from
  ** the system (the high-water mark; a trim gives free pages back but keeps them mapped) */
  sr_lua_heap *heap = sr_lua_heap_of(b->jl->L);
  pb.extra = json_pack("{s:I,s:I,s:I,s:I}", "reloads", (json_int_t)b->jl->reloads, "reloadRefusals",
                       (json_int_t)b->jl->reload_refusals, "luaMemoryBytes",
                       (json_int_t)sr_lua_memory(b->jl->L), "luaHeapBytes",
                       (json_int_t)(heap ? sr_lua_heap_reserved(heap) : sr_lua_memory(b->jl->L)));
  pb.state_operators = json_array();
  for (int i = 0; i < q->spec->nstateful; i++) {
    json_t *o = json_object();
    json_object_set_new(o, "operatorName", json_string(q->spec->stateful_sigs[i]));
    json_object_set_new(o, "numRowsDroppedByWatermark", json_integer(0));
    json_object_update(o, json_array_get(b->op_metrics, (size_t)i));
    json_array_append_new(pb.state_operators, o);
  }
  sr_progress_emit(&q->progress, &pb, q->progress_file);
  json_decref(sources);
  json_decref(sink);
  json_decref(pb.state_operators);
  json_decref(pb.extra);
}

static sr_status commit_batch(sr_query *q, batch *b, sr_error **err) {
  if (sr_bad_records_flush(q->bad, err) != SR_OK) return SR_ERROR;
  for (int i = 0; i < q->spec->nstateful; i++) {
    /* a commit resets the per-version counts: read them first, the totals after */
    sr_state_stats before, after;
    sr_state_parts_get_stats(q->stores[i], &before);
    if (sr_state_parts_commit(q->stores[i], err) != SR_OK) return SR_ERROR;
    sr_state_parts_get_stats(q->stores[i], &after);
    json_t *o = json_array_get(b->op_metrics, (size_t)i);
    /* an operator whose store holds more than state rows (indexes) counts its rows itself */
    if (!json_object_get(o, "numRowsTotal"))
      json_object_set_new(o, "numRowsTotal", json_integer(after.num_rows_total));
    if (!json_object_get(o, "numRowsUpdated"))
      json_object_set_new(o, "numRowsUpdated", json_integer(before.num_rows_updated));
    if (!json_object_get(o, "numRowsRemoved"))
      json_object_set_new(o, "numRowsRemoved", json_integer(before.num_rows_removed));
    json_object_set_new(o, "memoryUsedBytes", json_integer(after.memory_used_bytes));
    /* Spark's StateOperatorProgress: one store per partition here (Spark's join has four) */
    json_object_set_new(o, "numShufflePartitions", json_integer(q->state_partitions));
    json_object_set_new(o, "numStateStoreInstances", json_integer(q->state_partitions));
    json_object_set_new(o, "commitTimeMs", json_integer(after.commit_time_ms));
  }
  sr_crash_point("after_state_commit", b->id);
  sr_status st = q->sink.ops->commit(&q->sink, b->id, err);
  if (st != SR_OK) {
    if (*err) sr_error_prefix(*err, "%s: %s sink commit, batch %" PRId64, q->spec->where,
                              q->sink.ops->name, b->id);
    return st;
  }
  sr_crash_point("after_sink_commit", b->id);
  int64_t wm = next_watermark(q);
  if (sr_ckpt_write_commit(q->ckpt, b->id, wm, q->wm_max_event, q->spec->nwatermarks, err) != SR_OK)
    return SR_ERROR;
  sr_crash_point("after_commit_log", b->id);
  q->watermark_ms = wm;
  for (int i = 0; i < q->spec->nsources; i++) {
    sr_source *src = &q->sources[i];
    const json_t *end = json_array_get(b->ends, (size_t)i);
    if (src->ops->commit && !is_null(end) && src->ops->commit(src, end, err) != SR_OK) {
      /* the batch is committed: a failed cleanup is reported, not undone */
      return SR_ERROR;
    }
  }
  /* as MicroBatchExecution's purge: batches from id - minBatchesToRetain on stay */
  int64_t retain = retained_batches(q);
  if (b->id >= retain) sr_ckpt_prune(q->ckpt, b->id - retain);
  return SR_OK;
}

/* Does an idle query still owe a batch? When the watermark moved after the last batch ran,
** state may wait to be emitted or evicted by it: a batch runs without new data (Spark's no-data
** batch, StateStoreWriter.shouldRunAnotherBatch). An operator acting on the clock (processing-
** time timeouts) gets one at every processingTime trigger, as FlatMapGroupsWithStateExec asks;
** once/availableNow still end when the data does. A query whose operators all ignore the
** watermark (complete-mode aggregations: StateStoreSaveExec asks for no batch then) gets none. */
static int needs_no_data_batch(sr_query *q) {
  if (q->spec->nstateful > 0 && q->spec->no_data_batches && q->spec->trigger == SR_TRIGGER_PROCESSING_TIME)
    return 1;
  return q->spec->nstateful > 0 && q->spec->watermark_batches &&
         (q->watermark_ms > q->ran_watermark_ms || next_watermark(q) > q->watermark_ms);
}

static int all_drained(sr_query *q) {
  for (int i = 0; i < q->spec->nsources; i++) {
    sr_source *src = &q->sources[i];
    if (!src->ops->drained) continue;
    if (!src->ops->drained(src, start_of(q, i))) return 0;
  }
  return 1;
}

/* 1 when the query will end at its next step: its trigger runs what is there and stops, and
** nothing is left (the step's own test, before planning, decides). */
static int ends_after(sr_query *q) {
  if (q->spec->trigger == SR_TRIGGER_ONCE) return 1;
  return q->spec->trigger == SR_TRIGGER_AVAILABLE_NOW && all_drained(q) && !needs_no_data_batch(q);
}

/* New memory a batch may make before the collector runs during it (see sr_query_step). */
#define BATCH_HEADROOM ((size_t)256 << 20)
#define LUAJIT_PAUSE 200 /* LuaJIT's default: a cycle starts when the heap doubles */

/* Sets the collector's threshold to the heap now plus BATCH_HEADROOM, or half the way to the
** job's --memory-limit when that is nearer (LuaJIT does not collect and retry when an
** allocation fails: garbage must be collected before the limit is reached). LuaJIT sets the
** threshold from the pause (threshold = heap * pause / 100) when restarted with -1; the pause
** goes back to the default at once, for the cycles that follow within the batch. */
static void batch_gc_threshold(lua_State *L) {
  size_t heap = sr_lua_memory(L), headroom = BATCH_HEADROOM;
  sr_lua_heap *h = sr_lua_heap_of(L);
  size_t limit = h ? sr_lua_heap_limit(h) : 0;
  if (limit && limit > heap && (limit - heap) / 2 < headroom) headroom = (limit - heap) / 2;
  if (heap == 0) heap = 1;
  double pause = 100.0 * (double)(heap + headroom) / (double)heap;
  lua_gc(L, LUA_GCSETPAUSE, pause > 1e9 ? 1000000000 : (int)pause);
  lua_gc(L, LUA_GCRESTART, -1);
  lua_gc(L, LUA_GCSETPAUSE, LUAJIT_PAUSE);
}

/* After a peak, memory goes back to the system: when the heap holds BATCH_HEADROOM more than
** the batch that just ran used (live and garbage, before its collection), and four times as
** much, its free pages are given back (lua_alloc.c's trim). Once per high-water mark: the
** trim walks every free block, and a job whose batches need the memory keeps it. */
static void trim_after_peak(sr_job_lua *jl, size_t used) {
  sr_lua_heap *heap = sr_lua_heap_of(jl->L);
  if (!heap) return;
  size_t reserved = sr_lua_heap_reserved(heap);
  if (reserved <= jl->trimmed_reserved || reserved < used + BATCH_HEADROOM || used > reserved / 4)
    return;
  sr_lua_heap_trim(heap);
  jl->trimmed_reserved = reserved;
}

/* 1. plan: batch b's offsets, read back from offsets/N on a replay, else planned. Returns
** SR_OK with *run = 0 when there is no batch to run (*step DONE when the query ends). */
static sr_status step_plan(sr_query *q, batch *b, sr_step *step, int *run, sr_error **err) {
  sr_query_spec *s = q->spec;
  *run = 0;
  if (q->replay) {
    if (sr_ckpt_read_offsets(q->ckpt, b->id, &b->meta, &b->ends, err) != SR_OK) return SR_ERROR;
    /* a log written before the watermark started at 0 has none: Spark's is 0 */
    if (s->nwatermarks > 0 && b->meta.watermark_ms < 0) b->meta.watermark_ms = 0;
    if (s->nwatermarks == 0) b->meta.watermark_ms = INT64_MIN;
    *run = 1;
    return SR_OK;
  }
  int has_data;
  sr_status st = plan_batch(q, b, &has_data, err);
  if (st != SR_OK) return st;
  if (!has_data && !needs_no_data_batch(q)) {
    if (s->trigger == SR_TRIGGER_ONCE ||
        (s->trigger == SR_TRIGGER_AVAILABLE_NOW && all_drained(q)))
      *step = SR_STEP_DONE;
    return SR_OK;
  }
  b->meta.watermark_ms = q->watermark_ms;
  b->meta.batch_ts_ms = sr_now_wall_ms();
  b->meta.watermark_policy = q->wm_policy_max ? "max" : "min";
  b->meta.state_partitions = q->state_partitions;
  *run = 1;
  return SR_OK;
}

/* 2. log: offsets/N written (a replay's is there already). */
static sr_status step_log(sr_query *q, batch *b, sr_error **err) {
  if (q->replay) return SR_OK;
  if (sr_ckpt_write_offsets(q->ckpt, b->id, &b->meta, b->ends, err) != SR_OK) return SR_ERROR;
  q->replay = 1; /* from here on, a retry re-runs exactly these offsets */
  sr_crash_point("after_offsets", b->id);
  return SR_OK;
}

/* 3. run: batch_in_lua in one protected call, under the batch's timeout. */
static sr_status step_run(sr_query *q, sr_job_lua *jl, batch *b, sr_error **err) {
  sr_query_spec *s = q->spec;
  sr_bad_records_begin(q->bad, b->id);
  lua_State *L = jl->L;
  sr_lua_set_bad_records(L, q->bad);
  lua_pushcfunction(L, batch_in_lua);
  lua_pushlightuserdata(L, b);
  /* No collection while a batch runs, as long as it stays under BATCH_HEADROOM of new memory,
  ** and a full one after it (STYLE.md, "Memory"). A batch makes its rows and drops them all at
  ** its end; the incremental collector, run during the batch, only re-marks the live rows again
  ** and again while garbage piles up in fresh pages. On the JSON filter bench this halved CPU
  ** time and cut peak RSS from 350 MB to 53 MB. A batch whose user code makes garbage without
  ** bound (a map making 20 million short-lived tables) is collected once it has made the
  ** headroom, then as LuaJIT's collector would (its default pause of 200%), instead of growing
  ** to gigabytes. The collector must be between two cycles here: in the middle of sweeping the
  ** string table, LuaJIT cannot grow that table (lj_str_resize), and a batch that makes
  ** 100,000 new strings then walks ever longer hash chains (a kafka -> map -> noop batch took
  ** 0.2 s or, in half the runs, 1-2 s). After a batch's full collection it is; in a new state,
  ** where loading the job ran collection steps, a full collection first makes it so. */
  if (jl->collect_first) {
    lua_gc(L, LUA_GCCOLLECT, 0);
    jl->collect_first = 0;
  }
  batch_gc_threshold(L);
  char label[300];
  snprintf(label, sizeof label, "query %s, batch %" PRId64, s->name, b->id);
  sr_guard_begin(L, s->batch_timeout_ms, label);
  int rc = sr_lua_pcall(L, 1, 0);
  q->interrupted = sr_guard_end() == SR_GUARD_STOP;
  if (rc != 0) {
    sr_status st;
    const char *msg = lua_tostring(L, -1);
    sr_lua_heap *heap = sr_lua_heap_of(L);
    if (heap && sr_lua_heap_refused(heap))
      st = sr_error_set(err, SR_ERROR, "%s: batch %" PRId64 " failed: the job's Lua heap reached "
                        "--memory-limit (%zu MB): %s", s->where, b->id,
                        sr_lua_heap_reserved(heap) >> 20, msg ? msg : "(no message)");
    else
      st = sr_error_set(err, SR_ERROR, "%s: batch %" PRId64 " failed: %s", s->where, b->id,
                        msg ? msg : "(no message)");
    lua_pop(L, 1);
    sr_error_free(b->err);
    return st;
  }
  if (b->status != SR_OK) {
    sr_error_free(*err);
    *err = b->err;
    return b->status;
  }
  sr_crash_point("after_sink_write", b->id);
  return SR_OK;
}

/* After 4. commit: the query moves on to the next batch, and the batch's memory is collected. */
static void step_advance(sr_query *q, sr_job_lua *jl, batch *b) {
  q->ran_watermark_ms = b->meta.watermark_ms;
  json_decref(q->prev_ends);
  q->prev_ends = b->ends;
  b->ends = NULL;
  q->replay = 0;
  q->ran_once = 1;
  q->next_batch++;
  /* See step_run: between batches, never in the middle of one. After a query's last batch the
  ** collection would only free what the state's end frees anyway (a 100,000-row batch took
  ** 45 ms to collect): it is left to that, or to the next batch run in this state. */
  if (ends_after(q)) jl->collect_first = 1;
  else {
    size_t used = sr_lua_memory(jl->L);
    lua_gc(jl->L, LUA_GCCOLLECT, 0);
    trim_after_peak(jl, used);
  }
}

/* One batch, in the order of the top of this file: plan, log, run, commit. */
sr_status sr_query_step(sr_query *q, sr_job_lua *jl, sr_step *step, sr_error **err) {
  sr_query_spec *s = q->spec;
  *step = SR_STEP_IDLE;
  if (s->trigger == SR_TRIGGER_ONCE && q->ran_once && !q->replay) {
    *step = SR_STEP_DONE;
    return SR_OK;
  }
  batch b;
  memset(&b, 0, sizeof b);
  b.q = q;
  b.jl = jl;
  b.id = q->next_batch;
  b.op_metrics = json_array();
  memset(q->rows_in_per_source, 0, (size_t)s->nsources * sizeof *q->rows_in_per_source);
  for (int i = 0; i < s->nstateful; i++) json_array_append_new(b.op_metrics, json_object());
  int64_t t_start = sr_now_mono_ms();
  int run;
  sr_status st = step_plan(q, &b, step, &run, err);
  if (st != SR_OK || !run) goto done;
  int64_t t_planned = sr_now_mono_ms();
  if ((st = step_log(q, &b, err)) != SR_OK) goto done;
  int64_t t_logged = sr_now_mono_ms();
  if ((st = step_run(q, jl, &b, err)) != SR_OK) goto done;
  int64_t t_ran = sr_now_mono_ms();
  if ((st = commit_batch(q, &b, err)) != SR_OK) goto done;
  record_progress(q, &b, t_start, t_planned, t_logged, t_ran, sr_now_mono_ms());
  step_advance(q, jl, &b);
  *step = SR_STEP_RAN;
done:
  if (st != SR_OK && s->nstateful > 0) {
    /* the next attempt of this batch must read the state as it was before it */
    sr_error *serr = NULL;
    if (open_stores(q, &serr) != SR_OK) {
      sr_error_free(*err);
      *err = serr;
      st = SR_ERROR;
    }
  }
  json_decref(b.op_metrics);
  json_decref(b.ends);
  return st;
}
