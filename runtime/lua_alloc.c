/* lua_alloc: see lua_alloc.h. */
#include "lua_alloc.h"

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
  size_t reserved;
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

static inline size_t class_of(size_t n) { return (n + CLASS_BYTES - 1) / CLASS_BYTES; }

static void *small_alloc(sr_lua_heap *h, size_t cls) {
  free_stack *f = &h->free[cls];
  if (f->n) return f->p[--f->n];
  size_t n = cls * CLASS_BYTES;
  if ((size_t)(h->bump_end - h->bump) < n) {
    /* The old slab's tail (< SR_LUA_ALLOC_SMALL bytes) is left unused. */
    slab *s;
    if (posix_memalign((void **)&s, SLAB_BYTES, SLAB_BYTES) != 0) return NULL;
    (void)madvise(s, SLAB_BYTES, MADV_HUGEPAGE); /* a hint: refused is fine */
    s->next = h->slabs;
    h->slabs = s;
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
    void *q = realloc(ptr, nsize);
    if (q) h->reserved = h->reserved - osize + nsize;
    return q;
  }
  if (ptr && ocls == ncls) return ptr;
  void *q;
  if (ncls <= NCLASSES) q = small_alloc(h, ncls);
  else if ((q = malloc(nsize))) h->reserved += nsize;
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
