# Event-time windows end to end: results against the hand-written baseline, the output modes,
# session windows across batches, late rows in progress, no-data batches closing windows after
# the input stops, a restart from snapshot + deltas, and the plans Spark refuses.
source "$(dirname "$0")/lib.sh"

# norm.lua: window rows (ours with ISO timestamps, the baseline's with epoch ms) as
# "start end auction bids top" lines.
cat >norm.lua <<'LUA'
local cjson = require "cjson"
local ms = dofile(os.getenv("SR_SOURCE_DIR") .. "/tests/e2e/iso_ms.lua")
for line in io.lines() do
  local r = cjson.decode(line)
  print(string.format("%d %d %d %d %.17g", ms(r.window.start), ms(r.window["end"]), r.auction, r.bids, r.top))
end
LUA
norm() { luajit norm.lua | LC_ALL=C sort; }

# 1. The baseline's query on the same input, one file per batch: the same rows exactly.
luajit "$SR_SOURCE_DIR/bench/gen_bids.lua" 100000 bids 10 >/dev/null
luajit "$SR_SOURCE_DIR/bench/baseline_window.lua" bids baseline.json 2>baseline.err
run_sr "$SR_SOURCE_DIR/scripts/bench_jobs/window.lua" bids out chk 1
assert_eq "window job exit" 0 "$code"
cat out/part-* | norm >ours.txt
norm <baseline.json >theirs.txt
assert_eq "rows out" "$(wc -l <theirs.txt)" "$(wc -l <ours.txt)"
cmp -s ours.txt theirs.txt || fail "window rows differ from the baseline's: $(diff ours.txt theirs.txt | head -5)"
pass "tumbling count/max per auction equals baseline_window.lua: $(wc -l <ours.txt) rows"

# Late rows: the baseline's count, summed over the batches' progress.
late=$(sed -n 's/.* \([0-9]*\) late,.*/\1/p' baseline.err)
dropped=$(jq -s '[.[].stateOperators[0].numRowsDroppedByWatermark] | add' chk/progress/progress.jsonl)
assert_eq "late rows dropped" "$late" "$dropped"
[[ $late -gt 0 ]] || fail "the input has no late rows"
pass "late rows dropped and counted in numRowsDroppedByWatermark: $dropped"

# Progress: stateOperators and eventTime as Spark's; the last batch is a no-data batch.
last=$(tail -1 chk/progress/progress.jsonl)
for f in numRowsTotal numRowsUpdated numRowsRemoved memoryUsedBytes numRowsDroppedByWatermark commitTimeMs \
         numShufflePartitions numStateStoreInstances; do
  [[ $(jq ".stateOperators[0] | has(\"$f\")" <<<"$last") == true ]] || fail "stateOperators lacks $f"
done
assert_eq "last batch is a no-data batch" 0 "$(jq .numInputRows <<<"$last")"
assert_eq "no-data batch emits the closed windows" true "$(jq '.sink.numOutputRows > 0 and .stateOperators[0].numRowsRemoved > 0' <<<"$last")"
first=$(head -1 chk/progress/progress.jsonl)
assert_eq "first batch runs with Spark's watermark 0" '"1970-01-01T00:00:00.000Z"' "$(jq .eventTime.watermark <<<"$first")"
assert_eq "event time of batch 0" '"2026-11-23T09:59:44.495Z" "2026-11-23T10:00:09.999Z"' \
  "$(jq -c '.eventTime.min, .eventTime.max' <<<"$first" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "watermark of batch 1 = max event time of batch 0 - 4 s" '"2026-11-23T10:00:05.999Z"' \
  "$(sed -n 2p chk/progress/progress.jsonl | jq -c .eventTime.watermark)"
avg=$(jq -r .eventTime.avg <<<"$first")
[[ $avg > "2026-11-23T09:59:44.495Z" && $avg < "2026-11-23T10:00:09.999Z" ]] || fail "eventTime.avg $avg"
pass "progress has stateOperators and eventTime {min, max, avg, watermark}"

# 2. Output modes on hand-made batches (one file each).
mkdir -p modes
drop_file modes f1.json $'{"t":"2026-01-01T00:00:01Z","k":"a"}\n{"t":"2026-01-01T00:00:07Z","k":"a"}\n{"t":"2026-01-01T00:00:03Z","k":"b"}\n'
drop_file modes f2.json $'{"t":"2026-01-01T00:00:12Z","k":"a"}\n{"t":"2026-01-01T00:00:04Z","k":"b"}\n'
drop_file modes f3.json $'{"t":"2026-01-01T00:00:02Z","k":"a"}\n{"t":"2026-01-01T00:00:21Z","k":"b"}\n'
cat >modes.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "modes", maxFilesPerTrigger = 1,
                schema = { t = "timestamp", k = "string" } }
  :with_watermark("t", "5 seconds")
  :group_by(sr.window("t", "10 seconds"), "k"):agg{ n = sr.count() }
  :write_stream{ format = "foreach_batch", checkpointLocation = "chk_" .. arg[1],
                 outputMode = arg[1], trigger = { availableNow = true },
                 fn = function(rows, batch_id) -- the file sinks take only append (as Spark's)
                   os.execute("mkdir -p out_" .. arg[1])
                   local f = assert(io.open(("out_%s/batch-%d.json"):format(arg[1], batch_id), "w"))
                   for _, r in ipairs(rows) do f:write(sr.to_json(r), "\n") end
                   f:close()
                 end }
LUA
batch_rows() { # DIR BATCH: the rows of one batch as "start k n" (start: its second, of the ISO text
  # sr.to_json writes a window's timestamps as)
  jq -r '"\(.window.start[17:19] | tonumber) \(.k) \(.n)"' "$1/batch-$2.json" | sort | tr '\n' ';'
}
for mode in append update complete; do
  run_sr modes.lua "$mode"
  assert_eq "$mode exit" 0 "$code"
done
# watermarks: batch 0 none, batch 1 2 s, batch 2 7 s, no-data batch 3 16 s
assert_eq "append batch 0" "" "$(batch_rows out_append 0)"
assert_eq "append batch 2" "" "$(batch_rows out_append 2)"
# a@2 in batch 2 is behind the watermark (7 s) but its window [0, 10) is open: it counts (Spark
# drops a row only when its window's end is <= the watermark)
assert_eq "append batch 3 (no data)" "0 a 3;0 b 2;" "$(batch_rows out_append 3)"
assert_eq "append: every window once" 2 "$(cat out_append/batch-* | wc -l)"
assert_eq "update batch 0" "0 a 2;0 b 1;" "$(batch_rows out_update 0)"
assert_eq "update batch 1" "0 b 2;10 a 1;" "$(batch_rows out_update 1)"
assert_eq "update batch 2 (a@2 behind the watermark, its window open)" "0 a 3;20 b 1;" "$(batch_rows out_update 2)"
assert_eq "complete batch 1" "0 a 2;0 b 2;10 a 1;" "$(batch_rows out_complete 1)"
assert_eq "complete batch 2" "0 a 3;0 b 2;10 a 1;20 b 1;" "$(batch_rows out_complete 2)"
pass "append, update and complete emit what Spark's StateStoreSaveExec emits"

# 2b. Rows behind the watermark: dropped only from closed windows. Watermarks: none, 14 s, then
# 36 s closes what batch 1 made.
mkdir -p late
drop_file late f1.json $'{"t":"2026-01-01T00:00:18Z","k":"a"}\n'
drop_file late f2.json $'{"t":"2026-01-01T00:00:11Z","k":"a"}\n{"t":"2026-01-01T00:00:09Z","k":"a"}\n{"t":"2026-01-01T00:00:14Z","k":"a"}\n'
drop_file late f3.json $'{"t":"2026-01-01T00:00:40Z","k":"b"}\n'
cat >late.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "late", maxFilesPerTrigger = 1,
                schema = { t = "timestamp", k = "string" } }
  :with_watermark("t", "4 seconds")
  :group_by(sr.window("t", arg[1], arg[2]), "k"):agg{ n = sr.count() }
  :write_stream{ format = "json", path = "out_late_" .. arg[3], checkpointLocation = "chk_late_" .. arg[3],
                 trigger = { availableNow = true } }
LUA
late_rows() { cat "out_late_$1"/part-* | jq -r '"\(.window.start[17:19])-\(.window.end[17:19]) \(.n)"' | sort | tr '\n' ';'; }
run_sr late.lua "10 seconds" "10 seconds" tumbling
assert_eq "tumbling exit" 0 "$code"
# batch 1 (watermark 14 s): 11 s and 14 s are behind it, in the open window [10, 20); 9 s's
# window [0, 10) has closed
assert_eq "tumbling windows" "10-20 3;" "$(late_rows tumbling)"
assert_eq "tumbling dropped" 1 "$(sed -n 2p chk_late_tumbling/progress/progress.jsonl | jq .stateOperators[0].numRowsDroppedByWatermark)"
run_sr late.lua "10 seconds" "5 seconds" sliding
assert_eq "sliding exit" 0 "$code"
# windows [5, 15), [10, 20), [15, 25): 9 s falls in [0, 10) (closed: dropped) and [5, 15)
# (open: counted); 11 s and 14 s in [5, 15) and [10, 20)
assert_eq "sliding windows" "05-15 3;10-20 3;15-25 1;" "$(late_rows sliding)"
assert_eq "sliding dropped (9 s from [0, 10) only)" 1 "$(sed -n 2p chk_late_sliding/progress/progress.jsonl | jq .stateOperators[0].numRowsDroppedByWatermark)"
pass "a row behind the watermark counts while its window is open (tumbling and sliding), dropped per closed window"

# 3. Session windows merging across batches, closed by a no-data batch.
mkdir -p sess
drop_file sess f1.json $'{"t":"2026-01-01T00:00:10Z","user":"u1"}\n{"t":"2026-01-01T00:00:14Z","user":"u1"}\n{"t":"2026-01-01T00:00:10Z","user":"u2"}\n'
drop_file sess f2.json $'{"t":"2026-01-01T00:00:19Z","user":"u1"}\n{"t":"2026-01-01T00:00:30Z","user":"u2"}\n'
drop_file sess f3.json $'{"t":"2026-01-01T00:00:24Z","user":"u1"}\n{"t":"2026-01-01T00:00:40Z","user":"u3"}\n'
cat >sess.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "sess", maxFilesPerTrigger = 1,
                schema = { t = "timestamp", user = "string" } }
  :with_watermark("t", "10 seconds")
  :group_by("user", sr.session_window("t", "5 seconds")):agg{ n = sr.count() }
  :write_stream{ format = "json", path = "out_sess", checkpointLocation = "chk_sess",
                 trigger = { availableNow = true } }
LUA
run_sr sess.lua
assert_eq "session job exit" 0 "$code"
got=$(cat out_sess/part-* | jq -r '"\(.user) \(.window.start[17:19])-\(.window.end[17:19]) \(.n)"' | sort | tr '\n' ';')
# u1: 10, 14 (touches [10,15)), 19 (touches [10,19)), 24 (touches [10,24)) -> [10, 29) x4
assert_eq "sessions (u2 [30, 35) and u3 stay open: final watermark 30 s)" "u1 10-29 4;u2 10-15 1;" "$got"
pass "session windows merge across batches (a start touching an end joins) and close by the watermark"

# 4. A processing-time trigger: windows close in no-data batches after the input stops.
mkdir -p live
cat >live.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "live", schema = { t = "timestamp", k = "string" } }
  :with_watermark("t", "1 second")
  :group_by(sr.window("t", "5 seconds"), "k"):count()
  :write_stream{ format = "json", path = "out_live", checkpointLocation = "chk_live",
                 trigger = "100 milliseconds" }
LUA
"$SR_BIN" live.lua 2>live.err &
pid=$!
drop_file live a.json $'{"t":"2026-01-01T00:00:01Z","k":"x"}\n{"t":"2026-01-01T00:00:02Z","k":"x"}\n'
sleep 0.5
drop_file live b.json $'{"t":"2026-01-01T00:00:09Z","k":"y"}\n'
for _ in $(seq 50); do
  [[ -n "$(cat out_live/part-* 2>/dev/null)" ]] && break
  sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || true
assert_eq "closed after the input stopped" '00 x 2' "$(cat out_live/part-* | jq -r '"\(.window.start[17:19]) \(.k) \(.count)"')"
assert_eq "by a no-data batch" 0 "$(tail -1 chk_live/progress/progress.jsonl | jq .numInputRows)"
pass "a processing-time query closes windows in a no-data batch once the input stops"

# 5. Restart from snapshot + deltas: 12 batches, then 6 more files in a second run.
mkdir -p many
luajit "$SR_SOURCE_DIR/bench/gen_bids.lua" 36000 all 18 >/dev/null
for i in $(seq -f %04g 1 12); do cp all/bids-$i.json many/; done
run_sr "$SR_SOURCE_DIR/scripts/bench_jobs/window.lua" many out_many chk_many 1
assert_eq "first run" 0 "$code"
# the store's close waits for its snapshot jobs (state_store.c, invariant 6): a clean exit
# after batch 11 leaves the snapshot of version 10, so the second run starts from it
ls chk_many/state/0/0 | grep -q '^10.snapshot$' || fail "no snapshot at version 10: $(ls chk_many/state/0/0)"
for i in $(seq -f %04g 13 18); do cp all/bids-$i.json many/; done
run_sr "$SR_SOURCE_DIR/scripts/bench_jobs/window.lua" many out_many chk_many 1
assert_eq "second run" 0 "$code"
run_sr "$SR_SOURCE_DIR/scripts/bench_jobs/window.lua" all out_all chk_all 1
cat out_many/part-* | norm >restarted.txt
cat out_all/part-* | norm >straight.txt
[[ $(wc -l <straight.txt) -gt 100 ]] || fail "too few rows: $(wc -l <straight.txt)"
cmp -s restarted.txt straight.txt || fail "restart changed the result: $(diff restarted.txt straight.txt | head -5)"
pass "a restart from snapshot 10 + deltas continues exactly: $(wc -l <straight.txt) rows as in one run"

# 6. Plans Spark refuses: --check exits 2 with the reason and the job line.
refuse() { # NAME KEYS-AND-AGG OUTPUT-MODE EXPECTED
  cat >"ref_$1.lua" <<LUA
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = { t = "timestamp", k = "string" } }
  :with_watermark("t", "1 second")
  $2
  :write_stream{ format = "console", outputMode = "$3" }
LUA
  run_sr --check "ref_$1.lua"
  assert_eq "$1 exit" 2 "$code"
  assert_contains "$1 reason" "$err" "$4"
  assert_contains "$1 job line" "$err" "ref_$1.lua:4"
}
refuse nowm ':group_by("k"):count()' append "append output mode is not supported for a streaming aggregation without a watermark"
refuse sessupd ':group_by("k", sr.session_window("t", "1 second")):count()' update "update output mode is not supported with session windows"
refuse twowin ':group_by(sr.window("t", "1 second"), sr.window("t", "2 seconds")):count()' append "only one sr.window"
refuse global ':group_by(sr.session_window("t", "1 second")):count()' append "needs another key beside the session window"
refuse gap ':group_by("k", sr.session_window("t", "0 seconds")):count()' append "gap must be positive"
refuse multi ':group_by("k"):count():group_by("count"):count()' complete "multiple streaming aggregations are supported only in append mode"
run_sr --check "$SR_SOURCE_DIR/scripts/bench_jobs/window.lua" all out chk
assert_eq "a valid plan passes --check" 0 "$code"
pass "refused plans: --check exits 2 with Spark's reason and the job line"
finish
