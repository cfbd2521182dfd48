# --http (issue 20): /metrics passes promtool and agrees with progress.jsonl; /healthz, /readyz,
# the JSON API (status, plan as --check prints it, progress?last=N); loopback only by default;
# hostile requests (a huge head, a body, one that never ends) do not stop it serving; a failed
# query makes /readyz say so; streamrun top under tmux; --log-format json.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/jobs/http.bash"
command -v promtool >/dev/null || fail "promtool is not installed (scripts/deps: prometheus)"
command -v tmux >/dev/null || fail "tmux is not installed (scripts/deps)"

write_watch_job watch.lua
start_http_job job.log watch.lua chk
assert_eq "the line it prints" "streamrun: http://127.0.0.1:${base##*:}/" "$(head -1 job.log)"
wait_until "two batches of each query" bash -c \
  "[[ \$(wc -l <chk/w/progress/progress.jsonl) -ge 2 && \$(wc -l <chk/e/progress/progress.jsonl) -ge 2 ]]"

# --- health -------------------------------------------------------------------------------
assert_eq "healthz" "200 ok" "$(curl -s -w '%{http_code}' -o h.txt "$base/healthz"; echo " $(cat h.txt)")"
assert_eq "readyz" "200" "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")"
pass "healthz and readyz answer 200 while every query runs"

# --- metrics ------------------------------------------------------------------------------
curl -sf "$base/metrics" >metrics.txt
promtool check metrics <metrics.txt >promtool.txt 2>&1 || fail "promtool: $(cat promtool.txt)"
pass "promtool check metrics passes ($(grep -c '^streamrun_' metrics.txt) streamrun samples)"
for name in streamrun_up streamrun_ready streamrun_batches_total streamrun_input_rows_total \
    streamrun_output_rows_total streamrun_batch_duration_seconds_bucket streamrun_input_rows_per_second \
    streamrun_processed_rows_per_second streamrun_watermark_seconds streamrun_watermark_lag_seconds \
    streamrun_state_rows streamrun_state_memory_bytes streamrun_state_rows_dropped_by_watermark_total \
    streamrun_bad_records_total streamrun_reloads_total streamrun_reload_refusals_total \
    streamrun_lua_memory_bytes streamrun_lua_heap_bytes process_resident_memory_bytes \
    process_cpu_seconds_total process_open_fds; do
  grep -q "^$name[ {]" metrics.txt || fail "no $name in /metrics"
done
pass "every metric the issue asks for is there"

# The counters agree with progress.jsonl up to the batch the scrape saw (rendered atomically;
# progress.jsonl is written before a batch is published).
for q in rate_windows:w evens:e; do
  dir=chk/${q#*:}/progress q=${q%:*}
  curl -sf "$base/metrics" >m.txt
  last=$(metric "$(cat m.txt)" "streamrun_last_batch_id{query=\"$q\"}")
  lines=$(jq -c "select(.batchId <= $last)" $dir/progress.jsonl)
  assert_eq "$q: batches" "$(wc -l <<<"$lines")" "$(metric "$(cat m.txt)" "streamrun_batches_total{query=\"$q\"}")"
  assert_eq "$q: input rows" "$(jq -s 'map(.numInputRows) | add' <<<"$lines")" \
    "$(metric "$(cat m.txt)" "streamrun_input_rows_total{query=\"$q\"}")"
  assert_eq "$q: output rows" "$(jq -s 'map(.sink.numOutputRows) | add' <<<"$lines")" \
    "$(metric "$(cat m.txt)" "streamrun_output_rows_total{query=\"$q\"}")"
  assert_eq "$q: bad records" "$(jq -s 'map(.numBadRecords) | add' <<<"$lines")" \
    "$(metric "$(cat m.txt)" "streamrun_bad_records_total{query=\"$q\"}")"
  assert_eq "$q: batch count in the histogram" "$(wc -l <<<"$lines")" \
    "$(metric "$(cat m.txt)" "streamrun_batch_duration_seconds_count{query=\"$q\",phase=\"triggerExecution\"}")"
done
curl -sf "$base/metrics" >m.txt
lua_mem=""
for d in w e; do
  last=$(metric "$(cat m.txt)" "streamrun_last_batch_id{query=\"$([[ $d == w ]] && echo rate_windows || echo evens)\"}")
  lua_mem+=" $(jq "select(.batchId == $last) | .luaMemoryBytes" chk/$d/progress/progress.jsonl) "
done
assert_contains "Lua memory as the last batch said" "$lua_mem" " $(metric "$(cat m.txt)" streamrun_lua_memory_bytes) "
wm=$(jq -r "select(.batchId == $(metric "$(cat m.txt)" 'streamrun_last_batch_id{query="rate_windows"}')) | .eventTime.watermark" \
  chk/w/progress/progress.jsonl)
wm_s=$(jq -n "\"${wm%.*}Z\" | fromdate")
got=$(metric "$(cat m.txt)" 'streamrun_watermark_seconds{query="rate_windows"}')
[[ ${got%.*} == "$wm_s" ]] || fail "watermark: progress says $wm ($wm_s), metrics $got"
grep -q 'streamrun_watermark_seconds{query="evens"}' m.txt && fail "a query without watermark has one"
pass "counters, watermark and Lua memory agree with progress.jsonl"

# the Grafana dashboard's queries parse (promtool as recording rules) and name metrics we serve
jq -r '.panels[].targets[]?.expr' "$SR_SOURCE_DIR/docs/grafana-dashboard.json" |
  sed 's/\$__rate_interval/1m/g; s/\$query/.*/g; s/\$job/.*/g' |
  jq -R . | jq -s '{groups: [{name: "dashboard", rules: [to_entries[] | {record: "dashboard:expr_\(.key)", expr: .value}]}]}' \
  >rules.json
promtool check rules rules.json >rules.txt 2>&1 || fail "the Grafana dashboard's queries: $(cat rules.txt)"
for name in $(jq -r '.panels[].targets[]?.expr' "$SR_SOURCE_DIR/docs/grafana-dashboard.json" |
    grep -o '\(streamrun\|process\)_[a-z_]*' | sort -u); do
  grep -q "^\(# HELP \)\?$name[ {]" metrics.txt || fail "the Grafana dashboard asks for $name, which /metrics lacks"
done
pass "docs/grafana-dashboard.json: its queries parse and name served metrics"

# --- the JSON API ---------------------------------------------------------------------------
curl -sf "$base/api/v1/queries" >queries.json
assert_eq "query names and status" "rate_windows ACTIVE,evens ACTIVE" \
  "$(jq -r '[.queries[] | "\(.name) \(.status)"] | join(",")' queries.json)"
"$SR_BIN" --check watch.lua chk >check.txt
jq -r '.queries[].plan' queries.json >plans.txt
grep -v '^plan OK' check.txt >check_plans.txt
assert_eq "plans as --check prints them" "$(cat check_plans.txt)" "$(cat plans.txt)"
[[ $(jq '.queries[0].lastProgress.batchId' queries.json) -ge 1 ]] || fail "no lastProgress"
curl -sf "$base/api/v1/queries/evens/progress?last=2" >p2.json
assert_eq "progress?last=2: two records" "2" "$(jq length p2.json)"
assert_eq "progress?last=2: in order" "true" "$(jq '.[1].batchId == .[0].batchId + 1' p2.json)"
assert_eq "progress of an unknown query" "404" \
  "$(curl -s -o /dev/null -w '%{http_code}' "$base/api/v1/queries/nope/progress")"
assert_eq "no such page" "404" "$(curl -s -o /dev/null -w '%{http_code}' "$base/nope")"
pass "api/v1/queries: status, plan as --check prints it, last progress; progress?last=N"

# --- read-only, and bounded -----------------------------------------------------------------
assert_eq "POST refused" "405" "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x=1 "$base/metrics")"
assert_eq "DELETE refused" "405" "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$base/api/v1/queries")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 100000 /dev/zero | tr '\0' a)" "$base/metrics" || true)
[[ $code == 431 || $code == 000 ]] || fail "a 100 KB request head was answered $code"
# a request that never ends: its connection is closed after the timeout; others are served meanwhile
python3 - "${base##*:}" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
t = time.time()
s.settimeout(30)
try:
    while s.recv(4096): pass
except Exception: pass
print("closed after %.1f s" % (time.time() - t), file=open("slow.txt", "w"))
PY
slow=$!
assert_eq "served while a request hangs" "200" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$base/healthz")"
wait $slow
[[ $(awk '{print int($3)}' slow.txt) -le 15 ]] || fail "the endless request: $(cat slow.txt)"
pass "POST/DELETE 405, a 100 KB head refused, an endless request closed ($(cat slow.txt))"

# loopback only unless an address is given
ss -ltn | grep -q "127.0.0.1:${base##*:} " || fail "not listening on 127.0.0.1:${base##*:}: $(ss -ltn)"
other=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -v '^127\.' | grep -v ':' | head -1 || true)
if [[ -n $other ]]; then
  code=$(curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$other:${base##*:}/metrics" || true)
  assert_eq "served on $other" "000" "$code"
fi
pass "listens on 127.0.0.1 only by default${other:+ (refused on $other)}"

# --- streamrun top ------------------------------------------------------------------------------
sock=$WORK/tmux.sock
tmux -S "$sock" new-session -d -x 150 -y 30 "$SR_BIN top $base/; echo top-exit \$?; sleep 30"
wait_until "top shows both queries" bash -c \
  "tmux -S '$sock' capture-pane -p | grep -q rate_windows && tmux -S '$sock' capture-pane -p | grep -q evens"
tmux -S "$sock" capture-pane -p >top.txt
grep -q 'QUERY.*STATUS.*BATCH' top.txt || fail "top: no header: $(cat top.txt)"
grep -q 'rate_windows *ACTIVE' top.txt || fail "top: $(cat top.txt)"
tmux -S "$sock" send-keys q
wait_until "top quits on q" bash -c "tmux -S '$sock' capture-pane -p | grep -q 'top-exit 0'"
tmux -S "$sock" kill-server
pass "streamrun top shows the queries and quits on q"

# --- a files source's backlog ----------------------------------------------------------------------
kill -TERM $pid; wait $pid || true
for i in 1 2 3 4 5; do drop_file in "f$i.json" '{"a":1}
{"a":2}
'; done
cat >files.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "a long", maxFilesPerTrigger = 1 }
  :write_stream{ format = "noop", queryName = "files", checkpointLocation = "chk_files",
                 trigger = { processingTime = "700 milliseconds" } }
LUA
start_http_job files.log files.lua
wait_until "two batches" bash -c "[[ \$(wc -l <chk_files/progress/progress.jsonl 2>/dev/null) -ge 2 ]]"
curl -sf "$base/metrics" >fm.txt
last=$(metric "$(cat fm.txt)" 'streamrun_last_batch_id{query="files"}')
assert_eq "files left for later batches" "$((4 - last))" \
  "$(metric "$(cat fm.txt)" 'streamrun_source_backlog_files{query="files",source="0"}')"
assert_eq "the same in progress" "$((4 - last))" \
  "$(jq "select(.batchId == $last) | .sources[0].metrics.numFilesOutstanding" chk_files/progress/progress.jsonl)"
pass "a files source's backlog: $((4 - last)) files left after batch $last"

# --- a failed query -------------------------------------------------------------------------------
kill -TERM $pid; wait $pid || true
cat >boom.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "rate", rowsPerSecond = 100 }
  :map(function(r) if r.value > 30 then error("too big: " .. r.value) end; return r end)
  :write_stream{ format = "noop", queryName = "boom", trigger = { processingTime = "100 milliseconds" } }
sr.read_stream{ format = "rate", rowsPerSecond = 10 }
  :write_stream{ format = "noop", queryName = "calm", trigger = { processingTime = "100 milliseconds" } }
LUA
start_http_job boom.log --log-format json boom.lua
wait_until "boom fails" bash -c "curl -sf $base/api/v1/queries | jq -e '.queries[] | select(.name == \"boom\" and .status == \"FAILED\")'"
assert_eq "readyz with a failed query" "503" "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")"
curl -sf "$base/api/v1/queries" >boom.json
assert_contains "the failure's error" "$(jq -r '.queries[0].error' boom.json)" "boom.lua:3: too big"
assert_eq "the last error's file:line" "boom.lua:3" "$(jq -r '.errors[-1].where' boom.json)"
kill -TERM $pid; wait $pid || true
pass "a failed query: readyz 503, its error and file:line in the API"

# --- --log-format json ----------------------------------------------------------------------------
jq -c . boom.log >/dev/null || fail "--log-format json: not JSON lines: $(cat boom.log)"
line=$(jq -c 'select(.query == "boom")' boom.log)
assert_eq "a JSON log line" '"error" "boom" "number" "boom.lua:3"' \
  "$(jq -r '[.level, .query, (.batch|type), .where] | map(tojson) | join(" ")' <<<"$line")"
assert_contains "its message" "$(jq -r .message <<<"$line")" "query boom failed: "
jq -r .message boom.log | grep -q '^http://' || fail "no http line in JSON"
head -4 boom.lua >boom_only.lua  # the failing query alone: the job ends with it
run_sr boom_only.lua
assert_contains "text by default" "$err" "streamrun: query boom failed: boom_only.lua:4: batch"
pass "--log-format json: one object a line with level, query, batch, where; text stays the default"
finish
