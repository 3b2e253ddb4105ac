/* Test helpers: the store's unit tests run on every backend.  SQLite always (a
 * fresh file in a temp dir per case); PostgreSQL when SKED_TEST_PG names a
 * postgres:// URI (scripts/test sets it in its PostgreSQL pass): each case gets a
 * schema of its own in that database (search_path in the URI), dropped at the end,
 * so that cases and test programs running side by side do not meet.  Without
 * SKED_TEST_PG the PostgreSQL cases are skipped with a message.
 *
 * A test program lists each case twice with BACKEND_TESTS(fn): fn(void **state)
 * finds its store in ((backend_ctx *) *state)->st. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"

typedef struct backend_ctx {
        bool pg;
        char uri[1024];  /* what store_open takes */
        char dir[64];    /* SQLite: the temp dir */
        char schema[64]; /* PostgreSQL: the case's schema */
        store *st;       /* opened by the setup, at the newest schema version */
} backend_ctx;

/* The case's URI without opening a store (for store_open_at). */
static inline int backend_prepare(backend_ctx *c, bool pg) {
        static unsigned seq;
        memset(c, 0, sizeof *c);
        c->pg = pg;
        if (!pg) {
                snprintf(c->dir, sizeof c->dir, "/tmp/sked-store-test.XXXXXX");
                if (!mkdtemp(c->dir))
                        return -1;
                snprintf(c->uri, sizeof c->uri, "sqlite:%s/store.db", c->dir);
                return 0;
        }
        const char *base = getenv("SKED_TEST_PG");
        if (!base || !*base)
                return 1;
        snprintf(c->schema, sizeof c->schema, "sked_unit_%ld_%u", (long) getpid(), ++seq);
        db *d = NULL;
        sked_err err = {0};
        if (db_open(base, &d, &err) < 0)
                fail_msg("SKED_TEST_PG: %s", err.msg);
        char sql[160];
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", c->schema, c->schema);
        if (db_exec_script(d, sql, &err) < 0)
                fail_msg("%s: %s", sql, err.msg);
        db_close(d);
        snprintf(c->uri, sizeof c->uri, "%s%coptions=-csearch_path%%3D%s", base, strchr(base, '?') ? '&' : '?',
                 c->schema);
        return 0;
}

static inline void backend_cleanup(backend_ctx *c) {
        store_close(c->st);
        c->st = NULL;
        if (!c->pg) {
                char cmd[128];
                snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
                if (c->dir[0] && system(cmd) != 0)
                        print_message("could not remove %s\n", c->dir);
                return;
        }
        db *d = NULL;
        sked_err err = {0};
        if (db_open(getenv("SKED_TEST_PG"), &d, &err) == 0) {
                char sql[128];
                snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", c->schema);
                db_exec_script(d, sql, &err);
                db_close(d);
        }
}

static inline int backend_setup(void **state, bool pg, bool open) {
        backend_ctx *c = calloc(1, sizeof *c);
        assert_non_null(c);
        int r = backend_prepare(c, pg);
        if (r == 1) {
                free(c);
                *state = NULL;
                return 0; /* the case skips itself */
        }
        assert_int_equal(r, 0);
        if (open) {
                sked_err err = {0};
                if (store_open(c->uri, &c->st, &err) < 0)
                        fail_msg("store_open(%s): %s", c->uri, err.msg);
        }
        *state = c;
        return 0;
}

static inline int setup_sqlite(void **state) {
        return backend_setup(state, false, true);
}
static inline int setup_pg(void **state) {
        return backend_setup(state, true, true);
}
static inline int setup_sqlite_closed(void **state) {
        return backend_setup(state, false, false);
}
static inline int setup_pg_closed(void **state) {
        return backend_setup(state, true, false);
}

static inline int backend_teardown(void **state) {
        backend_ctx *c = *state;
        if (c) {
                backend_cleanup(c);
                free(c);
        }
        return 0;
}

/* The case's context; skips the case (with a message) when its backend is absent. */
static inline backend_ctx *backend_of(void **state) {
        if (!*state) {
                print_message("SKED_TEST_PG is not set: PostgreSQL case skipped\n");
                skip();
        }
        return *state;
}

#define BACKEND_TESTS(fn)                                                                                              \
        cmocka_unit_test_setup_teardown(fn, setup_sqlite, backend_teardown),                                           \
                cmocka_unit_test_setup_teardown(fn, setup_pg, backend_teardown)
/* The same, with no store opened by the setup (c->uri is ready). */
#define BACKEND_TESTS_CLOSED(fn)                                                                                       \
        cmocka_unit_test_setup_teardown(fn, setup_sqlite_closed, backend_teardown),                                    \
                cmocka_unit_test_setup_teardown(fn, setup_pg_closed, backend_teardown)

/* Runs sql (no parameters, ncol columns) and appends each row as one line, columns joined by
 * '|', NULL as "NULL"; fails the test on an error. */
static inline void dump_rows(db *d, const char *sql, int ncol, FILE *out) {
        db_stmt *st;
        sked_err err = {0};
        if (db_prepare(d, sql, &st, &err) < 0)
                fail_msg("%s: %s", sql, err.msg);
        int r;
        while ((r = db_step(st, &err)) == 1) {
                for (int i = 0; i < ncol; i++)
                        fprintf(out, "%s%s", i ? "|" : "", db_col_null(st, i) ? "NULL" : db_col_text(st, i));
                fputc('\n', out);
        }
        db_done(st);
        if (r < 0)
                fail_msg("%s: %s", sql, err.msg);
}
