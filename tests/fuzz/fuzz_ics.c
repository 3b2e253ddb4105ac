/* fuzz_ics: the iCalendar feed writer (src/sched/ics.c) round-tripped through an
 * independent parser, libical's.  Input lines: "schedule spec", "zone", "start wall
 * time", "title", "note" (any bytes: the writer escapes and scrubs them).  The feed
 * holds the series in expanded form, with the note on an exception that moves its
 * first occurrence by an hour, and, for an RRULE, the series again in RRULE form.
 * Invariants of a feed written: every line ends in CRLF and holds at most 75 octets;
 * libical reads it as one VCALENDAR without a single error (X-LIC-ERROR), holding as
 * many VEVENTs as the feed has "BEGIN:VEVENT" lines, each with a DTSTART. */
#include <libical/ical.h>

#include "base/strbuf.h"
#include "fuzz.h"
#include "sched/ics.h"
#include "sched/schedule.h"

static const sked_time from = 1767225600LL * 1000000; /* 2026-01-01T00:00:00Z */

static void check_lines(const char *s, size_t len) {
        size_t events = 0;
        for (size_t i = 0; i < len;) {
                const char *e = memchr(s + i, '\n', len - i);
                FUZZ_CHECK(e && e > s + i && e[-1] == '\r', "a line at %zu does not end in CRLF", i);
                size_t n = (size_t) (e - (s + i)) - 1;
                FUZZ_CHECK(n <= 75, "a line of %zu octets at %zu", n, i);
                events += n == 12 && !memcmp(s + i, "BEGIN:VEVENT", 12);
                i = (size_t) (e - s) + 1;
        }
        icalcomponent *c = icalparser_parse_string(s);
        FUZZ_CHECK(c && icalcomponent_isa(c) == ICAL_VCALENDAR_COMPONENT, "libical did not read a VCALENDAR");
        if (icalcomponent_count_errors(c)) {
                icalcomponent *ev = icalcomponent_get_first_component(c, ICAL_VEVENT_COMPONENT);
                icalproperty *e = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY);
                if (!e && ev)
                        e = icalcomponent_get_first_property(ev, ICAL_XLICERROR_PROPERTY);
                FUZZ_CHECK(false, "libical found %d errors, first: %s\n%s", icalcomponent_count_errors(c),
                           e ? icalproperty_get_xlicerror(e) : "?", s);
        }
        size_t got = 0;
        for (icalcomponent *ev = icalcomponent_get_first_component(c, ICAL_VEVENT_COMPONENT); ev;
             ev = icalcomponent_get_next_component(c, ICAL_VEVENT_COMPONENT)) {
                got++;
                FUZZ_CHECK(icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY), "a VEVENT without DTSTART");
        }
        FUZZ_CHECK(got == events, "libical read %zu VEVENTs of %zu", got, events);
        icalcomponent_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_text(data, size);
        if (!s)
                return 0;
        char *part[5];
        fuzz_lines(s, part, 5);
        schedule_opts o = {.tz = part[1][0] ? part[1] : NULL, .start_local = part[2][0] ? part[2] : NULL};
        o.anchor = from;
        schedule *sc = NULL;
        sked_err err = {0};
        if (schedule_parse(part[0], &o, &sc, &err) < 0)
                goto out;
        sked_time first;
        ics_exception ex = {0};
        size_t nexc = 0;
        if (schedule_next(sc, from - 1, &first) == 0 && first < from + 300LL * 86400 * 1000000) {
                ex = (ics_exception){.nominal = first, .moved_to = first + 3600LL * 1000000, .note = part[4]};
                nexc = 1;
        }
        const char *rule = part[0];
        if (!strncmp(rule, "RRULE:", 6))
                rule += 6;
        ics_series two[2] = {
                {.id = 1,
                 .title = part[3],
                 .type = "report",
                 .tz = o.tz,
                 .sc = sc,
                 .exc = &ex,
                 .nexc = nexc,
                 .duration_s = 600},
                {.id = 2,
                 .title = part[3],
                 .tz = o.tz ? o.tz : "UTC",
                 .rrule = rule,
                 .dtstart_local = o.start_local ? o.start_local : "2026-01-01T00:00:00",
                 .exc = &ex,
                 .nexc = nexc,
                 .duration_s = 3600},
        };
        size_t n = !strcmp(schedule_kind(sc), "rrule") && !strncmp(rule, "FREQ=", 5) ? 2 : 1;
        strbuf out = {0};
        if (ics_feed(&out, "fuzz", two, n, from, from + 30LL * 86400 * 1000000, from, &err) == 0)
                check_lines(strbuf_str(&out), out.len);
        strbuf_free(&out);
        schedule_free(sc);
out:
        free(s);
        return 0;
}
