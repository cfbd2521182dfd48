/* watch: see watch.h. Directories are watched, not files: a rename-over replaces the file's
** inode, and a watch on the old inode would go quiet after the first save. */
#include "watch.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

struct sr_watch {
  int fd;
  int n;
  char **files;   /* watched files, as "dir/name" */
  char **dirs;    /* their directories, one per file */
  int *wds;       /* the watch descriptor of each file's directory */
};

sr_watch *sr_watch_new(void) {
  sr_watch *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (w->fd < 0) { free(w); return NULL; }
  return w;
}

static void clear(sr_watch *w) {
  for (int i = 0; i < w->n; i++) {
    inotify_rm_watch(w->fd, w->wds[i]); /* a repeated wd fails harmlessly */
    free(w->files[i]);
    free(w->dirs[i]);
  }
  free(w->files);
  free(w->dirs);
  free(w->wds);
  w->files = w->dirs = NULL;
  w->wds = NULL;
  w->n = 0;
}

void sr_watch_free(sr_watch *w) {
  if (!w) return;
  clear(w);
  close(w->fd);
  free(w);
}

int sr_watch_set(sr_watch *w, const char *const *paths, int n) {
  clear(w);
  w->files = calloc((size_t)n + 1, sizeof *w->files);
  w->dirs = calloc((size_t)n + 1, sizeof *w->dirs);
  w->wds = calloc((size_t)n + 1, sizeof *w->wds);
  if (!w->files || !w->dirs || !w->wds) return -1;
  for (int i = 0; i < n; i++) {
    char *copy = strdup(paths[i]);
    if (!copy) return -1;
    w->files[i] = copy;
    char *d = strdup(paths[i]);
    if (!d) return -1;
    w->dirs[i] = strdup(dirname(d));
    free(d);
    w->n = i + 1;
    w->wds[i] = inotify_add_watch(w->fd, w->dirs[i],
                                  IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MODIFY);
    if (w->wds[i] < 0) return -1;
  }
  return 0;
}

int sr_watch_fd(const sr_watch *w) { return w->fd; }

static int is_watched(sr_watch *w, int wd, const char *name) {
  for (int i = 0; i < w->n; i++) {
    if (w->wds[i] != wd) continue;
    const char *base = strrchr(w->files[i], '/');
    base = base ? base + 1 : w->files[i];
    if (strcmp(base, name) == 0) return 1;
  }
  return 0;
}

int sr_watch_changed(sr_watch *w) {
  char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
  int changed = 0;
  for (;;) {
    ssize_t len = read(w->fd, buf, sizeof buf);
    if (len <= 0) break; /* EAGAIN: drained */
    for (char *p = buf; p < buf + len;) {
      struct inotify_event *ev = (struct inotify_event *)p;
      if (ev->len > 0 && is_watched(w, ev->wd, ev->name)) changed = 1;
      p += sizeof *ev + ev->len;
    }
  }
  return changed;
}

int64_t sr_watch_newest_mtime_ms(const sr_watch *w) {
  int64_t newest = 0;
  for (int i = 0; i < w->n; i++) {
    struct stat st;
    if (stat(w->files[i], &st) != 0) continue;
    int64_t ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    if (ms > newest) newest = ms;
  }
  return newest;
}
