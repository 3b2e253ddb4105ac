#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/table.h"

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
        (void)state;
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
        (void)state;
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
        (void)state;
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
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
