# The Kafka sink's pending file (which batch it began writing, and where) is cross-checked at
# recovery: a pending batch beyond the checkpoint's newest offsets (offsets removed) or a file
# written by another query (copied from another checkpoint) stops the query naming the file,
# instead of taking the next batch for a replay and skipping its rows.
source "$(dirname "$0")/lib.sh"
command -v kcat >/dev/null || fail "kcat is needed (apt-get install kcat)"

coproc MOCK { exec "$SR_BIN" --kafka-mock --topic out:2 2>/dev/null; }
trap 'kill -9 "$MOCK_PID" $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
read -r -t 10 BOOT <&"${MOCK[0]}" || fail "--kafka-mock printed no bootstrap servers"

cat >f2k.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "n long", maxFilesPerTrigger = 1, fileStableMs = 0 }
  :map(function(r) return { value = tostring(r.n) } end)
  :write_stream{ format = "kafka", ["kafka.bootstrap.servers"] = arg[1], topic = "out",
                 checkpointLocation = arg[2], trigger = { availableNow = true } }
LUA
for f in 0 1 2; do drop_file in "f$f.json" "{\"n\":$f}"$'\n'; done
run_sr f2k.lua "$BOOT" chk
assert_eq "three batches ($err)" 0 "$code"
pending=$(find chk -name kafka-sink-pending.json)
[[ -n $pending ]] || fail "no pending file under chk: $(find chk -type f)"
# batches share the pending file while they write to the partitions it names (docs/KAFKA.md):
# batch 0 began it
assert_eq "the pending file names batch 0" 0 "$(head -1 "$pending" | jq .batch)"
cp -a chk saved

# a pending file that names batch 3 while the newest offsets are batch 2's (as after offsets
# were lost): rewritten with a valid checksum, so only the cross-check can catch it
python3 - "$pending" <<'PY'
import sys, zlib
path, tag = sys.argv[1], b"kafka-sink-pending.json"
body = open(path, "rb").read().split(b"#crc32 ")[0].replace(b'"batch":0', b'"batch":3')
open(path, "wb").write(body + b"#crc32 %08x " % zlib.crc32(tag, zlib.crc32(body)) + tag + b"\n")
PY
drop_file in f3.json '{"n":3}'
run_sr f2k.lua "$BOOT" chk
assert_eq "pending batch beyond the offsets refused ($err)" 2 "$code"
assert_contains "names the file" "$err" "$pending records batch 3"
pass "a pending batch beyond the newest offsets stops the query naming $pending"

# another checkpoint's pending file
rm -rf chk && cp -a saved chk
mkdir other_in && drop_file other_in g.json '{"n":9}'
sed 's/path = "in"/path = "other_in"/' f2k.lua >other.lua
run_sr other.lua "$BOOT" chk_other
assert_eq "another query ($err)" 0 "$code"
cp "$(find chk_other -name kafka-sink-pending.json)" "$pending"
run_sr f2k.lua "$BOOT" chk
assert_eq "a pending file copied from another checkpoint refused" 2 "$code"
assert_contains "names the file" "$err" "$pending was written by query"
pass "a pending file of another query stops the query naming it"

# the checkpoint's own file back: the query goes on, each row once
cp "saved/${pending#chk/}" "$pending"
run_sr f2k.lua "$BOOT" chk
assert_eq "restored ($err)" 0 "$code"
assert_eq "every row once" "0 1 2 3 9" \
  "$(kcat -b "$BOOT" -C -t out -e -o beginning -q | sort -n | tr '\n' ' ' | sed 's/ $//')"
pass "restored, the query goes on: every row once"
finish
