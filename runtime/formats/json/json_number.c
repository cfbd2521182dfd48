/*
** JSON numbers: scanning (sr__json_scan_number), conversions of a scanned number, and the
** shortest text of a double (json_rows.h). Doubles are written as the shortest text that reads
** back, found with exact integer arithmetic (shortest_fixed), not printf.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"
#include "timeutil.h"

/* ------------------------------------------------------------------------------------------ */
/* Numbers                                                                                      */

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
static const uint64_t pow10_u64[20] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL,
  1000000ULL, 10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL,
  1000000000000ULL, 10000000000000ULL, 100000000000000ULL, 1000000000000000ULL,
  10000000000000000ULL, 100000000000000000ULL, 1000000000000000000ULL,
  10000000000000000000ULL};

const char *sr__json_scan_number(const char *p, const char *end, sr__jnum *num) {
  uint64_t m = 0;
  int nd = 0, e = 0, inexact = 0;
  num->neg = 0;
  num->is_int = 1;
  if (p < end && *p == '-') { num->neg = 1; p++; }
  if (p >= end || !is_digit(*p)) return NULL;
  if (*p == '0') {
    if (++p < end && is_digit(*p)) return NULL;  /* JSON has no leading zeros */
  } else {
    while (p < end && is_digit(*p)) {
      int dig = *p++ - '0';
      if (nd < 19) { m = m * 10 + (uint64_t)dig; nd++; }
      else { e++; inexact |= dig != 0; }
    }
  }
  if (p < end && *p == '.') {
    num->is_int = 0;
    if (++p >= end || !is_digit(*p)) return NULL;
    while (p < end && is_digit(*p)) {
      int dig = *p++ - '0';
      if (nd < 19) {
        m = m * 10 + (uint64_t)dig;
        if (m) nd++;  /* zeros before the first significant digit do not count */
        e--;
      } else {
        inexact |= dig != 0;
      }
    }
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    num->is_int = 0;
    int eneg = 0, x = 0;
    if (++p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
    if (p >= end || !is_digit(*p)) return NULL;
    while (p < end && is_digit(*p)) {
      if (x < 100000) x = x * 10 + (*p - '0');
      p++;
    }
    e += eneg ? -x : x;
  }
  num->mant = m;
  num->exp10 = e;
  num->inexact = inexact;
  return p;
}


static double strtod_span(const char *start, const char *stop) {
  char local[128];
  size_t n = (size_t)(stop - start);
  char *copy = n < sizeof local ? local : malloc(n + 1);
  if (!copy) return NAN;
  memcpy(copy, start, n);
  copy[n] = '\0';
  double d = strtod(copy, NULL);  /* the process keeps the "C" numeric locale */
  if (copy != local) free(copy);
  return d;
}

double sr__jnum_double(const sr__jnum *num, const char *start, const char *stop) {
  if (num->mant == 0) return num->neg ? -0.0 : 0.0;
  if (!num->inexact && num->mant <= (1ULL << 53) && num->exp10 >= -22 && num->exp10 <= 22) {
    double d = (double)num->mant;
    d = num->exp10 < 0 ? d / pow10_exact[-num->exp10] : d * pow10_exact[num->exp10];
    return num->neg ? -d : d;
  }
  return strtod_span(start, stop);
}

int sr__jnum_int64(const sr__jnum *num, int64_t *v) {
  uint64_t m = num->mant;
  if (num->inexact) return -1;
  if (num->exp10 < 0) {
    if (num->exp10 < -19 || m % pow10_u64[-num->exp10] != 0) return m == 0 ? (*v = 0, 0) : -1;
    m /= pow10_u64[-num->exp10];
  } else if (num->exp10 > 0 && m != 0) {
    if (num->exp10 > 19 || m > UINT64_MAX / pow10_u64[num->exp10]) return -1;
    m *= pow10_u64[num->exp10];
  }
  if (num->neg) {
    if (m > (uint64_t)INT64_MAX + 1) return -1;
    *v = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
  } else {
    if (m > (uint64_t)INT64_MAX) return -1;
    *v = (int64_t)m;
  }
  return 0;
}

int sr__jnum_seconds_ms(const sr__jnum *num, const char *start, const char *stop, int64_t *ms) {
  if (num->inexact) {  /* more than 19 significant digits: a double is as good as it gets */
    double d = strtod_span(start, stop) * 1000.0;
    if (!(d >= (double)SR_TIME_MIN_MS && d <= (double)SR_TIME_MAX_MS)) return -1;
    *ms = (int64_t)d;
    return 0;
  }
  sr__jnum scaled = *num;
  scaled.exp10 += 3;
  if (scaled.exp10 < 0) {  /* truncate the digits finer than a ms toward zero */
    scaled.mant = scaled.exp10 < -19 ? 0 : scaled.mant / pow10_u64[-scaled.exp10];
    scaled.exp10 = 0;
  }
  /* beyond a long of microseconds Spark's seconds-to-timestamp conversion overflows */
  return sr__jnum_int64(&scaled, ms) == 0 && sr_time_in_range(*ms) ? 0 : -1;
}

/* Two decimal digits per division: "00" .. "99". */
static const char digit_pairs[201] =
  "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
  "8081828384858687888990919293949596979899";

/* Decimal digits of u (1 for 0): t is log10(2^bits), rounded down, so it is the count or one less. */
static int count_digits(uint64_t u) {
  int t = ((64 - __builtin_clzll(u | 1)) * 1233) >> 12;
  return t + ((u | 1) >= pow10_u64[t]);
}

size_t sr__fmt_uint64(uint64_t u, char *out) {
  size_t len = (size_t)count_digits(u);
  char *p = out + len;
  *p = '\0';
  while (u >= 100) {
    p -= 2;
    memcpy(p, digit_pairs + 2 * (u % 100), 2);
    u /= 100;
  }
  if (u >= 10) memcpy(p - 2, digit_pairs + 2 * u, 2);
  else p[-1] = (char)('0' + u);
  return len;
}

size_t sr__fmt_int64(int64_t v, char out[24]) {
  if (v >= 0) return sr__fmt_uint64((uint64_t)v, out);
  out[0] = '-';
  return 1 + sr__fmt_uint64(0 - (uint64_t)v, out + 1);
}

static const uint64_t pow5_u64[23] = {1ULL, 5ULL, 25ULL, 125ULL, 625ULL, 3125ULL, 15625ULL,
  78125ULL, 390625ULL, 1953125ULL, 9765625ULL, 48828125ULL, 244140625ULL, 1220703125ULL,
  6103515625ULL, 30517578125ULL, 152587890625ULL, 762939453125ULL, 3814697265625ULL,
  19073486328125ULL, 95367431640625ULL, 476837158203125ULL, 2384185791015625ULL};

__extension__ typedef unsigned __int128 u128;

/* The nearest m whose m / 10^k reads back as ad = f * 2^e, if there is one with k fraction
** digits: ad * 10^k = f * 5^k / 2^s with s = -(e + k), and m reads back as ad when its distance
** to ad is below half the gap to ad's neighbour on that side (or equal to it with f even:
** round-half-even). At a power of two the smaller neighbour is half as far (low_shift 2).
** f * 5^22 < 2^105 and s <= 70 fit in 128 bits. Returns 1 and sets *m, or 0. */
static int nearest_at(uint64_t f, int e, int low_shift, int k, uint64_t *m) {
  int s = -(e + k), even = (f & 1) == 0;
  u128 q = (u128)f * pow5_u64[k], five_k = pow5_u64[k];
  if (s <= 0) {  /* ad * 10^k is an integer: exact */
    *m = (uint64_t)(q << -s);
    return 1;
  }
  uint64_t below = (uint64_t)(q >> s);
  u128 r = q & (((u128)1 << s) - 1), r_up = ((u128)1 << s) - r;
  int ok_below = (r << low_shift) < five_k || ((r << low_shift) == five_k && even);
  int ok_above = (r_up << 1) < five_k || ((r_up << 1) == five_k && even);
  if (ok_below && (!ok_above || r < r_up || (r == r_up && (below & 1) == 0))) {
    *m = below;
    return 1;
  }
  if (ok_above) *m = below + 1;
  return ok_above;
}

/* Drops n digits from [*lo, *hi] (n fewer fraction digits, keeping at least one) if a multiple
** of div = 10^n is in it. */
static inline void drop_digits(uint64_t *lo, uint64_t *hi, int *k, uint64_t div, int n) {
  uint64_t up = *lo / div + (*lo % div != 0);
  if (*k - n >= 1 && up <= *hi / div) {
    *lo = up;
    *hi /= div;
    *k -= n;
  }
}

/* The fewest fraction digits k (1..22) such that some m / 10^k reads back as ad, a positive
** non-integral double in [1e-5, 1e15); sets *m (the nearest such m) and returns k, or -1.
** At K fraction digits (17 or 18 significant ones, which always read back) the integers that
** read back as ad form [lo, hi], computed exactly; dropping digits while that range still
** holds a multiple of 10^n finds the shortest k, and nearest_at picks m there when more than
** one candidate is left. Exact integer arithmetic throughout: no strtod, no printf. */
static int shortest_fixed(double ad, uint64_t *m) {
  uint64_t bits;
  memcpy(&bits, &ad, sizeof bits);
  uint64_t frac = bits & ((1ULL << 52) - 1), f = frac | (1ULL << 52);
  int e = (int)(bits >> 52) - 1075, low_shift = frac == 0 ? 2 : 1, k = 1;
  int digits = 1;  /* of the integer part, or minus the zeros after the point (about) */
  if (ad >= 1) {
    while (digits < 15 && ad >= pow10_exact[digits]) digits++;
  } else {
    for (digits = 0; digits > -4 && ad < 1.0 / pow10_exact[1 - digits];) digits--;
  }
  int K = 17 - digits, s = -(e + K);
  if (s > 0) {  /* else ad has at most K binary fraction digits: search from k = 1 */
    int sh = s + 2, even = (f & 1) == 0;
    u128 x4 = ((u128)f * pow5_u64[K]) << 2, mask = ((u128)1 << sh) - 1;
    u128 low = x4 - ((u128)pow5_u64[K] << (2 - low_shift)), high = x4 + ((u128)pow5_u64[K] << 1);
    uint64_t lo = (uint64_t)(low >> sh) + !(even && (low & mask) == 0);
    uint64_t hi = (uint64_t)(high >> sh) - (!even && (high & mask) == 0);
    k = K;
    drop_digits(&lo, &hi, &k, 100000000, 8);  /* twice at most: K <= 21 */
    drop_digits(&lo, &hi, &k, 100000000, 8);
    drop_digits(&lo, &hi, &k, 10000, 4);      /* then each once at most */
    drop_digits(&lo, &hi, &k, 100, 2);
    drop_digits(&lo, &hi, &k, 10, 1);
    if (lo == hi) {  /* one candidate (usual): it is the nearest */
      *m = lo;
      return k;
    }
  }
  for (; k <= 22; k++)
    if (nearest_at(f, e, low_shift, k, m)) return k;
  return -1;
}

size_t sr__fmt_double(double d, char out[40]) {
  if (isnan(d)) return (size_t)sprintf(out, "NaN");
  if (isinf(d)) return (size_t)sprintf(out, d < 0 ? "-Infinity" : "Infinity");
  double ad = fabs(d);
  if (ad <= 9007199254740992.0 && (double)(int64_t)d == d) {
    if (d == 0 && signbit(d)) return (size_t)sprintf(out, "-0");
    return sr__fmt_int64((int64_t)d, out);
  }
  uint64_t m;
  int k;
  /* fixed point for 1e-4 <= |d| < 1e15, and down to 1e-5 when 15 digits do (else %g's
  ** exponent form, shorter there) */
  if (ad >= 1e-5 && ad < 1e15 && (k = shortest_fixed(ad, &m)) > 0 &&
      (ad >= 1e-4 || m < 1000000000000000ULL)) {
    int nd = count_digits(m);
    size_t len = (size_t)(d < 0) + (size_t)(nd > k ? nd - k : 1) + 1 + (size_t)k;
    char *p = out + len;
    *p = '\0';
    for (int i = 0; i + 2 <= k; i += 2, m /= 100) memcpy(p -= 2, digit_pairs + 2 * (m % 100), 2);
    if (k & 1) {
      *--p = (char)('0' + m % 10);
      m /= 10;
    }
    *--p = '.';
    for (; m >= 10; m /= 100) memcpy(p -= 2, digit_pairs + 2 * (m % 100), 2);
    if (m || p[0] == '.') *--p = (char)('0' + m);
    if (d < 0) *--p = '-';
    return len;
  }
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(out, 40, "%.*g", prec, d);
    if (strtod(out, NULL) == d) break;
  }
  return (size_t)n;
}
