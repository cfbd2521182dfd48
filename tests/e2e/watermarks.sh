# Watermarks as Spark computes them (WatermarkTracker): with several with_watermark inputs an
# input that has seen no data counts as 0 in the minimum, so a busy input cannot make an idle
# one's first rows late; the global watermark starts at 0 and never moves back, also across a
# restart; the max policy (multipleWatermarkPolicy); the batch-0 watermark in progress; window
# startTimes below zero (SPARK-21590).
source "$(dirname "$0")/lib.sh"

T0=2026-01-01T00:00
# Waits (up to 30 s: the machine may be busy) until the shell condition $2 holds; $1 says what for.
wait_for() {
  local i
  for ((i = 0; i < 600; i++)); do
    eval "$2" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "waited for $1"
}
rows_in() { # CHK: input rows of the committed batches so far
  if [[ -s $1/progress/progress.jsonl ]]; then jq -s '[.[].numInputRows] | add' "$1/progress/progress.jsonl"
  else echo 0; fi
}
ran_with_watermark() { # CHK ISO: a batch ran with that watermark
  jq -r .eventTime.watermark "$1/progress/progress.jsonl" 2>/dev/null | grep -qx "$2"
}
window_rows() { cat "$1"/part-* 2>/dev/null | jq -r '"\(.window.start) \(.k) \(.count)"' | LC_ALL=C sort; }

# 1. A union of two watermarked inputs, input b idle at first, the query restarted in the middle.
#    a's rows (second 1-3, then 100) would put the watermark at 95 s if b did not count; b's
#    first rows (second 4, 5) then fall in the closed window [0, 10) and would be dropped.
cat >union.lua <<'LUA'
local sr = require "streamrun"
local policy = arg[1]
local function input(dir)
  return sr.read_stream{ format = "json", path = dir .. "_" .. policy, schema = "t timestamp, k string" }
    :with_watermark("t", "5 seconds")
end
input("a"):union(input("b"))
  :group_by(sr.window("t", "10 seconds"), "k"):count()
  :write_stream{ format = "json", path = "out_" .. policy, checkpointLocation = "chk_" .. policy,
                 trigger = "30 milliseconds", multipleWatermarkPolicy = policy }
LUA
union_run() { # POLICY: runs the sequence; leaves the output in out_POLICY
  local p=$1 pid
  drop_file "a_$p" 1.json "{\"t\":\"$T0:01Z\",\"k\":\"a\"}
{\"t\":\"$T0:02Z\",\"k\":\"a\"}
{\"t\":\"$T0:03Z\",\"k\":\"a\"}
"
  drop_file "a_$p" 2.json "{\"t\":\"2026-01-01T00:01:40Z\",\"k\":\"a\"}
"
  mkdir -p "b_$p"
  "$SR_BIN" union.lua "$p" 2>"union_$p.err" &
  pid=$!
  wait_for "a's 4 rows read ($p)" "[[ \$(rows_in chk_$p) -ge 4 ]]"
  drop_file "b_$p" 1.json "{\"t\":\"$T0:04Z\",\"k\":\"b\"}
{\"t\":\"$T0:05Z\",\"k\":\"b\"}
"
  wait_for "b's 2 rows read ($p)" "[[ \$(rows_in chk_$p) -ge 6 ]]"
  kill -TERM $pid
  wait $pid || fail "union query ($p) exit: $(cat "union_$p.err")"
  "$SR_BIN" union.lua "$p" 2>>"union_$p.err" &
  pid=$!
  # both inputs at second 1000: the watermark (995 s) closes every window before it
  drop_file "a_$p" 3.json "{\"t\":\"2026-01-01T00:16:40Z\",\"k\":\"a\"}
"
  drop_file "b_$p" 2.json "{\"t\":\"2026-01-01T00:16:40Z\",\"k\":\"b\"}
"
  wait_for "a batch with watermark 995 s ($p)" "ran_with_watermark chk_$p 2026-01-01T00:16:35.000Z"
  kill -TERM $pid
  wait $pid || fail "union query ($p) exit after restart: $(cat "union_$p.err")"
}

union_run min
assert_eq "min policy: windows closed by the watermark" "$T0:00.000Z a 3
$T0:00.000Z b 2
2026-01-01T00:01:40.000Z a 1" "$(window_rows out_min)"
assert_eq "min policy: no row dropped as late" 0 \
  "$(jq -s '[.[].stateOperators[0].numRowsDroppedByWatermark] | add' chk_min/progress/progress.jsonl)"
pass "union, min policy: the idle input counts as 0, its first rows are not late, also after a restart"

# Spark's watermarks of that run: 0 (the epoch) until b has data; then, in seconds after
# $T0, min(100 - 5, 5 - 5) = 0; then min(995, 995). It never goes back.
wms=$(jq -r .eventTime.watermark chk_min/progress/progress.jsonl | uniq | tr '\n' ' ')
assert_eq "min policy: watermarks of the batches" \
  "1970-01-01T00:00:00.000Z $T0:00.000Z 2026-01-01T00:16:35.000Z " "$wms"
assert_eq "batch 0 reports Spark's watermark 0" '"1970-01-01T00:00:00.000Z"' \
  "$(head -1 chk_min/progress/progress.jsonl | jq -c .eventTime.watermark)"
pass "progress: eventTime.watermark from batch 0 (1970-01-01T00:00:00.000Z), never moving back"

union_run max
assert_eq "max policy: b's first rows were late" "$T0:00.000Z a 3
2026-01-01T00:01:40.000Z a 1" "$(window_rows out_max)"
assert_eq "max policy: b's 2 rows dropped as late" 2 \
  "$(jq -s '[.[].stateOperators[0].numRowsDroppedByWatermark] | add' chk_max/progress/progress.jsonl)"
assert_contains "max policy: the watermark followed the busy input" \
  "$(jq -r .eventTime.watermark chk_max/progress/progress.jsonl | tr '\n' ' ')" "2026-01-01T00:01:35.000Z"
pass "union, max policy (multipleWatermarkPolicy = \"max\"): the fastest input sets the watermark"

# 2. A stream-stream join whose click side is idle while impressions arrive, with a restart
#    between: the first clicks (inside the join's time range) are joined, not dropped.
cat >join.lua <<'LUA'
local sr = require "streamrun"
local imps = sr.read_stream{ format = "json", path = "imp", schema = "ad long, lt timestamp" }
  :with_watermark("lt", "5 seconds")
local clicks = sr.read_stream{ format = "json", path = "clk", schema = "ad long, rt timestamp" }
  :with_watermark("rt", "5 seconds")
imps:join(clicks, { on = { "ad" }, how = "inner",
                    time_range = { left = "lt", right = "rt", lower = "0 seconds", upper = "10 seconds" } })
  :write_stream{ format = "json", path = "jout", checkpointLocation = "jchk",
                 trigger = { availableNow = true } }
LUA
drop_file imp 1.json "{\"ad\":1,\"lt\":\"$T0:01Z\"}
{\"ad\":2,\"lt\":\"2026-01-01T00:01:40Z\"}
"
mkdir -p clk
run_sr join.lua
assert_eq "join run 1 exit" 0 "$code"
drop_file clk 1.json "{\"ad\":1,\"rt\":\"$T0:03Z\"}
{\"ad\":2,\"rt\":\"2026-01-01T00:01:42Z\"}
"
run_sr join.lua
assert_eq "join run 2 exit" 0 "$code"
assert_eq "joined rows" "1 $T0:01.000Z $T0:03.000Z
2 2026-01-01T00:01:40.000Z 2026-01-01T00:01:42.000Z" \
  "$(cat jout/part-* | jq -r '"\(.ad) \(.lt) \(.rt)"' | LC_ALL=C sort)"
assert_eq "join: the commit log's watermark after the clicks, min(100 s, 102 s) - 5 s" \
  '"nextBatchWatermarkMs":1767225695000' \
  "$(grep -o '"nextBatchWatermarkMs":[0-9]*' "jchk/commits/$(ls jchk/commits | sort -n | tail -1)")"
pass "stream-stream join: the idle side's first rows are joined, across a restart while it was idle"

# 3. A restart changes nothing: each input's max event time is kept in the commit log, so the
#    watermark after a restart is the one the query would have had without it (Spark rebuilds
#    it from the rows read after the restart, which can only hold it back longer).
#    a: 100 s, then 60 s, then 70 s; b: 10 s, then 200 s. One file per input per batch:
#    batch 0 {a 100, b 10} -> min(95, 5) = 5; batch 1 {a 60, b 200} -> min(95, 195) = 95;
#    batch 2 {a 70}: its window [70, 80) ends before 95: late.
cat >restart.lua <<'LUA'
local sr = require "streamrun"
local function input(dir)
  return sr.read_stream{ format = "json", path = arg[1] .. "/" .. dir, maxFilesPerTrigger = 1,
                         schema = "t timestamp, k string" }:with_watermark("t", "5 seconds")
end
input("a"):union(input("b"))
  :group_by(sr.window("t", "10 seconds"), "k"):count()
  :write_stream{ format = "json", path = arg[1] .. "/out", checkpointLocation = arg[1] .. "/chk",
                 outputMode = "append", trigger = { availableNow = true } }
LUA
put() { # DIR NAME SECOND K MTIME-SECONDS-AGO
  drop_file "$1" "$2" "{\"t\":\"$(date -u -d "@$((1767225600 + $3))" +%Y-%m-%dT%H:%M:%SZ)\",\"k\":\"$4\"}
"
  touch -d "@$(($(date +%s) - $5))" "$1/$2"
}
#    "twice" stops after batch 0 and restarts; "crashed" is killed in batch 1 after its sink
#    commit, before commits/1, and re-runs batch 1 from offsets/1.
for run in once twice crashed; do
  put $run/a 1.json 100 a 30
  put $run/b 1.json 10 b 30
  if [[ $run == twice ]]; then
    run_sr restart.lua $run
    assert_eq "restart run 1 exit" 0 "$code"
  fi
  put $run/a 2.json 60 a 20
  put $run/b 2.json 200 b 20
  put $run/a 3.json 70 a 10
  if [[ $run == crashed ]]; then
    SR_CRASH_AT=after_sink_commit:1 run_sr restart.lua $run
    assert_eq "killed in batch 1" 137 "$code"
    [[ -f $run/chk/offsets/1 && ! -f $run/chk/commits/1 ]] || fail "batch 1 should be logged, not committed"
  fi
  run_sr restart.lua $run
  assert_eq "restart run exit ($run)" 0 "$code"
done
for run in twice crashed; do
  assert_eq "a restart changes no result ($run)" "$(window_rows once/out)" "$(window_rows $run/out)"
  assert_eq "the same watermarks in the commit log ($run)" \
    "$(cat once/chk/commits/* | grep -o 'nextBatchWatermarkMs":[0-9]*' | sort -u)" \
    "$(cat $run/chk/commits/* | grep -o 'nextBatchWatermarkMs":[0-9]*' | sort -u)"
done
assert_eq "the row behind the watermark is late in every run" "1 1 1" \
  "$(for r in once twice crashed; do jq -s '[.[].stateOperators[0].numRowsDroppedByWatermark] | add' $r/chk/progress/progress.jsonl; done | tr '\n' ' ' | sed 's/ $//')"
assert_eq "the late row is not in the output" "" "$(window_rows once/out | grep 00:01:10 || true)"
pass "a restart or a replay keeps every input's max event time: the watermark goes on as without it"

# 3b. The policy is the checkpoint's (Spark's OffsetSeqMetadata): a restart with another one
#     keeps the first, with a warning. Input b idle: under "min" the watermark stays 0.
sed -i 's/outputMode = "append",/outputMode = "append", multipleWatermarkPolicy = arg[2],/' restart.lua
mkdir -p pol/b
put pol/a 1.json 100 a 10
run_sr restart.lua pol min
assert_eq "policy run 1 exit" 0 "$code"
assert_contains "the policy is in the offset log" "$(sed -n 2p pol/chk/offsets/0)" '"conf":{"multipleWatermarkPolicy":"min",'
put pol/a 2.json 200 a 5
run_sr restart.lua pol max
assert_eq "policy run 2 exit" 0 "$code"
assert_contains "a changed policy is reported" "$err" "keeps multipleWatermarkPolicy 'min' from its checkpoint, not 'max'"
assert_eq "the checkpoint's min policy holds the watermark at 0" '"nextBatchWatermarkMs":0' \
  "$(grep -o '"nextBatchWatermarkMs":[0-9]*' "pol/chk/commits/$(ls pol/chk/commits | sort -n | tail -1)")"
# a checkpoint whose offset log has no policy (written before it was recorded) keeps "min"; its
# state stays in the partitions the log records
sed -i -e 's/"multipleWatermarkPolicy":"[a-z]*",//' -e '/^#crc32 /d' pol/chk/offsets/* # as such a log was: no checksum line
grep -q multipleWatermarkPolicy pol/chk/offsets/* && fail "the policy should be gone from the offset log"
run_sr restart.lua pol max
assert_eq "policy run 3 exit" 0 "$code"
assert_contains "a log without a policy keeps min" "$err" "keeps multipleWatermarkPolicy 'min' from its checkpoint, not 'max'"
pass "multipleWatermarkPolicy is kept from the checkpoint (min when it has none), as Spark does"

# 4. A query without with_watermark reports no watermark (as Spark's ProgressReporter).
cat >plain.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "plain", schema = "t timestamp, k string" }
  :write_stream{ format = "json", path = "plain_out", checkpointLocation = "plain_chk",
                 trigger = { availableNow = true } }
LUA
drop_file plain 1.json "{\"t\":\"$T0:01Z\",\"k\":\"a\"}
"
run_sr plain.lua
assert_eq "plain query exit" 0 "$code"
assert_eq "no watermark key without with_watermark" false \
  "$(head -1 plain_chk/progress/progress.jsonl | jq '.eventTime | has("watermark")')"
pass "a query without a watermark reports none"

# 5. multipleWatermarkPolicy is checked: a bad value and a misspelt name are refused.
cat >badpolicy.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "plain", schema = "t timestamp, k string" }
  :with_watermark("t", "5 seconds")
  :write_stream{ format = "json", path = "x", checkpointLocation = "xc", [arg[1]] = arg[2] }
LUA
run_sr --check badpolicy.lua multipleWatermarkPolicy median
assert_eq "bad policy exit" 2 "$code"
assert_contains "bad policy message" "$err" "Could not recognize watermark policy 'median'"
run_sr --check badpolicy.lua multipleWatermarkPolicies max
assert_eq "misspelt option exit" 2 "$code"
assert_contains "misspelt option message" "$err" "did you mean 'multipleWatermarkPolicy'?"
run_sr --check badpolicy.lua multipleWatermarkPolicy MAX
assert_eq "policy names ignore case, as Spark's" 0 "$code"
pass "multipleWatermarkPolicy: a bad value or a misspelt name is refused"

# 6. A window startTime below zero (SPARK-21590), on DataFrameTimeWindowingSuite's rows
#    ("time window in SQL with three expressions including negative start time"): windows
#    [19:39:25, 19:39:35) holding values 1 and 4, [19:39:55, 19:40:05) holding 2. A last row
#    an hour later moves the watermark past both.
cat >neg.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "neg", schema = "time timestamp, value long" }
  :with_watermark("time", "10 seconds")
  :group_by(sr.window("time", "10 seconds", "10 seconds", arg[1] or "-5 seconds"))
  :agg{ values = sr.collect_list("value") }
  :write_stream{ format = "json", path = "neg_out", checkpointLocation = "neg_chk",
                 trigger = { availableNow = true } }
LUA
drop_file neg 1.json '{"time":"2016-03-27 19:39:34","value":1}
{"time":"2016-03-27 19:39:56","value":2}
{"time":"2016-03-27 19:39:27","value":4}
{"time":"2016-03-27 20:39:27","value":0}
'
run_sr neg.lua
assert_eq "negative startTime exit: $err" 0 "$code"
assert_eq "Spark's windows for startTime -5 seconds" \
  "2016-03-27T19:39:25.000Z 2016-03-27T19:39:35.000Z [1,4]
2016-03-27T19:39:55.000Z 2016-03-27T19:40:05.000Z [2]" \
  "$(cat neg_out/part-* | jq -r '"\(.window.start) \(.window.end) \(.values | sort | tojson)"' | LC_ALL=C sort)"
run_sr --check neg.lua "-10 seconds"
assert_eq "|startTime| = slide exit" 2 "$code"
assert_contains "|startTime| = slide message" "$err" \
  "The absolute value of start time (-10 seconds) must be less than the slideDuration (10 seconds)."
pass "window startTime below zero: Spark's windows; |startTime| >= slide refused with Spark's message"

# 7. A hot reload that changes multipleWatermarkPolicy reopens the query from its checkpoint,
#    which keeps the policy it started with (as a restart does). Input b idle: under "min" the
#    watermark stays 0 while a moves on.
write_rl() { # POLICY: the job, saved as an editor would
  cat >.rl.lua.swp <<LUA
local sr = require "streamrun"
local function input(dir)
  return sr.read_stream{ format = "json", path = dir, schema = "t timestamp, k string" }
    :with_watermark("t", "5 seconds")
end
input("rl_a"):union(input("rl_b"))
  :group_by(sr.window("t", "10 seconds"), "k"):count()
  :write_stream{ format = "json", path = "rl_out", checkpointLocation = "rl_chk",
                 trigger = "30 milliseconds", multipleWatermarkPolicy = "$1" }
LUA
  mv .rl.lua.swp rl.lua
}
write_rl min
mkdir -p rl_a rl_b
"$SR_BIN" rl.lua 2>rl.err &
pid=$!
drop_file rl_a 1.json "{\"t\":\"2026-01-01T00:01:40Z\",\"k\":\"a\"}
"
wait_for "rl_a/1.json read" "[[ \$(rows_in rl_chk) -ge 1 ]]"
write_rl max
wait_for "the reload's warning" "grep -q \"keeps multipleWatermarkPolicy 'min' from its checkpoint, not 'max'\" rl.err"
drop_file rl_a 2.json "{\"t\":\"2026-01-01T00:03:20Z\",\"k\":\"a\"}
"
wait_for "rl_a/2.json read" "[[ \$(rows_in rl_chk) -ge 2 ]]"
kill -TERM $pid
wait $pid || fail "reloaded query exit: $(cat rl.err)"
assert_eq "after the reload the checkpoint's min policy holds the watermark at 0" "0" \
  "$(cat rl_chk/commits/* | grep -o '"nextBatchWatermarkMs":[0-9]*' | cut -d: -f2 | sort -un | tr '\n' ' ' | sed 's/ $//')"
pass "a hot reload with another multipleWatermarkPolicy keeps the checkpoint's, with a warning"

finish
