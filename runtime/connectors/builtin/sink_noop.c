/* The noop sink: consumes every row and writes nothing (Spark's noop, for benchmarks). It
** takes a source's records as they are (write_view): a query whose rows go to it untouched
** reads its source and builds no row, as Spark's noop runs the query and drops its output. */
#include "connector.h"

static const sr_option_spec noop_options[] = {{NULL}};

static sr_status noop_open(sr_sink *sink, const sr_connector_config *cfg, sr_error **err) { return SR_OK; }

static sr_status noop_write(sr_sink *sink, int64_t batch_id, lua_State *L, int rows_idx, int nrows,
                            int spec_idx, sr_error **err) {
  return SR_OK;
}

static sr_status noop_write_view(sr_sink *sink, int64_t batch_id, const sr_row_view *view,
                                 sr_error **err) {
  return SR_OK;
}

static sr_status noop_commit(sr_sink *sink, int64_t batch_id, sr_error **err) { return SR_OK; }

const sr_sink_ops sr_sink_noop = {
  .name = "noop", .options = noop_options, .open = noop_open, .write = noop_write,
  .write_view = noop_write_view, .commit = noop_commit,
  .temp_checkpoint_ok = 1,
};
