#!/usr/bin/env bash
# Checks the answers of the join queries q3, q8 and q20 against a brute-force computation over
# the same events, and prints events/s of each with the noop sink.
#   scripts/nexmark/check_joins.sh [EVENTS] [STREAMRUN]     (default 200000, build/streamrun)
# The events are dumped once as JSON by the same generator (same options as common.lua), the
# queries write JSON, and luajit (lua-cjson) joins the dump pair by pair.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
events=${1:-200000}
bin=${2:-$here/../../build/streamrun}
work=$(mktemp -d "${TMPDIR:-/tmp}/sr-nexmark-joins.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

cat >dump.lua <<LUA
local nx = dofile("$here/common.lua")
nx.write(nx.events_stream(), "dump")
LUA
"$bin" dump.lua "$events" json dump dump-chk 2>/dev/null

cat >ref.lua <<'LUA'
-- q3, q8, q20 by brute force over the dumped events: one line per output row, fields joined by |
local cjson = require "cjson"
local function ms(iso) -- the sinks write timestamps as ISO-8601 UTC
  local y, m, d, h, mi, s, f = iso:match("(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)%.(%d+)Z")
  y, m = tonumber(y), tonumber(m)
  if m <= 2 then y = y - 1 end -- days from the civil date (H. Hinnant's algorithm)
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * (m > 2 and m - 3 or m + 9) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return ((days * 24 + h) * 60 + mi) * 60000 + s * 1000 + f
end
local people, auctions, bids = {}, {}, {}
for f in io.popen("ls dump/part-*"):lines() do
  for line in io.lines(f) do
    local e = cjson.decode(line)
    local x = e.person or e.auction or e.bid
    x.dateTime = ms(x.dateTime)
    if e.person then people[#people + 1] = x elseif e.auction then auctions[#auctions + 1] = x
    else bids[#bids + 1] = x end
  end
end
local function line(...) return table.concat({ ... }, "|") end
local function write(name, t)
  table.sort(t)
  local f = assert(io.open("ref-" .. name, "w"))
  for _, l in ipairs(t) do f:write(l, "\n") end
  f:close()
end
local by_id, q3 = {}, {}
for _, p in ipairs(people) do by_id[p.id] = p end
for _, a in ipairs(auctions) do
  local p = by_id[a.seller]
  if a.category == 10 and p and (p.state == "OR" or p.state == "ID" or p.state == "CA") then
    q3[#q3 + 1] = line(p.name, p.city, p.state, a.id)
  end
end
write("q3", q3)
local sold, q8 = {}, {}
for _, a in ipairs(auctions) do sold[line(a.seller, a.dateTime - a.dateTime % 10000)] = true end
for _, p in ipairs(people) do
  local start = p.dateTime - p.dateTime % 10000
  if sold[line(p.id, start)] then q8[#q8 + 1] = line(p.id, p.name, start) end
end
write("q8", q8)
local cat10, q20 = {}, {}
for _, a in ipairs(auctions) do if a.category == 10 then cat10[a.id] = a end end
for _, b in ipairs(bids) do
  local a = cat10[b.auction]
  if a then q20[#q20 + 1] = line(b.auction, b.bidder, b.price, b.dateTime, a.seller, a.dateTime) end
end
write("q20", q20)
LUA
luajit ref.lua

fields_q3='[.name, .city, .state, .id]'
fields_q8='[.id, .name, .starttime]'
fields_q20='[.auction, .bidder, .price, .dateTime, .seller, .right_dateTime]'
status=0
for q in q3 q8 q20; do
  "$bin" "$here/$q.lua" "$events" json "out-$q" "chk-$q" 2>/dev/null
  fields=fields_$q
  cat "out-$q"/part-* | jq -r "${!fields} | map(tostring) | join(\"|\")" | LC_ALL=C sort >"got-$q"
  LC_ALL=C sort -o "ref-$q" "ref-$q"
  if cmp -s "ref-$q" "got-$q"; then
    start=$(date +%s.%N)
    "$bin" "$here/$q.lua" "$events" noop x "noop-chk-$q" 2>/dev/null
    end=$(date +%s.%N)
    awk -v q="$q" -v n="$events" -v r="$(wc -l <"ref-$q")" -v s="$start" -v e="$end" \
      'BEGIN { printf "%s: %d rows, as computed pair by pair; %.0f events/s\n", q, r, n / (e - s) }'
  else
    echo "$q: the answer differs from the brute-force join (diff ref-$q got-$q)" >&2
    status=1
  fi
done
exit $status
