/* cron: Vixie-style cron expressions matched against wall times.
 *
 * "min hour dom month dow" or, with six fields, "sec min hour dom month dow".
 * Fields take `*`, numbers, names (JAN..DEC, SUN..SAT, any case), ranges `a-b`,
 * steps `*\/n`, `a-b/n`, `a/n`, and lists `a,b`.  Day-of-month also takes `L`
 * (the month's last day); day-of-week takes 0..7 with both 0 and 7 meaning Sunday.
 * Vixie rule: when day-of-month and day-of-week are both restricted (neither field
 * starts with `*`), a day matching either fires.  Macros: @yearly @annually
 * @monthly @weekly @daily @midnight @hourly.
 *
 * This module knows nothing of zones: it works on wall times (local seconds).
 * A parsed cron_expr is a plain value; all functions are pure and thread-safe. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

#define CRON_TEXT_MAX 1024

typedef struct cron_expr {
        uint64_t sec, min; /* bit n set = value n allowed */
        uint32_t hour;
        uint32_t dom;  /* bits 1..31 */
        uint16_t mon;  /* bits 1..12 */
        uint8_t dow;   /* bits 0..6, Sunday = 0 */
        bool dom_last; /* `L` in day-of-month */
        bool dom_star, dow_star;
        bool all_hours; /* every hour 0..23 allowed: keeps real-time cadence over DST */
} cron_expr;

/* Parses `text` (5 or 6 fields, or a macro).  Errors: -EINVAL with a message naming
 * the field, e.g. `cron "61 * * * *": minute: 61 is out of range 0..59`. */
int cron_parse(const char *text, cron_expr *ret, sked_err *err);

/* True when the calendar day (proleptic Gregorian) matches month, dom and dow. */
bool cron_day_matches(const cron_expr *c, int year, int month, int day);

/* True when wall time `local` (local seconds) matches every field. */
bool cron_matches(const cron_expr *c, int64_t local);

/* Days one search examines at most: the Gregorian calendar's 400-year cycle
 * (146,097 days, a whole number of weeks) and a month: the days of month, month and
 * weekday repeat with it, so a day that matches exists within it or never. */
#define CRON_SEARCH_DAYS (146097 + 31)

/* The first matching wall time >= `local`, not after `limit`.  Returns 0 or -ENOENT
 * (none by `limit`, or none within CRON_SEARCH_DAYS days: the work of a call is
 * bounded whatever `limit` is). */
int cron_next_wall(const cron_expr *c, int64_t local, int64_t limit, int64_t *ret);
