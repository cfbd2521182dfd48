-- Errors that operators pass on unchanged. An interruption of the batch (the batch's time
-- budget ran out, or a stop signal: runtime/lua_guard.c) already names the job line and the
-- row it stopped at; an operator that wrapped it in its own message, or re-ran the rows to
-- find the culprit, would name the wrong one.
local M = {}

-- Re-raises err when it is an interruption; returns otherwise.
function M.pass_interrupt(err)
  if type(err) == "table" and err.streamrun_interrupt then error(err, 0) end
end

-- An error value as text, for a message handler that wants no traceback (a table error with
-- a message field gives its message).
function M.message(err)
  if type(err) == "table" and type(err.message) == "string" then return err.message end
  return tostring(err)
end

return M
