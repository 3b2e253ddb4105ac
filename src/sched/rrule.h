/* rrule: RFC 5545 recurrence rules expanded in floating (zone-less) wall time.
 *
 * The rule text ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1") is checked here
 * (libical's parser is lax), then expanded with libical in floating time only:
 * libical 3.0.16 expands wrongly with a zone attached (see DESIGN.md).  DTSTART is
 * a wall time (local seconds); resolving walls to instants is schedule.c's job.
 * BY-lists are sorted and their repeats dropped at parse, for both expansions.
 * The common rules (INTERVAL=1, FREQ SECONDLY..MONTHLY, BYMONTH, BYMONTHDAY,
 * BYDAY without ordinals, BYHOUR, BYMINUTE, BYSECOND: fast_plan in rrule.c) are
 * expanded without libical, to the RFC 5545 set: the walls >= DTSTART whose every
 * field is allowed (a listed field by its list, also FREQ's own unit; a negative
 * BYMONTHDAY from the month's end; an unlisted field finer than FREQ by DTSTART).
 * There it differs from libical 3.0.16, which loses walls after a restart point,
 * skips some with a list of FREQ's own unit and never matches a negative BYMONTHDAY
 * below MONTHLY.  Unit tests check the fast path against a brute-force oracle, and
 * against libical on the rules libical gets right.  The rest (BYSETPOS, BYWEEKNO,
 * BYYEARDAY, ordinals, INTERVAL>1, YEARLY, DTSTART outside 1583..2582) is libical's.
 *
 * COUNT and a local UNTIL become one wall-time bound at parse time, so expansion
 * can restart at any period boundary near the asked time instead of at DTSTART:
 * the cost of rrule_iter_new does not grow with the age of the series.
 * A parsed rrule is immutable; functions taking `const rrule *` are thread-safe. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/civil.h"
#include "base/err.h"

#define RRULE_TEXT_MAX 1024
#define RRULE_COUNT_MAX 100000

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

/* The next wall time; 0, or -ENOENT when the rule is exhausted. */
int rrule_iter_next(rrule_iter *it, int64_t *ret);

void rrule_iter_free(rrule_iter *it);
