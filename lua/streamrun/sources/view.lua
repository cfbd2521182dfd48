-- The C types every source's records share (runtime/connectors/connector.h), declared once for
-- the FFI: a source's module requires this one before it declares its record.
local ffi = require "ffi"

ffi.cdef [[ typedef struct sr_view_text { const char *ptr; size_t len; } sr_view_text; ]]

return {}
