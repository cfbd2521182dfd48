/* kafka_mock: see kafka_mock.h. */
#include "kafka_mock.h"
#include "sr_log.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_common.h"

#define MAX_BROKERS 16

const char sr_kafka_mock_usage[] =
    "usage: streamrun --kafka-mock [BROKERS] [--topic NAME:PARTITIONS]...\n"
    "\n"
    "Starts librdkafka's mock Kafka cluster on 127.0.0.1 with BROKERS brokers (default 1),\n"
    "prints its bootstrap servers (host:port,...) as the first line of stdout, and serves\n"
    "until SIGINT or SIGTERM. Everything is kept in memory.\n"
    "\n"
    "  --topic NAME:PARTITIONS   create a topic before serving (repeatable); other topics\n"
    "                            are created on first use with 4 partitions\n"
    "\n"
    "Limits of the mock (librdkafka 2.0.2): each partition keeps its newest ~5 MiB (older\n"
    "records are dropped, as retention would); transactions are accepted but not enforced\n"
    "(aborted records stay visible); listing offsets by timestamp is not supported (it\n"
    "answers \"no such offset\"); a consumer group's first join waits ~3 seconds.\n"
    "\n"
    "Example:\n"
    "  streamrun --kafka-mock --topic bids:4 > mock.out &\n"
    "  until [ -s mock.out ]; do sleep 0.1; done; BOOT=$(head -1 mock.out)\n";

/* Parses "NAME:PARTITIONS". Returns the partition count, or -1. */
static int parse_topic(const char *arg, char *name, size_t size) {
  const char *colon = strrchr(arg, ':');
  if (!colon || colon == arg || (size_t)(colon - arg) >= size) return -1;
  char *end;
  errno = 0;
  long n = strtol(colon + 1, &end, 10);
  if (end == colon + 1 || *end || errno || n < 1 || n > 100000) return -1;
  memcpy(name, arg, (size_t)(colon - arg));
  name[colon - arg] = '\0';
  return (int)n;
}

int sr_kafka_mock_main(int argc, char **argv) {
  int brokers = 1, rc = 0;
  char errstr[512];
  rd_kafka_t *rk = NULL;
  rd_kafka_mock_cluster_t *mc = NULL;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(sr_kafka_mock_usage, stdout);
      return 0;
    }
    if (strcmp(argv[i], "--topic") == 0) {
      char name[256];
      if (i + 1 >= argc || parse_topic(argv[i + 1], name, sizeof name) < 0) {
        fprintf(stderr, "streamrun --kafka-mock: --topic wants NAME:PARTITIONS\n%s", sr_kafka_mock_usage);
        return 2;
      }
      i++;
      continue;
    }
    char *end;
    long n = strtol(argv[i], &end, 10);
    if (end == argv[i] || *end || n < 1 || n > MAX_BROKERS) {
      fprintf(stderr, "streamrun --kafka-mock: BROKERS must be a number from 1 to %d, not \"%s\"\n%s",
              MAX_BROKERS, argv[i], sr_kafka_mock_usage);
      return 2;
    }
    brokers = (int)n;
  }
  /* Block the signals before librdkafka starts threads, so that only sigwait sees them. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);

  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, sr_kafka_log);
  /* The handle only hosts the cluster: it connects nowhere, so silence its warning. */
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  /* The mock's connections take their socket options from this handle. With Nagle on, the
  ** reply that ends a burst waits for the client's delayed ACK: ~40 ms at the end of every
  ** produce flush and fetch round (real brokers set TCP_NODELAY too). */
  rd_kafka_conf_set(conf, "socket.nagle.disable", "true", errstr, sizeof errstr);
  if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr))) {
    fprintf(stderr, "streamrun --kafka-mock: %s\n", errstr);
    return 1;
  }
  if (!(mc = rd_kafka_mock_cluster_new(rk, brokers))) {
    fprintf(stderr, "streamrun --kafka-mock: cannot create the mock cluster\n");
    rc = 1;
    goto done;
  }
  for (int i = 0; i < argc; i++) {
    char name[256];
    int parts;
    if (strcmp(argv[i], "--topic") != 0) continue;
    parts = parse_topic(argv[++i], name, sizeof name);
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, name, parts, brokers < 3 ? brokers : 3);
    if (e) {
      fprintf(stderr, "streamrun --kafka-mock: creating topic %s: %s\n", name, rd_kafka_err2str(e));
      rc = 1;
      goto done;
    }
  }
  printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);
  sr_log("info", NULL, -1, "mock Kafka cluster with %d broker(s) at %s; stop with Ctrl-C",
          brokers, rd_kafka_mock_cluster_bootstraps(mc));
  int sig;
  while (sigwait(&stop, &sig) != 0) {}
done:
  if (mc) rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return rc;
}
