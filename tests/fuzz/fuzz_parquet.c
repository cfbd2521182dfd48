/* libFuzzer: the Parquet reader (parquet_read.h) on arbitrary file bytes: open, every row,
** every column. Failing is fine; crashing, leaking or undefined behaviour is not. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "parquet_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int fd = -1;
  static char path[64];
  if (fd < 0) {
    fd = memfd_create("fuzz.parquet", 0);
    if (fd < 0) abort();
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  }
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
  sr_error *err = NULL;
  sr_pq_reader *r = sr_pq_reader_open(path, &err);
  if (!r) {
    sr_error_free(err);
    return 0;
  }
  sr_arena a;
  sr_arena_init(&a);
  sr_value *rows = NULL;
  int64_t nrows = 0;
  if (sr_pq_reader_read_rows(r, &a, &rows, &nrows, &err) != SR_OK) sr_error_free(err), err = NULL;
  const sr_schema *s = sr_pq_reader_schema(r);
  int fields[64], nf = 0;
  for (int i = 0; s && i < s->nfields && nf < 64; i++) fields[nf++] = i;
  sr_arena_reset(&a);
  sr_value *cols = NULL;
  if (sr_pq_reader_read_columns(r, fields, nf, &a, &cols, &nrows, &err) != SR_OK) sr_error_free(err);
  sr_arena_free(&a);
  sr_pq_reader_free(r);
  return 0;
}
