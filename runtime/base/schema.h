/*
** sr_schema: the column types of a stream, shared by every format (JSON, CSV, Parquet, Delta)
** and by the Lua module (which builds one from a job's `schema = {...}` table).
**
** Types follow the job contract: string, long (exact 64-bit), int, double, boolean,
** timestamp (ms since the epoch in Lua, UTC), date (days since the epoch), binary, nested
** structs and arrays. float, short, byte and decimal exist only so readers can describe
** foreign Parquet/Delta files; they reach Lua as numbers.
*/
#ifndef SR_SCHEMA_H
#define SR_SCHEMA_H
#include <stdint.h>
#include "sr_error.h"

typedef enum sr_type {
  SR_TYPE_STRING, SR_TYPE_LONG, SR_TYPE_INT, SR_TYPE_DOUBLE, SR_TYPE_BOOLEAN,
  SR_TYPE_TIMESTAMP, SR_TYPE_DATE, SR_TYPE_BINARY, SR_TYPE_STRUCT, SR_TYPE_ARRAY,
  SR_TYPE_FLOAT, SR_TYPE_SHORT, SR_TYPE_BYTE, SR_TYPE_DECIMAL,
  SR_TYPE_MAP  /* children holds two fields, key and value; a value is a list of {key, value} structs */
} sr_type;

typedef struct sr_field sr_field;

typedef struct sr_schema {
  int nfields;
  sr_field *fields;
} sr_schema;

struct sr_field {
  char *name;
  sr_type type;
  int nullable;          /* 1 unless the schema says otherwise */
  int precision, scale;  /* SR_TYPE_DECIMAL only */
  sr_schema *children;   /* SR_TYPE_STRUCT: the struct's fields */
  sr_field *element;     /* SR_TYPE_ARRAY: the element type (its name is "element") */
};

/* The type's name as jobs and Spark's schemaString spell it ("long", "timestamp"). Static. */
const char *sr_type_name(sr_type t);
/* Parses a type name (ours, Spark's SQL names, SQL synonyms such as bigint or varchar);
** returns 0 and sets *t, or -1 for an unknown name. */
int sr_type_parse(const char *name, sr_type *t);
/* Every name sr_type_parse takes, NULL-terminated (for "did you mean" suggestions). Static. */
const char *const *sr_type_spellings(void);

/* Allocates an empty schema. Returns NULL when out of memory. */
sr_schema *sr_schema_new(void);
/* Appends a field (name is copied) and returns it, or NULL when out of memory. */
sr_field *sr_schema_add(sr_schema *s, const char *name, sr_type type);
/* Index of the named field, or -1. */
int sr_schema_find(const sr_schema *s, const char *name);
/* 1 if both have the same fields, types and nesting (NULL equals only NULL). */
int sr_schema_equal(const sr_schema *a, const sr_schema *b);
/* Deep copy; NULL when out of memory. */
sr_schema *sr_schema_copy(const sr_schema *s);
/* Accepts NULL. Frees fields, children and elements. */
void sr_schema_free(sr_schema *s);

#endif
