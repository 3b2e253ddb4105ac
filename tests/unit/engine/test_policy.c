/* The poller's policies driven by an injected clock: catch-up after downtime and
 * after a feature was off, overlap with a run still going, clock jumps, sleep
 * windows, one-off changes, jitter and the DST overrides.  A real SQLite store in
 * a temp dir, real threads, in-process handlers; only time is simulated.  Where a
 * handler blocks (overlap), the test waits for conditions in the store, never for
 * a span of real time. */
#include <errno.h>
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
#include "engine/engine.h"
#include "store/store.h"

#include "sqlite_at.h"

#define MINUTE (60 * SKED_USEC)
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)
#define MAX_SEEN 4096

static _Atomic sked_time fake_now;
static char dir[64], uri[128];
static store *rd; /* the test's own connection, for reading back */

static sked_instant clock_fn(void *ud) {
        (void) ud;
        return atomic_load(&fake_now);
}

static sked_time at(const char *s) {
        sked_time t = 0;
        assert_int_equal(time_parse_utc(s, &t), 0);
        return t;
}

/* ---- handlers: what they saw, in the order they started ---- */

typedef struct seen_run {
        int64_t run_id;
        sked_time nominal, clock; /* clock: the injected clock when the handler started */
        char params[128];
        bool cancelled; /* sked_run_cancelled() was true when it returned */
} seen_run;

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static seen_run seen[MAX_SEEN];
static int nseen;
static atomic_int active, max_active;
static atomic_bool released; /* blocking handlers return once this is set */

static int seen_add(sked_run *run) {
        pthread_mutex_lock(&seen_lock);
        int i = nseen < MAX_SEEN ? nseen++ : -1;
        if (i >= 0)
                seen[i] = (seen_run){
                        .run_id = sked_run_id(run), .nominal = sked_run_nominal(run), .clock = atomic_load(&fake_now)};
        if (i >= 0)
                snprintf(seen[i].params, sizeof seen[i].params, "%s", sked_run_params(run));
        pthread_mutex_unlock(&seen_lock);
        return i;
}

static int count_seen(void) {
        pthread_mutex_lock(&seen_lock);
        int n = nseen;
        pthread_mutex_unlock(&seen_lock);
        return n;
}

static int record(sked_run *run, void *ud) {
        (void) ud;
        seen_add(run);
        return SKED_RUN_OK;
}

/* Runs until released or cancelled, tracking how many run at once. */
static int block(sked_run *run, void *ud) {
        (void) ud;
        int now = atomic_fetch_add(&active, 1) + 1, max = atomic_load(&max_active);
        while (now > max && !atomic_compare_exchange_weak(&max_active, &max, now))
                ;
        int i = seen_add(run);
        while (!atomic_load(&released) && !sked_run_cancelled(run))
                usleep(1000);
        bool cancelled = sked_run_cancelled(run);
        if (i >= 0) {
                pthread_mutex_lock(&seen_lock);
                seen[i].cancelled = cancelled;
                pthread_mutex_unlock(&seen_lock);
        }
        atomic_fetch_sub(&active, 1);
        return cancelled ? SKED_RUN_FAIL : SKED_RUN_OK;
}

/* ---- the engine and the store ---- */

static int setup(void **state) {
        (void) state;
        snprintf(dir, sizeof dir, "/tmp/sked-policy-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(uri, sizeof uri, "sqlite:%s/sked.db", dir);
        nseen = 0;
        atomic_store(&active, 0);
        atomic_store(&max_active, 0);
        atomic_store(&released, false);
        sked_err err = {0};
        if (store_open(uri, &rd, &err) < 0)
                fail_msg("store_open: %s", err.msg);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        atomic_store(&released, true); /* a failed test may leave a handler waiting */
        store_close(rd);
        rd = NULL;
        char path[128];
        static const char *const files[] = {"sked.db", "sked.db-wal", "sked.db-shm"};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
                snprintf(path, sizeof path, "%s/%s", dir, files[i]);
                unlink(path);
        }
        rmdir(dir);
        return 0;
}

static void register_type(engine *e, const char *def, sked_handler fn) {
        json_error_t je;
        json_t *j = json_loads(def, 0, &je);
        assert_non_null(j);
        sked_err err = {0};
        if (engine_type_register(e, j, fn, NULL, NULL, &err) < 0)
                fail_msg("register: %s", err.msg);
        json_decref(j);
}

/* lookahead_ms: 0 = off (the default with an injected clock) */
static engine *open_engine_ahead(unsigned workers, int64_t lookahead_ms) {
        engine_config cfg = {.store_uri = uri,
                             .workers = workers,
                             .clock = clock_fn,
                             .lookahead_ms = lookahead_ms ? lookahead_ms : -1};
        engine *e = NULL;
        sked_err err = {0};
        if (engine_new(&cfg, &e, &err) < 0)
                fail_msg("engine_new: %s", err.msg);
        register_type(e,
                      "{\"name\": \"t.rec\", \"handler\": {\"plugin\": true},"
                      " \"params\": [{\"name\": \"n\", \"type\": \"int\", \"default\": 1}]}",
                      record);
        register_type(e, "{\"name\": \"t.block\", \"handler\": {\"plugin\": true}}", block);
        register_type(e, "{\"name\": \"t.bill\", \"feature\": \"billing\", \"handler\": {\"plugin\": true}}", record);
        return e;
}

static engine *open_engine(unsigned workers) {
        return open_engine_ahead(workers, 0);
}

static void start(engine *e) {
        sked_err err = {0};
        if (engine_start(e, &err) < 0)
                fail_msg("engine_start: %s", err.msg);
}

static void close_engine(engine *e) {
        engine_stop(e, 1000);
        engine_free(e);
}

static int64_t create(engine *e, const char *json) {
        json_error_t je;
        json_t *in = json_loads(json, 0, &je);
        if (!in)
                fail_msg("bad test JSON: %s", je.text);
        store *st;
        sked_err err = {0};
        series_row row = {0};
        assert_int_equal(engine_thread_store(e, &st, &err), 0);
        if (engine_series_create(e, st, in, &row, &err) < 0)
                fail_msg("create: %s", err.msg);
        json_decref(in);
        int64_t id = row.id;
        series_row_clear(&row);
        return id;
}

/* How much longer the bounded waits below may take: under valgrind (scripts/test's
 * memcheck pass, several at once on two cores) a turn is 50 times slower.  A bound,
 * never a measured time. */
static int slowness(void) {
        return getenv("SKED_TEST_VALGRIND") ? 10 : 1;
}

/* Sets the clock and waits until the engine has seen it and nothing is running. */
static void advance_to(engine *e, sked_time t) {
        atomic_store(&fake_now, t);
        assert_int_equal(engine_wait_idle(e, 20000 * slowness()), 0);
}

static void step_through(engine *e, sked_time from, sked_time to, sked_time step) {
        for (sked_time t = from; t <= to; t += step)
                advance_to(e, t);
}

/* Waits (real time, bounded) until pred(arg) holds, waking the loop meanwhile:
 * for when a handler blocks and engine_wait_idle cannot return. */
static bool wait_for(engine *e, bool (*pred)(const void *), const void *arg) {
        for (int i = 0, n = 5000 * slowness(); i < n; i++) {
                if (pred(arg))
                        return true;
                engine_wake(e);
                usleep(2000);
        }
        return pred(arg);
}

static series_row get_series(int64_t id) {
        series_row row = {0};
        sked_err err = {0};
        assert_int_equal(store_series_get(rd, id, &row, &err), 0);
        return row;
}

/* The recorded occurrences (fired or skipped) of series id in [from, to). */
static size_t occurrences(int64_t id, sked_time from, sked_time to, occurrence_rec **ret) {
        size_t n = 0;
        sked_err err = {0};
        *ret = NULL;
        if (store_occurrences_range(rd, id, from, to, 100000, ret, &n, &err) < 0)
                fail_msg("occurrences: %s", err.msg);
        return n;
}

static int run_cmp(const void *a, const void *b) {
        const run_row *x = a, *y = b;
        if (x->nominal != y->nominal)
                return x->nominal < y->nominal ? -1 : 1;
        return x->id < y->id ? -1 : x->id > y->id;
}

/* Every run of series id, by nominal instant. */
static size_t runs_of(int64_t id, run_row **ret) {
        run_filter f = {.series_id = id, .limit = 100000};
        size_t n = 0;
        sked_err err = {0};
        if (store_runs_list(rd, &f, ret, &n, &err) < 0)
                fail_msg("runs: %s", err.msg);
        if (n)
                qsort(*ret, n, sizeof **ret, run_cmp);
        return n;
}

/* The run of (series, nominal); fails unless there is exactly one. */
static run_row run_at(int64_t id, sked_time nominal) {
        run_row *rows = NULL, found = {0};
        size_t n = runs_of(id, &rows), k = 0;
        for (size_t i = 0; i < n; i++)
                if (rows[i].nominal == nominal) {
                        k++;
                        run_row_clear(&found);
                        found = rows[i];
                        memset(&rows[i], 0, sizeof rows[i]);
                }
        run_rows_free(rows, n);
        if (k != 1) {
                char t[32];
                time_format_utc(nominal, t, sizeof t);
                fail_msg("series %lld: %zu runs of %s, expected 1", (long long) id, k, t);
        }
        return found;
}

/* The recorded occurrences of [from, to) are exactly these: `want[i]` ran (its run
 * in `state`), or was skipped for `why` when why is not NULL. */
typedef struct want_occ {
        sked_time nominal;
        const char *state; /* the run's state, or NULL when skipped */
        const char *why;   /* skip reason, or NULL when it ran */
} want_occ;

static void expect_occurrences(int64_t id, sked_time from, sked_time to, const want_occ *want, size_t nwant) {
        occurrence_rec *rec = NULL;
        size_t n = occurrences(id, from, to, &rec);
        for (size_t i = 0; i < n && i < nwant; i++) {
                char t[32];
                time_format_utc(rec[i].nominal, t, sizeof t);
                if (rec[i].nominal != want[i].nominal)
                        fail_msg("occurrence %zu: nominal %s is not the expected one", i, t);
                if (want[i].why) {
                        if (strcmp(rec[i].skipped, want[i].why) != 0 || rec[i].run_id != 0)
                                fail_msg("occurrence %s: skipped \"%s\" run %lld, expected skipped "
                                         "\"%s\"",
                                         t, rec[i].skipped, (long long) rec[i].run_id, want[i].why);
                } else if (rec[i].skipped[0] || strcmp(rec[i].state, want[i].state) != 0) {
                        fail_msg("occurrence %s: state \"%s\" skipped \"%s\", expected run %s", t, rec[i].state,
                                 rec[i].skipped, want[i].state);
                }
        }
        if (n != nwant)
                fail_msg("series %lld: %zu occurrences recorded, expected %zu", (long long) id, n, nwant);
        free(rec);
}

/* No nominal instant of the series has more than one scheduled run. */
static void expect_each_nominal_once(int64_t id) {
        run_row *rows = NULL;
        size_t n = runs_of(id, &rows);
        for (size_t i = 1; i < n; i++)
                if (rows[i].nominal == rows[i - 1].nominal && !strcmp(rows[i].trigger, "schedule"))
                        fail_msg("two runs of nominal %lld", (long long) rows[i].nominal);
        run_rows_free(rows, n);
}

static void expect_seen(const sked_time *want, int nwant) {
        assert_int_equal(count_seen(), nwant);
        for (int i = 0; i < nwant; i++)
                if (seen[i].nominal != want[i]) {
                        char a[32], b[32];
                        time_format_utc(seen[i].nominal, a, sizeof a);
                        time_format_utc(want[i], b, sizeof b);
                        fail_msg("handler call %d: nominal %s, expected %s", i, a, b);
                }
}

/* ---- 1. catch-up after the server was down for a day ---- */

/* An hourly series fires at 2026-06-01T00:00Z; the server stops at 00:30 and a
 * new engine starts on the same store 24 h later, at 2026-06-02T00:30Z: the 24
 * occurrences 01:00 .. 00:00 are all late beyond the tolerance. */
static int64_t down_for_a_day(const char *policy) {
        atomic_store(&fake_now, at("2026-06-01T00:00:00Z"));
        engine *e = open_engine(2);
        char json[256];
        snprintf(json, sizeof json, "{\"type\": \"t.rec\", \"schedule\": \"every 1h\", \"policy\": %s}", policy);
        int64_t id = create(e, json);
        start(e);
        advance_to(e, at("2026-06-01T00:00:00Z"));
        advance_to(e, at("2026-06-01T00:30:00Z"));
        close_engine(e);
        assert_int_equal(count_seen(), 1);

        atomic_store(&fake_now, at("2026-06-02T00:30:00Z"));
        e = open_engine(2);
        start(e);
        advance_to(e, at("2026-06-02T00:30:00Z"));
        close_engine(e);
        return id;
}

/* The runs after the downtime are those of the newest k hours up to 2026-06-02T00:00. */
static void expect_caught_up(int64_t id, int k) {
        sked_time last = at("2026-06-02T00:00:00Z");
        sked_time want[25] = {at("2026-06-01T00:00:00Z")};
        want_occ occ[24] = {0};
        for (int i = 0; i < k; i++) {
                want[1 + i] = last - (k - 1 - i) * HOUR;
                occ[i] = (want_occ){.nominal = want[1 + i], .state = "succeeded"};
        }
        expect_seen(want, 1 + k);
        expect_occurrences(id, at("2026-06-01T00:30:00Z"), at("2026-06-02T00:30:00Z"), occ, (size_t) k);
        series_row row = get_series(id);
        assert_int_equal(row.fired, 1 + k);
        assert_int_equal(row.missed, 24 - k);
        assert_int_equal(row.next_due, at("2026-06-02T01:00:00Z"));
        if (k)
                assert_int_equal(row.last_nominal, last);
        series_row_clear(&row);
}

static void catchup_none_after_downtime(void **state) {
        (void) state;
        expect_caught_up(down_for_a_day("{\"catchup\": \"none\"}"), 0);
}

static void catchup_latest_after_downtime(void **state) {
        (void) state;
        expect_caught_up(down_for_a_day("{\"catchup\": \"latest\"}"), 1);
}

static void catchup_all_after_downtime(void **state) {
        (void) state;
        expect_caught_up(down_for_a_day("{\"catchup\": \"all\"}"), 24);
}

static void catchup_all_burst_keeps_newest(void **state) {
        (void) state;
        expect_caught_up(down_for_a_day("{\"catchup\": \"all\", \"burst\": 5}"), 5);
}

static void catchup_all_within_window(void **state) {
        (void) state;
        /* 6 h before 00:30: 19:00 .. 00:00 */
        expect_caught_up(down_for_a_day("{\"catchup\": \"all\", \"catchup_window\": \"6h\"}"), 6);
}

/* ---- 2. a feature off for a week ---- */

static void set_feature(engine *e, bool enabled) {
        store *st;
        sked_err err = {0};
        json_t *ret = NULL;
        assert_int_equal(engine_thread_store(e, &st, &err), 0);
        if (engine_feature_set(e, st, "billing", enabled, "test", &ret, &err) < 0)
                fail_msg("feature: %s", err.msg);
        json_decref(ret);
}

/* A daily 09:00 billing series runs on 2026-06-01; the feature is off from 10:00
 * that day to 2026-06-08T12:00, past seven due instants.  Returns the series. */
static int64_t feature_off_for_a_week(const char *policy) {
        atomic_store(&fake_now, at("2026-06-01T08:00:00Z"));
        engine *e = open_engine(2);
        char json[256];
        snprintf(json, sizeof json,
                 "{\"type\": \"t.bill\", \"schedule\": \"RRULE:FREQ=DAILY;BYHOUR=9;BYMINUTE=0\", "
                 "\"policy\": %s}",
                 policy);
        int64_t id = create(e, json);
        start(e);
        advance_to(e, at("2026-06-01T09:00:00Z"));
        assert_int_equal(count_seen(), 1);
        advance_to(e, at("2026-06-01T10:00:00Z"));
        set_feature(e, false);
        /* every due instant passes, at it and between: nothing runs */
        step_through(e, at("2026-06-01T12:00:00Z"), at("2026-06-08T12:00:00Z"), 3 * HOUR);
        assert_int_equal(count_seen(), 1);
        series_row row = get_series(id);
        assert_false(row.feature_on);
        assert_int_equal(row.fired, 1);
        assert_int_equal(row.missed, 0);
        assert_int_equal(row.next_due, at("2026-06-02T09:00:00Z"));
        series_row_clear(&row);
        occurrence_rec *rec = NULL;
        assert_int_equal(occurrences(id, at("2026-06-01T10:00:00Z"), at("2026-06-09T00:00:00Z"), &rec), 0);
        free(rec);

        set_feature(e, true);
        advance_to(e, at("2026-06-08T12:00:00Z"));
        close_engine(e);
        return id;
}

static void feature_reenabled_catchup_latest(void **state) {
        (void) state;
        int64_t id = feature_off_for_a_week("{\"catchup\": \"latest\"}");
        sked_time want[] = {at("2026-06-01T09:00:00Z"), at("2026-06-08T09:00:00Z")};
        expect_seen(want, 2);
        assert_int_equal(seen[1].clock, at("2026-06-08T12:00:00Z")); /* at once */
        series_row row = get_series(id);
        assert_true(row.feature_on);
        assert_int_equal(row.fired, 2);
        assert_int_equal(row.missed, 6);
        assert_int_equal(row.next_due, at("2026-06-09T09:00:00Z"));
        series_row_clear(&row);
}

static void feature_reenabled_catchup_all(void **state) {
        (void) state;
        int64_t id = feature_off_for_a_week("{\"catchup\": \"all\"}");
        sked_time want[8];
        want_occ occ[7];
        for (int i = 0; i < 8; i++)
                want[i] = at("2026-06-01T09:00:00Z") + i * DAY;
        for (int i = 0; i < 7; i++)
                occ[i] = (want_occ){.nominal = want[i + 1], .state = "succeeded"};
        expect_seen(want, 8);
        expect_occurrences(id, at("2026-06-01T10:00:00Z"), at("2026-06-09T00:00:00Z"), occ, 7);
        series_row row = get_series(id);
        assert_int_equal(row.fired, 8);
        assert_int_equal(row.missed, 0);
        series_row_clear(&row);
}

static bool heartbeat_reached(const void *arg) {
        poller_health h;
        sked_err err = {0};
        return store_poller_get(rd, &h, &err) == 0 && h.heartbeat_at >= *(const sked_time *) arg;
}

/* Sets the clock (at least 1 s on) and waits until a turn at it has committed: its
 * claims are in the store.  For when a ready run must wait and the engine
 * therefore never becomes idle. */
static void turn_at(engine *e, sked_time t) {
        atomic_store(&fake_now, t);
        if (!wait_for(e, heartbeat_reached, &t))
                fail_msg("no poller turn at %lld", (long long) t);
}

/* A run of the feature's type, queued for later, waits while the feature is off,
 * and still after a restart: the disabled feature is in the store. */
static void feature_off_survives_restart(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-06-01T08:00:00Z"));
        engine *e = open_engine(2);
        start(e);
        advance_to(e, at("2026-06-01T08:00:00Z"));
        run_row run = {.type = "t.bill",
                       .trigger = "manual",
                       .params = "{}",
                       .attempt = 1,
                       .queued_at = at("2026-06-01T08:00:00Z"),
                       .not_before = at("2026-06-01T09:00:00Z")};
        sked_err err = {0};
        assert_int_equal(store_run_insert(rd, &run, &err), 0);
        free(run.idem_key);
        set_feature(e, false);
        turn_at(e, at("2026-06-01T09:00:00Z"));
        run_row got = {0};
        assert_int_equal(store_run_get(rd, run.id, &got, &err), 0);
        assert_string_equal(got.state, "queued");
        run_row_clear(&got);
        close_engine(e);

        atomic_store(&fake_now, at("2026-06-01T10:00:00Z"));
        e = open_engine(2);
        start(e);
        turn_at(e, at("2026-06-01T10:00:00Z"));
        turn_at(e, at("2026-06-01T10:00:05Z"));
        assert_int_equal(store_run_get(rd, run.id, &got, &err), 0);
        assert_string_equal(got.state, "queued"); /* the feature is still off */
        run_row_clear(&got);
        assert_int_equal(count_seen(), 0);
        set_feature(e, true);
        advance_to(e, at("2026-06-01T10:00:10Z"));
        close_engine(e);
        assert_int_equal(count_seen(), 1);
        assert_int_equal(store_run_get(rd, run.id, &got, &err), 0);
        assert_string_equal(got.state, "succeeded");
        run_row_clear(&got);
}

/* ---- 3. overlap: a run still going when the next occurrences fall due ---- */

typedef struct occ_key {
        int64_t id;
        sked_time nominal;
} occ_key;

static bool recorded(const void *arg) {
        const occ_key *k = arg;
        occurrence_rec *rec = NULL;
        size_t n = occurrences(k->id, k->nominal, k->nominal + 1, &rec);
        free(rec);
        return n > 0;
}

static bool started_n(const void *arg) {
        return count_seen() >= *(const int *) arg;
}

static bool active_n(const void *arg) {
        return atomic_load(&active) == *(const int *) arg;
}

/* Sets the clock to `t` (an occurrence) and waits until the poller recorded it. */
static void reach_occurrence(engine *e, int64_t id, sked_time t) {
        atomic_store(&fake_now, t);
        occ_key k = {id, t};
        if (!wait_for(e, recorded, &k))
                fail_msg("occurrence %lld not recorded", (long long) t);
}

static void wait_started(engine *e, int n) {
        if (!wait_for(e, started_n, &n))
                fail_msg("%d handler(s) started, expected %d", count_seen(), n);
}

/* A minutely series of the blocking type under `overlap`; its 12:00 run has started
 * and blocks. */
static engine *overlap_begin(const char *overlap, unsigned workers, int64_t *ret_id) {
        atomic_store(&fake_now, at("2026-06-01T12:00:00Z"));
        engine *e = open_engine(workers);
        char json[256];
        snprintf(json, sizeof json,
                 "{\"type\": \"t.block\", \"schedule\": \"every 1m\", \"policy\": {\"overlap\": "
                 "\"%s\"}}",
                 overlap);
        *ret_id = create(e, json);
        start(e);
        wait_started(e, 1);
        assert_int_equal(seen[0].nominal, at("2026-06-01T12:00:00Z"));
        return e;
}

static void overlap_skip(void **state) {
        (void) state;
        int64_t id;
        engine *e = overlap_begin("skip", 4, &id);
        for (int i = 1; i <= 3; i++)
                reach_occurrence(e, id, at("2026-06-01T12:00:00Z") + i * MINUTE);
        assert_int_equal(count_seen(), 1);
        atomic_store(&released, true);
        advance_to(e, at("2026-06-01T12:03:30Z"));
        advance_to(e, at("2026-06-01T12:04:00Z")); /* nothing runs now: the next one does */
        close_engine(e);
        sked_time want[] = {at("2026-06-01T12:00:00Z"), at("2026-06-01T12:04:00Z")};
        expect_seen(want, 2);
        want_occ occ[] = {
                {at("2026-06-01T12:00:00Z"), "succeeded", NULL}, {at("2026-06-01T12:01:00Z"), NULL, "overlap"},
                {at("2026-06-01T12:02:00Z"), NULL, "overlap"},   {at("2026-06-01T12:03:00Z"), NULL, "overlap"},
                {at("2026-06-01T12:04:00Z"), "succeeded", NULL},
        };
        expect_occurrences(id, at("2026-06-01T12:00:00Z"), at("2026-06-01T12:05:00Z"), occ, 5);
        series_row row = get_series(id);
        assert_int_equal(row.skipped_overlap, 3);
        assert_int_equal(row.fired, 2);
        series_row_clear(&row);
        assert_int_equal(atomic_load(&max_active), 1);
}

static void overlap_buffer_one(void **state) {
        (void) state;
        int64_t id;
        engine *e = overlap_begin("buffer_one", 4, &id);
        for (int i = 1; i <= 3; i++)
                reach_occurrence(e, id, at("2026-06-01T12:00:00Z") + i * MINUTE);
        assert_int_equal(count_seen(), 1);
        run_row waiting = run_at(id, at("2026-06-01T12:01:00Z"));
        assert_string_equal(waiting.state, "queued");
        run_row_clear(&waiting);
        atomic_store(&released, true);
        advance_to(e, at("2026-06-01T12:03:30Z"));
        close_engine(e);
        sked_time want[] = {at("2026-06-01T12:00:00Z"), at("2026-06-01T12:01:00Z")};
        expect_seen(want, 2);
        want_occ occ[] = {
                {at("2026-06-01T12:00:00Z"), "succeeded", NULL},
                {at("2026-06-01T12:01:00Z"), "succeeded", NULL},
                {at("2026-06-01T12:02:00Z"), NULL, "overlap"},
                {at("2026-06-01T12:03:00Z"), NULL, "overlap"},
        };
        expect_occurrences(id, at("2026-06-01T12:00:00Z"), at("2026-06-01T12:04:00Z"), occ, 4);
        series_row row = get_series(id);
        assert_int_equal(row.skipped_overlap, 2);
        series_row_clear(&row);
        assert_int_equal(atomic_load(&max_active), 1);
}

static void overlap_buffer_all(void **state) {
        (void) state;
        int64_t id;
        engine *e = overlap_begin("buffer_all", 4, &id);
        for (int i = 1; i <= 3; i++)
                reach_occurrence(e, id, at("2026-06-01T12:00:00Z") + i * MINUTE);
        assert_int_equal(count_seen(), 1);
        atomic_store(&released, true);
        advance_to(e, at("2026-06-01T12:03:30Z"));
        close_engine(e);
        sked_time want[4];
        want_occ occ[4];
        for (int i = 0; i < 4; i++) {
                want[i] = at("2026-06-01T12:00:00Z") + i * MINUTE;
                occ[i] = (want_occ){.nominal = want[i], .state = "succeeded"};
        }
        expect_seen(want, 4); /* one after another, in order */
        expect_occurrences(id, want[0], want[3] + 1, occ, 4);
        assert_int_equal(atomic_load(&max_active), 1); /* never two at once */
        series_row row = get_series(id);
        assert_int_equal(row.skipped_overlap, 0);
        assert_int_equal(row.fired, 4);
        series_row_clear(&row);
}

static void overlap_cancel_other(void **state) {
        (void) state;
        int64_t id;
        engine *e = overlap_begin("cancel_other", 4, &id);
        /* each new occurrence supersedes the one running: it ends, the new one starts */
        for (int i = 1; i <= 2; i++) {
                reach_occurrence(e, id, at("2026-06-01T12:00:00Z") + i * MINUTE);
                wait_started(e, 1 + i);
        }
        atomic_store(&released, true);
        advance_to(e, at("2026-06-01T12:02:30Z"));
        close_engine(e);
        sked_time want[] = {at("2026-06-01T12:00:00Z"), at("2026-06-01T12:01:00Z"), at("2026-06-01T12:02:00Z")};
        expect_seen(want, 3);
        assert_true(seen[0].cancelled);
        assert_true(seen[1].cancelled);
        assert_false(seen[2].cancelled);
        want_occ occ[] = {
                {want[0], "cancelled", NULL},
                {want[1], "cancelled", NULL},
                {want[2], "succeeded", NULL},
        };
        expect_occurrences(id, want[0], want[2] + 1, occ, 3);
        run_row r0 = run_at(id, want[0]);
        assert_non_null(strstr(r0.error, "superseded"));
        assert_int_equal(r0.next_attempt, 0); /* not retried */
        run_row_clear(&r0);
        assert_int_equal(atomic_load(&max_active), 1);
}

static void overlap_allow_all(void **state) {
        (void) state;
        int64_t id;
        engine *e = overlap_begin("allow_all", 4, &id);
        for (int i = 1; i <= 3; i++) {
                reach_occurrence(e, id, at("2026-06-01T12:00:00Z") + i * MINUTE);
                wait_started(e, 1 + i);
        }
        int four = 4;
        assert_true(wait_for(e, active_n, &four));
        atomic_store(&released, true);
        advance_to(e, at("2026-06-01T12:03:30Z"));
        close_engine(e);
        assert_int_equal(atomic_load(&max_active), 4);
        want_occ occ[4];
        for (int i = 0; i < 4; i++)
                occ[i] = (want_occ){.nominal = at("2026-06-01T12:00:00Z") + i * MINUTE, .state = "succeeded"};
        expect_occurrences(id, occ[0].nominal, occ[3].nominal + 1, occ, 4);
        series_row row = get_series(id);
        assert_int_equal(row.skipped_overlap, 0);
        series_row_clear(&row);
}

/* ---- 4. the clock jumps ---- */

static int64_t minutely_at_noon(engine **ret) {
        atomic_store(&fake_now, at("2026-06-01T12:00:00Z"));
        engine *e = open_engine(2);
        int64_t id = create(e, "{\"type\": \"t.rec\", \"schedule\": \"every 1m\"}");
        start(e);
        advance_to(e, at("2026-06-01T12:00:00Z"));
        *ret = e;
        return id;
}

static void clock_forward_minutes_bounded(void **state) {
        (void) state;
        engine *e;
        int64_t id = minutely_at_noon(&e);
        /* +5 min: 12:04 is late by exactly the tolerance (60 s) and counts as on time
         * (fire.c: nominal >= now - late_after), 12:05 is on time; 12:01..12:03 are
         * late and, with catchup "latest", missed because on-time ones run */
        advance_to(e, at("2026-06-01T12:05:00Z"));
        /* +5.5 min: 12:10 is on time, 12:06..12:09 late and missed */
        advance_to(e, at("2026-06-01T12:10:30Z"));
        close_engine(e);
        sked_time want[] = {at("2026-06-01T12:00:00Z"), at("2026-06-01T12:04:00Z"), at("2026-06-01T12:05:00Z"),
                            at("2026-06-01T12:10:00Z")};
        expect_seen(want, 4);
        want_occ occ[4];
        for (int i = 0; i < 4; i++)
                occ[i] = (want_occ){.nominal = want[i], .state = "succeeded"};
        expect_occurrences(id, want[0], at("2026-06-01T12:11:00Z"), occ, 4);
        series_row row = get_series(id);
        assert_int_equal(row.fired, 4);
        assert_int_equal(row.missed, 3 + 4);
        assert_int_equal(row.next_due, at("2026-06-01T12:11:00Z"));
        series_row_clear(&row);
}

static void clock_back_never_runs_twice(void **state) {
        (void) state;
        engine *e;
        int64_t id = minutely_at_noon(&e);
        advance_to(e, at("2026-06-01T12:01:00Z"));
        /* back one hour, then forward through it: the cursor (12:02) holds */
        step_through(e, at("2026-06-01T11:01:00Z"), at("2026-06-01T12:01:00Z"), 10 * MINUTE);
        assert_int_equal(count_seen(), 2);
        advance_to(e, at("2026-06-01T12:02:00Z"));
        assert_int_equal(count_seen(), 3);
        /* back three minutes, and forward again */
        step_through(e, at("2026-06-01T11:59:00Z"), at("2026-06-01T12:02:00Z"), 30 * SKED_USEC);
        assert_int_equal(count_seen(), 3);
        advance_to(e, at("2026-06-01T12:03:00Z"));
        close_engine(e);
        sked_time want[] = {at("2026-06-01T12:00:00Z"), at("2026-06-01T12:01:00Z"), at("2026-06-01T12:02:00Z"),
                            at("2026-06-01T12:03:00Z")};
        expect_seen(want, 4);
        assert_int_equal(seen[3].clock, at("2026-06-01T12:03:00Z"));
        expect_each_nominal_once(id);
        series_row row = get_series(id);
        assert_int_equal(row.fired, 4);
        assert_int_equal(row.missed, 0);
        series_row_clear(&row);
}

static void clock_forward_then_back_hours(void **state) {
        (void) state;
        engine *e;
        int64_t id = minutely_at_noon(&e);
        /* +3 h: 14:59 (late by exactly the tolerance) and 15:00 run; 12:01..14:58 missed */
        advance_to(e, at("2026-06-01T15:00:00Z"));
        assert_int_equal(count_seen(), 3);
        /* -3 h, and forward through it again: nothing runs twice */
        step_through(e, at("2026-06-01T12:00:00Z"), at("2026-06-01T15:00:00Z"), 20 * MINUTE);
        assert_int_equal(count_seen(), 3);
        advance_to(e, at("2026-06-01T15:01:00Z"));
        close_engine(e);
        sked_time want[] = {at("2026-06-01T12:00:00Z"), at("2026-06-01T14:59:00Z"), at("2026-06-01T15:00:00Z"),
                            at("2026-06-01T15:01:00Z")};
        expect_seen(want, 4);
        expect_each_nominal_once(id);
        series_row row = get_series(id);
        assert_int_equal(row.fired, 4);
        assert_int_equal(row.missed, 3 * 60 - 2);
        series_row_clear(&row);
}

/* The backstop (fire.c: store_occurrence_done): the clock set back and the rule
 * edited, so that its cursor starts before what already ran.  The new instants
 * run; the instants that ran do not run again, though no row but their runs
 * records them (schema version 4). */
static void clock_back_edited_rule_meets_fired_occurrences(void **state) {
        (void) state;
        engine *e;
        int64_t id = minutely_at_noon(&e);
        step_through(e, at("2026-06-01T12:01:00Z"), at("2026-06-01T12:03:00Z"), MINUTE);
        assert_int_equal(count_seen(), 4);
        advance_to(e, at("2026-06-01T11:58:00Z"));
        store *st;
        sked_err err = {0};
        series_row row = {0};
        assert_int_equal(engine_thread_store(e, &st, &err), 0);
        json_t *patch = json_pack("{s:s, s:s}", "schedule", "cron:* * * * *", "start", "2026-06-01T11:00:00");
        if (engine_series_update(e, st, id, patch, 0, &row, NULL, &err) < 0)
                fail_msg("update: %s", err.msg);
        json_decref(patch);
        assert_int_equal(row.next_due, at("2026-06-01T11:58:00Z"));
        series_row_clear(&row);
        step_through(e, at("2026-06-01T11:58:00Z"), at("2026-06-01T12:05:00Z"), 30 * SKED_USEC);
        close_engine(e);
        sked_time want[] = {at("2026-06-01T12:00:00Z"), at("2026-06-01T12:01:00Z"), at("2026-06-01T12:02:00Z"),
                            at("2026-06-01T12:03:00Z"), at("2026-06-01T11:58:00Z"), at("2026-06-01T11:59:00Z"),
                            at("2026-06-01T12:04:00Z"), at("2026-06-01T12:05:00Z")};
        expect_seen(want, 8);
        expect_each_nominal_once(id);
        want_occ occ[8];
        for (int i = 0; i < 8; i++)
                occ[i] = (want_occ){.nominal = at("2026-06-01T11:58:00Z") + i * MINUTE, .state = "succeeded"};
        expect_occurrences(id, at("2026-06-01T11:58:00Z"), at("2026-06-01T12:06:00Z"), occ, 8);
}

/* A store upgraded from schema version 3 keeps an occurrence row for each occurrence
 * that fired before; such a row still stops the occurrence from firing again, and
 * the calendar shows it once, also when its run was purged. */
static void fired_before_upgrade_is_not_fired_again(void **state) {
        (void) state;
        engine *e;
        int64_t id = minutely_at_noon(&e);
        char sql[256], path[160];
        snprintf(path, sizeof path, "%s/sked.db", dir);
        /* 12:02 as a version-3 store recorded it: a row pointing at a purged run */
        snprintf(sql, sizeof sql,
                 "INSERT INTO occurrences(series_id, nominal, fired_at, run_id) VALUES(%lld, %lld, %lld, 999999)",
                 (long long) id, (long long) at("2026-06-01T12:02:00Z"), (long long) at("2026-06-01T12:00:00Z"));
        sql_exec_at(path, sql);
        advance_to(e, at("2026-06-01T12:01:00Z"));
        advance_to(e, at("2026-06-01T12:02:00Z"));
        advance_to(e, at("2026-06-01T12:03:00Z"));
        close_engine(e);
        sked_time want[] = {at("2026-06-01T12:00:00Z"), at("2026-06-01T12:01:00Z"), at("2026-06-01T12:03:00Z")};
        expect_seen(want, 3);
        want_occ occ[4] = {{.nominal = want[0], .state = "succeeded"},
                           {.nominal = want[1], .state = "succeeded"},
                           {.nominal = at("2026-06-01T12:02:00Z"), .state = ""},
                           {.nominal = want[2], .state = "succeeded"}};
        expect_occurrences(id, want[0], at("2026-06-01T12:04:00Z"), occ, 4);
}

/* A new store has 2 KiB pages (db_sqlite.c: fewer bytes per fired occurrence); a
 * store made with SQLite's 4 KiB keeps them, and opens and migrates as before. */
static void new_store_has_2k_pages_old_keeps_its_own(void **state) {
        (void) state;
        char path[160], old[160], olduri[176];
        snprintf(path, sizeof path, "%s/sked.db", dir);
        assert_int_equal(sql_int_at(path, "PRAGMA page_size"), 2048);
        snprintf(old, sizeof old, "%s/old.db", dir);
        sql_exec_at(old, "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; CREATE TABLE t(x)");
        snprintf(olduri, sizeof olduri, "sqlite:%s", old);
        store *st = NULL;
        sked_err err = {0};
        if (store_open(olduri, &st, &err) < 0)
                fail_msg("store_open: %s", err.msg);
        series_row row = {0};
        assert_int_equal(store_series_get(st, 1, &row, &err), -ENOENT);
        store_close(st);
        assert_int_equal(sql_int_at(old, "PRAGMA page_size"), 4096);
        static const char *const sfx[] = {"", "-wal", "-shm"};
        for (size_t i = 0; i < 3; i++) {
                char f[176];
                snprintf(f, sizeof f, "%s%s", old, sfx[i]);
                unlink(f);
        }
}

/* ---- 5. sleep windows ---- */

static void sleep_window_across_midnight(void **state) {
        (void) state;
        /* June: Berlin is UTC+2.  18:00Z = 20:00 local. */
        atomic_store(&fake_now, at("2026-06-01T18:00:00Z"));
        engine *e = open_engine(2);
        int64_t id = create(e, "{\"type\": \"t.rec\", \"schedule\": \"RRULE:FREQ=HOURLY\", \"tz\": "
                               "\"Europe/Berlin\","
                               " \"sleep\": [{\"from\": \"22:00\", \"to\": \"06:00\", \"tz\": "
                               "\"Europe/Berlin\"}]}");
        start(e);
        step_through(e, at("2026-06-01T18:00:00Z"), at("2026-06-02T05:00:00Z"), 30 * MINUTE);
        close_engine(e);
        /* 20:00, 21:00 local run; 22:00 .. 05:00 sleep; 06:00, 07:00 run */
        sked_time want[] = {at("2026-06-01T18:00:00Z"), at("2026-06-01T19:00:00Z"), at("2026-06-02T04:00:00Z"),
                            at("2026-06-02T05:00:00Z")};
        expect_seen(want, 4);
        want_occ occ[12];
        for (int i = 0; i < 12; i++) {
                sked_time t = at("2026-06-01T18:00:00Z") + i * HOUR;
                bool asleep = i >= 2 && i < 10;
                occ[i] = (want_occ){.nominal = t, .state = asleep ? NULL : "succeeded", .why = asleep ? "sleep" : NULL};
        }
        expect_occurrences(id, at("2026-06-01T18:00:00Z"), at("2026-06-02T05:30:00Z"), occ, 12);
        series_row row = get_series(id);
        assert_int_equal(row.skipped_sleep, 8);
        assert_int_equal(row.fired, 4);
        series_row_clear(&row);
}

/* ---- 6. one-off changes ---- */

static void change(engine *e, int64_t id, sked_time nominal, const char *json) {
        json_error_t je;
        json_t *in = json_loads(json, 0, &je), *ret = NULL;
        assert_non_null(in);
        store *st;
        sked_err err = {0};
        assert_int_equal(engine_thread_store(e, &st, &err), 0);
        if (engine_occurrence_change(e, st, id, nominal, in, &ret, &err) < 0)
                fail_msg("change: %s", err.msg);
        json_decref(in);
        json_decref(ret);
}

/* The integer parameter "n" of a run's params text (-1 when absent). */
static json_int_t param_n(const char *params) {
        json_error_t je;
        json_t *p = json_loads(params, 0, &je);
        json_t *n = json_object_get(p, "n");
        json_int_t v = json_is_integer(n) ? json_integer_value(n) : -1;
        json_decref(p);
        return v;
}

static void one_off_changes(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-06-01T00:00:00Z"));
        engine *e = open_engine(2);
        int64_t id = create(e, "{\"type\": \"t.rec\", \"schedule\": \"every 1h\"}");
        change(e, id, at("2026-06-01T02:00:00Z"), "{\"enabled\": false}");
        change(e, id, at("2026-06-01T03:00:00Z"), "{\"start\": \"2026-06-01T03:30:00Z\"}");
        change(e, id, at("2026-06-01T04:00:00Z"), "{\"params\": {\"n\": 7}}");
        change(e, id, at("2026-06-01T06:00:00Z"), "{\"start\": \"2026-06-01T05:45:00Z\"}"); /* earlier */
        start(e);
        step_through(e, at("2026-06-01T00:00:00Z"), at("2026-06-01T03:20:00Z"), 10 * MINUTE);
        assert_int_equal(count_seen(), 2); /* 00:00, 01:00: 02:00 is off, 03:00 moved */
        step_through(e, at("2026-06-01T03:30:00Z"), at("2026-06-01T07:00:00Z"), 5 * MINUTE);
        close_engine(e);
        sked_time want[] = {at("2026-06-01T00:00:00Z"), at("2026-06-01T01:00:00Z"), at("2026-06-01T03:00:00Z"),
                            at("2026-06-01T04:00:00Z"), at("2026-06-01T05:00:00Z"), at("2026-06-01T06:00:00Z"),
                            at("2026-06-01T07:00:00Z")};
        expect_seen(want, 7);
        /* moved: runs at its new time, under its nominal instant */
        assert_int_equal(seen[2].clock, at("2026-06-01T03:30:00Z"));
        assert_int_equal(seen[5].clock, at("2026-06-01T05:45:00Z"));
        run_row moved = run_at(id, at("2026-06-01T03:00:00Z"));
        assert_int_equal(moved.not_before, at("2026-06-01T03:30:00Z"));
        run_row_clear(&moved);
        /* params: the override reaches the handler, the others keep the series' own */
        for (int i = 0; i < 7; i++)
                if (param_n(seen[i].params) != (i == 3 ? 7 : 1))
                        fail_msg("run %d: params %s", i, seen[i].params);
        want_occ occ[8];
        for (int i = 0; i < 8; i++)
                occ[i] = (want_occ){.nominal = at("2026-06-01T00:00:00Z") + i * HOUR, .state = "succeeded"};
        occ[2] = (want_occ){.nominal = at("2026-06-01T02:00:00Z"), .why = "disabled"};
        expect_occurrences(id, at("2026-06-01T00:00:00Z"), at("2026-06-01T08:00:00Z"), occ, 8);
        expect_each_nominal_once(id);
        series_row row = get_series(id);
        assert_int_equal(row.skipped_disabled, 1);
        assert_int_equal(row.fired, 7);
        assert_int_equal(row.missed, 0);
        series_row_clear(&row);
}

/* ---- 7. jitter ---- */

/* The planned start of each occurrence in [from, to) as the series' listing shows
 * it before anything fired (nominal when not shifted). */
static size_t planned_starts(engine *e, int64_t id, sked_time from, sked_time to, sked_time *nominal,
                             sked_time *start_at, size_t max) {
        store *st;
        sked_err err = {0};
        json_t *list = NULL;
        series_row row = get_series(id);
        assert_int_equal(engine_thread_store(e, &st, &err), 0);
        if (engine_series_occurrences(e, st, &row, from, to, (int) max, &list, NULL, &err) < 0)
                fail_msg("occurrences: %s", err.msg);
        series_row_clear(&row);
        size_t i;
        json_t *o;
        json_array_foreach(list, i, o) {
                nominal[i] = json_integer_value(json_object_get(o, "nominal"));
                json_t *s = json_object_get(o, "start");
                start_at[i] = s ? json_integer_value(s) : nominal[i];
        }
        size_t n = json_array_size(list);
        json_decref(list);
        return n;
}

/* Steps through `n` occurrences of series id whose interval is `interval`: at each
 * nominal instant the run is queued with not_before in [nominal, nominal + bound)
 * and equal to the planned start; it runs when the clock reaches it.  Returns how
 * many were delayed at all. */
static int expect_jittered(engine *e, int64_t id, sked_time first, sked_time interval, int n, sked_time bound) {
        sked_time nominal[16], planned[16];
        assert_true(n <= 16);
        assert_int_equal(planned_starts(e, id, first, first + n * interval, nominal, planned, 16), n);
        start(e);
        int delayed = 0;
        for (int i = 0; i < n; i++) {
                sked_time t = first + i * interval;
                assert_int_equal(nominal[i], t);
                advance_to(e, t);
                run_row run = run_at(id, t);
                if (run.not_before < t || run.not_before >= t + bound)
                        fail_msg("occurrence %d: not_before %lld s after its nominal", i,
                                 (long long) ((run.not_before - t) / SKED_USEC));
                assert_int_equal(run.not_before, planned[i]); /* stable: as the calendar showed it */
                delayed += run.not_before > t;
                if (run.not_before > t) {
                        assert_string_equal(run.state, "queued");
                        assert_int_equal(count_seen(), i);
                        advance_to(e, run.not_before - 1);
                        assert_int_equal(count_seen(), i);
                        advance_to(e, run.not_before);
                }
                run_row_clear(&run);
                assert_int_equal(count_seen(), i + 1);
                assert_int_equal(seen[i].clock, planned[i]);
        }
        return delayed;
}

static void jitter_within_bound(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-06-01T00:00:00Z"));
        engine *e = open_engine(2);
        int64_t id = create(e, "{\"type\": \"t.rec\", \"schedule\": \"every 1h\", \"policy\": "
                               "{\"jitter\": \"10m\"}}");
        int delayed = expect_jittered(e, id, at("2026-06-01T00:00:00Z"), HOUR, 6, 10 * MINUTE);
        close_engine(e);
        assert_true(delayed > 0);
        series_row row = get_series(id);
        assert_int_equal(row.fired, 6);
        assert_int_equal(row.skipped_overlap, 0);
        series_row_clear(&row);
}

static void jitter_beyond_interval_stays_before_next(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-06-01T00:00:00Z"));
        engine *e = open_engine(2);
        int64_t id = create(e, "{\"type\": \"t.rec\", \"schedule\": \"every 10m\", \"policy\": "
                               "{\"jitter\": \"1h\"}}");
        int delayed = expect_jittered(e, id, at("2026-06-01T00:00:00Z"), 10 * MINUTE, 12, 10 * MINUTE);
        close_engine(e);
        assert_true(delayed > 0);
        series_row row = get_series(id);
        assert_int_equal(row.fired, 12);
        assert_int_equal(row.skipped_overlap, 0);
        series_row_clear(&row);
}

/* ---- 8. DST overrides ---- */

static void dst_gap_skip(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-03-06T12:00:00Z"));
        engine *e = open_engine(2);
        int64_t id = create(e, "{\"type\": \"t.rec\", \"schedule\": \"RRULE:FREQ=DAILY;BYHOUR=2;BYMINUTE=30\","
                               " \"tz\": \"America/New_York\", \"start\": \"2026-03-06T02:30:00\","
                               " \"policy\": {\"dst_gap\": \"skip\"}}");
        start(e);
        step_through(e, at("2026-03-06T12:00:00Z"), at("2026-03-10T12:00:00Z"), 30 * MINUTE);
        close_engine(e);
        sked_time want[] = {at("2026-03-07T07:30:00Z"), /* 02:30 EST */
                            at("2026-03-09T06:30:00Z"), /* 02:30 EDT; 03-08 02:30 does not exist */
                            at("2026-03-10T06:30:00Z")};
        expect_seen(want, 3);
        occurrence_rec *rec = NULL;
        assert_int_equal(occurrences(id, at("2026-03-08T05:00:00Z"), at("2026-03-09T04:00:00Z"), &rec), 0);
        free(rec);
        series_row row = get_series(id);
        assert_int_equal(row.fired, 3);
        assert_int_equal(row.missed, 0);
        series_row_clear(&row);
}

static void dst_repeat_both(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-10-31T12:00:00Z"));
        engine *e = open_engine(2);
        int64_t id = create(e, "{\"type\": \"t.rec\", \"schedule\": \"RRULE:FREQ=DAILY;BYHOUR=1;BYMINUTE=30\","
                               " \"tz\": \"America/New_York\", \"policy\": {\"dst_repeat\": \"both\"}}");
        start(e);
        step_through(e, at("2026-10-31T12:00:00Z"), at("2026-11-02T12:00:00Z"), 30 * MINUTE);
        close_engine(e);
        sked_time want[] = {at("2026-11-01T05:30:00Z"), /* 01:30 EDT */
                            at("2026-11-01T06:30:00Z"), /* 01:30 EST */
                            at("2026-11-02T06:30:00Z")};
        expect_seen(want, 3);
        want_occ occ[] = {{want[0], "succeeded", NULL}, {want[1], "succeeded", NULL}, {want[2], "succeeded", NULL}};
        expect_occurrences(id, at("2026-10-31T12:00:00Z"), at("2026-11-02T12:00:00Z"), occ, 3);
        series_row row = get_series(id);
        assert_int_equal(row.fired, 3);
        series_row_clear(&row);
}

/* ---- retention ---- */

/* A type kept 1 h: its finished runs (with messages and results) are purged once
 * they are older than that, on the poller's minute schedule, and counted. */
/* ---- 9. look-ahead: fired and claimed early, started on time ---- */

typedef struct claimed_key {
        int64_t id;
        sked_time nominal;
} claimed_key;

/* The run of (series, nominal) is claimed: running in the store. */
static bool claimed(const void *arg) {
        const claimed_key *k = arg;
        run_row *rows = NULL;
        size_t n = runs_of(k->id, &rows);
        bool found = false;
        for (size_t i = 0; i < n; i++)
                if (rows[i].nominal == k->nominal && strcmp(rows[i].state, "running") == 0)
                        found = true;
        run_rows_free(rows, n);
        return found;
}

static void expect_claimed_ahead(engine *e, int64_t id, sked_time nominal) {
        claimed_key k = {id, nominal};
        if (!wait_for(e, claimed, &k))
                fail_msg("the run of %lld was not claimed ahead", (long long) nominal);
        run_row run = run_at(id, nominal);
        assert_true(run.not_before == nominal);
        assert_true(run.started_at == nominal); /* recorded as it will start: on time */
        run_row_clear(&run);
}

/* A series is fired and its run claimed within the look-ahead (2 s), not before;
 * the handler starts when the clock reaches the occurrence, not when claimed. */
static void lookahead_claims_early_starts_on_time(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-06-01T11:59:00Z"));
        engine *e = open_engine_ahead(2, 2000);
        int64_t id = create(e, "{\"type\": \"t.rec\", \"schedule\": \"every 1m\", "
                               "\"start\": \"2026-06-01T12:00:00\", \"tz\": \"UTC\"}");
        start(e);
        advance_to(e, at("2026-06-01T11:59:57Z")); /* 3 s before: beyond the look-ahead */
        run_row *rows = NULL;
        assert_int_equal(runs_of(id, &rows), 0);
        run_rows_free(rows, 0);
        atomic_store(&fake_now, at("2026-06-01T11:59:58Z") + 500000); /* 1.5 s before */
        expect_claimed_ahead(e, id, at("2026-06-01T12:00:00Z"));
        usleep(200000);
        assert_int_equal(count_seen(), 0); /* claimed, waiting for its time */
        atomic_store(&fake_now, at("2026-06-01T12:00:00Z"));
        wait_started(e, 1);
        assert_true(seen[0].nominal == at("2026-06-01T12:00:00Z"));
        assert_true(seen[0].clock >= at("2026-06-01T12:00:00Z"));
        advance_to(e, at("2026-06-01T12:00:30Z"));
        close_engine(e);
        want_occ occ[] = {{at("2026-06-01T12:00:00Z"), "succeeded", NULL}};
        expect_occurrences(id, at("2026-06-01T11:00:00Z"), at("2026-06-01T12:01:00Z"), occ, 1);
}

/* Runs claimed ahead for later hold no worker: a run due now is claimed at once
 * although more runs are claimed ahead than the claim depth (8 for 1 worker).
 * They used to count against it, and a run due now waited until they started:
 * a poller behind at 1,000,000 series never caught up. */
static void claimed_ahead_do_not_hold_back_due_runs(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-06-01T11:59:00Z"));
        engine *e = open_engine_ahead(1, 2000);
        int64_t ids[20];
        for (int i = 0; i < 20; i++)
                ids[i] = create(e, "{\"type\": \"t.rec\", \"schedule\": \"every 1h\", "
                                   "\"start\": \"2026-06-01T12:00:02\", \"tz\": \"UTC\"}");
        start(e);
        atomic_store(&fake_now, at("2026-06-01T12:00:00Z") + 500000);
        for (int i = 0; i < 20; i++)
                expect_claimed_ahead(e, ids[i], at("2026-06-01T12:00:02Z"));
        store *st;
        sked_err err = {0};
        const char *params[] = {"{}"};
        assert_int_equal(engine_thread_store(e, &st, &err), 0);
        if (engine_enqueue(e, st, "t.rec", params, 1, NULL, &err) < 0)
                fail_msg("enqueue: %s", err.msg);
        wait_started(e, 1);                                         /* the clock stands 1.5 s before the others' time */
        assert_true(seen[0].nominal != at("2026-06-01T12:00:02Z")); /* the one-off run */
        atomic_store(&fake_now, at("2026-06-01T12:00:02Z"));
        wait_started(e, 21);
        close_engine(e);
}

/* A series with a run going is not fired ahead: its overlap policy is decided at
 * the occurrence's time, as without look-ahead.  Still going then: skipped; done
 * before the next one's look-ahead: that one is fired and claimed early. */
static void lookahead_waits_for_busy_series(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-06-01T12:00:00Z"));
        engine *e = open_engine_ahead(4, 2000);
        int64_t id = create(e, "{\"type\": \"t.block\", \"schedule\": \"every 1m\", "
                               "\"start\": \"2026-06-01T12:00:00\", \"tz\": \"UTC\"}");
        start(e);
        wait_started(e, 1);
        atomic_store(&fake_now, at("2026-06-01T12:00:59Z")); /* 1 s before: busy, not fired */
        for (int i = 0; i < 20; i++) {
                engine_wake(e);
                usleep(5000);
        }
        occurrence_rec *rec = NULL;
        assert_int_equal(occurrences(id, at("2026-06-01T12:01:00Z"), at("2026-06-01T12:02:00Z"), &rec), 0);
        free(rec);
        reach_occurrence(e, id, at("2026-06-01T12:01:00Z")); /* still going: skipped */
        atomic_store(&released, true);
        atomic_store(&fake_now, at("2026-06-01T12:01:58Z") + 500000);
        expect_claimed_ahead(e, id, at("2026-06-01T12:02:00Z"));
        assert_int_equal(count_seen(), 1);
        atomic_store(&fake_now, at("2026-06-01T12:02:00Z"));
        wait_started(e, 2);
        assert_true(seen[1].nominal == at("2026-06-01T12:02:00Z"));
        assert_true(seen[1].clock >= at("2026-06-01T12:02:00Z"));
        advance_to(e, at("2026-06-01T12:02:30Z"));
        close_engine(e);
        want_occ occ[] = {
                {at("2026-06-01T12:00:00Z"), "succeeded", NULL},
                {at("2026-06-01T12:01:00Z"), NULL, "overlap"},
                {at("2026-06-01T12:02:00Z"), "succeeded", NULL},
        };
        expect_occurrences(id, at("2026-06-01T12:00:00Z"), at("2026-06-01T12:03:00Z"), occ, 3);
}

/* Stopped while a run waits, claimed ahead: it is queued again as it was (same
 * run, first attempt), and runs once, at its time, after the next start. */
static void lookahead_stop_releases_claimed_run(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-06-01T11:59:58Z") + 500000);
        engine *e = open_engine_ahead(2, 2000);
        int64_t id = create(e, "{\"type\": \"t.rec\", \"schedule\": \"every 1m\", "
                               "\"start\": \"2026-06-01T12:00:00\", \"tz\": \"UTC\"}");
        start(e);
        expect_claimed_ahead(e, id, at("2026-06-01T12:00:00Z"));
        close_engine(e);
        assert_int_equal(count_seen(), 0);
        run_row run = run_at(id, at("2026-06-01T12:00:00Z"));
        assert_string_equal(run.state, "queued");
        assert_int_equal(run.attempt, 1);
        assert_true(run.not_before == at("2026-06-01T12:00:00Z"));
        run_row_clear(&run);
        e = open_engine(2);
        start(e);
        advance_to(e, at("2026-06-01T11:59:59Z"));
        assert_int_equal(count_seen(), 0);
        advance_to(e, at("2026-06-01T12:00:00Z"));
        advance_to(e, at("2026-06-01T12:00:30Z"));
        close_engine(e);
        sked_time want[] = {at("2026-06-01T12:00:00Z")};
        expect_seen(want, 1);
        run_row *rows = NULL;
        size_t n = runs_of(id, &rows);
        assert_int_equal(n, 1); /* no second attempt */
        assert_string_equal(rows[0].state, "succeeded");
        run_rows_free(rows, n);
}

/* Paused (or deleted) after its next occurrence was fired and claimed ahead, before
 * its time: that occurrence is taken back, as if never fired, and does not run. */
static void lookahead_pause_and_delete_take_back(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-06-01T11:59:58Z") + 500000);
        engine *e = open_engine_ahead(2, 2000);
        int64_t id = create(e, "{\"type\": \"t.rec\", \"schedule\": \"every 1m\", "
                               "\"start\": \"2026-06-01T12:00:00\", \"tz\": \"UTC\"}");
        int64_t id2 = create(e, "{\"type\": \"t.rec\", \"schedule\": \"every 1m\", "
                                "\"start\": \"2026-06-01T12:00:00\", \"tz\": \"UTC\"}");
        start(e);
        expect_claimed_ahead(e, id, at("2026-06-01T12:00:00Z"));
        expect_claimed_ahead(e, id2, at("2026-06-01T12:00:00Z"));
        store *st;
        sked_err err = {0};
        series_row row = {0};
        assert_int_equal(engine_thread_store(e, &st, &err), 0);
        if (engine_series_set_enabled(e, st, id, false, "maintenance", &row, &err) < 0)
                fail_msg("pause: %s", err.msg);
        series_row_clear(&row);
        if (engine_series_delete(e, st, id2, false, &err) < 0)
                fail_msg("delete: %s", err.msg);
        run_row *rows = NULL;
        assert_int_equal(runs_of(id, &rows), 0);
        assert_int_equal(runs_of(id2, &rows), 0);
        advance_to(e, at("2026-06-01T12:00:00Z"));
        advance_to(e, at("2026-06-01T12:00:30Z"));
        assert_int_equal(count_seen(), 0);
        occurrence_rec *rec = NULL;
        assert_int_equal(occurrences(id, at("2026-06-01T11:00:00Z"), at("2026-06-01T13:00:00Z"), &rec), 0);
        free(rec);
        row = get_series(id);
        assert_int_equal(row.fired, 0);
        series_row_clear(&row);
        /* resumed: from now on, as always */
        if (engine_series_set_enabled(e, st, id, true, NULL, &row, &err) < 0)
                fail_msg("resume: %s", err.msg);
        series_row_clear(&row);
        advance_to(e, at("2026-06-01T12:01:00Z"));
        wait_started(e, 1);
        advance_to(e, at("2026-06-01T12:01:30Z"));
        close_engine(e);
        sked_time want[] = {at("2026-06-01T12:01:00Z")};
        expect_seen(want, 1);
}

/* A run going on for minutes keeps its lease ahead of the clock (renewed every
 * third of it, 30 s by default), also now that fresh leases are left alone. */
typedef struct lease_probe {
        int64_t series;
        sked_time nominal;
} lease_probe;

static bool lease_ahead(const void *arg) {
        const lease_probe *p = arg;
        run_row run = run_at(p->series, p->nominal);
        bool ok = !strcmp(run.state, "running") && run.lease_until > atomic_load(&fake_now) + 10 * SKED_USEC;
        run_row_clear(&run);
        return ok;
}

static void long_run_keeps_its_lease(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-06-01T12:00:00Z"));
        engine *e = open_engine(2);
        lease_probe p = {.nominal = at("2026-06-01T12:00:00Z")};
        p.series = create(e, "{\"type\": \"t.block\", \"schedule\": \"every 1h\", "
                             "\"start\": \"2026-06-01T12:00:00\", \"tz\": \"UTC\"}");
        start(e);
        wait_started(e, 1);
        for (int k = 1; k <= 36; k++) { /* three minutes, in 5 s steps */
                atomic_store(&fake_now, p.nominal + k * 5 * SKED_USEC);
                if (!wait_for(e, lease_ahead, &p))
                        fail_msg("at +%d s the lease is not 10 s ahead", k * 5);
        }
        atomic_store(&released, true);
        advance_to(e, at("2026-06-01T12:03:30Z"));
        close_engine(e);
        run_row run = run_at(p.series, p.nominal);
        assert_string_equal(run.state, "succeeded");
        assert_int_equal(run.attempt, 1);
        run_row_clear(&run);
}

static void retention_purges_and_counts(void **state) {
        (void) state;
        atomic_store(&fake_now, at("2026-06-01T12:00:00Z"));
        engine *e = open_engine(2);
        register_type(e,
                      "{\"name\": \"t.short\", \"handler\": {\"plugin\": true}, "
                      "\"defaults\": {\"retention\": \"1h\"}}",
                      record);
        int64_t keep = create(e, "{\"type\": \"t.rec\", \"schedule\": \"every 10m\"}");
        int64_t gone = create(e, "{\"type\": \"t.short\", \"schedule\": \"every 10m\"}");
        start(e);
        step_through(e, at("2026-06-01T12:00:00Z"), at("2026-06-01T12:30:00Z"), 10 * MINUTE);
        run_row *rows = NULL;
        size_t n = runs_of(gone, &rows);
        assert_true(n >= 3);
        int64_t first_id = rows[0].id;
        run_rows_free(rows, n);
        /* 75 minutes later: the runs of 12:00 and 12:10 finished over an hour ago */
        step_through(e, at("2026-06-01T12:31:00Z"), at("2026-06-01T13:25:00Z"), 5 * MINUTE);
        n = runs_of(gone, &rows);
        for (size_t i = 0; i < n; i++)
                assert_true(rows[i].finished_at == 0 ||
                            rows[i].finished_at >= at("2026-06-01T13:25:00Z") - HOUR - 5 * MINUTE);
        for (size_t i = 0; i < n; i++)
                assert_int_not_equal(rows[i].id, first_id);
        run_rows_free(rows, n);
        /* the 30-day type keeps everything */
        n = runs_of(keep, &rows);
        assert_true(n >= 9);
        assert_true(rows[0].nominal == at("2026-06-01T12:00:00Z"));
        run_rows_free(rows, n);
        close_engine(e);
        poller_health h;
        sked_err err = {0};
        assert_int_equal(store_poller_get(rd, &h, &err), 0);
        assert_true(h.purged_runs >= 2);
        assert_true(h.last_purge_at >= at("2026-06-01T13:00:00Z"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(catchup_none_after_downtime, setup, teardown),
                cmocka_unit_test_setup_teardown(catchup_latest_after_downtime, setup, teardown),
                cmocka_unit_test_setup_teardown(catchup_all_after_downtime, setup, teardown),
                cmocka_unit_test_setup_teardown(catchup_all_burst_keeps_newest, setup, teardown),
                cmocka_unit_test_setup_teardown(catchup_all_within_window, setup, teardown),
                cmocka_unit_test_setup_teardown(feature_reenabled_catchup_latest, setup, teardown),
                cmocka_unit_test_setup_teardown(feature_reenabled_catchup_all, setup, teardown),
                cmocka_unit_test_setup_teardown(feature_off_survives_restart, setup, teardown),
                cmocka_unit_test_setup_teardown(overlap_skip, setup, teardown),
                cmocka_unit_test_setup_teardown(overlap_buffer_one, setup, teardown),
                cmocka_unit_test_setup_teardown(overlap_buffer_all, setup, teardown),
                cmocka_unit_test_setup_teardown(overlap_cancel_other, setup, teardown),
                cmocka_unit_test_setup_teardown(overlap_allow_all, setup, teardown),
                cmocka_unit_test_setup_teardown(clock_forward_minutes_bounded, setup, teardown),
                cmocka_unit_test_setup_teardown(clock_back_never_runs_twice, setup, teardown),
                cmocka_unit_test_setup_teardown(clock_forward_then_back_hours, setup, teardown),
                cmocka_unit_test_setup_teardown(clock_back_edited_rule_meets_fired_occurrences, setup, teardown),
                cmocka_unit_test_setup_teardown(fired_before_upgrade_is_not_fired_again, setup, teardown),
                cmocka_unit_test_setup_teardown(new_store_has_2k_pages_old_keeps_its_own, setup, teardown),
                cmocka_unit_test_setup_teardown(sleep_window_across_midnight, setup, teardown),
                cmocka_unit_test_setup_teardown(one_off_changes, setup, teardown),
                cmocka_unit_test_setup_teardown(jitter_within_bound, setup, teardown),
                cmocka_unit_test_setup_teardown(jitter_beyond_interval_stays_before_next, setup, teardown),
                cmocka_unit_test_setup_teardown(dst_gap_skip, setup, teardown),
                cmocka_unit_test_setup_teardown(dst_repeat_both, setup, teardown),
                cmocka_unit_test_setup_teardown(retention_purges_and_counts, setup, teardown),
                cmocka_unit_test_setup_teardown(lookahead_claims_early_starts_on_time, setup, teardown),
                cmocka_unit_test_setup_teardown(lookahead_waits_for_busy_series, setup, teardown),
                cmocka_unit_test_setup_teardown(claimed_ahead_do_not_hold_back_due_runs, setup, teardown),
                cmocka_unit_test_setup_teardown(lookahead_stop_releases_claimed_run, setup, teardown),
                cmocka_unit_test_setup_teardown(long_run_keeps_its_lease, setup, teardown),
                cmocka_unit_test_setup_teardown(lookahead_pause_and_delete_take_back, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
