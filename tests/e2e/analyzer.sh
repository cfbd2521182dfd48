# The analyzer: a column no operator can find stops the job at --check and at start (exit 2)
# with the job's file and line and the nearest name; a json source without a schema infers
# one from the files present at start (and refuses to start with none); a column a map hides
# is checked per batch.
source "$(dirname "$0")/lib.sh"

drop_file in a.json '{"auction":1,"bidder":7,"price":10.5,"dateTime":"2026-11-23 10:00:00.000"}
{"auction":2,"bidder":8,"price":20,"dateTime":"2026-11-23 10:00:01.000"}
'
cat >prize.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in" }
  :filter(function(r) return r.price > 1 end)
  :select{ "auction", "prize" }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk" }
LUA
run_sr --check prize.lua
assert_eq "--check exit" 2 "$code"
assert_contains "--check names the line, the column and the nearest" "$err" \
  'prize.lua:4: select: column "prize" does not exist; did you mean "price"? (columns: auction, bidder, dateTime, price)'
run_sr prize.lua
assert_eq "start exit" 2 "$code"
assert_contains "start names the line and the nearest" "$err" 'prize.lua:4: select: column "prize" does not exist; did you mean "price"?'
[[ ! -e out && ! -e chk ]] || fail "a refused job touched its sink or checkpoint"
pass "a misspelled column exits 2 at --check and at start, naming file:line and the nearest name"

cat >agg.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "auction long, price double, dateTime timestamp" }
  :with_watermark("dateTime", "1 second")
  :group_by(sr.window("dateTime", "10 seconds"), "auction")
  :agg{ total = sr.sum("prize") }
  :write_stream{ format = "console" }
LUA
run_sr --check agg.lua
assert_eq "agg exit" 2 "$code"
assert_contains "agg" "$err" 'agg.lua:5: agg total = sum: column "prize" does not exist; did you mean "price"?'
pass "an aggregate's column is checked"

cat >wm.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in" }
  :with_watermark("dateTime", "1 second")
  :write_stream{ format = "console" }
LUA
run_sr --check wm.lua
assert_eq "watermark on text exit" 2 "$code"
assert_contains "watermark on text" "$err" 'wm.lua:3: with_watermark: event time must be a timestamp (or a window), but column "dateTime" is of type string'
sed -i 's/path = "in" }/path = "in", inferTimestamp = true }/' wm.lua
run_sr --check wm.lua
assert_eq "inferTimestamp makes it a timestamp" 0 "$code"
pass "a watermark on an inferred string column is refused; with inferTimestamp it is a timestamp"

cat >infer.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", maxFilesPerTrigger = 1 }
  :filter(function(r) return r.price > 15 end)
  :select{ "auction", "price" }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", trigger = { availableNow = true } }
LUA
run_sr --check infer.lua
assert_eq "inferred --check exit" 0 "$code"
assert_contains "the plan shows the inferred schema" "$out" "Source json in (inferred schema: auction long, bidder long, dateTime string, price double)"
assert_contains "the plan" "$out" "plan OK"
run_sr infer.lua
assert_eq "inferred run exit" 0 "$code"
assert_eq "the inferred types decode the rows" '{"auction":2,"price":20}' "$(sink_rows out)"
pass "a json source without a schema infers it from the files at start and runs"

mkdir empty
sed 's/path = "in"/path = "empty"/' infer.lua >noinput.lua
run_sr --check noinput.lua
assert_eq "no file exit" 2 "$code"
assert_contains "no file" "$err" "noinput.lua:2: Unable to infer schema for JSON: empty has no file to infer it from. It must be specified manually"
pass "no file to infer from exits 2, as Spark's 'Unable to infer schema ... It must be specified manually'"

cat >hidden.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in" }
  :map(function(r) return { auction = r.auction } end)
  :group_by("bidder"):count()
  :write_stream{ format = "console", outputMode = "update", checkpointLocation = "chk-hidden",
                 trigger = { availableNow = true } }
LUA
run_sr --check hidden.lua
assert_eq "a map hides the columns: --check passes" 0 "$code"
run_sr hidden.lua
assert_eq "runtime missing column exit" 1 "$code"
assert_contains "runtime missing column" "$err" 'hidden.lua:4: aggregate: column "bidder" is in no row of this batch (2 rows'
pass "a column a map hides is checked per batch, naming the column and the operator's line"
finish
