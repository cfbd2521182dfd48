/* libFuzzer: the file source's log (source_files.c) as a restart reads it: sources/<i>/0 holds
** the input (or, when it starts with 'C', sources/<i>/0.compact holds the rest: a compact
** file), offsets say batch 0 was logged, and the source opens (rebuilding the files it has
** seen from the log). The directories live in /tmp for the run and are removed at exit. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "connector.h"
#include "options.h"

extern const sr_source_ops sr_source_json;

static char dir[64], state[128], in[128];

static void remove_dir(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sr_options *opts;
  static json_t *resume;
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "/tmp/sr_fuzz_log_XXXXXX");
    if (!mkdtemp(dir)) abort();
    atexit(remove_dir);
    snprintf(state, sizeof state, "%s/state", dir);
    snprintf(in, sizeof in, "%s/in", dir);
    if (mkdir(state, 0755) != 0 || mkdir(in, 0755) != 0) abort();
    opts = sr_options_new();
    sr_options_set(opts, "path", in);
    resume = json_pack("{s:i}", "logOffset", 0);
  }
  char path[256];
  int compact = size > 0 && data[0] == 'C';
  snprintf(path, sizeof path, "%s/0%s", state, compact ? "" : ".compact");
  remove(path); /* the other kind, from the previous input */
  snprintf(path, sizeof path, "%s/0%s", state, compact ? ".compact" : "");
  if (compact) data++, size--;
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) abort();
  sr_source src;
  memset(&src, 0, sizeof src);
  src.ops = &sr_source_json;
  src.cfg.options = opts;
  src.cfg.state_dir = state;
  src.cfg.resume_end = resume;
  sr_error *err = NULL;
  if (sr_options_check(opts, src.ops->options, NULL, "json", &err) != SR_OK) abort();
  if (src.ops->open(&src, &src.cfg, &err) != SR_OK) sr_error_free(err);
  src.ops->close(&src);
  return 0;
}
