# A checkpoint stays bounded however long a query runs (issue 17 item 12): a week of one batch
# per 100 ms is ~6M batches; here 600 batches run as fast as they can, in three stages of
# 200, and after the second stage the checkpoint's and the sink log's file counts and bytes
# stop growing: offsets/commits by minBatchesToRetain, the source and sink logs by
# compactInterval (and the source's compact file by maxFileAge). (progress.jsonl is rotated
# at 8 MB, which a test this short does not reach: tests/c/test_progress.c covers it.) In
# the middle stage the query is killed (kill -9) inside compaction at each of its kill
# points, and every input row still comes out exactly once.
source "$(dirname "$0")/lib.sh"

cat >job.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "id long", maxFilesPerTrigger = 1,
                fileStableMs = 0, maxFileAge = "300 seconds" }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", minBatchesToRetain = 10,
                 trigger = { availableNow = true } }
LUA

# minBatchesToRetain below 1 is refused, naming the option.
sed 's/minBatchesToRetain = 10/minBatchesToRetain = 0/' job.lua >zero.lua
run_sr zero.lua
assert_eq "minBatchesToRetain = 0 refused" 2 "$code"
assert_contains "names it" "$err" "minBatchesToRetain must be a positive integer"
pass "minBatchesToRetain below 1 is refused"

BASE=1700000000
make_stage() { # K: 200 one-row files, modified 1000 s after the previous stage's
  local k=$1 i id
  mkdir -p in
  for ((i = 0; i < 200; i++)); do
    id=$((k * 200 + i))
    printf '{"id":%d}\n' "$id" >"in/.f$id.tmp"
    touch -d "@$((BASE + k * 1000 + i))" "in/.f$id.tmp"
    mv "in/.f$id.tmp" "in/f$(printf %05d "$id").json"
  done
}
measure() { # -> "files bytes" of the checkpoint (but progress/) and the sink's log together
  find chk out/_streamrun_metadata -type f ! -path 'chk/progress/*' -printf '%s\n' |
    awk '{ n++; s += $1 } END { print n, s }'
}
check_exactly_once() { # ROWS
  local dups
  dups=$(cat out/part-* | jq -r .id | sort -n | uniq -d | head -3)
  [[ -z $dups ]] || fail "ids written twice: $dups"
  assert_eq "rows out" "$1" "$(cat out/part-* | wc -l)"
}

make_stage 0
run_sr job.lua
assert_eq "stage 0 ($err)" 0 "$code"
check_exactly_once 200
read -r files0 bytes0 <<<"$(measure)"

# Stage 1, killed inside compaction: the source's compact file written but what it replaces not
# yet removed, the removal half done (source at the plan after a compaction, sink at its
# compaction), the sink's compact file written. Batch N reads file N (one a batch).
make_stage 1
for point in source_compact:209 compact_cleanup:210 sink_compact:219 compact_cleanup:229 \
             source_compact:249 sink_compact:259; do
  set +e
  SR_CRASH_AT=$point timeout 60 "$SR_BIN" job.lua >/dev/null 2>crash.err
  c=$?
  set -e
  assert_eq "killed at $point ($(tail -1 crash.err))" 137 "$c"
done
ls chk/sources/0 | grep -q compact || fail "no compact file in the source's log: $(ls chk/sources/0)"
ls out/_streamrun_metadata | grep -q compact || fail "no compact file in the sink's log"
run_sr job.lua
assert_eq "stage 1 after the kills ($err)" 0 "$code"
check_exactly_once 400
pass "killed -9 inside compaction (source and sink, writing and cleaning up): every row exactly once"
read -r files1 bytes1 <<<"$(measure)"

make_stage 2
run_sr job.lua
assert_eq "stage 2 ($err)" 0 "$code"
check_exactly_once 600
read -r files2 bytes2 <<<"$(measure)"
echo "checkpoint + sink log after 200, 400, 600 batches: $files0/$files1/$files2 files," \
     "$bytes0/$bytes1/$bytes2 bytes"

# Bounded by the settings, not by the batch count: minBatchesToRetain + 1 offsets and commits,
# fewer than two compact intervals of log entries.
count() { find "$1" -maxdepth 1 -type f | wc -l; }
(( $(count chk/offsets) <= 11 && $(count chk/commits) <= 11 )) ||
  fail "offsets/commits: $(count chk/offsets)/$(count chk/commits)"
(( $(count chk/sources/0) <= 20 )) || fail "source log: $(ls chk/sources/0 | tr '\n' ' ')"
(( $(count out/_streamrun_metadata) <= 20 )) || fail "sink log: $(ls out/_streamrun_metadata | tr '\n' ' ')"
(( files2 <= files1 + 2 )) || fail "files grew from $files1 to $files2"
# the source's compact file holds the files of the last maxFileAge: a stage's, as before
(( bytes2 <= bytes1 + bytes1 / 10 )) || fail "bytes grew from $bytes1 to $bytes2"
n=$(ls chk/sources/0 | grep compact | sort -n | tail -1)
entries=$(head -1 "chk/sources/0/$n" | jq '[.batches[].files[]] | length')
(( entries <= 220 )) || fail "the source's compact file holds $entries files (maxFileAge is 300 s)"
pass "after 600 batches: $files2 files, $bytes2 bytes, as after 400 ($files1, $bytes1)"

# Files purged from the log by maxFileAge are still never read again, a bigger maxFileAge
# or not: a stage-0 file touched back (its old time) is not new.
sed -i 's/maxFileAge = "300 seconds"/maxFileAge = "30 days"/' job.lua
printf '{"id":0}\n' >in/.again && touch -d "@$BASE" in/.again && mv in/.again in/f00000.json
run_sr job.lua
assert_eq "restart with a larger maxFileAge ($err)" 0 "$code"
check_exactly_once 600
pass "a file purged from the log is not read again when maxFileAge grows"
finish
