/* words: a schedule in words, for people ("Every weekday at 02:30, Europe/Paris"),
 * from the text of a series' schedule and its zone.  Says the common shapes of each
 * kind: RRULE (minutely, hourly, daily, weekly on days, monthly on day N, the last
 * day or the Nth weekday, yearly on a date; up to four hours with one minute; COUNT,
 * UNTIL), cron (every minute, every N minutes, hourly at a minute, daily, on days,
 * monthly on day N or the last day, the macros) and intervals ("Every 15 seconds",
 * no zone: elapsed time).  Anything else (BYSETPOS, several minutes, a cron with both
 * day fields, ...) is given as its own text: never a wrong description.  Reads the
 * text only; pure and thread-safe. */
#pragma once

#include <stddef.h>

/* Writes the words (or spec itself) into buf, NUL-terminated, cut at len. */
void schedule_words(const char *spec, const char *tz, char *buf, size_t len);
