/*
** The "nexmark" source: Nexmark's people, auctions and bids from nexmark_gen, as C records
** (sr_row_view) that lua/streamrun/sources/nexmark.lua reads into rows
**   {event_type = "person"|"auction"|"bid", person = {...}, auction = {...}, bid = {...}}
** with the one record of the row's kind set (the other two nil), its fields named as in
** Beam/Flink's model (person: id, name, emailAddress, creditCard, city, state, dateTime, extra;
** auction: id, itemName, description, initialBid, reserve, dateTime, expires, seller, category,
** extra; bid: auction, bidder, price, channel, url, dateTime, extra), times as ms numbers.
** With table = "bid" ("auction", "person") a batch holds only the events of that kind, each
** row the flat record (Flink's Nexmark views `bid`, `auction`, `person`).
**
** Offsets: {"events": N}, the number of events generated so far; a batch (a, b] holds events
** a..b-1. Events are a pure function of the options and the event number, so a replay of a
** logged range produces the same rows, whatever happened in between.
**
** Planning: with eventsPerSecond = 0 each batch takes up to maxEventsPerTrigger (default
** 100000) more events. With eventsPerSecond > 0 events are let out at that rate in processing
** time, counted from open() and from the offset the first plan after open() starts at (so a
** restarted query does not burst to catch up with the time it was down); maxEventsPerTrigger
** then caps a batch only when the job sets it. Never beyond maxEvents. Event time (dateTime)
** is generated, not read from the clock: firstEventTime + n / firstEventRate seconds.
**
** availableNow: everything up to maxEvents is "available" (the events are synthetic, nothing
** to wait for), so pacing is ignored; with maxEvents = 0 the bound is one batch of
** maxEventsPerTrigger events. drained() is 1 once the bound is planned.
*/
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "connector.h"
#include "nexmark_gen.h"
#include "timeutil.h"

extern const sr_source_ops sr_source_nexmark;

#define DEFAULT_MAX_PER_TRIGGER 100000
#define DEFAULT_UNPACED_RATE 10000 /* Beam's firstEventRate */

static int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t (*sr_source_nexmark_clock_ms)(void) = monotonic_ms;

static const sr_option_spec nexmark_options[] = {
  {"eventsPerSecond", SR_OPT_INT, "0",
   "events let out per second of processing time; 0: as many as a batch takes (benchmarks)"},
  {"maxEvents", SR_OPT_INT, "0", "total events to generate; 0: unbounded"},
  {"seed", SR_OPT_INT, "0", "the same seed and options give the same events"},
  {"firstEventTime", SR_OPT_STRING, "2026-11-23T10:00:00Z",
   "dateTime of the first event: ISO-8601 text or ms since the epoch"},
  {"firstEventRate", SR_OPT_INT, NULL,
   "events per second of event time (spacing of dateTime); default eventsPerSecond, or 10000 "
   "when that is 0"},
  {"maxEventsPerTrigger", SR_OPT_INT, NULL,
   "most events in one batch; default 100000 when eventsPerSecond is 0, no cap when paced"},
  {"hotAuctionRatio", SR_OPT_INT, "2", "1 - 1/ratio of bids go to the hot auction"},
  {"hotSellersRatio", SR_OPT_INT, "4", "1 - 1/ratio of auctions are by the hot seller"},
  {"hotBiddersRatio", SR_OPT_INT, "4", "1 - 1/ratio of bids are by the hot bidder"},
  {"numInFlightAuctions", SR_OPT_INT, "100", "auctions open at any time (bids pick among them)"},
  {"numActivePeople", SR_OPT_INT, "1000", "people who bid and sell (the most recent ones)"},
  {"avgPersonByteSize", SR_OPT_INT, "200", "average person size, reached with `extra`; 0: no padding"},
  {"avgAuctionByteSize", SR_OPT_INT, "500", "average auction size, reached with `extra`; 0: no padding"},
  {"avgBidByteSize", SR_OPT_INT, "100", "average bid size, reached with `extra`; 0: no padding"},
  {"table", SR_OPT_STRING, "events",
   "events: every event as {event_type, person, auction, bid}; bid, auction or person: only "
   "that kind, as flat rows (Flink's Nexmark views); every event is still generated"},
  {"outOfOrderGroupSize", SR_OPT_INT, "1",
   "events are shuffled in groups of this size, so dateTime goes back a little; 1: in order"},
  {NULL, 0, NULL, NULL},
};

typedef struct nexmark_source {
  sr_nexmark_gen *gen;
  sr_nexmark_event *records;  /* the last read's events */
  size_t records_cap;
  sr_arena strings;           /* their strings */
  int64_t events_per_second;  /* 0: unpaced */
  int64_t max_events;         /* 0: unbounded */
  int64_t max_per_trigger;    /* 0: no cap */
  int only;                   /* table: -1 every event, or the sr_nexmark_kind read */
  int64_t bound;              /* planning never passes it; 0: none */
  int64_t open_ms;            /* clock at open */
  int64_t base_events;        /* start of the first plan after open; -1 before it */
  int64_t planned;            /* events up to the end of the last plan */
} nexmark_source;

/* ---- options ---- */

/* ms since the epoch, or a timestamp text as the JSON/CSV sources take it. Returns 0 or -1. */
static int parse_time_ms(const char *s, int64_t *ms) {
  char *end;
  long long whole = strtoll(s, &end, 10);
  if (end != s) {  /* a number of ms, unless it is the year of a date */
    while (isspace((unsigned char)*end)) end++;
    if (!*end) {
      *ms = whole;
      return 0;
    }
  }
  return sr_time_parse(s, strlen(s), ms);
}

static sr_status check_nonneg(const char *name, int64_t v, sr_error **err) {
  if (v < 0)
    return sr_error_set(err, SR_ERROR, "%s must not be negative, not %" PRId64, name, v);
  return SR_OK;
}

static sr_status nexmark_open(sr_source *src, const sr_connector_config *cfg, sr_error **err) {
  const sr_options *o = cfg->options;
  const sr_option_spec *sp = nexmark_options;
  nexmark_source *s = calloc(1, sizeof *s);
  if (!s) return sr_error_set(err, SR_ERROR, "out of memory opening the nexmark source");
  src->impl = s;
  s->events_per_second = sr_opt_int(o, sp, "eventsPerSecond", 0);
  s->max_events = sr_opt_int(o, sp, "maxEvents", 0);
  s->base_events = -1;
  if (check_nonneg("eventsPerSecond", s->events_per_second, err) != SR_OK ||
      check_nonneg("maxEvents", s->max_events, err) != SR_OK)
    return SR_ERROR;
  s->max_per_trigger = sr_opt_int(o, sp, "maxEventsPerTrigger",
                                  s->events_per_second > 0 ? 0 : DEFAULT_MAX_PER_TRIGGER);
  if (sr_opt_str(o, sp, "maxEventsPerTrigger", NULL) && s->max_per_trigger < 1)
    return sr_error_set(err, SR_ERROR,
                        "maxEventsPerTrigger must be at least 1, not %" PRId64,
                        s->max_per_trigger);

  static const char *const tables[] = {"person", "auction", "bid"}; /* by sr_nexmark_kind */
  const char *table = sr_opt_str(o, sp, "table", "events");
  s->only = -1;
  for (int k = 0; k < 3; k++)
    if (strcmp(table, tables[k]) == 0) s->only = k;
  if (s->only < 0 && strcmp(table, "events") != 0)
    return sr_error_set(err, SR_ERROR,
                        "table must be events, bid, auction or person, not \"%s\"", table);

  sr_nexmark_config c;
  sr_nexmark_config_default(&c);
  c.seed = (uint64_t)sr_opt_int(o, sp, "seed", 0);
  const char *first = sr_opt_str(o, sp, "firstEventTime", "");
  if (parse_time_ms(first, &c.first_event_time_ms) != 0)
    return sr_error_set(err, SR_ERROR,
                        "firstEventTime must be ISO-8601 text such as "
                        "2026-11-23T10:00:00Z or ms since the epoch, not \"%s\"", first);
  c.event_rate = sr_opt_int(o, sp, "firstEventRate",
                            s->events_per_second > 0 ? s->events_per_second : DEFAULT_UNPACED_RATE);
  c.hot_auction_ratio = sr_opt_int(o, sp, "hotAuctionRatio", 2);
  c.hot_sellers_ratio = sr_opt_int(o, sp, "hotSellersRatio", 4);
  c.hot_bidders_ratio = sr_opt_int(o, sp, "hotBiddersRatio", 4);
  c.num_in_flight_auctions = sr_opt_int(o, sp, "numInFlightAuctions", 100);
  c.num_active_people = sr_opt_int(o, sp, "numActivePeople", 1000);
  c.avg_person_byte_size = sr_opt_int(o, sp, "avgPersonByteSize", 200);
  c.avg_auction_byte_size = sr_opt_int(o, sp, "avgAuctionByteSize", 500);
  c.avg_bid_byte_size = sr_opt_int(o, sp, "avgBidByteSize", 100);
  c.out_of_order_group_size = sr_opt_int(o, sp, "outOfOrderGroupSize", 1);
  /* messages name no source: the engine prefixes "<job:line>: nexmark source" */
  if (sr_nexmark_gen_new(&c, &s->gen, err) != SR_OK) return SR_ERROR;
  sr_arena_init(&s->strings);

  s->bound = s->max_events;
  if (src->available_now && s->bound == 0)
    s->bound = s->max_per_trigger > 0 ? s->max_per_trigger : DEFAULT_MAX_PER_TRIGGER;
  s->open_ms = sr_source_nexmark_clock_ms();
  return SR_OK;
}

/* ---- offsets ---- */

static sr_status offset_events(const json_t *off, int64_t *n, sr_error **err) {
  json_t *v = json_is_object(off) ? json_object_get(off, "events") : NULL;
  if (!json_is_integer(v) || json_integer_value(v) < 0) {
    char *text = off ? json_dumps(off, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    sr_error_set(err, SR_ERROR, "offset %s is not {\"events\": N}", text ? text : "null");
    free(text);
    return SR_ERROR;
  }
  *n = json_integer_value(v);
  return SR_OK;
}

static sr_status nexmark_plan(sr_source *src, const json_t *start, json_t **end, sr_error **err) {
  nexmark_source *s = src->impl;
  int64_t from = 0;
  *end = NULL;
  if (start && offset_events(start, &from, err) != SR_OK) return SR_ERROR;
  if (s->base_events < 0) s->base_events = from;
  int64_t to = s->bound > 0 ? s->bound : INT64_MAX;
  if (s->events_per_second > 0 && !src->available_now) {
    int64_t elapsed = sr_source_nexmark_clock_ms() - s->open_ms;
    __int128 released = (__int128)s->base_events +
                        (__int128)(elapsed > 0 ? elapsed : 0) * s->events_per_second / 1000;
    if (released < to) to = (int64_t)released;
  }
  if (s->max_per_trigger > 0 && to - from > s->max_per_trigger) to = from + s->max_per_trigger;
  if (to <= from) {
    s->planned = from;
    return SR_OK;
  }
  *end = json_pack("{sI}", "events", (json_int_t)to);
  if (!*end) return sr_error_set(err, SR_ERROR, "out of memory planning a nexmark batch");
  s->planned = to;
  return SR_OK;
}

/* ---- rows ---- */

/* The batch's events (or those of the table read) as C records (sr_nexmark_event), read into
** rows by the Lua module streamrun.sources.nexmark inside the query's loop. Their strings are packed into one arena:
** each event gets the scratch it may need and gives back what it did not use. Records and
** arena keep their memory from batch to batch, so a steady query touches no fresh pages. */
static sr_status nexmark_read_view(sr_source *src, const json_t *start, const json_t *end,
                                   sr_row_view *view, sr_error **err) {
  nexmark_source *s = src->impl;
  int64_t from = 0, to;
  if (start && offset_events(start, &from, err) != SR_OK) return SR_ERROR;
  if (offset_events(end, &to, err) != SR_OK) return SR_ERROR;
  if (to < from)
    return sr_error_set(err, SR_ERROR, "batch ends (%" PRId64 ") before it starts (%" PRId64 ")",
                        to, from);
  if (to - from > INT_MAX)
    return sr_error_set(err, SR_ERROR, "batch of %" PRId64 " events is too large", to - from);
  size_t count = (size_t)(to - from);
  if (count > s->records_cap) {
    sr_nexmark_event *grown = realloc(s->records, count * sizeof *grown);
    if (!grown) return sr_error_set(err, SR_ERROR, "out of memory for %zu events", count);
    s->records = grown;
    s->records_cap = count;
  }
  sr_arena_reset(&s->strings);
  size_t most = sr_nexmark_gen_scratch_size(s->gen), kept = 0;
  for (size_t i = 0; i < count; i++) {
    char *scratch = sr_arena_alloc(&s->strings, most);
    if (!scratch) return sr_error_set(err, SR_ERROR, "out of memory for event strings");
    sr_nexmark_event *ev = &s->records[kept];
    size_t used = sr_nexmark_gen_event(s->gen, from + (int64_t)i, ev, scratch);
    /* another table's event is generated all the same (the work of a source that filters) */
    if (s->only >= 0 && (int)ev->kind != s->only) used = 0;
    else kept++;
    sr_arena_shrink(&s->strings, scratch, used);
  }
  view->records = s->records;
  view->count = (int)kept;
  return SR_OK;
}

/* ---- the rest ---- */

static sr_status nexmark_commit(sr_source *src, const json_t *end, sr_error **err) {
  return SR_OK;  /* nothing is held for a batch */
}

static void nexmark_describe(sr_source *src, json_t *progress_source) {
  nexmark_source *s = src->impl;
  const sr_nexmark_config *c = sr_nexmark_gen_config(s->gen);
  char text[256];
  snprintf(text, sizeof text,
           "Nexmark[eventsPerSecond=%" PRId64 ", maxEvents=%" PRId64 ", seed=%" PRIu64
           ", firstEventRate=%" PRId64 "]",
           s->events_per_second, s->max_events, c->seed, c->event_rate);
  json_object_set_new(progress_source, "description", json_string(text));
}

static int nexmark_drained(sr_source *src, const json_t *end) {
  nexmark_source *s = src->impl;
  int64_t n = s->planned;
  if (end && offset_events(end, &n, NULL) != SR_OK) return 0;
  return s->bound > 0 && n >= s->bound;
}

static void nexmark_close(sr_source *src) {
  nexmark_source *s = src->impl;
  if (!s) return;
  sr_nexmark_gen_free(s->gen);
  free(s->records);
  sr_arena_free(&s->strings);
  free(s);
  src->impl = NULL;
}

const sr_nexmark_gen *sr_source_nexmark_generator(const sr_source *src) {
  if (!src || src->ops != &sr_source_nexmark || !src->impl) return NULL;
  return ((const nexmark_source *)src->impl)->gen;
}

/* open only reads options and allocates the generator: --check opens and closes it. */
static sr_status nexmark_check(const sr_connector_config *cfg, sr_error **err) {
  sr_source tmp = {0};
  sr_status st = nexmark_open(&tmp, cfg, err);
  nexmark_close(&tmp);
  return st;
}

const sr_source_ops sr_source_nexmark = {
  .name = "nexmark",
  .columns = "event_type string, "
             "person struct<id: long, name: string, emailAddress: string, creditCard: string, "
             "city: string, state: string, dateTime: timestamp, extra: string>, "
             "auction struct<id: long, itemName: string, description: string, initialBid: long, "
             "reserve: long, dateTime: timestamp, expires: timestamp, seller: long, category: long, "
             "extra: string>, "
             "bid struct<auction: long, bidder: long, price: long, channel: string, url: string, "
             "dateTime: timestamp, extra: string>",
  .options = nexmark_options,
  .needs_schema = 0,
  .check = nexmark_check,
  .open = nexmark_open,
  .plan = nexmark_plan,
  .read_view = nexmark_read_view,
  .view_module = "streamrun.sources.nexmark",
  .commit = nexmark_commit,
  .describe = nexmark_describe,
  .drained = nexmark_drained,
  .close = nexmark_close,
};
