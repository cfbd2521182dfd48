# --http with a Kafka source: streamrun_source_backlog_offsets is the offsets behind the latest
# over every partition, as the batch's progress says (Spark's avgOffsetsBehindLatest, times the
# partitions), and shrinks as maxOffsetsPerTrigger batches catch up.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/jobs/http.bash"
command -v kcat >/dev/null || fail "kcat is needed (apt-get install kcat)"
coproc MOCK { exec "$SR_BIN" --kafka-mock --topic bids:2 2>/dev/null; }
read -r -t 10 BOOT <&"${MOCK[0]}" || fail "--kafka-mock printed no bootstrap servers"
seq 1 1000 | kcat -b "$BOOT" -P -t bids
cat >k.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], subscribe = "bids",
                startingOffsets = "earliest", maxOffsetsPerTrigger = 100 }
  :write_stream{ format = "noop", queryName = "k", checkpointLocation = "chk",
                 trigger = { processingTime = "300 milliseconds" } }
LUA
start_http_job k.log k.lua "$BOOT"
wait_until "three batches" bash -c "[[ \$(wc -l <chk/progress/progress.jsonl 2>/dev/null) -ge 3 ]]"
curl -sf "$base/metrics" >m.txt
last=$(metric "$(cat m.txt)" 'streamrun_last_batch_id{query="k"}')
want=$(jq "select(.batchId == $last) | .sources[0] | (.metrics.avgOffsetsBehindLatest | tonumber) *
  ([.latestOffset[] | keys[]] | length) | round" chk/progress/progress.jsonl)
got=$(metric "$(cat m.txt)" 'streamrun_source_backlog_offsets{query="k",source="0"}')
assert_eq "offsets behind latest after batch $last" "$want" "$got"
assert_eq "what is left of the 1,000" "$((1000 - 100 * (last + 1)))" "$got"
kill -TERM $pid; wait $pid || true
kill $MOCK_PID 2>/dev/null || true
pass "Kafka backlog: $got offsets behind latest after batch $last, as progress says"
finish
