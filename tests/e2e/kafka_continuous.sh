# Kafka -> map -> filter -> Kafka under the continuous trigger (the low-latency mode), on
# `streamrun --kafka-mock` with kcat as the independent client: kill -9 at each commit point
# and at random while messages keep coming; every message is in the output topic exactly once.
# The restarts run continuous too, so replays go through its source and sink paths.
source "$(dirname "$0")/lib.sh"
command -v kcat >/dev/null || fail "kcat is needed (apt-get install kcat)"

coproc MOCK { exec "$SR_BIN" --kafka-mock --topic cin:4 --topic cout:3 2>/dev/null; }
trap 'kill -9 "$MOCK_PID" $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
read -r -t 10 BOOT <&"${MOCK[0]}" || fail "--kafka-mock printed no bootstrap servers"

cat >job.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], subscribe = "cin",
                startingOffsets = "earliest", maxOffsetsPerTrigger = 400 }
  :map(function(r) return { key = r.key, value = r.value .. "!" } end)
  :filter(function(r) return r.value:sub(1, 4) ~= "skip" end)
  :write_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], topic = "cout",
                 checkpointLocation = "chk", trigger = { continuous = "1 second" } }
LUA

sent=0
produce() { # N: N more messages m-<i>, and one "skip" message the filter drops
  local from=$sent
  sent=$((sent + $1))
  { for ((i = from; i < sent; i++)); do echo "k$i:m-$i"; done; echo "s$sent:skip-$sent"; } |
    kcat -b "$BOOT" -P -t cin -K:
}
out_lines() { kcat -b "$BOOT" -C -t cout -e -o beginning -q 2>/dev/null; }
# Runs the job (continuous) until the output holds every message sent so far, then stops it.
run_until_caught_up() {
  "$SR_BIN" job.lua "$BOOT" 2>"$WORK/run.err" &
  local pid=$! n=0
  for _ in $(seq 600); do
    n=$(out_lines | wc -l)
    [[ $n -ge $sent ]] && break
    sleep 0.1
  done
  kill -TERM "$pid"
  local c=0
  wait "$pid" || c=$?
  # 130: the stop came in the middle of a batch, which re-runs at the next start
  [[ $c == 0 || $c == 130 ]] || fail "the continuous run stopped with $c: $(tail -3 "$WORK/run.err")"
  [[ $n -ge $sent ]] || fail "the continuous run wrote $n of $sent messages in 60 s"
}
check_exactly_once() {
  out_lines | sort >got.txt
  for ((i = 0; i < sent; i++)); do echo "m-$i!"; done | sort >want.txt
  cmp -s want.txt got.txt ||
    fail "$1: $(comm -13 want.txt got.txt | wc -l) extra, $(comm -23 want.txt got.txt | wc -l) missing, $(uniq -d got.txt | wc -l) twice"
}

# 1. kill -9 at each step of a batch; the continuous restart finishes the input.
produce 3000
b=1
for point in after_offsets after_sink_write after_sink_commit after_commit_log; do
  set +e
  SR_CRASH_AT="$point:$b" timeout 60 "$SR_BIN" job.lua "$BOOT" 2>/dev/null
  c=$?
  set -e
  assert_eq "crash at $point kills the process" 137 "$c"
  run_until_caught_up
  check_exactly_once "after a crash at $point"
  pass "continuous: kill -9 at $point of batch $b, restart: every message once"
  b=$(($(ls chk/commits | sort -n | tail -1) + 2))
  produce 1000
done

# 2. kill -9 at random while messages keep coming.
RANDOM=31
for round in $(seq 1 8); do
  produce 500
  "$SR_BIN" job.lua "$BOOT" 2>/dev/null &
  pid=$!
  nap "0.$((RANDOM % 6 + 2))"
  produce 300
  nap "0.$((RANDOM % 3 + 1))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
run_until_caught_up
check_exactly_once "after 8 random kill -9"
pass "continuous: 8 random kill -9 while messages arrived: $sent messages once"
finish
