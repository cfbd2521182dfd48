/* progress.jsonl is rotated: past max_bytes the file becomes progress.jsonl.1 (the older .1
** becomes .2), at most SR_PROGRESS_KEEP rotated files stay, and no record is cut or lost in
** the files kept; a reopened query (a restart) rotates a file it finds already full. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "progress.h"
#include "sr_test.h"

static void emit(sr_progress *p, int64_t batch) {
  json_t *none = json_array(), *sink = json_object();
  sr_progress_batch b = {.batch_id = batch, .timestamp_ms = 1000 * batch, .watermark_ms = INT64_MIN,
                         .sources = none, .sink = sink};
  sr_progress_emit(p, &b, NULL);
  json_decref(none);
  json_decref(sink);
}

/* The batch ids in a progress file, in order, as "3,4,5"; every line a whole record. */
static void batches_in(const char *path, char *out, size_t len) {
  out[0] = '\0';
  FILE *f = fopen(path, "r");
  if (!f) return;
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    ASSERT_TRUE(line[strlen(line) - 1] == '\n');
    json_error_t jerr;
    json_t *r = json_loads(line, 0, &jerr);
    ASSERT_TRUE(r != NULL);
    snprintf(out + strlen(out), len - strlen(out), "%s%lld", out[0] ? "," : "",
             (long long)json_integer_value(json_object_get(r, "batchId")));
    json_decref(r);
  }
  fclose(f);
}

static long long size_of(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

SR_TEST(rotates_past_the_size_and_keeps_a_bounded_number) {
  char dir[] = "/tmp/sr-progress-XXXXXX", path[256], got[4096];
  ASSERT_TRUE(mkdtemp(dir) != NULL);
  sr_progress p;
  sr_progress_init(&p, dir, "q", "00000000-0000-4000-8000-000000000000");
  emit(&p, 0);
  snprintf(path, sizeof path, "%s/progress.jsonl", dir);
  long long one = size_of(path); /* records of small batch ids are about the same size */
  p.max_bytes = one * 3 + one / 2; /* three records a file */
  for (int64_t b = 1; b < 20; b++) emit(&p, b);
  batches_in(path, got, sizeof got);
  ASSERT_EQ_STR(got, "18,19");
  snprintf(path, sizeof path, "%s/progress.jsonl.1", dir);
  batches_in(path, got, sizeof got);
  ASSERT_EQ_STR(got, "15,16,17");
  snprintf(path, sizeof path, "%s/progress.jsonl.2", dir);
  batches_in(path, got, sizeof got);
  ASSERT_EQ_STR(got, "12,13,14");
  snprintf(path, sizeof path, "%s/progress.jsonl.3", dir);
  ASSERT_EQ_INT(size_of(path), -1);
  sr_progress_free(&p);

  /* a restart: the file is full for the new limit, so its first record starts a new one */
  sr_progress_init(&p, dir, "q", "00000000-0000-4000-8000-000000000000");
  p.max_bytes = one + one / 2;
  emit(&p, 20);
  snprintf(path, sizeof path, "%s/progress.jsonl", dir);
  batches_in(path, got, sizeof got);
  ASSERT_EQ_STR(got, "20");
  snprintf(path, sizeof path, "%s/progress.jsonl.1", dir);
  batches_in(path, got, sizeof got);
  ASSERT_EQ_STR(got, "18,19");
  sr_progress_free(&p);
  ASSERT_TRUE(sr_fs_remove_tree(dir, NULL) == SR_OK);
}

int main(void) { return SR_RUN(rotates_past_the_size_and_keeps_a_bounded_number); }
