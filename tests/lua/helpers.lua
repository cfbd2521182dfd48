-- Shared by the specs: a fresh streamrun module (its query list is module state) per test.
local M = {}

function M.fresh()
  for _, name in ipairs { "streamrun", "streamrun.plan", "streamrun.exec" } do
    package.loaded[name] = nil
  end
  for name in pairs(package.loaded) do
    if name:match("^streamrun%.ops%.") then package.loaded[name] = nil end
  end
  return require "streamrun", require "streamrun.exec"
end

-- Runs a compiled query's batch function over in-memory inputs (one list of rows per source).
function M.run(desc, inputs, ctx)
  local wrapped = {}
  for i, rows in ipairs(inputs) do wrapped[i] = { rows = rows, n = #rows } end
  local out, n = desc.run(wrapped, ctx or { batch_id = 0 })
  local res = {}
  for i = 1, n do res[i] = out[i] end
  return res
end

return M
