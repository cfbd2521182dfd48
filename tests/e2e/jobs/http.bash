# Helpers of the --http tests (sourced after lib.sh).

# A job of two queries for the window to watch: event-time windows with a watermark over a rate
# source, a map that dead-letters one row in 997, and a filter; processingTime triggers.
write_watch_job() { # FILE
  cat >"$1" <<'LUA'
local sr = require "streamrun"
local chk = arg[1] or "chk"
sr.read_stream{ format = "rate", rowsPerSecond = 2000 }
  :with_watermark("timestamp", "2 seconds")
  :map(function(r) if r.value % 997 == 0 then error("value " .. r.value .. " is cursed") end; return r end)
  :group_by(sr.window("timestamp", "1 second"))
  :count()
  :write_stream{ format = "noop", queryName = "rate_windows", outputMode = "append",
                 checkpointLocation = chk .. "/w", trigger = { processingTime = "250 milliseconds" },
                 onError = "dead_letter" }
sr.read_stream{ format = "rate", rowsPerSecond = 500 }
  :filter(function(r) return r.value % 2 == 0 end)
  :write_stream{ format = "noop", queryName = "evens", checkpointLocation = chk .. "/e",
                 trigger = { processingTime = "500 milliseconds" } }
LUA
}

# start_http_job LOG ARGS...: runs streamrun --http 0 ARGS in the background; sets $pid and
# $base (http://127.0.0.1:PORT) from the line it prints.
start_http_job() {
  local log=$1; shift
  "$SR_BIN" --http 0 "$@" >"$log.out" 2>"$log" &
  pid=$!
  local i
  for i in $(seq 1 100); do
    base=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -1 || true)
    [[ -n $base ]] && return 0
    kill -0 $pid 2>/dev/null || fail "streamrun --http exited: $(cat "$log")"
    sleep 0.1
  done
  fail "no http line from streamrun --http: $(cat "$log")"
}

# wait_until WHAT CMD...: until CMD succeeds (30 s: the machine is shared)
wait_until() {
  local what=$1; shift
  local i
  for i in $(seq 1 300); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "timed out waiting for $what"
}

metric() { # TEXT NAME{LABELS}: the sample's value
  awk -v k="$2" '$1 == k { print $2 }' <<<"$1"
}
