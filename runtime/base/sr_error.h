/*
** sr_error: the error object every fallible runtime call fills.
**
** A call returns SR_OK, SR_RETRY (transient: the engine may try again after a backoff) or
** SR_ERROR (fatal for the query), and on failure sets *err to a new sr_error that the caller
** owns and frees with sr_error_free. Passing err == NULL is allowed: the error is dropped.
*/
#ifndef SR_ERROR_H
#define SR_ERROR_H

typedef enum { SR_OK = 0, SR_RETRY = 1, SR_ERROR = 2 } sr_status;

typedef struct sr_error {
  sr_status status; /* SR_RETRY or SR_ERROR */
  char *message;    /* malloc'd, never NULL */
} sr_error;

/* Sets *err (if err is not NULL) to a new error and returns its status. Allocates. */
sr_status sr_error_set(sr_error **err, sr_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes an existing error's message with "prefix: ". Keeps the status. */
void sr_error_prefix(sr_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Accepts NULL. */
void sr_error_free(sr_error *e);

#endif
