/* rrule: RFC 5545 recurrence rules expanded in floating (zone-less) wall time.
 *
 * The rule text ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1") is checked here,
 * then expanded by sked itself (no libical: it cannot be bounded, see below, and
 * 3.0.16 applies BYSETPOS only to MONTHLY and YEARLY days).  DTSTART is a wall time
 * (local seconds); resolving walls to instants is schedule.c's job.  BY-lists are
 * sorted and their repeats dropped at parse.  Two expansions give the RFC 5545 set:
 *  - the fast path (INTERVAL=1, FREQ SECONDLY..MONTHLY, BYMONTH, BYMONTHDAY, BYDAY
 *    without ordinals, BYHOUR, BYMINUTE, BYSECOND): the walls >= DTSTART whose every
 *    field is allowed (a listed field by its list, also FREQ's own unit; a negative
 *    BYMONTHDAY from the month's end; an unlisted field finer than FREQ by DTSTART),
 *    found from bit sets without walking periods;
 *  - the set path (every other rule): RFC 5545 §3.3.10 period by period.  Each
 *    interval (DTSTART's year, month, WKST week, day, hour, minute or second, then
 *    every INTERVAL-th) has a set: its days that pass every day part (BYMONTH,
 *    BYWEEKNO, BYYEARDAY, BYMONTHDAY, BYDAY; ordinals count in the month for MONTHLY
 *    and for YEARLY with BYMONTH, else in the year) times the times of BYHOUR x
 *    BYMINUTE x BYSECOND inside the interval, in time order; BYSETPOS picks from that
 *    whole set (walls before DTSTART included) at every FREQ; then walls before
 *    DTSTART and after COUNT/UNTIL are dropped.
 * Unit tests check the fast path against a brute-force oracle and libical (on the
 * rules libical gets right), and both paths against RFC 5545's examples;
 * tests/integration/test_preview.py checks the set path against dateutil.
 *
 * Bounded work.  A rule whose parts can never coincide (FREQ=SECONDLY;BYMONTH=1;
 * BYYEARDAY=200) has no wall, and a plain walk would look through every second up
 * to the last year.  Every search (rrule_iter_next, and so rrule_parse's check that
 * the rule has a first wall) examines at most RRULE_SEARCH_STEPS periods and days
 * and then answers -ENOENT, "no wall": callers inherit the bound.  Periods that
 * cannot hold a wall are skipped whole (a day whose date fails, an hour or minute
 * outside the lists), so a rule that has walls finds the next in far fewer steps:
 * 400 years of days (the Gregorian cycle, 146,097) fit in the budget.  No wall is
 * produced after 2582-12-31T23:59:59 (libical's last year, kept).
 *
 * COUNT and a local UNTIL become one wall-time bound at parse time, so expansion
 * can restart at the period holding the asked time instead of at DTSTART: the cost
 * of rrule_iter_new does not grow with the age of the series.
 * A parsed rrule is immutable; functions taking `const rrule *` are thread-safe. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/civil.h"
#include "base/err.h"

#define RRULE_TEXT_MAX 1024
#define RRULE_COUNT_MAX 100000
/* The periods and days one search may examine before it answers "no wall": about
 * 2-3 ms.  Enough for 400 years of days, the Gregorian calendar's cycle. */
#define RRULE_SEARCH_STEPS 262144

typedef struct rrule rrule;
typedef struct rrule_iter rrule_iter;

/* Parses `text` (without the "RRULE:" prefix) for a series starting at wall time
 * `dtstart`.  The caller owns *ret (rrule_free).  Errors: -EINVAL with a message
 * such as `rrule "FREQ=DAILY;BYHOUR=25": BYHOUR must be 0..23`; -ENOMEM. */
int rrule_parse(const char *text, int64_t dtstart, rrule **ret, sked_err *err);

void rrule_free(rrule *r);

/* When UNTIL was given in UTC ("...Z"): true and the instant.  Instants after it
 * must be dropped by the caller (the wall-time expansion ignores it). */
bool rrule_until_utc(const rrule *r, sked_time *ret);

/* The last wall time the rule may produce (from COUNT or a local UNTIL), or INT64_MAX. */
int64_t rrule_until_local(const rrule *r);

/* An iterator yielding, in ascending order, every wall time of the rule that is
 * >= `from` (local seconds).  The caller owns *ret (rrule_iter_free).
 * Returns 0 or -ENOMEM.  Thread-safe for distinct iterators. */
int rrule_iter_new(const rrule *r, int64_t from, rrule_iter **ret);

/* The next wall time; 0, or -ENOENT when the rule is exhausted or when the search
 * examined RRULE_SEARCH_STEPS periods and days without finding one (then every later
 * call answers -ENOENT at once; rrule_iter_gave_up tells the two apart). */
int rrule_iter_next(rrule_iter *it, int64_t *ret);

/* True when the iterator stopped on its search budget, not at the rule's end. */
bool rrule_iter_gave_up(const rrule_iter *it);

void rrule_iter_free(rrule_iter *it);
