/* The db driver on both backends: the statement cache keeps every statement (no
 * ceiling) and never moves one a caller holds; savepoints (db_begin nested), which
 * PostgreSQL's backend holds back and sends with the next statement; pipelines
 * (db_send), which it sends without waiting. */
#include <errno.h>

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

static const char *const insert_sql = "INSERT INTO t(k) VALUES($1)";

static int insert_k(db *d, int64_t k, sked_err *err) {
        db_stmt *st = NULL;
        int r = db_prepare(d, insert_sql, &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, k);
        return db_run(st, err);
}

/* The keys in t, in order, as "1,5" */
static void keys_of(db *d, char *buf, size_t size) {
        db_stmt *st = NULL;
        sked_err err = {0};
        if (db_prepare(d, "SELECT k FROM t ORDER BY k", &st, &err) < 0)
                fail_msg("select: %s", err.msg);
        buf[0] = '\0';
        int r;
        while ((r = db_step(st, &err)) == 1)
                snprintf(buf + strlen(buf), size - strlen(buf), "%s%lld", buf[0] ? "," : "",
                         (long long) db_col_int(st, 0));
        assert_int_equal(r, 0);
        db_done(st);
}

/* Savepoints keep or undo exactly their own work: nested, empty (PostgreSQL sends
 * nothing for them), and after a statement that failed inside one. */
static void savepoints_nest(void **state) {
        backend_ctx *c = backend_of(state);
        db *d = NULL;
        sked_err err = {0};
        char keys[64];
        if (db_open(c->uri, &d, &err) < 0)
                fail_msg("db_open: %s", err.msg);
        assert_int_equal(db_exec_script(d, "CREATE TABLE t(k INTEGER PRIMARY KEY)", &err), 0);
        assert_int_equal(db_begin(d, &err), 0);

        assert_int_equal(db_begin(d, &err), 0); /* kept */
        assert_int_equal(insert_k(d, 1, &err), 0);
        assert_int_equal(db_commit(d, &err), 0);
        assert_int_equal(db_begin(d, &err), 0); /* empty, undone */
        db_rollback(d);
        assert_int_equal(db_begin(d, &err), 0); /* empty, kept */
        assert_int_equal(db_commit(d, &err), 0);
        assert_int_equal(db_begin(d, &err), 0); /* undone */
        assert_int_equal(insert_k(d, 2, &err), 0);
        db_rollback(d);
        keys_of(d, keys, sizeof keys);
        assert_string_equal(keys, "1");

        /* a statement that fails in its savepoint: its code, and the transaction goes on */
        assert_int_equal(db_begin(d, &err), 0);
        assert_int_equal(insert_k(d, 3, &err), 0);
        assert_int_equal(insert_k(d, 1, &err), -EEXIST);
        db_rollback(d);
        assert_int_equal(db_begin(d, &err), 0); /* failing first: the savepoint went with it */
        assert_int_equal(insert_k(d, 1, &err), -EEXIST);
        db_rollback(d);

        /* nested: an inner savepoint kept, its outer one undone; an inner one undone,
         * its outer one kept; three held back at once */
        assert_int_equal(db_begin(d, &err), 0);
        assert_int_equal(db_begin(d, &err), 0);
        assert_int_equal(insert_k(d, 4, &err), 0);
        assert_int_equal(db_commit(d, &err), 0);
        db_rollback(d);
        assert_int_equal(db_begin(d, &err), 0);
        assert_int_equal(db_begin(d, &err), 0);
        assert_int_equal(db_begin(d, &err), 0);
        assert_int_equal(insert_k(d, 5, &err), 0);
        db_rollback(d);
        assert_int_equal(db_commit(d, &err), 0);
        assert_int_equal(insert_k(d, 6, &err), 0);
        assert_int_equal(db_commit(d, &err), 0);
        keys_of(d, keys, sizeof keys);
        assert_string_equal(keys, "1,6");

        assert_int_equal(db_commit(d, &err), 0);
        keys_of(d, keys, sizeof keys);
        assert_string_equal(keys, "1,6");

        /* the transaction itself undone: its kept savepoints with it */
        assert_int_equal(db_begin(d, &err), 0);
        assert_int_equal(db_begin(d, &err), 0);
        assert_int_equal(insert_k(d, 7, &err), 0);
        assert_int_equal(db_commit(d, &err), 0);
        db_rollback(d);
        keys_of(d, keys, sizeof keys);
        assert_string_equal(keys, "1,6");

        if (c->pg) {
                /* a statement that failed outside any savepoint aborts a PostgreSQL
                 * transaction: a savepoint held back then fails with the statement it
                 * went with, and the commit fails */
                assert_int_equal(db_begin(d, &err), 0);
                assert_int_equal(insert_k(d, 1, &err), -EEXIST);
                assert_int_equal(db_begin(d, &err), 0);
                err = (sked_err){0};
                assert_true(insert_k(d, 8, &err) < 0);
                assert_non_null(strstr(err.msg, "aborted"));
                db_rollback(d);
                assert_true(db_commit(d, &err) < 0);
                keys_of(d, keys, sizeof keys);
                assert_string_equal(keys, "1,6");
        }
        db_close(d);
}

static const char *const insert_ret_sql = "INSERT INTO t(k) VALUES($1) RETURNING k * 10";

static void got_row(db_stmt *st, void *ud) {
        int64_t *slot = ud;
        *slot = db_col_int(st, 0);
}

static int send_k(db *d, int64_t k, int64_t *ret, sked_err *err) {
        db_stmt *st = NULL;
        int r = db_prepare(d, insert_ret_sql, &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, k);
        return db_send(st, got_row, ret, err);
}

/* A pipeline: statements sent without waiting, their rows delivered by the end
 * (past the intermediate syncs, and around a read in the middle); all of it kept,
 * or none when one of them failed. */
static void pipeline_all_or_nothing(void **state) {
        backend_ctx *c = backend_of(state);
        db *d = NULL;
        sked_err err = {0};
        char keys[64];
        if (db_open(c->uri, &d, &err) < 0)
                fail_msg("db_open: %s", err.msg);
        assert_int_equal(db_exec_script(d, "CREATE TABLE t(k INTEGER PRIMARY KEY)", &err), 0);

        /* outside a pipeline: at once */
        int64_t got = 0;
        assert_int_equal(send_k(d, 1, &got, &err), 0);
        assert_int_equal(got, 10);
        assert_int_equal(send_k(d, 1, &got, &err), -EEXIST);

        enum { N = 600 }; /* more than the commands the PostgreSQL backend sends before reading */
        static int64_t rows[N];
        memset(rows, 0, sizeof rows);
        assert_int_equal(db_begin(d, &err), 0);
        assert_int_equal(db_pipeline_begin(d, &err), 0);
        for (int i = 0; i < N; i++) {
                assert_int_equal(send_k(d, 100 + i, &rows[i], &err), 0);
                if (i == N / 2) { /* a read in the middle sees what was sent before it */
                        db_stmt *st = NULL;
                        assert_int_equal(db_prepare(d, "SELECT count(*) FROM t", &st, &err), 0);
                        assert_int_equal(db_step(st, &err), 1);
                        assert_int_equal(db_col_int(st, 0), 1 + N / 2 + 1);
                        db_done(st);
                }
        }
        assert_int_equal(db_pipeline_end(d, 0, &err), 0);
        for (int i = 0; i < N; i++)
                assert_int_equal(rows[i], (100 + i) * 10);

        /* one fails: none of the pipeline stays, and the transaction goes on */
        assert_int_equal(db_pipeline_begin(d, &err), 0);
        assert_int_equal(send_k(d, 2, &got, &err), 0);
        int r = send_k(d, 1, &got, &err); /* PostgreSQL: told at the end */
        assert_true(r == 0 || r == -EEXIST);
        if (r == 0) {
                assert_int_equal(send_k(d, 3, &got, &err), 0);
                err = (sked_err){0}; /* the failure comes from db_pipeline_end */
        }
        assert_int_equal(db_pipeline_end(d, r, &err), -EEXIST);
        assert_non_null(strstr(err.msg, "database"));
        /* refused by its caller: the same */
        assert_int_equal(db_pipeline_begin(d, &err), 0);
        assert_int_equal(send_k(d, 4, &got, &err), 0);
        assert_int_equal(db_pipeline_end(d, -EINVAL, &err), -EINVAL);
        assert_int_equal(send_k(d, 5, &got, &err), 0); /* the transaction goes on */
        assert_int_equal(db_commit(d, &err), 0);

        db_stmt *st = NULL;
        assert_int_equal(db_prepare(d, "SELECT count(*), min(k), max(k) FROM t", &st, &err), 0);
        assert_int_equal(db_step(st, &err), 1);
        assert_int_equal(db_col_int(st, 0), 1 + N + 1);
        assert_int_equal(db_col_int(st, 1), 1);
        assert_int_equal(db_col_int(st, 2), 100 + N - 1);
        db_done(st);
        keys_of(d, keys, sizeof keys); /* (only its start fits) */
        assert_int_equal(strncmp(keys, "1,5,100,101", 11), 0);
        db_close(d);
}

/* PostgreSQL: the session ends in the middle of a pipeline (the server terminates
 * it): db_pipeline_end fails at once, nothing of it stays, and the next
 * transaction runs on a new session. */
static void pipeline_connection_lost(void **state) {
        backend_ctx *c = backend_of(state);
        if (!c->pg) {
                print_message("PostgreSQL only\n");
                skip();
        }
        db *d = NULL, *killer = NULL;
        sked_err err = {0};
        if (db_open(c->uri, &d, &err) < 0 || db_open(c->uri, &killer, &err) < 0)
                fail_msg("db_open: %s", err.msg);
        assert_int_equal(db_exec_script(d, "CREATE TABLE t(k INTEGER PRIMARY KEY)", &err), 0);
        db_stmt *st = NULL;
        assert_int_equal(db_prepare(d, "SELECT pg_backend_pid()", &st, &err), 0);
        assert_int_equal(db_step(st, &err), 1);
        int64_t pid = db_col_int(st, 0);
        db_done(st);
        uint64_t gen = db_generation(d);

        int64_t got[4] = {0};
        assert_int_equal(db_begin(d, &err), 0);
        assert_int_equal(db_pipeline_begin(d, &err), 0);
        assert_int_equal(send_k(d, 1, &got[0], &err), 0);
        assert_int_equal(send_k(d, 2, &got[1], &err), 0);
        assert_int_equal(
                db_prepare(killer, "SELECT CAST(pg_terminate_backend(CAST($1 AS INTEGER)) AS INTEGER)", &st, &err), 0);
        db_bind_int(st, 1, pid);
        assert_int_equal(db_step(st, &err), 1);
        assert_true(db_col_int(st, 0) != 0);
        db_done(st);
        usleep(100 * 1000);          /* the backend is gone */
        send_k(d, 3, &got[2], &err); /* may fail at once, or in db_pipeline_end */
        err = (sked_err){0};
        assert_true(db_pipeline_end(d, 0, &err) < 0);
        assert_non_null(strstr(err.msg, "database"));
        db_rollback(d);

        assert_int_equal(db_begin(d, &err), 0); /* a new session */
        assert_true(db_generation(d) != gen);
        assert_int_equal(insert_k(d, 4, &err), 0);
        assert_int_equal(db_commit(d, &err), 0);
        char keys[64];
        keys_of(d, keys, sizeof keys);
        assert_string_equal(keys, "4");
        db_close(killer);
        db_close(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                BACKEND_TESTS_CLOSED(cache_keeps_handles),
                BACKEND_TESTS_CLOSED(savepoints_nest),
                BACKEND_TESTS_CLOSED(pipeline_all_or_nothing),
                BACKEND_TESTS_CLOSED(pipeline_connection_lost),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
