-- The job side of the Spark test harness (tests/spark/lib.sh writes the jobs that require it).
--
-- Spark's tests read a MemoryStream and write to a memory sink. Here a memory stream is a json
-- source reading one folder, one file per AddData (maxFilesPerTrigger = 1, so one AddData is
-- one batch), and the sink is foreach_batch writing each batch's rows as answer tuples, one
-- line per row, to out/batch-<id>.txt, which lib.sh compares with Spark's expected rows.
local sr = require "streamrun"

local spark = {}

--- A MemoryStream: the folder in/<name>/ read as JSON lines with the given schema
-- (default "value long": MemoryStream[Int], whose column is `value`).
function spark.memory_stream(name, schema)
  -- a MemoryStream exists before data is added to it: its folder too (a file source refuses a
  -- path that does not exist, as Spark's does)
  os.execute("mkdir -p 'in/" .. name .. "'")
  return sr.read_stream{ format = "json", path = "in/" .. name, maxFilesPerTrigger = 1,
                         schema = schema or "value long" }
end

--- Spark's `$"value".cast("timestamp")`: seconds to the millisecond timestamps of streamrun.
function spark.seconds(column, from)
  return function(r) r[column] = r[from or "value"] and r[from or "value"] * 1000; return r end
end

--- A timestamp (ms) or window bound cast to long, as Spark's tests select them: seconds.
function spark.sec(ms) return ms and ms / 1000 end

--- A timestamp (ms) cast to string, as Spark prints it in UTC: "2016-03-27 09:00:00.24".
function spark.ts_string(ms)
  local iso = sr.format_timestamp(ms) -- 2016-03-27T09:00:00.240Z
  local text = iso:sub(1, 10) .. " " .. iso:sub(12, 19)
  local frac = iso:sub(21, 23):gsub("0+$", "")
  return frac ~= "" and text .. "." .. frac or text
end

local function cell(v)
  if v == nil then return "null" end
  if type(v) == "number" then
    if v == math.floor(v) and math.abs(v) < 2^53 then return string.format("%d", v) end
    return string.format("%.17g", v)
  end
  if type(v) == "table" then return sr.to_json(v) end
  return tostring(v)
end

--- Writes the query the way testStream runs it: `answer(row)` returns the row's tuple as a
-- list (Spark's select ... as[...]), written as its cells joined by ","; it may return the
-- tuple's width second, when its last cells can be nil. opts: outputMode, answer, trigger
-- (default availableNow), and any other sink option, passed on.
function spark.test_stream(stream, opts)
  local answer = assert(opts.answer, "test_stream needs answer = function(row) return {...} end")
  local sink = { format = "foreach_batch", outputMode = "append", checkpointLocation = "chk",
                 trigger = { availableNow = true } }
  -- lib.sh's process_trigger: a processingTime trigger, for a batch without new data
  for k, v in pairs(opts) do
    if k ~= "answer" then sink[k] = v end
  end
  if os.getenv("SPARK_TRIGGER") then sink.trigger = os.getenv("SPARK_TRIGGER") end
  sink.fn = function(rows, batch_id)
    local f = assert(io.open(string.format("out/batch-%d.txt", batch_id), "w"))
    for _, r in ipairs(rows) do
      local t, n = answer(r)
      local cells = {}
      for i = 1, n or table.maxn(t) do cells[i] = cell(t[i]) end
      f:write(table.concat(cells, ","), "\n")
    end
    f:close()
  end
  return stream:write_stream(sink)
end

return spark
