/* Duration text ("10 seconds"): the forms accepted, the ones refused, and the signed form a
** window's startTime takes ("-5 seconds", SPARK-21590), as Spark's interval strings. */
#include "options.h"
#include "sr_test.h"

static int64_t dur(const char *text) {
  int64_t ms = 0;
  if (sr_duration_parse(text, &ms) != 0) SR_FAIL("\"%s\" should parse", text);
  return ms;
}

static int64_t signed_dur(const char *text) {
  int64_t ms = 0;
  if (sr_duration_parse_signed(text, &ms) != 0) SR_FAIL("\"%s\" should parse (signed)", text);
  return ms;
}

static void bad(const char *text, int is_signed) {
  int64_t ms = 12345;
  int rc = is_signed ? sr_duration_parse_signed(text, &ms) : sr_duration_parse(text, &ms);
  if (rc == 0) SR_FAIL("\"%s\" should not parse (got %lld)", text, (long long)ms);
  ASSERT_EQ_INT(ms, 12345); /* untouched on failure */
}

SR_TEST(units_and_forms) {
  ASSERT_EQ_INT(dur("10 seconds"), 10000);
  ASSERT_EQ_INT(dur("500 milliseconds"), 500);
  ASSERT_EQ_INT(dur("1 minute 30 seconds"), 90000);
  ASSERT_EQ_INT(dur("interval 2 hours"), 7200000);
  ASSERT_EQ_INT(dur("1.5 s"), 1500);
  ASSERT_EQ_INT(dur("+5 seconds"), 5000);
  ASSERT_EQ_INT(dur("0 seconds"), 0);
  bad("", 0);
  bad("soon", 0);
  bad("10", 0);
  bad("10 fortnights", 0);
  bad("inf seconds", 0);
}

/* A negative total: -2, and the value set (for the message). */
static void negative(const char *text, int64_t want) {
  int64_t ms = 12345;
  ASSERT_EQ_INT(sr_duration_parse(text, &ms), -2);
  ASSERT_EQ_INT(ms, want);
}

SR_TEST(unsigned_refuses_a_negative_total) {
  /* delays, triggers and timeouts cannot be negative; a part may be, as in Spark's intervals */
  negative("-5 seconds", -5000);
  negative("1 minute -90 seconds", -30000);
  ASSERT_EQ_INT(dur("1 minute -30 seconds"), 30000);
}

SR_TEST(signed_takes_a_sign_per_value) {
  ASSERT_EQ_INT(signed_dur("-5 seconds"), -5000);
  ASSERT_EQ_INT(signed_dur("- 5 seconds"), -5000);
  ASSERT_EQ_INT(signed_dur("interval -5 seconds"), -5000);
  ASSERT_EQ_INT(signed_dur("5 seconds"), 5000);
  ASSERT_EQ_INT(signed_dur("1 minute -30 seconds"), 30000);
  ASSERT_EQ_INT(signed_dur("-1 minute -30 seconds"), -90000);
  /* rounding is to the nearest millisecond on both sides of zero */
  ASSERT_EQ_INT(signed_dur("-1.5 ms"), -2);
  ASSERT_EQ_INT(signed_dur("-1 us"), 0);
  ASSERT_EQ_INT(signed_dur("-2 ms"), -2);
  bad("-", 1);
  bad("- seconds", 1);
  bad("--5 seconds", 1);
}

int main(void) {
  return SR_RUN(units_and_forms, unsigned_refuses_a_negative_total, signed_takes_a_sign_per_value);
}
