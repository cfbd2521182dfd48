#!/usr/bin/env bash
# Runs one libFuzzer harness: first every input of the committed corpus (seeds and the
# regression inputs of bugs found), then new inputs for SECONDS. New interesting inputs go to
# WORK, never into the repository. A crash leaves crash-* in WORK and fails the test.
# Usage: run.sh HARNESS CORPUS_DIR WORK_DIR SECONDS [libFuzzer flags...]
set -euo pipefail
bin=$(realpath "$1") corpus=$(realpath "$2") work=$3 secs=$4
shift 4
mkdir -p "$work"
cd "$work"
# LuaJIT's allocator and the harnesses' one lua_State per run are not leaks.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
  -print_final_stats=1 "$@" "$work" "$corpus"
