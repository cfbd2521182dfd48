/* libFuzzer: the Thrift compact decoder (thrift_compact.h) through its two users, Parquet's
** FileMetaData (the footer) and PageHeader. */
#include <stdint.h>

#include "arena.h"
#include "parquet_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sr_arena a;
  sr_arena_init(&a);
  sr_pq_file_meta m;
  sr_error *err = NULL;
  if (sr_pq_meta_decode(data, size, &a, &m, &err) != SR_OK) sr_error_free(err);
  sr_arena_free(&a);
  sr_pq_page_header h;
  size_t used;
  if (sr_pq_page_header_decode(data, size, &h, &used) == 0 && used > size) __builtin_trap();
  return 0;
}
