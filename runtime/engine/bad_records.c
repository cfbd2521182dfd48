/* bad_records: see bad_records.h. */
#include "bad_records.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fsutil.h"
#include "utf8.h"

struct sr_bad_records {
  char *dir;
  int64_t batch_id;
  int64_t count;
  sr_buf lines;
};

sr_bad_records *sr_bad_records_new(const char *dir) {
  sr_bad_records *br = calloc(1, sizeof *br);
  if (!br) return NULL;
  br->dir = strdup(dir);
  if (!br->dir) { free(br); return NULL; }
  return br;
}

void sr_bad_records_free(sr_bad_records *br) {
  if (!br) return;
  sr_buf_free(&br->lines);
  free(br->dir);
  free(br);
}

void sr_bad_records_begin(sr_bad_records *br, int64_t batch_id) {
  br->batch_id = batch_id;
  br->count = 0;
  sr_buf_clear(&br->lines);
}

int64_t sr_bad_records_count(const sr_bad_records *br) { return br ? br->count : 0; }

static void add_record(sr_bad_records *br, json_t *o, const char *record, size_t record_len);

/* A JSON string of text, with U+FFFD for invalid UTF-8: a reason quotes the bad value, maybe
** cut inside a character, and jansson refuses such text (the field would be lost). */
static json_t *utf8_string(const char *text) {
  json_t *s = json_string(text);
  if (s) return s;
  size_t n = strlen(text);
  char *fixed = malloc(3 * n + 1);
  if (!fixed) return NULL;
  s = json_stringn(fixed, sr_utf8_repair(fixed, text, n));
  free(fixed);
  return s;
}

void sr_bad_record(sr_bad_records *br, const char *origin, int64_t line_or_offset,
                   const char *record, size_t record_len, const char *reason) {
  if (!br) return;
  json_t *o = json_object();
  json_object_set_new(o, "reason", utf8_string(reason ? reason : "bad record"));
  if (origin) json_object_set_new(o, "origin", utf8_string(origin));
  json_object_set_new(o, "line", json_integer(line_or_offset));
  add_record(br, o, record, record_len);
}

void sr_bad_record_kafka(sr_bad_records *br, const char *origin, const char *topic, int32_t partition,
                         int64_t offset, const char *record, size_t record_len, const char *reason) {
  if (!br) return;
  json_t *o = json_object();
  json_object_set_new(o, "reason", json_string(reason ? reason : "bad record"));
  if (origin) json_object_set_new(o, "origin", json_string(origin));
  json_object_set_new(o, "topic", json_string(topic ? topic : ""));
  json_object_set_new(o, "partition", json_integer(partition));
  json_object_set_new(o, "offset", json_integer(offset));
  add_record(br, o, record, record_len);
}

/* Adds the batch id and the record to o, and o to the batch's lines (takes o). */
static void add_record(sr_bad_records *br, json_t *o, const char *record, size_t record_len) {
  br->count++;
  json_object_set_new(o, "batchId", json_integer(br->batch_id));
  /* The record may not be valid UTF-8: keep it exactly when it is, else escape the bytes. */
  if (record) {
    json_t *s = json_stringn(record, record_len);
    if (!s) {
      sr_buf hex = SR_BUF_INIT;
      for (size_t i = 0; i < record_len; i++) {
        unsigned char c = (unsigned char)record[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') sr_buf_putc(&hex, (char)c);
        else sr_buf_printf(&hex, "\\x%02x", c);
      }
      s = json_string(sr_buf_cstr(&hex) ? hex.data : "");
      sr_buf_free(&hex);
    }
    json_object_set_new(o, "record", s);
  }
  char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  if (text) {
    sr_buf_puts(&br->lines, text);
    sr_buf_putc(&br->lines, '\n');
    free(text);
  }
  json_decref(o);
}

sr_status sr_bad_records_flush(sr_bad_records *br, sr_error **err) {
  if (!br || br->count == 0) return SR_OK;
  if (sr_fs_mkdirs(br->dir, err) != SR_OK) return SR_ERROR;
  char path[4200];
  snprintf(path, sizeof path, "%s/batch-%" PRId64 ".jsonl", br->dir, br->batch_id);
  return sr_fs_write_atomic(path, br->lines.data, br->lines.len, err);
}
