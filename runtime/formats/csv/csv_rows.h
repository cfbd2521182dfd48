/*
** CSV <-> Lua rows, in the manner of json_rows.h (one call per batch, no call per row).
**
** Reading (RFC 4180): fields separated by opts->sep, optionally quoted with '"'; a quoted field
** may hold the separator and quotes doubled (""), and with opts->multiline line ends. A line
** ends at "\n", "\r\n" or "\r" (or exactly at opts->line_sep), as Spark's reader splits lines;
** without multiline a record is one line and a quote left open at its end makes it a bad
** record. Empty lines are skipped, and a last record without a line end counts.
**  - With a header, names are made unique as Spark's CSVUtils.makeSafeHeader does: an empty
**    name becomes _c<index>, and names that occur more than once (compared case-insensitively,
**    Spark's default) each get their 0-based index appended ("a,b,A" -> a0, b, A2).
**  - An empty unquoted field is null; a quoted empty field ("") is the empty string (so what
**    the writer below writes reads back the same).
**  - Columns: with a schema and a header, the header's names pick the schema's columns (header
**    columns not in the schema are ignored, schema columns not in the header are nil); with a
**    schema and no header, by position; without a schema: header names, or _c0, _c1, ... (as
**    Spark names them), every value a string. A record with more fields than columns drops the
**    extra ones and one with fewer has nils, as Spark's PERMISSIVE mode does.
**  - Values are typed by the schema as JSON values are (json_rows.h), from their text: long/int
**    [+-]digits; double any decimal number, NaN, Infinity, -Infinity; boolean true/false in any
**    case; timestamp ISO-8601 text or seconds since the epoch; date "2026-11-23"; binary base64;
**    struct and array columns hold JSON text. A value that does not fit goes to bad() with
**    "column price: expected double, got \"abc\"" and the row is dropped; so does a record with
**    text after a closing quote or an unterminated quote.
**  - Text (string values, header names, JSON cells) gets U+FFFD for each ill-formed UTF-8
**    sequence, as Spark decodes each line into a Java String.
** Writing: one line per row, "\n" line ends, ill-formed UTF-8 as U+FFFD; a field is quoted when
** it holds the separator, a quote, CR or LF, or is the empty string; nil is an empty field. Timestamps and dates ISO as in
** JSON, binary base64, nested tables as JSON text.
*/
#ifndef SR_CSV_ROWS_H
#define SR_CSV_ROWS_H
#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "json_rows.h"
#include "lines.h"
#include "schema.h"

typedef struct sr_csv_options {
  char sep;           /* ',' when 0 */
  int header;         /* reading: the first line of each FILE is a header; writing: write one */
  int multiline;      /* reading: quoted fields may hold line ends (Spark's multiLine) */
  sr_linesep line_sep; /* reading: the line ends (zeroed: "\n", "\r\n" or "\r") */
} sr_csv_options;

/* [-0, +0, m] Decodes the CSV records of buf[0..len) and appends one table per good record to
** the Lua array at rows_idx (length *nrows, updated). first_line: the number of buf's first
** line; with opts->header, a buffer that starts a file (first_line <= 1) begins with the
** header (a UTF-8 BOM before it is skipped); a buffer that does not start at line 1 has no
** header line and maps columns as if there were no header. opts NULL: ',' and no header.
** bad may be NULL. Returns the number of bad records. Raises only when out of memory. */
int sr_csv_decode_lines(lua_State *L, int rows_idx, int *nrows, const char *buf, size_t len,
                        const sr_schema *schema, const sr_csv_options *opts, const char *origin,
                        int64_t first_line, sr_bad_fn bad, void *bad_ud);

/* [-0, +0, m] Appends rows[1..nrows] of the Lua array at rows_idx as CSV to out, after a header
** line when write_header. Columns: the schema's, or without one the sorted string keys of the
** first row. Returns 0, or -1 with a message naming the row and column in errbuf (a value that
** cannot be written: a function, a cycle); out then keeps the lines before the failing row. */
int sr_csv_encode_rows(lua_State *L, int rows_idx, int nrows, const sr_schema *schema,
                       const sr_csv_options *opts, int write_header, sr_buf *out, char *errbuf,
                       size_t errlen);

/* [-0, +0, m] As sr_csv_encode_rows, but the columns are names[0..ncols) in that order (a
** sink's fixed output columns): a column is typed by types' field of the same name when there
** is one (types may be NULL), else written as its Lua value is (as without a schema). Keys of
** a row that are not among the names are not written. */
int sr_csv_encode_named(lua_State *L, int rows_idx, int nrows, const char *const *names, int ncols,
                        const sr_schema *types, const sr_csv_options *opts, int write_header,
                        sr_buf *out, char *errbuf, size_t errlen);

#endif
