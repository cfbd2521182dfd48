-- The editor definitions (types/streamrun.lua): made from the option tables and the module, so
-- they cannot drift; an exact class per format, so a misspelled option is flagged.
local h = require "helpers"
local core = require "streamrun.core"

describe("luadefs", function()
  local defs
  before_each(function()
    h.fresh()
    package.loaded["streamrun.luadefs"] = nil
    defs = require "streamrun.luadefs"
  end)

  local function class_block(text, name)  -- the lines of one class, up to the next blank line
    return text:match("\n%-%-%-@class %(exact%) " .. name:gsub("%.", "%%.") .. "\n(.-)\n\n")
  end

  it("regenerating gives the committed file, byte for byte", function()
    local f = assert(io.open("types/streamrun.lua", "rb"))
    local committed = f:read("*a")
    f:close()
    assert.are.equal(committed, defs.generate(),
      "types/streamrun.lua is stale: run build/streamrun --lua-defs types")
  end)

  it("types every format's options in an exact class, the query's own options in every sink's", function()
    local text = defs.generate()
    for _, format in ipairs(core.source_names()) do
      local specs = core.connector_options("source", format)
      local camel = format:gsub("^%l", string.upper)
      local block = class_block(text, "streamrun." .. camel .. "SourceOptions")
      assert.is_not_nil(block, format)
      assert.matches('---@field format "' .. format .. '"', block, 1, true)
      for _, o in ipairs(specs) do
        local key = o[1]:match("^[%a_][%w_]*$") and o[1] or ('["' .. o[1] .. '"]')
        if o[1]:sub(-1) ~= "*" then assert.matches("---@field " .. key .. "? ", block, 1, true) end
      end
    end
    local json = class_block(text, "streamrun.JsonSourceOptions")
    assert.matches("---@field allowSingleQuotes? boolean", json, 1, true)
    assert.matches("---@field schema? string|table", json, 1, true)
    for _, format in ipairs(core.sink_names()) do
      local camel = format:gsub("^%l", string.upper):gsub("_(%l)", string.upper)
      local block = class_block(text, "streamrun." .. camel .. "SinkOptions")
      assert.is_not_nil(block, format)
      assert.matches("---@field checkpointLocation? string", block, 1, true)
      assert.is_nil(block:find("checkpointLocaton", 1, true))
    end
    assert.matches('---@field outputMode? "append" ', class_block(text, "streamrun.JsonSinkOptions"), 1, true)
    assert.matches("---@param opts streamrun.WriteStreamOptions\n", text, 1, true)
    assert.matches("---@overload fun(opts: streamrun.JsonSourceOptions): streamrun.Stream\n", text, 1, true)
  end)

  it("fails on a function of the module it does not describe, and on one the module lost", function()
    local sr = require "streamrun"
    sr.brand_new = function() end
    local ok, err = pcall(defs.generate)
    sr.brand_new = nil
    assert.is_false(ok)
    assert.matches("brand_new has no definition", err, 1, true)
    local map = sr.Stream.map
    sr.Stream.map = nil
    ok, err = pcall(defs.generate)
    sr.Stream.map = map
    assert.is_false(ok)
    assert.matches("Stream:map is described but the module has no such function", err, 1, true)
  end)
end)
