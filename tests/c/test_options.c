/* Option tables (runtime/options.c): setting and comparing options, the check a job's options
** pass before anything opens (unknown names with the nearest valid one, values that do not
** parse as their type, each error naming the option and whom it was for), the typed getters'
** fallbacks, and sizes. Durations have their own file, test_durations.c. */
#include "options.h"
#include "sr_test.h"

static const sr_option_spec specs[] = {
    {"path", SR_OPT_STRING, NULL, "where"},
    {"maxFilesPerTrigger", SR_OPT_INT, "1000", "files per batch"},
    {"latestFirst", SR_OPT_BOOL, "false", "newest files first"},
    {"maxFileAge", SR_OPT_DURATION, "7 days", "older files are ignored"},
    {"maxBytesPerTrigger", SR_OPT_SIZE, NULL, "bytes per batch"},
    {"schema", SR_OPT_JSON, NULL, "columns"},
    {"kafka.*", SR_OPT_STRING, NULL, "passed to librdkafka"},
    {NULL, 0, NULL, NULL},
};
static const char *const extra[] = {"format", NULL};

/* Options from name/value pairs, NULL-terminated. */
static sr_options *opts(const char *name, const char *value) {
  sr_options *o = sr_options_new();
  ASSERT_TRUE(o != NULL);
  if (name) ASSERT_EQ_INT(sr_options_set(o, name, value), 0);
  return o;
}

/* Checks one option; returns the error message (NULL when the check passed), to be freed. */
static char *check_one(const char *name, const char *value) {
  sr_options *o = opts(name, value);
  sr_error *err = NULL;
  sr_status st = sr_options_check(o, specs, extra, "the json source", &err);
  sr_options_free(o);
  if (st == SR_OK) {
    ASSERT_TRUE(err == NULL);
    return NULL;
  }
  ASSERT_EQ_INT(st, SR_ERROR);
  ASSERT_TRUE(err != NULL);
  char *m = strdup(err->message);
  sr_error_free(err);
  return m;
}

static void accepted(const char *name, const char *value) {
  char *m = check_one(name, value);
  if (m) SR_FAIL("%s = \"%s\" refused: %s", name, value, m);
}

static void refused(const char *name, const char *value, const char *want) {
  char *m = check_one(name, value);
  if (!m) SR_FAIL("%s = \"%s\" accepted", name, value);
  if (strcmp(m, want) != 0) SR_FAIL("%s = \"%s\": \"%s\" != \"%s\"", name, value, m, want);
  free(m);
}

SR_TEST(set_replaces_and_equal_ignores_order) {
  sr_options *a = sr_options_new(), *b = sr_options_new();
  ASSERT_EQ_INT(sr_options_set(a, "path", "in"), 0);
  ASSERT_EQ_INT(sr_options_set(a, "latestFirst", "true"), 0);
  ASSERT_EQ_INT(sr_options_set(a, "path", "elsewhere"), 0); /* replaces */
  ASSERT_EQ_INT(a->n, 2);
  ASSERT_EQ_STR(sr_opt_str(a, specs, "path", NULL), "elsewhere");
  ASSERT_EQ_INT(sr_options_set(b, "latestFirst", "true"), 0);
  ASSERT_TRUE(!sr_options_equal(a, b));
  ASSERT_EQ_INT(sr_options_set(b, "path", "elsewhere"), 0);
  ASSERT_TRUE(sr_options_equal(a, b) && sr_options_equal(b, a));
  ASSERT_EQ_INT(sr_options_set(b, "path", "in"), 0);
  ASSERT_TRUE(!sr_options_equal(a, b));
  /* NULL is the empty set */
  sr_options *none = sr_options_new();
  ASSERT_TRUE(sr_options_equal(NULL, none) && sr_options_equal(none, NULL));
  ASSERT_TRUE(!sr_options_equal(NULL, a));
  sr_options_free(a);
  sr_options_free(b);
  sr_options_free(none);
  sr_options_free(NULL);
}

SR_TEST(known_names_pass) {
  accepted("path", "in");
  accepted("format", "json"); /* one the engine consumes itself */
  accepted("kafka.bootstrap.servers", "localhost:9092"); /* a prefix entry */
  accepted("schema", "{\"a\": 1}");
  ASSERT_TRUE(check_one(NULL, NULL) == NULL); /* no options at all */
  sr_error *err = NULL;
  ASSERT_EQ_INT(sr_options_check(NULL, specs, NULL, "the json source", &err), SR_OK);
}

/* An unknown name: refused with whom it was for and, for a typo, the nearest name (of the
** specs and the engine's own); a prefix entry ("kafka.*") is never suggested as such. */
SR_TEST(unknown_names_name_the_nearest) {
  refused("maxFilesPerTriger", "5",
          "unknown option 'maxFilesPerTriger' for the json source; did you mean 'maxFilesPerTrigger'?");
  refused("maxfilespertrigger", "5", /* case differs: distance 0, still not the option */
          "unknown option 'maxfilespertrigger' for the json source; did you mean 'maxFilesPerTrigger'?");
  refused("fromat", "json", "unknown option 'fromat' for the json source; did you mean 'format'?");
  refused("compression", "gzip", "unknown option 'compression' for the json source");
  refused("kafka", "x", "unknown option 'kafka' for the json source");
  refused("pth", "in", "unknown option 'pth' for the json source; did you mean 'path'?");
  /* the first unknown name is the one named */
  sr_options *o = sr_options_new();
  sr_options_set(o, "path", "in");
  sr_options_set(o, "lastestFirst", "true");
  sr_options_set(o, "zzz", "1");
  sr_error *err = NULL;
  ASSERT_EQ_INT(sr_options_check(o, specs, extra, "the json source", &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "'lastestFirst'") && strstr(err->message, "'latestFirst'?"));
  sr_error_free(err);
  /* err may be NULL: the status alone */
  ASSERT_EQ_INT(sr_options_check(o, specs, extra, "the json source", NULL), SR_ERROR);
  sr_options_free(o);
}

SR_TEST(nearest_name_is_a_typo_not_another_word) {
  static const char *const names[] = {"path", "maxFilesPerTrigger", "maxFileAge", "latestFirst", NULL};
  ASSERT_EQ_STR(sr_nearest_name("maxFileAg", names), "maxFileAge");
  ASSERT_EQ_STR(sr_nearest_name("MAXFILEAGE", names), "maxFileAge");
  ASSERT_EQ_STR(sr_nearest_name("pat", names), "path");
  ASSERT_TRUE(sr_nearest_name("xy", names) == NULL);
  ASSERT_TRUE(sr_nearest_name("checkpoint", names) == NULL);
  ASSERT_TRUE(sr_nearest_name("path", NULL) == NULL);
}

SR_TEST(values_must_parse_as_their_type) {
  accepted("maxFilesPerTrigger", "5");
  accepted("maxFilesPerTrigger", "-1");
  refused("maxFilesPerTrigger", "five",
          "option 'maxFilesPerTrigger' of the json source must be an integer, not \"five\"");
  refused("maxFilesPerTrigger", "5.5",
          "option 'maxFilesPerTrigger' of the json source must be an integer, not \"5.5\"");
  refused("maxFilesPerTrigger", "",
          "option 'maxFilesPerTrigger' of the json source must be an integer, not \"\"");
  /* past int64: refused, not clamped to its largest value */
  refused("maxFilesPerTrigger", "99999999999999999999",
          "option 'maxFilesPerTrigger' of the json source must be an integer, not \"99999999999999999999\"");
  accepted("latestFirst", "true");
  accepted("latestFirst", "FALSE");
  accepted("latestFirst", "1");
  refused("latestFirst", "yes", "option 'latestFirst' of the json source must be true or false, not \"yes\"");
  accepted("maxFileAge", "2 hours");
  refused("maxFileAge", "2",
          "option 'maxFileAge' of the json source must be a duration such as \"10 seconds\", not \"2\"");
  refused("maxFileAge", "-2 hours",
          "option 'maxFileAge' of the json source must be a duration such as \"10 seconds\", not \"-2 hours\"");
  accepted("maxBytesPerTrigger", "64 MB");
  refused("maxBytesPerTrigger", "64 MBs",
          "option 'maxBytesPerTrigger' of the json source must be a size such as 1048576 or \"64 MB\", not \"64 MBs\"");
}

/* A getter: the option's value, else the spec's default, else the caller's. */
SR_TEST(getters_fall_back_to_the_default) {
  sr_options *o = sr_options_new();
  ASSERT_EQ_INT(sr_opt_int(o, specs, "maxFilesPerTrigger", 7), 1000);
  ASSERT_EQ_INT(sr_opt_bool(o, specs, "latestFirst", 1), 0);
  ASSERT_EQ_INT(sr_opt_duration_ms(o, specs, "maxFileAge", 0), 7 * 86400000LL);
  ASSERT_EQ_INT(sr_opt_size(o, specs, "maxBytesPerTrigger", -1), -1);
  ASSERT_TRUE(sr_opt_str(o, specs, "path", NULL) == NULL);
  ASSERT_EQ_STR(sr_opt_str(o, NULL, "path", "here"), "here");
  ASSERT_EQ_INT(sr_opt_int(NULL, specs, "maxFilesPerTrigger", 7), 1000);
  sr_options_set(o, "maxFilesPerTrigger", "12");
  sr_options_set(o, "latestFirst", "True");
  sr_options_set(o, "maxFileAge", "90 seconds");
  sr_options_set(o, "maxBytesPerTrigger", "1k");
  sr_options_set(o, "kafka.acks", "all");
  ASSERT_EQ_INT(sr_opt_int(o, specs, "maxFilesPerTrigger", 7), 12);
  ASSERT_EQ_INT(sr_opt_bool(o, specs, "latestFirst", 0), 1);
  ASSERT_EQ_INT(sr_opt_duration_ms(o, specs, "maxFileAge", 0), 90000);
  ASSERT_EQ_INT(sr_opt_size(o, specs, "maxBytesPerTrigger", -1), 1024);
  ASSERT_EQ_STR(sr_opt_str(o, specs, "kafka.acks", NULL), "all");
  sr_options_free(o);
}

static int64_t size_of(const char *text) {
  int64_t v = -7;
  if (sr_size_parse(text, &v) != 0) SR_FAIL("\"%s\" should parse as a size", text);
  return v;
}

static void not_a_size(const char *text) {
  int64_t v = -7;
  if (sr_size_parse(text, &v) == 0) SR_FAIL("\"%s\" parsed as a size: %lld", text, (long long)v);
  ASSERT_EQ_INT(v, -7);
}

/* Sizes in binary units with Spark's suffixes (JavaUtils.byteStringAs: b, k/kb, m/mb, g/gb,
** t/tb, p/pb, any case), a space allowed before the unit, fractions of a unit allowed. */
SR_TEST(sizes) {
  ASSERT_EQ_INT(size_of("1048576"), 1048576);
  ASSERT_EQ_INT(size_of("0"), 0);
  ASSERT_EQ_INT(size_of("512b"), 512);
  ASSERT_EQ_INT(size_of("64 MB"), 64LL << 20);
  ASSERT_EQ_INT(size_of("64m"), 64LL << 20);
  ASSERT_EQ_INT(size_of("1g"), 1LL << 30);
  ASSERT_EQ_INT(size_of("2 GB"), 2LL << 30);
  ASSERT_EQ_INT(size_of("1.5k"), 1536);
  ASSERT_EQ_INT(size_of("3Tb"), 3LL << 40);
  ASSERT_EQ_INT(size_of("2pb"), 2LL << 50);
  ASSERT_EQ_INT(size_of(" 10kb "), 10240);
  not_a_size("");
  not_a_size("MB");
  not_a_size("-1");
  not_a_size("64 MBs");     /* not a unit */
  not_a_size("64 Mxyz");
  not_a_size("5 kilometres");
  not_a_size("10 k b");
  not_a_size("inf");        /* strtod's words and forms are not sizes */
  not_a_size("nan");
  not_a_size("0x10");
  not_a_size("1e3");
  not_a_size("9000p");      /* past int64 */
  not_a_size("99999999999999999999");
}

int main(void) {
  return SR_RUN(set_replaces_and_equal_ignores_order, known_names_pass, unknown_names_name_the_nearest,
                nearest_name_is_a_typo_not_another_word, values_must_parse_as_their_type,
                getters_fall_back_to_the_default, sizes);
}
