/* Timestamps and dates: see timeutil.h. */
#include "timeutil.h"

#include <stdio.h>

/* Howard Hinnant's days_from_civil: exact for every proleptic Gregorian date, no tables. */
int64_t sr_days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;                                   /* [0, 399] */
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
  return era * 146097 + doe - 719468;
}

void sr_civil_from_days(int64_t days, int64_t *y, int *m, int *d) {
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Reads at most maxd digits into *v; returns how many were read. */
static int read_digits(const char **pp, const char *end, int maxd, int64_t *v) {
  const char *p = *pp;
  int64_t x = 0;
  int n = 0;
  while (p < end && n < maxd && is_digit(*p)) { x = x * 10 + (*p++ - '0'); n++; }
  *pp = p;
  *v = x;
  return n;
}

static int days_in_month(int64_t y, int m) {
  static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 ? 28 + leap : dim[m - 1];
}

static void trim(const char **s, const char **end) {
  while (*s < *end && is_blank(**s)) (*s)++;
  while (*end > *s && is_blank((*end)[-1])) (*end)--;
}

/* "[+-]yyyy-m-d" with a year of 4 to max_year_digits digits, as Spark reads them: 6 for a
** timestamp (stringToTimestamp: the years a long of microseconds holds), 7 for a date
** (stringToDate: those an int of days holds). */
static int parse_ymd(const char **pp, const char *end, int max_year_digits, int64_t *days) {
  const char *p = *pp;
  int64_t y, m, d;
  int neg = 0;
  if (p < end && (*p == '+' || *p == '-')) neg = *p++ == '-';
  if (read_digits(&p, end, max_year_digits, &y) < 4 || p >= end || *p++ != '-') return -1;
  if (neg) y = -y;
  if (read_digits(&p, end, 2, &m) < 1 || p >= end || *p++ != '-') return -1;
  if (read_digits(&p, end, 2, &d) < 1) return -1;
  if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, (int)m)) return -1;
  *days = sr_days_from_civil(y, (int)m, (int)d);
  *pp = p;
  return 0;
}

static int ieq3(const char *p, const char *end, const char *word) {
  if (end - p < 3) return 0;
  for (int i = 0; i < 3; i++)
    if ((p[i] | 0x20) != word[i]) return 0;
  return 1;
}

/* The zone after the time: nothing, Z, UTC/GMT, +hh[:mm], +hhmm (optionally after UTC/GMT). */
static int parse_zone(const char *p, const char *end, int64_t *offset_s) {
  *offset_s = 0;
  if (p < end && *p == ' ') p++;
  if (p == end) return 0;
  if (*p == 'Z' || *p == 'z') return p + 1 == end ? 0 : -1;
  if (ieq3(p, end, "utc") || ieq3(p, end, "gmt")) {
    p += 3;
    if (p == end) return 0;
  }
  if (*p != '+' && *p != '-') return -1;
  int neg = *p++ == '-';
  int64_t hh, mm = 0;
  int nd = read_digits(&p, end, 2, &hh);
  if (nd < 1) return -1;
  if (p < end) {
    if (*p == ':') p++;
    else if (nd < 2) return -1;
    if (read_digits(&p, end, 2, &mm) != 2) return -1;
  }
  if (p != end || hh > 18 || mm > 59) return -1;
  *offset_s = (neg ? -1 : 1) * (hh * 3600 + mm * 60);
  return 0;
}

int sr_time_parse(const char *s, size_t len, int64_t *ms) {
  int64_t us;
  if (sr_time_parse_us(s, len, &us) != 0) return -1;
  *ms = us / 1000 - (us % 1000 < 0);  /* floor: truncating the fraction, as before */
  return 0;
}

int sr_time_parse_us(const char *s, size_t len, int64_t *us) {
  const char *p = s, *end = s + len;
  trim(&p, &end);
  int64_t days, h = 0, mi = 0, sec = 0, frac_us = 0, offset_s = 0;
  if (parse_ymd(&p, end, 6, &days) != 0) return -1;
  if (p < end) {
    char sep = *p++;
    if (sep != 'T' && sep != 't' && sep != ' ') return -1;
    if (p == end && sep != ' ') goto done;  /* Spark accepts "2026-11-23T" */
    if (read_digits(&p, end, 2, &h) < 1 || p >= end || *p++ != ':') return -1;
    if (read_digits(&p, end, 2, &mi) < 1) return -1;
    if (p < end && *p == ':') {
      p++;
      if (read_digits(&p, end, 2, &sec) < 1) return -1;
      if (p < end && (*p == '.' || *p == ',')) {
        p++;
        int64_t frac;
        int nd = read_digits(&p, end, 9, &frac);
        if (nd < 1) return -1;
        while (nd > 6) { frac /= 10; nd--; }  /* truncate to us, as Spark */
        while (nd < 6) { frac *= 10; nd++; }
        frac_us = frac;
      }
    }
    if (h > 23 || mi > 59 || sec > 59) return -1;
    if (parse_zone(p, end, &offset_s) != 0) return -1;
  }
done: {
    /* Spark's range: a long of microseconds (years -290308 to +294247); |days| < 2^29 here */
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    __int128 t = (__int128)secs * 1000000 + frac_us; /* the seconds alone may pass the range */
    if (t > INT64_MAX || t < INT64_MIN || !sr_time_in_range((int64_t)(t / 1000))) return -1;
    *us = (int64_t)t;
    return 0;
  }
}

int sr_date_parse(const char *s, size_t len, int32_t *days) {
  const char *p = s, *end = s + len;
  trim(&p, &end);
  int64_t d;
  if (parse_ymd(&p, end, 7, &d) != 0) return -1;
  if (p < end && *p != 'T' && *p != 't' && *p != ' ') return -1;
  if (d < INT32_MIN || d > INT32_MAX) return -1;
  *days = (int32_t)d;
  return 0;
}

static char *put2(char *o, int v) {
  o[0] = (char)('0' + v / 10);
  o[1] = (char)('0' + v % 10);
  return o + 2;
}

/* "yyyy-mm-dd" for years 0..9999 (the only ones real data has), snprintf beyond. */
static size_t format_ymd(int64_t days, char *out, size_t cap) {
  int64_t y;
  int m, d;
  sr_civil_from_days(days, &y, &m, &d);
  if (y < 0 || y > 9999)
    return (size_t)snprintf(out, cap, "%+05lld-%02d-%02d", (long long)y, m, d);
  char *o = put2(put2(out, (int)(y / 100)), (int)(y % 100));
  *o++ = '-';
  o = put2(o, m);
  *o++ = '-';
  o = put2(o, d);
  *o = '\0';
  return (size_t)(o - out);
}

/* days and the microseconds into that day: "yyyy-mm-ddThh:mm:ss.fff[fff]Z". */
static size_t format_time(int64_t days, int64_t rem_us, char *out) {
  size_t n = format_ymd(days, out, 32);
  char *o = out + n;
  int64_t secs = rem_us / 1000000;
  *o++ = 'T';
  o = put2(o, (int)(secs / 3600));
  *o++ = ':';
  o = put2(o, (int)(secs / 60 % 60));
  *o++ = ':';
  o = put2(o, (int)(secs % 60));
  *o++ = '.';
  int frac = (int)(rem_us % 1000000);
  if (frac % 1000 == 0) {  /* milliseconds: 3 digits, as the sinks have always written */
    frac /= 1000;
    *o++ = (char)('0' + frac / 100);
    o = put2(o, frac % 100);
  } else {
    o = put2(put2(put2(o, frac / 10000), frac / 100 % 100), frac % 100);
  }
  *o++ = 'Z';
  *o = '\0';
  return (size_t)(o - out);
}

size_t sr_time_format(int64_t ms, char out[32]) {
  int64_t days = ms / 86400000, rem = ms % 86400000;
  if (rem < 0) { rem += 86400000; days--; }  /* floor division */
  return format_time(days, rem * 1000, out);
}

size_t sr_time_format_us(int64_t us, char out[32]) {
  int64_t days = us / 86400000000LL, rem = us % 86400000000LL;
  if (rem < 0) { rem += 86400000000LL; days--; }
  return format_time(days, rem, out);
}

size_t sr_date_format(int32_t days, char out[16]) { return format_ymd(days, out, 16); }
