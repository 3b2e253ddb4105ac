/* Unit tests of src/sched/cron.c: parsing, errors, wall-time matching. */
#include "testutil.h"

#include "sched/cron.h"

static cron_expr parse(const char *s) {
        cron_expr c;
        sked_err e = {0};
        if (cron_parse(s, &c, &e) < 0)
                fail_msg("%s", e.msg);
        return c;
}

static void parse_error(const char *s, const char *msg) {
        cron_expr c;
        sked_err e = {0};
        assert_int_equal(cron_parse(s, &c, &e), -EINVAL);
        assert_string_equal(e.msg, msg);
}

/* Checks the walls following `from` (inclusive) against a NULL-terminated list. */
static void expect(const char *spec, const char *from, const char *const *want) {
        cron_expr c = parse(spec);
        int64_t w = W(from);
        for (; *want; want++) {
                assert_int_equal(cron_next_wall(&c, w, w + 40LL * 366 * 86400, &w), 0);
                assert_wall(w, *want);
                w++;
        }
}

static void errors(void **state) {
        (void) state;
        parse_error("61 * * * *", "cron \"61 * * * *\": minute: 61 is out of range 0..59");
        parse_error("0 24 * * *", "cron \"0 24 * * *\": hour: 24 is out of range 0..23");
        parse_error("0 0 0 * *", "cron \"0 0 0 * *\": day-of-month: 0 is out of range 1..31");
        parse_error("0 0 * 13 *", "cron \"0 0 * 13 *\": month: 13 is out of range 1..12");
        parse_error("0 0 * * 8", "cron \"0 0 * * 8\": day-of-week: 8 is out of range 0..7");
        parse_error("0 0 * FOO *", "cron \"0 0 * FOO *\": month: \"FOO\" is not a month (1..12 or JAN..DEC)");
        parse_error("*/0 * * * *", "cron \"*/0 * * * *\": minute: step must be 1..60");
        parse_error("5-2 * * * *", "cron \"5-2 * * * *\": minute: range 5-2 is backwards");
        parse_error("* * * *", "cron \"* * * *\": expected 5 fields (minute hour day-of-month month "
                               "day-of-week) or 6 (seconds first), got 4");
        parse_error("60 * * * * *", "cron \"60 * * * * *\": second: 60 is out of range 0..59");
        parse_error("0 0 30 2 *", "cron \"0 0 30 2 *\": day-of-month: no chosen month has that day, "
                                  "the expression never fires");
        parse_error("0 L * * *", "cron \"0 L * * *\": hour: \"L\" is not a number");
        parse_error("@often", "cron \"@often\": unknown macro (expected @yearly, @monthly, @weekly, "
                              "@daily or @hourly)");
        cron_expr c;
        assert_int_equal(cron_parse("0 0 31 2,4 *", &c, NULL), -EINVAL);
        assert_int_equal(cron_parse("0 0 31 1,2 *", &c, NULL), 0);
        assert_int_equal(cron_parse("0 0 30 2 1", &c, NULL), 0); /* Vixie OR: Mondays fire */
}

static void basics(void **state) {
        (void) state;
        expect("*/15 * * * *", "2026-01-01T10:07:00",
               (const char *[]){"2026-01-01T10:15:00", "2026-01-01T10:30:00", "2026-01-01T10:45:00",
                                "2026-01-01T11:00:00", NULL});
        expect("1-30/10 9 * * *", "2026-01-01T09:00:00",
               (const char *[]){"2026-01-01T09:01:00", "2026-01-01T09:11:00", "2026-01-01T09:21:00",
                                "2026-01-02T09:01:00", NULL});
        expect("0 0 1 jan,JUL *", "2026-01-02T00:00:00",
               (const char *[]){"2026-07-01T00:00:00", "2027-01-01T00:00:00", NULL});
        expect("*/20 * * * * *", "2026-01-01T00:00:01",
               (const char *[]){"2026-01-01T00:00:20", "2026-01-01T00:00:40", "2026-01-01T00:01:00", NULL});
        expect("@hourly", "2026-01-01T00:00:01", (const char *[]){"2026-01-01T01:00:00", NULL});
        expect("@weekly", "2026-01-01T00:00:00", (const char *[]){"2026-01-04T00:00:00", NULL});
        expect("30 17 * * mon-fri", "2026-01-02T18:00:00",
               (const char *[]){"2026-01-05T17:30:00", "2026-01-06T17:30:00", NULL});
        expect("0 12 */10 * *", "2026-01-31T00:00:00",
               (const char *[]){"2026-01-31T12:00:00", "2026-02-01T12:00:00", NULL});
}

static void last_day_and_leap(void **state) {
        (void) state;
        expect("0 12 L * *", "2024-01-31T13:00:00",
               (const char *[]){"2024-02-29T12:00:00", "2024-03-31T12:00:00", "2024-04-30T12:00:00", NULL});
        expect("0 12 L 2 *", "2025-01-01T00:00:00",
               (const char *[]){"2025-02-28T12:00:00", "2026-02-28T12:00:00", "2027-02-28T12:00:00",
                                "2028-02-29T12:00:00", NULL});
        expect("0 0 15,L * *", "2026-04-01T00:00:00",
               (const char *[]){"2026-04-15T00:00:00", "2026-04-30T00:00:00", NULL});
        expect("0 0 29 2 *", "2024-03-01T00:00:00",
               (const char *[]){"2028-02-29T00:00:00", "2032-02-29T00:00:00", NULL});
        expect("0 0 29 2 *", "2096-03-01T00:00:00", (const char *[]){"2104-02-29T00:00:00", NULL});
}

static void vixie_and_sunday(void **state) {
        (void) state;
        /* Both restricted: 13th OR Friday. */
        expect("0 9 13 * 5", "2026-01-01T00:00:00",
               (const char *[]){"2026-01-02T09:00:00", "2026-01-09T09:00:00", "2026-01-13T09:00:00",
                                "2026-01-16T09:00:00", NULL});
        /* '*' first in dom ("*\/2"): AND, odd days that are Mondays. */
        expect("0 0 */2 * 1", "2026-01-01T00:00:00",
               (const char *[]){"2026-01-05T00:00:00", "2026-01-19T00:00:00", "2026-02-09T00:00:00", NULL});
        /* 7 and 0 are both Sunday; SUN by name. */
        expect("0 9 * * 7", "2026-01-01T00:00:00", (const char *[]){"2026-01-04T09:00:00", NULL});
        expect("0 9 * * 0", "2026-01-01T00:00:00", (const char *[]){"2026-01-04T09:00:00", NULL});
        expect("0 9 * * sun", "2026-01-01T00:00:00", (const char *[]){"2026-01-04T09:00:00", NULL});
        expect("0 9 * * 5-7", "2026-01-01T00:00:00",
               (const char *[]){"2026-01-02T09:00:00", "2026-01-03T09:00:00", "2026-01-04T09:00:00",
                                "2026-01-09T09:00:00", NULL});
        cron_expr c = parse("0 9 * * 7");
        assert_true(cron_matches(&c, W("2026-01-04T09:00:00")));
        assert_false(cron_matches(&c, W("2026-01-04T09:00:01")));
        assert_false(c.all_hours);
        c = parse("0 */1 * * *");
        assert_true(c.all_hours);
        int64_t w;
        assert_int_equal(cron_next_wall(&c, W("2026-01-01T00:00:01"), W("2026-01-01T00:59:59"), &w), -ENOENT);
}

/* One search examines at most CRON_SEARCH_DAYS days, whatever its limit: a 400-year
 * cycle, after which the calendar repeats. */
static void bounded_search(void **state) {
        (void) state;
        cron_expr c;
        sked_err e = {0};
        assert_int_equal(cron_parse("0 0 29 2 *", &c, &e), 0);
        int64_t w;
        assert_int_equal(cron_next_wall(&c, W("2097-03-01T00:00:00"), INT64_MAX / 2, &w), 0);
        assert_wall(w, "2104-02-29T00:00:00");
        /* a day set no month has (cron_parse refuses it: built by hand) is searched
         * for 400 years, not up to the limit */
        c.dom = 1u << 30;
        c.mon = 1u << 2;
        assert_int_equal(cron_next_wall(&c, W("2026-01-01T00:00:00"), INT64_MAX / 2, &w), -ENOENT);
        /* and a match beyond the cycle's reach from `local` is not found: the bound is
         * days, not the limit */
        assert_int_equal(cron_parse("0 0 1 1 *", &c, &e), 0);
        c.mon = 0; /* no month at all */
        assert_int_equal(cron_next_wall(&c, W("2026-01-01T00:00:00"), INT64_MAX / 2, &w), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(errors),
                cmocka_unit_test(basics),
                cmocka_unit_test(last_day_and_leap),
                cmocka_unit_test(vixie_and_sunday),
                cmocka_unit_test(bounded_search),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
