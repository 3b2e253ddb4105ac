#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "model/duration.h"

static int64_t ok(const char *s) {
        int64_t ms = -1;
        sked_err e = {0};
        int r = duration_parse(s, &ms, &e);
        if (r < 0)
                fail_msg("%s: %s", s, e.msg);
        return ms;
}

static void bad(const char *s, const char *msg) {
        int64_t ms = 12345;
        sked_err e = {0};
        assert_true(duration_parse(s, &ms, &e) < 0);
        assert_int_equal(ms, 12345); /* untouched on failure */
        assert_string_equal(e.msg, msg);
}

static void parse_good(void **state) {
        (void) state;
        assert_int_equal(ok("30s"), 30000);
        assert_int_equal(ok("15m"), 900000);
        assert_int_equal(ok("1h30m"), 5400000);
        assert_int_equal(ok("2d"), 172800000);
        assert_int_equal(ok("500ms"), 500);
        assert_int_equal(ok("1d2h3m4s5ms"), 93784005);
        assert_int_equal(ok("0s"), 0);
        assert_int_equal(ok("90m"), 5400000);
}

static void parse_bad(void **state) {
        (void) state;
        bad("", "\"\": expected a duration like 30s, 15m, 1h30m, 2d or 500ms");
        bad("30", "\"30\": missing unit after 30 (expected ms, s, m, h or d)");
        bad("1x", "\"1x\": unknown unit \"x\" (expected ms, s, m, h or d)");
        bad("30m1h", "\"30m1h\": units must go from largest to smallest, each once (e.g. 1h30m)");
        bad("1h1h", "\"1h1h\": units must go from largest to smallest, each once (e.g. 1h30m)");
        bad("-5s", "\"-5s\": expected a duration like 30s, 15m, 1h30m, 2d or 500ms");
        bad("1 h", "\"1 h\": missing unit after 1 (expected ms, s, m, h or d)");
        bad("h", "\"h\": expected a duration like 30s, 15m, 1h30m, 2d or 500ms");
        bad("99999999999999999999d", "\"99999999999999999999d\": too large");
        bad("999999999999999d", "\"999999999999999d\": too large");
}

static void from_json(void **state) {
        (void) state;
        int64_t ms = 0;
        sked_err e = {0};
        json_t *v = json_integer(45);
        assert_int_equal(duration_from_json(v, "defaults.timeout", &ms, &e), 0);
        assert_int_equal(ms, 45000);
        json_decref(v);
        v = json_string("1x");
        assert_int_equal(duration_from_json(v, "defaults.timeout", &ms, &e), -EINVAL);
        assert_string_equal(e.msg, "defaults.timeout: \"1x\": unknown unit \"x\" (expected ms, s, m, h or d)");
        assert_string_equal(e.field, "defaults.timeout");
        json_decref(v);
        v = json_real(1.5);
        assert_int_equal(duration_from_json(v, "t", &ms, &e), -EINVAL);
        assert_string_equal(e.msg, "t: expected a duration (a string like \"30s\" or \"1h30m\", or whole seconds)");
        json_decref(v);
        v = json_integer(-1);
        assert_int_equal(duration_from_json(v, "t", &ms, &e), -EINVAL);
        json_decref(v);
}

static void format(void **state) {
        (void) state;
        char buf[32];
        static const char *const samples[] = {"0s", "500ms", "30s", "1h30m", "2d", "1d2h3m4s5ms", "7d"};
        for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
                duration_format(ok(samples[i]), buf, sizeof buf);
                assert_string_equal(buf, samples[i]);
        }
        duration_format(-1500, buf, sizeof buf);
        assert_string_equal(buf, "-1s500ms");
        duration_format(INT64_MIN, buf, sizeof buf);
        assert_true(strlen(buf) > 2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(parse_good),
                cmocka_unit_test(parse_bad),
                cmocka_unit_test(from_json),
                cmocka_unit_test(format),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
