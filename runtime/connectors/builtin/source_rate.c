/*
** The "rate" source, as Spark's RateStreamProvider / RateStreamMicroBatchStream: rows
** {timestamp = ms, value = 0, 1, 2, ...}, rowsPerSecond of them per second after a linear
** ramp-up over rampUpTime, in whole seconds counted from the query's start time.
**
** Spark's arithmetic, kept: at S seconds after the start, valueAtSecond(S) values exist
** (during the ramp-up the speed grows by rowsPerSecond / (rampUpTime + 1) each second); a
** batch covering seconds (S0, S1] holds the values [v0, v1) and gives value v the timestamp
** start + S0 * 1000 + round((v - v0) * (S1 - S0) * 1000 / (v1 - v0)), spreading them evenly
** over the batch's seconds.
**
** Offsets: {"value": next value, "seconds": S, "startTimeMs": start}. read() uses only the
** offsets, so a replay gives the same rows even if the options changed; plan() continues the
** values from the logged offset (adding valueAtSecond(S1) - valueAtSecond(S0)).
**
** The start time: like Spark's sources/0 metadata log, it is fixed the first time the query
** opens the source and kept in <state_dir>/rate-start.json (a checked file), so a
** restarted query continues the same timeline. A logged offset's startTimeMs wins over the
** file: the engine's log is what replays must agree with.
**
** Where Spark runs a batch with no rows while the ramp-up has not produced a new value yet,
** plan() here waits (no batch) and the next batch covers those seconds too.
** availableNow: the seconds that had elapsed when the source opened; drained() after them.
** numPartitions is accepted and checked; rows are one stream here.
*/
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connector.h"
#include "fsutil.h"
#include "lua_aux.h"

#define START_FILE "rate-start.json"

static int64_t realtime_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The wall clock the rate source reads (ms since the epoch); tests replace it. */
int64_t (*sr_source_rate_clock_ms)(void) = realtime_ms;

static const sr_option_spec rate_options[] = {
  {"rowsPerSecond", SR_OPT_INT, "1", "rows generated per second (after the ramp-up)"},
  {"rampUpTime", SR_OPT_STRING, "0",
   "time to reach rowsPerSecond, e.g. \"5 seconds\" or 5; whole seconds (finer is truncated)"},
  {"numPartitions", SR_OPT_INT, NULL, "accepted for Spark compatibility; rows are one stream"},
  {NULL, 0, NULL, NULL},
};

typedef struct rate_source {
  int64_t rows_per_second;
  int64_t ramp_up_seconds;
  int64_t num_partitions;   /* 0: not given */
  int64_t max_seconds;      /* beyond it valueAtSecond overflows */
  int64_t start_time_ms;    /* second 0 of the timeline */
  int64_t open_ms;          /* the clock at open (availableNow's bound) */
  int64_t planned_seconds;  /* end of the last plan */
} rate_source;

/* Spark's valueAtSecond: the values that exist `seconds` after the start. */
static int64_t value_at_second(int64_t seconds, int64_t rows_per_second, int64_t ramp_up) {
  int64_t speed_delta = rows_per_second / (ramp_up + 1);
  if (seconds <= ramp_up) {
    /* speed_delta * seconds * (seconds + 1) / 2, halving first to avoid overflow */
    if (seconds % 2 == 1) return (seconds + 1) / 2 * speed_delta * seconds;
    return seconds / 2 * speed_delta * (seconds + 1);
  }
  return value_at_second(ramp_up, rows_per_second, ramp_up) + (seconds - ramp_up) * rows_per_second;
}

/* Spark's timeStringAsSec: a bare number is seconds; otherwise a duration, truncated. */
static int parse_ramp_up(const char *text, int64_t *seconds) {
  char *end;
  long long v = strtoll(text, &end, 10);
  if (end != text) {
    while (isspace((unsigned char)*end)) end++;
    if (!*end) {
      *seconds = v;
      return 0;
    }
  }
  int64_t ms;
  if (sr_duration_parse(text, &ms) != 0) return -1;
  *seconds = ms / 1000;
  return 0;
}

/* Reads the start time from the state file, or fixes it now and writes the file. */
/* The start time in <state_dir>/rate-start.json, a checked file (fsutil.h, tagged with its
** name; one from before checksums is parsed strictly: {"startTimeMs": N} on one line). Written
** the first time; damaged, it stops the query naming it: a guessed start would move every
** timestamp the source gives. */
static sr_status load_start_time(rate_source *s, const char *state_dir, sr_error **err) {
  char path[4096];
  if (!state_dir) {
    s->start_time_ms = sr_source_rate_clock_ms();
    return SR_OK;
  }
  snprintf(path, sizeof path, "%s/%s", state_dir, START_FILE);
  sr_error *read_err = NULL;
  size_t len;
  int checked;
  char *text = sr_fs_read_checked(path, START_FILE, &len, &checked, &read_err);
  if (!text && errno != ENOENT) {
    sr_status st = sr_error_set(err, SR_ERROR, "rate source: %s", read_err->message);
    sr_error_free(read_err);
    return st;
  }
  sr_error_free(read_err);
  if (!text) {
    s->start_time_ms = sr_source_rate_clock_ms();
    char buf[64];
    int n = snprintf(buf, sizeof buf, "{\"startTimeMs\": %" PRId64 "}\n", s->start_time_ms);
    return sr_fs_write_checked(path, START_FILE, buf, (size_t)n, err);
  }
  json_t *doc = len > 0 && text[len - 1] == '\n' ? json_loadb(text, len, 0, NULL) : NULL;
  json_t *v = json_object_get(doc, "startTimeMs");
  sr_status st = SR_OK;
  if (json_is_integer(v) && json_object_size(doc) == 1 && memchr(text, '\n', len) == text + len - 1)
    s->start_time_ms = json_integer_value(v);
  else
    st = sr_error_set(err, SR_ERROR, "rate source: %s is damaged: not {\"startTimeMs\": N} on one line%s",
                      path, checked ? "" : " (and it has no checksum line)");
  json_decref(doc);
  free(text);
  return st;
}

/* Messages name no source: the engine prefixes "<job:line>: rate source". */
static sr_status rate_open(sr_source *src, const sr_connector_config *cfg, sr_error **err) {
  const sr_options *o = cfg->options;
  rate_source *s = calloc(1, sizeof *s);
  if (!s) return sr_error_set(err, SR_ERROR, "out of memory opening the rate source");
  src->impl = s;
  s->rows_per_second = sr_opt_int(o, rate_options, "rowsPerSecond", 1);
  if (s->rows_per_second <= 0)
    return sr_error_set(err, SR_ERROR, "rowsPerSecond must be positive, not %" PRId64,
                        s->rows_per_second);
  const char *ramp = sr_opt_str(o, rate_options, "rampUpTime", "0");
  if (parse_ramp_up(ramp, &s->ramp_up_seconds) != 0 || s->ramp_up_seconds < 0)
    return sr_error_set(err, SR_ERROR,
                        "rampUpTime must be a duration such as \"5 seconds\" or a "
                        "number of seconds, not negative, not \"%s\"", ramp);
  s->max_seconds = INT64_MAX / s->rows_per_second;
  if (s->ramp_up_seconds > s->max_seconds)
    return sr_error_set(err, SR_ERROR,
                        "rampUpTime of %" PRId64 " seconds overflows the values at "
                        "%" PRId64 " rowsPerSecond (at most %" PRId64 ")",
                        s->ramp_up_seconds, s->rows_per_second, s->max_seconds);
  s->num_partitions = sr_opt_int(o, rate_options, "numPartitions", 0);
  if (sr_opt_str(o, rate_options, "numPartitions", NULL) && s->num_partitions <= 0)
    return sr_error_set(err, SR_ERROR, "numPartitions must be positive, not %" PRId64,
                        s->num_partitions);
  if (load_start_time(s, cfg->state_dir, err) != SR_OK) return SR_ERROR;
  s->open_ms = sr_source_rate_clock_ms();
  return SR_OK;
}

/* ---- offsets ---- */

typedef struct rate_offset { int64_t value, seconds, start_time_ms; } rate_offset;

static sr_status parse_offset(const json_t *off, rate_offset *r, sr_error **err) {
  json_t *v = json_object_get(off, "value"), *sec = json_object_get(off, "seconds");
  json_t *t = json_object_get(off, "startTimeMs");
  if (!json_is_integer(v) || !json_is_integer(sec) || !json_is_integer(t) ||
      json_integer_value(v) < 0 || json_integer_value(sec) < 0) {
    char *text = off ? json_dumps(off, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    sr_error_set(err, SR_ERROR,
                 "rate source: offset %s is not {\"value\": N, \"seconds\": S, \"startTimeMs\": T}",
                 text ? text : "null");
    free(text);
    return SR_ERROR;
  }
  r->value = json_integer_value(v);
  r->seconds = json_integer_value(sec);
  r->start_time_ms = json_integer_value(t);
  return SR_OK;
}

static sr_status rate_plan(sr_source *src, const json_t *start, json_t **end, sr_error **err) {
  rate_source *s = src->impl;
  rate_offset from = {0, 0, s->start_time_ms};
  *end = NULL;
  if (start) {
    if (parse_offset(start, &from, err) != SR_OK) return SR_ERROR;
    s->start_time_ms = from.start_time_ms;
  }
  int64_t limit_ms = src->available_now ? s->open_ms : sr_source_rate_clock_ms();
  int64_t seconds = limit_ms > s->start_time_ms ? (limit_ms - s->start_time_ms) / 1000 : 0;
  if (seconds > s->max_seconds)
    return sr_error_set(err, SR_ERROR, "rate source: %" PRId64 " seconds after the start, the values at %"
                        PRId64 " rowsPerSecond overflow", seconds, s->rows_per_second);
  s->planned_seconds = from.seconds > seconds ? from.seconds : seconds;
  if (seconds <= from.seconds) return SR_OK; /* also when the clock is behind the log */
  int64_t added = value_at_second(seconds, s->rows_per_second, s->ramp_up_seconds) -
                  value_at_second(from.seconds, s->rows_per_second, s->ramp_up_seconds);
  if (added <= 0) return SR_OK; /* the ramp-up has no new value yet: wait */
  if (added > INT64_MAX - from.value)
    return sr_error_set(err, SR_ERROR, "rate source: value overflows after %" PRId64, from.value);
  *end = json_pack("{sIsIsI}", "value", (json_int_t)(from.value + added), "seconds", (json_int_t)seconds,
                   "startTimeMs", (json_int_t)s->start_time_ms);
  if (!*end) return sr_error_set(err, SR_ERROR, "out of memory planning a rate batch");
  return SR_OK;
}

static sr_status rate_read(sr_source *src, const json_t *start, const json_t *end, lua_State *L,
                           int rows_idx, int *nrows, sr_error **err) {
  rate_offset to, from;
  if (parse_offset(end, &to, err) != SR_OK) return SR_ERROR;
  from = (rate_offset){0, 0, to.start_time_ms};
  if (start && parse_offset(start, &from, err) != SR_OK) return SR_ERROR;
  if (to.value < from.value || to.seconds < from.seconds)
    return sr_error_set(err, SR_ERROR, "rate source: batch ends before it starts");
  if (to.value - from.value > INT_MAX - *nrows)
    return sr_error_set(err, SR_ERROR, "rate source: batch of %" PRId64 " rows is too large",
                        to.value - from.value);
  if (to.value == from.value) return SR_OK;
  if (!lua_checkstack(L, 8)) return sr_error_set(err, SR_ERROR, "rate source: Lua stack overflow");
  rows_idx = sr_lua_absindex(L, rows_idx);
  int keys = lua_gettop(L) + 1;
  lua_pushliteral(L, "timestamp");
  lua_pushliteral(L, "value");
  int64_t local_start_ms = to.start_time_ms + from.seconds * 1000;
  double ms_per_value = (double)((to.seconds - from.seconds) * 1000) / (double)(to.value - from.value);
  int n = *nrows;
  for (int64_t v = from.value; v < to.value; v++) {
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, keys);
    /* Spark's math.round((v - v0) * msPerValue) */
    int64_t relative_ms = (int64_t)floor((double)(v - from.value) * ms_per_value + 0.5);
    lua_pushnumber(L, (lua_Number)(local_start_ms + relative_ms));
    lua_rawset(L, -3);
    lua_pushvalue(L, keys + 1);
    lua_pushnumber(L, (lua_Number)v);
    lua_rawset(L, -3);
    lua_rawseti(L, rows_idx, ++n);
  }
  lua_settop(L, keys - 1);
  *nrows = n;
  return SR_OK;
}

static sr_status rate_commit(sr_source *src, const json_t *end, sr_error **err) {
  return SR_OK; /* nothing is held for a batch */
}

static void rate_describe(sr_source *src, json_t *progress_source) {
  rate_source *s = src->impl;
  char text[160], parts[32] = "default";
  if (s->num_partitions > 0) snprintf(parts, sizeof parts, "%" PRId64, s->num_partitions);
  snprintf(text, sizeof text, "RateStreamV2[rowsPerSecond=%" PRId64 ", rampUpTimeSeconds=%" PRId64
           ", numPartitions=%s]", s->rows_per_second, s->ramp_up_seconds, parts);
  json_object_set_new(progress_source, "description", json_string(text));
}

static int rate_drained(sr_source *src, const json_t *end) {
  rate_source *s = src->impl;
  if (!src->available_now) return 0;
  rate_offset r = {0, s->planned_seconds, s->start_time_ms};
  if (end && parse_offset(end, &r, NULL) != SR_OK) return 0;
  int64_t seconds = r.seconds > s->planned_seconds ? r.seconds : s->planned_seconds;
  return s->start_time_ms + (seconds + 1) * 1000 > s->open_ms;
}

static void rate_close(sr_source *src) {
  free(src->impl);
  src->impl = NULL;
}

/* Without a state_dir, open only reads options: --check opens and closes it. */
static sr_status rate_check(const sr_connector_config *cfg, sr_error **err) {
  sr_connector_config pure = *cfg;
  pure.state_dir = NULL;
  sr_source tmp = {0};
  sr_status st = rate_open(&tmp, &pure, err);
  rate_close(&tmp);
  return st;
}

const sr_source_ops sr_source_rate = {
  .name = "rate",
  .columns = "timestamp timestamp, value long",
  .options = rate_options,
  .needs_schema = 0,
  .check = rate_check,
  .open = rate_open,
  .plan = rate_plan,
  .read = rate_read,
  .commit = rate_commit,
  .describe = rate_describe,
  .drained = rate_drained,
  .close = rate_close,
};
