/* libFuzzer: the checkpoint's readers (ckpt.h) on arbitrary file contents: offsets/N,
** commits/N, metadata and a named document. The first byte picks the file. The checkpoint
** directory lives in /tmp for the run and is removed at exit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"

static char dir[64];

static void remove_dir(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

static void put(const char *rel, const uint8_t *p, size_t n) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "/tmp/sr_fuzz_ckpt_XXXXXX");
    if (!mkdtemp(dir)) abort();
    atexit(remove_dir);
  }
  sr_error *err = NULL;
  int which = data[0] % 4;
  if (which == 2) put("metadata", data + 1, size - 1);
  sr_ckpt *c = sr_ckpt_open(dir, &err);
  if (!c) {
    sr_error_free(err);
    char path[256];
    snprintf(path, sizeof path, "%s/metadata", dir);
    unlink(path);
    return 0;
  }
  if (which == 0) {
    put("offsets/0", data + 1, size - 1);
    sr_batch_meta meta;
    json_t *ends = NULL;
    if (sr_ckpt_read_offsets(c, 0, &meta, &ends, &err) == SR_OK) json_decref(ends);
    else sr_error_free(err);
  } else if (which == 1) {
    put("commits/0", data + 1, size - 1);
    int64_t wm, max_event[2] = {INT64_MIN, INT64_MIN};
    if (sr_ckpt_read_commit(c, 0, &wm, max_event, 2, &err) != SR_OK) sr_error_free(err);
  } else if (which == 3) {
    put("plan", data + 1, size - 1);
    json_t *doc = NULL;
    if (sr_ckpt_read_doc(c, "plan", &doc, &err) == SR_OK) json_decref(doc);
    else sr_error_free(err);
  }
  sr_ckpt_close(c);
  return 0;
}
