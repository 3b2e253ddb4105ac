/* The store's interface on both backends (backends.h): types and features,
 * series, occurrences and their one-off changes, runs from queued to finished,
 * messages and results, retention, the cluster's records.  Each case starts from
 * an empty store at the newest schema. */
#include "backends.h"

#define T0 ((sked_time) 1796000000 * SKED_USEC) /* 2026-11-30 */
#define MIN ((sked_time) 60 * SKED_USEC)

#define OK(call)                                                                                                       \
        do {                                                                                                           \
                sked_err err_ = {0};                                                                                   \
                int r_ = (call);                                                                                       \
                if (r_ < 0)                                                                                            \
                        fail_msg("%s: %d %s", #call, r_, err_.msg);                                                    \
        } while (0)
/* The call fails with `code`. */
#define FAILS(code, call)                                                                                              \
        do {                                                                                                           \
                sked_err err_ = {0};                                                                                   \
                int r_ = (call);                                                                                       \
                if (r_ != (code))                                                                                      \
                        fail_msg("%s: %d, expected %d (%s)", #call, r_, (code), err_.msg);                             \
        } while (0)

static void put_type(store *s, const char *name, const char *feature) {
        char def[128];
        snprintf(def, sizeof def, "{\"name\": \"%s\"}", name);
        OK(store_type_put(s, name, false, feature, def, T0, &err_));
}

static int64_t new_series(store *s, const char *type, const char *title, sked_time next_due) {
        series_row r = {0};
        r.type = (char *) type;
        r.title = (char *) title;
        r.schedule = "every 1m";
        r.tz = "UTC";
        r.params = "{}";
        r.enabled = true;
        r.has_next = next_due != 0;
        r.next_due = next_due;
        r.updated_at = T0;
        OK(store_series_insert(s, &r, &err_));
        assert_true(r.id > 0);
        assert_int_equal(r.version, 1);
        return r.id;
}

static int64_t new_run(store *s, const char *type, int64_t series_id, sked_time nominal) {
        run_row r = {0};
        r.type = (char *) type;
        r.trigger = series_id ? "schedule" : "manual";
        r.series_id = series_id;
        r.has_nominal = nominal != 0;
        r.nominal = nominal;
        r.queued_at = T0;
        r.not_before = nominal ? nominal : T0;
        OK(store_run_insert(s, &r, &err_));
        assert_true(r.id > 0);
        assert_non_null(r.idem_key);
        int64_t id = r.id;
        free(r.idem_key);
        return id;
}

/* ---- types and features ---- */

static void types_and_features(void **state) {
        store *s = backend_of(state)->st;
        put_type(s, "b.two", "ledger");
        put_type(s, "a.one", NULL);
        json_t *list = NULL;
        OK(store_type_list(s, &list, &err_));
        assert_int_equal(json_array_size(list), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")), "a.one");
        json_decref(list);

        int64_t id = new_series(s, "b.two", "x", T0);
        int64_t changed = -1;
        OK(store_feature_set(s, "ledger", false, "off for the audit", T0, &changed, &err_));
        assert_int_equal(changed, 1);
        series_row r;
        OK(store_series_get(s, id, &r, &err_));
        assert_false(r.feature_on);
        series_row_clear(&r);
        series_row *rows = NULL;
        size_t n = 9;
        OK(store_series_list(s, NULL, 0, 100, false, &rows, &n, &err_));
        assert_int_equal(n, 0); /* hidden while the feature is off */
        series_rows_free(rows, n);
        OK(store_series_list(s, NULL, 0, 100, true, &rows, &n, &err_));
        assert_int_equal(n, 1);
        series_rows_free(rows, n);

        OK(store_features_list(s, &list, &err_));
        assert_int_equal(json_array_size(list), 1);
        json_t *f = json_array_get(list, 0);
        assert_string_equal(json_string_value(json_object_get(f, "name")), "ledger");
        assert_false(json_is_true(json_object_get(f, "enabled")));
        assert_int_equal(json_integer_value(json_object_get(f, "series")), 1);
        json_decref(list);

        OK(store_feature_set(s, "ledger", true, NULL, T0, &changed, &err_));
        assert_int_equal(changed, 1);
        OK(store_series_get(s, id, &r, &err_));
        assert_true(r.feature_on);
        series_row_clear(&r);
}

/* ---- series ---- */

static void series_lifecycle(void **state) {
        store *s = backend_of(state)->st;
        put_type(s, "t.a", NULL);
        put_type(s, "t.b", NULL);
        int64_t a1 = new_series(s, "t.a", "first", T0 + MIN);
        int64_t b1 = new_series(s, "t.b", "second", 0);
        int64_t a2 = new_series(s, "t.a", "third", T0 + 2 * MIN);
        assert_true(a1 < b1 && b1 < a2);

        series_row r;
        OK(store_series_get(s, a1, &r, &err_));
        assert_string_equal(r.title, "first");
        assert_string_equal(r.schedule, "every 1m");
        assert_true(r.has_next);
        assert_int_equal(r.next_due, T0 + MIN);
        assert_null(r.query);
        assert_int_equal(r.version, 1);
        assert_int_equal(r.created_at, T0);

        /* edit at the expected version; a stale one is refused */
        free(r.title);
        r.title = strdup("renamed");
        r.updated_at = T0 + 5;
        OK(store_series_update(s, &r, 1, false, &err_));
        assert_int_equal(r.version, 2);
        FAILS(-ESTALE, store_series_update(s, &r, 1, false, &err_));
        /* without set_next the poller's cursor stays */
        r.next_due = T0 + 99 * MIN;
        OK(store_series_update(s, &r, 0, false, &err_));
        assert_int_equal(r.next_due, T0 + MIN); /* what is in force comes back */
        r.next_due = T0 + 99 * MIN;
        OK(store_series_update(s, &r, 0, true, &err_));
        assert_int_equal(r.next_due, T0 + 99 * MIN);
        series_row_clear(&r);
        OK(store_series_get(s, a1, &r, &err_));
        assert_string_equal(r.title, "renamed");
        assert_int_equal(r.version, 4);
        series_row_clear(&r);

        /* lists: by type, in pages */
        series_row *rows = NULL;
        size_t n = 0;
        OK(store_series_list(s, "t.a", 0, 100, false, &rows, &n, &err_));
        assert_int_equal(n, 2);
        assert_int_equal(rows[0].id, a1);
        assert_int_equal(rows[1].id, a2);
        series_rows_free(rows, n);
        OK(store_series_list(s, NULL, a1, 1, false, &rows, &n, &err_));
        assert_int_equal(n, 1);
        assert_int_equal(rows[0].id, b1);
        series_rows_free(rows, n);

        /* due: enabled series with a cursor by now, earliest first */
        OK(store_series_due(s, T0 + 3 * MIN, 0, 10, &rows, &n, &err_));
        assert_int_equal(n, 1);
        assert_int_equal(rows[0].id, a2);
        series_rows_free(rows, n);
        series_advance adv = {.has_next = true, .next_due = T0 + 4 * MIN, .last_nominal = T0 + 2 * MIN, .fired = 1};
        OK(store_series_advance(s, a2, &adv, &err_));
        sked_time next = 0;
        bool any = false;
        OK(store_next_fire_at(s, T0, 0, &next, &any, &err_));
        assert_true(any);
        assert_int_equal(next, T0 + 4 * MIN);
        OK(store_series_get(s, a2, &r, &err_));
        assert_int_equal(r.fired, 1);
        assert_int_equal(r.last_nominal, T0 + 2 * MIN);
        series_row_clear(&r);

        /* delete: gone, and a second delete finds nothing */
        OK(store_series_delete(s, a2, false, &err_));
        FAILS(-ENOENT, store_series_get(s, a2, &r, &err_));
        FAILS(-ENOENT, store_series_delete(s, a2, false, &err_));
        OK(store_next_fire_at(s, T0, 0, &next, &any, &err_));
        assert_true(any);
        assert_int_equal(next, T0 + 99 * MIN); /* the first series' cursor, as edited */
        OK(store_series_delete(s, a1, true, &err_));
        OK(store_next_fire_at(s, T0, 0, &next, &any, &err_));
        assert_false(any);
}

/* ---- occurrences and one-off changes ---- */

static void occurrence_exceptions(void **state) {
        store *s = backend_of(state)->st;
        put_type(s, "t", NULL);
        int64_t id = new_series(s, "t", "x", T0);

        /* skips are recorded once; a skip or a scheduled run marks it done */
        bool done = true;
        OK(store_occurrence_done(s, id, T0, &done, &err_));
        assert_false(done);
        OK(store_occurrence_insert(s, id, T0, T0, "overlap", &err_));
        FAILS(-EEXIST, store_occurrence_insert(s, id, T0, T0, "overlap", &err_));
        OK(store_occurrence_done(s, id, T0, &done, &err_));
        assert_true(done);
        new_run(s, "t", id, T0 + MIN);
        OK(store_occurrence_done(s, id, T0 + MIN, &done, &err_));
        assert_true(done);

        /* a disabled occurrence and a moved one */
        exception_row x = {.series_id = id,
                           .nominal = T0 + 10 * MIN,
                           .disabled = true,
                           .note = "holiday",
                           .created_at = T0,
                           .updated_at = T0};
        OK(store_exception_put(s, &x, &err_));
        exception_row m = {.series_id = id,
                           .nominal = T0 + 20 * MIN,
                           .moved_to = T0 + 25 * MIN,
                           .params = "{\"k\": 1}",
                           .created_at = T0,
                           .updated_at = T0};
        OK(store_exception_put(s, &m, &err_));
        x.note = "holiday, again"; /* a replacement does not count twice */
        OK(store_exception_put(s, &x, &err_));
        series_row r;
        OK(store_series_get(s, id, &r, &err_));
        assert_int_equal(r.n_exceptions, 2);
        series_row_clear(&r);

        exception_row got;
        OK(store_exception_get(s, id, T0 + 10 * MIN, &got, &err_));
        assert_true(got.disabled);
        assert_string_equal(got.note, "holiday, again");
        assert_int_equal(got.moved_to, 0);
        exception_row_clear(&got);
        FAILS(-ENOENT, store_exception_get(s, id, T0 + 11 * MIN, &got, &err_));

        exception_row *rows = NULL;
        size_t n = 0;
        OK(store_exceptions_list(s, id, T0 + 24 * MIN, T0 + 26 * MIN, 10, &rows, &n, &err_));
        assert_int_equal(n, 1); /* by its new time */
        assert_int_equal(rows[0].nominal, T0 + 20 * MIN);
        assert_string_equal(rows[0].params, "{\"k\": 1}");
        exception_rows_free(rows, n);
        OK(store_exceptions_list(s, 0, T0, T0 + 60 * MIN, 10, &rows, &n, &err_));
        assert_int_equal(n, 2);
        exception_rows_free(rows, n);

        OK(store_moves_due(s, T0 + 24 * MIN, 10, &rows, &n, &err_));
        assert_int_equal(n, 0);
        exception_rows_free(rows, n);
        OK(store_moves_due(s, T0 + 25 * MIN, 10, &rows, &n, &err_));
        assert_int_equal(n, 1);
        exception_rows_free(rows, n);
        OK(store_exception_set_fired(s, id, T0 + 20 * MIN, &err_));
        OK(store_moves_due(s, T0 + 25 * MIN, 10, &rows, &n, &err_));
        assert_int_equal(n, 0);
        exception_rows_free(rows, n);

        OK(store_exception_delete(s, id, T0 + 10 * MIN, &err_));
        FAILS(-ENOENT, store_exception_delete(s, id, T0 + 10 * MIN, &err_));
        OK(store_series_get(s, id, &r, &err_));
        assert_int_equal(r.n_exceptions, 1);
        series_row_clear(&r);

        /* the calendar's record: the skip row and the scheduled run */
        occurrence_rec *occ = NULL;
        OK(store_occurrences_range(s, id, T0, T0 + 60 * MIN, 10, &occ, &n, &err_));
        assert_int_equal(n, 2);
        assert_string_equal(occ[0].skipped, "overlap");
        assert_int_equal(occ[0].run_id, 0);
        assert_int_equal(occ[1].nominal, T0 + MIN);
        assert_string_equal(occ[1].state, "queued");
        assert_string_equal(occ[1].trigger, "schedule");
        free(occ);
        OK(store_occurrences_range(s, 0, T0, T0 + 60 * MIN, 10, &occ, &n, &err_));
        assert_int_equal(n, 2);
        free(occ);
}

/* ---- runs ---- */

static void runs_claim_finish(void **state) {
        store *s = backend_of(state)->st;
        put_type(s, "t", NULL);
        int64_t sid = new_series(s, "t", "x", T0);
        int64_t r1 = new_run(s, "t", sid, T0);
        int64_t r2 = new_run(s, "t", 0, 0);
        int64_t r3 = new_run(s, "t", sid, T0 + 60 * MIN); /* not due yet */

        run_row r;
        OK(store_run_get(s, r1, &r, &err_));
        assert_string_equal(r.state, "queued");
        assert_int_equal(r.attempt, 1);
        char key[64];
        char text[32];
        time_format_utc(T0, text, sizeof text);
        snprintf(key, sizeof key, "%lld:%s:1", (long long) sid, text);
        assert_string_equal(r.idem_key, key);
        run_row_clear(&r);
        FAILS(-ENOENT, store_run_get(s, r3 + 100, &r, &err_));

        /* ready by now, oldest first; then claimed once */
        run_row *rows = NULL;
        size_t n = 0;
        OK(store_runs_ready(s, T0, NULL, 10, &rows, &n, &err_));
        assert_int_equal(n, 2);
        assert_int_equal(rows[0].id, r1);
        assert_int_equal(rows[1].id, r2);
        run_rows_free(rows, n);
        OK(store_run_start(s, r1, "node-a", T0, T0 + MIN, &err_));
        FAILS(-ESTALE, store_run_start(s, r1, "node-b", T0, T0 + MIN, &err_));
        OK(store_runs_ready(s, T0, NULL, 10, &rows, &n, &err_));
        assert_int_equal(n, 1);
        assert_int_equal(rows[0].id, r2);
        run_rows_free(rows, n);
        sked_time next = 0;
        bool any = false;
        OK(store_next_ready_min(s, &next, &any, &err_));
        assert_true(any);
        assert_int_equal(next, T0);

        int64_t q = -1, running = -1;
        OK(store_series_active(s, sid, &q, &running, &err_));
        assert_int_equal(q, 1);
        assert_int_equal(running, 1);
        int64_t count = -1;
        OK(store_running_count(s, "t", &count, &err_));
        assert_int_equal(count, 1);

        /* the lease: renewed, then expired */
        int cancel = 1;
        OK(store_runs_renew(s, &r1, 1, T0 + 2 * MIN, &cancel, &err_));
        assert_false(cancel);
        OK(store_runs_expired(s, T0 + 2 * MIN, &rows, &n, &err_));
        assert_int_equal(n, 0);
        run_rows_free(rows, n);
        OK(store_runs_expired(s, T0 + 3 * MIN, &rows, &n, &err_));
        assert_int_equal(n, 1);
        assert_int_equal(rows[0].id, r1);
        run_rows_free(rows, n);

        /* finished once; a second finish (another node recovered it) is stale */
        OK(store_run_progress(s, r1, 40, &err_));
        run_finish f = {.state = "succeeded",
                        .has_exit = true,
                        .exit_code = 0,
                        .finished_at = T0 + MIN,
                        .progress = 100,
                        .n_info = 2,
                        .n_results = 1};
        OK(store_run_finish(s, r1, &f, 0, &err_));
        FAILS(-ESTALE, store_run_finish(s, r1, &f, 0, &err_));
        OK(store_run_set_next(s, r1, r2, &err_));
        OK(store_run_get(s, r1, &r, &err_));
        assert_string_equal(r.state, "succeeded");
        assert_true(r.has_exit);
        assert_int_equal(r.exit_code, 0);
        assert_int_equal(r.finished_at, T0 + MIN);
        assert_int_equal(r.progress, 100);
        assert_int_equal(r.n_info, 2);
        assert_int_equal(r.next_attempt, r2);
        assert_string_equal(r.node, "node-a");
        run_row_clear(&r);

        /* lists: newest first, filtered */
        run_filter all = {.limit = 10};
        OK(store_runs_list(s, &all, &rows, &n, &err_));
        assert_int_equal(n, 3);
        assert_int_equal(rows[0].id, r3);
        run_rows_free(rows, n);
        run_filter done = {.state = "succeeded", .limit = 10};
        OK(store_runs_list(s, &done, &rows, &n, &err_));
        assert_int_equal(n, 1);
        run_rows_free(rows, n);

        /* a claimed run never started goes back to the queue */
        OK(store_run_start(s, r2, "node-a", T0, T0 + MIN, &err_));
        OK(store_run_release(s, r2, "node-a", &err_));
        OK(store_run_get(s, r2, &r, &err_));
        assert_string_equal(r.state, "queued");
        assert_null(r.node);
        run_row_clear(&r);

        /* cancel_other: queued runs of the series end, running ones are asked */
        OK(store_run_start(s, r2, "node-a", T0, T0 + MIN, &err_));
        int64_t r4 = new_run(s, "t", sid, T0 + MIN);
        OK(store_run_start(s, r4, "node-b", T0, T0 + MIN, &err_));
        int64_t *ids = NULL;
        OK(store_series_cancel_active(s, sid, T0, "overlap", &ids, &n, &err_));
        assert_int_equal(n, 1);
        assert_int_equal(ids[0], r4);
        free(ids);
        OK(store_runs_renew(s, &r4, 1, T0 + 2 * MIN, &cancel, &err_));
        assert_int_equal(cancel, RUN_CANCEL_OVERLAP);
        OK(store_run_get(s, r3, &r, &err_));
        assert_string_equal(r.state, "cancelled");
        run_row_clear(&r);
}

static void series_retract(void **state) {
        store *s = backend_of(state)->st;
        put_type(s, "t", NULL);
        int64_t sid = new_series(s, "t", "x", T0);
        new_run(s, "t", sid, T0 + 10 * MIN); /* fired ahead, not started */
        int64_t now_run = new_run(s, "t", sid, T0);
        int64_t *ids = NULL;
        size_t n = 0;
        OK(store_series_retract(s, sid, T0 + MIN, &ids, &n, &err_));
        assert_int_equal(n, 1);
        free(ids);
        run_row r;
        OK(store_run_get(s, now_run, &r, &err_));
        run_row_clear(&r);
}

/* ---- messages and results ---- */

static void messages_results(void **state) {
        store *s = backend_of(state)->st;
        put_type(s, "t", NULL);
        int64_t sid = new_series(s, "t", "x", T0);
        int64_t run = new_run(s, "t", sid, T0);
        OK(store_message_add(s, run, 1, T0, "info", "starting", &err_));
        OK(store_message_add(s, run, 2, T0 + 1, "error", "bad row 7", &err_));
        OK(store_message_add(s, run, 2, T0 + 1, "error", "a repeat is ignored", &err_));
        OK(store_result_add(s, run, 1, T0 + 2, "row-7", "failed", "{\"why\": \"x\"}", &err_));
        OK(store_result_add(s, run, 2, T0 + 3, "row-8", "ok", NULL, &err_));

        json_t *list = NULL;
        OK(store_messages_list(s, run, 0, 100, &list, &err_));
        assert_int_equal(json_array_size(list), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "text")), "bad row 7");
        assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "level")), "error");
        json_decref(list);
        OK(store_messages_list(s, run, 1, 100, &list, &err_));
        assert_int_equal(json_array_size(list), 1);
        json_decref(list);

        OK(store_results_list(s, run, 0, 100, &list, &err_));
        assert_int_equal(json_array_size(list), 2);
        json_t *data = json_object_get(json_array_get(list, 0), "data");
        assert_string_equal(json_string_value(json_object_get(data, "why")), "x");
        assert_true(json_is_null(json_object_get(json_array_get(list, 1), "data")));
        json_decref(list);

        /* recent results: only finished runs count */
        OK(store_series_recent_results(s, sid, 5, &list, &err_));
        assert_int_equal(json_array_size(list), 0);
        json_decref(list);
        OK(store_run_start(s, run, "n", T0, T0 + MIN, &err_));
        run_finish f = {.state = "failed", .finished_at = T0 + MIN};
        OK(store_run_finish(s, run, &f, 0, &err_));
        OK(store_series_recent_results(s, sid, 5, &list, &err_));
        assert_int_equal(json_array_size(list), 1);
        json_t *one = json_array_get(list, 0);
        assert_int_equal(json_integer_value(json_object_get(one, "run_id")), run);
        assert_string_equal(json_string_value(json_object_get(one, "state")), "failed");
        assert_int_equal(json_array_size(json_object_get(one, "results")), 2);
        json_decref(list);
}

/* ---- retention ---- */

static void retention_purge(void **state) {
        store *s = backend_of(state)->st;
        put_type(s, "t", NULL);
        put_type(s, "other", NULL);
        int64_t sid = new_series(s, "t", "x", T0 + 100 * MIN);
        int64_t old[3], fresh, running, foreign;
        for (int i = 0; i < 3; i++) {
                old[i] = new_run(s, "t", sid, T0 + i * MIN);
                OK(store_run_start(s, old[i], "n", T0, T0 + MIN, &err_));
                run_finish f = {.state = "succeeded", .finished_at = T0 + i * MIN};
                OK(store_run_finish(s, old[i], &f, 0, &err_));
                OK(store_message_add(s, old[i], 1, T0, "info", "m", &err_));
                OK(store_result_add(s, old[i], 1, T0, "k", "ok", NULL, &err_));
        }
        fresh = new_run(s, "t", sid, T0 + 50 * MIN);
        OK(store_run_start(s, fresh, "n", T0, T0 + MIN, &err_));
        run_finish late = {.state = "succeeded", .finished_at = T0 + 50 * MIN};
        OK(store_run_finish(s, fresh, &late, 0, &err_));
        running = new_run(s, "t", sid, T0 + 3 * MIN);
        OK(store_run_start(s, running, "n", T0, T0 + MIN, &err_));
        foreign = new_run(s, "other", 0, 0);
        OK(store_run_start(s, foreign, "n", T0, T0 + MIN, &err_));
        run_finish fo = {.state = "succeeded", .finished_at = T0};
        OK(store_run_finish(s, foreign, &fo, 0, &err_));
        OK(store_occurrence_insert(s, sid, T0 + 5 * MIN, T0, "sleep", &err_));

        purge_counts c = {0};
        OK(store_purge(s, "t", T0 + 10 * MIN, 2, &c, &err_)); /* at most 2 runs a call */
        assert_int_equal(c.runs, 2);
        assert_int_equal(c.messages, 2);
        assert_int_equal(c.results, 2);
        assert_int_equal(c.occurrences, 1);
        OK(store_purge(s, "t", T0 + 10 * MIN, 2, &c, &err_));
        assert_int_equal(c.runs, 3);
        assert_int_equal(c.messages, 3);
        OK(store_purge(s, "t", T0 + 10 * MIN, 2, &c, &err_));
        assert_int_equal(c.runs, 3);

        run_row r;
        for (int i = 0; i < 3; i++)
                FAILS(-ENOENT, store_run_get(s, old[i], &r, &err_));
        int64_t keep[] = {fresh, running, foreign};
        for (size_t i = 0; i < 3; i++) {
                OK(store_run_get(s, keep[i], &r, &err_));
                run_row_clear(&r);
        }
        json_t *list = NULL;
        OK(store_messages_list(s, old[0], 0, 10, &list, &err_));
        assert_int_equal(json_array_size(list), 0);
        json_decref(list);
}

/* ---- the cluster's records ---- */

static void cluster_records(void **state) {
        backend_ctx *c = backend_of(state);
        store *s = c->st;
        FAILS(-ENOENT, store_poller_get(s, &(poller_health){0}, &err_));
        poller_health h = {.node = "node-a",
                           .started_at = T0,
                           .heartbeat_at = T0 + 1,
                           .fired_total = 7,
                           .has_next = true,
                           .next_due = T0 + MIN,
                           .purged_runs = 3};
        OK(store_poller_put(s, &h, &err_));
        h.fired_total = 9;
        OK(store_poller_put(s, &h, &err_));
        poller_health got;
        OK(store_poller_get(s, &got, &err_));
        assert_string_equal(got.node, "node-a");
        assert_int_equal(got.fired_total, 9);
        assert_true(got.has_next);
        assert_int_equal(got.next_due, T0 + MIN);
        assert_int_equal(got.last_fire_at, 0);
        assert_int_equal(got.purged_runs, 3);

        node_row n = {.name = "node-b",
                      .role = "worker",
                      .version = "0.1.0",
                      .started_at = T0,
                      .heartbeat_at = T0 + 2,
                      .workers = 4,
                      .running = 1,
                      .pid = 42};
        OK(store_node_heartbeat(s, &n, &err_));
        n.running = 2;
        OK(store_node_heartbeat(s, &n, &err_));
        json_t *list = NULL;
        OK(store_nodes_list(s, &list, &err_));
        assert_int_equal(json_array_size(list), 1);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "running")), 2);
        json_decref(list);

        sked_time now = 0;
        OK(store_db_now(s, &now, &err_));
        assert_true(now > T0 - 365 * 24 * 60 * MIN);
        OK(store_notify(s, &err_));
        OK(store_begin(s, &err_));
        OK(store_lock_type(s, "t", &err_));
        bool locked = false;
        OK(store_lock_series(s, 1, &locked, &err_));
        assert_true(locked);
        OK(store_commit(s, &err_));

        /* the poller role: one connection holds it (SQLite: always held) */
        bool held = false;
        OK(store_poller_lease(s, &held, &err_));
        assert_true(held);
        store *other = NULL;
        OK(store_open(c->uri, &other, &err_));
        OK(store_poller_lease(other, &held, &err_));
        assert_int_equal(held, !c->pg);
        store_close(other);
}

/* ---- run control: cancel, retry now, re-runs, type delete ---- */

static void run_control(void **state) {
        store *s = backend_of(state)->st;
        put_type(s, "t", NULL);
        int64_t sid = new_series(s, "t", "x", T0);
        int64_t queued = new_run(s, "t", sid, T0), running = new_run(s, "t", sid, T0 + MIN);
        int64_t waiting = new_run(s, "t", 0, T0 + 60 * MIN);
        OK(store_run_start(s, running, "node-a", T0, T0 + MIN, &err_));
        bool is_running = true;
        OK(store_run_cancel(s, queued, T0, "admin", "why not", "cancelled on request", &is_running, &err_));
        assert_false(is_running);
        run_row r = {0};
        OK(store_run_get(s, queued, &r, &err_));
        assert_string_equal(r.state, "cancelled");
        assert_string_equal(r.cancelled_by, "admin");
        assert_string_equal(r.cancel_reason, "why not");
        assert_int_equal(r.finished_at, T0);
        run_row_clear(&r);
        OK(store_run_cancel(s, running, T0, "admin", NULL, "x", &is_running, &err_));
        assert_true(is_running);
        int cancel = 0;
        OK(store_runs_renew(s, &running, 1, T0 + 2 * MIN, &cancel, &err_));
        assert_int_equal(cancel, RUN_CANCEL_REQUEST);
        /* asked already; finished; no such run: refused, nothing written */
        sked_err why = {0};
        assert_int_equal(store_run_cancel(s, running, T0, "other", "again", "x", &is_running, &why), -EEXIST);
        assert_string_equal(why.field, "state");
        assert_int_equal(store_run_cancel(s, queued, T0, "other", "again", "x", &is_running, &why), -EEXIST);
        assert_non_null(strstr(why.msg, "is cancelled"));
        FAILS(-ENOENT, store_run_cancel(s, 999999, T0, "other", NULL, "x", &is_running, &err_));
        OK(store_run_get(s, running, &r, &err_));
        assert_string_equal(r.state, "running");
        assert_null(r.cancel_reason);
        run_row_clear(&r);

        /* retry now: only a queued run waiting for later */
        OK(store_run_due_now(s, waiting, T0, &err_));
        OK(store_run_get(s, waiting, &r, &err_));
        assert_int_equal(r.not_before, T0);
        run_row_clear(&r);
        FAILS(-EEXIST, store_run_due_now(s, waiting, T0, &err_));
        FAILS(-EEXIST, store_run_due_now(s, running, T0, &err_));

        /* re-runs point back */
        run_row again = {.type = "t",
                         .trigger = "rerun",
                         .series_id = sid,
                         .has_nominal = true,
                         .nominal = T0,
                         .queued_at = T0,
                         .not_before = T0,
                         .idem_key = "rerun:1:1:1",
                         .rerun_of = queued};
        OK(store_run_insert(s, &again, &err_));
        int64_t *ids = NULL;
        size_t n = 0;
        OK(store_run_reruns(s, queued, 10, &ids, &n, &err_));
        assert_int_equal(n, 1);
        assert_int_equal(ids[0], again.id);
        free(ids);
        OK(store_run_get(s, again.id, &r, &err_));
        assert_int_equal(r.rerun_of, queued);
        assert_string_equal(r.idem_key, "rerun:1:1:1");
        run_row_clear(&r);

        /* a type's use, the forced path's cancels, its row */
        int64_t nseries = 0, nruns = 0;
        OK(store_type_usage(s, "t", &nseries, &nruns, &err_));
        assert_int_equal(nseries, 1);
        assert_int_equal(nruns, 3); /* running, waiting, the re-run */
        int64_t cancelled = 0;
        OK(store_type_cancel_active(s, "t", T0, "admin", "gone", "x", &cancelled, &ids, &n, &err_));
        assert_int_equal(cancelled, 2);
        assert_int_equal(n, 0); /* the running one was asked already */
        free(ids);
        OK(store_series_delete(s, sid, false, &err_));
        OK(store_type_delete(s, "t", &err_));
        FAILS(-ENOENT, store_type_delete(s, "t", &err_));
}

/* ---- transactions ---- */

static void rollback_undoes(void **state) {
        store *s = backend_of(state)->st;
        put_type(s, "t", NULL);
        OK(store_begin(s, &err_));
        int64_t id = new_series(s, "t", "x", T0);
        store_rollback(s);
        series_row r;
        FAILS(-ENOENT, store_series_get(s, id, &r, &err_));
        OK(store_begin(s, &err_));
        id = new_series(s, "t", "y", T0);
        OK(store_end(s, 0, &err_));
        OK(store_series_get(s, id, &r, &err_));
        series_row_clear(&r);
        OK(store_begin(s, &err_));
        FAILS(-EIO, store_end(s, -EIO, &err_));
}

/* ---- the live events' log (migration 11: triggers) ---- */

static const char *event_word(json_t *ev) {
        const char *kind = json_string_value(json_object_get(ev, "event"));
        return strcmp(kind, "run") ? kind : json_string_value(json_object_get(ev, "state"));
}

static void events_log(void **state) {
        store *s = backend_of(state)->st;
        put_type(s, "t", NULL);
        put_type(s, "u", NULL);
        int64_t sid = new_series(s, "t", "x", T0);
        int64_t run = new_run(s, "t", sid, T0);
        int64_t other = new_run(s, "u", 0, 0);
        OK(store_run_start(s, run, "n", T0, T0 + MIN, &err_));
        OK(store_message_add(s, run, 1, T0 + 1, "warning", "careful", &err_));
        OK(store_result_add(s, run, 2, T0 + 2, "k", "ok", "[1]", &err_));
        OK(store_run_progress(s, run, 40, &err_));
        OK(store_run_progress(s, run, 40, &err_)); /* no change, no event */
        run_finish f = {.state = "succeeded", .finished_at = T0 + MIN, .has_exit = true, .progress = 40};
        OK(store_run_finish(s, run, &f, 0, &err_));

        int64_t lo = 0, hi = 0;
        OK(store_events_bounds(s, &lo, &hi, &err_));
        assert_int_equal(lo, 1);
        assert_int_equal(hi, 7);
        json_t *evs = NULL;
        event_filter by_run = {.run_id = run};
        OK(store_events_read(s, 0, hi, &by_run, 100, &evs, &err_));
        static const char *const want[] = {"queued", "running", "message", "result", "progress", "succeeded"};
        assert_int_equal(json_array_size(evs), 6);
        int64_t prev = 0;
        for (size_t i = 0; i < 6; i++) {
                json_t *ev = json_array_get(evs, i);
                assert_string_equal(event_word(ev), want[i]);
                assert_true(json_integer_value(json_object_get(ev, "id")) > prev);
                prev = json_integer_value(json_object_get(ev, "id"));
                assert_int_equal(json_integer_value(json_object_get(ev, "series_id")), sid);
        }
        assert_string_equal(json_string_value(json_object_get(json_array_get(evs, 2), "text")), "careful");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(evs, 0), "at")), T0);
        assert_int_equal(json_integer_value(json_array_get(json_object_get(json_array_get(evs, 3), "data"), 0)), 1);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(evs, 4), "progress")), 40);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(evs, 5), "exit_code")), 0);
        json_decref(evs);
        event_filter by_type = {.type = "u"};
        OK(store_events_read(s, 0, hi, &by_type, 100, &evs, &err_));
        assert_int_equal(json_array_size(evs), 1);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(evs, 0), "run_id")), other);
        json_decref(evs);
        event_filter by_series = {.series_id = sid};
        OK(store_events_read(s, 3, 5, &by_series, 100, &evs, &err_)); /* (after, upto] */
        assert_int_equal(json_array_size(evs), 2);
        json_decref(evs);

        /* a rolled-back change leaves no event, and its id is the next one's */
        OK(store_begin(s, &err_));
        new_run(s, "t", 0, 0);
        store_rollback(s);
        OK(store_events_bounds(s, &lo, &hi, &err_));
        assert_int_equal(hi, 7);
        new_run(s, "t", 0, 0);
        OK(store_events_bounds(s, &lo, &hi, &err_));
        assert_int_equal(hi, 8);

        int64_t gone = 0;
        OK(store_events_prune(s, 3, &gone, &err_));
        assert_int_equal(gone, 5);
        OK(store_events_bounds(s, &lo, &hi, &err_));
        assert_int_equal(lo, 6);
        assert_int_equal(hi, 8);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                BACKEND_TESTS(types_and_features),
                BACKEND_TESTS(series_lifecycle),
                BACKEND_TESTS(occurrence_exceptions),
                BACKEND_TESTS(runs_claim_finish),
                BACKEND_TESTS(series_retract),
                BACKEND_TESTS(messages_results),
                BACKEND_TESTS(retention_purge),
                BACKEND_TESTS(cluster_records),
                BACKEND_TESTS(rollback_undoes),
                BACKEND_TESTS(run_control),
                BACKEND_TESTS(events_log),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
