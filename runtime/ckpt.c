/*
** ckpt: the checkpoint directory. See ckpt.h for the API.
**
** Layout (as Spark's):
**   metadata        {"id": "<query id>"}; written once, when the query first starts.
**   .lock           held with flock(LOCK_EX) by the running process; holds "pid host time".
**   offsets/N       "v1\n" {"batchWatermarkMs":W,"batchTimestampMs":T,
**                   "conf":{"multipleWatermarkPolicy":"min"}} "\n" and one line per source: the
**                   JSON end offsets of batch N from that source (null: none).
**   commits/N       "v1\n" {"nextBatchWatermarkMs":W,"maxEventTimeMs":[M,...]}: M is the max
**                   event time each with_watermark operator has seen after batch N (null: none
**                   yet), so a restart rebuilds the watermark as it was (query.c).
**   sources/<i>/    the i-th source's own log (the file source's seen files).
**   state/<op>/<p>/ state store versions (state_store.c).
**   plan            the sources and stateful operators the checkpoint was written for.
**   progress/, bad_records/  output for people, not read by recovery.
**
** Invariants (the order of writes for batch N):
**   I1. offsets/N is durable before any effect of batch N: no sink write, no state version N+1.
**   I2. commits/N is written only after the sink committed batch N and every state store
**       committed version N+1.
**   I3. So on restart, with O = latest offsets and C = latest commit, either C == O (start
**       batch O+1 from O's ends) or C == O-1 (re-run batch O with exactly offsets/O). Any
**       other pair means files were removed by hand, and the open fails.
**   I4. Every file is written with sr_fs_write_atomic: a crash leaves the old file or the new.
**       Temp files (*.tmp-PID) left by a crash are ignored and overwritten.
**   I5. Sinks are idempotent by batch id and state stores load exactly version N for batch N,
**       so a re-run of batch N after a crash anywhere in it produces its effects once.
*/
#include "ckpt.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"

struct sr_ckpt {
  char *dir;
  char id[40];
  int lock_fd;
};

void sr_ckpt_path(const sr_ckpt *c, const char *rel, char *out, size_t outlen) {
  snprintf(out, outlen, "%s/%s", c->dir, rel);
}

static void new_uuid(char out[37]) {
  unsigned char b[16];
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, b, sizeof b) != (ssize_t)sizeof b) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    srand((unsigned)(ts.tv_nsec ^ getpid()));
    for (int i = 0; i < 16; i++) b[i] = (unsigned char)rand();
  }
  if (fd >= 0) close(fd);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
           b[13], b[14], b[15]);
}

static sr_status take_lock(sr_ckpt *c, sr_error **err) {
  char path[4096];
  sr_ckpt_path(c, ".lock", path, sizeof path);
  c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (c->lock_fd < 0)
    return sr_error_set(err, SR_ERROR, "cannot open %s: %s", path, strerror(errno));
  if (flock(c->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    char holder[256] = "";
    ssize_t n = pread(c->lock_fd, holder, sizeof holder - 1, 0);
    holder[n > 0 ? n : 0] = '\0';
    holder[strcspn(holder, "\n")] = '\0';
    return sr_error_set(err, SR_ERROR,
                        "checkpoint %s is in use by another running query (%s); only one query may "
                        "hold a checkpoint", c->dir, holder[0] ? holder : "holder unknown");
  }
  char host[128] = "?", info[300], when[32];
  gethostname(host, sizeof host - 1);
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  int len = snprintf(info, sizeof info, "pid %ld on %s since %s\n", (long)getpid(), host, when);
  if (ftruncate(c->lock_fd, 0) == 0 && pwrite(c->lock_fd, info, (size_t)len, 0) < 0) {
    /* the holder's description is a courtesy: the lock itself is what matters */
  }
  return SR_OK;
}

static sr_status load_metadata(sr_ckpt *c, sr_error **err) {
  char path[4096];
  sr_ckpt_path(c, "metadata", path, sizeof path);
  json_error_t jerr;
  json_t *doc = json_load_file(path, 0, &jerr);
  if (doc) {
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (!id || strlen(id) >= sizeof c->id) {
      json_decref(doc);
      return sr_error_set(err, SR_ERROR, "%s: no query id in it", path);
    }
    snprintf(c->id, sizeof c->id, "%s", id);
    json_decref(doc);
    return SR_OK;
  }
  if (sr_fs_exists(path))
    return sr_error_set(err, SR_ERROR, "%s is not valid JSON: %s", path, jerr.text);
  new_uuid(c->id);
  char text[128];
  int n = snprintf(text, sizeof text, "{\"id\":\"%s\"}\n", c->id);
  return sr_fs_write_atomic(path, text, (size_t)n, err);
}

sr_ckpt *sr_ckpt_open(const char *dir, sr_error **err) {
  sr_ckpt *c = calloc(1, sizeof *c);
  if (!c) { sr_error_set(err, SR_ERROR, "out of memory"); return NULL; }
  c->lock_fd = -1;
  c->dir = strdup(dir);
  char sub[4096];
  if (!c->dir || sr_fs_mkdirs(dir, err) != SR_OK) goto fail;
  if (take_lock(c, err) != SR_OK) goto fail;
  sr_ckpt_path(c, "offsets", sub, sizeof sub);
  if (sr_fs_mkdirs(sub, err) != SR_OK) goto fail;
  sr_ckpt_path(c, "commits", sub, sizeof sub);
  if (sr_fs_mkdirs(sub, err) != SR_OK) goto fail;
  if (load_metadata(c, err) != SR_OK) goto fail;
  return c;
fail:
  sr_ckpt_close(c);
  return NULL;
}

void sr_ckpt_close(sr_ckpt *c) {
  if (!c) return;
  if (c->lock_fd >= 0) close(c->lock_fd); /* closing releases the flock */
  free(c->dir);
  free(c);
}

const char *sr_ckpt_dir(const sr_ckpt *c) { return c->dir; }
const char *sr_ckpt_query_id(const sr_ckpt *c) { return c->id; }

/* A batch log entry's name is its decimal batch id and nothing else. */
static int64_t parse_batch_name(const char *name) {
  if (!*name) return -1;
  for (const char *p = name; *p; p++)
    if (!isdigit((unsigned char)*p)) return -1;
  return strtoll(name, NULL, 10);
}

static int64_t latest_in(const sr_ckpt *c, const char *sub) {
  char path[4096];
  sr_ckpt_path(c, sub, path, sizeof path);
  DIR *d = opendir(path);
  if (!d) return -1;
  int64_t best = -1;
  struct dirent *de;
  while ((de = readdir(d))) {
    int64_t n = parse_batch_name(de->d_name);
    if (n > best) best = n;
  }
  closedir(d);
  return best;
}

int64_t sr_ckpt_latest_offsets(const sr_ckpt *c) { return latest_in(c, "offsets"); }
int64_t sr_ckpt_latest_commit(const sr_ckpt *c) { return latest_in(c, "commits"); }

static void batch_path(const sr_ckpt *c, const char *sub, int64_t id, char *out, size_t outlen) {
  snprintf(out, outlen, "%s/%s/%" PRId64, c->dir, sub, id);
}

sr_status sr_ckpt_write_offsets(sr_ckpt *c, int64_t batch_id, const sr_batch_meta *meta,
                                json_t *ends, sr_error **err) {
  char path[4096];
  batch_path(c, "offsets", batch_id, path, sizeof path);
  json_t *m = json_pack("{s:I,s:I}", "batchWatermarkMs", (json_int_t)meta->watermark_ms,
                        "batchTimestampMs", (json_int_t)meta->batch_ts_ms);
  if (m && meta->watermark_policy)
    json_object_set_new(m, "conf", json_pack("{s:s}", "multipleWatermarkPolicy", meta->watermark_policy));
  char *mtext = json_dumps(m, JSON_COMPACT);
  json_decref(m);
  size_t cap = 64 + (mtext ? strlen(mtext) : 0);
  size_t n = json_array_size(ends);
  char **lines = calloc(n ? n : 1, sizeof *lines);
  for (size_t i = 0; lines && i < n; i++) {
    lines[i] = json_dumps(json_array_get(ends, i), JSON_COMPACT | JSON_ENCODE_ANY);
    cap += (lines[i] ? strlen(lines[i]) : 4) + 1;
  }
  char *text = malloc(cap);
  sr_status st = SR_ERROR;
  if (!mtext || !lines || !text) {
    sr_error_set(err, SR_ERROR, "out of memory writing %s", path);
  } else {
    size_t len = (size_t)snprintf(text, cap, "v1\n%s\n", mtext);
    for (size_t i = 0; i < n; i++)
      len += (size_t)snprintf(text + len, cap - len, "%s\n", lines[i] ? lines[i] : "null");
    st = sr_fs_write_atomic(path, text, len, err);
  }
  for (size_t i = 0; lines && i < n; i++) free(lines[i]);
  free(lines);
  free(mtext);
  free(text);
  return st;
}

/* Splits a log file into its version line, its metadata line and the rest. */
static sr_status read_log(const char *path, char **text, char **meta, char **rest, sr_error **err) {
  size_t len;
  *text = sr_fs_read_all(path, &len, err);
  if (!*text) return SR_ERROR;
  char *nl = strchr(*text, '\n');
  if (!nl || strncmp(*text, "v1", 2) != 0) {
    free(*text);
    return sr_error_set(err, SR_ERROR, "%s: not a streamrun batch log (expected v1)", path);
  }
  *meta = nl + 1;
  char *nl2 = strchr(*meta, '\n');
  if (nl2) { *nl2 = '\0'; *rest = nl2 + 1; } else { *rest = *meta + strlen(*meta); }
  return SR_OK;
}

sr_status sr_ckpt_read_offsets(sr_ckpt *c, int64_t batch_id, sr_batch_meta *meta,
                               json_t **ends, sr_error **err) {
  char path[4096];
  batch_path(c, "offsets", batch_id, path, sizeof path);
  char *text, *mline, *rest;
  if (read_log(path, &text, &mline, &rest, err) != SR_OK) return SR_ERROR;
  json_error_t jerr;
  json_t *m = json_loads(mline, 0, &jerr);
  json_int_t wm = INT64_MIN, ts = 0;
  if (!m || json_unpack(m, "{s:I,s:I}", "batchWatermarkMs", &wm, "batchTimestampMs", &ts) != 0) {
    json_decref(m);
    free(text);
    return sr_error_set(err, SR_ERROR, "%s: bad metadata line", path);
  }
  /* the policy as a static string: the caller keeps meta beyond this json */
  const char *policy = json_string_value(json_object_get(json_object_get(m, "conf"), "multipleWatermarkPolicy"));
  meta->watermark_policy = !policy ? NULL : strcmp(policy, "max") == 0 ? "max" : "min";
  json_decref(m);
  meta->watermark_ms = wm;
  meta->batch_ts_ms = ts;
  *ends = json_array();
  for (char *line = rest; *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    json_t *v = json_loads(line, JSON_DECODE_ANY, &jerr);
    if (!v) {
      json_decref(*ends);
      *ends = NULL;
      free(text);
      return sr_error_set(err, SR_ERROR, "%s: bad offsets line: %s", path, jerr.text);
    }
    json_array_append_new(*ends, v);
    if (!nl) break;
    line = nl + 1;
  }
  free(text);
  return SR_OK;
}

sr_status sr_ckpt_write_commit(sr_ckpt *c, int64_t batch_id, int64_t next_watermark_ms,
                               const int64_t *max_event_ms, int n, sr_error **err) {
  char path[4096];
  batch_path(c, "commits", batch_id, path, sizeof path);
  json_t *maxes = n > 0 ? json_array() : NULL; /* none for a query without with_watermark */
  for (int i = 0; maxes && i < n; i++)
    json_array_append_new(maxes, max_event_ms[i] == INT64_MIN ? json_null()
                                                              : json_integer((json_int_t)max_event_ms[i]));
  json_t *m = json_pack("{s:I,s:o*}", "nextBatchWatermarkMs", (json_int_t)next_watermark_ms,
                        "maxEventTimeMs", maxes);
  char *mtext = m ? json_dumps(m, JSON_COMPACT) : NULL;
  json_decref(m);
  if (!mtext) return sr_error_set(err, SR_ERROR, "out of memory writing %s", path);
  size_t cap = strlen(mtext) + 8;
  char *text = malloc(cap);
  sr_status st;
  if (!text) {
    st = sr_error_set(err, SR_ERROR, "out of memory writing %s", path);
  } else {
    int len = snprintf(text, cap, "v1\n%s\n", mtext);
    st = sr_fs_write_atomic(path, text, (size_t)len, err);
  }
  free(text);
  free(mtext);
  return st;
}

sr_status sr_ckpt_read_commit(sr_ckpt *c, int64_t batch_id, int64_t *next_watermark_ms,
                              int64_t *max_event_ms, int n, sr_error **err) {
  char path[4096];
  batch_path(c, "commits", batch_id, path, sizeof path);
  char *text, *mline, *rest;
  if (read_log(path, &text, &mline, &rest, err) != SR_OK) return SR_ERROR;
  json_t *m = json_loads(mline, 0, NULL);
  json_int_t wm = INT64_MIN;
  json_t *maxes = NULL;
  if (m) json_unpack(m, "{s?I,s?o}", "nextBatchWatermarkMs", &wm, "maxEventTimeMs", &maxes);
  if (json_is_array(maxes) && json_array_size(maxes) == (size_t)n) {
    for (int i = 0; i < n; i++) {
      json_t *v = json_array_get(maxes, (size_t)i);
      max_event_ms[i] = json_is_integer(v) ? (int64_t)json_integer_value(v) : INT64_MIN;
    }
  }
  json_decref(m);
  free(text);
  *next_watermark_ms = wm;
  return SR_OK;
}

static void prune_in(sr_ckpt *c, const char *sub, int64_t keep_from) {
  char path[4096];
  sr_ckpt_path(c, sub, path, sizeof path);
  DIR *d = opendir(path);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    int64_t n = parse_batch_name(de->d_name);
    if (n >= 0 && n < keep_from) {
      char f[4400];
      snprintf(f, sizeof f, "%s/%s", path, de->d_name);
      unlink(f);
    }
  }
  closedir(d);
}

void sr_ckpt_prune(sr_ckpt *c, int64_t keep_from) {
  /* commits first: a commit without its offsets would break I3 if we crashed in between */
  prune_in(c, "commits", keep_from);
  prune_in(c, "offsets", keep_from);
}

sr_status sr_ckpt_read_doc(sr_ckpt *c, const char *name, json_t **doc, sr_error **err) {
  char path[4096];
  sr_ckpt_path(c, name, path, sizeof path);
  *doc = NULL;
  if (!sr_fs_exists(path)) return SR_OK;
  json_error_t jerr;
  *doc = json_load_file(path, 0, &jerr);
  if (!*doc) return sr_error_set(err, SR_ERROR, "%s: %s", path, jerr.text);
  return SR_OK;
}

sr_status sr_ckpt_write_doc(sr_ckpt *c, const char *name, json_t *doc, sr_error **err) {
  char path[4096];
  sr_ckpt_path(c, name, path, sizeof path);
  char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
  if (!text) return sr_error_set(err, SR_ERROR, "out of memory");
  sr_status st = sr_fs_write_atomic(path, text, strlen(text), err);
  free(text);
  return st;
}
