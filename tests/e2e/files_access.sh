# An input file the query's user cannot read is an error naming it and saying "Permission
# denied", never taken for a gone file or for no data: a file with no read permission, and a
# directory whose names can be listed but whose files cannot be reached (r without x), which
# before was read as an empty folder. Run as root, chmod does not stop reads, so the query runs
# as nobody (setpriv); without setpriv this test cannot provoke EACCES and says so.
source "$(dirname "$0")/lib.sh"

as_user=()
if [[ $(id -u) == 0 ]]; then
  command -v setpriv >/dev/null || fail "running as root, setpriv is needed to run the query as nobody"
  as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  chmod 777 "$WORK"
fi
run_as() { # JOB
  set +e
  out=$(timeout 60 "${as_user[@]}" "$SR_BIN" "$@" 2>"$WORK/.stderr")
  code=$?
  err=$(cat "$WORK/.stderr")
  set -e
}

cat >job.lua <<'LUA'
local sr = require "streamrun"
sr.read_stream{ format = "json", path = "in", schema = "n long", fileStableMs = 0 }
  :write_stream{ format = "json", path = "out", checkpointLocation = "chk", trigger = { availableNow = true } }
LUA
chmod 644 job.lua
mkdir in && printf '{"n":1}\n' >in/a.json && printf '{"n":2}\n' >in/b.json && chmod 755 in

chmod 000 in/b.json
run_as job.lua
[[ $code == 1 || $code == 2 ]] || fail "an unreadable file: exit $code: $err"
assert_contains "names it" "$err" "in/b.json: Permission denied"
[[ $err != *gone* ]] || fail "reported as gone: $err"
[[ ! -e out ]] || [[ -z $(ls out | grep part-) ]] || fail "a batch was written: $(ls out)"
pass "a file without read permission: $(head -1 <<<"$err" | cut -c1-100)"

chmod 644 in/b.json && chmod 744 in && rm -rf chk out
run_as job.lua
[[ $code == 1 || $code == 2 ]] || fail "a directory without search permission: exit $code: $err"
assert_contains "names a file" "$err" "in/a.json: Permission denied"
pass "a directory whose files cannot be reached: $(head -1 <<<"$err" | cut -c1-100)"

chmod 755 in && rm -rf chk out
run_as job.lua
assert_eq "readable again ($err)" 0 "$code"
assert_eq "both rows" "2" "$(cat out/part-* | wc -l)"
pass "once readable, the query reads both files"
finish
