# The --http dashboard in real headless Chromium (Debian's chromium, driven by puppeteer-core from
# tests/node): it loads with every request off the job's origin refused (no CDN: it works
# offline), updates itself without a reload, and its charts show points of the running job.
# The screenshot is kept as a test artifact: build/test-artifacts/dashboard.png.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/jobs/http.bash"
[[ -x ${CHROMIUM:-/usr/bin/chromium} ]] || fail "chromium is not installed (scripts/deps)"
[[ -f $SR_SOURCE_DIR/tests/node/node_modules/puppeteer-core/package.json ]] ||
  fail "puppeteer-core is not installed: PUPPETEER_SKIP_DOWNLOAD=1 npm ci --prefix tests/node"
artifacts=${SR_ARTIFACTS:-$(dirname "$SR_BIN")/test-artifacts}
mkdir -p "$artifacts"

write_watch_job watch.lua
start_http_job job.log watch.lua chk
wait_until "a few batches" bash -c "[[ \$(wc -l <chk/w/progress/progress.jsonl) -ge 3 ]]"
# a reload to show in the history: the same job saved again with another constant
sed -i 's/% 997 == 0/% 991 == 0/' watch.lua
wait_until "the reload" grep -q "reloaded" job.log

HOME=$WORK node "$SR_SOURCE_DIR/tests/node/dashboard.mjs" "$base/" "$artifacts/dashboard.png" >seen.json ||
  fail "the dashboard did not show the job: $(cat seen.json)"
jq -c '{updates, updatesWhileWatching, offsite, pageErrors, q: [.queries[] | {name, status, points}]}' seen.json
assert_eq "requests off the job's origin" "[]" "$(jq -c .offsite seen.json)"
assert_eq "errors in the page" "[]" "$(jq -c .pageErrors seen.json)"
assert_eq "queries on the page" "rate_windows ACTIVE,evens ACTIVE" \
  "$(jq -r '[.queries[] | "\(.name) \(.status)"] | join(",")' seen.json)"
for chart in rates duration lag state memory bad; do
  [[ $(jq ".queries[0].points.$chart" seen.json) -gt 0 ]] || fail "chart $chart has no points: $(cat seen.json)"
done
[[ $(jq .updatesWhileWatching seen.json) -ge 1 ]] || fail "the page did not update itself"
assert_contains "the plan" "$(jq -r '.queries[0].plan' seen.json)" "WithWatermark timestamp delay 2000 ms  [watch.lua:4]"
[[ -s $artifacts/dashboard.png ]] || fail "no screenshot"
pass "the dashboard loads offline, updates itself, and charts the running job ($artifacts/dashboard.png)"
kill -TERM $pid; wait $pid || true
finish
