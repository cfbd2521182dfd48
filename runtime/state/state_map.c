/*
** The in-memory table of a state store (see state_internal.h).
**
** IN MEMORY
**
** The state is an open-addressing (linear probing, backward-shift deletion) table of 8-byte
** slots over an array of 8-byte entries; an entry is the offset of its record in one growable
** byte heap (record: u32 key length, u32 value length, key, value). A put appends a new record;
** the old one becomes garbage, reclaimed by compaction at commit. A slot holds the upper 32
** bits of the key's hash (which also give its home slot, so growing never rereads keys) and
** the entry index. Every put/remove of a version appends an undo word (kind + record offset) so
** abort restores the previous version without disk, and commit finds the changed keys from it.
*/
#include "state_internal.h"
#include "bytes.h"

#include <stdlib.h>
#include <string.h>

static uint64_t home_of(uint64_t tag, uint64_t cap) { return (tag * cap) >> 32; }

static uint64_t rec_size(const kvmap *m, uint64_t off) {
  const unsigned char *r = rec_at(m, off);
  return REC_HDR + (uint64_t)rec_u32(r, 0) + rec_u32(r, 1);
}

void sr__map_free(kvmap *m) {
  free(m->slots);
  free(m->ents);
  free(m->heap);
  memset(m, 0, sizeof *m);
}

size_t sr__map_bytes(const kvmap *m) {
  return (size_t)m->slot_cap * 8 + (size_t)m->ent_cap * 8 + (size_t)m->heap_cap;
}

/* Grows the slot array so that n live keys stay under a 3/4 load. 0, or -1 out of memory. */
int sr__map_reserve_slots(kvmap *m, uint64_t n) {
  if (n <= m->slot_cap / 4 * 3 && m->slot_cap) return 0;
  uint64_t cap = m->slot_cap ? m->slot_cap : 16;
  while (n > cap / 4 * 3) cap *= 2;
  if (cap > (UINT64_C(1) << 32)) return -1;
  uint64_t *slots = calloc(cap, sizeof *slots);
  if (!slots) return -1;
  for (uint64_t i = 0; i < m->slot_cap; i++) {
    uint64_t s = m->slots[i];
    if (!s) continue;
    uint64_t j = home_of(s >> 32, cap);
    while (slots[j]) j = (j + 1) & (cap - 1);
    slots[j] = s;
  }
  free(m->slots);
  m->slots = slots;
  m->slot_cap = cap;
  return 0;
}

static int map_reserve_ent(kvmap *m) {
  if (m->free_head != NO_ENT || m->n_ents < m->ent_cap) return 0;
  if (m->ent_cap == NO_ENT - 1) return -1;
  uint64_t cap = m->ent_cap ? (uint64_t)m->ent_cap + m->ent_cap / 2 : 64;
  if (cap >= NO_ENT) cap = NO_ENT - 1;
  uint64_t *e = realloc(m->ents, cap * sizeof *e);
  if (!e) return -1;
  m->ents = e;
  m->ent_cap = (uint32_t)cap;
  return 0;
}

int sr__map_reserve_heap(kvmap *m, uint64_t extra) {
  if (m->heap_len + extra <= m->heap_cap) return 0;
  uint64_t cap = m->heap_cap ? m->heap_cap + m->heap_cap / 2 : 4096;
  while (cap < m->heap_len + extra) cap += cap / 2;
  if (cap > ENT_OFF) return -1;
  char *h = realloc(m->heap, cap);
  if (!h) return -1;
  m->heap = h;
  m->heap_cap = cap;
  return 0;
}

/* Finds key. Returns its entry index and its slot in *slot, or -1 with *slot the empty slot
** where it would go. */
int64_t sr__map_find(const kvmap *m, const void *key, size_t klen, uint64_t h, uint64_t *slot) {
  uint64_t tag = h >> 32, mask = m->slot_cap - 1;
  if (!m->slot_cap) { *slot = 0; return -1; }
  for (uint64_t i = home_of(tag, m->slot_cap);; i = (i + 1) & mask) {
    uint64_t s = m->slots[i];
    if (!s) { *slot = i; return -1; }
    if ((s >> 32) != tag) continue;
    uint32_t idx = (uint32_t)s - 1;
    const unsigned char *r = rec_at(m, m->ents[idx] & ENT_OFF);
    if (rec_u32(r, 0) == klen && memcmp(r + REC_HDR, key, klen) == 0) {
      *slot = i;
      return idx;
    }
  }
}

/* Empties slot i, shifting back later keys of its cluster that may live there. */
static void map_slot_delete(kvmap *m, uint64_t i) {
  uint64_t mask = m->slot_cap - 1;
  for (uint64_t j = (i + 1) & mask; m->slots[j]; j = (j + 1) & mask) {
    uint64_t h = home_of(m->slots[j] >> 32, m->slot_cap);
    int stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
    if (!stays) {
      m->slots[i] = m->slots[j];
      i = j;
    }
  }
  m->slots[i] = 0;
}

static uint64_t map_append_rec(kvmap *m, const void *key, uint32_t klen, const void *val,
                               uint32_t vlen) {
  uint64_t off = m->heap_len;
  char *p = m->heap + off;
  memcpy(p, &klen, 4);
  memcpy(p + 4, &vlen, 4);
  memcpy(p + REC_HDR, key, klen);
  if (vlen) memcpy(p + REC_HDR + klen, val, vlen);
  m->heap_len += REC_HDR + (uint64_t)klen + vlen;
  return off;
}

/* Links a record already in the heap under a new entry at the empty slot `slot`. The caller
** reserved the slot load and an entry. */
uint32_t sr__map_link(kvmap *m, uint64_t slot, uint64_t h, uint64_t off) {
  uint32_t idx;
  if (m->free_head != NO_ENT) {
    idx = m->free_head;
    m->free_head = (uint32_t)(m->ents[idx] & ~ENT_FREE);
  } else {
    idx = m->n_ents++;
  }
  m->ents[idx] = off;
  m->slots[slot] = (h >> 32) << 32 | ((uint64_t)idx + 1);
  m->n_live++;
  return idx;
}

/* Inserts or replaces. Returns the entry index, or -1 when out of memory (map unchanged).
** *old_off is the replaced record's offset, or UINT64_MAX for a new key. */
int64_t sr__map_put(kvmap *m, const void *key, size_t klen, const void *val, size_t vlen,
                uint64_t *old_off) {
  uint64_t h = sr_hash64(key, klen), slot;
  if (sr__map_reserve_slots(m, (uint64_t)m->n_live + 1) != 0 || map_reserve_ent(m) != 0 ||
      sr__map_reserve_heap(m, REC_HDR + (uint64_t)klen + vlen) != 0)
    return -1;
  int64_t idx = sr__map_find(m, key, klen, h, &slot);
  uint64_t off = map_append_rec(m, key, (uint32_t)klen, val, (uint32_t)vlen);
  if (idx < 0) {
    *old_off = UINT64_MAX;
    return sr__map_link(m, slot, h, off);
  }
  *old_off = m->ents[idx] & ENT_OFF;
  m->garbage += rec_size(m, *old_off);
  m->ents[idx] = off;
  return idx;
}

/* Removes key. Returns 1 with the record's offset in *old_off, or 0 when absent. */
int sr__map_del(kvmap *m, const void *key, size_t klen, uint64_t *old_off) {
  uint64_t slot;
  int64_t idx = sr__map_find(m, key, klen, sr_hash64(key, klen), &slot);
  if (idx < 0) return 0;
  *old_off = m->ents[idx] & ENT_OFF;
  m->garbage += rec_size(m, *old_off);
  m->ents[idx] = ENT_FREE | m->free_head;
  m->free_head = (uint32_t)idx;
  m->n_live--;
  map_slot_delete(m, slot);
  return 1;
}

/* Rewrites the heap with only live records. Best effort: kept as is when out of memory. */
void sr__map_compact(kvmap *m) {
  uint64_t live = m->heap_len - m->garbage;
  uint64_t cap = live + live / 8 + 4096;
  char *heap = malloc(cap);
  if (!heap) return;
  uint64_t len = 0;
  for (uint32_t i = 0; i < m->n_ents; i++) {
    if (m->ents[i] & ENT_FREE) continue;
    uint64_t off = m->ents[i] & ENT_OFF, n = rec_size(m, off);
    memcpy(heap + len, m->heap + off, n);
    m->ents[i] = len | (m->ents[i] & ENT_DIRTY);
    len += n;
  }
  free(m->heap);
  m->heap = heap;
  m->heap_len = len;
  m->heap_cap = cap;
  m->garbage = 0;
}

int sr__map_wants_compaction(const kvmap *m) {
  return m->garbage > 65536 && m->garbage > m->heap_len / 2;
}
