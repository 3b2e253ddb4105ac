/* base/prom: the Prometheus text format's escaping, numbers and histograms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/prom.h"

static void escapes_label_values(void **state) {
        (void) state;
        strbuf b = STRBUF_INIT;
        prom_label_value(&b, "a\"b\\c\nd");
        assert_string_equal(strbuf_str(&b), "a\\\"b\\\\c\\nd");
        strbuf_reset(&b);
        prom_label_value(&b, NULL);
        assert_string_equal(strbuf_str(&b), "");
        strbuf_free(&b);
}

static void numbers_read_back_shortest(void **state) {
        (void) state;
        strbuf b = STRBUF_INIT;
        prom_sample(&b, "x", NULL, 0.005);
        prom_sample(&b, "x", "a=\"1\"", 3);
        prom_sample(&b, "x", "", 0.1 + 0.2); /* 0.30000000000000004: needs 17 digits */
        prom_sample(&b, "x", NULL, 1e300);
        assert_string_equal(strbuf_str(&b), "x 0.005\nx{a=\"1\"} 3\nx 0.30000000000000004\nx 1e+300\n");
        strbuf_free(&b);
}

static void histogram_buckets_are_cumulative(void **state) {
        (void) state;
        static const double bounds[] = {0.1, 1};
        prom_histogram h;
        prom_histogram_init(&h, bounds, 2);
        prom_observe(&h, 0.05);
        prom_observe(&h, 0.1); /* on the bound: counted in it (le) */
        prom_observe(&h, 0.5);
        prom_observe(&h, 7);
        prom_observe(&h, -1); /* a clock that went back counts as 0 */
        strbuf b = STRBUF_INIT;
        prom_histogram_write(&b, "h_seconds", "type=\"t\"", &h);
        assert_string_equal(strbuf_str(&b), "h_seconds_bucket{type=\"t\",le=\"0.1\"} 3\n"
                                            "h_seconds_bucket{type=\"t\",le=\"1\"} 4\n"
                                            "h_seconds_bucket{type=\"t\",le=\"+Inf\"} 5\n"
                                            "h_seconds_sum{type=\"t\"} 7.65\n"
                                            "h_seconds_count{type=\"t\"} 5\n");
        strbuf_reset(&b);
        prom_histogram_write(&b, "h", NULL, &h);
        assert_non_null(strstr(strbuf_str(&b), "h_bucket{le=\"+Inf\"} 5\n"));
        strbuf_free(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(escapes_label_values),
                cmocka_unit_test(numbers_read_back_shortest),
                cmocka_unit_test(histogram_buckets_are_cumulative),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
