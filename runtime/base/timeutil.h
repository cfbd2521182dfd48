/*
** Timestamps and dates as the job contract has them: a timestamp is a count of microseconds
** since 1970-01-01T00:00:00Z (Spark's TimestampType; the ms variants serve the watermark and the
** engine's clock), a date a count of days since 1970-01-01.
**
** Conversions use days-from-civil arithmetic (proleptic Gregorian calendar, as Spark 3), never
** libc's timegm/gmtime: they are on the decoders' hot path, must not depend on TZ, and must be
** right for years before 1970. None of these functions allocates or touches Lua.
*/
#ifndef SR_TIMEUTIL_H
#define SR_TIMEUTIL_H
#include <stddef.h>
#include <stdint.h>

/* The timestamps Spark can hold: microseconds since the epoch in a long, so years -290308 to
** +294247. Readers refuse values beyond (the record is bad): Spark's parser and its
** conversions from seconds fail on them. */
#define SR_TIME_MAX_MS INT64_C(9223372036854775)
#define SR_TIME_MIN_MS (-SR_TIME_MAX_MS)
static inline int sr_time_in_range(int64_t ms) { return ms >= SR_TIME_MIN_MS && ms <= SR_TIME_MAX_MS; }

/* Days since 1970-01-01 of the civil date y-m-d (m 1..12, d 1..31; not validated). */
int64_t sr_days_from_civil(int64_t y, int m, int d);
/* The civil date of a day count. */
void sr_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* Parses ISO-8601 and Spark's timestamp texts into ms since the epoch:
**   "2026-11-23"                      date only: midnight UTC
**   "+10000-01-01T00:00:00Z", "-0044-03-15"   a signed year of 4 to 6 digits (as written)
**   "2026-11-23 10:00:00", "2026-11-23T10:00", "2026-11-23T10:00:00.001"
**   fraction of 1-9 digits after '.' or ',' (truncated to ms)
**   zone: none (UTC), "Z", "UTC", "GMT", "+02:00", "-0530", "+02" (an optional space before it)
** Month, day, hour, minute and second may have one digit (Spark accepts "2026-1-5 1:2:3").
** Leading and trailing blanks are ignored. The text need not be NUL-terminated.
** Returns 0 and sets *ms, or -1 for text that is not such a timestamp (or an invalid date, or
** a time outside SR_TIME_MIN_MS..SR_TIME_MAX_MS). */
int sr_time_parse(const char *s, size_t len, int64_t *ms);
/* The same text to microseconds since the epoch (Spark's TimestampType): a fraction of more
** than 6 digits is truncated to us; dates beyond +-273,000 years are refused. */
int sr_time_parse_us(const char *s, size_t len, int64_t *us);

/* Writes ms as "2026-11-23T10:00:00.001Z" (always 3 fraction digits, UTC) and a NUL; years
** outside 0000..9999 get a sign and as many digits as needed ("+10000-01-01T...", as Spark's
** "uuuu" pattern writes them); sr_time_parse reads back every ms within range. Correct for
** negative ms (floor division: -1 is "1969-12-31T23:59:59.999Z"). Returns the length (<= 31). */
size_t sr_time_format(int64_t ms, char out[32]);
/* Writes us the same way, with 3 fraction digits when us is whole milliseconds and 6 when it
** is not ("2026-11-23T10:00:00.000001Z"). Returns the length (<= 31). */
size_t sr_time_format_us(int64_t us, char out[32]);

/* Parses "2026-11-23" (one-digit month/day allowed; a signed year of up to 7 digits, as
** sr_date_format writes any int32 day count); like Spark's cast to date, a time part after 'T'
** or a space is allowed and ignored. Returns 0 and sets *days, or -1. */
int sr_date_parse(const char *s, size_t len, int32_t *days);
/* Writes days as "2026-11-23" and a NUL. Returns the length (<= 15). */
size_t sr_date_format(int32_t days, char out[16]);

#endif
