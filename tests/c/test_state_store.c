/* Tests of the versioned state store: restarts at every version against an in-memory model,
** snapshots, pruning, corrupt and missing files, abort, iteration with removal, crash leftovers,
** commit failure and a 1M-entry memory figure. */
#include "state_store.h"
#include "fsutil.h"
#include "sr_test.h"

#include <errno.h>
#include <malloc.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NKEYS 200
#define MAXV 48

/* model[v][k]: key k's value after v commits, NULL when absent. */
static char *model[MAXV + 1][NKEYS];
static uint64_t rng = 0x2545F4914F6CDD1Du;

static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void keyname(char *buf, int k) { snprintf(buf, 32, "key-%d", k); }

static void clear_model(void) {
  for (int v = 0; v <= MAXV; v++)
    for (int k = 0; k < NKEYS; k++) {
      free(model[v][k]);
      model[v][k] = NULL;
    }
}

static sr_state_store *open_ok(const char *dir, int64_t v, int64_t interval, int64_t retain) {
  sr_state_options o = {interval, retain};
  sr_error *e = NULL;
  sr_state_store *st = sr_state_open(dir, v, &o, &e);
  if (!st) SR_FAIL("open %s at %" PRId64 ": %s", dir, v, e->message);
  ASSERT_EQ_INT(sr_state_version(st), v);
  return st;
}

static void commit_ok(sr_state_store *st) {
  sr_error *e = NULL;
  if (sr_state_commit(st, &e) != SR_OK) SR_FAIL("commit: %s", e->message);
}

static void put_str(sr_state_store *st, const char *k, const char *v) {
  ASSERT_EQ_INT(sr_state_put(st, k, strlen(k), v, strlen(v), NULL), SR_OK);
}

/* Applies random puts/removes to the store and to model row `to` (copied from row `from`). */
static void random_version(sr_state_store *st, int from, int to) {
  for (int k = 0; k < NKEYS; k++) {
    free(model[to][k]);
    model[to][k] = model[from][k] ? strdup(model[from][k]) : NULL;
  }
  int ops = 1 + (int)(rnd() % 40);
  for (int i = 0; i < ops; i++) {
    int k = (int)(rnd() % NKEYS);
    char key[32];
    keyname(key, k);
    if (rnd() % 4 == 0) {
      int was = sr_state_remove(st, key, strlen(key), NULL);
      ASSERT_EQ_INT(was, model[to][k] != NULL);
      free(model[to][k]);
      model[to][k] = NULL;
    } else {
      char val[128];
      int n = (int)(rnd() % 60);
      for (int j = 0; j < n; j++) val[j] = (char)('a' + rnd() % 26);
      val[n] = '\0';
      put_str(st, key, val);
      free(model[to][k]);
      model[to][k] = strdup(val);
    }
  }
}

static void check_equals(sr_state_store *st, int row) {
  int live = 0;
  for (int k = 0; k < NKEYS; k++) {
    char key[32];
    keyname(key, k);
    const void *val;
    size_t vlen;
    int found = sr_state_get(st, key, strlen(key), &val, &vlen);
    if (found != (model[row][k] != NULL))
      SR_FAIL("version %d key %s: found %d, model has %s", row, key, found,
              model[row][k] ? model[row][k] : "(absent)");
    if (found) {
      live++;
      ASSERT_EQ_INT(vlen, strlen(model[row][k]));
      ASSERT_TRUE(memcmp(val, model[row][k], vlen) == 0);
    }
  }
  sr_state_stats s;
  sr_state_get_stats(st, &s);
  ASSERT_EQ_INT(s.num_rows_total, live);
  int seen = 0;
  sr_state_iter it;
  const void *k, *v;
  size_t kl, vl;
  sr_state_iter_init(st, &it);
  while (sr_state_iter_next(&it, &k, &kl, &v, &vl)) seen++;
  ASSERT_EQ_INT(seen, live);
}

static void expect_open_error(const char *dir, int64_t v, const char *needle) {
  sr_error *e = NULL;
  sr_state_store *st = sr_state_open(dir, v, NULL, &e);
  ASSERT_TRUE(st == NULL);
  ASSERT_TRUE(e != NULL);
  if (!strstr(e->message, needle)) SR_FAIL("error \"%s\" lacks \"%s\"", e->message, needle);
  sr_error_free(e);
}

static void path_of(char *buf, const char *dir, const char *name) {
  snprintf(buf, 4200, "%s/%s", dir, name);
}

/* Builds `n` random versions in dir; model rows 0..n. */
static void build_versions(const char *dir, int n, int64_t interval, int64_t retain) {
  clear_model();
  sr_state_store *st = open_ok(dir, 0, interval, retain);
  for (int v = 1; v <= n; v++) {
    random_version(st, v - 1, v);
    commit_ok(st);
  }
  ASSERT_EQ_INT(sr_state_wait_maintenance(st, NULL), SR_OK);
  sr_state_close(st);
}

/* Puts n keys "<prefix><i>" with a value each. */
static void put_many(sr_state_store *st, const char *prefix, int n) {
  char key[32], val[64];
  for (int i = 0; i < n; i++) {
    snprintf(key, sizeof key, "%s%d", prefix, i);
    snprintf(val, sizeof val, "value of %s%d", prefix, i);
    put_str(st, key, val);
  }
}

/* A restart in another process, right after the old one closed its store (the engine then
** releases the checkpoint's lock): the old process commits version 2 with a large change and
** closes; the new one opens version 1, commits its own version 2 and closes. Whatever the old
** process's snapshot job did, version 2 must be the new one's, from the snapshot alone too.
** The child is forked before this test's process has a snapshot thread (sr_test.h runs each
** test in a fresh process). */
SR_TEST(restart_in_another_process_after_close) {
  char *dir = sr_test_tmpdir("state_test");
  int to_parent[2];
  ASSERT_EQ_INT(pipe(to_parent), 0);
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0) {
    sr_state_store *st = open_ok(dir, 0, 2, 1000);
    put_str(st, "a", "1");
    commit_ok(st);
    put_many(st, "old", 200000); /* its snapshot takes a while to build */
    commit_ok(st);
    sr_state_close(st);
    char c = 'c';
    if (write(to_parent[1], &c, 1) != 1) _exit(1);
    st = open_ok(dir, 1, 2, 1000); /* stays alive until nothing of its own runs in dir */
    sr_state_close(st);
    _exit(0);
  }
  char c;
  ASSERT_EQ_INT(read(to_parent[0], &c, 1), 1);
  sr_state_store *st = open_ok(dir, 1, 2, 1000);
  put_str(st, "new", "1");
  commit_ok(st);
  ASSERT_EQ_INT(sr_state_wait_maintenance(st, NULL), SR_OK);
  sr_state_close(st);
  int status;
  ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(to_parent[0]);
  close(to_parent[1]);
  char p[4200];
  for (int pass = 0; pass < 2; pass++) {
    st = open_ok(dir, 2, 2, 1000);
    const void *v;
    size_t n;
    ASSERT_EQ_INT(sr_state_get(st, "new", 3, &v, &n), 1);
    ASSERT_EQ_INT(sr_state_get(st, "old0", 4, &v, &n), 0);
    sr_state_close(st);
    path_of(p, dir, "1.delta"); /* the second pass reads 2.snapshot alone */
    unlink(p);
    path_of(p, dir, "2.delta");
    unlink(p);
  }
  sr_test_rmdir(dir);
}

SR_TEST(put_get_remove_and_counts) {
  char *dir = sr_test_tmpdir("state_test");
  sr_state_store *st = open_ok(dir, 0, 0, 0);
  const void *val;
  size_t vlen;
  ASSERT_EQ_INT(sr_state_get(st, "a", 1, &val, &vlen), 0);
  put_str(st, "a", "1");
  put_str(st, "b", "");
  put_str(st, "", "empty key");
  put_str(st, "a", "one");
  ASSERT_EQ_INT(sr_state_get(st, "a", 1, &val, &vlen), 1);
  ASSERT_EQ_INT(vlen, 3);
  ASSERT_TRUE(memcmp(val, "one", 3) == 0);
  ASSERT_EQ_INT(sr_state_get(st, "b", 1, &val, &vlen), 1);
  ASSERT_EQ_INT(vlen, 0);
  ASSERT_EQ_INT(sr_state_get(st, "", 0, &val, &vlen), 1);
  ASSERT_EQ_INT(vlen, 9);
  ASSERT_EQ_INT(sr_state_remove(st, "b", 1, NULL), 1);
  ASSERT_EQ_INT(sr_state_remove(st, "b", 1, NULL), 0);
  ASSERT_EQ_INT(sr_state_remove(st, "zz", 2, NULL), 0);
  sr_state_stats s;
  sr_state_get_stats(st, &s);
  ASSERT_EQ_INT(s.num_rows_total, 2);
  ASSERT_EQ_INT(s.num_rows_updated, 4);
  ASSERT_EQ_INT(s.num_rows_removed, 1);
  ASSERT_TRUE(s.memory_used_bytes > 0);
  commit_ok(st);
  sr_state_get_stats(st, &s);
  ASSERT_EQ_INT(s.version, 1);
  ASSERT_EQ_INT(s.num_rows_updated, 0);
  ASSERT_EQ_INT(s.num_rows_removed, 0);
  ASSERT_EQ_INT(s.num_rows_total, 2);
  sr_error *e = NULL;
  ASSERT_EQ_INT(sr_state_put(st, "k", 1, "v", SR_STATE_MAX_LEN + 1, &e), SR_ERROR);
  ASSERT_TRUE(strstr(e->message, "too large") != NULL);
  sr_error_free(e);
  sr_state_close(st);
  st = open_ok(dir, 1, 0, 0);
  ASSERT_EQ_INT(sr_state_get(st, "a", 1, &val, &vlen), 1);
  ASSERT_TRUE(vlen == 3 && memcmp(val, "one", 3) == 0);
  ASSERT_EQ_INT(sr_state_get(st, "b", 1, &val, &vlen), 0);
  sr_state_close(st);
  expect_open_error(dir, -1, "negative");
  sr_test_rmdir(dir);
}

SR_TEST(restart_at_every_version) {
  char *dir = sr_test_tmpdir("state_test");
  build_versions(dir, 40, 3, 1000);
  char p[4200];
  path_of(p, dir, "39.snapshot");
  ASSERT_TRUE(sr_fs_exists(p));
  path_of(p, dir, "40.snapshot");
  ASSERT_TRUE(!sr_fs_exists(p));
  for (int v = 0; v <= 40; v++) {
    sr_state_store *st = open_ok(dir, v, 3, 1000);
    check_equals(st, v);
    sr_state_close(st);
  }
  sr_test_rmdir(dir);
}

SR_TEST(snapshot_replaces_earlier_deltas) {
  char *dir = sr_test_tmpdir("state_test");
  build_versions(dir, 13, 10, 1000);
  char p[4200];
  for (int v = 1; v <= 10; v++) {
    snprintf(p, sizeof p, "%s/%d.delta", dir, v);
    ASSERT_EQ_INT(unlink(p), 0);
  }
  for (int v = 10; v <= 13; v++) { /* only possible through 10.snapshot */
    sr_state_store *st = open_ok(dir, v, 10, 1000);
    check_equals(st, v);
    sr_state_close(st);
  }
  expect_open_error(dir, 7, "1.delta is missing");
  sr_test_rmdir(dir);
}

SR_TEST(snapshot_is_built_from_disk_not_live_map) {
  char *dir = sr_test_tmpdir("state_test");
  clear_model();
  sr_state_store *st = open_ok(dir, 0, 2, 1000);
  put_str(st, "committed", "yes");
  commit_ok(st);
  put_str(st, "committed2", "yes");
  commit_ok(st); /* queues 2.snapshot */
  put_str(st, "uncommitted", "no");
  ASSERT_EQ_INT(sr_state_remove(st, "committed", 9, NULL), 1);
  ASSERT_EQ_INT(sr_state_wait_maintenance(st, NULL), SR_OK);
  sr_state_abort(st);
  sr_state_close(st);
  char p[4200];
  path_of(p, dir, "1.delta");
  ASSERT_EQ_INT(unlink(p), 0);
  path_of(p, dir, "2.delta");
  ASSERT_EQ_INT(unlink(p), 0);
  st = open_ok(dir, 2, 2, 1000);
  const void *v;
  size_t n;
  ASSERT_EQ_INT(sr_state_get(st, "committed", 9, &v, &n), 1);
  ASSERT_EQ_INT(sr_state_get(st, "committed2", 10, &v, &n), 1);
  ASSERT_EQ_INT(sr_state_get(st, "uncommitted", 11, &v, &n), 0);
  sr_state_close(st);
  sr_test_rmdir(dir);
}

/* A closed store leaves nothing running in its directory: the engine releases the checkpoint's
** lock right after closing its stores, and a restarted process may then take it. So the snapshot
** the last commit queued is on disk when close returns (tests/e2e/windows.sh relies on it). */
SR_TEST(close_right_after_commit_still_snapshots) {
  char *dir = sr_test_tmpdir("state_test");
  sr_state_store *st = open_ok(dir, 0, 1, 1000);
  char key[32], val[64];
  for (int i = 0; i < 200000; i++) { /* a snapshot that takes a while to build */
    snprintf(key, sizeof key, "k%d", i);
    snprintf(val, sizeof val, "value of key %d", i);
    put_str(st, key, val);
  }
  commit_ok(st);
  sr_state_close(st);
  char p[4200];
  path_of(p, dir, "1.snapshot");
  ASSERT_TRUE(sr_fs_exists(p));
  sr_test_rmdir(dir);
}

SR_TEST(pruning_keeps_retained_versions) {
  char *dir = sr_test_tmpdir("state_test");
  build_versions(dir, 40, 5, 10);
  /* Retained: 31..40. Newest snapshot <= 31 is 30: deltas <= 30 and snapshots < 30 go. */
  char p[4200];
  for (int v = 1; v <= 40; v++) {
    snprintf(p, sizeof p, "%s/%d.delta", dir, v);
    if (sr_fs_exists(p) != (v > 30)) SR_FAIL("%s exists: %d", p, sr_fs_exists(p));
    snprintf(p, sizeof p, "%s/%d.snapshot", dir, v);
    if (sr_fs_exists(p) != (v >= 30 && v % 5 == 0)) SR_FAIL("%s exists: %d", p, sr_fs_exists(p));
  }
  for (int v = 30; v <= 40; v++) {
    sr_state_store *st = open_ok(dir, v, 5, 10);
    check_equals(st, v);
    sr_state_close(st);
  }
  expect_open_error(dir, 29, "missing");
  sr_test_rmdir(dir);
}

static void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  ASSERT_TRUE(f != NULL);
  ASSERT_EQ_INT(fwrite(data, 1, n, f), n);
  fclose(f);
}

SR_TEST(corrupt_torn_and_misnamed_files) {
  char *dir = sr_test_tmpdir("state_test");
  build_versions(dir, 6, 5, 1000);
  char p[4200], q[4200];
  size_t n;
  path_of(p, dir, "3.delta");
  char *good = sr_fs_read_all(p, &n, NULL);
  ASSERT_TRUE(good != NULL && n > 30);

  good[n / 2] ^= 0x40; /* a flipped bit */
  write_file(p, good, n);
  expect_open_error(dir, 4, "3.delta is corrupt or torn");
  good[n / 2] ^= 0x40;

  write_file(p, good, n - 7); /* a torn tail */
  expect_open_error(dir, 4, "3.delta is corrupt or torn");
  write_file(p, good, 10);
  expect_open_error(dir, 4, "3.delta is truncated");
  write_file(p, "", 0);
  expect_open_error(dir, 4, "3.delta is truncated");

  char *bad = malloc(n);
  memcpy(bad, good, n);
  memcpy(bad, "XXXX", 4);
  write_file(p, bad, n);
  expect_open_error(dir, 4, "not a state store file");
  free(bad);

  write_file(p, good, n);
  path_of(q, dir, "2.delta");
  write_file(q, good, n); /* 3.delta's bytes under 2.delta's name */
  expect_open_error(dir, 4, "not what its name says");
  sr_state_store *st = open_ok(dir, 1, 5, 1000); /* versions before it still open */
  check_equals(st, 1);
  sr_state_close(st);
  free(good);

  path_of(p, dir, "5.snapshot");
  good = sr_fs_read_all(p, &n, NULL);
  ASSERT_TRUE(good != NULL);
  good[n - 1] ^= 1;
  write_file(p, good, n);
  expect_open_error(dir, 6, "5.snapshot is corrupt or torn");
  free(good);
  sr_test_rmdir(dir);
}

SR_TEST(missing_delta_is_named) {
  char *dir = sr_test_tmpdir("state_test");
  build_versions(dir, 5, 100, 1000);
  expect_open_error(dir, 9, "6.delta is missing"); /* a version never committed */
  char p[4200];
  path_of(p, dir, "3.delta");
  ASSERT_EQ_INT(unlink(p), 0);
  expect_open_error(dir, 5, "3.delta is missing");
  expect_open_error(dir, 3, "cannot load state version 3");
  sr_state_store *st = open_ok(dir, 2, 100, 1000);
  check_equals(st, 2);
  sr_state_close(st);
  sr_test_rmdir(dir);
}

SR_TEST(abort_restores_last_commit) {
  char *dir = sr_test_tmpdir("state_test");
  clear_model();
  sr_state_store *st = open_ok(dir, 0, 100, 1000);
  random_version(st, 0, 1);
  commit_ok(st);
  random_version(st, 1, 2);
  commit_ok(st);
  /* A version with every kind of change, growing the table several times over, then abort. */
  char key[32], val[64];
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof key, "new-%d", i);
    put_str(st, key, "x");
  }
  for (int k = 0; k < NKEYS; k++) {
    keyname(key, k);
    if (k % 3 == 0) sr_state_remove(st, key, strlen(key), NULL);
    snprintf(val, sizeof val, "changed-%d", k);
    if (k % 2 == 0) put_str(st, key, val);
    if (k % 5 == 0) sr_state_remove(st, key, strlen(key), NULL);
    if (k % 7 == 0) put_str(st, key, "again");
  }
  for (int i = 0; i < 5000; i += 2) {
    snprintf(key, sizeof key, "new-%d", i);
    ASSERT_EQ_INT(sr_state_remove(st, key, strlen(key), NULL), 1);
  }
  sr_state_abort(st);
  ASSERT_EQ_INT(sr_state_version(st), 2);
  check_equals(st, 2);
  sr_state_stats s;
  sr_state_get_stats(st, &s);
  ASSERT_EQ_INT(s.num_rows_updated, 0);
  ASSERT_EQ_INT(s.num_rows_removed, 0);
  /* The store keeps working after the abort, and the next delta holds only its changes. */
  random_version(st, 2, 3);
  commit_ok(st);
  check_equals(st, 3);
  sr_state_close(st);
  st = open_ok(dir, 3, 100, 1000);
  check_equals(st, 3);
  random_version(st, 3, 4); /* abort right after loading from disk */
  sr_state_abort(st);
  check_equals(st, 3);
  sr_state_close(st);
  sr_test_rmdir(dir);
}

SR_TEST(iteration_tolerates_removing_current) {
  char *dir = sr_test_tmpdir("state_test");
  sr_state_store *st = open_ok(dir, 0, 100, 1000);
  char key[32], val[32];
  for (int i = 0; i < 3000; i++) {
    snprintf(key, sizeof key, "k%d", i);
    snprintf(val, sizeof val, "%d", i);
    put_str(st, key, val);
  }
  commit_ok(st);
  static int seen[3000];
  memset(seen, 0, sizeof seen);
  sr_state_iter it;
  const void *k, *v;
  size_t kl, vl;
  sr_state_iter_init(st, &it);
  while (sr_state_iter_next(&it, &k, &kl, &v, &vl)) {
    char kbuf[32], vbuf[32]; /* keys and values are not NUL-terminated */
    ASSERT_TRUE(kl < sizeof kbuf && vl < sizeof vbuf);
    memcpy(kbuf, k, kl);
    kbuf[kl] = '\0';
    memcpy(vbuf, v, vl);
    vbuf[vl] = '\0';
    int i = atoi(kbuf + 1);
    ASSERT_TRUE(i >= 0 && i < 3000);
    seen[i]++;
    ASSERT_EQ_INT(atoi(vbuf), i);
    if (i % 2 == 0) ASSERT_EQ_INT(sr_state_remove(st, k, kl, NULL), 1);
  }
  for (int i = 0; i < 3000; i++) ASSERT_EQ_INT(seen[i], 1);
  sr_state_stats s;
  sr_state_get_stats(st, &s);
  ASSERT_EQ_INT(s.num_rows_total, 1500);
  ASSERT_EQ_INT(s.num_rows_removed, 1500);
  commit_ok(st);
  sr_state_close(st);
  st = open_ok(dir, 2, 100, 1000);
  const void *got;
  size_t n;
  for (int i = 0; i < 3000; i++) {
    snprintf(key, sizeof key, "k%d", i);
    ASSERT_EQ_INT(sr_state_get(st, key, strlen(key), &got, &n), i % 2);
  }
  sr_state_close(st);
  sr_test_rmdir(dir);
}

SR_TEST(crash_leftovers_above_version_are_ignored) {
  char *dir = sr_test_tmpdir("state_test");
  /* The store committed 1..8 (with 4.snapshot and 8.snapshot), but the engine's commit log
  ** reached only 6: the restart opens 6 and rewrites 7 and 8 differently. */
  build_versions(dir, 8, 4, 1000);
  char p[4200];
  path_of(p, dir, "8.snapshot");
  ASSERT_TRUE(sr_fs_exists(p));
  path_of(p, dir, "5.delta.tmp-999999");
  write_file(p, "junk", 4);
  sr_state_store *st = open_ok(dir, 6, 4, 1000);
  check_equals(st, 6);
  for (int v = 7; v <= 8; v++) {
    random_version(st, v - 1, v);
    commit_ok(st);
    if (v == 7) {
      path_of(p, dir, "8.snapshot");
      ASSERT_TRUE(!sr_fs_exists(p)); /* the stale snapshot went at the first commit */
      path_of(p, dir, "5.delta.tmp-999999");
      ASSERT_TRUE(!sr_fs_exists(p));
    }
  }
  ASSERT_EQ_INT(sr_state_wait_maintenance(st, NULL), SR_OK);
  sr_state_close(st);
  for (int v = 6; v <= 8; v++) {
    st = open_ok(dir, v, 4, 1000);
    check_equals(st, v);
    sr_state_close(st);
  }
  /* Only a snapshot can serve version 8 once its deltas are gone: it must be the new one. */
  for (int v = 5; v <= 8; v++) {
    snprintf(p, sizeof p, "%s/%d.delta", dir, v);
    unlink(p);
  }
  st = open_ok(dir, 8, 4, 1000);
  check_equals(st, 8);
  sr_state_close(st);
  sr_test_rmdir(dir);
}

SR_TEST(failed_commit_keeps_changes_pending) {
  char *dir = sr_test_tmpdir("state_test");
  clear_model();
  sr_state_store *st = open_ok(dir, 0, 100, 1000);
  random_version(st, 0, 1);
  commit_ok(st);
  random_version(st, 1, 2);
  char p[4200];
  path_of(p, dir, "2.delta");
  ASSERT_EQ_INT(mkdir(p, 0755), 0); /* rename(2) over a directory fails */
  sr_error *e = NULL;
  ASSERT_EQ_INT(sr_state_commit(st, &e), SR_ERROR);
  ASSERT_TRUE(strstr(e->message, "2.delta") != NULL);
  sr_error_free(e);
  ASSERT_EQ_INT(sr_state_version(st), 1);
  check_equals(st, 2);
  ASSERT_EQ_INT(rmdir(p), 0);
  commit_ok(st); /* the retry writes every change again */
  sr_state_close(st);
  st = open_ok(dir, 2, 100, 1000);
  check_equals(st, 2);
  sr_state_close(st);
  sr_test_rmdir(dir);
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static size_t heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

SR_TEST(million_entries_memory) {
  enum { N = 1000000 };
  char *dir = sr_test_tmpdir("state_test");
  size_t before = heap_in_use();
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  sr_state_store *st = open_ok(dir, 0, 100, 1000);
  unsigned char key[16], val[16];
  memset(key, 0, sizeof key);
  for (uint64_t i = 0; i < N; i++) {
    memcpy(key, &i, 8);
    uint64_t x = i * 0x9E3779B97F4A7C15u;
    memcpy(val, &x, 8);
    memcpy(val + 8, &i, 8);
    ASSERT_EQ_INT(sr_state_put(st, key, 16, val, 16, NULL), SR_OK);
  }
  double put_s = seconds_since(&t0);
  sr_state_stats s;
  sr_state_get_stats(st, &s);
  ASSERT_EQ_INT(s.num_rows_total, N);
  double per_entry = (double)s.memory_used_bytes / N;
  fprintf(stderr, "\n    1M x (16 B key + 16 B value): memory_used_bytes %.1f MB = %.1f B/entry "
          "(with this version's undo log), puts %.2f s", s.memory_used_bytes / 1e6, per_entry, put_s);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__) /* they replace malloc */
  /* memory_used_bytes is what the store really holds from malloc (within 5%). */
  double real = (double)(heap_in_use() - before);
  ASSERT_TRUE(real > 0.95 * s.memory_used_bytes && real < 1.05 * s.memory_used_bytes);
#else
  (void)before;
#endif
  ASSERT_TRUE(per_entry < 100);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  commit_ok(st);
  double commit_s = seconds_since(&t0);
  sr_state_get_stats(st, &s);
  fprintf(stderr, "; after commit %.1f B/entry, commit %.2f s", (double)s.memory_used_bytes / N,
          commit_s);
  sr_state_close(st);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  st = open_ok(dir, 1, 100, 1000);
  fprintf(stderr, ", reopen %.2f s\n   ", seconds_since(&t0));
  sr_state_get_stats(st, &s);
  ASSERT_EQ_INT(s.num_rows_total, N);
  for (uint64_t i = 0; i < N; i += 9973) {
    memcpy(key, &i, 8);
    const void *v;
    size_t n;
    ASSERT_EQ_INT(sr_state_get(st, key, 16, &v, &n), 1);
    ASSERT_EQ_INT(n, 16);
    ASSERT_TRUE(memcmp((const char *)v + 8, &i, 8) == 0);
  }
  sr_state_close(st);
  sr_test_rmdir(dir);
}

/* The file format, byte for byte (state_file.c's header comment): a checkpoint written by one
** build must open in the next. The bytes and CRCs were computed apart from the store (Python's
** struct and zlib.crc32). A 200-byte value gives a two-byte varint length (0xc8 0x01). */
static void assert_file_bytes(const char *dir, const char *name, const char *head, size_t hlen,
                              size_t xs, uint32_t crc) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  size_t len;
  char *got = sr_fs_read_all(path, &len, NULL);
  ASSERT_TRUE(got != NULL);
  ASSERT_EQ_INT(len, hlen + xs + 4);
  ASSERT_TRUE(memcmp(got, head, hlen) == 0);
  for (size_t i = 0; i < xs; i++) ASSERT_TRUE(got[hlen + i] == 'x');
  const unsigned char *t = (const unsigned char *)got + hlen + xs;
  ASSERT_EQ_INT((uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24,
                crc);
  free(got);
}

SR_TEST(file_format_is_pinned) {
  char *dir = sr_test_tmpdir("state-pin");
  char xs[201];
  memset(xs, 'x', 200);
  xs[200] = '\0';
  sr_state_store *st = open_ok(dir, 0, 2, 2);
  put_str(st, "k", "vv");
  put_str(st, "long", xs);
  commit_ok(st);
  ASSERT_EQ_INT(sr_state_remove(st, "k", 1, NULL), 1);
  commit_ok(st);
  ASSERT_EQ_INT(sr_state_wait_maintenance(st, NULL), SR_OK);
  sr_state_close(st);
  static const char d1[] = "SRST\x01" "D\0\0" "\x01\0\0\0\0\0\0\0" "\x02\0\0\0\0\0\0\0"
                           "\x01\x01\x02" "kvv" "\x01\x04\xc8\x01" "long";
  static const char d2[] = "SRST\x01" "D\0\0" "\x02\0\0\0\0\0\0\0" "\x01\0\0\0\0\0\0\0"
                           "\x02\x01" "k";
  static const char s2[] = "SRST\x01" "S\0\0" "\x02\0\0\0\0\0\0\0" "\x01\0\0\0\0\0\0\0"
                           "\x01\x04\xc8\x01" "long";
  assert_file_bytes(dir, "1.delta", d1, sizeof d1 - 1, 200, 0x98bfbff4u);
  assert_file_bytes(dir, "2.delta", d2, sizeof d2 - 1, 0, 0xb0c4c7cau);
  assert_file_bytes(dir, "2.snapshot", s2, sizeof s2 - 1, 200, 0x1a52822fu);
  sr_test_rmdir(dir);
}

int main(void) {
  int rc = SR_RUN(restart_in_another_process_after_close, put_get_remove_and_counts, restart_at_every_version,
                  snapshot_replaces_earlier_deltas, snapshot_is_built_from_disk_not_live_map,
                  close_right_after_commit_still_snapshots, pruning_keeps_retained_versions,
                  corrupt_torn_and_misnamed_files, missing_delta_is_named,
                  abort_restores_last_commit, iteration_tolerates_removing_current,
                  crash_leftovers_above_version_are_ignored, failed_commit_keeps_changes_pending,
                  million_entries_memory, file_format_is_pinned);
  clear_model();
  return rc;
}
