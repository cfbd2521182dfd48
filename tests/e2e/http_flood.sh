# A flood of idle connections (2,000 sockets that never send a byte) against --http: the server
# holds at most its connection limit, closes the others, keeps its memory and descriptors
# bounded, and the server's thread spends no CPU on connections that stay idle: the one way
# idle sockets could slow the batches. (What the flood does to batch time is measured, not
# asserted: scripts/bench_http's "flooded" runs. Timings are never tests here.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/jobs/http.bash"
flood=$SR_SOURCE_DIR/tests/e2e/jobs/flood.py
proc_rss_kb() { awk '/^VmRSS/ {print $2}' /proc/$1/status; }
proc_fds() { ls /proc/$1/fd | wc -l; }

# --- bounded: a running job holding the flood ----------------------------------------------------
write_watch_job watch.lua
start_http_job job.log watch.lua chk
wait_until "a few batches" bash -c "[[ \$(wc -l <chk/w/progress/progress.jsonl) -ge 3 ]]"
curl -sf "$base/metrics" >/dev/null
rss0=$(proc_rss_kb $pid) fds0=$(proc_fds $pid)
batches0=$(wc -l <chk/w/progress/progress.jsonl)
python3 "$flood" "${base##*:}" 2000 6 >flood.txt &
fl=$!
sleep 4
rss1=$(proc_rss_kb $pid) fds1=$(proc_fds $pid)
batches1=$(wc -l <chk/w/progress/progress.jsonl)
wait $fl
cat flood.txt
echo "during the flood: RSS $rss0 -> $rss1 KB, descriptors $fds0 -> $fds1, batches $batches0 -> $batches1"
((fds1 - fds0 <= 256 + 8)) || fail "descriptors grew from $fds0 to $fds1 under the flood"
((rss1 - rss0 <= 16384)) || fail "RSS grew from $rss0 to $rss1 KB under the flood"
((batches1 - batches0 >= 8)) || fail "batches stalled under the flood: $batches0 -> $batches1"
wait_until "served again after the flood" curl -sf -m 2 "$base/healthz"
kill -TERM $pid; wait $pid || true
pass "2,000 idle connections: at most the limit held (+$((fds1 - fds0)) descriptors, +$((rss1 - rss0)) KB), batches went on"

# --- idle connections cost the server's thread no CPU --------------------------------------------
# The engine runs on the main thread; the HTTP server on its own (libmicrohttpd's "MHD-single").
# Only the server's CPU can take the engine's: with 2,000 sockets open and silent it must stay
# near zero. Counted in clock ticks of that thread alone, so a busy machine cannot fake it.
cat >busy.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "rate", rowsPerSecond = 100000 }
  :map(function(r) local x = 0; for i = 1, 20 do x = x + (r.value * i) % 7 end; r.x = x; return r end)
  :filter(function(r) return r.x % 3 == 0 end)
  :write_stream{ format = "noop", queryName = "busy", checkpointLocation = "chk3",
                 trigger = { processingTime = "200 milliseconds" } }
LUA
start_http_job busy.log busy.lua  # the rate source makes one batch a second
wait_until "the first batches" bash -c "[[ \$(wc -l <chk3/progress/progress.jsonl 2>/dev/null) -ge 3 ]]"
server_tid=
for t in /proc/$pid/task/*; do [[ $(<"$t/comm") == MHD-* ]] && server_tid=${t##*/}; done
[[ -n $server_tid ]] || fail "no HTTP server thread in /proc/$pid/task"
ticks() { awk '{ print $14 + $15 }' /proc/$pid/task/$server_tid/stat; }
hz=$(getconf CLK_TCK)
python3 "$flood" "${base##*:}" 2000 60 >flood.txt &
fl=$!
wait_until "the flood's sockets" grep -q opened flood.txt
sleep 0.5  # the server accepts (and closes past its limit) what the flood opened
c0=$(ticks) b0=$(wc -l <chk3/progress/progress.jsonl)
sleep 3
c1=$(ticks) b1=$(wc -l <chk3/progress/progress.jsonl)
# a stop does not wait for the idle connections to time out (SR_HTTP_TIMEOUT_S, 10 s)
kill -TERM $pid
for i in $(seq 1 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && fail "streamrun still running 5 s after SIGTERM, with idle connections open"
wait $pid || true
kill $fl; wait $fl || true
echo "server thread over 3 s of 2,000 idle connections: $((c1 - c0)) ticks of $((3 * hz)); batches $b0 -> $b1"
# 1% of the thread's wall time, and at least two ticks of rounding
(( (c1 - c0) * 100 <= 3 * hz || c1 - c0 <= 2 )) || fail "the server's thread used $((c1 - c0)) ticks in 3 s on idle connections"
((b1 - b0 >= 2)) || fail "batches stalled while the connections stayed open: $b0 -> $b1"
pass "2,000 idle connections cost the server's thread $((c1 - c0)) clock ticks in 3 s; batches went on"
finish
