/* sr_strset: a set of strings (open addressing; the set owns copies of its strings). */
#ifndef SR_STRSET_H
#define SR_STRSET_H
#include <stddef.h>

typedef struct sr_strset sr_strset;

sr_strset *sr_strset_new(void);         /* NULL when out of memory */
void sr_strset_free(sr_strset *s);      /* accepts NULL */
/* Adds a copy of str. Returns 1 if added, 0 if present, -1 when out of memory. */
int sr_strset_add(sr_strset *s, const char *str);
int sr_strset_has(const sr_strset *s, const char *str);

#endif
