/*
** sr_log: streamrun's own log lines on stderr, through one function. As text (the default)
** a line is "streamrun: MESSAGE\n", byte for byte what the runtime always printed; with
** --log-format json it is one JSON object a line:
**   {"time":"...Z","level":"error","query":"q","batch":3,"message":"...","where":"job.lua:12",
**    "source":"job.c:604"}
** (query, batch and where only when known; where is the first job file:line the message names,
** source the runtime's own). Warnings and errors also go to the monitor's last errors (--http).
** Never allocates past a 16 KB message (longer ones are cut), never raises; any thread.
*/
#ifndef SR_LOG_H
#define SR_LOG_H
#include <jansson.h>
#include <stdint.h>

void sr_log_set_json(int on);
/* --check --json: from now on every warning and error is also appended to list (the caller's;
** NULL stops) as {"level", "message", "file", "line"}, file and line the job's when the message
** names one. For the single thread of a check. */
void sr_log_capture(json_t *list);
int sr_log_is_json(void);

/* level: "info", "warning" or "error". query may be NULL, batch -1 when none. */
void sr_log_at(const char *source, int line, const char *level, const char *query, int64_t batch,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#define sr_log(level, query, batch, ...) sr_log_at(__FILE__, __LINE__, level, query, batch, __VA_ARGS__)

#endif
