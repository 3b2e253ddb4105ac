/* Workflow instances in the engine on an injected clock: a wall-time timer across a
 * DST night survives a restart and fires once, a signal wait times out into its
 * on_timeout branch, each inline step takes effect once.  A real SQLite file (or
 * PostgreSQL with SKED_TEST_PG), real threads; only time is simulated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine_internal.h"
#include "engine/workflow.h"
#include "model/manifest.h"
#include "sqlite_at.h"
#include "store/store.h"

static _Atomic sked_time fake_now;
static char dbpath[256], uri[300];

static sked_instant clock_fn(void *ud) {
        (void) ud;
        return atomic_load(&fake_now);
}

static sked_time at(const char *s) {
        sked_time t = 0;
        assert_int_equal(time_parse_utc(s, &t), 0);
        return t;
}

static engine *open_engine(void) {
        engine_config cfg = {.store_uri = uri, .workers = 1, .clock = clock_fn};
        engine *e = NULL;
        sked_err err = {0};
        if (engine_new(&cfg, &e, &err) < 0 || engine_start(e, &err) < 0)
                fail_msg("engine: %s", err.msg);
        assert_int_equal(engine_wait_started(e, 10000), 0);
        return e;
}

static void close_engine(engine *e) {
        engine_stop(e, 1000);
        engine_free(e);
}

/* polls the store until cond(row) holds (the loop advances instances on its own) */
static void wait_instance(engine *e, int64_t id, bool (*cond)(const instance_row *), instance_row *ret) {
        store *st;
        sked_err err = {0};
        assert_int_equal(engine_thread_store(e, &st, &err), 0);
        for (int i = 0; i < 1000; i++) {
                instance_row r = {0};
                assert_int_equal(store_instance_get(st, id, &r, &err), 0);
                if (cond(&r)) {
                        *ret = r;
                        return;
                }
                instance_row_clear(&r);
                engine_wake(e);
                usleep(10000);
        }
        fail_msg("instance %lld did not get there", (long long) id);
}

static bool waiting_timer(const instance_row *r) {
        return !strcmp(r->status, "waiting") && r->wait_kind && !strcmp(r->wait_kind, "timer");
}
static bool waiting_signal(const instance_row *r) {
        return !strcmp(r->status, "waiting") && r->wait_kind && !strcmp(r->wait_kind, "signal");
}
static bool ended(const instance_row *r) {
        return r->ended_at != 0;
}

static int count_journal(engine *e, int64_t id, const char *step, const char *outcome) {
        store *st;
        sked_err err = {0};
        json_t *items = NULL;
        assert_int_equal(engine_thread_store(e, &st, &err), 0);
        assert_int_equal(store_journal_list(st, id, 0, 1000, &items, &err), 0);
        int n = 0;
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
                if (!strcmp(json_string_value(json_object_get(it, "step")), step) &&
                    !strcmp(json_string_value(json_object_get(it, "outcome")), outcome))
                        n++;
        }
        json_decref(items);
        return n;
}

static const char def_text[] = "name: nightly\n"
                               "steps:\n"
                               "  - id: a\n"
                               "    set: {a: \"${ (vars.a or 0) + 1 }\"}\n"
                               "  - id: night\n"
                               "    wait: {at: \"02:30\", zone: America/New_York}\n"
                               "  - id: b\n"
                               "    set: {b: \"${ (vars.b or 0) + 1 }\", local: \"${ time.wall(time.now(), "
                               "'America/New_York').text }\"}\n"
                               "  - id: go\n"
                               "    wait: {signal: go, timeout: 1h, on_timeout: [{id: late, set: {late: true}}]}\n"
                               "  - id: c\n"
                               "    set: {c: \"${ (vars.c or 0) + 1 }\"}\n";

static void test_timer_across_dst_and_restart(void **state) {
        (void) state;
        snprintf(dbpath, sizeof dbpath, "/tmp/sked-workflow-test-%d.db", (int) getpid());
        sql_unlink_at(dbpath);
        const char *pg = getenv("SKED_TEST_PG");
        if (pg && *pg)
                snprintf(uri, sizeof uri, "%s", pg);
        else
                snprintf(uri, sizeof uri, "sqlite:%s", dbpath);
        atomic_store(&fake_now, at("2026-03-07T12:00:00Z"));
        engine *e = open_engine();

        json_t *def = NULL;
        sked_err err = {0};
        assert_int_equal(manifest_parse(def_text, strlen(def_text), "nightly.yaml", &def, &err), 0);
        wf_def *d = NULL;
        if (engine_workflow_check(e, def, &d, NULL, &err) < 0)
                fail_msg("%s", err.msg);
        wf_register_op reg = {.name = "nightly", .mode = "background", .text = json_dumps(def, JSON_COMPACT)};
        wf_def_free(d);
        json_decref(def);
        assert_int_equal(engine_write(e, engine_workflow_register_apply, &reg, NULL, &err), 0);
        free(reg.text);
        wf_start_op start = {.name = "nightly"};
        assert_int_equal(engine_write(e, engine_workflow_start_apply, &start, NULL, &err), 0);
        int64_t id = json_integer_value(json_object_get(start.instance, "id"));
        json_decref(start.instance);

        /* 02:30 does not exist on 2026-03-08 in New York: 03:30 EDT, 07:30Z */
        instance_row r;
        wait_instance(e, id, waiting_timer, &r);
        assert_int_equal(r.wait_until, at("2026-03-08T07:30:00Z"));
        assert_string_equal(r.vars, "{\"a\":1}");
        instance_row_clear(&r);

        /* the server stops; the night passes while it is down */
        close_engine(e);
        atomic_store(&fake_now, at("2026-03-08T09:00:00Z"));
        e = open_engine();
        wait_instance(e, id, waiting_signal, &r);
        json_t *vars = json_loads(r.vars, 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(vars, "a")), 1);
        assert_int_equal(json_integer_value(json_object_get(vars, "b")), 1);
        assert_string_equal(json_string_value(json_object_get(vars, "local")), "2026-03-08T05:00:00-04:00");
        json_decref(vars);
        assert_int_equal(r.timeout_at, at("2026-03-08T10:00:00Z"));
        instance_row_clear(&r);
        assert_int_equal(count_journal(e, id, "night", "fired"), 1);

        /* again a restart, then the hour passes: on_timeout, then on */
        close_engine(e);
        atomic_store(&fake_now, at("2026-03-08T10:00:01Z"));
        e = open_engine();
        wait_instance(e, id, ended, &r);
        assert_string_equal(r.status, "succeeded");
        vars = json_loads(r.vars, 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(vars, "a")), 1);
        assert_int_equal(json_integer_value(json_object_get(vars, "b")), 1);
        assert_int_equal(json_integer_value(json_object_get(vars, "c")), 1);
        assert_true(json_is_true(json_object_get(vars, "late")));
        json_decref(vars);
        instance_row_clear(&r);
        assert_int_equal(count_journal(e, id, "night", "fired"), 1);
        assert_int_equal(count_journal(e, id, "a", "ok"), 1);
        assert_int_equal(count_journal(e, id, "late", "ok"), 1);

        /* a signal to an ended instance is refused, and changes nothing */
        wf_instance_op op = {.id = id, .verb = WF_SIGNAL, .signal = "go"};
        assert_int_equal(engine_write(e, engine_instance_apply, &op, NULL, &err), -EEXIST);
        close_engine(e);
        sql_unlink_at(dbpath);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_timer_across_dst_and_restart),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
