-- Errors that operators pass on unchanged. An interruption of the batch (the batch's time
-- budget ran out, or a stop signal: runtime/lua/lua_guard.c) already names the job line and the
-- row it stopped at; an operator that wrapped it in its own message, or re-ran the rows to
-- find the culprit, would name the wrong one.
local M = {}

-- Re-raises err when it is an interruption; returns otherwise.
function M.pass_interrupt(err)
  if type(err) == "table" and err.streamrun_interrupt then error(err, 0) end
end

-- An error value as text (a table error with a message field gives its message). Never
-- raises: an error object whose __tostring raises is described instead, so the report around
-- it (the operator, the row) is not lost to a second error.
function M.message(err)
  if type(err) == "table" and type(err.message) == "string" then return err.message end
  local ok, text = pcall(tostring, err)
  if ok and type(text) == "string" then return text end
  return "(a " .. type(err) .. " error value whose __tostring failed: " .. tostring(select(2, pcall(tostring, text))) .. ")"
end

-- An error's own line(s) and its traceback ("" when it has none), so that a report can put the
-- operation and the row right after the error, before the traceback.
function M.split_traceback(err)
  local text = M.message(err)
  local at = text:find("\nstack traceback:", 1, true)
  if not at then return text, "" end
  return text:sub(1, at - 1), text:sub(at)
end

return M
