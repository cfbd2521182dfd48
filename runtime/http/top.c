/* top: see top.h. */
#include "top.h"

#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "timeutil.h"

enum { MAX_ANSWER = 8 << 20 };

typedef struct url {
  char host[320], port[16], path[512];
} url;

static int parse_url(const char *s, url *u) {
  if (strncmp(s, "http://", 7) != 0) return -1;
  s += 7;
  const char *slash = strchr(s, '/');
  size_t hostport = slash ? (size_t)(slash - s) : strlen(s);
  char hp[300];
  if (hostport == 0 || hostport >= sizeof hp) return -1;
  memcpy(hp, s, hostport);
  hp[hostport] = '\0';
  snprintf(u->path, sizeof u->path, "%s", slash ? slash : "/");
  size_t plen = strlen(u->path);
  if (plen && u->path[plen - 1] == '/') u->path[plen - 1] = '\0'; /* the API is under it */
  char *colon = hp[0] == '[' ? strstr(hp, "]:") : strrchr(hp, ':');
  if (colon && hp[0] == '[') colon++;
  if (colon) {
    *colon = '\0';
    snprintf(u->port, sizeof u->port, "%s", colon + 1);
  } else {
    snprintf(u->port, sizeof u->port, "80");
  }
  char *h = hp;
  if (h[0] == '[') { h++; h[strlen(h) - 1] = '\0'; }
  snprintf(u->host, sizeof u->host, "%s", h);
  return 0;
}

/* GET u->path + path over HTTP/1.1 (Connection: close). Returns the body (malloc'd) of a 200
** answer, or NULL with why. */
static char *http_get(const url *u, const char *path, char *why, size_t whylen) {
  struct addrinfo hints = {0}, *ai = NULL;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(u->host, u->port, &hints, &ai);
  if (rc != 0) { snprintf(why, whylen, "%s: %s", u->host, gai_strerror(rc)); return NULL; }
  int fd = -1;
  for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) { close(fd); fd = -1; }
  }
  freeaddrinfo(ai);
  if (fd < 0) { snprintf(why, whylen, "cannot connect to %s:%s: %s", u->host, u->port, strerror(errno)); return NULL; }
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  char req[1200];
  int n = snprintf(req, sizeof req, "GET %s%s HTTP/1.1\r\nHost: %s:%s\r\nAccept: application/json\r\n"
                   "Connection: close\r\n\r\n", u->path, path, u->host, u->port);
  if (write(fd, req, (size_t)n) != n) { close(fd); snprintf(why, whylen, "cannot send"); return NULL; }
  size_t len = 0, cap = 65536;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (len == cap) {
      if (cap >= MAX_ANSWER) break;
      cap *= 2;
      char *g = realloc(buf, cap + 1);
      if (!g) break;
      buf = g;
    }
    ssize_t r = read(fd, buf + len, cap - len);
    if (r <= 0) break;
    len += (size_t)r;
  }
  close(fd);
  buf[len] = '\0';
  char *body = strstr(buf, "\r\n\r\n");
  if (strncmp(buf, "HTTP/1.", 7) != 0 || !body) {
    snprintf(why, whylen, "not an HTTP answer from %s:%s", u->host, u->port);
    free(buf);
    return NULL;
  }
  if (strncmp(buf + 9, "200", 3) != 0) {
    snprintf(why, whylen, "%.*s", (int)strcspn(buf, "\r\n"), buf);
    free(buf);
    return NULL;
  }
  body += 4;
  memmove(buf, body, strlen(body) + 1);
  return buf;
}

static double dnum(const json_t *o, const char *k) {
  const json_t *v = json_object_get(o, k);
  return json_is_number(v) ? json_number_value(v) : 0;
}

static void human(double v, char *out, size_t len) {
  const char *u[] = {"", "k", "M", "G", "T"};
  int i = 0;
  while (v >= 1000 && i < 4) { v /= 1000; i++; }
  snprintf(out, len, i ? "%.1f%s" : "%.0f%s", v, u[i]);
}

/* One screen from /api/v1/queries. */
static void draw(const json_t *root, const char *source, int width) {
  printf("\033[H\033[2J");
  printf("streamrun top - %s - %s - q quits\n\n", source,
         json_is_true(json_object_get(root, "ready")) ? "ready" : "not ready");
  printf("%-20s %-8s %7s %9s %9s %9s %10s %9s %9s %6s\n", "QUERY", "STATUS", "BATCH", "IN/S",
         "PROC/S", "BATCH ms", "WM LAG s", "STATE", "STATE MB", "BAD");
  const json_t *q;
  size_t i;
  int64_t now_ms = (int64_t)time(NULL) * 1000;
  json_array_foreach(json_object_get(root, "queries"), i, q) {
    const json_t *p = json_object_get(q, "lastProgress");
    char in[16], proc[16], state[16], lag[16] = "-";
    human(dnum(p, "inputRowsPerSecond"), in, sizeof in);
    human(dnum(p, "processedRowsPerSecond"), proc, sizeof proc);
    double rows = 0, bytes = 0;
    const json_t *op;
    size_t k;
    json_array_foreach(json_object_get(p, "stateOperators"), k, op) {
      rows += dnum(op, "numRowsTotal");
      bytes += dnum(op, "memoryUsedBytes");
    }
    human(rows, state, sizeof state);
    const json_t *wm = json_object_get(json_object_get(p, "eventTime"), "watermark");
    int64_t wm_ms;
    if (json_is_string(wm) && sr_time_parse(json_string_value(wm), json_string_length(wm), &wm_ms) == 0)
      snprintf(lag, sizeof lag, "%.1f", (double)(now_ms - wm_ms) / 1000.0);
    const json_t *bid = json_object_get(p, "batchId");
    printf("%-20.20s %-8s %7lld %9s %9s %9.0f %10s %9s %9.1f %6.0f\n",
           json_string_value(json_object_get(q, "name")),
           json_string_value(json_object_get(q, "status")),
           bid ? (long long)json_integer_value(bid) : -1LL, in, proc,
           dnum(json_object_get(p, "durationMs"), "triggerExecution"), lag, state, bytes / 1e6,
           dnum(q, "numBadRecordsTotal"));
  }
  json_array_foreach(json_object_get(root, "queries"), i, q) {
    const char *err = json_string_value(json_object_get(q, "error"));
    if (err) printf("\n%s: %.*s\n", json_string_value(json_object_get(q, "name")), width * 3, err);
  }
  const json_t *errors = json_object_get(root, "errors");
  size_t ne = json_array_size(errors);
  if (ne) printf("\nlast errors:\n");
  for (size_t e = ne > 5 ? ne - 5 : 0; e < ne; e++) {
    const json_t *ev = json_array_get(errors, e);
    printf("  %.19s %-7s %.*s\n", json_string_value(json_object_get(ev, "time")),
           json_string_value(json_object_get(ev, "kind")), width > 40 ? width - 30 : 40,
           json_string_value(json_object_get(ev, "message")));
  }
  fflush(stdout);
}

int sr_top_main(int argc, char **argv) {
  const char *source = argc > 0 ? argv[0] : "http://127.0.0.1:4040/";
  url u;
  if (parse_url(source, &u) != 0) {
    fprintf(stderr, "streamrun top: not an http:// URL: %s\n", source);
    return 1;
  }
  int tty = isatty(STDIN_FILENO);
  struct termios saved, raw;
  if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
    raw = saved;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
  } else {
    tty = 0;
  }
  printf("\033[?25l"); /* no cursor while it draws */
  for (;;) {
    struct winsize ws;
    int width = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 120;
    char why[512];
    char *body = http_get(&u, "/api/v1/queries", why, sizeof why);
    json_t *root = body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    if (root) {
      draw(root, source, width);
      json_decref(root);
    } else {
      printf("\033[H\033[2Jstreamrun top - %s - q quits\n\n%s\n", source, body ? "not JSON" : why);
      fflush(stdout);
    }
    struct pollfd p = {STDIN_FILENO, POLLIN, 0};
    int quit = 0;
    int64_t until = (int64_t)time(NULL) + 1;
    while (!quit && poll(&p, 1, 1000) > 0) {
      char c;
      ssize_t r = read(STDIN_FILENO, &c, 1);
      if (r <= 0) { quit = !tty; break; } /* stdin closed: nobody to press q */
      if (c == 'q' || c == 'Q') quit = 1;
      if ((int64_t)time(NULL) >= until) break;
    }
    if (quit) break;
  }
  printf("\033[?25h\n");
  if (tty) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  return 0;
}
