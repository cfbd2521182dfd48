/* libFuzzer: the CSV decoder (csv_rows.h) under every option, and the CSV and JSON encoders on
** what it decoded: the CSV written reads back (with multiLine, for values holding line ends)
** with no bad record, and the JSON written is valid UTF-8 JSON. The first byte picks the
** schema, header, multiLine, separator and line separator. */
#include "csv_rows.h"
#include "fuzz_common.h"

static const char *const schemas[] = {
  NULL,
  "a long, b double, s string, t timestamp, d date, x binary, ok boolean",
  "s struct<x: string, y: array<string>>, a array<long>, m map<string, string>",
  "a string, b string, c string",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  lua_State *L = fuzz_lua();
  unsigned pick = data[0];
  const sr_schema *schema = schemas[pick & 3] ? fuzz_schema(schemas[pick & 3]) : NULL;
  sr_csv_options o;
  memset(&o, 0, sizeof o);
  o.header = pick >> 2 & 1;
  o.multiline = pick >> 3 & 1;
  o.sep = pick >> 4 & 1 ? ';' : ',';
  sr_linesep_set(&o.line_sep, (pick >> 5) % 4 == 1 ? "|" : (pick >> 5) % 4 == 2 ? "\r\n" : NULL, 2);
  lua_newtable(L);
  int n = 0;
  sr_csv_decode_lines(L, 1, &n, (const char *)data + 1, size - 1, schema, &o, "fuzz", 1, NULL, NULL);
  sr_buf out = SR_BUF_INIT;
  char err[256];
  if (sr_csv_encode_rows(L, 1, n, schema, &o, 1, &out, err, sizeof err) != 0) {
    fprintf(stderr, "cannot encode decoded rows as CSV: %s\n", err);
    abort();
  }
  sr_csv_options back_opts = o;
  back_opts.header = 1;
  back_opts.multiline = 1;
  memset(&back_opts.line_sep, 0, sizeof back_opts.line_sep);  /* the writer ends lines with "\n" */
  int back = 0;
  lua_newtable(L);
  int nbad = sr_csv_decode_lines(L, 2, &back, out.data ? out.data : "", out.len, schema, &back_opts,
                                 "written", 1, NULL, NULL);
  if (nbad != 0) {
    fprintf(stderr, "the CSV written has %d bad records: %.*s\n", nbad, (int)(out.len > 300 ? 300 : out.len),
            out.data);
    abort();
  }
  lua_settop(L, 1);
  sr_buf_clear(&out);
  if (sr_json_encode_rows(L, 1, n, schema, &out, err, sizeof err) != 0) {
    fprintf(stderr, "cannot encode decoded rows as JSON: %s\n", err);
    abort();
  }
  fuzz_check_json_lines("csv rows written as json", out.data, out.len);
  sr_buf_free(&out);
  lua_settop(L, 0);
  lua_gc(L, LUA_GCSTEP, 100);
  return 0;
}
