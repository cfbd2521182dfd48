# streamrun --lua-defs DIR (JOB-API "Editor support"): writes the LuaLS definitions, the same
# bytes as the committed types/streamrun.lua (regenerate it when an option or the module
# changes), and a file Lua itself loads.
source "$(dirname "$0")/lib.sh"

run_sr --lua-defs defs/sub
assert_eq "exit ($err)" 0 "$code"
cmp defs/sub/streamrun.lua "$SR_SOURCE_DIR/types/streamrun.lua" ||
  fail "types/streamrun.lua is stale: run build/streamrun --lua-defs types"
luajit -e 'assert(loadfile(arg[1]))' defs/sub/streamrun.lua || fail "the definitions do not load as Lua"
assert_contains "a meta file" "$(head -1 defs/sub/streamrun.lua)" "---@meta streamrun"
pass "--lua-defs writes the committed definitions"
finish
