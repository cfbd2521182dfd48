/*
** crash: the kill points of the crash tests (tests/e2e/crash.sh, bounded.sh, and streamrun
** test's crash simulation), as SQLite's crash tests stop at each sync point.
*/
#ifndef SR_CRASH_H
#define SR_CRASH_H
#include <stdint.h>

/* The kill points every batch passes, NULL-terminated, in the order it passes them (the file
** source's and sink's logs have more, at their compactions: source_compact, compact_cleanup,
** sink_compact). */
extern const char *const sr_crash_points[];

/* Kills the process (SIGKILL) when the batch batch_id of any query reaches `point` and the
** tests asked for that point: SR_CRASH_AT=point:batch in the environment, or sr_set_crash_at.
** Does nothing otherwise. */
void sr_crash_point(const char *point, int64_t batch_id);

/* Asks for point:batch_id as SR_CRASH_AT does (streamrun test sets it in a forked child). */
void sr_set_crash_at(const char *point, int64_t batch_id);

#endif
