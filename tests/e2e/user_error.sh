# An error in a user function stops the query with the job's file and line, the operator and
# the offending row; the checkpoint stays consistent, so the fixed job resumes that batch.
source "$(dirname "$0")/lib.sh"
cat >job.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "id long, price double", maxFilesPerTrigger = 1 }
  :map(function(r)
    if r.id == 3 then error("no price for item " .. r.id) end
    r.eur = r.price * 0.908
    return r
  end)
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", trigger = { availableNow = true } }
LUA
drop_file in a.json '{"id":1,"price":10}
{"id":2,"price":20}
'
touch -d "2026-01-01 00:00:01" in/a.json
drop_file in b.json '{"id":3,"price":30}
{"id":4,"price":40}
'
run_sr job.lua
assert_eq "a failing user function exits 1" 1 "$code"
assert_contains "names the job line" "$err" "job.lua:4: no price for item 3"
assert_contains "names the operator and where it was defined" "$err" "in map (defined at job.lua:3)"
assert_contains "names the row" "$err" 'row: {"id":3,"price":30}'
assert_contains "the user's frame stays" "$err" "job.lua:4: in function <job.lua:3>"
[[ $err != *"lua/streamrun"* && $err != *"streamrun-"* && $err != *"[C]"* ]] ||
  fail "no frames of streamrun's own code: $err"
assert_eq "the batch before it committed" '{"id":1,"price":10,"eur":9.08}
{"id":2,"price":20,"eur":18.16}' "$(sink_rows out)"
pass "a user error stops the query naming file, line, operator and row"

sed -i 's/if r.id == 3 then error("no price for item " .. r.id) end/if r.id == 3 then r.price = 0 end/' job.lua
run_sr job.lua
assert_eq "the fixed job runs" 0 "$code"
assert_eq "the failed batch is re-run, once" 4 "$(sink_rows out | wc -l)"
assert_contains "with the fix" "$(sink_rows out)" '{"id":3,"price":0,"eur":0}'
pass "the fixed job resumes the failed batch from the checkpoint"

# onError = "dead_letter": the failing rows go to the bad records with the error, the operator
# and its line; the rest of the batch goes on. A flat_map's rows made before the error are not
# kept; a source handing over C records (text) works the same.
cat >dl.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = arg[1], path = "in_" .. arg[1], schema = arg[1] == "json" and "id long, price double" or nil }
  :map(function(r)
    if r.value then r = { id = tonumber(r.value), price = 1 } end
    if r.id == 3 then error("no price for item " .. r.id) end
    return r
  end)
  :flat_map(function(r)
    if r.id == 5 then return { { id = 50 }, { id = nil .. "x" } } end
    return { r }
  end)
  :write_stream{ format = "json", path = "out_" .. arg[1], checkpointLocation = "chk_" .. arg[1],
                 trigger = { availableNow = true }, onError = "dead_letter" }
LUA
drop_file in_json a.json $'{"id":1,"price":10}\n{"id":2,"price":20}\n{"id":3,"price":30}\n{"id":4,"price":40}\n{"id":5,"price":50}\n'
drop_file in_text a.txt $'1\n2\n3\n4\n5\n'
for fmt in json text; do
  run_sr dl.lua "$fmt"
  assert_eq "$fmt: dead_letter exit ($err)" 0 "$code"
  assert_eq "$fmt: the other rows" "1 2 4" "$(sink_rows "out_$fmt" | jq -r .id | sort | tr '\n' ' ' | sed 's/ $//')"
  bad=$(cat "chk_$fmt"/bad_records/batch-0.jsonl)
  assert_eq "$fmt: two rows dead-lettered" 2 "$(wc -l <<<"$bad")"
  assert_contains "$fmt: the error" "$bad" "no price for item 3 in map (defined at dl.lua:3)"
  assert_contains "$fmt: the flat_map's error" "$bad" "in flat_map (defined at dl.lua:8)"
  want='{"id":3,"price":30}|{"id":5,"price":50}'
  [[ $fmt == text ]] && want='{"value":"3"}|{"value":"5"}'
  assert_eq "$fmt: the rows as they came in" "$want" "$(jq -r .record <<<"$bad" | sort | tr '\n' '|' | sed 's/|$//')"
  assert_eq "$fmt: counted" 2 "$(head -1 "chk_$fmt/progress/progress.jsonl" | jq .numBadRecords)"
done
run_sr --check dl.lua json
assert_eq "dead_letter passes --check" 0 "$code"
sed -i 's/onError = "dead_letter"/onError = "skip"/' dl.lua
run_sr --check dl.lua json
assert_eq "a bad onError" 2 "$code"
assert_contains "a bad onError says so" "$err" 'onError must be "fail" (the default, as Spark) or "dead_letter", not skip'
pass "onError = dead_letter: failing rows go to the bad records with the error and operator, the rest goes on"

# An error object whose __tostring itself raises still leaves the operator and the row.
cat >ts.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in_json", schema = "id long, price double" }
  :map(function(r)
    if r.id == 2 then error(setmetatable({}, { __tostring = function() error("tostring fails") end })) end
    return r
  end)
  :write_stream{ format = "json", path = "out_ts", checkpointLocation = "chk_ts", trigger = { availableNow = true } }
LUA
run_sr ts.lua
assert_eq "raising __tostring exit" 1 "$code"
assert_contains "raising __tostring: described" "$err" "error value whose __tostring failed"
assert_contains "raising __tostring: the operator" "$err" "in map (defined at ts.lua:3)"
assert_contains "raising __tostring: the row" "$err" 'row: {"id":2,"price":20}'
pass "an error whose __tostring raises keeps the operator and the row"

# Only the user's frames, whatever raised: a key function of an aggregation (generated code
# calls it), a bad argument at load time (the module's checks raise it).
cat >keyfn.lua <<'LUA'
local sr = require "streamrun"
local function helper(r) return r.price.x end
sr.read_stream{ format = "json", path = "in", schema = "id long, price double" }
  :group_by(function(r) return helper(r) end):count()
  :write_stream{ format = "console", outputMode = "update", trigger = { availableNow = true } }
LUA
run_sr keyfn.lua
assert_eq "key function error exit" 1 "$code"
assert_contains "key function error" "$err" "keyfn.lua:2: attempt to index field 'price' (a number value)"
assert_contains "key function frame" "$err" "keyfn.lua:2: in function"
[[ $err != *"lua/streamrun"* && $err != *"streamrun-"* && $err != *"[C]"* ]] ||
  fail "no frames of streamrun's own code: $err"
printf 'local sr = require "streamrun"\nsr.read_stream{ format = "json", path = "in", schema = 5 }\n' >load.lua
run_sr load.lua
assert_eq "load error exit" 2 "$code"
assert_contains "load error" "$err" "load.lua:2: read_stream: schema:"
[[ $err != *"lua/streamrun"* && $err != *"[C]"* ]] || fail "no frames of streamrun's own code: $err"
pass "errors show the user's file:line and frames, none of streamrun's own Lua"
finish
