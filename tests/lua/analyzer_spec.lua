-- The analyzer (streamrun.analyzer) and schema inference of the file sources: names are checked
-- against the columns the plan knows, never silently null.
local h = require "helpers"

local function line() return debug.getinfo(2, "l").currentline end

-- A fresh directory holding files: {name = text, ...}.
local function dir_with(files)
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p '" .. d .. "'") == 0)
  for name, text in pairs(files) do
    local f = assert(io.open(d .. "/" .. name, "w"))
    f:write(text)
    f:close()
  end
  return d
end

local function refusal(exec, q)
  local ok, err = pcall(exec.compile, q)
  assert.is_false(ok, "the plan was accepted")
  return tostring(err)
end

local BIDS = "auction long, bidder long, price double, channel string, dateTime timestamp"

describe("the analyzer", function()
  local sr, exec
  before_each(function() sr, exec = h.fresh() end)
  local function bids() return sr.read_stream{ format = "json", path = "in", schema = BIDS } end

  it("refuses a column no operator can find, with the job line and the nearest name", function()
    local cases = {
      { "select", function() return bids():select{ "auction", "prize" }, line() end, "prize", "price" },
      { "select rename", function() return bids():select{ euros = "prize" }, line() end, "prize", "price" },
      { "group_by", function() return bids():group_by("auctoin"):count(), line() end, "auctoin", "auction" },
      { "agg", function() return bids():group_by("auction"):agg{ s = sr.sum("prize") }, line() end, "prize", "price" },
      { "window", function()
        return bids():with_watermark("dateTime", "1 second")
          :group_by(sr.window("datetime", "10 seconds"), "auction"):count(), line() end, "datetime", "dateTime" },
      { "session_window", function()
        return bids():with_watermark("dateTime", "1 second")
          :group_by(sr.session_window("dateTim", "10 seconds"), "auction"):count(), line() end,
        "dateTim", "dateTime" },
      { "with_watermark", function() return bids():with_watermark("datetime", "1 second"), line() end,
        "datetime", "dateTime" },
      { "drop_duplicates", function() return bids():drop_duplicates{ "bider" }, line() end, "bider", "bidder" },
      { "drop_duplicates_within_watermark", function()
        return bids():with_watermark("dateTime", "1 second"):drop_duplicates_within_watermark{ "bider" }, line() end,
        "bider", "bidder" },
      { "parse_json", function() return bids():parse_json("chanel", "x long"), line() end, "chanel", "channel" },
    }
    for _, c in ipairs(cases) do
      sr, exec = h.fresh()
      bids = function() return sr.read_stream{ format = "json", path = "in", schema = BIDS } end
      local stream, at = c[2]()
      local mode = (c[1] == "group_by" or c[1] == "agg") and "update" or "append"
      local err = refusal(exec, stream:write_stream{ format = "console", outputMode = mode })
      assert.matches("analyzer_spec.lua:" .. at .. ": ", err, 1, true)
      assert.matches('column "' .. c[3] .. '" does not exist; did you mean "' .. c[4] .. '"?', err, 1, true)
      assert.matches("(columns: auction, bidder, price, channel, dateTime)", err, 1, true)
    end
  end)

  it("checks both sides of a join: keys and time_range columns", function()
    local function sides()
      local L = sr.read_stream{ format = "json", path = "l", schema = "item long, lt timestamp, a string" }
        :with_watermark("lt", "1 second")
      local R = sr.read_stream{ format = "json", path = "r", schema = "itme long, rt timestamp, b string" }
        :with_watermark("rt", "1 second")
      return L, R
    end
    local L, R = sides()
    local at = line(); local q = L:join(R, { on = "item", time_range = { left = "lt", right = "rt",
      lower = "0 seconds", upper = "5 seconds" } }):write_stream{ format = "console" }
    local err = refusal(exec, q)
    assert.matches("analyzer_spec.lua:" .. at .. ": join key (right side): column \"item\" does not exist; "
      .. "did you mean \"itme\"? (columns: itme, rt, b)", err, 1, true)
    sr, exec = h.fresh()
    L, R = sides()
    q = L:join(R, { on = {}, time_range = { left = "lt", right = "rts", lower = "0 seconds",
      upper = "5 seconds" } }):write_stream{ format = "console" }
    assert.matches('join time_range.right: column "rts" does not exist; did you mean "rt"?', refusal(exec, q), 1, true)
  end)

  it("checks a Delta sink's partitionBy and mergeKeys against the output columns", function()
    local at = line(); local q = bids():write_stream{ format = "delta", path = "t", checkpointLocation = "c",
                                                      partitionBy = "chanel" }
    local err = refusal(exec, q)
    assert.matches("analyzer_spec.lua:" .. at .. ": partitionBy: column \"chanel\" does not exist; "
      .. "did you mean \"channel\"?", err, 1, true)
    sr, exec = h.fresh()
    q = sr.read_stream{ format = "json", path = "in", schema = BIDS }
      :write_stream{ format = "delta", path = "t", checkpointLocation = "c", mergeKeys = { "auction", "bidr" } }
    assert.matches('mergeKeys: column "bidr" does not exist; did you mean "bidder"?', refusal(exec, q), 1, true)
  end)

  it("follows columns through select, aggregates and joins", function()
    -- a computed column, a rename, then the aggregate's outputs
    local q = bids():select{ "auction", "dateTime", eur = function(r) return r.price * 0.9 end, who = "bidder" }
      :with_watermark("dateTime", "1 second")
      :group_by(sr.window("dateTime", "10 seconds"), "who"):agg{ top = sr.max("eur") }
      :select{ "window", "who", "top" }
      :write_stream{ format = "console" }
    assert.is_table(exec.compile(q))
    sr, exec = h.fresh()
    local at = line(); q = bids():select{ "auction", who = "bidder" }:select{ "bidder" }
      :write_stream{ format = "console" }
    local err = refusal(exec, q)
    assert.matches("analyzer_spec.lua:" .. at .. ': select: column "bidder" does not exist (columns: auction, who)',
                   err, 1, true)
  end)

  it("knows a union's columns only when both sides have them", function()
    local a = sr.read_stream{ format = "json", path = "a", schema = "id long, v string" }
    local b = sr.read_stream{ format = "json", path = "b", schema = "id long, v string, w long" }
    local at = line(); local q = a:union(b):select{ "w" }:write_stream{ format = "console" }
    assert.matches("analyzer_spec.lua:" .. at .. ': select: column "w" does not exist', refusal(exec, q), 1, true)
    sr, exec = h.fresh()
    a = sr.read_stream{ format = "json", path = "a", schema = "id long, v string, w long" }
    b = sr.read_stream{ format = "json", path = "b", schema = "id long" }
    local desc = exec.compile(a:union(b):select{ "w" }:write_stream{ format = "console" })
    local ok, err = pcall(h.run, desc, { { { id = 1 } }, { { id = 2 } } })
    assert.is_false(ok) -- unknown after the union: checked per batch
    assert.matches('select: column "w" is in no row of this batch (2 rows', err.message, 1, true)
  end)

  it("refuses a watermark on a column whose type is not a timestamp", function()
    local at = line(); local q = bids():with_watermark("price", "1 second"):write_stream{ format = "console" }
    local err = refusal(exec, q)
    assert.matches("analyzer_spec.lua:" .. at .. ': with_watermark: event time must be a timestamp (or a '
      .. 'window), but column "price" is of type double', err, 1, true)
  end)

  it("checks per batch what a map hides, naming the column and the operator's line", function()
    local at = line(); local q = bids():map(function(r) return { auction = r.auction, eur = r.price } end)
      :select{ "auction", "eur" }
      :write_stream{ format = "console" }
    local desc = exec.compile(q)
    -- null in some rows is fine; an empty batch is fine
    assert.same({ { auction = 1, eur = 2 }, { auction = 2 } },
                h.run(desc, { { { auction = 1, price = 2 }, { auction = 2 } } }))
    assert.same({}, h.run(desc, { {} }))
    local ok, err = pcall(h.run, desc, { { { auction = 1 }, { auction = 2 } } })
    assert.is_false(ok)
    assert.is_table(err)
    assert.matches("analyzer_spec.lua:" .. (at + 1) .. ': select: column "eur" is in no row of this '
      .. "batch (2 rows", err.message, 1, true)
    assert.matches("(the first row's columns: auction)", err.message, 1, true)
  end)

  it("checks per batch a stateful operator's keys and a sink's columns after a map", function()
    local at = line(); local q = bids():map(function(r) return r end)
      :group_by("customer"):count()
      :write_stream{ format = "console", outputMode = "update" }
    local desc = exec.compile(q)
    local e = h.engine(desc, os.tmpname() .. ".d")
    local ok, err = pcall(e.run, { { auction = 1 } })
    assert.is_false(ok)
    assert.matches("analyzer_spec.lua:" .. (at + 1) .. ': aggregate: column "customer" is in no row', err.message, 1, true)
    sr, exec = h.fresh()
    at = line(); desc = exec.compile(h.stream(sr, "in"):write_stream{ format = "delta", path = "t",
                                                 checkpointLocation = "c", partitionBy = "day" })
    ok, err = pcall(h.run, desc, { { { auction = 1 } } })
    assert.is_false(ok)
    assert.matches("analyzer_spec.lua:" .. at .. ': write_stream: column "day" is in no row', err.message, 1, true)
    assert.same({ { auction = 1, day = "x" } }, h.run(desc, { { { auction = 1, day = "x" } } }))
  end)
end)

describe("column pruning", function()
  local sr, exec, an
  before_each(function()
    sr, exec = h.fresh()
    an = require "streamrun.analyzer"
  end)

  it("reads from a function's bytecode which columns it reads, or that it may read any", function()
    assert.same({ price = true }, an.fn_columns(function(r) return r.price > 5000 end))
    assert.same({ a = true, b = true }, an.fn_columns(function(r) local x = r.a; return x and r.b end))
    local k = "price"
    assert.is_nil(an.fn_columns(function(r) return r[k] end))            -- a variable key
    assert.is_nil(an.fn_columns(function(r) return r end))               -- returned
    assert.is_nil(an.fn_columns(function(r) r.x = 1; return true end))   -- assigned to
    assert.is_nil(an.fn_columns(function(r) return tostring(r) end))     -- passed on
    assert.is_nil(an.fn_columns(function(r) return next(r) ~= nil end))  -- passed on
    assert.is_nil(an.fn_columns(function(r) return function() return r.a end end)) -- captured
    assert.is_nil(an.fn_columns(function(r) r = { a = 1 }; return r.a end))          -- replaced
    assert.is_nil(an.fn_columns(print))
  end)

  it("makes a json source decode only the columns the query reads", function()
    local function schema_of(build)
      sr, exec = h.fresh()
      local src = sr.read_stream{ format = "json", path = "in",
                                  schema = "auction long, bidder long, price double, url string, extra string" }
      return tostring(exec.compile(build(src)).sources[1].schema)
    end
    assert.equals("auction long, bidder long, price double", schema_of(function(s)
      return s:filter(function(r) return r.price > 5000 end)
        :select{ "auction", "bidder", "price", eur = function(r) return r.price * 0.9 end }
        :write_stream{ format = "console" }
    end))
    assert.equals("auction long, price double", schema_of(function(s)
      return s:map(function(r) return { a = r.auction, p = r.price } end):write_stream{ format = "console" }
    end))
    -- the sink writes every column; a function that may read any column keeps them all
    local all = "auction long, bidder long, price double, url string, extra string"
    assert.equals(all, schema_of(function(s)
      return s:filter(function(r) return r.price > 5000 end):write_stream{ format = "console" }
    end))
    assert.equals(all, schema_of(function(s)
      return s:filter(function(r) return sr.to_json(r) ~= "" end):select{ "url" }:write_stream{ format = "console" }
    end))
  end)

  it("makes a nexmark source make only the columns the query reads", function()
    local function schema_of(tbl, build)
      sr, exec = h.fresh()
      local q = exec.compile(build(sr.read_stream{ format = "nexmark", table = tbl }))
      return q.sources[1].schema and tostring(q.sources[1].schema)
    end
    assert.equals("auction long, price long", schema_of("bid", function(s) -- Nexmark's q2
      return s:filter(function(r) return r.auction % 123 == 0 end)
        :map(function(r) return { auction = r.auction, price = r.price } end):write_stream{ format = "console" }
    end))
    assert.equals("auction long, dateTime timestamp, extra string", schema_of("bid", function(s)
      return s:map(function(r) return { a = r.auction, t = r.dateTime, x = r.extra } end)
        :write_stream{ format = "console" }
    end))
    assert.is_nil(schema_of("bid", function(s) return s:write_stream{ format = "console" } end))
    assert.matches("^event_type string, bid struct", schema_of(nil, function(s)
      return s:filter(function(e) return e.event_type == "bid" end)
        :map(function(e) local b = e.bid; return { p = b.price } end):write_stream{ format = "console" }
    end))
  end)
end)

describe("schema inference of the file sources", function()
  local sr, exec, core
  before_each(function()
    sr, exec = h.fresh()
    core = require "streamrun.core"
  end)

  it("types JSON as Spark's JsonInferSchema: widest type, nested, sorted, nulls as strings", function()
    local d = dir_with{
      ["a.json"] = '{"n":1,"s":"x","o":{"z":1,"y":[1,2.5]},"mix":1,"nul":null,"emp":{},"e":""}\n'
        .. 'not json\n[1, 2]\n',
      ["b.json"] = '{"n":2.5,"o":{"y":[],"w":true},"mix":"text","arr":[{"b":1},{"a":"q"}],"big":123456789012345678901}\n',
      [".hidden.json"] = '{"hidden":1}\n',
      ["_tmp.json"] = '{"tmp":1}\n',
    }
    local schema = core.infer_schema("json", { path = d })
    assert.equals("arr array<struct<a: string, b: long>>, big double, e string, mix string, n double, "
      .. "nul string, o struct<w: boolean, y: array<double>, z: long>, s string", tostring(schema))
  end)

  it("infers timestamps only with inferTimestamp, as Spark's option", function()
    local d = dir_with{ ["a.json"] = '{"t":"2026-11-23 10:00:00.001","d":"2026-11-23","u":"2026-11-23T10:00:00Z"}\n'
      .. '{"u":"later"}\n' }
    assert.equals("d string, t string, u string", tostring(core.infer_schema("json", { path = d })))
    assert.equals("d string, t timestamp, u string",
                  tostring(core.infer_schema("json", { path = d, inferTimestamp = true })))
  end)

  it("names CSV columns from the header (or _c0, _c1, ...); types them with inferSchema", function()
    local d = dir_with{ ["a.csv"] = "id,price,name,when,ok,,id\n1,2.5,x,2026-11-23 10:00:00,true,,3\n"
      .. "3000000000,3,\"y,z\",,FALSE,,4\n",
      ["b.csv"] = "id,price,name,when,ok,,id\n7,NaN,w,2026-11-24 10:00:00,false,,5\n" }
    assert.equals("id0 string, price string, name string, when string, ok string, _c5 string, id6 string",
                  tostring(core.infer_schema("csv", { path = d, header = true })))
    assert.equals("id0 long, price double, name string, when timestamp, ok boolean, _c5 string, id6 int",
                  tostring(core.infer_schema("csv", { path = d, header = true, inferSchema = true })))
    local n = dir_with{ ["a.csv"] = "\n1;x\n2;y\n" }
    assert.equals("_c0 int, _c1 string",
                  tostring(core.infer_schema("csv", { path = n, sep = ";", inferSchema = true })))
  end)

  it("refuses a source with no file to infer from, as Spark does, at the job line", function()
    local d = dir_with{}
    local at, ok, err = line(), pcall(function() local s = sr.read_stream{ format = "json", path = d }; return s end)
    assert.is_false(ok)
    assert.matches("analyzer_spec.lua:" .. at .. ": Unable to infer schema for JSON: " .. d
      .. " has no file to infer it from. It must be specified manually", err, 1, true)
    ok, err = pcall(sr.read_stream, { format = "csv", path = d, header = true })
    assert.is_false(ok)
    assert.matches("Unable to infer schema for CSV", err, 1, true)
    -- a path that is not there at all is that first, as Spark's DataSource checks it first
    ok, err = pcall(sr.read_stream, { format = "csv", path = d .. "/missing", header = true })
    assert.is_false(ok)
    assert.matches("csv source: Path does not exist: " .. d .. "/missing", err, 1, true)
  end)

  it("gives the plan the inferred columns: names are checked, the source decodes with them", function()
    local d = dir_with{ ["a.json"] = '{"auction":1,"price":2.5}\n{"auction":2,"price":3}\n' }
    local s = sr.read_stream{ format = "json", path = d }
    assert.same({ { "auction", "long" }, { "price", "double" } }, s.schema_list)
    local at = line(); local q = s:select{ "prize" }:write_stream{ format = "console" }
    local err = refusal(exec, q)
    assert.matches("analyzer_spec.lua:" .. at .. ': select: column "prize" does not exist; did you mean "price"?',
                   err, 1, true)
    sr, exec = h.fresh()
    local desc = exec.compile(sr.read_stream{ format = "json", path = d }:write_stream{ format = "console" })
    assert.equals("auction long, price double", tostring(desc.sources[1].schema))
  end)
end)
