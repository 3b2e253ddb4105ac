/* parse: checked conversions of user text to numbers, in one place (like systemd's
 * safe_atoi and OpenBSD's strtonum(3)).  Never atoi, never an unchecked strtoll.
 *
 * The whole string must be the number: optional leading '-' (or '+'), then decimal
 * digits, nothing before or after (no spaces, no "0x", no "12abc").  ret is written
 * only on success.  Errors:
 *   -EINVAL  s is NULL, empty or not a decimal integer
 *   -ERANGE  the value is outside min..max (or outside int64_t)
 * Pure; thread-safe. */
#pragma once

#include <stdint.h>

int parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret);

/* parse_int64 into an int. */
int parse_int(const char *s, int min, int max, int *ret);

/* A decimal id, 1..INT64_MAX ("0" and "-3" are -ERANGE, "x" -EINVAL). */
int parse_id(const char *s, int64_t *ret);
