/*
** sr_value: a row value in C, for formats that cannot decode straight into Lua (Parquet,
** Delta) and for moving rows between C components. Values and everything they point to live
** in an sr_arena owned by whoever built them.
**
** A row is an SR_VAL_STRUCT whose fields follow an sr_schema: row.u.list.items[i] is the
** value of schema->fields[i]. Lists (SR_TYPE_ARRAY) use the same list member.
*/
#ifndef SR_VALUE_H
#define SR_VALUE_H
#include <stddef.h>
#include <stdint.h>

typedef enum sr_val_kind {
  SR_VAL_NULL, SR_VAL_BOOL, SR_VAL_INT,  /* int64: long, int, short, byte, timestamp(us), date(days) */
  SR_VAL_DOUBLE, SR_VAL_STRING, SR_VAL_BINARY, SR_VAL_STRUCT, SR_VAL_LIST
} sr_val_kind;

typedef struct sr_value sr_value;
struct sr_value {
  sr_val_kind kind;
  union {
    int b;
    int64_t i;
    double d;
    struct { const char *ptr; size_t len; } str;   /* STRING, BINARY: not NUL-terminated */
    struct { sr_value *items; int n; } list;       /* STRUCT (in schema order), LIST */
  } u;
};

#endif
