/*
** What the pieces of the JSON codec share: json_plan.c (per-call memory and plans),
** json_number.c, json_base64.c, json_decode.c and json_encode.c. Other folders use json_rows.h.
** The key lookups are static inline here because they are on the decoder's and the encoder's
** hot paths, which a call into another file would slow down.
*/
#ifndef SR_JSON_INTERNAL_H
#define SR_JSON_INTERNAL_H
#include <lua.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "json_rows.h"

enum { MAX_PATH = 32 };  /* column path entries kept for error messages */

/* Character classes of the decoder's string scan and the encoder's escaping. */
#define CLS_CTRL 3
#define C16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x

enum {
  KEY_PRED = 32,      /* decoder: keys remembered per struct level, by position in the object */
  KEY_PRED_TEXT = 56  /* longer keys (with their closing quote) are not remembered */
};

/* The key seen at one position of the previous object of a struct level, as it was written in
** the JSON text (it had no escapes) followed by its closing quote, and the field it named (-1:
** not a field of the schema). */
typedef struct jpred {
  int field;  /* -2: nothing remembered */
  int len;
  char text[KEY_PRED_TEXT];
} jpred;

/* One struct level of a plan; a plan (json_rows.h's sr__jplan) is its top level. */
typedef struct sr__jplan jstruct;
typedef struct jfield {
  const char *name;
  size_t len;
  int key_idx;          /* stack index of the name pushed as a Lua string */
  const char *lname;    /* that Lua string's bytes: the identity of the interned string */
  const char *member;   /* encoder: ,"name": escaped (write from member + 1 for the first) */
  size_t member_len;
  const sr_field *f;
  const jstruct *child; /* the struct reached through f (directly or as array elements) */
} jfield;

struct sr__jplan {
  int n;
  unsigned mask;
  int *slots;   /* open addressing by key text: field index + 1, 0 = empty */
  int *pslots;  /* the same by the address of the interned Lua string */
  int *vslot;   /* encoder scratch: stack slot of each field's value in the table being written */
  jpred *pred;  /* decoder: the keys of the previous object, by position */
  jfield *fields;
};

/* A map's value field (schema.h: children are key and value), or NULL when malformed. */
static inline const sr_field *map_value(const sr_field *f) {
  return f->children && f->children->nfields == 2 ? &f->children->fields[1] : NULL;
}

static inline unsigned key_hash(const char *k, size_t n) {
  return n ? (unsigned)(n * 31 + (unsigned char)k[0] * 7 + (unsigned char)k[n - 1]) : 0;
}

static inline unsigned ptr_hash(const char *k) {
  return (unsigned)(((uint64_t)(uintptr_t)k * 0x9E3779B97F4A7C15ULL) >> 40);
}

/* The field of st named k[0..n), or -1 (a duplicate name: its first field). */
static inline int jstruct_find(const jstruct *st, const char *k, size_t n) {
  unsigned h = key_hash(k, n) & st->mask;
  for (;;) {
    int i = st->slots[h];
    if (!i) return -1;
    const jfield *f = &st->fields[i - 1];
    if (f->len == n && memcmp(f->name, k, n) == 0) return i - 1;
    h = (h + 1) & st->mask;
  }
}

/* The field whose name is the Lua string with bytes k (from lua_tolstring), or -1. LuaJIT
** interns every string, so a key equal to a field's name is the very string the plan pushed:
** one pointer comparison instead of hashing and comparing the text. */
static inline int jstruct_find_lua(const jstruct *st, const char *k) {
  unsigned h = ptr_hash(k) & st->mask;
  for (;;) {
    int i = st->pslots[h];
    if (!i) return -1;
    if (st->fields[i - 1].lname == k) return i - 1;
    h = (h + 1) & st->mask;
  }
}

static inline int is_digit(char c) { return (unsigned)(c - '0') < 10; }

/* Writes s[0..n) as a JSON string at o (room for 6 * n + 2 bytes): json_encode.c. */
char *sr__json_escape(char *o, const char *s, size_t n);
/* Decimal text of u and a NUL (out: room for 21 bytes). Returns the length: json_number.c. */
size_t sr__fmt_uint64(uint64_t u, char *out);

#endif
