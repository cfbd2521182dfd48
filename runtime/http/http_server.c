/* http_server: see http_server.h. */
#include "http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "monitor.h"
#include "sr_log.h"

/* The dashboard, embedded at build time (scripts/embed_asset.cmake). */
extern const char sr_dashboard_html[];
extern const unsigned long sr_dashboard_html_len;

struct sr_http {
  struct MHD_Daemon *d;
  int port;
};

/* Queues a response with the headers every answer carries, and lets go of it. */
static enum MHD_Result queue(struct MHD_Connection *c, unsigned code, const char *type,
                             struct MHD_Response *r) {
  MHD_add_response_header(r, "Content-Type", type);
  MHD_add_response_header(r, "Cache-Control", "no-store");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  enum MHD_Result ret = MHD_queue_response(c, code, r);
  MHD_destroy_response(r);
  return ret;
}

/* Bytes that outlive the server (literals, the embedded dashboard): sent without a copy. */
static enum MHD_Result send_bytes(struct MHD_Connection *c, unsigned code, const char *type,
                                  const void *body, size_t len) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
  return r ? queue(c, code, type, r) : MHD_NO;
}

static enum MHD_Result send_static(struct MHD_Connection *c, unsigned code, const char *type,
                                   const char *body) {
  return send_bytes(c, code, type, body, strlen(body));
}

/* Bytes of rendered answers not yet sent: clients that do not read keep theirs, so past
** SR_HTTP_MAX_PENDING new answers are refused (503) until those go. */
static size_t pending_bytes;

typedef struct rendered {
  char *data;
  size_t len;
} rendered;

static void rendered_free(void *cls) {
  rendered *r = cls;
  __atomic_sub_fetch(&pending_bytes, r->len, __ATOMIC_RELAXED);
  free(r->data);
  free(r);
}

static int too_much_pending(void) {
  return __atomic_load_n(&pending_bytes, __ATOMIC_RELAXED) > SR_HTTP_MAX_PENDING;
}

/* Hands a rendered buffer to MHD, which frees it once sent. */
static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned code, const char *type, sr_buf *b) {
  rendered *r = sr_buf_cstr(b) ? malloc(sizeof *r) : NULL;
  if (!r) {
    sr_buf_free(b);
    return send_static(c, 503, "text/plain", "out of memory\n");
  }
  if (!b->data) {
    free(r);
    return send_static(c, code, type, "");
  }
  r->data = b->data;
  r->len = b->len;
  __atomic_add_fetch(&pending_bytes, r->len, __ATOMIC_RELAXED);
  struct MHD_Response *resp =
      MHD_create_response_from_buffer_with_free_callback_cls(r->len, r->data, rendered_free, r);
  if (!resp) {
    rendered_free(r);
    return MHD_NO;
  }
  return queue(c, code, type, resp);
}

static const char JSON[] = "application/json";

/* /api/v1/queries/NAME/progress */
static enum MHD_Result progress_of(struct MHD_Connection *c, const char *rest) {
  const char *slash = strchr(rest, '/');
  if (!slash || strcmp(slash, "/progress") != 0 || slash == rest || slash - rest > 1000)
    return send_static(c, 404, JSON, "{\"error\":\"not found\"}\n");
  char name[1024];
  memcpy(name, rest, (size_t)(slash - rest));
  name[slash - rest] = '\0';
  MHD_http_unescape(name);
  const char *last_s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "last");
  int last = last_s ? atoi(last_s) : 1;
  if (last < 0) last = 0;
  sr_buf b = SR_BUF_INIT;
  if (sr_monitor_render_progress(&b, name, last) == 1) {
    sr_buf_free(&b);
    return send_static(c, 404, JSON, "{\"error\":\"no such query\"}\n");
  }
  return send_buf(c, 200, JSON, &b);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **state) {
  (void)cls; (void)version; (void)upload;
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
    /* answered at once, before any body is read: read-only, no endpoint takes one */
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Allow", "GET, HEAD");
    MHD_add_response_header(r, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(c, 405, r);
    MHD_destroy_response(r);
    return ret;
  }
  if (*upload_size) return MHD_NO; /* a GET with a body: closed */
  if (!*state) { /* the head has arrived: answer on the next call, after any body */
    *state = (void *)1;
    return MHD_YES;
  }
  if (too_much_pending() && (strcmp(url, "/metrics") == 0 || strncmp(url, "/api/", 5) == 0))
    return send_static(c, 503, "text/plain", "busy: too many answers not yet read\n");
  if (strcmp(url, "/metrics") == 0) {
    sr_buf b = SR_BUF_INIT;
    sr_monitor_render_metrics(&b);
    return send_buf(c, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
  }
  if (strcmp(url, "/favicon.ico") == 0) return send_static(c, 204, "image/x-icon", "");
  if (strcmp(url, "/healthz") == 0) return send_static(c, 200, "text/plain", "ok\n");
  if (strcmp(url, "/readyz") == 0)
    return sr_monitor_ready() ? send_static(c, 200, "text/plain", "ready\n")
                              : send_static(c, 503, "text/plain", "not ready\n");
  if (strcmp(url, "/api/v1/queries") == 0) {
    sr_buf b = SR_BUF_INIT;
    sr_monitor_render_queries(&b);
    return send_buf(c, 200, JSON, &b);
  }
  if (strncmp(url, "/api/v1/queries/", 16) == 0) return progress_of(c, url + 16);
  if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
    return send_bytes(c, 200, "text/html; charset=utf-8", sr_dashboard_html,
                      (size_t)sr_dashboard_html_len);
  return send_static(c, 404, "text/plain", "not found\n");
}

static int parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len, char *host,
                        size_t hostlen, sr_error **err) {
  const char *colon = strrchr(spec, ':');
  const char *port_s = colon ? colon + 1 : spec;
  char addr[128] = "127.0.0.1";
  if (colon) {
    size_t n = (size_t)(colon - spec);
    if (n >= sizeof addr) n = sizeof addr - 1;
    memcpy(addr, spec, n);
    addr[n] = '\0';
  }
  char *end;
  long port = strtol(port_s, &end, 10);
  if (!*port_s || *end || port < 0 || port > 65535)
    return sr_error_set(err, SR_ERROR, "--http %s: not [ADDR:]PORT (a port from 0 to 65535)", spec);
  memset(ss, 0, sizeof *ss);
  size_t alen = strlen(addr);
  if (addr[0] == '[' && alen > 2 && addr[alen - 1] == ']') {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    addr[alen - 1] = '\0';
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, addr + 1, &s6->sin6_addr) != 1)
      return sr_error_set(err, SR_ERROR, "--http %s: not an IPv6 address: %s", spec, addr + 1);
    *len = sizeof *s6;
    snprintf(host, hostlen, "[%s]", addr + 1);
    return 0;
  }
  struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
  s4->sin_family = AF_INET;
  s4->sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
    return sr_error_set(err, SR_ERROR, "--http %s: not an IPv4 address: %s (say 0.0.0.0 for every "
                        "interface, [::1] for IPv6)", spec, addr);
  *len = sizeof *s4;
  snprintf(host, hostlen, "%s", addr);
  return 0;
}

sr_http *sr_http_start(const char *listen, sr_error **err) {
  struct sockaddr_storage ss;
  socklen_t sslen;
  char host[160];
  if (parse_listen(listen, &ss, &sslen, host, sizeof host, err) != 0) return NULL;
  sr_http *h = calloc(1, sizeof *h);
  if (!h) { sr_error_set(err, SR_ERROR, "out of memory"); return NULL; }
  sr_monitor_enable();
  /* the server's thread inherits this mask: stop and reload signals go to the engine's thread */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  /* MHD_USE_ITC: without it a stop waits for the poll's timeout, the nearest idle connection's
  ** (SR_HTTP_TIMEOUT_S), and a job whose batches are done took 10 s more to exit under a flood */
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ITC;
  if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  h->d = MHD_start_daemon(flags, 0, NULL, NULL, answer, NULL,
                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)SR_HTTP_MAX_CONNECTIONS,
                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SR_HTTP_TIMEOUT_S,
                          MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SR_HTTP_CONN_MEMORY,
                          MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)128,
                          MHD_OPTION_END);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (!h->d) {
    free(h);
    sr_error_set(err, SR_ERROR, "--http %s: cannot listen there (in use, or not an address of this "
                 "machine)", listen);
    return NULL;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
  h->port = info ? info->port : 0;
  sr_log("info", NULL, -1, "http://%s:%d/", host, h->port);
  return h;
}

int sr_http_port(const sr_http *h) { return h ? h->port : 0; }

void sr_http_stop(sr_http *h) {
  if (!h) return;
  MHD_stop_daemon(h->d);
  free(h);
}
