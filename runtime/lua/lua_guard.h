/*
** lua_guard: bounds the time a batch spends in Lua, and lets a stop signal interrupt it.
**
** A batch's Lua call runs between sr_guard_begin and sr_guard_end. A POSIX timer aimed at the
** calling thread fires when the batch's time budget (batchTimeout) is spent, or one second
** after a stop signal arrived while the batch runs; its handler arms a count hook, as
** luajit.c's SIGINT handler does, and the hook raises an error at the next Lua instruction the
** interpreter runs. The error is a table {streamrun_interrupt = true, message = ...} naming
** the job line running and the row of the fused loop, which the operators pass on unchanged;
** the hook stays armed, so code that catches it is interrupted again.
**
** LuaJIT does not run hooks inside compiled traces: a loop the JIT compiled never reaches the
** hook. Five seconds after the hook was armed, if the batch still runs, the timer's handler
** writes the reason to stderr and ends the process (exit 1 for a timeout, 130 for a stop).
** That is as safe as kill -9: the batch was never committed and re-runs at the next start.
**
** One batch runs at a time per process (the job's thread); the functions are not reentrant.
*/
#ifndef SR_LUA_GUARD_H
#define SR_LUA_GUARD_H
#include <lua.h>
#include <stdint.h>

/* Why a batch's Lua call was interrupted. */
typedef enum { SR_GUARD_NONE = 0, SR_GUARD_TIMEOUT, SR_GUARD_STOP } sr_guard_reason;

/* Installs the timer's signal handler and creates the timer for the calling thread (the one
** that will run batches). Returns 0, or -1 with errno set. Call once, before any batch. */
int sr_guard_init(void);

/* Starts guarding a batch's Lua call on L: timeout_ms (<= 0: none) from now. what names the
** batch in messages ("query q, batch 3"); it is copied. Async-signal-safe with respect to
** sr_guard_stop. */
void sr_guard_begin(lua_State *L, int64_t timeout_ms, const char *what);

/* Ends guarding: disarms the timer and the hook. Returns why the call was interrupted
** (SR_GUARD_NONE when it was not). */
sr_guard_reason sr_guard_end(void);

/* A stop signal arrived: interrupt the batch in flight one second from now if it has not
** ended by then. Async-signal-safe; does nothing between batches. */
void sr_guard_stop(void);

#endif
