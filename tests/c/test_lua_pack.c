/* Tests of Lua value packing (round trips, determinism, refusals, malformed input) and of the
** state store's Lua bindings. */
#include "lua_pack.h"
#include "lua_state_lib.h"
#include "state_parts.h"
#include "fsutil.h"
#include "lua_test.h"

#include <lauxlib.h>
#include <lualib.h>

static lua_State *new_state(void) {
  lua_State *L = luaL_newstate();
  ASSERT_TRUE(L != NULL);
  luaL_openlibs(L);
  sr_open_state_lib(L);
  lua_setglobal(L, "state");
  return L;
}

static const char *lua_helpers =
    "ffi = require 'ffi'\n"
    "function deq(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'table' then\n"
    "    for k, v in pairs(a) do if not deq(v, b[k]) then return false end end\n"
    "    for k in pairs(b) do if a[k] == nil then return false end end\n"
    "    return true\n"
    "  end\n"
    "  if type(a) == 'cdata' then return ffi.typeof(a) == ffi.typeof(b) and a == b end\n"
    "  if a ~= a then return b ~= b end\n"
    "  return a == b\n"
    "end\n"
    "function rt(v) return state.unpack(state.pack(v)) end\n"
    "function check_rt(v, name) assert(deq(rt(v), v), 'round trip of ' .. name) end\n";

SR_TEST(round_trips) {
  lua_State *L = new_state();
  run_lua(L, lua_helpers);
  run_lua(L,
          "for _, v in ipairs{0, 1, -1, 127, 128, -129, 2^31, -2^31, 2^53, -2^53, 0.5, -1.25, 1e300,\n"
          "                   -1e-300, 1/0, -1/0, 2^53 + 2, -(2^60)} do check_rt(v, tostring(v)) end\n"
          "check_rt(0/0, 'nan')\n"
          "assert(state.unpack(state.pack(nil)) == nil)\n"
          "assert(rt(true) == true and rt(false) == false)\n"
          "for _, s in ipairs{'', 'x', 'a\\0b', string.rep('z', 100000)} do check_rt(s, 'string') end\n"
          "check_rt({}, 'empty')\n"
          "check_rt({1, 2, 3, 'four', {5, {6}}}, 'arrays')\n"
          "check_rt({a = 1, b = {c = {d = 'deep', e = {true, false}}}, [1.5] = 'x', [-3] = 'neg',\n"
          "          [true] = 'key'}, 'hash')\n"
          "local tk = rt({[{1, 2}] = 'table key'}); local k = next(tk)\n"
          "assert(deq(k, {1, 2}) and tk[k] == 'table key')\n"
          "check_rt({1, 2, nil, 4, n = 4}, 'holes')\n"
          "check_rt({[1] = 'a', [2] = 'b', [10] = 'sparse', [0] = 'zero'}, 'mixed')\n"
          /* 64-bit integers: exact beyond 2^53 as int64_t cdata, numbers within. */
          "local big = 2LL^62 + 7\n"
          "check_rt(big, 'int64 2^62+7')\n"
          "check_rt(-9223372036854775807LL - 1, 'int64 min')\n"
          "check_rt(9223372036854775807LL, 'int64 max')\n"
          "local five = rt(5LL); assert(type(five) == 'number' and five == 5, 'small int64 to number')\n"
          "local edge = rt(2LL^53); assert(type(edge) == 'number' and edge == 2^53)\n"
          "local past = rt(2LL^53 + 1); assert(ffi.istype('int64_t', past) and past == 2LL^53 + 1)\n"
          "local u = rt(18446744073709551615ULL)\n"
          "assert(ffi.istype('uint64_t', u) and u == 18446744073709551615ULL, 'uint64 max')\n"
          "assert(rt(7ULL) == 7 and type(rt(7ULL)) == 'number')\n"
          "local u63 = rt(2ULL^63 - 1); assert(ffi.istype('int64_t', u63) and u63 == 2LL^63 - 1)\n"
          "check_rt({id = big, ids = {big, -2LL^60}}, 'nested int64')\n"
          /* Compact: small integers take two bytes. */
          "assert(#state.pack(5) == 2 and #state.pack(-64) == 2 and #state.pack(true) == 1)\n");
  lua_close(L);
}

SR_TEST(packing_is_deterministic) {
  lua_State *L = new_state();
  run_lua(L, lua_helpers);
  run_lua(L,
          "local a, b, c = {}, {}, {}\n"
          "for i = 1, 300 do a['k' .. i] = i; a[i * 1.5] = tostring(i) end\n"
          "for i = 300, 1, -1 do b[i * 1.5] = tostring(i); b['k' .. i] = i end\n"
          /* c reaches the same content through a different history (a bigger hash part). */
          "for i = 1, 2000 do c['junk' .. i] = true end\n"
          "for i = 1, 300 do c['k' .. i] = i; c[i * 1.5] = tostring(i) end\n"
          "for i = 1, 2000 do c['junk' .. i] = nil end\n"
          "assert(state.pack(a) == state.pack(b), 'insertion order')\n"
          "assert(state.pack(a) == state.pack(c), 'table history')\n"
          "local x = {}; x[3] = 'c'; x[2] = 'b'; x[1] = 'a'\n"
          "assert(state.pack(x) == state.pack({'a', 'b', 'c'}), 'array built backwards')\n"
          "assert(state.pack({k = {1, 2, {z = 1, y = 2}}}) == state.pack({k = {1, 2, {y = 2, z = 1}}}))\n"
          "assert(state.pack(5) == state.pack(5LL) and state.pack(5) == state.pack(5.0))\n"
          "assert(state.pack(5) == state.pack(5ULL))\n"
          "assert(state.pack(0) == state.pack(-0.0))\n"
          "assert(state.pack(0/0) == state.pack(-(0/0)))\n"
          "assert(state.pack({auction = 7, window = {start = 1000, ['end'] = 2000}}) ==\n"
          "       state.pack({window = {['end'] = 2000, start = 1000}, auction = 7LL}), 'group key')\n"
          "assert(state.pack('1') ~= state.pack(1) and state.pack({1}) ~= state.pack({[2] = 1}))\n");
  lua_close(L);
}

/* The packed bytes, pinned (lua_pack.h's format): state keys and values on disk, and the
** partition of a key (a hash of these bytes), must read the same in every later build. */
SR_TEST(packed_bytes_are_pinned) {
  lua_State *L = new_state();
  run_lua(L,
          "assert(state.pack(nil) == \"\\000\", 'nil')\n"
          "assert(state.pack(false) == \"\\001\", 'false')\n"
          "assert(state.pack(true) == \"\\002\", 'true')\n"
          "assert(state.pack(0) == \"\\003\\000\", '0')\n"
          "assert(state.pack(-1) == \"\\003\\001\", '-1')\n"
          "assert(state.pack(300) == \"\\003\\216\\004\", '300')\n"
          "assert(state.pack(-2^53) == "
          "\"\\003\\255\\255\\255\\255\\255\\255\\255\\031\", '-2^53')\n"
          "assert(state.pack(9223372036854775807LL) == "
          "\"\\003\\254\\255\\255\\255\\255\\255\\255\\255\\255\\001\", '9223372036854775807LL')\n"
          "assert(state.pack(0xffffffffffffffffULL) == "
          "\"\\004\\255\\255\\255\\255\\255\\255\\255\\255\\255\\001\", '0xffffffffffffffffULL')\n"
          "assert(state.pack(0.5) == \"\\005\\000\\000\\000\\000\\000\\000\\224\\063\", '0.5')\n"
          "assert(state.pack('ab') == \"\\006\\002ab\", 'ab')\n"
          "assert(state.pack({1, 2, x = 3}) == "
          "\"\\007\\002\\001\\003\\002\\003\\004\\006\\001x\\003\\006\", '{1, 2, x = 3}')\n");
  lua_close(L);
}

SR_TEST(refuses_unstorable_values_naming_the_path) {
  lua_State *L = new_state();
  run_lua(L, lua_helpers);
  run_lua_fails(L, "state.pack({a = {b = print}})", "state value .a.b: a function cannot be stored");
  run_lua_fails(L, "state.pack(print)", "state value: a function cannot be stored");
  run_lua_fails(L, "state.pack({1, {x = coroutine.create(print)}})",
                "state value [2].x: a coroutine cannot be stored");
  run_lua_fails(L, "state.pack({['a b'] = io.stdout})", "state value [\"a b\"]: a userdata cannot be stored");
  run_lua_fails(L, "state.pack({[print] = 1})", "state value <key>: a function cannot be stored");
  run_lua_fails(L, "state.pack({n = ffi.new('int32_t', 1)})",
                "state value .n: a cdata other than int64_t, uint64_t, timestamp, date or binary cannot be stored");
  run_lua_fails(L, "state.pack(ffi.new('int64_t[1]'))", "cdata other than int64_t");
  run_lua_fails(L, "local t = {x = {}}; t.x.back = t; state.pack(t)",
                "state value .x.back: a table that contains itself cannot be stored");
  run_lua_fails(L, "local t = {}; t[1] = t; state.pack(t)", "state value [1]: a table that contains itself");
  run_lua_fails(L, "local t = {}; for i = 1, 150 do t = {t} end; state.pack(t)",
                "nested this deeply");
  /* Shared subtables are not cycles. */
  run_lua(L, "local s = {1}; local v = rt({s, s, {s}}); assert(v[1][1] == 1 and v[3][1][1] == 1)");

  /* The C entry point: -1 with the message, out and the stack as they were. */
  sr_buf out = SR_BUF_INIT;
  char err[256];
  sr_buf_puts(&out, "prefix");
  run_lua(L, "bad = {ok = 1, f = {g = function() end}}");
  lua_getglobal(L, "bad");
  lua_pushinteger(L, 42);
  int top = lua_gettop(L);
  ASSERT_EQ_INT(sr_lua_pack(L, -2, &out, err, sizeof err), -1);
  ASSERT_EQ_STR(err, "state value .f.g: a function cannot be stored");
  ASSERT_EQ_INT(lua_gettop(L), top);
  ASSERT_EQ_INT(out.len, 6);
  ASSERT_EQ_INT(sr_lua_pack_as(L, -2, "group key", &out, err, sizeof err), -1);
  ASSERT_EQ_STR(err, "group key .f.g: a function cannot be stored");
  lua_settop(L, 0);
  sr_buf_free(&out);
  lua_close(L);
}

SR_TEST(c_api_pack_unpack) {
  lua_State *L = new_state();
  run_lua(L, lua_helpers);
  run_lua(L, "orig = {name = 'bid', price = 12.5, id = 2LL^60, tags = {'a', 'b'}}");
  sr_buf out = SR_BUF_INIT;
  char err[256];
  lua_getglobal(L, "orig");
  ASSERT_EQ_INT(sr_lua_pack(L, -1, &out, err, sizeof err), 0);
  ASSERT_EQ_INT(lua_gettop(L), 1);
  lua_pushliteral(L, "other");
  ASSERT_EQ_INT(sr_lua_pack(L, 2, &out, err, sizeof err), 0); /* appends */
  size_t first = out.len - 2 - 5;
  ASSERT_EQ_INT(sr_lua_unpack(L, out.data, first), 0);
  lua_setglobal(L, "copy");
  run_lua(L, "assert(deq(copy, orig))");
  ASSERT_EQ_INT(sr_lua_unpack(L, out.data + first, 7), 0);
  ASSERT_EQ_STR(lua_tostring(L, -1), "other");
  lua_settop(L, 0);
  /* Every proper prefix is malformed, as is a trailing byte; nothing is pushed. */
  for (size_t n = 0; n < first; n++) {
    ASSERT_EQ_INT(sr_lua_unpack(L, out.data, n), -1);
    ASSERT_EQ_INT(lua_gettop(L), 0);
  }
  ASSERT_EQ_INT(sr_lua_unpack(L, out.data, first + 1), -1);
  sr_buf_free(&out);
  lua_close(L);
}

SR_TEST(malformed_input_is_refused) {
  lua_State *L = new_state();
  static const struct { const char *bytes; size_t n; } bad[] = {
      {"\x09", 1},                       /* unknown tag */
      {"\x03\x80\x80", 3},               /* unterminated varint */
      {"\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12}, /* varint too long */
      {"\x05\x00\x00", 3},               /* short double */
      {"\x06\x05" "abc", 5},             /* short string */
      {"\x07\x00\x01\x00\x02", 5},       /* nil key */
      {"\x07\x00\x01\x05\x00\x00\x00\x00\x00\x00\xf8\x7f\x02", 13}, /* NaN key */
      {"\x07\xff\xff\xff\xff\x0f\x00", 7}, /* a huge array claimed by a tiny input */
      {"\x07\x01\x00", 3},               /* a missing item */
      {"\x02\x02", 2},                   /* trailing byte */
      {"", 0},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (sr_lua_unpack(L, bad[i].bytes, bad[i].n) != -1) SR_FAIL("bad input %zu was accepted", i);
    ASSERT_EQ_INT(lua_gettop(L), 0);
  }
  /* Deep nesting is refused, not a C stack overflow. */
  char deep[400];
  for (int i = 0; i < 399; i++) deep[i] = i % 3 == 0 ? '\x07' : i % 3 == 1 ? '\x01' : '\x00';
  deep[399] = '\x00';
  ASSERT_EQ_INT(sr_lua_unpack(L, deep, sizeof deep), -1);
  /* Random mutations of a valid packing never crash and leave the stack as it was. */
  run_lua(L, "sample = state.pack({a = {1, 2, 'x', {b = 2LL^60}}, [3.5] = {true, false}, s = 'str'})");
  lua_getglobal(L, "sample");
  size_t n;
  const char *s = lua_tolstring(L, -1, &n);
  char *buf = malloc(n);
  uint64_t r = 88172645463325252u;
  for (int round = 0; round < 20000; round++) {
    memcpy(buf, s, n);
    for (int k = 0; k < 1 + round % 3; k++) {
      r ^= r << 13, r ^= r >> 7, r ^= r << 17;
      buf[r % n] = (char)(r >> 40);
    }
    int top = lua_gettop(L);
    int rc = sr_lua_unpack(L, buf, (size_t)(r >> 20) % (n + 1));
    ASSERT_EQ_INT(lua_gettop(L), top + (rc == 0));
    lua_settop(L, top);
  }
  free(buf);
  lua_close(L);
}

SR_TEST(without_ffi) {
  lua_State *L = luaL_newstate();
  lua_pushcfunction(L, luaopen_base); /* no package library: no require, no ffi */
  lua_call(L, 0, 0);
  sr_buf out = SR_BUF_INIT;
  char err[256];
  ASSERT_EQ_INT(luaL_dostring(L, "return {a = 1, b = {'x'}}"), 0);
  ASSERT_EQ_INT(sr_lua_pack(L, -1, &out, err, sizeof err), 0);
  ASSERT_EQ_INT(sr_lua_unpack(L, out.data, out.len), 0);
  lua_getfield(L, -1, "a");
  ASSERT_EQ_INT(lua_tointeger(L, -1), 1);
  lua_settop(L, 0);
  /* 2^60 needs an int64_t cdata, which cannot be made here. */
  ASSERT_EQ_INT(sr_lua_unpack(L, "\x03\x80\x80\x80\x80\x80\x80\x80\x80\x20", 10), -1);
  sr_buf_free(&out);
  lua_close(L);
}

SR_TEST(state_bindings) {
  char tmpl[] = "/tmp/sr_lua_state_XXXXXX";
  char *dir = mkdtemp(tmpl);
  ASSERT_TRUE(dir != NULL);
  sr_error *e = NULL;
  /* four partitions: every call routes each key to its own */
  sr_state_parts *st = sr_state_parts_open(dir, 4, 0, NULL, &e);
  ASSERT_TRUE(st != NULL);
  lua_State *L = new_state();
  run_lua(L, lua_helpers);
  sr_lua_push_state(L, st, 0);
  lua_setglobal(L, "store");
  run_lua(L,
          "local keys, vals = {}, {}\n"
          "for i = 1, 1000 do\n"
          "  keys[i] = {auction = i, window = {start = i * 1000, ['end'] = i * 1000 + 10}}\n"
          "  vals[i] = {count = i, max = i * 1.5, big = 2LL^60 + i, names = {'a' .. i}}\n"
          "end\n"
          "state.put_many(store, keys, vals)\n"
          "local s = state.stats(store)\n"
          "assert(s.num_rows_total == 1000 and s.num_rows_updated == 1000 and s.version == 0)\n"
          "assert(s.memory_used_bytes > 0)\n"
          /* Lookups with equal keys built in another order; a missing key leaves a hole. */
          "local q = {{window = {['end'] = 1010, start = 1000}, auction = 1}, {auction = 99999},\n"
          "           {auction = 1000, window = {start = 1000000, ['end'] = 1000010}}}\n"
          "local got, n = state.get_many(store, q)\n"
          "assert(n == 3 and got[2] == nil)\n"
          "assert(deq(got[1], vals[1]) and deq(got[3], vals[1000]))\n"
          "local got2, n2 = state.get_many(store, q, 1)\n"
          "assert(n2 == 1 and deq(got2[1], vals[1]) and got2[3] == nil)\n"
          /* put_many with a nil value removes; remove_many counts what was there. */
          "state.put_many(store, {keys[1], keys[2]}, {nil, {count = -2}}, 2)\n"
          "assert(state.get_many(store, {keys[1]})[1] == nil)\n"
          "assert(state.get_many(store, {keys[2]})[1].count == -2)\n"
          "assert(state.remove_many(store, {keys[3], keys[3], {nope = 1}}) == 1)\n"
          "local ks, vs, total = state.scan(store)\n"
          "assert(total == 998 and #ks == 998 and #vs == 998)\n"
          "local seen = 0\n"
          "for i = 1, total do\n"
          "  local a = ks[i].auction\n"
          "  assert(a ~= 1 and a ~= 3)\n"
          "  if a ~= 2 then assert(deq(vs[i], vals[a])) end\n"
          "  seen = seen + a\n"
          "end\n"
          "assert(seen == 1000 * 1001 / 2 - 1 - 3)\n"
          "s = state.stats(store)\n"
          "assert(s.num_rows_total == 998 and s.num_rows_removed == 2)\n");
  ASSERT_EQ_INT(sr_state_parts_commit(st, &e), SR_OK);
  /* A detached handle (the engine detaches them after their batch) raises, not reads freed
  ** memory. */
  lua_getglobal(L, "store");
  ASSERT_TRUE(sr_lua_state_detach(L, -1) == st);
  lua_pop(L, 1);
  run_lua_fails(L, "state.stats(store)", "used after its batch or close");
  sr_state_parts_close(st);
  st = sr_state_parts_open(dir, 4, 1, NULL, &e);
  ASSERT_TRUE(st != NULL);
  sr_lua_push_state(L, st, 0);
  lua_setglobal(L, "store");
  run_lua(L,
          "local s = state.stats(store)\n"
          "assert(s.version == 1 and s.num_rows_total == 998 and s.num_rows_updated == 0)\n"
          "local v = state.get_many(store, {{auction = 500, window = {start = 500000, ['end'] = 500010}}})\n"
          "assert(v[1].big == 2LL^60 + 500 and v[1].names[1] == 'a500')\n");
  run_lua_fails(L, "state.put_many(store, {'k'}, {{f = print}})",
                "state value .f: a function cannot be stored");
  run_lua_fails(L, "state.get_many(store, {{coroutine.create(print)}})",
                "state key [1]: a coroutine cannot be stored");
  run_lua_fails(L, "state.stats(nil)", "state store handle expected");
  /* Only a handle passes: not a light userdata, even one pointing at open partitions. */
  lua_pushlightuserdata(L, st);
  lua_setglobal(L, "not_a_store");
  run_lua_fails(L, "state.scan(not_a_store)", "state store handle expected");
  run_lua_fails(L, "state.scan(io.stdout)", "state store handle expected");
  run_lua_fails(L, "state.unpack('\\9')", "not a packed Lua value");
  /* Bytes a C operator stored are not Lua values: scan says so instead of guessing. */
  ASSERT_EQ_INT(sr_state_put(sr_state_parts_route(st, "\xff", 1), "\xff", 1, "raw", 3, NULL), SR_OK);
  run_lua_fails(L, "state.scan(store)", "not a packed Lua value");
  sr_state_parts_close(st);
  lua_close(L);
  ASSERT_EQ_INT(sr_fs_remove_tree(dir, NULL), SR_OK);
}

int main(void) {
  return SR_RUN(round_trips, packing_is_deterministic, packed_bytes_are_pinned,
                refuses_unstorable_values_naming_the_path, c_api_pack_unpack,
                malformed_input_is_refused, without_ffi, state_bindings);
}
