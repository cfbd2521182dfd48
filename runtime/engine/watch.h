/*
** watch: tells when any of a set of files was saved, whether an editor writes in place or
** writes a new file and renames it over the old one (inotify on the files' directories).
*/
#ifndef SR_WATCH_H
#define SR_WATCH_H
#include <stdint.h>

typedef struct sr_watch sr_watch;

/* NULL when inotify is unavailable (the caller goes on without hot reload). */
sr_watch *sr_watch_new(void);
void sr_watch_free(sr_watch *w); /* accepts NULL */
/* Watches exactly these files from now on (paths are copied). Returns 0, or -1 on failure. */
int sr_watch_set(sr_watch *w, const char *const *paths, int n);
/* A descriptor that becomes readable when something changed, for poll(2). */
int sr_watch_fd(const sr_watch *w);
/* Reads pending events without blocking. Returns 1 if a watched file was written, created,
** renamed into place or removed since the last call. */
int sr_watch_changed(sr_watch *w);
/* The newest modification time of the watched files, in ms since the epoch (0 if none exist). */
int64_t sr_watch_newest_mtime_ms(const sr_watch *w);

#endif
