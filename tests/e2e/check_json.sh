# streamrun --check --json (JOB-API "Checking a job as JSON"): the plan of every query as one JSON
# document on stdout (sources with their schema, operators with their job line, the sink, output
# mode, trigger, checkpoint), and a refusal as the same document with the errors (file, line,
# message) and exit 2. Nothing is created.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || fail "jq is needed (apt-get install jq)"

drop_file in a.json '{"auction":1,"price":2.5,"dateTime":"2026-11-23 10:00:00"}
'
cat >job.lua <<'LUA'
local sr = require "streamrun"
local bids = sr.read_stream{ format = "json", path = "in", maxFilesPerTrigger = 2, inferTimestamp = true }
local hot = bids
  :filter(function(r) return r.price > 1 end)
  :with_watermark("dateTime", "10 seconds")
  :group_by(sr.window("dateTime", "10 seconds"), "auction")
  :agg{ n = sr.count() }
hot:write_stream{ format = "json", path = "out", checkpointLocation = "chk", trigger = "2 seconds",
                  queryName = "hot" }
LUA
run_sr --check --json job.lua
assert_eq "exit ($err)" 0 "$code"
assert_eq "one document" 1 "$(jq -s length <<<"$out")"
assert_eq "ok" "true 0 1" "$(jq -r '"\(.ok) \(.exitCode) \(.queries | length)"' <<<"$out")"
q=$(jq -c '.queries[0]' <<<"$out")
assert_eq "query" "hot job.lua 8 append chk processingTime 2000" \
  "$(jq -r '"\(.name) \(.file) \(.line) \(.outputMode) \(.checkpointLocation) \(.trigger.kind) \(.trigger.intervalMs)"' <<<"$q")"
assert_eq "the inferred schema of the source" "json in 2 true auction long, dateTime timestamp, price double" \
  "$(jq -r '.sources[0] | "\(.format) \(.options.path) \(.options.maxFilesPerTrigger) \(.inferred) \(.schema)"' <<<"$q")"
assert_eq "operators with their job lines, inputs first" "source:2: filter:4:1 with_watermark:5:2 aggregate:7:3" \
  "$(jq -r '[.operators[] | "\(.op):\(.line):\(.inputs // [] | map(tostring) | join(","))"] | join(" ")' <<<"$q")"
assert_eq "the sink" "json out 4 8" "$(jq -r '.sink | "\(.format) \(.options.path) \(.input) \(.line)"' <<<"$q")" 
assert_eq "output columns" "window,auction,n" "$(jq -r '.outputColumns | join(",")' <<<"$q")"
[[ ! -e chk && ! -e out ]] || fail "--check --json created files"
pass "--check --json prints the plan as one JSON document"

cat >warn.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "auction long" }
  :drop_duplicates("auction")
  :write_stream{ format = "console" }
LUA
run_sr --check --json warn.lua
assert_eq "warned, still ok ($err)" "0 true warn.lua 3" "$code $(jq -r '"\(.ok) \(.warnings[0].file) \(.warnings[0].line)"' <<<"$out")"
assert_contains "the warning's text" "$(jq -r '.warnings[0].message' <<<"$out")" "drop_duplicates without a watermark"
pass "--check --json lists warnings with their job line"

# a refusal: the errors with file, line and message, exit 2
sed -i 's/checkpointLocation = "chk"/checkpointLocaton = "chk"/' job.lua
run_sr --check --json job.lua
assert_eq "refused" 2 "$code"
assert_eq "the error" "false 2 job.lua 8 unknown option 'checkpointLocaton' for the json sink; did you mean 'checkpointLocation'?" \
  "$(jq -r '"\(.ok) \(.exitCode) \(.errors[0].file) \(.errors[0].line) \(.errors[0].message)"' <<<"$out")"
cat >bad.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "price double" }
  :select{ "prize" }
  :write_stream{ format = "console" }
LUA
run_sr --check --json bad.lua
assert_eq "refused plan" 2 "$code"
assert_eq "a plan error names its operator's line" 'bad.lua 3 select: column "prize" does not exist; did you mean "price"? (columns: price)' \
  "$(jq -r '.errors[0] | "\(.file) \(.line) \(.message)"' <<<"$out")"
run_sr --check --json missing.lua
assert_eq "missing job file" "2 1" "$code $(jq -r '.errors | length' <<<"$out")"
run_sr --json job.lua
assert_eq "--json without --check" 2 "$code"
pass "--check --json prints a refusal's errors with their file and line, exit 2"
finish
