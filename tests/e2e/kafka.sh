# Kafka end to end through the binary, on `streamrun --kafka-mock`, with kcat as the independent
# client: kill -9 loops on kafka -> files and on files -> kafka, every row exactly once.
source "$(dirname "$0")/lib.sh"
command -v kcat >/dev/null || fail "kcat is needed (apt-get install kcat)"

# exec: MOCK_PID is then the mock itself, and killing it closes the pipes ctest waits on
coproc MOCK { exec "$SR_BIN" --kafka-mock --topic bids:4 --topic hot:2 --topic lines:3 --topic relines:1 --topic k2k_in:4 --topic k2k_out:3 --topic k2k_mirror:4 2>/dev/null; }
trap 'kill -9 "$MOCK_PID" $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
read -r -t 10 BOOT <&"${MOCK[0]}" || fail "--kafka-mock printed no bootstrap servers"
[[ $BOOT == 127.0.0.1:* ]] || fail "bootstrap servers on loopback, got $BOOT"
pass "--kafka-mock prints its bootstrap servers first ($BOOT)"

# kill_rounds N JOB: runs JOB N times, each killed with -9 after 0.2-0.6 s
kill_rounds() {
  for _ in $(seq 1 "$1"); do
    kill_after "0.$((RANDOM % 5 + 2))" "$2" "$BOOT"
  done
}
# kill_then_drain JOB ROUNDS: ROUNDS kill -9 at random, then a run to the end
kill_then_drain() {
  kill_rounds "$2" "$1"
  run_sr "$1" "$BOOT" drain; [[ $code == 0 ]] || echo "$err" >&2
  assert_eq "$1 drains" 0 "$code"
}

total=3000
for i in $(seq 1 $total); do
  echo "{\"id\":$i,\"price\":$((i % 100)),\"dateTime\":\"2026-11-23 10:00:00\"}"
done | kcat -b "$BOOT" -P -t bids
[[ $(kcat -b "$BOOT" -C -t bids -e -o beginning -q | wc -l) == "$total" ]] || fail "kcat produced $total"

# 1. kafka -> json files, killed at random
cat >k2f.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], subscribe = "bids",
                startingOffsets = "earliest", maxOffsetsPerTrigger = 250 }
  :parse_json("value", "id long, price long, dateTime timestamp")
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", queryName = "k2f",
                 trigger = arg[2] == "drain" and { availableNow = true } or "20 milliseconds" }
LUA
RANDOM=11
kill_then_drain k2f.lua 8
dups=$(cat out/part-* | jq -r .id | sort | uniq -d | head -3)
[[ -z "$dups" ]] || fail "duplicated ids from kafka: $dups"
assert_eq "every message once" "$total" "$(cat out/part-* | wc -l)"
assert_eq "parsed and typed" '{"id":1,"price":1,"dateTime":"2026-11-23T10:00:00.000Z","topic":"bids"}' \
  "$(cat out/part-* | jq -c 'select(.id == 1) | {id, price, dateTime, topic}')"
pass "kafka -> files under 8 kill -9: $total rows exactly once, offsets from the checkpoint"

# 2. files -> kafka, killed at random, read back with kcat
mkdir -p in
for f in $(seq 1 20); do
  body=""
  for i in $(seq 1 100); do body+="{\"n\":$((f * 1000 + i))}"$'\n'; done
  drop_file in "f$f.json" "$body"
done
cat >f2k.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "n long", maxFilesPerTrigger = 1 }
  :map(function(r) return { key = tostring(r.n % 7), value = sr.to_json(r) } end)
  :write_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], topic = "hot",
                 checkpointLocation = "chk2", queryName = "f2k",
                 trigger = arg[2] == "drain" and { availableNow = true } or "20 milliseconds" }
LUA
kill_then_drain f2k.lua 6
kcat -b "$BOOT" -C -t hot -e -o beginning -q >hot.txt
dups=$(jq -r .n hot.txt | sort | uniq -d | head -3)
[[ -z "$dups" ]] || fail "duplicated rows in the topic: $dups"
assert_eq "every row once in the topic" 2000 "$(wc -l <hot.txt)"
# each message carries one batch marker, streamrun=<query id>:<batch>:<seq>, never twice
qid=$(head -1 chk2/metadata | jq -r .id)
kcat -b "$BOOT" -C -t hot -e -o beginning -q -f '%h\n' >marks.txt
assert_eq "one well-formed marker per message" 2000 "$(grep -cE "^streamrun=$qid:[0-9]+:[0-9]+\$" marks.txt)"
assert_eq "no marker twice" 2000 "$(sort -u marks.txt | wc -l)"
pass "files -> kafka under 6 kill -9: 2000 rows exactly once, read back by kcat"

# 3. text -> kafka with nothing between them: the sink reads the source's records (no Lua row),
# killed at random; every line once, byte for byte: "\r\n" and "\n" ends dropped, a last line
# without an end kept, an empty line kept as an empty value
mkdir -p lines_in
: >want_lines.txt
for f in $(seq 1 12); do
  body=""
  for i in $(seq 1 150); do body+="line $f.$i \"quoted\" ü"$'\r\n'; done
  body+=$'\n'"last $f"
  drop_file lines_in "f$f.txt" "$body"
  printf '%s' "$body" | tr -d '\r' >>want_lines.txt
  echo >>want_lines.txt
done
cat >t2k.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "text", path = "lines_in", maxFilesPerTrigger = 2 }
  :write_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], topic = "lines",
                 checkpointLocation = "chk4", queryName = "t2k",
                 trigger = arg[2] == "drain" and { availableNow = true } or "20 milliseconds" }
LUA
kill_then_drain t2k.lua 6
kcat -b "$BOOT" -C -t lines -e -o beginning -q | sort >got_lines.txt
sort want_lines.txt >want_sorted.txt
cmp -s got_lines.txt want_sorted.txt || fail "the topic's values differ from the lines: $(diff got_lines.txt want_sorted.txt | head -5)"
assert_eq "each batch's rows out are its rows in" "true" \
  "$(cat chk4/progress/* | jq -s 'length > 0 and all(.sink.numOutputRows == .numInputRows)')"
pass "text -> kafka straight from the source's records under 6 kill -9: every line once, byte for byte"

# 4. kafka -> kafka, killed at random: a replayed batch must read its rows in the same order
# (the sink numbers them by position), whatever order the brokers deliver partitions in
for p in 0 1 2 3; do
  for i in $(seq 1 1500); do echo "k-$p-$i:m-$p-$i"; done | kcat -b "$BOOT" -P -t k2k_in -p "$p" -K:
done
# write_k2k_job FILE TOPIC CHECKPOINT [MAP]: k2k_in -> TOPIC, 1,500 offsets a batch; with MAP
# (a Lua expression of r) each row becomes {value = MAP}, without it the records go untouched
write_k2k_job() {
  { echo 'local sr = require "streamrun"'
    echo 'sr.read_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], subscribe = "k2k_in",'
    echo '                startingOffsets = "earliest", maxOffsetsPerTrigger = 1500 }'
    [[ -n ${4:-} ]] && echo "  :map(function(r) return { value = $4 } end)"
    echo "  :write_stream{ format = \"kafka\", [\"kafka.bootstrap.servers\"] = arg[1], topic = \"$2\","
    echo "                 checkpointLocation = \"$3\","
    echo '                 trigger = arg[2] == "drain" and { availableNow = true } or "20 milliseconds" }'
  } >"$1"
}
# same_lines WHAT WANT GOT: the sorted files are equal, or the extra, missing and doubled lines
same_lines() {
  cmp -s "$2" "$3" ||
    fail "$1: $(comm -13 "$2" "$3" | wc -l) extra, $(comm -23 "$2" "$3" | wc -l) missing, $(uniq -d "$3" | wc -l) twice"
}
write_k2k_job k2k.lua k2k_out chk_k2k 'r.value .. "!"'
RANDOM=23
kill_then_drain k2k.lua 8
kcat -b "$BOOT" -C -t k2k_out -e -o beginning -q | sort >k2k_got.txt
for p in 0 1 2 3; do for i in $(seq 1 1500); do echo "m-$p-$i!"; done; done | sort >k2k_want.txt
same_lines "kafka -> kafka" k2k_want.txt k2k_got.txt
pass "kafka -> kafka under 8 kill -9: every message once"

# 4b. the same topic mirrored with nothing between source and sink: the sink reads the
# source's C records (key, value, and partition, which the rows carry as Spark's do)
write_k2k_job mirror.lua k2k_mirror chk_mirror
RANDOM=29
kill_then_drain mirror.lua 6
kcat -b "$BOOT" -C -t k2k_mirror -e -o beginning -q -f '%p %k %s\n' | sort >mirror_got.txt
for p in 0 1 2 3; do for i in $(seq 1 1500); do echo "$p k-$p-$i m-$p-$i"; done; done | sort >mirror_want.txt
same_lines "kafka mirror" mirror_want.txt mirror_got.txt
pass "kafka -> kafka straight from the source's records under 6 kill -9: every message once, key and partition kept"

# 5. a reload that puts an operator between the source and the sink takes effect at the next
# batch: the query was writing records straight through, and must now run the map
write_t2k_job() { # MAP: a Lua expression of r, or empty for none
  { echo 'local sr = require "streamrun"'
    echo 'sr.read_stream{ format = "text", path = "reload_in" }'
    [[ -n $1 ]] && echo "  :map(function(r) return { value = $1 } end)"
    echo '  :write_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], topic = "relines",'
    echo '                 checkpointLocation = "chk5", trigger = "20 milliseconds" }'
  } >.t.tmp
  mv .t.tmp reload_t2k.lua
}
relines() { kcat -b "$BOOT" -C -t relines -e -o beginning -q 2>/dev/null | sort; }
wait_relines() { for _ in $(seq 100); do [[ $(relines | wc -l) -ge $1 ]] && return 0; sleep 0.1; done; fail "waited for $1 messages in relines, have $(relines | wc -l)"; }
write_t2k_job ""
mkdir -p reload_in  # a file source's path must exist when the query starts
"$SR_BIN" reload_t2k.lua "$BOOT" 2>reload_t2k.log &
t2k_pid=$!
drop_file reload_in a.txt $'a1\na2\n'
wait_relines 2
write_t2k_job 'r.value .. "!"'
for _ in $(seq 100); do grep -q "reloaded reload_t2k.lua" reload_t2k.log && break; sleep 0.1; done
drop_file reload_in b.txt $'b1\nb2\n'
wait_relines 4
kill -TERM "$t2k_pid"; wait "$t2k_pid" || fail "the text -> kafka query stopped cleanly"
assert_eq "records straight through, then the map" "a1 a2 b1! b2!" "$(relines | tr '\n' ' ' | sed 's/ $//')"
pass "a reload from source -> sink to source -> map -> sink runs the map from the next batch"

# 6. hot reload under continuous Kafka input: the map changes, offsets carry on, no row lost
write_reload_job() {
  cat >.k.tmp <<LUA
local sr = require "streamrun"
sr.read_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], subscribe = "live",
                startingOffsets = "earliest" }
  :parse_json("value", "n long")
  :map(function(r) r.version = "$1"; return r end)
  :write_stream{ format = "json", path = "live_out", checkpointLocation = "chk3", queryName = "live",
                 trigger = "50 milliseconds" }
LUA
  mv .k.tmp live.lua
}
produce_live() { for i in $(seq "$1" "$2"); do echo "{\"n\":$i}"; done | kcat -b "$BOOT" -P -t live; }
live_rows() { cat live_out/part-* 2>/dev/null | wc -l; }
wait_live() { for _ in $(seq 100); do [[ $(live_rows) -ge $1 ]] && return 0; sleep 0.1; done; fail "waited for $1 live rows, have $(live_rows)"; }
write_reload_job v1
"$SR_BIN" live.lua "$BOOT" 2>live.log &
live_pid=$!
produce_live 1 100; wait_live 100
write_reload_job v2
sleep 0.5
produce_live 101 200; wait_live 200
kill -TERM "$live_pid"; wait "$live_pid" || fail "live query stopped cleanly"
grep -q "reloaded live.lua" live.log || fail "the save reloaded the job: $(cat live.log)"
assert_eq "every message once across the reload" "200 200" "$(cat live_out/part-* | jq -r .n | sort -n | uniq | wc -l) $(live_rows)"
assert_eq "messages after the save run the new map" "v2" "$(cat live_out/part-* | jq -r 'select(.n > 100) | .version' | sort -u)"
pass "hot reload under continuous Kafka input: new map from the next batch, offsets carried on"

# 7. the Kafka benchmark's own checks, untimed and small: every message consumed, with and
# without Lua rows, and each produced topic holding exactly the input's lines
KAFKA_BENCH_MESSAGES=2000 KAFKA_BENCH_ROUNDS=1 "$SR_SOURCE_DIR/scripts/bench_kafka" "$SR_BIN" bench \
  >bench.tsv 2>bench.log || fail "scripts/bench_kafka: $(tail -3 bench.log)"
assert_eq "bench runners" "kcat-consume streamrun-consume streamrun-consume-rows kcat-produce streamrun-produce" \
  "$(cut -f2 bench.tsv | tr '\n' ' ' | sed 's/ $//')"
pass "scripts/bench_kafka's checks hold on 2,000 messages"

# 8. a record's timestamp renamed by a map stays a timestamp (ISO-8601 in the JSON sink)
cat >kts.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], subscribe = "bids",
                startingOffsets = "earliest" }
  :map(function(r) return { at = r.timestamp, kind = sr.typeof(r.timestamp), o = r.offset } end)
  :write_stream{ format = "json", path = "kts_out", checkpointLocation = "kts_chk",
                 trigger = { availableNow = true } }
LUA
run_sr kts.lua "$BOOT"
assert_eq "kafka timestamps job ($err)" 0 "$code"
assert_eq "every message" "$total" "$(cat kts_out/part-* | wc -l)"
assert_eq "each at is a timestamp written as ISO-8601" "0" \
  "$(cat kts_out/part-* | jq -r 'select((.at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$") | not) or .kind != "timestamp")' | wc -l)"
pass "a Kafka record's timestamp reaches a map as a timestamp and keeps its type when renamed"
finish
