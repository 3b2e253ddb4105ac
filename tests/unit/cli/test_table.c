/* Unit tests of src/cli/table.c: alignment, and how the last column is cut (at 60
 * code points by default, to a width, or never). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/table.h"

/* The table printed with the given fit (TABLE_FIT_DEFAULT: not set). */
static char *print(size_t fit, const char *text) {
        static const char *const h[] = {"SEQ", "TEXT"};
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        table *t = table_new(2, h);
        assert_non_null(f);
        assert_non_null(t);
        if (fit != TABLE_FIT_DEFAULT)
                table_set_fit(t, fit);
        assert_int_equal(table_add(t, (const char *const[]){"1", text}), 0);
        table_print(t, f);
        table_free(t);
        fclose(f);
        return buf;
}

static void test_fit(void **state) {
        (void)state;
        char text[201];
        memset(text, 'x', 200);
        text[200] = '\0';
        char want[512];

        /* default: cut at 60 code points, the 60th an ellipsis */
        char *s = print(TABLE_FIT_DEFAULT, text);
        snprintf(want, sizeof want, "SEQ  TEXT\n1    %.59s\xe2\x80\xa6\n", text);
        assert_string_equal(s, want);
        free(s);

        /* 0: never cut (a pipe) */
        s = print(0, text);
        snprintf(want, sizeof want, "SEQ  TEXT\n1    %s\n", text);
        assert_string_equal(s, want);
        free(s);

        /* a width: the row fits in it exactly (5 for "1    ", 95 for the text) */
        s = print(100, text);
        snprintf(want, sizeof want, "SEQ  TEXT\n1    %.94s\xe2\x80\xa6\n", text);
        assert_string_equal(s, want);
        free(s);

        /* a short text is left alone; a tiny width still leaves TABLE_FIT_MIN */
        s = print(100, "short");
        assert_string_equal(s, "SEQ  TEXT\n1    short\n");
        free(s);
        s = print(8, text);
        snprintf(want, sizeof want, "SEQ  TEXT\n1    %.*s\xe2\x80\xa6\n", TABLE_FIT_MIN - 1, text);
        assert_string_equal(s, want);
        free(s);

        /* cut at a code point, control characters as spaces */
        s = print(10,
                  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                  "\xc3\xa9\tz");
        assert_string_equal(
                s,
                "SEQ  TEXT\n1    "
                "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                "\xe2\x80\xa6\n");
        free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
