# Shared by the end-to-end tests (sourced). Each test runs in its own temp directory.
set -euo pipefail
SR_BIN=${SR_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/streamrun}
SR_SOURCE_DIR=${SR_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export SR_BIN SR_SOURCE_DIR  # the tests' Lua helpers read them
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sr-e2e.XXXXXX")
trap 'kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
cd "$WORK"
npass=0

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { npass=$((npass + 1)); echo "ok - $*"; }
# assert_eq WHAT EXPECTED ACTUAL
assert_eq() { [[ "$2" == "$3" ]] || fail "$1: expected [$2], got [$3]"; }
assert_contains() { [[ "$2" == *"$3"* ]] || fail "$1: [$3] not found in: $2"; }
finish() { echo "$npass passed, 0 failed"; }

# Sleeps SECONDS times SR_E2E_SLOW (default 1): the time a run gets before a random kill -9,
# stretched for a sanitized binary, which starts and runs slower.
nap() { sleep "$(awk -v s="$1" -v k="${SR_E2E_SLOW:-1}" 'BEGIN { print s * k }')"; }

# Runs streamrun with a time limit; sets $out, $err and $code.
run_sr() {
  set +e
  out=$(timeout 60 "$SR_BIN" "$@" 2>"$WORK/.stderr")
  code=$?
  err=$(cat "$WORK/.stderr")
  set -e
}

# crash_at POINT:BATCH ARGS...: runs streamrun ARGS with SR_CRASH_AT set (query.c's kill points)
# and asserts that it was killed there (status 137).
crash_at() {
  local c
  set +e
  (SR_CRASH_AT="$1" exec timeout 60 "$SR_BIN" "${@:2}") 2>/dev/null
  c=$?
  set -e
  assert_eq "killed at $1" 137 "$c"
}

# kill_after SECONDS ARGS...: runs streamrun ARGS in the background and kill -9s it after SECONDS
# (scaled by SR_E2E_SLOW, as nap is).
kill_after() {
  "$SR_BIN" "${@:2}" 2>/dev/null &
  local pid=$!
  nap "$1"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Writes a file into a directory the way producers should: whole, then renamed in.
drop_file() { # DIR NAME CONTENT
  mkdir -p "$1"
  printf '%s' "$3" >"$1/.$2.tmp"
  mv "$1/.$2.tmp" "$1/$2"
}

# Every output row of a file sink, sorted.
sink_rows() { cat "$1"/part-* 2>/dev/null | sort; }

# DuckDB (npm, tests/node) as the independent reader of Delta tables.
need_duckdb() {
  [[ -f $SR_SOURCE_DIR/tests/node/node_modules/@duckdb/node-api/package.json ]] ||
    fail "DuckDB for the tests is not installed: run npm ci --prefix tests/node"
}
duck() { node "$SR_SOURCE_DIR/tests/node/duckdb_query.mjs" "$@"; }
# The live files of a Delta table as DuckDB's own replay of its JSON log names them, as a SQL list.
live_files() { # TABLE
  local list
  list=$(duck "WITH a AS (SELECT CAST(regexp_extract(filename, '(\\d+)\\.json\$', 1) AS BIGINT) AS v,
      \"add\".path AS ap, \"remove\".path AS rp FROM read_ndjson('$1/_delta_log/*.json', filename=true,
      columns={'add': 'STRUCT(path VARCHAR)', 'remove': 'STRUCT(path VARCHAR)'}))
    SELECT url_decode(ap) AS p FROM a WHERE ap IS NOT NULL AND
      NOT EXISTS (SELECT 1 FROM a b WHERE b.rp = a.ap AND b.v > a.v)" | jq -r .p |
    while read -r p; do printf "'%s/%s'," "$1" "$p"; done)
  echo "[${list%,}]"
}
