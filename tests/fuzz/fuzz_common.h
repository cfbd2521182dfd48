/*
** What the libFuzzer harnesses share: one lua_State for the whole run (a harness resets its
** stack after each input), schemas from DDL text, and a check that bytes a writer produced are
** valid UTF-8 and valid JSON. Each harness includes it once: the definitions are static.
*/
#ifndef SR_FUZZ_COMMON_H
#define SR_FUZZ_COMMON_H
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_codec.h"
#include "schema.h"

static lua_State *fuzz_L;

static lua_State *fuzz_lua(void) {
  if (!fuzz_L) {
    fuzz_L = luaL_newstate();
    luaL_openlibs(fuzz_L);
    sr_open_codec_lib(fuzz_L);
    lua_setglobal(fuzz_L, "codec");
  }
  lua_settop(fuzz_L, 0);
  return fuzz_L;
}

/* The schema of a DDL text, kept in the registry under that text for the run. */
static const sr_schema *fuzz_schema(const char *ddl) {
  lua_State *L = fuzz_L;
  lua_getfield(L, LUA_REGISTRYINDEX, ddl);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_getglobal(L, "codec");
    lua_getfield(L, -1, "schema");
    lua_pushstring(L, ddl);
    if (lua_pcall(L, 1, 1, 0) != 0) {
      fprintf(stderr, "schema %s: %s\n", ddl, lua_tostring(L, -1));
      abort();
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, ddl);
    lua_remove(L, -2);
  }
  const sr_schema *s = sr_lua_checkschema(L, -1);
  lua_pop(L, 1);
  return s;
}

/* Aborts unless s[0..n) is valid UTF-8 (no surrogates, no overlong forms). */
static void fuzz_check_utf8(const char *what, const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    int ok = k && i + k <= n;
    for (size_t j = 1; ok && j < k; j++) ok = (s[i + j] & 0xC0) == 0x80;
    if (ok && k == 2) ok = c >= 0xC2;
    if (ok && k == 3) {
      unsigned cp = (c & 0x0F) << 12 | (s[i + 1] & 0x3Fu) << 6 | (s[i + 2] & 0x3Fu);
      ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
    }
    if (ok && k == 4) {
      unsigned cp = (c & 0x07) << 18 | (s[i + 1] & 0x3Fu) << 12 | (s[i + 2] & 0x3Fu) << 6 | (s[i + 3] & 0x3Fu);
      ok = cp >= 0x10000 && cp <= 0x10FFFF;
    }
    if (!ok) {
      fprintf(stderr, "%s: invalid UTF-8 at byte %zu of %zu\n", what, i, n);
      abort();
    }
    i += k;
  }
}

/* A strict RFC 8259 check of one value at *pp (written independently of json_decode.c, which it
** checks; jansson refuses "\u0000" in keys, which is valid JSON). */
static int fj_ws(const char **pp, const char *end) {
  while (*pp < end && (**pp == ' ' || **pp == '\t' || **pp == '\n' || **pp == '\r')) (*pp)++;
  return 0;
}
static int fj_value(const char **pp, const char *end, int depth);
static int fj_string(const char **pp, const char *end) {
  const char *p = *pp + 1;
  for (;;) {
    if (p >= end) return -1;
    unsigned char c = (unsigned char)*p++;
    if (c == '"') break;
    if (c < 0x20) return -1;
    if (c == '\\') {
      if (p >= end) return -1;
      c = (unsigned char)*p++;
      if (c == 'u') {
        for (int i = 0; i < 4; i++, p++)
          if (p >= end || !strchr("0123456789abcdefABCDEF", *p) || !*p) return -1;
      } else if (!strchr("\"\\/bfnrt", c) || !c) {
        return -1;
      }
    }
  }
  *pp = p;
  return 0;
}
static int fj_value(const char **pp, const char *end, int depth) {
  const char *p = *pp;
  if (depth > 1000 || p >= end) return -1;
  if (*p == '"') return fj_string(pp, end);
  if (*p == '{' || *p == '[') {
    char close = *p == '{' ? '}' : ']';
    p++;
    fj_ws(&p, end);
    if (p < end && *p == close) { *pp = p + 1; return 0; }
    for (;;) {
      if (close == '}') {
        if (p >= end || *p != '"' || fj_string(&p, end) != 0) return -1;
        fj_ws(&p, end);
        if (p >= end || *p++ != ':') return -1;
        fj_ws(&p, end);
      }
      if (fj_value(&p, end, depth + 1) != 0) return -1;
      fj_ws(&p, end);
      if (p < end && *p == ',') { p++; fj_ws(&p, end); continue; }
      if (p < end && *p == close) { *pp = p + 1; return 0; }
      return -1;
    }
  }
  static const char *const lits[] = {"true", "false", "null"};
  for (int i = 0; i < 3; i++) {
    size_t l = strlen(lits[i]);
    if ((size_t)(end - p) >= l && memcmp(p, lits[i], l) == 0) { *pp = p + l; return 0; }
  }
  if (p < end && *p == '-') p++;
  if (p >= end) return -1;
  if (*p == '0') p++;
  else if (*p >= '1' && *p <= '9') while (p < end && *p >= '0' && *p <= '9') p++;
  else return -1;
  if (p < end && *p == '.') {
    p++;
    if (p >= end || *p < '0' || *p > '9') return -1;
    while (p < end && *p >= '0' && *p <= '9') p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    if (p >= end || *p < '0' || *p > '9') return -1;
    while (p < end && *p >= '0' && *p <= '9') p++;
  }
  *pp = p;
  return 0;
}

/* Aborts unless text[0..n) is valid UTF-8 and each of its lines one JSON value. */
static void fuzz_check_json_lines(const char *what, const char *text, size_t n) {
  if (n == 0) return;
  fuzz_check_utf8(what, (const unsigned char *)text, n);
  for (const char *p = text, *end = text + n; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *stop = nl ? nl : end, *q = p;
    fj_ws(&q, stop);
    if (fj_value(&q, stop, 0) != 0 || (fj_ws(&q, stop), q != stop)) {
      size_t len = (size_t)(stop - p);
      fprintf(stderr, "%s: not JSON: %.*s\n", what, (int)(len > 300 ? 300 : len), p);
      abort();
    }
    p = nl ? nl + 1 : end;
  }
}

#endif
