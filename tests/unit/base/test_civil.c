#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/civil.h"
#include "base/err.h"
#include "base/strbuf.h"

static void days_roundtrip(void **state) {
        (void) state;
        for (int64_t d = -800000; d <= 800000; d += 7) {
                int y, m, dd;
                civil_date_from_days(d, &y, &m, &dd);
                assert_int_equal(civil_days_from_date(y, m, dd), d);
        }
        assert_int_equal(civil_days_from_date(1970, 1, 1), 0);
        assert_int_equal(civil_days_from_date(2000, 3, 1), 11017);
        assert_int_equal(civil_weekday(civil_days_from_date(2026, 11, 22)), 0); /* a Sunday */
}

static void leap_and_months(void **state) {
        (void) state;
        assert_true(civil_is_leap(2024));
        assert_false(civil_is_leap(2100));
        assert_true(civil_is_leap(2000));
        assert_int_equal(civil_days_in_month(2024, 2), 29);
        assert_int_equal(civil_days_in_month(2025, 2), 28);
        civil c;
        assert_int_equal(civil_parse("2024-02-29T12:00:00", false, false, &c), 0);
        assert_int_equal(civil_parse("2025-02-29T12:00:00", false, false, &c), -EINVAL);
        assert_int_equal(civil_parse("2025-01-01T24:00:00", false, false, &c), -EINVAL);
        assert_int_equal(civil_parse("2025-01-01T10:00:00Z", false, false, &c), -EINVAL);
        assert_int_equal(civil_parse("2025-01-01T10:00:00Z", true, true, &c), 0);
}

static void utc_format_parse(void **state) {
        (void) state;
        sked_time t;
        char buf[32];
        assert_int_equal(time_parse_utc("2026-03-08T07:30:00Z", &t), 0);
        time_format_utc(t, buf, sizeof buf);
        assert_string_equal(buf, "2026-03-08T07:30:00Z");
        assert_int_equal(time_parse_utc("1969-12-31T23:59:59.5Z", &t), 0);
        assert_int_equal(t, -500000);
        time_format_utc(t, buf, sizeof buf);
        assert_string_equal(buf, "1969-12-31T23:59:59Z");
        assert_int_equal(time_parse_utc("2026-03-08T07:30:00", &t), -EINVAL);
}

/* The helpers the rule expanders, the feed and the calendar share. */
static void floor_and_wall(void **state) {
        (void) state;
        assert_int_equal(civil_floor_div(7, 2), 3);
        assert_int_equal(civil_floor_div(-7, 2), -4);
        assert_int_equal(civil_floor_div(-8, 2), -4);
        assert_int_equal(civil_floor_div(7, -2), -4);
        assert_int_equal(civil_floor_div(0, 5), 0);
        assert_int_equal(time_seconds(-1), -1);
        assert_int_equal(time_seconds(-SKED_USEC), -1);
        assert_int_equal(time_seconds(-SKED_USEC - 1), -2);
        assert_int_equal(time_seconds(SKED_USEC - 1), 0);
        char buf[32], *end;
        end = civil_put_wall(buf, civil_days_from_date(2026, 3, 8) * 86400 + 2 * 3600 + 30 * 60 + 5, false);
        *end = '\0';
        assert_string_equal(buf, "2026-03-08T02:30:05");
        end = civil_put_wall(buf, civil_days_from_date(2026, 3, 8) * 86400 + 2 * 3600 + 30 * 60 + 5, true);
        *end = '\0';
        assert_string_equal(buf, "20260308T023005");
        end = civil_put_wall(buf, -1, false); /* the last second before the epoch */
        *end = '\0';
        assert_string_equal(buf, "1969-12-31T23:59:59");
}

/* Microseconds written only when there are some, and read back exactly. */
static void utc_format_us(void **state) {
        (void) state;
        char buf[40];
        sked_time t, whole;
        assert_int_equal(time_parse_utc("2026-12-02T07:00:00Z", &whole), 0);
        time_format_utc_us(whole, buf, sizeof buf);
        assert_string_equal(buf, "2026-12-02T07:00:00Z");
        time_format_utc_us(whole + 250000, buf, sizeof buf);
        assert_string_equal(buf, "2026-12-02T07:00:00.250000Z");
        assert_int_equal(time_parse_utc(buf, &t), 0);
        assert_int_equal(t, whole + 250000);
        time_format_utc_us(-1, buf, sizeof buf); /* before the epoch: the fraction of the second before */
        assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
}

static void errors_and_strbuf(void **state) {
        (void) state;
        sked_err e = {0};
        assert_int_equal(err_field(&e, EINVAL, "BYHOUR", "must be 0..23"), -EINVAL);
        err_prefix(&e, "schedule");
        err_prefix(&e, "series");
        assert_string_equal(e.field, "series.schedule.BYHOUR");
        assert_string_equal(e.msg, "series.schedule.BYHOUR: must be 0..23");
        strbuf b = STRBUF_INIT;
        for (int i = 0; i < 1000; i++)
                strbuf_printf(&b, "%d,", i);
        assert_int_equal(strncmp(strbuf_str(&b), "0,1,2,", 6), 0);
        strbuf_free(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(days_roundtrip),   cmocka_unit_test(leap_and_months),
                cmocka_unit_test(utc_format_parse), cmocka_unit_test(floor_and_wall),
                cmocka_unit_test(utc_format_us),    cmocka_unit_test(errors_and_strbuf),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
