/*
** Partition discovery for the file sources, as Spark's PartitioningUtils: a file under
** `key=value` folders of a source's path has those partition columns (`in/day=2026-11-23/a.json`
** has day = 2026-11-23). Names and values are unescaped (%XX, Spark's unescapePathName);
** `__HIVE_DEFAULT_PARTITION__` is null. Without a declared type a value's type is inferred as
** spark.sql.sources.partitionColumnTypeInference.enabled (on by default) does: int, long,
** double, timestamp, date, else string, widened over every value seen.
*/
#ifndef SR_PARTITION_DIRS_H
#define SR_PARTITION_DIRS_H
#include <lua.h>
#include <stddef.h>

#include "schema.h"

enum { SR_PARTITION_MAX = 16 };   /* partition levels read from one path */

typedef struct sr_partition {
  char name[256];
  char value[1024];
  int is_null;                    /* __HIVE_DEFAULT_PARTITION__ */
} sr_partition;

/* 1 when a folder name is a partition ("key=value", key not empty). */
int sr_partition_dir(const char *name);

/* The partitions of path below dir (its folders between dir and the file name, each
** "key=value"), outermost first, into out[0..max). Returns their count: 0 when path is directly
** in dir or a folder between is not a partition. Does not allocate. */
int sr_partitions_of(const char *dir, const char *path, sr_partition *out, int max);

/* The type Spark infers for a value (SR_TYPE_STRING for a null: it says nothing, see
** sr_partition_widen). */
sr_type sr_partition_infer(const sr_partition *p);
/* The type of a column whose values were of type a then b (a < 0: none yet). */
sr_type sr_partition_widen(int a, sr_type b);

/* [-0, +1, m] Pushes the value as the type t: nil for a null or text that is not of t (Spark
** casts it to null); a timestamp as the sources push one (lua_types.h), a date as days. */
void sr_partition_push(lua_State *L, sr_type t, const sr_partition *p);

/* [-0, +0, m] Sets the partition columns of schema in rows[first..last] of the table at
** rows_idx to the values of path's partitions (nothing when the path has none or the schema
** names none). For the rows decoded from one file. */
void sr_partitions_set(lua_State *L, int rows_idx, int first, int last, const sr_schema *schema,
                       const char *dir, const char *path);

#endif
