/*
** http_server: `--http [ADDR:]PORT`, the read-only window on a running job (JOB-API.md,
** "Watching a running job"). libmicrohttpd serves from a thread of its own (epoll) what the
** engine published to the monitor (monitor.h): /metrics, /healthz, /readyz, /api/v1/queries,
** /api/v1/queries/NAME/progress?last=N, and the dashboard at /. No endpoint changes the job.
**
** Bounds, so that a slow or hostile client cannot stall a query or grow memory: at most
** SR_HTTP_MAX_CONNECTIONS connections (more are accepted and closed at once), 32 KB of memory
** per connection (a bigger request head is answered 431 and closed), 10 s without progress
** closes a connection, request bodies are refused, and while rendered answers not yet read by
** their clients add up to SR_HTTP_MAX_PENDING bytes new ones are refused (503).
*/
#ifndef SR_HTTP_SERVER_H
#define SR_HTTP_SERVER_H
#include "sr_error.h"

enum { SR_HTTP_MAX_CONNECTIONS = 256, SR_HTTP_TIMEOUT_S = 10, SR_HTTP_CONN_MEMORY = 32 * 1024,
       SR_HTTP_MAX_PENDING = 32 << 20 };

typedef struct sr_http sr_http;

/* Parses "[ADDR:]PORT" (ADDR an IPv4 address or a bracketed IPv6 one, 127.0.0.1 by default;
** PORT 0 picks a free port), enables the monitor, starts serving, and prints
** "streamrun: http://ADDR:PORT/" on stderr. Returns NULL with *err (a bad address, a port in
** use). Allocates; the caller stops it with sr_http_stop. */
sr_http *sr_http_start(const char *listen, sr_error **err);
/* The port it listens on. */
int sr_http_port(const sr_http *h);
/* Stops serving and frees. Accepts NULL. */
void sr_http_stop(sr_http *h);

#endif
