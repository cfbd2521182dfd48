/* Schema inference (schema_infer.h): Spark's type merging for JSON and CSV, and merging the
** states of files read apart (threads) gives what one state reading them all gives. */
#include <string.h>

#include "schema_infer.h"
#include "sr_test.h"

static void type_text(const sr_field *f, char *out, size_t len);

static void fields_text(const sr_schema *s, char *out, size_t len) {
  for (int i = 0; i < s->nfields; i++) {
    if (i) strncat(out, ", ", len - strlen(out) - 1);
    strncat(out, s->fields[i].name, len - strlen(out) - 1);
    strncat(out, " ", len - strlen(out) - 1);
    type_text(&s->fields[i], out, len);
  }
}

static void type_text(const sr_field *f, char *out, size_t len) {
  if (f->type == SR_TYPE_STRUCT) {
    strncat(out, "struct<", len - strlen(out) - 1);
    fields_text(f->children, out, len);
    strncat(out, ">", len - strlen(out) - 1);
  } else if (f->type == SR_TYPE_ARRAY) {
    strncat(out, "array<", len - strlen(out) - 1);
    type_text(f->element, out, len);
    strncat(out, ">", len - strlen(out) - 1);
  } else {
    strncat(out, sr_type_name(f->type), len - strlen(out) - 1);
  }
}

static const char *json_text(const char *const *texts, int n, int merged) {
  static char out[1024];
  sr_json_infer *all = sr_json_infer_new(0, 1);
  for (int i = 0; i < n; i++) {
    if (!merged) {
      ASSERT_EQ_INT(sr_json_infer_add(all, texts[i], strlen(texts[i])), 0);
      continue;
    }
    sr_json_infer *one = sr_json_infer_new(0, 1);
    ASSERT_EQ_INT(sr_json_infer_add(one, texts[i], strlen(texts[i])), 0);
    ASSERT_EQ_INT(sr_json_infer_merge(all, one), 0);
    sr_json_infer_free(one);
  }
  sr_schema *s = sr_json_infer_schema(all);
  out[0] = '\0';
  fields_text(s, out, sizeof out);
  sr_schema_free(s);
  sr_json_infer_free(all);
  return out;
}

SR_TEST(json_types_merge_as_spark) {
  const char *a = "{\"n\":1,\"m\":1,\"s\":{\"x\":1},\"arr\":[1],\"k\\\"q\":true,\"big\":12345678901234567890}\n"
                  "[{\"ignored\":1}]\n\"text\"\n{\"broken\":\n";
  const char *b = "{\"n\":2.5,\"m\":\"x\",\"s\":{\"y\":[]},\"arr\":[2.5e3],\"z\":null,\"big\":9223372036854775807}\n";
  const char *c = "{\"s\":7}\r\n";
  const char *want = "arr array<double>, big double, broken string, k\"q boolean, m string, n double, s string, z string";
  const char *order1[] = {a, b, c}, *order2[] = {c, b, a};
  ASSERT_EQ_STR(json_text(order1, 3, 0), want);
  ASSERT_EQ_STR(json_text(order2, 3, 0), want);
  ASSERT_EQ_STR(json_text(order1, 3, 1), want);
  ASSERT_EQ_STR(json_text(order2, 3, 1), want);
  const char *nested[] = {"{\"s\":{\"y\":[{\"b\":1}],\"x\":{}}}\n", "{\"s\":{\"y\":[{\"a\":\"t\",\"b\":2}]}}\n"};
  ASSERT_EQ_STR(json_text(nested, 2, 1), "s struct<y array<struct<a string, b long>>>");
  /* allowSingleQuotes (on by default in Spark): 'names' and 'strings' count as the others */
  const char *quoted[] = {"{'q': 'it\\'s', \"n\": 1, 'o': {'p': true}}\n{\"a\": \"don't\"}\n"};
  ASSERT_EQ_STR(json_text(quoted, 1, 0), "a string, n long, o struct<p boolean>, q string");
}

/* Records mostly repeat their keys in order, and the scan guesses the next key: a guess must
** match the whole key, whatever its length and however near the line's end it lies. */
SR_TEST(json_keys_guessed_in_order_are_matched_whole) {
  const char *a = "{\"dateTime\":1,\"dateTimes\":\"x\",\"a\":1,\"abcdefghijk\":1}\n"
                  "{\"dateTimf\":1,\"dateTime\":2.5,\"a\":true,\"abcdefghijx\":1}\n"
                  "{\"dateTime\":1,\"dateTimes\":1,\"ab\":1,\"abcdefghijk\":\"y\"}\n"
                  "{\"dateTime\":1}\n{\"a\":1,\"b\":1}\n{\"a\":1,\"b\":1";
  const char *texts[] = {a};
  ASSERT_EQ_STR(json_text(texts, 1, 0), "a string, ab long, abcdefghijk string, abcdefghijx long, b long, "
                                        "dateTime double, dateTimes string, dateTimf long");
}

static const char *csv_text(const char *text, int header, int types) {
  static char out[1024];
  sr_csv_options o = {.sep = ',', .header = header};
  sr_csv_infer *inf = sr_csv_infer_new(&o, types);
  ASSERT_EQ_INT(sr_csv_infer_add_file(inf, text, strlen(text)), 0);
  sr_schema *s = sr_csv_infer_schema(inf);
  out[0] = '\0';
  fields_text(s, out, sizeof out);
  sr_schema_free(s);
  sr_csv_infer_free(inf);
  return out;
}

SR_TEST(csv_header_and_types) {
  const char *t = "a,B,b,\n1,\"x,\"\"y\"\"\n z\",2.5,\n2147483648,,-3,true\n";
  ASSERT_EQ_STR(csv_text(t, 1, 0), "a string, B1 string, b2 string, _c3 string");
  ASSERT_EQ_STR(csv_text(t, 1, 1), "a long, B1 string, b2 double, _c3 boolean");
  ASSERT_EQ_STR(csv_text(t, 0, 0), "_c0 string, _c1 string, _c2 string, _c3 string");
  ASSERT_EQ_STR(csv_text("", 1, 1), "");
}

int main(void) {
  return SR_RUN(json_types_merge_as_spark, json_keys_guessed_in_order_are_matched_whole,
                csv_header_and_types);
}
