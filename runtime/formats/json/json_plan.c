/*
** The memory of one codec call, and plans: a schema prepared for one call (json_internal.h).
*/
#include <lauxlib.h>
#include <string.h>

#include "json_internal.h"
#include "lua_aux.h"

/* ------------------------------------------------------------------------------------------ */
/* Per-call memory                                                                              */

static const char codec_mem_mt[] = "streamrun.codec_mem";

static int codec_mem_gc(lua_State *L) {
  sr__codec_mem_release(lua_touserdata(L, 1));
  return 0;
}

sr__codec_mem *sr__codec_mem_push(lua_State *L) {
  return sr_lua_newudata(L, sizeof(sr__codec_mem), codec_mem_mt, codec_mem_gc);
}

void sr__codec_mem_release(sr__codec_mem *m) {
  sr_buf_free(&m->text);
  sr_buf_free(&m->aux);
  sr_buf_free(&m->quoted);
}

/* ------------------------------------------------------------------------------------------ */
/* Plans: the schema's names as Lua strings on the stack, and a key hash per struct level      */

/* The struct schema a field leads to, through any arrays and map values. */
static const sr_schema *struct_of(const sr_field *f) {
  for (;;) {
    if (f->type == SR_TYPE_ARRAY && f->element) f = f->element;
    else if (f->type == SR_TYPE_MAP && map_value(f)) f = map_value(f);
    else break;
  }
  return f->type == SR_TYPE_STRUCT ? f->children : NULL;
}

static int slots_for(int n) {
  int size = 4;
  while (size < 2 * n) size <<= 1;
  return size;
}

typedef struct plan_size { int nstructs, nfields, nslots; size_t text; } plan_size;

static void plan_count(const sr_schema *s, plan_size *z) {
  z->nstructs++;
  z->nfields += s->nfields;
  z->nslots += slots_for(s->nfields);
  for (int i = 0; i < s->nfields; i++) {
    z->text += strlen(s->fields[i].name) * 6 + 4;  /* ,"": and every byte escaped at worst */
    const sr_schema *c = struct_of(&s->fields[i]);
    if (c) plan_count(c, z);
  }
}

typedef struct plan_mem { jstruct *st; jfield *f; jpred *pred; int *ints; char *text; } plan_mem;

static const jstruct *plan_fill(lua_State *L, const sr_schema *s, plan_mem *m) {
  jstruct *st = m->st++;
  int size = slots_for(s->nfields);
  st->n = s->nfields;
  st->fields = m->f;
  m->f += s->nfields;
  st->pred = m->pred;
  m->pred += KEY_PRED;
  for (int j = 0; j < KEY_PRED; j++) st->pred[j].field = -2;
  st->slots = m->ints;
  st->pslots = m->ints + size;
  st->vslot = m->ints + 2 * size;
  m->ints += 2 * size + s->nfields;
  st->mask = (unsigned)size - 1;
  memset(st->slots, 0, (size_t)size * 2 * sizeof *st->slots);
  for (int i = 0; i < s->nfields; i++) {
    jfield *jf = &st->fields[i];
    jf->f = &s->fields[i];
    jf->name = jf->f->name;
    jf->len = strlen(jf->name);
    lua_pushlstring(L, jf->name, jf->len);
    jf->key_idx = lua_gettop(L);
    jf->lname = lua_tostring(L, -1);
    if (jstruct_find(st, jf->name, jf->len) < 0) {  /* a duplicate name keeps the first */
      unsigned h = key_hash(jf->name, jf->len) & st->mask;
      while (st->slots[h]) h = (h + 1) & st->mask;
      st->slots[h] = i + 1;
      h = ptr_hash(jf->lname) & st->mask;
      while (st->pslots[h]) h = (h + 1) & st->mask;
      st->pslots[h] = i + 1;
    }
    char *o = m->text;
    *o++ = ',';
    o = sr__json_escape(o, jf->name, jf->len);
    *o++ = ':';
    jf->member = m->text;
    jf->member_len = (size_t)(o - m->text);
    m->text = o;
    const sr_schema *c = struct_of(jf->f);
    jf->child = c ? plan_fill(L, c, m) : NULL;
  }
  return st;
}

const sr__jplan *sr__json_plan_push(lua_State *L, const sr_schema *s) {
  plan_size z = {0, 0, 0, 0};
  plan_count(s, &z);
  if (!lua_checkstack(L, z.nfields + 16)) luaL_error(L, "schema too large (%d fields)", z.nfields);
  size_t at_f = (size_t)z.nstructs * sizeof(jstruct);
  size_t at_pred = at_f + (size_t)z.nfields * sizeof(jfield);
  size_t at_ints = at_pred + (size_t)z.nstructs * KEY_PRED * sizeof(jpred);
  size_t at_text = at_ints + ((size_t)z.nslots * 2 + (size_t)z.nfields) * sizeof(int);
  char *mem = lua_newuserdata(L, at_text + z.text);
  plan_mem m = {(jstruct *)mem, (jfield *)(mem + at_f), (jpred *)(mem + at_pred),
                (int *)(mem + at_ints), mem + at_text};
  return plan_fill(L, s, &m);
}

int sr__json_plan_key(const sr__jplan *plan, int i) {
  return ((const jstruct *)plan)->fields[i].key_idx;
}

int sr__json_plan_find(const sr__jplan *plan, const char *name, size_t len) {
  return jstruct_find((const jstruct *)plan, name, len);
}
