/*
** lua_guard: a batch's time budget and interruption by a stop signal. See lua_guard.h.
**
** States (phase), changed by the job thread and the timer's handler (which runs on the same
** thread, so it never sees a half-made change other than the ones ordered below):
**   IDLE     no batch in Lua; the timer is disarmed and the hook off.
**   RUNNING  a batch is in Lua; the timer fires at its deadline (or one second after a stop).
**   HOOKED   the timer fired: the count hook is armed and the timer set to the kill grace.
** sr_guard_end moves to IDLE before it disarms anything, so a handler that runs in between
** finds IDLE and does nothing.
*/
#include "lua_guard.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#define SIG_GUARD (SIGRTMIN + 4)
#define STOP_GRACE_MS 1000   /* a stop lets the batch in flight finish for this long */
#define KILL_GRACE_MS 5000   /* after the hook is armed, compiled code gets this long */
/* The armed hook runs at every call, return and instruction the interpreter dispatches, as
** luajit.c's SIGINT hook: a count hook alone misses loops whose traces were stitched around a
** call LuaJIT cannot compile (debug.getinfo, ...), which do dispatch their calls. */
#define HOOK_MASK (LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT)

enum { IDLE, RUNNING, HOOKED };

static timer_t timer;
static int have_timer;
static volatile sig_atomic_t phase = IDLE;
static volatile sig_atomic_t stop_pending;
static volatile sig_atomic_t reason = SR_GUARD_NONE;
static lua_State *volatile guarded;
static int64_t budget_ms;
static char what[160];
static char message[2048]; /* the interruption's message, made at the hook's first call */

static void arm(int64_t ms) {
  struct itimerspec it;
  memset(&it, 0, sizeof it);
  it.it_value.tv_sec = (time_t)(ms / 1000);
  it.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
  timer_settime(timer, 0, &it, NULL);
}

static int64_t remaining_ms(void) {
  struct itimerspec it;
  if (timer_gettime(timer, &it) != 0) return 0;
  return (int64_t)it.it_value.tv_sec * 1000 + it.it_value.tv_nsec / 1000000;
}

/* Is this chunk streamrun's own code (the embedded module or code it generated)? */
static int engine_chunk(const char *source) {
  return strncmp(source, "=streamrun", 10) == 0 || strncmp(source, "@lua/streamrun", 14) == 0;
}

/* Appends the job line running and the row of the innermost generated loop to message. */
static void describe(lua_State *L, size_t len) {
  lua_Debug ar;
  int row_level = -1, placed = 0;
  for (int level = 0; lua_getstack(L, level, &ar); level++) {
    if (!lua_getinfo(L, "Sl", &ar) || ar.what[0] == 'C') continue;
    if (!placed && !engine_chunk(ar.source)) {
      len += (size_t)snprintf(message + len, sizeof message - len,
                              " at %s:%d (in the function defined at line %d)", ar.short_src,
                              ar.currentline, ar.linedefined);
      placed = 1;
    }
    if (row_level < 0 && strncmp(ar.source, "=streamrun", 10) == 0) row_level = level;
  }
  if (len >= sizeof message || row_level < 0 || !lua_getstack(L, row_level, &ar)) return;
  /* the last active local named r is the row the loop is on */
  int row_slot = 0;
  const char *name;
  for (int i = 1; (name = lua_getlocal(L, &ar, i)) != NULL; i++) {
    lua_pop(L, 1);
    if (strcmp(name, "r") == 0) row_slot = i;
  }
  if (!row_slot) return;
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  lua_getfield(L, -1, "streamrun.core");
  lua_getfield(L, -1, "to_json");
  lua_getlocal(L, &ar, row_slot);
  if (lua_pcall(L, 1, 1, 0) == 0 && lua_isstring(L, -1))
    snprintf(message + len, sizeof message - len, "\n  row: %.1500s", lua_tostring(L, -1));
  lua_pop(L, 3);
}

static void on_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  if (!message[0]) {
    int n;
    if (reason == SR_GUARD_STOP)
      n = snprintf(message, sizeof message, "interrupted by a stop signal");
    else
      n = snprintf(message, sizeof message, "ran past batchTimeout (%lld ms)", (long long)budget_ms);
    describe(L, n > 0 ? (size_t)n : 0);
  }
  lua_createtable(L, 0, 2);
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "streamrun_interrupt");
  lua_pushstring(L, message);
  lua_setfield(L, -2, "message");
  lua_error(L);
}

static void write_str(const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

static void on_timer(int sig, siginfo_t *si, void *uc) {
  (void)sig, (void)si, (void)uc;
  int saved = errno;
  if (phase == RUNNING) {
    reason = stop_pending ? SR_GUARD_STOP : SR_GUARD_TIMEOUT;
    phase = HOOKED;
    lua_sethook(guarded, on_hook, HOOK_MASK, 1);
    arm(KILL_GRACE_MS);
  } else if (phase == HOOKED) {
    write_str("streamrun: ");
    write_str(what);
    write_str(reason == SR_GUARD_STOP ? ": a stop signal arrived" : ": the batch ran past batchTimeout");
    write_str(" and the code running cannot be interrupted (a loop LuaJIT compiled runs no hooks):"
              " exiting. The batch was not committed; it re-runs at the next start.\n");
    _exit(reason == SR_GUARD_STOP ? 130 : 1);
  }
  errno = saved;
}

int sr_guard_init(void) {
  if (have_timer) return 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_sigaction = on_timer;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  if (sigaction(SIG_GUARD, &sa, NULL) != 0) return -1;
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIG_GUARD;
  sev._sigev_un._tid = (pid_t)syscall(SYS_gettid); /* the thread that runs the batches */
  if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) return -1;
  have_timer = 1;
  return 0;
}

void sr_guard_begin(lua_State *L, int64_t timeout_ms, const char *label) {
  if (!have_timer) return;
  snprintf(what, sizeof what, "%s", label);
  message[0] = '\0';
  budget_ms = timeout_ms;
  reason = SR_GUARD_NONE;
  stop_pending = 0;
  guarded = L;
  phase = RUNNING;
  if (timeout_ms > 0) arm(timeout_ms);
}

sr_guard_reason sr_guard_end(void) {
  if (!have_timer) return SR_GUARD_NONE;
  int was = phase;
  phase = IDLE;
  arm(0);
  if (was == HOOKED) lua_sethook(guarded, NULL, 0, 0);
  guarded = NULL;
  return was == HOOKED ? (sr_guard_reason)reason : SR_GUARD_NONE;
}

void sr_guard_stop(void) {
  if (!have_timer || phase != RUNNING) return;
  stop_pending = 1;
  int64_t left = remaining_ms();
  if (left == 0 || left > STOP_GRACE_MS) arm(STOP_GRACE_MS);
}
