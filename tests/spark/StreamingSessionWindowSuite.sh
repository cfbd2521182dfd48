# Spark's StreamingSessionWindowSuite, ported: sql/core/src/test/scala/org/apache/spark/sql/
# streaming/StreamingSessionWindowSuite.scala (apache/spark c7d01f0d55cb8d81e1471d03faae01594db2b429).
# Spark runs each test under four options (merging sessions in the local partition, two state
# store providers); streamrun has one way, so each test is one case.
source "$(dirname "$0")/lib.sh"

# Spark's sessionWindowQuery: lines of words with a time in seconds, watermark 30 s, a word is a
# session id; count per session window; answered as (sessionId, start, end, durationMs,
# numEvents), start and end cast to long (seconds), so durationMs is in seconds too.
session_window_query() { # OUTPUT_MODE [GAP]
  job <<LUA
local events = spark.memory_stream("in", "_1 string, _2 long")
  :select{ value = "_1", eventTime = function(r) return r._2 * 1000 end }
  :with_watermark("eventTime", "30 seconds")
  :flat_map(function(r)
    local out = {}
    for word in r.value:gmatch("[^ ]+") do out[#out + 1] = { sessionId = word, eventTime = r.eventTime } end
    return out
  end)
spark.test_stream(
  events:group_by(sr.session_window("eventTime", ${2:-'"10 seconds"'}), "sessionId"):agg{ numEvents = sr.count() },
  { outputMode = "$1", answer = function(r)
      local s, e = spark.sec(r.window.start), spark.sec(r.window["end"])
      return { r.sessionId, s, e, e - s, r.numEvents }
    end })
LUA
}

# Spark's sessionWindowQueryOnGlobalKey: a session window and no other key.
global_session_query() { # OUTPUT_MODE
  job <<LUA
spark.test_stream(spark.memory_stream("in"):map(spark.seconds("eventTime"))
    :with_watermark("eventTime", "10 seconds")
    :group_by(sr.session_window("eventTime", "5 seconds")):agg{ count = sr.count(), sum = sr.sum("value") },
  { outputMode = "$1", answer = function(r) return { spark.sec(r.window.start), spark.sec(r.window["end"]), r.count, r.sum } end })
LUA
}

spark_case "complete mode - session window"
session_window_query complete
add_tuples in "hello world spark streaming,40" "world hello structured streaming,41"
check_new_answer hello,40,51,11,2 world,40,51,11,2 streaming,40,51,11,2 spark,40,50,10,1 structured,41,51,10,1
# placing new sessions "before" previous sessions
add_tuples in "spark streaming,25"
check_new_answer spark,25,35,10,1 streaming,25,35,10,1 hello,40,51,11,2 world,40,51,11,2 \
  streaming,40,51,11,2 spark,40,50,10,1 structured,41,51,10,1
# concatenating multiple previous sessions into one
add_tuples in "spark streaming,30"
check_new_answer spark,25,50,25,3 streaming,25,51,26,4 hello,40,51,11,2 world,40,51,11,2 structured,41,51,10,1
# placing new sessions after previous sessions
add_tuples in "hello apache spark,60"
check_new_answer spark,25,50,25,3 streaming,25,51,26,4 hello,40,51,11,2 world,40,51,11,2 \
  structured,41,51,10,1 hello,60,70,10,1 apache,60,70,10,1 spark,60,70,10,1
add_tuples in "structured streaming,90"
check_new_answer spark,25,50,25,3 streaming,25,51,26,4 hello,40,51,11,2 world,40,51,11,2 \
  structured,41,51,10,1 hello,60,70,10,1 apache,60,70,10,1 spark,60,70,10,1 \
  structured,90,100,10,1 streaming,90,100,10,1

spark_case "complete mode - session window - no key"
global_session_query complete
assert_refused "global aggregation with session windows"

spark_case "append mode - session window"
# numRowsDroppedByWatermark: Spark counts late rows after partial aggregation, streamrun the
# input rows; the late line's two words are two sessions of two keys, so both count 2
session_window_query append
add_tuples in "hello world spark streaming,40" "world hello structured streaming,41"
check_new_answer # watermark: 11
# placing new sessions "before" previous sessions
add_tuples in "spark streaming,25"
check_new_answer
# late event which session's end 10 would be later than watermark 11: should be dropped
add_tuples in "spark streaming,0"
check_new_answer
assert_dropped_by_watermark 2
# concatenating multiple previous sessions into one
add_tuples in "spark streaming,30"
check_new_answer
# placing new sessions after previous sessions
add_tuples in "hello apache spark,60" # watermark: 30
check_new_answer
add_tuples in "structured streaming,90" # watermark: 60
check_new_answer spark,25,50,25,3 streaming,25,51,26,4 hello,40,51,11,2 world,40,51,11,2 structured,41,51,10,1

spark_case "SPARK-36465: dynamic gap duration"
# the gap per session id: hello 1 s; structured 0 s and world -10 s (filtered out); else 10 s
session_window_query append 'function(r)
    if r.sessionId == "hello" then return "1 second"
    elseif r.sessionId == "structured" then return "0 second"
    elseif r.sessionId == "world" then return "-10 seconds" end
    return "10 seconds"
  end'
add_tuples in "hello world spark streaming,40" "world hello structured streaming,41"
check_new_answer # watermark: 11
# placing new sessions "before" previous sessions
add_tuples in "spark streaming,25"
check_new_answer
# late event which session's end 10 would be later than watermark 11: should be dropped
add_tuples in "spark streaming,0"
check_new_answer
assert_dropped_by_watermark 2
# concatenating multiple previous sessions into one
add_tuples in "spark streaming,30"
check_new_answer
# placing new sessions after previous sessions
add_tuples in "hello apache spark,60" # watermark: 30
check_new_answer
add_tuples in "structured streaming,90" # watermark: 60
check_new_answer spark,25,50,25,3 streaming,25,51,26,4 hello,40,42,2,2

spark_case "append mode - session window - no key"
global_session_query append
assert_refused "global aggregation with session windows"

spark_case "update mode - session window"
session_window_query update
assert_refused "update output mode is not supported with session windows"

spark_case "update mode - session window - no key"
global_session_query update
assert_refused "update output mode is not supported with session windows"
finish
