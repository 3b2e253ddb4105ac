/* ics: the plan as an iCalendar feed (RFC 5545) that calendar programs subscribe to.
 *
 * Pure: no HTTP, no store.  The caller gathers its series, their parsed schedules and
 * their exceptions, and ics_feed() writes one VCALENDAR (METHOD:PUBLISH) with a
 * VTIMEZONE per zone it uses and the events of each series.  Output is CRLF-terminated,
 * folded at 75 octets (never inside a UTF-8 sequence), TEXT values escaped; user text
 * that is not valid UTF-8 gets U+FFFD per bad byte, and control characters other than
 * line breaks (which become "\n") become spaces.
 *
 * A series comes in one of two forms:
 *  - RRULE form (`rrule` set): one master VEVENT (DTSTART in the zone, RRULE, DURATION),
 *    EXDATE for each disabled exception, and an override VEVENT (same UID,
 *    RECURRENCE-ID = nominal) for each exception that moves the occurrence, overrides
 *    its parameters or carries a note.  The calendar program expands the rule with RFC
 *    5545's rules: wall times in the zone, a skipped wall time read with the offset
 *    before the gap, a repeated one as its first instant.  That is sked's behaviour for
 *    an RRULE with the default policies (gap shift, repeat first); give the RRULE form
 *    only then, with the series' end/count folded into the rule as UNTIL (UTC) / COUNT.
 *    Every exception given is written, whether or not it falls in [from, to).
 *  - Expanded form (`rrule` NULL): one VEVENT per occurrence of `sc` that starts in
 *    [from, to) once exceptions are applied: disabled ones are left out, moved ones start
 *    at moved_to (so an occurrence moved into the window appears even when its nominal
 *    instant lies outside, and one moved out of it does not).  Exceptions whose nominal
 *    instant is not an occurrence of `sc` are ignored.  At most ICS_INSTANCES_MAX
 *    nominal occurrences per series are looked at, and ICS_FEED_INSTANCES_MAX for all
 *    the expanded series of a feed (a feed's size and work follow these, not the
 *    number of series: 10,000 minutely series would be 20 million events); when a
 *    series has more, or the feed has no room left, its events stop before the first
 *    one left out and the calendar gets X-SKED-TRUNCATED:TRUE.
 *
 * Times are written as wall times in the series' zone (TZID), except for an instant in
 * the second copy of a repeated hour (RFC 5545 would read its wall time as the first
 * copy): that one is written in UTC ("...Z").
 *
 * UIDs are stable across requests: "series-<id>@sked" for a master and its overrides,
 * "series-<id>-<nominal as YYYYMMDDTHHMMSSZ>@sked" for an expanded occurrence.
 * Events are TRANSP:TRANSPARENT (they do not make the subscriber busy).
 *
 * VTIMEZONE: built from sked's own tz data (sched/tz.h), one observance per real offset
 * change, from the last change at or before the earliest instant written for the zone
 * (or `from` if earlier) up to one year after `to` (or the latest instant written if
 * later).  When no change precedes that start within 400 days, a first observance
 * (TZOFFSETFROM = TZOFFSETTO) states the offset in force at the start, on its local
 * midnight; a zone without changes gets just that one STANDARD.  A change to a larger
 * offset is a DAYLIGHT observance, a change to a smaller one STANDARD (offsets alone
 * decide: sked's tz data keeps no is-DST flag); a first observance of the constant
 * offset is STANDARD (it is only written when the zone had no change for 400 days).
 * No TZNAME.  At most ICS_TZ_OBSERVANCES_MAX
 * observances per zone: when the span needs more (a DST zone over two centuries), the
 * oldest are left out.  The zone "UTC" gets no VTIMEZONE: its times are written as
 * "...Z".  Instants after the last observance keep its offset (a subscriber expanding an
 * RRULE beyond to + 1 year may see DST wrong there; the feed is meant to be re-fetched).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/civil.h"
#include "base/err.h"
#include "base/strbuf.h"
#include "sched/schedule.h"

#define ICS_INSTANCES_MAX 2000           /* nominal occurrences per series, expanded form */
#define ICS_FEED_INSTANCES_MAX 100000    /* and per feed, all expanded series together */
#define ICS_TZ_OBSERVANCES_MAX 400       /* STANDARD/DAYLIGHT components per VTIMEZONE */
#define ICS_DURATION_MIN 60              /* seconds */
#define ICS_DURATION_MAX (366 * 86400LL) /* seconds */

/* One changed occurrence of a series. */
typedef struct ics_exception {
        sked_time nominal;   /* the rule's instant it replaces (RECURRENCE-ID); an occurrence */
        bool disabled;       /* does not run: EXDATE (RRULE form) / left out (expanded form);
                              * wins over moved_to */
        sked_time moved_to;  /* 0 = not moved; else the occurrence starts at this instant */
        bool params_changed; /* its parameters are overridden (said in DESCRIPTION) */
        const char *note;    /* NULL or text for DESCRIPTION */
} ics_exception;

typedef struct ics_series {
        int64_t id;
        const char *title;         /* SUMMARY; NULL or blank = the type, or "series <id>" */
        const char *type;          /* process type: CATEGORIES and DESCRIPTION; may be NULL */
        const char *tz;            /* IANA zone name ("UTC" allowed); NULL = the zone of sc */
        const schedule *sc;        /* expanded form: required; RRULE form: unused, may be NULL */
        const char *rrule;         /* RRULE value ("FREQ=WEEKLY;BYDAY=MO;BYHOUR=9", a leading
                                    * "RRULE:" is dropped), printable ASCII; NULL = expanded form */
        const char *dtstart_local; /* RRULE form: DTSTART wall time in tz, "YYYY-MM-DDTHH:MM:SS" */
        bool paused;               /* events kept, SUMMARY gets " (paused)" */
        const ics_exception *exc;  /* ascending by nominal, no two alike; may be NULL if nexc 0 */
        size_t nexc;
        int64_t duration_s; /* each event's length (DURATION), ICS_DURATION_MIN..MAX */
} ics_series;

/* Appends to `out` a VCALENDAR named `calname` (X-WR-CALNAME; NULL or blank = "sked") with the
 * events of the n series s[] (see above) for the window [from, to); `now` is the DTSTAMP
 * of every event.  The caller keeps ownership of everything; nothing is retained.
 * Instants (from, to, now, nominal, moved_to, the DTSTART) must lie in years 1000..8999 and
 * from < to.  On failure `out` is left as it was.
 * Errors: -EINVAL bad input (err names the series and field), -ENOENT unknown zone,
 * -ENOMEM.  Thread-safe (only reads its arguments and the shared tz cache).
 * Cost: one schedule_next per nominal occurrence of an expanded series (an RRULE's is
 * ~20 µs: up to ~40 ms per series), and some 400 octets of output per event; the caller
 * bounds n and the window. */
int ics_feed(strbuf *out, const char *calname, const ics_series *s, size_t n, sked_time from, sked_time to,
             sked_time now, sked_err *err);
