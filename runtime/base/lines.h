/*
** Line ends of the text readers (json lines, csv, text), as Spark's readers find them. Without
** a `lineSep` option a line ends at "\n", "\r\n" or a lone "\r" (Hadoop's LineReader,
** readDefaultLine: "a line terminated by one of CR, LF, or CRLF"); with one, exactly at its
** bytes (readCustomLine). None of these functions allocates or touches Lua.
*/
#ifndef SR_LINES_H
#define SR_LINES_H
#include <stddef.h>

enum { SR_LINESEP_MAX = 16 };

typedef struct sr_linesep {
  size_t len;                   /* 0: the default ends ("\n", "\r\n", "\r") */
  char bytes[SR_LINESEP_MAX];
} sr_linesep;

/* Sets *ls from a lineSep option's text (NULL: the default). Returns 0, or -1 when the text is
** empty or longer than max bytes (max <= SR_LINESEP_MAX). */
int sr_linesep_set(sr_linesep *ls, const char *text, size_t max);

/* The line at p (p < end): returns where its text ends (before the terminator) and sets *next
** to the start of the next line (end when the text has no terminator). ls NULL: the default. */
const char *sr_line_end(const char *p, const char *end, const sr_linesep *ls, const char **next);

/* The length of the terminator at p, or 0 when none starts there. A "\r" at end - 1 counts as a
** whole terminator. */
size_t sr_line_term_at(const char *p, const char *end, const sr_linesep *ls);

/* How many terminators [p, end) holds. */
size_t sr_line_count(const char *p, const char *end, const sr_linesep *ls);

/* For a text read in pieces: the length of buf's whole lines (up to just after the last
** terminator), 0 when it has none. A "\r" at the very end is not taken unless eof: the next
** piece may start with its "\n". */
size_t sr_lines_whole(const char *buf, size_t len, const sr_linesep *ls, int eof);

#endif
