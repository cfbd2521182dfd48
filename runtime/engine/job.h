/*
** job: a job file and the queries it defines. Loads the file into a lua_State, compiles its
** queries (streamrun.exec), opens them, and runs their triggers until they end or a signal
** asks to stop. Hot reload replaces the lua_State between batches; the queries' C state stays.
*/
#ifndef SR_JOB_H
#define SR_JOB_H
#include <lua.h>
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
  int test_doubles;        /* streamrun test: every source is fed rows from memory (none hands
                              over C records), and the connectors' own checks (a path that
                              must exist, brokers) are skipped; options are still checked */
} sr_job_options;

/* Exit codes of the CLI contract. */
enum { SR_EXIT_OK = 0, SR_EXIT_FAILED = 1, SR_EXIT_INVALID = 2,
       SR_EXIT_INTERRUPTED = 130 /* a stop signal interrupted a batch: it re-runs at the next start */ };

/* A job file run into a fresh lua_State, its queries compiled (streamrun.exec.queries). */
typedef struct sr_job_loaded {
  lua_State *L;
  int descs_ref;   /* registry ref to the list of compiled descriptors */
  int nqueries;
} sr_job_loaded;

/* Runs the job file o->path (modules from dir) into a new state. Calls into Lua (protected).
** Returns SR_OK, or SR_ERROR with *err (the job's file:line) and *ld zeroed. */
sr_status sr_job_load(const sr_job_options *o, const char *dir, sr_job_loaded *ld, sr_error **err);
/* Frees the state. Accepts a zeroed ld. */
void sr_job_unload(sr_job_loaded *ld);
/* The spec of descriptor i (1-based), its options checked against its connectors (doubles: as
** sr_job_options.test_doubles, without the connectors' own checks). The caller owns it (frees
** it or hands it to sr_query_open). Returns NULL with *err when the descriptor is refused. */
struct sr_query_spec *sr_job_read_spec(sr_job_loaded *ld, int i, int doubles, sr_error **err);

/* Runs a job to its end. Returns an exit code; messages go to stderr. */
int sr_job_run(const sr_job_options *o);

/* Set by signal handlers: stop after the batch in flight; reload now. */
void sr_job_request_stop(void);
void sr_job_request_reload(void);

#endif
