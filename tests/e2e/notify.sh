# systemd's notify protocol without systemd: a helper listens on a unix datagram socket named by
# NOTIFY_SOCKET, as systemd does for a Type=notify unit, and logs what streamrun sends:
# READY=1 once the queries have started, WATCHDOG=1 at least every half of WATCHDOG_USEC,
# STATUS= lines, STOPPING=1 when a stop signal arrives.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || fail "python3 is needed to listen on the notify socket (scripts/deps)"

# listen SOCKET LOG: one line per datagram, "MS_SINCE_START FIELDS...", until STOPPING=1 (or 60 s)
listen() {
  python3 - "$1" "$2" <<'PY' &
import socket, sys, time
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(60)
t0 = time.monotonic()
with open(log, "w", buffering=1) as f:
    while True:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            break
        f.write("%d %s\n" % ((time.monotonic() - t0) * 1000, msg.replace("\n", " ")))
        if "STOPPING=1" in msg.split("\n"):
            break
PY
  listener=$!
  for _ in $(seq 100); do [[ -S $1 ]] && return; sleep 0.05; done
  fail "the listener did not bind $1"
}
# wait_for_line LOG PATTERN [COUNT]: until LOG has COUNT lines matching PATTERN (10 s)
wait_for_line() {
  for _ in $(seq 200); do
    (( $(grep -c -- "$2" "$1" 2>/dev/null || true) >= ${3:-1} )) && return 0
    sleep 0.05
  done
  fail "no ${3:-1} '$2' in $1: $(cat "$1" 2>/dev/null)"
}

cat >job.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "x long" }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", trigger = "100 milliseconds" }
LUA
mkdir -p in
listen "$WORK/notify.sock" notify.log
NOTIFY_SOCKET=$WORK/notify.sock WATCHDOG_USEC=2000000 "$SR_BIN" job.lua 2>stderr.log &
pid=$!
wait_for_line notify.log 'READY=1'
assert_contains "READY=1 carries a status" "$(grep READY=1 notify.log)" "STATUS=1 query running"
drop_file in a.json '{"x":1}
'
for _ in $(seq 100); do [[ -n $(sink_rows out) ]] && break; sleep 0.1; done
assert_eq "the query runs" '{"x":1}' "$(sink_rows out)"
pass "READY=1 with STATUS= once the query has started"

wait_for_line notify.log 'WATCHDOG=1' 6
# a watchdog of 2 s wants WATCHDOG=1 at least every 1000 ms (streamrun pings every 500)
gaps=$(awk '/WATCHDOG=1/ { if (last != "") print $1 - last; last = $1 }' notify.log)
max=$(sort -n <<<"$gaps" | tail -1)
(( max <= 1000 )) || fail "WATCHDOG=1 must come at least every 1000 ms (gaps: $(echo $gaps))"
assert_contains "watchdog pings carry a status" "$(grep WATCHDOG=1 notify.log | tail -1)" "STATUS=1 query running, "
pass "WATCHDOG=1 every $max ms at most with WATCHDOG_USEC=2000000"

kill -TERM "$pid"
wait "$pid" && c=0 || c=$?
assert_eq "SIGTERM stops cleanly" 0 "$c"
wait "$listener" || true
assert_contains "STOPPING=1 on SIGTERM" "$(tail -1 notify.log)" "STOPPING=1 STATUS=stopping: a stop signal arrived"
assert_eq "READY, then WATCHDOG, then STOPPING" "READY=1 WATCHDOG=1 STOPPING=1" \
  "$(grep -o 'READY=1\|WATCHDOG=1\|STOPPING=1' notify.log | uniq | tr '\n' ' ' | sed 's/ $//')"
pass "STOPPING=1 with STATUS= when a stop signal arrives"

# No WATCHDOG_USEC: no WATCHDOG=1; a query that ends says so
rm -f "$WORK/notify.sock"
cat >once.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "x long" }
  :write_stream{ format = "json", path = "out2", checkpointLocation = "chk2", trigger = { once = true } }
LUA
listen "$WORK/notify.sock" once.log
NOTIFY_SOCKET=$WORK/notify.sock run_sr once.lua
assert_eq "exit" 0 "$code"
wait "$listener" || true
assert_contains "READY=1" "$(cat once.log)" "READY=1"
assert_contains "STOPPING=1" "$(cat once.log)" "STOPPING=1 STATUS=stopping: every query ended"
[[ $(cat once.log) != *WATCHDOG=1* ]] || fail "WATCHDOG=1 without WATCHDOG_USEC: $(cat once.log)"
pass "without WATCHDOG_USEC no WATCHDOG=1; STOPPING=1 when every query ended"

# The unit file of packaging/, checked by systemd when it is installed (ExecStart on this binary)
if command -v systemd-analyze >/dev/null; then
  unit=$SR_SOURCE_DIR/packaging/streamrun.service
  sed "s#/usr/bin/streamrun#$SR_BIN#g" "$unit" >streamrun.service
  verify=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no ./streamrun.service 2>&1) || true
  [[ -z $verify ]] || fail "systemd-analyze verify packaging/streamrun.service: $verify"
  pass "systemd-analyze verify accepts packaging/streamrun.service"
fi
finish
