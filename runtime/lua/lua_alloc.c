/* lua_alloc: see lua_alloc.h. */
#include "lua_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CLASS_BYTES 16
#define NCLASSES (SR_LUA_ALLOC_SMALL / CLASS_BYTES)
/* A slab is one transparent huge page where the system offers them (madvise mode): a first
** batch then takes one page fault per 2 MiB instead of 512, which halved its time. */
#define SLAB_BYTES ((size_t)2 << 20)

/* A size class's free blocks, as a stack of pointers: freeing writes to the stack, not to
** the block (the collector frees hash parts and strings it never touched, so a link inside
** the block would cost a cache miss per free). */
typedef struct free_stack {
  void **p;
  size_t n, cap;
} free_stack;

typedef struct slab {
  struct slab *next;
  _Alignas(16) unsigned char data[];
} slab;
#define SLAB_DATA (SLAB_BYTES - sizeof(slab))

struct sr_lua_heap {
  free_stack free[NCLASSES + 1];  /* by class: blocks of class * CLASS_BYTES bytes */
  unsigned char *bump, *bump_end; /* the newest slab's unused tail */
  slab *slabs;
  size_t nslabs;
  size_t reserved;
  size_t limit;                   /* 0: none */
  int refused;
};

sr_lua_heap *sr_lua_heap_new(void) { return calloc(1, sizeof(sr_lua_heap)); }

void sr_lua_heap_free(sr_lua_heap *h) {
  if (!h) return;
  for (slab *s = h->slabs, *next; s; s = next) {
    next = s->next;
    free(s);
  }
  for (int c = 0; c <= NCLASSES; c++) free(h->free[c].p);
  free(h);
}

size_t sr_lua_heap_reserved(const sr_lua_heap *h) { return h->reserved; }

void sr_lua_heap_set_limit(sr_lua_heap *h, size_t limit) { h->limit = limit; }
size_t sr_lua_heap_limit(const sr_lua_heap *h) { return h->limit; }

int sr_lua_heap_refused(sr_lua_heap *h) {
  int r = h->refused;
  h->refused = 0;
  return r;
}

/* May the heap take n more bytes from the system? Checked only where it grows (a new slab, a
** large block), so the fast paths pay nothing for the limit. */
static int may_grow(sr_lua_heap *h, size_t n) {
  if (h->limit == 0 || h->reserved + n <= h->limit) return 1;
  h->refused = 1;
  return 0;
}

static inline size_t class_of(size_t n) { return (n + CLASS_BYTES - 1) / CLASS_BYTES; }

static void *small_alloc(sr_lua_heap *h, size_t cls) {
  free_stack *f = &h->free[cls];
  if (f->n) return f->p[--f->n];
  size_t n = cls * CLASS_BYTES;
  if ((size_t)(h->bump_end - h->bump) < n) {
    /* The old slab's tail (< SR_LUA_ALLOC_SMALL bytes) is left unused. */
    slab *s;
    if (!may_grow(h, SLAB_BYTES) || posix_memalign((void **)&s, SLAB_BYTES, SLAB_BYTES) != 0)
      return NULL;
    (void)madvise(s, SLAB_BYTES, MADV_HUGEPAGE); /* a hint: refused is fine */
    s->next = h->slabs;
    h->slabs = s;
    h->nslabs++;
    h->reserved += SLAB_BYTES;
    h->bump = s->data;
    h->bump_end = s->data + SLAB_DATA;
  }
  void *p = h->bump;
  h->bump += n;
  return p;
}

/* Returns 0, or -1 when the stack cannot grow (the block is then lost until the state closes:
** a free must not fail). */
static int small_free(sr_lua_heap *h, void *p, size_t cls) {
  free_stack *f = &h->free[cls];
  if (f->n == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 1024;
    void **grown = realloc(f->p, cap * sizeof *grown);
    if (!grown) return -1;
    f->p = grown;
    f->cap = cap;
  }
  f->p[f->n++] = p;
  return 0;
}

/* Everything but the two common cases below: large blocks, resizes, a new slab, a growing
** free stack. */
static void *alloc_slow(sr_lua_heap *h, void *ptr, size_t osize, size_t nsize) {
  size_t ocls = ptr ? class_of(osize) : 0, ncls = class_of(nsize);
  if (nsize == 0) {
    if (ocls <= NCLASSES) (void)small_free(h, ptr, ocls);
    else {
      h->reserved -= osize;
      free(ptr);
    }
    return NULL;
  }
  if (ptr && ocls > NCLASSES && ncls > NCLASSES) {
    if (nsize > osize && !may_grow(h, nsize - osize)) return NULL;
    void *q = realloc(ptr, nsize);
    if (q) h->reserved = h->reserved - osize + nsize;
    return q;
  }
  if (ptr && ocls == ncls) return ptr;
  void *q = NULL;
  if (ncls <= NCLASSES) q = small_alloc(h, ncls);
  else if (may_grow(h, nsize) && (q = malloc(nsize))) h->reserved += nsize;
  if (!q) return NULL;
  if (ptr) {
    memcpy(q, ptr, osize < nsize ? osize : nsize);
    alloc_slow(h, ptr, osize, 0);
  }
  return q;
}

/* LuaJIT passes the exact size of every block it frees or resizes (its GC accounting
** depends on it), which is what lets small blocks go without a header. The collector frees a
** batch's rows one by one and the next batch allocates them again, so freeing and allocating
** a small block are a push and a pop here, and the rest goes to alloc_slow. */
void *sr_lua_heap_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  sr_lua_heap *h = ud;
  if (nsize == 0) {
    if (!ptr) return NULL;
    if (osize <= SR_LUA_ALLOC_SMALL) {
      free_stack *f = &h->free[class_of(osize)];
      if (f->n < f->cap) {
        f->p[f->n++] = ptr;
        return NULL;
      }
    }
  } else if (!ptr && nsize <= SR_LUA_ALLOC_SMALL) {
    free_stack *f = &h->free[class_of(nsize)];
    if (f->n) return f->p[--f->n];
  }
  return alloc_slow(h, ptr, osize, nsize);
}

/* --- trim ------------------------------------------------------------------------------ */

#define PAGE_BYTES ((size_t)4096)
#define PAGES_PER_SLAB (SLAB_BYTES / PAGE_BYTES)

static int by_address(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)*(slab *const *)a, y = (uintptr_t)*(slab *const *)b;
  return x < y ? -1 : x > y;
}

/* Adds the free bytes [p, p + n) to the per-page counts of the slab holding p (slabs are
** SLAB_BYTES-aligned, found by binary search in the sorted array). */
static void count_free(slab **sorted, size_t ns, uint16_t *free_bytes, unsigned char *p, size_t n) {
  uintptr_t base = (uintptr_t)p & ~(uintptr_t)(SLAB_BYTES - 1);
  size_t lo = 0, hi = ns;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if ((uintptr_t)sorted[mid] < base) lo = mid + 1;
    else hi = mid;
  }
  if (lo == ns || (uintptr_t)sorted[lo] != base) return; /* not a slab's block: cannot be */
  uint16_t *pages = free_bytes + lo * PAGES_PER_SLAB;
  size_t off = (size_t)((uintptr_t)p - base);
  while (n > 0) {
    size_t page = off / PAGE_BYTES, in_page = PAGE_BYTES - off % PAGE_BYTES;
    size_t take = n < in_page ? n : in_page;
    pages[page] = (uint16_t)(pages[page] + take);
    off += take;
    n -= take;
  }
}

size_t sr_lua_heap_trim(sr_lua_heap *h) {
  size_t ns = h->nslabs, released = 0;
  if (ns == 0) return 0;
  slab **sorted = malloc(ns * sizeof *sorted);
  /* free bytes per page of each slab, in slab address order (at most PAGE_BYTES each) */
  uint16_t *free_bytes = calloc(ns * PAGES_PER_SLAB, sizeof *free_bytes);
  if (!sorted || !free_bytes) goto out;
  size_t i = 0;
  for (slab *s = h->slabs; s; s = s->next) sorted[i++] = s;
  qsort(sorted, ns, sizeof *sorted, by_address);
  for (size_t c = 1; c <= NCLASSES; c++)
    for (size_t k = 0; k < h->free[c].n; k++)
      count_free(sorted, ns, free_bytes, h->free[c].p[k], c * CLASS_BYTES);
  if (h->bump < h->bump_end)
    count_free(sorted, ns, free_bytes, h->bump, (size_t)(h->bump_end - h->bump));
  for (size_t s = 0; s < ns; s++) {
    unsigned char *base = (unsigned char *)sorted[s];
    size_t run = 0; /* whole free pages before page p, not yet given back */
    for (size_t p = 0; p <= PAGES_PER_SLAB; p++) {
      if (p < PAGES_PER_SLAB && free_bytes[s * PAGES_PER_SLAB + p] == PAGE_BYTES) {
        run++;
        continue;
      }
      if (run && madvise(base + (p - run) * PAGE_BYTES, run * PAGE_BYTES, MADV_DONTNEED) == 0)
        released += run * PAGE_BYTES;
      run = 0;
    }
  }
out:
  free(sorted);
  free(free_bytes);
  return released;
}
