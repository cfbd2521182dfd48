# The benchmark's Nexmark queries (scripts/nexmark) give their recorded answers: each runs on
# 400,000 generated events into a json sink, and its rows (counted, and an md5 of them with keys
# and lines sorted) must equal scripts/nexmark/expected/<query>.tsv. This is the correctness
# check scripts/bench makes before it times a query; here it runs in CI, untimed.
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
finish
