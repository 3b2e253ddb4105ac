/* Writes through the loop (engine_write): requests of one turn each run in their
 * own savepoint, so one that fails changes nothing and does not fail the others;
 * a caller hears success only after the turn committed.  A real SQLite file (or
 * PostgreSQL with SKED_TEST_PG=postgres://...), real threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine_internal.h"
#include "store/wal.h"
#include "sqlite_at.h"

static char dbpath[256], uri[300];
static engine *eng;

static void unlink_db(void) {
        sql_unlink_at(dbpath);
}

static int setup(void **state) {
        (void) state;
        const char *pg = getenv("SKED_TEST_PG");
        snprintf(dbpath, sizeof dbpath, "/tmp/sked-write-test-%d.db", (int) getpid());
        unlink_db();
        if (pg && *pg)
                snprintf(uri, sizeof uri, "%s", pg);
        else
                snprintf(uri, sizeof uri, "sqlite:%s", dbpath);
        engine_config cfg = {.store_uri = uri, .workers = 1};
        sked_err err = {0};
        if (engine_new(&cfg, &eng, &err) < 0)
                fail_msg("engine_new: %s", err.msg);
        json_t *def = json_pack("{s:s, s:{s:[s]}}", "name", "t.write", "handler", "command", "/bin/true");
        if (engine_type_register(eng, def, NULL, NULL, NULL, &err) < 0) /* not started: direct */
                fail_msg("register: %s", err.msg);
        json_decref(def);
        if (engine_start(eng, &err) < 0)
                fail_msg("engine_start: %s", err.msg);
        assert_int_equal(engine_wait_started(eng, 10000), 0);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        engine_stop(eng, 1000);
        engine_free(eng);
        unlink_db();
        return 0;
}

enum kind { GATE, GOOD, BAD, BAD_NESTED };

typedef struct request {
        enum kind kind;
        pthread_t thread;
        int result;
        sked_err err;
        int64_t series_id; /* what it inserted (still there only if it succeeded) */
        uint64_t turn;     /* the turn it ran in */
        json_t *reply;
} request;

static _Atomic int gate_open;

static int insert_one(engine *e, store *st, request *q, sked_err *err) {
        char title[32];
        snprintf(title, sizeof title, "request %p", (void *) q);
        json_t *in = json_pack("{s:s, s:s, s:s}", "type", "t.write", "schedule", "every 1h", "title", title);
        series_row row = {0};
        int r = engine_series_build(e, in, &row, err);
        json_decref(in);
        if (r == 0 && (r = engine_series_insert(e, st, &row, err)) == 0)
                q->series_id = row.id;
        series_row_clear(&row);
        return r;
}

static int apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        request *q = ctx;
        q->turn = e->loop.turns;
        if (q->kind == GATE) {
                /* holds its turn open while the others queue: they all go in the next one */
                while (!atomic_load(&gate_open))
                        usleep(1000);
                return 0;
        }
        int r;
        if (q->kind == BAD_NESTED) {
                /* a write of its own transaction (a savepoint inside the request's) */
                if ((r = store_begin(st, err)) < 0)
                        return r;
                r = insert_one(e, st, q, err);
                if ((r = store_end(st, r, err)) < 0)
                        return r;
        } else if ((r = insert_one(e, st, q, err)) < 0) {
                return r;
        }
        if (q->kind != GOOD) /* it wrote, then failed: the write must go */
                return err_field(err, -EINVAL, "test", "refused on purpose");
        *ret_reply = json_pack("{s:I}", "id", (json_int_t) q->series_id);
        return 0;
}

static void *submit(void *arg) {
        request *q = arg;
        q->result = engine_write(eng, apply, q, &q->reply, &q->err);
        return NULL;
}

/* Whether q's series is in the store (SQLite may give a rolled-back id to the next
 * insert: the title tells them apart). */
static bool series_exists(const request *q) {
        store *st;
        sked_err err = {0};
        assert_int_equal(engine_thread_store(eng, &st, &err), 0);
        series_row row = {0};
        int r = store_series_get(st, q->series_id, &row, &err);
        char title[32];
        snprintf(title, sizeof title, "request %p", (const void *) q);
        bool same = r == 0 && row.title && !strcmp(row.title, title);
        series_row_clear(&row);
        assert_true(r == 0 || r == -ENOENT);
        return same;
}

static size_t queued(void) {
        pthread_mutex_lock(&eng->lock);
        size_t n = eng->wr.nwrites;
        pthread_mutex_unlock(&eng->lock);
        return n;
}

static void bad_request_fails_alone(void **state) {
        (void) state;
        enum kind kinds[] = {GOOD, BAD, GOOD, BAD_NESTED, GOOD};
        const size_t n = sizeof kinds / sizeof kinds[0];
        request gate = {.kind = GATE}, reqs[5];
        atomic_store(&gate_open, 0);
        assert_int_equal(pthread_create(&gate.thread, NULL, submit, &gate), 0);
        while (queued() > 0 || gate.turn == 0) /* the loop took the gate and runs it */
                usleep(1000);
        for (size_t i = 0; i < n; i++) {
                reqs[i] = (request){.kind = kinds[i]};
                assert_int_equal(pthread_create(&reqs[i].thread, NULL, submit, &reqs[i]), 0);
        }
        while (queued() < n)
                usleep(1000);
        atomic_store(&gate_open, 1);
        pthread_join(gate.thread, NULL);
        assert_int_equal(gate.result, 0);
        for (size_t i = 0; i < n; i++)
                pthread_join(reqs[i].thread, NULL);
        for (size_t i = 0; i < n; i++) {
                request *q = &reqs[i];
                assert_true(q->turn == reqs[0].turn); /* one turn, one transaction */
                assert_true(q->turn > gate.turn);
                assert_true(q->series_id > 0);
                if (q->kind == GOOD) {
                        assert_int_equal(q->result, 0);
                        assert_non_null(q->reply);
                        assert_int_equal(json_integer_value(json_object_get(q->reply, "id")), q->series_id);
                        assert_true(series_exists(q)); /* committed when answered */
                } else {
                        assert_int_equal(q->result, -EINVAL);
                        assert_string_equal(q->err.field, "test");
                        assert_null(q->reply);
                        assert_false(series_exists(q)); /* rolled back alone */
                }
                json_decref(q->reply);
        }
}

/* A write whose work makes another write (as type registration creates a
 * background series): on the loop thread it cannot wait for the loop. */
static int outer_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        request *inner = ctx;
        (void) st;
        (void) ret_reply;
        return engine_write(e, apply, inner, &inner->reply, err);
}

static void write_inside_write_runs_inline(void **state) {
        (void) state;
        request inner = {.kind = GOOD};
        sked_err err = {0};
        assert_int_equal(engine_write(eng, outer_apply, &inner, NULL, &err), 0);
        assert_non_null(inner.reply);
        json_decref(inner.reply);
        assert_true(series_exists(&inner));
}

/* ---- blind writes (ENGINE_WRITE_BLIND): side by side, one pipeline ---- */

enum blind_kind { B_GOOD, B_SQL_BAD, B_REFUSED };

typedef struct blind_req {
        enum blind_kind kind;
        series_row row;
        int runs; /* how many times its work ran (2: the pipeline failed, each again alone) */
        _Atomic int done;
        int result;
        sked_err err;
} blind_req;

static int blind_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        blind_req *q = ctx;
        (void) ret_reply;
        q->runs++;
        q->row.id = 0;
        int r = engine_series_insert(e, st, &q->row, err);
        if (r == 0 && q->kind == B_REFUSED) /* it sent its insert, then refused */
                return err_field(err, -EINVAL, "test", "refused on purpose");
        return r;
}

static void blind_done(void *ud, int result, json_t *reply, const sked_err *err) {
        blind_req *q = ud;
        json_decref(reply);
        q->result = result;
        if (result < 0 && err)
                q->err = *err;
        atomic_store(&q->done, 1);
}

/* Queues reqs[0..n) as blind writes in one turn (a gate holds the turn before),
 * and waits for their answers. */
static void run_blind(blind_req *reqs, size_t n, int round) {
        request gate = {.kind = GATE};
        atomic_store(&gate_open, 0);
        assert_int_equal(pthread_create(&gate.thread, NULL, submit, &gate), 0);
        while (queued() > 0 || gate.turn == 0)
                usleep(1000);
        for (size_t i = 0; i < n; i++) {
                blind_req *q = &reqs[i];
                char title[48];
                snprintf(title, sizeof title, "blind %d.%zu", round, i);
                /* (nothing due soon: no run, no NOTIFY of the firing) */
                json_t *in =
                        json_pack("{s:s, s:s, s:s}", "type", "t.write", "schedule", "cron:0 0 1 1 *", "title", title);
                sked_err err = {0};
                assert_int_equal(engine_series_build(eng, in, &q->row, &err), 0);
                json_decref(in);
                if (q->kind == B_SQL_BAD) { /* no such type: the store refuses it (foreign key) */
                        free(q->row.type);
                        q->row.type = strdup("t.none");
                }
                engine_write_async(eng, blind_apply, q, ENGINE_WRITE_BLIND, blind_done, q);
        }
        while (queued() < n)
                usleep(1000);
        atomic_store(&gate_open, 1);
        pthread_join(gate.thread, NULL);
        assert_int_equal(gate.result, 0);
        for (size_t i = 0; i < n; i++)
                while (!atomic_load(&reqs[i].done))
                        usleep(1000);
}

/* The row q inserted is in the store, as written */
static bool blind_exists(const blind_req *q) {
        store *st;
        sked_err err = {0};
        assert_int_equal(engine_thread_store(eng, &st, &err), 0);
        series_row row = {0};
        int r = store_series_get(st, q->row.id, &row, &err);
        assert_true(r == 0 || r == -ENOENT);
        bool same = r == 0 && !strcmp(row.title, q->row.title) && row.feature_on;
        series_row_clear(&row);
        return same;
}

static _Atomic int notes;

static void count_note(void *ud) {
        (void) ud;
        atomic_fetch_add(&notes, 1);
}

static void blind_writes_share_a_pipeline(void **state) {
        (void) state;
        /* PostgreSQL: the other nodes hear of them (the NOTIFY went in the pipeline) */
        store_listener *l = NULL;
        sked_err lerr = {0};
        assert_int_equal(store_listen_start(uri, count_note, NULL, &l, &lerr), 0);
        for (int i = 0; l && i < 5000 && atomic_load(&notes) == 0; i++) /* once when it listens */
                usleep(1000);
        for (int quiet = 0, seen = atomic_load(&notes); l && quiet < 500; quiet++) { /* then nothing for 0.5 s */
                usleep(1000);
                if (atomic_load(&notes) != seen) {
                        seen = atomic_load(&notes);
                        quiet = 0;
                }
        }
        int notes_before = atomic_load(&notes);
        /* all good: one pass, and each learns its id (RETURNING, read at the end) */
        blind_req good[4] = {{.kind = B_GOOD}, {.kind = B_GOOD}, {.kind = B_GOOD}, {.kind = B_GOOD}};
        run_blind(good, 4, 1);
        if (l) {
                for (int i = 0; i < 5000 && atomic_load(&notes) == notes_before; i++)
                        usleep(1000);
                assert_true(atomic_load(&notes) > notes_before);
                store_listen_stop(l);
        }
        for (size_t i = 0; i < 4; i++) {
                assert_int_equal(good[i].result, 0);
                assert_int_equal(good[i].runs, 1);
                assert_true(good[i].row.id > 0);
                assert_true(i == 0 || good[i].row.id > good[i - 1].row.id);
                assert_true(blind_exists(&good[i]));
                series_row_clear(&good[i].row);
        }

        /* one the store refuses, one that refuses itself after writing: the pipeline
         * is undone, each runs again alone; only those two fail.  (The first pass
         * stops at a failure it sees: on SQLite at once, on PostgreSQL the store's
         * only at the end; those after it run once.) */
        blind_req mixed[5] = {
                {.kind = B_GOOD}, {.kind = B_SQL_BAD}, {.kind = B_GOOD}, {.kind = B_REFUSED}, {.kind = B_GOOD}};
        run_blind(mixed, 5, 2);
        for (size_t i = 0; i < 5; i++) {
                blind_req *q = &mixed[i];
                assert_true(q->runs == 2 || (i > 1 && q->runs == 1));
                if (q->kind == B_GOOD) {
                        assert_int_equal(q->result, 0);
                        assert_true(q->row.id > 0);
                        assert_true(blind_exists(q));
                } else if (q->kind == B_REFUSED) {
                        assert_int_equal(q->result, -EINVAL);
                        assert_string_equal(q->err.field, "test");
                        assert_false(blind_exists(q)); /* it wrote, and it was undone */
                } else {
                        assert_true(q->result < 0);
                        assert_non_null(strstr(q->err.msg, "database"));
                }
                series_row_clear(&q->row);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(bad_request_fails_alone, setup, teardown),
                cmocka_unit_test_setup_teardown(write_inside_write_runs_inline, setup, teardown),
                cmocka_unit_test_setup_teardown(blind_writes_share_a_pipeline, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
