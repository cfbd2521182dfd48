/* Timestamps and dates: parsing every accepted form, refusing the rest, formatting, and the
** calendar arithmetic against libc's gmtime (used here only as a reference). */
#include <string.h>
#include <time.h>

#include "sr_test.h"
#include "timeutil.h"

static int64_t parse_ok(const char *text) {
  int64_t ms = 0;
  if (sr_time_parse(text, strlen(text), &ms) != 0) SR_FAIL("\"%s\" should parse", text);
  return ms;
}

static void parse_bad(const char *text) {
  int64_t ms = 12345;
  if (sr_time_parse(text, strlen(text), &ms) == 0) SR_FAIL("\"%s\" should not parse (got %lld)", text, (long long)ms);
  ASSERT_EQ_INT(ms, 12345);  /* untouched on failure */
}

static const char *fmt(int64_t ms) {
  static char out[32];
  size_t n = sr_time_format(ms, out);
  ASSERT_EQ_INT(n, strlen(out));
  return out;
}

SR_TEST(spark_and_iso_forms) {
  const int64_t base = 1795428000000LL;  /* 2026-11-23T10:00:00Z */
  ASSERT_EQ_INT(parse_ok("2026-11-23 10:00:00"), base);
  ASSERT_EQ_INT(parse_ok("2026-11-23T10:00:00"), base);
  ASSERT_EQ_INT(parse_ok("2026-11-23t10:00:00z"), base);
  ASSERT_EQ_INT(parse_ok("2026-11-23T10:00:00Z"), base);
  ASSERT_EQ_INT(parse_ok("2026-11-23 10:00:00.000"), base);
  ASSERT_EQ_INT(parse_ok("2026-11-23 10:00:00.001"), base + 1);
  ASSERT_EQ_INT(parse_ok("2026-11-23T10:00"), base);
  ASSERT_EQ_INT(parse_ok("2026-11-23"), base - 10 * 3600000LL);
  ASSERT_EQ_INT(parse_ok("2026-11-23T"), base - 10 * 3600000LL);
  ASSERT_EQ_INT(parse_ok("2026-1-5 1:2:3"), parse_ok("2026-01-05T01:02:03Z"));
  ASSERT_EQ_INT(parse_ok("  2026-11-23 10:00:00\n"), base);
  ASSERT_EQ_INT(parse_ok("2026-11-23 10:00:00 UTC"), base);
  ASSERT_EQ_INT(parse_ok("2026-11-23 10:00:00GMT"), base);
  ASSERT_EQ_INT(parse_ok("2026-11-23T10:00:00,5Z"), base + 500);
}

SR_TEST(fractions_truncate_to_ms) {
  const int64_t base = 1795428000000LL;
  ASSERT_EQ_INT(parse_ok("2026-11-23T10:00:00.1Z"), base + 100);
  ASSERT_EQ_INT(parse_ok("2026-11-23T10:00:00.12Z"), base + 120);
  ASSERT_EQ_INT(parse_ok("2026-11-23T10:00:00.123Z"), base + 123);
  ASSERT_EQ_INT(parse_ok("2026-11-23T10:00:00.1239Z"), base + 123);
  ASSERT_EQ_INT(parse_ok("2026-11-23T10:00:00.123999Z"), base + 123);
  ASSERT_EQ_INT(parse_ok("2026-11-23T10:00:00.999999999Z"), base + 999);
  parse_bad("2026-11-23T10:00:00.1234567891Z");  /* 10 digits */
  parse_bad("2026-11-23T10:00:00.Z");
}

SR_TEST(offsets) {
  const int64_t base = 1795428000000LL;
  ASSERT_EQ_INT(parse_ok("2026-11-23T12:00:00+02:00"), base);
  ASSERT_EQ_INT(parse_ok("2026-11-23T12:00:00+0200"), base);
  ASSERT_EQ_INT(parse_ok("2026-11-23T12:00:00+02"), base);
  ASSERT_EQ_INT(parse_ok("2026-11-23T04:30:00-0530"), base);
  ASSERT_EQ_INT(parse_ok("2026-11-23T04:30:00.250-05:30"), base + 250);
  ASSERT_EQ_INT(parse_ok("2026-11-23 12:00:00 +02:00"), base);
  ASSERT_EQ_INT(parse_ok("2026-11-23T12:00:00UTC+02:00"), base);
  ASSERT_EQ_INT(parse_ok("2026-11-23T00:30:00+01:00"), parse_ok("2026-11-22T23:30:00Z"));
  ASSERT_EQ_INT(parse_ok("2026-11-23T12:00:00+2"), base);  /* Java's ZoneOffset "+h" */
  parse_bad("2026-11-23T12:00:00+02:0");
  parse_bad("2026-11-23T12:00:00+19:00");
  parse_bad("2026-11-23T12:00:00+02:60");
  parse_bad("2026-11-23T12:00:00+02:00x");
  parse_bad("2026-11-23T12:00:00ZZ");
}

SR_TEST(before_1970_is_negative) {
  ASSERT_EQ_INT(parse_ok("1970-01-01T00:00:00Z"), 0);
  ASSERT_EQ_INT(parse_ok("1969-12-31T23:59:59.999Z"), -1);
  ASSERT_EQ_INT(parse_ok("1969-12-31"), -86400000);
  ASSERT_EQ_INT(parse_ok("1900-01-01T00:00:00Z"), -2208988800000LL);
  ASSERT_EQ_INT(parse_ok("0001-01-01T00:00:00Z"), -62135596800000LL);
  ASSERT_EQ_STR(fmt(-1), "1969-12-31T23:59:59.999Z");
  ASSERT_EQ_STR(fmt(-86400000), "1969-12-31T00:00:00.000Z");
  ASSERT_EQ_STR(fmt(-86400001), "1969-12-30T23:59:59.999Z");
  ASSERT_EQ_STR(fmt(-2208988800000LL), "1900-01-01T00:00:00.000Z");
  ASSERT_EQ_STR(fmt(-62135596800000LL), "0001-01-01T00:00:00.000Z");
}

SR_TEST(invalid_texts) {
  const char *bad[] = {
    "", "   ", "2026", "2026-11", "2026-13-01", "2026-00-10", "2026-11-31", "2026-02-29",
    "1900-02-29", "2026-11-23X10:00:00", "2026-11-23 24:00:00", "2026-11-23 10:60:00",
    "2026-11-23 10:00:60", "2026-11-23 10", "2026-11-23 10:", "2026-11-23 10:00:", "26-11-23",
    "2026/11/23", "2026-11-23 10:00:00 PST", "yesterday", "2026-11-23 10:00:00.5 junk",
    "2026-11-23  10:00:00", "2026-011-23",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) parse_bad(bad[i]);
  ASSERT_EQ_INT(parse_ok("2024-02-29"), parse_ok("2024-03-01") - 86400000);
  ASSERT_EQ_INT(parse_ok("2000-02-29"), parse_ok("2000-03-01") - 86400000);
  int64_t ms;  /* not NUL-terminated: the length bounds the parse */
  ASSERT_EQ_INT(sr_time_parse("2026-11-23T10:00:00Zgarbage", 20, &ms), 0);
  ASSERT_EQ_INT(ms, 1795428000000LL);
}

SR_TEST(format_forms) {
  ASSERT_EQ_STR(fmt(0), "1970-01-01T00:00:00.000Z");
  ASSERT_EQ_STR(fmt(1795428000001LL), "2026-11-23T10:00:00.001Z");
  ASSERT_EQ_STR(fmt(1795428000999LL), "2026-11-23T10:00:00.999Z");
  ASSERT_EQ_STR(fmt(253402300799999LL), "9999-12-31T23:59:59.999Z");
  ASSERT_EQ_STR(fmt(253402300800000LL), "+10000-01-01T00:00:00.000Z");
  ASSERT_EQ_STR(fmt(-62167219200000LL), "0000-01-01T00:00:00.000Z");
  ASSERT_EQ_STR(fmt(-62167219200001LL), "-0001-12-31T23:59:59.999Z");
  /* the extremes fit the buffer */
  ASSERT_TRUE(strlen(fmt(INT64_MAX)) < 32);
  ASSERT_TRUE(strlen(fmt(INT64_MIN)) < 32);
  ASSERT_EQ_STR(fmt(INT64_MAX), "+292278994-08-17T07:12:55.807Z");
}

/* Microseconds, as Spark's TimestampType: 6 fraction digits kept, more truncated; whole ms
** still written with 3 digits, a sub-ms value with 6. */
SR_TEST(microseconds) {
  const int64_t base = 1795428000000000LL;  /* 2026-11-23T10:00:00Z in us */
  int64_t us = 0;
  ASSERT_EQ_INT(sr_time_parse_us("2026-11-23T10:00:00.000001Z", 27, &us), 0);
  ASSERT_EQ_INT(us, base + 1);
  ASSERT_EQ_INT(sr_time_parse_us("2026-11-23 10:00:00.1234567", 27, &us), 0);
  ASSERT_EQ_INT(us, base + 123456);
  ASSERT_EQ_INT(sr_time_parse_us("2026-11-23 10:00:00.001", 23, &us), 0);
  ASSERT_EQ_INT(us, base + 1000);
  ASSERT_EQ_INT(sr_time_parse_us("1969-12-31T23:59:59.999999Z", 27, &us), 0);
  ASSERT_EQ_INT(us, -1);
  ASSERT_EQ_INT(parse_ok("1969-12-31T23:59:59.9995Z"), -1);  /* ms: floor, as before */
  ASSERT_TRUE(sr_time_parse_us("999999-01-01", 12, &us) != 0);  /* beyond int64 us */
  char out[32];
  ASSERT_EQ_INT(sr_time_format_us(base + 1, out), 27);
  ASSERT_EQ_STR(out, "2026-11-23T10:00:00.000001Z");
  sr_time_format_us(base + 1000, out);
  ASSERT_EQ_STR(out, "2026-11-23T10:00:00.001Z");
  sr_time_format_us(-1, out);
  ASSERT_EQ_STR(out, "1969-12-31T23:59:59.999999Z");
  ASSERT_TRUE(sr_time_format_us(INT64_MIN, out) < 32);
}

/* Spark's range (a long of microseconds: years -290308 to +294247): what the writer writes for
** any time in it, signed years included, reads back; beyond it the reader refuses. */
SR_TEST(range_and_signed_years) {
  const int64_t times[] = {SR_TIME_MAX_MS, SR_TIME_MIN_MS, 253402300800000LL, -62167219200001LL,
                           -62167219200000LL, -1000LL * 86400 * 365 * 3000, 1000LL * 86400 * 365 * 200000};
  for (size_t i = 0; i < sizeof times / sizeof *times; i++) {
    const char *text = fmt(times[i]);
    ASSERT_EQ_INT(parse_ok(text), times[i]);
  }
  ASSERT_EQ_STR(fmt(SR_TIME_MAX_MS), "+294247-01-10T04:00:54.775Z");
  ASSERT_EQ_STR(fmt(SR_TIME_MIN_MS), "-290308-12-21T19:59:05.225Z");
  ASSERT_EQ_INT(parse_ok("-0044-03-15"), -63549360000000LL);
  ASSERT_EQ_STR(fmt(parse_ok("-2026-11-23")), "-2026-11-23T00:00:00.000Z");  /* a year BC, as Spark */
  parse_bad("+294247-01-10T04:00:54.776Z");
  parse_bad("-290308-12-21T19:59:05.224Z");
  parse_bad("+3170843-11-07T00:00:00.000Z");  /* 7 digits: Spark's parser takes at most 6 */
  parse_bad("+-2026-01-01");
  /* dates: every int32 day count written reads back (7-digit years, as Spark's stringToDate) */
  const int32_t days[] = {INT32_MAX, INT32_MIN, -719529, 2932897};
  for (size_t i = 0; i < sizeof days / sizeof *days; i++) {
    char text[16];
    int32_t back = 0;
    sr_date_format(days[i], text);
    if (sr_date_parse(text, strlen(text), &back) != 0) SR_FAIL("date \"%s\" should parse", text);
    ASSERT_EQ_INT(back, days[i]);
  }
  parse_bad("2026-01-01T00:00:00+");
}

/* Every ms in a wide range formats like gmtime and parses back to itself. */
SR_TEST(round_trip_against_gmtime) {
  uint64_t seed = 88172645463325252ULL;
  for (int i = 0; i < 200000; i++) {
    seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
    int64_t ms = (int64_t)(seed % 500000000000000ULL) - 250000000000000LL;  /* ~ years -5900..9900 */
    if (i < 1000) ms = (int64_t)(seed % 200000) - 100000;  /* around the epoch */
    const char *text = fmt(ms);
    int64_t back;
    if (sr_time_parse(text, strlen(text), &back) != 0 && text[0] != '-' && text[0] != '+')
      SR_FAIL("%s does not parse", text);
    if (text[0] != '-' && text[0] != '+') ASSERT_EQ_INT(back, ms);
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char ref[64];
    snprintf(ref, sizeof ref, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(((ms % 1000) + 1000) % 1000));
    if (tm.tm_year + 1900 >= 0 && tm.tm_year + 1900 <= 9999) ASSERT_EQ_STR(text, ref);
  }
}

SR_TEST(civil_days_are_consistent) {
  int64_t expect = sr_days_from_civil(1600, 1, 1);
  static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  for (int64_t y = 1600; y <= 2400; y++) {
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    for (int m = 1; m <= 12; m++) {
      int days = dim[m - 1] + (m == 2 && leap);
      for (int d = 1; d <= days; d++, expect++) {
        ASSERT_EQ_INT(sr_days_from_civil(y, m, d), expect);
        int64_t yy;
        int mm, dd;
        sr_civil_from_days(expect, &yy, &mm, &dd);
        if (yy != y || mm != m || dd != d) SR_FAIL("day %lld: %lld-%d-%d != %lld-%d-%d", (long long)expect,
                                                   (long long)yy, mm, dd, (long long)y, m, d);
      }
    }
  }
  ASSERT_EQ_INT(sr_days_from_civil(1970, 1, 1), 0);
}

SR_TEST(dates) {
  int32_t days = 99;
  ASSERT_EQ_INT(sr_date_parse("2026-11-23", 10, &days), 0);
  ASSERT_EQ_INT(days, 20780);
  ASSERT_EQ_INT(sr_date_parse("1970-01-01", 10, &days), 0);
  ASSERT_EQ_INT(days, 0);
  ASSERT_EQ_INT(sr_date_parse("1969-12-31", 10, &days), 0);
  ASSERT_EQ_INT(days, -1);
  ASSERT_EQ_INT(sr_date_parse(" 2026-1-5 ", 10, &days), 0);
  ASSERT_EQ_INT(days, sr_days_from_civil(2026, 1, 5));
  ASSERT_EQ_INT(sr_date_parse("2026-11-23T10:00:00Z", 20, &days), 0);  /* time part ignored */
  ASSERT_EQ_INT(days, 20780);
  ASSERT_EQ_INT(sr_date_parse("2026-11-23 10:00", 16, &days), 0);
  days = 7;
  ASSERT_EQ_INT(sr_date_parse("2026-11-31", 10, &days), -1);
  ASSERT_EQ_INT(sr_date_parse("2026-11-23x", 11, &days), -1);
  ASSERT_EQ_INT(sr_date_parse("", 0, &days), -1);
  ASSERT_EQ_INT(days, 7);
  char out[16];
  ASSERT_EQ_INT(sr_date_format(20780, out), 10);
  ASSERT_EQ_STR(out, "2026-11-23");
  sr_date_format(-1, out);
  ASSERT_EQ_STR(out, "1969-12-31");
  sr_date_format(-719528, out);
  ASSERT_EQ_STR(out, "0000-01-01");
  ASSERT_TRUE(sr_date_format(INT32_MAX, out) < 16);
  ASSERT_EQ_STR(out, "+5881580-07-11");
  ASSERT_TRUE(sr_date_format(INT32_MIN, out) < 16);
}

int main(void) {
  return SR_RUN(spark_and_iso_forms, microseconds, fractions_truncate_to_ms, offsets, before_1970_is_negative,
                invalid_texts, format_forms, range_and_signed_years, round_trip_against_gmtime,
                civil_days_are_consistent, dates);
}
