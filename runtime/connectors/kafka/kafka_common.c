/* kafka_common: see kafka_common.h. */
#include "kafka_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sr_log.h"

#define KAFKA_PREFIX "kafka."
#define KAFKA_PREFIX_LEN 6

static int in_list(const char *const *list, const char *name) {
  for (const char *const *p = list; p && *p; p++)
    if (strcmp(*p, name) == 0) return 1;
  return 0;
}

static const sr_kafka_setting *setting_find(const sr_kafka_setting *list, const char *name) {
  for (const sr_kafka_setting *s = list; s && s->name; s++)
    if (strcmp(s->name, name) == 0) return s;
  return NULL;
}

/* librdkafka's log lines in streamrun's format ("streamrun: [level] ...", as sr.log writes),
** not its own "%3|1796690354.406|FAIL|client| ..." (called from librdkafka's threads: one
** fprintf per line, which stdio writes whole). Syslog levels: 0-3 error, 4 warn, 5-6 info. */
void sr_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  const char *name = level <= 3 ? "error" : level == 4 ? "warn" : level <= 6 ? "info" : "debug";
  sr_log(level <= 4 ? (level <= 3 ? "error" : "warning") : "info", NULL, -1, "[%s] kafka %s: %s: %s",
         name, rk ? rd_kafka_name(rk) : "", fac, buf);
}

rd_kafka_conf_t *sr_kafka_conf_new(const sr_options *opts, const sr_kafka_setting *defaults,
                                   const sr_kafka_setting *forced, const char *const *skip,
                                   const char *what, sr_error **err) {
  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, sr_kafka_log);
  int have_bootstrap = 0;
  for (const sr_kafka_setting *s = defaults; s && s->name; s++) {
    if (rd_kafka_conf_set(conf, s->name, s->value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      sr_error_set(err, SR_ERROR, "%s: librdkafka refused the default %s=%s: %s", what, s->name,
                   s->value, errstr);
      goto fail;
    }
  }
  for (int i = 0; opts && i < opts->n; i++) {
    const char *name = opts->names[i], *value = opts->values[i];
    if (strncmp(name, KAFKA_PREFIX, KAFKA_PREFIX_LEN) != 0) continue;
    const char *prop = name + KAFKA_PREFIX_LEN;
    if (in_list(skip, prop)) continue;
    const sr_kafka_setting *f = setting_find(forced, prop);
    if (f && strcmp(f->value, value) != 0) {
      sr_error_set(err, SR_ERROR, "option '%s' of %s cannot be set to \"%s\": %s", name, what,
                   value, f->why);
      goto fail;
    }
    if (rd_kafka_conf_set(conf, prop, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      sr_error_set(err, SR_ERROR, "option '%s' of %s: librdkafka: %s", name, what, errstr);
      goto fail;
    }
    if (strcmp(prop, "bootstrap.servers") == 0 || strcmp(prop, "metadata.broker.list") == 0)
      have_bootstrap = *value != '\0';
  }
  if (!have_bootstrap) {
    sr_error_set(err, SR_ERROR, "%s needs option 'kafka.bootstrap.servers' (host:port,...)", what);
    goto fail;
  }
  for (const sr_kafka_setting *s = forced; s && s->name; s++) {
    if (rd_kafka_conf_set(conf, s->name, s->value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      sr_error_set(err, SR_ERROR, "%s: librdkafka refused %s=%s: %s", what, s->name, s->value,
                   errstr);
      goto fail;
    }
  }
  return conf;
fail:
  rd_kafka_conf_destroy(conf);
  return NULL;
}

int sr_kafka_err_retriable(rd_kafka_resp_err_t code) {
  switch (code) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__NODE_UPDATE:
    case RD_KAFKA_RESP_ERR__OUTDATED:
    case RD_KAFKA_RESP_ERR__RETRY:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__PREV_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS:
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
    case RD_KAFKA_RESP_ERR_PREFERRED_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT:
      return 1;
    default:
      return 0;
  }
}

sr_status sr_kafka_error(sr_error **err, rd_kafka_resp_err_t code, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  sr_status st = sr_kafka_err_retriable(code) ? SR_RETRY : SR_ERROR;
  return sr_error_set(err, st, "%s: %s (%s)", what, rd_kafka_err2str(code), rd_kafka_err2name(code));
}

/* Parses a partition number written as a JSON object key. */
static int parse_partition(const char *s, int32_t *p) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end || errno || v < 0 || v > INT32_MAX) return -1;
  *p = (int32_t)v;
  return 0;
}

rd_kafka_topic_partition_list_t *sr_kafka_offsets_parse(const json_t *j, const char *what,
                                                        sr_error **err) {
  if (!json_is_object(j)) {
    sr_error_set(err, SR_ERROR, "%s must be a JSON object {\"topic\": {\"0\": offset, ...}}", what);
    return NULL;
  }
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
  const char *topic;
  json_t *parts;
  json_object_foreach((json_t *)j, topic, parts) {
    if (topic[0] == '$') continue;
    if (!json_is_object(parts)) {
      sr_error_set(err, SR_ERROR, "%s: topic '%s' must map partitions to offsets, as {\"0\": 23}",
                   what, topic);
      goto fail;
    }
    const char *pkey;
    json_t *off;
    json_object_foreach(parts, pkey, off) {
      int32_t partition;
      /* A JSON round trip elsewhere may turn 23 into 23.0: accept integral reals. */
      int integral = json_is_integer(off) ||
                     (json_is_real(off) && json_real_value(off) == (double)(int64_t)json_real_value(off));
      if (parse_partition(pkey, &partition) != 0 || !integral) {
        sr_error_set(err, SR_ERROR, "%s: topic '%s': \"%s\" must be a partition number with an "
                     "integer offset", what, topic, pkey);
        goto fail;
      }
      sr_kafka_tp_set(l, topic, partition, json_is_integer(off) ? (int64_t)json_integer_value(off)
                                                                : (int64_t)json_real_value(off));
    }
  }
  return l;
fail:
  rd_kafka_topic_partition_list_destroy(l);
  return NULL;
}

json_t *sr_kafka_offsets_json(const rd_kafka_topic_partition_list_t *l) {
  json_t *root = json_object();
  if (!root) return NULL;
  for (int i = 0; i < l->cnt; i++) {
    const rd_kafka_topic_partition_t *e = &l->elems[i];
    json_t *t = json_object_get(root, e->topic);
    if (!t) {
      t = json_object();
      if (!t || json_object_set_new(root, e->topic, t) != 0) goto fail;
    }
    char key[16];
    snprintf(key, sizeof key, "%d", (int)e->partition);
    if (json_object_set_new(t, key, json_integer((json_int_t)e->offset)) != 0) goto fail;
  }
  return root;
fail:
  json_decref(root);
  return NULL;
}

sr_status sr_kafka_list_offsets(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l,
                                int timeout_ms, sr_error **err) {
  if (l->cnt == 0) return SR_OK;
  for (int i = 0; i < l->cnt; i++) l->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
  rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, l, timeout_ms);
  if (e) return sr_kafka_error(err, e, "querying the offsets of %d partition(s)", l->cnt);
  for (int i = 0; i < l->cnt; i++)
    if (l->elems[i].err)
      return sr_kafka_error(err, l->elems[i].err, "querying the offsets of %s partition %d",
                            l->elems[i].topic, (int)l->elems[i].partition);
  return SR_OK;
}

void sr_kafka_tp_fill(rd_kafka_topic_partition_list_t *l, int64_t v) {
  for (int i = 0; i < l->cnt; i++) l->elems[i].offset = v;
}

rd_kafka_topic_partition_t *sr_kafka_tp_find(const rd_kafka_topic_partition_list_t *l,
                                             const char *topic, int32_t partition) {
  for (int i = 0; l && i < l->cnt; i++)
    if (l->elems[i].partition == partition && strcmp(l->elems[i].topic, topic) == 0)
      return &l->elems[i];
  return NULL;
}

void sr_kafka_tp_set(rd_kafka_topic_partition_list_t *l, const char *topic, int32_t partition,
                     int64_t offset) {
  rd_kafka_topic_partition_t *e = sr_kafka_tp_find(l, topic, partition);
  if (!e) e = rd_kafka_topic_partition_list_add(l, topic, partition);
  e->offset = offset;
}

int64_t sr_kafka_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
