/* instant: the instants a user types on the command line.
 *
 *   2026-11-23T08:00:00Z (or with a fraction)   that UTC instant
 *   now                                          now
 *   today, tomorrow, yesterday                   midnight starting that day in zone
 *   +90m, -2h, +1d, +2w (s, m, h, d, w)          relative to now (elapsed time)
 *
 * zone is an IANA name (NULL = UTC); `now` is injected so tests need no clock.
 * Pure but for the tz database.  Thread-safe. */
#pragma once

#include "base/civil.h"
#include "base/err.h"

/* Parses s into *ret (written only on success).
 * Errors: -EINVAL with a message naming what was expected
 * (`"soon": expected YYYY-MM-DDTHH:MM:SSZ, now, today, tomorrow, yesterday or +N/-N
 * with s, m, h, d or w`), -ERANGE for a count that overflows, errors of tz_load. */
int cli_instant_parse(const char *s, const char *zone, sked_time now, sked_time *ret, sked_err *err);

/* The instant at which the local day "today + days" starts in zone (NULL = UTC):
 * days = 1 tomorrow, -1 yesterday; a midnight in a DST gap starts at the gap's end.
 * *ret is written only on success.  Errors: those of tz_load. */
int cli_day_start(const char *zone, sked_time now, int days, sked_time *ret, sked_err *err);

/* How far instant `at` is from `now`, for a person: "in 3 min", "2 h ago", "now"
 * (under a second).  One unit, cut toward zero: seconds under a minute, minutes under
 * an hour, hours under two days, then days ("in 59 s", "59 min ago", "47 h ago",
 * "in 12 d").  buf: at least 24 bytes.  Pure. */
void cli_instant_relative(sked_time at, sked_time now, char *buf, size_t len);
