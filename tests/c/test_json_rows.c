/* JSON lines <-> Lua rows (json_rows.h), exact 64-bit integers (lua_int64.h) and the Lua codec
** library (lua_codec.h). Decoded rows are compared as to_json text (sorted keys, exact longs),
** and Lua types are checked with small Lua snippets. */
#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <string.h>

#include "json_rows.h"
#include "lua_codec.h"
#include "lua_int64.h"
#include "codec_test.h"

/* Decodes text (length len) with the schema and returns the rows as JSON; the rows are also the
** global `rows`. */
static const char *decode_n(const char *text, size_t len, const char *ddl, int64_t first_line, bads *b) {
  const sr_schema *s = schema_of(ddl);
  int top = lua_gettop(L);
  lua_newtable(L);
  int n = 0;
  memset(b, 0, sizeof *b);
  int nbad = sr_json_decode_lines(L, -1, &n, text, len, s, "in.json", first_line, collect_bad, b);
  ASSERT_EQ_INT(nbad, b->n);
  ASSERT_EQ_INT(lua_gettop(L), top + 1);  /* the stack is as it was */
  ASSERT_EQ_INT((int)lua_objlen(L, -1), n);
  lua_pushvalue(L, -1);
  lua_setglobal(L, "rows");
  if (n == 0) {  /* to_json writes an empty table as {} */
    lua_pop(L, 1);
    return "[]";
  }
  return top_json();
}

static const char *decode(const char *text, const char *ddl, bads *b) {
  return decode_n(text, strlen(text), ddl, 1, b);
}

/* One record that must be bad with exactly this reason. */
static void expect_bad(const char *ddl, const char *record, const char *reason) {
  bads b;
  const char *rows = decode(record, ddl, &b);
  if (b.n != 1) SR_FAIL("%s: expected 1 bad record, got %d (rows %s)", record, b.n, rows);
  ASSERT_EQ_STR(rows, "[]");
  ASSERT_EQ_STR(b.reasons[0], reason);
}

static const char bid[] =
  "{\"auction\":1000,\"bidder\":2000,\"price\":5871,\"channel\":\"channel-3\","
  "\"url\":\"https://www.nexmark.com/41/item.htm?query=1\",\"dateTime\":\"2026-11-23 10:00:00.000\",\"extra\":\"\"}";

SR_TEST(bid_with_schema) {
  setup();
  bads b;
  ASSERT_EQ_STR(decode(bid, "auction long, bidder long, price double", &b),
                "[{\"auction\":1000,\"bidder\":2000,\"price\":5871}]");
  ASSERT_EQ_INT(b.n, 0);
  ASSERT_EQ_STR(decode(bid, "dateTime timestamp, channel string, missing long", &b),
                "[{\"channel\":\"channel-3\",\"dateTime\":1795428000000}]");
  LUA_RUN("assert(rows[1].missing == nil and rows[1].dateTime == 1795428000000)");
}

SR_TEST(inferred_types) {
  setup();
  bads b;
  ASSERT_EQ_STR(decode(bid, NULL, &b),
                "[{\"auction\":1000,\"bidder\":2000,\"channel\":\"channel-3\",\"dateTime\":\"2026-11-23 10:00:00.000\","
                "\"extra\":\"\",\"price\":5871,\"url\":\"https://www.nexmark.com/41/item.htm?query=1\"}]");
  ASSERT_EQ_STR(decode("{\"a\":{\"b\":[1,2.5,\"x\",null,true,false,{\"c\":[]}]},\"n\":null,\"z\":-0,\"d\":-0.0}", NULL, &b),
                "[{\"a\":{\"b\":[1,2.5,\"x\",null,true,false,{\"c\":{}}]},\"d\":-0,\"z\":0}]");
  LUA_RUN("local r = rows[1]; assert(r.n == nil); assert(r.a.b[4] == nil and r.a.b[5] == true and r.a.b[6] == false)\n"
         "assert(1/r.d == -math.huge and 1/r.z == math.huge)");
  /* the same keys in every record are reused; a different order or set still decodes right */
  ASSERT_EQ_STR(decode("{\"a\":1,\"b\":2}\n{\"b\":3,\"a\":4}\n{\"a\":5}\n{\"c\":6,\"a\":7,\"b\":8}", NULL, &b),
                "[{\"a\":1,\"b\":2},{\"a\":4,\"b\":3},{\"a\":5},{\"a\":7,\"b\":8,\"c\":6}]");
}

SR_TEST(numbers_exact) {
  setup();
  bads b;
  ASSERT_EQ_STR(decode("{\"a\":9007199254740992,\"b\":9007199254740993,\"c\":-9007199254740993,"
                       "\"d\":9223372036854775807,\"e\":-9223372036854775808,\"f\":18446744073709551616,"
                       "\"g\":1.5e3,\"h\":1E-2,\"i\":123.456e+2,\"j\":100000000000000000000000}", NULL, &b),
                "[{\"a\":9007199254740992,\"b\":9007199254740993,\"c\":-9007199254740993,"
                "\"d\":9223372036854775807,\"e\":-9223372036854775808,\"f\":1.8446744073709552e+19,"
                "\"g\":1500,\"h\":0.01,\"i\":12345.6,\"j\":1e+23}]");
  LUA_RUN("local r = rows[1]\n"
          "assert(type(r.a) == 'number' and type(r.b) == 'cdata' and type(r.c) == 'cdata')\n"
         "assert(r.b == 9007199254740993LL and r.c == -9007199254740993LL)\n"
         "assert(r.d == 9223372036854775807LL and r.e == -9223372036854775807LL - 1)\n"
         "assert(type(r.f) == 'number' and r.f == 2^64)");
  /* a long column keeps 64 bits exactly, and encodes them back */
  ASSERT_EQ_STR(decode("{\"id\":9007199254740993}\n{\"id\":-42}", "id long", &b),
                "[{\"id\":9007199254740993},{\"id\":-42}]");
  lua_getglobal(L, "rows");
  sr_buf out = SR_BUF_INIT;
  char err[256];
  ASSERT_EQ_INT(sr_json_encode_rows(L, -1, 2, schema_of("id long"), &out, err, sizeof err), 0);
  ASSERT_EQ_STR(out.data, "{\"id\":9007199254740993}\n{\"id\":-42}\n");
  sr_buf_free(&out);
  lua_pop(L, 1);
}

/* Doubles decoded without strtod must equal strtod's correctly rounded value. */
SR_TEST(doubles_match_strtod) {
  setup();
  const char *texts[] = {
    "0.1", "0.3", "5330.868", "1.7976931348623157e308", "5e-324", "2.2250738585072014e-308",
    "123456789012345678901234567890", "0.000001234", "9007199254740993.0", "1e23", "8.41e21",
    "-1.5", "3.14159265358979323846", "1e-400", "1e400", "0.0000000000000000000000001",
    "4.9406564584124654e-324", "123456.7890123e-5", "9999999999999999999.5",
  };
  sr_schema *s = sr_schema_new();
  sr_schema_add(s, "x", SR_TYPE_DOUBLE);
  uint64_t seed = 1234567;
  for (int i = 0; i < 20000; i++) {
    char text[64];
    if (i < (int)(sizeof texts / sizeof *texts)) {
      snprintf(text, sizeof text, "%s", texts[i]);
    } else {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      uint64_t mant = (seed >> 8) % 10000000000000000000ULL, cut = 1;
      for (int k = (int)(seed >> 59); k > 0; k--) cut *= 10;  /* 1 to 19 digits */
      mant = mant % cut + 1;
      char digits[32];
      int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)mant);
      int point = (int)((seed >> 32) % (unsigned)(nd + 1)), exp = (int)((seed >> 40) % 60) - 30;
      if (point > 0 && point < nd)  /* 123.45e-7 */
        snprintf(text, sizeof text, "%.*s.%se%d", point, digits, digits + point, exp);
      else
        snprintf(text, sizeof text, "%s%s", digits, (seed & 1) ? "" : "e-3");
    }
    char rec[128];
    snprintf(rec, sizeof rec, "{\"x\":%s}", text);
    lua_newtable(L);
    int n = 0;
    ASSERT_EQ_INT(sr_json_decode_lines(L, -1, &n, rec, strlen(rec), s, NULL, 1, NULL, NULL), 0);
    lua_rawgeti(L, -1, 1);
    lua_getfield(L, -1, "x");
    double got = lua_tonumber(L, -1), want = strtod(text, NULL);
    if (memcmp(&got, &want, sizeof got) != 0) SR_FAIL("%s: %.17g != %.17g", text, got, want);
    lua_pop(L, 3);
  }
  sr_schema_free(s);
}

SR_TEST(shortest_double_text) {
  struct { double d; const char *text; } cases[] = {
    {0.1, "0.1"}, {5330.868, "5330.868"}, {5871 * 0.908, "5330.868"}, {1e21, "1e+21"}, {5000.0, "5000"},
    {-0.0, "-0"}, {0.0, "0"}, {1e-7, "1e-07"}, {123.456, "123.456"}, {-2.5, "-2.5"},
    {0.30000000000000004, "0.30000000000000004"}, {9007199254740992.0, "9007199254740992"},
    {9007199254740994.0, "9007199254740994"}, {1.5e300, "1.5e+300"}, {NAN, "NaN"},
    {INFINITY, "Infinity"}, {-INFINITY, "-Infinity"}, {0.00001, "0.00001"}, {1e15 + 0.5, "1000000000000000.5"},
    {8501 * 0.908, "7718.908"}, {5004 * 0.908, "4543.6320000000005"}, {0.1 + 0.7, "0.7999999999999999"},
    {0.0009765625, "0.0009765625"}, {0.00012345678901234567, "0.00012345678901234567"},
    {0.000012345678901234, "0.000012345678901234"}, {0.000012345678901234567, "1.2345678901234568e-05"},
    {123456789012345.6, "123456789012345.6"}, {-0.5, "-0.5"}, {1.0 / 3, "0.3333333333333333"},
    {5e-324, "4.94065645841247e-324"},
  };
  char out[40];
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    size_t n = sr__fmt_double(cases[i].d, out);
    ASSERT_EQ_INT(n, strlen(out));
    ASSERT_EQ_STR(out, cases[i].text);
  }
  /* random doubles: the text reads back exactly and is never longer than %.17g */
  uint64_t seed = 99;
  for (int i = 0; i < 200000; i++) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    double d;
    if (i % 2) {
      uint64_t bits = seed;
      memcpy(&d, &bits, sizeof d);
      if (!isfinite(d)) continue;
    } else {
      d = (double)(seed >> 20) / (double)(1 << (seed % 30)) * ((seed & 1) ? -1 : 1);
    }
    char ref[64];
    sr__fmt_double(d, out);
    snprintf(ref, sizeof ref, "%.17g", d);
    if (strtod(out, NULL) != d) SR_FAIL("%s does not read back as %.17g", out, d);
    if (strlen(out) > strlen(ref) + 4) SR_FAIL("%s is longer than %s", out, ref);  /* "e+16" may replace digits */
  }
}

SR_TEST(strings_and_escapes) {
  setup();
  bads b;
  ASSERT_EQ_STR(decode("{\"s\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9 \\u20AC \\ud83d\\ude00\"}", NULL, &b),
                "[{\"s\":\"q\\\" b\\\\ s/ \\b\\f\\n\\r\\t \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"}]");
  /* lone surrogates become U+FFFD */
  ASSERT_EQ_STR(decode("{\"s\":\"a\\ud800b\\udc00c\\ud800\\u0041\"}", NULL, &b),
                "[{\"s\":\"a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD" "A\"}]");
  /* invalid UTF-8 in a file's line: a bad record, as Jackson's UTF-8 parser refuses it in Spark */
  ASSERT_EQ_STR(decode("{\"s\":\"\xff\xfe\xc3\"}\n{\"s\":\"ok \xc3\xa9\"}\n", "s string", &b), "[{\"s\":\"ok \xc3\xa9\"}]");
  ASSERT_EQ_INT(b.n, 1);
  ASSERT_EQ_STR(b.reasons[0], "not JSON: invalid UTF-8 at byte 7");
  ASSERT_EQ_STR(decode("{\"s\":\"\xed\xa0\x80 surrogate, \xc0\xaf overlong\"}", NULL, &b), "[]");
  ASSERT_EQ_INT(b.n, 1);
  /* from a Lua string (parse_json, from_json): U+FFFD per maximal ill-formed part, as Java's
  ** decoder reads a UTF8String in Spark's from_json */
  LUA_RUN("local v = codec.from_json('{\"s\":\"a\\255\\254b\\226\\130c\\240\\159\\152\"}')\n"
          "assert(v.s == 'a\\239\\191\\189\\239\\191\\189b\\239\\191\\189c\\239\\191\\189', v.s)");
  /* a Lua string with invalid UTF-8 is written as valid JSON, U+FFFD in place of the bad bytes */
  LUA_RUN("local t = codec.to_json({ s = 'x\\255y\\237\\160\\128z\\195' })\n"
          "assert(t == '{\"s\":\"x\\239\\191\\189y\\239\\191\\189\\239\\191\\189\\239\\191\\189z\\239\\191\\189\"}', t)");
  /* escaped keys match schema fields; \u0000 is a byte like any other */
  ASSERT_EQ_STR(decode("{\"\\u0061\":1,\"b\\\"\":\"x\\u0000y\"}", "a long", &b), "[{\"a\":1}]");
  ASSERT_EQ_STR(decode("{\"s\":\"x\\u0000y\"}", NULL, &b), "[{\"s\":\"x\\u0000y\"}]");
  LUA_RUN("assert(#rows[1].s == 3)");
  /* long strings (the 16-byte scan) with the special byte at every position */
  for (int len = 0; len < 40; len++) {
    char rec[160], want[192];
    char body[48];
    memset(body, 'x', (size_t)len);
    body[len] = '\0';
    snprintf(rec, sizeof rec, "{\"s\":\"%s\\n%s\"}", body, body);
    snprintf(want, sizeof want, "[{\"s\":\"%s\\n%s\"}]", body, body);
    ASSERT_EQ_STR(decode(rec, "s string", &b), want);
  }
  expect_bad(NULL, "{\"s\":\"a\\xb\"}", "not JSON: invalid escape at byte 8");
  expect_bad(NULL, "{\"s\":\"a\\u12\"}", "not JSON: invalid \\u escape at byte 8");
  expect_bad(NULL, "{\"s\":\"a\tb\"}", "not JSON: control character in string at byte 8");
  expect_bad("s string", "{\"s\":\"abc}", "not JSON: unterminated string at byte 11 (end of record)");
  expect_bad("s string", "{\"s\":\"abc\\", "not JSON: unterminated string at byte 11 (end of record)");
}

/* Spark's allowSingleQuotes (on by default, as Jackson's ALLOW_SINGLE_QUOTES): 'names' and
** 'strings', a '"' inside them, "\'" for a quote, in records with and without a schema */
SR_TEST(single_quotes) {
  setup();
  bads b;
  ASSERT_EQ_STR(decode("{'a': 'x \"y\" it\\'s', \"b\": 'don\\'t', 'n': 1}", NULL, &b),
                "[{\"a\":\"x \\\"y\\\" it's\",\"b\":\"don't\",\"n\":1}]");
  ASSERT_EQ_STR(decode("{'a': 'keep', 's': {'t': ['u', \"it's\"]}}", "a string, s struct<t: array<string>>", &b),
                "[{\"a\":\"keep\",\"s\":{\"t\":[\"u\",\"it's\"]}}]");
  ASSERT_EQ_STR(decode("{\"a\": \"it\\'s\"}", "a string", &b), "[{\"a\":\"it's\"}]");
  expect_bad("a string", "{'a': 'open}", "not JSON: unterminated string at byte 13 (end of record)");
  /* off: such a record is bad, as with Spark's allowSingleQuotes=false */
  const char *t = "{'a': 1}\n{\"a\": 2}";
  int n = 0;
  int64_t nlines;
  lua_newtable(L);
  memset(&b, 0, sizeof b);
  ASSERT_EQ_INT(sr_json_decode_piece_sep(L, -1, &n, t, strlen(t), schema_of("a long"), NULL, 0, "x", 1,
                                         collect_bad, &b, &nlines), 1);
  ASSERT_EQ_INT(n, 1);
  ASSERT_EQ_STR(b.reasons[0], "not JSON: expected '\"' (a key) at byte 2");
  lua_pop(L, 1);
  /* from_json (Spark's from_json takes the same JSONOptions) */
  LUA_RUN("local v = codec.from_json(\"{'a': ['it\\\\'s', 'b'], 'n': 1}\")\n"
          "assert(v.a[1] == \"it's\" and v.a[2] == 'b' and v.n == 1)");
}

SR_TEST(lines_blanks_crlf_bom) {
  setup();
  bads b;
  const char text[] = "\xEF\xBB\xBF{\"a\":1}\r\n\r\n   \n{\"a\":2}  \r\n\t{ \"a\" : 3 , \"b\" : [ 1 , 2 ] }\n{\"a\":4}";
  ASSERT_EQ_STR(decode(text, "a long", &b), "[{\"a\":1},{\"a\":2},{\"a\":3},{\"a\":4}]");
  ASSERT_EQ_INT(b.n, 0);
  ASSERT_EQ_STR(decode(text, NULL, &b), "[{\"a\":1},{\"a\":2},{\"a\":3,\"b\":[1,2]},{\"a\":4}]");
  /* a BOM is only skipped at a file's start */
  ASSERT_EQ_STR(decode_n(text, sizeof text - 1, "a long", 7, &b), "[{\"a\":2},{\"a\":3},{\"a\":4}]");
  ASSERT_EQ_INT(b.n, 1);
  ASSERT_EQ_INT(b.lines[0], 7);
  ASSERT_EQ_STR(b.reasons[0], "not JSON: expected '{' at byte 1");
  /* line numbers count blank lines; the record text has no line end; the last line without LF */
  ASSERT_EQ_STR(decode("{\"a\":1}\n\nnope\r\n{\"a\":2}\n{\"a\":", "a long", &b), "[{\"a\":1},{\"a\":2}]");
  ASSERT_EQ_INT(b.n, 2);
  ASSERT_EQ_INT(b.lines[0], 3);
  ASSERT_EQ_STR(b.records[0], "nope");
  ASSERT_EQ_STR(b.origin, "in.json");
  ASSERT_EQ_INT(b.lines[1], 5);
  ASSERT_EQ_STR(b.records[1], "{\"a\":");
  ASSERT_EQ_STR(b.reasons[1], "not JSON: expected a value at byte 6 (end of record)");
  ASSERT_EQ_STR(decode("", "a long", &b), "[]");
  ASSERT_EQ_STR(decode("\n\n", NULL, &b), "[]");
  /* a lone CR ends a line, as in Hadoop's LineReader (Spark's reader): each record is its own */
  ASSERT_EQ_STR(decode("{\"a\":1}\r{\"a\":2}\r\rnope\r{\"a\":3}\r", "a long", &b), "[{\"a\":1},{\"a\":2},{\"a\":3}]");
  ASSERT_EQ_INT(b.n, 1);
  ASSERT_EQ_INT(b.lines[0], 4);
  ASSERT_EQ_STR(b.records[0], "nope");
  /* lineSep: exactly its bytes; a "\n" between them is whitespace inside the record */
  {
    sr_linesep ls;
    ASSERT_EQ_INT(sr_linesep_set(&ls, "||", SR_LINESEP_MAX), 0);
    const char *t = "{\"a\":\n1}||{\"a\":2}||";
    int n = 0;
    int64_t nlines;
    lua_newtable(L);
    ASSERT_EQ_INT(sr_json_decode_piece_sep(L, -1, &n, t, strlen(t), schema_of("a long"), &ls, 1, "x", 1, NULL, NULL, &nlines), 0);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(nlines, 2);
    lua_pop(L, 1);
    ASSERT_EQ_INT((int64_t)sr_lines_whole("ab\r", 3, NULL, 0), 0);
    ASSERT_EQ_INT((int64_t)sr_lines_whole("ab\r", 3, NULL, 1), 3);
    ASSERT_EQ_INT((int64_t)sr_lines_whole("a\rb\r", 4, NULL, 0), 2);
    ASSERT_EQ_INT((int64_t)sr_lines_whole("a||b|", 5, &ls, 0), 3);
  }
  /* appending continues the array */
  lua_newtable(L);
  int n = 0;
  sr_json_decode_lines(L, -1, &n, "{\"a\":1}", 7, NULL, NULL, 1, NULL, NULL);
  sr_json_decode_lines(L, -1, &n, "{\"a\":2}\n{\"a\":3}", 15, NULL, NULL, 1, NULL, NULL);
  ASSERT_EQ_INT(n, 3);
  ASSERT_EQ_STR(top_json(), "[{\"a\":1},{\"a\":2},{\"a\":3}]");
}

SR_TEST(not_json_reasons) {
  setup();
  expect_bad(NULL, "[1,2]", "not a JSON object: the record is an array");
  expect_bad("a long", "\"s\"", "not a JSON object: the record is a string");
  expect_bad(NULL, "42", "not a JSON object: the record is a number");
  expect_bad(NULL, "null", "not a JSON object: the record is null");
  expect_bad(NULL, "true", "not a JSON object: the record is a boolean");
  expect_bad(NULL, "hello", "not JSON: expected '{' at byte 1");
  expect_bad("a long", "{\"a\":1} x", "not JSON: unexpected text after the object at byte 9");
  expect_bad("a long", "{\"a\":1 \"b\":2}", "not JSON: expected ',' or '}' at byte 8");
  expect_bad("a long", "{\"a\" 1}", "not JSON: expected ':' at byte 6");
  expect_bad("a long", "{a:1}", "not JSON: expected '\"' (a key) at byte 2");
  expect_bad("a long", "{\"a\":1,}", "not JSON: expected '\"' (a key) at byte 8");
  expect_bad("a long", "{\"x\":[1,2}", "not JSON: expected ',' or ']' at byte 10");
  expect_bad("a long", "{\"x\":{\"y\":1]}", "not JSON: expected ',' or '}' at byte 12");
  expect_bad("a long", "{\"x\":tru}", "not JSON: invalid value at byte 6");
  expect_bad("a long", "{\"x\":01}", "not JSON: invalid value at byte 6");
  expect_bad("a long", "{\"a\":01}", "not JSON: invalid number at byte 6");
  expect_bad("a long", "{\"x\":1.}", "not JSON: invalid value at byte 6");
  expect_bad(NULL, "{\"x\":-}", "not JSON: invalid value at byte 6");
  expect_bad(NULL, "{\"x\":[1,]}", "not JSON: invalid value at byte 9");
  expect_bad("x string", "{\"x\":{\"a\":[}}", "not JSON: invalid value at byte 12");
  /* nesting up to Jackson's 1000 levels is read, in an unused field and decoded whole, and
  ** written back; deeper is refused, not a crash */
  static char deep[4096];
  strcpy(deep, "{\"a\":1,\"x\":");
  for (int i = 0; i < 998; i++) strcat(deep, "[");
  strcat(deep, "{}");
  for (int i = 0; i < 998; i++) strcat(deep, "]");
  strcat(deep, "}");
  bads b;
  ASSERT_EQ_STR(decode(deep, "a long", &b), "[{\"a\":1}]");
  ASSERT_EQ_INT(b.n, 0);
  strcpy(deep, "{\"a\":1,\"x\":");
  for (int i = 0; i < 990; i++) strcat(deep, "[");
  for (int i = 0; i < 990; i++) strcat(deep, "]");
  strcat(deep, "}");
  decode(deep, NULL, &b);
  ASSERT_EQ_INT(b.n, 0);
  LUA_RUN("local t = codec.to_json(rows[1]); assert(#t == 1992, #t)  -- the innermost [] is an empty table: {}");
  strcpy(deep, "{\"a\":1,\"x\":");
  for (int i = 0; i < 1000; i++) strcat(deep, "[");
  for (int i = 0; i < 1000; i++) strcat(deep, "]");
  strcat(deep, "}");
  decode(deep, "a long", &b);
  ASSERT_EQ_INT(b.n, 1);
  ASSERT_EQ_STR(b.reasons[0], "not JSON: nesting too deep (more than 1000 levels) at byte 1011");
  decode(deep, NULL, &b);
  ASSERT_EQ_INT(b.n, 1);
  ASSERT_EQ_STR(b.reasons[0], "not JSON: nesting too deep (more than 1000 levels) at byte 1011");
}

SR_TEST(typed_values_and_reasons) {
  setup();
  bads b;
  ASSERT_EQ_STR(decode("{\"l\":-5,\"i\":2147483647,\"s\":-32768,\"y\":127,\"d\":1,\"f\":2.5,\"b\":true}",
                       "l long, i int, s short, y byte, d double, f float, b boolean", &b),
                "[{\"b\":true,\"d\":1,\"f\":2.5,\"i\":2147483647,\"l\":-5,\"s\":-32768,\"y\":127}]");
  expect_bad("price double", "{\"price\":\"abc\"}", "column price: expected double, got string \"abc\"");
  expect_bad("price double", "{\"price\":[1]}", "column price: expected double, got array [1]");
  expect_bad("price double", "{\"price\":true}", "column price: expected double, got boolean true");
  expect_bad("n long", "{\"n\":1.5}", "column n: expected long, got number 1.5");
  expect_bad("n long", "{\"n\":1.0}", "column n: expected long, got number 1.0");
  expect_bad("n long", "{\"n\":1e2}", "column n: expected long, got number 1e2");
  expect_bad("n long", "{\"n\":\"12\"}", "column n: expected long, got string \"12\"");
  expect_bad("n long", "{\"n\":{\"a\":1}}", "column n: expected long, got object {\"a\":1}");
  expect_bad("n long", "{\"n\":9223372036854775808}",
             "column n: expected long, got number 9223372036854775808 (out of range)");
  expect_bad("n long", "{\"n\":-9223372036854775809}",
             "column n: expected long, got number -9223372036854775809 (out of range)");
  expect_bad("n int", "{\"n\":3000000000}", "column n: expected int, got number 3000000000 (out of range)");
  expect_bad("n short", "{\"n\":32768}", "column n: expected short, got number 32768 (out of range)");
  expect_bad("n byte", "{\"n\":-129}", "column n: expected byte, got number -129 (out of range)");
  expect_bad("b boolean", "{\"b\":1}", "column b: expected boolean, got number 1");
  expect_bad("b boolean", "{\"b\":\"true\"}", "column b: expected boolean, got string \"true\"");
  expect_bad("t timestamp", "{\"t\":\"yesterday\"}", "column t: expected timestamp, got string \"yesterday\"");
  expect_bad("t timestamp", "{\"t\":true}", "column t: expected timestamp, got boolean true");
  expect_bad("t timestamp", "{\"t\":1e30}", "column t: expected timestamp, got number 1e30 (out of range)");
  /* beyond Spark's range (a long of microseconds), which the writer could not write readably */
  expect_bad("t timestamp", "{\"t\":100000000000000}", "column t: expected timestamp, got number 100000000000000 (out of range)");
  expect_bad("t timestamp", "{\"t\":-9223372036854.776}", "column t: expected timestamp, got number -9223372036854.776 (out of range)");
  expect_bad("t timestamp", "{\"t\":\"+3170843-11-07T00:00:00Z\"}", "column t: expected timestamp, got string \"+3170843-11-07T00:00:00Z\"");
  expect_bad("d date", "{\"d\":\"2026-02-30\"}", "column d: expected date, got string \"2026-02-30\"");
  expect_bad("d date", "{\"d\":1.5}", "column d: expected date, got number 1.5");
  expect_bad("x binary", "{\"x\":\"a!b=\"}", "column x: expected binary, got string \"a!b=\" (not base64)");
  expect_bad("x binary", "{\"x\":5}", "column x: expected binary, got number 5");
  expect_bad("s struct<a: long>", "{\"s\":5}", "column s: expected struct, got number 5");
  expect_bad("s struct<a: long>", "{\"s\":{\"a\":\"no\"}}", "column s.a: expected long, got string \"no\"");
  expect_bad("s struct<a: struct<b: array<long>>>", "{\"s\":{\"a\":{\"b\":[1,2,\"x\"]}}}",
             "column s.a.b[3]: expected long, got string \"x\"");
  expect_bad("t array<long>", "{\"t\":{}}", "column t: expected array<long>, got object {}");
  expect_bad("m map<string, long>", "{\"m\":{\"k\":true}}", "column m.k: expected long, got boolean true");
  /* a long bad value is cut in the reason */
  expect_bad("n long", "{\"n\":\"0123456789012345678901234567890123456789012345\"}",
             "column n: expected long, got string \"012345678901234567890123456789012345678...");
}

SR_TEST(typed_conversions) {
  setup();
  bads b;
  /* Spark keeps a non-string value of a string column as its JSON text */
  ASSERT_EQ_STR(decode("{\"s\":5}\n{\"s\":{\"x\": [1, 2]}}\n{\"s\":true}", "s string", &b),
                "[{\"s\":\"5\"},{\"s\":\"{\\\"x\\\": [1, 2]}\"},{\"s\":\"true\"}]");
  /* double: integers, exponents, the words Jackson writes */
  ASSERT_EQ_STR(decode("{\"d\":5}\n{\"d\":-1.25e2}\n{\"d\":\"NaN\"}\n{\"d\":\"-Infinity\"}\n{\"d\":-0}", "d double", &b),
                "[{\"d\":5},{\"d\":-125},{\"d\":\"NaN\"},{\"d\":\"-Infinity\"},{\"d\":-0}]");
  /* timestamps: ISO text or seconds since the epoch */
  ASSERT_EQ_STR(decode("{\"t\":\"2026-11-23T10:00:00.001Z\"}\n{\"t\":1700000000}\n{\"t\":1700000000.5}\n"
                       "{\"t\":-1.5}\n{\"t\":1.0009}\n{\"t\":\"1969-12-31 23:59:59\"}\n{\"t\":1.7e9}\n"
                       "{\"t\":\"2026-11-23T12:00:00+02:00\"}",
                       "t timestamp", &b),
                "[{\"t\":1795428000001},{\"t\":1700000000000},{\"t\":1700000000500},{\"t\":-1500},{\"t\":1000},"
                "{\"t\":-1000},{\"t\":1700000000000},{\"t\":1795428000000}]");
  ASSERT_EQ_INT(b.n, 0);
  ASSERT_EQ_STR(decode("{\"d\":\"2026-11-23\"}\n{\"d\":-3}", "d date", &b), "[{\"d\":20780},{\"d\":-3}]");
  ASSERT_EQ_STR(decode("{\"x\":\"aGVsbG8=\"}\n{\"x\":\"aGVsbG8\"}\n{\"x\":\"\"}\n{\"x\":\"AP\\/\\/\"}", "x binary", &b),
                "[{\"x\":\"hello\"},{\"x\":\"hello\"},{\"x\":\"\"},{\"x\":\"\\u0000\xEF\xBF\xBD\xEF\xBF\xBD\"}]");
  LUA_RUN("assert(rows[4].x == '\\0\\255\\255')");  /* the bytes; to_json shows U+FFFD for them */
  /* nested structs: declared fields only, recursively typed; arrays keep null holes */
  ASSERT_EQ_STR(decode("{\"s\":{\"x\":1,\"y\":\"a\",\"z\":9,\"w\":{\"t\":\"2026-11-23\"}},\"tags\":[1,null,3]}",
                       "s struct<x: long, y: string, w: struct<t: timestamp>>, tags array<long>", &b),
                "[{\"s\":{\"w\":{\"t\":1795392000000},\"x\":1,\"y\":\"a\"},\"tags\":[1,null,3]}]");
  LUA_RUN("assert(rows[1].tags[2] == nil and rows[1].tags[3] == 3 and rows[1].s.z == nil)");
  ASSERT_EQ_STR(decode("{\"a\":[{\"x\":1,\"q\":2},{\"x\":2}],\"m\":{\"k\":{\"x\":3,\"q\":4}}}",
                       "a array<struct<x: long>>, m map<string, struct<x: long>>", &b),
                "[{\"a\":[{\"x\":1},{\"x\":2}],\"m\":{\"k\":{\"x\":3}}}]");
  /* null and absent fields are nil; a duplicate key: the last one wins */
  ASSERT_EQ_STR(decode("{\"a\":null,\"b\":1,\"b\":2}\n{}", "a long, b long, c string", &b), "[{\"b\":2},{}]");
  ASSERT_EQ_STR(decode("{\"b\":1,\"b\":null}", "b long", &b), "[{}]");
}

SR_TEST(encode_rows_with_schema) {
  setup();
  LUA_RUN("rows = { { auction = 1000, price = 5871 * 0.908, dateTime = 1795428000001, zeta = 'z', alpha = 1,\n"
         "           day = 20780, blob = 'hi\\0', w = { start = 0, ['end'] = 10000, junk = true }, tags = {},\n"
         "           big = 9007199254740993LL, u = 18446744073709551615ULL },\n"
         "         { auction = 1001, price = 0/0, dateTime = -1 }, {} }");
  const sr_schema *s = schema_of("price double, auction long, dateTime timestamp, day date, blob binary, "
                                 "w struct<start: timestamp, end: timestamp>, tags array<long>, big long, missing string");
  lua_getglobal(L, "rows");
  sr_buf out = SR_BUF_INIT;
  char err[256];
  int top = lua_gettop(L);
  ASSERT_EQ_INT(sr_json_encode_rows(L, -1, 3, s, &out, err, sizeof err), 0);
  ASSERT_EQ_INT(lua_gettop(L), top);
  ASSERT_EQ_STR(out.data,
                "{\"price\":5330.868,\"auction\":1000,\"dateTime\":\"2026-11-23T10:00:00.001Z\",\"day\":\"2026-11-23\","
                "\"blob\":\"aGkA\",\"w\":{\"start\":\"1970-01-01T00:00:00.000Z\",\"end\":\"1970-01-01T00:00:10.000Z\","
                "\"junk\":true},\"tags\":[],\"big\":9007199254740993,\"alpha\":1,\"u\":18446744073709551615,\"zeta\":\"z\"}\n"
                "{\"price\":\"NaN\",\"auction\":1001,\"dateTime\":\"1969-12-31T23:59:59.999Z\"}\n"
                "{}\n");
  /* without a schema: every key sorted, Lua types */
  sr_buf_clear(&out);
  ASSERT_EQ_INT(sr_json_encode_rows(L, -1, 2, NULL, &out, err, sizeof err), 0);
  ASSERT_EQ_STR(out.data,
                "{\"alpha\":1,\"auction\":1000,\"big\":9007199254740993,\"blob\":\"hi\\u0000\",\"dateTime\":1795428000001,"
                "\"day\":20780,\"price\":5330.868,\"tags\":{},\"u\":18446744073709551615,"
                "\"w\":{\"end\":10000,\"junk\":true,\"start\":0},\"zeta\":\"z\"}\n"
                "{\"auction\":1001,\"dateTime\":-1,\"price\":\"NaN\"}\n");
  /* a window table in a timestamp column: start and end as timestamps */
  LUA_RUN("wins = { { window = { ['end'] = 1795428010000, start = 1795428000000, n = 3 } } }");
  lua_getglobal(L, "wins");
  sr_buf_clear(&out);
  ASSERT_EQ_INT(sr_json_encode_rows(L, -1, 1, schema_of("window timestamp"), &out, err, sizeof err), 0);
  ASSERT_EQ_STR(out.data, "{\"window\":{\"start\":\"2026-11-23T10:00:00.000Z\",\"end\":\"2026-11-23T10:00:10.000Z\",\"n\":3}}\n");
  lua_pop(L, 1);
  /* a value whose Lua type does not match its column is written as it is */
  LUA_RUN("mixed = { { dateTime = 'soon', auction = 1.5, tags = { x = 1 }, w = 7 } }");
  lua_getglobal(L, "mixed");
  sr_buf_clear(&out);
  ASSERT_EQ_INT(sr_json_encode_rows(L, -1, 1, s, &out, err, sizeof err), 0);
  ASSERT_EQ_STR(out.data, "{\"auction\":1.5,\"dateTime\":\"soon\",\"w\":7,\"tags\":{\"x\":1}}\n");
  sr_buf_free(&out);
  lua_settop(L, 0);
}

SR_TEST(encode_tables_and_strings) {
  setup();
  LUA_RUN("t = { a = {1, 2, 3}, b = {1, nil, 3}, c = {}, d = {[1] = 1, [100] = 2}, e = {1, x = 2},\n"
         "      f = 'q\"\\\\\\n\\r\\t\\b\\f\\1\\31\\127\\255', g = {{}, {{}}}, h = {[1.5] = 1}, i = false }");
  lua_getglobal(L, "t");
  ASSERT_EQ_STR(top_json(),
                "{\"a\":[1,2,3],\"b\":[1,null,3],\"c\":{},\"d\":{\"1\":1,\"100\":2},\"e\":{\"1\":1,\"x\":2},"
                "\"f\":\"q\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\xEF\xBF\xBD\",\"g\":[{},[{}]],\"h\":{\"1.5\":1},\"i\":false}");
  lua_pushnil(L);
  ASSERT_EQ_STR(top_json(), "null");
  lua_pushnumber(L, HUGE_VAL);
  ASSERT_EQ_STR(top_json(), "\"Infinity\"");
}

SR_TEST(encode_errors) {
  setup();
  sr_buf out = SR_BUF_INIT;
  char err[256];
  LUA_RUN("rows = { { a = 1 }, { a = 2, f = print } }");
  lua_getglobal(L, "rows");
  ASSERT_EQ_INT(sr_json_encode_rows(L, -1, 2, NULL, &out, err, sizeof err), -1);
  ASSERT_EQ_STR(err, "row 2, column f: cannot encode a function value");
  ASSERT_EQ_STR(out.data, "{\"a\":1}\n");  /* the rows before the failing one */
  LUA_RUN("local c = {}; c.self = c; rows = { { x = { y = c } } }");
  lua_getglobal(L, "rows");
  sr_buf_clear(&out);
  ASSERT_EQ_INT(sr_json_encode_rows(L, -1, 1, schema_of("x struct<y: struct<z: long>>"), &out, err, sizeof err), -1);
  ASSERT_TRUE(strncmp(err, "row 1, column x.y.self.self.self", 32) == 0);
  ASSERT_TRUE(strstr(err, ": a cycle or nesting deeper than 1000") != NULL);
  LUA_RUN("rows = { 5 }");
  lua_getglobal(L, "rows");
  ASSERT_EQ_INT(sr_json_encode_rows(L, -1, 1, NULL, &out, err, sizeof err), -1);
  ASSERT_EQ_STR(err, "row 1: not a table but a number");
  LUA_RUN("rows = { { t = { [{}] = 1 } }, { c = coroutine.create(print) }, { x = io.stdout } }");
  lua_getglobal(L, "rows");
  ASSERT_EQ_INT(sr_json_encode_rows(L, -1, 1, NULL, &out, err, sizeof err), -1);
  ASSERT_EQ_STR(err, "row 1, column t: cannot encode a table key of type table");
  lua_rawgeti(L, -1, 2);
  lua_getfield(L, -1, "c");
  ASSERT_EQ_INT(sr_json_encode_value(L, -1, &out, err, sizeof err), -1);
  ASSERT_EQ_STR(err, "cannot encode a thread value");
  lua_settop(L, 0);
  LUA_RUN("assert(not pcall(codec.to_json, { ok = { io.stdout } }))");
  LUA_RUN("local ok, e = pcall(codec.to_json, { ok = { io.stdout } }); assert(e:find('at ok%[1%]: cannot encode a userdata value'), e)");
  sr_buf_free(&out);
}

SR_TEST(records_and_values) {
  setup();
  char err[256];
  const char *rec = "{\"a\": 1, \"b\": \"x\"}";
  ASSERT_EQ_INT(sr_json_decode_record(L, rec, strlen(rec), schema_of("b string"), err, sizeof err), 0);
  ASSERT_EQ_STR(top_json(), "{\"b\":\"x\"}");
  ASSERT_EQ_INT(sr_json_decode_record(L, rec, strlen(rec), NULL, err, sizeof err), 0);
  ASSERT_EQ_STR(top_json(), "{\"a\":1,\"b\":\"x\"}");
  int top = lua_gettop(L);
  ASSERT_EQ_INT(sr_json_decode_record(L, "{\"a\":\"x\"}", 9, schema_of("a long"), err, sizeof err), -1);
  ASSERT_EQ_STR(err, "column a: expected long, got string \"x\"");
  ASSERT_EQ_INT(sr_json_decode_record(L, "[1]", 3, NULL, err, sizeof err), -1);
  ASSERT_EQ_STR(err, "not a JSON object: the record is an array");
  ASSERT_EQ_INT(lua_gettop(L), top);
  const char *value = " [1, {\"a\": null}, \"s\"] ";
  ASSERT_EQ_INT(sr_json_decode_value(L, value, strlen(value), err, sizeof err), 0);
  ASSERT_EQ_STR(top_json(), "[1,{},\"s\"]");
  ASSERT_EQ_INT(sr_json_decode_value(L, "null", 4, err, sizeof err), 0);
  ASSERT_TRUE(lua_isnil(L, -1));
  lua_pop(L, 1);
  ASSERT_EQ_INT(sr_json_decode_value(L, "1 2", 3, err, sizeof err), -1);
  ASSERT_EQ_STR(err, "not JSON: unexpected text after the value at byte 3");
  ASSERT_EQ_INT(sr_json_decode_value(L, "", 0, err, sizeof err), -1);
  ASSERT_EQ_INT(lua_gettop(L), top);
}

SR_TEST(decode_column_in_place) {
  setup();
  LUA_RUN("rows = { { key = 'k1', value = '{\"a\": 1, \"b\": \"x\", \"value\": 7}' }, { key = 'k2', value = 5 },\n"
          "         { key = 'k3', value = '{\"a\": \"no\"}' }, { key = 'k4', value = '{\"a\": 2}' }, 'junk',\n"
          "         { key = 'k6' } }");
  lua_getglobal(L, "rows");
  bads b;
  memset(&b, 0, sizeof b);
  int n = 6, top = lua_gettop(L);
  ASSERT_EQ_INT(sr_json_decode_column(L, -1, &n, "value", schema_of("a long, value long"), "topic/0", collect_bad, &b), 4);
  ASSERT_EQ_INT(lua_gettop(L), top);
  ASSERT_EQ_INT(n, 2);
  ASSERT_EQ_INT(lua_objlen(L, -1), 2);
  ASSERT_EQ_STR(top_json(), "[{\"a\":1,\"key\":\"k1\",\"value\":7},{\"a\":2,\"key\":\"k4\"}]");
  ASSERT_EQ_INT(b.lines[0], 2);
  ASSERT_EQ_STR(b.reasons[0], "column value: expected JSON text, got number");
  ASSERT_EQ_INT(b.lines[1], 3);
  ASSERT_EQ_STR(b.records[1], "{\"a\": \"no\"}");
  ASSERT_EQ_STR(b.reasons[1], "column a: expected long, got string \"no\"");
  ASSERT_EQ_STR(b.reasons[2], "the row is not a table but a string");
  ASSERT_EQ_STR(b.reasons[3], "column value: expected JSON text, got nil");
  ASSERT_EQ_STR(b.origin, "topic/0");
  /* inferred types */
  LUA_RUN("rows = { { v = '{\"x\": [1, 9007199254740993]}' } }");
  lua_getglobal(L, "rows");
  n = 1;
  ASSERT_EQ_INT(sr_json_decode_column(L, -1, &n, "v", NULL, NULL, NULL, NULL), 0);
  ASSERT_EQ_STR(top_json(), "[{\"x\":[1,9007199254740993]}]");
}

SR_TEST(int64_bridge) {
  setup();
  int64_t cases[] = {0, 1, -1, 9007199254740992LL, -9007199254740992LL, 9007199254740993LL,
                     -9007199254740993LL, INT64_MAX, INT64_MIN, 4294967296LL, -4294967297LL,
                     0x123456789abcdefLL};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    sr_lua_push_int64(L, cases[i]);
    int big = cases[i] > 9007199254740992LL || cases[i] < -9007199254740992LL;
    ASSERT_EQ_INT(lua_type(L, -1), big ? SR_LUA_TCDATA : LUA_TNUMBER);
    int64_t v = 42;
    ASSERT_EQ_INT(sr_lua_to_int64(L, -1, &v), 0);
    ASSERT_EQ_INT(v, cases[i]);
    lua_pop(L, 1);
  }
  LUA_RUN("vals = { 1.5, 2^63, -2^63, 'x', 2ULL^63, 5ULL, 0/0, 7LL }");
  lua_getglobal(L, "vals");
  int64_t v = 42;
  uint64_t u = 0;
  lua_rawgeti(L, -1, 1);
  ASSERT_EQ_INT(sr_lua_to_int64(L, -1, &v), -1);
  lua_rawgeti(L, -2, 2);
  ASSERT_EQ_INT(sr_lua_to_int64(L, -1, &v), -1);
  lua_rawgeti(L, -3, 3);
  ASSERT_EQ_INT(sr_lua_to_int64(L, -1, &v), 0);
  ASSERT_EQ_INT(v, INT64_MIN);
  lua_rawgeti(L, -4, 4);
  ASSERT_EQ_INT(sr_lua_to_int64(L, -1, &v), -1);
  lua_rawgeti(L, -5, 5);
  ASSERT_EQ_INT(sr_lua_to_int64(L, -1, &v), -1);  /* 2^63 does not fit int64 */
  ASSERT_EQ_INT(sr_lua_to_uint64(L, -1, &u), 0);
  ASSERT_TRUE(u == 9223372036854775808ULL);
  lua_rawgeti(L, -6, 6);
  ASSERT_EQ_INT(sr_lua_to_int64(L, -1, &v), 0);
  ASSERT_EQ_INT(v, 5);
  lua_rawgeti(L, -7, 7);
  ASSERT_EQ_INT(sr_lua_to_int64(L, -1, &v), -1);
  lua_rawgeti(L, -8, 8);
  ASSERT_EQ_INT(sr_lua_to_uint64(L, -1, &u), -1);
  ASSERT_EQ_INT(sr_lua_to_int64(L, -1, &v), 0);
  ASSERT_EQ_INT(v, 7);
  lua_settop(L, 0);
}

SR_TEST(base64) {
  sr_buf enc = SR_BUF_INIT, dec = SR_BUF_INIT;
  const char *pairs[][2] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
                            {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
    sr_buf_clear(&enc);
    ASSERT_EQ_INT(sr__base64_encode(&enc, pairs[i][0], strlen(pairs[i][0])), 0);
    ASSERT_EQ_STR(enc.data ? enc.data : "", pairs[i][1]);
    ASSERT_EQ_INT(sr__base64_decode(&dec, pairs[i][1], strlen(pairs[i][1])), 0);
    ASSERT_EQ_INT(dec.len, strlen(pairs[i][0]));
    ASSERT_TRUE(memcmp(dec.data, pairs[i][0], dec.len) == 0);
  }
  unsigned char bytes[300];
  for (int i = 0; i < 300; i++) bytes[i] = (unsigned char)(i * 7 + 3);
  for (size_t n = 0; n <= 300; n += 37) {
    sr_buf_clear(&enc);
    sr__base64_encode(&enc, bytes, n);
    ASSERT_EQ_INT(sr__base64_decode(&dec, enc.data, enc.len), 0);
    ASSERT_EQ_INT(dec.len, n);
    ASSERT_TRUE(memcmp(dec.data, bytes, n) == 0);
  }
  ASSERT_EQ_INT(sr__base64_decode(&dec, "Z", 1), -1);
  ASSERT_EQ_INT(sr__base64_decode(&dec, "Zm9v YmFy", 9), -1);
  ASSERT_EQ_INT(sr__base64_decode(&dec, "Zm-_", 4), -1);
  sr_buf_free(&enc);
  sr_buf_free(&dec);
}

SR_TEST(lua_codec_library) {
  setup();
  LUA_RUN("local s = codec.schema{ price = 'double', auction = 'long', loc = { lat = 'double', lon = 'double' },\n"
         "                       tags = {'array', 'string'}, m = {'map', 'string', 'long'} }\n"
         "assert(tostring(s) == 'auction long, loc struct<lat: double, lon: double>, m map<string, long>, price double, tags array<string>', tostring(s))\n"
         "local cols = s:columns(); assert(#cols == 5 and cols[2][1] == 'loc' and cols[2][2] == 'struct<lat: double, lon: double>')\n"
         "assert(codec.schema(s) == s)\n"
         "s = codec.schema{ {'b', 'long'}, {'a', 'string'}, {'c', {'array', {x = 'int'}}} }\n"
         "assert(tostring(s) == 'b long, a string, c array<struct<x: int>>', tostring(s))\n"
         "s = codec.schema('auction BIGINT, `odd name` STRING NOT NULL COMMENT \\'x, y\\', d DECIMAL(10, 2), v varchar(5), t timestamp_ntz, s struct<a: integer, b array<smallint>>')\n"
         "assert(tostring(s) == 'auction long, `odd name` string not null, d decimal(10,2), v string, t timestamp, s struct<a: int, b: array<short>>', tostring(s))\n"
         "assert(tostring(codec.schema{ a = 'array<map<string, tinyint>>' }) == 'a array<map<string, byte>>')\n"
         "assert(tostring(codec.schema('')) == '')");
  LUA_RUN("local function err(spec) local ok, e = pcall(codec.schema, spec); assert(not ok); return e end\n"
         "local e = err{ price = 'dubble' }\n"
         "assert(e:find('column price: unknown type \"dubble\" (did you mean double?); valid types: string, long', 1, true), e)\n"
         "e = err{ a = { b = 'nope' } }; assert(e:find('column a.b: unknown type \"nope\"', 1, true), e)\n"
         "e = err('a long, a string'); assert(e:find('column a: declared twice', 1, true), e)\n"
         "e = err('a long b'); assert(e:find('unexpected \"b\"', 1, true), e)\n"
         "e = err('a array<long'); assert(e:find(\"column a: expected '>'\", 1, true), e)\n"
         "e = err{ a = 5 }; assert(e:find('column a: a type must be a type name or a table, got number', 1, true), e)\n"
         "e = err{ 'array', 'long' }; assert(e:find('is a column', 1, true), e)\n"
         "e = err(42); assert(e:find('a schema is a table of columns', 1, true), e)\n"
         "e = err{ { 'a' } }; assert(e:find('column a: a type must be', 1, true), e)\n"
         "e = err{ [1] = { 5, 'long' } }; assert(e:find('entry 1 of the column list', 1, true), e)");
  LUA_RUN("assert(codec.parse_timestamp('2026-11-23T10:00:00.001Z') == 1795428000001)\n"
         "local v, e = codec.parse_timestamp('soon'); assert(v == nil and e:find('not a timestamp'))\n"
         "assert(codec.format_timestamp(1795428000001) == '2026-11-23T10:00:00.001Z')\n"
         "assert(codec.format_timestamp(-1) == '1969-12-31T23:59:59.999Z')\n"
         "assert(not pcall(codec.format_timestamp, 1.5))\n"
         "assert(codec.parse_date('2026-11-23') == 20780 and codec.format_date(20780) == '2026-11-23')\n"
         "assert(codec.parse_date('x') == nil)\n"
         "assert(codec.duration('10 seconds') == 10000 and codec.duration('1 day') == 86400000)\n"
         "assert(codec.duration(250) == 250 and codec.duration('soon') == nil)\n"
         "local t = codec.from_json('{\"a\": [1, 9007199254740993], \"b\": {\"c\": null}}')\n"
         "assert(t.a[2] == 9007199254740993LL and next(t.b) == nil)\n"
         "local v, e = codec.from_json('{'); assert(v == nil and e:find('not JSON'))\n"
         "assert(codec.to_json({ b = 1, a = { 1, 2 }, c = 'x' }) == '{\"a\":[1,2],\"b\":1,\"c\":\"x\"}')");
  LUA_RUN("local rows, bad = {}, {}\n"
         "local n, nbad = codec.decode_json_lines(rows, 0, '{\"a\":1}\\n{\"a\":\"x\"}\\n{\"a\":3}', 'a long', 'f.json', 10,\n"
         "  function(origin, line, rec, why) bad[#bad + 1] = { origin, line, rec, why } end)\n"
         "assert(n == 2 and nbad == 1 and rows[2].a == 3)\n"
         "assert(bad[1][1] == 'f.json' and bad[1][2] == 11 and bad[1][3] == '{\"a\":\"x\"}')\n"
         "assert(bad[1][4] == 'column a: expected long, got string \"x\"')\n"
         "n, nbad = codec.decode_json_lines(rows, n, '{\"a\":4}\\nx')\n"
         "assert(n == 3 and nbad == 1 and rows[3].a == 4)\n"
         "assert(codec.encode_json_rows(rows, 3, { { 'a', 'long' } }) == '{\"a\":1}\\n{\"a\":3}\\n{\"a\":4}\\n')\n"
         "local ok, e = pcall(codec.encode_json_rows, { { f = print } }, 1)\n"
         "assert(not ok and e:find('encode_json_rows: row 1, column f: cannot encode a function value', 1, true), e)\n"
         "ok, e = pcall(codec.decode_json_lines, {}, 0, 'x', nil, 'o', 1, function() error('boom') end)\n"
         "assert(not ok and e:find('boom'))");
}

/* The decoder remembers each position's key: objects whose keys change order, repeat, grow,
** share prefixes, carry escapes, or are long must still decode each key to its own field. */
SR_TEST(remembered_keys) {
  setup();
  bads b;
  static const char lines[] =
    "{\"price\":1,\"price_eur\":2,\"a\":3,\"ab\":4}\n"
    "{\"price_eur\":5,\"price\":6,\"ab\":7,\"a\":8}\n"          /* the same keys, other positions */
    "{\"pric\":0,\"price\":9,\"a\":10}\n"                       /* a prefix of a remembered key */
    "{\"pri\\u0063e\":11,\"price_eurX\":0,\"a\":12}\n"          /* an escape; a longer key */
    "{\"price\":13,\"price\":14,\"a\":15}\n"                    /* a repeated key: the last wins */
    "{\"a_very_long_key_name_that_is_longer_than_the_remembered_text_xx\":16,\"a\":17}\n"
    "{\"a_very_long_key_name_that_is_longer_than_the_remembered_text_xx\":18,\"a\":19}\n"
    "{\"a\":20}\n"
    "{\"a\" :21 , \"price\"\t: 22}\n"                           /* white space around keys */
    "{\"a\":23,\"price";                                         /* the record ends in a key */
  ASSERT_EQ_STR(decode(lines, "price long, price_eur double, a long, ab long, "
                              "a_very_long_key_name_that_is_longer_than_the_remembered_text_xx long", &b),
                "[{\"a\":3,\"ab\":4,\"price\":1,\"price_eur\":2},{\"a\":8,\"ab\":7,\"price\":6,\"price_eur\":5},"
                "{\"a\":10,\"price\":9},{\"a\":12,\"price\":11},{\"a\":15,\"price\":14},"
                "{\"a\":17,\"a_very_long_key_name_that_is_longer_than_the_remembered_text_xx\":16},"
                "{\"a\":19,\"a_very_long_key_name_that_is_longer_than_the_remembered_text_xx\":18},"
                "{\"a\":20},{\"a\":21,\"price\":22}]");
  ASSERT_EQ_INT(b.n, 1);
  ASSERT_EQ_INT(b.lines[0], 10);
  ASSERT_EQ_STR(b.reasons[0], "not JSON: unterminated string at byte 15 (end of record)");
  /* keys of one to three bytes, and a nested struct level with its own memory */
  ASSERT_EQ_STR(decode("{\"x\":1,\"yy\":{\"q\":1,\"r\":2},\"zzz\":3}\n{\"x\":4,\"yy\":{\"r\":5,\"q\":6},\"zzz\":7}\n"
                       "{\"zzz\":8,\"x\":9,\"yy\":{\"qq\":0,\"q\":10}}",
                       "x long, yy struct<q: long, r: long>, zzz long", &b),
                "[{\"x\":1,\"yy\":{\"q\":1,\"r\":2},\"zzz\":3},{\"x\":4,\"yy\":{\"q\":6,\"r\":5},\"zzz\":7},"
                "{\"x\":9,\"yy\":{\"q\":10},\"zzz\":8}]");
  ASSERT_EQ_INT(b.n, 0);
}

/* Plain integers are read several digits at once: every length, signs, and what must fall
** back to the exact scanner (leading zeros, -0, fractions, exponents, more than 7 digits). */
SR_TEST(plain_integers) {
  setup();
  bads b;
  ASSERT_EQ_STR(decode("{\"a\":1,\"b\":-12,\"c\":1234567}\n{\"a\":12345678,\"b\":-9007199254740993,\"c\":0}\n"
                       "{\"a\":7}\n{\"a\":-7654321,\"c\":98765432109876543}", "a long, b long, c long", &b),
                "[{\"a\":1,\"b\":-12,\"c\":1234567},{\"a\":12345678,\"b\":-9007199254740993,\"c\":0},"
                "{\"a\":7},{\"a\":-7654321,\"c\":98765432109876543}]");
  ASSERT_EQ_INT(b.n, 0);
  LUA_RUN("assert(rows[2].b == -9007199254740993LL and rows[4].c == 98765432109876543LL)");
  ASSERT_EQ_STR(decode("{\"d\":5,\"e\":1}\n{\"d\":-0,\"e\":2}\n{\"d\":1.5e1,\"e\":3}\n{\"d\":2E2,\"e\":4}\n{\"d\":123.25}",
                       "d double, e long", &b),
                "[{\"d\":5,\"e\":1},{\"d\":-0,\"e\":2},{\"d\":15,\"e\":3},{\"d\":200,\"e\":4},{\"d\":123.25}]");
  expect_bad("a long", "{\"a\":0123,\"b\":1}", "not JSON: invalid number at byte 6");
  expect_bad("a long", "{\"a\":-01234567}", "not JSON: invalid number at byte 6");
  expect_bad("a long", "{\"a\":12.5,\"b\":1}", "column a: expected long, got number 12.5");
  expect_bad("a long", "{\"a\":1e3,\"bbbbb\":1}", "column a: expected long, got number 1e3");
}

/* A text decoded in pieces (as the file source reads it): line numbers go on across pieces,
** and each piece reports its lines, blank ones and a last one without '\n' included. */
SR_TEST(pieces_and_lines) {
  setup();
  const sr_schema *s = schema_of("a long");
  bads b;
  memset(&b, 0, sizeof b);
  lua_newtable(L);
  int n = 0;
  int64_t line = 1, nlines;
  const char *pieces[] = {"\xEF\xBB\xBF{\"a\":1}\r\n\n", "{\"a\":2}\n{\"a\":\"x\"}\n", "\n{\"a\":3}\r\nnope\n", "{\"a\":4}"};
  int64_t want_lines[] = {2, 2, 3, 1};
  for (int i = 0; i < 4; i++) {
    sr_json_decode_piece(L, -1, &n, pieces[i], strlen(pieces[i]), s, "f.json", line, collect_bad, &b, &nlines);
    ASSERT_EQ_INT(nlines, want_lines[i]);
    line += nlines;
  }
  ASSERT_EQ_INT(n, 4);
  ASSERT_EQ_INT(b.n, 2);
  ASSERT_EQ_INT(b.lines[0], 4);
  ASSERT_EQ_INT(b.lines[1], 7);
  ASSERT_EQ_STR(top_json(), "[{\"a\":1},{\"a\":2},{\"a\":3},{\"a\":4}]");
}

/* Rows whose keys are partly the schema's: fields in schema order, found by the identity of
** the interned key, the others sorted after them, more of them than collect_keys keeps
** values for, and number keys among them. */
SR_TEST(encode_many_other_keys) {
  setup();
  LUA_RUN("rows = {}\n"
         "for i = 1, 3 do\n"
         "  local r = { b = i, a = 'x' .. i, [2] = true, [1.5] = 'f' }\n"
         "  for k = 1, 40 do r[string.format('k%02d', k)] = k * i end\n"
         "  rows[i] = r\n"
         "end\n"
         "rows[2].b = nil\n"
         "local parts = {}\n"
         "for i = 1, 3 do\n"
         "  local p = { i == 2 and '{\"a\":\"x2\"' or string.format('{\"b\":%d,\"a\":\"x%d\"', i, i), ',\"1.5\":\"f\",\"2\":true' }\n"
         "  for k = 1, 40 do p[#p + 1] = string.format(',\"k%02d\":%d', k, k * i) end\n"
         "  parts[i] = table.concat(p) .. '}\\n'\n"
         "end\n"
         "want = table.concat(parts)");
  lua_getglobal(L, "rows");
  sr_buf out = SR_BUF_INIT;
  char err[256];
  int top = lua_gettop(L);
  ASSERT_EQ_INT(sr_json_encode_rows(L, -1, 3, schema_of("b long, a string, missing double"), &out, err, sizeof err), 0);
  ASSERT_EQ_INT(lua_gettop(L), top);
  lua_getglobal(L, "want");
  ASSERT_EQ_STR(out.data, lua_tostring(L, -1));
  lua_settop(L, 0);
  /* an array longer than the stack could hold as key/value pairs (collect_keys keeps only the
  ** keys of a table that may be an array) */
  LUA_RUN("big = {}; for i = 1, 5000 do big[i] = i end; rows = { { xs = big } }");
  lua_getglobal(L, "rows");
  sr_buf_clear(&out);
  ASSERT_EQ_INT(sr_json_encode_rows(L, -1, 1, schema_of("xs array<long>"), &out, err, sizeof err), 0);
  ASSERT_TRUE(strncmp(out.data, "{\"xs\":[1,2,3,", 13) == 0);
  ASSERT_EQ_STR(out.data + out.len - 13, ",4999,5000]}\n");
  sr_buf_free(&out);
  lua_settop(L, 0);
}

int main(void) {
  sr_test_after_each = teardown;
  return SR_RUN(bid_with_schema, inferred_types, numbers_exact, doubles_match_strtod, shortest_double_text,
                strings_and_escapes, single_quotes, lines_blanks_crlf_bom, not_json_reasons,
                typed_values_and_reasons,
                typed_conversions, encode_rows_with_schema, encode_tables_and_strings, encode_errors,
                records_and_values, decode_column_in_place, int64_bridge, base64, lua_codec_library,
                remembered_keys, plain_integers, pieces_and_lines, encode_many_other_keys);
}
