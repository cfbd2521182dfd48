# The command line: help, version, exit codes, error messages that name the file and line.
source "$(dirname "$0")/lib.sh"

run_sr --help
assert_eq "--help exit" 0 "$code"; assert_contains "--help" "$out" "--check JOB.lua"
pass "--help"

run_sr --version
assert_eq "--version exit" 0 "$code"; assert_contains "--version" "$out" "streamrun 0."
pass "--version"

run_sr missing.lua
assert_eq "missing job exit" 2 "$code"; assert_contains "missing job" "$err" "cannot read job file missing.lua"
pass "a missing job file exits 2"

printf 'local sr = require "streamrun"\nlocal x = = 1\n' >syntax.lua
run_sr syntax.lua
assert_eq "syntax error exit" 2 "$code"; assert_contains "syntax error" "$err" "syntax.lua:2:"
pass "a syntax error exits 2 naming file and line"

cat >typo.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", maxFilesPerTriger = 2 }
  :write_stream{ format = "console" }
LUA
run_sr typo.lua
assert_eq "unknown option exit" 2 "$code"
assert_contains "unknown option" "$err" "typo.lua:2: unknown option 'maxFilesPerTriger' for the json source; did you mean 'maxFilesPerTrigger'?"
pass "an unknown option exits 2 with the nearest valid name"

cat >fmt.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "jsn", path = "in" }:write_stream{ format = "console" }
LUA
run_sr fmt.lua
assert_eq "unknown format exit" 2 "$code"; assert_contains "unknown format" "$err" "unknown source format 'jsn'; did you mean 'json'?"
pass "an unknown format exits 2 with the nearest name"

# A connector's bad option value: named once, after the job's file and line.
cat >badval.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "nexmark", table = "bids" }
  :write_stream{ format = "noop", checkpointLocation = "chk-badval" }
LUA
run_sr badval.lua
assert_eq "bad option value exit (the query cannot start)" 2 "$code"
assert_contains "bad option value" "$err" 'badval.lua:2: nexmark source: table must be events, bid, auction or person, not "bids"'
[[ $err != *"nexmark source: nexmark source"* ]] || fail "the source is named twice: $err"
pass "a bad option value names the file, line and source once"

cat >sorted.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "price double" }
  :sort("price")
  :write_stream{ format = "console" }
LUA
run_sr --check sorted.lua
assert_eq "sort refused exit" 2 "$code"; assert_contains "sort refused" "$err" "sorted.lua:3: sort is not supported on a stream"
run_sr sorted.lua
assert_eq "sort refused at start" 2 "$code"
pass "a plan Spark refuses exits 2 at --check and at start"

cat >ok.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = { id = "long" } }
  :filter(function(r) return r.id > 1 end)
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", queryName = "ids" }
LUA
mkdir -p in  # a file source's path must exist, at --check as at start
run_sr --check ok.lua
assert_eq "--check exit" 0 "$code"
assert_contains "--check plan" "$out" "Query ids: sink json (append), checkpoint chk"
assert_contains "--check plan" "$out" "Filter  [ok.lua:3]"
assert_contains "--check plan" "$out" "plan OK: 1 query"
[[ ! -e chk ]] || fail "--check must not create the checkpoint"
pass "--check prints the plan and runs nothing"

cat >nochk.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "id long" }:write_stream{ format = "json", path = "out" }
LUA
run_sr nochk.lua
assert_eq "no checkpoint exit" 2 "$code"; assert_contains "no checkpoint" "$err" "checkpointLocation is required for the json sink"
pass "a file sink without checkpointLocation is refused"

cat >args.lua <<'LUA'
local sr = require "streamrun"
io.stdout:write(arg[0], " ", arg[1], " ", arg[2], "\n")
sr.read_stream{ format = "rate" }:write_stream{ format = "noop", trigger = { once = true } }
LUA
run_sr args.lua a b
assert_eq "args exit" 0 "$code"; assert_eq "args" "args.lua a b" "$out"
pass "job arguments reach the job as arg"
finish
