/* The checkpoint's batch logs: what offsets/N and commits/N carry for the watermark (the batch
** watermark and the policy, Spark's OffsetSeqMetadata; each with_watermark's max event time),
** and how logs written without the newer fields read back. */
#include <stdlib.h>
#include <unistd.h>

#include "ckpt.h"
#include "fsutil.h"
#include "sr_test.h"

static char dir[64];

static sr_ckpt *open_fresh(void) {
  snprintf(dir, sizeof dir, "/tmp/sr-test-ckpt.XXXXXX");
  if (!mkdtemp(dir)) SR_FAIL("mkdtemp");
  sr_error *err = NULL;
  sr_ckpt *c = sr_ckpt_open(dir, &err);
  if (!c) SR_FAIL("open: %s", err ? err->message : "?");
  return c;
}

/* offsets/N with no source, so that commits/N may follow it */
static void log_offsets(sr_ckpt *c, int64_t batch_id) {
  sr_batch_meta meta = {.watermark_ms = 0, .batch_ts_ms = 0, .watermark_policy = "min"};
  json_t *ends = json_array();
  sr_error *err = NULL;
  ASSERT_EQ_INT(sr_ckpt_write_offsets(c, batch_id, &meta, ends, &err), SR_OK);
  json_decref(ends);
}

static void close_and_remove(sr_ckpt *c) {
  sr_ckpt_close(c);
  sr_fs_remove_tree(dir, NULL);
}

SR_TEST(commit_keeps_max_event_times) {
  sr_ckpt *c = open_fresh();
  sr_error *err = NULL;
  int64_t maxes[3] = {1767225700000LL, INT64_MIN, -5};
  log_offsets(c, 0); /* a commit follows its offsets (ckpt.c I1, asserted) */
  ASSERT_EQ_INT(sr_ckpt_write_commit(c, 0, 1767225695000LL, maxes, 3, &err), SR_OK);
  int64_t wm = 0, back[3] = {INT64_MIN, 7, INT64_MIN};
  ASSERT_EQ_INT(sr_ckpt_read_commit(c, 0, &wm, back, 3, &err), SR_OK);
  ASSERT_EQ_INT(wm, 1767225695000LL);
  ASSERT_EQ_INT(back[0], 1767225700000LL);
  ASSERT_EQ_INT(back[1], INT64_MIN); /* null: that input had no data yet */
  ASSERT_EQ_INT(back[2], -5);
  /* another number of with_watermark operators: nothing is taken (rebuilt from data, as Spark) */
  int64_t two[2] = {INT64_MIN, INT64_MIN};
  ASSERT_EQ_INT(sr_ckpt_read_commit(c, 0, &wm, two, 2, &err), SR_OK);
  ASSERT_EQ_INT(two[0], INT64_MIN);
  ASSERT_EQ_INT(two[1], INT64_MIN);
  close_and_remove(c);
}

SR_TEST(old_commit_without_max_event_times) {
  sr_ckpt *c = open_fresh();
  sr_error *err = NULL;
  char path[128];
  snprintf(path, sizeof path, "%s/commits", dir);
  ASSERT_EQ_INT(sr_fs_mkdirs(path, &err), SR_OK);
  snprintf(path, sizeof path, "%s/commits/4", dir);
  const char *old = "v1\n{\"nextBatchWatermarkMs\":1000}\n";
  ASSERT_EQ_INT(sr_fs_write_atomic(path, old, strlen(old), &err), SR_OK);
  int64_t wm = 0, back[1] = {INT64_MIN};
  ASSERT_EQ_INT(sr_ckpt_read_commit(c, 4, &wm, back, 1, &err), SR_OK);
  ASSERT_EQ_INT(wm, 1000);
  ASSERT_EQ_INT(back[0], INT64_MIN);
  /* a query without with_watermark writes no max event times */
  log_offsets(c, 5);
  ASSERT_EQ_INT(sr_ckpt_write_commit(c, 5, INT64_MIN, NULL, 0, &err), SR_OK);
  snprintf(path, sizeof path, "%s/commits/5", dir);
  size_t len;
  char *text = sr_fs_read_all(path, &len, &err);
  ASSERT_TRUE(text != NULL);
  ASSERT_TRUE(strstr(text, "maxEventTimeMs") == NULL);
  free(text);
  close_and_remove(c);
}

SR_TEST(offsets_keep_the_policy) {
  sr_ckpt *c = open_fresh();
  sr_error *err = NULL;
  json_t *ends = json_pack("[n]");
  sr_batch_meta meta = {.watermark_ms = 0, .batch_ts_ms = 42, .watermark_policy = "max"};
  ASSERT_EQ_INT(sr_ckpt_write_offsets(c, 0, &meta, ends, &err), SR_OK);
  ASSERT_EQ_INT(sr_ckpt_write_commit(c, 0, 0, NULL, 0, &err), SR_OK); /* batch 1 follows a commit */
  meta.watermark_policy = NULL;
  ASSERT_EQ_INT(sr_ckpt_write_offsets(c, 1, &meta, ends, &err), SR_OK);
  json_decref(ends);
  sr_batch_meta back;
  json_t *got = NULL;
  ASSERT_EQ_INT(sr_ckpt_read_offsets(c, 0, &back, &got, &err), SR_OK);
  ASSERT_EQ_STR(back.watermark_policy, "max");
  ASSERT_EQ_INT(back.watermark_ms, 0);
  ASSERT_EQ_INT(back.batch_ts_ms, 42);
  json_decref(got);
  ASSERT_EQ_INT(sr_ckpt_read_offsets(c, 1, &back, &got, &err), SR_OK);
  ASSERT_TRUE(back.watermark_policy == NULL); /* none logged: the query takes "min", Spark's default */
  json_decref(got);
  close_and_remove(c);
}

int main(void) {
  return SR_RUN(commit_keeps_max_event_times, old_commit_without_max_event_times, offsets_keep_the_policy);
}
