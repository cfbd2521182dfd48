# process_with_state end to end: per-key state in the store, processing-time timeouts on the
# test clock (SR_TEST_CLOCK), event-time timeouts in no-data batches, across restarts and kill -9
# at every step of the batch that fires a timeout.
source "$(dirname "$0")/lib.sh"

export SR_TEST_CLOCK="$WORK/clock"
clock() { echo "$1" >"$SR_TEST_CLOCK"; }

# 1. Processing-time timeouts: a user's session closes 10 s (of batch time) after its last rows.
cat >pt.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "user string, n long" }
  :group_by("user")
  :process_with_state{ timeout = "ProcessingTimeTimeout", fn = function(user, rows, state)
    if state:has_timed_out() then
      local s = state:get()
      state:remove()
      return { { user = user, events = s.events, total = s.total,
                 closed_at = state:get_current_processing_time_ms() } }
    end
    local s = state:get() or { events = 0, total = 0 }
    for _, r in ipairs(rows) do
      s.events = s.events + 1
      s.total = s.total + r.n
    end
    state:update(s)
    state:set_timeout_duration("10 seconds")
    return {}
  end }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", outputMode = "append",
                 trigger = { availableNow = true } }
LUA
first_two_batches() {
  rm -rf in out chk
  clock 1000
  drop_file in 1.json '{"n":1,"user":"a"}
{"n":2,"user":"a"}
{"n":5,"user":"b"}
'
  run_sr pt.lua
  assert_eq "batch 0" 0 "$code"
  clock 5000
  drop_file in 2.json '{"n":1,"user":"b"}
'
  run_sr pt.lua
  assert_eq "batch 1" 0 "$code"
  assert_eq "no session closed yet" "" "$(sink_rows out)"
  drop_file in 3.json '{"n":1,"user":"c"}
'
}
first_two_batches
clock 12000
run_sr pt.lua
assert_eq "batch 2" 0 "$code"
assert_eq "a closes at 12000" '{"closed_at":12000,"events":2,"total":3,"user":"a"}' "$(sink_rows out)"
clock 30000
drop_file in 4.json '{"n":7,"user":"a"}
'
run_sr pt.lua
assert_eq "batch 3" 0 "$code"
expected='{"closed_at":12000,"events":2,"total":3,"user":"a"}
{"closed_at":30000,"events":1,"total":1,"user":"c"}
{"closed_at":30000,"events":2,"total":6,"user":"b"}'
assert_eq "b and c close at 30000, a starts again" "$expected" "$(sink_rows out)"
assert_eq "a's new session is the only state" 1 \
  "$(jq -r 'select(.batchId == 3) | .stateOperators[0].numRowsTotal' chk/progress/progress.jsonl)"
pass "processing-time timeouts fire on the test clock across runs, once per session"

# 2. The batch that fires a timeout, killed at each of its steps: the restart replays it with
# its logged processing time, so the session closes exactly once, at 12000.
for point in after_offsets after_sink_write after_state_commit after_sink_commit after_commit_log; do
  first_two_batches
  clock 12000
  crash_at "$point:2" pt.lua
  clock 99999
  run_sr pt.lua
  assert_eq "restart after $point" 0 "$code"
  assert_eq "a closes once, at 12000 ($point)" '{"closed_at":12000,"events":2,"total":3,"user":"a"}' "$(sink_rows out)"
  pass "kill -9 at $point of the batch firing a timeout, restart: the timeout fires exactly once"
done

# 3. Event-time timeouts: fire in the no-data batch that moves the watermark, after a restart.
rm -rf in out chk
cat >et.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "user string, t timestamp" }
  :with_watermark("t", "5 seconds")
  :group_by("user")
  :process_with_state{ timeout = "event_time", fn = function(user, rows, state)
    if state:has_timed_out() then
      local s = state:get()
      state:remove()
      return { { user = user, events = s.events, last = sr.format_timestamp(s.last),
                 watermark = sr.format_timestamp(state:get_current_watermark_ms()) } }
    end
    local s = state:get() or { events = 0, last = 0 }
    for _, r in ipairs(rows) do
      s.events = s.events + 1
      if r.t > s.last then s.last = r.t end
    end
    state:update(s)
    state:set_timeout_timestamp(s.last, "10 seconds")
    return {}
  end }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", outputMode = "append",
                 trigger = { availableNow = true } }
LUA
drop_file in 1.json '{"t":"2026-11-23T10:00:00Z","user":"a"}
{"t":"2026-11-23T10:00:02Z","user":"a"}
'
run_sr et.lua
assert_eq "event-time batch 0" 0 "$code"
drop_file in 2.json '{"t":"2026-11-23T10:00:30Z","user":"b"}
'
run_sr et.lua
assert_eq "event-time batch 1" 0 "$code"
assert_eq "a fires in the no-data batch at watermark 10:00:25" \
  '{"events":2,"last":"2026-11-23T10:00:02.000Z","user":"a","watermark":"2026-11-23T10:00:25.000Z"}' \
  "$(sink_rows out)"
# batches: 0 (a), 1 (no data: the first watermark), 2 (b), 3 (no data: watermark 10:00:25)
assert_eq "batches run" 4 "$(wc -l <chk/progress/progress.jsonl)"
drop_file in 3.json '{"t":"2026-11-23T10:00:01Z","user":"a"}
{"t":"2026-11-23T10:00:26Z","user":"c"}
'
run_sr et.lua
assert_eq "event-time batch 4" 0 "$code"
assert_eq "late row dropped" 1 \
  "$(jq -r 'select(.batchId == 4) | .stateOperators[0].numRowsDroppedByWatermark' chk/progress/progress.jsonl)"
assert_eq "b and c wait" 1 "$(sink_rows out | wc -l)"
pass "event-time timeouts fire when the watermark passes them (no-data batch, after a restart); late rows dropped"

# 4. A quiet stream: with a processingTime trigger, processing-time timeouts fire without new
# data (a no-data batch at every trigger, as in Spark).
rm -rf in out chk
sed -e 's/trigger = { availableNow = true }/trigger = "100 milliseconds"/' pt.lua >quiet.lua
clock 1000
drop_file in 1.json '{"user":"q","n":4}
'
"$SR_BIN" quiet.lua 2>/dev/null &
pid=$!
# (the batch that reads the file: it is taken once stable, fileStableMs, maybe after no-data batches)
read_it() { jq -s 'map(.numInputRows) | add' chk/progress/progress.jsonl 2>/dev/null; }
for _ in $(seq 100); do [[ "$(read_it)" == 1 ]] && break; sleep 0.05; done
[[ "$(read_it)" == 1 ]] || fail "the file's batch did not run"
clock 11000
sleep 0.5
assert_eq "no timeout before its time" "" "$(sink_rows out)"
clock 11001
for _ in $(seq 100); do [[ -n "$(sink_rows out)" ]] && break; sleep 0.05; done
kill -TERM "$pid"
wait "$pid" || fail "SIGTERM stops the quiet query cleanly"
assert_eq "q closes at 11001 without new data" '{"closed_at":11001,"events":1,"total":4,"user":"q"}' "$(sink_rows out)"
pass "processing-time timeouts fire on a quiet stream: a no-data batch at every processingTime trigger"
finish
