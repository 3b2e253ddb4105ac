/* Unit tests of src/sched/schedule.c: DST policies, dedupe, cadence, bounds; and a
 * rough timing of schedule_next (printed, with a loose bound that catches
 * pathological slowness). */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "sched/schedule.h"

static schedule *parse_opts(const char *spec, const schedule_opts *o) {
        schedule *s = NULL;
        sked_err e = {0};
        if (schedule_parse(spec, o, &s, &e) < 0)
                fail_msg("%s", e.msg);
        return s;
}

/* Lists occurrences from `from` (inclusive) and compares with a NULL-terminated list. */
static void expect(const char *spec, const char *tz, const char *start, int gap, int rep, const char *from,
                   const char *const *want) {
        schedule_opts o = {.tz = tz, .start_local = start, .anchor = T(from), .gap_policy = gap, .repeat_policy = rep};
        schedule *s = parse_opts(spec, &o);
        sked_time t = T(from) - 1;
        for (; *want; want++) {
                if (!strcmp(*want, "END")) {
                        assert_int_equal(schedule_next(s, t, &t), -ENOENT);
                        break;
                }
                assert_int_equal(schedule_next(s, t, &t), 0);
                assert_time(t, *want);
        }
        schedule_free(s);
}

#define L(...) ((const char *[]){__VA_ARGS__, NULL})
#define NY "America/New_York"

static void gap_policies(void **state) {
        (void) state;
        expect("cron:30 2 * * *", NY, NULL, 0, 0, "2026-03-07T00:00:00Z",
               L("2026-03-07T07:30:00Z", "2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"));
        expect("cron:30 2 * * *", NY, NULL, TZ_GAP_SKIP, 0, "2026-03-07T00:00:00Z",
               L("2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z"));
        expect("RRULE:FREQ=DAILY", NY, "2026-03-07T02:30:00", TZ_GAP_SKIP, 0, "2026-03-07T00:00:00Z",
               L("2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z"));
        expect("RRULE:FREQ=DAILY", "Australia/Lord_Howe", "2026-10-03T02:15:00", 0, 0, "2026-10-01T00:00:00Z",
               L("2026-10-02T15:45:00Z", "2026-10-03T15:45:00Z", "2026-10-04T15:15:00Z"));
}

static void repeat_policies(void **state) {
        (void) state;
        expect("cron:30 1 * * *", NY, NULL, 0, 0, "2026-10-31T00:00:00Z",
               L("2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"));
        expect("cron:30 1 * * *", NY, NULL, 0, TZ_REPEAT_LAST, "2026-10-31T00:00:00Z",
               L("2026-10-31T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-02T06:30:00Z"));
        expect("cron:30 1 * * *", NY, NULL, 0, TZ_REPEAT_BOTH, "2026-10-31T00:00:00Z",
               L("2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-02T06:30:00Z"));
        expect("RRULE:FREQ=DAILY;BYHOUR=1;BYMINUTE=45", "Australia/Lord_Howe", "2026-04-03T01:45:00", 0, TZ_REPEAT_BOTH,
               "2026-04-04T00:00:00Z", L("2026-04-04T14:45:00Z", "2026-04-04T15:15:00Z", "2026-04-05T15:15:00Z"));
}

static void cadence_of_all_hours_cron(void **state) {
        (void) state;
        /* Both copies of the repeated hour; nothing for the skipped one. */
        expect("cron:30 * * * *", NY, NULL, 0, 0, "2026-11-01T04:00:00Z",
               L("2026-11-01T04:30:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-01T07:30:00Z"));
        expect("cron:30 * * * *", NY, NULL, 0, 0, "2026-03-08T05:00:00Z",
               L("2026-03-08T05:30:00Z", "2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z"));
        /* 06:30Z is 01:30 EST, 07:30Z is 03:30 EDT: wall 02:30 never exists. */
        expect("*/30 * * * *", "Australia/Lord_Howe", NULL, 0, 0, "2026-10-03T15:00:00Z",
               L("2026-10-03T15:00:00Z", "2026-10-03T15:30:00Z", "2026-10-03T16:00:00Z"));
}

static void dedupe_and_order(void **state) {
        (void) state;
        /* Walls 02:00..02:45 shift to 07:00..07:45Z, colliding with 03:00..03:45 EDT. */
        expect("RRULE:FREQ=MINUTELY;INTERVAL=15", NY, "2026-03-08T01:30:00", 0, 0, "2026-03-08T06:30:00Z",
               L("2026-03-08T06:30:00Z", "2026-03-08T06:45:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z",
                 "2026-03-08T07:30:00Z", "2026-03-08T07:45:00Z", "2026-03-08T08:00:00Z"));
        /* Cron with restricted hours: 02:00 shifts onto 03:00 EDT; they fire once. */
        expect("cron:0 2,3 * * *", NY, NULL, 0, 0, "2026-03-08T00:00:00Z",
               L("2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"));
}

static void intervals_and_bounds(void **state) {
        (void) state;
        expect("every:90m", NY, "2026-03-07T23:00:00", 0, 0, "2026-03-08T04:00:00Z",
               L("2026-03-08T04:00:00Z", "2026-03-08T05:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:30:00Z"));
        expect("every 1d", NY, "2026-03-07T12:00:00", 0, 0, "2026-03-01T00:00:00Z",
               L("2026-03-07T17:00:00Z", "2026-03-08T17:00:00Z"));
        expect("RRULE:FREQ=DAILY;COUNT=2", NY, "2026-03-07T09:00:00", 0, 0, "2026-03-01T00:00:00Z",
               L("2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z", "END"));
        expect("RRULE:FREQ=DAILY;UNTIL=20260308T130000Z", NY, "2026-03-07T09:00:00", 0, 0, "2026-03-01T00:00:00Z",
               L("2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z", "END"));
        expect("FREQ=YEARLY", "Europe/Berlin", "2024-02-29T00:30:00", 0, 0, "2024-01-01T00:00:00Z",
               L("2024-02-28T23:30:00Z", "2028-02-28T23:30:00Z"));
        expect("cron:0 0 29 2 *", "UTC", NULL, 0, 0, "2025-01-01T00:00:00Z",
               L("2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"));
        /* Asuncion: -03 all year since October 2024, so no March fall-back in 2025. */
        expect("cron:30 23 * * *", "America/Asuncion", NULL, 0, TZ_REPEAT_BOTH, "2025-03-22T00:00:00Z",
               L("2025-03-22T02:30:00Z", "2025-03-23T02:30:00Z", "2025-03-24T02:30:00Z"));
        expect("cron:30 23 * * *", "America/Asuncion", NULL, 0, TZ_REPEAT_BOTH, "2024-03-23T00:00:00Z",
               L("2024-03-23T02:30:00Z", "2024-03-24T02:30:00Z", "2024-03-24T03:30:00Z", "2024-03-25T03:30:00Z"));

        schedule_opts o = {.tz = NY, .anchor = T("2026-01-01T00:00:00Z"), .count = 3};
        schedule *s = parse_opts("cron:0 9 * * *", &o);
        assert_string_equal(schedule_kind(s), "cron");
        sked_time out[10];
        assert_int_equal(schedule_list(s, T("2026-01-01T00:00:00Z"), T("2027-01-01T00:00:00Z"), out, 10), 3);
        assert_time(out[2], "2026-01-03T14:00:00Z");
        schedule_free(s);
        o = (schedule_opts){.anchor = T("2026-01-01T00:00:00Z"), .end = T("2026-01-01T00:02:00Z")};
        s = parse_opts("every:1m", &o);
        assert_string_equal(schedule_kind(s), "interval");
        assert_int_equal(schedule_list(s, T("2025-01-01T00:00:00Z"), T("2027-01-01T00:00:00Z"), out, 10), 3);
        schedule_free(s);
}

static void parse_errors(void **state) {
        (void) state;
        static const struct {
                const char *spec, *tz, *start, *msg;
        } cases[] = {
                {"whenever", NULL, NULL,
                 "schedule \"whenever\": expected RRULE:<rule>, cron:<fields> or every:<duration>"},
                {"cron:* * * * *", "Mars/Olympus", NULL, "time zone \"Mars/Olympus\": not found in the tz database"},
                {"cron:* * * * *", NULL, "2026-02-30T00:00:00",
                 "start \"2026-02-30T00:00:00\": expected a wall time YYYY-MM-DDTHH:MM:SS"},
                {"every:0s", NULL, NULL, "interval \"0s\": must be at least 1s"},
                {"every:30m1h", NULL, NULL, "interval \"30m1h\": units must go from largest to smallest, each once"},
                {"every:5x", NULL, NULL,
                 "interval \"5x\": expected <number><unit> parts with units w, d, h, m, s (like 15m, 1h30m, 1d)"},
                {"RRULE:FREQ=DAILY;BYHOUR=25", NULL, NULL, "rrule \"FREQ=DAILY;BYHOUR=25\": BYHOUR must be 0..23"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                schedule_opts o = {.tz = cases[i].tz, .start_local = cases[i].start};
                schedule *s = NULL;
                sked_err e = {0};
                assert_true(schedule_parse(cases[i].spec, &o, &s, &e) < 0);
                assert_null(s);
                assert_string_equal(e.msg, cases[i].msg);
        }
        /* a schedule that never fires is refused, whatever the reason: a UTC UNTIL
         * before the start (the instant of DTSTART, 08:00Z in Berlin), an end before
         * the first occurrence */
        static const struct {
                const char *spec, *tz, *start, *end, *msg;
        } never[] = {
                {"RRULE:FREQ=DAILY;UNTIL=20200101T000000Z", NULL, "2026-01-01T09:00:00", NULL,
                 "rrule \"FREQ=DAILY;UNTIL=20200101T000000Z\": the rule produces no occurrence (UNTIL is before the "
                 "start)"},
                {"RRULE:FREQ=DAILY;UNTIL=20260101T073000Z", "Europe/Berlin", "2026-01-01T09:00:00", NULL,
                 "rrule \"FREQ=DAILY;UNTIL=20260101T073000Z\": the rule produces no occurrence (UNTIL is before the "
                 "start)"},
                {"RRULE:FREQ=DAILY;UNTIL=20200101", NULL, "2026-01-01T09:00:00", NULL,
                 "rrule \"FREQ=DAILY;UNTIL=20200101\": the rule produces no occurrence"},
                {"every:1h", NULL, "2026-01-01T09:00:00", "2026-01-01T08:00:00Z",
                 "end \"2026-01-01T08:00:00Z\": before the schedule's first occurrence (2026-01-01T09:00:00Z): it "
                 "never fires"},
                {"cron:0 12 * * *", NULL, "2026-01-01T13:00:00", "2026-01-02T11:00:00Z",
                 "end \"2026-01-02T11:00:00Z\": before the schedule's first occurrence (2026-01-02T12:00:00Z): it "
                 "never fires"},
        };
        for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
                schedule_opts o = {
                        .tz = never[i].tz, .start_local = never[i].start, .end = never[i].end ? T(never[i].end) : 0};
                schedule *s = NULL;
                sked_err e = {0};
                assert_int_equal(schedule_parse(never[i].spec, &o, &s, &e), -EINVAL);
                assert_null(s);
                assert_string_equal(e.msg, never[i].msg);
        }
        /* an UNTIL or end at the first occurrence is one occurrence */
        expect("RRULE:FREQ=DAILY;UNTIL=20260101T080000Z", "Europe/Berlin", "2026-01-01T09:00:00", 0, 0,
               "2025-12-01T00:00:00Z", L("2026-01-01T08:00:00Z", "END"));
        char big[SCHEDULE_SPEC_MAX + 10];
        memset(big, '*', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        schedule *s = NULL;
        assert_int_equal(schedule_parse(big, NULL, &s, NULL), -EINVAL);
}

/* schedule_list (one pass over wall times) gives exactly what stepping with
 * schedule_next gives, across DST weeks, bounds, policies and cut-offs. */
static void list_matches_stepping(void **state) {
        (void) state;
        static const char *const specs[] = {
                "RRULE:FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
                "RRULE:FREQ=HOURLY;BYMINUTE=0,30",
                "RRULE:FREQ=WEEKLY;BYDAY=MO,WE,SU;BYHOUR=1,2,3",
                "RRULE:FREQ=MINUTELY;INTERVAL=7;COUNT=500",
                "RRULE:FREQ=DAILY;BYHOUR=1;BYMINUTE=30;UNTIL=20261101T060000Z",
                "cron:30 1,2 * * *",
                "cron:*/5 0-3 * * *",
                "cron:0 2 * * 0",
                "every 90m",
                "cron:*/10 * * * *",
        };
        static const char *const zones[] = {"America/New_York", "Australia/Sydney", "Australia/Lord_Howe",
                                            "Europe/Berlin", "UTC"};
        static const char *const froms[] = {"2026-03-06T00:00:00Z", "2026-10-29T00:00:00Z", "2026-04-03T00:00:00Z",
                                            "2026-10-02T12:34:56Z"};
        sked_time a[4000], b[4000];
        for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
                for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++)
                        for (int gap = 0; gap <= TZ_GAP_SKIP; gap++)
                                for (int rep = 0; rep <= TZ_REPEAT_BOTH; rep++) {
                                        schedule_opts o = {.tz = zones[z],
                                                           .start_local = "2026-01-01T00:00:00",
                                                           .gap_policy = gap,
                                                           .repeat_policy = rep};
                                        schedule *s = parse_opts(specs[i], &o);
                                        for (size_t f = 0; f < sizeof froms / sizeof froms[0]; f++) {
                                                sked_time from, to;
                                                assert_int_equal(time_parse_utc(froms[f], &from), 0);
                                                to = from + 8 * 86400 * SKED_USEC;
                                                for (size_t max = 3; max <= 4000; max *= 40) {
                                                        int n = schedule_list(s, from, to, a, max);
                                                        size_t m = 0;
                                                        sked_time t = from - 1;
                                                        while (m < max && schedule_next(s, t, &t) == 0 && t < to)
                                                                b[m++] = t;
                                                        if ((size_t) n != m || memcmp(a, b, m * sizeof *a) != 0)
                                                                fail_msg("%s in %s (gap %d, repeat %d) from %s, max "
                                                                         "%zu: "
                                                                         "%d listed, %zu stepped",
                                                                         specs[i], zones[z], gap, rep, froms[f], max, n,
                                                                         m);
                                                }
                                        }
                                        schedule_free(s);
                                }
}

static void bench_n(const char *spec, const char *tz, int n) {
        /* a figure to read, never a bound (tests do not assert on time: bench/ measures);
         * under valgrind (scripts/test's memcheck) every call is some 50 times slower:
         * fewer calls */
        if (getenv("SKED_TEST_VALGRIND"))
                n = n / 20 + 1;
        schedule_opts o = {.tz = tz, .anchor = T("2026-01-01T00:00:00Z")};
        schedule *s = parse_opts(spec, &o);
        sked_time t = T("2026-01-01T00:00:00Z");
        int64_t t0 = time_mono_usec();
        for (int i = 0; i < n; i++)
                assert_int_equal(schedule_next(s, t, &t), 0);
        int64_t ns = (time_mono_usec() - t0) * 1000 / n;
        printf("bench: %-32s %-18s %6lld ns/schedule_next\n", spec, tz, (long long) ns);
        schedule_free(s);
}

static void bench_one(const char *spec, const char *tz) {
        bench_n(spec, tz, 20000);
}

static void bench(void **state) {
        (void) state;
        bench_one("cron:* * * * *", "UTC");
        bench_one("cron:* * * * *", NY);
        bench_one("cron:0 9 * * *", NY);
        bench_one("RRULE:FREQ=DAILY;BYHOUR=9", NY);
        bench_one("RRULE:FREQ=MINUTELY", NY);
        bench_one("every:15m", NY);
        /* rules of the set path (libical's before) */
        bench_one("RRULE:FREQ=DAILY;INTERVAL=2;BYHOUR=9", NY);
        bench_one("RRULE:FREQ=HOURLY;BYMINUTE=0,30;BYSETPOS=-1", NY);
        bench_n("RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", NY, 2000);
        bench_n("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", NY, 500);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(gap_policies),
                cmocka_unit_test(repeat_policies),
                cmocka_unit_test(cadence_of_all_hours_cron),
                cmocka_unit_test(dedupe_and_order),
                cmocka_unit_test(intervals_and_bounds),
                cmocka_unit_test(parse_errors),
                cmocka_unit_test(list_matches_stepping),
                cmocka_unit_test(bench),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        tz_cache_free();
        return r;
}
