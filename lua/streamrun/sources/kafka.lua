-- Rows of the "kafka" source from its C records (runtime/connectors/kafka/kafka_read.c's
-- ks_rec, one per message of the batch). The engine calls row() inside the query's compiled
-- loop: a row no operator keeps is never allocated. Nil key or value: nil; no timestamp:
-- timestamp nil and timestampType -1 (Spark's); headers only with includeHeaders, as
-- {{key =, value =}, ...}.
local ffi = require "ffi"
require "streamrun.sources.view"

-- Must match runtime/connectors/kafka/kafka_read.c's ks_rec field for field
-- (tests/c/test_kafka.c checks the offsets against the source's columns).
ffi.cdef [[
typedef struct sr_kafka_record {
  sr_view_text key, value;
  sr_view_text topic;
  int64_t offset;
  int64_t timestamp;
  int32_t partition;
  int32_t timestamp_type;
  int32_t topic_id;
  int32_t nheaders;
  const sr_view_text *headers;
} sr_kafka_record;
]]

local str, tonumber = ffi.string, tonumber
local NO_TIMESTAMP = -9223372036854775807LL - 1 -- connector.h's SR_VIEW_INT64_NIL

local function text(t)
  if t.ptr ~= nil then return str(t.ptr, t.len) end
end

local function headers(m)
  local list, pairs_of = {}, m.headers
  for k = 0, m.nheaders - 1 do
    list[k + 1] = { key = text(pairs_of[2 * k]), value = text(pairs_of[2 * k + 1]) }
  end
  return list
end

-- topics[topic_id] is the topic's name as a Lua string, made once: topic ids name the same
-- topic for the source's life, which outlasts the cache (one per compiled query).
local function row(records, i, topics)
  local m = records[i]
  local id = m.topic_id
  local topic = topics[id]
  if not topic then
    topic = str(m.topic.ptr, m.topic.len)
    topics[id] = topic
  end
  local ts, hdrs
  if m.timestamp ~= NO_TIMESTAMP then ts = tonumber(m.timestamp) end
  if m.headers ~= nil then hdrs = headers(m) end
  return { key = text(m.key), value = text(m.value), topic = topic, partition = m.partition,
           offset = tonumber(m.offset), timestamp = ts, timestampType = m.timestamp_type,
           headers = hdrs }
end

return {
  ctype = "const sr_kafka_record *",
  reader = function() return row end,
}
