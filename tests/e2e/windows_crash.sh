# Windowed aggregation across kill -9: at each crash point of a batch (one with data, and the
# final no-data batch), then at random instants while files arrive. After restarts, the output
# (window rows, append mode, json sink) must equal an uninterrupted run's exactly: no window
# lost, none written twice, no count changed by a replayed batch or a state rollback.
source "$(dirname "$0")/lib.sh"
JOB=$SR_SOURCE_DIR/scripts/bench_jobs/window.lua

luajit "$SR_SOURCE_DIR/bench/gen_bids.lua" 40000 bids 8 >/dev/null
rows() { cat "$1"/part-* 2>/dev/null | jq -c '[.window.start, .auction, .bids, .top]' | LC_ALL=C sort; }
check_out() { # DIR WHAT
  local got
  got=$(rows "$1")
  [[ "$got" == "$(cat expected.txt)" ]] ||
    fail "$2: output differs from the uninterrupted run: $(diff <(echo "$got") expected.txt | head -6)"
  [[ -z "$(ls -A "$1" | grep -v -e '^part-' -e '^_streamrun_metadata$')" ]] || fail "$2: stray files: $(ls -A "$1")"
}

run_sr "$JOB" bids out_ref chk_ref 1
assert_eq "uninterrupted run" 0 "$code"
rows out_ref >expected.txt
nbatches=$(wc -l <chk_ref/progress/progress.jsonl)
[[ $(wc -l <expected.txt) -gt 100 ]] || fail "too few window rows: $(wc -l <expected.txt)"
assert_eq "the last batch is a no-data batch" 0 "$(tail -1 chk_ref/progress/progress.jsonl | jq .numInputRows)"

# 1. Each crash point, in batch 3 and in the final no-data batch.
for batch in 3 $((nbatches - 1)); do
  for point in after_offsets after_sink_write after_state_commit after_sink_commit after_commit_log; do
    rm -rf out chk
    crash_at "$point:$batch" "$JOB" bids out chk 1
    run_sr "$JOB" bids out chk 1
    assert_eq "restart after $point:$batch" 0 "$code"
    check_out out "$point:$batch"
  done
done
pass "kill -9 at every crash point of batch 3 and of the final no-data batch: output equals an uninterrupted run's"

# 2. Random kills while the files arrive, under a processing-time trigger.
rm -rf in out chk
mkdir -p in
RANDOM=11
files=(bids/*)
next=0
for round in $(seq 1 8); do
  for _ in 1 2; do
    if ((next < ${#files[@]})); then
      cp "${files[next]}" "in/.tmp" && mv in/.tmp "in/$(basename "${files[next]}")"
      next=$((next + 1))
    fi
  done
  kill_after "0.$((RANDOM % 4 + 1))" "$JOB" in out chk 1 json "20 milliseconds"
done
run_sr "$JOB" in out chk 1
assert_eq "final drain" 0 "$code"
check_out out "random kills"
pass "8 random kill -9 while files arrived: output equals an uninterrupted run's"
finish
