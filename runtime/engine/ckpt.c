/*
** ckpt: the checkpoint directory. See ckpt.h for the API.
**
** LAYOUT (as Spark's)
**
**   metadata        {"id":"<query id>"}; written once, when the query first starts.
**   .lock           held with flock(LOCK_EX) by the running process; holds "pid P on HOST since T".
**   offsets/N       "v1\n" {"batchWatermarkMs":W,"batchTimestampMs":T,
**                   "conf":{"multipleWatermarkPolicy":"min","numStatePartitions":P}} "\n" and
**                   one line per source: the JSON end offsets of batch N from that source
**                   (null: none). conf holds what the checkpoint fixes for good, as Spark's
**                   OffsetSeqMetadata.conf; a log without numStatePartitions is one partition.
**   commits/N       "v1\n" {"nextBatchWatermarkMs":W,"maxEventTimeMs":[M,...]} "\n": M is the max
**                   event time each with_watermark operator has seen after batch N (null: none
**                   yet), so a restart rebuilds the watermark as it was (query.c).
**   plan            the sources and stateful operators the checkpoint was written for (JSON).
**   sources/<i>/    the i-th source's own log (the file source's seen files: N and, every
**                   compactInterval batches, N.compact; see compact_log.h).
**   sink/           the sink's own files (the Kafka sink's pending transaction).
**   state/<op>/<p>/ state store versions of operator op's partition p (state_parts.h routes
**                   keys; state_file.c: its own format, checksummed).
**   progress/, bad_records/  output for people, not read by recovery (progress.jsonl is
**                   rotated, progress.h).
**
** RETENTION: offsets/N and commits/N are kept from the newest batch's id - minBatchesToRetain
** on (query.c, as MicroBatchExecution's purge), state versions likewise (state_store.c), the
** logs under sources/ by compaction: a checkpoint's size does not grow with its batch count.
**
** Every file above that recovery reads (metadata, offsets/N, commits/N, plan) is a checked file
** (fsutil.h): its body, then "#crc32 XXXXXXXX TAG\n", the CRC-32 of the body and the tag, where
** TAG is the file's name in the checkpoint and, but for metadata, "@" and the query id:
** "offsets/5@<id>". A torn, truncated or edited file fails its checksum; a whole file copied to
** another batch's name or from another checkpoint fails its tag. Either stops the query with
** the file named. Files written before checksums (no trailer line) are still read, by a strict
** parse: the version line, a metadata object with its fields, one offsets line per source,
** every line ended; anything else is refused the same way. (Spark's HDFSMetadataLog has no
** checksum and trusts rename; a checkpoint copied, restored or edited by hand needs more.)
**
** INVARIANTS (the order of writes for batch N)
**
**   I1. offsets/N is durable before any effect of batch N: no sink write, no state version N+1.
**   I2. commits/N is written only after the sink committed batch N and every state store
**       committed version N+1.
**   I3. So on restart, with O = latest offsets and C = latest commit, either C == O (start
**       batch O+1 from O's ends) or C == O-1 (re-run batch O with exactly offsets/O). The
**       batches between the oldest kept (retention) and O have their offsets/N, and up to C
**       their commits/N, with no gap. Anything else means files were removed by hand: the open
**       fails naming the first missing file. So does a missing metadata beside logged batches
**       (a new query id would make the sinks write committed batches again).
**   I4. Every file is written with sr_fs_write_atomic: a crash leaves the old file or the new.
**       Temp files (*.tmp-PID) left by a crash are removed at open, anywhere in the
**       checkpoint, once the lock is held (so no other process writes there) and their PID is
**       not alive.
**   I5. Sinks are idempotent by batch id and state stores load exactly version N for batch N,
**       so a re-run of batch N after a crash anywhere in it produces its effects once. The
**       engine cross-checks the sink's own log against O and C at open (query.c).
**
** THE LOCK
**
** flock is released by the kernel when the holder's process ends, even by kill -9, but not at
** the instant of the kill: a restart in that moment finds the lock still held. When the
** holder named in .lock is dead or dying (no such process, a zombie, exiting, or SIGKILL
** pending) the open waits for the lock up to LOCK_WAIT_MS; a live holder fails it at once.
*/
#include "ckpt.h"

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "state_parts.h"

enum { LOCK_WAIT_MS = 5000, LOCK_POLL_MS = 50 };

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

static int is_uuid(const char *s) {
  if (strlen(s) != 36) return 0;
  for (int i = 0; i < 36; i++) {
    int dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i])) return 0;
  }
  return 1;
}

/* --- the lock ---------------------------------------------------------------------------- */

/* 1 when process pid is gone or on its way out: then the lock it holds is about to be freed. */
static int process_dying(long pid) {
  if (pid <= 0) return 0;
  if (kill((pid_t)pid, 0) != 0) return errno == ESRCH;
  char path[64], text[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 1;
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  /* "pid (comm) state ppid pgrp session tty tpgid flags ...": comm may hold spaces */
  char *p = strrchr(text, ')');
  char state;
  unsigned long flags = 0;
  if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2) return 0;
  if (state == 'Z' || state == 'X' || state == 'x' || (flags & 0x4 /* PF_EXITING */)) return 1;
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  if (!(f = fopen(path, "r"))) return 1;
  char line[256];
  int dying = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long long mask;
    if ((sscanf(line, "SigPnd: %llx", &mask) == 1 || sscanf(line, "ShdPnd: %llx", &mask) == 1) &&
        (mask & (1ull << (SIGKILL - 1))))
      dying = 1;
  }
  fclose(f);
  return dying;
}

/* The holder's description in .lock, and its pid when it runs on this host (else 0). */
static long read_holder(int fd, char *holder, size_t size) {
  ssize_t n = pread(fd, holder, size - 1, 0);
  holder[n > 0 ? n : 0] = '\0';
  holder[strcspn(holder, "\n")] = '\0';
  long pid;
  char host[128] = "", me[128] = "";
  if (sscanf(holder, "pid %ld on %127s", &pid, host) != 2) return 0;
  gethostname(me, sizeof me - 1);
  return strcmp(host, me) == 0 ? pid : 0;
}

static sr_status take_lock(sr_ckpt *c, sr_error **err) {
  char path[4096];
  sr_ckpt_path(c, ".lock", path, sizeof path);
  c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (c->lock_fd < 0)
    return sr_error_set(err, SR_ERROR, "cannot open %s: %s", path, strerror(errno));
  char holder[256] = "";
  for (int waited = 0; flock(c->lock_fd, LOCK_EX | LOCK_NB) != 0; waited += LOCK_POLL_MS) {
    long pid = read_holder(c->lock_fd, holder, sizeof holder);
    if (waited >= LOCK_WAIT_MS || !process_dying(pid))
      return sr_error_set(err, SR_ERROR,
                          "checkpoint %s is in use by another running query (%s); only one query "
                          "may hold a checkpoint", c->dir, holder[0] ? holder : "holder unknown");
    struct timespec ts = {0, LOCK_POLL_MS * 1000000L};
    nanosleep(&ts, NULL);
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

/* Removes the temp files (NAME.tmp-PID) that writers killed mid-write left (I4). Called with
** the lock held: no other process writes in the checkpoint, and this one has not started. */
static void remove_stale_temps(const char *dir, int depth) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    const char *t = strstr(de->d_name, ".tmp-");
    char *end;
    long pid = t ? strtol(t + 5, &end, 10) : 0;
    if (t && pid > 0 && !*end && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
      unlink(path);
      continue;
    }
    struct stat st;
    if (depth < 8 && lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) remove_stale_temps(path, depth + 1);
  }
  closedir(d);
}

/* --- batch logs ---------------------------------------------------------------------------- */

/* A batch log entry's name is its decimal batch id and nothing else. */
static int64_t parse_batch_name(const char *name) {
  if (!*name || strlen(name) > 18) return -1;
  for (const char *p = name; *p; p++)
    if (!isdigit((unsigned char)*p)) return -1;
  return strtoll(name, NULL, 10);
}

/* The lowest and highest batch ids in offsets/ or commits/ and how many there are. */
static void range_in(const sr_ckpt *c, const char *sub, int64_t *lo, int64_t *hi, int64_t *count) {
  char path[4096];
  sr_ckpt_path(c, sub, path, sizeof path);
  *lo = -1, *hi = -1, *count = 0;
  DIR *d = opendir(path);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    int64_t n = parse_batch_name(de->d_name);
    if (n < 0) continue;
    if (*hi < 0 || n > *hi) *hi = n;
    if (*lo < 0 || n < *lo) *lo = n;
    (*count)++;
  }
  closedir(d);
}

static int64_t latest_in(const sr_ckpt *c, const char *sub) {
  int64_t lo, hi, count;
  range_in(c, sub, &lo, &hi, &count);
  return hi;
}

int64_t sr_ckpt_latest_offsets(const sr_ckpt *c) { return latest_in(c, "offsets"); }
int64_t sr_ckpt_latest_commit(const sr_ckpt *c) { return latest_in(c, "commits"); }

static void batch_path(const sr_ckpt *c, const char *sub, int64_t id, char *out, size_t outlen) {
  snprintf(out, outlen, "%s/%s/%" PRId64, c->dir, sub, id);
}

static int batch_exists(const sr_ckpt *c, const char *sub, int64_t id) {
  char path[4096];
  batch_path(c, sub, id, path, sizeof path);
  return sr_fs_exists(path);
}

/* I3: the logs have no gap, commits only for logged batches, and C is O or O-1. A gap is
** looked for file by file only when the counts say there is one. */
static sr_status check_logs(sr_ckpt *c, sr_error **err) {
  int64_t olo, ohi, on, clo, chi, cn;
  char path[4096];
  range_in(c, "offsets", &olo, &ohi, &on);
  range_in(c, "commits", &clo, &chi, &cn);
  if (on == 0 && cn == 0) return SR_OK;
  if (on == 0) {
    sr_ckpt_path(c, "offsets", path, sizeof path);
    return sr_error_set(err, SR_ERROR, "checkpoint %s is damaged: %s/ is empty but commits/ runs to "
                        "batch %" PRId64 " (the offsets log was removed?)", c->dir, path, chi);
  }
  if (on != ohi - olo + 1) {
    for (int64_t n = olo; n <= ohi; n++)
      if (!batch_exists(c, "offsets", n)) {
        batch_path(c, "offsets", n, path, sizeof path);
        return sr_error_set(err, SR_ERROR, "checkpoint %s is damaged: %s is missing (offsets/ has "
                            "batches %" PRId64 " to %" PRId64 ")", c->dir, path, olo, ohi);
      }
  }
  if (chi > ohi) {
    batch_path(c, "offsets", chi, path, sizeof path);
    return sr_error_set(err, SR_ERROR, "checkpoint %s is damaged: %s is missing but commits/%" PRId64
                        " exists", c->dir, path, chi);
  }
  if (chi < ohi - 1) {
    batch_path(c, "commits", ohi - 1, path, sizeof path);
    return sr_error_set(err, SR_ERROR, "checkpoint %s is damaged: %s is missing: offsets/%" PRId64
                        " exists, so batch %" PRId64 " must have committed", c->dir, path, ohi, ohi - 1);
  }
  /* retention removes old commits, oldest first, and then their offsets: so commits may begin
  ** after offsets (a crash in between), never before */
  if (clo >= 0 && clo < olo) {
    batch_path(c, "offsets", clo, path, sizeof path);
    return sr_error_set(err, SR_ERROR, "checkpoint %s is damaged: %s is missing but commits/%" PRId64
                        " exists", c->dir, path, clo);
  }
  if (cn > 0 && cn != chi - clo + 1) {
    for (int64_t n = clo; n <= chi; n++)
      if (!batch_exists(c, "commits", n)) {
        batch_path(c, "commits", n, path, sizeof path);
        return sr_error_set(err, SR_ERROR, "checkpoint %s is damaged: %s is missing: commits/%" PRId64
                            " exists, so batch %" PRId64 " must have committed", c->dir, path, chi, n);
      }
  }
  return SR_OK;
}

/* --- metadata ---------------------------------------------------------------------------- */

/* 1 when the checkpoint has logged anything a query id was given to. */
static int has_batches(const sr_ckpt *c) {
  if (latest_in(c, "offsets") >= 0 || latest_in(c, "commits") >= 0) return 1;
  char path[4096];
  sr_ckpt_path(c, "sources", path, sizeof path);
  DIR *d = opendir(path);
  if (!d) return 0;
  struct dirent *de;
  int any = 0;
  while (!any && (de = readdir(d))) {
    char sub[4400];
    if (de->d_name[0] == '.') continue;
    snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
    DIR *s = opendir(sub);
    struct dirent *e;
    while (s && !any && (e = readdir(s))) any = parse_batch_name(e->d_name) >= 0;
    if (s) closedir(s);
  }
  closedir(d);
  return any;
}

static sr_status load_metadata(sr_ckpt *c, sr_error **err) {
  char path[4096];
  sr_ckpt_path(c, "metadata", path, sizeof path);
  int checked;
  size_t len;
  sr_error *rerr = NULL;
  char *text = sr_fs_read_checked(path, "metadata", &len, &checked, &rerr);
  if (!text && errno == ENOENT) {
    sr_error_free(rerr);
    if (has_batches(c))
      return sr_error_set(err, SR_ERROR, "checkpoint %s is damaged: %s is missing but batches were "
                          "logged; a new query id would make the sinks write committed batches "
                          "again. Restore the file, or give the query a new checkpointLocation",
                          c->dir, path);
    new_uuid(c->id);
    char body[128];
    int n = snprintf(body, sizeof body, "{\"id\":\"%s\"}\n", c->id);
    return sr_fs_write_checked(path, "metadata", body, (size_t)n, err);
  }
  if (!text) {
    if (err) *err = rerr; else sr_error_free(rerr);
    return SR_ERROR;
  }
  /* strictly {"id":"<uuid>"} on one line, the line ended */
  json_error_t jerr;
  json_t *doc = len > 0 && text[len - 1] == '\n' ? json_loadb(text, len, 0, &jerr) : NULL;
  const char *id = json_string_value(json_object_get(doc, "id"));
  sr_status st = SR_OK;
  if (!doc || json_object_size(doc) != 1 || !id || !is_uuid(id) || memchr(text, '\n', len) != text + len - 1)
    st = sr_error_set(err, SR_ERROR, "%s is damaged: not {\"id\":\"<query id>\"} on one line%s", path,
                      checked ? "" : " (and it has no checksum line)");
  else
    snprintf(c->id, sizeof c->id, "%s", id);
  json_decref(doc);
  free(text);
  return st;
}

/* The query id in the tag of a checked file ("offsets/5@<id>"), into out; "" when it has none. */
static void owner_of(const char *path, char *out, size_t outlen) {
  size_t n;
  out[0] = '\0';
  char *text = sr_fs_read_all(path, &n, NULL);
  if (!text) return;
  while (n > 0 && text[n - 1] == '\n') text[--n] = '\0';
  char *last = strrchr(text, '\n'), *at;
  last = last ? last + 1 : text;
  if (strncmp(last, "#crc32 ", 7) == 0 && (at = strrchr(last, '@'))) snprintf(out, outlen, "%s", at + 1);
  free(text);
}

/* metadata against the files it gave its id to: a metadata replaced by another checkpoint's
** (whole, its checksum good) names a query that did not write the logs. */
static sr_status check_owner(sr_ckpt *c, sr_error **err) {
  char path[4096], owner[64];
  int64_t last = latest_in(c, "offsets");
  if (last >= 0) batch_path(c, "offsets", last, path, sizeof path);
  else sr_ckpt_path(c, "plan", path, sizeof path);
  owner_of(path, owner, sizeof owner);
  if (!owner[0] || strcmp(owner, c->id) == 0) return SR_OK;
  char meta[4096];
  sr_ckpt_path(c, "metadata", meta, sizeof meta);
  return sr_error_set(err, SR_ERROR, "checkpoint %s is damaged: %s gives the query id %s, but %s was "
                      "written by query %s: the metadata was replaced (or the logs copied from another "
                      "checkpoint). Restore the checkpoint's own metadata", c->dir, meta, c->id, path, owner);
}

sr_ckpt *sr_ckpt_open(const char *dir, sr_error **err) {
  sr_ckpt *c = calloc(1, sizeof *c);
  if (!c) { sr_error_set(err, SR_ERROR, "out of memory"); return NULL; }
  c->lock_fd = -1;
  c->dir = strdup(dir);
  char sub[4096];
  if (!c->dir || sr_fs_mkdirs(dir, err) != SR_OK) goto fail;
  if (take_lock(c, err) != SR_OK) goto fail;
  remove_stale_temps(c->dir, 0);
  sr_ckpt_path(c, "offsets", sub, sizeof sub);
  if (sr_fs_mkdirs(sub, err) != SR_OK) goto fail;
  sr_ckpt_path(c, "commits", sub, sizeof sub);
  if (sr_fs_mkdirs(sub, err) != SR_OK) goto fail;
  if (load_metadata(c, err) != SR_OK) goto fail;
  if (check_owner(c, err) != SR_OK) goto fail;
  if (check_logs(c, err) != SR_OK) goto fail;
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

/* The tag of a checked file of this checkpoint: "offsets/5@<query id>". */
static void tag_of(const sr_ckpt *c, const char *sub, int64_t id, char *out, size_t outlen) {
  if (id >= 0) snprintf(out, outlen, "%s/%" PRId64 "@%s", sub, id, c->id);
  else snprintf(out, outlen, "%s@%s", sub, c->id);
}

static sr_status write_batch_file(sr_ckpt *c, const char *sub, int64_t id, const char *text,
                                  size_t len, sr_error **err) {
  char path[4096], tag[128];
  batch_path(c, sub, id, path, sizeof path);
  tag_of(c, sub, id, tag, sizeof tag);
  return sr_fs_write_checked(path, tag, text, len, err);
}

sr_status sr_ckpt_write_offsets(sr_ckpt *c, int64_t batch_id, const sr_batch_meta *meta,
                                json_t *ends, sr_error **err) {
  /* I3: a new batch follows a committed one */
  assert(batch_exists(c, "commits", batch_id - 1) || latest_in(c, "offsets") < 0);
  json_t *m = json_pack("{s:I,s:I}", "batchWatermarkMs", (json_int_t)meta->watermark_ms,
                        "batchTimestampMs", (json_int_t)meta->batch_ts_ms);
  json_t *conf = json_object();
  if (conf && meta->watermark_policy)
    json_object_set_new(conf, "multipleWatermarkPolicy", json_string(meta->watermark_policy));
  if (conf && meta->state_partitions > 0)
    json_object_set_new(conf, "numStatePartitions", json_integer(meta->state_partitions));
  if (m && json_object_size(conf) > 0) json_object_set(m, "conf", conf);
  json_decref(conf);
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
    sr_error_set(err, SR_ERROR, "out of memory writing offsets/%" PRId64, batch_id);
  } else {
    size_t len = (size_t)snprintf(text, cap, "v1\n%s\n", mtext);
    for (size_t i = 0; i < n; i++)
      len += (size_t)snprintf(text + len, cap - len, "%s\n", lines[i] ? lines[i] : "null");
    st = write_batch_file(c, "offsets", batch_id, text, len, err);
  }
  for (size_t i = 0; lines && i < n; i++) free(lines[i]);
  free(lines);
  free(mtext);
  free(text);
  return st;
}

/* Reads a batch log file: checks it (checksum and tag, or for an old file without one, that
** every line is ended), then splits it into its version line, its metadata object and the
** rest. *meta is a new reference. */
static sr_status read_log(sr_ckpt *c, const char *sub, int64_t id, char *path, size_t pathlen,
                          char **text, json_t **meta, char **rest, sr_error **err) {
  char tag[128];
  batch_path(c, sub, id, path, pathlen);
  tag_of(c, sub, id, tag, sizeof tag);
  size_t len;
  int checked;
  *text = sr_fs_read_checked(path, tag, &len, &checked, err);
  if (!*text) {
    if (errno == ENOENT && *err) sr_error_prefix(*err, "checkpoint %s is damaged", c->dir);
    return SR_ERROR;
  }
  const char *why = NULL;
  char *nl = strchr(*text, '\n'), *nl2 = nl ? strchr(nl + 1, '\n') : NULL;
  json_error_t jerr;
  *meta = NULL;
  if (len == 0 || (*text)[len - 1] != '\n') why = "its last line is cut (torn or truncated)";
  else if (!nl || nl != *text + 2 || strncmp(*text, "v1", 2) != 0) why = "not a streamrun batch log (expected v1)";
  else if (!nl2) why = "no metadata line";
  if (!why) {
    *nl2 = '\0';
    *meta = json_loads(nl + 1, 0, &jerr);
    if (!json_is_object(*meta)) why = "its metadata line is not a JSON object";
    *rest = nl2 + 1;
  }
  if (why) {
    json_decref(*meta);
    *meta = NULL;
    free(*text);
    *text = NULL;
    return sr_error_set(err, SR_ERROR, "%s is damaged: %s%s", path, why,
                        checked ? "" : " (and it has no checksum line)");
  }
  return SR_OK;
}

/* An integer field of a log's metadata object, required. */
static int meta_int(json_t *m, const char *key, int64_t *out) {
  json_t *v = json_object_get(m, key);
  if (!json_is_integer(v)) return 0;
  *out = (int64_t)json_integer_value(v);
  return 1;
}

sr_status sr_ckpt_read_offsets(sr_ckpt *c, int64_t batch_id, sr_batch_meta *meta,
                               json_t **ends, sr_error **err) {
  char path[4096], *text, *rest;
  json_t *m;
  *ends = NULL;
  if (read_log(c, "offsets", batch_id, path, sizeof path, &text, &m, &rest, err) != SR_OK) return SR_ERROR;
  int64_t wm = 0, ts = 0;
  int ok = meta_int(m, "batchWatermarkMs", &wm) && meta_int(m, "batchTimestampMs", &ts);
  /* the policy as a static string: the caller keeps meta beyond this json */
  const char *policy = json_string_value(json_object_get(json_object_get(m, "conf"), "multipleWatermarkPolicy"));
  meta->watermark_policy = !policy ? NULL : strcmp(policy, "max") == 0 ? "max" : "min";
  json_t *parts = json_object_get(json_object_get(m, "conf"), "numStatePartitions");
  int parts_ok = !parts || (json_is_integer(parts) && json_integer_value(parts) >= 1 &&
                            json_integer_value(parts) <= SR_STATE_MAX_PARTITIONS);
  meta->state_partitions = parts_ok && parts ? (int)json_integer_value(parts) : 0;
  json_decref(m);
  if (!ok || !parts_ok) {
    free(text);
    return sr_error_set(err, SR_ERROR, "%s is damaged: its metadata line %s", path,
                        ok ? "has a numStatePartitions that is not a partition count"
                           : "lacks batchWatermarkMs or batchTimestampMs");
  }
  meta->watermark_ms = wm;
  meta->batch_ts_ms = ts;
  *ends = json_array();
  json_error_t jerr;
  for (char *line = rest; *line;) {
    char *nl = strchr(line, '\n'); /* every line is ended (read_log) */
    *nl = '\0';
    json_t *v = json_loads(line, JSON_DECODE_ANY, &jerr);
    if (!v) {
      json_decref(*ends);
      *ends = NULL;
      free(text);
      return sr_error_set(err, SR_ERROR, "%s is damaged: a bad offsets line: %s", path, jerr.text);
    }
    json_array_append_new(*ends, v);
    line = nl + 1;
  }
  free(text);
  return SR_OK;
}

sr_status sr_ckpt_write_commit(sr_ckpt *c, int64_t batch_id, int64_t next_watermark_ms,
                               const int64_t *max_event_ms, int n, sr_error **err) {
  assert(batch_exists(c, "offsets", batch_id)); /* I1, I2: logged before it ran */
  json_t *maxes = n > 0 ? json_array() : NULL; /* none for a query without with_watermark */
  for (int i = 0; maxes && i < n; i++)
    json_array_append_new(maxes, max_event_ms[i] == INT64_MIN ? json_null()
                                                              : json_integer((json_int_t)max_event_ms[i]));
  json_t *m = json_pack("{s:I,s:o*}", "nextBatchWatermarkMs", (json_int_t)next_watermark_ms,
                        "maxEventTimeMs", maxes);
  char *mtext = m ? json_dumps(m, JSON_COMPACT) : NULL;
  json_decref(m);
  size_t cap = mtext ? strlen(mtext) + 8 : 0;
  char *text = mtext ? malloc(cap) : NULL;
  sr_status st;
  if (!text) {
    st = sr_error_set(err, SR_ERROR, "out of memory writing commits/%" PRId64, batch_id);
  } else {
    int len = snprintf(text, cap, "v1\n%s\n", mtext);
    st = write_batch_file(c, "commits", batch_id, text, (size_t)len, err);
  }
  free(text);
  free(mtext);
  return st;
}

sr_status sr_ckpt_read_commit(sr_ckpt *c, int64_t batch_id, int64_t *next_watermark_ms,
                              int64_t *max_event_ms, int n, sr_error **err) {
  char path[4096], *text, *rest;
  json_t *m;
  if (read_log(c, "commits", batch_id, path, sizeof path, &text, &m, &rest, err) != SR_OK) return SR_ERROR;
  int64_t wm;
  /* every commit this engine wrote records the watermark: one without it lost it */
  int ok = meta_int(m, "nextBatchWatermarkMs", &wm) && *rest == '\0';
  json_t *maxes = json_object_get(m, "maxEventTimeMs");
  if (ok && json_is_array(maxes) && json_array_size(maxes) == (size_t)n) {
    for (int i = 0; i < n; i++) {
      json_t *v = json_array_get(maxes, (size_t)i);
      max_event_ms[i] = json_is_integer(v) ? (int64_t)json_integer_value(v) : INT64_MIN;
    }
  }
  json_decref(m);
  free(text);
  if (!ok)
    return sr_error_set(err, SR_ERROR, "%s is damaged: not v1 and {\"nextBatchWatermarkMs\":N}", path);
  *next_watermark_ms = wm;
  return SR_OK;
}

/* Oldest first, so that a crash while pruning leaves the log without a gap (I3). */
static void prune_in(sr_ckpt *c, const char *sub, int64_t keep_from) {
  int64_t lo, hi, count;
  range_in(c, sub, &lo, &hi, &count);
  for (int64_t n = lo; n >= 0 && n < keep_from && n <= hi; n++) {
    char f[4096];
    batch_path(c, sub, n, f, sizeof f);
    unlink(f);
  }
}

void sr_ckpt_prune(sr_ckpt *c, int64_t keep_from) {
  /* commits first: a commit without its offsets would break I3 if we crashed in between */
  prune_in(c, "commits", keep_from);
  prune_in(c, "offsets", keep_from);
}

sr_status sr_ckpt_read_doc(sr_ckpt *c, const char *name, json_t **doc, sr_error **err) {
  char path[4096], tag[128];
  sr_ckpt_path(c, name, path, sizeof path);
  tag_of(c, name, -1, tag, sizeof tag);
  *doc = NULL;
  if (!sr_fs_exists(path)) return SR_OK;
  int checked;
  size_t len;
  char *text = sr_fs_read_checked(path, tag, &len, &checked, err);
  if (!text) return SR_ERROR;
  json_error_t jerr;
  *doc = json_loadb(text, len, 0, &jerr);
  free(text);
  if (!json_is_object(*doc)) {
    json_decref(*doc);
    *doc = NULL;
    return sr_error_set(err, SR_ERROR, "%s is damaged: %s", path, jerr.text);
  }
  return SR_OK;
}

sr_status sr_ckpt_write_doc(sr_ckpt *c, const char *name, json_t *doc, sr_error **err) {
  char path[4096], tag[128];
  sr_ckpt_path(c, name, path, sizeof path);
  tag_of(c, name, -1, tag, sizeof tag);
  char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
  size_t len = text ? strlen(text) : 0;
  char *body = text ? malloc(len + 2) : NULL;
  if (!body) { free(text); return sr_error_set(err, SR_ERROR, "out of memory"); }
  memcpy(body, text, len);
  body[len++] = '\n';
  sr_status st = sr_fs_write_checked(path, tag, body, len, err);
  free(body);
  free(text);
  return st;
}
