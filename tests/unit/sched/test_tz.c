/* Unit tests of src/sched/tz.c: TZif parsing, footer rules, DST resolution. */
#include "testutil.h"

#include "sched/tz.h"

static const tz_zone *load(const char *name) {
        const tz_zone *z = NULL;
        sked_err e = {0};
        assert_int_equal(tz_load(name, &z, &e), 0);
        return z;
}

/* Resolves wall `w` in zone with policies; checks the instants (NULL = none). */
static void check_resolve(const tz_zone *z, const char *w, int gap, int rep, const char *a, const char *b) {
        sked_time out[2];
        int n = tz_resolve(z, W(w), gap, rep, out);
        assert_int_equal(n, (a != NULL) + (b != NULL));
        if (a)
                assert_time(out[0], a);
        if (b)
                assert_time(out[1], b);
}

static void utc_and_names(void **state) {
        (void) state;
        const tz_zone *u = load("UTC");
        assert_int_equal(tz_offset_at(u, T("2026-07-01T00:00:00Z")), 0);
        sked_time nt;
        assert_int_equal(tz_next_transition(u, 0, &nt), -ENOENT);
        assert_ptr_equal(load("UTC"), u); /* cached */

        const tz_zone *z;
        sked_err e = {0};
        assert_int_equal(tz_load("Foo/Bar", &z, &e), -ENOENT);
        assert_string_equal(e.msg, "time zone \"Foo/Bar\": not found in the tz database");
        assert_int_equal(tz_load("../../etc/passwd", &z, &e), -EINVAL);
        assert_int_equal(tz_load("/etc/passwd", &z, &e), -EINVAL);
        assert_int_equal(tz_load("America/../America/New_York", &z, &e), -EINVAL);
        assert_int_equal(tz_load("", &z, &e), -EINVAL);
        assert_int_equal(tz_load("America", &z, &e), -ENOENT); /* a directory */
        assert_int_equal(tz_load("zone1970.tab", &z, &e), -EBADMSG);

        char buf[16];
        tz_format_offset(37800, buf, sizeof buf);
        assert_string_equal(buf, "+10:30");
        tz_format_offset(-16200, buf, sizeof buf);
        assert_string_equal(buf, "-04:30");
        tz_format_offset(0, buf, sizeof buf);
        assert_string_equal(buf, "+00:00");
        tz_format_offset(-17762, buf, sizeof buf); /* New York LMT */
        assert_string_equal(buf, "-04:56:02");
}

static void new_york(void **state) {
        (void) state;
        const tz_zone *z = load("America/New_York");
        assert_int_equal(tz_offset_at(z, T("2026-03-08T06:59:59Z")), -5 * 3600);
        assert_int_equal(tz_offset_at(z, T("2026-03-08T07:00:00Z")), -4 * 3600);
        sked_time nt;
        assert_int_equal(tz_next_transition(z, T("2026-01-01T00:00:00Z"), &nt), 0);
        assert_time(nt, "2026-03-08T07:00:00Z");
        assert_int_equal(tz_next_transition(z, nt, &nt), 0);
        assert_time(nt, "2026-11-01T06:00:00Z");
        /* Far beyond the table: the POSIX footer rule. */
        assert_int_equal(tz_next_transition(z, T("2100-01-01T00:00:00Z"), &nt), 0);
        assert_time(nt, "2100-03-14T07:00:00Z");
        assert_int_equal(tz_next_transition(z, nt, &nt), 0);
        assert_time(nt, "2100-11-07T06:00:00Z");
        /* Before 1883: local mean time. */
        assert_int_equal(tz_offset_at(z, T("1800-01-01T00:00:00Z")), -17762);

        check_resolve(z, "2026-03-08T02:30:00", 0, 0, "2026-03-08T07:30:00Z", NULL);
        check_resolve(z, "2026-03-08T02:30:00", TZ_GAP_SHIFT, 0, "2026-03-08T07:30:00Z", NULL);
        check_resolve(z, "2026-03-08T02:30:00", TZ_GAP_SKIP, 0, NULL, NULL);
        check_resolve(z, "2026-03-08T03:00:00", TZ_GAP_SKIP, 0, "2026-03-08T07:00:00Z", NULL);
        check_resolve(z, "2026-03-08T01:59:59", TZ_GAP_SKIP, 0, "2026-03-08T06:59:59Z", NULL);
        check_resolve(z, "2026-11-01T01:30:00", 0, 0, "2026-11-01T05:30:00Z", NULL);
        check_resolve(z, "2026-11-01T01:30:00", 0, TZ_REPEAT_FIRST, "2026-11-01T05:30:00Z", NULL);
        check_resolve(z, "2026-11-01T01:30:00", 0, TZ_REPEAT_LAST, "2026-11-01T06:30:00Z", NULL);
        check_resolve(z, "2026-11-01T01:30:00", 0, TZ_REPEAT_BOTH, "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z");
        check_resolve(z, "2026-11-01T02:00:00", 0, TZ_REPEAT_BOTH, "2026-11-01T07:00:00Z", NULL);
        check_resolve(z, "2100-03-14T02:30:00", 0, 0, "2100-03-14T07:30:00Z", NULL);
        int kind;
        sked_time out[2];
        tz_resolve_ex(z, W("2026-03-08T02:30:00"), 0, 0, out, &kind);
        assert_int_equal(kind, 1);
        tz_resolve_ex(z, W("2026-11-01T01:00:00"), 0, 0, out, &kind);
        assert_int_equal(kind, 2);

        int64_t local;
        int32_t off;
        tz_local(z, T("2026-11-01T06:30:00Z"), &local, &off);
        assert_wall(local, "2026-11-01T01:30:00");
        assert_int_equal(off, -5 * 3600);
}

static void berlin(void **state) {
        (void) state;
        const tz_zone *z = load("Europe/Berlin");
        check_resolve(z, "2026-03-29T02:30:00", 0, 0, "2026-03-29T01:30:00Z", NULL);
        check_resolve(z, "2026-03-29T02:30:00", TZ_GAP_SKIP, 0, NULL, NULL);
        check_resolve(z, "2026-10-25T02:30:00", 0, TZ_REPEAT_BOTH, "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z");
        check_resolve(z, "2026-10-25T02:30:00", 0, TZ_REPEAT_LAST, "2026-10-25T01:30:00Z", NULL);
}

static void southern(void **state) {
        (void) state;
        const tz_zone *z = load("Australia/Sydney");
        check_resolve(z, "2026-04-05T02:30:00", 0, TZ_REPEAT_BOTH, "2026-04-04T15:30:00Z", "2026-04-04T16:30:00Z");
        check_resolve(z, "2026-10-04T02:30:00", 0, 0, "2026-10-03T16:30:00Z", NULL);
        z = load("America/Santiago");
        check_resolve(z, "2026-04-04T23:30:00", 0, TZ_REPEAT_BOTH, "2026-04-05T02:30:00Z", "2026-04-05T03:30:00Z");
        check_resolve(z, "2026-09-06T00:30:00", 0, 0, "2026-09-06T04:30:00Z", NULL);
        check_resolve(z, "2026-09-06T00:30:00", TZ_GAP_SKIP, 0, NULL, NULL);
}

static void lord_howe(void **state) {
        (void) state;
        const tz_zone *z = load("Australia/Lord_Howe");
        assert_int_equal(tz_offset_at(z, T("2026-06-01T00:00:00Z")), 37800);
        assert_int_equal(tz_offset_at(z, T("2026-12-01T00:00:00Z")), 39600);
        /* Fall back 02:00 +11 -> 01:30 +10:30: half an hour repeats. */
        check_resolve(z, "2026-04-05T01:45:00", 0, TZ_REPEAT_BOTH, "2026-04-04T14:45:00Z", "2026-04-04T15:15:00Z");
        check_resolve(z, "2026-04-05T01:29:00", 0, TZ_REPEAT_BOTH, "2026-04-04T14:29:00Z", NULL);
        /* Spring forward 02:00 +10:30 -> 02:30 +11: half an hour is missing. */
        check_resolve(z, "2026-10-04T02:15:00", 0, 0, "2026-10-03T15:45:00Z", NULL);
        check_resolve(z, "2026-10-04T02:15:00", TZ_GAP_SKIP, 0, NULL, NULL);
        check_resolve(z, "2026-10-04T02:30:00", TZ_GAP_SKIP, 0, "2026-10-03T15:30:00Z", NULL);
}

static void asuncion(void **state) {
        (void) state;
        /* tzdata 2024b+: Paraguay stays on -03 all year after 2024-10-15. */
        const tz_zone *z = load("America/Asuncion");
        sked_time nt;
        assert_int_equal(tz_next_transition(z, T("2024-09-01T00:00:00Z"), &nt), 0);
        assert_time(nt, "2024-10-06T04:00:00Z");
        assert_int_equal(tz_next_transition(z, nt, &nt), -ENOENT);
        assert_int_equal(tz_offset_at(z, T("2026-07-01T12:00:00Z")), -3 * 3600);
        assert_int_equal(tz_offset_at(z, T("2030-01-01T12:00:00Z")), -3 * 3600);
        check_resolve(z, "2025-03-22T23:30:00", 0, TZ_REPEAT_BOTH, "2025-03-23T02:30:00Z", NULL);
        check_resolve(z, "2024-03-23T23:30:00", 0, TZ_REPEAT_BOTH, "2024-03-24T02:30:00Z", "2024-03-24T03:30:00Z");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(utc_and_names), cmocka_unit_test(new_york),  cmocka_unit_test(berlin),
                cmocka_unit_test(southern),      cmocka_unit_test(lord_howe), cmocka_unit_test(asuncion),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        tz_cache_free();
        return r;
}
