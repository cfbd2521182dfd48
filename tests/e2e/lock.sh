# Only one running query may hold a checkpoint: a second fails at once naming the holder.
source "$(dirname "$0")/lib.sh"
cat >job.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in" }
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
finish
