/*
** compact_log: the names of a log compacted as Spark's CompactibleFileStreamLog, shared by the
** file source's log (sources/<i>/) and the file sink's (_streamrun_metadata/).
**
** A log holds one entry per batch, the file N, but every compactInterval-th batch (N + 1 a
** multiple of the interval) writes N.compact instead: one file holding the entries a reader
** still needs of batches 0..N (what "still needs" means is the log's own: see source_files.c
** and sink_files.c). A reader takes the newest compact file it may use and the plain entries
** after it. The files a compact file covers (plain entries and compact files below it) are
** deleted only once a later batch is logged, when the compact file's own batch is surely
** logged in the checkpoint's offsets too (so a crash before that never leaves a reader
** needing a file that is gone). Spark's compactInterval default is 10
** (spark.sql.streaming.fileSource.log.compactInterval, fileSink.log.compactInterval).
*/
#ifndef SR_COMPACT_LOG_H
#define SR_COMPACT_LOG_H
#include <stddef.h>
#include <stdint.h>

enum { SR_CLOG_DEFAULT_INTERVAL = 10 };

/* 1 when batch id is logged in a compact file with this interval. */
int sr_clog_is_compact(int64_t id, int64_t interval);
/* dir/N or dir/N.compact into out. */
void sr_clog_path(const char *dir, int64_t id, int compact, char *out, size_t outlen);

typedef struct sr_clog_scan {
  int64_t newest;          /* the highest id, plain or compact; -1 none */
  int64_t compact;         /* the highest compact id <= the limit asked for; -1 none */
  int64_t beyond;          /* the lowest id, of either kind, above limit + 1; -1 none */
} sr_clog_scan;
/* Lists dir (a missing dir is an empty log). Names other than N and N.compact are ignored. */
void sr_clog_list(const char *dir, int64_t limit, sr_clog_scan *out);
/* Deletes the plain entries and compact files below `below`, oldest first; `batch` names the
** batch doing it for the crash tests' kill point ("compact_cleanup"). */
void sr_clog_cleanup(const char *dir, int64_t below, int64_t batch);

#endif
