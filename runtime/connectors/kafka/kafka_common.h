/*
** kafka_common: what the Kafka source (source_kafka.c) and sink (sink_kafka.c) share.
**
** - A librdkafka configuration built from a connector's options: every job option "kafka.X"
**   becomes librdkafka property X (security settings included), between the connector's
**   defaults (which a job may override) and its forced settings (which it may not).
** - librdkafka errors as sr_error: retriable (a broker, the network or a leader election may
**   heal it: SR_RETRY, the engine backs off and tries again) or fatal (SR_ERROR).
** - The offsets JSON both connectors keep in checkpoints, Spark's shape:
**   {"topic": {"0": 23, "1": 42}, ...}. Keys that start with '$' are never topics (Kafka
**   topic names are [a-zA-Z0-9._-]); the source keeps its own notes under them.
**
** Nothing here calls into Lua.
*/
#ifndef SR_KAFKA_COMMON_H
#define SR_KAFKA_COMMON_H
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "options.h"
#include "sr_error.h"

/* One librdkafka property. `why` (forced settings only) says why a job may not change it. */
typedef struct sr_kafka_setting {
  const char *name;
  const char *value;
  const char *why;
} sr_kafka_setting;

/* librdkafka's log callback: its lines in streamrun's log format on stderr. Thread-safe. */
void sr_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* Builds a configuration: `defaults` first, then each option "kafka.X" of opts as property X
** unless X is in `skip` (NULL-terminated; properties the connector interprets itself), then
** `forced`. Both lists end with {NULL}. A job option that sets a forced property to another
** value, or a property librdkafka refuses, is an SR_ERROR naming the option and `what` ("the
** kafka source"). Requires kafka.bootstrap.servers. Returns a new configuration the caller
** owns (rd_kafka_new takes it), or NULL with *err set. Allocates. */
rd_kafka_conf_t *sr_kafka_conf_new(const sr_options *opts, const sr_kafka_setting *defaults,
                                   const sr_kafka_setting *forced, const char *const *skip,
                                   const char *what, sr_error **err);

/* 1 when code is transient: network, broker, leader election, timeouts, throttling. */
int sr_kafka_err_retriable(rd_kafka_resp_err_t code);

/* Sets *err to "<fmt ...>: <librdkafka's text> (<error name>)" with SR_RETRY when code is
** retriable, else SR_ERROR, and returns that status. Allocates. */
sr_status sr_kafka_error(sr_error **err, rd_kafka_resp_err_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses {"topic": {"partition": offset, ...}, ...} into a new list with each element's
** offset set, skipping keys that start with '$'. Returns NULL with *err (SR_ERROR) for any
** other shape (what names the JSON in the message). The caller destroys the list. */
rd_kafka_topic_partition_list_t *sr_kafka_offsets_parse(const json_t *j, const char *what,
                                                        sr_error **err);

/* The list as offsets JSON (partitions in the list's order). A new reference, NULL when out of
** memory. */
json_t *sr_kafka_offsets_json(const rd_kafka_topic_partition_list_t *l);

/* Asks the partitions' leaders, in one ListOffsets round per leader, for an offset per
** element; each element's offset says which on input: RD_KAFKA_OFFSET_BEGINNING (-2, the log
** start), RD_KAFKA_OFFSET_END (-1, the log end: the high watermark, or the last stable offset
** for an isolation.level=read_committed client), or a timestamp in ms (the first offset at or
** after it, -1 when there is none), and holds the answer on return. An empty list is SR_OK.
** On failure returns SR_RETRY/SR_ERROR with *err naming the first partition at fault; the
** offsets are then undefined. */
sr_status sr_kafka_list_offsets(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l,
                                int timeout_ms, sr_error **err);

/* Sets every element's offset to v. */
void sr_kafka_tp_fill(rd_kafka_topic_partition_list_t *l, int64_t v);

/* The element for topic/partition in l, or NULL. Linear. */
rd_kafka_topic_partition_t *sr_kafka_tp_find(const rd_kafka_topic_partition_list_t *l,
                                             const char *topic, int32_t partition);

/* Sets topic/partition's offset in l, adding the element when missing. Allocates. */
void sr_kafka_tp_set(rd_kafka_topic_partition_list_t *l, const char *topic, int32_t partition,
                     int64_t offset);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t sr_kafka_now_ms(void);

#endif
