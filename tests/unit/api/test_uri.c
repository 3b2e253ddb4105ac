/* api/uri: the request target, checked and decoded strictly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "api/uri.h"

static void check_accepts(void **state) {
        (void) state;
        static const char *const ok[] = {
                "/",
                "/api/v1/series",
                "/api/v1/series/a%2Fb%20c/occurrences",
                "/api/v1/calendar?series=1,2,3&tz=Europe/Berlin&from=2026-01-01T00:00:00Z",
                "/api/v1/query?q=a+b&flag&x=?y",
                "/x/-._~!$&'()*+,;=:@",
        };
        for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
                size_t off = 99;
                const char *why = NULL;
                if (uri_check(ok[i], &off, &why) != 0)
                        fail_msg("\"%s\" refused at %zu: %s", ok[i], off, why);
        }
}

static void check_refuses(void **state) {
        (void) state;
        static const struct {
                const char *raw;
                size_t off;
                const char *why;
        } bad[] = {
                {"*", 0, "origin form"},
                {"http://h/x", 0, "origin form"},
                {"/a b", 2, "not allowed unescaped in a path"},
                {"/a\xe9", 2, "in a path"},
                {"/a%zz", 2, "two hex digits"},
                {"/a%4", 2, "two hex digits"},
                {"/a?b=%", 5, "two hex digits"},
                {"/a?b=\"x\"", 5, "in a query"},
                {"/a#frag", 2, "in a path"},
                {"/a?b={}", 5, "in a query"},
                {"/a\\b", 2, "in a path"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                size_t off = 99;
                const char *why = NULL;
                assert_int_equal(uri_check(bad[i].raw, &off, &why), -EINVAL);
                assert_int_equal(off, bad[i].off);
                if (!strstr(why, bad[i].why))
                        fail_msg("\"%s\": \"%s\" does not say \"%s\"", bad[i].raw, why, bad[i].why);
        }
}

static void unescape(void **state) {
        (void) state;
        const char *why = NULL;
        char s[64];
        snprintf(s, sizeof s, "a%%20b%%2Fc+d");
        assert_int_equal(uri_unescape(s, false, &why), 0);
        assert_string_equal(s, "a b/c+d"); /* '+' is itself in a path */
        snprintf(s, sizeof s, "a%%20b%%2Bc+d%%26");
        assert_int_equal(uri_unescape(s, true, &why), 0);
        assert_string_equal(s, "a b+c d&"); /* in a query it is a space */
        snprintf(s, sizeof s, "%%C3%%A9t%%C3%%A9");
        assert_int_equal(uri_unescape(s, false, &why), 0);
        assert_string_equal(s, "\xc3\xa9t\xc3\xa9");

        static const struct {
                const char *in, *why;
        } bad[] = {
                {"10%00junk", "control character"}, {"%ff", "not valid UTF-8"},       {"a%0ab", "control character"},
                {"%C0%AF", "not valid UTF-8"},      {"%ED%A0%80", "not valid UTF-8"}, {"%C2%85", "control character"},
                {"%7F", "control character"},       {"%e9", "not valid UTF-8"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                snprintf(s, sizeof s, "%s", bad[i].in);
                why = NULL;
                assert_int_equal(uri_unescape(s, true, &why), -EILSEQ);
                if (!why || !strstr(why, bad[i].why))
                        fail_msg("\"%s\": \"%s\" does not say \"%s\"", bad[i].in, why ? why : "(null)", bad[i].why);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(check_accepts),
                cmocka_unit_test(check_refuses),
                cmocka_unit_test(unescape),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
