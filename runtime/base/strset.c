/* sr_strset: see strset.h. Linear probing over a power-of-two table, at most half full. */
#include "strset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sr_strset {
  char **slots;
  size_t cap, count;
};

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  while (*s) { h ^= (unsigned char)*s++; h *= 1099511628211ULL; }
  return h;
}

sr_strset *sr_strset_new(void) {
  sr_strset *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->cap = 64;
  s->slots = calloc(s->cap, sizeof *s->slots);
  if (!s->slots) { free(s); return NULL; }
  return s;
}

void sr_strset_free(sr_strset *s) {
  if (!s) return;
  for (size_t i = 0; i < s->cap; i++) free(s->slots[i]);
  free(s->slots);
  free(s);
}

static size_t find(const sr_strset *s, const char *str) {
  size_t i = (size_t)hash(str) & (s->cap - 1);
  while (s->slots[i] && strcmp(s->slots[i], str) != 0) i = (i + 1) & (s->cap - 1);
  return i;
}

static int grow(sr_strset *s) {
  size_t cap = s->cap * 2;
  char **slots = calloc(cap, sizeof *slots);
  if (!slots) return -1;
  for (size_t i = 0; i < s->cap; i++) {
    if (!s->slots[i]) continue;
    size_t j = (size_t)hash(s->slots[i]) & (cap - 1);
    while (slots[j]) j = (j + 1) & (cap - 1);
    slots[j] = s->slots[i];
  }
  free(s->slots);
  s->slots = slots;
  s->cap = cap;
  return 0;
}

int sr_strset_add(sr_strset *s, const char *str) {
  if ((s->count + 1) * 2 > s->cap && grow(s) != 0) return -1;
  size_t i = find(s, str);
  if (s->slots[i]) return 0;
  if (!(s->slots[i] = strdup(str))) return -1;
  s->count++;
  return 1;
}

int sr_strset_has(const sr_strset *s, const char *str) { return s->slots[find(s, str)] != NULL; }

