/* The engine driven by an injected clock: firing, catch-up, DST, retries,
 * recovery.  Real SQLite files, real threads; only time is simulated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/civil.h"
#include "engine/engine_internal.h"
#include "sked/sked.h"
#include "store/store.h"

static _Atomic sked_time fake_now;
static char dbpath[256];

static sked_instant clock_fn(void *ud) {
        (void) ud;
        return atomic_load(&fake_now);
}

static sked_time at(const char *s) {
        sked_time t = 0;
        assert_int_equal(time_parse_utc(s, &t), 0);
        return t;
}

/* what handlers saw, in order */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static sked_time seen[4096];
static int seen_attempt[4096];
static int nseen;

static int record(sked_run *run, void *ud) {
        (void) ud;
        pthread_mutex_lock(&seen_lock);
        if (nseen < 4096) {
                seen_attempt[nseen] = sked_run_attempt(run);
                seen[nseen++] = sked_run_nominal(run);
        }
        pthread_mutex_unlock(&seen_lock);
        sked_run_log(run, SKED_INFO, "ran %s", sked_run_idempotency_key(run));
        return SKED_RUN_OK;
}

static int retry_once(sked_run *run, void *ud) {
        record(run, ud);
        return sked_run_attempt(run) == 1 ? SKED_RUN_RETRY : SKED_RUN_OK;
}

/* t.slow: runs until the test lets it go */
static atomic_int slow_started, slow_release;
static sked_time slow_from; /* runs of later instants wait */
static int slow(sked_run *run, void *ud) {
        record(run, ud);
        atomic_fetch_add(&slow_started, 1);
        while (sked_run_nominal(run) > slow_from && !atomic_load(&slow_release))
                usleep(1000);
        return SKED_RUN_OK;
}

static int setup(void **state) {
        (void) state;
        snprintf(dbpath, sizeof dbpath, "/tmp/sked-engine-test-%d.db", (int) getpid());
        unlink(dbpath);
        char wal[300];
        snprintf(wal, sizeof wal, "%s-wal", dbpath);
        unlink(wal);
        snprintf(wal, sizeof wal, "%s-shm", dbpath);
        unlink(wal);
        nseen = 0;
        return 0;
}

static sked *open_engine(void) {
        char uri[300], err[512] = "";
        snprintf(uri, sizeof uri, "sqlite:%s", dbpath);
        sked_config cfg = {.store = uri, .workers = 2, .clock = clock_fn};
        sked *s = NULL;
        int r = sked_new(&cfg, &s, err, sizeof err);
        if (r < 0)
                fail_msg("sked_new: %s", err);
        r = sked_register_type(s, "{\"name\": \"t.rec\", \"handler\": {\"plugin\": true}}", record, NULL, err,
                               sizeof err);
        if (r < 0)
                fail_msg("register: %s", err);
        r = sked_register_type(s,
                               "{\"name\": \"t.retry\", \"handler\": {\"plugin\": true}, \"defaults\": "
                               "{\"retry\": {\"max_attempts\": 3, \"initial_backoff\": \"10s\"}}}",
                               retry_once, NULL, err, sizeof err);
        if (r < 0)
                fail_msg("register: %s", err);
        r = sked_register_type(s, "{\"name\": \"t.slow\", \"handler\": {\"plugin\": true}}", slow, NULL, err,
                               sizeof err);
        if (r < 0)
                fail_msg("register: %s", err);
        return s;
}

static int64_t create(sked *s, const char *json) {
        char err[512] = "";
        int64_t id = 0;
        if (sked_create_series(s, json, &id, err, sizeof err) < 0)
                fail_msg("create: %s", err);
        return id;
}

static void advance_to(sked *s, sked_time t) {
        atomic_store(&fake_now, t);
        assert_int_equal(sked_wait_idle(s, 20000), 0);
}

static void step_through(sked *s, sked_time from, sked_time to, sked_time step) {
        for (sked_time t = from; t <= to; t += step)
                advance_to(s, t);
}

static series_row get_series(int64_t id) {
        char uri[300];
        snprintf(uri, sizeof uri, "sqlite:%s", dbpath);
        store *st = NULL;
        sked_err err = {0};
        assert_int_equal(store_open(uri, &st, &err), 0);
        series_row row = {0};
        assert_int_equal(store_series_get(st, id, &row, &err), 0);
        store_close(st);
        return row;
}

static void fires_each_occurrence_once(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-06-01T12:00:00Z"));
        sked *s = open_engine();
        create(s, "{\"type\": \"t.rec\", \"schedule\": \"every 1m\"}");
        char err[512];
        assert_int_equal(sked_start(s, err, sizeof err), 0);
        /* poll far more often than it is due: still once per nominal instant */
        step_through(s, at("2026-06-01T12:00:00Z"), at("2026-06-01T12:05:00Z"), 7 * SKED_USEC);
        advance_to(s, at("2026-06-01T12:05:00Z"));
        sked_stop(s, 1000);
        sked_free(s);
        assert_int_equal(nseen, 6); /* 12:00 .. 12:05 */
        for (int i = 0; i < nseen; i++)
                assert_int_equal(seen[i], at("2026-06-01T12:00:00Z") + i * 60 * SKED_USEC);
}

static void downtime_runs_only_the_latest(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-06-01T12:00:00Z"));
        sked *s = open_engine();
        int64_t id = create(s, "{\"type\": \"t.rec\", \"schedule\": \"every 1m\"}");
        char err[512];
        assert_int_equal(sked_start(s, err, sizeof err), 0);
        advance_to(s, at("2026-06-01T12:00:00Z"));
        sked_stop(s, 1000);
        sked_free(s);
        assert_int_equal(nseen, 1);
        /* down for a day; the window is 60 s: only 2026-06-02T12:00 (the latest) runs */
        atomic_store(&fake_now, at("2026-06-02T12:00:30Z"));
        s = open_engine();
        assert_int_equal(sked_start(s, err, sizeof err), 0);
        advance_to(s, at("2026-06-02T12:00:30Z"));
        sked_stop(s, 1000);
        sked_free(s);
        assert_int_equal(nseen, 2);
        assert_int_equal(seen[1], at("2026-06-02T12:00:00Z"));
        series_row row = get_series(id);
        assert_int_equal(row.missed, 24 * 60 - 1);
        assert_int_equal(row.next_due, at("2026-06-02T12:01:00Z"));
        series_row_clear(&row);
}

static void short_jump_runs_all_within_window(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-06-01T12:00:00Z"));
        sked *s = open_engine();
        create(s, "{\"type\": \"t.rec\", \"schedule\": \"every 10s\"}");
        char err[512];
        assert_int_equal(sked_start(s, err, sizeof err), 0);
        advance_to(s, at("2026-06-01T12:00:00Z"));
        advance_to(s, at("2026-06-01T12:00:45Z")); /* the clock jumps 45 s: 10, 20, 30, 40 all run */
        advance_to(s, at("2026-06-01T12:00:45Z"));
        /* the clock goes back 5 minutes: nothing runs twice */
        advance_to(s, at("2026-06-01T11:55:45Z"));
        advance_to(s, at("2026-06-01T12:00:46Z"));
        sked_stop(s, 1000);
        sked_free(s);
        assert_int_equal(nseen, 5);
        for (int i = 0; i < nseen; i++)
                assert_int_equal(seen[i], at("2026-06-01T12:00:00Z") + i * 10 * SKED_USEC);
}

static uint64_t loop_turns(sked *s) {
        engine *e = (engine *) s;
        pthread_mutex_lock(&e->lock);
        uint64_t n = e->loop.turns;
        pthread_mutex_unlock(&e->lock);
        return n;
}

/* Occurrences due behind a run of their series that is still running (the overlap
 * policy holds them back): the loop waits for that run to end, it does not spin a
 * transaction a turn until then (it did: a CPU, and under valgrind the handler
 * itself starved). */
static void backlog_behind_a_running_run_does_not_spin(void **state) {
        (void) state;
        atomic_store(&slow_started, 0);
        atomic_store(&slow_release, 0);
        atomic_store(&fake_now, at("2026-06-01T12:00:00Z"));
        sked *s = open_engine();
        create(s, "{\"type\": \"t.slow\", \"schedule\": \"every 10s\"}");
        char err[512];
        slow_from = at("2026-06-01T12:00:00Z");
        assert_int_equal(sked_start(s, err, sizeof err), 0);
        advance_to(s, at("2026-06-01T12:00:00Z"));
        atomic_store(&fake_now, at("2026-06-01T12:00:45Z")); /* 10, 20, 30, 40 due: 10 runs, and waits */
        engine_wake((engine *) s);
        while (atomic_load(&slow_started) < 2)
                usleep(1000);
        usleep(200000); /* the loop finds 20, 30, 40 it may not start yet */
        uint64_t before = loop_turns(s);
        usleep(500000);
        uint64_t turns = loop_turns(s) - before;
        atomic_store(&slow_release, 1);
        advance_to(s, at("2026-06-01T12:00:45Z"));
        sked_stop(s, 1000);
        sked_free(s);
        assert_true(turns < 20); /* idle: a wake-up or two, not thousands */
        assert_int_equal(nseen, 5);
        for (int i = 0; i < nseen; i++)
                assert_int_equal(seen[i], at("2026-06-01T12:00:00Z") + i * 10 * SKED_USEC);
}

static void dst_gap_fires_once_at_shifted_time(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-03-06T12:00:00Z"));
        sked *s = open_engine();
        create(s, "{\"type\": \"t.rec\", \"schedule\": \"RRULE:FREQ=DAILY;BYHOUR=2;BYMINUTE=30\","
                  " \"tz\": \"America/New_York\", \"start\": \"2026-03-06T02:30:00\"}");
        char err[512];
        assert_int_equal(sked_start(s, err, sizeof err), 0);
        step_through(s, at("2026-03-06T12:00:00Z"), at("2026-03-10T12:00:00Z"), 30 * 60 * SKED_USEC);
        sked_stop(s, 1000);
        sked_free(s);
        assert_int_equal(nseen, 4);
        assert_int_equal(seen[0], at("2026-03-07T07:30:00Z")); /* 02:30 EST */
        assert_int_equal(seen[1], at("2026-03-08T07:30:00Z")); /* the gap: 03:30 EDT */
        assert_int_equal(seen[2], at("2026-03-09T06:30:00Z")); /* 02:30 EDT */
        assert_int_equal(seen[3], at("2026-03-10T06:30:00Z"));
}

static void retry_after_backoff(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-06-01T12:00:00Z"));
        sked *s = open_engine();
        int64_t id = create(s, "{\"type\": \"t.retry\", \"schedule\": \"every 1h\"}");
        char err[512];
        assert_int_equal(sked_start(s, err, sizeof err), 0);
        advance_to(s, at("2026-06-01T12:00:00Z"));
        assert_int_equal(nseen, 1);
        advance_to(s, at("2026-06-01T12:00:05Z")); /* backoff 10 s not over */
        assert_int_equal(nseen, 1);
        advance_to(s, at("2026-06-01T12:00:10Z"));
        sked_stop(s, 1000);
        sked_free(s);
        assert_int_equal(nseen, 2);
        assert_int_equal(seen_attempt[1], 2);
        assert_int_equal(seen[1], at("2026-06-01T12:00:00Z")); /* same occurrence */
        series_row row = get_series(id);
        assert_int_equal(row.fired, 1);
        series_row_clear(&row);
}

static void crashed_run_is_recovered(void **state) {
        (void) state;
        char uri[300];
        snprintf(uri, sizeof uri, "sqlite:%s", dbpath);
        atomic_store(&fake_now, at("2026-06-01T12:00:00Z"));
        sked *s = open_engine();
        int64_t id = create(s, "{\"type\": \"t.rec\", \"schedule\": \"every 1h\"}");
        sked_free(s); /* never started */
        /* a previous process claimed a run and died: it is still "running" */
        store *st = NULL;
        sked_err e = {0};
        assert_int_equal(store_open(uri, &st, &e), 0);
        run_row run = {.series_id = id,
                       .has_nominal = true,
                       .nominal = at("2026-06-01T11:00:00Z"),
                       .type = "t.rec",
                       .trigger = "schedule",
                       .params = "{}",
                       .attempt = 1,
                       .queued_at = at("2026-06-01T11:00:00Z"),
                       .not_before = at("2026-06-01T11:00:00Z")};
        assert_int_equal(store_run_insert(st, &run, &e), 0);
        assert_int_equal(
                store_run_start(st, run.id, "dead-node", at("2026-06-01T11:00:00Z"), at("2026-06-01T11:00:30Z"), &e),
                0);
        free(run.idem_key);
        char err[512];
        s = open_engine();
        assert_int_equal(sked_start(s, err, sizeof err), 0);
        advance_to(s, at("2026-06-01T12:00:01Z"));
        sked_stop(s, 1000);
        sked_free(s);
        run_row old = {0};
        assert_int_equal(store_run_get(st, run.id, &old, &e), 0);
        assert_string_equal(old.state, "lost");
        assert_true(old.next_attempt > 0);
        run_row next = {0};
        assert_int_equal(store_run_get(st, old.next_attempt, &next, &e), 0);
        assert_string_equal(next.state, "succeeded");
        assert_string_equal(next.trigger, "recovery");
        assert_int_equal(next.attempt, 2);
        assert_int_equal(next.nominal, at("2026-06-01T11:00:00Z"));
        run_row_clear(&old);
        run_row_clear(&next);
        store_close(st);
}

static int teardown(void **state) {
        (void) state;
        unlink(dbpath);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(fires_each_occurrence_once, setup, teardown),
                cmocka_unit_test_setup_teardown(downtime_runs_only_the_latest, setup, teardown),
                cmocka_unit_test_setup_teardown(short_jump_runs_all_within_window, setup, teardown),
                cmocka_unit_test_setup_teardown(backlog_behind_a_running_run_does_not_spin, setup, teardown),
                cmocka_unit_test_setup_teardown(dst_gap_fires_once_at_shifted_time, setup, teardown),
                cmocka_unit_test_setup_teardown(retry_after_backoff, setup, teardown),
                cmocka_unit_test_setup_teardown(crashed_run_is_recovered, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
