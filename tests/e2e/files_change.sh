# Files that change after they are listed, and files of a logged batch that are gone.
# Spark only promises files placed whole (renamed in); these producers do worse:
#   1. a file written in place, in pieces: read once it is stable (fileStableMs), whole;
#   2. rows appended to a file after its batch ran: reported (a warning naming the file), never
#      read twice;
#   3. a file truncated after its batch was logged: an error naming the file, never a signal
#      (the text source used to map files: SIGBUS) nor a half batch;
#   4. a file of a logged batch that is gone: every restart fails naming it, until
#      ignoreMissingFiles (Spark's option) skips it, counted as numMissingFiles.
source "$(dirname "$0")/lib.sh"

rows() { # FIRST N: N JSON lines with ids FIRST..
  local i
  for ((i = $1; i < $1 + $2; i++)); do echo "{\"id\":$i}"; done
}
job() { # FORMAT TRIGGER [EXTRA OPTIONS]
  cat <<LUA
local sr = require "streamrun"
sr.read_stream{ format = "$1", path = "in", ${3:-} }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", trigger = $2 }
LUA
}
ids() { cat out/part-* 2>/dev/null | jq -r '.id // .value' | sort -n; }

# 1. Written in place: 100 rows, then the rest in pieces 0.2 s apart, while the query polls
# (fileStableMs well above the pauses, so that a loaded machine does not make one look final).
mkdir in
job json '"50 milliseconds"' 'fileStableMs = 1500' >run.lua
"$SR_BIN" run.lua 2>stderr1 &
q=$!
rows 0 100 >in/a.json
for piece in 1 2 3 4 5 6 7 8 9 10; do
  sleep 0.2
  rows $((piece * 290 - 190)) 290 >>in/a.json
done
for _ in $(seq 100); do [[ $(ids | wc -l) -ge 3000 ]] && break; sleep 0.1; done
kill -TERM "$q"
wait "$q" || fail "the query failed: $(cat stderr1)"
assert_eq "every row of the file written in place" 3000 "$(ids | wc -l)"
assert_eq "each once" 3000 "$(ids | uniq | wc -l)"
assert_eq "one batch" 1 "$(ls out/_streamrun_metadata | wc -l)"
pass "a file written in place is read once stable, whole (3000 rows, one batch)"

# 2. Appended to after its batch: reported, naming the file; not read again.
"$SR_BIN" run.lua 2>stderr2 &
q=$!
rows 5000 10 >>in/a.json
for _ in $(seq 50); do grep -q "changed after it was read" stderr2 && break; sleep 0.1; done
kill -TERM "$q"
wait "$q" || fail "the query failed: $(cat stderr2)"
assert_contains "a warning naming the file" "$(cat stderr2)" "in/a.json changed after it was read in a batch"
assert_contains "what changed" "$(cat stderr2)" "bytes then,"
assert_eq "no row read twice" 3000 "$(ids | wc -l)"
pass "rows appended after the batch are reported with the file's name, and nothing is read twice"

# 3. Truncated after its batch was logged (killed before the read), for json and text.
for fmt in json text; do
  rm -rf in out chk
  mkdir in
  rows 0 3000 >in/.b.tmp && mv in/.b.tmp in/b.txt
  job $fmt '{ availableNow = true }' 'fileStableMs = 0' >t.lua
  crash_at after_offsets:0 t.lua
  truncate -s 1000 in/b.txt
  run_sr t.lua
  assert_eq "$fmt: a truncated file is an error, not a signal ($err)" 1 "$code"
  assert_contains "$fmt: names the file" "$err" "in/b.txt was truncated after it was listed for this batch"
  assert_contains "$fmt: and the sizes" "$err" "bytes then, 1000 now"
  pass "$fmt: a file truncated after its batch was logged stops the query naming it (exit 1)"
done

# 4. A file of a logged batch is gone: every restart fails naming it; ignoreMissingFiles skips it.
rm -rf in out chk
mkdir in
rows 0 10 >in/.c.tmp && mv in/.c.tmp in/c.json
rows 100 10 >in/.d.tmp && mv in/.d.tmp in/d.json
job json '{ availableNow = true }' 'fileStableMs = 0' >m.lua
crash_at after_offsets:0 m.lua
rm in/c.json
for attempt in 1 2; do
  run_sr m.lua
  assert_eq "restart $attempt with a file gone" 1 "$code"
  assert_contains "names the file" "$err" "a file of this batch is gone: in/c.json"
  assert_contains "gives the way out" "$err" "ignoreMissingFiles"
done
job json '{ availableNow = true }' 'fileStableMs = 0, ignoreMissingFiles = true' >m.lua
run_sr m.lua
assert_eq "with ignoreMissingFiles ($err)" 0 "$code"
assert_contains "a warning names it" "$err" "in/c.json"
assert_eq "the other file's rows" "$(seq 100 109)" "$(ids)"
assert_eq "numMissingFiles" 1 "$(jq -s '[.[].sources[0].metrics.numMissingFiles] | add' chk/progress/progress.jsonl)"
pass "a gone file fails every restart naming it; ignoreMissingFiles skips it, counted as numMissingFiles"
finish
