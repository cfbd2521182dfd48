/*
** crash: the kill points of the crash tests (tests/e2e/crash.sh, bounded.sh).
*/
#ifndef SR_CRASH_H
#define SR_CRASH_H
#include <stdint.h>

/* Tests set SR_CRASH_AT=point:batch to be killed with SIGKILL at one step of one batch, as
** SQLite's crash tests stop at each sync point. Does nothing otherwise. */
void sr_crash_point(const char *point, int64_t batch_id);

#endif
