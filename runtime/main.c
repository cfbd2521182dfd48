/*
** streamrun: the command line (the contract is JOB-API.md, "Running").
**   streamrun JOB.lua [ARGS...] | --check JOB.lua | --kafka-mock [BROKERS] | top | test | state
**   | --help | --version
*/
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_server.h"
#include "job.h"
#include "kafka_mock.h"
#include "lua_defs.h"
#include "options.h"
#include "sr_log.h"
#include "state_view.h"
#include "test_driver.h"
#include "top.h"

static const char usage[] =
  "usage: streamrun [--no-reload] [--progress FILE] [--memory-limit SIZE] [--http [ADDR:]PORT]\n"
  "                 [--log-format text|json] JOB.lua [ARGS...]\n"
  "       streamrun --check JOB.lua      build and validate the plan, print it, run nothing\n"
  "       streamrun --check --json JOB.lua  the same, as one JSON document\n"
  "       streamrun --lua-defs DIR       write DIR/streamrun.lua, the definitions an editor's Lua\n"
  "                                      language server reads to complete and check jobs\n"
  "       streamrun --kafka-mock [BROKERS]\n"
  "                                      start librdkafka's mock Kafka cluster on loopback and\n"
  "                                      print its bootstrap servers as the first line\n"
  "       streamrun top [URL]            watch the queries of a job run with --http (q quits;\n"
  "                                      URL defaults to http://127.0.0.1:4040/)\n"
  "       streamrun test [BUSTED OPTIONS] [PATH...]\n"
  "                                      run busted specs (default spec/) that drive jobs with\n"
  "                                      require \"streamrun.testing\" (docs/TESTING.md)\n"
  "       streamrun state CHECKPOINT [--operator N] [--batch B]\n"
  "                                      print a stateful operator's state as JSON lines\n"
  "       streamrun --help | --version\n"
  "\n"
  "Runs every query JOB.lua defines until they end or a signal stops them. ARGS reach the job\n"
  "as the global `arg`. SIGINT/SIGTERM stop after the batch in flight commits, interrupting\n"
  "user code still running a second later (a second signal exits at once; the checkpoint\n"
  "keeps that safe). SIGHUP reloads the job between batches. --memory-limit caps the job's Lua\n"
  "heap (\"2 GB\"): a batch that needs more fails with that reason. --http serves metrics\n"
  "(/metrics), health (/healthz, /readyz), a JSON API (/api/v1/queries) and a dashboard (/) on\n"
  "127.0.0.1 unless ADDR says otherwise; PORT 0 picks a free one. --log-format json writes\n"
  "streamrun's own log lines as JSON objects.\n"
  "Exit status: 0 all queries ended normally, 1 a query failed, 2 the job or its options are\n"
  "invalid, 130 a stop signal interrupted a batch.\n";

static volatile sig_atomic_t stops;

static void on_stop(int sig) {
  (void)sig;
  if (stops++ > 0) { /* the second signal: at once; the checkpoint keeps it safe */
    static const char msg[] = "streamrun: a second stop signal: exiting now; a batch in flight "
                              "was not committed and re-runs at the next start\n";
    if (write(2, msg, sizeof msg - 1) < 0) { /* nothing more can be done about stderr */ }
    _exit(130);
  }
  sr_job_request_stop();
}

static void on_hup(int sig) {
  (void)sig;
  sr_job_request_reload();
}

static void install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = on_hup;
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

/* malloc (librdkafka's buffers and messages, the engine's own) keeps what it gets from the
** system instead of handing it back and faulting it in again: grow the heap 16 MB at a time,
** trim only past 256 MB free, and serve blocks up to 32 MB from the heap, not from mmap. Page
** faults dominate short runs on VMs (~12 us each on the benchmark machine); this took about
** 25 ms off producing 100,000 Kafka messages and 15 ms off consuming them. A long-running query
** keeps its high-water mark of heap, as servers with jemalloc do. Left alone when the user
** tunes malloc through the environment. */
static void tune_malloc(void) {
  static const char *const knobs[] = {"GLIBC_TUNABLES", "MALLOC_TOP_PAD_", "MALLOC_TRIM_THRESHOLD_",
                                      "MALLOC_MMAP_THRESHOLD_", NULL};
  for (int i = 0; knobs[i]; i++)
    if (getenv(knobs[i])) return;
  mallopt(M_TOP_PAD, 16 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
}

int main(int argc, char **argv) {
  sr_job_options o;
  memset(&o, 0, sizeof o);
  int i = 1;
  const char *http = NULL;
  if (argc > 1 && strcmp(argv[1], "top") == 0) return sr_top_main(argc - 2, argv + 2);
  if (argc > 1 && strcmp(argv[1], "test") == 0) return sr_test_main(argc - 2, argv + 2);
  if (argc > 1 && strcmp(argv[1], "state") == 0) return sr_state_main(argc - 2, argv + 2);
  for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0) { fputs(usage, stdout); return 0; }
    if (strcmp(a, "--version") == 0) { puts("streamrun " SR_VERSION); return 0; }
    if (strcmp(a, "--kafka-mock") == 0) {
      install_signals();
      return sr_kafka_mock_main(argc - i - 1, argv + i + 1);
    }
    if (strcmp(a, "--lua-defs") == 0 && i + 1 < argc) return sr_lua_defs_main(argv[i + 1]);
    if (strcmp(a, "--check") == 0) { o.check_only = 1; continue; }
    if (strcmp(a, "--json") == 0) { o.check_json = 1; continue; }
    if (strcmp(a, "--no-reload") == 0) { o.no_reload = 1; continue; }
    if (strcmp(a, "--memory-limit") == 0 && i + 1 < argc) {
      int64_t bytes;
      if (sr_size_parse(argv[++i], &bytes) != 0 || bytes <= 0) {
        sr_log("error", NULL, -1, "--memory-limit: not a size: %s (say \"2 GB\" or 2147483648)", argv[i]);
        return 2;
      }
      o.memory_limit = (size_t)bytes;
      continue;
    }
    if (strcmp(a, "--http") == 0 && i + 1 < argc) { http = argv[++i]; continue; }
    if (strcmp(a, "--log-format") == 0 && i + 1 < argc) {
      const char *f = argv[++i];
      if (strcmp(f, "json") != 0 && strcmp(f, "text") != 0) {
        fprintf(stderr, "streamrun: --log-format: text or json, not %s\n", f);
        return 2;
      }
      sr_log_set_json(strcmp(f, "json") == 0);
      continue;
    }
    if (strcmp(a, "--progress") == 0 && i + 1 < argc) {
      o.progress = fopen(argv[++i], "a");
      if (!o.progress) { perror(argv[i]); return 2; }
      continue;
    }
    fprintf(stderr, "streamrun: unknown option %s\n%s", a, usage);
    return 2;
  }
  if (i >= argc || (o.check_json && !o.check_only)) {
    fputs(usage, stderr);
    return 2;
  }
  o.path = argv[i];
  o.argc = argc - i - 1;
  o.argv = argv + i + 1;
  /* (--check --json: the job's load reports it, in the JSON document) */
  if (!o.check_json && access(o.path, R_OK) != 0) {
    sr_log("error", NULL, -1, "cannot read job file %s", o.path);
    return 2;
  }
  install_signals();
  tune_malloc();
  sr_http *server = NULL;
  if (http && !o.check_only) {
    sr_error *err = NULL;
    if (!(server = sr_http_start(http, &err))) {
      sr_log("error", NULL, -1, "%s", err->message);
      sr_error_free(err);
      return 2;
    }
  }
  int code = sr_job_run(&o);
  sr_http_stop(server);
  if (o.progress) fclose(o.progress);
  return code;
}
