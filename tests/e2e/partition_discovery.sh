# Partition discovery in the file sources (JOB-API "Sources"; Spark's PartitioningUtils): files in
# key=value folders under a source's path are read, their rows get the folders' values as
# columns (typed by the schema, or inferred: int, long, double, timestamp, date, string), a
# folder __HIVE_DEFAULT_PARTITION__ is null, %XX is unescaped, and a new folder's files are
# found by later batches. The checkpoint's file log keeps listing paths, so it reads as before.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || fail "jq is needed (apt-get install jq)"

drop_file "in/day=2026-11-23/n=1" a.json '{"v":"a"}
'
drop_file "in/day=2026-11-23/n=2" b.json '{"v":"b","n":99}
'
drop_file "in/day=__HIVE_DEFAULT_PARTITION__/n=3" c.json '{"v":"c"}
'
drop_file in top.json '{"v":"top"}
'
cat >infer.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in" }
  :map(function(r) return { v = r.v, day = r.day, n = r.n, kind = sr.typeof(r.day) .. "," .. type(r.n) } end)
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", trigger = { availableNow = true } }
LUA
run_sr --check infer.lua
assert_eq "check ($err)" 0 "$code"
assert_contains "inferred: data columns (n takes the partition's type), then the partition columns" "$out" "(inferred schema: n int, v string, day date)"
run_sr infer.lua
assert_eq "run ($err)" 0 "$code"
assert_eq "rows with their folders' values" \
  'a 2026-11-23 1 date,number;b 2026-11-23 2 date,number;c null 3 nil,number;top null null nil,nil;' \
  "$(cat out/part-* | jq -r '"\(.v) \(.day) \(.n) \(.kind)"' | sort | tr '\n' ';')"
pass "a schema inferred with the partition columns, typed; the folder's value wins over the record's"

# a declared schema types them; a new folder is found by a later batch; %XX is unescaped
cat >declared.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in2", schema = "v string, n string, day timestamp" }
  :write_stream{ format = "json", path = "out2", checkpointLocation = "chk2", trigger = { availableNow = true } }
LUA
drop_file "in2/day=2026-11-23 10%3A00%3A00/n=x%3Dy" a.json '{"v":"a"}
'
run_sr declared.lua
assert_eq "declared run ($err)" 0 "$code"
drop_file "in2/day=2026-11-24 10%3A00%3A00/n=z" b.json '{"v":"b"}
'
run_sr declared.lua
assert_eq "declared rerun ($err)" 0 "$code"
assert_eq "declared types, unescaped values, the new folder's file" \
  'a x=y 2026-11-23T10:00:00.000Z;b z 2026-11-24T10:00:00.000Z;' \
  "$(cat out2/part-* | jq -r '"\(.v) \(.n) \(.day)"' | sort | tr '\n' ';')"
pass "a declared schema types the partition columns; files in a new folder are read by a later batch"
# a static table (sr.read) of the same folders: the same columns and values
cat >static.lua <<'LUA'
local sr = require "streamrun"
local rows = sr.read{ format = "json", path = "in" }:collect()
table.sort(rows, function(a, b) return a.v < b.v end)
for _, r in ipairs(rows) do print(r.v, r.day and sr.format_date(r.day) or "nil", tostring(r.n)) end
LUA
run_sr static.lua  # (exit 2: it defines no query)
assert_eq "static rows" "$(printf 'a\t2026-11-23\t1\nb\t2026-11-23\t2\nc\tnil\t3\ntop\tnil\tnil')" "$out"
pass "a static table reads the partition folders too"
finish
