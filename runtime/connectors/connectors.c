/* The connector registry: the one place that lists every source and sink. */
#include <string.h>

#include "connector.h"

extern const sr_source_ops sr_source_json, sr_source_csv, sr_source_text, sr_source_rate,
    sr_source_nexmark, sr_source_kafka;
extern const sr_sink_ops sr_sink_console, sr_sink_memory, sr_sink_json, sr_sink_csv,
    sr_sink_foreach_batch, sr_sink_noop, sr_sink_kafka;

extern const sr_source_ops sr_source_delta;
static const sr_source_ops *const sources[] = {
  &sr_source_delta,
  &sr_source_json, &sr_source_csv, &sr_source_text, &sr_source_rate, &sr_source_nexmark,
  &sr_source_kafka, NULL,
};

extern const sr_sink_ops sr_sink_delta;
static const sr_sink_ops *const sinks[] = {
  &sr_sink_delta,
  &sr_sink_console, &sr_sink_memory, &sr_sink_json, &sr_sink_csv, &sr_sink_foreach_batch,
  &sr_sink_noop, &sr_sink_kafka, NULL,
};

const sr_source_ops *sr_source_lookup(const char *format) {
  for (int i = 0; sources[i]; i++)
    if (strcmp(sources[i]->name, format) == 0) return sources[i];
  return NULL;
}

const sr_sink_ops *sr_sink_lookup(const char *format) {
  for (int i = 0; sinks[i]; i++)
    if (strcmp(sinks[i]->name, format) == 0) return sinks[i];
  return NULL;
}

const char *const *sr_source_names(void) {
  static const char *names[sizeof sources / sizeof *sources];
  for (int i = 0; sources[i]; i++) names[i] = sources[i]->name;
  return names;
}

const char *const *sr_sink_names(void) {
  static const char *names[sizeof sinks / sizeof *sinks];
  for (int i = 0; sinks[i]; i++) names[i] = sinks[i]->name;
  return names;
}
