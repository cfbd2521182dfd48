/* Option tables: see options.h. */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

sr_options *sr_options_new(void) { return calloc(1, sizeof(sr_options)); }

static int find(const sr_options *o, const char *name) {
  for (int i = 0; o && i < o->n; i++)
    if (strcmp(o->names[i], name) == 0) return i;
  return -1;
}

int sr_options_set(sr_options *o, const char *name, const char *value) {
  char *v = strdup(value);
  if (!v) return -1;
  int i = find(o, name);
  if (i >= 0) {
    free(o->values[i]);
    o->values[i] = v;
    return 0;
  }
  char **names = realloc(o->names, (size_t)(o->n + 1) * sizeof *names);
  if (names) o->names = names;
  char **values = realloc(o->values, (size_t)(o->n + 1) * sizeof *values);
  if (values) o->values = values;
  char *n = strdup(name);
  if (!names || !values || !n) { free(v); free(n); return -1; }
  o->names[o->n] = n;
  o->values[o->n] = v;
  o->n++;
  return 0;
}

void sr_options_free(sr_options *o) {
  if (!o) return;
  for (int i = 0; i < o->n; i++) { free(o->names[i]); free(o->values[i]); }
  free(o->names);
  free(o->values);
  free(o);
}

int sr_options_equal(const sr_options *a, const sr_options *b) {
  int na = a ? a->n : 0, nb = b ? b->n : 0;
  if (na != nb) return 0;
  for (int i = 0; i < na; i++) {
    int k = find(b, a->names[i]);
    if (k < 0 || strcmp(a->values[i], b->values[k]) != 0) return 0;
  }
  return 1;
}

static int spec_matches(const sr_option_spec *s, const char *name) {
  size_t n = strlen(s->name);
  if (n > 0 && s->name[n - 1] == '*') return strncmp(s->name, name, n - 1) == 0;
  return strcmp(s->name, name) == 0;
}

static const sr_option_spec *spec_find(const sr_option_spec *specs, const char *name) {
  for (const sr_option_spec *s = specs; s && s->name; s++)
    if (spec_matches(s, name)) return s;
  return NULL;
}

/* Levenshtein distance, case-insensitive (so "maxfilespertrigger" finds its option). */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return (size_t)-1;
  size_t row[65];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
      size_t best = diag + cost;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      if (up + 1 < best) best = up + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

const char *sr_nearest_name(const char *name, const char *const *candidates) {
  const char *best = NULL;
  size_t best_d = (size_t)-1;
  for (const char *const *c = candidates; c && *c; c++) {
    size_t d = edit_distance(name, *c);
    if (d < best_d) { best_d = d; best = *c; }
  }
  size_t len = strlen(name);
  size_t limit = len < 4 ? 1 : len / 3 + 1;  /* a typo, not a different word */
  return best_d <= limit ? best : NULL;
}

/* Both duration parsers. A value may have a sign, as in Spark's interval strings ("-5 seconds",
** "1 minute -30 seconds", IntervalUtils.stringToInterval); a negative total is refused (-2,
** *ms set) unless allow_negative (a window's startTime). */
static int parse_duration(const char *text, int allow_negative, int64_t *ms) {
  static const struct { const char *unit; double ms; } units[] = {
    {"millisecond", 1}, {"milliseconds", 1}, {"ms", 1}, {"msec", 1},
    {"second", 1000}, {"seconds", 1000}, {"s", 1000}, {"sec", 1000}, {"secs", 1000},
    {"minute", 60000}, {"minutes", 60000}, {"min", 60000}, {"mins", 60000}, {"m", 60000},
    {"hour", 3600000}, {"hours", 3600000}, {"h", 3600000},
    {"day", 86400000}, {"days", 86400000}, {"d", 86400000},
    {"week", 604800000}, {"weeks", 604800000},
    /* Spark's watermark delays and timeouts: a month is 31 days, a year 12 of them */
    {"month", 2678400000.0}, {"months", 2678400000.0}, {"mon", 2678400000.0},
    {"mons", 2678400000.0}, {"year", 32140800000.0}, {"years", 32140800000.0},
    {"microsecond", 0.001}, {"microseconds", 0.001}, {"us", 0.001},
  };
  const char *p = text;
  while (isspace((unsigned char)*p)) p++;
  if (strncasecmp(p, "interval", 8) == 0 && isspace((unsigned char)p[8])) p += 8;
  double total = 0;
  int parts = 0;
  for (;;) {
    while (isspace((unsigned char)*p)) p++;
    if (!*p) break;
    double sign = 1;
    if (*p == '+' || *p == '-') {
      if (*p == '-') sign = -1;
      p++;
      while (isspace((unsigned char)*p)) p++;
    }
    /* a number, not "inf", "nan" or a second sign */
    if (!isdigit((unsigned char)*p) && *p != '.') return -1;
    char *end;
    double v = strtod(p, &end);
    if (end == p) return -1;
    p = end;
    while (isspace((unsigned char)*p)) p++;
    const char *u = p;
    while (isalpha((unsigned char)*p)) p++;
    size_t ulen = (size_t)(p - u);
    int found = 0;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
      if (strlen(units[i].unit) == ulen && strncasecmp(u, units[i].unit, ulen) == 0) {
        total += sign * v * units[i].ms;
        found = 1;
        break;
      }
    }
    if (!found) return -1;
    parts++;
  }
  if (parts == 0) return -1;
  *ms = (int64_t)llround(total);
  return total < 0 && !allow_negative ? -2 : 0;
}

int sr_duration_parse(const char *text, int64_t *ms) { return parse_duration(text, 0, ms); }

int sr_duration_parse_signed(const char *text, int64_t *ms) { return parse_duration(text, 1, ms); }

static int parse_int(const char *s, int64_t *v) {
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (end == s || *end || errno == ERANGE) return -1; /* not clamped to the largest value */
  *v = x;
  return 0;
}

static int parse_bool(const char *s, int *v) {
  if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0) { *v = 1; return 0; }
  if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0) { *v = 0; return 0; }
  return -1;
}

/* Spark's suffixes (JavaUtils.byteStringAs: b, k/kb, m/mb, g/gb, t/tb, p/pb, any case, binary
** units); unlike Spark a space may come before the unit and a fraction of a unit is taken
** ("1.5k"). Digits only before it: strtod alone would also take "inf", "nan", "0x10", "1e3". */
int sr_size_parse(const char *s, int64_t *v) {
  static const char units[] = "bkmgtp";
  const char *p = s;
  while (isspace((unsigned char)*p)) p++;
  const char *num = p;
  while (isdigit((unsigned char)*p)) p++;
  if (*p == '.') do p++; while (isdigit((unsigned char)*p));
  if (p == num || (p == num + 1 && *num == '.')) return -1;
  double x = strtod(num, NULL); /* the digits just checked: strtod reads the same */
  while (isspace((unsigned char)*p)) p++;
  double mult = 1;
  const char *u = *p ? strchr(units, tolower((unsigned char)*p)) : NULL;
  if (u) {
    for (const char *k = units; k < u; k++) mult *= 1024;
    p++;
    if (u > units && tolower((unsigned char)*p) == 'b') p++; /* "kb", not "bb" */
  }
  while (isspace((unsigned char)*p)) p++;
  if (*p || x * mult >= 9223372036854775808.0) return -1;
  *v = (int64_t)(x * mult);
  return 0;
}

static int value_parses(sr_opt_type t, const char *value) {
  int64_t i;
  int b;
  switch (t) {
    case SR_OPT_INT: return parse_int(value, &i) == 0;
    case SR_OPT_BOOL: return parse_bool(value, &b) == 0;
    case SR_OPT_DURATION: return sr_duration_parse(value, &i) == 0;
    case SR_OPT_SIZE: return sr_size_parse(value, &i) == 0;
    default: return 1;
  }
}

static const char *type_word(sr_opt_type t) {
  switch (t) {
    case SR_OPT_INT: return "an integer";
    case SR_OPT_BOOL: return "true or false";
    case SR_OPT_DURATION: return "a duration such as \"10 seconds\"";
    case SR_OPT_SIZE: return "a size such as 1048576 or \"64 MB\"";
    default: return "text";
  }
}

sr_status sr_options_check(const sr_options *o, const sr_option_spec *specs,
                           const char *const *extra, const char *what, sr_error **err) {
  for (int i = 0; o && i < o->n; i++) {
    const char *name = o->names[i];
    int is_extra = 0;
    for (const char *const *e = extra; e && *e; e++) is_extra |= strcmp(*e, name) == 0;
    if (is_extra) continue;
    const sr_option_spec *s = spec_find(specs, name);
    if (!s) {
      const char *cands[128];
      int n = 0;
      for (const sr_option_spec *p = specs; p && p->name && n < 120; p++)
        if (p->name[strlen(p->name) - 1] != '*') cands[n++] = p->name;
      for (const char *const *e = extra; e && *e && n < 127; e++) cands[n++] = *e;
      cands[n] = NULL;
      const char *near = sr_nearest_name(name, cands);
      if (near)
        return sr_error_set(err, SR_ERROR, "unknown option '%s' for %s; did you mean '%s'?", name, what, near);
      return sr_error_set(err, SR_ERROR, "unknown option '%s' for %s", name, what);
    }
    if (!value_parses(s->type, o->values[i]))
      return sr_error_set(err, SR_ERROR, "option '%s' of %s must be %s, not \"%s\"", name, what,
                          type_word(s->type), o->values[i]);
  }
  return SR_OK;
}

static const char *lookup(const sr_options *o, const sr_option_spec *specs, const char *name) {
  int i = find(o, name);
  if (i >= 0) return o->values[i];
  const sr_option_spec *s = spec_find(specs, name);
  return s ? s->default_value : NULL;
}

const char *sr_opt_str(const sr_options *o, const sr_option_spec *specs, const char *name, const char *dflt) {
  const char *v = lookup(o, specs, name);
  return v ? v : dflt;
}

int64_t sr_opt_int(const sr_options *o, const sr_option_spec *specs, const char *name, int64_t dflt) {
  const char *v = lookup(o, specs, name);
  int64_t x;
  return v && parse_int(v, &x) == 0 ? x : dflt;
}

int sr_opt_bool(const sr_options *o, const sr_option_spec *specs, const char *name, int dflt) {
  const char *v = lookup(o, specs, name);
  int x;
  return v && parse_bool(v, &x) == 0 ? x : dflt;
}

int64_t sr_opt_duration_ms(const sr_options *o, const sr_option_spec *specs, const char *name, int64_t dflt) {
  const char *v = lookup(o, specs, name);
  int64_t x;
  return v && sr_duration_parse(v, &x) == 0 ? x : dflt;
}

int64_t sr_opt_size(const sr_options *o, const sr_option_spec *specs, const char *name, int64_t dflt) {
  const char *v = lookup(o, specs, name);
  int64_t x;
  return v && sr_size_parse(v, &x) == 0 ? x : dflt;
}
