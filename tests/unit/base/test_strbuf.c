/* Unit tests of src/base/strbuf.c: valid UTF-8 text, and text cut to a byte limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/strbuf.h"

/* True when s is valid UTF-8 (no NUL, no overlong forms, no surrogates). */
static bool valid_utf8(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        while (*p) {
                int len = *p < 0x80             ? 1
                          : (*p & 0xe0) == 0xc0 ? 2
                          : (*p & 0xf0) == 0xe0 ? 3
                          : (*p & 0xf8) == 0xf0 ? 4
                                                : 0;
                if (len == 0 || (len == 2 && *p < 0xc2))
                        return false;
                for (int i = 1; i < len; i++)
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                p += len;
        }
        return true;
}

static char *cut(const char *s, size_t max, int *ret) {
        strbuf b = STRBUF_INIT;
        *ret = strbuf_append_utf8_max(&b, s, strlen(s), max);
        return strbuf_steal(&b);
}

static void fits_as_is(void **state) {
        (void) state;
        int r;
        char *s = cut("status", 64, &r);
        assert_int_equal(r, 0);
        assert_string_equal(s, "status");
        free(s);
        /* exactly the limit: no mark */
        s = cut("\xc3\xa9\xc3\xa9", 4, &r);
        assert_int_equal(r, 0);
        assert_string_equal(s, "\xc3\xa9\xc3\xa9");
        free(s);
}

/* Cut text never exceeds the limit, mark included, and never splits a character. */
static void cut_within_limit(void **state) {
        (void) state;
        static const char *const units[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff", "\xc3"};
        char in[4096];
        for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
                for (size_t max = 3; max <= 80; max++) {
                        in[0] = '\0';
                        while (strlen(in) + strlen(units[u]) < 300)
                                strcat(in, units[u]);
                        int r;
                        char *s = cut(in, max, &r);
                        if (strlen(s) > max || !valid_utf8(s))
                                fail_msg("unit %zu max %zu: %zu bytes, valid %d", u, max, strlen(s), valid_utf8(s));
                        assert_int_equal(r, 1);
                        size_t n = strlen(s);
                        assert_true(n >= 3 && !memcmp(s + n - 3, "\xe2\x80\xa6", 3));
                        /* nothing more fitted: one more unit would have passed the limit */
                        size_t unit = units[u][0] & 0x80 && strlen(units[u]) == 1 ? 3 : strlen(units[u]);
                        assert_true(n + unit > max);
                        free(s);
                }
        }
        /* invalid bytes become U+FFFD (3 bytes each) and count as such */
        int r;
        char *s = cut("ab\xff\xff\xff\xff", 8, &r);
        assert_int_equal(r, 1);
        assert_string_equal(s, "ab\xef\xbf\xbd\xe2\x80\xa6");
        free(s);
        s = cut("ab\xff", 8, &r);
        assert_int_equal(r, 0);
        assert_string_equal(s, "ab\xef\xbf\xbd");
        free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(fits_as_is),
                cmocka_unit_test(cut_within_limit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
