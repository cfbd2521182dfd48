# Hot reload: saving the job (or a module it requires from its folder) swaps its functions in
# between two batches; offsets and state carry on; a broken or incompatible save is refused and
# the running version goes on.
source "$(dirname "$0")/lib.sh"

write_job() { # TAG MODE: the job file, saved as an editor would (write a temp file, rename over)
  cat >.job.lua.swp <<LUA
local sr = require "streamrun"
local tag = require "tagger"
sr.read_stream{ format = "json", path = "in", schema = "id long" }
  :map(function(r) r.v = "$1"; r.t = tag(r); return r end)
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", queryName = "q",
                 trigger = "50 milliseconds" }
LUA
  mv .job.lua.swp job.lua
}
write_module() { printf 'return function(r) return "%s" end\n' "$1" >tagger.lua; }
wait_rows() { # N: wait until the sink holds N rows
  for _ in $(seq 100); do [[ $(sink_rows out | wc -l) -ge $1 ]] && return 0; sleep 0.1; done
  fail "timed out waiting for $1 rows (have $(sink_rows out | wc -l))"
}
n=0
feed() { drop_file in "f$((n++)).json" "{\"id\":$n}"$'\n'; }

write_job v1; write_module m1
mkdir -p in
"$SR_BIN" job.lua 2>stderr.log &
pid=$!
feed; wait_rows 1
assert_eq "first version" 'v1 m1' "$(jq -r '"\(.v) \(.t)"' out/part-00000-*)"

write_job v2
sleep 0.4; feed; wait_rows 2
grep -q '"v":"v2"' out/part-00001-* || fail "batch after the save runs the new map: $(cat out/part-00001-*)"
pass "saving the job (write and rename) swaps the map in from the next batch"

write_module m2
sleep 0.4; feed; wait_rows 3
grep -q '"t":"m2"' out/part-00002-* || fail "a required module's save reloads: $(cat out/part-00002-*)"
pass "saving a module the job requires from its folder reloads it"

printf 'local sr = require "streamrun"\nthis is not lua\n' >job.lua
sleep 0.4; feed; wait_rows 4
[[ $(jq -r '"\(.v) \(.t)"' out/part-00003-*) == "v2 m2" ]] || fail "a broken save leaves the old version running"
grep -q "reload of job.lua refused.*job.lua:2" stderr.log || fail "the refusal names file and line: $(cat stderr.log)"
pass "a broken save is refused with file and line; the old version goes on"

cat >job.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "elsewhere", schema = "id long" }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", queryName = "q",
                 trigger = "50 milliseconds" }
LUA
mkdir -p elsewhere  # a missing path would be refused first, for that reason
sleep 0.4; feed; wait_rows 5
grep -q "refused.*query q changed what its checkpoint chk cannot carry: its source 1 changed from json path in to json path elsewhere. Give it a new checkpointLocation" stderr.log ||
  fail "incompatible change refused, saying what changed in words: $(cat stderr.log)"
! grep -q 'refused.*{"sources"' stderr.log || fail "the refusal shows plan JSON: $(cat stderr.log)"
grep -q '"v":"v2"' out/part-00004-* || fail "the old version goes on after an incompatible change"
pass "a change of source the checkpoint cannot carry is refused"

write_job v3
kill -HUP "$pid"
sleep 0.3; feed; wait_rows 6
grep -q '"v":"v3"' out/part-00005-* || fail "SIGHUP reloads"
pass "SIGHUP reloads"

# read progress only after the stop: a batch's output lands before its progress line does
kill -TERM "$pid"; wait "$pid" || fail "clean stop"
grep -q '"reloads":3' chk/progress/progress.jsonl || fail "progress counts reloads: $(tail -1 chk/progress/progress.jsonl)"
grep -q '"reloadRefusals":2' chk/progress/progress.jsonl || fail "progress counts refusals"
pass "progress counts reloads and refusals"

ids=$(cat out/part-* | jq -r .id | sort -n | tr '\n' ' ')
assert_eq "no row lost or repeated across reloads" "1 2 3 4 5 6 " "$ids"
pass "no row lost or repeated across reloads"

# --no-reload
write_job v4
"$SR_BIN" --no-reload job.lua 2>/dev/null &
pid=$!
sleep 0.3; write_job v5; sleep 0.4; feed; wait_rows 7
kill -TERM "$pid"; wait "$pid" || true
grep -q '"v":"v4"' out/part-00006-* || fail "--no-reload keeps the first version"
pass "--no-reload turns reloading off"
finish
