# Sinks and sources keep their contracts: the CSV sink writes the output rows' columns, the
# Kafka sink needs a `value`, a file source's path must exist, --check refuses what start would,
# and a job whose queries cannot all start starts none. kcat reads Kafka independently.
source "$(dirname "$0")/lib.sh"
command -v kcat >/dev/null || fail "kcat is needed (apt-get install kcat)"

# --- the CSV sink writes the plan's output columns ---------------------------------------
drop_file in a.json '{"id":1,"price":2.5,"note":"x"}
{"id":2,"price":4,"note":"y"}
'
cat >sel.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "id long, price double, note string" }
  :select{ "id", cost = "price", twice = function(r) return r.price * 2 end }
  :write_stream{ format = "csv", path = "out_sel", header = true, checkpointLocation = "chk_sel",
                 trigger = { availableNow = true } }
LUA
run_sr sel.lua
assert_eq "select to csv exit" 0 "$code"
assert_eq "renamed and computed columns are written" "id,cost,twice
1,2.5,5
2,4,8" "$(cat out_sel/part-*)"
pass "csv: the select's columns, renamed and computed ones included, in the select's order"

# without a schema: every row's columns, in first-seen order, fixed by the first batch
drop_file in_free a.json '{"a":1}
{"a":2,"b":"late"}
{"c":true,"a":3}
'
cat >free.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in_free" }
  :map(function(r) r.n = (r.a or 0) * 10; return r end)
  :write_stream{ format = "csv", path = "out_free", header = true, checkpointLocation = "chk_free",
                 trigger = { availableNow = true } }
LUA
run_sr free.lua
assert_eq "schemaless csv exit" 0 "$code"
assert_eq "a column first seen after row 1 is kept" "a,n,b,c
1,10,,
2,20,late,
3,30,,true" "$(cat out_free/part-*)"
drop_file in_free b.json '{"b":"again","a":4}
'
run_sr free.lua
assert_eq "second batch exit" 0 "$code"
assert_eq "a later batch keeps the first batch's columns" "a,n,b,c
4,40,again," "$(cat out_free/part-00001-*)"
drop_file in_free c.json '{"a":5,"surprise":1}
'
run_sr free.lua
assert_eq "a new column later fails the query" 1 "$code"
assert_contains "the new column is named" "$err" "row 1 has a column 'surprise' that the csv sink's files do not have: their columns (a, n, b, c) were fixed by the rows of batch 0"
[[ ! -e out_free/part-00002-* ]] || fail "no file for the refused batch"
pass "csv after a map: columns of the rows in first-seen order, kept by later batches, a new one refused by name"

# the columns are recorded before the batch's file is written: a replay after a crash keeps them
rm -rf out_free chk_free in_free/c.json
crash_at after_sink_write:0 free.lua
[[ -f chk_free/sink/csv-columns.json ]] || fail "the columns are recorded with the sink"
run_sr free.lua
assert_eq "replay exit" 0 "$code"
assert_eq "the replayed batch has the recorded columns, once" "a,n,b,c
1,10,,
2,20,late,
3,30,,true
4,40,again," "$(cat out_free/part-*)"
pass "csv: a batch replayed after a crash writes the recorded columns"

# --- a file source whose path does not exist ---------------------------------------------
cat >nopath.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "no/such/dir" }
  :write_stream{ format = "json", path = "out_np", checkpointLocation = "chk_np",
                 trigger = arg[1] == "live" and "100 milliseconds" or { availableNow = true } }
LUA
for mode in check availableNow live; do
  if [[ $mode == check ]]; then run_sr --check nopath.lua; else run_sr nopath.lua "$mode"; fi
  assert_eq "missing path exit ($mode)" 2 "$code"
  assert_contains "missing path ($mode)" "$err" "nopath.lua:2: json source: Path does not exist: no/such/dir"
done
[[ ! -e chk_np && ! -e out_np ]] || fail "nothing is created for a job that cannot start"
pass "a file source's missing path: exit 2 at --check and start, under availableNow and a live trigger"

# --- --check refuses what start refuses --------------------------------------------------
# refuse NAME WRITE_STREAM_OPTIONS EXPECTED
refuse() {
  cat >"$1.lua" <<LUA
local sr = require "streamrun"
sr.read_stream{ format = "rate", rowsPerSecond = 1 }
  :group_by("value"):count()
  :write_stream$2
LUA
  run_sr --check "$1.lua"
  assert_eq "$1 --check exit" 2 "$code"; assert_contains "$1 --check" "$err" "$3"
  run_sr "$1.lua"
  assert_eq "$1 start exit" 2 "$code"; assert_contains "$1 start" "$err" "$3"
  [[ ! -e "chk_$1" ]] || fail "$1: no checkpoint for a query that cannot start"
}
refuse csvupd '{ format = "csv", path = "o1", outputMode = "update", checkpointLocation = "chk_csvupd" }' \
  'csvupd.lua:4: the csv sink does not support update output mode, only append (Spark refuses it too: "Data source csv does not support Update output mode")'
refuse jsoncomplete '{ format = "json", path = "o2", outputMode = "complete", checkpointLocation = "chk_jsoncomplete" }' \
  'the json sink does not support complete output mode, only append'
refuse deltaupd '{ format = "delta", path = "o3", outputMode = "update", checkpointLocation = "chk_deltaupd" }' \
  'the delta sink does not support update output mode, only append, complete'
pass "output mode vs sink: file sinks append only, delta append/complete, at --check and start"

cat >offsets.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "kafka", ["kafka.bootstrap.servers"] = "127.0.0.1:1", subscribe = "t",
                startingOffsets = arg[1] }
  :write_stream{ format = "noop", checkpointLocation = "chk_off" }
LUA
for bad in earliests '{"t":{"0":-5}}' '{"t":[1]}'; do
  run_sr --check offsets.lua "$bad"
  assert_eq "startingOffsets $bad --check exit" 2 "$code"
  assert_contains "startingOffsets $bad --check" "$err" "offsets.lua:2: kafka source: "
  assert_contains "startingOffsets $bad --check" "$err" "startingOffsets"
  run_sr offsets.lua "$bad"
  assert_eq "startingOffsets $bad start exit" 2 "$code"
done
run_sr --check offsets.lua '{"t":{"0":-2}}'
assert_eq "valid JSON startingOffsets pass --check" 0 "$code"
pass "an invalid startingOffsets: exit 2 at --check and at start, without a broker"

cat >opts.lua <<'LUA'
local sr = require "streamrun"
local o = sr.from_json(arg[1])
sr.read_stream{ format = "json", path = "in", cleanSource = o.clean }
  :write_stream{ format = "json", path = "o4", checkpointLocation = o.chk }
LUA
run_sr --check opts.lua '{"clean":"archive","chk":"chk_o4"}'
assert_eq "cleanSource=archive without a dir --check exit" 2 "$code"
assert_contains "cleanSource=archive without a dir --check" "$err" "opts.lua:3: json source: cleanSource=archive needs sourceArchiveDir"
run_sr --check opts.lua '{}'
assert_eq "no checkpointLocation --check exit" 2 "$code"
assert_contains "no checkpointLocation --check" "$err" "opts.lua:4: checkpointLocation is required for the json sink"
cat >vals.lua <<'LUA'
local sr = require "streamrun"
local o = sr.from_json(arg[1])
sr.read_stream(o.source):write_stream(o.sink)
LUA
checkval() { # OPTIONS-JSON EXPECTED
  run_sr --check vals.lua "$1"
  assert_eq "$2 --check exit" 2 "$code"; assert_contains "$2 --check" "$err" "$2"
}
checkval '{"source":{"format":"nexmark","table":"bids"},"sink":{"format":"noop"}}' 'vals.lua:3: nexmark source: table must be events, bid, auction or person, not "bids"'
checkval '{"source":{"format":"rate","rowsPerSecond":0},"sink":{"format":"noop"}}' 'vals.lua:3: rate source: rowsPerSecond must be positive, not 0'
checkval '{"source":{"format":"rate"},"sink":{"format":"csv","path":"o6","sep":";;","checkpointLocation":"c6"}}' 'vals.lua:3: csv sink: sep must be one character, not ";;"'
checkval '{"source":{"format":"kafka","kafka.bootstrap.servers":"127.0.0.1:1","subscribe":"t","maxOffsetsPerTrigger":-1},"sink":{"format":"noop"}}' "vals.lua:3: kafka source: the kafka source: option 'maxOffsetsPerTrigger' must be positive"
checkval '{"source":{"format":"rate"},"sink":{"format":"delta","path":"o8","partitionBy":"day","checkpointLocation":"c8"}}' 'vals.lua:3: partitionBy: column "day" does not exist (columns: timestamp, value)'
checkval '{"source":{"format":"rate"},"sink":{"format":"delta","path":"o8","compression":"lz5","checkpointLocation":"c8"}}' 'vals.lua:3: delta sink: compression must be snappy, zstd, gzip or none, not "lz5"'
checkval '{"source":{"format":"text","path":"in"},"sink":{"format":"kafka","topic":"t","kafka.bootstrap.servers":"x","kafka.partitioner":"fast","checkpointLocation":"c7"}}' "option 'kafka.partitioner' must be one of murmur2_random"
pass "--check refuses a source's bad option values and a durable sink without checkpointLocation"

printf 'local sr = require "streamrun"\nlocal s = sr.read_stream{ format = "rate" }\n' >noquery.lua
run_sr --check noquery.lua
assert_eq "no query --check exit" 2 "$code"
assert_contains "no query --check" "$err" "noquery.lua defines no query: nothing to run"
run_sr noquery.lua
assert_eq "no query start exit" 2 "$code"
assert_contains "no query start" "$err" "noquery.lua defines no query"
pass "a job with no query exits 2 at --check and at start"

# --- progress counts every source's rows, however many ------------------------------------
# a union of 20 inputs, input i holding i rows (in the order the plan lists its sources)
for i in $(seq 1 20); do
  drop_file "many/in$i" a.json "$(for r in $(seq 1 "$i"); do printf '{"id":%d}\n' "$r"; done)"
done
cat >many.lua <<'LUA'
local sr = require "streamrun"
local function input(i) return sr.read_stream{ format = "json", path = "many/in" .. i, schema = "id long" } end
local all = input(1)
for i = 2, 20 do all = all:union(input(i)) end
all:write_stream{ format = "noop", checkpointLocation = "chk_many", trigger = { availableNow = true } }
LUA
run_sr many.lua
assert_eq "20 sources exit ($err)" 0 "$code"
assert_eq "numInputRows per source" "$(seq 1 20 | paste -sd,)" \
  "$(jq -sr '[.[0].sources[].numInputRows] | sort | map(tostring) | join(",")' chk_many/progress/progress.jsonl)"
assert_eq "numInputRows" 210 "$(jq -s '.[0].numInputRows' chk_many/progress/progress.jsonl)"
pass "progress: numInputRows of each of 20 sources, the 17th to 20th too"

# --- misspelled sink and trigger options ------------------------------------------------
cat >typos.lua <<'LUA'
local sr = require "streamrun"
local w = { format = "json", path = "o5" }
for k, v in pairs(sr.from_json(arg[1])) do w[k] = v end
sr.read_stream{ format = "json", path = "in" }:write_stream(w)
LUA
typo() { # OPTIONS-JSON EXPECTED
  run_sr --check typos.lua "$1"
  assert_eq "$1 exit" 2 "$code"; assert_contains "$1" "$err" "$2"
}
typo '{"checkpointLocaton":"c"}' "typos.lua:4: unknown option 'checkpointLocaton' for the json sink; did you mean 'checkpointLocation'?"
typo '{"checkpointLocation":"c","outputmode":"append"}' "did you mean 'outputMode'?"
typo '{"checkpointLocation":"c","trigger":{"processingTme":"1 second"}}' "typos.lua:4: unknown trigger key 'processingTme'; did you mean 'processingTime'?"
typo '{"checkpointLocation":"c","trigger":{"availableNw":true}}' "did you mean 'availableNow'?"
typo '{"checkpointLocation":"c","trigger":{"processingTime":"soon"}}' 'typos.lua:4: trigger.processingTime: not a duration: "soon"'
typo '{"checkpointLocation":"c","trigger":{"once":true,"availableNow":true}}' "trigger gives availableNow and once: give one of them"
pass "misspelled sink options and trigger keys get the nearest valid name; a bad trigger names its key"

# --- a restart with a plan the checkpoint cannot carry: said in words -------------------
mkdir -p in_b
cat >carry.lua <<'LUA'
local sr = require "streamrun"
local s = sr.read_stream{ format = "json", path = arg[1], schema = "id long" }
if arg[2] then s = s:group_by("id"):count() end
s:write_stream{ format = "console", outputMode = arg[2] and "update" or "append",
                checkpointLocation = "chk_carry", trigger = { availableNow = true } }
LUA
run_sr carry.lua in
assert_eq "first run" 0 "$code"
run_sr carry.lua in_b update
assert_eq "another source and a new aggregation: exit" 2 "$code"
assert_contains "said in words" "$err" "carry.lua:4: the checkpoint chk_carry was written by another version of this query: its source 1 changed from json path in to json path in_b; a stateful operator aggregate[id]count:count was added. The checkpoint cannot carry that change"
[[ $err != *'{"'* ]] || fail "no plan JSON in the message: $err"
pass "a restart whose plan the checkpoint cannot carry says what changed in words"

# --- all queries start, or none ----------------------------------------------------------
drop_file in_two a.json '{"id":1}
'
# the second query's checkpoint was written by another plan: only opening it finds that out
printf 'local sr = require "streamrun"\nsr.read_stream{ format = "rate" }:write_stream{ format = "noop", checkpointLocation = "chk_bad", trigger = { once = true } }\n' >other.lua
run_sr other.lua
assert_eq "another plan's checkpoint" 0 "$code"
cat >two.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in_two" }
  :write_stream{ format = "json", path = "out_two", checkpointLocation = "chk_two", queryName = "good",
                 trigger = { availableNow = true } }
sr.read_stream{ format = "nexmark" }
  :write_stream{ format = "noop", checkpointLocation = "chk_bad", queryName = "bad" }
LUA
run_sr two.lua
assert_eq "a query that cannot open: exit" 2 "$code"
assert_contains "the failing query is named" "$err" 'two.lua:6: the checkpoint chk_bad was written by another version of this query: its source 1 changed from rate to nexmark'
assert_contains "none started" "$err" "no query of two.lua started"
[[ ! -e out_two/part-00000-* && ! -e chk_two/offsets/0 ]] || fail "the good query ran a batch"
pass "a job whose queries cannot all start starts none, exit 2"

# --- a Kafka source without brokers under availableNow ----------------------------------
cat >nobroker.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "kafka", ["kafka.bootstrap.servers"] = "127.0.0.1:1", subscribe = "t",
                startingOffsets = "earliest", ["kafkaConsumer.pollTimeoutMs"] = 300 }
  :write_stream{ format = "noop", checkpointLocation = "chk_nb", trigger = { availableNow = true } }
LUA
start=$(date +%s)
run_sr nobroker.lua
assert_eq "unreachable brokers under availableNow: exit" 1 "$code"
(( $(date +%s) - start < 20 )) || fail "gave up only after $(( $(date +%s) - start )) s"
assert_contains "unreachable brokers" "$err" "nobroker.lua:2: kafka source: the kafka source cannot reach its brokers 127.0.0.1:1: 3 attempts of 300 ms each failed"
others=$(grep -v '^streamrun: ' <<<"$err" || true)
[[ -z $others ]] || fail "every log line in streamrun's format, not librdkafka's: $others"
assert_contains "librdkafka's lines in streamrun's format" "$err" "streamrun: [error] kafka streamrun"
pass "kafka source: brokers unreachable under availableNow fail the query in bounded time; librdkafka logs in streamrun's format"

# --- the Kafka sink needs a `value` ------------------------------------------------------
coproc MOCK { exec "$SR_BIN" --kafka-mock --topic out:1 --topic out2:1 --topic raw:2 2>/dev/null; }
trap 'kill -9 "$MOCK_PID" $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
read -r -t 10 BOOT <&"${MOCK[0]}" || fail "--kafka-mock printed no bootstrap servers"

cat >novalue.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "id long, price double" }
  :select{ "id", key = function(r) return tostring(r.id) end }
  :write_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], topic = "out",
                 checkpointLocation = "chk_nv", trigger = { availableNow = true } }
LUA
for mode in --check start; do
  if [[ $mode == --check ]]; then run_sr --check novalue.lua "$BOOT"; else run_sr novalue.lua "$BOOT"; fi
  assert_eq "no value column ($mode) exit" 2 "$code"
  assert_contains "no value column ($mode)" "$err" "novalue.lua:4: kafka sink: Required attribute 'value' not found: the rows written to Kafka have no column 'value' (they have id, key)"
done
pass "kafka sink: a plan whose rows have no value column is refused at --check and start (Spark's KafkaWriter)"

cat >maponly.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "id long, price double" }
  :map(function(r) return { key = tostring(r.id), v = r.price } end)
  :write_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], topic = "out",
                 checkpointLocation = "chk_mo", trigger = { availableNow = true } }
LUA
run_sr maponly.lua "$BOOT"
assert_eq "rows without value after a map: exit" 1 "$code"
assert_contains "rows without value after a map" "$err" "row 1 has no column 'value'"
assert_eq "nothing written to the topic" 0 "$(kcat -b "$BOOT" -C -t out -e -o beginning -q | wc -l)"
pass "kafka sink: after a map, a row without value fails the batch naming the column; no tombstone written"

cat >tomb.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "id long, price double" }
  :select{ key = function(r) return tostring(r.id) end,
           value = function(r) if r.id ~= 1 then return "v" .. r.id end end }
  :write_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], topic = "out2",
                 checkpointLocation = "chk_tomb", trigger = { availableNow = true } }
LUA
run_sr tomb.lua "$BOOT"
assert_eq "declared value exit" 0 "$code"
got=$(kcat -b "$BOOT" -C -t out2 -e -o beginning -q -Z -f '%k=%s|' | tr '|' '\n' | sort | tr '\n' ' ')
assert_eq "a nil value of a declared column is a tombstone" "1=NULL 2=v2 " "$got"
pass "kafka sink: a value column the plan declares may be nil (a tombstone), read back by kcat"

# --- a Kafka record that parse_json refuses is dead-lettered with topic, partition, offset
printf '%s\n' '{"id":1}' '{"id":"one"}' 'not json' | kcat -b "$BOOT" -P -t raw -p 1
cat >badkafka.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], subscribe = "raw",
                startingOffsets = "earliest" }
  :parse_json("value", "id long")
  :write_stream{ format = "json", path = "out_bk", checkpointLocation = "chk_bk",
                 trigger = { availableNow = true } }
LUA
run_sr badkafka.lua "$BOOT"
assert_eq "kafka with bad records exit" 0 "$code"
assert_eq "the good record" '{"id":1}' "$(cat out_bk/part-* | jq -c '{id}')"
bad=$(jq -c '{topic, partition, offset, origin, record}' chk_bk/bad_records/*.jsonl | sort)
assert_eq "bad records by their place in Kafka" '{"topic":"raw","partition":1,"offset":1,"origin":"badkafka.lua:4","record":"{\"id\":\"one\"}"}
{"topic":"raw","partition":1,"offset":2,"origin":"badkafka.lua:4","record":"not json"}' "$bad"
pass "kafka: a record parse_json refuses is dead-lettered with its topic, partition and offset"
finish
