/* The Lua sources of the streamrun module, compiled into the binary (scripts/embed_lua.cmake). */
#ifndef SR_LUA_EMBEDDED_H
#define SR_LUA_EMBEDDED_H
#include <stddef.h>

typedef struct sr_embedded_module {
  const char *name;      /* module name as given to require: "streamrun", "streamrun.plan" */
  const char *chunkname; /* "@lua/streamrun/plan.lua", so errors name the source file */
  const char *source;
  size_t len;
} sr_embedded_module;

/* Terminated by an entry whose name is NULL. */
extern const sr_embedded_module sr_embedded_modules[];

#endif
