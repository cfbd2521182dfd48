-- Definition files for the Lua language server (LuaLS, `---@meta`), written by
-- `streamrun --lua-defs DIR` (docs/JOB-API.md, "Editor support"). They are made from what the
-- runtime itself checks, so they cannot drift from it: every connector's option table (the C
-- specs behind "did you mean"), the query's own option names (exec.lua's SINK_ENGINE_KEYS) and
-- the builder API of the streamrun module. Each format's options are a `(exact)` class, so an
-- editor completes the names, and LuaLS flags a field injected later (`opts.checkpointLocaton =`;
-- a misspelled key inside the constructor itself it does not flag yet: LuaLS issue 3040).
--
-- The builder API's signatures are written here (API below); generate() fails when the module
-- has a function this list does not describe, or the list one the module no longer has.
local core = require "streamrun.core"
local exec = require "streamrun.exec"
local sr = require "streamrun"

local M = {}

-- Lua types of the option types of options.h
local OPTION_TYPES = { string = "string", int = "integer", bool = "boolean",
                       duration = "string", size = "integer|string", json = "table|string" }

-- Options whose Lua value is not the text the C table sees (functions stay in the Lua spec).
local OPTION_OVERRIDES = {
  ["sink foreach_batch fn"] = "fun(rows: table[], batch_id: integer)",
}

-- Options every source takes beside its connector's (job.c's common_source_options).
local SOURCE_COMMON = {
  { "schema", "string|table", "the columns as Spark DDL (\"auction long, price double\") or a table {name = type}" },
  { "badRecordsPath", "string", "where records that do not fit the schema are written (else counted and dropped)" },
}


-- The builder API: name -> lines of annotations and the signature. Stream and Grouped methods
-- are "Stream:name", "Grouped:name".
local API = {
  read_stream = { "A streaming source: every row that arrives, batch by batch.",
                  "@param opts streamrun.ReadStreamOptions", "@return streamrun.Stream",
                  sig = "(opts)" },
  read = { "A static table: read as it is when used, joinable with a stream.",
           "@param opts streamrun.ReadStreamOptions", "@return streamrun.Stream", sig = "(opts)" },
  window = { "A tumbling or sliding event-time window key (Spark's window()).",
             "@param column string", "@param size string", "@param slide? string",
             "@param start_time? string", "@return streamrun.WindowKey",
             sig = "(column, size, slide, start_time)" },
  session_window = { "A session window key (Spark's session_window()).", "@param column string",
                     "@param gap string|fun(row: table): string", "@return streamrun.WindowKey",
                     sig = "(column, gap)" },
  count = { "@return streamrun.Aggregate", sig = "()" },
  sum = { "@param column string", "@return streamrun.Aggregate", sig = "(column)" },
  min = { "@param column string", "@return streamrun.Aggregate", sig = "(column)" },
  max = { "@param column string", "@return streamrun.Aggregate", sig = "(column)" },
  avg = { "@param column string", "@return streamrun.Aggregate", sig = "(column)" },
  first = { "@param column string", "@return streamrun.Aggregate", sig = "(column)" },
  last = { "@param column string", "@return streamrun.Aggregate", sig = "(column)" },
  count_distinct = { "@param column string", "@return streamrun.Aggregate", sig = "(column)" },
  collect_list = { "@param column string", "@return streamrun.Aggregate", sig = "(column)" },
  aggregate = { "A custom aggregate.", "@param spec streamrun.AggregateSpec",
                "@return streamrun.Aggregate", sig = "(spec)" },
  to_json = { "@param value any", "@return string", sig = "(value)" },
  from_json = { "@param text string", "@return any", sig = "(text)" },
  parse_timestamp = { "ISO-8601 text to milliseconds.", "@param text string", "@return number",
                      sig = "(text)" },
  format_timestamp = { "@param t streamrun.Timestamp|number", "@return string", sig = "(t)" },
  parse_date = { "@param text string", "@return integer", sig = "(text)" },
  format_date = { "@param d streamrun.Date|integer", "@return string", sig = "(d)" },
  timestamp = { "A timestamp from milliseconds, ISO-8601 text, a timestamp or a date.",
                "@param x number|string|streamrun.Timestamp|streamrun.Date",
                "@return streamrun.Timestamp", sig = "(x)" },
  timestamp_us = { "@param us number", "@return streamrun.Timestamp", sig = "(us)" },
  date = { "A date from days, \"YYYY-MM-DD\", a date or a timestamp.",
           "@param x number|string|streamrun.Timestamp|streamrun.Date", "@return streamrun.Date",
           sig = "(x)" },
  binary = { "@param s string", "@return streamrun.Binary", sig = "(s)" },
  is_timestamp = { "@param v any", "@return boolean", sig = "(v)" },
  is_date = { "@param v any", "@return boolean", sig = "(v)" },
  is_binary = { "@param v any", "@return boolean", sig = "(v)" },
  typeof = { "\"timestamp\", \"date\", \"binary\" or Lua's type name.", "@param v any",
             "@return string", sig = "(v)" },
  duration = { "Duration text to milliseconds.", "@param text string", "@return number",
               sig = "(text)" },
  memory_table = { "The rows the memory sink named so has written.", "@param name string",
                   "@return table[]", sig = "(name)" },
  log = { "@param level \"debug\"|\"info\"|\"warn\"|\"error\"", "@param ... any", sig = "(level, ...)" },
  _queries = false,  -- internal: not in the definitions
  ["Stream:map"] = { "@param fn fun(row: table): table?", "@param opts? streamrun.FunctionOptions",
                     "@return streamrun.Stream", sig = "(fn, opts)" },
  ["Stream:filter"] = { "@param fn fun(row: table): boolean?", "@return streamrun.Stream", sig = "(fn)" },
  ["Stream:flat_map"] = { "@param fn fun(row: table): table[]?", "@param opts? streamrun.FunctionOptions",
                          "@return streamrun.Stream", sig = "(fn, opts)" },
  ["Stream:select"] = { "Columns to keep (\"a\"), rename (d = \"b\") or compute (c = function(r) ... end).",
                        "@param spec table<integer|string, string|fun(row: table): any>",
                        "@return streamrun.Stream", sig = "(spec)" },
  ["Stream:parse_json"] = { "@param column string", "@param schema? string|table",
                            "@return streamrun.Stream", sig = "(column, schema)" },
  ["Stream:union"] = { "@param other streamrun.Stream", "@return streamrun.Stream", sig = "(other)" },
  ["Stream:with_watermark"] = { "@param column string", "@param delay string",
                                "@return streamrun.Stream", sig = "(column, delay)" },
  ["Stream:sort"] = { "Static tables only.", "@param ... string|fun(a: table, b: table): boolean",
                      "@return streamrun.Stream", sig = "(...)" },
  ["Stream:limit"] = { "Static tables only.", "@param n integer", "@return streamrun.Stream", sig = "(n)" },
  ["Stream:group_by"] = { "@param ... string|streamrun.WindowKey|fun(row: table): any",
                          "@return streamrun.Grouped", sig = "(...)" },
  ["Stream:drop_duplicates"] = { "@param keys? string|string[]|fun(row: table): any",
                                 "@return streamrun.Stream", sig = "(keys)" },
  ["Stream:drop_duplicates_within_watermark"] = { "@param keys? string|string[]|fun(row: table): any",
                                                  "@return streamrun.Stream", sig = "(keys)" },
  ["Stream:join"] = { "@param other streamrun.Stream", "@param spec? streamrun.JoinSpec",
                      "@return streamrun.Stream", sig = "(other, spec)" },
  ["Stream:collect"] = { "A static table's rows as they are now.", "@return table[]", sig = "()" },
  ["Stream:write_stream"] = { "Defines a query; queries start when the job file has run.",
                              "@param opts streamrun.WriteStreamOptions", "@return streamrun.Query",
                              sig = "(opts)" },
  ["Grouped:agg"] = { "@param aggs table<string, streamrun.Aggregate>", "@return streamrun.Stream",
                      sig = "(aggs)" },
  ["Grouped:count"] = { "@return streamrun.Stream", sig = "()" },
  ["Grouped:process_with_state"] = { "@param spec streamrun.ProcessWithStateSpec",
                                     "@return streamrun.Stream", sig = "(spec)" },
}

-- Classes of the API's own tables (exact: a misspelled key is flagged).
local FIXED = [[
---@alias streamrun.OutputMode "append"|"update"|"complete"

---@class (exact) streamrun.TriggerTable
---@field processingTime? string
---@field once? true
---@field availableNow? true
---@field continuous? string

---@alias streamrun.Trigger string|streamrun.TriggerTable

---@class (exact) streamrun.FunctionOptions
---@field schema? string|table the types of the columns the function makes

---@class (exact) streamrun.TimeRange
---@field left string the left side's event-time column
---@field right string the right side's event-time column
---@field lower string left.col + lower <= right.col (a duration, may be negative)
---@field upper string right.col <= left.col + upper

---@class (exact) streamrun.JoinSpec
---@field on? string|string[]|fun(left: table, right: table): boolean the key columns, or a condition
---@field how? string inner (default), left, right, full, left_semi, left_anti (and Spark's aliases)
---@field time_range? streamrun.TimeRange

---@class (exact) streamrun.ProcessWithStateSpec
---@field fn fun(key: any, rows: table[], state: table): table[]? called per key with the batch's rows
---@field timeout? string none (default), processing_time or event_time

---@class (exact) streamrun.AggregateSpec
---@field init fun(): any
---@field add fun(acc: any, row: table): any
---@field merge fun(a: any, b: any): any
---@field finish? fun(acc: any): any

---@class streamrun.Aggregate
---@class streamrun.WindowKey
---@class streamrun.Query

---@class streamrun.Timestamp
---@operator add(number): streamrun.Timestamp
---@operator sub(number): streamrun.Timestamp
local Timestamp = {}
---@return number
function Timestamp:ms() end
---@return number
function Timestamp:us() end
---@return number
function Timestamp:seconds() end
---@return streamrun.Date
function Timestamp:date() end

---@class streamrun.Date
local Date = {}
---@return integer
function Date:days() end
---@return streamrun.Timestamp
function Date:timestamp() end

---@class streamrun.Binary
local Binary = {}
---@return string
function Binary:bytes() end
]]

local function class_name(format, kind)  -- "json", "Source" -> streamrun.JsonSourceOptions
  local camel = format:gsub("^%l", string.upper):gsub("_(%l)", string.upper)
  return "streamrun." .. camel .. kind .. "Options"
end

local function one_line(text)
  return (tostring(text or ""):gsub("%s+", " "))
end

local function option_fields(out, kind, format, specs)
  for _, o in ipairs(specs) do
    local name, otype, default, desc = o[1], o[2], o[3], o[4]
    if name:sub(-1) == "*" then  -- a prefix ("kafka.*"): any name under it
      out[#out + 1] = string.format("---@field [string] %s %s", OPTION_TYPES[otype], one_line(desc))
    else
      local t = OPTION_OVERRIDES[kind:lower() .. " " .. format .. " " .. name] or OPTION_TYPES[otype]
      local key = name:match("^[%a_][%w_]*$") and name or ("[%q]"):format(name)
      out[#out + 1] = string.format("---@field %s? %s %s%s", key, t, one_line(desc),
                                    default and (" (default " .. default .. ")") or "")
    end
  end
end

local function connector_classes(out, kind, names)
  local classes = {}
  for _, format in ipairs(names) do
    local specs, modes = core.connector_options(kind:lower(), format)
    local cls = class_name(format, kind)
    classes[#classes + 1] = cls
    out[#out + 1] = "---@class (exact) " .. cls
    out[#out + 1] = string.format("---@field format %q", format)
    if kind == "Source" then
      for _, c in ipairs(SOURCE_COMMON) do
        out[#out + 1] = string.format("---@field %s? %s %s", c[1], c[2], c[3])
      end
    else
      for _, name in ipairs(exec.sink_engine_keys) do
        local c = exec.sink_engine_options[name]
        if name ~= "format" then
          if type(c) ~= "table" then error("luadefs: the query option " .. name .. " has no description", 0) end
          local t = c[1]
          if name == "outputMode" and modes then
            local q = {}
            for i, m in ipairs(modes) do q[i] = string.format("%q", m) end
            t = table.concat(q, "|")
          end
          out[#out + 1] = string.format("---@field %s? %s %s", name, t, c[2])
        end
      end
    end
    option_fields(out, kind, format, specs)
    out[#out + 1] = ""
  end
  out[#out + 1] = string.format("---@alias streamrun.%s %s", kind == "Source" and "ReadStreamOptions"
                                or "WriteStreamOptions", table.concat(classes, "|"))
  out[#out + 1] = ""
  return classes
end

-- The API entries for the functions of t (a module or a metatable), named prefix .. name.
local function check_api(t, prefix, seen)
  for name, v in pairs(t) do
    if type(v) == "function" then
      local key = prefix .. name
      if API[key] == nil then
        error("luadefs: " .. key .. " has no definition: describe it in streamrun/luadefs.lua", 0)
      end
      seen[key] = true
    end
  end
end

local function function_defs(out, key, overloads)
  local d = API[key]
  for _, line in ipairs(d) do
    out[#out + 1] = line:sub(1, 1) == "@" and ("---" .. line) or ("--- " .. line)
  end
  for _, o in ipairs(overloads or {}) do out[#out + 1] = o end
  local owner, method = key:match("^(%a+):(.+)$")
  if owner then
    out[#out + 1] = string.format("function %s:%s%s end", owner, method, d.sig)
  else
    out[#out + 1] = string.format("function sr.%s%s end", key, d.sig)
  end
  out[#out + 1] = ""
end

-- The text of the definition file streamrun.lua.
function M.generate()
  local seen = {}
  check_api(sr, "", seen)
  check_api(sr.Stream, "Stream:", seen)
  check_api(getmetatable(sr.Stream.group_by({}, "k")), "Grouped:", seen)  -- its metatable is not exported
  for key, d in pairs(API) do
    if d and not seen[key] then error("luadefs: " .. key .. " is described but the module has no such function", 0) end
  end
  local out = {
    "---@meta streamrun",
    "-- Generated by `streamrun --lua-defs DIR` from the connectors' option tables and the",
    "-- streamrun module (lua/streamrun/luadefs.lua): do not edit, regenerate.",
    "",
  }
  for line in FIXED:gmatch("([^\n]*)\n") do out[#out + 1] = line end
  out[#out + 1] = ""
  local classes = { read_stream = connector_classes(out, "Source", core.source_names()),
                    ["Stream:write_stream"] = connector_classes(out, "Sink", core.sink_names()) }
  classes.read = classes.read_stream
  out[#out + 1] = "---@class streamrun.Stream"
  out[#out + 1] = "local Stream = {}"
  out[#out + 1] = ""
  out[#out + 1] = "---@class streamrun.Grouped"
  out[#out + 1] = "local Grouped = {}"
  out[#out + 1] = ""
  out[#out + 1] = "---@class streamrun"
  out[#out + 1] = "local sr = {}"
  out[#out + 1] = ""
  local keys = {}
  for key, d in pairs(API) do if d then keys[#keys + 1] = key end end
  table.sort(keys)
  for _, key in ipairs(keys) do
    local overloads = {}  -- one per format: completion follows `format`
    for i, cls in ipairs(classes[key] or {}) do
      overloads[i] = key:find(":", 1, true)
        and string.format("---@overload fun(self: streamrun.Stream, opts: %s): streamrun.Query", cls)
        or string.format("---@overload fun(opts: %s): streamrun.Stream", cls)
    end
    function_defs(out, key, overloads)
  end
  out[#out + 1] = "return sr"
  return table.concat(out, "\n") .. "\n"
end

return M
