/* schedcache: lookups by (series, version) across growth and edits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/schedcache.h"

static schedule *make(void) {
        schedule *s = NULL;
        schedule_opts o = {.tz = "UTC", .anchor = 0};
        assert_int_equal(schedule_parse("every 1m", &o, &s, NULL), 0);
        return s;
}

static void many_series_and_edits(void **state) {
        (void) state;
        schedcache c = {0};
        enum { N = 50000 };
        static schedule *kept[N + 1];
        for (int64_t id = 1; id <= N; id++) {
                kept[id] = make();
                assert_int_equal(schedcache_put(&c, id * 7919, 1, kept[id]), 0);
        }
        assert_int_equal(c.n, N);
        for (int64_t id = 1; id <= N; id++)
                assert_ptr_equal(schedcache_get(&c, id * 7919, 1), kept[id]);
        assert_null(schedcache_get(&c, 3, 1)); /* never cached */
        /* an edited series: the old rule is dropped, the new one replaces it in place */
        assert_null(schedcache_get(&c, 7919 * 5, 2));
        schedule *fresh = make();
        assert_int_equal(schedcache_put(&c, 7919 * 5, 2, fresh), 0);
        assert_ptr_equal(schedcache_get(&c, 7919 * 5, 2), fresh);
        assert_int_equal(c.n, N);
        schedcache_clear(&c);
        assert_int_equal(c.n, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {cmocka_unit_test(many_series_and_edits)};
        return cmocka_run_group_tests(tests, NULL, NULL);
}
