/*
** test_driver: `streamrun test`, and the in-process driver that streamrun.testing (a busted
** spec) runs a job with.
**
** The job file is loaded unchanged into a lua_State of its own, as `streamrun JOB.lua` loads
** it, and its queries are opened by the real engine (query.c: checkpoint, state stores,
** watermarks, output modes). Only the connectors are replaced: each source reads rows a spec
** added in memory (one `add` is one offset, as Spark's MemoryStream), each sink captures its
** output into the checkpoint, one checked file per batch, idempotent by batch id like a real
** sink's. Batches run when the spec asks, and processing time is a virtual clock the spec
** sets.
*/
#ifndef SR_TEST_DRIVER_H
#define SR_TEST_DRIVER_H
#include <lua.h>

/* [-0, +1, m] The driver's Lua functions (package.preload "streamrun.test_driver", which
** lua/streamrun/testing.lua wraps): open(path, {args=, checkpoint=}) -> driver, tmpdir, fork,
** wait, exit, crash_at, crash_points. */
int sr_open_test_driver(lua_State *L);

/* streamrun test [BUSTED OPTIONS] [PATH...]: runs busted's runner (Debian's lua-busted) in this
** binary's LuaJIT, with streamrun and streamrun.testing available. Returns an exit code: 0 when
** every spec passed, 1 otherwise. */
int sr_test_main(int argc, char **argv);

#endif
