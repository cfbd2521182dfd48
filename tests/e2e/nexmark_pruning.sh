# The nexmark source makes only the columns a query reads (analyzer.read_schema, as a json
# source decodes only those): a map that names r.auction is called with rows holding auction
# alone, no `extra` string made; one that names r.extra gets the padding, real letters of the
# standard length; the values of the columns made are the same either way. The map sees its row
# through debug.getlocal in a helper it calls without passing the row, which the analyzer
# cannot see: the keys it lists are the ones the source really made. (The map reads its row after
# that call, so that the row is live there and a compiled trace keeps it in its slot.)
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || fail "jq is needed (apt-get install jq)"

cat >row_keys.lua <<'LUA'
-- The sorted keys of the row argument of the function that calls this one.
return function()
  local _, row = debug.getlocal(2, 1)
  local keys = {}
  for k in pairs(row) do keys[#keys + 1] = k end
  table.sort(keys)
  return table.concat(keys, ",")
end
LUA

job() { # NAME TABLE MAP-BODY
  cat >"$1.lua" <<LUA
local sr = require "streamrun"
local row_keys = dofile("row_keys.lua")
sr.read_stream{ format = "nexmark", table = $2, maxEvents = 2000, maxEventsPerTrigger = 1000 }
  :map(function(r) return $3 end)
  :write_stream{ format = "json", path = "out-$1", checkpointLocation = "chk-$1",
                 trigger = { availableNow = true } }
LUA
  run_sr "$1.lua"
  assert_eq "$1 exit status ($err)" 0 "$code"
}

job narrow '"bid"' '{ keys = row_keys(), auction = r.auction }'
assert_eq "columns made for a map that reads auction" "auction" \
  "$(cat out-narrow/part-* | jq -r .keys | sort -u)"
pass "a bid row holds only the column the query reads"

job padded '"bid"' '{ keys = row_keys(), auction = r.auction, extra = r.extra }'
assert_eq "columns made for a map that reads auction and extra" "auction,extra" \
  "$(cat out-padded/part-* | jq -r .keys | sort -u)"
# Bids average 100 bytes (Nexmark's avgBidByteSize): 32 of fixed fields, the rest `extra`.
avg=$(cat out-padded/part-* | jq -s 'map(.extra | length) | add / length | floor')
(( avg >= 60 && avg <= 76 )) || fail "a bid's extra averages $avg characters, not ~68"
assert_eq "auctions with or without extra" "$(cat out-narrow/part-* | jq -c .auction)" \
  "$(cat out-padded/part-* | jq -c .auction)"
pass "a map that reads extra gets the padding ($avg characters on average), same auctions"

job events nil '{ keys = row_keys(), t = r.event_type }'
assert_eq "columns made for a map that reads event_type" "event_type" \
  "$(cat out-events/part-* | jq -r .keys | sort -u)"
pass "an event row holds only event_type when the query reads only that"
finish
