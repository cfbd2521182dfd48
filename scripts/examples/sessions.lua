-- User sessions on processing time: each event keeps its user's session open; a session idle
-- for 30 seconds (of the engine's clock) is closed and written with its event count and total.
--   build/streamrun scripts/examples/sessions.lua [INPUT_DIR] [OUTPUT_DIR]
local sr = require "streamrun"

local output = arg[2] or "out/sessions"

sr.read_stream{
  format = "json", name = "events", path = arg[1] or "in/events",
  schema = "user string, amount long",
}
  :group_by("user")
  :process_with_state{ timeout = "ProcessingTimeTimeout", fn = function(user, rows, state)
    if state:has_timed_out() then
      local s = state:get()
      state:remove()
      return { { user = user, events = s.events, total = s.total } }
    end
    local s = state:get() or { events = 0, total = 0 }
    for _, r in ipairs(rows) do
      s.events = s.events + 1
      s.total = s.total + r.amount
    end
    state:update(s)
    state:set_timeout_duration("30 seconds")
    return {}
  end }
  :write_stream{
    format = "json",
    path = output .. "/closed",
    checkpointLocation = output .. "/chk",
    queryName = "sessions",
    trigger = "5 seconds",
  }
