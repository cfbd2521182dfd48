/*
** nexmark_gen: a deterministic generator of the Nexmark benchmark's events (people, auctions,
** bids), following the generator of Apache Beam's Nexmark suite (sdks/java/testing/nexmark,
** sources/generator) and its Flink port (nexmark/nexmark, nexmark-flink/.../generator).
**
** What is kept from Beam/Flink, exactly:
**   - event kinds by event id: id % 50 < 1 person, < 4 auction, else bid (1:3:46);
**   - ids: person ids from 1000 in creation order, auction ids from 1000, categories 10..14;
**     the "last id" arithmetic, the active-people window (numActivePeople + 10 leads), the
**     in-flight-auction window (numInFlightAuctions + 10 leads);
**   - hot keys: a bid is for the hot auction (first of its block of 100 auctions) with
**     probability 1 - 1/hotAuctionRatio, by the hot bidder (second of its block of 100 people)
**     with 1 - 1/hotBiddersRatio; an auction's seller is hot (first of its block of 100 people)
**     with 1 - 1/hotSellersRatio;
**   - the field formats: names from the same first/last name lists, emails, credit cards,
**     cities and states from the same lists, item names up to 20 and descriptions up to 100
**     characters, prices round(10^(6u) * 100), reserve = initialBid + another price, auction
**     length uniform in [1, 2 * the time until numInFlightAuctions more auctions exist];
**     bid channels as Flink's (half the bids on Google/Facebook/Baidu/Apple, the others on
**     channel-0..9999) with Flink's url shapes; `extra` padding so an event averages
**     avgPersonByteSize/avgAuctionByteSize/avgBidByteSize bytes (0 turns padding off), its
**     length by nextExtra's formula and its characters as nextExactString's ('a' + rnd % 26
**     of a signed int: 'H'..'z', six to a sign);
**   - event time: dateTime(n) = firstEventTime + n * 1000 / eventRate ms (exact integer
**     arithmetic, where Beam rounds the inter-event delay to whole microseconds), with
**     Beam's outOfOrderGroupSize shuffle of event numbers inside groups (1 = in order).
**
** What differs, on purpose: the random numbers. Beam seeds java.util.Random with the event id;
** here every event draws from its own SplitMix64 stream whose state starts at
** mix64(mix64(seed) ^ event_id) (mix64 = SplitMix64's finaliser), and bounded draws use the
** multiply-shift reduction (x * n) >> 64; strings take several characters per draw. So events
** are a pure function of (config, event number): any event can be generated on its own, in
** any order, on any thread, and the same config gives the same events every time -- but not
** Java's values bit for bit. (Prices go through libm's exp(); another libm could round a
** rare price differently, so the guarantee across machines holds for the same platform.)
** Flink's bid urls come from an unseeded Random; here they are derived from (seed, channel number).
** Some versions of Flink's BidGenerator add FIRST_PERSON_ID to the bidder twice; we add it
** once, as Beam does, so bidders are people's ids.
**
** Cost: no allocation per event. Strings are written into a caller's scratch buffer of
** sr_nexmark_gen_scratch_size() bytes; constant strings (cities, states, channels and their urls) point
** at static or generator-owned storage.
*/
#ifndef SR_NEXMARK_GEN_H
#define SR_NEXMARK_GEN_H
#include <stddef.h>
#include <stdint.h>

#include "sr_error.h"

#define SR_NEXMARK_FIRST_PERSON_ID 1000
#define SR_NEXMARK_FIRST_AUCTION_ID 1000
#define SR_NEXMARK_FIRST_CATEGORY_ID 10
#define SR_NEXMARK_PERSON_PROPORTION 1
#define SR_NEXMARK_AUCTION_PROPORTION 3
#define SR_NEXMARK_BID_PROPORTION 46
#define SR_NEXMARK_PROPORTION_DENOMINATOR 50

typedef struct sr_nexmark_config {
  uint64_t seed;
  int64_t first_event_time_ms;    /* dateTime of event 0 */
  int64_t event_rate;             /* events per second of event time (firstEventRate), >= 1 */
  int64_t hot_auction_ratio;      /* >= 1; 1 = no hot auctions */
  int64_t hot_sellers_ratio;      /* >= 1 */
  int64_t hot_bidders_ratio;      /* >= 1 */
  int64_t num_in_flight_auctions; /* >= 1 */
  int64_t num_active_people;      /* >= 1 */
  int64_t avg_person_byte_size;   /* 0..SR_NEXMARK_MAX_AVG_BYTES; 0 = no extra padding */
  int64_t avg_auction_byte_size;
  int64_t avg_bid_byte_size;
  int64_t out_of_order_group_size; /* >= 1 */
} sr_nexmark_config;

#define SR_NEXMARK_MAX_AVG_BYTES (1 << 20)

typedef enum sr_nexmark_kind {
  SR_NEXMARK_PERSON = 0, SR_NEXMARK_AUCTION = 1, SR_NEXMARK_BID = 2
} sr_nexmark_kind;

/* A string inside the scratch buffer, static storage or the generator; not NUL-terminated. */
typedef struct sr_nexmark_str {
  const char *ptr;
  size_t len;
} sr_nexmark_str;

typedef struct sr_nexmark_person {
  int64_t id;
  sr_nexmark_str name, email_address, credit_card, city, state;
  int64_t date_time;  /* ms since the epoch */
  sr_nexmark_str extra;
} sr_nexmark_person;

typedef struct sr_nexmark_auction {
  int64_t id;
  sr_nexmark_str item_name, description;
  int64_t initial_bid, reserve;
  int64_t date_time, expires;  /* ms since the epoch */
  int64_t seller, category;
  sr_nexmark_str extra;
} sr_nexmark_auction;

typedef struct sr_nexmark_bid {
  int64_t auction, bidder, price;
  int32_t channel_id;  /* the same id, the same channel and url (for one generator) */
  sr_nexmark_str channel, url;
  int64_t date_time;  /* ms since the epoch */
  sr_nexmark_str extra;
} sr_nexmark_bid;

typedef struct sr_nexmark_event {
  sr_nexmark_kind kind;
  int64_t event_number;  /* position in the stream, 0-based */
  union {
    sr_nexmark_person person;
    sr_nexmark_auction auction;
    sr_nexmark_bid bid;
  } u;
} sr_nexmark_event;

typedef struct sr_nexmark_gen sr_nexmark_gen;

/* Fills c with Beam's defaults (hot ratios 2/4/4, 100 in-flight auctions, 1000 active people,
** average sizes 200/500/100 bytes, 10000 events per second, in order, seed 0) and event 0 at
** 2026-11-23T10:00:00Z. Does not allocate. */
void sr_nexmark_config_default(sr_nexmark_config *c);

/* Checks c and builds a generator (*out, owned by the caller, freed with sr_nexmark_gen_free).
** Allocates once. Returns SR_OK, or SR_ERROR naming the first bad setting by its option name
** ("hotAuctionRatio must be at least 1, not 0") with *out set to NULL. */
sr_status sr_nexmark_gen_new(const sr_nexmark_config *c, sr_nexmark_gen **out, sr_error **err);
void sr_nexmark_gen_free(sr_nexmark_gen *g); /* accepts NULL */

/* The config the generator was built with. */
const sr_nexmark_config *sr_nexmark_gen_config(const sr_nexmark_gen *g);

/* Bytes of scratch one call of sr_nexmark_gen_event may need (fixed for a generator). */
size_t sr_nexmark_gen_scratch_size(const sr_nexmark_gen *g);

/* Generates event number n (n >= 0) into *ev; its strings point into scratch (at least
** sr_nexmark_gen_scratch_size bytes, reused by the next call with the same scratch) or into
** g. Returns the bytes of scratch it used, so a caller may pack many events' strings into one
** buffer. A pure function of (g's config, n): never fails, never allocates, thread-safe. */
size_t sr_nexmark_gen_event(const sr_nexmark_gen *g, int64_t n, sr_nexmark_event *ev, char *scratch);

/* The kind of event number n, without generating it. */
sr_nexmark_kind sr_nexmark_gen_kind(const sr_nexmark_gen *g, int64_t n);

/* The event time (ms) of event number n before the out-of-order shuffle: the time the
** stream has reached when n events have been generated. Monotone in n. */
int64_t sr_nexmark_gen_time_of(const sr_nexmark_gen *g, int64_t n);

/* ---- the "nexmark" source (source_nexmark.c) ---- */
struct sr_source;

/* The generator of an open nexmark source, for an engine fast path that wants C structs
** instead of Lua rows: the rows of offsets ({"events": a}, {"events": b}] are events a..b-1.
** Owned by the source; NULL when src is not an open nexmark source. Does not allocate. */
const sr_nexmark_gen *sr_source_nexmark_generator(const struct sr_source *src);

/* The processing-time clock that paces eventsPerSecond (ms, CLOCK_MONOTONIC by default).
** Tests replace it; the engine never does. */
extern int64_t (*sr_source_nexmark_clock_ms)(void);

#endif
