# A damaged checkpoint never costs output silently. For each file kind recovery reads
# (metadata, offsets/N, commits/N, the file source's sources/0/N, the sink's
# _streamrun_metadata/N, a state file), each damage (truncated, a byte flipped, deleted,
# replaced by an older whole file of the same kind), with and without an uncommitted batch
# (kill -9 after the sink committed it): the restart either recovers, and the output equals an
# undamaged run's exactly (no window lost, none written twice, no count changed), or fails
# with exit 2 (refused at start) or 1 (found by a batch) and an error naming the damaged file. Each case's expected outcome is pinned:
# recovery where the damaged file is one a re-run does not need (the newest commit before an
# uncommitted batch, which is re-run from its offsets; the state version the re-run rewrites;
# the sink's record of the re-run batch), an error everywhere else.
source "$(dirname "$0")/lib.sh"

cat >job.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "k string, t timestamp",
                maxFilesPerTrigger = 1, fileStableMs = 0 }
  :with_watermark("t", "0 seconds")
  :group_by(sr.window("t", "10 seconds"), "k")
  :agg{ n = sr.count() }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", outputMode = "append",
                 trigger = { availableNow = true } }
LUA

make_file() { # DIR N: rows of window N (10 s each), keys a and b
  local body="" j
  for ((j = 0; j < 9; j++)); do
    body+="{\"k\":\"$([[ $((j % 3)) == 0 ]] && echo a || echo b)\",\"t\":$(( $1 * 10 + j ))}"$'\n'
  done
  drop_file "$2/in" "f$1.json" "$body"
}
rows() { cat "$1"/out/part-* 2>/dev/null | jq -c '[.window.start, .k, .n]' | LC_ALL=C sort; }
run_in() { cd "$1"; run_sr ../job.lua; cd "$WORK"; }
newest() { ls "$1" | grep -E '^[0-9]+$' | sort -n | tail -1; }

# The undamaged run: files 0..5, one per batch.
mkdir ref
for i in 0 1 2 3 4 5; do make_file $i ref; done
run_in ref
assert_eq "reference run" 0 "$code"
rows ref >expected.txt
assert_eq "reference windows (5 closed windows, 2 keys)" 10 "$(wc -l <expected.txt)"

# Two bases: files 0..3 committed ("committed"), and file 4's batch logged and committed by the
# sink but not in commits/ ("uncommitted"). File 5 arrives after the damage in both.
mkdir committed
for i in 0 1 2 3; do make_file $i committed; done
run_in committed
assert_eq "base run" 0 "$code"
cp -a committed uncommitted
make_file 4 uncommitted
next=$(( $(newest uncommitted/chk/offsets) + 1 ))
set +e
(cd uncommitted && SR_CRASH_AT="after_sink_commit:$next" exec timeout 60 "$SR_BIN" ../job.lua 2>/dev/null)
c=$?
set -e
assert_eq "the uncommitted base is killed after its sink commit" 137 "$c"
assert_eq "uncommitted base: offsets one ahead of commits" $(( $(newest uncommitted/chk/commits) + 1 )) \
  "$(newest uncommitted/chk/offsets)"
mkdir -p other/in && run_in other  # another query's checkpoint (its input: an empty folder)

# The file of a kind to damage (the newest of its kind), and the older one of the same kind.
target() { # BASE KIND -> "file older"
  local d=$1/chk n
  case $2 in
    metadata) echo "$d/metadata other/chk/metadata" ;;
    offsets) n=$(newest "$d/offsets"); echo "$d/offsets/$n $d/offsets/$((n - 1))" ;;
    commits) n=$(newest "$d/commits"); echo "$d/commits/$n $d/commits/$((n - 1))" ;;
    sources) n=$(newest "$d/sources/0"); echo "$d/sources/0/$n $d/sources/0/$((n - 1))" ;;
    sinklog) n=$(newest "$1/out/_streamrun_metadata")
             echo "$1/out/_streamrun_metadata/$n $1/out/_streamrun_metadata/$((n - 1))" ;;
    state) n=$(ls "$d/state/0/0" | grep -E '^[0-9]+\.delta$' | sort -n | tail -1); n=${n%.delta}
           echo "$d/state/0/0/$n.delta $d/state/0/0/$((n - 1)).delta" ;;
  esac
}

damage() { # HOW FILE OLDER
  local size
  case $1 in
    truncate) size=$(stat -c %s "$2"); truncate -s $((size / 2)) "$2" ;;
    corrupt) size=$(stat -c %s "$2")
             printf '%02x' $(( ($(od -An -tu1 -j $((size / 2)) -N1 "$2") ^ 0x20) )) | xxd -r -p |
               dd of="$2" bs=1 seek=$((size / 2)) conv=notrunc status=none ;;
    delete) rm "$2" ;;
    older) cp "$3" "$2" ;;
  esac
}

# Expected outcome per case: ok (recovers, output exact) or err (exit 2 when the query is
# refused at start, 1 when a batch finds it, naming the file). The
# commit before an uncommitted batch is read by its re-run (the max event times the watermark
# goes on from), so damage to it is an error too.
declare -A want=(
  [committed:metadata:truncate]=err [committed:metadata:corrupt]=err
  [committed:metadata:delete]=err [committed:metadata:older]=err
  [committed:offsets:truncate]=err [committed:offsets:corrupt]=err
  [committed:offsets:delete]=err [committed:offsets:older]=err
  [committed:commits:truncate]=err [committed:commits:corrupt]=err
  [committed:commits:delete]=ok [committed:commits:older]=err
  [committed:sources:truncate]=err [committed:sources:corrupt]=err
  [committed:sources:delete]=err [committed:sources:older]=err
  [committed:sinklog:truncate]=err [committed:sinklog:corrupt]=err
  [committed:sinklog:delete]=err [committed:sinklog:older]=err
  [committed:state:truncate]=err [committed:state:corrupt]=err
  [committed:state:delete]=err [committed:state:older]=err
  [uncommitted:metadata:truncate]=err [uncommitted:metadata:corrupt]=err
  [uncommitted:metadata:delete]=err [uncommitted:metadata:older]=err
  [uncommitted:offsets:truncate]=err [uncommitted:offsets:corrupt]=err
  [uncommitted:offsets:delete]=err [uncommitted:offsets:older]=err
  [uncommitted:commits:truncate]=err [uncommitted:commits:corrupt]=err
  [uncommitted:commits:delete]=err [uncommitted:commits:older]=err
  [uncommitted:sources:truncate]=err [uncommitted:sources:corrupt]=err
  [uncommitted:sources:delete]=err [uncommitted:sources:older]=err
  [uncommitted:sinklog:truncate]=err [uncommitted:sinklog:corrupt]=err
  [uncommitted:sinklog:delete]=ok [uncommitted:sinklog:older]=err
  [uncommitted:state:truncate]=ok [uncommitted:state:corrupt]=ok
  [uncommitted:state:delete]=ok [uncommitted:state:older]=ok
)

for base in committed uncommitted; do
  for kind in metadata offsets commits sources sinklog state; do
    for how in truncate corrupt delete older; do
      case_id=$base:$kind:$how
      rm -rf case && cp -a "$base" case
      read -r file older <<<"$(target case "$kind")"
      [[ -f $file ]] || fail "$case_id: no file to damage ($file)"
      [[ $how != older || -f $older ]] || fail "$case_id: no older file ($older)"
      damage "$how" "$file" "$older"
      [[ -f case/in/f4.json ]] || make_file 4 case
      make_file 5 case
      run_in case
      rel=${file#case/}; rel=${rel#chk/}; rel=${rel#out/}
      if [[ $code == 0 ]]; then
        got=$(rows case)
        [[ "$got" == "$(cat expected.txt)" ]] ||
          fail "$case_id: recovered with wrong output: $(diff <(echo "$got") expected.txt | head -6)"
        outcome=ok
      elif [[ $code == 1 || $code == 2 ]]; then # 2: refused at start, 1: found in a batch
        [[ $err == *"$rel"* ]] || fail "$case_id: the error does not name $rel: $err"
        [[ $err != *"internal"* ]] || fail "$case_id: $err"
        outcome=err
      else
        fail "$case_id: exit $code: $err"
      fi
      [[ $outcome == "${want[$case_id]}" ]] ||
        fail "$case_id: expected ${want[$case_id]}, got $outcome (exit $code): $err"
      pass "$case_id: $outcome${err:+ ($(head -1 <<<"$err" | cut -c1-160))}"
    done
  done
done
# The newest batch's offsets and commit both removed, or the whole offsets/ folder: refused,
# and (nothing was changed by the refusal) the restored checkpoint then goes on exactly.
for what in both folder; do
  rm -rf case && cp -a committed case
  n=$(newest case/chk/offsets)
  mkdir saved && cp -a case/chk/offsets case/chk/commits saved/
  if [[ $what == both ]]; then rm "case/chk/offsets/$n" "case/chk/commits/$n"; else rm -r case/chk/offsets; fi
  make_file 4 case
  make_file 5 case
  run_in case
  assert_eq "$what removed: refused" 2 "$code"
  if [[ $what == both ]]; then assert_contains "names it" "$err" "offsets/$n is missing"
  else assert_contains "names it" "$err" "chk/offsets/ is empty but commits/ runs to batch $n"; fi
  rm -rf case/chk/offsets case/chk/commits && cp -a saved/offsets saved/commits case/chk/ && rm -rf saved
  run_in case
  assert_eq "$what restored ($err)" 0 "$code"
  [[ "$(rows case)" == "$(cat expected.txt)" ]] || fail "$what restored: output differs"
  pass "offsets and commits of the newest batch removed ($what): refused naming it; restored, exact"
done

# A checkpoint written before checksums (the same files without their checksum lines, sink
# log entries without the query id) is read, strictly, and goes on; one such file cut at a line
# end is still refused.
strip_checksums() { # DIR
  local f
  for f in "$1"/chk/metadata "$1"/chk/plan "$1"/chk/offsets/* "$1"/chk/commits/* "$1"/chk/sources/0/* \
           "$1"/out/_streamrun_metadata/*; do
    sed -i '/^#crc32 /d' "$f"
  done
  for f in "$1"/out/_streamrun_metadata/*; do
    jq -c 'del(.queryId)' "$f" | tr -d '\n' >"$f.new" && mv "$f.new" "$f"
  done
}
rm -rf case && cp -a committed case
strip_checksums case
make_file 4 case
make_file 5 case
run_in case
assert_eq "a checkpoint from before checksums ($err)" 0 "$code"
[[ "$(rows case)" == "$(cat expected.txt)" ]] || fail "old checkpoint: output differs"
grep -q '^#crc32 ' case/chk/offsets/$(newest case/chk/offsets) || fail "new files are checked files"
pass "a checkpoint from before checksums is read and goes on, exactly"
rm -rf case && cp -a committed case
strip_checksums case
n=$(newest case/chk/offsets)
head -2 "case/chk/offsets/$n" >o && mv o "case/chk/offsets/$n"
make_file 4 case
run_in case
assert_eq "an old offsets file missing its offsets line" 2 "$code"
assert_contains "names it" "$err" "offsets/$n is damaged: it has 0 offsets lines, the query has 1 sources"
pass "an old file without a checksum is parsed strictly: a missing line is refused"
# Compact files (compactInterval = 2 for the source's log and the sink's): after batches 0..4
# (4: the watermark's no-data batch) the source's log is 1.compact 2 3.compact and the sink's
# 3.compact 4. The newest compact file of each, truncated, a byte flipped, deleted or replaced
# by the older 1.compact: refused naming it; the output is untouched, and the restored file
# goes on exactly.
sed 's/fileStableMs = 0 }/fileStableMs = 0, compactInterval = 2 }/; s/outputMode = "append",/outputMode = "append", compactInterval = 2,/' \
  job.lua >compact_job.lua
grep -q 'compactInterval = 2 }' compact_job.lua && grep -q 'compactInterval = 2,' compact_job.lua ||
  fail "compact_job.lua: $(cat compact_job.lua)"
mkdir compacted
for i in 0 1 2 3; do make_file $i compacted; done
(cd compacted && run_sr ../compact_job.lua && [[ $code == 0 ]]) || fail "compacted base: $err"
assert_eq "the source's log" "1.compact 2 3.compact" "$(ls compacted/chk/sources/0 | sort -n | tr '\n' ' ' | sed 's/ $//')"
assert_eq "the sink's log" "3.compact 4" "$(ls compacted/out/_streamrun_metadata | tr '\n' ' ' | sed 's/ $//')"
# the sink's 1.compact is removed once 3.compact is written: the older one comes from a run
# killed in between
mkdir s1
for i in 0 1 2 3; do make_file $i s1; done
(cd s1 && SR_CRASH_AT=sink_compact:3 timeout 60 "$SR_BIN" ../compact_job.lua >/dev/null 2>&1) || true
[[ -f s1/out/_streamrun_metadata/1.compact ]] || fail "no older sink compact file: $(ls s1/out/_streamrun_metadata)"
for kind in sources sinklog; do
  for how in truncate corrupt delete older; do
    rm -rf case && cp -a compacted case
    if [[ $kind == sources ]]; then file=case/chk/sources/0/3.compact older=case/chk/sources/0/1.compact
    else file=case/out/_streamrun_metadata/3.compact older=s1/out/_streamrun_metadata/1.compact; fi
    saved=$(mktemp) && cp "$file" "$saved"
    before=$(rows case)
    damage "$how" "$file" "$older"
    make_file 4 case
    cd case; run_sr ../compact_job.lua; cd "$WORK"
    [[ $code == 1 || $code == 2 ]] || fail "compact $kind $how: exit $code: $err"
    want_name=${file#case/}; want_name=${want_name#chk/}; want_name=${want_name#out/}
    assert_contains "compact $kind $how names it" "$err" "$want_name"
    assert_eq "compact $kind $how: no output written" "$before" "$(rows case)"
    refused=$(head -1 <<<"$err" | cut -c1-140)
    cp "$saved" "$file" && rm "$saved"
    cd case; run_sr ../compact_job.lua; cd "$WORK"
    assert_eq "compact $kind $how restored ($err)" 0 "$code"
    pass "compact $kind $how: refused naming it ($refused); restored, goes on"
  done
done
# Retention keeps the last 100 batches, removing commits and then offsets oldest first: a
# checkpoint caught in the middle (commits beginning after offsets) is whole.
mkdir ret && cd ret
for i in $(seq 0 104); do drop_file in "f$(printf %03d "$i").json" "{\"id\":$i}"; done
cat >job.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "id long", maxFilesPerTrigger = 1, fileStableMs = 0 }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", trigger = { availableNow = true } }
LUA
run_sr job.lua
assert_eq "105 batches" 0 "$code"
assert_eq "offsets kept from batch 4" 4 "$(ls chk/offsets | sort -n | head -1)"
rm chk/commits/4 chk/commits/5
drop_file in f105.json '{"id":105}'
run_sr job.lua
assert_eq "a crash in the middle of pruning ($err)" 0 "$code"
assert_eq "every row once" "$(seq 0 105)" "$(cat out/part-* | jq .id | sort -n)"
rm chk/offsets/50
drop_file in f106.json '{"id":106}'
run_sr job.lua
assert_eq "a hole in offsets" 2 "$code"
assert_contains "names it" "$err" "chk/offsets/50 is missing"
cd "$WORK"
pass "retention: commits pruned before offsets is whole; a hole in offsets/ is refused naming it"
finish
