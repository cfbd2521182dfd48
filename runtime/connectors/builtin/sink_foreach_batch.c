/*
** The foreach_batch sink: calls the job's fn(rows, batch_id) once per batch. At-least-once: a
** batch replayed after a crash is passed again with the same batch_id, so the function can
** make its effect idempotent.
*/
#include <lauxlib.h>

#include "connector.h"

static const sr_option_spec foreach_options[] = {
  {"fn", SR_OPT_STRING, NULL, "function(rows, batch_id) called once per batch"},
  {NULL},
};

static sr_status foreach_open(sr_sink *sink, const sr_connector_config *cfg, sr_error **err) {
  return SR_OK;
}

/* Runs inside the engine's protected call: an error in fn propagates with its traceback. */
static sr_status foreach_write(sr_sink *sink, int64_t batch_id, lua_State *L, int rows_idx, int nrows,
                               int spec_idx, sr_error **err) {
  lua_getfield(L, spec_idx, "fn");
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    return sr_error_set(err, SR_ERROR, "foreach_batch needs fn = function(rows, batch_id)");
  }
  lua_pushvalue(L, rows_idx);
  lua_pushnumber(L, (lua_Number)batch_id);
  lua_call(L, 2, 0);
  return SR_OK;
}

static sr_status foreach_commit(sr_sink *sink, int64_t batch_id, sr_error **err) { return SR_OK; }

const sr_sink_ops sr_sink_foreach_batch = {
  .name = "foreach_batch", .options = foreach_options, .open = foreach_open,
  .write = foreach_write, .commit = foreach_commit,
  .temp_checkpoint_ok = 1,
};
