/*
** monitor: see monitor.h. One mutex guards everything below; the engine holds it to copy a
** batch's numbers in (microseconds), the HTTP thread to render an answer into its own buffer.
** Memory is bounded: SR_MONITOR_RING progress lines per query, SR_MONITOR_EVENTS reloads and
** errors, at most MAX_OPS operators and MAX_SOURCES sources per query.
*/
#include "monitor.h"

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "timeutil.h"

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum { MAX_OPS = 16, MAX_SOURCES = 16, NPHASES = 5, NBUCKETS = 14 };
enum { Q_ACTIVE, Q_FAILED, Q_STOPPED };

static const char *const phase_names[NPHASES] = {"latestOffset", "walCommit", "addBatch",
                                                 "commitOffsets", "triggerExecution"};
/* seconds; +Inf is implied */
static const double buckets[NBUCKETS] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5,   1,     2.5,  5,     10,  30,   60};

typedef struct op_stat {
  char *name;
  int64_t rows, bytes, dropped_total;
} op_stat;

typedef struct source_stat {
  char *desc;
  int64_t rows_total;
  int has_backlog_offsets, has_backlog_files;
  int64_t backlog_offsets, backlog_files, backlog_bytes;
} source_stat;

/* A progress line, shared between the ring and the answers being built from it: immutable once
** made, freed by whoever lets go of it last, so the HTTP thread copies it outside the mutex. */
typedef struct line {
  int refs;
  size_t len;
  char text[];
} line;

static line *line_new(const char *text) {
  size_t n = strlen(text);
  line *l = malloc(sizeof *l + n + 1);
  if (!l) return NULL;
  l->refs = 1;
  l->len = n;
  memcpy(l->text, text, n + 1);
  return l;
}

static line *line_ref(line *l) {
  __atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
  return l;
}

static void line_unref(line *l) {
  if (l && __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) == 0) free(l);
}

typedef struct mquery {
  char *name, *plan, *where, *error;
  int status;
  int64_t started_wall_ms, last_batch_wall_ms;
  int64_t batches, rows_in, rows_out, bad_total, last_batch_id;
  double in_rate, proc_rate;
  int64_t dur_ms[NPHASES];
  uint64_t hist[NPHASES][NBUCKETS];
  double hist_sum[NPHASES];
  int has_wm;
  int64_t wm_ms;
  int nops, nsources;
  op_stat ops[MAX_OPS];
  source_stat sources[MAX_SOURCES];
  line *ring[SR_MONITOR_RING]; /* progress lines, oldest at ring_head */
  int ring_head, ring_len;
} mquery;

typedef struct event {
  int64_t wall_ms;
  char *kind;      /* reload / reload refused / error / warning */
  char *query;     /* may be NULL */
  char *message;
  char *where;     /* job file:line when the message has one, may be NULL */
} event;

static struct {
  pthread_mutex_t mu;
  int enabled, started, nqueries_expected;
  int64_t start_wall_ms;
  mquery *qs;
  int nq;
  int64_t reloads, reload_refusals, lua_mem, lua_heap;
  event reloads_ring[SR_MONITOR_EVENTS];
  int reloads_head, reloads_len;
  event errors_ring[SR_MONITOR_EVENTS];
  int errors_head, errors_len;
} M = {.mu = PTHREAD_MUTEX_INITIALIZER};

void sr_monitor_enable(void) {
  pthread_mutex_lock(&M.mu);
  M.enabled = 1;
  M.start_wall_ms = wall_ms();
  pthread_mutex_unlock(&M.mu);
}

int sr_monitor_enabled(void) { return __atomic_load_n(&M.enabled, __ATOMIC_RELAXED); }

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static mquery *find_query(const char *name) {
  for (int i = 0; i < M.nq; i++)
    if (strcmp(M.qs[i].name, name) == 0) return &M.qs[i];
  return NULL;
}

static mquery *get_query(const char *name) {
  mquery *q = find_query(name);
  if (q) return q;
  mquery *grown = realloc(M.qs, (size_t)(M.nq + 1) * sizeof *grown);
  if (!grown) return NULL;
  M.qs = grown;
  q = &M.qs[M.nq++];
  memset(q, 0, sizeof *q);
  q->name = strdup(name);
  q->last_batch_id = -1;
  return q;
}

static void event_push(event *ring, int *head, int *len, const char *kind, const char *query,
                       const char *message, const char *where) {
  int slot = (*head + *len) % SR_MONITOR_EVENTS;
  if (*len == SR_MONITOR_EVENTS) {
    slot = *head;
    *head = (*head + 1) % SR_MONITOR_EVENTS;
  } else {
    (*len)++;
  }
  event *e = &ring[slot];
  free(e->kind); free(e->query); free(e->message); free(e->where);
  e->wall_ms = wall_ms();
  e->kind = strdup(kind);
  e->query = dup_or_null(query);
  e->message = dup_or_null(message);
  e->where = dup_or_null(where);
}

void sr_monitor_query_started(const char *name, const char *plan_text, const char *where) {
  if (!sr_monitor_enabled()) return;
  pthread_mutex_lock(&M.mu);
  mquery *q = get_query(name);
  if (q) {
    free(q->plan); free(q->where); free(q->error);
    q->plan = dup_or_null(plan_text);
    q->where = dup_or_null(where);
    q->error = NULL;
    q->status = Q_ACTIVE;
    q->started_wall_ms = wall_ms();
  }
  pthread_mutex_unlock(&M.mu);
}

void sr_monitor_query_ended(const char *name, int failed, const char *error) {
  if (!sr_monitor_enabled()) return;
  pthread_mutex_lock(&M.mu);
  mquery *q = find_query(name);
  if (q) {
    q->status = failed ? Q_FAILED : Q_STOPPED;
    free(q->error);
    q->error = dup_or_null(error);
  }
  pthread_mutex_unlock(&M.mu);
}

void sr_monitor_job_started(int nqueries) {
  if (!sr_monitor_enabled()) return;
  pthread_mutex_lock(&M.mu);
  M.started = 1;
  M.nqueries_expected = nqueries;
  pthread_mutex_unlock(&M.mu);
}

static int64_t int_of(const json_t *o, const char *key) {
  const json_t *v = json_object_get(o, key);
  if (json_is_integer(v)) return json_integer_value(v);
  if (json_is_real(v)) return (int64_t)json_real_value(v);
  if (json_is_string(v)) return strtoll(json_string_value(v), NULL, 10);
  return 0;
}

static double num_of(const json_t *o, const char *key) {
  const json_t *v = json_object_get(o, key);
  if (json_is_number(v)) return json_number_value(v);
  if (json_is_string(v)) return strtod(json_string_value(v), NULL);
  return 0;
}

/* Kafka: offsets behind latest over every partition (Spark reports their average). */
static int kafka_backlog(const json_t *src, int64_t *offsets) {
  const json_t *m = json_object_get(src, "metrics");
  const json_t *latest = json_object_get(src, "latestOffset");
  if (!json_object_get(m, "avgOffsetsBehindLatest") || !json_is_object(latest)) return 0;
  size_t parts = 0;
  const char *topic;
  json_t *p;
  json_object_foreach((json_t *)latest, topic, p) parts += json_object_size(p);
  *offsets = llround(num_of(m, "avgOffsetsBehindLatest") * (double)parts);
  return 1;
}

static void take_sources(mquery *q, const json_t *sources) {
  size_t n = json_array_size(sources);
  if (n > MAX_SOURCES) n = MAX_SOURCES;
  for (size_t i = 0; i < n; i++) {
    const json_t *s = json_array_get(sources, i);
    source_stat *st = &q->sources[i];
    const char *desc = json_string_value(json_object_get(s, "description"));
    if (!st->desc || (desc && strcmp(st->desc, desc) != 0)) {
      free(st->desc);
      memset(st, 0, sizeof *st);
      st->desc = strdup(desc ? desc : "?");
    }
    st->rows_total += int_of(s, "numInputRows");
    st->has_backlog_offsets = kafka_backlog(s, &st->backlog_offsets);
    const json_t *m = json_object_get(s, "metrics");
    st->has_backlog_files = json_object_get(m, "numFilesOutstanding") != NULL;
    st->backlog_files = int_of(m, "numFilesOutstanding");
    st->backlog_bytes = int_of(m, "numBytesOutstanding");
  }
  if ((int)n > q->nsources) q->nsources = (int)n;
}

static void take_ops(mquery *q, const json_t *ops) {
  size_t n = json_array_size(ops);
  if (n > MAX_OPS) n = MAX_OPS;
  for (size_t i = 0; i < n; i++) {
    const json_t *o = json_array_get(ops, i);
    op_stat *st = &q->ops[i];
    const char *name = json_string_value(json_object_get(o, "operatorName"));
    if (!st->name || (name && strcmp(st->name, name) != 0)) {
      free(st->name);
      memset(st, 0, sizeof *st);
      st->name = strdup(name ? name : "?");
    }
    st->rows = int_of(o, "numRowsTotal");
    st->bytes = int_of(o, "memoryUsedBytes");
    st->dropped_total += int_of(o, "numRowsDroppedByWatermark");
  }
  if ((int)n > q->nops) q->nops = (int)n;
}

void sr_monitor_batch(const char *name, const json_t *r, const char *text) {
  if (!sr_monitor_enabled()) return;
  line *made = text ? line_new(text) : NULL;
  pthread_mutex_lock(&M.mu);
  mquery *q = get_query(name);
  if (!q) goto out;
  q->last_batch_wall_ms = wall_ms();
  q->batches++;
  q->last_batch_id = int_of(r, "batchId");
  q->rows_in += int_of(r, "numInputRows");
  q->rows_out += int_of(json_object_get(r, "sink"), "numOutputRows");
  q->in_rate = num_of(r, "inputRowsPerSecond");
  q->proc_rate = num_of(r, "processedRowsPerSecond");
  q->bad_total += int_of(r, "numBadRecords"); /* the batch's own */
  const json_t *d = json_object_get(r, "durationMs");
  for (int p = 0; p < NPHASES; p++) {
    int64_t ms = int_of(d, phase_names[p]);
    double s = (double)ms / 1000.0;
    q->dur_ms[p] = ms;
    q->hist_sum[p] += s;
    for (int b = 0; b < NBUCKETS; b++)
      if (s <= buckets[b]) q->hist[p][b]++;
  }
  const json_t *wm = json_object_get(json_object_get(r, "eventTime"), "watermark");
  q->has_wm = json_is_string(wm) &&
              sr_time_parse(json_string_value(wm), json_string_length(wm), &q->wm_ms) == 0;
  take_sources(q, json_object_get(r, "sources"));
  take_ops(q, json_object_get(r, "stateOperators"));
  M.reloads = int_of(r, "reloads");
  M.reload_refusals = int_of(r, "reloadRefusals");
  M.lua_mem = int_of(r, "luaMemoryBytes");
  M.lua_heap = int_of(r, "luaHeapBytes");
  if (made) {
    int slot = (q->ring_head + q->ring_len) % SR_MONITOR_RING;
    if (q->ring_len == SR_MONITOR_RING) {
      slot = q->ring_head;
      q->ring_head = (q->ring_head + 1) % SR_MONITOR_RING;
    } else {
      q->ring_len++;
    }
    line_unref(q->ring[slot]);
    q->ring[slot] = made;
    made = NULL;
  }
out:
  pthread_mutex_unlock(&M.mu);
  line_unref(made);
}

void sr_monitor_reload(int ok, const char *why, int64_t ms) {
  if (!sr_monitor_enabled()) return;
  char msg[64];
  snprintf(msg, sizeof msg, "reloaded in %" PRId64 " ms", ms);
  pthread_mutex_lock(&M.mu);
  event_push(M.reloads_ring, &M.reloads_head, &M.reloads_len, ok ? "reload" : "reload refused",
             NULL, ok ? msg : why, NULL);
  if (ok) M.reloads++;
  else M.reload_refusals++;
  pthread_mutex_unlock(&M.mu);
}

void sr_monitor_log(const char *level, const char *query, const char *message, const char *where) {
  if (!sr_monitor_enabled()) return;
  pthread_mutex_lock(&M.mu);
  event_push(M.errors_ring, &M.errors_head, &M.errors_len, level, query, message, where);
  pthread_mutex_unlock(&M.mu);
}

int sr_monitor_ready(void) {
  pthread_mutex_lock(&M.mu);
  int ready = M.started;
  for (int i = 0; i < M.nq; i++)
    if (M.qs[i].status == Q_FAILED) ready = 0;
  pthread_mutex_unlock(&M.mu);
  return ready;
}

/* --- /metrics ------------------------------------------------------------------------------ */

/* A label value as the exposition format wants it: \, " and newline escaped. */
static void put_label(sr_buf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '\\') sr_buf_puts(b, "\\\\");
    else if (*s == '"') sr_buf_puts(b, "\\\"");
    else if (*s == '\n') sr_buf_puts(b, "\\n");
    else sr_buf_putc(b, *s);
  }
}

static void head(sr_buf *b, const char *name, const char *type, const char *help) {
  sr_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void qlabel(sr_buf *b, const char *name, const mquery *q) {
  sr_buf_printf(b, "%s{query=\"", name);
  put_label(b, q->name);
  sr_buf_putc(b, '"');
}

static void sample_i(sr_buf *b, const char *name, const mquery *q, int64_t v) {
  qlabel(b, name, q);
  sr_buf_printf(b, "} %" PRId64 "\n", v);
}

static void sample_d(sr_buf *b, const char *name, const mquery *q, double v) {
  qlabel(b, name, q);
  sr_buf_printf(b, "} %.17g\n", v);
}

/* Process figures from /proc, read at each scrape by the HTTP thread. */
static void process_metrics(sr_buf *b, int64_t start_ms) {
  long page = sysconf(_SC_PAGESIZE), ticks = sysconf(_SC_CLK_TCK);
  unsigned long long vsize = 0, rss_pages = 0, utime = 0, stime = 0, start = 0;
  FILE *f = fopen("/proc/self/stat", "r");
  if (f) {
    char line[2048];
    if (fgets(line, sizeof line, f)) {
      char *p = strrchr(line, ')'); /* the command name may hold spaces */
      if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
                      "%*d %*d %llu %llu %llu", &utime, &stime, &start, &vsize, &rss_pages) != 5)
        utime = stime = 0;
    }
    fclose(f);
  }
  int fds = 0;
  DIR *d = opendir("/proc/self/fd");
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) fds += e->d_name[0] != '.';
    closedir(d);
    fds--; /* the one opendir holds */
  }
  struct rlimit rl;
  double max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (double)rl.rlim_cur : 0;
  head(b, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
  sr_buf_printf(b, "process_cpu_seconds_total %.2f\n", (double)(utime + stime) / (double)ticks);
  head(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  sr_buf_printf(b, "process_resident_memory_bytes %llu\n", rss_pages * (unsigned long long)page);
  head(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
  sr_buf_printf(b, "process_virtual_memory_bytes %llu\n", vsize);
  head(b, "process_open_fds", "gauge", "Number of open file descriptors.");
  sr_buf_printf(b, "process_open_fds %d\n", fds);
  head(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
  sr_buf_printf(b, "process_max_fds %.0f\n", max_fds);
  head(b, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
  sr_buf_printf(b, "process_start_time_seconds %.3f\n", (double)start_ms / 1000.0);
}

#define EACH_QUERY for (int i = 0; i < M.nq; i++)

/* The metrics are rendered in the order Prometheus' text format groups them: each family's
** HELP/TYPE head, then its samples. These run under M.mu. */

/* Each query's status, counts and rates. */
static void render_queries(sr_buf *b) {
  head(b, "streamrun_query_active", "gauge", "1: the query is running; 0: it stopped or failed.");
  EACH_QUERY sample_i(b, "streamrun_query_active", &M.qs[i], M.qs[i].status == Q_ACTIVE);
  head(b, "streamrun_query_failed", "gauge", "1: the query failed.");
  EACH_QUERY sample_i(b, "streamrun_query_failed", &M.qs[i], M.qs[i].status == Q_FAILED);
  head(b, "streamrun_batches_total", "counter", "Micro-batches run since the process started.");
  EACH_QUERY sample_i(b, "streamrun_batches_total", &M.qs[i], M.qs[i].batches);
  head(b, "streamrun_last_batch_id", "gauge", "Id of the last batch run (-1: none yet).");
  EACH_QUERY sample_i(b, "streamrun_last_batch_id", &M.qs[i], M.qs[i].last_batch_id);
  head(b, "streamrun_last_batch_timestamp_seconds", "gauge", "When the last batch ended, unix seconds.");
  EACH_QUERY if (M.qs[i].batches) sample_d(b, "streamrun_last_batch_timestamp_seconds", &M.qs[i],
                                           (double)M.qs[i].last_batch_wall_ms / 1000.0);
  head(b, "streamrun_input_rows_total", "counter", "Rows read from the sources (numInputRows).");
  EACH_QUERY sample_i(b, "streamrun_input_rows_total", &M.qs[i], M.qs[i].rows_in);
  head(b, "streamrun_output_rows_total", "counter", "Rows written to the sink (sink.numOutputRows).");
  EACH_QUERY sample_i(b, "streamrun_output_rows_total", &M.qs[i], M.qs[i].rows_out);
  head(b, "streamrun_input_rows_per_second", "gauge", "Input rate of the last batch (inputRowsPerSecond).");
  EACH_QUERY sample_d(b, "streamrun_input_rows_per_second", &M.qs[i], M.qs[i].in_rate);
  head(b, "streamrun_processed_rows_per_second", "gauge",
       "Processing rate of the last batch (processedRowsPerSecond).");
  EACH_QUERY sample_d(b, "streamrun_processed_rows_per_second", &M.qs[i], M.qs[i].proc_rate);
  head(b, "streamrun_bad_records_total", "counter", "Bad records dead-lettered (numBadRecords).");
  EACH_QUERY sample_i(b, "streamrun_bad_records_total", &M.qs[i], M.qs[i].bad_total);
}

/* Each query's batch durations by phase: the histogram, and the last batch's. */
static void render_durations(sr_buf *b) {
  head(b, "streamrun_batch_duration_seconds", "histogram",
       "Batch duration by phase (durationMs; triggerExecution is the whole batch).");
  EACH_QUERY {
    mquery *q = &M.qs[i];
    for (int p = 0; p < NPHASES; p++) {
      for (int k = 0; k <= NBUCKETS; k++) {
        qlabel(b, "streamrun_batch_duration_seconds_bucket", q);
        if (k < NBUCKETS) sr_buf_printf(b, ",phase=\"%s\",le=\"%g\"} %" PRIu64 "\n", phase_names[p],
                                        buckets[k], q->hist[p][k]);
        else sr_buf_printf(b, ",phase=\"%s\",le=\"+Inf\"} %" PRId64 "\n", phase_names[p], q->batches);
      }
      qlabel(b, "streamrun_batch_duration_seconds_sum", q);
      sr_buf_printf(b, ",phase=\"%s\"} %.3f\n", phase_names[p], q->hist_sum[p]);
      qlabel(b, "streamrun_batch_duration_seconds_count", q);
      sr_buf_printf(b, ",phase=\"%s\"} %" PRId64 "\n", phase_names[p], q->batches);
    }
  }
  head(b, "streamrun_last_batch_duration_seconds", "gauge", "The last batch's duration by phase.");
  EACH_QUERY for (int p = 0; p < NPHASES; p++) {
    qlabel(b, "streamrun_last_batch_duration_seconds", &M.qs[i]);
    sr_buf_printf(b, ",phase=\"%s\"} %.3f\n", phase_names[p], (double)M.qs[i].dur_ms[p] / 1000.0);
  }
}

static void render_watermarks(sr_buf *b, int64_t now) {
  head(b, "streamrun_watermark_seconds", "gauge", "Event-time watermark, unix seconds (queries with one).");
  EACH_QUERY if (M.qs[i].has_wm) sample_d(b, "streamrun_watermark_seconds", &M.qs[i], (double)M.qs[i].wm_ms / 1000.0);
  head(b, "streamrun_watermark_lag_seconds", "gauge", "Wall-clock time minus the watermark, at the scrape.");
  EACH_QUERY if (M.qs[i].has_wm)
    sample_d(b, "streamrun_watermark_lag_seconds", &M.qs[i], (double)(now - M.qs[i].wm_ms) / 1000.0);
}

/* Per source: rows read and what is left behind (Kafka offsets, files and their bytes). */
static void render_sources(sr_buf *b) {
  head(b, "streamrun_source_input_rows_total", "counter", "Rows read, per source.");
  EACH_QUERY for (int s = 0; s < M.qs[i].nsources; s++) {
    qlabel(b, "streamrun_source_input_rows_total", &M.qs[i]);
    sr_buf_printf(b, ",source=\"%d\",description=\"", s);
    put_label(b, M.qs[i].sources[s].desc);
    sr_buf_printf(b, "\"} %" PRId64 "\n", M.qs[i].sources[s].rows_total);
  }
  head(b, "streamrun_source_backlog_offsets", "gauge",
       "Kafka: offsets behind the latest, over all partitions, at the last batch's plan.");
  EACH_QUERY for (int s = 0; s < M.qs[i].nsources; s++) if (M.qs[i].sources[s].has_backlog_offsets) {
    qlabel(b, "streamrun_source_backlog_offsets", &M.qs[i]);
    sr_buf_printf(b, ",source=\"%d\"} %" PRId64 "\n", s, M.qs[i].sources[s].backlog_offsets);
  }
  head(b, "streamrun_source_backlog_files", "gauge",
       "Files: files listed but left for later batches by the rate limits, at the last batch's plan.");
  EACH_QUERY for (int s = 0; s < M.qs[i].nsources; s++) if (M.qs[i].sources[s].has_backlog_files) {
    qlabel(b, "streamrun_source_backlog_files", &M.qs[i]);
    sr_buf_printf(b, ",source=\"%d\"} %" PRId64 "\n", s, M.qs[i].sources[s].backlog_files);
  }
  head(b, "streamrun_source_backlog_bytes", "gauge", "Files: the size of those files.");
  EACH_QUERY for (int s = 0; s < M.qs[i].nsources; s++) if (M.qs[i].sources[s].has_backlog_files) {
    qlabel(b, "streamrun_source_backlog_bytes", &M.qs[i]);
    sr_buf_printf(b, ",source=\"%d\"} %" PRId64 "\n", s, M.qs[i].sources[s].backlog_bytes);
  }
}

/* Per stateful operator: its state's rows and memory, the late rows it dropped. */
static void render_operators(sr_buf *b) {
#define OP_SAMPLE(metric, field)                                             \
  EACH_QUERY for (int o = 0; o < M.qs[i].nops; o++) {                        \
    qlabel(b, metric, &M.qs[i]);                                             \
    sr_buf_puts(b, ",operator=\"");                                          \
    put_label(b, M.qs[i].ops[o].name);                                       \
    sr_buf_printf(b, "\"} %" PRId64 "\n", M.qs[i].ops[o].field);             \
  }
  head(b, "streamrun_state_rows", "gauge", "Rows in a stateful operator's state (numRowsTotal).");
  OP_SAMPLE("streamrun_state_rows", rows)
  head(b, "streamrun_state_memory_bytes", "gauge", "Memory of a stateful operator's state (memoryUsedBytes).");
  OP_SAMPLE("streamrun_state_memory_bytes", bytes)
  head(b, "streamrun_state_rows_dropped_by_watermark_total", "counter",
       "Late rows a stateful operator dropped (numRowsDroppedByWatermark).");
  OP_SAMPLE("streamrun_state_rows_dropped_by_watermark_total", dropped_total)
#undef OP_SAMPLE
}

/* The job's own: reloads and Lua memory. */
static void render_job(sr_buf *b) {
  head(b, "streamrun_reloads_total", "counter", "Hot reloads of the job that took effect.");
  sr_buf_printf(b, "streamrun_reloads_total %" PRId64 "\n", M.reloads);
  head(b, "streamrun_reload_refusals_total", "counter", "Reloads refused (the running version went on).");
  sr_buf_printf(b, "streamrun_reload_refusals_total %" PRId64 "\n", M.reload_refusals);
  head(b, "streamrun_lua_memory_bytes", "gauge", "Lua memory in use at the last batch's end (luaMemoryBytes).");
  sr_buf_printf(b, "streamrun_lua_memory_bytes %" PRId64 "\n", M.lua_mem);
  head(b, "streamrun_lua_heap_bytes", "gauge", "Lua heap held from the system (luaHeapBytes).");
  sr_buf_printf(b, "streamrun_lua_heap_bytes %" PRId64 "\n", M.lua_heap);
}

int sr_monitor_render_metrics(sr_buf *b) {
  pthread_mutex_lock(&M.mu);
  int64_t now = wall_ms();
  int ready = M.started;
  EACH_QUERY if (M.qs[i].status == Q_FAILED) ready = 0;
  head(b, "streamrun_up", "gauge", "1: the job's process is serving.");
  sr_buf_puts(b, "streamrun_up 1\n");
  head(b, "streamrun_ready", "gauge", "1: every query started and none failed (as /readyz).");
  sr_buf_printf(b, "streamrun_ready %d\n", ready);
  render_queries(b);
  render_durations(b);
  render_watermarks(b, now);
  render_sources(b);
  render_operators(b);
  render_job(b);
  int64_t start_ms = M.start_wall_ms;
  pthread_mutex_unlock(&M.mu);
  process_metrics(b, start_ms); /* reads /proc: not under the engine's mutex */
  return sr_buf_cstr(b) ? 0 : -1;
}

/* --- the JSON API ------------------------------------------------------------------------ */

static const char *status_name(int s) {
  return s == Q_ACTIVE ? "ACTIVE" : s == Q_FAILED ? "FAILED" : "STOPPED";
}

static json_t *iso(int64_t ms) {
  char t[40];
  sr_time_format(ms, t);
  return json_string(t);
}

static json_t *events_json(const event *ring, int head, int len) {
  json_t *a = json_array();
  for (int k = 0; k < len; k++) {
    const event *e = &ring[(head + k) % SR_MONITOR_EVENTS];
    json_t *o = json_pack("{s:o,s:s}", "time", iso(e->wall_ms), "kind", e->kind);
    if (e->query) json_object_set_new(o, "query", json_string(e->query));
    if (e->message) json_object_set_new(o, "message", json_string(e->message));
    if (e->where) json_object_set_new(o, "where", json_string(e->where));
    json_array_append_new(a, o);
  }
  return a;
}

int sr_monitor_render_queries(sr_buf *b) {
  json_t *root = json_object();
  line **lasts = NULL;
  pthread_mutex_lock(&M.mu);
  lasts = calloc((size_t)M.nq + 1, sizeof *lasts);
  int ready = M.started;
  json_t *qs = json_array();
  EACH_QUERY {
    mquery *q = &M.qs[i];
    if (q->status == Q_FAILED) ready = 0;
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(q->name));
    json_object_set_new(o, "status", json_string(status_name(q->status)));
    if (q->where) json_object_set_new(o, "where", json_string(q->where));
    json_object_set_new(o, "plan", q->plan ? json_string(q->plan) : json_null());
    if (q->error) json_object_set_new(o, "error", json_string(q->error));
    json_object_set_new(o, "startedAt", iso(q->started_wall_ms));
    json_object_set_new(o, "batches", json_integer(q->batches));
    json_object_set_new(o, "numInputRowsTotal", json_integer(q->rows_in));
    json_object_set_new(o, "numOutputRowsTotal", json_integer(q->rows_out));
    json_object_set_new(o, "numBadRecordsTotal", json_integer(q->bad_total));
    /* parsed after the mutex is let go */
    if (q->ring_len && lasts) lasts[i] = line_ref(q->ring[(q->ring_head + q->ring_len - 1) % SR_MONITOR_RING]);
    json_array_append_new(qs, o);
  }
  json_object_set_new(root, "ready", json_boolean(ready));
  json_object_set_new(root, "startedAt", iso(M.start_wall_ms));
  json_object_set_new(root, "now", iso(wall_ms()));
  json_object_set_new(root, "queries", qs);
  json_object_set_new(root, "reloads", events_json(M.reloads_ring, M.reloads_head, M.reloads_len));
  json_object_set_new(root, "errors", events_json(M.errors_ring, M.errors_head, M.errors_len));
  pthread_mutex_unlock(&M.mu);
  for (size_t i = 0; i < json_array_size(qs); i++) {
    json_t *last = lasts && lasts[i] ? json_loads(lasts[i]->text, 0, NULL) : NULL;
    json_object_set_new(json_array_get(qs, i), "lastProgress", last ? last : json_null());
    if (lasts) line_unref(lasts[i]);
  }
  free(lasts);
  char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(root);
  if (!text) return -1;
  int rc = sr_buf_puts(b, text);
  free(text);
  return rc;
}

int sr_monitor_render_progress(sr_buf *b, const char *name, int last) {
  line *lines[SR_MONITOR_RING];
  int n = 0;
  pthread_mutex_lock(&M.mu); /* only takes references: the copying is done after */
  mquery *q = find_query(name);
  if (q) {
    if (last < 0 || last > q->ring_len) last = q->ring_len;
    for (int k = q->ring_len - last; k < q->ring_len; k++)
      lines[n++] = line_ref(q->ring[(q->ring_head + k) % SR_MONITOR_RING]);
  }
  pthread_mutex_unlock(&M.mu);
  if (!q) return 1;
  size_t total = 2;
  for (int k = 0; k < n; k++) total += lines[k]->len + 1;
  int rc = sr_buf_reserve(b, total);
  sr_buf_putc(b, '[');
  for (int k = 0; k < n; k++) {
    if (k) sr_buf_putc(b, ',');
    sr_buf_append(b, lines[k]->text, lines[k]->len);
    line_unref(lines[k]);
  }
  sr_buf_putc(b, ']');
  return rc == 0 && sr_buf_cstr(b) ? 0 : -1;
}
