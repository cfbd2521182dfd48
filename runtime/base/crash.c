/* crash: see crash.h. */
#include "crash.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const sr_crash_points[] = {"after_offsets", "after_sink_write", "after_state_commit",
                                       "after_sink_commit", "after_commit_log", NULL};

/* point:batch asked for ("" for none); read from the environment at the first use */
static char crash_at[96];
static int crash_at_read;

void sr_set_crash_at(const char *point, int64_t batch_id) {
  snprintf(crash_at, sizeof crash_at, "%s:%" PRId64, point, batch_id);
  crash_at_read = 1;
}

void sr_crash_point(const char *point, int64_t batch_id) {
  if (!crash_at_read) {
    const char *env = getenv("SR_CRASH_AT");
    snprintf(crash_at, sizeof crash_at, "%s", env ? env : "");
    crash_at_read = 1;
  }
  if (!crash_at[0]) return;
  char want[96];
  snprintf(want, sizeof want, "%s:%" PRId64, point, batch_id);
  if (strcmp(crash_at, want) == 0) raise(SIGKILL);
}
