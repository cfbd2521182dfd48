/*
** UTF-8 checks and repair for the record codecs. Repair replaces each maximal ill-formed
** subsequence with U+FFFD, as Java's UTF-8 decoder does (so as Spark does when it turns input
** bytes into Strings: CSV's lines, from_json's UTF8String, and any string a writer writes).
** Overlong forms, surrogates (ED A0..BF) and code points beyond U+10FFFF are ill-formed.
** Nothing here allocates or touches Lua.
*/
#ifndef SR_UTF8_H
#define SR_UTF8_H
#include <stddef.h>

/* The sequence at s[0..n) (n >= 1): its length (1..4) when well-formed, or minus the length of
** its maximal ill-formed subpart (-1..-3), which a repair replaces with one U+FFFD. */
int sr_utf8_seq(const unsigned char *s, size_t n);

/* The offset of the first ill-formed sequence in s[0..n), or n when it is all valid. ASCII
** text is checked 8 bytes at a time. */
size_t sr_utf8_valid_len(const char *s, size_t n);

/* Writes s[0..n) to out with each ill-formed subsequence replaced by U+FFFD (EF BF BD). out
** needs room for 3 * n bytes. Returns the length written. */
size_t sr_utf8_repair(char *out, const char *s, size_t n);

#endif
