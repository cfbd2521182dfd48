/*
** Schema inference for the json and csv file sources without a `schema`, as Spark infers one
** for a file stream with spark.sql.streaming.schemaInference on (DataSource.sourceSchema:
** from every file present when the query is built).
**
** JSON (Spark's JsonInferSchema): every record is read; a field's type is the widest of its
** values: integers -> long (beyond 64 bits: double, where Spark says decimal(p,0)), other
** numbers -> double, long + double -> double, true/false -> boolean, strings -> string (with
** inferTimestamp, text that is an ISO-8601 timestamp -> timestamp), objects -> struct (fields
** sorted by name, merged across records), arrays -> array of the widest element; null and ""
** say nothing; any other mix -> string. A field never seen with a value is a string, an empty
** struct is dropped (SPARK-8093). A line that is not a JSON object counts for nothing (it is a
** bad record when read); the fields of a line that breaks part way, before the break, count.
**
** CSV (Spark's CSVDataSource/CSVInferSchema): the first record of the first file names the
** columns (header) or counts them (_c0, _c1, ...); every column is a string unless inferSchema,
** then each column's values are typed: int, long, double, boolean, timestamp, or string, the
** widest over every record (empty fields say nothing).
*/
#ifndef SR_SCHEMA_INFER_H
#define SR_SCHEMA_INFER_H
#include <stddef.h>

#include "csv_rows.h"
#include "schema.h"

typedef struct sr_json_infer sr_json_infer;

/* Allocates an inference state; NULL when out of memory. infer_timestamp, single_quotes: Spark's
** JSON options inferTimestamp and allowSingleQuotes. */
sr_json_infer *sr_json_infer_new(int infer_timestamp, int single_quotes);
/* Reads the JSON lines of buf[0..len) (whole lines; a last line without '\n' counts) into the
** state. Returns 0, or -1 when out of memory. */
int sr_json_infer_add(sr_json_infer *inf, const char *buf, size_t len);
/* Adds what `from` has read to `into` (both read separately, as threads do). Returns 0, or -1
** when out of memory. */
int sr_json_infer_merge(sr_json_infer *into, const sr_json_infer *from);
/* The schema of everything added: a new schema the caller frees, or NULL when out of memory. */
sr_schema *sr_json_infer_schema(const sr_json_infer *inf);
/* Accepts NULL. */
void sr_json_infer_free(sr_json_infer *inf);

typedef struct sr_csv_infer sr_csv_infer;

/* opts as the csv source reads (sep, header); infer_types: Spark's inferSchema option. NULL
** when out of memory. */
sr_csv_infer *sr_csv_infer_new(const sr_csv_options *opts, int infer_types);
/* Reads one whole file's text. Returns 0, or -1 when out of memory. */
int sr_csv_infer_add_file(sr_csv_infer *inf, const char *buf, size_t len);
/* The schema: a new schema the caller frees (no column when no record was seen), or NULL when
** out of memory. */
sr_schema *sr_csv_infer_schema(const sr_csv_infer *inf);
/* Accepts NULL. */
void sr_csv_infer_free(sr_csv_infer *inf);

#endif
