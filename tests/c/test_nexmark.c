/* The Nexmark generator (nexmark_gen.c) and the "nexmark" source (source_nexmark.c). */
#include <lauxlib.h>
#include <lualib.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connector.h"
#include "lua_host.h"
#include "nexmark_gen.h"
#include "sr_test.h"

extern const sr_source_ops sr_source_nexmark;
#define SOURCE_MODULE "'streamrun.sources.nexmark'"

#define T0 1795428000000LL /* 2026-11-23T10:00:00Z */

/* ---- helpers ---- */

static sr_nexmark_gen *new_gen(const sr_nexmark_config *c) {
  sr_nexmark_gen *g = NULL;
  sr_error *err = NULL;
  if (sr_nexmark_gen_new(c, &g, &err) != SR_OK) SR_FAIL("sr_nexmark_gen_new: %s", err->message);
  return g;
}

static int str_eq(sr_nexmark_str a, sr_nexmark_str b) {
  return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

static int str_is(sr_nexmark_str a, const char *s) {
  return a.len == strlen(s) && memcmp(a.ptr, s, a.len) == 0;
}

static int event_eq(const sr_nexmark_event *a, const sr_nexmark_event *b) {
  if (a->kind != b->kind || a->event_number != b->event_number) return 0;
  switch (a->kind) {
    case SR_NEXMARK_PERSON: {
      const sr_nexmark_person *x = &a->u.person, *y = &b->u.person;
      return x->id == y->id && str_eq(x->name, y->name) && str_eq(x->email_address, y->email_address) &&
             str_eq(x->credit_card, y->credit_card) && str_eq(x->city, y->city) &&
             str_eq(x->state, y->state) && x->date_time == y->date_time && str_eq(x->extra, y->extra);
    }
    case SR_NEXMARK_AUCTION: {
      const sr_nexmark_auction *x = &a->u.auction, *y = &b->u.auction;
      return x->id == y->id && str_eq(x->item_name, y->item_name) &&
             str_eq(x->description, y->description) && x->initial_bid == y->initial_bid &&
             x->reserve == y->reserve && x->date_time == y->date_time && x->expires == y->expires &&
             x->seller == y->seller && x->category == y->category && str_eq(x->extra, y->extra);
    }
    case SR_NEXMARK_BID: {
      const sr_nexmark_bid *x = &a->u.bid, *y = &b->u.bid;
      return x->auction == y->auction && x->bidder == y->bidder && x->price == y->price &&
             str_eq(x->channel, y->channel) && str_eq(x->url, y->url) &&
             x->date_time == y->date_time && str_eq(x->extra, y->extra);
    }
  }
  return 0;
}

typedef struct test_source {
  sr_source src;
  sr_options *opts;
} test_source;

/* Opens a nexmark source with options given as name, value, ..., NULL. */
static sr_status open_source(test_source *t, int available_now, sr_error **err, ...) {
  memset(t, 0, sizeof *t);
  t->opts = sr_options_new();
  va_list ap;
  va_start(ap, err);
  for (const char *name; (name = va_arg(ap, const char *));) sr_options_set(t->opts, name, va_arg(ap, const char *));
  va_end(ap);
  sr_status st = sr_options_check(t->opts, sr_source_nexmark.options, NULL, "the nexmark source", err);
  if (st != SR_OK) return st;
  t->src.ops = &sr_source_nexmark;
  t->src.available_now = available_now;
  t->src.cfg.options = t->opts;
  t->src.cfg.state_dir = "/nonexistent"; /* the nexmark source keeps no files */
  return sr_source_nexmark.open(&t->src, &t->src.cfg, err);
}

static void close_source(test_source *t) {
  sr_source_nexmark.close(&t->src);
  sr_options_free(t->opts);
}

static int64_t events_of(const json_t *off) {
  ASSERT_TRUE(off != NULL);
  json_t *v = json_object_get(off, "events");
  ASSERT_TRUE(json_is_integer(v));
  return json_integer_value(v);
}

static json_t *plan(test_source *t, const json_t *start) {
  json_t *end = NULL;
  sr_error *err = NULL;
  if (t->src.ops->plan(&t->src, start, &end, &err) != SR_OK) SR_FAIL("plan: %s", err->message);
  return end;
}

/* Reads (start, end] as the engine does (read_view, then the source's Lua module on each
** record, for a source whose option `table` is tbl, NULL if unset) into a new Lua array left
** on the stack; returns its length. */
static int read_table_rows(test_source *t, lua_State *L, const json_t *start, const json_t *end,
                           const char *tbl) {
  sr_row_view view = {.records = NULL, .count = -1};
  sr_error *err = NULL;
  if (t->src.ops->read_view(&t->src, start, end, &view, &err) != SR_OK) SR_FAIL("read: %s", err->message);
  lua_getglobal(L, "rows_of");
  lua_pushlightuserdata(L, (void *)view.records);
  lua_pushinteger(L, view.count);
  lua_pushinteger(L, (lua_Integer)sizeof(sr_nexmark_event));
  if (tbl) lua_pushstring(L, tbl);
  else lua_pushnil(L);
  if (lua_pcall(L, 4, 1, 0) != 0) SR_FAIL("rows_of: %s", lua_tostring(L, -1));
  ASSERT_EQ_INT(lua_objlen(L, -1), view.count);
  return view.count;
}

static int read_rows(test_source *t, lua_State *L, const json_t *start, const json_t *end) {
  return read_table_rows(t, L, start, end, NULL);
}

/* A job's state (the embedded modules) with rows_of(records, n, record_size, table) and
** deq(a, b). */
static lua_State *new_lua(void) {
  lua_State *L = sr_lua_new(NULL);
  const char *deq =
    "local ffi = require 'ffi'\n"
    "local m = require(" SOURCE_MODULE ")\n"
    "local ctype, cache = ffi.typeof(m.ctype), m.cache()\n"
    "function rows_of(p, n, size, tbl)\n"
    "  local row = m.reader({table = tbl})\n"
    "  local elem = m.ctype:gsub('%s*%*$', '')\n"
    "  assert(ffi.sizeof(elem) == size, 'the cdef of ' .. elem .. ' has another size than the C struct')\n"
    "  local recs, rows = ffi.cast(ctype, p), {}\n"
    "  for i = 1, n do rows[i] = row(recs, i - 1, cache) end\n"
    "  return rows\n"
    "end\n"
    "function deq(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  for k, v in pairs(a) do if not deq(v, b[k]) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n";
  if (luaL_dostring(L, deq) != 0) SR_FAIL("lua: %s", lua_tostring(L, -1));
  return L;
}

/* deq(a, b) on two stack values. */
static int lua_deq(lua_State *L, int a, int b) {
  a = a < 0 ? lua_gettop(L) + a + 1 : a;
  b = b < 0 ? lua_gettop(L) + b + 1 : b;
  lua_getglobal(L, "deq");
  lua_pushvalue(L, a);
  lua_pushvalue(L, b);
  if (lua_pcall(L, 2, 1, 0) != 0) SR_FAIL("deq: %s", lua_tostring(L, -1));
  int r = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return r;
}

/* ---- the generator ---- */

SR_TEST(gen_same_seed_same_events) {
  sr_nexmark_config c;
  sr_nexmark_config_default(&c);
  c.seed = 7;
  sr_nexmark_gen *g1 = new_gen(&c), *g2 = new_gen(&c);
  char *s1 = malloc(sr_nexmark_gen_scratch_size(g1)), *s2 = malloc(sr_nexmark_gen_scratch_size(g2));
  sr_nexmark_event a, b;
  for (int64_t n = 0; n < 20000; n++) {
    sr_nexmark_gen_event(g1, n, &a, s1);
    sr_nexmark_gen_event(g2, n, &b, s2);
    if (!event_eq(&a, &b)) SR_FAIL("event %" PRId64 " differs between two generators", n);
  }
  /* Any order, any time: event 12345 alone equals event 12345 generated in sequence. */
  sr_nexmark_gen_event(g1, 12345, &a, s1);
  sr_nexmark_event seq;
  for (int64_t n = 12000; n <= 12345; n++) sr_nexmark_gen_event(g2, n, &seq, s2);
  ASSERT_TRUE(event_eq(&a, &seq));
  free(s1);
  free(s2);
  sr_nexmark_gen_free(g1);
  sr_nexmark_gen_free(g2);
}

SR_TEST(gen_other_seed_other_events) {
  sr_nexmark_config c;
  sr_nexmark_config_default(&c);
  sr_nexmark_gen *g1 = new_gen(&c);
  c.seed = 1;
  sr_nexmark_gen *g2 = new_gen(&c);
  char *s1 = malloc(sr_nexmark_gen_scratch_size(g1)), *s2 = malloc(sr_nexmark_gen_scratch_size(g2));
  int differ = 0, total = 0;
  sr_nexmark_event a, b;
  for (int64_t n = 0; n < 5000; n++) {
    sr_nexmark_gen_event(g1, n, &a, s1);
    sr_nexmark_gen_event(g2, n, &b, s2);
    ASSERT_EQ_INT(a.kind, b.kind); /* kinds and ids depend on the event number only */
    if (a.kind == SR_NEXMARK_BID) {
      total++;
      differ += a.u.bid.price != b.u.bid.price;
    }
  }
  if (differ < total * 95 / 100) SR_FAIL("only %d of %d bid prices differ between seeds", differ, total);
  free(s1);
  free(s2);
  sr_nexmark_gen_free(g1);
  sr_nexmark_gen_free(g2);
}

SR_TEST(gen_proportions_1_3_46) {
  sr_nexmark_config c;
  sr_nexmark_config_default(&c);
  sr_nexmark_gen *g = new_gen(&c);
  char *s = malloc(sr_nexmark_gen_scratch_size(g));
  int64_t count[3] = {0, 0, 0};
  sr_nexmark_event ev;
  for (int64_t n = 12345; n < 12345 + 5000; n++) {  /* a window not aligned to 50 */
    sr_nexmark_gen_event(g, n, &ev, s);
    ASSERT_EQ_INT(ev.kind, sr_nexmark_gen_kind(g, n));
    count[ev.kind]++;
  }
  ASSERT_EQ_INT(count[SR_NEXMARK_PERSON], 100);
  ASSERT_EQ_INT(count[SR_NEXMARK_AUCTION], 300);
  ASSERT_EQ_INT(count[SR_NEXMARK_BID], 4600);
  free(s);
  sr_nexmark_gen_free(g);
}

SR_TEST(gen_ids_and_hot_keys) {
  sr_nexmark_config c;
  sr_nexmark_config_default(&c);
  sr_nexmark_gen *g = new_gen(&c);
  char *s = malloc(sr_nexmark_gen_scratch_size(g));
  int64_t next_person = 1000, next_auction = 1000, bids = 0, hot_auction = 0, hot_bidder = 0;
  int64_t auctions = 0, hot_seller = 0;
  sr_nexmark_event ev;
  for (int64_t n = 0; n < 200000; n++) {
    sr_nexmark_gen_event(g, n, &ev, s);
    if (ev.kind == SR_NEXMARK_PERSON) {
      ASSERT_EQ_INT(ev.u.person.id, next_person); /* ids in creation order from 1000 */
      next_person++;
    } else if (ev.kind == SR_NEXMARK_AUCTION) {
      const sr_nexmark_auction *a = &ev.u.auction;
      ASSERT_EQ_INT(a->id, next_auction);
      next_auction++;
      ASSERT_TRUE(a->category >= 10 && a->category <= 14);
      ASSERT_TRUE(a->seller >= 1000 && a->seller < next_person + 10); /* leads: up to 10 ahead */
      ASSERT_TRUE(a->seller >= next_person - 1000 - 1); /* among the 1000 active people */
      auctions++;
      hot_seller += a->seller == (next_person - 1 - 1000) / 100 * 100 + 1000;
    } else {
      const sr_nexmark_bid *b = &ev.u.bid;
      int64_t last_auction = next_auction - 1;
      ASSERT_TRUE(b->auction <= last_auction + 10);
      ASSERT_TRUE(b->auction >= 1000 && b->auction >= last_auction - 100);
      ASSERT_TRUE(b->bidder >= 1000 && b->bidder <= next_person + 10);
      bids++;
      hot_auction += b->auction == (last_auction - 1000) / 100 * 100 + 1000;
      hot_bidder += b->bidder == (next_person - 1 - 1000) / 100 * 100 + 1 + 1000;
    }
  }
  /* hotAuctionRatio 2: 1 - 1/2 of bids; hotBiddersRatio and hotSellersRatio 4: 1 - 1/4. */
  double fa = (double)hot_auction / bids, fb = (double)hot_bidder / bids, fs = (double)hot_seller / auctions;
  if (fa < 0.49 || fa > 0.52) SR_FAIL("hot auction share %.4f, want about 0.5", fa);
  if (fb < 0.74 || fb > 0.77) SR_FAIL("hot bidder share %.4f, want about 0.75", fb);
  if (fs < 0.73 || fs > 0.78) SR_FAIL("hot seller share %.4f, want about 0.75", fs);
  free(s);
  sr_nexmark_gen_free(g);
}

SR_TEST(gen_event_time_follows_rate) {
  sr_nexmark_config c;
  sr_nexmark_config_default(&c);
  c.event_rate = 4000; /* 4 events per ms */
  sr_nexmark_gen *g = new_gen(&c);
  char *s = malloc(sr_nexmark_gen_scratch_size(g));
  sr_nexmark_event ev;
  int64_t prev = 0;
  for (int64_t n = 0; n < 10000; n++) {
    sr_nexmark_gen_event(g, n, &ev, s);
    int64_t t = ev.kind == SR_NEXMARK_BID ? ev.u.bid.date_time
              : ev.kind == SR_NEXMARK_AUCTION ? ev.u.auction.date_time : ev.u.person.date_time;
    ASSERT_EQ_INT(t, T0 + n / 4);
    ASSERT_TRUE(t >= prev);
    prev = t;
  }
  ASSERT_EQ_INT(sr_nexmark_gen_time_of(g, 4000000), T0 + 1000000);
  sr_nexmark_gen_free(g);

  /* outOfOrderGroupSize shuffles inside groups: times go back, but stay in the group's span. */
  c.event_rate = 1000;
  c.out_of_order_group_size = 10;
  g = new_gen(&c);
  int back = 0;
  prev = 0;
  for (int64_t n = 0; n < 1000; n++) {
    sr_nexmark_gen_event(g, n, &ev, s);
    int64_t t = ev.kind == SR_NEXMARK_BID ? ev.u.bid.date_time
              : ev.kind == SR_NEXMARK_AUCTION ? ev.u.auction.date_time : ev.u.person.date_time;
    ASSERT_TRUE(t >= T0 + n / 10 * 10 && t < T0 + n / 10 * 10 + 10);
    back += t < prev;
    prev = t;
  }
  ASSERT_TRUE(back > 100);
  free(s);
  sr_nexmark_gen_free(g);
}

SR_TEST(gen_fields) {
  static const char *const cities[] = {"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland",
                                       "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"};
  sr_nexmark_config c;
  sr_nexmark_config_default(&c);
  sr_nexmark_gen *g = new_gen(&c);
  char *s = malloc(sr_nexmark_gen_scratch_size(g));
  sr_nexmark_event ev;
  int64_t bid_extra = 0, bids = 0, hot_channel = 0, with_id = 0, cold = 0;
  size_t extra_min = SIZE_MAX, extra_max = 0;
  int64_t extra_chars[51] = {0}; /* 'a' - 25 .. 'z' */
  for (int64_t n = 0; n < 50000; n++) {
    sr_nexmark_gen_event(g, n, &ev, s);
    if (ev.kind == SR_NEXMARK_PERSON) {
      const sr_nexmark_person *p = &ev.u.person;
      ASSERT_TRUE(memchr(p->name.ptr, ' ', p->name.len) != NULL);
      ASSERT_TRUE(memchr(p->email_address.ptr, '@', p->email_address.len) != NULL);
      ASSERT_TRUE(p->email_address.len > 4 && memcmp(p->email_address.ptr + p->email_address.len - 4, ".com", 4) == 0);
      ASSERT_EQ_INT(p->credit_card.len, 19);
      for (int i = 0; i < 19; i++) ASSERT_TRUE(i % 5 == 4 ? p->credit_card.ptr[i] == ' ' : (p->credit_card.ptr[i] >= '0' && p->credit_card.ptr[i] <= '9'));
      int known = 0;
      for (int i = 0; i < 10; i++) known |= str_is(p->city, cities[i]);
      ASSERT_TRUE(known);
      ASSERT_EQ_INT(p->state.len, 2);
    } else if (ev.kind == SR_NEXMARK_AUCTION) {
      const sr_nexmark_auction *a = &ev.u.auction;
      ASSERT_TRUE(a->initial_bid >= 100 && a->initial_bid <= 100000000);
      ASSERT_TRUE(a->reserve >= a->initial_bid);
      ASSERT_TRUE(a->expires > a->date_time);
      ASSERT_TRUE(a->item_name.len < 20 && a->description.len < 100);
    } else {
      const sr_nexmark_bid *b = &ev.u.bid;
      ASSERT_TRUE(b->price >= 100 && b->price <= 100000000);
      ASSERT_TRUE(b->url.len > 24 && memcmp(b->url.ptr, "https://www.nexmark.com/", 24) == 0);
      if (str_is(b->channel, "Google") || str_is(b->channel, "Facebook") || str_is(b->channel, "Baidu") ||
          str_is(b->channel, "Apple")) {
        hot_channel++;
      } else {
        ASSERT_TRUE(b->channel.len > 8 && memcmp(b->channel.ptr, "channel-", 8) == 0);
        cold++;
        with_id += memmem(b->url.ptr, b->url.len, "&channel_id=", 12) != NULL;
      }
      /* Nexmark's nextExactString: groups of six from 'a' up to 'z' or down to 'H' */
      for (size_t i = 0; i < b->extra.len; i++) {
        char ch = b->extra.ptr[i];
        ASSERT_TRUE(ch >= 'a' - 25 && ch <= 'z');
        if (i % 6 > 0 && ch != 'a' && b->extra.ptr[i - i % 6] != 'a')
          ASSERT_EQ_INT(ch < 'a', b->extra.ptr[i - i % 6] < 'a'); /* one sign per group */
        extra_chars[ch - ('a' - 25)]++;
      }
      bid_extra += (int64_t)b->extra.len;
      if (b->extra.len < extra_min) extra_min = b->extra.len;
      if (b->extra.len > extra_max) extra_max = b->extra.len;
      bids++;
    }
  }
  /* avgBidByteSize 100 less the 32 bytes of numbers: extra averages 68 bytes. */
  double avg = (double)bid_extra / bids;
  if (avg < 66 || avg > 70) SR_FAIL("bid extra averages %.2f bytes, want about 68", avg);
  ASSERT_EQ_INT(extra_min, 68 - 14); /* uniform in [d - round(d/5), d + round(d/5)) */
  ASSERT_EQ_INT(extra_max, 68 + 14 - 1);
  /* every character of the range, 'a' (a 0 digit of either sign) about twice as often */
  for (int i = 0; i < 51; i++) {
    double share = (double)extra_chars[i] / (double)bid_extra, want = (i == 25 ? 2.0 : 1.0) / 52;
    if (share < want * 0.8 || share > want * 1.2)
      SR_FAIL("extra character '%c': share %.4f, want about %.4f", 'a' - 25 + i, share, want);
  }
  double hot = (double)hot_channel / bids, ids = (double)with_id / cold;
  if (hot < 0.48 || hot > 0.52) SR_FAIL("hot channel share %.3f, want about 0.5", hot);
  if (ids < 0.85 || ids > 0.95) SR_FAIL("share of urls with channel_id %.3f, want about 0.9", ids);
  sr_nexmark_gen_free(g);

  c.avg_bid_byte_size = c.avg_person_byte_size = c.avg_auction_byte_size = 0;
  g = new_gen(&c);
  for (int64_t n = 0; n < 500; n++) {
    sr_nexmark_gen_event(g, n, &ev, s);
    size_t extra = ev.kind == SR_NEXMARK_BID ? ev.u.bid.extra.len
                 : ev.kind == SR_NEXMARK_AUCTION ? ev.u.auction.extra.len : ev.u.person.extra.len;
    ASSERT_EQ_INT(extra, 0);
  }
  free(s);
  sr_nexmark_gen_free(g);
}

SR_TEST(gen_rejects_bad_config) {
  sr_nexmark_config c;
  sr_nexmark_config_default(&c);
  c.hot_auction_ratio = 0;
  sr_nexmark_gen *g = (sr_nexmark_gen *)1;
  sr_error *err = NULL;
  ASSERT_EQ_INT(sr_nexmark_gen_new(&c, &g, &err), SR_ERROR);
  ASSERT_TRUE(g == NULL);
  ASSERT_TRUE(strstr(err->message, "hotAuctionRatio") != NULL);
  sr_error_free(err);
  err = NULL;
  sr_nexmark_config_default(&c);
  c.avg_bid_byte_size = SR_NEXMARK_MAX_AVG_BYTES + 1;
  ASSERT_EQ_INT(sr_nexmark_gen_new(&c, &g, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "avgBidByteSize") != NULL);
  sr_error_free(err);
}

/* ---- the source ---- */

SR_TEST(source_rows_match_generator) {
  test_source t;
  sr_error *err = NULL;
  if (open_source(&t, 0, &err, "maxEvents", "200", "seed", "3", NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  lua_State *L = new_lua();
  json_t *end = plan(&t, NULL);
  ASSERT_EQ_INT(events_of(end), 200);
  ASSERT_EQ_INT(read_rows(&t, L, NULL, end), 200);
  ASSERT_EQ_INT(lua_gettop(L), 1); /* read leaves nothing else on the stack */

  const sr_nexmark_gen *g = sr_source_nexmark_generator(&t.src);
  ASSERT_TRUE(g != NULL);
  char *s = malloc(sr_nexmark_gen_scratch_size(g));
  sr_nexmark_event ev;
  for (int i = 1; i <= 200; i++) {
    sr_nexmark_gen_event(g, i - 1, &ev, s);
    lua_rawgeti(L, 1, i);
    lua_getfield(L, -1, "event_type");
    const char *type = lua_tostring(L, -1);
    lua_pop(L, 1);
    const char *kinds[] = {"person", "auction", "bid"};
    ASSERT_EQ_STR(type, kinds[ev.kind]);
    for (int k = 0; k < 3; k++) {  /* only the event's own record is set */
      lua_getfield(L, -1, kinds[k]);
      ASSERT_EQ_INT(lua_istable(L, -1), k == (int)ev.kind);
      ASSERT_EQ_INT(lua_isnil(L, -1), k != (int)ev.kind);
      lua_pop(L, 1);
    }
    lua_getfield(L, -1, kinds[ev.kind]);
    if (ev.kind == SR_NEXMARK_BID) {
      lua_getfield(L, -1, "auction"); ASSERT_EQ_DBL(lua_tonumber(L, -1), (double)ev.u.bid.auction); lua_pop(L, 1);
      lua_getfield(L, -1, "bidder"); ASSERT_EQ_DBL(lua_tonumber(L, -1), (double)ev.u.bid.bidder); lua_pop(L, 1);
      lua_getfield(L, -1, "price"); ASSERT_EQ_DBL(lua_tonumber(L, -1), (double)ev.u.bid.price); lua_pop(L, 1);
      lua_getfield(L, -1, "dateTime"); ASSERT_EQ_DBL(lua_tonumber(L, -1), (double)ev.u.bid.date_time); lua_pop(L, 1);
      lua_getfield(L, -1, "channel"); ASSERT_TRUE(str_is(ev.u.bid.channel, lua_tostring(L, -1))); lua_pop(L, 1);
      lua_getfield(L, -1, "url"); ASSERT_TRUE(str_is(ev.u.bid.url, lua_tostring(L, -1))); lua_pop(L, 1);
      lua_getfield(L, -1, "extra"); ASSERT_TRUE(str_is(ev.u.bid.extra, lua_tostring(L, -1))); lua_pop(L, 1);
    } else if (ev.kind == SR_NEXMARK_AUCTION) {
      lua_getfield(L, -1, "id"); ASSERT_EQ_DBL(lua_tonumber(L, -1), (double)ev.u.auction.id); lua_pop(L, 1);
      lua_getfield(L, -1, "itemName"); ASSERT_TRUE(str_is(ev.u.auction.item_name, lua_tostring(L, -1))); lua_pop(L, 1);
      lua_getfield(L, -1, "description"); ASSERT_TRUE(str_is(ev.u.auction.description, lua_tostring(L, -1))); lua_pop(L, 1);
      lua_getfield(L, -1, "initialBid"); ASSERT_EQ_DBL(lua_tonumber(L, -1), (double)ev.u.auction.initial_bid); lua_pop(L, 1);
      lua_getfield(L, -1, "reserve"); ASSERT_EQ_DBL(lua_tonumber(L, -1), (double)ev.u.auction.reserve); lua_pop(L, 1);
      lua_getfield(L, -1, "dateTime"); ASSERT_EQ_DBL(lua_tonumber(L, -1), (double)ev.u.auction.date_time); lua_pop(L, 1);
      lua_getfield(L, -1, "expires"); ASSERT_EQ_DBL(lua_tonumber(L, -1), (double)ev.u.auction.expires); lua_pop(L, 1);
      lua_getfield(L, -1, "seller"); ASSERT_EQ_DBL(lua_tonumber(L, -1), (double)ev.u.auction.seller); lua_pop(L, 1);
      lua_getfield(L, -1, "category"); ASSERT_EQ_DBL(lua_tonumber(L, -1), (double)ev.u.auction.category); lua_pop(L, 1);
      lua_getfield(L, -1, "extra"); ASSERT_TRUE(str_is(ev.u.auction.extra, lua_tostring(L, -1))); lua_pop(L, 1);
    } else {
      lua_getfield(L, -1, "id"); ASSERT_EQ_DBL(lua_tonumber(L, -1), (double)ev.u.person.id); lua_pop(L, 1);
      lua_getfield(L, -1, "name"); ASSERT_TRUE(str_is(ev.u.person.name, lua_tostring(L, -1))); lua_pop(L, 1);
      lua_getfield(L, -1, "emailAddress"); ASSERT_TRUE(str_is(ev.u.person.email_address, lua_tostring(L, -1))); lua_pop(L, 1);
      lua_getfield(L, -1, "creditCard"); ASSERT_TRUE(str_is(ev.u.person.credit_card, lua_tostring(L, -1))); lua_pop(L, 1);
      lua_getfield(L, -1, "city"); ASSERT_TRUE(str_is(ev.u.person.city, lua_tostring(L, -1))); lua_pop(L, 1);
      lua_getfield(L, -1, "state"); ASSERT_TRUE(str_is(ev.u.person.state, lua_tostring(L, -1))); lua_pop(L, 1);
      lua_getfield(L, -1, "dateTime"); ASSERT_EQ_DBL(lua_tonumber(L, -1), (double)ev.u.person.date_time); lua_pop(L, 1);
      lua_getfield(L, -1, "extra"); ASSERT_TRUE(str_is(ev.u.person.extra, lua_tostring(L, -1))); lua_pop(L, 1);
    }
    lua_pop(L, 2);
  }
  /* The next read reuses the records' memory and holds just its own range. */
  json_t *start = json_pack("{sI}", "events", (json_int_t)190);
  ASSERT_EQ_INT(read_rows(&t, L, start, end), 10);
  lua_rawgeti(L, -1, 1);
  lua_getfield(L, -1, "event_type");
  static const char *const kind_names[] = {"person", "auction", "bid"};
  ASSERT_EQ_STR(lua_tostring(L, -1), kind_names[sr_nexmark_gen_kind(g, 190)]);
  lua_pop(L, 3);
  json_decref(start);
  free(s);
  json_decref(end);
  sr_lua_close(L);
  close_source(&t);
}

/* table = "bid": only the bids of the range, each the flat bid record; other tables alike. */
SR_TEST(source_flat_tables) {
  static const char *const tables[] = {"person", "auction", "bid"};
  static const char *const id_field[] = {"id", "id", "auction"};
  for (int k = 0; k < 3; k++) {
    test_source t;
    sr_error *err = NULL;
    if (open_source(&t, 0, &err, "maxEvents", "300", "seed", "5", "table", tables[k], NULL) != SR_OK)
      SR_FAIL("open: %s", err->message);
    lua_State *L = new_lua();
    json_t *end = plan(&t, NULL);
    const sr_nexmark_gen *g = sr_source_nexmark_generator(&t.src);
    int want = 0;
    for (int64_t n = 0; n < 300; n++) want += (int)sr_nexmark_gen_kind(g, n) == k;
    ASSERT_TRUE(want > 0);
    ASSERT_EQ_INT(read_table_rows(&t, L, NULL, end, tables[k]), want);
    char *s = malloc(sr_nexmark_gen_scratch_size(g));
    sr_nexmark_event ev;
    int row = 0;
    for (int64_t n = 0; n < 300; n++) {
      if ((int)sr_nexmark_gen_kind(g, n) != k) continue;
      sr_nexmark_gen_event(g, n, &ev, s);
      lua_rawgeti(L, 1, ++row);
      lua_getfield(L, -1, "event_type");
      ASSERT_TRUE(lua_isnil(L, -1)); /* flat: no event wrapper */
      lua_getfield(L, -2, id_field[k]);
      int64_t id = k == SR_NEXMARK_BID ? ev.u.bid.auction : k == SR_NEXMARK_AUCTION ? ev.u.auction.id : ev.u.person.id;
      ASSERT_EQ_DBL(lua_tonumber(L, -1), (double)id);
      lua_getfield(L, -3, "dateTime");
      int64_t ts = k == SR_NEXMARK_BID ? ev.u.bid.date_time : k == SR_NEXMARK_AUCTION ? ev.u.auction.date_time : ev.u.person.date_time;
      ASSERT_EQ_DBL(lua_tonumber(L, -1), (double)ts);
      if (k == SR_NEXMARK_BID) {
        lua_getfield(L, -4, "url");
        ASSERT_TRUE(str_is(ev.u.bid.url, lua_tostring(L, -1)));
        lua_pop(L, 1);
      }
      lua_pop(L, 4);
    }
    free(s);
    json_decref(end);
    sr_lua_close(L);
    close_source(&t);
  }
  test_source t;
  sr_error *err = NULL;
  ASSERT_EQ_INT(open_source(&t, 0, &err, "table", "bids", NULL), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "table must be events, bid, auction or person, not \"bids\"") != NULL);
  sr_error_free(err);
  close_source(&t);
}

SR_TEST(source_replay_is_exact) {
  test_source t;
  sr_error *err = NULL;
  if (open_source(&t, 0, &err, "maxEventsPerTrigger", "1000", NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  lua_State *L = new_lua();
  json_t *e1 = plan(&t, NULL);
  json_t *e2 = plan(&t, e1);
  ASSERT_EQ_INT(events_of(e1), 1000);
  ASSERT_EQ_INT(events_of(e2), 2000);
  read_rows(&t, L, e1, e2);                 /* 1: batch 2 */
  read_rows(&t, L, NULL, e1);               /* 2: batch 1 in between */
  read_rows(&t, L, e1, e2);                 /* 3: batch 2 again, as after a crash */
  ASSERT_TRUE(lua_deq(L, 1, 3));
  ASSERT_TRUE(!lua_deq(L, 1, 2));
  /* A fresh source with the same options (a restarted query) gives the same rows too. */
  test_source t2;
  if (open_source(&t2, 0, &err, "maxEventsPerTrigger", "1000", NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  read_rows(&t2, L, e1, e2);
  ASSERT_TRUE(lua_deq(L, 1, 4));
  close_source(&t2);
  json_decref(e1);
  json_decref(e2);
  sr_lua_close(L);
  close_source(&t);
}

SR_TEST(source_plan_unpaced_caps_and_drains) {
  test_source t;
  sr_error *err = NULL;
  if (open_source(&t, 0, &err, "maxEvents", "1000", "maxEventsPerTrigger", "300", NULL) != SR_OK)
    SR_FAIL("open: %s", err->message);
  json_t *start = NULL;
  int64_t want[] = {300, 600, 900, 1000};
  for (int i = 0; i < 4; i++) {
    ASSERT_EQ_INT(t.src.ops->drained(&t.src, start), 0);
    json_t *end = plan(&t, start);
    ASSERT_EQ_INT(events_of(end), want[i]);
    json_decref(start);
    start = end;
  }
  ASSERT_EQ_INT(t.src.ops->drained(&t.src, start), 1);
  ASSERT_TRUE(plan(&t, start) == NULL); /* maxEvents reached: nothing more */
  json_decref(start);
  close_source(&t);

  /* Unbounded and unpaced: 100000 a batch by default, never drained. */
  if (open_source(&t, 0, &err, NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  json_t *end = plan(&t, NULL);
  ASSERT_EQ_INT(events_of(end), 100000);
  ASSERT_EQ_INT(t.src.ops->drained(&t.src, end), 0);
  json_decref(end);
  close_source(&t);
}

static int64_t fake_now;
static int64_t fake_clock(void) { return fake_now; }

SR_TEST(source_plan_paced_by_clock) {
  int64_t (*saved)(void) = sr_source_nexmark_clock_ms;
  sr_source_nexmark_clock_ms = fake_clock;
  fake_now = 50000;
  test_source t;
  sr_error *err = NULL;
  if (open_source(&t, 0, &err, "eventsPerSecond", "1000", "maxEvents", "1500", NULL) != SR_OK)
    SR_FAIL("open: %s", err->message);
  ASSERT_TRUE(plan(&t, NULL) == NULL);       /* no time has passed */
  fake_now += 250;
  json_t *e1 = plan(&t, NULL);
  ASSERT_EQ_INT(events_of(e1), 250);
  fake_now += 1000;                          /* paced: no per-trigger cap unless set */
  json_t *e2 = plan(&t, e1);
  ASSERT_EQ_INT(events_of(e2), 1250);
  ASSERT_EQ_INT(t.src.ops->drained(&t.src, e2), 0);
  fake_now += 5000;
  json_t *e3 = plan(&t, e2);
  ASSERT_EQ_INT(events_of(e3), 1500);        /* never beyond maxEvents */
  ASSERT_EQ_INT(t.src.ops->drained(&t.src, e3), 1);
  /* Event time is generated at the same rate: 1 ms per event from firstEventTime. */
  lua_State *L = new_lua();
  read_rows(&t, L, e2, e3);
  lua_rawgeti(L, -1, 1);
  lua_getfield(L, -1, (const char *[]){"person", "auction", "bid"}[sr_nexmark_gen_kind(sr_source_nexmark_generator(&t.src), 1250)]);
  lua_getfield(L, -1, "dateTime");
  ASSERT_EQ_DBL(lua_tonumber(L, -1), (double)(T0 + 1250));
  sr_lua_close(L);
  json_decref(e1);
  json_decref(e2);
  json_decref(e3);
  close_source(&t);

  /* A restart counts from its own open and from the logged offset: no burst to catch up. */
  if (open_source(&t, 0, &err, "eventsPerSecond", "1000", "maxEventsPerTrigger", "50", NULL) != SR_OK)
    SR_FAIL("open: %s", err->message);
  json_t *logged = json_pack("{sI}", "events", (json_int_t)5000);
  ASSERT_TRUE(plan(&t, logged) == NULL);
  fake_now += 30;
  json_t *e4 = plan(&t, logged);
  ASSERT_EQ_INT(events_of(e4), 5030);
  fake_now += 1000;
  json_t *e5 = plan(&t, e4);
  ASSERT_EQ_INT(events_of(e5), 5080);        /* an explicit maxEventsPerTrigger caps */
  json_decref(logged);
  json_decref(e4);
  json_decref(e5);
  close_source(&t);
  sr_source_nexmark_clock_ms = saved;
}

SR_TEST(source_available_now) {
  test_source t;
  sr_error *err = NULL;
  /* Pacing is ignored: everything up to maxEvents is there. */
  if (open_source(&t, 1, &err, "eventsPerSecond", "10", "maxEvents", "500", NULL) != SR_OK)
    SR_FAIL("open: %s", err->message);
  json_t *end = plan(&t, NULL);
  ASSERT_EQ_INT(events_of(end), 500);
  ASSERT_EQ_INT(t.src.ops->drained(&t.src, end), 1);
  json_decref(end);
  close_source(&t);
  /* Unbounded: one batch of maxEventsPerTrigger. */
  if (open_source(&t, 1, &err, "maxEventsPerTrigger", "700", NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  end = plan(&t, NULL);
  ASSERT_EQ_INT(events_of(end), 700);
  ASSERT_EQ_INT(t.src.ops->drained(&t.src, end), 1);
  ASSERT_TRUE(plan(&t, end) == NULL);
  json_decref(end);
  close_source(&t);
}

SR_TEST(source_options) {
  test_source t;
  sr_error *err = NULL;
  /* firstEventTime as text with an offset, and as ms. */
  const char *forms[] = {"2026-11-23T11:00:00+01:00", "1795428000000", "2026-11-23 10:00:00.000", "2026-11-23T10:00:00Z", " 1795428000000 "};
  for (int i = 0; i < 5; i++) {
    if (open_source(&t, 0, &err, "firstEventTime", forms[i], "firstEventRate", "1", NULL) != SR_OK)
      SR_FAIL("open with %s: %s", forms[i], err->message);
    const sr_nexmark_gen *g = sr_source_nexmark_generator(&t.src);
    ASSERT_EQ_INT(sr_nexmark_gen_time_of(g, 0), T0);
    ASSERT_EQ_INT(sr_nexmark_gen_time_of(g, 3), T0 + 3000);
    close_source(&t);
  }
  ASSERT_EQ_INT(open_source(&t, 0, &err, "firstEventTime", "yesterday", NULL), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "firstEventTime") != NULL);
  close_source(&t);
  sr_error_free(err);
  err = NULL;
  ASSERT_EQ_INT(open_source(&t, 0, &err, "hotBiddersRatio", "0", NULL), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "hotBiddersRatio") != NULL);
  close_source(&t);
  sr_error_free(err);
  err = NULL;
  ASSERT_EQ_INT(open_source(&t, 0, &err, "maxEvents", "-1", NULL), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "maxEvents") != NULL);
  close_source(&t);
  sr_error_free(err);
  err = NULL;
  /* The option table: a typo gets the nearest name. */
  ASSERT_EQ_INT(open_source(&t, 0, &err, "eventsPerSecnd", "5", NULL), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "eventsPerSecond") != NULL);
  close_source(&t);
  sr_error_free(err);
  err = NULL;
  /* describe, and offsets that are not ours. */
  if (open_source(&t, 0, &err, "seed", "42", NULL) != SR_OK) SR_FAIL("open: %s", err->message);
  json_t *progress = json_object();
  t.src.ops->describe(&t.src, progress);
  const char *desc = json_string_value(json_object_get(progress, "description"));
  ASSERT_TRUE(desc && strstr(desc, "Nexmark[") && strstr(desc, "seed=42"));
  json_decref(progress);
  json_t *bad = json_pack("{sI}", "offset", (json_int_t)3);
  json_t *end = NULL;
  ASSERT_EQ_INT(t.src.ops->plan(&t.src, bad, &end, &err), SR_ERROR);
  ASSERT_TRUE(strstr(err->message, "events") != NULL);
  sr_error_free(err);
  err = NULL;
  sr_row_view view = {0};
  ASSERT_EQ_INT(t.src.ops->read_view(&t.src, NULL, bad, &view, &err), SR_ERROR);
  sr_error_free(err);
  err = NULL;
  json_t *e10 = json_pack("{sI}", "events", (json_int_t)10), *e5 = json_pack("{sI}", "events", (json_int_t)5);
  ASSERT_EQ_INT(t.src.ops->read_view(&t.src, e10, e5, &view, &err), SR_ERROR);
  ASSERT_EQ_INT(view.count, 0);
  sr_error_free(err);
  json_decref(e10);
  json_decref(e5);
  json_decref(bad);
  close_source(&t);
}

int main(void) {
  return SR_RUN(gen_same_seed_same_events, gen_other_seed_other_events, gen_proportions_1_3_46,
                gen_ids_and_hot_keys, gen_event_time_follows_rate, gen_fields, gen_rejects_bad_config,
                source_rows_match_generator, source_flat_tables, source_replay_is_exact, source_plan_unpaced_caps_and_drains,
                source_plan_paced_by_clock, source_available_now, source_options);
}
