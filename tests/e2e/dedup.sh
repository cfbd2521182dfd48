# drop_duplicates and drop_duplicates_within_watermark end to end: duplicates within and across
# batches and runs, late rows, eviction counts in progress, and exactly-once first occurrences
# across kill -9 at every step of a batch and at random instants.
source "$(dirname "$0")/lib.sh"

# Every operator's numbers of one batch in progress: "total updated removed dropped_late dups".
op_progress() { # BATCH_ID
  jq -r "select(.batchId == $1) | .stateOperators[0] | \"\(.numRowsTotal) \(.numRowsUpdated) \
\(.numRowsRemoved) \(.numRowsDroppedByWatermark) \(.numDroppedDuplicateRows)\"" chk/progress/progress.jsonl | tail -1
}

# 1. Duplicates within a batch, across batches and across runs.
cat >job.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "id long, v string", maxFilesPerTrigger = 1 }
  :drop_duplicates{ "id" }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", trigger = { availableNow = true } }
LUA
drop_file in a.json '{"id":1,"v":"a"}
{"id":2,"v":"b"}
{"id":1,"v":"c"}
{"id":9007199254740993,"v":"d"}
'
run_sr job.lua
assert_eq "first run" 0 "$code"
assert_contains "warns that state grows" "$err" "drop_duplicates without a watermark keeps every key forever"
drop_file in b.json '{"id":2,"v":"e"}
{"id":3,"v":"f"}
{"id":9007199254740993,"v":"g"}
{"id":3,"v":"h"}
'
run_sr job.lua
assert_eq "second run" 0 "$code"
expected='{"id":1,"v":"a"}
{"id":2,"v":"b"}
{"id":3,"v":"f"}
{"id":9007199254740993,"v":"d"}'
assert_eq "first occurrences" "$expected" "$(sink_rows out)"
assert_eq "progress of the second run" "4 1 0 0 3" "$(op_progress 1)"
pass "duplicates within a batch, across batches and across runs are dropped; first occurrences kept"

# 2. The event-time column among the keys: late rows dropped, old keys evicted (progress).
rm -rf in out chk
cat >job.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "id long, t timestamp", maxFilesPerTrigger = 1 }
  :with_watermark("t", "10 seconds")
  :drop_duplicates{ "id", "t" }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", trigger = { availableNow = true } }
LUA
drop_file in 1.json '{"id":1,"t":"2026-11-23T10:00:00Z"}
{"id":1,"t":"2026-11-23T10:00:00Z"}
{"id":2,"t":"2026-11-23T10:00:05Z"}
'
drop_file in 2.json '{"id":3,"t":"2026-11-23T10:00:30Z"}
{"id":1,"t":"2026-11-23T10:00:00Z"}
'
drop_file in 3.json '{"id":1,"t":"2026-11-23T10:00:00Z"}
{"id":4,"t":"2026-11-23T10:00:25Z"}
{"id":4,"t":"2026-11-23T10:00:25Z"}
'
touch -d "2026-01-01 00:00:01" in/1.json; touch -d "2026-01-01 00:00:02" in/2.json; touch -d "2026-01-01 00:00:03" in/3.json
run_sr job.lua
assert_eq "watermark run" 0 "$code"
[[ "$err" != *"keeps every key forever"* ]] || fail "no unbounded-state warning with the event time in the keys: $err"
# batch 0: 3 rows, 1 duplicate; batch 1: (1, 10:00:00) still a duplicate (no watermark yet);
# the watermark becomes 10:00:20: batch 2 drops the late (1, 10:00:00) and evicts both keys
# at or before it, keeps (4, 10:00:25) once
assert_eq "batch 0" "2 2 0 0 1" "$(op_progress 0)"
assert_eq "batch 1" "3 1 0 0 1" "$(op_progress 1)"
assert_eq "batch 2" "2 1 2 1 1" "$(op_progress 2)"
assert_eq "rows out" 4 "$(sink_rows out | wc -l)"
assert_eq "(4, 10:00:25) once" 1 "$(sink_rows out | grep -c '"id":4')"
pass "late rows dropped (numRowsDroppedByWatermark), keys at or before the watermark evicted (numRowsRemoved)"

# 3. drop_duplicates_within_watermark: a key is kept until the watermark passes first time + delay.
rm -rf in out chk
sed -e 's/:drop_duplicates{ "id", "t" }/:drop_duplicates_within_watermark{ "id" }/' job.lua >dww.lua
drop_file in 1.json '{"id":1,"t":"2026-11-23T10:00:00Z"}
{"id":1,"t":"2026-11-23T10:00:04Z"}
{"id":2,"t":"2026-11-23T10:00:15Z"}
'
drop_file in 2.json '{"id":1,"t":"2026-11-23T10:00:09Z"}
{"id":2,"t":"2026-11-23T10:00:24Z"}
{"id":3,"t":"2026-11-23T10:00:25Z"}
'
drop_file in 3.json '{"id":1,"t":"2026-11-23T10:00:16Z"}
{"id":2,"t":"2026-11-23T10:00:10Z"}
'
drop_file in 4.json '{"id":1,"t":"2026-11-23T10:00:17Z"}
'
for i in 1 2 3 4; do touch -d "2026-01-01 00:00:0$i" in/$i.json; done
run_sr dww.lua
assert_eq "within watermark run" 0 "$code"
# key 1 expires at 10:00:10; the watermark reaches 10:00:15 after batch 1. Batch 2 still finds
# key 1 (a duplicate, as in Spark), drops the late (2, 10:00:10), then evicts key 1, so
# (1, 10:00:17) passes in batch 3.
expected='{"id":1,"t":"2026-11-23T10:00:00.000Z"}
{"id":1,"t":"2026-11-23T10:00:17.000Z"}
{"id":2,"t":"2026-11-23T10:00:15.000Z"}
{"id":3,"t":"2026-11-23T10:00:25.000Z"}'
assert_eq "within watermark output" "$expected" "$(sink_rows out)"
assert_eq "batch 1" "3 1 0 0 2" "$(op_progress 1)"
assert_eq "batch 2" "2 0 1 1 1" "$(op_progress 2)"
assert_eq "batch 3" "3 1 0 0 0" "$(op_progress 3)"
pass "drop_duplicates_within_watermark: duplicates dropped until the watermark passes first time + delay"

# 4. Exactly-once first occurrences across kill -9 at each step of a batch.
cat >job.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "id long, seq long", maxFilesPerTrigger = 2 }
  :drop_duplicates{ "id" }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", queryName = "dedup",
                 trigger = arg[1] == "drain" and { availableNow = true } or "50 milliseconds" }
LUA
seq_no=0
make_file() { # N: 40 rows, ids drawn from 0..149 so keys repeat within and across files
  local body="" i
  for ((i = 0; i < 40; i++)); do
    body+="{\"id\":$(( (RANDOM * 7 + i) % 150 )),\"seq\":$((seq_no++))}"$'\n'
  done
  drop_file in "f$(printf %05d "$1").json" "$body"
}
# every input id once in the output, as the row of its first occurrence (the smallest seq)
check_first_occurrences() {
  local want got
  want=$(cat in/*.json | jq -r '[.id, .seq] | @tsv' | sort -k1,1n -k2,2n | awk '!seen[$1]++')
  got=$(cat out/part-* | jq -r '[.id, .seq] | @tsv' | sort -k1,1n -k2,2n)
  [[ -z "$(echo "$got" | cut -f1 | uniq -d | head -3)" ]] || fail "an id is emitted twice: $(echo "$got" | cut -f1 | uniq -d | head -3)"
  assert_eq "first occurrence of each id" "$want" "$got"
}
RANDOM=11
for point in after_offsets after_sink_write after_state_commit after_sink_commit after_commit_log; do
  rm -rf in out chk
  for f in 1 2 3 4 5 6; do make_file "$f"; sleep 0.01; done
  crash_at "$point:1" job.lua drain
  run_sr job.lua drain
  assert_eq "restart after $point" 0 "$code"
  check_first_occurrences
  pass "kill -9 at $point of batch 1, restart: every key's first occurrence exactly once"
done

# 5. Random kills while files arrive.
rm -rf in out chk
files=0
for round in $(seq 1 10); do
  for i in 1 2 3; do make_file $((files++)); sleep 0.01; done
  kill_after "0.$((RANDOM % 6 + 1))" job.lua
done
run_sr job.lua drain
assert_eq "final drain" 0 "$code"
check_first_occurrences
pass "10 random kill -9 while $files files arrived: every key's first occurrence exactly once"
finish
