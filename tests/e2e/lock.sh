# Only one running query may hold a checkpoint: a second fails at once naming the holder.
source "$(dirname "$0")/lib.sh"
cat >job.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "x long" }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", trigger = "100 milliseconds" }
LUA
mkdir -p in
"$SR_BIN" job.lua 2>/dev/null &
holder=$!
for _ in $(seq 50); do [[ -f chk/metadata ]] && break; sleep 0.1; done
start=$(date +%s%N)
run_sr job.lua
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
assert_eq "second process exit (a query that cannot start)" 2 "$code"
assert_contains "names the holder" "$err" "is in use by another running query (pid $holder on"
(( elapsed < 5000 )) || fail "the second process must fail at once (took $elapsed ms)"
pass "a second process on the same checkpoint fails at once naming the holder"

kill -TERM "$holder"
wait "$holder" && c=0 || c=$?
assert_eq "SIGTERM stops cleanly" 0 "$c"
drop_file in a.json '{"x":1}
'
cat >once.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in" }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", trigger = { once = true } }
LUA
run_sr once.lua
assert_eq "after the holder stopped" 0 "$code"
assert_eq "the row" '{"x":1}' "$(sink_rows out)"
pass "the lock is released when the holder stops"

# Right after kill -9 the kernel may not yet have released the dead process's lock. A restart
# then waits a moment for a holder that is dead, instead of failing. Here the lock is held for
# a second by another process while .lock names a pid that no longer exists.
sh -c 'exit 0' & dead=$!
wait "$dead"
drop_file in b.json '{"x":2}
'
printf 'pid %s on %s since 2026-01-01T00:00:00Z\n' "$dead" "$(hostname)" >chk/.lock
flock -x chk/.lock sleep 1 &
locker=$!
sleep 0.2
# temp files that writers killed mid-write leave behind, of pids that are gone
mkdir -p chk/sink
touch "chk/sink/kafka-sink-pending.json.tmp-$dead" "chk/offsets/7.tmp-$dead" "chk/sources/0/3.tmp-$dead"
start=$(date +%s%N)
run_sr once.lua
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
wait "$locker"
assert_eq "a restart while a dead holder's lock lingers ($err)" 0 "$code"
(( elapsed >= 700 )) || fail "it waited for the lock (took $elapsed ms)"
assert_eq "the rows" '{"x":1}
{"x":2}' "$(sink_rows out)"
pass "a restart waits for the lock of a dead holder"
[[ -z "$(find chk -name "*.tmp-$dead")" ]] || fail "temp files of a dead pid are left: $(find chk -name "*.tmp-*")"
pass "temp files of dead writers are removed at open"

# kill -9 then restart at once, several times: never "in use"
cat >slow.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in" }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", trigger = "50 milliseconds" }
LUA
for i in 1 2 3 4 5; do
  "$SR_BIN" slow.lua 2>/dev/null &
  p=$!
  for _ in $(seq 50); do grep -q "pid $p " chk/.lock 2>/dev/null && break; sleep 0.05; done
  kill -9 "$p"
  run_sr once.lua
  wait "$p" 2>/dev/null || true
  assert_eq "restart $i right after kill -9 ($err)" 0 "$code"
done
pass "restarts right after kill -9 find the lock released or wait for it"
finish
