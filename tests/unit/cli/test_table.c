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
        (void) state;
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
        s = print(10, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                      "\xc3\xa9\tz");
        assert_string_equal(s, "SEQ  TEXT\n1    "
                               "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                               "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                               "\xe2\x80\xa6\n");
        free(s);
}

static char *render(const table *t) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_non_null(f);
        table_print(t, f);
        fclose(f);
        return buf;
}

static void test_alignment(void **state) {
        (void) state;
        const char *headers[] = {"ID", "NAME", "STATE"};
        table *t = table_new(3, headers);
        assert_non_null(t);
        assert_int_equal(table_add(t, (const char *[]){"1", "backup", "active"}), 0);
        assert_int_equal(table_add(t, (const char *[]){"1234", "zürich-report", NULL}), 0);
        assert_int_equal(table_add(t, (const char *[]){"7", "a\tb\nc", "paused"}), 0);
        char *out = render(t);
        assert_string_equal(out, "ID    NAME           STATE\n"
                                 "1     backup         active\n"
                                 "1234  zürich-report  \n"
                                 "7     a b c          paused\n");
        free(out);
        table_free(t);
}

static void test_truncation(void **state) {
        (void) state;
        char longcell[200];
        memset(longcell, 'x', 100);
        longcell[100] = '\0';
        /* 70 code points of 2 bytes each */
        char wide[200] = "";
        for (int i = 0; i < 70; i++)
                strcat(wide, "\xc3\xa9"); /* é */
        table *t = table_new(2, (const char *[]){"A", "B"});
        assert_non_null(t);
        assert_int_equal(table_add(t, (const char *[]){longcell, "end"}), 0);
        assert_int_equal(table_add(t, (const char *[]){wide, "e"}), 0);
        char *out = render(t);

        char expect[1024] = "A";
        for (int i = 0; i < 61; i++)
                strcat(expect, " ");
        strcat(expect, "B\n");
        size_t at = strlen(expect);
        snprintf(expect + at, sizeof expect - at, "%.59s", longcell);
        strcat(expect, "\xe2\x80\xa6  end\n");
        for (int i = 0; i < 59; i++)
                strcat(expect, "\xc3\xa9");
        strcat(expect, "\xe2\x80\xa6  e\n");
        assert_string_equal(out, expect);
        free(out);
        table_free(t);
        table_free(NULL);
}

static void test_exactly_sixty_kept(void **state) {
        (void) state;
        char cell[61];
        memset(cell, 'y', 60);
        cell[60] = '\0';
        table *t = table_new(1, (const char *[]){"H"});
        assert_int_equal(table_add(t, (const char *[]){cell}), 0);
        char *out = render(t);
        char expect[80];
        snprintf(expect, sizeof expect, "H\n%s\n", cell);
        assert_string_equal(out, expect);
        free(out);
        table_free(t);
        assert_null(table_new(0, NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_alignment),
                cmocka_unit_test(test_truncation),
                cmocka_unit_test(test_exactly_sixty_kept),
                cmocka_unit_test(test_fit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
