-- Rows of the "text" source from its C records (runtime/connectors/files/source_files.c's
-- text_read_view): a record is one line of the batch's files, without its line end, and its row
-- is {value = line}.
local ffi = require "ffi"
require "streamrun.sources.view"

local ffi_string = ffi.string

local function row(records, i)
  local line = records[i]
  return { value = ffi_string(line.ptr, line.len) }
end

return {
  ctype = "const sr_view_text *",
  reader = function() return row end,
  columns = function() return "value string" end,
}
