/*
** monitor: what `--http` serves, published by the engine and read by the HTTP thread.
**
** The engine (the job's one thread) calls the sr_monitor_* hooks at a query's start, at each
** batch's end (from progress), at a reload and at a failure. Each hook takes the monitor's
** mutex only to copy a few numbers and one progress line in; it never does I/O and never waits
** on a client. The HTTP thread holds the same mutex only to format those numbers (a few
** kilobytes per query) and to take references to progress lines (immutable, refcounted); it
** parses and copies the lines, reads /proc and sends after letting go.
** Until sr_monitor_enable every hook returns at once, so a job without --http pays one branch.
** Thread-safety: every function may be called from any thread.
*/
#ifndef SR_MONITOR_H
#define SR_MONITOR_H
#include <jansson.h>
#include <stdint.h>

#include "buf.h"

enum { SR_MONITOR_RING = 300,     /* progress records kept per query */
       SR_MONITOR_EVENTS = 50 };  /* reloads and errors kept */

/* Turns the hooks on (once, before the queries start). */
void sr_monitor_enable(void);
int sr_monitor_enabled(void);

/* Engine hooks. Strings are copied; nothing is kept of the caller's. Never raise. */
void sr_monitor_query_started(const char *name, const char *plan_text, const char *where);
/* A query ended: failed (1) with its error, or stopped/done (0). */
void sr_monitor_query_ended(const char *name, int failed, const char *error);
/* Every query the job defines has been opened: /readyz may say ready. */
void sr_monitor_job_started(int nqueries);
/* One batch's progress record (the same object progress.jsonl gets, and its text). */
void sr_monitor_batch(const char *name, const json_t *record, const char *text);
/* A reload: ok, or refused with why; took ms. */
void sr_monitor_reload(int ok, const char *why, int64_t ms);
/* A warning or error line of the log (query may be NULL). */
void sr_monitor_log(const char *level, const char *query, const char *message, const char *where);

/* Renderers for the HTTP thread: append to out (a buffer the caller owns). Return 0, or -1
** when memory ran out. */
int sr_monitor_render_metrics(sr_buf *out);
int sr_monitor_render_queries(sr_buf *out);
/* The last `last` progress records of a query as a JSON array; returns 1 when there is no such
** query. */
int sr_monitor_render_progress(sr_buf *out, const char *name, int last);
/* 1 while the process serves (always), ready: every query started and none failed. */
int sr_monitor_ready(void);

#endif
