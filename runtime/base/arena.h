/*
** sr_arena: a bump allocator for one batch. Everything a batch decodes or encodes in C is
** allocated here and released at once when the batch commits (sr_arena_reset), so the hot
** path makes no per-row malloc/free. Its size is published in progress.
*/
#ifndef SR_ARENA_H
#define SR_ARENA_H
#include <stddef.h>

typedef struct sr_arena_block sr_arena_block;
typedef struct sr_arena {
  sr_arena_block *head;  /* block being filled */
  size_t used;           /* bytes handed out since the last reset */
  size_t reserved;       /* bytes held in blocks */
} sr_arena;

void sr_arena_init(sr_arena *a);
/* 16-byte aligned memory valid until the next reset; NULL when out of memory. */
void *sr_arena_alloc(sr_arena *a, size_t n);
/* Gives back the end of p, the newest allocation, keeping its first n bytes: for writers
** that reserve the most they may need and learn afterwards what they used. */
void sr_arena_shrink(sr_arena *a, void *p, size_t n);
/* Copies n bytes and a terminating NUL. NULL when out of memory. */
char *sr_arena_strndup(sr_arena *a, const char *s, size_t n);
/* Forgets every allocation; keeps the largest block for the next batch. */
void sr_arena_reset(sr_arena *a);
/* Frees every block. The arena can be reused after sr_arena_init. */
void sr_arena_free(sr_arena *a);

#endif
