/*
** The Kafka sink's rows: a batch collected from Lua rows (kk_collect_rows) or read record by
** record from a source's view (kk_row_at), as the key, value, topic, partition and headers of the
** messages (kafka_sink.h). Nothing here talks to Kafka.
*/
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_sink.h"

void kk_batch_free(kk_batch *b) {
  free(b->hdrs);
  sr_buf_free(&b->text);
}

/* Reads the text at the top of the stack into t: strings are referenced (the rows table keeps
** them alive during write), numbers formatted as Lua prints them. Returns 0, or -1 when the
** value is of another type (the type's name in *bad). Pops nothing. */
static int take_text(lua_State *L, kk_batch *b, kk_text *t, const char **bad) {
  int type = lua_type(L, -1);
  memset(t, 0, sizeof *t);
  t->off = -1;
  if (type == LUA_TNIL) return 0;
  if (type == LUA_TSTRING) {
    t->ptr = lua_tolstring(L, -1, &t->len);
    return 0;
  }
  if (type == LUA_TNUMBER) {
    lua_Number v = lua_tonumber(L, -1);
    t->off = (long)b->text.len;
    int n = sr_buf_printf(&b->text, "%.14g", (double)v);
    t->len = b->text.len - (size_t)t->off;
    return n;
  }
  *bad = lua_typename(L, type);
  return -1;
}

enum { R_ROWS = 1, R_CTX, R_VALUE, R_KEY, R_TOPIC, R_PARTITION, R_HEADERS, R_HKEY, R_HVALUE };

/* Collects one row's headers (the table at the top of the stack) into b->hdrs. */
static int take_headers(lua_State *L, kk_batch *b, kk_row *row, int i) {
  const char *bad = NULL;
  int list = lua_objlen(L, -1) > 0;
  row->hdr_first = b->nhdrs;
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (b->nhdrs == b->hdrs_cap) {
      int cap = b->hdrs_cap ? b->hdrs_cap * 2 : 256;
      kk_hdr *h = realloc(b->hdrs, (size_t)cap * sizeof *h);
      if (!h) { snprintf(b->errmsg, sizeof b->errmsg, "out of memory"); return -1; }
      b->hdrs = h;
      b->hdrs_cap = cap;
    }
    kk_hdr *h = &b->hdrs[b->nhdrs];
    if (list) { /* {{key = "a", value = "x"}, ...}, as the source gives them */
      if (!lua_istable(L, -1)) { bad = "a list entry that is not {key=, value=}"; goto fail; }
      lua_pushvalue(L, R_HKEY);
      lua_rawget(L, -2);
      if (take_text(L, b, &h->name, &bad) != 0 || (!h->name.ptr && h->name.off < 0)) {
        bad = bad ? bad : "an entry without key";
        goto fail;
      }
      lua_pop(L, 1);
      lua_pushvalue(L, R_HVALUE);
      lua_rawget(L, -2);
      if (take_text(L, b, &h->value, &bad) != 0) goto fail;
      lua_pop(L, 1);
    } else { /* {name = "x", ...} */
      if (lua_type(L, -2) != LUA_TSTRING) { bad = "a name that is not a string"; goto fail; }
      lua_pushvalue(L, -2);
      if (take_text(L, b, &h->name, &bad) != 0) goto fail;
      lua_pop(L, 1);
      if (take_text(L, b, &h->value, &bad) != 0) goto fail;
    }
    b->nhdrs++;
    row->hdr_n++;
    lua_pop(L, 1);
  }
  return 0;
fail:
  snprintf(b->errmsg, sizeof b->errmsg, "row %d: column 'headers' has %s; headers are "
           "{{key = name, value = text}, ...} or {name = text}", i, bad);
  return -1;
}

/* [-0, +0, m] Lua function (rows, batch): fills batch->rows from rows[1..nrows]. Rows the sink
** cannot write set batch->errmsg (no Lua error); only out-of-memory raises. */
int kk_collect_rows(lua_State *L) {
  kk_batch *b = lua_touserdata(L, R_CTX);
  kk_sink *ks = b->ks;
  luaL_checkstack(L, 16, "kafka sink rows");
  static const char *const keys[] = {"value", "key", "topic", "partition", "headers", "key", "value"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) lua_pushstring(L, keys[i]);
  int last_topic = -1;
  const char *last_name = NULL;
  for (int i = 1; i <= b->nrows; i++) {
    kk_row *row = &b->rows[i - 1];
    const char *bad = NULL;
    lua_rawgeti(L, R_ROWS, i);
    if (!lua_istable(L, -1)) {
      snprintf(b->errmsg, sizeof b->errmsg, "row %d is a %s, not a table", i, luaL_typename(L, -1));
      return 0;
    }
    lua_pushvalue(L, R_VALUE);
    lua_rawget(L, -2);
    if (ks->value_required && lua_isnil(L, -1)) {
      snprintf(b->errmsg, sizeof b->errmsg, "row %d has no column 'value' (Spark: \"Required "
               "attribute 'value' not found\"); the plan cannot tell a missing column from a null "
               "value after a map: to write a null value (a tombstone), end the plan with "
               ":select{...} naming `value`", i);
      return 0;
    }
    if (take_text(L, b, &row->value, &bad) != 0) {
      snprintf(b->errmsg, sizeof b->errmsg, "row %d: column 'value' must be a string, not a %s", i, bad);
      return 0;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, R_KEY);
    lua_rawget(L, -2);
    if (take_text(L, b, &row->key, &bad) != 0) {
      snprintf(b->errmsg, sizeof b->errmsg, "row %d: column 'key' must be a string, not a %s", i, bad);
      return 0;
    }
    lua_pop(L, 1);
    const char *name = ks->topic_opt;
    size_t name_len = name ? strlen(name) : 0;
    if (!name) {
      lua_pushvalue(L, R_TOPIC);
      lua_rawget(L, -2);
      if (lua_type(L, -1) != LUA_TSTRING) {
        snprintf(b->errmsg, sizeof b->errmsg, "row %d has no topic: give the sink option 'topic' "
                 "or a string column 'topic'", i);
        return 0;
      }
      name = lua_tolstring(L, -1, &name_len);
      lua_pop(L, 1); /* the row keeps the string alive */
    }
    if (name != last_name) {
      last_topic = kk_topic_index(ks, name, name_len);
      last_name = name;
      if (last_topic < 0) { snprintf(b->errmsg, sizeof b->errmsg, "out of memory"); return 0; }
    }
    row->topic = last_topic;
    row->partition = -1;
    lua_pushvalue(L, R_PARTITION);
    lua_rawget(L, -2);
    if (!lua_isnil(L, -1)) {
      lua_Number p = lua_tonumber(L, -1);
      if (lua_type(L, -1) != LUA_TNUMBER || p < 0 || p != (lua_Number)(int32_t)p) {
        snprintf(b->errmsg, sizeof b->errmsg, "row %d: column 'partition' must be a partition "
                 "number >= 0", i);
        return 0;
      }
      row->partition = (int32_t)p;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, R_HEADERS);
    lua_rawget(L, -2);
    row->hdr_n = 0;
    if (lua_istable(L, -1)) {
      if (take_headers(L, b, row, i) != 0) return 0;
    } else if (!lua_isnil(L, -1)) {
      snprintf(b->errmsg, sizeof b->errmsg, "row %d: column 'headers' must be a table", i);
      return 0;
    }
    lua_pop(L, 2);
  }
  return 0;
}

/* The column of the records called name, or NULL. */
static const sr_view_column *view_column(const sr_row_view *v, const char *name) {
  for (const sr_view_column *c = v->columns; c->name; c++)
    if (strcmp(c->name, name) == 0) return c;
  return NULL;
}


/* Reads a record's column c (NULL: absent, nil) into t as take_text reads a Lua value; a
** number is formatted into num. */
static void view_text(const char *rec, const sr_view_column *c, kk_text *t, char *num) {
  memset(t, 0, sizeof *t);
  t->off = -1;
  if (!c) return;
  if (c->type == SR_VIEW_TEXT) {
    const sr_view_text *v = (const sr_view_text *)(rec + c->offset);
    t->ptr = v->ptr;
    t->len = v->len;
    return;
  }
  int64_t n;
  if (c->type == SR_VIEW_INT32) {
    int32_t n32;
    memcpy(&n32, rec + c->offset, sizeof n32);
    n = n32;
  } else {
    memcpy(&n, rec + c->offset, sizeof n);
    if (n == SR_VIEW_INT64_NIL) return;
  }
  t->ptr = num;
  t->len = (size_t)snprintf(num, VIEW_NUM_SIZE, "%lld", (long long)n);
}

/* Finds the columns a view gives the sink (see kk_collect_rows for what a row gives). A view has
** no headers column: headers have no C form, and such a source hands over rows. */
sr_status kk_view_columns(kk_batch *b, const sr_row_view *v, sr_error **err) {
  kk_sink *ks = b->ks;
  b->view = v;
  b->value_col = view_column(v, "value");
  b->key_col = view_column(v, "key");
  b->topic_col = ks->topic_opt ? NULL : view_column(v, "topic");
  b->partition_col = view_column(v, "partition");
  if (!ks->topic_opt && (!b->topic_col || b->topic_col->type != SR_VIEW_TEXT))
    return sr_error_set(err, SR_ERROR, "%s: the rows have no topic: give the sink option 'topic' "
                        "or a string column 'topic'", WHAT);
  if (b->partition_col && b->partition_col->type != SR_VIEW_INT32)
    return sr_error_set(err, SR_ERROR, "%s: column 'partition' must be a partition number", WHAT);
  b->view_topic = ks->topic_opt ? kk_topic_index(ks, ks->topic_opt, strlen(ks->topic_opt)) : -1;
  b->view_topic_name = NULL;
  if (ks->topic_opt && b->view_topic < 0) return sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
  return SR_OK;
}

/* Row i of the batch: the collected one, or one read from record i into *tmp. NULL with *err
** set when the record cannot be written. */
const kk_row *kk_row_at(kk_batch *b, int i, kk_view_row *tmp, sr_error **err) {
  if (b->rows) return &b->rows[i];
  kk_sink *ks = b->ks;
  kk_row *row = &tmp->row;
  const char *rec = (const char *)b->view->records + (size_t)i * b->view->record_size;
  view_text(rec, b->value_col, &row->value, tmp->num[0]);
  view_text(rec, b->key_col, &row->key, tmp->num[1]);
  row->hdr_first = row->hdr_n = 0;
  if (b->topic_col) {
    const sr_view_text *name = (const sr_view_text *)(rec + b->topic_col->offset);
    if (!name->ptr) {
      sr_error_set(err, SR_ERROR, "%s: row %d has no topic: give the sink option 'topic' or a "
                   "string column 'topic'", WHAT, i + 1);
      return NULL;
    }
    if (name->ptr != b->view_topic_name) {
      b->view_topic = kk_topic_index(ks, name->ptr, name->len);
      b->view_topic_name = b->view_topic >= 0 ? name->ptr : NULL;
    }
  }
  row->topic = b->view_topic;
  if (row->topic < 0) {
    sr_error_set(err, SR_ERROR, "%s: out of memory", WHAT);
    return NULL;
  }
  row->partition = -1;
  if (b->partition_col) {
    memcpy(&row->partition, rec + b->partition_col->offset, sizeof row->partition);
    if (row->partition < 0) {
      sr_error_set(err, SR_ERROR, "%s: row %d: column 'partition' must be a partition number "
                   ">= 0", WHAT, i + 1);
      return NULL;
    }
  }
  return row;
}

void kk_resolve_text(kk_text *t, const sr_buf *buf) {
  if (t->off >= 0) t->ptr = buf->data + t->off;
}
