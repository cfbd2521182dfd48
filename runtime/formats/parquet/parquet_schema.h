/*
** The Parquet layout of an sr_schema: the tree of nodes with their Dremel definition and
** repetition levels, and the leaf columns. The writer builds it from an sr_schema (and gets the
** footer's SchemaElements with it); the reader builds it from a footer (and gets an sr_schema).
**
** Levels: a node is present (not null) when a leaf's definition level is >= node->def.
** A LIST (also used for maps: a list of {key, value} structs) has at least one element when
** the level is >= elem_def, and a repetition level equal to node->rep starts its next element.
**
** Writer shapes (parquet-format LogicalTypes.md):
**   array  <opt|req> group name (LIST) { repeated group list { <opt|req> element } }
**   map    <opt|req> group name (MAP) { repeated group key_value { required key; <opt|req> value } }
** The reader also accepts the legacy 2-level lists, unannotated repeated fields (a required
** list of required elements) and MAP_KEY_VALUE.
*/
#ifndef SR_PARQUET_SCHEMA_H
#define SR_PARQUET_SCHEMA_H
#include "arena.h"
#include "parquet_meta.h"
#include "schema.h"
#include "sr_error.h"

typedef enum { SR_PQN_LEAF, SR_PQN_STRUCT, SR_PQN_LIST } sr_pq_node_kind;

/* How a leaf's physical values become sr_values (reader) and the reverse (writer). */
typedef enum {
  SR_PQC_BOOL, SR_PQC_INT32, SR_PQC_UINT32, SR_PQC_INT64, SR_PQC_FLOAT, SR_PQC_DOUBLE,
  SR_PQC_STRING, SR_PQC_BINARY, SR_PQC_TS_MILLIS, SR_PQC_TS_MICROS, SR_PQC_TS_NANOS,
  SR_PQC_INT96, SR_PQC_DECIMAL  /* INT32, INT64, BYTE_ARRAY or FIXED_LEN_BYTE_ARRAY */
} sr_pq_conv;

typedef struct sr_pq_node sr_pq_node;
struct sr_pq_node {
  sr_pq_node_kind kind;
  const char *name;     /* the sr_schema field name, for error messages */
  sr_type type;         /* the sr_schema type (a map's entry struct says SR_TYPE_STRUCT) */
  int nullable;
  int def, rep, elem_def;
  int leaf;             /* LEAF: index into layout->leaves */
  int first_leaf, nleaves;
  int nchildren;        /* STRUCT: fields; LIST: 1 (the element or the map's entry struct) */
  sr_pq_node *children;
};

typedef struct sr_pq_leaf {
  int physical;         /* SR_PQ_INT32, ... */
  int type_length;      /* FIXED_LEN_BYTE_ARRAY */
  sr_pq_conv conv;
  sr_type type;
  int precision, scale; /* decimals */
  int max_def, max_rep;
  int npath;
  char **path;          /* Parquet names, root excluded (path_in_schema) */
  int nnames;
  const char **names;   /* sr_schema names from the top-level field down (list elements are
                          ** "element", map entries "key"/"value") */
} sr_pq_leaf;

typedef struct sr_pq_layout {
  sr_schema *schema;    /* owned */
  int nfields;
  sr_pq_node *fields;   /* one per top-level field */
  int nleaves;
  sr_pq_leaf *leaves;   /* in footer (depth-first) order */
  int nelements;
  sr_pq_schema_element *elements;  /* writer only: the footer's schema, [0] is the root */
  sr_arena arena;       /* nodes, leaves, paths, elements */
} sr_pq_layout;

/* Builds the writer's layout (and SchemaElements) for a schema, which is copied. Returns NULL
** and sets *err for a schema Parquet cannot hold here (decimal precision > 38, nesting deeper
** than 255 levels, an array without element type) or when out of memory. */
sr_pq_layout *sr_pq_layout_from_schema(const sr_schema *schema, sr_error **err);
/* Builds the reader's layout and sr_schema from a decoded footer. Returns NULL and sets *err
** when the footer's schema is inconsistent or uses a physical type we cannot map. */
sr_pq_layout *sr_pq_layout_from_file(const sr_pq_file_meta *m, sr_error **err);
/* Accepts NULL. */
void sr_pq_layout_free(sr_pq_layout *l);

#endif
