/*
** JSON lines <-> Lua rows, the hottest code of the runtime: a source hands a whole batch of
** bytes to sr_json_decode_lines in one call, which appends one Lua table per record; a sink
** hands a whole batch of rows to sr_json_encode_rows. Neither makes a call per row from Lua.
**
** Values in Lua (the job contract): long = number when |v| <= 2^53, else an int64_t cdata
** (lua_int64.h); int/short/byte/double/float/decimal = number; boolean; string; timestamp =
** integer ms since the epoch; date = integer days since the epoch; binary = a Lua string of
** the bytes (base64 in JSON); struct = table; array = 1-based table (a JSON null element
** leaves a hole); map = table keyed by the JSON object's keys (strings); null = nil (absent key).
**
** Decoding with a schema follows Spark's JSON reader:
**  - only declared fields are decoded; other values are skipped after a structural check
**    (brackets and strings balanced), without building anything;
**  - long/int/short/byte take JSON integers only (1.0 or "1" are bad); long is exact to 64 bits;
**  - double/float/decimal take any JSON number, and the strings "NaN", "Infinity", "-Infinity";
**  - string takes a string, and for any other value its JSON text as written (Spark does so);
**  - timestamp takes ISO-8601 text (timeutil.h) or a number of SECONDS since the epoch, as
**    Spark's cast of a number to timestamp does (1700000000.5 -> 1700000000500 ms; fractions
**    finer than a ms are truncated toward zero);
**  - date takes "2026-11-23" text or an integer number of days since the epoch;
**  - binary takes base64 text (standard alphabet, padding optional);
**  - struct and map take an object, array an array; boolean takes true/false.
** A record nested deeper than 1000 levels (skipped fields included) is a bad record, as Jackson's
** maxNestingDepth makes it in Spark; so is a record that is not a JSON object, or a value that
** does not fit its type:
** the row is dropped and bad() gets a reason such as
**   column price: expected double, got string "abc"
**   not JSON: expected ',' or '}' at byte 41       (bytes count from 1 within the record)
** Without a schema: objects -> tables, arrays -> 1-based tables, integers -> exact longs (a
** number, or an int64_t cdata beyond 2^53; integers beyond 64 bits become doubles), other
** numbers -> doubles, null -> nil, true/false -> booleans.
** Invalid UTF-8: a JSON line of a file that holds any is a bad record ("not JSON: invalid UTF-8
** at byte N"), as Spark's reader hands a file's bytes to Jackson's UTF-8 parser, which refuses
** them; a record decoded from a Lua string (parse_json, from_json) or a CSV cell gets U+FFFD for
** each ill-formed sequence, as Spark decodes a UTF8String through Java's UTF-8 decoder. Strings
** are otherwise passed through byte for byte; escapes are decoded,
** \uXXXX surrogate pairs to one code point, a lone surrogate to U+FFFD. Raw control characters
** inside strings are refused, as Jackson (Spark's parser) does.
*/
#ifndef SR_JSON_ROWS_H
#define SR_JSON_ROWS_H
#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "lines.h"
#include "schema.h"

/* Receives one bad record: origin (file name, may be NULL), its line number (the record's
** first line for CSV), the record's bytes (without the line end; not NUL-terminated; NULL with
** len 0 when there is no text) and a NUL-terminated reason. Must not touch the Lua stack
** below its own frame. */
typedef void (*sr_bad_fn)(void *ud, const char *origin, int64_t line, const char *record,
                          size_t len, const char *reason);

/* [-0, +0, m] Decodes the JSON lines of buf[0..len) and appends one table per good record to
** the Lua array at rows_idx, whose length is *nrows (updated). first_line is the number of
** buf's first line (1 at a file's start: a UTF-8 BOM there is skipped). Blank lines are
** skipped, a line ends at "\n", "\r\n" or a lone "\r" (as Hadoop's LineReader, which Spark
** reads lines with, ends them), and a last line without a line end counts. schema NULL
** decodes every field with inferred types. bad may be NULL (bad records are only counted).
** Returns the number of bad records. Raises a Lua error only when out of memory (or when bad
** itself raises). */
int sr_json_decode_lines(lua_State *L, int rows_idx, int *nrows, const char *buf, size_t len,
                         const sr_schema *schema, const char *origin, int64_t first_line,
                         sr_bad_fn bad, void *bad_ud);

/* [-0, +0, m] sr_json_decode_lines for one piece of a longer text (a file read in chunks):
** the same, and *nlines gets the number of lines in buf, so the next piece's first_line is
** first_line + *nlines. Every piece but the text's last must end just after a '\n'. */
int sr_json_decode_piece(lua_State *L, int rows_idx, int *nrows, const char *buf, size_t len,
                         const sr_schema *schema, const char *origin, int64_t first_line,
                         sr_bad_fn bad, void *bad_ud, int64_t *nlines);

/* [-0, +0, m] sr_json_decode_piece with the line ends of ls (a lineSep option; NULL: "\n",
** "\r\n" or "\r") and single_quotes for Spark's allowSingleQuotes (0: a 'quoted' name or
** string makes a bad record; the other decoders take them, as Spark's default). Every piece but
** the last must end just after a line end. */
int sr_json_decode_piece_sep(lua_State *L, int rows_idx, int *nrows, const char *buf, size_t len,
                             const sr_schema *schema, const sr_linesep *ls, int single_quotes,
                             const char *origin, int64_t first_line, sr_bad_fn bad, void *bad_ud,
                             int64_t *nlines);

/* [-0, +(0|1), m] Decodes one JSON record (an object) of text[0..len) with the schema (NULL:
** inferred types) and pushes its table. Sets up the schema's names on every call: for a batch
** of messages use sr_json_decode_column. Returns 0, or -1 with nothing pushed and the reason in
** err (NUL-terminated, truncated to errlen). */
int sr_json_decode_record(lua_State *L, const char *text, size_t len, const sr_schema *schema,
                          char *err, size_t errlen);

/* [-0, +0, m] Kafka's parse_json for a whole batch: for rows[1..*nrows] of the Lua array at
** rows_idx, decodes the JSON text of the row's `column` with the schema (NULL: inferred) and
** puts the record's fields into the row in place of that column. Rows whose column is not text
** or whose text is not a fitting JSON object go to bad() (origin, the row's index as the line,
** the text, the reason) and are removed: the array is compacted in order and *nrows updated.
** Returns the number of bad rows. Raises only when out of memory. */
int sr_json_decode_column(lua_State *L, int rows_idx, int *nrows, const char *column,
                          const sr_schema *schema, const char *origin, sr_bad_fn bad, void *bad_ud);

/* [-0, +(0|1), m] Decodes one JSON value of any kind (not only objects) with inferred types and
** pushes it (nil for null). Returns 0, or -1 with nothing pushed and the reason in err. */
int sr_json_decode_value(lua_State *L, const char *text, size_t len, char *err, size_t errlen);

/* [-0, +0, m] Appends one JSON line per row rows[1..nrows] of the Lua array at rows_idx to out.
** Columns: the schema's first, in its order and by its types (timestamp ->
** "2026-11-23T10:00:00.001Z", date -> "2026-11-23", binary -> base64, long exact), then the
** row's other keys in byte order with their Lua types. nil columns are omitted (as Spark's
** writer does). Numbers: integral values within 2^53 as integers, others as the shortest text
** that reads back to the same double; NaN and infinities as the strings "NaN", "Infinity",
** "-Infinity" (as Jackson writes them). A Lua table whose keys are all positive integers is
** an array (holes written as null) unless it is very sparse (lua-cjson's rule: largest key >
** 10 and > twice the number of keys); any other table is an object with sorted keys, and an
** empty table is {} (or [] in an array column). A table in a timestamp column is a window,
** {start = ms, ["end"] = ms}: written as an object with start and end as timestamps (then any
** other keys). Any other value whose Lua type does not match the column's type is written with
** its Lua type rather than failing the batch.
** Returns 0, or -1 with a message naming the row and the column in errbuf (a function,
** userdata or thread value, a cycle or nesting deeper than 1000, out of memory); out keeps
** the lines of the rows before the failing one. Raises only when Lua is out of memory. */
int sr_json_encode_rows(lua_State *L, int rows_idx, int nrows, const sr_schema *schema,
                        sr_buf *out, char *errbuf, size_t errlen);

/* [-0, +0, m] sr_json_encode_rows for rows[first..last] of the array at rows_idx (a batch
** written in slices); row numbers in messages are these indexes. */
int sr_json_encode_range(lua_State *L, int rows_idx, int first, int last, const sr_schema *schema,
                         sr_buf *out, char *errbuf, size_t errlen);

/* [-0, +0, m] Appends the JSON text of the Lua value at idx (inferred types, sorted keys; nil
** is "null"). Returns 0, or -1 with the reason in errbuf. */
int sr_json_encode_value(lua_State *L, int idx, sr_buf *out, char *errbuf, size_t errlen);

/* ---- Internal to the record codecs (json/, csv_rows.c, lua_codec.c) ---- */

/* A scanned JSON number: value = mant * 10^exp10 (exactly, unless inexact). */
typedef struct sr__jnum {
  int neg;       /* a leading '-' */
  int is_int;    /* no fraction and no exponent in the text */
  int inexact;   /* nonzero digits beyond the 19 kept in mant were dropped */
  uint64_t mant;
  int exp10;
} sr__jnum;

/* Scans a JSON number at p (strict JSON grammar). Returns the end of the number, or NULL when
** the text there is not a JSON number. */
const char *sr__json_scan_number(const char *p, const char *end, sr__jnum *num);
/* The number as a double: exact (correctly rounded) without strtod when the mantissa has at
** most 15-16 digits and |exp10| <= 22; else strtod on the text [start, stop). */
double sr__jnum_double(const sr__jnum *num, const char *start, const char *stop);
/* The number as an int64 if it is an integer within range. Returns 0, or -1. */
int sr__jnum_int64(const sr__jnum *num, int64_t *v);
/* The number as seconds since the epoch converted to ms (truncated toward zero). 0, or -1 also
** beyond SR_TIME_MIN_MS..SR_TIME_MAX_MS (timeutil.h). */
int sr__jnum_seconds_ms(const sr__jnum *num, const char *start, const char *stop, int64_t *ms);

/* Writes the shortest text that reads back to d (integral values within 2^53 as integers;
** NaN/Inf as "NaN", "Infinity", "-Infinity"). Returns the length; out gets a NUL. */
size_t sr__fmt_double(double d, char out[40]);
/* Decimal text of v and a NUL. Returns the length. */
size_t sr__fmt_int64(int64_t v, char out[24]);

/* [-0, +1, m] Pushes s[0..n) as a Lua string with each ill-formed UTF-8 sequence replaced by
** U+FFFD (utf8.h), as Java's decoder does when Spark turns bytes into a String. */
void sr__push_utf8(lua_State *L, const char *s, size_t n);

/* Appends base64 (standard alphabet, padded) of p[0..n). 0, or -1 when out of memory. */
int sr__base64_encode(sr_buf *out, const void *p, size_t n);
/* Decodes base64 text (standard alphabet, padding optional) into out (cleared first).
** Returns 0, or -1 for invalid text or out of memory. */
int sr__base64_decode(sr_buf *out, const char *s, size_t n);

/* Memory for one codec call: lives in a userdata with __gc, so a Lua error raised mid-call
** (out of memory) cannot leak it. sr__codec_mem_push pushes the userdata; call
** sr__codec_mem_release at the call's normal end (then drop the userdata). */
typedef struct sr__codec_mem {
  sr_buf text; /* decoders: unescaped strings */
  sr_buf aux;  /* decoders: base64 bytes; encoders: the key lists being sorted */
  sr_buf quoted; /* decoders: a single-quoted record rewritten as standard JSON */
} sr__codec_mem;
sr__codec_mem *sr__codec_mem_push(lua_State *L);
void sr__codec_mem_release(sr__codec_mem *m);

/* A schema prepared for one call: every field name (nested ones too) pushed once as a Lua
** string, and a key hash per struct level. Lives on the Lua stack. */
typedef struct sr__jplan sr__jplan;
/* [-0, +(1 + number of names), e] Pushes the plan (a userdata) and the names. Raises when the
** stack cannot hold the names. */
const sr__jplan *sr__json_plan_push(lua_State *L, const sr_schema *s);
/* The stack index of the pushed name of top-level field i. */
int sr__json_plan_key(const sr__jplan *plan, int i);
/* The index of the top-level field named name[0..len), or -1. */
int sr__json_plan_find(const sr__jplan *plan, const char *name, size_t len);

/* [-0, +(0|1), m] Decodes the JSON text of one value as the type of the plan's top-level field
** i and pushes it (nil for null). Returns 0, or -1 with nothing pushed and "column NAME:
** expected ..., got ..." (or a "not JSON: ..." reason) in reason. For CSV cells of struct and
** array columns. */
int sr__json_decode_typed(lua_State *L, sr__codec_mem *mem, const sr__jplan *plan, int i,
                          const char *text, size_t len, char *reason, size_t reason_len);

/* [-0, +0, m] Appends the value at idx as a CSV cell's text, typed as the plan's field i (plan
** NULL or i < 0: by its Lua type): strings raw, timestamps/dates ISO, binary base64, numbers as
** in JSON, tables as JSON text. Sets *is_null (and appends nothing) for nil. Returns 0, or -1
** with the reason in errbuf. */
int sr__format_cell(lua_State *L, sr__codec_mem *mem, int idx, const sr__jplan *plan, int i,
                    sr_buf *out, int *is_null, char *errbuf, size_t errlen);

#endif
