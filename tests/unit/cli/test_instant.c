/* Unit tests of src/cli/instant.c: the instants typed on the command line, with an
 * injected now. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/instant.h"

/* Monday 2026-11-23T22:30:00Z (23:30 in Berlin, 07:30 Tuesday in Tokyo). */
#define NOW (1795473000LL * SKED_USEC)

static sked_time at(const char *s) {
        sked_time t;
        assert_int_equal(time_parse_utc(s, &t), 0);
        return t;
}

static sked_time parse(const char *s, const char *zone) {
        sked_time t = -1;
        sked_err err = {0};
        if (cli_instant_parse(s, zone, NOW, &t, &err) < 0)
                fail_msg("%s: %s", s, err.msg);
        return t;
}

static void test_absolute_and_now(void **state) {
        (void) state;
        assert_true(parse("2026-01-02T03:04:05Z", NULL) == at("2026-01-02T03:04:05Z"));
        assert_true(parse("2026-01-02T03:04:05.250000Z", NULL) == at("2026-01-02T03:04:05Z") + 250000);
        assert_true(parse("now", NULL) == NOW);
}

static void test_days_in_zone(void **state) {
        (void) state;
        assert_true(parse("today", NULL) == at("2026-11-23T00:00:00Z"));
        assert_true(parse("tomorrow", "UTC") == at("2026-11-24T00:00:00Z"));
        assert_true(parse("yesterday", NULL) == at("2026-11-22T00:00:00Z"));
        assert_true(parse("today", "Europe/Berlin") == at("2026-11-22T23:00:00Z"));
        assert_true(parse("today", "Asia/Tokyo") == at("2026-11-23T15:00:00Z")); /* already Tuesday there */
        assert_true(parse("tomorrow", "America/New_York") == at("2026-11-24T05:00:00Z"));
        /* across a DST change: the day after 2026-03-28 in Berlin starts at +01:00 */
        sked_time t;
        assert_int_equal(cli_day_start("Europe/Berlin", at("2026-03-28T12:00:00Z"), 1, &t, NULL), 0);
        assert_true(t == at("2026-03-28T23:00:00Z"));
        assert_int_equal(cli_day_start("Europe/Berlin", at("2026-03-28T12:00:00Z"), 2, &t, NULL), 0);
        assert_true(t == at("2026-03-29T22:00:00Z"));
}

static void test_relative(void **state) {
        (void) state;
        assert_true(parse("+90m", NULL) == NOW + 90 * 60 * SKED_USEC);
        assert_true(parse("-2h", NULL) == NOW - 2 * 3600 * SKED_USEC);
        assert_true(parse("+1d", NULL) == NOW + 86400 * SKED_USEC);
        assert_true(parse("+2w", NULL) == NOW + 14 * 86400 * SKED_USEC);
        assert_true(parse("-30s", NULL) == NOW - 30 * SKED_USEC);
        assert_true(parse("+0s", NULL) == NOW);
}

static void test_refused(void **state) {
        (void) state;
        static const char *const bad[] = {
                "",           "soon",  "Today", "+", "+m", "+5", "5m", "+5x", "+-5m", "+5 m", "2026-01-02T03:04:05",
                "2026-01-02", "+1.5h", "now+1h"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                sked_time t = 42;
                sked_err err = {0};
                assert_int_equal(cli_instant_parse(bad[i], NULL, NOW, &t, &err), -EINVAL);
                assert_int_equal(t, 42);
                assert_non_null(strstr(err.msg, "expected"));
        }
        sked_time t = 42;
        sked_err err = {0};
        assert_int_equal(cli_instant_parse("+99999999999999999w", NULL, NOW, &t, &err), -ERANGE);
        assert_int_equal(cli_instant_parse("+9999999999999d", NULL, NOW, &t, &err), -ERANGE);
        assert_true(cli_instant_parse("today", "Foo/Bar", NOW, &t, &err) < 0);
        assert_non_null(strstr(err.msg, "Foo/Bar"));
        assert_int_equal(t, 42);
}

static void rel(sked_time at, const char *want) {
        char buf[32];
        cli_instant_relative(at, NOW, buf, sizeof buf);
        assert_string_equal(buf, want);
}

/* the relative times beside instants in tables: one unit, cut toward zero */
static void test_relative_text(void **state) {
        (void) state;
        rel(NOW, "now");
        rel(NOW + 999999, "now");
        rel(NOW - 999999, "now");
        rel(NOW + SKED_USEC, "in 1 s");
        rel(NOW - 59 * SKED_USEC, "59 s ago");
        rel(NOW + 60 * SKED_USEC, "in 1 min");
        rel(NOW + 3 * 60 * SKED_USEC + 59 * SKED_USEC, "in 3 min");
        rel(NOW - 3599 * SKED_USEC, "59 min ago");
        rel(NOW - 2 * 3600 * SKED_USEC - 1, "2 h ago");
        rel(NOW + 47 * 3600 * SKED_USEC, "in 47 h");
        rel(NOW + 48 * 3600 * SKED_USEC, "in 2 d");
        rel(at("2025-11-23T22:30:00Z"), "365 d ago");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_absolute_and_now), cmocka_unit_test(test_days_in_zone),
                cmocka_unit_test(test_relative),         cmocka_unit_test(test_refused),
                cmocka_unit_test(test_relative_text),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
