/*
** Spark's allowSingleQuotes (JSONOptions, on by default; Jackson's ALLOW_SINGLE_QUOTES): names
** and strings may be written 'like this'. The decoders read standard JSON only and stay as fast
** as they are on it: a record they refuse that holds a single quote is rewritten here into
** standard JSON and decoded again, so only such records pay.
*/
#ifndef SR_JSON_QUOTES_H
#define SR_JSON_QUOTES_H
#include <stddef.h>

#include "buf.h"

/* Writes text[0..n) to out (cleared first) with every single-quoted string outside a
** double-quoted one turned into a double-quoted string: a '"' inside it is escaped, "\'" becomes
** "'", other escapes are kept (as Jackson reads them). Bytes outside strings are copied as they
** are, so text that is not JSON stays not JSON. Returns 1 with out set when text holds a single
** quote, 0 when it holds none (nothing to rewrite; out untouched), -1 when out of memory. Does
** not call Lua. */
int sr_json_requote(const char *text, size_t n, sr_buf *out);

#endif
