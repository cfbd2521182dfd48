# Exactly-once across kill -9: at every step of a batch (crash points), then at random instants
# while files keep arriving. Every input row must be in the output exactly once.
source "$(dirname "$0")/lib.sh"

cat >job.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "id long, v long", maxFilesPerTrigger = 2 }
  :map(function(r) r.v2 = r.v * 2; return r end)
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", queryName = "crash",
                 trigger = arg[1] == "drain" and { availableNow = true } or "50 milliseconds" }
LUA

make_file() { # N: a file of 50 rows with ids N*1000+i
  local n=$1 body="" i
  for ((i = 0; i < 50; i++)); do body+="{\"id\":$((n * 1000 + i)),\"v\":$i}"$'\n'; done
  drop_file in "f$(printf %05d "$n").json" "$body"
}

check_exactly_once() { # EXPECTED_ROWS
  local dups total
  dups=$(cat out/part-* | jq -r .id | sort | uniq -d | head -5)
  [[ -z "$dups" ]] || fail "duplicated ids: $dups"
  total=$(cat out/part-* | wc -l)
  assert_eq "rows out" "$1" "$total"
  [[ -z "$(ls -A out | grep -v -e '^part-' -e '^_streamrun_metadata$' -e '^\.part-')" ]] || fail "stray files in out: $(ls -A out)"
}

# 1. A crash at each step of a batch, each followed by a restart that finishes the input.
n=0
for point in after_offsets after_sink_write after_sink_commit after_commit_log; do
  rm -rf in out chk
  for i in 1 2 3 4; do make_file $((n++)); done
  crash_at "$point:1" job.lua drain
  run_sr job.lua drain
  assert_eq "restart after $point" 0 "$code"
  check_exactly_once 200
  pass "kill -9 at $point of batch 1, restart: every row exactly once"
done

# 2. Random kills while files arrive.
rm -rf in out chk
files=0
RANDOM=7
for round in $(seq 1 10); do
  for i in 1 2 3; do make_file $((files++)); done
  kill_after "0.$((RANDOM % 6 + 1))" job.lua
done
run_sr job.lua drain
assert_eq "final drain" 0 "$code"
check_exactly_once $((files * 50))
pass "10 random kill -9 while $files files arrived: $((files * 50)) rows exactly once"
finish
