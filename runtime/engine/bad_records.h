/*
** bad_records: the dead-letter store of a query (badRecordsPath, by default
** <checkpointLocation>/bad_records/). A batch's bad records are kept in memory while the batch
** runs and written as one file, bad_records/batch-N.jsonl, when it ends: a replayed batch
** rewrites the same file, so each bad record is recorded once.
*/
#ifndef SR_BAD_RECORDS_H
#define SR_BAD_RECORDS_H
#include <stdint.h>
#include "connector.h"

/* dir is created on the first bad record. Returns NULL when out of memory. */
sr_bad_records *sr_bad_records_new(const char *dir);
void sr_bad_records_free(sr_bad_records *br); /* accepts NULL */
/* Starts collecting for batch_id (drops anything unflushed). */
void sr_bad_records_begin(sr_bad_records *br, int64_t batch_id);
/* The number recorded since begin. */
int64_t sr_bad_records_count(const sr_bad_records *br);
/* Writes the batch's file atomically (nothing when there were none). */
sr_status sr_bad_records_flush(sr_bad_records *br, sr_error **err);

#endif
