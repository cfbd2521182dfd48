# Exactly-once into Delta across kill -9: at each step of a batch (crash points), then at random
# instants while files keep arriving; plain appends (partitioned) and mergeKeys (duplicated
# input). The table is read by DuckDB's own replay of the log: every input row exactly once,
# one txn per batch, and the delta source reads the same rows back.
source "$(dirname "$0")/lib.sh"
need_duckdb

cat >job.lua <<'LUA'
local sr = require "streamrun"
local merge = arg[2] == "merge"
sr.read_stream{ format = "json", path = "in", schema = "id long, v long", maxFilesPerTrigger = 2 }
  :map(function(r) r.p = r.id % 3; r.v2 = r.v * 2; return r end)
  :write_stream{ format = "delta", path = "out", partitionBy = not merge and "p" or nil,
                 mergeKeys = merge and "id" or nil, checkpointLocation = "chk", queryName = "crash",
                 trigger = arg[1] == "drain" and { availableNow = true } or "50 milliseconds" }
LUA

make_file() { # N [dup]: 50 rows with ids N*1000+i; with dup, 10 more repeat file N-1's first ids
  local n=$1 body="" i
  for ((i = 0; i < 50; i++)); do body+="{\"id\":$((n * 1000 + i)),\"v\":$i}"$'\n'; done
  if [[ ${2:-} == dup && -f in/f$(printf %05d $((n - 1))).json ]]; then
    for ((i = 0; i < 10; i++)); do body+="{\"id\":$(((n - 1) * 1000 + i)),\"v\":$i}"$'\n'; done
  fi
  drop_file in "f$(printf %05d "$n").json" "$body"
}

check_exactly_once() { # EXPECTED_ROWS
  local got txns
  got=$(duck "SELECT count(*) AS n, count(DISTINCT id) AS d FROM read_parquet($(live_files out), hive_partitioning=false)")
  assert_eq "rows in the table" "{\"n\":$1,\"d\":$1}" "$got"
  txns=$(cat out/_delta_log/*.json | jq -r 'select(.txn) | .txn.version' | sort -n | uniq -d | head -3)
  [[ -z "$txns" ]] || fail "a batch was committed twice: $txns"
}

# 1. a crash at each step of a batch, then a restart that finishes the input
n=0
for mode in plain merge; do
  for point in after_offsets after_sink_write after_state_commit after_sink_commit after_commit_log; do
    rm -rf in out chk
    for i in 1 2 3 4; do make_file $((n++)) $([[ $mode == merge ]] && echo dup); done
    crash_at "$point:1" job.lua drain $mode
    run_sr job.lua drain $mode
    assert_eq "restart after $point ($err)" 0 "$code"
    check_exactly_once 200
    pass "$mode: kill -9 at $point of batch 1, restart: every row exactly once"
  done
done

# 2. random kills while files arrive, with duplicated ids for mergeKeys
for mode in plain merge; do
  rm -rf in out chk
  files=0
  RANDOM=7
  for round in $(seq 1 10); do
    for i in 1 2 3; do make_file $((files++)) $([[ $mode == merge ]] && echo dup); done
    kill_after "0.$((RANDOM % 6 + 2))" job.lua run $mode
  done
  run_sr job.lua drain $mode
  assert_eq "final drain ($err)" 0 "$code"
  check_exactly_once $((files * 50))
  pass "$mode: 10 random kill -9 while $files files arrived: $((files * 50)) rows exactly once"
done

# 3. the delta source reads the table the crashes left: the same rows
cat >copy.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "delta", path = "out" }
  :write_stream{ format = "json", path = "copy", checkpointLocation = "chk_copy", queryName = "copy",
                 trigger = { availableNow = true } }
LUA
run_sr copy.lua
assert_eq "delta -> json ($err)" 0 "$code"
assert_eq "the delta source reads every row once" "$((files * 50)) $((files * 50))" \
  "$(sink_rows copy | wc -l) $(sink_rows copy | jq -r .id | sort -u | wc -l)"
pass "the delta source reads the table back: every row once"
finish
