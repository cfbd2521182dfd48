/*
** The text forms a Delta table's log uses for its data (delta-io/delta PROTOCOL.md, appendix):
**  - schemaString: Spark's JSON schema ({"type":"struct","fields":[{"name","type","nullable",
**    "metadata"}]}, nested "struct", "array" {elementType, containsNull}, "map" {keyType,
**    valueType, valueContainsNull}, primitive names "integer", "decimal(p,s)", ...);
**  - partition values: typed values as strings (null = JSON null; an empty string also reads
**    as null), and the Hive-style directory names Spark writes them under (col=escaped value,
**    __HIVE_DEFAULT_PARTITION__ for null);
**  - paths: an add action's path is a URI relative to the table (percent-encoded);
**  - per-file statistics: {"numRecords", "minValues", "maxValues", "nullCount"} mirroring the
**    schema, timestamps as ISO-8601 UTC with milliseconds, strings cut to 32 characters.
** Nothing here touches Lua or the file system.
*/
#ifndef SR_DELTA_SCHEMA_H
#define SR_DELTA_SCHEMA_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "parquet_write.h"
#include "schema.h"
#include "sr_error.h"
#include "value.h"

/* The Hive directory name of a null partition value (Spark's). */
#define SR_DELTA_NULL_PARTITION "__HIVE_DEFAULT_PARTITION__"

/* Parses a schemaString into a new sr_schema the caller frees. Columns of type "void" are
** dropped (as Spark's reader does); timestamp_ntz reads as timestamp. Returns NULL and sets
** *err (SR_ERROR) for text that is not such a schema or a type we cannot read (variant,
** interval...), naming the column. Allocates. */
sr_schema *sr_delta_schema_parse(const char *schema_string, sr_error **err);
/* The JSON of one field / a whole schema as schemaString holds it (new references the
** caller owns). NULL when out of memory or when a name is not UTF-8. */
json_t *sr_delta_field_json(const sr_field *f);
json_t *sr_delta_schema_json(const sr_schema *s);
/* The Delta name of a type ("integer", "decimal(10,2)", "long"); writes into out. */
const char *sr_delta_type_name(const sr_field *f, char out[32]);

/* Appends the partition-value text of v (a value of field f's type) to out. Returns 0, 1 when
** the value is null (nothing appended: the log holds JSON null), or -1 when out of memory.
** Timestamps are ISO-8601 UTC ("2026-11-23T10:00:00.001Z"), dates "2026-11-23". */
int sr_delta_partition_format(const sr_field *f, const sr_value *v, sr_buf *out);
/* Parses a partition value's text (NULL or "" is null) as field f's type into *out; strings
** are copied into a. Returns 0, or -1 with a reason in errbuf ("2021-13-01" is not a date). */
int sr_delta_partition_parse(const sr_field *f, const char *text, sr_arena *a, sr_value *out,
                             char *errbuf, size_t errlen);
/* 1 if Delta (and Spark) can partition by a column of this type: not binary, struct,
** array or map. */
int sr_delta_partition_type_ok(sr_type t);

/* Appends s[0..n) escaped as Spark escapes a Hive directory name: control characters, DEL
** and the characters " # % ' * / : = ? \ { [ ] ^ become %XX. Returns 0 or -1 (out of memory). */
int sr_delta_escape_dir(const char *s, size_t n, sr_buf *out);
/* Appends a relative path percent-encoded as the log's URI form (every byte outside
** A-Z a-z 0-9 - . _ ~ / becomes %XX), and the reverse. Decoding refuses a bad escape (-1). */
int sr_delta_uri_encode(const char *path, sr_buf *out);
int sr_delta_uri_decode(const char *uri, sr_buf *out);

/* Per-file statistics of a finished writer whose rows follow file_schema (the table's data
** columns): a new JSON object {"numRecords","minValues","maxValues","nullCount"}.
** top_nulls[i] is the number of null values of top-level column i (used for arrays and maps,
** whose leaves say nothing about the column). NULL when out of memory. */
json_t *sr_delta_stats_json(const sr_pq_writer *w, const sr_schema *file_schema,
                            int64_t num_records, const int64_t *top_nulls);

#endif
