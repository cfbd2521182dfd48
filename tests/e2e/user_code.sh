# User code that does not behave: a loop that never ends is interrupted when its batch's time
# budget (batchTimeout) runs out, naming the job line and the row; a stop signal interrupts it
# too; a loop LuaJIT compiled (which runs no hooks) ends the process with the reason; os.exit
# raises an error. In every case the batch was not committed: the fixed job re-runs it once.
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
finish
