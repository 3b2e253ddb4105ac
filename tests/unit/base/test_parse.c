/* base/parse: checked integer parsing; ret is written only on success. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/parse.h"

static void accepts_whole_numbers(void **state) {
        (void) state;
        int64_t v = 0;
        assert_int_equal(parse_int64("0", INT64_MIN, INT64_MAX, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(parse_int64("42", 0, 100, &v), 0);
        assert_int_equal(v, 42);
        assert_int_equal(parse_int64("-17", -20, 0, &v), 0);
        assert_int_equal(v, -17);
        assert_int_equal(parse_int64("+5", 0, 10, &v), 0);
        assert_int_equal(v, 5);
        assert_int_equal(parse_int64("007", 0, 10, &v), 0);
        assert_int_equal(v, 7);
        assert_int_equal(parse_int64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
        assert_true(v == INT64_MAX);
        assert_int_equal(parse_int64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
        assert_true(v == INT64_MIN);
}

static void refuses_text_and_leaves_ret(void **state) {
        (void) state;
        static const char *const bad[] = {"", " 1", "1 ", "12abc", "abc", "0x10", "-", "+", "1.5", "1e3", "--1", "١"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                int64_t v = 1234;
                assert_int_equal(parse_int64(bad[i], INT64_MIN, INT64_MAX, &v), -EINVAL);
                assert_int_equal(v, 1234);
        }
        int64_t v = 1234;
        assert_int_equal(parse_int64(NULL, 0, 1, &v), -EINVAL);
        assert_int_equal(v, 1234);
}

static void refuses_out_of_range(void **state) {
        (void) state;
        int64_t v = 99;
        assert_int_equal(parse_int64("9223372036854775808", INT64_MIN, INT64_MAX, &v), -ERANGE);
        assert_int_equal(parse_int64("-9223372036854775809", INT64_MIN, INT64_MAX, &v), -ERANGE);
        assert_int_equal(parse_int64("99999999999999999999999", INT64_MIN, INT64_MAX, &v), -ERANGE);
        assert_int_equal(parse_int64("11", 1, 10, &v), -ERANGE);
        assert_int_equal(parse_int64("0", 1, 10, &v), -ERANGE);
        assert_int_equal(v, 99);
        /* a non-number beats a range error: "12abc" is not "too big" */
        assert_int_equal(parse_int64("99999999999999999999x", 0, 1, &v), -EINVAL);
}

static void int_and_id(void **state) {
        (void) state;
        int i = 5;
        assert_int_equal(parse_int("2147483647", 0, INT32_MAX, &i), 0);
        assert_int_equal(i, 2147483647);
        i = 5;
        assert_int_equal(parse_int("2147483648", 0, INT32_MAX, &i), -ERANGE);
        assert_int_equal(i, 5);
        int64_t id = 7;
        assert_int_equal(parse_id("0", &id), -ERANGE);
        assert_int_equal(parse_id("-3", &id), -ERANGE);
        assert_int_equal(parse_id("3x", &id), -EINVAL);
        assert_int_equal(id, 7);
        assert_int_equal(parse_id("123456789012345678", &id), 0);
        assert_true(id == 123456789012345678LL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(accepts_whole_numbers),
                cmocka_unit_test(refuses_text_and_leaves_ret),
                cmocka_unit_test(refuses_out_of_range),
                cmocka_unit_test(int_and_id),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
