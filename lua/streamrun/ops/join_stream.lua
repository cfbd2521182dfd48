-- Stream-stream joins (see streamrun.ops.join): Spark's symmetric hash join
-- (StreamingSymmetricHashJoinExec) over the operator's one state store.
--
-- Each batch, in this order:
--  1. rows older than the watermark are dropped (Spark drops a side's rows whose event time,
--     or window end, is <= the watermark; numRowsDroppedByWatermark);
--  2. the left rows are joined with the right rows stored by earlier batches, and stored;
--  3. the right rows are joined with every stored left row (earlier batches' and this one's),
--     and stored; so each pair meets exactly once. left_semi emits a left row at its first
--     match only, and does not store a left row that matched on arrival;
--  4. stored rows that no future row can match are evicted: those whose eviction time is <=
--     the watermark. An evicted row of a preserved side (left for left outer, ...) that never
--     matched is emitted with nil for the other side: its match can no longer arrive.
-- Eviction times (Spark's state watermarks), with wm the watermark:
--  * a `window` key column: window.end (rows with window.end <= wm are late or evictable);
--    an event-time key column watermarked on both sides: its value;
--  * time_range {left=a, right=b, lower, upper} (left.a + lower <= right.b <= left.a + upper):
--    a left row at a + upper + 1 ms, when the right side is watermarked on b (later right rows
--    have b > wm); a right row at b - lower + 1 ms, when the left side is watermarked on a. The
--    bounds are inclusive, so Spark's state watermarks keep a row 1 ms longer than needed: the
--    same here, so state and outer rows go when Spark's do.
-- The watermark is the query's (the minimum over its with_watermark operators), the one the
-- engine gives every operator: conservative for each side, so eviction is never early.
--
-- State layout (keys are strings; k is the packed join key, side is "L" or "R"):
--   side.."c"..k        -> the number of chunks stored under k
--   side.."r"..k..i     -> chunk i = 1..count: a list of entries {row, evict_ms, matched}. A
--                          batch appends its rows of k as one new chunk, so storing a row never
--                          rewrites older ones (Spark's keyWithIndexToValue, a chunk per batch
--                          instead of an entry per row: a tenth of the store entries or less);
--                          a key whose rows are evicted is rewritten as one chunk
--   side.."b"..bucket   -> {k, ...} the keys with rows whose evict_ms falls in
--                          [bucket*W, (bucket+1)*W): the eviction index, so eviction reads only
--                          the keys that have something to evict, never the whole store
--   side.."d"           -> the sorted list of buckets in use
--   "N"                 -> the number of rows stored on both sides (absent when none), for
--                          progress: Spark counts state rows (numRowsTotal), not store entries;
--                          a store written before the count existed is counted once by a scan
-- A batch reads and writes the store in a few batched calls (get_many/put_many), never per row.
local tms = require("streamrun.types").ms -- event times as ms numbers (timestamps too)
local core = require "streamrun.core"

local X = {}

local floor = math.floor
local get_many, put_many = core.get_many, core.put_many

-- Per side: late(row, wm) -> whether the row is dropped as late; evict(row) -> the time at
-- which the stored row is evicted (nil: never; no evict at all: the side keeps every row).
local function side_rules(s, e, side)
  local wmcols = {}
  for c in pairs(side == 1 and e.wm_left or e.wm_right) do wmcols[#wmcols + 1] = c end
  table.sort(wmcols)
  local window = e.by_key == "window"
  local late = function(r, wm)
    for i = 1, #wmcols do
      local t = r[wmcols[i]]
      if t ~= nil and t <= wm then return true end
    end
    if window then
      local w = r.window
      if type(w) == "table" and w["end"] ~= nil and w["end"] <= wm then return true end
    end
    return false
  end
  local evict
  if window then
    evict = function(r) local w = r.window; return type(w) == "table" and tms(w["end"]) or nil end
  elseif e.by_key then
    local c = e.by_key
    evict = function(r) return tms(r[c]) end
  elseif s.range and side == 1 and e.left then
    -- evicted 1 ms after the last instant a match could come, as Spark's state watermark of a
    -- non-strict bound (StreamingJoinHelper.getStateValueWatermark subtracts 1 ms)
    local c, upper = s.range.left, s.range.upper
    evict = function(r) local t = tms(r[c]); return t and t + upper + 1 end
  elseif s.range and side == 2 and e.right then
    local c, lower = s.range.right, s.range.lower
    evict = function(r) local t = tms(r[c]); return t and t - lower + 1 end
  end
  return { late = late, evict = evict, prefix = side == 1 and "L" or "R",
           range_col = s.range and (side == 1 and s.range.left or s.range.right) }
end

-- The rows of a store written before the "N" entry existed (one scan, once).
local function count_rows(store)
  if core.stats(store).num_rows_total == 0 then return 0 end
  local keys, vals, n = core.scan(store)
  local rows = 0
  for i = 1, n do
    if type(keys[i]) == "string" and keys[i]:match("^[LR]r") then rows = rows + #vals[i] end
  end
  return rows
end

-- The eviction index's bucket width: a fraction of the time range, at least a second.
local function bucket_width(s)
  if s.range then return math.max(1000, floor((s.range.upper - s.range.lower) / 4)) end
  return 1000
end

-- The sorted list a, with the numbers of the set add added and those of the set drop removed.
local function merge_sorted(a, add, drop)
  local seen, out = {}, {}
  for _, v in ipairs(a or {}) do
    if not drop[v] and not seen[v] then seen[v] = true; out[#out + 1] = v end
  end
  for v in pairs(add) do
    if not drop[v] and not seen[v] then seen[v] = true; out[#out + 1] = v end
  end
  table.sort(out)
  return out
end

function X.compile(node, s, J)
  local e = J.eviction(node, s)
  local how, keys = s.how, s.keys
  local keep_left = how == "left_outer" or how == "full_outer"
  local keep_right = how == "right_outer" or how == "full_outer"
  local semi = how == "left_semi"
  local flag = { keep_left or semi, keep_right } -- sides whose rows carry a matched flag
  local sides = { side_rules(s, e, 1), side_rules(s, e, 2) }
  local W = bucket_width(s)
  local accept = J.acceptor(s)
  local merge = J.merger(keys, J.left_names(node, s))

  return function(lrows, ln, ctx, store, metrics, rrows, rn)
    local wm = ctx.watermark_ms
    local out, m = {}, 0
    local function emit(row) m = m + 1; out[m] = row end

    -- 1. late rows, then keys
    local input, ikeys, dropped = {}, {}, 0
    local raw = { { lrows, ln }, { rrows or {}, rn or 0 } }
    for side = 1, 2 do
      local rows, n = raw[side][1], raw[side][2]
      local kept, c, late = {}, 0, sides[side].late
      for i = 1, n do
        local r = rows[i]
        if wm and late(r, wm) then dropped = dropped + 1 else c = c + 1; kept[c] = r end
      end
      input[side] = kept
      ikeys[side] = core.join_keys(kept, c, keys)
    end
    metrics.numRowsDroppedByWatermark = dropped

    -- per side and key: {n = stored chunks, list = stored entries when loaded, chunks = the
    -- loaded chunks, at = {entry index = its chunk}, new = {...}, dirty = {chunk = true},
    -- rewrite = bool}; order[side] lists the keys as first seen
    local ks, order = { {}, {} }, { {}, {} }
    local function state(side, k)
      local st = ks[side][k]
      if not st then
        st = { n = 0, new = {} }
        ks[side][k] = st
        order[side][#order[side] + 1] = k
      end
      return st
    end

    -- 2. chunk counts of both sides for every key of the batch, and the eviction directories
    local want, wkeys = {}, {}
    for side = 1, 2 do
      local kk = ikeys[side]
      for i = 1, #input[side] do
        local k = kk[i]
        if k and not ks[1][k] then
          state(1, k)
          state(2, k)
          wkeys[#wkeys + 1] = k
          want[#want + 1] = "Lc" .. k
          want[#want + 1] = "Rc" .. k
        end
      end
    end
    local ndir = #want
    for side = 1, 2 do
      if sides[side].evict then want[#want + 1] = sides[side].prefix .. "d" end
    end
    want[#want + 1] = "N"
    local got = get_many(store, want, #want)
    local stored_rows = got[#want] or count_rows(store)
    local rows_added, rows_removed = 0, 0
    for i, k in ipairs(wkeys) do
      ks[1][k].n = got[2 * i - 1] or 0
      ks[2][k].n = got[2 * i] or 0
    end
    local dirs, di = {}, ndir
    for side = 1, 2 do
      if sides[side].evict then di = di + 1; dirs[side] = got[di] or {} end
    end

    -- Loads the stored entries of the given {side, key} pairs in one call.
    local function load(wanted)
      local skeys, at = {}, {}
      for _, p in ipairs(wanted) do
        local st = ks[p[1]][p[2]]
        if not st.list then
          st.list, st.chunks, st.at = {}, {}, {}
          for i = 1, st.n do
            skeys[#skeys + 1] = sides[p[1]].prefix .. "r" .. p[2] .. i
            at[#skeys] = st
          end
        end
      end
      if #skeys == 0 then return end
      local chunks = get_many(store, skeys, #skeys)
      for i = 1, #skeys do
        local st, chunk = at[i], chunks[i]
        if chunk == nil then error("internal: join state lacks a chunk of a key", 0) end
        local c = #st.chunks + 1
        st.chunks[c] = chunk
        local list, where_ = st.list, st.at
        for j = 1, #chunk do
          list[#list + 1] = chunk[j]
          where_[#list] = c
        end
      end
    end

    -- 3. the stored rows the batch's rows can match: right rows for left keys, and back
    local need = {}
    for side = 1, 2 do
      local other, kk = 3 - side, ikeys[side]
      for i = 1, #input[side] do
        local k = kk[i]
        local st = k and ks[other][k]
        if st and st.n > 0 and not st.needed then
          st.needed = true
          need[#need + 1] = { other, k }
        end
      end
    end
    load(need)

    -- 4. left rows against the stored right rows; then store them. A row that can never
    -- match (a nil key or range column, its side's own condition false) is not stored.
    local lrange, rrange = sides[1].range_col, sides[2].range_col
    local lcond, rcond = s.left_cond, s.right_cond
    local lkeys = ikeys[1]
    for i, row in ipairs(input[1]) do
      local k = lkeys[i]
      if k == nil or (lrange and row[lrange] == nil) or (lcond and not lcond(row)) then
        if keep_left then emit(merge(row, nil)) end -- it can never match
      else
        local matched = false
        local rst = ks[2][k]
        local list = rst.list
        if list then
          for j = 1, #list do
            local ent = list[j]
            if not accept or accept(row, ent[1]) then
              matched = true
              if semi then break end
              emit(merge(row, ent[1]))
              if flag[2] and not ent[3] then
                ent[3] = true
                rst.dirty = rst.dirty or {}
                rst.dirty[rst.at[j]] = true
              end
            end
          end
        end
        if semi and matched then
          emit(row)
        else
          local new = ks[1][k].new
          new[#new + 1] = { row, sides[1].evict and sides[1].evict(row), flag[1] and matched or nil }
        end
      end
    end

    -- 5. right rows against every stored left row (earlier batches' and this one's)
    local rkeys = ikeys[2]
    local revict = sides[2].evict
    for i, row in ipairs(input[2]) do
      local k = rkeys[i]
      if k == nil or (rrange and row[rrange] == nil) or (rcond and not rcond(row)) then
        if keep_right then emit(merge(nil, row)) end
      else
        local matched = false
        local lst = ks[1][k]
        for pass = 1, 2 do
          local list
          if pass == 1 then list = lst.list else list = lst.new end
          for j = 1, list and #list or 0 do
            local ent = list[j]
            if not accept or accept(ent[1], row) then
              matched = true
              if semi then
                if not ent[3] then emit(ent[1]) end
              else
                emit(merge(ent[1], row))
              end
              if flag[1] and not ent[3] then
                ent[3] = true
                if pass == 1 then lst.dirty = lst.dirty or {}; lst.dirty[lst.at[j]] = true end
              end
            end
          end
        end
        local t = revict and revict(row)
        if wm and t and t <= wm then
          -- evicted in this very batch: no later left row can match it
          if keep_right and not matched then emit(merge(nil, row)) end
        else
          local new = ks[2][k].new
          new[#new + 1] = { row, t, flag[2] and matched or nil }
        end
      end
    end

    -- Emits what an evicted entry owes (an outer row, if it never matched).
    local function evicted(side, ent)
      if ent[3] then return end
      if side == 1 and keep_left then emit(merge(ent[1], nil))
      elseif side == 2 and keep_right then emit(merge(nil, ent[1])) end
    end

    -- 6. this batch's left rows that are already past their eviction time
    if wm and sides[1].evict then
      for _, k in ipairs(order[1]) do
        local st = ks[1][k]
        local keep = {}
        for _, ent in ipairs(st.new) do
          if ent[2] and ent[2] <= wm then evicted(1, ent) else keep[#keep + 1] = ent end
        end
        st.new = keep
      end
    end

    -- 7. eviction of stored rows through the bucket index, and the index's upkeep
    local puts, vals = {}, {}
    local function put(key, value) puts[#puts + 1] = key; vals[#puts] = value end
    if sides[1].evict or sides[2].evict then
      local bkeys, bat = {}, {}
      local add, due, full = { {}, {} }, { {}, {} }, { {}, {} }
      for side = 1, 2 do
        if sides[side].evict then
          -- buckets that get keys from this batch's rows
          for _, k in ipairs(order[side]) do
            for _, ent in ipairs(ks[side][k].new) do
              if ent[2] then
                local b = floor(ent[2] / W)
                add[side][b] = add[side][b] or {}
                add[side][b][k] = true
              end
            end
          end
          -- buckets holding rows at or below the watermark
          if wm then
            for _, b in ipairs(dirs[side]) do
              if b * W > wm then break end
              due[side][b] = true
              if (b + 1) * W <= wm then full[side][b] = true end
            end
          end
          for b in pairs(due[side]) do bkeys[#bkeys + 1] = sides[side].prefix .. "b" .. b; bat[#bkeys] = { side, b } end
          for b in pairs(add[side]) do
            if not due[side][b] then bkeys[#bkeys + 1] = sides[side].prefix .. "b" .. b; bat[#bkeys] = { side, b } end
          end
        end
      end
      local blists = {}
      if #bkeys > 0 then
        local got_b = get_many(store, bkeys, #bkeys)
        for i = 1, #bkeys do blists[bkeys[i]] = got_b[i] or {} end
      end
      -- the keys with rows to evict: counts first for keys this batch did not touch, then rows
      local ekeys, seen = {}, {}
      for i = 1, #bkeys do
        local side, b = bat[i][1], bat[i][2]
        if due[side][b] then
          for _, k in ipairs(blists[bkeys[i]]) do
            if not seen[side .. k] then
              seen[side .. k] = true
              ekeys[#ekeys + 1] = { side, k }
            end
          end
        end
      end
      local cwant, cat = {}, {}
      for _, p in ipairs(ekeys) do
        if not ks[p[1]][p[2]] then
          state(p[1], p[2]).n = nil
          cwant[#cwant + 1] = sides[p[1]].prefix .. "c" .. p[2]
          cat[#cwant] = ks[p[1]][p[2]]
        end
      end
      if #cwant > 0 then
        local cv = get_many(store, cwant, #cwant)
        for i = 1, #cwant do cat[i].n = cv[i] or 0 end
      end
      load(ekeys)
      for _, p in ipairs(ekeys) do
        local side, k = p[1], p[2]
        local st = ks[side][k]
        local keep = {}
        for _, ent in ipairs(st.list) do
          if ent[2] and ent[2] <= wm then
            evicted(side, ent)
          else
            keep[#keep + 1] = ent
          end
        end
        if #keep < #st.list then
          rows_removed = rows_removed + #st.list - #keep
          st.list, st.rewrite = keep, true
        end
      end
      -- the index: keys added to buckets, fully evicted buckets dropped
      for side = 1, 2 do
        if sides[side].evict then
          local prefix = sides[side].prefix
          for b, set in pairs(add[side]) do
            local lst, have = blists[prefix .. "b" .. b] or {}, {}
            for _, k in ipairs(lst) do have[k] = true end
            local ordered = {}
            for k in pairs(set) do if not have[k] then ordered[#ordered + 1] = k end end
            table.sort(ordered)
            for _, k in ipairs(ordered) do lst[#lst + 1] = k end
            if #ordered > 0 then put(prefix .. "b" .. b, lst) end
          end
          for b in pairs(full[side]) do put(prefix .. "b" .. b, nil) end
          if next(add[side]) or next(full[side]) then
            local dir = merge_sorted(dirs[side], add[side], full[side])
            put(prefix .. "d", #dir > 0 and dir or nil)
          end
        end
      end
    end

    -- 8. write back rows and counts
    for side = 1, 2 do
      local prefix = sides[side].prefix
      for _, k in ipairs(order[side]) do
        local st = ks[side][k]
        local rk = prefix .. "r" .. k
        rows_added = rows_added + #st.new
        if st.rewrite then
          local chunk = st.list
          for _, ent in ipairs(st.new) do chunk[#chunk + 1] = ent end
          local n = #chunk > 0 and 1 or 0
          if n == 1 then put(rk .. 1, chunk) end
          for i = n + 1, st.n do put(rk .. i, nil) end
          put(prefix .. "c" .. k, n > 0 and n or nil)
        else
          if st.dirty then
            for c in pairs(st.dirty) do put(rk .. c, st.chunks[c]) end
          end
          if #st.new > 0 then
            put(rk .. (st.n + 1), st.new)
            put(prefix .. "c" .. k, st.n + 1)
          end
        end
      end
    end
    local total = stored_rows + rows_added - rows_removed
    if total ~= stored_rows or got[#want] == nil and total > 0 then
      put("N", total > 0 and total or nil)
    end
    if #puts > 0 then put_many(store, puts, vals, #puts) end
    metrics.numRowsTotal = total
    metrics.numRowsUpdated, metrics.numRowsRemoved = rows_added, rows_removed
    return out, m
  end
end

return X
