#!/usr/bin/env bash
# Deduplication benchmark (not a CI test): EVENTS JSON lines with DISTINCT ids, 10 files, one per
# batch, through drop_duplicates to the noop sink; the source alone for comparison; and a plain
# LuaJIT + cjson loop doing the same work as a peer. Prints one line per run:
#   MODE EVENTS WALL_S CPU_S EVENTS_PER_S EVENTS_PER_CPU_S STATE_MB RSS_MB
# usage: dedup_bench.sh [EVENTS] [DISTINCT]   (SR_BIN: the streamrun binary)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SR_BIN=${SR_BIN:-$here/../../../build/streamrun}
events=${1:-10000000}
distinct=${2:-1000000}
work=$(mktemp -d "${TMPDIR:-/tmp}/sr-dedup-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
luajit "$here/gen_dedup_events.lua" "$events" "$distinct" "$work/in" 10

report() { # MODE TIMEFILE [CHECKPOINT]
  local state=0
  if [[ -n "${3:-}" ]]; then
    state=$(jq -s 'map(.stateOperators[0].memoryUsedBytes // 0) | max' "$3/progress/progress.jsonl")
  fi
  read -r wall user sys rss <"$2"
  awk -v m="$1" -v n="$events" -v w="$wall" -v u="$user" -v s="$sys" -v st="$state" -v r="$rss" \
    'BEGIN { c = u + s; printf "%-12s %d %.2f %.2f %.0f %.0f %.1f %.0f\n", m, n, w, c, n / w, n / c, st / 1e6, r / 1024 }'
}
for mode in read dedup within; do
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$SR_BIN" "$here/dedup_bench.lua" "$work/in" "$mode" "$work/chk-$mode" 2>/dev/null
  report "$mode" "$work/time" "$work/chk-$mode"
done
cat >"$work/peer.lua" <<'LUA'
local cjson = require "cjson"
local seen, out = {}, 0
for f in io.popen("ls " .. arg[1]):lines() do
  for line in io.lines(arg[1] .. "/" .. f) do
    local r = cjson.decode(line)
    if not seen[r.id] then seen[r.id] = true; out = out + 1 end
  end
end
print(out)
LUA
/usr/bin/time -f "%e %U %S %M" -o "$work/time" luajit "$work/peer.lua" "$work/in" >/dev/null
report "luajit-cjson" "$work/time"
