/* libFuzzer: the JSON lines decoder (json_rows.h) with and without a schema, and the encoder on
** what it decoded: decoding never crashes, what is written back is valid UTF-8 JSON, and it
** reads back with the same schema as the same number of rows, none bad (a writer must not
** write what the readers refuse, such as a timestamp beyond their range). The first byte picks
** the schema and the line separator. */
#include "fuzz_common.h"
#include "json_rows.h"

static const char *const schemas[] = {
  NULL,
  "a long, b double, s string, t timestamp, d date, x binary, ok boolean",
  "s struct<x: long, y: array<string>, z: map<string, double>>, a array<array<long>>",
  "v string, i int, f float, n struct<t: timestamp, s: struct<u: string>>",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  lua_State *L = fuzz_lua();
  unsigned pick = data[0];
  const sr_schema *schema = schemas[pick % 4] ? fuzz_schema(schemas[pick % 4]) : NULL;
  sr_linesep ls;
  sr_linesep_set(&ls, (pick >> 2) % 3 == 1 ? "|" : (pick >> 2) % 3 == 2 ? "\r\n" : NULL, SR_LINESEP_MAX);
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  lua_newtable(L);
  int n = 0;
  int64_t nlines;
  sr_json_decode_piece_sep(L, 1, &n, text, len, schema, &ls, 1, "fuzz", 1, NULL, NULL, &nlines);
  sr_buf out = SR_BUF_INIT;
  char err[256];
  if (sr_json_encode_rows(L, 1, n, schema, &out, err, sizeof err) != 0) {
    fprintf(stderr, "cannot encode decoded rows: %s\n", err);
    abort();
  }
  fuzz_check_json_lines("json rows written", out.data, out.len);
  int back = 0;
  lua_newtable(L);
  int nbad = sr_json_decode_lines(L, 2, &back, out.data ? out.data : "", out.len, schema, "written", 1, NULL, NULL);
  if (nbad != 0 || back != n) {
    fprintf(stderr, "%d rows written, %d read back, %d bad: %.*s\n", n, back, nbad,
            (int)(out.len > 300 ? 300 : out.len), out.data ? out.data : "");
    abort();
  }
  lua_settop(L, 1);
  /* and a single value of any kind */
  if (sr_json_decode_value(L, text, len, err, sizeof err) == 0) {
    sr_buf_clear(&out);
    if (sr_json_encode_value(L, -1, &out, err, sizeof err) == 0)
      fuzz_check_json_lines("json value written", out.data, out.len);
  }
  sr_buf_free(&out);
  lua_settop(L, 0);
  lua_gc(L, LUA_GCSTEP, 100);
  return 0;
}
