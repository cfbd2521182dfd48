/*
** A small test harness in libuv's manner: each test runs in a process of its own (forked), so
** a failing assertion, a crash or a hang ends that test only and the file's other tests still
** run; assertions print both values and the place. A test that runs longer than
** SR_TEST_TIMEOUT_S (env SR_TEST_TIMEOUT overrides; sanitizer builds are slow) is killed and
** counted as failed, and so is one that leaks under AddressSanitizer. Processes a test started
** end with it. The file's status is 1 when any test failed.
**
**   SR_TEST(name) { ASSERT_EQ_INT(1 + 1, 2); }
**   int main(void) { return SR_RUN(name, other_name); }
**
** Invariant the fork imposes: a test must not depend on what an earlier test left in memory
** (files it wrote are another matter: they stay). What every test of a file needs (a Lua
** state, a mock cluster, whose threads a fork would not copy) is made in the child by
** sr_test_before_each and released by sr_test_after_each, both set by main when needed.
*/
#ifndef SR_TEST_H
#define SR_TEST_H
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"

/* Under AddressSanitizer the leak check normally runs at exit; a test's process ends with
** _exit (so it does not run the atexit handlers its parent registered, such as removing the
** file's scratch folder), and runs the check itself. */
#if defined(__SANITIZE_ADDRESS__)
#define SR_TEST_LEAK_CHECK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SR_TEST_LEAK_CHECK 1
#endif
#endif
#ifdef SR_TEST_LEAK_CHECK
#include <sanitizer/lsan_interface.h>
#endif

enum { SR_TEST_TIMEOUT_S = 120 };

#define SR_FAIL(...)                                                        \
  do {                                                                      \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                         \
    fprintf(stderr, __VA_ARGS__);                                           \
    fprintf(stderr, "\n");                                                  \
    fflush(NULL);                                                           \
    _exit(1); /* not exit: the parent's atexit handlers are not the test's */ \
  } while (0)

#define ASSERT_TRUE(c) \
  do { if (!(c)) SR_FAIL("assertion failed: %s", #c); } while (0)
#define ASSERT_EQ_INT(a, b)                                                          \
  do {                                                                               \
    int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                                    \
    if (a_ != b_) SR_FAIL("%s == %s: %" PRId64 " != %" PRId64, #a, #b, a_, b_);     \
  } while (0)
#define ASSERT_EQ_DBL(a, b)                                                   \
  do {                                                                        \
    double a_ = (a), b_ = (b);                                                \
    if (a_ != b_) SR_FAIL("%s == %s: %.17g != %.17g", #a, #b, a_, b_);        \
  } while (0)
#define ASSERT_EQ_STR(a, b)                                                               \
  do {                                                                                    \
    const char *a_ = (a), *b_ = (b);                                                      \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                \
      SR_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
  } while (0)

/* A fresh folder under /tmp named for the test file (tag), removed with sr_test_rmdir. */
static inline char *sr_test_tmpdir(const char *tag) {
  char tmpl[256];
  snprintf(tmpl, sizeof tmpl, "/tmp/sr_%s_XXXXXX", tag);
  ASSERT_TRUE(mkdtemp(tmpl) != NULL);
  return strdup(tmpl);
}

static inline void sr_test_rmdir(char *dir) {
  ASSERT_EQ_INT(sr_fs_remove_tree(dir, NULL), SR_OK);
  free(dir);
}

typedef void (*sr_test_fn)(void);
#define SR_TEST(name) static void name(void)
static sr_test_fn sr_test_before_each, sr_test_after_each;

/* Runs one test in a child; returns 1 when it passed. stderr is unbuffered, so the child's
** messages are already out when it ends. */
static inline int sr_test_one(const char *name, sr_test_fn fn, unsigned timeout_s) {
  fprintf(stderr, "  %s ...", name);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) { perror("fork"); return 0; }
  if (pid == 0) {
    setpgid(0, 0);
    alarm(timeout_s);
    if (sr_test_before_each) sr_test_before_each();
    fn();
    if (sr_test_after_each) sr_test_after_each();
    fflush(NULL);
#ifdef SR_TEST_LEAK_CHECK
    __lsan_do_leak_check();
#endif
    _exit(0);
  }
  setpgid(pid, pid); /* as the child does: whichever runs first */
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {}
  /* The test is its process group's leader: what it started and left running (a subprocess it
  ** was waiting on when it timed out or failed) ends with it instead of outliving the file. */
  kill(-pid, SIGKILL);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) { fprintf(stderr, " ok\n"); return 1; }
  if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
    fprintf(stderr, "  %s: timed out after %u s\n", name, timeout_s);
  else if (WIFSIGNALED(st))
    fprintf(stderr, "  %s: killed by signal %d\n", name, WTERMSIG(st));
  fprintf(stderr, "  %s FAILED\n", name);
  return 0;
}

static inline int sr_test_run(const char *names, sr_test_fn *fns, int n) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", names);
  const char *env = getenv("SR_TEST_TIMEOUT");
  unsigned timeout_s = env && atoi(env) > 0 ? (unsigned)atoi(env) : SR_TEST_TIMEOUT_S;
  char *save = NULL, *tok = strtok_r(buf, ", ", &save);
  int failed = 0;
  for (int i = 0; i < n; i++) {
    failed += !sr_test_one(tok ? tok : "?", fns[i], timeout_s);
    tok = strtok_r(NULL, ", ", &save);
  }
  fprintf(stderr, "%d passed, %d failed\n", n - failed, failed);
  return failed ? 1 : 0;
}
#define SR_RUN(...)                                                            \
  sr_test_run(#__VA_ARGS__, (sr_test_fn[]){__VA_ARGS__},                       \
              (int)(sizeof((sr_test_fn[]){__VA_ARGS__}) / sizeof(sr_test_fn)))

#endif
