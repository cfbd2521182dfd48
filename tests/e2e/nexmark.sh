# The benchmark's Nexmark queries (scripts/nexmark) give their recorded answers: each runs on
# 400,000 generated events into a json sink, and its rows (counted, and an md5 of them with keys
# and lines sorted) must equal scripts/nexmark/expected/<query>.tsv. This is the correctness
# check scripts/bench makes before it times a query; here it runs in CI, untimed. Then the
# row-view path across crashes: q2 and the stateful q7 killed at each step of their second
# batch and restarted still give the recorded answer.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || fail "jq is needed (apt-get install jq)"

for q in "$SR_SOURCE_DIR"/scripts/nexmark/q*.lua; do
  name=$(basename "$q" .lua)
  run_sr "$q" 400000 json "out-$name" "chk-$name"
  assert_eq "$name exit status ($err)" 0 "$code"
  n=$(cat "out-$name"/part-* 2>/dev/null | wc -l)
  sum=$(cat "out-$name"/part-* 2>/dev/null | jq -S -c . | sort | md5sum | cut -d' ' -f1)
  assert_eq "$name answer" "$(cat "$SR_SOURCE_DIR/scripts/nexmark/expected/$name.tsv")" "$(printf '%s\t%s' "$n" "$sum")"
  pass "nexmark $name: $n rows, the recorded answer"
done

for name in q2 q7; do
  for point in after_offsets after_sink_write after_sink_commit after_commit_log; do
    rm -rf "out-$name" "chk-$name"
    set +e
    SR_CRASH_AT="$point:1" timeout 60 "$SR_BIN" "$SR_SOURCE_DIR/scripts/nexmark/$name.lua" 400000 json "out-$name" "chk-$name" 2>/dev/null
    c=$?
    set -e
    assert_eq "$name: crash at $point kills the process" 137 "$c"
    run_sr "$SR_SOURCE_DIR/scripts/nexmark/$name.lua" 400000 json "out-$name" "chk-$name"
    assert_eq "$name: restart after $point ($err)" 0 "$code"
    n=$(cat "out-$name"/part-* 2>/dev/null | wc -l)
    sum=$(cat "out-$name"/part-* 2>/dev/null | jq -S -c . | sort | md5sum | cut -d' ' -f1)
    assert_eq "$name answer after a crash at $point" \
      "$(cat "$SR_SOURCE_DIR/scripts/nexmark/expected/$name.tsv")" "$(printf '%s\t%s' "$n" "$sum")"
  done
  pass "nexmark $name: kill -9 at each step of batch 1, restart: the recorded answer"
done
finish
