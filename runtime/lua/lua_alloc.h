/*
** lua_alloc: the allocator of the lua_States that run jobs (a lua_Alloc).
**
** Small blocks (tables, strings, closures, hash parts: up to SR_LUA_ALLOC_SMALL bytes) come
** from one free list per 16-byte size class, carved from 1 MiB slabs, and go back to their
** list when LuaJIT frees them, found by the size LuaJIT passes (no header per block). A batch
** allocates its rows, the full collection after the batch frees them, and the next batch
** reuses the same memory: no page faults for fresh pages (on a VM they cost more than the
** allocation) and none of malloc's coalescing. Slabs are returned to the system only when
** the state closes, so a state holds the most small-block memory any batch needed, until a
** trim gives back the pages that hold only free blocks after a peak; larger blocks go to
** malloc and are freed at once. A heap may have a limit: past it, the allocation fails and
** LuaJIT raises "not enough memory" in the code that asked.
*/
#ifndef SR_LUA_ALLOC_H
#define SR_LUA_ALLOC_H
#include <stddef.h>

#define SR_LUA_ALLOC_SMALL 512

typedef struct sr_lua_heap sr_lua_heap;

/* A new heap, NULL when out of memory. Free it with sr_lua_heap_free after lua_close. */
sr_lua_heap *sr_lua_heap_new(void);
void sr_lua_heap_free(sr_lua_heap *h); /* accepts NULL */
/* The lua_Alloc to pass to lua_newstate with the heap as ud. */
void *sr_lua_heap_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
/* Bytes held from the system: slabs, and large blocks in use (pages given back by a trim
** included: they are still mapped, and come back when used). */
size_t sr_lua_heap_reserved(const sr_lua_heap *h);
/* Refuses allocations that would take the reserved bytes past limit (0: no limit). */
void sr_lua_heap_set_limit(sr_lua_heap *h, size_t limit);
size_t sr_lua_heap_limit(const sr_lua_heap *h);
/* 1 if an allocation was refused by the limit since the last call (and clears it). */
int sr_lua_heap_refused(sr_lua_heap *h);
/* Gives the system back every whole page of the slabs that holds only free blocks
** (madvise(MADV_DONTNEED): the blocks stay on their free lists, and a page comes back zeroed
** when one of its blocks is next used). Walks every free block: call it after a peak, not
** after every batch. Allocates a little working memory (none is needed for correctness).
** Returns the bytes given back. */
size_t sr_lua_heap_trim(sr_lua_heap *h);

#endif
