# Hot reload keeps state: window counts and process_with_state values continue across a
# reload, and a save during a slow batch takes effect only from the next batch.
source "$(dirname "$0")/lib.sh"

write_job() { # TAG SLOW_ID
  cat >.job.tmp <<LUA
local sr = require "streamrun"
local rows = sr.read_stream{ format = "json", path = "in", schema = "id long, k string, t timestamp" }
  :map(function(r)
    if r.id == $2 then local t0 = os.clock() while os.clock() - t0 < 1.5 do end end
    r.tag = "$1"
    return r
  end)
rows:with_watermark("t", "1 second")
  :group_by(sr.window("t", "10 seconds"), "k")
  :agg{ n = sr.count() }
  :write_stream{ format = "json", path = "win", checkpointLocation = "chk-win", queryName = "win",
                 trigger = "50 milliseconds" }
rows:group_by("k")
  :process_with_state{ fn = function(key, batch, state)
      local total = (state:get() or 0) + #batch
      state:update(total)
      return { { k = key, total = total, tag = batch[#batch].tag } }
    end }
  :write_stream{ format = "json", path = "pws", checkpointLocation = "chk-pws", queryName = "pws",
                 trigger = "50 milliseconds" }
LUA
  mv .job.tmp job.lua
}
n=0
feed() { # K SECOND: one row for key K at 2026-11-23 10:00:SECOND
  n=$((n + 1))
  drop_file in "f$n.json" "{\"id\":$n,\"k\":\"$1\",\"t\":\"2026-11-23 10:00:$2\"}"$'\n'
}
wait_lines() { # DIR N
  for _ in $(seq 600); do [[ $(cat "$1"/part-* 2>/dev/null | wc -l) -ge $2 ]] && return 0; sleep 0.1; done
  fail "timed out waiting for $2 rows in $1 (have $(cat "$1"/part-* 2>/dev/null | wc -l))"
}

write_job v1 4
mkdir -p in
"$SR_BIN" job.lua 2>stderr.log &
pid=$!
feed a 01; wait_lines pws 1
feed a 02; wait_lines pws 2
write_job v2 4
sleep 0.5
feed a 03; wait_lines pws 3
last=$(cat pws/part-* | jq -c 'select(.total == 3)')
assert_eq "process_with_state carries on after the reload" '{"k":"a","tag":"v2","total":3}' "$last"
pass "process_with_state values continue across a reload, with the new function"

# a save during a slow batch: that batch finishes with the old version
feed a 04                 # id 4: the slow row (1.5 s) under v2
sleep 0.5
write_job v3 4            # saved while batch 4 runs
wait_lines pws 4
assert_eq "the slow batch ran whole under the old version" '"v2"' "$(cat pws/part-* | jq -c 'select(.total == 4) | .tag')"
feed a 05; wait_lines pws 5
assert_eq "the next batch runs the new version" '"v3"' "$(cat pws/part-* | jq -c 'select(.total == 5) | .tag')"
pass "a save during a slow batch takes effect from the next batch, never half a batch"

# the window [10:00:00, 10:00:10) counted rows from every version; close it with a later row
feed a 15; wait_lines win 1
assert_eq "window count across reloads" '{"k":"a","n":5}' "$(cat win/part-* | jq -c 'select(.window.start == "2026-11-23T10:00:00.000Z") | {k, n}')"
pass "a window's count continues across reloads (5 rows from three versions)"

kill -TERM "$pid"; wait "$pid" || fail "clean stop"
grep -q '"reloads":2' chk-pws/progress/progress.jsonl || fail "two reloads counted"
finish
