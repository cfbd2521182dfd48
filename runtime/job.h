/*
** job: a job file and the queries it defines. Loads the file into a lua_State, compiles its
** queries (streamrun.exec), opens them, and runs their triggers until they end or a signal
** asks to stop. Hot reload replaces the lua_State between batches; the queries' C state stays.
*/
#ifndef SR_JOB_H
#define SR_JOB_H
#include <stdio.h>
#include "sr_error.h"

typedef struct sr_job_options {
  const char *path;        /* the job file */
  int argc;                /* arguments after the job file, for the global `arg` */
  char **argv;
  int check_only;          /* --check: print the plan, run nothing */
  int check_json;          /* --check --json: the plan, or the refusal, as one JSON document */
  int no_reload;           /* --no-reload */
  FILE *progress;          /* --progress FILE, or NULL */
  size_t memory_limit;     /* --memory-limit: the job's Lua heap at most (0: no limit) */
} sr_job_options;

/* Exit codes of the CLI contract. */
enum { SR_EXIT_OK = 0, SR_EXIT_FAILED = 1, SR_EXIT_INVALID = 2,
       SR_EXIT_INTERRUPTED = 130 /* a stop signal interrupted a batch: it re-runs at the next start */ };

/* Runs a job to its end. Returns an exit code; messages go to stderr. */
int sr_job_run(const sr_job_options *o);

/* Set by signal handlers: stop after the batch in flight; reload now. */
void sr_job_request_stop(void);
void sr_job_request_reload(void);

#endif
