/* CSV <-> Lua rows (csv_rows.h): RFC 4180 quoting, headers, typing by the schema, bad records,
** and writing back. Rows are compared as to_json text (sorted keys). */
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "csv_rows.h"
#include "lua_codec.h"
#include "codec_test.h"

static int multiline;    /* decode_opts: the multiLine option */
static const char *line_sep; /* decode_opts: the lineSep option (NULL: the default ends) */

static const char *decode_opts(const char *text, const char *ddl, char sep, int header, int64_t first_line,
                               bads *b) {
  const sr_schema *s = schema_of(ddl);
  sr_csv_options o = {sep, header, multiline, {0, {0}}};
  ASSERT_EQ_INT(sr_linesep_set(&o.line_sep, line_sep, 2), 0);
  int top = lua_gettop(L);
  lua_newtable(L);
  int n = 0;
  memset(b, 0, sizeof *b);
  int nbad = sr_csv_decode_lines(L, -1, &n, text, strlen(text), s, &o, "in.csv", first_line, collect_bad, b);
  ASSERT_EQ_INT(nbad, b->n);
  ASSERT_EQ_INT(lua_gettop(L), top + 1);
  ASSERT_EQ_INT((int)lua_objlen(L, -1), n);
  lua_pushvalue(L, -1);
  lua_setglobal(L, "rows");
  if (n == 0) {
    lua_pop(L, 1);
    return "[]";
  }
  return top_json();
}

static const char *decode(const char *text, const char *ddl, int header, bads *b) {
  return decode_opts(text, ddl, ',', header, 1, b);
}

static void expect_bad(const char *ddl, const char *text, const char *reason) {
  bads b;
  const char *rows = decode(text, ddl, 0, &b);
  if (b.n != 1) SR_FAIL("%s: expected 1 bad record, got %d (rows %s)", text, b.n, rows);
  ASSERT_EQ_STR(rows, "[]");
  ASSERT_EQ_STR(b.reasons[0], reason);
}

SR_TEST(header_maps_names_to_schema) {
  setup();
  bads b;
  /* header order differs from the schema; "extra" is ignored; "missing" stays nil */
  ASSERT_EQ_STR(decode("price,extra,auction\r\n5871.5,x,1000\r\n12,y,1001\r\n", "auction long, price double, missing string", 1, &b),
                "[{\"auction\":1000,\"price\":5871.5},{\"auction\":1001,\"price\":12}]");
  ASSERT_EQ_INT(b.n, 0);
  /* no schema: every column a string named by the header; short records have nils, long ones lose the rest */
  ASSERT_EQ_STR(decode("a,b,c\n1,2,3\n4\n5,6,7,8\n", NULL, 1, &b),
                "[{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"},{\"a\":\"4\"},{\"a\":\"5\",\"b\":\"6\",\"c\":\"7\"}]");
  /* a buffer that is not a file's start has no header line */
  ASSERT_EQ_STR(decode_opts("1000,5\n", "auction long, price double", ',', 1, 40, &b),
                "[{\"auction\":1000,\"price\":5}]");
  /* a BOM before the header */
  ASSERT_EQ_STR(decode("\xEF\xBB\xBF" "id\n7\n", "id long", 1, &b), "[{\"id\":7}]");
}

SR_TEST(no_schema_no_header) {
  setup();
  bads b;
  ASSERT_EQ_STR(decode("a,b\nc\nd,e,f\n", NULL, 0, &b),
                "[{\"_c0\":\"a\",\"_c1\":\"b\"},{\"_c0\":\"c\"},{\"_c0\":\"d\",\"_c1\":\"e\",\"_c2\":\"f\"}]");
  /* by position with a schema; extra fields dropped, missing ones nil */
  ASSERT_EQ_STR(decode("1,x,9\n2\n", "id long, name string", 0, &b), "[{\"id\":1,\"name\":\"x\"},{\"id\":2}]");
}

SR_TEST(quoting) {
  setup();
  bads b;
  const char *text =
    "\"a,b\",\"he said \"\"hi\"\"\",plain\n"
    "\"two\nlines\",\"\",\n"
    "\"crlf\r\ninside\",x\"y,\"\"\"\"\r\n"
    "\n"
    "last,,\"no newline\"";
  multiline = 1;
  ASSERT_EQ_STR(decode(text, NULL, 0, &b),
                "[{\"_c0\":\"a,b\",\"_c1\":\"he said \\\"hi\\\"\",\"_c2\":\"plain\"},"
                "{\"_c0\":\"two\\nlines\",\"_c1\":\"\"},"
                "{\"_c0\":\"crlf\\r\\ninside\",\"_c1\":\"x\\\"y\",\"_c2\":\"\\\"\"},"
                "{\"_c0\":\"last\",\"_c2\":\"no newline\"}]");
  ASSERT_EQ_INT(b.n, 0);
  /* line numbers of bad records account for newlines inside quotes */
  ASSERT_EQ_STR(decode("id\n\"1\n2\",x\n3\nbad\n", "id long", 1, &b), "[{\"id\":3}]");
  ASSERT_EQ_INT(b.n, 2);
  ASSERT_EQ_INT(b.lines[0], 2);
  ASSERT_EQ_STR(b.records[0], "\"1\n2\",x");
  ASSERT_EQ_STR(b.reasons[0], "column id: expected long, got \"1\n2\"");
  ASSERT_EQ_INT(b.lines[1], 5);
  ASSERT_EQ_STR(b.records[1], "bad");
  expect_bad(NULL, "\"abc\"x,1", "not CSV: unexpected text after a closing quote at byte 6");
  expect_bad(NULL, "\"unterminated,1\n2,3\n",
             "not CSV: unterminated quoted field starting at byte 1 (it runs to the end of the file)");
  multiline = 0;
  /* the record after a bad quote is still read */
  ASSERT_EQ_STR(decode("\"a\"b,1\nc,2\n", NULL, 0, &b), "[{\"_c0\":\"c\",\"_c1\":\"2\"}]");
  ASSERT_EQ_INT(b.n, 1);
  ASSERT_EQ_STR(b.records[0], "\"a\"b,1");
  /* other separators */
  ASSERT_EQ_STR(decode_opts("a;\"b;c\"\n1\t2\n", NULL, ';', 0, 1, &b),
                "[{\"_c0\":\"a\",\"_c1\":\"b;c\"},{\"_c0\":\"1\\t2\"}]");
  ASSERT_EQ_STR(decode_opts("1\t2\n", "a long, b long", '\t', 0, 1, &b), "[{\"a\":1,\"b\":2}]");
}

/* Line ends as Spark's reader finds them: "\n", "\r\n" or a lone "\r"; or lineSep exactly. */
SR_TEST(line_ends) {
  setup();
  bads b;
  ASSERT_EQ_STR(decode("id,name\r1,a\r2,b\r", "id long, name string", 1, &b),
                "[{\"id\":1,\"name\":\"a\"},{\"id\":2,\"name\":\"b\"}]");
  ASSERT_EQ_INT(b.n, 0);
  ASSERT_EQ_STR(decode("a,b\rc,d\r\ne,f\n\r\rg", NULL, 0, &b),
                "[{\"_c0\":\"a\",\"_c1\":\"b\"},{\"_c0\":\"c\",\"_c1\":\"d\"},"
                "{\"_c0\":\"e\",\"_c1\":\"f\"},{\"_c0\":\"g\"}]");
  /* line numbers count lone CRs */
  ASSERT_EQ_STR(decode("n\r1\rx\r3", "n long", 1, &b), "[{\"n\":1},{\"n\":3}]");
  ASSERT_EQ_INT(b.n, 1);
  ASSERT_EQ_INT(b.lines[0], 3);
  ASSERT_EQ_STR(b.records[0], "x");
  /* multiLine: a CR inside quotes stays; the lone CR after the record ends it */
  multiline = 1;
  ASSERT_EQ_STR(decode("\"a\rb\",1\r2,3", NULL, 0, &b),
                "[{\"_c0\":\"a\\rb\",\"_c1\":\"1\"},{\"_c0\":\"2\",\"_c1\":\"3\"}]");
  multiline = 0;
  /* lineSep: only its bytes end a line; "\n" is then data */
  line_sep = "|";
  ASSERT_EQ_STR(decode("a,b|c\nd,e|", NULL, 0, &b),
                "[{\"_c0\":\"a\",\"_c1\":\"b\"},{\"_c0\":\"c\\nd\",\"_c1\":\"e\"}]");
  line_sep = "\r\n";
  ASSERT_EQ_STR(decode("a\rb,c\r\nd\r\n", NULL, 0, &b),
                "[{\"_c0\":\"a\\rb\",\"_c1\":\"c\"},{\"_c0\":\"d\"}]");
  line_sep = NULL;
  sr_linesep ls;
  ASSERT_EQ_INT(sr_linesep_set(&ls, "", 2), -1);
  ASSERT_EQ_INT(sr_linesep_set(&ls, "abc", 2), -1);
}

/* Without multiLine a record is one line: an open quote does not swallow the lines after it. */
SR_TEST(unterminated_quote_ends_at_line_end) {
  setup();
  bads b;
  ASSERT_EQ_STR(decode("id,name\n1,\"open\n2,b\n3,c\n", "id long, name string", 1, &b),
                "[{\"id\":2,\"name\":\"b\"},{\"id\":3,\"name\":\"c\"}]");
  ASSERT_EQ_INT(b.n, 1);
  ASSERT_EQ_INT(b.lines[0], 2);
  ASSERT_EQ_STR(b.records[0], "1,\"open");
  ASSERT_EQ_STR(b.reasons[0], "not CSV: unterminated quoted field starting at byte 3 (without multiLine a record "
                              "ends at its line end)");
  /* a quoted value spanning lines is two records, as in Spark without multiLine */
  ASSERT_EQ_STR(decode("\"a\nb\",c\n", NULL, 0, &b), "[{\"_c0\":\"b\\\"\",\"_c1\":\"c\"}]");
  ASSERT_EQ_INT(b.n, 1);
  /* with multiLine the open quote runs to the end of the file: one bad record, said so */
  multiline = 1;
  ASSERT_EQ_STR(decode("1,\"open\n2,b\n", NULL, 0, &b), "[]");
  ASSERT_EQ_INT(b.n, 1);
  ASSERT_EQ_STR(b.records[0], "1,\"open\n2,b\n");
  multiline = 0;
}

/* Header names made safe as Spark's CSVUtils.makeSafeHeader: duplicates (any case) get their
** index appended, empty names are _c<index>. */
SR_TEST(duplicate_header_names) {
  setup();
  bads b;
  ASSERT_EQ_STR(decode("a,b,A,,b,c\n1,2,3,4,5,6\n", NULL, 1, &b),
                "[{\"A2\":\"3\",\"_c3\":\"4\",\"a0\":\"1\",\"b1\":\"2\",\"b4\":\"5\",\"c\":\"6\"}]");
  ASSERT_EQ_STR(decode("a0,a,a\n1,2,3\n", "a0 long, a long, a2 long", 1, &b),
                "[{\"a0\":1,\"a2\":3}]");
  ASSERT_EQ_INT(b.n, 0);
}

SR_TEST(typed_values) {
  setup();
  bads b;
  ASSERT_EQ_STR(decode("-5,+7,2.5e1,TRUE,2026-11-23 10:00:00,2026-11-23,aGk=,\"[1,2]\",\"{\"\"x\"\":1}\",.5,NaN\n"
                       "9223372036854775807,0,-0.0,false,1700000000.5,-1,,[],{},5.,-Infinity\n",
                       "l long, i int, d double, b boolean, t timestamp, dt date, bin binary, arr array<long>, "
                       "st struct<x: long>, d2 double, d3 double", 0, &b),
                "[{\"arr\":[1,2],\"b\":true,\"bin\":\"hi\",\"d\":25,\"d2\":0.5,\"d3\":\"NaN\",\"dt\":20780,\"i\":7,"
                "\"l\":-5,\"st\":{\"x\":1},\"t\":1795428000000},"
                "{\"arr\":{},\"b\":false,\"d\":-0,\"d2\":5,\"d3\":\"-Infinity\",\"dt\":-1,\"i\":0,"
                "\"l\":9223372036854775807,\"st\":{},\"t\":1700000000500}]");
  ASSERT_EQ_INT(b.n, 0);
  LUA_RUN("assert(type(rows[2].l) == 'cdata' and rows[2].l == 9223372036854775807LL)");
  /* quoted empty is the empty string, unquoted empty is null */
  ASSERT_EQ_STR(decode("\"\",\n", "a string, b string", 0, &b), "[{\"a\":\"\"}]");
  expect_bad("price double", "abc", "column price: expected double, got \"abc\"");
  expect_bad("price double", "0x10", "column price: expected double, got \"0x10\"");
}

/* A struct or array cell holding a JSON string with escapes: the cell's "" pairs are undone into
** one buffer and the string's escapes into another (they shared one: an overlapping copy). */
SR_TEST(json_cell_with_escapes) {
  setup();
  bads b;
  ASSERT_EQ_STR(decode("\"{\"\"x\"\":\"\"a long enough text\\nb\\u00e9\\\"\"c\"\"}\",\"[\"\"\\td\"\"]\"\n",
                       "s struct<x: string>, a array<string>", 0, &b),
                "[{\"a\":[\"\\td\"],\"s\":{\"x\":\"a long enough text\\nb\u00e9\\\"c\"}}]");
  ASSERT_EQ_INT(b.n, 0);
}

/* Invalid UTF-8 becomes U+FFFD, as when Spark decodes a line into a String; so does a Lua string
** written out. */
SR_TEST(invalid_utf8_replaced) {
  setup();
  bads b;
  ASSERT_EQ_STR(decode("n\xff\n\xc3\xa9\xc3,\"{\"\"x\"\":\"\"\xe2\x82\"\"}\"\n", "n string, s struct<x: string>", 0, &b),
                "[{\"n\":\"n\xEF\xBF\xBD\"},{\"n\":\"\xC3\xA9\xEF\xBF\xBD\",\"s\":{\"x\":\"\xEF\xBF\xBD\"}}]");
  ASSERT_EQ_STR(decode("a\xfe,b\n1,2\n", NULL, 1, &b), "[{\"a\xEF\xBF\xBD\":\"1\",\"b\":\"2\"}]");
  LUA_RUN("assert(codec.encode_csv_rows({ { a = 'x\\255' } }, 1, 'a string') == 'x\\239\\191\\189\\n')");
}

SR_TEST(typed_reasons) {
  setup();
  expect_bad("n long", "1.5", "column n: expected long, got \"1.5\"");
  expect_bad("n long", " 1", "column n: expected long, got \" 1\"");
  expect_bad("n long", "9223372036854775808", "column n: expected long, got \"9223372036854775808\" (out of range)");
  expect_bad("n long", "99999999999999999999999", "column n: expected long, got \"99999999999999999999999\" (out of range)");
  expect_bad("n int", "2147483648", "column n: expected int, got \"2147483648\" (out of range)");
  expect_bad("b boolean", "yes", "column b: expected boolean, got \"yes\"");
  expect_bad("t timestamp", "tomorrow", "column t: expected timestamp, got \"tomorrow\"");
  expect_bad("t timestamp", "100000000000000", "column t: expected timestamp, got \"100000000000000\"");
  expect_bad("d date", "2026-13-01", "column d: expected date, got \"2026-13-01\"");
  expect_bad("x binary", "***", "column x: expected binary, got \"***\" (not base64)");
  expect_bad("a array<long>", "\"[1,\"\"x\"\"]\"", "column a[2]: expected long, got string \"x\"");
  expect_bad("s struct<x: long>", "nope", "not JSON: invalid value at byte 1");
  expect_bad("a long, b double", "1,x", "column b: expected double, got \"x\"");
}

SR_TEST(encode_and_round_trip) {
  setup();
  LUA_RUN("rows = { { id = 1, name = 'a,b', note = 'say \"hi\"', t = 1795428000001, d = 20780, x = 0.1,\n"
          "           tags = { 1, 2 }, s = { k = 'v' }, bin = 'hi', empty = '', ok = true, big = 9007199254740993LL },\n"
          "         { id = 2, name = 'two\\nlines', t = -1 } }");
  const sr_schema *s = schema_of("id long, name string, note string, t timestamp, d date, x double, "
                                 "tags array<long>, s struct<k: string>, bin binary, empty string, ok boolean, big long");
  lua_getglobal(L, "rows");
  sr_buf out = SR_BUF_INIT;
  char err[256];
  sr_csv_options o = {',', 1, 0, {0, {0}}};
  int top = lua_gettop(L);
  ASSERT_EQ_INT(sr_csv_encode_rows(L, -1, 2, s, &o, 1, &out, err, sizeof err), 0);
  ASSERT_EQ_INT(lua_gettop(L), top);
  const char *want =
    "id,name,note,t,d,x,tags,s,bin,empty,ok,big\n"
    "1,\"a,b\",\"say \"\"hi\"\"\",2026-11-23T10:00:00.001Z,2026-11-23,0.1,\"[1,2]\",\"{\"\"k\"\":\"\"v\"\"}\",aGk=,\"\",true,9007199254740993\n"
    "2,\"two\nlines\",,1969-12-31T23:59:59.999Z,,,,,,,,\n";
  ASSERT_EQ_STR(out.data, want);
  /* and it reads back to the same rows (with multiLine, as in Spark, for the value with a line end) */
  o.multiline = 1;
  lua_newtable(L);
  int n = 0;
  ASSERT_EQ_INT(sr_csv_decode_lines(L, -1, &n, out.data, out.len, s, &o, "rt", 1, NULL, NULL), 0);
  ASSERT_EQ_INT(n, 2);
  lua_setglobal(L, "back");
  LUA_RUN("local a, b = codec.to_json(rows), codec.to_json(back); assert(a == b, a .. ' ~= ' .. b)");
  /* without a schema: the sorted keys of the first row; other separators; no header */
  LUA_RUN("plain = { { b = 'x;y', a = 1.5 }, { a = 2, c = 'ignored' } }");
  lua_getglobal(L, "plain");
  sr_buf_clear(&out);
  sr_csv_options semi = {';', 0, 0, {0, {0}}};
  ASSERT_EQ_INT(sr_csv_encode_rows(L, -1, 2, NULL, &semi, 1, &out, err, sizeof err), 0);
  ASSERT_EQ_STR(out.data, "a;b\n1.5;\"x;y\"\n2;\n");
  sr_buf_clear(&out);
  ASSERT_EQ_INT(sr_csv_encode_rows(L, -1, 2, NULL, &semi, 0, &out, err, sizeof err), 0);
  ASSERT_EQ_STR(out.data, "1.5;\"x;y\"\n2;\n");
  sr_buf_clear(&out);
  ASSERT_EQ_INT(sr_csv_encode_rows(L, -1, 0, NULL, &semi, 1, &out, err, sizeof err), 0);
  ASSERT_EQ_INT(out.len, 0);
  lua_settop(L, 0);
  /* errors name the row and column; earlier rows stay */
  LUA_RUN("rows = { { a = 1 }, { a = print } }");
  lua_getglobal(L, "rows");
  sr_buf_clear(&out);
  ASSERT_EQ_INT(sr_csv_encode_rows(L, -1, 2, schema_of("a long"), NULL, 0, &out, err, sizeof err), -1);
  ASSERT_EQ_STR(err, "row 2, column a: cannot encode a function value");
  ASSERT_EQ_STR(out.data, "1\n");
  LUA_RUN("rows = { 'x' }");
  lua_getglobal(L, "rows");
  ASSERT_EQ_INT(sr_csv_encode_rows(L, -1, 1, schema_of("a long"), NULL, 0, &out, err, sizeof err), -1);
  ASSERT_EQ_STR(err, "row 1: not a table but a string");
  sr_buf_free(&out);
  lua_settop(L, 0);
}

/* Given columns (a sink's fixed output columns): exactly those, in that order; a column the
** hint schema types is typed (timestamps ISO), another written as its Lua value; keys not
** among them are not written. */
SR_TEST(encode_named_columns) {
  setup();
  LUA_RUN("rows = { { t = 1795428000001, cost = 2.5, twice = 5, extra = 'x' }, { cost = 4, twice = true } }");
  lua_getglobal(L, "rows");
  static const char *const names[] = {"twice", "t", "cost", NULL};
  sr_buf out = SR_BUF_INIT;
  char err[256];
  sr_csv_options o = {.sep = ',', .header = 1};
  int top = lua_gettop(L);
  ASSERT_EQ_INT(sr_csv_encode_named(L, -1, 2, names, 3, schema_of("t timestamp, id long"), &o, 1, &out,
                                    err, sizeof err), 0);
  ASSERT_EQ_INT(lua_gettop(L), top);
  ASSERT_EQ_STR(out.data, "twice,t,cost\n5,2026-11-23T10:00:00.001Z,2.5\ntrue,,4\n");
  /* no hint schema; no columns at all: empty lines, one per row */
  sr_buf_clear(&out);
  ASSERT_EQ_INT(sr_csv_encode_named(L, -1, 2, names, 1, NULL, &o, 0, &out, err, sizeof err), 0);
  ASSERT_EQ_STR(out.data, "5\ntrue\n");
  sr_buf_clear(&out);
  ASSERT_EQ_INT(sr_csv_encode_named(L, -1, 2, names + 3, 0, NULL, &o, 0, &out, err, sizeof err), 0);
  ASSERT_EQ_STR(out.data, "\n\n");
  sr_buf_free(&out);
  lua_settop(L, 0);
}

SR_TEST(lua_functions) {
  setup();
  LUA_RUN("local rows, bad = {}, {}\n"
          "local n, nbad = codec.decode_csv_lines(rows, 0, 'a;b\\n1;2\\nx;3\\n', 'a long, b long', { sep = ';', header = true },\n"
          "  'f.csv', 1, function(o, line, rec, why) bad[#bad + 1] = line .. ': ' .. why end)\n"
          "assert(n == 1 and nbad == 1 and rows[1].a == 1 and rows[1].b == 2)\n"
          "assert(bad[1] == '3: column a: expected long, got \"x\"', bad[1])\n"
          "assert(codec.encode_csv_rows(rows, 1, 'b long, a long', { header = true }) == 'b,a\\n2,1\\n')\n"
          "assert(not pcall(codec.decode_csv_lines, {}, 0, 'x', nil, { sep = ';;' }))");
}

int main(void) {
  sr_test_after_each = teardown;
  return SR_RUN(header_maps_names_to_schema, no_schema_no_header, quoting, line_ends,
                unterminated_quote_ends_at_line_end, duplicate_header_names, typed_values,
                json_cell_with_escapes, invalid_utf8_replaced, typed_reasons, encode_and_round_trip,
                encode_named_columns, lua_functions);
}
