#!/usr/bin/env bash
# Runs the busted specs under LuaJIT against lua/ and the core module of a build.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${SR_BUILD_DIR:-$src/build}
export LUA_PATH="$src/lua/?.lua;$src/lua/?/init.lua;$src/tests/lua/?.lua;;"
export LUA_CPATH="$build/lua/?.so;;"
cd "$src"
exec busted --lua=luajit -o TAP --pattern=_spec tests/lua
