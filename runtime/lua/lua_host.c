/* lua_host: see lua_host.h. */
#include "lua_host.h"
#include "lua_alloc.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "lua_embedded.h"
#include "sr_log.h"

static int panic(lua_State *L) {
  sr_log("error", NULL, -1, "unprotected Lua error: %s", lua_tostring(L, -1));
  return 0;
}

/* package.searchers entry: modules compiled into the binary. */
static int embedded_searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  for (const sr_embedded_module *m = sr_embedded_modules; m->name; m++) {
    if (strcmp(m->name, name) == 0) {
      if (luaL_loadbuffer(L, m->source, m->len, m->chunkname) != 0) return lua_error(L);
      return 1;
    }
  }
  lua_pushfstring(L, "\n\tno embedded module '%s'", name);
  return 1;
}

enum { MAX_CORE_LIBS = 16 };
static sr_lua_lib_fn core_libs[MAX_CORE_LIBS];
static int ncore_libs;

void sr_lua_add_core_lib(sr_lua_lib_fn open) {
  for (int i = 0; i < ncore_libs; i++)
    if (core_libs[i] == open) return;
  if (ncore_libs < MAX_CORE_LIBS) core_libs[ncore_libs++] = open;
}

int sr_lua_open_core(lua_State *L) {
  lua_newtable(L);
  for (int i = 0; i < ncore_libs; i++) {
    core_libs[i](L);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_settable(L, -5);
    }
    lua_pop(L, 1);
  }
  lua_pushliteral(L, SR_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}

static void add_searcher(lua_State *L) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaders"); /* LuaJIT/5.1 name */
  int n = (int)lua_objlen(L, -1);
  /* after the preload searcher, before the file searchers: embedded modules win over files */
  for (int i = n; i >= 2; i--) {
    lua_rawgeti(L, -1, i);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushcfunction(L, embedded_searcher);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 1);
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, sr_lua_open_core);
  lua_setfield(L, -2, "streamrun.core");
  lua_pop(L, 2);
}

static void set_job_path(lua_State *L, const char *job_dir) {
  if (!job_dir) return;
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", job_dir, job_dir);
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
}

/* Job states use lua_alloc's heap (see there why): a third of a Nexmark q0 run went to
** malloc's coalescing with glibc under the state, and as much again to page faults with
** LuaJIT's own allocator, which returns memory to the system after every batch. */
/* os.exit in a job would end every query in the middle of a batch, and with status 0: a job
** that did not finish would claim it had. As a sandbox would, job code gets an error instead. */
static int refused_exit(lua_State *L) {
  return luaL_error(L, "os.exit is not allowed in a streamrun job: it would end every query in "
                       "the middle of a batch. To stop, let the sources end (trigger = "
                       "{availableNow = true}) or raise an error to fail the query");
}

lua_State *sr_lua_new(const char *job_dir) {
  sr_lua_heap *heap = sr_lua_heap_new();
  if (!heap) return NULL;
  lua_State *L = lua_newstate(sr_lua_heap_alloc, heap);
  if (!L) {
    /* A LuaJIT built without GC64 refuses other allocators on x86-64: use its own. */
    sr_lua_heap_free(heap);
    if (!(L = luaL_newstate())) return NULL;
  }
  lua_atpanic(L, panic);
  luaL_openlibs(L);
  lua_getglobal(L, "os");
  lua_pushcfunction(L, refused_exit);
  lua_setfield(L, -2, "exit");
  lua_pop(L, 1);
  add_searcher(L);
  set_job_path(L, job_dir);
  return L;
}

struct sr_lua_heap *sr_lua_heap_of(lua_State *L) {
  void *heap = NULL;
  return lua_getallocf(L, &heap) == sr_lua_heap_alloc ? heap : NULL;
}

size_t sr_lua_memory(lua_State *L) {
  return (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
}

void sr_lua_close(lua_State *L) {
  if (!L) return;
  void *heap = NULL;
  int ours = lua_getallocf(L, &heap) == sr_lua_heap_alloc;
  lua_close(L);
  if (ours) sr_lua_heap_free(heap);
}

/* lua_close frees every object one by one: after a batch of 100,000 Kafka rows that took 28 ms,
** a tenth of the whole run, to give back memory that exit() gives back at once. Nothing else is
** lost by not closing: the runtime's own __gc metamethods free memory only, and exit() flushes
** the files a job opened with io.open. A job's __gc on its own objects does not run at exit,
** as after kill -9, which the runtime is made to survive. Under AddressSanitizer the state is
** closed, so that its leak check sees a clean heap. */
void sr_lua_close_at_exit(lua_State *L) {
#if defined(__SANITIZE_ADDRESS__)
  sr_lua_close(L);
#else
  (void)L;
#endif
}

/* 1 when a traceback line is a frame of streamrun's own code, not of the user's: C functions,
** the embedded modules (chunks "@lua/streamrun..."), the generated code (chunks
** "=streamrun-segment", "=streamrun-aggregate", ...), elisions. */
static int internal_frame(const char *line, size_t len) {
  static const char *const marks[] = {"lua/streamrun", "[C]:", "(tail call)", "...", NULL};
  if (len == 0 || line[0] != '\t') return 0;
  if (len > 11 && memcmp(line + 1, "streamrun-", 10) == 0) return 1;
  for (int i = 0; marks[i]; i++) {
    size_t m = strlen(marks[i]);
    for (size_t k = 1; k + m <= len; k++)
      if (memcmp(line + k, marks[i], m) == 0) return 1;
  }
  return 0;
}

/* Pushes msg without the traceback frames of streamrun's own code: a user reads their job's
** file:line and the frames of their own functions; "stack traceback:" goes when no frame is
** left. [-0, +1, m] */
static void push_user_trace(lua_State *L, const char *msg) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  int any = 0, header = 0;  /* header: a "stack traceback:" line waits for a user frame */
  for (const char *p = msg; *p;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    int frame = len > 0 && p[0] == '\t';
    if (len == 16 && memcmp(p, "stack traceback:", 16) == 0) {
      header = 1;
    } else if (!internal_frame(p, len)) {
      if (header && frame) {
        if (any) luaL_addchar(&b, '\n');
        luaL_addstring(&b, "stack traceback:");
        any = 1;
      }
      if (!frame || header) header = 0;
      if (any) luaL_addchar(&b, '\n');
      luaL_addlstring(&b, p, len);
      any = 1;
    }
    p += len + (nl ? 1 : 0);
  }
  luaL_pushresult(&b);
}

/* The message handler: keep the message (it holds the user's file:line) and add a traceback of
** the user's frames. Structured errors (tables with a message field, from streamrun.exec)
** keep their text, without streamrun's own frames. */
static int msghandler(lua_State *L) {
  if (lua_istable(L, 1)) {
    lua_getfield(L, 1, "message");
    if (lua_isstring(L, -1)) {
      push_user_trace(L, lua_tostring(L, -1));
      return 1;
    }
    lua_pop(L, 1);
  }
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  lua_getglobal(L, "debug");
  lua_getfield(L, -1, "traceback");
  lua_pushstring(L, msg);
  lua_pushinteger(L, 2);
  lua_call(L, 2, 1);
  push_user_trace(L, lua_tostring(L, -1));
  return 1;
}

void sr_lua_push_once(lua_State *L, const void *key, const char *src, size_t len, const char *name) {
  lua_pushlightuserdata(L, (void *)key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (!lua_isnil(L, -1)) return;
  lua_pop(L, 1);
  if (luaL_loadbuffer(L, src, len, name) != 0) lua_error(L);
  lua_call(L, 0, 1);
  lua_pushlightuserdata(L, (void *)key);
  lua_pushvalue(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
}

int sr_lua_pcall(lua_State *L, int nargs, int nresults) {
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  int status = lua_pcall(L, nargs, nresults, base);
  lua_remove(L, base);
  return status;
}
