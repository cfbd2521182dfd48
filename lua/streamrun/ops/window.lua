-- Event-time windows: which time windows a timestamp falls in (Spark's TimeWindowing), and how
-- session windows merge (Spark's MergingSessionsIterator). Pure functions, no state.
local M = {}

local ceil = math.ceil

-- The start of the latest window containing t: Spark computes
--   remainder = (t - startTime) % slide  (Java's %, negative for t before startTime),
--   lastStart = t - (remainder < 0 ? remainder + slide : remainder),
-- which is a floor modulo: Lua's %. The two corrections guard against a rounding of
-- a - floor(a/b)*b for huge a, so lastStart <= t < lastStart + slide always holds.
function M.last_start(t, slide, start)
  local rem = (t - start) % slide
  if rem < 0 then rem = rem + slide elseif rem >= slide then rem = rem - slide end
  return t - rem
end

-- How many windows may contain one timestamp: ceil(size / slide), as Spark's Expand.
function M.overlapping(size, slide) return ceil(size / slide) end

-- The windows [start, end) containing t, latest first: {{start, end}, ...}. Spark keeps the
-- candidates lastStart - i * slide (i < ceil(size / slide)) with start <= t < end.
function M.assign(t, size, slide, start)
  local last = M.last_start(t, slide, start or 0)
  local out = {}
  for i = 0, M.overlapping(size, slide) - 1 do
    local s = last - i * slide
    if t < s + size then out[#out + 1] = { s, s + size } end
  end
  return out
end

-- Lua source for the window loop of the batch pass: opens `for` / `if` blocks in which the
-- local `ws` is each window start for the timestamp local `t`; returns the code and how many
-- `end`s close it. Tumbling windows (size = slide) take one window, no loop.
function M.loop_code(spec)
  local size, slide, start = spec.size_ms, spec.slide_ms, spec.start_ms or 0
  local lines = {
    string.format("local rem = (t - %.17g) %% %.17g", start, slide),
    string.format("if rem < 0 then rem = rem + %.17g elseif rem >= %.17g then rem = rem - %.17g end",
                  slide, slide, slide),
  }
  if size == slide then
    lines[#lines + 1] = "local ws = t - rem"
    return table.concat(lines, "\n"), 0
  end
  lines[#lines + 1] = "local last = t - rem"
  lines[#lines + 1] = string.format("for w = 0, %d do local ws = last - w * %.17g",
                                    M.overlapping(size, slide) - 1, slide)
  if size % slide == 0 then return table.concat(lines, "\n"), 1 end
  -- when size is not a multiple of slide, the oldest candidate may end at or before t
  lines[#lines + 1] = string.format("if t < ws + %.17g then", size)
  return table.concat(lines, "\n"), 2
end

-- Merges a group's sessions with this batch's rows, as Spark's MergingSessionsIterator over
-- the input sorted by session start: a session or row whose start is at or before the current
-- session's end joins it (touching counts), extending its end to the larger one.
--   sessions  the group's stored sessions, sorted by start, not overlapping; each an
--             accumulator {start, end, slots...}
--   starts, ends, rows, m   this batch's rows of the group: row k spans [starts[k], ends[k])
--   new_acc, add, merge     the aggregates' functions (agg_functions.compile with base 2)
-- Returns the merged sessions, sorted by start. Stored sessions are reused (mutated).
-- At equal starts a stored session comes before a row, and rows keep their arrival order, so
-- first/last follow event time, then arrival.
function M.merge_sessions(sessions, starts, ends, rows, m, new_acc, add, merge)
  local order = {}
  for k = 1, m do order[k] = k end
  table.sort(order, function(a, b)
    local sa, sb = starts[a], starts[b]
    if sa ~= sb then return sa < sb end
    return a < b
  end)
  local out, nout, cur = {}, 0, nil
  local si, ri, ns = 1, 1, sessions and #sessions or 0
  while si <= ns or ri <= m do
    local s = si <= ns and sessions[si] or nil
    if s and (ri > m or s[1] <= starts[order[ri]]) then
      si = si + 1
      if cur and s[1] <= cur[2] then
        if s[2] > cur[2] then cur[2] = s[2] end
        merge(cur, s)
      else
        cur = s
        nout = nout + 1
        out[nout] = cur
      end
    else
      local k = order[ri]
      ri = ri + 1
      local st, en = starts[k], ends[k]
      if cur and st <= cur[2] then
        if en > cur[2] then cur[2] = en end
      else
        cur = new_acc(st, en)
        nout = nout + 1
        out[nout] = cur
      end
      add(cur, rows[k])
    end
  end
  return out
end

-- The gap of a session for one row: a number of ms, or duration text (memoised per batch in
-- `memo`), from a fixed gap or the job's gap function. nil or <= 0 drops the row (Spark).
function M.gap_of(value, memo, duration)
  if type(value) == "number" then return value end
  if type(value) == "string" then
    local ms = memo[value]
    if ms == nil then
      local ok, res = pcall(duration, value)
      ms = ok and res or false
      memo[value] = ms
    end
    return ms or nil
  end
  return nil
end

return M
