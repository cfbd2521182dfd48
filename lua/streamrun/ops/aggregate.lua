-- The streaming aggregation: group_by(keys...):agg{...} over event-time windows, session
-- windows or plain keys, with Spark's output modes (StateStoreSaveExec,
-- SessionWindowStateStoreSaveExec).
--
-- One batch:
--   1. one pass over the rows in a generated Lua loop (LuaJIT traces it with the aggregates
--      inlined): late rows are dropped and counted, each row's windows assigned, its group
--      found in nested Lua tables and its values folded into the group's partial accumulator
--      (session windows: the row's [t, t + gap) is collected per group instead);
--   2. one get_many for the batch's groups (plus the eviction directory), merge of the partials
--      into the stored accumulators (sessions: Spark's merge of overlapping sessions);
--   3. eviction by the watermark (append: the evicted rows are the output), through the
--      eviction index below: at most two more get_many, never a scan;
--   4. one put_many with every change (removals first, then puts).
-- Complete mode reads the whole state with one scan (its output is the whole result anyway).
--
-- Late rows (Spark's rule: WatermarkSupport.watermarkExpression filters the partially
-- aggregated rows by their window's end, StateStoreSaveExec / SessionWindowStateStoreRestoreExec).
-- When the state can be evicted by the watermark (the mode is not complete), a row is dropped
-- from a window whose end is <= the batch's watermark; a row behind the watermark whose window
-- is still open counts. Sliding windows decide per window the row falls in; a session window
-- by the row's own session end (t + gap), as Spark drops the per-row sessions before merging
-- them; an event-time column key (no window) by the column itself. numRowsDroppedByWatermark
-- counts the input rows dropped, once per window a row is dropped from (Spark counts its rows
-- after partial aggregation, one per group and window, so its figure can be smaller). In
-- complete mode nothing is dropped or evicted: Spark keeps the whole result there. Rows with a
-- null event time belong to no window (Spark's IsNotNull filter).
--
-- State layout (one store per operator; keys and values are packed Lua values):
--   {k1, k2, ...}         a group: its key values in group_by order, a window as its start ms;
--                         value: the accumulator array (agg_functions). For session windows
--                         the key leaves the session out and the value is the group's list of
--                         sessions {start, end, slots...}, sorted by start, not overlapping.
--   {dir = 1}             the eviction directory: {[bucket] = number of index chunks}
--   {ix = bucket, c = i}  index chunk i of a bucket: a list of group keys.
-- Progress counts state rows as Spark does: groups (the index entries are the operator's own
-- bookkeeping), so the operator reports numRowsTotal, numRowsUpdated and numRowsRemoved itself
-- when it keeps an index (index_rows, report_rows); without one the store's counts are the groups'.
-- A bucket collects the groups that may become due at the same time: a window start (due at
-- its end), a floor(t / BUCKET_MS) of an event-time key, or of a session's end (session
-- entries are lazy: a group is listed again whenever its first session's end moves, and a
-- stale entry finds nothing due). The index exists only when eviction is possible.
local core = require "streamrun.core"
local plan = require "streamrun.plan"
local errors = require "streamrun.errors"
local F = require "streamrun.ops.agg_functions"
local W = require "streamrun.ops.window"
local types = require "streamrun.types"

local M = {}

local format, concat, floor, huge = string.format, table.concat, math.floor, math.huge
local type, pairs, ipairs, tonumber, tostring = type, pairs, ipairs, tonumber, tostring

local DIR_KEY = { dir = 1 }
local BUCKET_MS = 1000 -- bucket width for event-time keys and session ends (fixed gap: the gap)
local WINDOW_TYPE = { { "start", "timestamp" }, { "end", "timestamp" } }
local PANE_SAFE = { count = true, sum = true, min = true, max = true, avg = true, count_distinct = true }

-- Plan analysis ----------------------------------------------------------------------------

-- The keys, the event-time column the state is evicted by, and what the batch must do.
local function analyse(node, q)
  local mode = q.sink.outputMode or "append"
  local watermarked = {}
  plan.walk(node.parent, function(n)
    if n.op == "with_watermark" then watermarked[n.column] = n end
  end)
  local keys, nfn = {}, 0
  for i, k in ipairs(node.keys) do
    if type(k) == "string" then
      keys[i] = { kind = "column", column = k, name = k }
    elseif type(k) == "function" then
      nfn = nfn + 1
      keys[i] = { kind = "fn", fn = k, name = nfn == 1 and "key" or ("key" .. nfn) }
    else
      keys[i] = { kind = k.kind, column = k.column, spec = k, name = "window" }
    end
  end
  local info = { mode = mode, keys = keys, where = node.where }
  for i, k in ipairs(keys) do
    if k.kind == "window" or k.kind == "session" then
      info.time_key, info.time_column = i, k.column
      info[k.kind] = k.spec
    end
  end
  -- the key the watermark evicts by: the window's, else an event-time column among the keys
  if info.time_key and watermarked[info.time_column] then
    info.event_key, info.event_column = info.time_key, info.time_column
  else
    for i, k in ipairs(keys) do
      if k.kind == "column" and watermarked[k.column] then
        info.event_key, info.event_column = i, k.column
        break
      end
    end
  end
  info.evict = info.event_key ~= nil and mode ~= "complete"
  -- what a late row is judged by: its window's end, its session's end, or the column's time
  if info.evict then
    info.late = info.event_key ~= info.time_key and "column" or (info.window and "window" or "session")
  end
  -- the stored key's positions: every key but a session window
  info.stored = {}
  for i, k in ipairs(keys) do
    if k.kind ~= "session" then info.stored[#info.stored + 1] = i end
  end
  info.nstored = #info.stored
  -- Sliding windows whose size is a multiple of the slide are unions of slide-wide panes: with
  -- aggregates that do not depend on row order, rows are folded once into their pane and the
  -- panes merged into their windows after the pass (size/slide merges per pane and key instead
  -- of size/slide adds per row). first, last, collect_list and custom aggregates keep the
  -- per-row path, where rows reach each window in arrival order.
  local w = info.window
  if w and w.slide_ms < w.size_ms and w.size_ms % w.slide_ms == 0 then
    info.panes = true
    for _, a in pairs(node.aggs) do
      if not PANE_SAFE[a.agg] then info.panes = false end
    end
  end
  return info
end

-- The batch pass ---------------------------------------------------------------------------

-- Timestamps are numbers (ms); an int64 cdata is converted, anything else is an error that
-- names the column.
local function to_time(t, column)
  if types.is_timestamp(t) then return t:ms() end
  local n = type(t) == "cdata" and tonumber(t) or nil
  if n then return n end
  error(format("column %s holds a %s (%s), not a timestamp: give the source a schema with %s = "
    .. "\"timestamp\"", column, type(t), tostring(t), column), 0)
end

-- Generates pass(rows, n, wm, root, glist, gkeys, ng, memo, gnorm) -> ng, dropped. It groups
-- the rows in nested tables under root (one level per key), appending each new group to glist
-- and its stored key to gkeys; windows/plain groups hold an accumulator, sessions hold this
-- batch's rows {m =, s = starts, e = ends, r = rows}. With panes, the window key is the pane's
-- start and gnorm gets each group's table keys (for expand_panes).
local function gen_pass(info, new_acc, add)
  local env = { new_acc = new_acc, add = add, norm = F.norm, NAN = F.NAN_KEY, to_time = to_time,
                key_value = F.key_value, ceil = math.ceil,
                gap_of = W.gap_of, duration = core.duration, type = type }
  local L, closes = {}, 0
  local function emit(s) L[#L + 1] = s end
  local fns = {}
  for i, k in ipairs(info.keys) do
    if k.kind == "fn" then env["kf" .. i] = k.fn; fns[#fns + 1] = format("local kf%d = ENV.kf%d", i, i) end
  end
  local session = info.session
  if session and session.gap_fn then
    env.gap_fn = session.gap_fn
    fns[#fns + 1] = "local gap_fn = ENV.gap_fn"
  end
  emit("return function(rows, n, wm, root, glist, gkeys, ng, memo, gnorm)")
  emit("local dropped = 0")
  emit("for i = 1, n do")
  emit("local r = rows[i]")
  -- t: the window's time; te: the event-time column key late rows are dropped by
  for _, c in ipairs { { "t", info.time_column }, { "te", info.late == "column" and info.event_column } } do
    local var, column = c[1], c[2]
    if column then
      emit(format("local %s = r[%q]", var, column))
      -- by its type: `t ~= nil` would call a timestamp's __eq (LuaJIT calls a cdata's metamethod
      -- for nil too), once per row
      emit(format("do local ty = type(%s); if ty ~= 'number' and ty ~= 'nil' then %s = to_time(%s, %q) end end",
                  var, var, var, column))
    end
  end
  if info.time_key then
    emit("if t ~= nil then")
    closes = closes + 1
  end
  if info.late == "column" then
    emit("if te ~= nil and te <= wm then dropped = dropped + 1 else")
    closes = closes + 1
  end
  -- the values of the non-window keys, and their table keys
  local levels, stored = {}, {}
  for i, k in ipairs(info.keys) do
    if k.kind == "column" or k.kind == "fn" then
      emit(k.kind == "column" and format("local k%d = r[%q]", i, k.column)
           or format("local k%d = kf%d(r)", i, i))
      emit((("local nI = kI; do local tk = type(kI); if tk == 'number' then if kI ~= kI then nI = NAN end "
        .. "elseif tk ~= 'string' then nI = norm(kI) end end"):gsub("I", tostring(i))))
      levels[#levels + 1] = "n" .. i
      stored[#stored + 1] = "key_value(k" .. i .. ")"
    elseif k.kind == "window" then
      levels[#levels + 1] = "ws"
      stored[#stored + 1] = "ws"
    end
  end
  if session then
    if session.gap_fn then
      emit("local gap = gap_of(gap_fn(r), memo, duration)")
    else
      emit(format("local gap = %.17g", session.gap_ms))
    end
    emit("if gap ~= nil and gap > 0 then")
    closes = closes + 1
    if info.late == "session" then
      emit("if t + gap <= wm then dropped = dropped + 1 else")
      closes = closes + 1
    end
  end
  if info.window then
    local spec = info.window
    if info.panes then
      spec = { size_ms = spec.slide_ms, slide_ms = spec.slide_ms, start_ms = spec.start_ms }
    end
    local code, n = W.loop_code(spec)
    emit(code)
    closes = closes + n
    if info.late == "window" and info.panes then
      -- ws is the pane's start, which is also its latest window's: that window ends at
      -- ws + size, and the earlier ones a slide apart before it. expand_panes leaves the
      -- closed ones out; here they are counted, and a row whose windows all closed is dropped.
      local size, slide = info.window.size_ms, info.window.slide_ms
      emit(format("local open = ws + %.17g - wm", size))
      emit(format("if open <= 0 then dropped = dropped + %d else", size / slide))
      emit(format("if open < %.17g then dropped = dropped + %d - ceil(open / %.17g) end",
                  size, size / slide, slide))
      closes = closes + 1
    elseif info.late == "window" then
      emit(format("if ws + %.17g <= wm then dropped = dropped + 1 else", info.window.size_ms))
      closes = closes + 1
    end
  end
  -- nested lookup: one table level per key (a session-only grouping has one group, level "1")
  if #levels == 0 then levels[1] = "1" end
  local parent = "root"
  for lv = 1, #levels - 1 do
    emit(format("local l%d = %s[%s]; if l%d == nil then l%d = {}; %s[%s] = l%d end",
                lv, parent, levels[lv], lv, lv, parent, levels[lv], lv))
    parent = "l" .. lv
  end
  local last = levels[#levels]
  emit(format("local g = %s[%s]", parent, last))
  emit("if g == nil then")
  emit(session and "g = { m = 0, s = {}, e = {}, r = {} }" or "g = new_acc()")
  emit(format("%s[%s] = g; ng = ng + 1; glist[ng] = g; gkeys[ng] = { %s }",
              parent, last, concat(stored, ", ")))
  if info.panes then emit(format("gnorm[ng] = { %s }", concat(levels, ", "))) end
  emit("end")
  if session then
    emit("local m = g.m + 1; g.m = m; g.s[m] = t; g.e[m] = t + gap; g.r[m] = r")
  else
    emit("add(g, r)")
  end
  for _ = 1, closes do emit("end") end
  emit("end")
  emit("return ng, dropped")
  emit("end")
  local header = "local ENV = ...\n"
    .. "local new_acc, add, norm, NAN, to_time, gap_of, duration, type, key_value = ENV.new_acc, "
    .. "ENV.add, ENV.norm, ENV.NAN, ENV.to_time, ENV.gap_of, ENV.duration, ENV.type, ENV.key_value\n"
    .. "local ceil = ENV.ceil\n"
  local chunk = assert(load(header .. concat(fns, "\n") .. "\n" .. concat(L, "\n"), "=streamrun-aggregate"))
  return chunk(env)
end

-- Merges this batch's pane groups into their windows: a pane [p, p + slide) is in the windows
-- starting at p, p - slide, ... (size / slide of them, all containing it when the size is a
-- multiple of the slide), leaving out the windows closed by the watermark `closed` (-huge when
-- late rows are kept). Returns the window groups as the pass would have: list, keys, count.
local function expand_panes(S, glist, gkeys, gnorm, ng, closed)
  local info, new_acc, merge = S.info, S.new_acc, S.merge
  local size, slide, nstored = info.window.size_ms, info.window.slide_ms, info.nstored
  local k = size / slide
  local wpos, wlevel, nlev = S.window_pos, S.window_pos, #gnorm[1]
  local root, wl, wk, wn = {}, {}, {}, 0
  for g = 1, ng do
    local key, norms, part = gkeys[g], gnorm[g], glist[g]
    local ps = key[wpos]
    for w = 0, k - 1 do
      local ws = ps - w * slide
      if ws + size <= closed then break end -- this window and the earlier ones are closed
      local t = root
      for lv = 1, nlev - 1 do
        local v = lv == wlevel and ws or norms[lv]
        local nx = t[v]
        if nx == nil then nx = {}; t[v] = nx end
        t = nx
      end
      local v = nlev == wlevel and ws or norms[nlev]
      local acc = t[v]
      if acc == nil then
        acc = new_acc()
        t[v] = acc
        local wkey = {}
        for i = 1, nstored do wkey[i] = key[i] end
        wkey[wpos] = ws
        wn = wn + 1
        wl[wn], wk[wn] = acc, wkey
      end
      merge(acc, part)
    end
  end
  return wl, wk, wn
end

-- Output rows ------------------------------------------------------------------------------

-- Generates build(key, acc) -> the output row: key columns, window (a session: acc[1], acc[2]),
-- aggregates.
local function gen_build(info, finish)
  local parts = {}
  for pos, i in ipairs(info.stored) do
    local k = info.keys[i]
    if k.kind == "window" then
      parts[#parts + 1] = format("window = { start = key[%d], [\"end\"] = key[%d] + %.17g }",
                                 pos, pos, k.spec.size_ms)
    else
      parts[#parts + 1] = format("[%q] = key[%d]", k.name, pos)
    end
  end
  if info.session then parts[#parts + 1] = "window = { start = acc[1], [\"end\"] = acc[2] }" end
  local src = "local finish = ...\nreturn function(key, acc) local out = { " .. concat(parts, ", ")
    .. " }; finish(acc, out); return out end"
  return assert(load(src, "=streamrun-aggregate-row"))(finish)
end

-- The eviction index -----------------------------------------------------------------------

-- Where a group is indexed and when it is due: bucket(key [, sessions]) -> bucket or nil,
-- lower(bucket) -> the earliest due time of its members, due(key) -> ms (sessions: their ends).
local function index_functions(info)
  if not info.evict then return nil end
  local pos
  for p, i in ipairs(info.stored) do if i == info.event_key then pos = p end end
  if info.session then
    local width = info.session.gap_ms and info.session.gap_ms > 0 and info.session.gap_ms or BUCKET_MS
    return {
      bucket = function(_, sessions) return floor(sessions[1][2] / width) end,
      lower = function(b) return b * width end,
    }
  elseif info.window then
    local size = info.window.size_ms
    return {
      bucket = function(key) return key[pos] end,
      lower = function(b) return b + size end,
      due = function(key) return key[pos] + size end,
    }
  end
  return {
    bucket = function(key)
      local t = key[pos]
      return type(t) == "number" and floor(t / BUCKET_MS) or nil
    end,
    lower = function(b) return b * BUCKET_MS end,
    due = function(key) return key[pos] end,
  }
end

local function index_new(dir)
  return { dir = dir or {}, pending = {}, order = {}, changed = false }
end

local function index_add(ix, bucket, key)
  if bucket == nil then return end
  local p = ix.pending[bucket]
  if p == nil then
    p = {}
    ix.pending[bucket] = p
    ix.order[#ix.order + 1] = bucket
  end
  p[#p + 1] = key
end

-- The chunk keys of every bucket whose earliest due time is <= wm, in bucket order; the
-- buckets leave the directory (members still waiting are added back by the caller).
local function index_take_due(ix, wm, lower)
  local due = {}
  for b in pairs(ix.dir) do
    if lower(b) <= wm then due[#due + 1] = b end
  end
  table.sort(due)
  local ckeys, cn = {}, 0
  for _, b in ipairs(due) do
    for c = 1, ix.dir[b] do
      cn = cn + 1
      ckeys[cn] = { ix = b, c = c }
    end
    ix.dir[b] = nil
    ix.changed = true
  end
  return ckeys, cn
end

-- The groups of the buckets due at wm: their keys and stored values, read with one get_many
-- (skip(key) true leaves a key out). The due chunks' own keys are appended to rk, to remove.
-- Returns mkeys, mvals, mn, rn, and the number of chunks taken.
local function take_due_groups(ix, store, wm, lower, rk, rn, skip)
  local ckeys, cn = index_take_due(ix, wm, lower)
  if cn == 0 then return {}, {}, 0, rn, 0 end
  local chunks = core.get_many(store, ckeys, cn)
  local mkeys, mn = {}, 0
  for i = 1, cn do
    local c = chunks[i]
    for j = 1, c and #c or 0 do
      if not (skip and skip(c[j])) then
        mn = mn + 1
        mkeys[mn] = c[j]
      end
    end
    rn = rn + 1
    rk[rn] = ckeys[i]
  end
  return mkeys, mn > 0 and core.get_many(store, mkeys, mn) or {}, mn, rn, cn
end

-- Appends the new chunks and the directory to the puts.
local function index_flush(ix, pk, pv, np)
  for _, b in ipairs(ix.order) do
    local c = (ix.dir[b] or 0) + 1
    ix.dir[b] = c
    np = np + 1
    pk[np], pv[np] = { ix = b, c = c }, ix.pending[b]
    ix.changed = true
  end
  if ix.changed then
    np = np + 1
    pk[np], pv[np] = DIR_KEY, next(ix.dir) ~= nil and ix.dir or nil
  end
  return np
end

-- The store entries the index takes after a flush: its directory and every chunk it lists.
local function index_rows(ix)
  local n = 0
  for _, chunks in pairs(ix.dir) do n = n + chunks end
  return next(ix.dir) ~= nil and n + 1 or n
end

-- Progress of a batch that kept an index: the groups in the store, put and removed.
local function report_rows(metrics, store, ix, put, removed)
  metrics.numRowsTotal = core.stats(store).num_rows_total - index_rows(ix)
  metrics.numRowsUpdated = put
  metrics.numRowsRemoved = removed
end

-- Writes removals then puts in one put_many (a key removed and put again ends up put).
local function write(store, rk, rn, pk, pv, np)
  if rn + np == 0 then return end
  local keys, vals = rk, {}
  for i = 1, np do
    keys[rn + i] = pk[i]
    vals[rn + i] = pv[i]
  end
  core.put_many(store, keys, vals, rn + np)
end

-- The batch, per kind of grouping -------------------------------------------------------------

-- The stored values of the batch's ng group keys (gkeys), and with a time index (S.index)
-- the index, read in the same get_many as its directory entry.
local function load_groups(S, store, gkeys, ng)
  local nk = ng
  if S.index then nk = nk + 1; gkeys[nk] = DIR_KEY end
  local vals = nk > 0 and core.get_many(store, gkeys, nk) or {}
  local ix
  if S.index then
    ix = index_new(vals[nk])
    gkeys[nk] = nil
  end
  return vals, ix
end

-- Writes a batch's puts (np of them) and removals (rn, chunks_removed of them due chunks) with
-- the index's new chunks, and reports the rows the store holds.
local function write_batch(store, ix, metrics, rk, rn, pk, pv, np, chunks_removed)
  local groups_put = np
  if ix then np = index_flush(ix, pk, pv, np) end
  write(store, rk, rn, pk, pv, np)
  if ix then report_rows(metrics, store, ix, groups_put, rn - chunks_removed) end
end

-- Windows and plain keys in append and update modes.
local function groups_batch(S, store, wm, glist, gkeys, ng, metrics)
  local info, ixf = S.info, S.index
  local vals, ix = load_groups(S, store, gkeys, ng)
  local update = info.mode == "update"
  local merge, build = S.merge, S.build
  local out, nout = {}, 0
  local pk, pv, np = {}, {}, 0
  for g = 1, ng do
    local key, s = gkeys[g], vals[g]
    if s == nil then
      s = glist[g]
      if ix then index_add(ix, ixf.bucket(key), key) end
    else
      merge(s, glist[g])
    end
    np = np + 1
    pk[np], pv[np] = key, s
    if update then nout = nout + 1; out[nout] = build(key, s) end
  end
  local rk, rn, chunks_removed = {}, 0, 0
  if ix and wm ~= nil then
    local mkeys, mvals, mn
    mkeys, mvals, mn, rn, chunks_removed = take_due_groups(ix, store, wm, ixf.lower, rk, rn)
    local append = info.mode == "append"
    for i = 1, mn do
      local key, s = mkeys[i], mvals[i]
      if s ~= nil then
        if ixf.due(key) <= wm then
          if append then nout = nout + 1; out[nout] = build(key, s) end
          rn = rn + 1
          rk[rn] = key
        else
          index_add(ix, ixf.bucket(key), key) -- a partly due bucket: still waiting
        end
      end
    end
  end
  write_batch(store, ix, metrics, rk, rn, pk, pv, np, chunks_removed)
  return out, nout
end

-- Session windows in append mode (update is refused by the plan check).
local function sessions_batch(S, store, wm, glist, gkeys, ng, metrics)
  local info, ixf = S.info, S.index
  local vals, ix = load_groups(S, store, gkeys, ng)
  -- the groups: this batch's, then those listed in due buckets (each once)
  local keys, values, batch = {}, {}, {}
  local seen = {}
  for g = 1, ng do
    keys[g], values[g], batch[g] = gkeys[g], vals[g], glist[g]
    if ix then seen[F.key_text(gkeys[g], info.nstored)] = true end
  end
  local n, rk, rn, chunks_removed = ng, {}, 0, 0
  if ix and wm ~= nil then
    local function listed(key) -- a group of this batch, or of an earlier due bucket
      local text = F.key_text(key, info.nstored)
      if seen[text] then return true end
      seen[text] = true
      return false
    end
    local mkeys, mvals, mn
    mkeys, mvals, mn, rn, chunks_removed = take_due_groups(ix, store, wm, ixf.lower, rk, rn, listed)
    for i = 1, mn do
      if mvals[i] ~= nil then
        n = n + 1
        keys[n], values[n] = mkeys[i], mvals[i]
      end
    end
  end
  local out, nout = {}, 0
  local pk, pv, np = {}, {}, 0
  local new_acc, add, merge, build = S.new_acc, S.add, S.merge, S.build
  for g = 1, n do
    local key, sessions, b = keys[g], values[g], batch[g]
    local changed = false
    if b then
      sessions = W.merge_sessions(sessions, b.s, b.e, b.r, b.m, new_acc, add, merge)
      changed = true
    end
    if wm ~= nil and ix and sessions[1] and sessions[1][2] <= wm then
      -- sessions are sorted by start and disjoint, so by end too: the due ones are a prefix
      local keep, nkeep = {}, 0
      for j = 1, #sessions do
        local s = sessions[j]
        if s[2] <= wm then
          nout = nout + 1
          out[nout] = build(key, s)
        else
          nkeep = nkeep + 1
          keep[nkeep] = s
        end
      end
      sessions, changed = keep, true
    end
    if changed then
      if sessions[1] == nil then
        rn = rn + 1
        rk[rn] = key
      else
        np = np + 1
        pk[np], pv[np] = key, sessions
        if ix then index_add(ix, ixf.bucket(key, sessions), key) end
      end
    elseif ix then
      -- listed in a due bucket (which left the directory) but its first session ends after
      -- the watermark: still waiting, listed again
      index_add(ix, ixf.bucket(key, sessions), key)
    end
  end
  write_batch(store, ix, metrics, rk, rn, pk, pv, np, chunks_removed)
  return out, nout
end

-- Complete mode: the whole result every batch, in a stable order (by key text).
local function complete_batch(S, store, glist, gkeys, ng)
  local info = S.info
  local skeys, svals, sn = core.scan(store)
  local text, pos = {}, {}
  for i = 1, sn do
    local t = F.key_text(skeys[i], info.nstored)
    text[i], pos[t] = t, i
  end
  local pk, pv, np = {}, {}, 0
  for g = 1, ng do
    local key, b = gkeys[g], glist[g]
    local t = F.key_text(key, info.nstored)
    local i = pos[t]
    local value
    if info.session then
      value = W.merge_sessions(i and svals[i] or nil, b.s, b.e, b.r, b.m, S.new_acc, S.add, S.merge)
    elseif i then
      value = svals[i]
      S.merge(value, b)
    else
      value = b
    end
    if not i then
      sn = sn + 1
      i = sn
      skeys[i], text[i], pos[t] = key, t, i
    end
    svals[i] = value
    np = np + 1
    pk[np], pv[np] = key, value
  end
  local order = {}
  for i = 1, sn do order[i] = i end
  table.sort(order, function(a, b) return text[a] < text[b] end)
  local out, nout = {}, 0
  for _, i in ipairs(order) do
    if info.session then
      for _, s in ipairs(svals[i]) do nout = nout + 1; out[nout] = S.build(skeys[i], s) end
    else
      nout = nout + 1
      out[nout] = S.build(skeys[i], svals[i])
    end
  end
  write(store, {}, 0, pk, pv, np)
  return out, nout
end

-- The operator -----------------------------------------------------------------------------

local function user_error(info, err)
  errors.pass_interrupt(err)
  error({ streamrun_user_error = true,
          message = format("%s in aggregate (defined at %s)", errors.message(err), info.where) }, 0)
end

-- exec.operator contract: compile(node, q) -> fn(rows, n, ctx, store, metrics) -> rows, n.
function M.compile(node, q)
  local info = analyse(node, q)
  local list = F.layout(node.aggs)
  local S = { info = info, index = index_functions(info) }
  S.new_acc, S.add, S.merge, S.finish = F.compile(list, info.session and 2 or 0)
  S.build = gen_build(info, S.finish)
  for p, i in ipairs(info.stored) do
    if info.keys[i].kind == "window" then S.window_pos = p end
  end
  local pass = gen_pass(info, S.new_acc, S.add)
  return function(rows, n, ctx, store, metrics)
    local wm = ctx.watermark_ms
    local glist, gkeys, gnorm = {}, {}, {}
    local ok, ng, dropped = xpcall(pass, debug.traceback, rows, n, wm or -huge, {}, glist, gkeys, 0,
                                   {}, gnorm)
    if not ok then user_error(info, ng) end
    metrics.numRowsDroppedByWatermark = dropped
    if info.panes and ng > 0 then
      glist, gkeys, ng = expand_panes(S, glist, gkeys, gnorm, ng, info.late == "window" and wm or -huge)
    end
    local out, nout
    ok, out, nout = xpcall(function()
      if info.mode == "complete" then return complete_batch(S, store, glist, gkeys, ng) end
      if info.session then return sessions_batch(S, store, wm, glist, gkeys, ng, metrics) end
      return groups_batch(S, store, wm, glist, gkeys, ng, metrics)
    end, debug.traceback)
    if not ok then user_error(info, out) end
    return out, nout
  end
end

-- Complete mode keeps and emits every group whatever the watermark (Spark runs no no-data
-- batch for it: StateStoreSaveExec.shouldRunAnotherBatch asks for append or update).
function M.ignores_watermark(node, q)
  return (q.sink.outputMode or "append") == "complete"
end

-- The output columns: the keys (a window as a start/end struct), then the aggregates by name.
function M.columns(node, parent_columns)
  local types = {}
  for _, c in ipairs(parent_columns or {}) do types[c[1]] = c[2] end
  local cols, nfn = {}, 0
  for _, k in ipairs(node.keys) do
    if type(k) == "string" then
      if types[k] then cols[#cols + 1] = { k, types[k] } end
    elseif type(k) == "function" then
      nfn = nfn + 1
    else
      cols[#cols + 1] = { "window", WINDOW_TYPE }
    end
  end
  local list = F.layout(node.aggs)
  for _, a in ipairs(list) do
    local t = F.output_type(a.spec, a.spec.column and types[a.spec.column])
    if t then cols[#cols + 1] = { a.name, t } end
  end
  return cols
end

-- For the specs: the generated pass and row builder of a node.
M._analyse = analyse
return M
