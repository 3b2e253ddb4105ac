/* interval: fixed elapsed-time schedules ("every 15m").
 *
 * A duration is a sequence of <number><unit> with units w, d, h, m, s, as in
 * "15m", "90m", "1h30m", "1d", "45s" ("1d" is 86400 s of elapsed time, not a
 * calendar day: intervals ignore DST).  Occurrences are anchor + k * step for
 * k >= 0.  Pure functions; thread-safe. */
#pragma once

#include <stdint.h>

#include "base/civil.h"
#include "base/err.h"

#define INTERVAL_TEXT_MAX 64
#define INTERVAL_MAX_SECONDS (3660LL * 86400) /* about ten years */

/* Parses a duration into seconds (1..INTERVAL_MAX_SECONDS).  Errors: -EINVAL with
 * a message such as `interval "0m": must be at least 1s`. */
int interval_parse(const char *text, int64_t *ret_seconds, sked_err *err);

/* The first occurrence anchor + k*step (k >= 0) strictly after `after`.
 * Returns 0, or -ENOENT when it would not fit in a sked_time. */
int interval_next(sked_time anchor, int64_t step_seconds, sked_time after, sked_time *ret);
