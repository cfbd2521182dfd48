/* Partition discovery (partition_dirs.h): folder names parsed as Spark's PartitioningUtils does,
** values unescaped, types inferred and widened. */
#include <string.h>

#include "partition_dirs.h"
#include "sr_test.h"

SR_TEST(paths) {
  sr_partition p[SR_PARTITION_MAX];
  ASSERT_EQ_INT(sr_partitions_of("in", "in/a.json", p, SR_PARTITION_MAX), 0);
  ASSERT_EQ_INT(sr_partitions_of("in/", "in/day=2026-11-23/k%3Dx=a%2Fb/f.json", p, SR_PARTITION_MAX), 2);
  ASSERT_EQ_STR(p[0].name, "day");
  ASSERT_EQ_STR(p[0].value, "2026-11-23");
  ASSERT_EQ_STR(p[1].name, "k=x");
  ASSERT_EQ_STR(p[1].value, "a/b");
  ASSERT_EQ_INT(p[1].is_null, 0);
  ASSERT_EQ_INT(sr_partitions_of("in", "in/n=__HIVE_DEFAULT_PARTITION__/f.json", p, SR_PARTITION_MAX), 1);
  ASSERT_EQ_INT(p[0].is_null, 1);
  /* a folder between that is not key=value: no partitions (Spark reads no columns from it) */
  ASSERT_EQ_INT(sr_partitions_of("in", "in/a=1/plain/f.json", p, SR_PARTITION_MAX), 0);
  ASSERT_EQ_INT(sr_partitions_of("in", "other/a=1/f.json", p, SR_PARTITION_MAX), 0);
  ASSERT_EQ_INT(sr_partition_dir("a=1"), 1);
  ASSERT_EQ_INT(sr_partition_dir("=1"), 0);
  ASSERT_EQ_INT(sr_partition_dir("plain"), 0);
}

static sr_type infer(const char *v) {
  sr_partition p = {.is_null = 0};
  strcpy(p.value, v);
  return sr_partition_infer(&p);
}

SR_TEST(types) {
  ASSERT_EQ_INT(infer("42"), SR_TYPE_INT);
  ASSERT_EQ_INT(infer("-2147483649"), SR_TYPE_LONG);
  ASSERT_EQ_INT(infer("1.5"), SR_TYPE_DOUBLE);
  ASSERT_EQ_INT(infer("1e3"), SR_TYPE_DOUBLE);
  ASSERT_EQ_INT(infer("NaN"), SR_TYPE_DOUBLE);
  ASSERT_EQ_INT(infer("0x10"), SR_TYPE_STRING);  /* Java's parseDouble takes no hex */
  ASSERT_EQ_INT(infer("inf"), SR_TYPE_STRING);
  ASSERT_EQ_INT(infer("2026-11-23"), SR_TYPE_DATE);
  ASSERT_EQ_INT(infer("2026-11-23 10:00:00"), SR_TYPE_TIMESTAMP);
  ASSERT_EQ_INT(infer("foo"), SR_TYPE_STRING);
  ASSERT_EQ_INT(sr_partition_widen(-1, SR_TYPE_INT), SR_TYPE_INT);
  ASSERT_EQ_INT(sr_partition_widen(SR_TYPE_INT, SR_TYPE_LONG), SR_TYPE_LONG);
  ASSERT_EQ_INT(sr_partition_widen(SR_TYPE_LONG, SR_TYPE_DOUBLE), SR_TYPE_DOUBLE);
  ASSERT_EQ_INT(sr_partition_widen(SR_TYPE_DATE, SR_TYPE_TIMESTAMP), SR_TYPE_TIMESTAMP);
  ASSERT_EQ_INT(sr_partition_widen(SR_TYPE_INT, SR_TYPE_DATE), SR_TYPE_STRING);
}

int main(void) { return SR_RUN(paths, types); }
