# Delta end to end through the binary: files -> delta (partitioned, typed) read by DuckDB, a
# restart, delta -> files as a stream, mergeKeys across restarts, update mode refused, the
# static table, and the seed's example (Kafka -> parse JSON -> delta) on the mock cluster.
source "$(dirname "$0")/lib.sh"
need_duckdb

# Runs SQL over a table's live files: FILES in the SQL stands for read_parquet(...).
table_sql() { # TABLE SQL
  local files
  files=$(live_files "$1")
  duck "${2//FILES/read_parquet($files, hive_partitioning=true)}"
}

# 1. files -> delta, partitioned, with types the plan knows (timestamp) and ones it infers
for n in 1 2 3; do
  body=""
  for i in 1 2 3 4 5; do
    body+="{\"id\":$((n * 100 + i)),\"v\":$i,\"cat\":\"c$((i % 2))\",\"ts\":\"2026-11-23T10:00:0$i.001Z\"}"$'\n'
  done
  drop_file in "f$n.json" "$body"
done
cat >to_delta.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "id long, v long, cat string, ts timestamp",
                maxFilesPerTrigger = 1 }
  :map(function(r) r.half = r.v / 2; r.tags = {"a", "b"}; r.loc = {x = r.v, y = "s"}; return r end)
  :write_stream{ format = "delta", path = "table", partitionBy = "cat", checkpointLocation = "chk",
                 queryName = "to_delta", trigger = { availableNow = true } }
LUA
run_sr to_delta.lua
assert_eq "files -> delta exit ($err)" 0 "$code"
assert_eq "three batches, three commits" "00000000000000000002.json" "$(ls table/_delta_log | grep json | tail -1)"
head -3 table/_delta_log/00000000000000000000.json | grep -q '"protocol":{"minReaderVersion":1,"minWriterVersion":2}' ||
  fail "the first commit has the protocol"
grep -q '"metaData"' table/_delta_log/00000000000000000000.json || fail "the first commit has metaData"
[[ -d "table/cat=c0" && -d "table/cat=c1" ]] || fail "Hive-style partition directories"
got=$(table_sql table "SELECT count(*) AS n, sum(id) AS s, sum(half) AS h, min(ts) AS t, count(DISTINCT cat) AS c FROM FILES")
assert_eq "DuckDB reads every row" '{"n":15,"s":3045,"h":22.5,"t":"2026-11-23T10:00:01.001Z","c":2}' "$got"
types=$(table_sql table "SELECT string_agg(column_name || ' ' || column_type, ', ' ORDER BY column_name) AS t FROM (DESCRIBE SELECT * FROM FILES)")
assert_eq "types as DuckDB sees them" \
  '{"t":"cat VARCHAR, half DOUBLE, id BIGINT, loc STRUCT(x BIGINT, y VARCHAR), tags VARCHAR[], ts TIMESTAMP WITH TIME ZONE, v BIGINT"}' "$types"
grep -q '"sink":{[^}]*"description":"DeltaSink\[table\]"' chk/progress/* || fail "progress names the delta sink"
pass "files -> delta: partitioned, typed, every row read by DuckDB"

drop_file in f4.json '{"id":401,"v":1,"cat":"c1","ts":"2026-11-23T11:00:00Z"}
'
run_sr to_delta.lua
assert_eq "restart exit" 0 "$code"
got=$(table_sql table "SELECT count(*) AS n FROM FILES")
assert_eq "a restart adds only the new file" '{"n":16}' "$got"
pass "a restart appends only the new input"

# 2. delta -> files as a stream
cat >from_delta.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "delta", path = "table", maxFilesPerTrigger = 2 }
  :map(function(r) r.ts = sr.format_timestamp(r.ts); return r end)
  :write_stream{ format = "json", path = "copy", checkpointLocation = "chk_copy", queryName = "copy",
                 trigger = { availableNow = true } }
LUA
run_sr from_delta.lua
assert_eq "delta -> files exit ($err)" 0 "$code"
assert_eq "every row streamed out" 16 "$(sink_rows copy | wc -l)"
assert_eq "typed values come back" '{"cat":"c1","half":0.5,"id":101,"loc":{"x":1,"y":"s"},"tags":["a","b"],"ts":"2026-11-23T10:00:01.001Z","v":1}' \
  "$(sink_rows copy | jq -c 'select(.id == 101)')"
nbatches=$(ls chk_copy/commits | wc -l)
[[ $nbatches -ge 4 ]] || fail "maxFilesPerTrigger = 2 over 7 files makes at least 4 batches, got $nbatches"
drop_file in f5.json '{"id":501,"v":2,"cat":"c0","ts":"2026-11-23T12:00:00Z"}
'
run_sr to_delta.lua
run_sr from_delta.lua
assert_eq "delta -> files after a new commit" 17 "$(sink_rows copy | wc -l)"
pass "delta source: the snapshot, then new commits, each row once"

# 3. mergeKeys: insert-only merge across batches and restarts
drop_file keys_in a.json '{"id":1,"s":"a"}
{"id":2,"s":"b"}
{"id":2,"s":"b again"}
'
cat >merge.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "keys_in", schema = "id long, s string" }
  :write_stream{ format = "delta", path = "merged", mergeKeys = "id", checkpointLocation = "chk_merge",
                 queryName = "merge", trigger = { availableNow = true } }
LUA
run_sr merge.lua
assert_eq "merge exit ($err)" 0 "$code"
drop_file keys_in b.json '{"id":2,"s":"late duplicate"}
{"id":3,"s":"c"}
'
run_sr merge.lua
got=$(table_sql merged "SELECT count(*) AS n, count(DISTINCT id) AS d, string_agg(s, ',' ORDER BY id) AS s FROM FILES")
assert_eq "each key once, the first one kept" '{"n":3,"d":3,"s":"a,b,c"}' "$got"
pass "mergeKeys: duplicates within and across batches and restarts are not written"

# 4. what Spark's Delta sink refuses, refused
cat >update.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "keys_in", schema = "id long, s string" }
  :write_stream{ format = "delta", path = "upd", outputMode = "update", checkpointLocation = "chk_upd",
                 queryName = "upd", trigger = { availableNow = true } }
LUA
run_sr update.lua
[[ $code -ne 0 ]] || fail "update output mode must be refused"
assert_contains "update refused with the reason" "$err" "does not support update output mode"
pass "update output mode refused with Spark's reason"

# 5. a Delta table as the static side of a join (when the static-table loader knows delta)
cat >static.lua <<'LUA'
local sr = require "streamrun"
local dim = sr.read{ format = "delta", path = "merged" }
sr.read_stream{ format = "json", path = "keys_in", schema = "id long, s string" }
  :join(dim, { on = { "id" } })
  :write_stream{ format = "json", path = "joined", checkpointLocation = "chk_join", queryName = "join",
                 trigger = { availableNow = true } }
LUA
run_sr static.lua
assert_eq "static join exit ($err)" 0 "$code"
assert_eq "every stream row found its key" 5 "$(sink_rows joined | wc -l)"
pass "sr.read{format = \"delta\"} joins a stream"

# 6. the seed's example: Kafka -> parse JSON -> delta, every bid once though sent twice
command -v kcat >/dev/null || fail "kcat is needed (apt-get install kcat)"
# exec: MOCK_PID is the mock itself, and killing it closes the pipes ctest waits on
coproc MOCK { exec "$SR_BIN" --kafka-mock --topic bids:4 2>/dev/null; }
trap 'kill -9 "$MOCK_PID" $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
read -r -t 10 BOOT <&"${MOCK[0]}" || fail "--kafka-mock printed no bootstrap servers"
cat "$SR_SOURCE_DIR"/scripts/examples/data/bids/*.json | kcat -b "$BOOT" -P -t bids
cat "$SR_SOURCE_DIR"/scripts/examples/data/bids/*.json | kcat -b "$BOOT" -P -t bids
want=$(cat "$SR_SOURCE_DIR"/scripts/examples/data/bids/*.json | jq -c '[.auction, .bidder, .dateTime]' | sort -u | wc -l)
run_sr "$SR_SOURCE_DIR/scripts/examples/kafka_to_delta.lua" "$BOOT" kafka_out once
assert_eq "kafka -> delta exit ($err)" 0 "$code"
got=$(table_sql kafka_out/bids "SELECT count(*) AS n, count(DISTINCT (auction, bidder, dateTime)) AS d FROM FILES")
assert_eq "every bid once (sent twice)" "{\"n\":$want,\"d\":$want}" "$got"
pass "the example job: Kafka -> parse JSON -> delta, read by DuckDB"
finish
