/* nexmark_gen: see nexmark_gen.h for what follows Beam/Flink and what does not. */
#include "nexmark_gen.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The largest outOfOrderGroupSize: (n % size) * 953 must fit an int64. */
#define MAX_GROUP_SIZE 1000000000LL
#define PERSON_ID_LEAD 10       /* yet-to-be-created people a bid or auction may name */
#define AUCTION_ID_LEAD 10      /* yet-to-be-created auctions a bid may name */
#define HOT_BLOCK 100           /* hot sellers/bidders/auctions: one per block of 100 ids */
#define NUM_CATEGORIES 5
#define MIN_STRING_LENGTH 3
#define CHANNELS_NUMBER 10000
#define NUM_HOT_CHANNELS 4
#define URL_MAX 96
/* Channel url streams use ids with the top bit set, which no event id (an int64 >= 0) has,
** so a channel's stream never coincides with an event's. */
#define CHANNEL_SALT 0xA24BAED4963EE407ULL

/* A channel's name and url: a function of (seed, channel), made once per generator, so a bid
** copies two pointers and readers can keep one Lua string per channel (channel_id). */
typedef struct channel {
  char name[16];  /* "channel-9999" at most; hot channels point at HOT_CHANNELS instead */
  char url[URL_MAX];
  sr_nexmark_str name_str, url_str;
} channel;

struct sr_nexmark_gen {
  sr_nexmark_config cfg;
  uint64_t seed_mix;
  size_t scratch_size;
  int64_t num_events_for_auctions; /* events until numInFlightAuctions more auctions exist */
  channel channels[CHANNELS_NUMBER + NUM_HOT_CHANNELS]; /* hot ones last */
};

#define S(text) {text, sizeof text - 1}
static const sr_nexmark_str FIRST_NAMES[] = {S("Peter"), S("Paul"), S("Luke"), S("John"), S("Saul"),
                                             S("Vicky"), S("Kate"), S("Julie"), S("Sarah"),
                                             S("Deiter"), S("Walter")};
static const sr_nexmark_str LAST_NAMES[] = {S("Shultz"), S("Abrams"), S("Spencer"), S("White"),
                                            S("Bartels"), S("Walton"), S("Smith"), S("Jones"),
                                            S("Noris")};
static const sr_nexmark_str US_CITIES[] = {S("Phoenix"), S("Los Angeles"), S("San Francisco"),
                                           S("Boise"), S("Portland"), S("Bend"), S("Redmond"),
                                           S("Seattle"), S("Kent"), S("Cheyenne")};
static const sr_nexmark_str US_STATES[] = {S("AZ"), S("CA"), S("ID"), S("OR"), S("WA"), S("WY")};
static const sr_nexmark_str HOT_CHANNELS[NUM_HOT_CHANNELS] = {S("Google"), S("Facebook"),
                                                              S("Baidu"), S("Apple")};
#define COUNT(a) ((int64_t)(sizeof(a) / sizeof *(a)))

/* ---- random numbers: SplitMix64 (Steele, Lea, Flood 2014) ---- */

static inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

typedef struct rng { uint64_t state; } rng;

static inline uint64_t rng_next(rng *r) {
  r->state += 0x9E3779B97F4A7C15ULL;
  return mix64(r->state);
}

/* Uniform in [0, n) for n >= 1, by multiply-shift (Lemire): one draw, no division. */
static inline int64_t rng_below(rng *r, int64_t n) {
  return (int64_t)(((unsigned __int128)rng_next(r) * (uint64_t)n) >> 64);
}

static inline double rng_double(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* ---- strings, written at c->p in the scratch buffer ---- */

typedef struct cursor { char *p; } cursor;

static sr_nexmark_str put(cursor *c, const char *s, size_t n) {
  sr_nexmark_str out = {c->p, n};
  memcpy(c->p, s, n);
  c->p += n;
  return out;
}

static size_t utoa(char *dst, uint64_t v) {
  char tmp[24];
  size_t n = 0;
  do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
  for (size_t i = 0; i < n; i++) dst[i] = tmp[n - 1 - i];
  return n;
}

/* Beam's nextString: 3..maxLength-1 characters, each a space with probability 1/13, else a
** lowercase letter; then trimmed. Four characters per draw, 16 bits each: the low byte b
** makes a space when b < 20 (p = 20/256, about 1/13), the high byte h the letter h * 26 / 256.
** Writes at dst. */
static size_t rand_chars(rng *r, char *dst, int64_t max_length, char special) {
  int64_t len = MIN_STRING_LENGTH + rng_below(r, max_length - MIN_STRING_LENGTH);
  uint64_t x = 0;
  for (int64_t i = 0; i < len; i++) {
    if ((i & 3) == 0) x = rng_next(r);
    else x >>= 16;
    unsigned lo = (unsigned)(x & 0xFF), hi = (unsigned)((x >> 8) & 0xFF);
    dst[i] = lo < 20 ? special : (char)('a' + (hi * 26 >> 8));
  }
  return (size_t)len;
}

static sr_nexmark_str next_string(rng *r, cursor *c, int64_t max_length) {
  size_t len = rand_chars(r, c->p, max_length, ' ');
  size_t b = 0, e = len;
  while (b < e && c->p[b] == ' ') b++;
  while (e > b && c->p[e - 1] == ' ') e--;
  sr_nexmark_str out = {c->p + b, e - b};
  c->p += len;
  return out;
}

/* Beam's and Flink's nextExactString: exactly len characters, each 'a' + rnd % 26 for the next
** base-26 digit of a random Java int rnd, six digits per int. Java's % keeps the dividend's
** sign, so the six characters of a negative int run from 'a' down to 'H' ('a' - 25) instead
** of up to 'z': the text is letters of both cases and [\]^_` as Nexmark's is. Here each draw
** gives a group of six: its sign from one bit, its digits from six bytes b as b * 26 / 256,
** computed for all lanes at once in 16-bit lanes. Writes whole words, so up to 7 bytes past
** the string (the scratch size allows for them). */
static sr_nexmark_str next_exact_string(rng *r, cursor *c, int64_t len) {
  const uint64_t lanes = 0x00FF00FF00FF00FFULL, a = 0x6161616161616161ULL;
  sr_nexmark_str out = {c->p, (size_t)len};
  rng local = *r; /* in a register for the loop */
  for (int64_t i = 0; i < len; i += 6) {
    uint64_t x = rng_next(&local);
    uint64_t even = ((x & lanes) * 26 >> 8) & lanes;
    uint64_t odd = (((x >> 8) & lanes) * 26 >> 8) & lanes;
    uint64_t digits = even | odd << 8;          /* each byte 0..25: no borrow below */
    uint64_t text = (x >> 63) ? a - digits : a + digits; /* bit 63 is in lane 7, unused */
    memcpy(c->p + i, &text, 8);
  }
  *r = local;
  c->p += len;
  return out;
}

/* Beam's nextExtra: padding so current_size + its length averages desired_avg; the length is
** uniform in [d - round(d/5), d + round(d/5)) for d = desired_avg - current_size. */
static sr_nexmark_str next_extra(rng *r, cursor *c, int64_t current_size, int64_t desired_avg) {
  if (current_size > desired_avg) return (sr_nexmark_str){c->p, 0};
  int64_t d = desired_avg - current_size;
  int64_t delta = (2 * d + 5) / 10;  /* Math.round(d * 0.2) for d >= 0 */
  int64_t size = d - delta + (delta == 0 ? 0 : rng_below(r, 2 * delta));
  return next_exact_string(r, c, size);
}

static int64_t next_price(rng *r) {
  /* round(10^(6u) * 100): 100 .. 10^8, log-uniform. */
  return (int64_t)floor(exp(rng_double(r) * 13.815510557964274) * 100.0 + 0.5);
}

/* ---- ids (Beam's PersonGenerator/AuctionGenerator arithmetic, base 0) ---- */

static int64_t last_base0_person_id(int64_t event_id) {
  int64_t epoch = event_id / SR_NEXMARK_PROPORTION_DENOMINATOR;
  int64_t offset = event_id % SR_NEXMARK_PROPORTION_DENOMINATOR;
  if (offset >= SR_NEXMARK_PERSON_PROPORTION) offset = SR_NEXMARK_PERSON_PROPORTION - 1;
  return epoch * SR_NEXMARK_PERSON_PROPORTION + offset;
}

static int64_t last_base0_auction_id(int64_t event_id) {
  int64_t epoch = event_id / SR_NEXMARK_PROPORTION_DENOMINATOR;
  int64_t offset = event_id % SR_NEXMARK_PROPORTION_DENOMINATOR;
  if (offset < SR_NEXMARK_PERSON_PROPORTION) {
    epoch--;
    offset = SR_NEXMARK_AUCTION_PROPORTION - 1;
  } else if (offset >= SR_NEXMARK_PERSON_PROPORTION + SR_NEXMARK_AUCTION_PROPORTION) {
    offset = SR_NEXMARK_AUCTION_PROPORTION - 1;
  } else {
    offset -= SR_NEXMARK_PERSON_PROPORTION;
  }
  return epoch * SR_NEXMARK_AUCTION_PROPORTION + offset;
}

/* One of the active people, or a few not created yet (bids and new people may swap). */
static int64_t next_base0_person_id(const sr_nexmark_gen *g, rng *r, int64_t event_id) {
  int64_t num_people = last_base0_person_id(event_id) + 1;
  int64_t active = num_people < g->cfg.num_active_people ? num_people : g->cfg.num_active_people;
  return num_people - active + rng_below(r, active + PERSON_ID_LEAD);
}

/* One of the auctions likely still in flight, or a few not created yet. */
static int64_t next_base0_auction_id(const sr_nexmark_gen *g, rng *r, int64_t event_id) {
  int64_t max_auction = last_base0_auction_id(event_id);
  int64_t min_auction = max_auction - g->cfg.num_in_flight_auctions;
  if (min_auction < 0) min_auction = 0;
  return min_auction + rng_below(r, max_auction - min_auction + 1 + AUCTION_ID_LEAD);
}

/* ---- event time ---- */

int64_t sr_nexmark_gen_time_of(const sr_nexmark_gen *g, int64_t n) {
  if (n <= INT64_MAX / 1000) return g->cfg.first_event_time_ms + n * 1000 / g->cfg.event_rate;
  return g->cfg.first_event_time_ms + (int64_t)(((__int128)n * 1000) / g->cfg.event_rate);
}

/* Beam's nextAdjustedEventNumber: a fixed shuffle of the numbers inside each group. */
static int64_t adjusted_number(const sr_nexmark_gen *g, int64_t n) {
  int64_t size = g->cfg.out_of_order_group_size;
  if (size == 1) return n;
  return n / size * size + (n % size) * 953 % size;
}

sr_nexmark_kind sr_nexmark_gen_kind(const sr_nexmark_gen *g, int64_t n) {
  int64_t rem = adjusted_number(g, n) % SR_NEXMARK_PROPORTION_DENOMINATOR;
  if (rem < SR_NEXMARK_PERSON_PROPORTION) return SR_NEXMARK_PERSON;
  if (rem < SR_NEXMARK_PERSON_PROPORTION + SR_NEXMARK_AUCTION_PROPORTION) return SR_NEXMARK_AUCTION;
  return SR_NEXMARK_BID;
}

/* ---- the three kinds ---- */

static void gen_person(const sr_nexmark_gen *g, rng *r, int64_t event_id, int64_t ts,
                       sr_nexmark_person *p, cursor *c) {
  p->id = last_base0_person_id(event_id) + SR_NEXMARK_FIRST_PERSON_ID;
  sr_nexmark_str first = FIRST_NAMES[rng_below(r, COUNT(FIRST_NAMES))];
  sr_nexmark_str last = LAST_NAMES[rng_below(r, COUNT(LAST_NAMES))];
  char *name = c->p;
  put(c, first.ptr, first.len);
  put(c, " ", 1);
  put(c, last.ptr, last.len);
  p->name = (sr_nexmark_str){name, (size_t)(c->p - name)};

  char *email = c->p;
  sr_nexmark_str user = next_string(r, c, 7);
  memmove(email, user.ptr, user.len);  /* drop the characters trim cut off */
  c->p = email + user.len;
  put(c, "@", 1);
  sr_nexmark_str domain = next_string(r, c, 5);
  memmove(email + user.len + 1, domain.ptr, domain.len);
  c->p = email + user.len + 1 + domain.len;
  put(c, ".com", 4);
  p->email_address = (sr_nexmark_str){email, (size_t)(c->p - email)};

  char *cc = c->p;
  for (int i = 0; i < 4; i++) {
    int64_t v = rng_below(r, 10000);
    if (i > 0) *c->p++ = ' ';
    c->p[0] = (char)('0' + v / 1000);
    c->p[1] = (char)('0' + v / 100 % 10);
    c->p[2] = (char)('0' + v / 10 % 10);
    c->p[3] = (char)('0' + v % 10);
    c->p += 4;
  }
  p->credit_card = (sr_nexmark_str){cc, (size_t)(c->p - cc)};

  p->city = US_CITIES[rng_below(r, COUNT(US_CITIES))];
  p->state = US_STATES[rng_below(r, COUNT(US_STATES))];
  p->date_time = ts;
  int64_t size = 8 + (int64_t)(p->name.len + p->email_address.len + p->credit_card.len +
                               p->city.len + p->state.len);
  p->extra = next_extra(r, c, size, g->cfg.avg_person_byte_size);
}

static void gen_auction(const sr_nexmark_gen *g, rng *r, int64_t event_id, int64_t ts,
                        sr_nexmark_auction *a, cursor *c) {
  a->id = last_base0_auction_id(event_id) + SR_NEXMARK_FIRST_AUCTION_ID;
  /* P(hot seller) = 1 - 1/hotSellersRatio: the first person of the last block of 100. */
  if (rng_below(r, g->cfg.hot_sellers_ratio) > 0)
    a->seller = last_base0_person_id(event_id) / HOT_BLOCK * HOT_BLOCK;
  else
    a->seller = next_base0_person_id(g, r, event_id);
  a->seller += SR_NEXMARK_FIRST_PERSON_ID;
  a->category = SR_NEXMARK_FIRST_CATEGORY_ID + rng_below(r, NUM_CATEGORIES);
  a->initial_bid = next_price(r);
  /* Auctions last on average as long as it takes numInFlightAuctions more to be created. */
  int64_t horizon = sr_nexmark_gen_time_of(g, event_id + g->num_events_for_auctions) - ts;
  a->date_time = ts;
  a->expires = ts + 1 + rng_below(r, horizon * 2 > 1 ? horizon * 2 : 1);
  a->item_name = next_string(r, c, 20);
  a->description = next_string(r, c, 100);
  a->reserve = a->initial_bid + next_price(r);
  int64_t size = 8 + (int64_t)(a->item_name.len + a->description.len) + 8 + 8 + 8 + 8 + 8;
  a->extra = next_extra(r, c, size, g->cfg.avg_auction_byte_size);
}

static size_t base_url(rng *r, char *dst) {
  static const char head[] = "https://www.nexmark.com/";
  static const char tail[] = "item.htm?query=1";
  size_t n = sizeof head - 1;
  memcpy(dst, head, n);
  for (int i = 0; i < 3; i++) {
    n += rand_chars(r, dst + n, 5, '_');
    dst[n++] = '/';
  }
  memcpy(dst + n, tail, sizeof tail - 1);
  return n + sizeof tail - 1;
}

/* Java's Integer.reverse: the bits in reverse order. */
static uint32_t reverse32(uint32_t v) {
  v = ((v >> 1) & 0x55555555u) | ((v & 0x55555555u) << 1);
  v = ((v >> 2) & 0x33333333u) | ((v & 0x33333333u) << 2);
  v = ((v >> 4) & 0x0F0F0F0Fu) | ((v & 0x0F0F0F0Fu) << 4);
  v = ((v >> 8) & 0x00FF00FFu) | ((v & 0x00FF00FFu) << 8);
  return (v >> 16) | (v << 16);
}

/* Flink's getNextChannelAndurl, seeded: most urls of channel-N carry N, bit-reversed; hot
** channels (numbers CHANNELS_NUMBER + i) have the plain url. */
static void make_channel(const sr_nexmark_gen *g, int64_t number, channel *ch) {
  rng r = {mix64(g->seed_mix ^ CHANNEL_SALT ^ (uint64_t)number)};
  size_t n = base_url(&r, ch->url);
  if (number < CHANNELS_NUMBER) {
    if (rng_below(&r, 10) > 0) {
      static const char param[] = "&channel_id=";
      memcpy(ch->url + n, param, sizeof param - 1);
      n += sizeof param - 1;
      n += utoa(ch->url + n, (uint64_t)llabs((int64_t)(int32_t)reverse32((uint32_t)number)));
    }
    memcpy(ch->name, "channel-", 8);
    ch->name_str = (sr_nexmark_str){ch->name, 8 + utoa(ch->name + 8, (uint64_t)number)};
  } else {
    ch->name_str = HOT_CHANNELS[number - CHANNELS_NUMBER];
  }
  ch->url_str = (sr_nexmark_str){ch->url, n};
}

static void gen_bid(const sr_nexmark_gen *g, rng *r, int64_t event_id, int64_t ts,
                    sr_nexmark_bid *b, cursor *c) {
  /* P(hot auction) = 1 - 1/hotAuctionRatio: the first of the last block of 100 auctions. */
  if (rng_below(r, g->cfg.hot_auction_ratio) > 0)
    b->auction = last_base0_auction_id(event_id) / HOT_BLOCK * HOT_BLOCK;
  else
    b->auction = next_base0_auction_id(g, r, event_id);
  b->auction += SR_NEXMARK_FIRST_AUCTION_ID;
  /* P(hot bidder) = 1 - 1/hotBiddersRatio: the second person of the block, so hot bidders
  ** and hot sellers differ. */
  if (rng_below(r, g->cfg.hot_bidders_ratio) > 0)
    b->bidder = last_base0_person_id(event_id) / HOT_BLOCK * HOT_BLOCK + 1;
  else
    b->bidder = next_base0_person_id(g, r, event_id);
  b->bidder += SR_NEXMARK_FIRST_PERSON_ID;
  b->price = next_price(r);
  int64_t ch = rng_below(r, 2) > 0 ? CHANNELS_NUMBER + rng_below(r, NUM_HOT_CHANNELS)
                                    : rng_below(r, CHANNELS_NUMBER);
  b->channel_id = (int32_t)ch;
  b->channel = g->channels[ch].name_str;
  b->url = g->channels[ch].url_str;
  b->date_time = ts;
  b->extra = next_extra(r, c, 8 + 8 + 8 + 8, g->cfg.avg_bid_byte_size);
}

size_t sr_nexmark_gen_event(const sr_nexmark_gen *g, int64_t n, sr_nexmark_event *ev, char *scratch) {
  int64_t event_id = adjusted_number(g, n);
  int64_t ts = sr_nexmark_gen_time_of(g, event_id);
  rng r = {mix64(g->seed_mix ^ (uint64_t)event_id)};
  cursor c = {scratch};
  ev->event_number = n;
  ev->kind = sr_nexmark_gen_kind(g, n);
  switch (ev->kind) {
    case SR_NEXMARK_PERSON: gen_person(g, &r, event_id, ts, &ev->u.person, &c); break;
    case SR_NEXMARK_AUCTION: gen_auction(g, &r, event_id, ts, &ev->u.auction, &c); break;
    case SR_NEXMARK_BID: gen_bid(g, &r, event_id, ts, &ev->u.bid, &c); break;
  }
  return (size_t)(c.p - scratch);
}

/* ---- setup ---- */

void sr_nexmark_config_default(sr_nexmark_config *c) {
  *c = (sr_nexmark_config){
    .seed = 0,
    .first_event_time_ms = 1795428000000LL, /* 2026-11-23T10:00:00Z */
    .event_rate = 10000,
    .hot_auction_ratio = 2,
    .hot_sellers_ratio = 4,
    .hot_bidders_ratio = 4,
    .num_in_flight_auctions = 100,
    .num_active_people = 1000,
    .avg_person_byte_size = 200,
    .avg_auction_byte_size = 500,
    .avg_bid_byte_size = 100,
    .out_of_order_group_size = 1,
  };
}

static sr_status check_range(const char *name, int64_t v, int64_t lo, int64_t hi, sr_error **err) {
  if (v < lo)
    return sr_error_set(err, SR_ERROR, "%s must be at least %lld, not %lld", name, (long long)lo, (long long)v);
  if (v > hi)
    return sr_error_set(err, SR_ERROR, "%s must be at most %lld, not %lld", name, (long long)hi, (long long)v);
  return SR_OK;
}

sr_status sr_nexmark_gen_new(const sr_nexmark_config *c, sr_nexmark_gen **out, sr_error **err) {
  *out = NULL;
  /* Bounds keep every product below (ids, n * 1000, horizons) inside an int64. */
  const struct { const char *name; int64_t v, lo, hi; } checks[] = {
    {"firstEventRate", c->event_rate, 1, 1000000000000LL},
    {"hotAuctionRatio", c->hot_auction_ratio, 1, 1 << 30},
    {"hotSellersRatio", c->hot_sellers_ratio, 1, 1 << 30},
    {"hotBiddersRatio", c->hot_bidders_ratio, 1, 1 << 30},
    {"numInFlightAuctions", c->num_in_flight_auctions, 1, 1 << 30},
    {"numActivePeople", c->num_active_people, 1, 1 << 30},
    {"avgPersonByteSize", c->avg_person_byte_size, 0, SR_NEXMARK_MAX_AVG_BYTES},
    {"avgAuctionByteSize", c->avg_auction_byte_size, 0, SR_NEXMARK_MAX_AVG_BYTES},
    {"avgBidByteSize", c->avg_bid_byte_size, 0, SR_NEXMARK_MAX_AVG_BYTES},
    {"outOfOrderGroupSize", c->out_of_order_group_size, 1, MAX_GROUP_SIZE},
  };
  for (size_t i = 0; i < sizeof checks / sizeof *checks; i++)
    if (check_range(checks[i].name, checks[i].v, checks[i].lo, checks[i].hi, err) != SR_OK)
      return SR_ERROR;
  sr_nexmark_gen *g = calloc(1, sizeof *g);
  if (!g) return sr_error_set(err, SR_ERROR, "out of memory creating the nexmark generator");
  g->cfg = *c;
  g->seed_mix = mix64(c->seed);
  g->num_events_for_auctions = c->num_in_flight_auctions * SR_NEXMARK_PROPORTION_DENOMINATOR /
                               SR_NEXMARK_AUCTION_PROPORTION;
  int64_t max_avg = c->avg_person_byte_size;
  if (c->avg_auction_byte_size > max_avg) max_avg = c->avg_auction_byte_size;
  if (c->avg_bid_byte_size > max_avg) max_avg = c->avg_bid_byte_size;
  /* Fixed fields take < 200 bytes (an auction: 19 + 99); extra < 1.2 * its average + 1,
  ** plus the 7 bytes next_exact_string may write past it. */
  g->scratch_size = 256 + (size_t)(max_avg + max_avg / 5 + 16);
  for (int64_t i = 0; i < CHANNELS_NUMBER + NUM_HOT_CHANNELS; i++) make_channel(g, i, &g->channels[i]);
  *out = g;
  return SR_OK;
}

void sr_nexmark_gen_free(sr_nexmark_gen *g) { free(g); }

const sr_nexmark_config *sr_nexmark_gen_config(const sr_nexmark_gen *g) { return &g->cfg; }

size_t sr_nexmark_gen_scratch_size(const sr_nexmark_gen *g) { return g->scratch_size; }
