/* sr_arena: see arena.h. */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

struct sr_arena_block {
  sr_arena_block *next;
  size_t size, fill;
  _Alignas(16) unsigned char data[];
};

enum { MIN_BLOCK = 64 * 1024 };

void sr_arena_init(sr_arena *a) { memset(a, 0, sizeof *a); }

void *sr_arena_alloc(sr_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  sr_arena_block *b = a->head;
  if (!b || b->size - b->fill < n) {
    size_t size = n > MIN_BLOCK ? n : MIN_BLOCK;
    if (b && b->size * 2 > size) size = b->size * 2;
    b = malloc(sizeof *b + size);
    if (!b) return NULL;
    b->size = size;
    b->fill = 0;
    b->next = a->head;
    a->head = b;
    a->reserved += size;
  }
  void *p = b->data + b->fill;
  b->fill += n;
  a->used += n;
  return p;
}

void sr_arena_shrink(sr_arena *a, void *p, size_t n) {
  sr_arena_block *b = a->head;
  size_t start = (size_t)((unsigned char *)p - b->data);
  size_t keep = (n + 15) & ~(size_t)15;
  if (start + keep >= b->fill) return; /* nothing to give back */
  a->used -= b->fill - (start + keep);
  b->fill = start + keep;
}

char *sr_arena_strndup(sr_arena *a, const char *s, size_t n) {
  char *p = sr_arena_alloc(a, n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

void sr_arena_reset(sr_arena *a) {
  /* Keep the newest (largest) block: the next batch is likely the same size. */
  sr_arena_block *keep = a->head;
  if (!keep) return;
  sr_arena_block *b = keep->next;
  while (b) {
    sr_arena_block *next = b->next;
    a->reserved -= b->size;
    free(b);
    b = next;
  }
  keep->next = NULL;
  keep->fill = 0;
  a->used = 0;
}

void sr_arena_free(sr_arena *a) {
  sr_arena_block *b = a->head;
  while (b) {
    sr_arena_block *next = b->next;
    free(b);
    b = next;
  }
  sr_arena_init(a);
}
