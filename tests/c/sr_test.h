/*
** A small test harness in libuv's manner: each test file is its own process, assertions
** print both values and the place, and a failing assertion ends the process with status 1.
**
**   SR_TEST(name) { ASSERT_EQ_INT(1 + 1, 2); }
**   int main(void) { return SR_RUN(name, other_name); }
*/
#ifndef SR_TEST_H
#define SR_TEST_H
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SR_FAIL(...)                                                        \
  do {                                                                      \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                         \
    fprintf(stderr, __VA_ARGS__);                                           \
    fprintf(stderr, "\n");                                                  \
    exit(1);                                                                \
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

typedef void (*sr_test_fn)(void);
#define SR_TEST(name) static void name(void)

static inline int sr_test_run(const char *names, sr_test_fn *fns, int n) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", names);
  char *save = NULL, *tok = strtok_r(buf, ", ", &save);
  for (int i = 0; i < n; i++) {
    fprintf(stderr, "  %s ...", tok ? tok : "?");
    fns[i]();
    fprintf(stderr, " ok\n");
    tok = strtok_r(NULL, ", ", &save);
  }
  fprintf(stderr, "%d passed, 0 failed\n", n);
  return 0;
}
#define SR_RUN(...)                                                            \
  sr_test_run(#__VA_ARGS__, (sr_test_fn[]){__VA_ARGS__},                       \
              (int)(sizeof((sr_test_fn[]){__VA_ARGS__}) / sizeof(sr_test_fn)))

#endif
