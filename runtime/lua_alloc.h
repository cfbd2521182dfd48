/*
** lua_alloc: the allocator of the lua_States that run jobs (a lua_Alloc).
**
** Small blocks (tables, strings, closures, hash parts: up to SR_LUA_ALLOC_SMALL bytes) come
** from one free list per 16-byte size class, carved from 1 MiB slabs, and go back to their
** list when LuaJIT frees them, found by the size LuaJIT passes (no header per block). A batch
** allocates its rows, the full collection after the batch frees them, and the next batch
** reuses the same memory: no page faults for fresh pages (on a VM they cost more than the
** allocation) and none of malloc's coalescing. Slabs are returned to the system only when
** the state closes, so a state holds the most small-block memory any batch needed; larger
** blocks go to malloc and are freed at once.
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
/* Bytes held from the system: slabs, and large blocks in use. */
size_t sr_lua_heap_reserved(const sr_lua_heap *h);

#endif
