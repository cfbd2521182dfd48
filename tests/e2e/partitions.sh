# State partitions (numStatePartitions): windows, dropDuplicates, a stream-stream join and
# process_with_state give the same rows with 1 and 4 partitions (and the default); the state is
# in state/<op>/<p>/ and the count is in the offset log; another count for the checkpoint is
# refused naming the recorded one; a checkpoint written before partitions (one partition, no
# record: tests/fixtures/ckpt-one-partition) restarts and goes on; kill -9 at each step of a
# batch (and a crash that left only some partitions committed) with 4 partitions keeps every row
# once; a damaged or missing file of one partition stops the restart naming it.
source "$(dirname "$0")/lib.sh"

luajit "$SR_SOURCE_DIR/bench/gen_bids.lua" 20000 bids 6 >/dev/null

cat >job.lua <<'LUA'
-- usage: job.lua OP OUT CHK [PARTITIONS]   (OP: window, dedup, join, pws)
local sr = require "streamrun"
local op, out, chk, parts = arg[1], arg[2], arg[3], arg[4]
local function bids()
  return sr.read_stream{ format = "json", path = "bids", maxFilesPerTrigger = 1,
    schema = { auction = "long", bidder = "long", price = "double", channel = "string",
               url = "string", dateTime = "timestamp", extra = "string" } }
end
local q, mode = nil, "append"
if op == "window" then
  q = bids():with_watermark("dateTime", "4 seconds")
    :group_by(sr.window("dateTime", "10 seconds"), "auction")
    :agg{ bids = sr.count(), top = sr.max("price") }
elseif op == "dedup" then
  q = bids():drop_duplicates{ "auction", "bidder" }
    :map(function(r) return { auction = r.auction, bidder = r.bidder, price = r.price } end)
elseif op == "join" then
  local left = bids():filter(function(r) return r.bidder % 7 == 0 end)
    :map(function(r) return { bidder = r.bidder, lprice = r.price } end)
  local right = bids():filter(function(r) return r.bidder % 5 == 0 and r.auction ~= 1000 end)
    :map(function(r) return { bidder = r.bidder, rprice = r.price } end)
  q = left:join(right, { on = { "bidder" } })
elseif op == "pws" then
  q = bids():group_by("bidder"):process_with_state{ fn = function(bidder, rows, state)
    local s = state:get() or { n = 0, top = 0 }
    for _, r in ipairs(rows) do
      s.n = s.n + 1
      if r.price > s.top then s.top = r.price end
    end
    state:update(s)
    return { { bidder = bidder, n = s.n, top = s.top } }
  end }
end
q:write_stream{ format = "json", path = out, checkpointLocation = chk, outputMode = mode,
                numStatePartitions = parts, trigger = { availableNow = true } }
LUA
rows() { cat "$1"/part-* 2>/dev/null | jq -S -c . | LC_ALL=C sort; }
newest() { ls "$1" | grep -E '^[0-9]+\.delta$' | sort -n | tail -1; }

# 1. The same rows whatever the partition count; the layout and the record.
for op in window dedup join pws; do
  run_sr job.lua "$op" "out-$op-1" "chk-$op-1" 1
  assert_eq "$op with 1 partition ($err)" 0 "$code"
  n=$(rows "out-$op-1" | wc -l)
  ((n > 100)) || fail "$op: only $n rows"
  for parts in 4 default; do
    run_sr job.lua "$op" "out-$op-$parts" "chk-$op-$parts" $([[ $parts == default ]] || echo "$parts")
    assert_eq "$op with $parts partitions ($err)" 0 "$code"
    [[ "$(rows "out-$op-$parts")" == "$(rows "out-$op-1")" ]] ||
      fail "$op: $parts partitions give other rows than 1: $(diff <(rows "out-$op-$parts") <(rows "out-$op-1") | head -4)"
  done
  assert_eq "$op: 4 partition directories" "0 1 2 3" "$(ls "chk-$op-4/state/0" | sort -n | xargs)"
  filled=0
  for p in 0 1 2 3; do
    d=chk-$op-4/state/0/$p
    assert_eq "$op: partition $p has every version" "$(ls "chk-$op-4/commits" | wc -l).delta" "$(newest "$d")"
    # a partition that holds keys has a delta bigger than an empty one (28 bytes)
    [[ -n "$(find "$d" -name '*.delta' -size +28c)" ]] && filled=$((filled + 1))
  done
  assert_eq "$op: keys in every partition" 4 "$filled"
  assert_contains "$op: the count is in the offset log" "$(sed -n 2p "chk-$op-4/offsets/0")" '"numStatePartitions":4'
  assert_eq "$op: progress counts the partitions (Spark's names)" "4 4" \
    "$(tail -1 "chk-$op-4/progress/progress.jsonl" | jq -r '.stateOperators[0] | "\(.numShufflePartitions) \(.numStateStoreInstances)"')"
  assert_eq "$op: the default" "0 1 2 3 4 5 6 7" "$(ls "chk-$op-default/state/0" | sort -n | xargs)"
  assert_contains "$op: the default is recorded" "$(sed -n 2p "chk-$op-default/offsets/0")" '"numStatePartitions":8'
done
pass "windows, dropDuplicates, a stream-stream join and process_with_state: the same rows with 1, 4 and 8 (the default) partitions, in state/0/<p>, the count in the offset log"

# 2. Another count for a checkpoint is refused (exit 2) naming the recorded one; leaving the
#    option out keeps the checkpoint's.
run_sr job.lua window out-window-4 chk-window-4 2
assert_eq "another count refused" 2 "$code"
assert_contains "the refusal names both counts" "$err" "numStatePartitions is 2, but the checkpoint chk-window-4 keeps its state in 4 partitions"
run_sr job.lua window out-window-4 chk-window-4
assert_eq "without the option the checkpoint's count is kept ($err)" 0 "$code"
assert_eq "no fifth partition" "0 1 2 3" "$(ls chk-window-4/state/0 | sort -n | xargs)"
pass "numStatePartitions cannot change for a checkpoint (exit 2, naming the recorded count); left out, the checkpoint's count is kept"
for bad in 0 1025 2.5 many; do
  run_sr --check job.lua window out-bad chk-bad "$bad"
  assert_eq "numStatePartitions $bad refused" 2 "$code"
  assert_contains "why $bad is refused" "$err" "numStatePartitions must be a whole number from 1 to 1024, not $bad"
done
[[ ! -e chk-bad ]] || fail "a refused job left a checkpoint"
pass "numStatePartitions outside 1..1024 or not a whole number is refused before anything starts"

# 3. A checkpoint written before partitions: state/0/0 only, no count in its offset log. It is
#    one partition: it restarts, reads its state and goes on as a fresh run over the same files.
fx=$SR_SOURCE_DIR/tests/fixtures/ckpt-one-partition
cp -r "$fx" old && chmod -R u+w old
grep -q numStatePartitions old/chk/offsets/* && fail "the fixture should have no partition count"
# the input files as the checkpoint saw them (a checkout gives them new modification times)
for i in 0 1; do
  read -r path mtime < <(head -1 "old/chk/sources/0/$i" | jq -r '.files[0] | "\(.path) \(.mtime)"')
  touch -d "@$((mtime / 1000)).$(printf '%03d' $((mtime % 1000)))" "old/$path"
done
cd old
drop_file in 3.json "$(cat "$fx/more.json")"
run_sr job.lua
cd "$WORK"
assert_eq "the old checkpoint restarts ($err)" 0 "$code"
mkdir fresh && cp -r "$fx/in" fresh/in && cp "$fx/job.lua" fresh/ && cp "$fx/more.json" fresh/in/3.json
cd fresh
run_sr job.lua
cd "$WORK"
assert_eq "a fresh run over the same files" 0 "$code"
[[ -n "$(rows old/out)" && "$(rows old/out)" == "$(rows fresh/out)" ]] ||
  fail "the old checkpoint's output differs from a fresh run's: $(diff <(rows old/out) <(rows fresh/out) | head -4)"
assert_eq "still one partition" "0" "$(ls old/chk/state/0 | xargs)"
assert_contains "now recorded" "$(sed -n 2p "old/chk/offsets/$(ls old/chk/offsets | sort -n | tail -1)")" '"numStatePartitions":1'
cd old
sed -i 's/trigger =/numStatePartitions = 4, trigger =/' job.lua
run_sr job.lua
cd "$WORK"
assert_eq "4 partitions for the old checkpoint refused" 2 "$code"
assert_contains "it names one partition" "$err" "keeps its state in 1 partition"
pass "a checkpoint written before partitions (one, unrecorded) restarts as one partition and goes on; another count is refused"

# 4. kill -9 at each step of batch 3 with 4 partitions, then a restart: the same rows. After the
#    state commit, one partition's new delta is also removed (a crash between partitions).
for point in after_offsets after_sink_write after_state_commit after_sink_commit after_commit_log; do
  rm -rf out chk
  set +e
  (SR_CRASH_AT="$point:3" exec timeout 60 "$SR_BIN" job.lua window out chk 4) 2>/dev/null
  c=$?
  set -e
  assert_eq "crash at $point kills the process" 137 "$c"
  if [[ $point == after_state_commit ]]; then
    assert_eq "every partition wrote version 4" "4.delta 4.delta 4.delta 4.delta" \
      "$(for p in 0 1 2 3; do newest chk/state/0/$p; done | xargs)"
    rm chk/state/0/2/4.delta
  fi
  run_sr job.lua window out chk 4
  assert_eq "restart after $point ($err)" 0 "$code"
  [[ "$(rows out)" == "$(rows out-window-1)" ]] || fail "rows after a crash at $point differ"
done
pass "kill -9 at each step of a batch with 4 partitions (and only some partitions committed), restart: every window once"

# 5. Random kill -9 while files arrive, 4 partitions, then a drain.
rm -rf in out chk
mkdir in
sed -e 's/path = "bids"/path = "in"/' job.lua >live.lua
RANDOM=7
files=(bids/*)
for round in 1 2 3 4 5 6; do
  f=${files[$((round - 1))]}
  cp "$f" in/.tmp && mv in/.tmp "in/$(basename "$f")"
  "$SR_BIN" live.lua window out chk 4 2>/dev/null &
  pid=$!
  nap "0.$((RANDOM % 4 + 1))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
run_sr live.lua window out chk 4
assert_eq "drain after random kills ($err)" 0 "$code"
[[ "$(rows out)" == "$(rows out-window-1)" ]] || fail "rows after random kills differ"
pass "random kill -9 with 4 partitions while files arrive: every window once"

# 6. One partition's newest file damaged, then missing: the restart stops, naming it.
cp -r chk-pws-4 dmg
f=dmg/state/0/3/$(newest dmg/state/0/3)
printf 'X' | dd of="$f" bs=1 seek=30 conv=notrunc 2>/dev/null
run_sr job.lua pws out-dmg dmg 4
[[ $code != 0 ]] || fail "a damaged partition file was not noticed"
assert_contains "the damaged file is named" "$err" "$f"
rm "$f"
run_sr job.lua pws out-dmg dmg 4
[[ $code != 0 ]] || fail "a missing partition file was not noticed"
assert_contains "the missing file is named" "$err" "$f"
assert_contains "and its partition" "$err" "partition 3 of 4"
pass "a damaged, then missing, file of partition 3 stops the restart naming it"
finish
