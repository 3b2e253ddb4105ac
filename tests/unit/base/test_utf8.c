/* base/utf8: sequences and text (what the HTTP API accepts in names and values). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/utf8.h"

static size_t seq(const char *s) {
        return utf8_seq((const unsigned char *) s, strlen(s));
}

static void sequences(void **state) {
        (void) state;
        assert_int_equal(seq("a"), 1);
        assert_int_equal(seq("\xc3\xa9"), 2);         /* é */
        assert_int_equal(seq("\xe2\x82\xac"), 3);     /* € */
        assert_int_equal(seq("\xf0\x9f\x98\x80"), 4); /* 😀 */
        assert_int_equal(seq("\xf4\x8f\xbf\xbf"), 4); /* U+10FFFF */
        assert_int_equal(seq("\xc3"), 0);             /* cut short */
        assert_int_equal(seq("\x80"), 0);             /* a stray continuation byte */
        assert_int_equal(seq("\xc0\xaf"), 0);         /* overlong '/' */
        assert_int_equal(seq("\xe0\x80\xaf"), 0);     /* overlong '/' */
        assert_int_equal(seq("\xed\xa0\x80"), 0);     /* a surrogate */
        assert_int_equal(seq("\xf4\x90\x80\x80"), 0); /* beyond U+10FFFF */
        assert_int_equal(seq("\xff"), 0);
        assert_int_equal(utf8_seq((const unsigned char *) "", 1), 0); /* NUL */
}

static void text(void **state) {
        (void) state;
        size_t off = 99;
        static const char ok[] = "Europe/Berlin é € 😀 a b+c&d";
        assert_true(utf8_is_text(ok, strlen(ok), &off));
        assert_int_equal(off, 99); /* not written on success */
        assert_true(utf8_is_text("", 0, NULL));
        static const struct {
                const char *s;
                size_t n, off;
        } bad[] = {
                {"ab\xff", 3, 2},   {"10\0junk", 7, 2},     {"a\nb", 3, 1},
                {"a\tb", 3, 1},     {"\x7f", 1, 0},         {"x\xc2\x85", 3, 1}, /* NEL, a C1 control */
                {"\xc2\x9f", 2, 0}, {"\xed\xbf\xbf", 3, 0},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                off = 99;
                assert_false(utf8_is_text(bad[i].s, bad[i].n, &off));
                assert_int_equal(off, bad[i].off);
        }
        assert_true(utf8_is_text("\xc2\xa0", 2, NULL)); /* NBSP: the first after C1 */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(sequences),
                cmocka_unit_test(text),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
