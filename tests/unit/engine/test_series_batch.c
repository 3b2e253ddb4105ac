/* sked_create_series_batch: many series in one transaction, all or none, errors
 * naming the element.  A real SQLite file; the store is read back with sqlite3
 * directly, a second witness next to the API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/civil.h"
#include "sked/sked.h"

#include "sqlite_at.h"

static _Atomic sked_time fake_now;
static char dbpath[256];
static _Atomic int nran;

static sked_instant clock_fn(void *ud) {
        (void) ud;
        return atomic_load(&fake_now);
}

static sked_time at(const char *s) {
        sked_time t = 0;
        assert_int_equal(time_parse_utc(s, &t), 0);
        return t;
}

static int count_run(sked_run *run, void *ud) {
        (void) run;
        (void) ud;
        atomic_fetch_add(&nran, 1);
        return SKED_RUN_OK;
}

static void unlink_db(void) {
        sql_unlink_at(dbpath);
}

static int setup(void **state) {
        (void) state;
        snprintf(dbpath, sizeof dbpath, "/tmp/sked-batch-test-%d.db", (int) getpid());
        unlink_db();
        atomic_store(&fake_now, at("2026-06-01T12:00:00Z"));
        atomic_store(&nran, 0);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        unlink_db();
        return 0;
}

static sked *open_engine(void) {
        char uri[300], err[512] = "";
        snprintf(uri, sizeof uri, "sqlite:%s", dbpath);
        sked_config cfg = {.store = uri, .workers = 2, .clock = clock_fn};
        sked *s = NULL;
        if (sked_new(&cfg, &s, err, sizeof err) < 0)
                fail_msg("sked_new: %s", err);
        if (sked_register_type(s,
                               "{\"name\": \"t.batch\", \"handler\": {\"plugin\": true}, \"params\": "
                               "[{\"name\": \"n\", \"type\": \"int\", \"default\": 1, \"max\": 10}]}",
                               count_run, NULL, err, sizeof err) < 0)
                fail_msg("register: %s", err);
        return s;
}

static void sql_exec(const char *sql) {
        sql_exec_at(dbpath, sql);
}

static int64_t sql_int(const char *sql) {
        return sql_int_at(dbpath, sql);
}

static int64_t series_count(void) {
        return sql_int("SELECT count(*) FROM series");
}

/* n copies of `json` (a printf format taking the index) */
static char **make_series(size_t n, const char *fmt) {
        char **v = calloc(n, sizeof *v);
        assert_non_null(v);
        for (size_t i = 0; i < n; i++)
                assert_true(asprintf(&v[i], fmt, (int) i) > 0);
        return v;
}

static void free_series(char **v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
}

static void creates_all_with_ids_in_order(void **state) {
        (void) state;
        sked *s = open_engine();
        const char *in[] = {
                "{\"type\": \"t.batch\", \"title\": \"b0\", \"schedule\": \"every 1m\"}",
                "{\"type\": \"t.batch\", \"title\": \"b1\", \"schedule\": \"cron:30 9 * * *\", \"tz\": "
                "\"Europe/Berlin\"}",
                "{\"type\": \"t.batch\", \"title\": \"b2\", \"schedule\": \"RRULE:FREQ=DAILY;BYHOUR=7;BYMINUTE=0\", "
                "\"tz\": \"America/New_York\", \"params\": {\"n\": 7}}",
                "{\"type\": \"t.batch\", \"title\": \"b3\", \"schedule\": \"every 15m\", \"enabled\": false}",
                "{\"type\": \"t.batch\", \"title\": \"b4\", \"schedule\": \"every 1h\", \"owner\": \"ops\"}",
        };
        int64_t ids[5] = {0};
        char err[512] = "";
        int r = sked_create_series_batch(s, in, 5, ids, err, sizeof err);
        if (r < 0)
                fail_msg("batch: %s", err);
        assert_int_equal(r, 0);
        assert_int_equal(series_count(), 5);
        for (int i = 0; i < 5; i++) {
                assert_true(ids[i] > 0);
                if (i > 0)
                        assert_true(ids[i] > ids[i - 1]);
                /* ids[i] is the series of in[i] */
                char sql[128];
                snprintf(sql, sizeof sql, "SELECT CAST(substr(title, 2) AS INTEGER) FROM series WHERE id = %lld",
                         (long long) ids[i]);
                assert_int_equal(sql_int(sql), i);
        }
        /* each was validated and normalized like a single create: first due instants */
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT next_due FROM series WHERE id = %lld", (long long) ids[1]);
        assert_int_equal(sql_int(sql), at("2026-06-02T07:30:00Z")); /* 09:30 CEST the next day */
        snprintf(sql, sizeof sql, "SELECT next_due FROM series WHERE id = %lld", (long long) ids[2]);
        assert_int_equal(sql_int(sql), at("2026-06-02T11:00:00Z")); /* 07:00 EDT */
        snprintf(sql, sizeof sql, "SELECT enabled FROM series WHERE id = %lld", (long long) ids[3]);
        assert_int_equal(sql_int(sql), 0);
        snprintf(sql, sizeof sql, "SELECT params = '{\"n\":7}' FROM series WHERE id = %lld", (long long) ids[2]);
        assert_int_equal(sql_int(sql), 1);
        /* ret_ids may be NULL */
        assert_int_equal(sked_create_series_batch(s, in, 2, NULL, err, sizeof err), 0);
        assert_int_equal(series_count(), 7);
        sked_free(s);
}

static void created_series_fire(void **state) {
        (void) state;
        sked *s = open_engine();
        char err[512] = "";
        assert_int_equal(sked_start(s, err, sizeof err), 0);
        char **in = make_series(3, "{\"type\": \"t.batch\", \"title\": \"f%d\", \"schedule\": \"every 1m\"}");
        int64_t ids[3];
        if (sked_create_series_batch(s, (const char *const *) in, 3, ids, err, sizeof err) < 0)
                fail_msg("batch: %s", err);
        free_series(in, 3);
        /* an interval without a start fires at creation, then each minute */
        assert_int_equal(sked_wait_idle(s, 20000), 0);
        assert_int_equal(atomic_load(&nran), 3);
        atomic_store(&fake_now, at("2026-06-01T12:01:00Z"));
        assert_int_equal(sked_wait_idle(s, 20000), 0);
        sked_stop(s, 1000);
        sked_free(s);
        assert_int_equal(atomic_load(&nran), 6);
}

static void one_bad_element_creates_nothing(void **state) {
        (void) state;
        sked *s = open_engine();
        struct {
                const char *bad, *prefix;
        } cases[] = {
                {"{\"type\": \"t.batch\", \"schedule\": \"RRULE:FREQ=DAILY;BYHOUR=25\"}", "series[2].schedule: "},
                {"{\"type\": \"t.batch\", \"schedule\": \"every 1m\", \"params\": {\"n\": 11}}",
                 "series[2].params.n: "},
                {"{\"type\": \"t.nope\", \"schedule\": \"every 1m\"}", "series[2].type: "},
                {"{\"type\": \"t.batch\", \"schedule\": \"every 1m\", \"colour\": \"red\"}", "series[2].colour: "},
                {"{\"type\": \"t.batch\", \"schedule\": \"every 1m\", \"tz\": \"Mars/Olympus\"}", "series[2].tz: "},
                {"{\"type\": \"t.batch\", \"schedule\": ", "series[2]: invalid JSON at line 1"},
                {"[1, 2]", "series[2]: expected a series (JSON object)"},
                {NULL, "series[2]: expected a JSON object"},
        };
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
                const char *in[] = {
                        "{\"type\": \"t.batch\", \"schedule\": \"every 1m\"}",
                        "{\"type\": \"t.batch\", \"schedule\": \"every 2m\"}",
                        cases[c].bad,
                        "{\"type\": \"t.batch\", \"schedule\": \"every 3m\"}",
                };
                int64_t ids[4] = {-1, -1, -1, -1};
                char err[512] = "";
                int r = sked_create_series_batch(s, in, 4, ids, err, sizeof err);
                if (r >= 0 || strncmp(err, cases[c].prefix, strlen(cases[c].prefix)) != 0)
                        fail_msg("case %zu: r=%d err=\"%s\", expected \"%s...\"", c, r, err, cases[c].prefix);
                assert_true(r == -EINVAL || r == -ENOENT);
                assert_int_equal(series_count(), 0);
                for (int i = 0; i < 4; i++)
                        assert_int_equal(ids[i], -1); /* written only on success */
        }
        sked_free(s);
}

static void failed_insert_rolls_back_the_batch(void **state) {
        (void) state;
        sked *s = open_engine();
        /* validation passes; the store refuses the fourth row after three went in */
        sql_exec("CREATE TRIGGER refuse BEFORE INSERT ON series WHEN NEW.title = 'boom' "
                 "BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END");
        char **in = make_series(6, "{\"type\": \"t.batch\", \"title\": \"ok %d\", \"schedule\": \"every 1m\"}");
        free(in[3]);
        in[3] = strdup("{\"type\": \"t.batch\", \"title\": \"boom\", \"schedule\": \"every 1m\"}");
        int64_t ids[6] = {0};
        char err[512] = "";
        int r = sked_create_series_batch(s, (const char *const *) in, 6, ids, err, sizeof err);
        if (r >= 0 || strncmp(err, "series[3]", 9) != 0 || !strstr(err, "refused by test trigger"))
                fail_msg("r=%d err=\"%s\"", r, err);
        assert_int_equal(series_count(), 0);
        /* the connection is usable afterwards: no transaction left open */
        sql_exec("DROP TRIGGER refuse");
        r = sked_create_series_batch(s, (const char *const *) in, 6, ids, err, sizeof err);
        if (r < 0)
                fail_msg("after: %s", err);
        assert_int_equal(series_count(), 6);
        free_series(in, 6);
        sked_free(s);
}

static void empty_and_oversized_batches_are_refused(void **state) {
        (void) state;
        sked *s = open_engine();
        char err[512] = "";
        const char *one[] = {"{\"type\": \"t.batch\", \"schedule\": \"every 1m\"}"};
        assert_int_equal(sked_create_series_batch(s, one, 0, NULL, err, sizeof err), -EINVAL);
        assert_string_equal(err, "series: expected 1 to 10000 series, got 0");
        assert_int_equal(sked_create_series_batch(s, NULL, 1, NULL, err, sizeof err), -EINVAL);
        size_t n = SKED_SERIES_BATCH_MAX + 1;
        char **in = make_series(n, "{\"type\": \"t.batch\", \"title\": \"x%d\", \"schedule\": \"every 1m\"}");
        assert_int_equal(sked_create_series_batch(s, (const char *const *) in, n, NULL, err, sizeof err), -EINVAL);
        assert_string_equal(err, "series: expected 1 to 10000 series, got 10001");
        assert_int_equal(series_count(), 0);
        /* the limit itself is allowed */
        int64_t *ids = calloc(n, sizeof *ids);
        if (sked_create_series_batch(s, (const char *const *) in, n - 1, ids, err, sizeof err) < 0)
                fail_msg("10000: %s", err);
        assert_int_equal(series_count(), SKED_SERIES_BATCH_MAX);
        assert_int_equal(ids[n - 2] - ids[0], SKED_SERIES_BATCH_MAX - 1); /* one file, one writer: no gaps */
        free(ids);
        free_series(in, n);
        sked_free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(creates_all_with_ids_in_order, setup, teardown),
                cmocka_unit_test_setup_teardown(created_series_fire, setup, teardown),
                cmocka_unit_test_setup_teardown(one_bad_element_creates_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(failed_insert_rolls_back_the_batch, setup, teardown),
                cmocka_unit_test_setup_teardown(empty_and_oversized_batches_are_refused, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
