/* progress: see progress.h. */
#include "progress.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "monitor.h"
#include "timeutil.h"
#include "sr_log.h"

static void random_id(char out[37]) {
  unsigned char b[16] = {0};
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (read(fd, b, sizeof b) != (ssize_t)sizeof b) memset(b, 0, sizeof b);
    close(fd);
  }
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
           b[13], b[14], b[15]);
}

static int summary_off;

void sr_progress_set_summary(int on) { summary_off = !on; }

void sr_progress_init(sr_progress *p, const char *dir, const char *name, const char *query_id) {
  memset(p, 0, sizeof *p);
  p->dir = strdup(dir);
  p->name = strdup(name);
  snprintf(p->id, sizeof p->id, "%s", query_id);
  random_id(p->run_id);
  p->max_bytes = SR_PROGRESS_MAX_BYTES;
  p->tty = !summary_off && isatty(STDERR_FILENO);
}

void sr_progress_free(sr_progress *p) {
  if (p->file) fclose(p->file);
  json_decref(p->last);
  free(p->dir);
  free(p->name);
  memset(p, 0, sizeof *p);
}

static json_t *iso(int64_t ms) {
  char buf[40];
  sr_time_format(ms, buf);
  return json_string(buf);
}

static json_t *build(sr_progress *p, const sr_progress_batch *b) {
  json_t *r = json_object();
  json_object_set_new(r, "id", json_string(p->id));
  json_object_set_new(r, "runId", json_string(p->run_id));
  json_object_set_new(r, "name", json_string(p->name));
  json_object_set_new(r, "timestamp", iso(b->timestamp_ms));
  json_object_set_new(r, "batchId", json_integer(b->batch_id));
  json_object_set_new(r, "numInputRows", json_integer(b->num_input_rows));
  double since = p->last_trigger_wall_ms
                     ? (double)(b->timestamp_ms - p->last_trigger_wall_ms) / 1000.0 : 0;
  double trig = (double)b->trigger_ms / 1000.0;
  json_object_set_new(r, "inputRowsPerSecond",
                      json_real(since > 0 ? (double)b->num_input_rows / since : 0));
  json_object_set_new(r, "processedRowsPerSecond",
                      json_real(trig > 0 ? (double)b->num_input_rows / trig : 0));
  json_t *d = json_object();
  json_object_set_new(d, "latestOffset", json_integer(b->latest_offset_ms));
  json_object_set_new(d, "walCommit", json_integer(b->wal_commit_ms));
  json_object_set_new(d, "addBatch", json_integer(b->add_batch_ms));
  json_object_set_new(d, "commitOffsets", json_integer(b->commit_ms));
  json_object_set_new(d, "triggerExecution", json_integer(b->trigger_ms));
  json_object_set_new(r, "durationMs", d);
  json_t *et = json_object();
  if (b->has_event_time) {
    json_object_set_new(et, "min", iso((int64_t)b->et_min));
    json_object_set_new(et, "max", iso((int64_t)b->et_max));
    json_object_set_new(et, "avg", iso((int64_t)b->et_avg));
  }
  /* as Spark's ProgressReporter.extractExecutionStats: a watermark whenever the plan has one
  ** (0, the epoch, from batch 0 on), no key when it has none (INT64_MIN) */
  if (b->watermark_ms != INT64_MIN) json_object_set_new(et, "watermark", iso(b->watermark_ms));
  json_object_set_new(r, "eventTime", et);
  json_object_set_new(r, "stateOperators",
                      b->state_operators ? json_incref(b->state_operators) : json_array());
  json_object_set(r, "sources", b->sources);
  json_object_set(r, "sink", b->sink);
  json_object_set_new(r, "numBadRecords", json_integer(b->num_bad_records));
  if (b->extra) json_object_update(r, b->extra);
  return r;
}

/* Opens (appending) progress.jsonl; on failure says so once and writes no file from then on. */
static void open_file(sr_progress *p) {
  char path[4200];
  if (sr_fs_mkdirs(p->dir, NULL) == SR_OK) {
    snprintf(path, sizeof path, "%s/progress.jsonl", p->dir);
    p->file = fopen(path, "a");
  }
  if (!p->file) {
    sr_log("error", p->name, -1, "[%s] cannot write progress under %s", p->name, p->dir);
    free(p->dir);
    p->dir = NULL;
    return;
  }
  fseek(p->file, 0, SEEK_END);
  p->file_bytes = ftell(p->file);
}

/* progress.jsonl.K-1 -> .K, down to progress.jsonl -> .1 (see progress.h), closing the file.
** A rename that fails leaves the file to grow: progress is for people, and the next record
** tries again. */
static void rotate(sr_progress *p) {
  fclose(p->file);
  p->file = NULL;
  char from[4200], to[4200];
  for (int k = SR_PROGRESS_KEEP; k >= 1; k--) {
    if (k > 1) snprintf(from, sizeof from, "%s/progress.jsonl.%d", p->dir, k - 1);
    else snprintf(from, sizeof from, "%s/progress.jsonl", p->dir);
    snprintf(to, sizeof to, "%s/progress.jsonl.%d", p->dir, k);
    rename(from, to);
  }
}

void sr_progress_emit(sr_progress *p, const sr_progress_batch *b, FILE *also) {
  json_t *r = build(p, b);
  p->last_trigger_wall_ms = b->timestamp_ms;
  char *text = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
  if (!text) {
    json_decref(r);
    return;
  }
  if (!p->file && p->dir) open_file(p);
  if (p->file && p->file_bytes > 0 && p->file_bytes + (long long)strlen(text) + 1 > p->max_bytes) {
    rotate(p);
    open_file(p);
  }
  if (p->file) {
    fputs(text, p->file);
    fputc('\n', p->file);
    fflush(p->file);
    p->file_bytes += (long long)strlen(text) + 1;
  }
  if (also) { fputs(text, also); fputc('\n', also); fflush(also); }
  sr_monitor_batch(p->name, r, text); /* --http, once the file has it: a no-op unless it serves */
  json_decref(p->last);
  p->last = r;
  free(text);
  if (p->tty) {
    double secs = (double)b->trigger_ms / 1000.0;
    fprintf(stderr, "[%s] batch %" PRId64 ": %" PRId64 " rows in, %" PRId64 " out in %" PRId64
            " ms (%.0f rows/s)%s\n", p->name, b->batch_id, b->num_input_rows,
            b->num_output_rows, b->trigger_ms, secs > 0 ? (double)b->num_input_rows / secs : 0.0,
            b->num_bad_records ? ", bad records dead-lettered" : "");
  }
}
