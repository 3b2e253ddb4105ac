/* runs: see runs.h. */
#include "store/runs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"

void run_row_clear(run_row *r) {
        if (!r)
                return;
        free(r->type);
        free(r->trigger);
        free(r->state);
        free(r->params);
        free(r->query);
        free(r->idem_key);
        free(r->node);
        free(r->error);
        free(r->cancelled_by);
        free(r->cancel_reason);
        memset(r, 0, sizeof *r);
}

void run_rows_free(run_row *rows, size_t n) {
        for (size_t i = 0; rows && i < n; i++)
                run_row_clear(&rows[i]);
        free(rows);
}

#define RUN_COLS                                                                                                       \
        "id, series_id, nominal, type, trigger, state, params, query, idem_key, node, error, "                         \
        "attempt, next_attempt, queued_at, not_before, started_at, finished_at, lease_until, "                         \
        "exit_code, progress, n_info, n_warning, n_error, n_results, exclusive, cancel_requested, "                    \
        "cancelled_by, cancel_reason, rerun_of"

/* The idempotency key of a run without an explicit one: derived, never stored. */
static char *derive_key(int64_t series_id, bool has_nominal, sked_time nominal, int64_t id, int64_t attempt) {
        char key[128], text[32];
        if (series_id && has_nominal) {
                time_format_utc_us(nominal, text, sizeof text); /* a manual run: to the microsecond */
                snprintf(key, sizeof key, "%lld:%s:%lld", (long long) series_id, text, (long long) attempt);
        } else {
                snprintf(key, sizeof key, "run:%lld:%lld", (long long) id, (long long) attempt);
        }
        return strdup(key);
}

static void run_decode(db_stmt *st, void *elem) {
        run_row *r = elem;
        memset(r, 0, sizeof *r);
        r->id = db_col_int(st, 0);
        r->series_id = db_col_int(st, 1);
        r->has_nominal = !db_col_null(st, 2);
        r->nominal = db_col_int(st, 2);
        r->type = dup_or_null(db_col_text(st, 3));
        r->trigger = dup_or_null(db_col_text(st, 4));
        r->state = dup_or_null(db_col_text(st, 5));
        r->params = dup_or_null(db_col_text(st, 6));
        r->query = dup_or_null(db_col_text(st, 7));
        r->idem_key = dup_or_null(db_col_text(st, 8));
        r->node = dup_or_null(db_col_text(st, 9));
        r->error = dup_or_null(db_col_text(st, 10));
        r->attempt = db_col_int(st, 11);
        if (!r->idem_key || !*r->idem_key) {
                free(r->idem_key);
                r->idem_key = derive_key(r->series_id, r->has_nominal, r->nominal, r->id, r->attempt);
        }
        r->next_attempt = db_col_int(st, 12);
        r->queued_at = db_col_int(st, 13);
        r->not_before = db_col_int(st, 14);
        r->started_at = db_col_int(st, 15);
        r->finished_at = db_col_int(st, 16);
        r->lease_until = db_col_int(st, 17);
        r->has_exit = !db_col_null(st, 18);
        r->exit_code = db_col_int(st, 18);
        r->progress = db_col_int(st, 19);
        r->n_info = db_col_int(st, 20);
        r->n_warning = db_col_int(st, 21);
        r->n_error = db_col_int(st, 22);
        r->n_results = db_col_int(st, 23);
        r->exclusive = db_col_int(st, 24) != 0;
        r->cancel_requested = (int) db_col_int(st, 25);
        r->cancelled_by = dup_or_null(db_col_text(st, 26));
        r->cancel_reason = dup_or_null(db_col_text(st, 27));
        r->rerun_of = db_col_int(st, 28);
}

static void run_clear(void *elem) {
        run_row_clear(elem);
}

static const row_shape run_shape = {sizeof(run_row), run_decode, run_clear};

int store_run_insert(store *s, run_row *r, sked_err *err) {
#define RUN_INSERT                                                                                                     \
        "INSERT INTO runs(series_id, nominal, type, trigger, state, params, query, "                                   \
        "idem_key, attempt, queued_at, not_before, exclusive, rerun_of) "                                              \
        "VALUES($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $10, $11, $12)"
        static const char *const sql_sqlite = RUN_INSERT; /* the id: db_last_insert_id */
        static const char *const sql_pg = RUN_INSERT " RETURNING id";
#undef RUN_INSERT
        bool pg = db_dialect(s->d) == DB_POSTGRES;
        db_stmt *st;
        int rc = db_prepare(s->d, pg ? sql_pg : sql_sqlite, &st, err);
        if (rc < 0)
                return rc;
        db_bind_int_or_null(st, 1, r->series_id, r->series_id == 0);
        db_bind_int_or_null(st, 2, r->nominal, !r->has_nominal);
        db_bind_text(st, 3, r->type);
        db_bind_text(st, 4, r->trigger);
        db_bind_text(st, 5, r->params ? r->params : "{}");
        db_bind_text(st, 6, r->query);
        db_bind_text(st, 7, r->idem_key);
        db_bind_int(st, 8, r->attempt > 0 ? r->attempt : 1);
        db_bind_int(st, 9, r->queued_at);
        db_bind_int(st, 10, r->not_before);
        db_bind_int(st, 11, r->exclusive);
        db_bind_int_or_null(st, 12, r->rerun_of, r->rerun_of == 0);
        int64_t id = 0;
        if ((rc = row_read(st, &id_shape, &id, err)) < 0)
                return rc;
        r->id = pg ? id : db_last_insert_id(s->d);
        if (r->id <= 0)
                return err_set(err, -EIO, "database: insert returned no id");
        if (!r->idem_key)
                r->idem_key =
                        derive_key(r->series_id, r->has_nominal, r->nominal, r->id, r->attempt > 0 ? r->attempt : 1);
        return 0;
}

int store_run_get(store *s, int64_t id, run_row *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT " RUN_COLS " FROM runs WHERE id = $1", &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        r = row_read(st, &run_shape, ret, err);
        if (r == 0)
                return err_field(err, -ENOENT, "id", "no run %lld", (long long) id);
        return r < 0 ? r : 0;
}

int store_runs_list(store *s, const run_filter *f, run_row **ret, size_t *ret_n, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT " RUN_COLS " FROM runs WHERE (CAST($1 AS BIGINT) = 0 OR series_id = $1) "
                           "AND (CAST($2 AS TEXT) IS NULL OR type = $2) AND (CAST($3 AS TEXT) IS NULL OR state = $3) "
                           "AND (CAST($4 AS BIGINT) = 0 OR id < $4) ORDER BY id DESC LIMIT $5",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, f->series_id);
        db_bind_text(st, 2, f->type);
        db_bind_text(st, 3, f->state);
        db_bind_int(st, 4, f->before_id);
        db_bind_int(st, 5, f->limit);
        return rows_read(st, &run_shape, ret, ret_n, err);
}

int store_runs_ready(store *s, sked_time now, const run_row *after, int limit, run_row **ret, size_t *ret_n,
                     sked_err *err) {
        /* PostgreSQL: the rows stay locked to this transaction, and other nodes' claims
         * skip them instead of waiting.  `state IN ('queued', 'running')` repeats the
         * condition of the partial index runs_series_active, without which SQLite
         * does not use it (it walked every run of the series instead); the same in
         * store_series_retract and store_series_cancel_active. */
#define READY_WHERE                                                                                                    \
        "SELECT " RUN_COLS " FROM runs WHERE state = 'queued' AND not_before <= $1 AND "                               \
        "(not_before > $3 OR (not_before = $3 AND id > $4)) AND "                                                      \
        "type NOT IN (SELECT t.name FROM types t JOIN features f ON f.name = t.feature "                               \
        "WHERE f.enabled = 0) AND (exclusive = 0 OR NOT EXISTS (SELECT 1 FROM runs b "                                 \
        "WHERE b.series_id = runs.series_id AND b.state IN ('queued', 'running') AND "                                 \
        "b.state = 'running')) "                                                                                       \
        "ORDER BY not_before, id LIMIT $2"
        static const char *const sql_sqlite = READY_WHERE;
        static const char *const sql_pg = READY_WHERE " FOR UPDATE SKIP LOCKED";
#undef READY_WHERE
        db_stmt *st;
        int r = db_prepare(s->d, db_dialect(s->d) == DB_POSTGRES ? sql_pg : sql_sqlite, &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, now);
        db_bind_int(st, 2, limit);
        db_bind_int(st, 3, after ? after->not_before : INT64_MIN);
        db_bind_int(st, 4, after ? after->id : 0);
        return rows_read(st, &run_shape, ret, ret_n, err);
}

int store_run_start(store *s, int64_t id, const char *node, sked_time now, sked_time lease_until, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "UPDATE runs SET state = 'running', node = $2, started_at = $3, lease_until = $4 "
                           "WHERE id = $1 AND state = 'queued'",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        db_bind_text(st, 2, node);
        db_bind_int(st, 3, now);
        db_bind_int(st, 4, lease_until);
        if ((r = db_run(st, err)) < 0)
                return r;
        return db_changes(s->d) == 1 ? 0 : -ESTALE;
}

int store_series_retract(store *s, int64_t series_id, sked_time now, int64_t **ret_ids, size_t *ret_n, sked_err *err) {
        /* runs of occurrences fired ahead that have not started (and the rows that
         * recorded such runs before schema version 4) */
#define RETRACTABLE                                                                                                    \
        "series_id = $1 AND state IN ('queued', 'running') AND trigger = 'schedule' AND attempt = 1 AND "              \
        "not_before > $2 AND (state = 'queued' "                                                                       \
        "OR (state = 'running' AND started_at > $2))"
        static const char *const occurrences_sql = "DELETE FROM occurrences WHERE series_id = $1 AND nominal IN "
                                                   "(SELECT nominal FROM runs WHERE " RETRACTABLE ")";
        static const char *const runs_sql = "DELETE FROM runs WHERE " RETRACTABLE " RETURNING id";
#undef RETRACTABLE
        *ret_ids = NULL;
        *ret_n = 0;
        db_stmt *st;
        int r = db_prepare(s->d, occurrences_sql, &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, series_id);
        db_bind_int(st, 2, now);
        if ((r = db_run(st, err)) < 0 || (r = db_prepare(s->d, runs_sql, &st, err)) < 0)
                return r;
        db_bind_int(st, 1, series_id);
        db_bind_int(st, 2, now);
        int64_t *ids = NULL;
        size_t n = 0;
        if ((r = rows_read(st, &id_shape, &ids, &n, err)) < 0)
                return r;
        if (n && (r = db_prepare(s->d, "UPDATE series SET fired = fired - $2 WHERE id = $1", &st, err)) == 0) {
                db_bind_int(st, 1, series_id);
                db_bind_int(st, 2, (int64_t) n);
                r = db_run(st, err);
        }
        if (r < 0) {
                free(ids);
                return r;
        }
        *ret_ids = ids;
        *ret_n = n;
        return 0;
}

int store_run_release(store *s, int64_t id, const char *node, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "UPDATE runs SET state = 'queued', node = NULL, started_at = NULL, lease_until = NULL "
                           "WHERE id = $1 AND state = 'running' AND node = $2",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        db_bind_text(st, 2, node);
        return db_run(st, err);
}

int store_next_ready_min(store *s, sked_time *ret, bool *ret_any, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT min(not_before) FROM runs WHERE state = 'queued'", &st, err);
        if (r < 0)
                return r;
        int_col min = {0, true};
        if ((r = row_read(st, &int_shape, &min, err)) < 0)
                return r;
        *ret = min.null ? 0 : min.v;
        *ret_any = !min.null;
        return 0;
}

int store_runs_renew(store *s, const int64_t *ids, size_t n, sked_time lease_until, int *ret_cancel, sked_err *err) {
        for (size_t i = 0; i < n; i++) {
                db_stmt *st;
                int r = db_prepare(s->d,
                                   "UPDATE runs SET lease_until = $2 WHERE id = $1 AND state = 'running' "
                                   "RETURNING cancel_requested",
                                   &st, err);
                if (r < 0)
                        return r;
                db_bind_int(st, 1, ids[i]);
                db_bind_int(st, 2, lease_until);
                /* db_done steps it to the end: SQLite writes RETURNING rows at the last step */
                int_col cancel = {0, true};
                if ((r = row_read(st, &int_shape, &cancel, err)) < 0)
                        return r;
                if (ret_cancel)
                        ret_cancel[i] = (int) cancel.v;
        }
        return 0;
}

int store_runs_expired(store *s, sked_time now, run_row **ret, size_t *ret_n, sked_err *err) {
        /* two statements, so that the usual one is a range of runs_running; and
         * `+id`: ordered by id, SQLite's planner walked the whole runs table (100 ms
         * every 2 s at 1,000,000 series, growing with the history) */
        static const char *const all_sql = "SELECT " RUN_COLS " FROM runs WHERE state = 'running' ORDER BY +id";
        static const char *const expired_sql =
                "SELECT " RUN_COLS " FROM runs WHERE state = 'running' AND lease_until < $1 ORDER BY +id";
        db_stmt *st;
        int r = db_prepare(s->d, now == SKED_TIME_MAX ? all_sql : expired_sql, &st, err);
        if (r < 0)
                return r;
        if (now != SKED_TIME_MAX)
                db_bind_int(st, 1, now);
        return rows_read(st, &run_shape, ret, ret_n, err);
}

int store_run_set_next(store *s, int64_t id, int64_t next_attempt, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "UPDATE runs SET next_attempt = $2 WHERE id = $1", &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        db_bind_int(st, 2, next_attempt);
        return db_run(st, err);
}

int store_run_finish(store *s, int64_t id, const run_finish *f, sked_time lease_before, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "UPDATE runs SET state = $2, exit_code = $3, error = $4, finished_at = $5, "
                           "progress = $7, n_info = $8, n_warning = $9, "
                           "n_error = $10, n_results = $11, lease_until = NULL "
                           "WHERE id = $1 AND state = 'running' AND "
                           "(CAST($6 AS BIGINT) = 0 OR lease_until < $6)",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        db_bind_text(st, 2, f->state);
        db_bind_int_or_null(st, 3, f->exit_code, !f->has_exit);
        db_bind_text(st, 4, f->error);
        db_bind_int(st, 5, f->finished_at);
        db_bind_int(st, 6, lease_before);
        db_bind_int(st, 7, f->progress);
        db_bind_int(st, 8, f->n_info);
        db_bind_int(st, 9, f->n_warning);
        db_bind_int(st, 10, f->n_error);
        db_bind_int(st, 11, f->n_results);
        if ((r = db_run(st, err)) < 0)
                return r;
        return db_changes(s->d) == 1 ? 0 : -ESTALE;
}

int store_run_progress(store *s, int64_t id, int64_t progress, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "UPDATE runs SET progress = $2 WHERE id = $1 AND state = 'running'", &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        db_bind_int(st, 2, progress);
        return db_run(st, err);
}

int store_running_count(store *s, const char *type, int64_t *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT count(*) FROM runs WHERE state = 'running' AND type = $1", &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, type);
        int_col count = {0, true};
        if ((r = row_read(st, &int_shape, &count, err)) < 0)
                return r;
        *ret = count.v;
        return 0;
}

typedef struct state_count {
        bool queued; /* else running */
        int64_t count;
} state_count;

static void state_count_decode(db_stmt *st, void *elem) {
        *(state_count *) elem = (state_count){!strcmp(db_col_text(st, 0), "queued"), db_col_int(st, 1)};
}

static const row_shape state_count_shape = {sizeof(state_count), state_count_decode, NULL};

int store_series_active(store *s, int64_t series_id, int64_t *ret_queued, int64_t *ret_running, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT state, count(*) FROM runs WHERE series_id = $1 AND state IN ('queued', 'running') "
                           "GROUP BY state",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, series_id);
        state_count *rows = NULL;
        size_t n = 0;
        if ((r = rows_read(st, &state_count_shape, &rows, &n, err)) < 0)
                return r;
        int64_t q = 0, run = 0;
        for (size_t i = 0; i < n; i++)
                *(rows[i].queued ? &q : &run) = rows[i].count;
        free(rows);
        *ret_queued = q;
        *ret_running = run;
        return 0;
}

int store_series_cancel_active(store *s, int64_t series_id, sked_time now, const char *why, int64_t **ret_running,
                               size_t *ret_n, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "UPDATE runs SET state = 'cancelled', finished_at = $2, error = $3 "
                           "WHERE series_id = $1 AND state = 'queued'",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, series_id);
        db_bind_int(st, 2, now);
        db_bind_text(st, 3, why);
        if ((r = db_run(st, err)) < 0)
                return r;
        if ((r = db_prepare(
                     s->d,
                     "UPDATE runs SET cancel_requested = 1 WHERE series_id = $1 AND state IN ('queued', 'running') "
                     "AND state = 'running' "
                     "RETURNING id",
                     &st, err)) < 0)
                return r;
        db_bind_int(st, 1, series_id);
        return rows_read(st, &id_shape, ret_running, ret_n, err);
}

/* Why a run cannot be cancelled or retried: -ENOENT, or -EEXIST naming its state. */
static int run_refused(store *s, int64_t id, const char *verb, const char *expected, sked_err *err) {
        run_row run = {0};
        int r = store_run_get(s, id, &run, err);
        if (r < 0)
                return r;
        if (!strcmp(run.state, "running") && run.cancel_requested)
                r = err_field(err, -EEXIST, "state", "run %lld: a cancel was already asked (it is stopping)",
                              (long long) id);
        else
                r = err_field(err, -EEXIST, "state", "run %lld is %s: only %s run can be %s", (long long) id, run.state,
                              expected, verb);
        run_row_clear(&run);
        return r;
}

/* The cancel of one run (id) or of a type's runs (id 0, type): queued ones end
 * now, running ones not asked yet are marked for their node (*ret_running). */
static int cancel_runs(store *s, int64_t id, const char *type, sked_time now, const char *by, const char *reason,
                       const char *why, int64_t *ret_cancelled, int64_t **ret_running, size_t *ret_n, sked_err *err) {
#define CANCEL_QUEUED                                                                                                  \
        "UPDATE runs SET state = 'cancelled', finished_at = $2, error = $3, cancelled_by = $4, cancel_reason = $5, "   \
        "cancel_requested = 2 WHERE state = 'queued' AND "
#define CANCEL_RUNNING                                                                                                 \
        "UPDATE runs SET cancel_requested = 2, cancelled_by = $2, cancel_reason = $3 "                                 \
        "WHERE state = 'running' AND cancel_requested <> 2 AND "
        static const char *const queued_sql[] = {CANCEL_QUEUED "type = $1", CANCEL_QUEUED "id = $1"};
        static const char *const running_sql[] = {CANCEL_RUNNING "type = $1 RETURNING id",
                                                  CANCEL_RUNNING "id = $1 RETURNING id"};
#undef CANCEL_QUEUED
#undef CANCEL_RUNNING
        db_stmt *st;
        int r = db_prepare(s->d, queued_sql[id != 0], &st, err);
        if (r < 0)
                return r;
        if (id)
                db_bind_int(st, 1, id);
        else
                db_bind_text(st, 1, type);
        db_bind_int(st, 2, now);
        db_bind_text(st, 3, why);
        db_bind_text(st, 4, by);
        db_bind_text(st, 5, reason);
        if ((r = db_run(st, err)) < 0)
                return r;
        int64_t cancelled = db_changes(s->d);
        if ((r = db_prepare(s->d, running_sql[id != 0], &st, err)) < 0)
                return r;
        if (id)
                db_bind_int(st, 1, id);
        else
                db_bind_text(st, 1, type);
        db_bind_text(st, 2, by);
        db_bind_text(st, 3, reason);
        if ((r = rows_read(st, &id_shape, ret_running, ret_n, err)) < 0)
                return r;
        *ret_cancelled = cancelled;
        return 0;
}

int store_run_cancel(store *s, int64_t id, sked_time now, const char *by, const char *reason, const char *why,
                     bool *ret_running, sked_err *err) {
        int64_t cancelled = 0, *running = NULL;
        size_t n = 0;
        int r = id > 0 ? cancel_runs(s, id, NULL, now, by, reason, why, &cancelled, &running, &n, err)
                       : err_field(err, -ENOENT, "id", "no run %lld", (long long) id);
        free(running);
        if (r < 0)
                return r;
        if (cancelled || n) {
                *ret_running = n > 0;
                return 0;
        }
        return run_refused(s, id, "cancelled", "a queued, waiting or running", err);
}

int store_type_cancel_active(store *s, const char *name, sked_time now, const char *by, const char *reason,
                             const char *why, int64_t *ret_cancelled, int64_t **ret_running, size_t *ret_n,
                             sked_err *err) {
        return cancel_runs(s, 0, name, now, by, reason, why, ret_cancelled, ret_running, ret_n, err);
}

int store_run_due_now(store *s, int64_t id, sked_time now, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "UPDATE runs SET not_before = $2 WHERE id = $1 AND state = 'queued' AND not_before > $2",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        db_bind_int(st, 2, now);
        if ((r = db_run(st, err)) < 0)
                return r;
        if (db_changes(s->d) == 1)
                return 0;
        return run_refused(s, id, "retried now", "a queued run waiting for a later instant (a backoff)", err);
}

int store_run_reruns(store *s, int64_t id, int limit, int64_t **ret, size_t *ret_n, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT id FROM runs WHERE rerun_of = $1 ORDER BY id LIMIT $2", &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        db_bind_int(st, 2, limit);
        return rows_read(st, &id_shape, ret, ret_n, err);
}

int store_lock_series(store *s, int64_t series_id, bool *ret_locked, sked_err *err) {
        if (db_dialect(s->d) != DB_POSTGRES) {
                *ret_locked = true;
                return 0;
        }
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT pg_try_advisory_xact_lock(727375, CAST($1 AS INTEGER))", &st, err);
        if (r < 0)
                return r;
        /* the key space is 32 bits: ids beyond it share keys, which only serializes more */
        db_bind_int(st, 1, (int32_t) (series_id & 0x7fffffff));
        bool locked = true;
        if ((r = row_read(st, &bool_shape, &locked, err)) < 0)
                return r;
        *ret_locked = locked;
        return 0;
}

/* ---- what /metrics reads ---- */

static json_t *active_count_json(db_stmt *st) {
        return json_pack("{s:s, s:s, s:I}", "type", db_col_text(st, 0), "state", db_col_text(st, 1), "n",
                         (json_int_t) db_col_int(st, 2));
}

JSON_SHAPE(active_count_shape, active_count_json);

int store_runs_active_counts(store *s, sked_time now, json_t **ret, sked_err *err) {
        /* one statement per partial index (runs_ready, runs_running), not one over both */
        static const char *const sql[] = {
                "SELECT type, CASE WHEN not_before > $1 THEN 'waiting' ELSE 'queued' END, count(*) FROM runs "
                "WHERE state = 'queued' GROUP BY 1, 2",
                "SELECT type, 'running', count(*) FROM runs WHERE state = 'running' GROUP BY 1",
        };
        json_t *all = json_array();
        if (!all)
                return err_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
                db_stmt *st;
                json_t *part = NULL;
                int r = db_prepare(s->d, sql[i], &st, err);
                if (r == 0) {
                        if (i == 0)
                                db_bind_int(st, 1, now);
                        r = json_read(st, &active_count_shape, &part, err);
                }
                if (r < 0) {
                        json_decref(all);
                        return r;
                }
                json_array_extend(all, part);
                json_decref(part);
        }
        *ret = all;
        return 0;
}
