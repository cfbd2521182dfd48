# File sources and sinks end to end: typing, exact longs, limits, restarts, cleanSource, csv, text.
source "$(dirname "$0")/lib.sh"

cat >job.lua <<'LUA'
local sr = require "streamrun"
local opts = { format = "json", path = "in", schema = "id long, price double, dateTime timestamp, note string" }
for k, v in pairs(sr.from_json(arg[1] or "{}")) do opts[k] = v end
sr.read_stream(opts)
  :filter(function(r) return r.price > 10 end)
  :map(function(r) r.price2 = r.price * 2; return r end)
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", queryName = "files",
                 trigger = { availableNow = true } }
LUA
drop_file in a.json '{"id":9007199254740993,"price":11.5,"dateTime":"2026-11-23 10:00:00.001","note":"x"}
{"id":2,"price":5,"dateTime":"2026-11-23T10:00:01Z"}
{"id":3,"price":20,"dateTime":"2026-11-23T12:00:02+02:00","extra":"dropped by the schema"}
'
run_sr job.lua
assert_eq "first run exit" 0 "$code"
expected='{"id":3,"price":20,"dateTime":"2026-11-23T10:00:02.000Z","price2":40}
{"id":9007199254740993,"price":11.5,"dateTime":"2026-11-23T10:00:00.001Z","note":"x","price2":23}'
assert_eq "typed output" "$expected" "$(sink_rows out)"
pass "json in, typed, filtered, mapped, json out; longs exact beyond 2^53; timestamps ISO UTC"

[[ -f out/_streamrun_metadata/0 ]] || fail "the batch log records batch 0"
[[ -f chk/metadata && -f chk/offsets/0 && -f chk/commits/0 && -f chk/sources/0/0 ]] || fail "checkpoint layout"
head -1 chk/offsets/0 | grep -qx v1 || fail "offsets/0 starts with v1"
pass "checkpoint layout: metadata, offsets/N, commits/N, sources/"

run_sr job.lua
assert_eq "second run exit" 0 "$code"
assert_eq "no new files, no new rows" 2 "$(sink_rows out | wc -l)"
drop_file in b.json '{"id":4,"price":12,"dateTime":"2026-11-23 10:00:05"}
'
run_sr job.lua
assert_eq "third run exit" 0 "$code"
assert_eq "only the new file is read" 3 "$(sink_rows out | wc -l)"
pass "a restart reads only new files"

# bad input is dead-lettered and the query goes on
drop_file in c.json '{"id":5,"price":"cheap","dateTime":"2026-11-23 10:00:06"}
not json at all
{"id":6,"price":99,"dateTime":"2026-11-23 10:00:07"}
'
run_sr job.lua
assert_eq "bad input exit" 0 "$code"
assert_eq "good rows still written" 4 "$(sink_rows out | wc -l)"
bad=$(cat chk/bad_records/*.jsonl)
assert_eq "two bad records" 2 "$(echo "$bad" | wc -l)"
assert_contains "bad record reason" "$bad" 'column price: expected double, got string'
assert_contains "bad record origin" "$bad" '"origin":"in/c.json","line":2'
assert_contains "bad record text" "$bad" '"record":"not json at all"'
grep -q '"numBadRecords":2' chk/progress/progress.jsonl || fail "numBadRecords in progress"
pass "malformed lines are dead-lettered with reason, file and line; numBadRecords counted"

# maxFilesPerTrigger: one file per batch
rm -rf in out chk
for i in 1 2 3; do drop_file in f$i.json "{\"id\":$i,\"price\":50,\"dateTime\":\"2026-11-23 10:00:0$i\"}
"; touch -d "2026-01-01 00:00:0$i" in/f$i.json; done
run_sr job.lua '{"maxFilesPerTrigger":1}'
assert_eq "maxFilesPerTrigger exit" 0 "$code"
assert_eq "three batches" 3 "$(ls out/_streamrun_metadata | wc -l)"
assert_eq "oldest first" '{"id":1,' "$(head -c 8 out/part-00000-*)"
pass "maxFilesPerTrigger: one file per batch, oldest first"

rm -rf out chk
run_sr job.lua '{"maxFilesPerTrigger":1,"latestFirst":true}'
assert_eq "latestFirst first batch" '{"id":3,' "$(head -c 8 out/part-00000-*)"
pass "latestFirst: newest first"

rm -rf out chk
run_sr job.lua '{"maxBytesPerTrigger":110}'
assert_eq "maxBytesPerTrigger batches" 2 "$(ls out/_streamrun_metadata | wc -l)"
pass "maxBytesPerTrigger bounds a batch's bytes"

rm -rf out chk
mv in/f1.json f1.json
run_sr job.lua '{"maxFileAge":"30 days"}'
assert_eq "first batch" 2 "$(sink_rows out | wc -l)"
touch -d "2025-01-01" f1.json && mv f1.json in/f1.json
run_sr job.lua '{"maxFileAge":"30 days"}'
assert_eq "maxFileAge ignores an old file after the first batch" 2 "$(sink_rows out | wc -l)"
rm -rf out chk
run_sr job.lua '{"maxFileAge":"30 days"}'
assert_eq "the first batch of a new query takes every file" 3 "$(sink_rows out | wc -l)"
pass "maxFileAge ignores files older than the newest by more than the age, after the first batch"

rm -rf out chk
run_sr job.lua '{"cleanSource":"archive","sourceArchiveDir":"archive"}'
assert_eq "archive exit" 0 "$code"
[[ -z "$(ls in)" ]] || fail "archived files leave the input directory"
[[ $(find archive -name 'f*.json' | wc -l) == 3 ]] || fail "archived files keep their path under sourceArchiveDir"
pass "cleanSource=archive moves committed files"

drop_file in g.json '{"id":7,"price":50,"dateTime":"2026-11-23 10:00:09"}
'
run_sr job.lua '{"cleanSource":"delete"}'
[[ ! -e in/g.json ]] || fail "cleanSource=delete removes committed files"
pass "cleanSource=delete removes committed files"

run_sr job.lua '{"cleanSource":"archive"}'
assert_eq "archive without dir" 2 "$code"; assert_contains "archive without dir" "$err" "sourceArchiveDir"
pass "cleanSource=archive without sourceArchiveDir is refused"

# csv in, csv out; text in
rm -rf in out chk
cat >csv.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "csv", path = "in", header = true, schema = "name string, qty int, at timestamp" }
  :map(function(r) r.qty = r.qty * 10; return r end)
  :select{ "name", "qty", "at" }
  :write_stream{ format = "csv", path = "out", header = true, checkpointLocation = "chk",
                 trigger = { once = true } }
LUA
drop_file in a.csv 'name,qty,at
"widget, large",2,2026-11-23 10:00:00
plain,3,2026-11-23T10:00:01Z
bad,notanumber,2026-11-23T10:00:01Z
'
run_sr csv.lua
assert_eq "csv exit" 0 "$code"
expected='name,qty,at
"widget, large",20,2026-11-23T10:00:00.000Z
plain,30,2026-11-23T10:00:01.000Z'
assert_eq "csv output" "$expected" "$(cat out/part-*)"
pass "csv with header and quoting in, csv out, bad value dead-lettered"

rm -rf in out chk
cat >text.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "text", path = "in" }
  :flat_map(function(r) local t = {} for w in r.value:gmatch("%S+") do t[#t + 1] = { word = w } end return t end)
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", trigger = { once = true } }
LUA
drop_file in a.txt 'hello streaming
world
'
run_sr text.lua
assert_eq "text exit" 0 "$code"
assert_eq "text words" '{"word":"hello"}
{"word":"streaming"}
{"word":"world"}' "$(cat out/part-*)"
pass "text source: one row per line; flat_map"

# text straight into a sink that reads rows (no write_view): the engine builds them from the
# source's records; line ends "\r\n" and "\n" dropped, an empty line kept, a last line
# without an end kept
rm -rf in out chk
cat >text_plain.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "text", path = "in" }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", trigger = { once = true } }
LUA
drop_file in a.txt $'a\r\nb\n\nc'
run_sr text_plain.lua
assert_eq "text plain exit" 0 "$code"
assert_eq "text plain rows" '{"value":"a"}
{"value":"b"}
{"value":""}
{"value":"c"}' "$(cat out/part-*)"
pass "text source straight to a json sink: a row per line, line ends dropped"
finish
