/* The json file source (source_files.c: files read and decoded in pieces), the text source's
** row view (its files mapped, a record per line), the json file sink
** (sink_files.c: the hidden file, the rename, the batch log) and fsutil's in-place synced write,
** driven through their connector structs as the engine drives them. */
#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bad_records.h"
#include "buf.h"
#include "connector.h"
#include "fsutil.h"
#include "lua_codec.h"
#include "sr_test.h"

extern const sr_source_ops sr_source_json;
extern const sr_source_ops sr_source_text;
extern const sr_sink_ops sr_sink_json;

/* Opens a file source over the options (path, ...) as an availableNow query's engine does. */
static void open_source(sr_source *src, const sr_source_ops *ops, sr_options *opts,
                        const char *state_dir, const sr_schema *schema, sr_bad_records *bad) {
  memset(src, 0, sizeof *src);
  src->ops = ops;
  src->available_now = 1;
  src->cfg.options = opts;
  src->cfg.state_dir = state_dir;
  src->cfg.schema = schema;
  src->cfg.bad = bad;
  sr_error *err = NULL;
  if (sr_options_check(opts, ops->options, NULL, ops->name, &err) != SR_OK ||
      ops->open(src, &src->cfg, &err) != SR_OK)
    SR_FAIL("open: %s", err->message);
}

static char *new_dir(void) {
  char *dir = strdup("/tmp/sr_test_files_XXXXXX");
  if (!mkdtemp(dir)) SR_FAIL("mkdtemp failed");
  return dir;
}

static void remove_dir(char *dir) {
  sr_fs_remove_tree(dir, NULL);
  free(dir);
}

static void write_file(const char *path, const char *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) SR_FAIL("cannot write %s", path);
}

static char *read_text(const char *path) {
  size_t len;
  char *text = sr_fs_read_all(path, &len, NULL);
  if (!text) SR_FAIL("cannot read %s", path);
  return text;
}

/* dir/name holds exactly want. */
static void assert_file_text(const char *dir, const char *name, const char *want) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  char *text = read_text(path);
  ASSERT_EQ_STR(text, want);
  free(text);
}

/* dir/name is a checked file with that tag whose body is exactly want. */
static void assert_checked_text(const char *dir, const char *name, const char *tag, const char *want) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  sr_error *err = NULL;
  int checked;
  char *text = sr_fs_read_checked(path, tag, NULL, &checked, &err);
  if (!text) SR_FAIL("%s: %s", path, err->message);
  ASSERT_EQ_INT(checked, 1);
  ASSERT_EQ_STR(text, want);
  free(text);
}

/* The names in dir, sorted, joined by spaces. */
static const char *listing(const char *dir) {
  static char out[4096];
  char *names[64];
  int n = 0;
  DIR *d = opendir(dir);
  if (!d) SR_FAIL("cannot list %s", dir);
  for (struct dirent *de; (de = readdir(d)) && n < 64;)
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) names[n++] = strdup(de->d_name);
  closedir(d);
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
      char *t = names[j]; names[j] = names[j - 1]; names[j - 1] = t;
    }
  out[0] = '\0';
  for (int i = 0; i < n; i++) {
    snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? " " : "", names[i]);
    free(names[i]);
  }
  return out;
}

static const sr_schema *schema_of(lua_State *L, const char *ddl) {
  lua_getglobal(L, "codec");
  lua_getfield(L, -1, "schema");
  lua_pushstring(L, ddl);
  if (lua_pcall(L, 1, 1, 0) != 0) SR_FAIL("schema: %s", lua_tostring(L, -1));
  const sr_schema *s = sr_lua_checkschema(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, ddl);
  lua_pop(L, 1);
  return s;
}

/* The json source on `in` (schema as DDL), its first batch planned and read into the global
** `rows`: returns the row count and sets *end. The caller closes src, frees *opts and
** releases *end. */
static int read_json_batch(lua_State *L, sr_source *src, sr_options **opts, const char *in,
                           const char *state, const char *schema, sr_bad_records *bad, json_t **end) {
  *opts = sr_options_new();
  sr_options_set(*opts, "path", in);
  open_source(src, &sr_source_json, *opts, state, schema_of(L, schema), bad);
  sr_error *err = NULL;
  *end = NULL;
  if (sr_source_json.plan(src, NULL, end, &err) != SR_OK || !*end)
    SR_FAIL("plan: %s", err ? err->message : "no data");
  sr_bad_records_begin(bad, 0);
  lua_newtable(L);
  int n = 0;
  if (sr_source_json.read(src, NULL, *end, L, -1, &n, &err) != SR_OK) SR_FAIL("read: %s", err->message);
  lua_setglobal(L, "rows");
  return n;
}

static lua_State *new_lua(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  sr_open_codec_lib(L);
  lua_setglobal(L, "codec");
  return L;
}

/* Makes DIR/in (the source's directory) and DIR/state (its checkpoint folder). */
static void make_in_and_state(const char *dir, char *in, char *state, size_t size) {
  snprintf(in, size, "%s/in", dir);
  snprintf(state, size, "%s/state", dir);
  sr_fs_mkdirs(in, NULL);
  sr_fs_mkdirs(state, NULL);
}

/* A file of several read pieces (256 KB each): short lines, a line longer than a piece, CRLF
** line ends, blank lines, bad records in later pieces (their line numbers count from the
** file's start), and a last line without '\n'. */
SR_TEST(json_source_reads_files_in_pieces) {
  char *dir = new_dir(), in[256], state[256], bad_dir[256], path[512];
  make_in_and_state(dir, in, state, sizeof in);
  snprintf(bad_dir, sizeof bad_dir, "%s/bad", dir);
  sr_buf text = SR_BUF_INIT;
  int64_t want_sum = 0, nrows = 0, line = 0, bad_lines[2];
  for (int i = 0; i < 9000; i++) {  /* about 1 MB */
    line++;
    if (i == 4000) {
      sr_buf_puts(&text, "{\"id\": 4000, \"s\": \"");
      for (int k = 0; k < 300000; k++) sr_buf_putc(&text, (char)('a' + k % 26));
      sr_buf_puts(&text, "\"}\n");
    } else if (i == 6000 || i == 8500) {
      bad_lines[i == 8500] = line;
      sr_buf_printf(&text, "{\"id\": \"bad %d\"}\n", i);
      continue;
    } else if (i % 1000 == 7) {
      sr_buf_puts(&text, "\r\n");  /* a blank line */
      continue;
    } else {
      sr_buf_printf(&text, "{\"id\": %d, \"s\": \"row %d with some text to make the line longer\"}%s", i, i,
                    i == 8999 ? "" : i % 3 ? "\n" : "\r\n");
    }
    want_sum += i;
    nrows++;
  }
  snprintf(path, sizeof path, "%s/a.json", in);
  write_file(path, text.data, text.len);
  snprintf(path, sizeof path, "%s/b.json", in);
  write_file(path, "{\"id\": 100000}\n", 15);
  want_sum += 100000;
  nrows++;

  lua_State *L = new_lua();
  sr_options *opts;
  sr_bad_records *bad = sr_bad_records_new(bad_dir);
  sr_source src;
  json_t *end;
  ASSERT_EQ_INT(read_json_batch(L, &src, &opts, in, state, "id long, s string", bad, &end), nrows);
  sr_error *err = NULL;
  if (luaL_dostring(L, "local sum, long = 0, 0\n"
                       "for _, r in ipairs(rows) do sum = sum + r.id; if r.id == 4000 then long = #r.s end end\n"
                       "return sum, long, rows[1].s, rows[#rows - 1].s") != 0)
    SR_FAIL("Lua: %s", lua_tostring(L, -1));
  ASSERT_EQ_INT(lua_tointeger(L, -4), want_sum);
  ASSERT_EQ_INT(lua_tointeger(L, -3), 300000);
  ASSERT_EQ_STR(lua_tostring(L, -2), "row 0 with some text to make the line longer");
  ASSERT_EQ_STR(lua_tostring(L, -1), "row 8999 with some text to make the line longer");
  lua_settop(L, 0);

  /* the bad records name the file and their lines */
  ASSERT_EQ_INT(sr_bad_records_count(bad), 2);
  if (sr_bad_records_flush(bad, &err) != SR_OK) SR_FAIL("flush: %s", err->message);
  snprintf(path, sizeof path, "%s/batch-0.jsonl", bad_dir);
  char *log = read_text(path), want[512];
  snprintf(want, sizeof want, "\"origin\":\"%s/a.json\",\"line\":%lld,", in, (long long)bad_lines[0]);
  if (!strstr(log, want)) SR_FAIL("%s not in %s", want, log);
  snprintf(want, sizeof want, "\"line\":%lld,\"batchId\":0,\"record\":\"{\\\"id\\\": \\\"bad 8500\\\"}\"",
           (long long)bad_lines[1]);
  if (!strstr(log, want)) SR_FAIL("%s not in %s", want, log);
  free(log);

  /* progress counts the bytes of both files */
  json_t *progress = json_object();
  sr_source_json.describe(&src, progress);
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(progress, "metrics"), "numBytesRead")),
                (int64_t)text.len + 15);
  json_decref(progress);

  /* a file gone after it was planned: the batch fails, saying so */
  snprintf(path, sizeof path, "%s/b.json", in);
  unlink(path);
  lua_newtable(L);
  int n = 0;
  ASSERT_EQ_INT(sr_source_json.read(&src, NULL, end, L, -1, &n, &err), SR_ERROR);
  if (!strstr(err->message, "a file of this batch is gone") || !strstr(err->message, "b.json"))
    SR_FAIL("unexpected error: %s", err->message);
  sr_error_free(err);
  lua_settop(L, 0);

  json_decref(end);
  sr_source_json.close(&src);
  sr_bad_records_free(bad);
  sr_options_free(opts);
  sr_buf_free(&text);
  lua_close(L);
  remove_dir(dir);
}

/* The records' lines as "[line]" strings, one after another. */
static const char *view_lines(const sr_row_view *v) {
  static sr_buf out = SR_BUF_INIT;
  out.len = 0;
  const sr_view_text *lines = v->records;
  for (int i = 0; i < v->count; i++) {
    sr_buf_putc(&out, '[');
    sr_buf_append(&out, lines[i].ptr, lines[i].len);
    sr_buf_putc(&out, ']');
  }
  return sr_buf_cstr(&out);
}

/* text: a record per line without its line end, a last line without one kept, an empty file
** adding nothing; the columns C reads; the same records again for a replay of the range; a
** batch whose file is gone fails naming it. */
static void text_source_view(void) {
  char *dir = new_dir(), in[1024], state[1024], path[1100];
  make_in_and_state(dir, in, state, sizeof in);
  snprintf(path, sizeof path, "%s/a.txt", in);
  write_file(path, "one\r\ntwo\n\nthree", 15);
  snprintf(path, sizeof path, "%s/b.txt", in);
  write_file(path, "", 0);
  snprintf(path, sizeof path, "%s/c.txt", in);
  write_file(path, "\xc3\xbc\n", 3);

  sr_options *opts = sr_options_new();
  sr_options_set(opts, "path", in);
  sr_source src;
  open_source(&src, &sr_source_text, opts, state, NULL, NULL);
  sr_error *err = NULL;
  ASSERT_TRUE(sr_source_text.read == NULL && sr_source_text.read_view != NULL);
  json_t *end = NULL;
  if (sr_source_text.plan(&src, NULL, &end, &err) != SR_OK || !end) SR_FAIL("plan: %s", err ? err->message : "no data");
  sr_row_view view = {0};
  if (sr_source_text.read_view(&src, NULL, end, &view, &err) != SR_OK) SR_FAIL("read: %s", err->message);
  ASSERT_EQ_STR(view_lines(&view), "[one][two][][three][\xc3\xbc]");
  ASSERT_EQ_INT((int64_t)view.record_size, (int64_t)sizeof(sr_view_text));
  ASSERT_EQ_STR(view.columns[0].name, "value");
  ASSERT_EQ_INT(view.columns[0].type, SR_VIEW_TEXT);
  ASSERT_TRUE(view.columns[1].name == NULL);
  json_t *progress = json_object();
  sr_source_text.describe(&src, progress);
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(progress, "metrics"), "numBytesRead")), 18);
  json_decref(progress);

  /* a replay reads the same records (the earlier ones are unmapped: the view lives until the
  ** next read) */
  memset(&view, 0, sizeof view);
  if (sr_source_text.read_view(&src, NULL, end, &view, &err) != SR_OK) SR_FAIL("replay: %s", err->message);
  ASSERT_EQ_STR(view_lines(&view), "[one][two][][three][\xc3\xbc]");

  snprintf(path, sizeof path, "%s/c.txt", in);
  unlink(path);
  ASSERT_EQ_INT(sr_source_text.read_view(&src, NULL, end, &view, &err), SR_ERROR);
  if (!strstr(err->message, "a file of this batch is gone") || !strstr(err->message, "c.txt"))
    SR_FAIL("unexpected error: %s", err->message);
  sr_error_free(err);
  json_decref(end);
  sr_source_text.close(&src);
  sr_options_free(opts);
  remove_dir(dir);
}

/* Line ends as Spark's readers find them: "\n", "\r\n" or a lone "\r", or exactly lineSep. The
** JSON file is read in pieces of 256 KiB and one "\r\n" falls across two pieces: the line after
** it keeps its number. */
SR_TEST(cr_line_ends_and_line_sep) {
  char *dir = new_dir(), in[256], state[256], bad_dir[256], path[512];
  make_in_and_state(dir, in, state, sizeof in);
  snprintf(bad_dir, sizeof bad_dir, "%s/bad", dir);
  sr_buf text = SR_BUF_INIT;
  sr_buf_putc(&text, '\n');  /* line 1 blank: record k (from 1) is line k + 1, 16 bytes each */
  int64_t want_sum = 0;
  for (int k = 1; k <= 20000; k++) {
    if (k == 16390) sr_buf_puts(&text, "{\"id\":\"bad01\"}\r\n");
    else sr_buf_printf(&text, "{\"id\":%-7d}\r\n", k), want_sum += k;
  }
  ASSERT_EQ_INT(text.data[262143], '\r');
  ASSERT_EQ_INT(text.data[262144], '\n');
  for (int k = 0; k < 100; k++) sr_buf_printf(&text, "{\"id\":%d}\r", 1000000 + k), want_sum += 1000000 + k;
  snprintf(path, sizeof path, "%s/a.json", in);
  write_file(path, text.data, text.len);

  lua_State *L = new_lua();
  sr_options *opts;
  sr_bad_records *bad = sr_bad_records_new(bad_dir);
  sr_source src;
  json_t *end;
  ASSERT_EQ_INT(read_json_batch(L, &src, &opts, in, state, "id long", bad, &end), 20099);
  sr_error *err = NULL;
  if (luaL_dostring(L, "local sum = 0 for _, r in ipairs(rows) do sum = sum + r.id end return sum") != 0)
    SR_FAIL("Lua: %s", lua_tostring(L, -1));
  ASSERT_EQ_INT(lua_tointeger(L, -1), want_sum);
  lua_settop(L, 0);
  ASSERT_EQ_INT(sr_bad_records_count(bad), 1);
  if (sr_bad_records_flush(bad, &err) != SR_OK) SR_FAIL("flush: %s", err->message);
  snprintf(path, sizeof path, "%s/batch-0.jsonl", bad_dir);
  char *log = read_text(path);
  if (!strstr(log, "\"line\":16391,")) SR_FAIL("line 16391 not in %s", log);
  free(log);
  json_decref(end);
  sr_source_json.close(&src);
  sr_bad_records_free(bad);
  sr_options_free(opts);

  /* text: the default ends, then lineSep */
  char in2[300], state2[300];
  snprintf(in2, sizeof in2, "%s/text", dir);
  snprintf(state2, sizeof state2, "%s/text_state", dir);
  mkdir(in2, 0755);
  mkdir(state2, 0755);
  snprintf(path, sizeof path, "%s/a.txt", in2);
  write_file(path, "a\rb\r\nc\n\rd", 9);
  opts = sr_options_new();
  sr_options_set(opts, "path", in2);
  open_source(&src, &sr_source_text, opts, state2, NULL, NULL);
  sr_row_view view = {0};
  if (sr_source_text.plan(&src, NULL, &end, &err) != SR_OK || !end) SR_FAIL("plan: %s", err ? err->message : "no data");
  if (sr_source_text.read_view(&src, NULL, end, &view, &err) != SR_OK) SR_FAIL("read: %s", err->message);
  ASSERT_EQ_STR(view_lines(&view), "[a][b][c][][d]");
  json_decref(end);
  sr_source_text.close(&src);
  sr_options_free(opts);
  snprintf(path, sizeof path, "%s/b.txt", in2);
  write_file(path, "x|y\nz|", 6);
  snprintf(path, sizeof path, "%s/a.txt", in2);
  unlink(path);
  snprintf(state2, sizeof state2, "%s/text_state2", dir);
  mkdir(state2, 0755);
  opts = sr_options_new();
  sr_options_set(opts, "path", in2);
  sr_options_set(opts, "lineSep", "|");
  open_source(&src, &sr_source_text, opts, state2, NULL, NULL);
  if (sr_source_text.plan(&src, NULL, &end, &err) != SR_OK || !end) SR_FAIL("plan: %s", err ? err->message : "no data");
  if (sr_source_text.read_view(&src, NULL, end, &view, &err) != SR_OK) SR_FAIL("read: %s", err->message);
  ASSERT_EQ_STR(view_lines(&view), "[x][y\nz]");
  json_decref(end);
  sr_source_text.close(&src);
  sr_options_free(opts);
  sr_buf_free(&text);
  lua_close(L);
  remove_dir(dir);
}

/* A file of several megabytes. Changed after it was listed: one grown is read up to its
** listed size (a replay reads what the first run read); one cut short is an error naming it,
** never a half batch (nor, mapped, a SIGBUS). */
static void text_source_big_file(void) {
  char *dir = new_dir(), in[1024], state[1024], path[1100];
  make_in_and_state(dir, in, state, sizeof in);
  enum { BIG_LINES = 300000 };
  sr_buf big = {0};
  for (int i = 0; i < BIG_LINES; i++) {
    char line[32];
    int n = snprintf(line, sizeof line, "line %06d\n", i);
    sr_buf_append(&big, line, (size_t)n);
  }
  snprintf(path, sizeof path, "%s/d.txt", in);
  write_file(path, big.data, big.len);
  sr_buf_free(&big);

  sr_options *opts = sr_options_new();
  sr_options_set(opts, "path", in);
  sr_source src;
  open_source(&src, &sr_source_text, opts, state, NULL, NULL);
  sr_error *err = NULL;
  json_t *end = NULL;
  if (sr_source_text.plan(&src, NULL, &end, &err) != SR_OK || !end) SR_FAIL("plan: %s", err ? err->message : "no data");
  sr_row_view view = {0};
  if (sr_source_text.read_view(&src, NULL, end, &view, &err) != SR_OK) SR_FAIL("read: %s", err->message);
  ASSERT_EQ_INT(view.count, BIG_LINES);
  const sr_view_text *recs = view.records;
  ASSERT_TRUE(recs[0].len == 11 && memcmp(recs[0].ptr, "line 000000", 11) == 0);
  ASSERT_TRUE(recs[BIG_LINES - 1].len == 11 && memcmp(recs[BIG_LINES - 1].ptr, "line 299999", 11) == 0);

  FILE *f = fopen(path, "a");
  ASSERT_TRUE(f && fputs("appended later\n", f) >= 0 && fclose(f) == 0);
  memset(&view, 0, sizeof view);
  if (sr_source_text.read_view(&src, NULL, end, &view, &err) != SR_OK) SR_FAIL("replay: %s", err->message);
  ASSERT_EQ_INT(view.count, BIG_LINES);
  recs = view.records;
  ASSERT_TRUE(recs[BIG_LINES - 1].len == 11 && memcmp(recs[BIG_LINES - 1].ptr, "line 299999", 11) == 0);

  ASSERT_EQ_INT(truncate(path, 12 * 1000 + 5), 0);
  memset(&view, 0, sizeof view);
  ASSERT_EQ_INT(sr_source_text.read_view(&src, NULL, end, &view, &err), SR_ERROR);
  if (!strstr(err->message, "d.txt was truncated after it was listed") || !strstr(err->message, "3600000 bytes then, 12005 now"))
    SR_FAIL("unexpected error: %s", err->message);
  sr_error_free(err);

  json_decref(end);
  sr_source_text.close(&src);
  sr_options_free(opts);
  remove_dir(dir);
}

typedef struct test_sink {
  sr_sink sink;
  sr_options *opts;
} test_sink;

static void open_sink(test_sink *t, lua_State *L, const char *out) {
  memset(t, 0, sizeof *t);
  t->opts = sr_options_new();
  sr_options_set(t->opts, "path", out);
  t->sink.ops = &sr_sink_json;
  t->sink.cfg.options = t->opts;
  t->sink.cfg.query_id = "0123456789abcdef";
  t->sink.cfg.output_mode = "append";
  t->sink.cfg.schema = schema_of(L, "id long");
  sr_error *err = NULL;
  if (sr_sink_json.open(&t->sink, &t->sink.cfg, &err) != SR_OK) SR_FAIL("open: %s", err->message);
}

static void close_sink(test_sink *t) {
  sr_sink_json.close(&t->sink);
  sr_options_free(t->opts);
}

/* Writes the rows {id = first}, ..., {id = last} as batch_id. */
static void write_batch(test_sink *t, lua_State *L, int64_t batch_id, int first, int last) {
  lua_newtable(L);
  for (int i = first; i <= last; i++) {
    lua_createtable(L, 0, 1);
    lua_pushinteger(L, i);
    lua_setfield(L, -2, "id");
    lua_rawseti(L, -2, i - first + 1);
  }
  sr_error *err = NULL;
  if (sr_sink_json.write(&t->sink, batch_id, L, lua_gettop(L), last - first + 1, 0, &err) != SR_OK)
    SR_FAIL("write: %s", err->message);
  lua_pop(L, 1);
}

static void commit_batch(test_sink *t, int64_t batch_id) {
  sr_error *err = NULL;
  if (sr_sink_json.commit(&t->sink, batch_id, &err) != SR_OK) SR_FAIL("commit: %s", err->message);
}

/* write() leaves only the hidden file (no temp files), commit() makes it part-N and logs N;
** a replay of a committed batch changes nothing, and a batch rewritten after a crash before its
** commit holds only the new rows. */
SR_TEST(json_sink_batches) {
  char *dir = new_dir(), out[256], path[512];
  snprintf(out, sizeof out, "%s/out", dir);
  lua_State *L = new_lua();
  test_sink t;
  open_sink(&t, L, out);
  write_batch(&t, L, 0, 1, 3);
  ASSERT_EQ_STR(listing(out), ".part-00000-01234567.json.inprogress _streamrun_metadata");
  assert_file_text(out, ".part-00000-01234567.json.inprogress", "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n");
  commit_batch(&t, 0);
  ASSERT_EQ_STR(listing(out), "_streamrun_metadata part-00000-01234567.json");
  snprintf(path, sizeof path, "%s/_streamrun_metadata", out);
  ASSERT_EQ_STR(listing(path), "0");
  assert_checked_text(out, "_streamrun_metadata/0", "_streamrun_metadata/0",
                      "{\"batchId\":0,\"files\":[\"part-00000-01234567.json\"],\"queryId\":\"0123456789abcdef\"}\n");

  /* the replay of batch 0 (its commits/N was lost) is skipped: part-0 keeps its rows */
  write_batch(&t, L, 0, 7, 7);
  commit_batch(&t, 0);
  ASSERT_EQ_STR(listing(out), "_streamrun_metadata part-00000-01234567.json");
  assert_file_text(out, "part-00000-01234567.json", "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n");

  /* batch 1 written, then a crash before its commit; the restarted query writes it again */
  write_batch(&t, L, 1, 10, 20);
  close_sink(&t);
  open_sink(&t, L, out);
  write_batch(&t, L, 1, 30, 31);
  commit_batch(&t, 1);
  ASSERT_EQ_STR(listing(out), "_streamrun_metadata part-00000-01234567.json part-00001-01234567.json");
  assert_file_text(out, "part-00001-01234567.json", "{\"id\":30}\n{\"id\":31}\n");

  /* an empty batch is logged, with no file */
  write_batch(&t, L, 2, 1, 0);
  commit_batch(&t, 2);
  assert_checked_text(out, "_streamrun_metadata/2", "_streamrun_metadata/2",
                      "{\"batchId\":2,\"files\":[],\"queryId\":\"0123456789abcdef\"}\n");
  close_sink(&t);
  lua_close(L);
  remove_dir(dir);
}

SR_TEST(fs_write_synced) {
  char *dir = new_dir(), path[512];
  snprintf(path, sizeof path, "%s/f", dir);
  sr_error *err = NULL;
  ASSERT_EQ_INT(sr_fs_write_synced(path, "a longer first text", 19, &err), SR_OK);
  ASSERT_EQ_INT(sr_fs_write_synced(path, "short", 5, &err), SR_OK);
  char *text = read_text(path);
  ASSERT_EQ_STR(text, "short");
  free(text);
  ASSERT_EQ_STR(listing(dir), "f");
  snprintf(path, sizeof path, "%s/missing/f", dir);
  ASSERT_EQ_INT(sr_fs_write_synced(path, "x", 1, &err), SR_ERROR);
  if (!strstr(err->message, "cannot create") || !strstr(err->message, "missing/f"))
    SR_FAIL("unexpected error: %s", err->message);
  sr_error_free(err);
  remove_dir(dir);
}

/* Reads path as a checked file with tag; returns the error message ("" when it read). */
static const char *checked_error(const char *path, const char *tag) {
  static char msg[1024];
  sr_error *err = NULL;
  int checked;
  char *text = sr_fs_read_checked(path, tag, NULL, &checked, &err);
  snprintf(msg, sizeof msg, "%s", text ? "" : err->message);
  free(text);
  sr_error_free(err);
  return msg;
}

static void put_text(const char *path, const char *text, size_t len) {
  FILE *f = fopen(path, "w");
  if (!f || fwrite(text, 1, len, f) != len) SR_FAIL("cannot write %s", path);
  fclose(f);
}

/* A checked file reads back only whole, unchanged and under its own tag; one from before
** checksums (no trailer) is handed over as it is, for a strict parse. */
SR_TEST(fs_checked_files) {
  char *dir = new_dir(), path[512];
  snprintf(path, sizeof path, "%s/offsets-5", dir);
  sr_error *err = NULL;
  const char *body = "v1\n{\"a\":1}\n{\"logOffset\":5}\n";
  ASSERT_EQ_INT(sr_fs_write_checked(path, "offsets/5@q", body, strlen(body), &err), SR_OK);
  int checked;
  size_t len;
  char *text = sr_fs_read_checked(path, "offsets/5@q", &len, &checked, &err);
  ASSERT_TRUE(text != NULL);
  ASSERT_EQ_STR(text, body);
  ASSERT_EQ_INT(checked, 1);
  ASSERT_EQ_INT((long long)len, (long long)strlen(body));
  free(text);
  /* under another tag: a copy from another batch or query */
  if (!strstr(checked_error(path, "offsets/6@q"), "written as offsets/5@q, not as offsets/6@q"))
    SR_FAIL("tag: %s", checked_error(path, "offsets/6@q"));
  /* every byte flipped in turn: refused; every truncation: refused, or, the trailer gone,
  ** handed over unchecked as what it is, a prefix of the body, for the caller's strict parse
  ** (ckpt.c refuses a cut line, a missing line) */
  char *whole = read_text(path);
  size_t n = strlen(whole);
  for (size_t i = 0; i < n; i++) {
    char *copy = strdup(whole);
    copy[i] ^= 0x01;
    put_text(path, copy, n);
    const char *e = checked_error(path, "offsets/5@q");
    if (!strstr(e, path)) SR_FAIL("byte %zu flipped was read (%s)", i, e);
    free(copy);
  }
  for (size_t cut = 0; cut < n; cut++) {
    put_text(path, whole, cut);
    text = sr_fs_read_checked(path, "offsets/5@q", &len, &checked, &err);
    if (text) {
      if (checked || len != cut || strncmp(text, body, cut) != 0)
        SR_FAIL("cut at %zu read as \"%s\"", cut, text);
      free(text);
    } else {
      if (!strstr(err->message, path)) SR_FAIL("cut at %zu: %s", cut, err->message);
      sr_error_free(err);
      err = NULL;
    }
  }
  free(whole);
  /* from before checksums */
  put_text(path, body, strlen(body));
  text = sr_fs_read_checked(path, "offsets/5@q", &len, &checked, &err);
  ASSERT_TRUE(text != NULL);
  ASSERT_EQ_INT(checked, 0);
  ASSERT_EQ_STR(text, body);
  free(text);
  /* missing: ENOENT */
  snprintf(path, sizeof path, "%s/none", dir);
  ASSERT_TRUE(sr_fs_read_checked(path, "x", &len, &checked, &err) == NULL);
  ASSERT_EQ_INT(errno, ENOENT);
  sr_error_free(err);
  remove_dir(dir);
}

/* A sink path belongs to one query: another query id is refused at open, naming both. */
SR_TEST(json_sink_refuses_another_query) {
  char *dir = new_dir(), out[256];
  snprintf(out, sizeof out, "%s/out", dir);
  lua_State *L = new_lua();
  test_sink t;
  open_sink(&t, L, out);
  write_batch(&t, L, 0, 1, 3);
  commit_batch(&t, 0);
  close_sink(&t);
  memset(&t, 0, sizeof t);
  t.opts = sr_options_new();
  sr_options_set(t.opts, "path", out);
  t.sink.ops = &sr_sink_json;
  t.sink.cfg.options = t.opts;
  t.sink.cfg.query_id = "fedcba9876543210";
  t.sink.cfg.checkpoint_dir = "chk2";
  t.sink.cfg.output_mode = "append";
  sr_error *err = NULL;
  ASSERT_EQ_INT(sr_sink_json.open(&t.sink, &t.sink.cfg, &err), SR_ERROR);
  if (!strstr(err->message, "another query (id 0123456789abcdef") || !strstr(err->message, "fedcba9876543210"))
    SR_FAIL("unexpected error: %s", err->message);
  sr_error_free(err);
  close_sink(&t);
  open_sink(&t, L, out); /* the owner itself goes on */
  close_sink(&t);
  lua_close(L);
  remove_dir(dir);
}

int main(void) {
  return SR_RUN(json_source_reads_files_in_pieces, cr_line_ends_and_line_sep, text_source_view,
                text_source_big_file, json_sink_batches, fs_write_synced, fs_checked_files,
                json_sink_refuses_another_query);
}
