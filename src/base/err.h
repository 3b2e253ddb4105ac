/* err: error values and user-facing messages.
 *
 * Functions return 0 (or a count) on success and a negative errno-style code on
 * failure.  Where a failure must reach a user, the function also takes a
 * `sked_err *` and writes a message that names the input at fault and what was
 * expected, e.g. `schedule: "FREQ=DAILY;BYHOUR=25": BYHOUR must be 0..23`.
 * A NULL `sked_err *` is allowed everywhere: the message is then dropped. */
#pragma once

#include <errno.h>
#include <stddef.h>

#define SKED_ERR_MSG_MAX 512

typedef struct sked_err {
        int code;                   /* negative errno, 0 when unset */
        char field[128];            /* the input at fault ("series.schedule"), may be "" */
        char msg[SKED_ERR_MSG_MAX]; /* full message, field prefix included */
} sked_err;

/* Sets code and message (printf-style); returns the code as a negative value so
 * callers can write `return err_set(e, -EINVAL, ...)`. */
int err_set(sked_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Like err_set, and records `field`; the message becomes "field: <text>". */
int err_field(sked_err *e, int code, const char *field, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Prepends "prefix" to the field name and "prefix" + ": " or "." to the message of
 * an error already set, so an inner `BYHOUR must be 0..23` becomes
 * `series.schedule: BYHOUR must be 0..23`.  Returns e->code. */
int err_prefix(sked_err *e, const char *prefix);

void err_clear(sked_err *e);
