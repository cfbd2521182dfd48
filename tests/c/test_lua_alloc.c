/* The lua_State allocator (lua_alloc.c): blocks keep their bytes through resizes across size
** classes and into malloc's range, freed blocks are reused, and LuaJIT runs on it. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <string.h>

#include "lua_alloc.h"
#include "sr_test.h"

static void fill(unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 7);
}

static int holds(const unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(seed + i * 7)) return 0;
  return 1;
}

SR_TEST(resize_keeps_bytes_across_classes_and_into_malloc) {
  sr_lua_heap *h = sr_lua_heap_new();
  ASSERT_TRUE(h != NULL);
  /* small -> small (other class) -> same class -> large -> larger -> small -> freed */
  static const size_t sizes[] = {24, 200, 196, SR_LUA_ALLOC_SMALL, SR_LUA_ALLOC_SMALL + 1, 5000, 100000, 40};
  size_t n = sizes[0];
  unsigned char *p = sr_lua_heap_alloc(h, NULL, 0, n);
  ASSERT_TRUE(p != NULL);
  ASSERT_EQ_INT((uintptr_t)p % 16, 0);
  fill(p, n, 1);
  for (size_t i = 1; i < sizeof sizes / sizeof *sizes; i++) {
    size_t m = sizes[i];
    p = sr_lua_heap_alloc(h, p, n, m);
    ASSERT_TRUE(p != NULL);
    ASSERT_EQ_INT((uintptr_t)p % 16, 0);
    ASSERT_TRUE(holds(p, n < m ? n : m, 1));
    fill(p, m, 1);
    n = m;
  }
  ASSERT_TRUE(sr_lua_heap_alloc(h, p, n, 0) == NULL);
  ASSERT_TRUE(sr_lua_heap_alloc(h, NULL, 0, 0) == NULL);
  sr_lua_heap_free(h);
}

SR_TEST(freed_small_blocks_are_reused_and_large_ones_released) {
  sr_lua_heap *h = sr_lua_heap_new();
  enum { N = 50000 };
  static void *blocks[N];
  for (int i = 0; i < N; i++) {
    blocks[i] = sr_lua_heap_alloc(h, NULL, 0, 64);
    fill(blocks[i], 64, (unsigned)i);
  }
  for (int i = 0; i < N; i++) ASSERT_TRUE(holds(blocks[i], 64, (unsigned)i)); /* no overlap */
  size_t reserved = sr_lua_heap_reserved(h);
  ASSERT_TRUE(reserved >= (size_t)N * 64);
  for (int i = 0; i < N; i++) sr_lua_heap_alloc(h, blocks[i], 64, 0);
  /* a second round of the same size takes the freed blocks: nothing more reserved */
  for (int i = 0; i < N; i++) blocks[i] = sr_lua_heap_alloc(h, NULL, 0, 60);
  ASSERT_EQ_INT(sr_lua_heap_reserved(h), reserved);
  for (int i = 0; i < N; i++) sr_lua_heap_alloc(h, blocks[i], 60, 0);
  void *big = sr_lua_heap_alloc(h, NULL, 0, 1 << 20);
  ASSERT_EQ_INT(sr_lua_heap_reserved(h), reserved + (1 << 20));
  sr_lua_heap_alloc(h, big, 1 << 20, 0);
  ASSERT_EQ_INT(sr_lua_heap_reserved(h), reserved);
  sr_lua_heap_free(h);
}

/* Resident kilobytes of the process (VmRSS). */
static long rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  if (f) fclose(f);
  return kb;
}

SR_TEST(trim_gives_back_pages_of_free_blocks_only) {
  sr_lua_heap *h = sr_lua_heap_new();
  enum { N = 1000000 }; /* 64 MB of 64-byte blocks */
  static void *blocks[N];
  for (int i = 0; i < N; i++) {
    blocks[i] = sr_lua_heap_alloc(h, NULL, 0, 64);
    fill(blocks[i], 64, (unsigned)i);
  }
  /* every 1000th block stays: its page must keep its bytes */
  for (int i = 0; i < N; i++)
    if (i % 1000) sr_lua_heap_alloc(h, blocks[i], 64, 0);
  long before = rss_kb();
  size_t released = sr_lua_heap_trim(h);
  long after = rss_kb();
  ASSERT_TRUE(released > (size_t)50 << 20);
  ASSERT_TRUE(before - after > 40 * 1024);
  for (int i = 0; i < N; i += 1000) ASSERT_TRUE(holds(blocks[i], 64, (unsigned)i));
  /* the freed blocks are still usable: the pages come back, zeroed */
  size_t reserved = sr_lua_heap_reserved(h);
  for (int i = 1; i < N; i++)
    if (i % 1000) {
      blocks[i] = sr_lua_heap_alloc(h, NULL, 0, 64);
      fill(blocks[i], 64, (unsigned)i);
    }
  ASSERT_EQ_INT(sr_lua_heap_reserved(h), reserved);
  for (int i = 0; i < N; i++) ASSERT_TRUE(holds(blocks[i], 64, (unsigned)i));
  sr_lua_heap_free(h);
}

SR_TEST(limit_refuses_growth_past_it) {
  sr_lua_heap *h = sr_lua_heap_new();
  sr_lua_heap_set_limit(h, (size_t)8 << 20);
  void *big = sr_lua_heap_alloc(h, NULL, 0, (size_t)6 << 20);
  ASSERT_TRUE(big != NULL);
  ASSERT_EQ_INT(sr_lua_heap_refused(h), 0);
  ASSERT_TRUE(sr_lua_heap_alloc(h, NULL, 0, (size_t)4 << 20) == NULL); /* a large block */
  ASSERT_EQ_INT(sr_lua_heap_refused(h), 1);
  ASSERT_EQ_INT(sr_lua_heap_refused(h), 0); /* read and cleared */
  int n = 0;
  while (sr_lua_heap_alloc(h, NULL, 0, 256) && n < 100000) n++; /* small blocks: new slabs */
  ASSERT_TRUE(n > 0 && n < 100000);
  ASSERT_EQ_INT(sr_lua_heap_refused(h), 1);
  ASSERT_TRUE(sr_lua_heap_reserved(h) <= (size_t)8 << 20);
  sr_lua_heap_alloc(h, big, (size_t)6 << 20, 0); /* large blocks are LuaJIT's to free */
  sr_lua_heap_free(h);
}

/* LuaJIT on the heap: batches of rows made and collected, strings, resized tables. The
** answer is checked so a block handed out twice would show. */
SR_TEST(luajit_runs_on_it) {
  sr_lua_heap *h = sr_lua_heap_new();
  lua_State *L = lua_newstate(sr_lua_heap_alloc, h);
  ASSERT_TRUE(L != NULL);
  luaL_openlibs(L);
  const char *job =
    "local total = 0\n"
    "for batch = 1, 20 do\n"
    "  local rows = {}\n"
    "  for i = 1, 20000 do\n"
    "    rows[i] = { id = i, name = 'row' .. i, tags = { batch, i % 7 } }\n"
    "  end\n"
    "  for i = 1, #rows, 3 do rows[i].extra = string.rep('x', i % 700) end\n"
    "  for i = 1, #rows do local r = rows[i]\n"
    "    total = total + r.id + #r.name + r.tags[2] + #(r.extra or '') end\n"
    "  rows = nil\n"
    "  collectgarbage()\n"
    "end\n"
    "return total\n";
  if (luaL_dostring(L, job) != 0) SR_FAIL("lua: %s", lua_tostring(L, -1));
  /* the same sums in C */
  double want = 0;
  for (int batch = 1; batch <= 20; batch++)
    for (int i = 1; i <= 20000; i++) {
      char name[16];
      want += i + snprintf(name, sizeof name, "row%d", i) + i % 7 + ((i - 1) % 3 == 0 ? i % 700 : 0);
    }
  ASSERT_EQ_DBL(lua_tonumber(L, -1), want);
  lua_close(L);
  sr_lua_heap_free(h);
}

int main(void) {
  return SR_RUN(resize_keeps_bytes_across_classes_and_into_malloc,
                freed_small_blocks_are_reused_and_large_ones_released,
                trim_gives_back_pages_of_free_blocks_only, limit_refuses_growth_past_it,
                luajit_runs_on_it);
}
