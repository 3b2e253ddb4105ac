/* The db driver on both backends: the statement cache keeps every statement (no
 * ceiling) and never moves one a caller holds. */
#include "backends.h"

#define NSTMT 300

static void cache_keeps_handles(void **state) {
        backend_ctx *c = backend_of(state);
        db *d = NULL;
        sked_err err = {0};
        if (db_open(c->uri, &d, &err) < 0)
                fail_msg("db_open: %s", err.msg);
        /* NSTMT distinct texts at NSTMT addresses (the cache's key is the address) */
        static char texts[NSTMT][48];
        db_stmt *first = NULL, *again = NULL;
        int64_t held = 1000; /* the row the first statement is on */
        for (int i = 0; i < NSTMT; i++) {
                snprintf(texts[i], sizeof texts[i], "SELECT %d + CAST($1 AS INTEGER)", i);
                db_stmt *st = NULL;
                if (db_prepare(d, texts[i], &st, &err) < 0)
                        fail_msg("statement %d: %s", i + 1, err.msg);
                db_bind_int(st, 1, 1000);
                assert_int_equal(db_step(st, &err), 1);
                assert_int_equal(db_col_int(st, 0), 1000 + i);
                if (i == 0) {
                        first = st; /* held, not done, while the others are prepared */
                        continue;
                }
                db_done(st);
                /* the first handle still works, mid-way and at the end */
                if (i == NSTMT / 2 || i == NSTMT - 1) {
                        assert_int_equal(db_col_int(first, 0), held);
                        assert_int_equal(db_step(first, &err), 0);
                        db_done(first);
                        db_bind_int(first, 1, held = i);
                        assert_int_equal(db_step(first, &err), 1);
                        assert_int_equal(db_col_int(first, 0), i);
                }
        }
        db_done(first);
        /* prepared again: the same statement, at the same address */
        assert_int_equal(db_prepare(d, texts[0], &again, &err), 0);
        assert_ptr_equal(again, first);
        db_bind_int(again, 1, 41);
        assert_int_equal(db_step(again, &err), 1);
        assert_int_equal(db_col_int(again, 0), 41);
        db_done(again);
        for (int i = 0; i < NSTMT; i += 37) {
                db_stmt *st = NULL;
                assert_int_equal(db_prepare(d, texts[i], &st, &err), 0);
                db_bind_int(st, 1, 0);
                assert_int_equal(db_step(st, &err), 1);
                assert_int_equal(db_col_int(st, 0), i);
                db_done(st);
        }
        db_close(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                BACKEND_TESTS_CLOSED(cache_keeps_handles),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
