/* Unit tests of src/api/ics.c: line format (CRLF, folding, escaping), the RRULE and
 * expanded forms with exceptions, VTIMEZONE offsets, errors.
 *
 * `test-ics --samples DIR` instead writes sample feeds (DIR/<name>.ics) and the
 * instants each series must have in its window, computed here with schedule_list and
 * the exceptions (DIR/<name>.expect), for the independent parser check ics_check.py. */
#include <stdlib.h>

#include "../sched/testutil.h"

#include "sched/ics.h"
#include "sched/schedule.h"

#define NY "America/New_York"
#define NOW "2026-01-15T12:00:00Z"

static schedule *parse(const char *spec, const char *tz, const char *start) {
        schedule_opts o = {.tz = tz, .start_local = start, .anchor = T("2020-01-01T00:00:00Z")};
        schedule *s = NULL;
        sked_err e = {0};
        if (schedule_parse(spec, &o, &s, &e) < 0)
                fail_msg("%s: %s", spec, e.msg);
        return s;
}

/* The feed of s[0..n) for [from, to); fails the test on error.  free() it. */
static char *feed(const ics_series *s, size_t n, const char *from, const char *to) {
        strbuf b = STRBUF_INIT;
        sked_err e = {0};
        int r = ics_feed(&b, "Plan, \"prod\"", s, n, T(from), T(to), T(NOW), &e);
        if (r < 0)
                fail_msg("ics_feed: %d %s", r, e.msg);
        return strbuf_steal(&b);
}

/* The feed with folded lines joined again; lines still end in CRLF. */
static char *unfold(const char *raw) {
        char *u = malloc(strlen(raw) + 1), *w = u;
        assert_non_null(u);
        for (const char *p = raw; *p;) {
                if (p[0] == '\r' && p[1] == '\n' && p[2] == ' ') {
                        p += 3;
                        continue;
                }
                *w++ = *p++;
        }
        *w = '\0';
        return u;
}

/* How many lines of unfolded feed u are exactly `line` (or start with it, if prefix). */
static int count(const char *u, const char *line, bool prefix) {
        int n = 0;
        size_t len = strlen(line);
        for (const char *p = u; *p;) {
                /* a scan of its own, not strstr: ASan's strstr measures the whole rest of
                 * the feed on each call, quadratic over a feed of 10,000 lines (a timeout) */
                const char *eol = p;
                while (*eol && !(eol[0] == '\r' && eol[1] == '\n'))
                        eol++;
                assert_true(*eol);
                if ((size_t) (eol - p) >= len && !memcmp(p, line, len) && (prefix || (size_t) (eol - p) == len))
                        n++;
                p = eol + 2;
        }
        return n;
}

static bool has(const char *u, const char *line) {
        return count(u, line, false) > 0;
}

#define assert_line(u, line)                                                                                           \
        do {                                                                                                           \
                if (!has((u), (line)))                                                                                 \
                        fail_msg("no line %s in\n%s", (line), (u));                                                    \
        } while (0)
#define assert_no_line(u, line)                                                                                        \
        do {                                                                                                           \
                if (has((u), (line)))                                                                                  \
                        fail_msg("unexpected line %s", (line));                                                        \
        } while (0)
#define assert_text(u, s)                                                                                              \
        do {                                                                                                           \
                if (!strstr((u), (s)))                                                                                 \
                        fail_msg("no %s in\n%s", (s), (u));                                                            \
        } while (0)

/* Every line ends in CRLF, is at most 75 octets, and no fold splits a UTF-8 sequence. */
static void check_lines(const char *raw) {
        assert_true(strlen(raw) > 2 && !strcmp(raw + strlen(raw) - 2, "\r\n"));
        for (const char *p = raw; *p;) {
                const char *eol = strstr(p, "\r\n");
                assert_non_null(eol);
                assert_true(eol - p <= 75);
                assert_null(memchr(p, '\n', (size_t) (eol - p)));
                assert_null(memchr(p, '\r', (size_t) (eol - p)));
                if (p != raw && p[0] == ' ')
                        assert_true(((unsigned char) p[1] & 0xc0) != 0x80);
                p = eol + 2;
        }
}

static ics_series rrule_series(int64_t id, const char *tz, const char *rule, const char *start) {
        return (ics_series){.id = id,
                            .title = "Backup",
                            .type = "backup",
                            .tz = tz,
                            .rrule = rule,
                            .dtstart_local = start,
                            .duration_s = 3600};
}

static void calendar_header(void **state) {
        (void) state;
        ics_series s = rrule_series(7, "UTC", "RRULE:FREQ=DAILY;BYHOUR=9", "2026-01-01T09:00:00");
        char *raw = feed(&s, 1, "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z");
        check_lines(raw);
        assert_true(!strncmp(raw, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//sked//sked//EN\r\n", 52));
        char *u = unfold(raw);
        assert_line(u, "CALSCALE:GREGORIAN");
        assert_line(u, "METHOD:PUBLISH");
        assert_line(u, "X-WR-CALNAME:Plan\\, \"prod\"");
        assert_line(u, "UID:series-7@sked");
        assert_line(u, "DTSTAMP:20260115T120000Z");
        /* UTC: "Z" times, no VTIMEZONE, the "RRULE:" prefix not doubled. */
        assert_line(u, "DTSTART:20260101T090000Z");
        assert_line(u, "RRULE:FREQ=DAILY;BYHOUR=9");
        assert_line(u, "DURATION:PT1H");
        assert_line(u, "SUMMARY:Backup");
        assert_line(u, "CATEGORIES:backup");
        assert_int_equal(count(u, "BEGIN:VTIMEZONE", false), 0);
        assert_int_equal(count(u, "X-SKED-TRUNCATED", true), 0);
        assert_true(!strcmp(raw + strlen(raw) - 15, "END:VCALENDAR\r\n"));
        free(u);
        free(raw);
}

static void folding_and_escaping(void **state) {
        (void) state;
        /* "SUMMARY:" + 2-octet letters: octet 75 would be the first half of one. */
        char title[200] = "";
        for (int i = 0; i < 40; i++)
                strcat(title, "\xc3\xa9");
        ics_exception ex = {.nominal = T("2026-01-02T09:00:00Z"),
                            .params_changed = true,
                            .note = "a\\b;c,d\r\ne\nf\rg\x01h\xffi \xf0\x9f\x98\x80 end"};
        ics_series s = rrule_series(8, "UTC", "FREQ=DAILY", "2026-01-01T09:00:00");
        s.title = title;
        s.exc = &ex;
        s.nexc = 1;
        s.duration_s = 5430;
        char *raw = feed(&s, 1, "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z");
        check_lines(raw);
        const char *sum = strstr(raw, "SUMMARY:");
        assert_non_null(sum);
        assert_int_equal(strstr(sum, "\r\n") - sum, 74); /* cut before the letter, not inside */
        assert_true(!strncmp(sum + 74, "\r\n \xc3\xa9", 5));
        char *u = unfold(raw);
        char want[512];
        snprintf(want, sizeof want, "SUMMARY:%s", title);
        assert_line(u, want);
        assert_text(u, "Note: a\\\\b\\;c\\,d\\ne\\nf\\ng h\xef\xbf\xbdi \xf0\x9f\x98\x80 end\r\n");
        assert_text(u, "\\nParameters overridden for this occurrence.");
        assert_line(u, "DURATION:PT1H30M30S");
        free(u);
        free(raw);

        /* A long line of 4-octet characters: every cut falls between them. */
        char big[4 * 100 + 1] = "";
        for (int i = 0; i < 100; i++)
                strcat(big, "\xf0\x9f\x98\x80");
        s.title = big;
        raw = feed(&s, 1, "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z");
        check_lines(raw);
        u = unfold(raw);
        snprintf(want, sizeof want, "SUMMARY:%s", big);
        assert_line(u, want);
        free(u);
        free(raw);
}

static void rrule_form(void **state) {
        (void) state;
        ics_exception ex[] = {
                /* Mon 2026-03-09 09:30 EDT: does not run (also moved: disabled wins) */
                {.nominal = T("2026-03-09T13:30:00Z"), .disabled = true, .moved_to = T("2026-03-10T13:30:00Z")},
                /* Thu 2026-06-04 09:30 EDT: other parameters */
                {.nominal = T("2026-06-04T13:30:00Z"), .params_changed = true},
                /* Mon 2026-11-02 09:30 EST -> Tue 10:00 EST */
                {.nominal = T("2026-11-02T14:30:00Z"), .moved_to = T("2026-11-03T15:00:00Z"), .note = "late"},
                /* changes nothing: no event */
                {.nominal = T("2026-11-05T14:30:00Z")},
        };
        ics_series s = rrule_series(7, NY, "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=9;BYMINUTE=30", "2024-01-01T09:30:00");
        s.exc = ex;
        s.nexc = 4;
        s.paused = true;
        s.duration_s = 5400;
        char *raw = feed(&s, 1, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");
        check_lines(raw);
        char *u = unfold(raw);
        assert_int_equal(count(u, "BEGIN:VEVENT", false), 3);
        assert_int_equal(count(u, "UID:series-7@sked", false), 3);
        assert_line(u, "DTSTART;TZID=America/New_York:20240101T093000");
        assert_line(u, "RRULE:FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=9;BYMINUTE=30");
        assert_line(u, "DURATION:PT1H30M");
        assert_line(u, "SUMMARY:Backup (paused)");
        assert_int_equal(count(u, "EXDATE", true), 1);
        assert_line(u, "EXDATE;TZID=America/New_York:20260309T093000");
        assert_int_equal(count(u, "RECURRENCE-ID", true), 2);
        assert_line(u, "RECURRENCE-ID;TZID=America/New_York:20260604T093000");
        assert_line(u, "DTSTART;TZID=America/New_York:20260604T093000");
        assert_line(u, "RECURRENCE-ID;TZID=America/New_York:20261102T093000");
        assert_line(u, "DTSTART;TZID=America/New_York:20261103T100000");
        assert_int_equal(count(u, "SEQUENCE:0", false), 3);
        assert_text(u, "Moved from 2026-11-02 09:30:00 (-05:00\\, America/New_York).\\nNote: late\r\n");
        assert_text(u, "\\nPaused: does not run until resumed.");
        assert_int_equal(count(u, "BEGIN:VTIMEZONE", false), 1);
        /* The VTIMEZONE reaches back to the DTSTART of 2024. */
        assert_text(u, "BEGIN:DAYLIGHT\r\nDTSTART:20240310T020000\r\nTZOFFSETFROM:-0500\r\n"
                       "TZOFFSETTO:-0400\r\nEND:DAYLIGHT\r\n");
        free(u);
        free(raw);
}

static void expanded_form(void **state) {
        (void) state;
        schedule *sc = parse("cron:0 9 * * *", "Europe/Berlin", NULL);
        ics_exception ex[] = {
                /* moved in from before the window */
                {.nominal = T("2026-03-27T08:00:00Z"), .moved_to = T("2026-04-01T12:00:00Z")},
                /* disabled */
                {.nominal = T("2026-04-02T07:00:00Z"), .disabled = true},
                /* not an occurrence: ignored */
                {.nominal = T("2026-04-02T07:30:00Z"), .moved_to = T("2026-04-03T12:00:00Z")},
                /* moved within */
                {.nominal = T("2026-04-03T07:00:00Z"), .moved_to = T("2026-04-03T07:45:00Z")},
                /* moved out of the window */
                {.nominal = T("2026-04-04T07:00:00Z"), .moved_to = T("2026-04-06T07:00:00Z")},
        };
        ics_series s = {.id = 3, .type = "report", .sc = sc, .exc = ex, .nexc = 5, .duration_s = 60};
        char *raw = feed(&s, 1, "2026-03-28T00:00:00Z", "2026-04-05T00:00:00Z");
        check_lines(raw);
        char *u = unfold(raw);
        /* 28..4: 8 occurrences, one disabled, one moved out, one moved in. */
        assert_int_equal(count(u, "BEGIN:VEVENT", false), 7);
        assert_line(u, "SUMMARY:report");
        assert_line(u, "UID:series-3-20260328T080000Z@sked");
        assert_line(u, "DTSTART;TZID=Europe/Berlin:20260328T090000");
        assert_line(u, "UID:series-3-20260329T070000Z@sked"); /* CEST from the 29th */
        assert_line(u, "DTSTART;TZID=Europe/Berlin:20260329T090000");
        assert_line(u, "UID:series-3-20260327T080000Z@sked");
        assert_line(u, "DTSTART;TZID=Europe/Berlin:20260401T140000");
        assert_no_line(u, "UID:series-3-20260402T070000Z@sked");
        assert_no_line(u, "UID:series-3-20260402T073000Z@sked");
        assert_line(u, "UID:series-3-20260403T070000Z@sked");
        assert_line(u, "DTSTART;TZID=Europe/Berlin:20260403T094500");
        assert_no_line(u, "UID:series-3-20260404T070000Z@sked");
        assert_int_equal(count(u, "RRULE", true), 0);
        assert_int_equal(count(u, "RECURRENCE-ID", true), 0);
        free(u);
        free(raw);
        schedule_free(sc);

        /* Every-hour cron in New York's repeated hour: the second copy is written in UTC. */
        sc = parse("cron:*/30 * * * *", NY, NULL);
        s = (ics_series){.id = 4, .title = "poll", .sc = sc, .duration_s = 60};
        raw = feed(&s, 1, "2026-11-01T05:00:00Z", "2026-11-01T07:01:00Z");
        u = unfold(raw);
        assert_int_equal(count(u, "BEGIN:VEVENT", false), 5);
        assert_line(u, "DTSTART;TZID=America/New_York:20261101T010000");
        assert_line(u, "DTSTART;TZID=America/New_York:20261101T013000");
        assert_line(u, "DTSTART:20261101T060000Z");
        assert_line(u, "DTSTART:20261101T063000Z");
        assert_line(u, "DTSTART;TZID=America/New_York:20261101T020000");
        free(u);
        free(raw);
        schedule_free(sc);

        /* More than ICS_INSTANCES_MAX: cut, and said so. */
        sc = parse("every 1m", "UTC", "2026-01-01T00:00:00");
        ics_exception past_cut[] = {{.nominal = T("2026-01-01T00:00:00Z"), .moved_to = T("2026-01-02T12:00:00Z")}};
        s = (ics_series){.id = 5, .sc = sc, .duration_s = 60, .exc = past_cut, .nexc = 1};
        raw = feed(&s, 1, "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z");
        u = unfold(raw);
        /* the first moved beyond the cut: not shown (events stop at the cut) */
        assert_int_equal(count(u, "BEGIN:VEVENT", false), ICS_INSTANCES_MAX - 1);
        assert_no_line(u, "DTSTART:20260102T120000Z");
        assert_line(u, "X-SKED-TRUNCATED:TRUE");
        assert_line(u, "SUMMARY:series 5");
        free(u);
        free(raw);
        /* a title of blanks and control characters is no title (found by tests/fuzz) */
        s.title = " \x1a\t";
        raw = feed(&s, 1, "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z");
        u = unfold(raw);
        assert_line(u, "SUMMARY:series 5");
        s.title = NULL;
        assert_line(u, "DTSTART:20260102T091900Z"); /* the 2000th */
        assert_no_line(u, "DTSTART:20260102T092000Z");
        free(u);
        free(raw);
        s.nexc = 0;
        raw = feed(&s, 1, "2026-01-01T00:00:00Z", "2026-01-02T09:20:00Z"); /* exactly 2000 */
        u = unfold(raw);
        assert_int_equal(count(u, "BEGIN:VEVENT", false), ICS_INSTANCES_MAX);
        assert_int_equal(count(u, "X-SKED-TRUNCATED", true), 0);
        free(u);
        free(raw);

        /* A feed lists ICS_FEED_INSTANCES_MAX in all, whatever the number of series:
         * 60 such series would be 120,000 events */
        ics_series many[60];
        for (int i = 0; i < 60; i++)
                many[i] = (ics_series){.id = 10 + i, .sc = sc, .duration_s = 60};
        raw = feed(many, 60, "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z");
        u = unfold(raw);
        assert_int_equal(count(u, "BEGIN:VEVENT", false), ICS_FEED_INSTANCES_MAX);
        assert_line(u, "X-SKED-TRUNCATED:TRUE");
        /* 50 series of 2,000 fill it (ids 10..59): no room left for the others */
        assert_int_equal(count(u, "UID:series-59-", true), ICS_INSTANCES_MAX);
        assert_int_equal(count(u, "UID:series-60-", true), 0);
        free(u);
        free(raw);
        schedule_free(sc);
}

/* The observances of unfolded feed u as "KIND DTSTART FROM TO" lines, into buf. */
static int observances(const char *u, char *buf, size_t len) {
        int n = 0;
        buf[0] = '\0';
        for (const char *p = u; (p = strstr(p, "\r\nBEGIN:")) != NULL; p += 2) {
                const char *k = p + 8;
                if (strncmp(k, "STANDARD\r\n", 10) && strncmp(k, "DAYLIGHT\r\n", 10))
                        continue;
                char kind[16], dt[32], from[16], to[16];
                if (sscanf(k,
                           "%15[A-Z]\r\nDTSTART:%31[0-9T]\r\nTZOFFSETFROM:%15[-+0-9]\r\nTZOFFSETTO:"
                           "%15[-+0-9]",
                           kind, dt, from, to) != 4)
                        fail_msg("bad observance at %.80s", k);
                size_t l = strlen(buf);
                snprintf(buf + l, len - l, "%s %s %s %s\n", kind, dt, from, to);
                n++;
        }
        return n;
}

static void vtimezones(void **state) {
        (void) state;
        schedule *ny = parse("cron:0 12 * * *", NY, NULL);
        schedule *syd = parse("cron:0 12 * * *", "Australia/Sydney", NULL);
        static char obs[32768]; /* 400 observances of 37 characters */

        ics_series s = {.id = 1, .sc = ny, .duration_s = 60};
        char *raw = feed(&s, 1, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");
        char *u = unfold(raw);
        assert_int_equal(count(u, "BEGIN:VTIMEZONE", false), 1);
        assert_line(u, "TZID:America/New_York");
        /* The last change before the window, then up to one year after it. */
        assert_int_equal(observances(u, obs, sizeof obs), 5);
        assert_string_equal(obs, "STANDARD 20251102T020000 -0400 -0500\n"
                                 "DAYLIGHT 20260308T020000 -0500 -0400\n"
                                 "STANDARD 20261101T020000 -0400 -0500\n"
                                 "DAYLIGHT 20270314T020000 -0500 -0400\n"
                                 "STANDARD 20271107T020000 -0400 -0500\n");
        free(u);
        free(raw);

        s.sc = syd;
        raw = feed(&s, 1, "2026-03-01T00:00:00Z", "2026-11-01T00:00:00Z");
        u = unfold(raw);
        assert_int_equal(observances(u, obs, sizeof obs), 5);
        assert_string_equal(obs, "DAYLIGHT 20251005T020000 +1000 +1100\n"
                                 "STANDARD 20260405T030000 +1100 +1000\n"
                                 "DAYLIGHT 20261004T020000 +1000 +1100\n"
                                 "STANDARD 20270404T030000 +1100 +1000\n"
                                 "DAYLIGHT 20271003T020000 +1000 +1100\n");
        free(u);
        free(raw);

        /* Two series in one zone, one in another, one in UTC: two VTIMEZONEs. */
        schedule *utc = parse("cron:0 12 * * *", "UTC", NULL);
        ics_series two[] = {{.id = 1, .sc = ny, .duration_s = 60},
                            {.id = 2, .sc = syd, .duration_s = 60},
                            {.id = 3, .sc = ny, .duration_s = 60},
                            {.id = 4, .sc = utc, .duration_s = 60}};
        raw = feed(two, 4, "2026-03-01T00:00:00Z", "2026-03-03T00:00:00Z");
        u = unfold(raw);
        assert_int_equal(count(u, "BEGIN:VTIMEZONE", false), 2);
        assert_int_equal(count(u, "BEGIN:VEVENT", false), 8);
        free(u);
        free(raw);

        /* No change at all: one STANDARD on the local midnight of the window's start. */
        schedule *kol = parse("cron:0 12 * * *", "Asia/Kolkata", NULL);
        s.sc = kol;
        raw = feed(&s, 1, "2026-03-01T00:00:00Z", "2026-03-03T00:00:00Z");
        u = unfold(raw);
        assert_int_equal(observances(u, obs, sizeof obs), 1);
        assert_string_equal(obs, "STANDARD 20260301T000000 +0530 +0530\n");
        free(u);
        free(raw);

        /* Lord Howe's half-hour DST, and offsets with seconds (New York's LMT, 1883). */
        schedule *lh = parse("cron:0 12 * * *", "Australia/Lord_Howe", NULL);
        s.sc = lh;
        raw = feed(&s, 1, "2026-03-01T00:00:00Z", "2026-03-03T00:00:00Z");
        u = unfold(raw);
        assert_text(u, "BEGIN:STANDARD\r\nDTSTART:20260405T020000\r\nTZOFFSETFROM:+"
                       "1100\r\nTZOFFSETTO:+1030\r\n");
        assert_text(u, "BEGIN:DAYLIGHT\r\nDTSTART:20261004T020000\r\nTZOFFSETFROM:+"
                       "1030\r\nTZOFFSETTO:+1100\r\n");
        free(u);
        free(raw);
        ics_series old = rrule_series(9, NY, "FREQ=YEARLY", "1883-01-01T12:00:00");
        raw = feed(&old, 1, "1883-01-01T00:00:00Z", "1883-02-01T00:00:00Z");
        u = unfold(raw);
        assert_int_equal(observances(u, obs, sizeof obs), 2);
        assert_string_equal(obs, "STANDARD 18821231T000000 -045602 -045602\n"
                                 "STANDARD 18831118T120358 -045602 -0500\n");
        free(u);
        free(raw);

        /* Bounded: a master of 1900 in a window of 2300 keeps the latest observances. */
        old.dtstart_local = "1900-01-01T12:00:00";
        raw = feed(&old, 1, "2300-01-01T00:00:00Z", "2300-02-01T00:00:00Z");
        u = unfold(raw);
        int n = observances(u, obs, sizeof obs);
        assert_true(n >= ICS_TZ_OBSERVANCES_MAX - 1 && n <= ICS_TZ_OBSERVANCES_MAX);
        /* ... up to the last change before to + 1 year (2301-02-01) ... */
        size_t l = strlen(obs);
        assert_true(l > 40);
        assert_string_equal(obs + l - 37, "STANDARD 23001104T020000 -0400 -0500\n");
        /* ... leaving out the oldest, and the DTSTART before them. */
        assert_true(!strncmp(obs, "STANDARD 2101", 13) || !strncmp(obs, "DAYLIGHT 2101", 13));
        assert_text(u, "DTSTART;TZID=America/New_York:19000101T120000\r\n");
        free(u);
        free(raw);

        schedule_free(ny);
        schedule_free(syd);
        schedule_free(utc);
        schedule_free(kol);
        schedule_free(lh);
}

/* ics_feed fails with `code`, a message containing `msg`, and leaves out alone. */
static void expect_error(const ics_series *s, size_t n, const char *from, const char *to, int code, const char *msg) {
        strbuf b = STRBUF_INIT;
        strbuf_puts(&b, "before");
        sked_err e = {0};
        assert_int_equal(ics_feed(&b, NULL, s, n, T(from), T(to), T(NOW), &e), code);
        if (!strstr(e.msg, msg))
                fail_msg("message \"%s\" lacks \"%s\"", e.msg, msg);
        assert_string_equal(strbuf_str(&b), "before");
        strbuf_free(&b);
}

static void errors(void **state) {
        (void) state;
        const char *a = "2026-01-01T00:00:00Z", *b = "2026-02-01T00:00:00Z";
        ics_series ok = rrule_series(1, NY, "FREQ=DAILY", "2026-01-01T09:00:00");
        ics_series s[2] = {ok, ok};
        s[1].id = 2;
        s[1].tz = "Foo/Bar";
        expect_error(s, 2, a, b, -ENOENT, "series[2].tz: time zone \"Foo/Bar\": not found");
        s[1] = ok;
        s[1].rrule = "FREQ=DAILY\r\nX-EVIL:1";
        expect_error(s, 2, a, b, -EINVAL, "series[1].rrule: ");
        s[1].rrule = "BYHOUR=9";
        expect_error(s, 2, a, b, -EINVAL, "has no FREQ");
        s[1] = ok;
        s[1].dtstart_local = "2026-02-30T09:00:00";
        expect_error(s, 2, a, b, -EINVAL, "series[1].dtstart_local: \"2026-02-30T09:00:00\"");
        s[1].dtstart_local = NULL;
        expect_error(s, 2, a, b, -EINVAL, "dtstart_local");
        s[1] = ok;
        s[1].duration_s = 59;
        expect_error(s, 2, a, b, -EINVAL, "series[1].duration_s: 59: must be 60..");
        s[1] = ok;
        ics_exception ex[2] = {{.nominal = T("2026-01-02T14:00:00Z")}, {.nominal = T("2026-01-02T14:00:00Z")}};
        s[1].exc = ex;
        s[1].nexc = 2;
        expect_error(s, 2, a, b, -EINVAL, "series[1].exc: [1]: not in ascending order");
        s[1] = ok;
        s[1].rrule = NULL;
        expect_error(s, 2, a, b, -EINVAL, "series[1].sc: missing");
        expect_error(&ok, 1, b, a, -EINVAL, "window");
        expect_error(&ok, 1, a, "9500-01-01T00:00:00Z", -EINVAL, "window");
        /* No series: an empty calendar. */
        char *raw = feed(NULL, 0, a, b);
        char *u = unfold(raw);
        assert_int_equal(count(u, "BEGIN:VEVENT", false), 0);
        assert_line(u, "END:VCALENDAR");
        free(u);
        free(raw);
}

/* ---- samples for ics_check.py ---- */

typedef struct sample_series {
        ics_series s;
        const char *spec;  /* the schedule behind it, as sked parses it */
        const char *start; /* its start_local (NULL: anchor) */
} sample_series;

/* Writes the instants each series must have in [from, to): its occurrences (listed here
 * over a wider span) with the exceptions applied. */
static void write_expect(FILE *f, const sample_series *ss, size_t n, sked_time from, sked_time to) {
        char a[32], b[32];
        fprintf(f, "window %s %s\n", fmt_t(from, a), fmt_t(to, b));
        enum { MAX = 20000 };
        sked_time *v = malloc(MAX * sizeof *v), *w = malloc(MAX * sizeof *w);
        assert_true(v && w);
        for (size_t i = 0; i < n; i++) {
                const ics_series *s = &ss[i].s;
                int m = schedule_list(s->sc, from - 60 * 86400 * SKED_USEC, to + 60 * 86400 * SKED_USEC, v, MAX);
                assert_true(m < MAX);
                int k = 0;
                for (int j = 0; j < m; j++) {
                        sked_time t = v[j];
                        for (size_t x = 0; x < s->nexc; x++)
                                if (s->exc[x].nominal == v[j])
                                        t = s->exc[x].disabled ? 0 : s->exc[x].moved_to ? s->exc[x].moved_to : t;
                        if (t >= from && t < to)
                                w[k++] = t;
                }
                for (int j = 1; j < k; j++) /* insertion sort: few and nearly sorted */
                        for (int y = j; y > 0 && w[y - 1] > w[y]; y--) {
                                sked_time tmp = w[y];
                                w[y] = w[y - 1];
                                w[y - 1] = tmp;
                        }
                for (int j = 0; j < k; j++)
                        fprintf(f, "%lld %s\n", (long long) s->id, fmt_t(w[j], a));
                /* Text the parser must read back: the title, and each note (as hex). */
                fprintf(f, "summary %lld ", (long long) s->id);
                for (const char *c = s->title; *c; c++)
                        fprintf(f, "%02x", (unsigned char) *c);
                fputc('\n', f);
                for (size_t x = 0; x < s->nexc; x++) {
                        if (!s->exc[x].note || s->exc[x].disabled)
                                continue;
                        fprintf(f, "note %lld ", (long long) s->id);
                        for (const char *c = s->exc[x].note; *c; c++)
                                fprintf(f, "%02x", (unsigned char) *c);
                        fputc('\n', f);
                }
        }
        free(v);
        free(w);
}

static void write_sample(const char *dir, const char *name, sample_series *ss, size_t n, const char *from,
                         const char *to) {
        for (size_t i = 0; i < n; i++)
                ss[i].s.sc = parse(ss[i].spec, ss[i].s.tz, ss[i].start);
        ics_series s[8];
        assert_true(n <= 8);
        for (size_t i = 0; i < n; i++)
                s[i] = ss[i].s;
        char *raw = feed(s, n, from, to);
        char path[512];
        snprintf(path, sizeof path, "%s/%s.ics", dir, name);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fputs(raw, f);
        fclose(f);
        snprintf(path, sizeof path, "%s/%s.expect", dir, name);
        f = fopen(path, "w");
        assert_non_null(f);
        write_expect(f, ss, n, T(from), T(to));
        fclose(f);
        free(raw);
        for (size_t i = 0; i < n; i++)
                schedule_free((schedule *) ss[i].s.sc);
}

#define RR(id_, tz_, rule_, start_)                                                                                    \
        {                                                                                                              \
                .s = {.id = id_,                                                                                       \
                      .title = "rule " #id_,                                                                           \
                      .tz = tz_,                                                                                       \
                      .rrule = rule_,                                                                                  \
                      .dtstart_local = start_,                                                                         \
                      .duration_s = 1800},                                                                             \
                .spec = "RRULE:" rule_, .start = start_                                                                \
        }
#define EXP(id_, tz_, spec_, start_)                                                                                   \
        { .s = {.id = id_, .title = "expanded " #id_, .tz = tz_, .duration_s = 600}, .spec = spec_, .start = start_ }

static void write_samples(const char *dir) {
        /* New York, weekly across both changes of 2026, from a DTSTART of 2024: one
         * disabled, one moved, one with other parameters, one moved in from 2025. */
        ics_exception ny_ex[] = {
                {.nominal = T("2025-12-29T14:30:00Z"), .moved_to = T("2026-01-02T15:00:00Z")},
                {.nominal = T("2026-03-09T13:30:00Z"), .disabled = true},
                {.nominal = T("2026-06-04T13:30:00Z"),
                 .params_changed = true,
                 .note = "big, run; \\ ok\nsecond line\r\nthird: Gr\xc3\xb6\xc3\x9f"
                         "e \xe2\x82\xac \xf0\x9f\x93\xa6"},
                {.nominal = T("2026-11-02T14:30:00Z"), .moved_to = T("2026-11-03T15:00:00Z")},
        };
        /* Daily at 01:30 and 02:30: one in New York's gap (March), one repeated (November). */
        ics_exception night_ex[] = {
                {.nominal = T("2026-03-08T07:30:00Z"), .disabled = true}, /* 02:30 -> 03:30 EDT */
                {.nominal = T("2026-11-01T05:30:00Z"), .moved_to = T("2026-11-01T06:45:00Z")},
        };
        sample_series ny[] = {
                RR(1, NY, "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=9;BYMINUTE=30", "2024-01-01T09:30:00"),
                RR(2, NY, "FREQ=DAILY;BYHOUR=1,2;BYMINUTE=30", "2026-01-01T01:30:00"),
                RR(3, "UTC", "FREQ=WEEKLY;BYDAY=FR;BYHOUR=17", "2026-01-02T17:00:00"),
        };
        ny[0].s.title = "W\xc3\xb6"
                        "chentliche Sicherung; Datenbank, Dateien \xe2\x80\x94 "
                        "\xe6\xaf\x8e\xe9\x80\xb1\xe3\x81\xae\xe3\x83\x90\xe3\x83\x83\xe3\x82\xaf"
                        "\xe3\x82\xa2\xe3\x83\x83\xe3\x83\x97 \xf0\x9f\x93\xa6\xf0\x9f\x93\xa6 "
                        "C:\\new\\x \xc3\xa9\xc3\xa9"
                        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                        "\xc3\xa9\xc3\xa9"
                        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                        "\xc3\xa9\xc3\xa9"
                        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                        "\xc3\xa9\xc3\xa9 end";
        ny[0].s.exc = ny_ex;
        ny[0].s.nexc = 4;
        ny[1].s.exc = night_ex;
        ny[1].s.nexc = 2;
        write_sample(dir, "new_york", ny, 3, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");

        /* Sydney, daily at 02:30 across April (repeated) and October (skipped). */
        ics_exception syd_ex[] = {
                {.nominal = T("2026-04-04T15:30:00Z"), .disabled = true},
                {.nominal = T("2026-10-03T16:30:00Z"), .moved_to = T("2026-10-04T00:00:00Z")},
        };
        sample_series syd[] = {RR(10, "Australia/Sydney", "FREQ=DAILY;BYHOUR=2;BYMINUTE=30", "2026-03-01T02:30:00")};
        syd[0].s.exc = syd_ex;
        syd[0].s.nexc = 2;
        write_sample(dir, "sydney", syd, 1, "2026-03-20T00:00:00Z", "2026-10-20T00:00:00Z");

        /* Santiago and Lord Howe (RRULE form) at the wall times their changes touch. */
        sample_series south[] = {
                RR(20, "America/Santiago", "FREQ=DAILY;BYHOUR=0,23;BYMINUTE=30", "2026-01-01T00:30:00"),
                RR(21, "Australia/Lord_Howe", "FREQ=DAILY;BYHOUR=1,2;BYMINUTE=15,45", "2026-01-01T01:15:00"),
        };
        write_sample(dir, "south", south, 2, "2026-03-25T00:00:00Z", "2026-10-10T00:00:00Z");

        /* Expanded: cron in Berlin (one disabled, one moved in from outside, one moved out),
         * every-hour cron in New York's repeated hour, an interval in Kolkata. */
        ics_exception ber_ex[] = {
                {.nominal = T("2026-03-20T23:00:00Z"), .moved_to = T("2026-03-22T10:00:00Z")},
                {.nominal = T("2026-03-29T04:00:00Z"), .disabled = true},
                {.nominal = T("2026-04-03T16:00:00Z"), .moved_to = T("2026-04-10T16:00:00Z")},
        };
        sample_series exp[] = {
                EXP(30, "Europe/Berlin", "cron:0 */6 * * *", NULL),
                EXP(31, NY, "cron:*/20 * * * *", NULL),
                EXP(32, "Asia/Kolkata", "every 7h", "2026-03-01T00:00:00"),
        };
        exp[0].s.exc = ber_ex;
        exp[0].s.nexc = 3;
        write_sample(dir, "expanded_a", exp, 3, "2026-03-21T00:00:00Z", "2026-04-05T00:00:00Z");
        write_sample(dir, "expanded_b", exp + 1, 1, "2026-10-31T00:00:00Z", "2026-11-02T12:00:00Z");
}

int main(int argc, char **argv) {
        if (argc == 3 && !strcmp(argv[1], "--samples")) {
                write_samples(argv[2]);
                tz_cache_free();
                return 0;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(calendar_header), cmocka_unit_test(folding_and_escaping), cmocka_unit_test(rrule_form),
                cmocka_unit_test(expanded_form),   cmocka_unit_test(vtimezones),           cmocka_unit_test(errors),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        tz_cache_free();
        return r;
}
