/*
** latency_client: the independent client of scripts/bench_latency. Three roles:
**
**   latency_client produce BOOT TOPIC RATE COUNT   COUNT messages at RATE a second, each
**                                                 "<seq> <send time, us since the epoch>"
**   latency_client consume BOOT TOPIC COUNT IDLE_S reads TOPIC from its beginning until every
**                                                 seq 0..COUNT-1 came (or IDLE_S without one)
**   latency_client pipe BOOT IN OUT COUNT          IN -> OUT, message by message: the floor
**   latency_client files IN OUT RATE COUNT         COUNT one-row JSON files {"seq":i,"sent":us}
**                                                 renamed into IN at RATE a second, while
**                                                 watching OUT, a json sink's folder: a row has
**                                                 arrived when its batch is committed (its
**                                                 _streamrun_metadata/N or N.compact entry is renamed in)
**
** consume and files print one line: received, duplicates, missing, then p50 p99 p999 max of
** (receive time - send time) in ms over the first copy of each seq, and exits 1 when a seq
** is missing or came twice. Send and receive times are CLOCK_REALTIME of one machine.
**
** The clients do not add waits of their own: the producer sends each message as it is stamped
** (linger.ms=0), the consumers fetch with fetch.wait.max.ms=1 (librdkafka's mock cluster holds
** an empty Fetch for the whole wait even when data arrives meanwhile; a real broker answers
** at once) and poll without batching. The figures of `pipe` are therefore the mock's own
** latency and librdkafka's, which streamrun cannot go below.
*/
#include <dirent.h>
#include <librdkafka/rdkafka.h>
#include <inttypes.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what, const char *why) {
  fprintf(stderr, "latency_client: %s: %s\n", what, why);
  exit(2);
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v) {
  char e[256];
  if (rd_kafka_conf_set(c, k, v, e, sizeof e) != RD_KAFKA_CONF_OK) die(k, e);
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *boot) {
  rd_kafka_conf_t *c = rd_kafka_conf_new();
  char e[256];
  set(c, "bootstrap.servers", boot);
  set(c, "log_level", "3");
  if (type == RD_KAFKA_PRODUCER) {
    set(c, "linger.ms", "0");
    set(c, "enable.idempotence", "true");
  } else {
    set(c, "group.id", "kafka-latency"); /* rd_kafka_assign needs one; never joined */
    set(c, "enable.auto.commit", "false");
    set(c, "fetch.wait.max.ms", "1");
    set(c, "enable.partition.eof", "false");
  }
  rd_kafka_t *rk = rd_kafka_new(type, c, e, sizeof e);
  if (!rk) die("rd_kafka_new", e);
  if (type == RD_KAFKA_CONSUMER) rd_kafka_poll_set_consumer(rk);
  return rk;
}

/* Assigns every partition of topic from its beginning (waits for the topic to exist). */
static void assign_all(rd_kafka_t *rk, const char *topic) {
  rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
  const rd_kafka_metadata_t *md = NULL;
  for (int tries = 0; tries < 100; tries++) {
    if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && md->topics[0].partition_cnt > 0)
      break;
    if (md) rd_kafka_metadata_destroy(md);
    md = NULL;
    struct timespec d = {0, 50000000};
    nanosleep(&d, NULL);
  }
  if (!md) die(topic, "no partitions");
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
  for (int i = 0; i < md->topics[0].partition_cnt; i++)
    rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[i].id)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(t);
  rd_kafka_resp_err_t err = rd_kafka_assign(rk, l);
  if (err) die("assign", rd_kafka_err2str(err));
  rd_kafka_topic_partition_list_destroy(l);
}

/* Start-up (metadata, the idempotent producer's id) is not the latency measured: one "warmup"
** message, which the consumer skips, is delivered before the clock starts. */
static void warm_up(rd_kafka_t *rk, const char *topic) {
  if (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE("warmup", (size_t)6),
                        RD_KAFKA_V_END) ||
      rd_kafka_flush(rk, 60000))
    die("produce", "the warm-up message was not delivered in 60 s");
}

static void produce(const char *boot, const char *topic, double rate, long count) {
  rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, boot);
  warm_up(rk, topic);
  int64_t start = now_us();
  char buf[64], key[24];
  for (long i = 0; i < count; i++) {
    int64_t due = start + (int64_t)((double)i * 1e6 / rate);
    for (int64_t t = now_us(); t < due; t = now_us()) {
      rd_kafka_poll(rk, 0);
      if (due - t > 200) {
        struct timespec d = {0, (long)(due - t - 100) * 1000};
        nanosleep(&d, NULL);
      }
    }
    int n = snprintf(buf, sizeof buf, "%ld %" PRId64, i, now_us());
    int k = snprintf(key, sizeof key, "%ld", i);
    rd_kafka_resp_err_t err;
    while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, (size_t)k),
                                    RD_KAFKA_V_VALUE(buf, (size_t)n),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
      rd_kafka_poll(rk, 1);
    if (err) die("produce", rd_kafka_err2str(err));
  }
  if (rd_kafka_flush(rk, 60000)) die("flush", "messages still in flight after 60 s");
  double secs = (double)(now_us() - start) / 1e6;
  fprintf(stderr, "latency_client: produced %ld in %.2f s (%.0f/s)\n", count, secs, count / secs);
  rd_kafka_destroy(rk);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static double pct_ms(const int64_t *sorted, long n, double p) {
  if (n == 0) return 0;
  long i = (long)(p * (double)(n - 1) + 0.5);
  return (double)sorted[i] / 1000.0;
}

/* What arrived: the first copy of each seq, its latency. */
typedef struct arrivals {
  long count, got, dups, strange;
  int64_t *lat, last;
  unsigned char *seen;
} arrivals;

static void arrivals_init(arrivals *a, long count) {
  *a = (arrivals){.count = count, .last = now_us()};
  a->lat = calloc((size_t)count, sizeof *a->lat);
  a->seen = calloc((size_t)count, 1);
  if (!a->lat || !a->seen) die("arrivals", "out of memory");
}

/* Notes one arrival at `at` of text holding "<seq> <sent>" (scan: its sscanf format). */
static void arrived(arrivals *a, const char *text, const char *scan, int64_t at) {
  long seq;
  int64_t sent;
  if (sscanf(text, scan, &seq, &sent) != 2 || seq < 0 || seq >= a->count) a->strange++;
  else if (a->seen[seq]) a->dups++;
  else {
    a->seen[seq] = 1;
    a->lat[a->got++] = at - sent;
    a->last = at;
  }
}

/* Prints the line (see the top); 0 when every seq came once and nothing else came. */
static int report(arrivals *a) {
  qsort(a->lat, (size_t)a->got, sizeof *a->lat, cmp_i64);
  printf("received %ld duplicates %ld missing %ld other %ld p50 %.2f p99 %.2f p999 %.2f max %.2f\n",
         a->got, a->dups, a->count - a->got, a->strange, pct_ms(a->lat, a->got, 0.5),
         pct_ms(a->lat, a->got, 0.99), pct_ms(a->lat, a->got, 0.999),
         a->got ? (double)a->lat[a->got - 1] / 1000.0 : 0);
  free(a->lat);
  free(a->seen);
  return a->got == a->count && a->dups == 0 && a->strange == 0 ? 0 : 1;
}

static int consume(const char *boot, const char *topic, long count, int idle_s) {
  rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, boot);
  assign_all(rk, topic);
  arrivals a;
  arrivals_init(&a, count);
  while (a.got < count && now_us() - a.last < (int64_t)idle_s * 1000000) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    int64_t at = now_us();
    if (m->err) {
      fprintf(stderr, "latency_client: %s\n", rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      continue;
    }
    if (m->len == 6 && memcmp(m->payload, "warmup", 6) == 0) {
      rd_kafka_message_destroy(m);
      continue;
    }
    char v[64];
    size_t n = m->len < sizeof v - 1 ? m->len : sizeof v - 1;
    memcpy(v, m->payload, n);
    v[n] = 0;
    arrived(&a, v, "%ld %" SCNd64, at);
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return report(&a);
}

/* Reads the rows of every part-<batch>-*.json file of out. */
static void read_batch(const char *out, const char *batch, arrivals *a, int64_t at) {
  char prefix[64], path[4096], line[256];
  snprintf(prefix, sizeof prefix, "part-%05ld-", atol(batch)); /* sink_files.c names them so */
  DIR *d = opendir(out);
  if (!d) die(out, "cannot open");
  for (struct dirent *e; (e = readdir(d));) {
    if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
    snprintf(path, sizeof path, "%s/%s", out, e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) die(path, "cannot open");
    while (fgets(line, sizeof line, f)) {
      /* "<seq> <sent>" from the row's two fields, in whatever order the sink wrote them */
      const char *seq = strstr(line, "\"seq\":"), *sent = strstr(line, "\"sent\":");
      char text[64];
      snprintf(text, sizeof text, "%ld %lld", seq ? atol(seq + 6) : -1L, sent ? atoll(sent + 7) : 0LL);
      arrived(a, text, "%ld %" SCNd64, at);
    }
    fclose(f);
  }
  closedir(d);
}

/* Drops the files into in at the rate while watching out's log (see the top). */
static int files(const char *in, const char *out, double rate, long count) {
  char log[4096], path[4096], tmp[4096];
  snprintf(log, sizeof log, "%s/_streamrun_metadata", out);
  struct stat st;
  for (int tries = 0; stat(log, &st) != 0; tries++) {
    if (tries > 600) die(log, "the sink made no log in 60 s");
    struct timespec d = {0, 100000000};
    nanosleep(&d, NULL);
  }
  int fd = inotify_init1(IN_NONBLOCK);
  if (fd < 0 || inotify_add_watch(fd, log, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) die(log, "inotify");
  arrivals a;
  arrivals_init(&a, count);
  int64_t start = now_us();
  long made = 0;
  while (a.got < count && now_us() - a.last < 10000000) {
    int64_t due = start + (int64_t)((double)made * 1e6 / rate);
    while (made < count && now_us() >= due) {
      snprintf(tmp, sizeof tmp, "%s/.f%08ld.tmp", in, made);
      snprintf(path, sizeof path, "%s/f%08ld.json", in, made);
      FILE *f = fopen(tmp, "w");
      if (!f) die(tmp, "cannot write");
      fprintf(f, "{\"seq\":%ld,\"sent\":%" PRId64 "}\n", made, now_us());
      fclose(f);
      if (rename(tmp, path) != 0) die(path, "cannot rename");
      due = start + (int64_t)((double)++made * 1e6 / rate);
    }
    int64_t wait_ms = made < count ? (due - now_us()) / 1000 : 100;
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, wait_ms < 0 ? 0 : (int)wait_ms) <= 0) continue;
    int64_t at = now_us();
    char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (ssize_t n; (n = read(fd, ev, sizeof ev)) > 0;)
      for (char *q = ev; q < ev + n; q += sizeof(struct inotify_event) + ((struct inotify_event *)q)->len) {
        const struct inotify_event *e = (const struct inotify_event *)q;
        /* N, or N.compact: every compactInterval-th batch's entry is a compact file */
        const char *dot = e->len ? strchr(e->name, '.') : NULL;
        if (e->len && e->name[0] >= '0' && e->name[0] <= '9' && (!dot || strcmp(dot, ".compact") == 0))
          read_batch(out, e->name, &a, at);
      }
  }
  close(fd);
  return report(&a);
}

static void pipe_topics(const char *boot, const char *in, const char *out, long count) {
  rd_kafka_t *c = client(RD_KAFKA_CONSUMER, boot), *p = client(RD_KAFKA_PRODUCER, boot);
  warm_up(p, out);
  assign_all(c, in);
  for (long moved = 0; moved < count;) {
    rd_kafka_poll(p, 0);
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 10);
    if (!m) continue;
    if (!m->err && m->len == 6 && memcmp(m->payload, "warmup", 6) == 0) {
      /* not counted: the consumer skips it */
    } else if (!m->err) {
      if (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(out), RD_KAFKA_V_KEY(m->key, m->key_len),
                            RD_KAFKA_V_VALUE(m->payload, m->len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END))
        die("pipe", "produce failed");
      moved++;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_flush(p, 60000);
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  rd_kafka_destroy(p);
}

int main(int argc, char **argv) {
  if (argc == 6 && strcmp(argv[1], "produce") == 0)
    produce(argv[2], argv[3], atof(argv[4]), atol(argv[5]));
  else if (argc == 6 && strcmp(argv[1], "consume") == 0)
    return consume(argv[2], argv[3], atol(argv[4]), atoi(argv[5]));
  else if (argc == 6 && strcmp(argv[1], "pipe") == 0)
    pipe_topics(argv[2], argv[3], argv[4], atol(argv[5]));
  else if (argc == 6 && strcmp(argv[1], "files") == 0)
    return files(argv[2], argv[3], atof(argv[4]), atol(argv[5]));
  else {
    fprintf(stderr, "usage: latency_client produce BOOT TOPIC RATE COUNT\n"
                    "       latency_client consume BOOT TOPIC COUNT IDLE_SECONDS\n"
                    "       latency_client pipe BOOT IN OUT COUNT\n"
                    "       latency_client files IN OUT RATE COUNT\n");
    return 2;
  }
  return 0;
}
