/* Unit tests of src/sched/rrule.c: validation and floating expansion. */
#include <stdlib.h>

#include "testutil.h"

#include "sched/rrule.h"

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
        parse_error("FREQ=DAILY;BYDAY=1MO",
                    "rrule \"FREQ=DAILY;BYDAY=1MO\": BYDAY ordinals (like 1MO or -1FR) need FREQ=MONTHLY or FREQ=YEARLY");
        parse_error("FREQ=MONTHLY;BYDAY=XX", "rrule \"FREQ=MONTHLY;BYDAY=XX\": BYDAY must be a list of "
                                             "SU..SA, each optionally preceded by an ordinal 1..5 or -5..-1");
        parse_error("FREQ=DAILY;BYSETPOS=1", "rrule \"FREQ=DAILY;BYSETPOS=1\": BYSETPOS needs another BYxxx part");
        parse_error("FREQ=MONTHLY;BYWEEKNO=3", "rrule \"FREQ=MONTHLY;BYWEEKNO=3\": BYWEEKNO needs FREQ=YEARLY");
        parse_error("FREQ=DAILY;INTERVAL=0", "rrule \"FREQ=DAILY;INTERVAL=0\": INTERVAL must be 1..9999");
        parse_error("FREQ=DAILY;UNTIL=2026", "rrule \"FREQ=DAILY;UNTIL=2026\": UNTIL must be YYYYMMDD, "
                                             "YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ");
        parse_error("FREQ=DAILY;WKST=XY", "rrule \"FREQ=DAILY;WKST=XY\": WKST must be one of SU, MO, TU, WE, TH, FR, SA");
        parse_error("FREQ=DAILY;FREQ=DAILY", "rrule \"FREQ=DAILY;FREQ=DAILY\": FREQ given twice");
        parse_error("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
                    "rrule \"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30\": the rule produces no occurrence "
                    "(libical refused it)");
        parse_error("FREQ=DAILY;COUNT=0", "rrule \"FREQ=DAILY;COUNT=0\": COUNT must be 1..100000");
}

static void calendar(void **state) {
        (void) state;
        expect("FREQ=YEARLY", "2024-02-29T09:00:00", "2024-01-01T00:00:00",
               (const char *[]){"2024-02-29T09:00:00", "2028-02-29T09:00:00", "2032-02-29T09:00:00", NULL}, false);
        expect("FREQ=YEARLY", "2096-02-29T09:00:00", "2097-01-01T00:00:00",
               (const char *[]){"2104-02-29T09:00:00", NULL}, false);
        expect("FREQ=MONTHLY;BYMONTHDAY=-1", "2024-01-31T18:00:00", "2024-01-01T00:00:00",
               (const char *[]){"2024-01-31T18:00:00", "2024-02-29T18:00:00", "2024-03-31T18:00:00",
                                "2024-04-30T18:00:00", NULL}, false);
        /* Last weekday of the month. */
        expect("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "2026-01-30T17:00:00", "2026-01-01T00:00:00",
               (const char *[]){"2026-01-30T17:00:00", "2026-02-27T17:00:00", "2026-03-31T17:00:00",
                                "2026-04-30T17:00:00", "2026-05-29T17:00:00", NULL}, false);
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
                                "2029-12-31T08:00:00", NULL}, false);
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
                "FREQ=DAILY", "FREQ=DAILY;INTERVAL=3", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SA",
                "FREQ=WEEKLY;INTERVAL=3;WKST=SU;BYDAY=SU,MO", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
                "FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=31", "FREQ=MONTHLY;BYDAY=-1FR,2MO", "FREQ=MONTHLY",
                "FREQ=YEARLY;INTERVAL=2", "FREQ=YEARLY;BYWEEKNO=20,-1;BYDAY=MO", "FREQ=YEARLY;BYYEARDAY=1,-1,100",
                "FREQ=HOURLY;INTERVAL=7;BYMINUTE=0,30", "FREQ=MINUTELY;INTERVAL=97",
                "FREQ=YEARLY;BYMONTH=1,7;BYDAY=1SU,-1SA", "FREQ=MONTHLY;BYMONTHDAY=1,15,-1;BYHOUR=6,18;BYSETPOS=2,-2",
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(errors), cmocka_unit_test(calendar), cmocka_unit_test(restart_matches_full),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
