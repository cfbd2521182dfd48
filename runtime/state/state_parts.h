/*
** sr_state_parts: the state of one stateful operator, split by key into a fixed number of
** partitions, as Spark splits it into spark.sql.shuffle.partitions (StateStoreRDD: one store per
** operator and shuffle partition, in state/<operator>/<partition>/).
**
** Partition p of an operator in <checkpoint>/state/<operator>/ is an sr_state_store in
** <checkpoint>/state/<operator>/<p>/, for p in 0..n-1. A key (the packed bytes the store holds)
** lives in partition sr_state_partition_of(key, n) and nowhere else. That function is part of
** the checkpoint format: a reader that routed keys another way would not find them.
**
** All partitions move together: they open at the same version, and the engine commits every
** one of them before its own commit log (query.c). Used by one thread at a time; nothing here
** calls into Lua.
*/
#ifndef SR_STATE_PARTS_H
#define SR_STATE_PARTS_H
#include <stddef.h>
#include <stdint.h>

#include "state_store.h"

#define SR_STATE_MAX_PARTITIONS 1024
/* numStatePartitions when a query starts a checkpoint without it (docs/JOB-API.md says why) */
#define SR_STATE_DEFAULT_PARTITIONS 8

typedef struct sr_state_parts sr_state_parts;

/* The partition of a key among n (>= 1): Murmur3_x86_32 (seed 42, the seed of Spark's
** HashPartitioning) of the key's bytes, taken as unsigned, mod n. Stable across versions and
** platforms (the algorithm reads bytes little-endian whatever the machine). Never fails. */
uint32_t sr_state_partition_of(const void *key, size_t klen, int n);

/* Internal, for tests: Murmur3_x86_32 of p[0..len) with seed. */
uint32_t sr__murmur3_32(const void *p, size_t len, uint32_t seed);

/* Opens the n partitions (1..SR_STATE_MAX_PARTITIONS) in op_dir/0 .. op_dir/<n-1> (created if
** missing) at exactly committed version `version`, as sr_state_open. At a version above 0,
** a directory op_dir/<n> means the partitions were written with more than n: refused. o may
** be NULL. Allocates; the caller frees with sr_state_parts_close. Returns NULL with *err set
** (SR_ERROR, naming the partition and the missing or damaged file) on failure. */
sr_state_parts *sr_state_parts_open(const char *op_dir, int n, int64_t version,
                                    const sr_state_options *o, sr_error **err);
/* Closes every partition (discarding uncommitted changes) and frees ps. Accepts NULL. */
void sr_state_parts_close(sr_state_parts *ps);

int sr_state_parts_count(const sr_state_parts *ps);
/* Partition p (0 <= p < count), owned by ps. */
sr_state_store *sr_state_parts_at(const sr_state_parts *ps, int p);
/* The partition that holds key, owned by ps. */
sr_state_store *sr_state_parts_route(const sr_state_parts *ps, const void *key, size_t klen);

/* Commits every partition (sr_state_commit), side by side on threads that end before it
** returns; the caller sees the same result as committing them one after another. On failure returns SR_ERROR with *err
** set: partitions before the failing one are at the next version, the others are not, so the
** caller must reopen (sr_state_parts_open at the version it committed) before going on. */
sr_status sr_state_parts_commit(sr_state_parts *ps, sr_error **err);

/* The partitions' stats summed (version: their common version; commit_time_ms: the sum). */
void sr_state_parts_get_stats(const sr_state_parts *ps, sr_state_stats *out);

#endif
