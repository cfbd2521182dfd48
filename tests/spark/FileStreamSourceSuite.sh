# Spark's FileStreamSourceSuite, ported: sql/core/src/test/scala/org/apache/spark/sql/streaming/
# FileStreamSourceSuite.scala (apache/spark 23ba9a23ab835987ed326a9320cf8632a0783885).
# AddTextFileData(content, src) is add_file src CONTENT: one new file in in/src/.
source "$(dirname "$0")/lib.sh"

# Spark's createFileStream(format, src) filtered to the values that contain "keep".
keep_filter_job() { # FORMAT [SCHEMA]
  job <<LUA
spark.test_stream(sr.read_stream{ format = "$1", path = "in/src", schema = ${2:-nil} }
    :filter(function(r) return r.value and r.value:find("keep", 1, true) ~= nil end),
  { answer = function(r) return { r.value } end })
LUA
}

spark_case "read from text files"
keep_filter_job text
add_file src $'drop1\nkeep2\nkeep3'
check_answer keep2 keep3
add_file src $'drop4\nkeep5\nkeep6'
check_answer keep2 keep3 keep5 keep6
add_file src $'drop7\nkeep8\nkeep9'
check_answer keep2 keep3 keep5 keep6 keep8 keep9

spark_case "read from json files"
# Spark's JSON reader takes single-quoted names and strings (allowSingleQuotes is on by default).
keep_filter_job json '"value string"'
add_file src $'{\'value\': \'drop1\'}\n{\'value\': \'keep2\'}\n{\'value\': \'keep3\'}'
check_answer keep2 keep3
add_file src $'{\'value\': \'drop4\'}\n{\'value\': \'keep5\'}\n{\'value\': \'keep6\'}'
check_answer keep2 keep3 keep5 keep6
add_file src $'{\'value\': \'drop7\'}\n{\'value\': \'keep8\'}\n{\'value\': \'keep9\'}'
check_answer keep2 keep3 keep5 keep6 keep8 keep9

spark_case "read new files in partitioned table without globbing, should read partition data"
job <<'LUA'
spark.test_stream(sr.read_stream{ format = "json", path = "in/dir", schema = "value string, partition string" }
    :filter(function(r) return r.value and r.value:find("keep", 1, true) ~= nil end),
  { answer = function(r) return { r.value, r.partition }, 2 end })
LUA
# Spark discovers partition=<v> subfolders, new ones too, and adds the partition column
add_file dir/partition=foo $'{\'value\': \'drop1\'}\n{\'value\': \'keep2\'}'
check_answer keep2,foo
add_file dir/partition=foo $'{\'value\': \'keep3\'}'
check_answer keep2,foo keep3,foo
add_file dir/partition=bar $'{\'value\': \'keep4\'}'
check_answer keep2,foo keep3,foo keep4,bar
add_file dir/partition=bar $'{\'value\': \'keep5\'}'
check_answer keep2,foo keep3,foo keep4,bar keep5,bar

spark_case "fault tolerance"
keep_filter_job text
add_file src $'drop1\nkeep2\nkeep3'
check_answer keep2 keep3
add_file src $'drop4\nkeep5\nkeep6'
check_answer keep2 keep3 keep5 keep6
add_file src $'drop7\nkeep8\nkeep9'
check_answer keep2 keep3 keep5 keep6 keep8 keep9

spark_case "max files per trigger"
# files holding one number each, their modification times a second apart, read two a trigger
job <<'LUA'
spark.test_stream(sr.read_stream{ format = "text", path = "in/src", maxFilesPerTrigger = 2 },
  { answer = function(r) return { r.value } end })
LUA
mtime=1700000000
create_files() { # DATA...: one file per number, each a second newer than the last
  local d
  mkdir -p in/src
  for d in "$@"; do
    printf '%s' "$d" >"in/src/$d.txt"
    mtime=$((mtime + 1))
    touch -d "@$mtime" "in/src/$d.txt"
  done
  pending=1
}
batches_seen=0
check_num_batches_since_last_check() { # N
  local n
  n=$(batch_ids | wc -l)
  assert_eq_text "batches since the last check" "$1" "$((n - batches_seen))"
  batches_seen=$n
}
if ((active)); then
  create_files 1 2 3
  check_last_batch 3 # (1 and 2) should be in batch 1, (3) should be in batch 2 (last)
  check_answer 1 2 3
  batches_seen=$(batch_ids | wc -l)
  create_files 4 5 6 7 # 4 and 5 should be in a batch, 6 and 7 in the last batch
  check_last_batch 6 7
  check_num_batches_since_last_check 2
  check_answer 1 2 3 4 5 6 7
  create_files 8 9 10 11 12 # 8 and 9, 10 and 11 should be in a batch, 12 in the last batch
  check_last_batch 12
  check_num_batches_since_last_check 3
  check_answer 1 2 3 4 5 6 7 8 9 10 11 12
fi

spark_case "max files per trigger - incorrect values"
# Spark's message names the option, the value and "positive integer"; streamrun's option check
# says "must be an integer" for a value that is not one
for value in not-a-integer -1 0 10.1; do
  job <<LUA
spark.test_stream(sr.read_stream{ format = "text", path = "in/src", maxFilesPerTrigger = "$value" },
  { answer = function(r) return { r.value } end })
LUA
  case $value in
    -1 | 0) assert_start_fails maxFilesPerTrigger "$value" "positive integer" ;;
    *) assert_start_fails maxFilesPerTrigger "$value" "must be an integer" ;;
  esac
done
finish
