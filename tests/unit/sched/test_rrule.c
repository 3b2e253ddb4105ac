/* Unit tests of src/sched/rrule.c: validation and floating expansion. */
#include <inttypes.h>
#include <stdlib.h>

#include <libical/ical.h>

#include "testutil.h"

#include "sched/rrule.h"
#include "sched/rrule_internal.h"

static rrule *parse(const char *text, const char *dtstart) {
        rrule *r = NULL;
        sked_err e = {0};
        if (rrule_parse(text, W(dtstart), &r, &e) < 0)
                fail_msg("%s", e.msg);
        return r;
}

static void parse_error(const char *text, const char *msg) {
        rrule *r = NULL;
        sked_err e = {0};
        assert_int_equal(rrule_parse(text, W("2026-01-01T09:00:00"), &r, &e), -EINVAL);
        assert_null(r);
        assert_string_equal(e.msg, msg);
}

/* The walls >= from, checked against a NULL-terminated list (then, if `end`, exhaustion). */
static void expect(const char *text, const char *dtstart, const char *from, const char *const *want, bool end) {
        rrule *r = parse(text, dtstart);
        rrule_iter *it;
        int64_t w;
        assert_int_equal(rrule_iter_new(r, W(from), &it), 0);
        for (; *want; want++) {
                assert_int_equal(rrule_iter_next(it, &w), 0);
                assert_wall(w, *want);
        }
        if (end)
                assert_int_equal(rrule_iter_next(it, &w), -ENOENT);
        rrule_iter_free(it);
        rrule_free(r);
}

static void errors(void **state) {
        (void) state;
        parse_error("FREQ=DAILY;BYHOUR=25", "rrule \"FREQ=DAILY;BYHOUR=25\": BYHOUR must be 0..23");
        parse_error("FREQ=DAILY;BYMINUTE=60", "rrule \"FREQ=DAILY;BYMINUTE=60\": BYMINUTE must be 0..59");
        parse_error("FREQ=MONTHLY;BYMONTHDAY=0",
                    "rrule \"FREQ=MONTHLY;BYMONTHDAY=0\": BYMONTHDAY must be 1..31 or -31..-1");
        parse_error("FREQ=DAILY;FOO=1", "rrule \"FREQ=DAILY;FOO=1\": unknown key FOO");
        parse_error("BYHOUR=1", "rrule \"BYHOUR=1\": FREQ is required");
        parse_error("FREQ=FORTNIGHTLY", "rrule \"FREQ=FORTNIGHTLY\": FREQ must be SECONDLY, MINUTELY, "
                                        "HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY");
        parse_error("FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z",
                    "rrule \"FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z\": COUNT and UNTIL cannot both be given");
        parse_error(
                "FREQ=DAILY;BYDAY=1MO",
                "rrule \"FREQ=DAILY;BYDAY=1MO\": BYDAY ordinals (like 1MO or -1FR) need FREQ=MONTHLY or FREQ=YEARLY");
        parse_error("FREQ=MONTHLY;BYDAY=XX", "rrule \"FREQ=MONTHLY;BYDAY=XX\": BYDAY must be a list of "
                                             "SU..SA, each optionally preceded by an ordinal 1..5 or -5..-1");
        parse_error("FREQ=DAILY;BYSETPOS=1", "rrule \"FREQ=DAILY;BYSETPOS=1\": BYSETPOS needs another BYxxx part");
        parse_error("FREQ=MONTHLY;BYWEEKNO=3", "rrule \"FREQ=MONTHLY;BYWEEKNO=3\": BYWEEKNO needs FREQ=YEARLY");
        parse_error("FREQ=DAILY;INTERVAL=0", "rrule \"FREQ=DAILY;INTERVAL=0\": INTERVAL must be 1..9999");
        parse_error("FREQ=DAILY;UNTIL=2026", "rrule \"FREQ=DAILY;UNTIL=2026\": UNTIL must be YYYYMMDD, "
                                             "YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ");
        parse_error("FREQ=DAILY;WKST=XY",
                    "rrule \"FREQ=DAILY;WKST=XY\": WKST must be one of SU, MO, TU, WE, TH, FR, SA");
        parse_error("FREQ=DAILY;FREQ=DAILY", "rrule \"FREQ=DAILY;FREQ=DAILY\": FREQ given twice");
        parse_error("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
                    "rrule \"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30\": the rule produces no occurrence");
        parse_error("FREQ=DAILY;COUNT=0", "rrule \"FREQ=DAILY;COUNT=0\": COUNT must be 1..100000");
        /* found on the fast path, without libical (which would walk every second to 2582) */
        parse_error("FREQ=SECONDLY;BYMONTH=4;BYMONTHDAY=31",
                    "rrule \"FREQ=SECONDLY;BYMONTH=4;BYMONTHDAY=31\": the rule produces no occurrence");
        /* and on the set path: parts that never coincide, whole months and days skipped */
        parse_error("FREQ=SECONDLY;BYMONTH=1;BYYEARDAY=100",
                    "rrule \"FREQ=SECONDLY;BYMONTH=1;BYYEARDAY=100\": the rule produces no occurrence");
        /* a BYSETPOS past every interval's set: the search gives up on its budget */
        parse_error("FREQ=DAILY;BYHOUR=9;BYSETPOS=2",
                    "rrule \"FREQ=DAILY;BYHOUR=9;BYSETPOS=2\": the rule produces no occurrence (none within "
                    "262144 steps of search from DTSTART)");
}

static void calendar(void **state) {
        (void) state;
        expect("FREQ=YEARLY", "2024-02-29T09:00:00", "2024-01-01T00:00:00",
               (const char *[]){"2024-02-29T09:00:00", "2028-02-29T09:00:00", "2032-02-29T09:00:00", NULL}, false);
        expect("FREQ=YEARLY", "2096-02-29T09:00:00", "2097-01-01T00:00:00",
               (const char *[]){"2104-02-29T09:00:00", NULL}, false);
        expect("FREQ=MONTHLY;BYMONTHDAY=-1", "2024-01-31T18:00:00", "2024-01-01T00:00:00",
               (const char *[]){"2024-01-31T18:00:00", "2024-02-29T18:00:00", "2024-03-31T18:00:00",
                                "2024-04-30T18:00:00", NULL},
               false);
        /* Last weekday of the month. */
        expect("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "2026-01-30T17:00:00", "2026-01-01T00:00:00",
               (const char *[]){"2026-01-30T17:00:00", "2026-02-27T17:00:00", "2026-03-31T17:00:00",
                                "2026-04-30T17:00:00", "2026-05-29T17:00:00", NULL},
               false);
        expect("FREQ=DAILY;COUNT=3", "2026-03-07T02:30:00", "2026-01-01T00:00:00",
               (const char *[]){"2026-03-07T02:30:00", "2026-03-08T02:30:00", "2026-03-09T02:30:00", NULL}, true);
        /* COUNT still counts from DTSTART when expansion starts later. */
        expect("FREQ=DAILY;COUNT=3", "2026-03-07T02:30:00", "2026-03-09T00:00:00",
               (const char *[]){"2026-03-09T02:30:00", NULL}, true);
        expect("FREQ=WEEKLY;UNTIL=20260121T090000", "2026-01-07T09:00:00", "2026-01-01T00:00:00",
               (const char *[]){"2026-01-07T09:00:00", "2026-01-14T09:00:00", "2026-01-21T09:00:00", NULL}, true);
        expect("FREQ=WEEKLY;UNTIL=20260121", "2026-01-07T09:00:00", "2026-01-01T00:00:00",
               (const char *[]){"2026-01-07T09:00:00", "2026-01-14T09:00:00", "2026-01-21T09:00:00", NULL}, true);
        expect("FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO", "2026-01-01T08:00:00", "2026-01-01T00:00:00",
               (const char *[]){"2027-01-04T08:00:00", "2028-01-03T08:00:00", "2029-01-01T08:00:00",
                                "2029-12-31T08:00:00", NULL},
               false);
        rrule *r = parse("FREQ=DAILY;UNTIL=20260110T000000Z", "2026-01-01T09:00:00");
        sked_time u;
        assert_true(rrule_until_utc(r, &u));
        assert_time(u, "2026-01-10T00:00:00Z");
        assert_int_equal(rrule_until_local(r), INT64_MAX);
        rrule_free(r);
}

/* Expansion restarted near `from` must give exactly what expansion from DTSTART gives. */
static void restart_matches_full(void **state) {
        (void) state;
        static const char *const rules[] = {
                "FREQ=DAILY",
                "FREQ=DAILY;INTERVAL=3",
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SA",
                "FREQ=WEEKLY;INTERVAL=3;WKST=SU;BYDAY=SU,MO",
                "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
                "FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=31",
                "FREQ=MONTHLY;BYDAY=-1FR,2MO",
                "FREQ=MONTHLY",
                "FREQ=YEARLY;INTERVAL=2",
                "FREQ=YEARLY;BYWEEKNO=20,-1;BYDAY=MO",
                "FREQ=YEARLY;BYYEARDAY=1,-1,100",
                "FREQ=HOURLY;INTERVAL=7;BYMINUTE=0,30",
                "FREQ=MINUTELY;INTERVAL=97",
                "FREQ=YEARLY;BYMONTH=1,7;BYDAY=1SU,-1SA",
                "FREQ=MONTHLY;BYMONTHDAY=1,15,-1;BYHOUR=6,18;BYSETPOS=2,-2",
                "FREQ=DAILY;COUNT=40;INTERVAL=11",
        };
        for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
                rrule *r = parse(rules[i], "2025-01-31T09:15:00");
                int64_t all[400];
                size_t n = 0;
                rrule_iter *it;
                assert_int_equal(rrule_iter_new(r, W("2025-01-31T09:15:00"), &it), 0);
                while (n < 400 && rrule_iter_next(it, &all[n]) == 0)
                        n++;
                rrule_iter_free(it);
                assert_true(n > 1);
                for (int k = 0; k < 60; k++) {
                        /* from = somewhere between DTSTART and the last wall collected */
                        int64_t from = all[0] + (all[n - 1] - all[0]) / 60 * k + k * 7919;
                        size_t j = 0;
                        while (j < n && all[j] < from)
                                j++;
                        assert_int_equal(rrule_iter_new(r, from, &it), 0);
                        for (size_t m = j; m < n && m < j + 5; m++) {
                                int64_t w;
                                if (rrule_iter_next(it, &w) != 0 || w != all[m])
                                        fail_msg("%s: from %lld: expected wall %lld", rules[i], (long long) from,
                                                 (long long) all[m]);
                        }
                        rrule_iter_free(it);
                }
                rrule_free(r);
        }
}

/* The fast path takes the common rules and leaves the rest to libical. */
static void fast_path_taken(void **state) {
        (void) state;
        static const char *const fast[] = {
                "FREQ=MINUTELY;BYSECOND=5",
                "FREQ=DAILY;BYHOUR=9;BYMINUTE=30",
                "FREQ=WEEKLY;BYDAY=MO,WE,FR",
                "FREQ=SECONDLY",
                "FREQ=HOURLY;BYMINUTE=0,30",
                "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=8,12,18",
                "FREQ=WEEKLY;WKST=SU;BYDAY=SA,SU;BYMONTH=6,7,8",
                "FREQ=MONTHLY",
                "FREQ=MONTHLY;BYMONTHDAY=1,15,-1",
                "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
                "FREQ=DAILY;INTERVAL=1;COUNT=10",
                "FREQ=DAILY;UNTIL=20270101T000000Z",
                "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=29",
                /* unsorted and repeated lists, lists of FREQ's own unit */
                "FREQ=DAILY;BYHOUR=17,9",
                "FREQ=DAILY;BYMINUTE=5,5",
                "FREQ=WEEKLY;BYDAY=MO,MO",
                "FREQ=HOURLY;BYHOUR=5,17",
                "FREQ=MINUTELY;BYMINUTE=0,30",
                "FREQ=SECONDLY;BYSECOND=0,30",
                "FREQ=DAILY;BYMONTHDAY=1,-1",
        };
        static const char *const slow[] = {
                "FREQ=DAILY;INTERVAL=2",           "FREQ=YEARLY",
                "FREQ=MONTHLY;BYDAY=1MO",          "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1",
                "FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO", "FREQ=HOURLY;BYYEARDAY=1,100",
        };
        for (size_t i = 0; i < sizeof fast / sizeof fast[0]; i++) {
                rrule *r = parse(fast[i], "2026-01-31T09:15:00");
                if (!rrule_is_fast(r))
                        fail_msg("%s: not on the fast path", fast[i]);
                rrule_free(r);
        }
        for (size_t i = 0; i < sizeof slow / sizeof slow[0]; i++) {
                rrule *r = parse(slow[i], "2026-01-31T09:15:00");
                if (rrule_is_fast(r))
                        fail_msg("%s: on the fast path", slow[i]);
                rrule_free(r);
        }
        /* proleptic Gregorian on both paths, like the rest of sked (libical's ICU was
         * Julian before 1582-10-15: such rules stayed on libical) */
        rrule *r = parse("FREQ=DAILY", "1500-02-27T08:00:00");
        assert_true(rrule_is_fast(r));
        rrule_free(r);
        expect("FREQ=DAILY", "1500-02-27T08:00:00", "1500-02-28T09:00:00",
               (const char *[]){"1500-03-01T08:00:00", NULL}, false);
        expect("FREQ=DAILY;INTERVAL=2", "1500-02-27T08:00:00", "1500-02-28T09:00:00",
               (const char *[]){"1500-03-01T08:00:00", NULL}, false);
}

/* The RFC 5545 set on the fast path where libical 3.0.16 gets it wrong (before
 * these rules came to the fast path, sked gave libical's answer, noted with each). */
static void rfc_results(void **state) {
        (void) state;
        static const struct rfc_case {
                const char *rule, *dtstart, *from, *want[5];
                bool end;
        } cases[] = {
                /* a coarser list does not shift the start: libical started at the restart
                 * point (10:03:42) with the minute set and the second kept, 10:05:42 */
                {"FREQ=SECONDLY;BYMINUTE=5",
                 "2026-01-01T08:00:00",
                 "2026-01-01T10:03:43",
                 {"2026-01-01T10:05:00", "2026-01-01T10:05:01", NULL},
                 false},
                {"FREQ=SECONDLY;BYMINUTE=5",
                 "2026-01-01T10:03:42",
                 "2026-01-01T00:00:00",
                 {"2026-01-01T10:05:00", NULL},
                 false},
                /* libical: 09:17:17, skipping 09:00:17..09:16:17 */
                {"FREQ=MINUTELY;BYHOUR=9",
                 "2026-01-01T08:00:17",
                 "2026-01-01T08:17:00",
                 {"2026-01-01T09:00:17", "2026-01-01T09:01:17", NULL},
                 false},
                /* a list of FREQ's own unit filters: libical gave 17:00 first */
                {"FREQ=HOURLY;BYHOUR=5,17",
                 "2026-01-01T00:00:00",
                 "2026-01-01T04:30:00",
                 {"2026-01-01T05:00:00", "2026-01-01T17:00:00", "2026-01-02T05:00:00", NULL},
                 false},
                /* minutes and seconds from DTSTART, COUNT counted on the same walls */
                {"FREQ=HOURLY;BYHOUR=5,17;COUNT=3",
                 "2026-01-01T04:30:15",
                 "2026-01-01T00:00:00",
                 {"2026-01-01T05:30:15", "2026-01-01T17:30:15", "2026-01-02T05:30:15", NULL},
                 true},
                /* libical gave 04:20 twice */
                {"FREQ=MINUTELY;BYMINUTE=10,20,30",
                 "2026-01-01T04:20:00",
                 "2026-01-01T04:00:00",
                 {"2026-01-01T04:20:00", "2026-01-01T04:30:00", "2026-01-01T05:10:00", NULL},
                 false},
                {"FREQ=SECONDLY;BYSECOND=0,30",
                 "2026-01-01T04:20:10",
                 "2026-01-01T04:20:00",
                 {"2026-01-01T04:20:30", "2026-01-01T04:21:00", NULL},
                 false},
                /* unsorted and repeated lists: libical gave 17:00 before 09:00, 09:00
                 * twice, each Monday twice */
                {"FREQ=DAILY;BYHOUR=17,9",
                 "2026-01-01T08:00:00",
                 "2026-01-01T00:00:00",
                 {"2026-01-01T09:00:00", "2026-01-01T17:00:00", "2026-01-02T09:00:00", NULL},
                 false},
                {"FREQ=DAILY;BYHOUR=9,9",
                 "2026-01-01T08:00:00",
                 "2026-01-01T00:00:00",
                 {"2026-01-01T09:00:00", "2026-01-02T09:00:00", NULL},
                 false},
                {"FREQ=WEEKLY;BYDAY=MO,MO",
                 "2026-01-05T08:00:00",
                 "2026-01-01T00:00:00",
                 {"2026-01-05T08:00:00", "2026-01-12T08:00:00", NULL},
                 false},
                /* a negative month day counts from the month's end at every FREQ:
                 * libical gave only the 1st for DAILY */
                {"FREQ=DAILY;BYMONTHDAY=1,-1",
                 "2026-01-01T08:00:00",
                 "2026-01-01T00:00:00",
                 {"2026-01-01T08:00:00", "2026-01-31T08:00:00", "2026-02-01T08:00:00", "2026-02-28T08:00:00", NULL},
                 false},
                {"FREQ=DAILY;BYMONTHDAY=-1",
                 "2024-01-15T08:00:00",
                 "2024-01-01T00:00:00",
                 {"2024-01-31T08:00:00", "2024-02-29T08:00:00", "2024-03-31T08:00:00", "2024-04-30T08:00:00", NULL},
                 false},
                {"FREQ=HOURLY;BYMONTHDAY=-2;BYHOUR=23",
                 "2023-02-01T00:00:00",
                 "2023-02-01T00:00:00",
                 {"2023-02-27T23:00:00", "2023-03-30T23:00:00", NULL},
                 false},
                {"FREQ=MONTHLY;BYMONTHDAY=1,-1",
                 "2026-01-01T08:00:00",
                 "2026-01-01T00:00:00",
                 {"2026-01-01T08:00:00", "2026-01-31T08:00:00", "2026-02-01T08:00:00", NULL},
                 false},
                /* months without the day are skipped */
                {"FREQ=MONTHLY",
                 "2024-01-31T08:00:00",
                 "2024-01-01T00:00:00",
                 {"2024-01-31T08:00:00", "2024-03-31T08:00:00", "2024-05-31T08:00:00", NULL},
                 false},
                /* DTSTART outside the lists is not a wall */
                {"FREQ=WEEKLY;BYDAY=MO",
                 "2026-01-01T08:00:00",
                 "2026-01-01T00:00:00",
                 {"2026-01-05T08:00:00", NULL},
                 false},
                {"FREQ=DAILY;BYHOUR=7",
                 "2026-01-01T08:00:00",
                 "2026-01-01T00:00:00",
                 {"2026-01-02T07:00:00", NULL},
                 false},
                /* nothing after 2582, as on libical */
                {"FREQ=MONTHLY", "2582-10-01T08:00:00", "2582-11-15T00:00:00", {"2582-12-01T08:00:00", NULL}, true},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                const struct rfc_case *c = &cases[i];
                rrule *r = parse(c->rule, c->dtstart);
                if (!rrule_is_fast(r))
                        fail_msg("%s: not on the fast path", c->rule);
                rrule_free(r);
                expect(c->rule, c->dtstart, c->from, c->want, c->end);
        }
        /* months that cannot match are skipped whole (libical would walk 29 million seconds) */
        expect("FREQ=SECONDLY;BYMONTH=2", "2026-01-01T00:00:00", "2026-03-01T00:00:00",
               (const char *[]){"2027-02-01T00:00:00", "2027-02-01T00:00:01", NULL}, false);
        /* lists are sorted and their repeats dropped on the set path too */
        expect("FREQ=DAILY;INTERVAL=1;BYHOUR=17,9,9;BYSETPOS=1,2,-1", "2026-01-01T08:00:00", "2026-01-01T00:00:00",
               (const char *[]){"2026-01-01T09:00:00", "2026-01-01T17:00:00", "2026-01-02T09:00:00", NULL}, false);
        expect("FREQ=DAILY;INTERVAL=2;BYHOUR=17,9", "2026-01-01T08:00:00", "2026-01-01T00:00:00",
               (const char *[]){"2026-01-01T09:00:00", "2026-01-01T17:00:00", "2026-01-03T09:00:00", NULL}, false);
}

/* BYSETPOS picks from the whole set of an interval, times included, at every FREQ
 * (RFC 5545 §3.3.10).  Expected walls from python3-dateutil 2.9 (except where noted).
 * libical 3.0.16, which sked used for these rules, applied BYSETPOS to the days only
 * and then expanded the hours (the MONTHLY case gave 09:00 and 17:00 of the last
 * weekday), and ignored it for DAILY and WEEKLY. */
static void setpos_every_freq(void **state) {
        (void) state;
        static const struct setpos_case {
                const char *rule, *dtstart, *want[8];
        } cases[] = {
                {"FREQ=DAILY;BYHOUR=9,17;BYSETPOS=-1",
                 "2026-01-01T08:00:00",
                 {"2026-01-01T17:00:00", "2026-01-02T17:00:00", "2026-01-03T17:00:00"}},
                {"FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9,17;BYSETPOS=2",
                 "2026-01-05T08:00:00",
                 {"2026-01-05T17:00:00", "2026-01-12T17:00:00", "2026-01-19T17:00:00"}},
                {"FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9,17;BYSETPOS=-1,1",
                 "2026-01-05T08:00:00",
                 {"2026-01-05T09:00:00", "2026-01-09T17:00:00", "2026-01-12T09:00:00", "2026-01-16T17:00:00"}},
                {"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9,17;BYSETPOS=-1",
                 "2026-01-01T08:00:00",
                 {"2026-01-30T17:00:00", "2026-02-27T17:00:00", "2026-03-31T17:00:00"}},
                {"FREQ=YEARLY;BYMONTH=3;BYDAY=SU;BYHOUR=2;BYMINUTE=0,30;BYSETPOS=1",
                 "2026-01-01T00:00:00",
                 {"2026-03-01T02:00:00", "2027-03-07T02:00:00", "2028-03-05T02:00:00"}},
                {"FREQ=HOURLY;BYMINUTE=0,15,30,45;BYSETPOS=-1",
                 "2026-01-01T08:00:00",
                 {"2026-01-01T08:45:00", "2026-01-01T09:45:00", "2026-01-01T10:45:00"}},
                {"FREQ=MINUTELY;BYSECOND=0,20,40;BYSETPOS=2",
                 "2026-01-01T08:00:00",
                 {"2026-01-01T08:00:20", "2026-01-01T08:01:20", "2026-01-01T08:02:20"}},
                /* a second's set is that second: BYSETPOS=1 keeps it */
                {"FREQ=SECONDLY;BYHOUR=1;BYSETPOS=1",
                 "2026-01-01T08:00:00",
                 {"2026-01-02T01:00:00", "2026-01-02T01:00:01", "2026-01-02T01:00:02"}},
                /* RFC 5545's own examples */
                {"FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3",
                 "1997-09-04T09:00:00",
                 {"1997-09-04T09:00:00", "1997-10-07T09:00:00", "1997-11-06T09:00:00"}},
                {"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2",
                 "1997-09-29T09:00:00",
                 {"1997-09-29T09:00:00", "1997-10-30T09:00:00", "1997-11-27T09:00:00", "1997-12-30T09:00:00",
                  "1998-01-29T09:00:00", "1998-02-26T09:00:00", "1998-03-30T09:00:00"}},
                {"FREQ=DAILY;INTERVAL=3;BYHOUR=6,12,18;BYMINUTE=0,30;BYSETPOS=2,-2",
                 "2026-01-01T00:00:00",
                 {"2026-01-01T06:30:00", "2026-01-01T18:00:00", "2026-01-04T06:30:00", "2026-01-04T18:00:00",
                  "2026-01-07T06:30:00"}},
                {"FREQ=HOURLY;INTERVAL=5;BYHOUR=0,5,10,15,20;BYMINUTE=10,20;BYSECOND=0,30;BYSETPOS=-3",
                 "2026-01-01T00:00:00",
                 {"2026-01-01T00:10:30", "2026-01-01T05:10:30", "2026-01-01T10:10:30", "2026-01-01T15:10:30"}},
                /* weeks across the year's turn: the calendar year is the interval */
                {"FREQ=YEARLY;BYWEEKNO=1,-1;BYDAY=MO,SU;BYHOUR=8;BYSETPOS=-1",
                 "2026-01-01T00:00:00",
                 {"2026-12-28T08:00:00", "2027-12-27T08:00:00", "2028-12-31T08:00:00"}},
                {"FREQ=YEARLY;BYYEARDAY=1,-1;BYHOUR=0,23;BYSETPOS=2,3",
                 "2026-01-01T00:00:00",
                 {"2026-01-01T23:00:00", "2026-12-31T00:00:00", "2027-01-01T23:00:00", "2027-12-31T00:00:00"}},
                /* positions before DTSTART count, then are dropped */
                {"FREQ=MONTHLY;BYMONTHDAY=1,15,-1;BYHOUR=6,18;BYSETPOS=2,-2",
                 "2025-01-31T09:15:00",
                 {"2025-02-01T18:15:00", "2025-02-28T06:15:00", "2025-03-01T18:15:00", "2025-03-31T06:15:00"}},
                /* the whole WKST week is the interval, also the first one (dateutil
                 * starts the first at DTSTART's day and gives 2026-01-09T09:00) */
                {"FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9;BYSETPOS=1",
                 "2026-01-07T08:00:00",
                 {"2026-01-12T09:00:00", "2026-01-19T09:00:00"}},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                const struct setpos_case *c = &cases[i];
                const char *want[9] = {0};
                memcpy(want, c->want, sizeof c->want);
                expect(c->rule, c->dtstart, c->dtstart, want, false);
                /* restarted in the middle: the same walls from there */
                expect(c->rule, c->dtstart, c->want[1], want + 1, false);
        }
}

/* Every search is bounded in work: intervals that cannot hold a wall are skipped
 * whole, and a search that finds nothing within its budget answers "no wall". */
static void bounded_search(void **state) {
        (void) state;
        /* 7 years to the next Feb 29 of a SECONDLY rule (220 million seconds): found
         * in a few hundred steps, on both paths */
        static const char *const sparse[] = {"FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=29;BYHOUR=3",
                                             "FREQ=SECONDLY;INTERVAL=1;BYMONTH=2;BYMONTHDAY=29;BYHOUR=3;BYSETPOS=1"};
        for (size_t i = 0; i < 2; i++) {
                rrule *r = parse(sparse[i], "2096-02-29T03:00:00");
                assert_int_equal(rrule_is_fast(r), i == 0);
                rrule_iter *it;
                int64_t w;
                assert_int_equal(rrule_iter_new(r, W("2097-03-01T00:00:00"), &it), 0);
                assert_int_equal(rrule_iter_next(it, &w), 0);
                assert_wall(w, "2104-02-29T03:00:00");
                if (rrule_iter_steps(it) > 1000)
                        fail_msg("%s: %lld steps", sparse[i], (long long) rrule_iter_steps(it));
                rrule_iter_free(it);
                /* the same search with a budget of 100 steps gives up, after about 100 */
                assert_int_equal(rrule_iter_new(r, W("2097-03-01T00:00:00"), &it), 0);
                rrule_iter_set_budget(it, 100);
                assert_int_equal(rrule_iter_next(it, &w), -ENOENT);
                assert_true(rrule_iter_gave_up(it));
                assert_true(rrule_iter_steps(it) <= 100 + 32);
                assert_int_equal(rrule_iter_next(it, &w), -ENOENT); /* and stays done */
                rrule_iter_free(it);
                rrule_free(r);
        }
        /* the end of the rule is not a give-up */
        rrule *r = parse("FREQ=DAILY;BYHOUR=9;BYSETPOS=1;COUNT=2", "2026-01-01T08:00:00");
        rrule_iter *it;
        int64_t w;
        assert_int_equal(rrule_iter_new(r, W("2026-01-01T00:00:00"), &it), 0);
        assert_int_equal(rrule_iter_next(it, &w), 0);
        assert_int_equal(rrule_iter_next(it, &w), 0);
        assert_int_equal(rrule_iter_next(it, &w), -ENOENT);
        assert_false(rrule_iter_gave_up(it));
        rrule_iter_free(it);
        rrule_free(r);
        /* parts that never coincide, at every FREQ below DAILY (a BYYEARDAY outside its
         * BYMONTH) and with a BYSETPOS no interval reaches: refused */
        static const char *const never[] = {
                "FREQ=SECONDLY;BYMONTH=1;BYYEARDAY=100",
                "FREQ=MINUTELY;BYMONTH=1;BYYEARDAY=100",
                "FREQ=HOURLY;BYMONTH=1;BYYEARDAY=-300",
                "FREQ=YEARLY;BYMONTH=1;BYYEARDAY=200",
                "FREQ=SECONDLY;INTERVAL=2;BYSECOND=1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33,35,37,39,41,43,45,"
                "47,49,51,53,55,57,59",
                "FREQ=DAILY;BYHOUR=9;BYSETPOS=2",
                "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYSETPOS=2",
                "FREQ=MINUTELY;BYSECOND=5;BYSETPOS=-2",
        };
        for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
                sked_err e = {0};
                r = NULL;
                assert_int_equal(rrule_parse(never[i], W("2026-01-01T00:00:00"), &r, &e), -EINVAL);
                assert_null(r);
                if (!strstr(e.msg, "the rule produces no occurrence"))
                        fail_msg("%s: %s", never[i], e.msg);
        }
}

/* ---- Differential test: the fast path against libical on random rules ----
 *
 * Rules are drawn from the fast path's subset, each with a random DTSTART (month
 * ends and Feb 29 often) and random points to expand from; both paths must give the
 * same first walls, the same exhaustion and the same COUNT/UNTIL bound.  The classes
 * where libical 3.0.16 is wrong are not drawn (gen_rule, !wide): there the fast path
 * follows RFC 5545 instead, checked by rfc_results and the oracle test below.  The draw
 * is seeded: SKED_RRULE_SEED and SKED_RRULE_RULES replay or widen a run.
 *
 * libical walks every second (SECONDLY), minute or day of a gap between walls, so
 * each case is priced first, its walls found by brute force here (independent of
 * rrule.c), and cases libical would take too long on are skipped and counted. */

enum { G_SECONDLY, G_MINUTELY, G_HOURLY, G_DAILY, G_WEEKLY, G_MONTHLY };
static const char *const g_freqs[] = {"SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY"};
static const char *const g_days[] = {"SU", "MO", "TU", "WE", "TH", "FR", "SA"};

#define WALLS 20
#define STEP_BUDGET 20000 /* libical steps allowed per case (about 1.5 µs each) */

static uint64_t rng;

/* splitmix64 */
static uint64_t rnd(void) {
        uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

static int rnd_in(int lo, int hi) {
        return lo + (int) (rnd() % (uint64_t) (hi - lo + 1));
}

static bool chance(int percent) {
        return rnd_in(1, 100) <= percent;
}

typedef struct gen {
        int freq;
        uint64_t secs, mins; /* BYSECOND, BYMINUTE, bit n for n; 0 = none */
        uint32_t hours;      /* BYHOUR */
        uint8_t wdays;       /* BYDAY, 0 = none */
        uint32_t mpos, mneg; /* BYMONTHDAY, bit n for n and -n */
        uint16_t months;     /* BYMONTH, 0 = none */
        int count;
        int64_t until; /* a local UNTIL, else INT64_MAX */
        bool wide;     /* for the oracle: every list the fast path takes */
        char text[400];
        civil dt;
} gen;

static void put(gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(gen *g, const char *fmt, ...) {
        size_t n = strlen(g->text);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->text + n, sizeof g->text - n, fmt, ap);
        va_end(ap);
}

/* ";KEY=a,b,c": up to kmax values of lo..hi, returns their bits.  Rising and
 * distinct, or for the oracle (g->wide) as drawn: unsorted, repeated. */
static uint64_t put_list(gen *g, const char *key, int lo, int hi, int kmax) {
        uint64_t bits = 0;
        int k = rnd_in(1, kmax);
        put(g, ";%s=", key);
        for (int i = 0; i < k; i++) {
                int v = rnd_in(lo, hi);
                bits |= 1ull << v;
                if (g->wide)
                        put(g, i ? ",%d" : "%d", v);
        }
        int n = 0;
        for (int v = lo; v <= hi && !g->wide; v++)
                if (bits >> v & 1)
                        put(g, n++ ? ",%d" : "%d", v);
        return bits;
}

static void put_byday(gen *g) {
        int order[7] = {0, 1, 2, 3, 4, 5, 6};
        for (int i = 6; i > 0; i--) {
                int j = rnd_in(0, i), t = order[i];
                order[i] = order[j];
                order[j] = t;
        }
        int k = rnd_in(1, 6);
        put(g, ";BYDAY=");
        for (int i = 0; i < k; i++) {
                int d = g->wide && chance(15) ? order[0] : order[i]; /* a repeat */
                g->wdays |= (uint8_t) (1u << d);
                put(g, i ? ",%s" : "%s", g_days[d]);
        }
}

/* Month days, the month ends often.  For libical below MONTHLY only positive ones:
 * libical 3.0.16 never matches a negative one there (FREQ=DAILY;BYMONTHDAY=-1 gives
 * nothing), where the fast path follows RFC 5545. */
static void put_bymonthday(gen *g) {
        int k = rnd_in(1, 3);
        put(g, ";BYMONTHDAY=");
        for (int i = 0; i < k; i++) {
                int v = chance(50) ? rnd_in(28, 31) : rnd_in(1, 31);
                if (chance(30) && (g->freq == G_MONTHLY || g->wide))
                        v = -(chance(60) ? rnd_in(1, 3) : v);
                if (v > 0)
                        g->mpos |= 1u << v;
                else
                        g->mneg |= 1u << -v;
                put(g, i ? ",%d" : "%d", v);
        }
}

static void put_bymonth(gen *g) {
        int k = rnd_in(1, 4);
        put(g, ";BYMONTH=");
        for (int i = 0; i < k; i++) {
                int v = chance(30) ? 2 : rnd_in(1, 12);
                g->months |= (uint16_t) (1u << v);
                put(g, i ? ",%d" : "%d", v);
        }
}

static void put_until(gen *g) {
        int64_t at = civil_to_seconds(&g->dt) + (int64_t) rnd_in(-86400, 86400 * 400);
        civil u;
        civil_from_seconds(at, &u);
        if (chance(40)) {
                put(g, ";UNTIL=%04d%02d%02d", u.year, u.month, u.day);
                u.hour = 23, u.minute = 59, u.second = 59;
                g->until = civil_to_seconds(&u);
        } else {
                bool utc = chance(15);
                put(g, ";UNTIL=%04d%02d%02dT%02d%02d%02d%s", u.year, u.month, u.day, u.hour, u.minute, u.second,
                    utc ? "Z" : "");
                g->until = utc ? INT64_MAX : at; /* a UTC UNTIL is the caller's to apply */
        }
}

static void gen_dtstart(civil *c) {
        int r = rnd_in(1, 100);
        /* some near libical's last year, 2582, so that walls run out */
        c->year = r <= 90   ? rnd_in(1970, 2100)
                  : r <= 94 ? rnd_in(1583, 1969)
                  : r <= 97 ? rnd_in(2101, 2569)
                            : rnd_in(2570, 2582);
        c->month = rnd_in(1, 12);
        int dim = civil_days_in_month(c->year, c->month);
        r = rnd_in(1, 100);
        if (r <= 10) {
                while (!civil_is_leap(c->year))
                        c->year++;
                c->month = 2;
                c->day = 29;
        } else if (r <= 40) {
                c->day = dim - rnd_in(0, 2);
        } else if (r <= 45) {
                c->month = 12;
                c->day = 31;
        } else {
                c->day = rnd_in(1, dim);
        }
        r = rnd_in(1, 100);
        c->hour = r <= 20 ? 0 : r <= 30 ? 23 : rnd_in(0, 23);
        c->minute = r <= 20 ? 0 : r <= 30 ? 59 : rnd_in(0, 59);
        c->second = r <= 20 ? 0 : r <= 30 ? 59 : rnd_in(0, 59);
}

/* A random rule of the fast path's subset.  For libical (!wide) none of the
 * classes where libical 3.0.16 is wrong (see rfc_results): no list of FREQ's own
 * unit (it skips walls), time lists rising and distinct (it walks them as written),
 * no negative BYMONTHDAY below MONTHLY (never matches), and no BYHOUR for SECONDLY
 * and MINUTELY nor BYMINUTE for SECONDLY (it starts at the restart point with the
 * listed fields at their first value and the finer ones kept, losing walls). */
static void gen_rule(gen *g, bool wide) {
        memset(g, 0, sizeof *g);
        g->wide = wide;
        g->until = INT64_MAX;
        gen_dtstart(&g->dt);
        int r = rnd_in(1, 100);
        g->freq = r <= 12   ? G_SECONDLY
                  : r <= 27 ? G_MINUTELY
                  : r <= 42 ? G_HOURLY
                  : r <= 67 ? G_DAILY
                  : r <= 85 ? G_WEEKLY
                            : G_MONTHLY;
        put(g, "FREQ=%s", g_freqs[g->freq]);
        if (chance(10))
                put(g, ";INTERVAL=1");
        /* seconds and minutes kept few below FREQ: libical steps through them */
        if ((wide || g->freq != G_SECONDLY) && chance(35))
                g->secs = put_list(g, "BYSECOND", 0, 59, wide ? 6 : 3);
        if ((wide || (g->freq != G_MINUTELY && g->freq != G_SECONDLY)) && chance(40))
                g->mins = put_list(g, "BYMINUTE", 0, 59, wide ? 6 : 3);
        if ((wide || g->freq > G_HOURLY) && chance(g->freq <= G_MINUTELY ? 35 : 50))
                g->hours = (uint32_t) put_list(g, "BYHOUR", 0, 23, 4);
        bool fine = g->freq <= G_MINUTELY;
        if (chance(fine ? 15 : g->freq == G_WEEKLY ? 70 : 40))
                put_byday(g);
        if (g->freq != G_WEEKLY && chance(fine ? 8 : g->freq == G_MONTHLY ? 60 : 25))
                put_bymonthday(g);
        if (chance(fine ? 5 : 25))
                put_bymonth(g);
        if (chance(20))
                put(g, ";WKST=%s", g_days[rnd_in(0, 6)]);
        r = rnd_in(1, 100);
        if (r <= 25) {
                g->count = rnd_in(1, wide ? 60 : 30);
                put(g, ";COUNT=%d", g->count);
        } else if (r <= 45) {
                put_until(g);
        }
}

/* Whether the rule allows day y-m-d (weekday wd); written apart from rrule.c. */
static bool gen_day(const gen *g, int y, int m, int d, int wd) {
        int dim = civil_days_in_month(y, m);
        if (g->months && !(g->months >> m & 1))
                return false;
        if (g->wdays && !(g->wdays >> wd & 1))
                return false;
        if (!g->wdays && g->freq == G_WEEKLY &&
            wd != civil_weekday(civil_days_from_date(g->dt.year, g->dt.month, g->dt.day)))
                return false;
        if (g->mpos || g->mneg)
                return (g->mpos >> d & 1) || (g->freq == G_MONTHLY && (g->mneg >> (dim + 1 - d) & 1));
        return g->freq != G_MONTHLY || g->wdays || d == g->dt.day;
}

static int64_t day_of(int64_t t) {
        return (t >= 0 ? t : t - 86399) / 86400;
}

/* The values a time field may take: its list, DTSTART's value below FREQ, else any. */
static uint64_t gen_field(uint64_t list, bool finer, int dt_value, int n) {
        return list ? list : finer ? 1ull << dt_value : (1ull << n) - 1;
}

/* About where libical starts for `from` (only the cost depends on it): a period
 * back, or for SECONDLY and MINUTELY rrule.c's restart point with the listed hour
 * and minute (SECONDLY) or hour and second (MINUTELY) at their first value. */
static int64_t gen_begin(const gen *g, int64_t from, uint64_t h, uint64_t m, uint64_t s) {
        static const int64_t back[] = {0, 0, 3600, 86400, 14 * 86400, 32 * 86400};
        int64_t dt = civil_to_seconds(&g->dt), unit = g->freq == G_SECONDLY ? 1 : 60;
        if (g->freq >= G_HOURLY)
                return (from > dt ? from : dt) - back[g->freq];
        int64_t restart = from <= dt ? dt : dt + (from - 1 - dt) / unit * unit;
        civil c;
        civil_from_seconds(restart, &c);
        if (g->hours)
                c.hour = __builtin_ctzll(h);
        if (g->freq == G_SECONDLY && g->mins)
                c.minute = __builtin_ctzll(m);
        if (g->freq == G_MINUTELY)
                c.second = __builtin_ctzll(s);
        int64_t l = civil_to_seconds(&c);
        return l < restart ? l : restart;
}

/* Counts the walls of `day` at or after `start` down from *left; true and the wall
 * where it reaches 0. */
static bool nth_wall_of_day(int64_t day, uint64_t h, uint64_t m, uint64_t s, int64_t start, int *left, int64_t *ret) {
        for (int hh = 0; hh < 24; hh++) {
                if (!(h >> hh & 1))
                        continue;
                for (int mm = 0; mm < 60; mm++) {
                        if (!(m >> mm & 1))
                                continue;
                        for (int ss = 0; ss < 60; ss++) {
                                int64_t w = day * 86400 + hh * 3600 + mm * 60 + ss;
                                if ((s >> ss & 1) && w >= start && --*left == 0) {
                                        *ret = w;
                                        return true;
                                }
                        }
                }
        }
        return false;
}

/* A bound on the steps libical takes to give `walls` walls from `from`, or -1 when
 * above STEP_BUDGET.  libical steps through every FREQ unit and, within it, every
 * value of the finer units' lists, from where it starts to the last wall; the walls
 * are found here by brute force over the days gen_day allows. */
static long gen_cost(const gen *g, int64_t from, int walls) {
        uint64_t s = gen_field(g->secs, g->freq > G_SECONDLY, g->dt.second, 60);
        uint64_t m = gen_field(g->mins, g->freq > G_MINUTELY, g->dt.minute, 60);
        uint64_t h = gen_field(g->hours, g->freq > G_HOURLY, g->dt.hour, 24);
        int ns = __builtin_popcountll(s), nm = __builtin_popcountll(m), nh = __builtin_popcountll(h);
        double rate = g->freq == G_SECONDLY   ? 1.0 /* steps per second */
                      : g->freq == G_MINUTELY ? ns / 60.0
                      : g->freq == G_HOURLY   ? nm * ns / 3600.0
                                              : nh * nm * ns / 86400.0;
        int64_t dt = civil_to_seconds(&g->dt), start = from > dt ? from : dt, w;
        int64_t begin = gen_begin(g, from, h, m, s);
        int left = walls + 1; /* libical looks one wall further */
        for (int64_t day = day_of(start); (double) (day * 86400 - begin) * rate <= STEP_BUDGET; day++) {
                int y, mo, d;
                civil_date_from_days(day, &y, &mo, &d);
                if (gen_day(g, y, mo, d, civil_weekday(day)) && nth_wall_of_day(day, h, m, s, start, &left, &w)) {
                        double cost = (double) (w - begin) * rate;
                        return cost <= STEP_BUDGET ? (long) cost + 1 : -1;
                }
        }
        return -1;
}

static int64_t gen_from(const gen *g) {
        int64_t dt = civil_to_seconds(&g->dt);
        switch (rnd_in(0, 6)) {
        case 0:
                return dt - rnd_in(0, 2 * 86400);
        case 1:
                return dt;
        case 2:
                return dt + rnd_in(1, 120);
        case 3:
                return dt + rnd_in(0, 2 * 86400);
        case 4:
                return dt + (int64_t) rnd_in(0, 90) * 86400 + rnd_in(0, 86399);
        case 5:
                return dt + (int64_t) rnd_in(0, 4 * 365) * 86400 + rnd_in(0, 86399);
        default: {
                /* about a month's or a year's turn */
                civil c = g->dt;
                c.month += rnd_in(0, 24);
                c.year += (c.month - 1) / 12;
                c.month = (c.month - 1) % 12 + 1;
                c.day = 1;
                c.hour = c.minute = c.second = 0;
                return civil_to_seconds(&c) + rnd_in(-2, 2);
        }
        }
}

static const char *fmt_opt(bool have, int64_t w, char *buf) {
        return have ? fmt_w(w, buf) : "(none)";
}

/* 2582-12-31T23:59:59: libical's last year, which sked keeps. */
static int64_t oracle_last(void) {
        return civil_days_from_date(2583, 1, 1) * 86400 - 1;
}

/* libical, the differential oracle.  sked no longer expands with libical (it cannot
 * be bounded: one call walks every second to 2582 for a rule without walls); here it
 * is the independent implementation the fast path is compared with, on the rules it
 * gets right.  The rule is given to libical without COUNT/UNTIL and with DTSTART's
 * defaults explicit, so that it may start at a period boundary near `from` (as
 * rrule.c did before): a start at DTSTART would price most far cases out. */
static void lib_put_bits(char *out, size_t len, const char *key, uint64_t bits, int lo, int hi) {
        size_t n = strlen(out);
        n += (size_t) snprintf(out + n, len - n, ";%s=", key);
        bool first = true;
        for (int v = lo; v <= hi; v++)
                if (bits >> v & 1) {
                        n += (size_t) snprintf(out + n, len - n, first ? "%d" : ",%d", v);
                        first = false;
                }
}

static void lib_text(const gen *g, char *out, size_t len) {
        int wd = civil_weekday(civil_days_from_date(g->dt.year, g->dt.month, g->dt.day));
        snprintf(out, len, "FREQ=%s", g_freqs[g->freq]);
        /* a list as given; an unlisted field finer than FREQ at DTSTART's value */
        if (g->secs || g->freq > G_SECONDLY)
                lib_put_bits(out, len, "BYSECOND", g->secs ? g->secs : 1ull << g->dt.second, 0, 59);
        if (g->mins || g->freq > G_MINUTELY)
                lib_put_bits(out, len, "BYMINUTE", g->mins ? g->mins : 1ull << g->dt.minute, 0, 59);
        if (g->hours || g->freq > G_HOURLY)
                lib_put_bits(out, len, "BYHOUR", g->hours ? g->hours : 1ull << g->dt.hour, 0, 23);
        uint8_t wdays = g->wdays ? g->wdays : g->freq == G_WEEKLY ? (uint8_t) (1u << wd) : 0;
        if (wdays) {
                size_t n = strlen(out);
                n += (size_t) snprintf(out + n, len - n, ";BYDAY=");
                for (int d = 0, k = 0; d < 7; d++)
                        if (wdays >> d & 1)
                                n += (size_t) snprintf(out + n, len - n, k++ ? ",%s" : "%s", g_days[d]);
        }
        if (g->mpos || g->mneg) {
                size_t n = strlen(out);
                n += (size_t) snprintf(out + n, len - n, ";BYMONTHDAY=");
                int k = 0;
                for (int v = 31; v >= 1; v--)
                        if (g->mneg >> v & 1)
                                n += (size_t) snprintf(out + n, len - n, k++ ? ",-%d" : "-%d", v);
                for (int v = 1; v <= 31; v++)
                        if (g->mpos >> v & 1)
                                n += (size_t) snprintf(out + n, len - n, k++ ? ",%d" : "%d", v);
        } else if (g->freq == G_MONTHLY && !g->wdays) {
                size_t n = strlen(out);
                snprintf(out + n, len - n, ";BYMONTHDAY=%d", g->dt.day);
        }
        if (g->months)
                lib_put_bits(out, len, "BYMONTH", g->months, 1, 12);
}

/* A wall <= from at which a period of the rule starts (or DTSTART itself). */
static int64_t lib_start(const gen *g, int64_t from) {
        static const int64_t period[] = {1, 60, 3600, 86400, 7 * 86400, 0};
        int64_t dt = civil_to_seconds(&g->dt);
        if (from <= dt)
                return dt;
        if (period[g->freq]) {
                int64_t k = civil_floor_div(from - 1 - dt, period[g->freq]);
                return k <= 0 ? dt : dt + k * period[g->freq];
        }
        civil b;
        civil_from_seconds(from - 1, &b);
        if ((int64_t) (b.year - g->dt.year) * 12 + (b.month - g->dt.month) <= 0)
                return dt;
        civil c = {b.year, b.month, 1, 0, 0, 0};
        int64_t p = civil_to_seconds(&c);
        return p < from ? p : dt;
}

/* The walls in [from, last] that libical gives, at most max; returns how many.  Its
 * days are checked against BYMONTH and BYDAY, as rrule.c did. */
static int lib_walls(const gen *g, int64_t from, int64_t last, int64_t *out, int max) {
        char text[512];
        lib_text(g, text, sizeof text);
        struct icalrecurrencetype rec = icalrecurrencetype_from_string(text);
        if (rec.freq == ICAL_NO_RECURRENCE)
                fail_msg("libical refused \"%s\"", text);
        civil c;
        civil_from_seconds(lib_start(g, from), &c);
        struct icaltimetype t = icaltime_null_time();
        t.year = c.year;
        t.month = c.month;
        t.day = c.day;
        t.hour = c.hour;
        t.minute = c.minute;
        t.second = c.second;
        t.is_date = 0;
        t.zone = NULL;
        icalrecur_iterator *it = icalrecur_iterator_new(rec, t);
        if (!it)
                return 0; /* it refuses to start after 2582: no walls either */
        int n = 0;
        while (n < max) {
                struct icaltimetype x = icalrecur_iterator_next(it);
                if (icaltime_is_null_time(x))
                        break;
                civil xc = {x.year, x.month, x.day, x.hour, x.minute, x.second};
                int64_t l = civil_to_seconds(&xc), days = civil_floor_div(l, 86400);
                if (l > last)
                        break;
                int y, m, d;
                civil_date_from_days(days, &y, &m, &d);
                if (l >= from && (!g->months || g->months >> m & 1) &&
                    (!g->wdays || g->wdays >> civil_weekday(days) & 1))
                        out[n++] = l;
        }
        icalrecur_iterator_free(it);
        return n;
}

/* The last wall libical allows: the COUNT-th from DTSTART (fewer: the last), the
 * local UNTIL or 2582's end; INT64_MIN when it gives none. */
static int64_t lib_bound(const gen *g) {
        int64_t walls[64], dt = civil_to_seconds(&g->dt);
        int64_t last = g->until < oracle_last() ? g->until : oracle_last();
        int n = lib_walls(g, dt, last, walls, g->count > 0 ? g->count : 1);
        if (n == 0)
                return INT64_MIN;
        return g->count > 0 ? walls[n - 1] : g->until;
}

/* Compares sked's walls from `from` with libical's; false (with a message) on a
 * difference. */
static bool same_walls(const rrule *fast, const gen *g, int64_t bound, int64_t from, char *msg, size_t len) {
        rrule_iter *a = NULL;
        int64_t want[WALLS + 1];
        int nw = lib_walls(g, from, bound, want, WALLS + 1);
        assert_int_equal(rrule_iter_new(fast, from, &a), 0);
        bool same = true;
        for (int i = 0; i <= WALLS && same; i++) {
                int64_t wa = 0;
                bool ha = rrule_iter_next(a, &wa) == 0, hb = i < nw;
                if (ha != hb || (ha && wa != want[i])) {
                        char x[32], y[32], f[32];
                        snprintf(msg, len, "from %s: wall %d: fast %s, libical %s", fmt_w(from, f), i,
                                 fmt_opt(ha, wa, x), fmt_opt(hb, hb ? want[i] : 0, y));
                        same = false;
                }
                if (!ha)
                        break;
        }
        rrule_iter_free(a);
        return same;
}

static void fast_matches_libical(void **state) {
        (void) state;
        const char *env_seed = getenv("SKED_RRULE_SEED"), *env_n = getenv("SKED_RRULE_RULES");
        uint64_t seed = env_seed ? strtoull(env_seed, NULL, 0) : 20260315;
        int rules = env_n ? atoi(env_n) : 2000, cases = 0, skipped = 0, refused = 0;
        int per_freq[6] = {0};
        rng = seed;
        for (int n = 0; n < rules; n++) {
                gen g;
                do
                        gen_rule(&g, false);
                while (gen_cost(&g, INT64_MIN, g.count > 0 ? g.count : 1) < 0);
                int64_t dt = civil_to_seconds(&g.dt), bound = lib_bound(&g);
                char dts[32], msg[256];
                fmt_w(dt, dts);
                rrule *fast = NULL;
                sked_err ea = {0};
                int ra = rrule_parse(g.text, dt, &fast, &ea);
                if ((ra < 0) != (bound == INT64_MIN))
                        fail_msg("seed %" PRIu64 " rule %d \"%s\" DTSTART %s: parse %d \"%s\", libical %s", seed, n,
                                 g.text, dts, ra, ea.msg, bound == INT64_MIN ? "no wall" : "walls");
                if (ra < 0) {
                        refused++;
                        continue;
                }
                if (!rrule_is_fast(fast))
                        fail_msg("seed %" PRIu64 " rule %d \"%s\" DTSTART %s: not on the fast path", seed, n, g.text,
                                 dts);
                int64_t ua = rrule_until_local(fast);
                if (ua != bound) {
                        char x[32], y[32];
                        fail_msg("seed %" PRIu64 " rule %d \"%s\" DTSTART %s: last wall %s, libical %s", seed, n,
                                 g.text, dts, ua == INT64_MAX ? "(none)" : fmt_w(ua, x),
                                 bound == INT64_MAX ? "(none)" : fmt_w(bound, y));
                }
                if (bound == INT64_MAX)
                        bound = oracle_last();
                for (int k = 0; k < 4; k++) {
                        int64_t from = gen_from(&g);
                        if (gen_cost(&g, from, WALLS) < 0) {
                                skipped++;
                                continue;
                        }
                        cases++;
                        per_freq[g.freq]++;
                        if (!same_walls(fast, &g, bound, from, msg, sizeof msg))
                                fail_msg("seed %" PRIu64 " rule %d \"%s\" DTSTART %s: %s", seed, n, g.text, dts, msg);
                }
                rrule_free(fast);
        }
        print_message("%d rules (%d refused by both), %d cases compared, %d skipped as too slow for libical "
                      "(seed %" PRIu64 ")\n",
                      rules, refused, cases, skipped, seed);
        print_message("cases by FREQ: %d %d %d %d %d %d (SECONDLY..MONTHLY)\n", per_freq[0], per_freq[1], per_freq[2],
                      per_freq[3], per_freq[4], per_freq[5]);
        /* the skipped must stay few and every FREQ compared, or the test stops testing */
        assert_true(skipped * 5 < cases);
        for (int f = 0; f < 6; f++)
                assert_true(per_freq[f] * 20 > cases);
}

/* ---- Oracle test: the fast path against RFC 5545, by brute force ----
 *
 * For a rule of the fast path's subset the set is defined field by field: a wall
 * belongs to it when it is >= DTSTART, within the COUNT/UNTIL bound and 2582, and
 * each of its fields is allowed: a listed field takes its list's values (a negative
 * month day counts from the month's end), an unlisted one is free when it is FREQ's
 * unit or coarser and DTSTART's value when finer (WEEKLY: DTSTART's weekday;
 * MONTHLY without BYDAY: DTSTART's month day).  The oracle walks every second of
 * every day from `from`, skipping only seconds whose day, hour or minute already
 * fails, and checks that predicate; it shares nothing with rrule.c but civil.c.
 * Rules are drawn wide (gen_rule(g, true)): own-unit, unsorted and repeated lists,
 * negative month days at every FREQ, month ends, Feb 29 and year ends often. */

#define ORACLE_WALLS 20

static bool oracle_day_ok(const gen *g, int64_t day) {
        int y, m, d;
        civil_date_from_days(day, &y, &m, &d);
        int wd = civil_weekday(day), dim = civil_days_in_month(y, m);
        int dt_wd = civil_weekday(civil_days_from_date(g->dt.year, g->dt.month, g->dt.day));
        if (g->months && !(g->months >> m & 1))
                return false;
        if (g->wdays ? !(g->wdays >> wd & 1) : g->freq == G_WEEKLY && wd != dt_wd)
                return false;
        if (g->mpos || g->mneg)
                return (g->mpos >> d & 1) || (g->mneg >> (dim + 1 - d) & 1);
        return g->freq != G_MONTHLY || g->wdays || d == g->dt.day;
}

/* Whether value v of a time field is allowed: `list` bits, else DTSTART's value
 * `dtv` when the field is finer than FREQ, else any. */
static bool oracle_field_ok(uint64_t list, bool finer, int dtv, int v) {
        return list ? (list >> v & 1) : !finer || v == dtv;
}

/* The first `max` walls in [lo, hi], by brute force; returns how many. */
static int oracle_walls(const gen *g, int64_t lo, int64_t hi, int64_t *out, int max) {
        int n = 0;
        int64_t dt = civil_to_seconds(&g->dt);
        if (lo < dt)
                lo = dt;
        for (int64_t day = day_of(lo); day * 86400 <= hi && n < max; day++) {
                if (!oracle_day_ok(g, day))
                        continue;
                for (int h = 0; h < 24 && n < max; h++) {
                        if (!oracle_field_ok(g->hours, g->freq > G_HOURLY, g->dt.hour, h))
                                continue;
                        for (int mi = 0; mi < 60 && n < max; mi++) {
                                if (!oracle_field_ok(g->mins, g->freq > G_MINUTELY, g->dt.minute, mi))
                                        continue;
                                for (int se = 0; se < 60 && n < max; se++) {
                                        int64_t w = day * 86400 + h * 3600 + mi * 60 + se;
                                        if (oracle_field_ok(g->secs, g->freq > G_SECONDLY, g->dt.second, se) &&
                                            w >= lo && w <= hi)
                                                out[n++] = w;
                                }
                        }
                }
        }
        return n;
}

/* The last wall the rule may give: the COUNT-th from DTSTART (or the last before
 * 2582 ends), the local UNTIL, or 2582's end; INT64_MIN when there is no wall. */
static int64_t oracle_bound(const gen *g) {
        int64_t walls[60], last = g->until < oracle_last() ? g->until : oracle_last();
        int n = oracle_walls(g, INT64_MIN, last, walls, g->count > 0 ? g->count : 1);
        if (n == 0)
                return INT64_MIN;
        return g->count > 0 ? walls[n - 1] : last;
}

static void fast_matches_oracle(void **state) {
        (void) state;
        const char *env_seed = getenv("SKED_RRULE_SEED"), *env_n = getenv("SKED_RRULE_RULES");
        uint64_t seed = env_seed ? strtoull(env_seed, NULL, 0) : 20260315;
        int rules = env_n ? atoi(env_n) : 3000, cases = 0, refused = 0, walls = 0;
        rng = seed ^ 0x5eed;
        for (int n = 0; n < rules; n++) {
                gen g;
                gen_rule(&g, true);
                int64_t dt = civil_to_seconds(&g.dt), bound = oracle_bound(&g);
                char dts[32], x[32], y[32];
                fmt_w(dt, dts);
                rrule *r = NULL;
                sked_err e = {0};
                int rc = rrule_parse(g.text, dt, &r, &e);
                if ((rc < 0) != (bound == INT64_MIN))
                        fail_msg("seed %" PRIu64 " rule %d \"%s\" DTSTART %s: parse %d \"%s\", oracle %s", seed, n,
                                 g.text, dts, rc, rc < 0 ? e.msg : "", bound == INT64_MIN ? "no wall" : "walls");
                if (rc < 0) {
                        refused++;
                        continue;
                }
                if (!rrule_is_fast(r))
                        fail_msg("seed %" PRIu64 " rule %d \"%s\" DTSTART %s: not on the fast path", seed, n, g.text,
                                 dts);
                int64_t u = rrule_until_local(r), want_u = g.count > 0 ? bound : g.until;
                if (u != want_u)
                        fail_msg("seed %" PRIu64 " rule %d \"%s\" DTSTART %s: last wall %s, oracle %s", seed, n, g.text,
                                 dts, u == INT64_MAX ? "(none)" : fmt_w(u, x),
                                 want_u == INT64_MAX ? "(none)" : fmt_w(want_u, y));
                for (int k = 0; k < 4; k++) {
                        int64_t from = gen_from(&g), want[ORACLE_WALLS], w = 0;
                        int nw = oracle_walls(&g, from, bound, want, ORACLE_WALLS);
                        rrule_iter *it;
                        assert_int_equal(rrule_iter_new(r, from, &it), 0);
                        for (int i = 0; i <= nw && i < ORACLE_WALLS; i++) {
                                bool have = rrule_iter_next(it, &w) == 0;
                                if (have != (i < nw) || (have && w != want[i])) {
                                        char f[32];
                                        fail_msg("seed %" PRIu64
                                                 " rule %d \"%s\" DTSTART %s: from %s: wall %d: fast %s, "
                                                 "oracle %s",
                                                 seed, n, g.text, dts, fmt_w(from, f), i, fmt_opt(have, w, x),
                                                 fmt_opt(i < nw, i < nw ? want[i] : 0, y));
                                }
                        }
                        rrule_iter_free(it);
                        cases++;
                        walls += nw;
                }
                rrule_free(r);
        }
        print_message("%d rules (%d with no wall), %d cases, %d walls checked against the oracle (seed %" PRIu64 ")\n",
                      rules, refused, cases, walls, seed);
        assert_true(refused * 10 < rules);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(errors),
                cmocka_unit_test(calendar),
                cmocka_unit_test(restart_matches_full),
                cmocka_unit_test(fast_path_taken),
                cmocka_unit_test(rfc_results),
                cmocka_unit_test(setpos_every_freq),
                cmocka_unit_test(bounded_search),
                cmocka_unit_test(fast_matches_libical),
                cmocka_unit_test(fast_matches_oracle),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
