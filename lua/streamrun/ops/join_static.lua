-- Stream-static joins (see streamrun.ops.join). Spark's semantics: each batch joins its stream
-- rows with the static table as it is when the batch runs.
--
-- The static side is read (core.static_load), passed through its map/filter/flat_map/select
-- steps, and built into a hash table in C keyed by the join key (core.static_build) ONCE PER
-- CHANGE of its files: each batch lists the files (core.static_check: names, sizes, mtimes)
-- and rebuilds only when that fingerprint moved. The table lives in a C cache keyed by the
-- identity of what was built (format, path, options, schema, keys, the steps' code), so it
-- survives a reload of the job's lua_State; a reload that changes a step's function changes
-- the identity and rebuilds. Per batch, one core.static_probe call looks up every stream row.
--
-- A change of the static table alone runs no batch (only the stream's data does). A batch
-- re-run after a crash joins with the table as it is at the re-run, as in Spark.
-- `on` as a function without key columns gives every row the same key: each stream row is then
-- tested against every static row (a nested loop, slow on big tables).
local core = require "streamrun.core"
local options = require "streamrun.options"
local errors = require "streamrun.errors"
local types = require "streamrun.types"

local S = {}

-- A function's identity across lua_States: its bytecode (upvalues are not part of it).
local function fn_identity(f)
  local ok, code = pcall(string.dump, f)
  return ok and code or tostring(f)
end

local function identity(src, opts, steps, keys)
  local names = {}
  for k in pairs(opts) do names[#names + 1] = k end
  table.sort(names)
  local parts = { src.format, src.schema and tostring(src.schema) or "", table.concat(keys, "\1") }
  for _, k in ipairs(names) do parts[#parts + 1] = k .. "=" .. opts[k] end
  for _, st in ipairs(steps) do
    parts[#parts + 1] = st.op .. "@" .. tostring(st.where)
    if st.fn then parts[#parts + 1] = fn_identity(st.fn) end
    if st.op == "aggregate" then
      parts[#parts + 1] = require("streamrun.exec").signature(st)
      for _, k in ipairs(st.keys) do if type(k) == "function" then parts[#parts + 1] = fn_identity(k) end end
      for name, a in pairs(st.aggs) do
        for _, f in ipairs { a.init or false, a.add or false, a.merge or false, a.finish or false } do
          if f then parts[#parts + 1] = name .. fn_identity(f) end
        end
      end
    elseif st.op == "sort" or st.op == "limit" or st.op == "parse_json" or st.op == "drop_duplicates" then
      for _, a in ipairs(st.args or st.keys or {}) do
        parts[#parts + 1] = type(a) == "function" and fn_identity(a) or tostring(a)
      end
      parts[#parts + 1] = tostring(st.n or st.column or "")
      if st.schema then parts[#parts + 1] = tostring(st.schema) end
    end
    for _, c in ipairs(st.columns or {}) do
      parts[#parts + 1] = c.name .. "<" .. (c.from or fn_identity(c.fn))
    end
  end
  return table.concat(parts, "\0")
end

-- Runs the static side's steps over its rows (once per change of the table); the batch
-- operations (group_by():agg, sort, ...) as collect() runs them.
local function apply_steps(steps, rows, n)
  for _, st in ipairs(steps) do
    if st.op ~= "map" and st.op ~= "filter" and st.op ~= "flat_map" and st.op ~= "select" then
      rows, n = require("streamrun.static").run(st, rows, n)
      goto next
    end
    local out, m = {}, 0
    local ok, err = xpcall(function()
      for i = 1, n do
        local r = rows[i]
        if st.op == "map" then
          r = st.fn(r)
          if r ~= nil then m = m + 1; out[m] = r end
        elseif st.op == "filter" then
          if st.fn(r) then m = m + 1; out[m] = r end
        elseif st.op == "flat_map" then
          for _, x in ipairs(st.fn(r) or {}) do m = m + 1; out[m] = x end
        else -- select
          local o = {}
          for _, c in ipairs(st.columns) do
            if c.fn then o[c.name] = c.fn(r) else o[c.name] = r[c.from] end
          end
          m = m + 1
          out[m] = o
        end
      end
    end, debug.traceback)
    if not ok then
      errors.pass_interrupt(err)
      error(string.format("%s in %s of the static table (defined at %s)", errors.message(err), st.op,
                          tostring(st.where)), 0)
    end
    rows, n = out, m
    ::next::
  end
  return rows, n
end

function S.compile(node, s, J)
  local src, steps = J.static_chain(node.other)
  if not src then error(node.where .. ": " .. steps, 0) end
  local keys, how, static_left = s.keys, s.how, s.static_left
  local opts = options.flatten(src.options, { schema = true }) -- schema goes as a schema
  local fmt, path, schema = src.format, opts.path or "", src.schema
  local ident = identity(src, opts, steps, keys)
  local accept = J.acceptor(s)
  local merge = J.merger(keys, J.left_names(node, s))
  local semi, anti = how == "left_semi", how == "left_anti"
  local outer = how == "left_outer" or how == "right_outer"
  local exists_only = (semi or anti) and not accept
  local static_names_known = static_left and J.left_names(node, s) ~= nil

  -- The static table's column names as a set, when it is the left side and the plan does not
  -- know them: they decide which stream columns are renamed right_<name>.
  local function static_names()
    local set = {}
    for _, c in ipairs(core.static_columns(ident)) do set[c] = true end
    return set
  end

  return function(rows, n, ctx, store, metrics)
    local fp = core.static_check(ident, fmt, path, opts)
    if fp then
      local srows, sn = core.static_load(fmt, path, opts, schema)
      types.make_values(src.schema_list, srows, sn) -- as the stream side's: equal keys pack alike
      srows, sn = apply_steps(steps, srows, sn)
      metrics.numStaticRowsLoaded = core.static_build(ident, fp, srows, sn, keys)
    end
    if n == 0 then return {}, 0 end
    local matches = core.static_probe(ident, rows, n, keys, exists_only)
    local names = static_left and not static_names_known and static_names() or nil
    local out, m = {}, 0
    for i = 1, n do
      local row, ms = rows[i], matches[i]
      if semi or anti then
        local hit = false
        if ms == true then
          hit = true
        elseif ms then
          for j = 1, #ms do
            if accept(row, ms[j]) then hit = true; break end
          end
        end
        if hit == semi then m = m + 1; out[m] = row end
      else
        local any = false
        if ms then
          for j = 1, #ms do
            local l, r = row, ms[j]
            if static_left then l, r = r, row end
            if not accept or accept(l, r) then
              any = true
              m = m + 1
              out[m] = merge(l, r, names)
            end
          end
        end
        if outer and not any then
          m = m + 1
          if static_left then out[m] = merge(nil, row, names) else out[m] = merge(row, nil) end
        end
      end
    end
    return out, m
  end
end

return S
