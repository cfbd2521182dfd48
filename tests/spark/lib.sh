# Spark's own streaming tests, ported (sourced by tests/spark/<Suite>.sh).
#
# A case is a job (the query of Spark's test) and its steps, in Spark's words:
#   spark_case "test name"                 starts a case in a fresh folder (the suite is the
#                                          file's name: tests/spark/SUITE.sh)
#   job <<'LUA' ... LUA                    the query; `sr`, `spark` (spark.lua) are in scope
#   add_data INPUT V...                    Spark's AddData: one file in in/INPUT/ = one batch;
#                                          a V is a JSON row, or a number or a word for
#                                          {"value": V} (MemoryStream[Int] or [String])
#   add_tuples INPUT A,B ...               AddData of tuples: {"_1": A, "_2": B}
#   add_file INPUT CONTENT                 a file of any text (Spark's AddTextFileData)
#   process_all_available                  runs the query now (with nothing to check)
#   check_new_answer ROW...                Spark's CheckNewAnswer: the rows of the batches
#                                          written since the last check, as a multiset
#   check_answer ROW...                    CheckAnswer: every row the sink holds (complete
#                                          mode: the last batch's, as Spark's memory sink)
#   check_last_batch ROW...                CheckLastBatch: the rows of the last batch
#   assert_num_state_rows N                numRowsTotal of the last batch (stateOperators[0])
#   assert_state_rows TOTAL UPDATED [DROPPED [REMOVED]]
#                                          StateStoreMetricsTest's assertNumStateRows: total of
#                                          the last batch, the others summed over the batches
#                                          since the last such check; "a,b" for two operators
#                                          (the one nearest the sink first, as Spark's); see
#                                          check_eventually for when it is taken
#   assert_custom_metric NAME N            assertStateOperatorCustomMetric: stateOperators[0].NAME
#                                          summed over the batches since the last check
#   assert_dropped_by_watermark N          numRowsDroppedByWatermark of the last batch with input
#   event_time FIELD                       prints eventTime.FIELD of the last batch with input
#   assert_watermark S                     eventTime.watermark of the last batch (seconds)
#   assert_refused TEXT                    `streamrun --check` refuses the job, saying TEXT
#   assert_start_fails TEXT...             running the job fails at its start, saying each TEXT
#   set_clock MS                           the batch clock of the runs that follow (Spark's
#                                          StreamManualClock; streamrun's SR_TEST_CLOCK)
#   process_trigger                        one processingTime trigger with no new data (Spark's
#                                          AdvanceManualClock with nothing added): the query runs
#                                          with a 100 ms trigger until one more batch commits
#   new_query                              a second testStream in the same test: fresh folders
#   purge_commits_and_sink                 Spark's "recovery" step: old commits and sink gone
#   assert_eq_text WHAT EXPECTED ACTUAL    a plain comparison, for a case's own checks
#   assert_progress JQ EXPECTED            any number of the last batch's progress
#   assert_event_stats MIN MAX AVG WM      eventTime of the last batch with input (seconds)
# A ROW is the answer tuple's cells joined by "," (spark.test_stream writes them so).
# The query runs when a check needs it, after the AddData before it: `availableNow` runs the
# new batch and the no-data batch Spark runs after it, resuming from the checkpoint each time
# (Spark's StopStream/StartStream are free). Every failed check names the case and the step.
# `bash SUITE.sh` runs every case of a suite; `bash SUITE.sh "test name"` only that one (ctest
# runs each case so: CMakeLists.txt lists the spark_case lines).
set -euo pipefail
SR_BIN=${SR_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/streamrun}
SPARK_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sr-spark.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SUITE=$(basename "$0" .sh)
ONLY=${1:-}
ncases=0 nsteps=0 active=0 case_name="" pending=0 checked=-1 nfiles=0 progress_seen=0

fail() {
  echo "FAIL: $case_name, step $nsteps: $*" >&2
  [[ -s $WORK/c/.stderr ]] && grep -v "^\s" "$WORK/c/.stderr" | sed "s/^/  /" | head -3 >&2
  exit 1
}

spark_case() { # NAME
  ((active)) && echo "ok - $case_name"
  case_name="$SUITE: $1"
  active=1
  [[ -z $ONLY || $ONLY == "$1" ]] || { active=0; return 0; }
  ncases=$((ncases + 1)) nsteps=0 pending=0 checked=-1 nfiles=0 progress_seen=0
  unset SR_TEST_CLOCK
  rm -rf "$WORK/c"
  mkdir -p "$WORK/c/out" "$WORK/c/in/src" "$WORK/c/in/dir" # the folders the file source cases read
  cd "$WORK/c"
}

job() {
  ((active)) || { cat >/dev/null; return 0; }
  { printf 'package.path = [[%s/?.lua;]] .. package.path\n' "$SPARK_LIB"
    printf 'local sr = require "streamrun"\nlocal spark = require "spark"\n'
    cat; } >job.lua
}

add_file() { # INPUT CONTENT
  ((active)) || return 0
  mkdir -p "in/$1"
  nfiles=$((nfiles + 1))
  printf '%s' "$2" >"in/$1/.tmp"
  mv "in/$1/.tmp" "in/$1/$(printf %05d $nfiles).json"
  pending=1
}

add_data() { # INPUT V...
  local input=$1 body="" v
  shift
  for v in "$@"; do
    if [[ $v == "{"* ]]; then body+="$v"$'\n'
    elif [[ $v =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then body+="{\"value\":$v}"$'\n'
    else body+="{\"value\":\"$v\"}"$'\n'; fi
  done
  add_file "$input" "$body"
}

add_tuples() { # INPUT A,B,... : numbers stay numbers, anything else becomes a string
  local input=$1 body="" t row i c
  shift
  for t in "$@"; do
    IFS=, read -ra cells <<<"$t"
    row="" i=0
    for c in "${cells[@]}"; do
      i=$((i + 1))
      [[ $c =~ ^-?[0-9]+(\.[0-9]+)?$ || $c == null ]] || c="\"$c\""
      row+="${row:+,}\"_$i\":$c"
    done
    body+="{$row}"$'\n'
  done
  add_file "$input" "$body"
}

# Runs the query over what was added: every batch it can run, then it ends (availableNow).
process_all_available() {
  ((active)) || return 0
  local code
  set +e
  timeout 60 "$SR_BIN" --no-reload job.lua 2>.stderr
  code=$?
  set -e
  pending=0
  [[ $code == 0 ]] || fail "streamrun exited with $code"
}

sync_query() { nsteps=$((nsteps + 1)); if ((pending)); then process_all_available; fi; }

# The batch ids written so far, in order.
batch_ids() { ls out | sed -n 's/^batch-\([0-9]*\)\.txt$/\1/p' | sort -n; }

rows_of() { # BATCH_ID...: their rows, sorted (a multiset)
  local b
  for b in "$@"; do cat "out/batch-$b.txt"; done | LC_ALL=C sort
}

expect_rows() { # WHAT GOT ROW...
  local what=$1 got=$2 want
  shift 2
  want=$( ((${#@})) && printf '%s\n' "$@" | LC_ALL=C sort || true)
  [[ "$got" == "$want" ]] || fail "$what: expected [$(echo $want)], got [$(echo $got)]"
}

check_new_answer() {
  ((active)) || return 0
  sync_query
  local ids=() b
  for b in $(batch_ids); do ((b > checked)) && ids+=("$b"); done
  ((${#ids[@]})) && checked=${ids[-1]}
  expect_rows CheckNewAnswer "$(rows_of "${ids[@]}")" "$@"
}

check_answer() {
  ((active)) || return 0
  sync_query
  local ids=($(batch_ids))
  ((${#ids[@]})) && checked=${ids[-1]}
  if [[ $(sed -n 's/.*outputMode = "\([a-z]*\)".*/\1/p' job.lua | head -1) == complete ]]; then
    expect_rows "CheckAnswer (complete)" "$(rows_of "${ids[-1]}")" "$@"
  else
    expect_rows CheckAnswer "$(rows_of "${ids[@]}")" "$@"
  fi
}

check_last_batch() {
  ((active)) || return 0
  sync_query
  local ids=($(batch_ids))
  ((${#ids[@]})) && checked=${ids[-1]}
  expect_rows CheckLastBatch "$(rows_of "${ids[-1]}")" "$@"
}

last_progress() { tail -1 chk/progress/progress.jsonl; }

assert_eq_text() { # WHAT EXPECTED ACTUAL
  [[ "$2" == "$3" ]] || fail "$1: expected $2, got $3"
}

assert_progress() { # JQ EXPECTED: a number of the last batch's progress
  ((active)) || return 0
  sync_query
  local got
  got=$(last_progress | jq -c "$1")
  [[ "$got" == "$2" ]] || fail "progress $1: expected $2, got $got"
}

assert_num_state_rows() { assert_progress '.stateOperators[0].numRowsTotal' "$1"; }

# Spark's StateStoreMetricsTest checks inside `eventually`: it passes when the numbers match at
# some moment, so after a CheckNewAnswer with no rows to wait for it may see the query before
# the no-data batch that follows. These checks pass when they match after any batch since the
# last check (at the earliest one), and the next check counts from there, as Spark's does.
state_rows_at() { # PROGRESS_JSON_ARRAY: "total updated dropped removed" over those batches
  # both list the operators from the sink's end
  jq -r '(.[-1].stateOperators | map(.numRowsTotal) | join(",")) + " " +
    ([.[].stateOperators] | transpose | map(map(.numRowsUpdated) | add) | join(",")) + " " +
    ([.[].stateOperators] | transpose | map(map(.numRowsDroppedByWatermark) | add) | join(",")) + " " +
    ([.[].stateOperators] | transpose | map(map(.numRowsRemoved) | add) | join(","))' <<<"$1"
}

# Runs CHECK_FUNCTION WANT on the batches since the last check, then on longer and longer runs
# of them, and sets progress_seen after the first that matches; fails with the whole run's.
check_eventually() { # WHAT CHECK_FUNCTION WANT
  local n i got=""
  n=$(wc -l <chk/progress/progress.jsonl)
  for ((i = progress_seen + 1; i <= n; i++)); do
    got=$("$2" "$(sed -n "$((progress_seen + 1)),${i}p" chk/progress/progress.jsonl | jq -s -c .)")
    if [[ "$got" == "$3" ]]; then progress_seen=$i; return 0; fi
  done
  fail "$1: expected [$3], got [$got]"
}

state_fields=4
state_rows_asserted() { state_rows_at "$1" | cut -d' ' -f1-$state_fields; }

assert_state_rows() { # TOTAL UPDATED [DROPPED [REMOVED]]
  ((active)) || return 0
  sync_query
  state_fields=$#
  check_eventually "state rows (total updated dropped removed)" state_rows_asserted "$*"
}

metric_name=""
custom_metric_sum() { jq "map(.stateOperators[0].$metric_name) | add" <<<"$1"; }

assert_custom_metric() { # NAME N
  ((active)) || return 0
  sync_query
  metric_name=$1
  check_eventually "$1 since the last check" custom_metric_sum "$2"
}

assert_dropped_by_watermark() { # N
  ((active)) || return 0
  sync_query
  local got
  got=$(jq -c 'select(.numInputRows > 0) | .stateOperators[0].numRowsDroppedByWatermark' \
    chk/progress/progress.jsonl | tail -1)
  [[ "$got" == "$1" ]] || fail "numRowsDroppedByWatermark: expected $1, got $got"
}

event_time() { # FIELD
  sync_query
  jq -r "select(.numInputRows > 0) | .eventTime.$1" chk/progress/progress.jsonl | tail -1
}

assert_watermark() { assert_progress .eventTime.watermark "\"$(iso "$1")\""; }

assert_refused() { # TEXT
  ((active)) || return 0
  nsteps=$((nsteps + 1))
  local code
  set +e
  timeout 60 "$SR_BIN" --check job.lua >/dev/null 2>.stderr
  code=$?
  set -e
  [[ $code == 2 ]] || fail "--check exited with $code, expected 2 (refused)"
  grep -qF -- "$1" .stderr || fail "the refusal does not say [$1]: $(cat .stderr)"
}

# Spark's "recovery" step: the commit log purged up to its latest entry, the sink cleared.
purge_commits_and_sink() {
  ((active)) || return 0
  sync_query
  local latest
  latest=$(ls chk/commits | sort -n | tail -1)
  find chk/commits -type f ! -name "$latest" -delete
  rm -f out/*
  checked=-1
}

set_clock() { # MS
  ((active)) || return 0
  sync_query # what was added before runs at the clock before
  export SR_TEST_CLOCK=$WORK/c/.clock
  echo "$1" >"$SR_TEST_CLOCK"
}

process_trigger() {
  ((active)) || return 0
  sync_query
  local before pid i
  before=$(wc -l <chk/progress/progress.jsonl)
  SPARK_TRIGGER="100 milliseconds" "$SR_BIN" --no-reload job.lua 2>.stderr &
  pid=$!
  for ((i = 0; i < 200; i++)); do
    (($(wc -l <chk/progress/progress.jsonl) > before)) && break
    sleep 0.05
  done
  kill -TERM "$pid"
  wait "$pid" || fail "streamrun with a processingTime trigger exited with $?"
  (($(wc -l <chk/progress/progress.jsonl) > before)) || fail "no batch ran at the trigger"
}

assert_start_fails() { # TEXT...
  ((active)) || return 0
  nsteps=$((nsteps + 1))
  local code t
  set +e
  timeout 60 "$SR_BIN" --no-reload job.lua >/dev/null 2>.stderr
  code=$?
  set -e
  [[ $code != 0 ]] || fail "the query ran; expected it to fail at its start"
  for t in "$@"; do grep -qF -- "$t" .stderr || fail "the failure does not say [$t]: $(head -1 .stderr)"; done
}

new_query() {
  ((active)) || return 0
  rm -rf chk out in
  mkdir -p out in
  checked=-1 pending=0 progress_seen=0
}

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.000Z; }

assert_event_stats() { # MIN MAX AVG WATERMARK (seconds), of the last batch with input rows
  ((active)) || return 0
  sync_query
  local got want
  got=$(jq -c 'select(.numInputRows > 0) | [.eventTime.min, .eventTime.max, .eventTime.avg, .eventTime.watermark]' \
    chk/progress/progress.jsonl | tail -1)
  want="[\"$(iso "$1")\",\"$(iso "$2")\",\"$(iso "$3")\",\"$(iso "$4")\"]"
  [[ "$got" == "$want" ]] || fail "eventTime: expected $want, got $got"
}

finish() {
  ((active)) && echo "ok - $case_name"
  ((ncases)) || { echo "no case named [$ONLY] in $SUITE" >&2; exit 1; }
  echo "$ncases cases passed"
}
