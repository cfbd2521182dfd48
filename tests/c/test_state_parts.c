/* Tests of an operator's state split into partitions: the partition function (pinned: it is
** part of the checkpoint format), routing, commits of every partition, reopening, and recovery
** that names a missing partition file or refuses a layout with more partitions. */
#include "state_parts.h"
#include "fsutil.h"
#include "sr_test.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ASSERT_CONTAINS(s, part) ASSERT_TRUE(strstr((s), (part)) != NULL)

/* Murmur3_x86_32's published test values, then the partitions of a few keys, pinned: a change
** here moves keys out of the partitions that hold them in every checkpoint written so far. */
SR_TEST(partition_function_is_pinned) {
  ASSERT_EQ_INT(sr__murmur3_32("", 0, 0), 0);
  ASSERT_EQ_INT(sr__murmur3_32("", 0, 1), 0x514E28B7u);
  ASSERT_EQ_INT(sr__murmur3_32("", 0, 0xffffffffu), 0x81F16F39u);
  ASSERT_EQ_INT(sr__murmur3_32("\0\0\0\0", 4, 0), 0x2362F9DEu);
  ASSERT_EQ_INT(sr__murmur3_32("aaaa", 4, 0x9747b28cu), 0x5A97808Au);
  ASSERT_EQ_INT(sr__murmur3_32("abc", 3, 0), 0xB3DD93FAu);
  ASSERT_EQ_INT(sr__murmur3_32("Hello, world!", 13, 0x9747b28cu), 0x24884CBAu);
  const char *fox = "The quick brown fox jumps over the lazy dog";
  ASSERT_EQ_INT(sr__murmur3_32(fox, strlen(fox), 0x9747b28cu), 0x2FA826CDu);
  ASSERT_EQ_INT(sr_state_partition_of("anything", 8, 1), 0);
  const char *keys[] = {"a", "ab", "abc", "abcd", "abcde", "streamrun"};
  const uint32_t want[] = {3, 7, 0, 4, 0, 4};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    uint32_t p = sr_state_partition_of(keys[i], strlen(keys[i]), 8);
    ASSERT_EQ_INT(p, want[i]);
  }
}

/* Keys spread over the partitions: none empty, none with twice its share. */
SR_TEST(keys_spread_over_partitions) {
  int count[16] = {0};
  char key[32];
  for (int i = 0; i < 16000; i++) {
    int n = snprintf(key, sizeof key, "key-%d", i);
    uint32_t p = sr_state_partition_of(key, (size_t)n, 16);
    ASSERT_TRUE(p < 16);
    count[p]++;
  }
  for (int p = 0; p < 16; p++) ASSERT_TRUE(count[p] > 500 && count[p] < 2000);
}

static void put_str(sr_state_parts *ps, const char *k, const char *v) {
  sr_error *e = NULL;
  ASSERT_EQ_INT(sr_state_put(sr_state_parts_route(ps, k, strlen(k)), k, strlen(k), v, strlen(v), &e),
                SR_OK);
}

static int has(sr_state_parts *ps, const char *k, const char *v) {
  const void *got;
  size_t n;
  if (!sr_state_get(sr_state_parts_route(ps, k, strlen(k)), k, strlen(k), &got, &n)) return 0;
  return n == strlen(v) && memcmp(got, v, n) == 0;
}

/* Every key lands in its own partition's directory, every partition reaches each version, and
** a reopen at any version finds every key where it was put. */
SR_TEST(commit_and_reopen_every_partition) {
  char *d = sr_test_tmpdir("parts_test");
  sr_error *e = NULL;
  sr_state_parts *ps = sr_state_parts_open(d, 4, 0, NULL, &e);
  ASSERT_TRUE(ps != NULL);
  ASSERT_EQ_INT(sr_state_parts_count(ps), 4);
  char k[32], v[32];
  for (int version = 1; version <= 3; version++) {
    for (int i = 0; i < 100; i++) {
      snprintf(k, sizeof k, "k%d", i);
      snprintf(v, sizeof v, "v%d.%d", i, version);
      put_str(ps, k, v);
    }
    ASSERT_EQ_INT(sr_state_parts_commit(ps, &e), SR_OK);
  }
  sr_state_stats s;
  sr_state_parts_get_stats(ps, &s);
  ASSERT_EQ_INT(s.version, 3);
  ASSERT_EQ_INT(s.num_rows_total, 100);
  int per_part = 0;
  for (int p = 0; p < 4; p++) {
    sr_state_stats ps_s;
    sr_state_get_stats(sr_state_parts_at(ps, p), &ps_s);
    ASSERT_EQ_INT(ps_s.version, 3);
    ASSERT_TRUE(ps_s.num_rows_total > 0); /* 100 keys over 4: none empty */
    per_part += (int)ps_s.num_rows_total;
    char path[512];
    snprintf(path, sizeof path, "%s/%d/3.delta", d, p);
    ASSERT_TRUE(sr_fs_exists(path));
  }
  ASSERT_EQ_INT(per_part, 100);
  sr_state_parts_close(ps);
  ps = sr_state_parts_open(d, 4, 2, NULL, &e);
  ASSERT_TRUE(ps != NULL);
  for (int i = 0; i < 100; i++) {
    snprintf(k, sizeof k, "k%d", i);
    snprintf(v, sizeof v, "v%d.2", i);
    ASSERT_TRUE(has(ps, k, v));
    /* and in no other partition */
    for (int p = 0; p < 4; p++) {
      const void *got;
      size_t n;
      int here = sr_state_get(sr_state_parts_at(ps, p), k, strlen(k), &got, &n);
      ASSERT_EQ_INT(here, (uint32_t)p == sr_state_partition_of(k, strlen(k), 4));
    }
  }
  sr_state_parts_close(ps);
  sr_test_rmdir(d);
}

/* A partition whose file of the version is gone stops the open, naming the file. */
SR_TEST(missing_partition_file_is_named) {
  char *d = sr_test_tmpdir("parts_test");
  sr_error *e = NULL;
  sr_state_parts *ps = sr_state_parts_open(d, 4, 0, NULL, &e);
  ASSERT_TRUE(ps != NULL);
  put_str(ps, "x", "1");
  ASSERT_EQ_INT(sr_state_parts_commit(ps, &e), SR_OK);
  sr_state_parts_close(ps);
  char path[512];
  snprintf(path, sizeof path, "%s/2/1.delta", d);
  ASSERT_EQ_INT(unlink(path), 0);
  ps = sr_state_parts_open(d, 4, 1, NULL, &e);
  ASSERT_TRUE(ps == NULL);
  ASSERT_TRUE(e != NULL);
  ASSERT_CONTAINS(e->message, "partition 2 of 4");
  ASSERT_CONTAINS(e->message, path);
  sr_error_free(e);
  sr_test_rmdir(d);
}

/* A directory for a partition beyond the count: the state was split into more. */
SR_TEST(more_partitions_on_disk_are_refused) {
  char *d = sr_test_tmpdir("parts_test");
  sr_error *e = NULL;
  sr_state_parts *ps = sr_state_parts_open(d, 4, 0, NULL, &e);
  ASSERT_TRUE(ps != NULL);
  put_str(ps, "x", "1");
  ASSERT_EQ_INT(sr_state_parts_commit(ps, &e), SR_OK);
  sr_state_parts_close(ps);
  ps = sr_state_parts_open(d, 2, 1, NULL, &e);
  ASSERT_TRUE(ps == NULL);
  ASSERT_CONTAINS(e->message, "records 2 state partitions");
  sr_error_free(e);
  e = NULL;
  /* at version 0 nothing was committed: any count opens */
  ps = sr_state_parts_open(d, 2, 0, NULL, &e);
  ASSERT_TRUE(ps != NULL);
  sr_state_parts_close(ps);
  sr_test_rmdir(d);
}

/* One partition that cannot commit fails the whole commit, naming it; the others committed,
** so the caller reopens at the old version, where every key is as before. */
SR_TEST(failed_partition_commit_is_named) {
  char *d = sr_test_tmpdir("parts_test");
  sr_error *e = NULL;
  sr_state_parts *ps = sr_state_parts_open(d, 4, 0, NULL, &e);
  ASSERT_TRUE(ps != NULL);
  char k[32];
  for (int i = 0; i < 40; i++) {
    snprintf(k, sizeof k, "k%d", i);
    put_str(ps, k, "a");
  }
  ASSERT_EQ_INT(sr_state_parts_commit(ps, &e), SR_OK);
  for (int i = 0; i < 40; i++) {
    snprintf(k, sizeof k, "k%d", i);
    put_str(ps, k, "b");
  }
  char path[512];
  snprintf(path, sizeof path, "%s/3/2.delta", d);
  ASSERT_EQ_INT(mkdir(path, 0755), 0); /* the delta cannot be renamed over a directory */
  ASSERT_EQ_INT(sr_state_parts_commit(ps, &e), SR_ERROR);
  ASSERT_CONTAINS(e->message, "partition 3 of 4");
  sr_error_free(e);
  e = NULL;
  sr_state_parts_close(ps);
  ASSERT_EQ_INT(rmdir(path), 0);
  ps = sr_state_parts_open(d, 4, 1, NULL, &e);
  ASSERT_TRUE(ps != NULL);
  for (int i = 0; i < 40; i++) {
    snprintf(k, sizeof k, "k%d", i);
    ASSERT_TRUE(has(ps, k, "a"));
  }
  sr_state_parts_close(ps);
  sr_test_rmdir(d);
}

int main(void) {
  return SR_RUN(partition_function_is_pinned, keys_spread_over_partitions,
                commit_and_reopen_every_partition, missing_partition_file_is_named,
                more_partitions_on_disk_are_refused, failed_partition_commit_is_named);
}
