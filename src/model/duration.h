/* duration: human durations ("30s", "15m", "1h30m", "2d", "500ms") in milliseconds.
 *
 * Pure functions, no allocation, thread-safe. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"

/* Parses one or more <digits><unit> groups, units ms, s, m, h, d (largest first, each at
 * most once, no spaces): "1h30m" = 5400000.  "0s" is valid; callers check ranges.
 * Writes *ret_ms only on success.  Returns 0, or -EINVAL with a message naming the
 * problem (no field: callers add it with err_prefix), or -ERANGE when the value does not
 * fit in int64 milliseconds. */
int duration_parse(const char *s, int64_t *ret_ms, sked_err *err);

/* Reads a duration from JSON: a string as for duration_parse, or a non-negative JSON
 * integer counting whole seconds.  `field` names the input in messages
 * ("defaults.timeout: "1x": unknown unit "x" (expected ms, s, m, h or d)").
 * Returns 0, -EINVAL or -ERANGE; *ret_ms written only on success. */
int duration_from_json(const json_t *v, const char *field, int64_t *ret_ms, sked_err *err);

/* Formats ms as the shortest canonical text ("1h30m", "500ms", "0s") into buf; 32 bytes
 * always suffice.  Negative values are formatted with a leading '-'. */
void duration_format(int64_t ms, char *buf, size_t len);
