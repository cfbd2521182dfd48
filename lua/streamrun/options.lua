-- A job's options as the C option tables take them: text. Numbers and booleans are converted,
-- tables become JSON; functions (and other values) stay in the Lua spec and are left out.
local core = require "streamrun.core"

local M = {}

function M.text(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "boolean" then return v and "true" or "false" end
  if t == "number" then
    if v == math.floor(v) and math.abs(v) < 2 ^ 63 then return string.format("%d", v) end
    return string.format("%.17g", v)
  end
  if t == "table" then return core.to_json(v) end
  return nil
end

-- The string-keyed options of opts as text, but those in skip (a set of names).
function M.flatten(opts, skip)
  local out = {}
  for k, v in pairs(opts) do
    if type(k) == "string" and not skip[k] then out[k] = M.text(v) end
  end
  return out
end

return M
