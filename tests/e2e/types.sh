# Timestamps and dates keep their type through user functions (JOB-API "Rows and types"): a
# column renamed by a map is still a timestamp (date) in the JSON, CSV and Delta sinks, with its
# microseconds; a Delta table read and written back keeps every microsecond; map's {schema=}
# types computed columns; process_with_state keys, foreach_batch rows and the nexmark source's
# timestamps are values. DuckDB is the independent reader of the Delta tables.
source "$(dirname "$0")/lib.sh"
need_duckdb
command -v jq >/dev/null || fail "jq is needed (apt-get install jq)"

# Runs SQL over a table's live files: FILES in the SQL stands for read_parquet(...).
table_sql() { # TABLE SQL
  local files
  files=$(live_files "$1")
  duck "${2//FILES/read_parquet($files)}"
}

drop_file in a.json '{"auction":1,"dateTime":"2026-11-23 10:00:00.002","day":"2026-11-23"}
{"auction":2,"dateTime":"2026-11-23T10:00:00.000123Z","day":"2026-11-24"}
{"auction":3,"dateTime":null,"day":null}
'

# 1. at = r.dateTime through a map into each file sink and a new Delta table
cat >mapped.lua <<'LUA'
local sr = require "streamrun"
local fmt = arg[1]
sr.read_stream{ format = "json", path = "in", schema = "auction long, dateTime timestamp, day date" }
  :map(function(r)
    return { id = r.auction, at = r.dateTime, d = r.day, later = r.dateTime and r.dateTime + 1000,
             kind = sr.typeof(r.dateTime), text = r.dateTime and tostring(r.dateTime) }
  end)
  :write_stream{ format = fmt, path = "out_" .. fmt, checkpointLocation = "chk_" .. fmt,
                 header = fmt == "csv" or nil, trigger = { availableNow = true } }
LUA
for fmt in json csv delta; do
  run_sr mapped.lua "$fmt"
  assert_eq "mapped to $fmt ($err)" 0 "$code"
done
assert_eq "json: timestamps and dates as ISO-8601, microseconds kept" \
  '1 2026-11-23T10:00:00.002Z 2026-11-23 2026-11-23T10:00:01.002Z timestamp 2026-11-23T10:00:00.002Z;2 2026-11-23T10:00:00.000123Z 2026-11-24 2026-11-23T10:00:01.000123Z timestamp 2026-11-23T10:00:00.000123Z;3 null null null nil null;' \
  "$(cat out_json/part-* | jq -r '"\(.id) \(.at) \(.d) \(.later) \(.kind) \(.text)"' | sort | tr '\n' ';')"
csv=$(cat out_csv/part-*)
assert_contains "csv: a renamed timestamp as ISO-8601" "$csv" "2026-11-23T10:00:00.000123Z,2026-11-24,2,timestamp,2026-11-23T10:00:01.000123Z"
assert_contains "csv: whole milliseconds with three digits" "$csv" "2026-11-23T10:00:00.002Z,2026-11-23,1,"
pass "a timestamp and a date renamed by a map are written as ISO-8601 by the JSON and CSV sinks"

assert_eq "delta: the mapped columns only, typed from the values" \
  "at TIMESTAMP WITH TIME ZONE;d DATE;id BIGINT;kind VARCHAR;later TIMESTAMP WITH TIME ZONE;text VARCHAR;" \
  "$(table_sql out_delta "DESCRIBE SELECT * FROM FILES" | jq -r '"\(.column_name) \(.column_type)"' | sort | tr '\n' ';')"
assert_eq "delta: microseconds stored" "1 1795428000002000 2026-11-23;2 1795428000000123 2026-11-24;3 null null;" \
  "$(table_sql out_delta "SELECT id, epoch_us(\"at\") AS us, d::VARCHAR AS d FROM FILES ORDER BY id" |
     jq -r '"\(.id) \(.us) \(.d)"' | tr '\n' ';')"
pass "a new Delta table from mapped rows: timestamp and date columns with microseconds, no column of the source's"

# 2. Delta -> Delta keeps every microsecond, with and without a function between
cat >roundtrip.lua <<'LUA'
local sr = require "streamrun"
local s = sr.read_stream{ format = "delta", path = "out_delta" }
if arg[1] == "map" then s = s:map(function(r) r.at2 = r.at; return r end) end
s:write_stream{ format = "delta", path = "rt_" .. arg[1], checkpointLocation = "chk_rt_" .. arg[1],
                trigger = { availableNow = true } }
LUA
for how in direct map; do
  run_sr roundtrip.lua "$how"
  assert_eq "round trip $how ($err)" 0 "$code"
  assert_eq "round trip $how: the same microseconds" \
    "$(table_sql out_delta "SELECT id, epoch_us(\"at\") AS us, epoch_us(later) AS l, d FROM FILES ORDER BY id")" \
    "$(table_sql "rt_$how" "SELECT id, epoch_us(\"at\") AS us, epoch_us(later) AS l, d FROM FILES ORDER BY id")"
done
assert_eq "round trip: the copy is a timestamp too" "1795428000000123" \
  "$(table_sql rt_map "SELECT epoch_us(at2) AS us FROM FILES WHERE id = 2" | jq -r .us)"
pass "a Delta table read and written back keeps its timestamps to the microsecond"

# 3. map's schema types a computed column; keys and foreach_batch rows are values
cat >schema.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "auction long, dateTime timestamp, day date" }
  :map(function(r) return { id = r.auction, at_ms = 1795428000000 + r.auction } end,
       { schema = "id long, at_ms timestamp" })
  :write_stream{ format = "delta", path = "out_schema", checkpointLocation = "chk_schema",
                 trigger = { availableNow = true } }
sr.read_stream{ format = "json", path = "in", schema = "auction long, dateTime timestamp, day date" }
  :filter(function(r) return r.dateTime ~= nil end)
  :group_by("dateTime")
  :process_with_state{ fn = function(key, rows, state)
    state:update({ seen = key })
    return { { key = key, kind = sr.typeof(key), stored = sr.typeof(state:get().seen) } }
  end }
  :write_stream{ format = "foreach_batch", checkpointLocation = "chk_pws", outputMode = "update",
                 trigger = { availableNow = true },
                 fn = function(rows)
                   local f = assert(io.open("pws.txt", "a"))
                   for _, r in ipairs(rows) do f:write(sr.to_json(r), " ", sr.typeof(r.key), "\n") end
                   f:close()
                 end }
LUA
run_sr schema.lua
assert_eq "schema job ($err)" 0 "$code"
assert_eq "map schema: a number of ms in a timestamp column" "at_ms TIMESTAMP WITH TIME ZONE;id BIGINT;" \
  "$(table_sql out_schema "DESCRIBE SELECT * FROM FILES" | jq -r '"\(.column_name) \(.column_type)"' | sort | tr '\n' ';')"
assert_eq "map schema: the value" "2026-11-23 10:00:00.001+00" \
  "$(table_sql out_schema "SELECT at_ms::VARCHAR AS t FROM FILES WHERE id = 1" | jq -r .t)"
assert_eq "process_with_state keys and state, foreach_batch rows" \
  '{"key":"2026-11-23T10:00:00.000123Z","kind":"timestamp","stored":"timestamp"} timestamp;{"key":"2026-11-23T10:00:00.002Z","kind":"timestamp","stored":"timestamp"} timestamp;' \
  "$(sort pws.txt | tr '\n' ';')"
pass "map {schema=} types computed columns; group keys, state and foreach_batch rows hold timestamps"

# 4. binary: renamed by a map, still base64 in JSON and a BINARY column in Delta
drop_file bin b.json '{"id":1,"b":"AAH/"}
'
cat >binary.lua <<'LUA'
local sr = require "streamrun"
for _, fmt in ipairs{ "json", "delta" } do
  sr.read_stream{ format = "json", path = "bin", schema = "id long, b binary" }
    :map(function(r) return { id = r.id, payload = r.b, n = #r.b, kind = sr.typeof(r.b) } end)
    :write_stream{ format = fmt, path = "bin_" .. fmt, checkpointLocation = "chk_bin_" .. fmt,
                   trigger = { availableNow = true } }
end
LUA
run_sr binary.lua
assert_eq "binary job ($err)" 0 "$code"
assert_eq "binary: base64 in JSON" '{"id":1,"kind":"binary","n":3,"payload":"AAH/"}' "$(cat bin_json/part-*)"
assert_eq "binary: a BINARY column in Delta" "BLOB 0001ff" \
  "$(table_sql bin_delta "SELECT typeof(payload) AS t, hex(payload) AS h FROM FILES" | jq -r '"\(.t) \(.h | ascii_downcase)"')"
pass "a binary column renamed by a map stays binary (base64 in JSON, BINARY in Delta)"

# 5. A stream-static join on a timestamp key: both sides' keys are values, so they meet
drop_file st s.json '{"at":"2026-11-23T10:00:00.002Z","name":"x"}
'
cat >static_join.lua <<'LUA'
local sr = require "streamrun"
local st = sr.read{ format = "json", path = "st", schema = "at timestamp, name string" }
sr.read_stream{ format = "json", path = "in", schema = "auction long, dateTime timestamp, day date" }
  :select{ "auction", at = function(r) return r.dateTime end }
  :join(st, { on = { "at" }, how = "inner" })
  :write_stream{ format = "json", path = "out_sj", checkpointLocation = "chk_sj",
                 trigger = { availableNow = true } }
LUA
run_sr static_join.lua
assert_eq "static join ($err)" 0 "$code"
assert_eq "static join: the row whose timestamp matches" '{"at":"2026-11-23T10:00:00.002Z","auction":1,"name":"x"}' \
  "$(cat out_sj/part-* | jq -S -c .)"
pass "a stream-static join on a timestamp key matches equal instants"

# 6. A source that hands over records (nexmark): its timestamps are values in user code
cat >nexmark.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "nexmark", table = "bid", maxEvents = 200 }
  :map(function(r) return { at = r.dateTime, kind = sr.typeof(r.dateTime) } end)
  :write_stream{ format = "json", path = "out_nx", checkpointLocation = "chk_nx",
                 trigger = { availableNow = true } }
LUA
run_sr nexmark.lua
assert_eq "nexmark job ($err)" 0 "$code"
assert_eq "nexmark: every at is ISO-8601 text of a timestamp" "0" \
  "$(cat out_nx/part-* | jq -r 'select((.at | test("^2026-11-23T[0-9:.]+Z$") | not) or .kind != "timestamp")' | wc -l)"
[[ $(cat out_nx/part-* | wc -l) -gt 0 ]] || fail "nexmark: no bids"
pass "the nexmark source's timestamps reach user functions as timestamps"

# 7. A user function that fails on a timestamp is diagnosed on the row as it saw it
cat >nexmark_fail.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "nexmark", table = "bid", maxEvents = 200 }
  :filter(function(r) return math.floor(r.dateTime) > 0 end)
  :write_stream{ format = "json", path = "out_nxf", checkpointLocation = "chk_nxf",
                 trigger = { availableNow = true } }
LUA
run_sr nexmark_fail.lua
assert_eq "failing nexmark job exit" 1 "$code"
assert_contains "the operator is named" "$err" "in filter (defined at nexmark_fail.lua:3)"
assert_contains "the row shows its timestamp" "$err" '"dateTime":"2026-11-23T'
pass "a user function failing on a record source's timestamp is named with the row it saw"
# 8. Timestamps and dates deeper in nested data (an array's elements, a struct in a struct, a
# map's values) are values too, and go back out as ISO-8601 text after a map
drop_file in_nested a.json '{"id":1,"ats":["2026-11-23 10:00:00.002",null,"2026-11-23T10:00:00.000123Z"],"ev":{"inner":{"at":"2026-11-23 10:00:01","day":"2026-11-24"}},"m":{"k":"2026-11-23 10:00:02"},"s":{"at":"2026-11-23 10:00:03"}}
'
cat >nested.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in_nested",
                schema = "id long, ats array<timestamp>, ev struct<inner: struct<at: timestamp, day: date>>, m map<string, timestamp>, s struct<at: timestamp>" }
  :map(function(r)
    local a = r.ats
    return { id = r.id, first = a[1], third = a[3], all = a, inner = r.ev.inner.at, day = r.ev.inner.day,
             mk = r.m.k, sat = r.s.at,
             kinds = table.concat({ sr.typeof(a[1]), sr.typeof(a[3]), sr.typeof(r.ev.inner.at),
                                    sr.typeof(r.ev.inner.day), sr.typeof(r.m.k), sr.typeof(r.s.at) }, ","),
             later = tostring(r.ev.inner.at + 1000) }
  end)
  :write_stream{ format = "json", path = "out_nested", checkpointLocation = "chk_nested",
                 trigger = { availableNow = true } }
LUA
run_sr nested.lua
assert_eq "nested job ($err)" 0 "$code"
assert_eq "nested: typed in user code, ISO-8601 in the JSON sink" \
  'timestamp,timestamp,timestamp,date,timestamp,timestamp 2026-11-23T10:00:00.002Z 2026-11-23T10:00:00.000123Z ["2026-11-23T10:00:00.002Z",null,"2026-11-23T10:00:00.000123Z"] 2026-11-23T10:00:01.000Z 2026-11-24 2026-11-23T10:00:02.000Z 2026-11-23T10:00:03.000Z 2026-11-23T10:00:02.000Z' \
  "$(cat out_nested/part-* | jq -c -r '"\(.kinds) \(.first) \(.third) \(.all | tojson) \(.inner) \(.day) \(.mk) \(.sat) \(.later)"')"
pass "timestamps and dates in arrays, nested structs and maps reach user code as values and are written as ISO-8601"
# 9. A timestamp a user function computes beyond Spark's range (a number of ms the readers would
# refuse as input) is refused at the json and csv sinks naming the column, not written as a
# year of seven digits that no reader takes
mkdir -p in_range && drop_file in_range a.json '{"n":1}'
cat >beyond.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in_range", schema = "n long", fileStableMs = 0 }
  :map(function(r) return { t = 1e17 } end, { schema = "t timestamp" })
  :write_stream{ format = arg[1], path = "out_beyond_" .. arg[1], checkpointLocation = "chk_beyond_" .. arg[1],
                 trigger = { availableNow = true } }
LUA
for fmt in json csv; do
  run_sr beyond.lua "$fmt"
  assert_eq "$fmt: beyond the range" 1 "$code"
  assert_contains "$fmt: names the column and the value" "$err" "column t: 100000000000000000 ms is beyond the timestamps Spark can hold"
  [[ -z $(cat out_beyond_$fmt/part-* 2>/dev/null) ]] || fail "$fmt: written: $(cat out_beyond_$fmt/part-*)"
done
pass "a timestamp beyond Spark's range computed in Lua is refused at the json and csv sinks"
finish
