/*
** Option tables: every connector declares the options it takes (name, type, default,
** description), the engine checks a job's options against them before anything opens, and
** refuses an unknown name with the nearest valid one ("maxFilesPerTriger: unknown option of
** the json source; did you mean maxFilesPerTrigger?"). Connectors read values through the
** typed getters, which fall back to the declared default.
*/
#ifndef SR_OPTIONS_H
#define SR_OPTIONS_H
#include <stdint.h>
#include "sr_error.h"

typedef enum sr_opt_type {
  SR_OPT_STRING, SR_OPT_INT, SR_OPT_BOOL, SR_OPT_DURATION, /* "10 seconds" -> ms */
  SR_OPT_SIZE,  /* bytes: 1048576, "64 MB", "1g" */
  SR_OPT_JSON   /* a JSON text (Lua tables are passed to C as JSON) */
} sr_opt_type;

typedef struct sr_option_spec {
  const char *name;        /* a trailing '*' matches a prefix: "kafka.*" */
  sr_opt_type type;
  const char *default_value; /* as text; NULL: no default */
  const char *description;
} sr_option_spec;

/* The options a job gave one source or sink, as text (numbers and booleans converted by the
** Lua module, tables as JSON). Owned by the engine. */
typedef struct sr_options {
  int n;
  char **names;
  char **values;
} sr_options;

sr_options *sr_options_new(void);
/* Sets (replaces) an option; copies both strings. Returns 0, or -1 when out of memory. */
int sr_options_set(sr_options *o, const char *name, const char *value);
void sr_options_free(sr_options *o); /* accepts NULL */
/* 1 if both hold the same names with the same values, in any order (NULL is empty). */
int sr_options_equal(const sr_options *a, const sr_options *b);

/* Checks every option against specs (NULL-terminated by name == NULL) and the names in extra
** (NULL-terminated; options the engine itself consumes, e.g. "format"). Returns SR_OK, or
** SR_ERROR naming the first unknown option, the nearest valid name, and what/who it was for
** (e.g. "the json source"), or a value that does not parse as its type. */
sr_status sr_options_check(const sr_options *o, const sr_option_spec *specs,
                           const char *const *extra, const char *what, sr_error **err);

/* Typed getters: the option's value, else the spec's default, else dflt. Values were checked
** by sr_options_check, so parsing cannot fail here. specs may be NULL (then only dflt). */
const char *sr_opt_str(const sr_options *o, const sr_option_spec *specs, const char *name, const char *dflt);
int64_t sr_opt_int(const sr_options *o, const sr_option_spec *specs, const char *name, int64_t dflt);
int sr_opt_bool(const sr_options *o, const sr_option_spec *specs, const char *name, int dflt);
int64_t sr_opt_duration_ms(const sr_options *o, const sr_option_spec *specs, const char *name, int64_t dflt);
/* Parses a size ("1048576", "64 MB", "1g", "1.5k": binary units, Spark's suffixes b, k(b), m(b), g(b),
** t(b), p(b)) into *bytes. Returns 0, or -1 (other text, or past int64). */
int sr_size_parse(const char *text, int64_t *bytes);
int64_t sr_opt_size(const sr_options *o, const sr_option_spec *specs, const char *name, int64_t dflt);

/* The nearest of candidates (NULL-terminated) to name by edit distance, or NULL when none is
** close enough to be a plausible typo. */
const char *sr_nearest_name(const char *name, const char *const *candidates);

/* Parses "10 seconds", "500 ms", "1 minute", "2 hours", "1 day", "interval 3 seconds"
** (case-insensitive, singular or plural, fractional values allowed) into milliseconds. As in
** Spark's intervals, parts may be negative ("1 day -2 hours") and a month is 31 days, a year
** 12 months. Returns 0; -2 for an interval whose total is negative (*ms is set to it; delays,
** triggers and timeouts are never negative); -1 for text that is not a duration. */
int sr_duration_parse(const char *text, int64_t *ms);
/* The same with a negative total allowed ("-5 seconds"), for offsets that may be negative (a
** window's startTime). */
int sr_duration_parse_signed(const char *text, int64_t *ms);

#endif
