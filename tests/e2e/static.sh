# Static tables (sr.read{}) as bounded data: collect() returns their rows after map, filter,
# select, group_by():agg (column, function and window keys), drop_duplicates, sort and limit.
source "$(dirname "$0")/lib.sh"

drop_file bids a.json '{"a":1,"p":10,"t":"2026-11-23 10:00:01"}
{"a":2,"p":5,"t":"2026-11-23 10:00:03"}
{"a":1,"p":7,"t":"2026-11-23 10:00:12"}
{"a":3}
'
cat >job.lua <<'LUA'
local sr = require "streamrun"
local bids = sr.read{ format = "json", path = "bids", schema = "a long, p double, t timestamp" }
local function show(rows) io.stdout:write(sr.to_json(rows), "\n") end
show(bids:collect())
show(bids:filter(function(r) return r.p end):select{ "a", eur = function(r) return r.p * 2 end }:collect())
show(bids:group_by("a"):agg{ n = sr.count(), top = sr.max("p"), ps = sr.collect_list("p") }:sort("a"):collect())
show(bids:group_by(sr.window("t", "10 seconds")):count():collect())
show(bids:group_by(function(r) return r.a % 2 end):agg{ total = sr.sum("p") }:sort("key desc"):collect())
show(bids:sort("p desc"):limit(3):collect())
show(bids:select{ "a" }:drop_duplicates():sort(function(x, y) return x.a > y.a end):collect())
sr.read_stream{ format = "rate" }:write_stream{ format = "noop", trigger = { once = true } }
LUA
run_sr job.lua
assert_eq "collect exit ($err)" 0 "$code"
assert_eq "collect results" '[{"a":1,"p":10,"t":1795428001000},{"a":2,"p":5,"t":1795428003000},{"a":1,"p":7,"t":1795428012000},{"a":3}]
[{"a":1,"eur":20},{"a":2,"eur":10},{"a":1,"eur":14}]
[{"a":1,"n":2,"ps":[10,7],"top":10},{"a":2,"n":1,"ps":[5],"top":5},{"a":3,"n":1,"ps":{}}]
[{"count":2,"window":{"end":1795428010000,"start":1795428000000}},{"count":1,"window":{"end":1795428020000,"start":1795428010000}}]
[{"key":1,"total":17},{"key":0,"total":5}]
[{"a":1,"p":10,"t":1795428001000},{"a":1,"p":7,"t":1795428012000},{"a":2,"p":5,"t":1795428003000}]
[{"a":3},{"a":2},{"a":1}]' "$out"
pass "collect(): rows after map/filter/select, group_by():agg by column, window and function keys, drop_duplicates, sort, limit"

drop_file bids b.json '{"a":4,"p":1}
'
run_sr job.lua
assert_contains "a new file is read by the next collect" "$(head -1 <<<"$out")" '{"a":4,"p":1}'
pass "collect() reads the table as it is when called"

cat >stream.lua <<'LUA'
local sr = require "streamrun"
local rows = sr.read_stream{ format = "rate" }:collect()
LUA
run_sr stream.lua
assert_eq "collect on a stream exit" 2 "$code"
assert_contains "collect on a stream" "$err" "stream.lua:2: collect() is for static tables (sr.read): a stream has no end"

cat >bad.lua <<'LUA'
local sr = require "streamrun"
local rows = sr.read{ format = "json", path = "bids", schema = "a long, p double" }
  :map(function(r) return r.missing.x end)
  :collect()
LUA
run_sr bad.lua
assert_eq "user error in collect exit" 2 "$code"
assert_contains "user error in collect" "$err" "bad.lua:3: attempt to index field 'missing' (a nil value) in map of the static table (defined at bad.lua:3)"

cat >sess.lua <<'LUA'
local sr = require "streamrun"
sr.read{ format = "json", path = "bids", schema = "a long, t timestamp" }
  :group_by("a", sr.session_window("t", "5 seconds")):count():collect()
LUA
run_sr sess.lua
assert_eq "session window in collect exit" 2 "$code"
assert_contains "session window in collect" "$err" "sess.lua:3: session windows are not supported on a static table here"
pass "collect(): refused on a stream; a user error names the operation and line"

# the static side of a stream-static join may be aggregated (a batch aggregation, no state)
rm -f bids/b.json
drop_file in s.json '{"a":1,"q":"x"}
{"a":3,"q":"y"}
{"a":9,"q":"z"}
'
cat >join.lua <<'LUA'
local sr = require "streamrun"
local per_a = sr.read{ format = "json", path = "bids", schema = "a long, p double" }
  :group_by("a"):agg{ n = sr.count(), top = sr.max("p") }
sr.read_stream{ format = "json", path = "in", schema = "a long, q string" }
  :join(per_a, { on = "a" })
  :write_stream{ format = "json", path = "jout", checkpointLocation = "jchk", trigger = { availableNow = true } }
LUA
run_sr --check join.lua
assert_eq "aggregated static side passes --check ($err)" 0 "$code"
run_sr join.lua
assert_eq "aggregated static side exit ($err)" 0 "$code"
assert_eq "joined with the aggregated table" '{"a":1,"q":"x","n":2,"top":10}
{"a":3,"q":"y","n":1}' "$(sink_rows jout)"
assert_eq "one stateful operator, the join: the static aggregation keeps no state" "0" "$(ls jchk/state | tr '\n' ' ' | sed 's/ $//')"
pass "a stream joins a static table aggregated by group_by():agg, with no state and no watermark"
finish
