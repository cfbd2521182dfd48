# User code that does not behave: a loop that never ends is interrupted when its batch's time
# budget (batchTimeout) runs out, naming the job line and the row; a stop signal interrupts it
# too; a loop LuaJIT compiled (which runs no hooks) ends the process with the reason; os.exit
# raises an error. In every case the batch was not committed: the fixed job re-runs it once.
# Memory: garbage made in a batch is collected past a headroom, a --memory-limit fails the
# batch with that reason, and the memory of a peak goes back to the system.
source "$(dirname "$0")/lib.sh"

drop_file in a.json $'{"id":1}\n{"id":2}\n'
job() { # NAME BODY-OF-THE-MAP [TIMEOUT]
  cat >"$1.lua" <<LUA
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "id long" }
  :map(function(r)
    $2
    return r
  end)
  :write_stream{ format = "json", path = "out_$1", checkpointLocation = "chk_$1",
                 trigger = { availableNow = true }, batchTimeout = "${3:-1 hour}" }
LUA
}
fixed_run() { # NAME: the job without its loop, on the same checkpoint: each row once
  job "$1" "r.ok = true"
  run_sr "$1.lua"
  assert_eq "$1: the fixed job runs" 0 "$code"
  assert_eq "$1: the interrupted batch re-ran once" 2 "$(sink_rows "out_$1" | grep -c '"ok":true')"
}
elapsed_ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# 1. An interpreted loop (debug.getinfo keeps it out of compiled code) past batchTimeout.
job interp 'if r.id == 2 then while true do debug.getinfo(1) end end' "1 second"
t0=$(date +%s%N)
run_sr interp.lua
assert_eq "interp exit" 1 "$code"
assert_contains "interp reason" "$err" "ran past batchTimeout (1000 ms) at interp.lua:4 (in the function defined at line 3)"
assert_contains "interp row" "$err" 'row: {"id":2}'
(( $(elapsed_ms "$t0") < 5000 )) || fail "interp took $(elapsed_ms "$t0") ms to stop"
fixed_run interp
pass "a runaway interpreted loop is stopped by batchTimeout, naming the line and the row"

# 2. A compiled loop never reaches the hook: the process ends with the reason a few seconds
# after the budget.
job compiled 'local s = 0; while true do s = s + 1 end' "1 second"
t0=$(date +%s%N)
run_sr compiled.lua
assert_eq "compiled exit" 1 "$code"
assert_contains "compiled reason" "$err" "the batch ran past batchTimeout and the code running cannot be interrupted"
(( $(elapsed_ms "$t0") < 15000 )) || fail "compiled took $(elapsed_ms "$t0") ms to stop"
fixed_run compiled
pass "a compiled runaway loop ends the process after the budget and a grace, saying why"

# 3. SIGTERM interrupts user code a second after it arrives (exit 130: the job did not finish).
for kind in interp compiled; do
  if [[ $kind == interp ]]; then body='while true do debug.getinfo(1) end'; else body='local s = 0; while true do s = s + 1 end'; fi
  job "term_$kind" "$body"
  "$SR_BIN" "term_$kind.lua" 2>"term_$kind.err" &
  pid=$!
  sleep 0.5
  t0=$(date +%s%N)
  kill -TERM "$pid"
  set +e; wait "$pid"; c=$?; set -e
  assert_eq "term $kind exit" 130 "$c"
  (( $(elapsed_ms "$t0") < 10000 )) || fail "term $kind took $(elapsed_ms "$t0") ms"
  fixed_run "term_$kind"
done
assert_contains "term interp says so" "$(cat term_interp.err)" "stopped in the middle of a batch (term_interp.lua:7: batch 0 failed: interrupted by a stop signal at term_interp.lua:4"
job term_twice 'local s = 0; while true do s = s + 1 end'
"$SR_BIN" term_twice.lua 2>term_twice.err &
pid=$!
sleep 0.5
kill -TERM "$pid"; sleep 0.1; kill -TERM "$pid"
set +e; wait "$pid"; c=$?; set -e
assert_eq "a second signal" 130 "$c"
assert_contains "a second signal says so" "$(cat term_twice.err)" "a second stop signal: exiting now"
assert_contains "term compiled says so" "$(cat term_compiled.err)" "a stop signal arrived and the code running cannot be interrupted"
pass "SIGTERM interrupts a batch stuck in user code (interpreted or compiled); the batch re-runs"

# 4. os.exit is an error, not a successful end in the middle of a batch.
job osexit 'if r.id == 2 then os.exit(0) end'
run_sr osexit.lua
assert_eq "os.exit exit" 1 "$code"
assert_contains "os.exit reason" "$err" "os.exit is not allowed in a streamrun job"
assert_contains "os.exit row" "$err" 'row: {"id":2}'
fixed_run osexit
pass "os.exit in a job raises an error naming the row; the exit status is not 0"

# 5. An interruption inside a stateful operator's key function keeps its own message.
cat >agg.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "id long" }
  :group_by(function(r) while true do debug.getinfo(1) end end):count()
  :write_stream{ format = "console", outputMode = "complete", trigger = { availableNow = true },
                 batchTimeout = "500 milliseconds" }
LUA
run_sr agg.lua
assert_eq "agg exit" 1 "$code"
assert_contains "agg reason" "$err" "ran past batchTimeout (500 ms) at agg.lua:3"
pass "an interruption in a key function names the line, not the operator's wrapper"

# 6. A batch making 10 million short-lived tables (~500 MB of garbage) stays near the 256 MB
# headroom instead of holding all of it (it reached 1 GB when the collector was stopped).
mem_job() { # NAME LOOP-BODY: a map running LOOP-BODY 10 million times on the row with x = 1
  cat >"$1.lua" <<LUA
local sr = require "streamrun"
sr.read_stream{ format = "json", path = arg[1], schema = "x long", maxFilesPerTrigger = 1 }
  :map(function(r)
    local keep, big = r, {}
    if r.x == 1 then for i = 1, 10000000 do $2 end end
    r.n = #big
    return r
  end)
  :write_stream{ format = "json", path = "out_$1", checkpointLocation = "chk_$1",
                 trigger = arg[2] or { availableNow = true } }
LUA
}
mkdir -p mem
drop_file mem a.json $'{"x":1}\n'
touch -d "2026-01-01 00:00:01" mem/a.json
drop_file mem b.json $'{"x":2}\n'
mem_job garbage 'keep = { i, i + 1 }'
set +e
/usr/bin/time -f "%M" -o garbage.rss timeout 120 "$SR_BIN" garbage.lua mem 2>garbage.err
code=$?
set -e
assert_eq "garbage exit ($(cat garbage.err))" 0 "$code"
rss_mb=$(( $(tail -1 garbage.rss) / 1024 ))
(( rss_mb < 450 )) || fail "garbage: peak RSS $rss_mb MB"
assert_eq "garbage rows" 2 "$(sink_rows out_garbage | wc -l)"
heap=$(head -1 chk_garbage/progress/progress.jsonl | jq .luaHeapBytes)
(( heap > 256 << 20 && heap < 450 << 20 )) || fail "luaHeapBytes $heap does not show the peak"
pass "garbage of a batch is collected past the headroom (peak RSS $rss_mb MB), luaHeapBytes shows the peak"

# 7. --memory-limit: rows a map keeps alive past the limit fail the batch with that reason;
# garbage under the same limit is collected in time.
mem_job live 'big[i] = { i }'
run_sr --memory-limit 200MB live.lua mem
assert_eq "live exit" 1 "$code"
assert_contains "live reason" "$err" "the job's Lua heap reached --memory-limit"
rm -rf out_garbage chk_garbage
run_sr --memory-limit 200MB garbage.lua mem
assert_eq "garbage under a limit ($err)" 0 "$code"
run_sr --memory-limit lots garbage.lua mem
assert_eq "a bad limit" 2 "$code"
assert_contains "a bad limit says so" "$err" "--memory-limit: not a size: lots"
pass "--memory-limit fails a batch that keeps more alive, with that reason; garbage is collected under it"

# 8. After the peak batch, an idle job gives the memory back.
rm -rf out_garbage chk_garbage
"$SR_BIN" garbage.lua mem "100 milliseconds" 2>idle.err &
pid=$!
for _ in $(seq 300); do
  [[ $(wc -l <chk_garbage/progress/progress.jsonl 2>/dev/null || echo 0) -ge 2 ]] && break
  sleep 0.1
done
sleep 0.5
rss_kb=$(awk '/VmRSS/ { print $2 }' /proc/$pid/status)
kill -TERM "$pid"
wait "$pid" || true
(( rss_kb < 150 * 1024 )) || fail "an idle job after the peak holds $((rss_kb / 1024)) MB"
pass "after a peak the free pages go back to the system: $((rss_kb / 1024)) MB resident when idle"
finish
