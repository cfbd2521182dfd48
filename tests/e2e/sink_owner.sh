# A sink path belongs to one query. Two queries run one after the other on one json (or csv)
# path: the second is refused at start, naming both query ids, instead of taking the first
# one's batches for its own and skipping its rows as "already committed". A Delta table may
# have several writers, as in Delta itself: each query's batches are its own txn (appId = its
# query id), so the second query's rows are all written, and a restart of either writes
# nothing twice.
source "$(dirname "$0")/lib.sh"

rows_file() { # DIR N FIRST: N rows with ids FIRST.. as one file
  local body="" i
  for ((i = 0; i < $2; i++)); do body+="{\"id\":$(($3 + i))}"$'\n'; done
  drop_file "$1" "f$3.json" "$body"
}
job() { # FORMAT IN OUT CHK
  cat <<LUA
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "$2", schema = "id long", fileStableMs = 0 }
  :write_stream{ format = "$1", path = "$3", checkpointLocation = "$4", trigger = { availableNow = true } }
LUA
}

for fmt in json csv; do
  rm -rf in1 in2 out chk1 chk2
  rows_file in1 3000 0
  rows_file in2 3000 100000
  job $fmt in1 out chk1 >q1.lua
  job $fmt in2 out chk2 >q2.lua
  run_sr q1.lua
  assert_eq "$fmt: the first query" 0 "$code"
  run_sr q2.lua
  assert_eq "$fmt: the second query on the same path is refused ($err)" 2 "$code"
  id1=$(head -1 chk1/metadata | jq -r .id)
  id2=$(head -1 chk2/metadata | jq -r .id)
  assert_contains "$fmt: names the path's owner" "$err" "holds the output of another query (id $id1"
  assert_contains "$fmt: names this query" "$err" "this query's id is $id2"
  assert_eq "$fmt: the first query's rows only" 3000 "$(cat out/part-* | wc -l)"
  [[ ! -d chk2/commits || -z "$(ls chk2/commits)" ]] || fail "$fmt: the refused query committed nothing"
  # the owner itself goes on
  rows_file in1 10 5000
  run_sr q1.lua
  assert_eq "$fmt: the owner goes on" 0 "$code"
  assert_eq "$fmt: its new rows" 3010 "$(cat out/part-* | wc -l)"
  pass "$fmt sink: a second query on the path is refused naming both ids; the owner goes on"
done

# Delta: two writers, each its own txn
need_duckdb
rm -rf in1 in2 chk1 chk2 table
rows_file in1 3000 0
rows_file in2 3000 100000
job delta in1 table chk1 >d1.lua
job delta in2 table chk2 >d2.lua
run_sr d1.lua
assert_eq "delta: the first query" 0 "$code"
run_sr d2.lua
assert_eq "delta: the second query ($err)" 0 "$code"
rows_file in1 5 9000
run_sr d1.lua
assert_eq "delta: the first again" 0 "$code"
run_sr d2.lua
assert_eq "delta: the second again, nothing new" 0 "$code"
got=$(duck "SELECT count(*) AS n, count(DISTINCT id) AS d FROM read_parquet($(live_files table))")
assert_eq "delta: both queries' rows, once each" '{"n":6005,"d":6005}' "$got"
txns=$(cat table/_delta_log/*.json | jq -r 'select(.txn) | .txn.appId' | sort -u | wc -l)
assert_eq "delta: one txn appId per query" 2 "$txns"
pass "delta sink: two queries on one table each write all their rows (a txn per query id)"

# Delta: the checkpoint's metadata deleted or replaced while a batch it committed to the table
# is not in commits/: refused, instead of a new query id writing the batch again.
rm -rf in1 chk1 table other
rows_file in1 1000 0
job delta in1 table chk1 >d1.lua
crash_at after_sink_commit:0 d1.lua
cp chk1/metadata metadata.orig
rm chk1/metadata
run_sr d1.lua
assert_eq "metadata deleted: refused ($err)" 2 "$code"
assert_contains "names metadata" "$err" "chk1/metadata is missing"
mkdir -p other in_none && job delta in_none table_none other/chk >o.lua && run_sr o.lua
cp other/chk/metadata chk1/metadata
run_sr d1.lua
assert_eq "metadata replaced: refused ($err)" 2 "$code"
assert_contains "names metadata" "$err" "chk1/metadata gives the query id"
cp metadata.orig chk1/metadata
run_sr d1.lua
assert_eq "metadata restored: recovers" 0 "$code"
got=$(duck "SELECT count(*) AS n FROM read_parquet($(live_files table))")
assert_eq "delta: the batch once" '{"n":1000}' "$got"
pass "delta sink: a deleted or replaced metadata with a batch in the table is refused, naming the file"
finish
