/* store: the domain operations over the db driver.  SQL is written once in
 * PostgreSQL's parameter style; see db.h. */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/schema.h"
#include "store/store_internal.h"

char *dup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

int store_open_at(const char *uri, int target, store **ret, int *ret_version, sked_err *err) {
        store *s = calloc(1, sizeof *s);
        if (!s)
                return err_set(err, -ENOMEM, "out of memory");
        int r = db_open(uri, &s->d, err), version = 0;
        if (r == 0)
                r = schema_migrate(s->d, target, &version, err);
        if (r < 0) {
                store_close(s);
                return r;
        }
        if (ret_version)
                *ret_version = version;
        *ret = s;
        return 0;
}

int store_open(const char *uri, store **ret, sked_err *err) {
        return store_open_at(uri, schema_latest(), ret, NULL, err);
}

int store_schema_latest(void) {
        return schema_latest();
}

bool store_is_postgres(const store *s) {
        return db_dialect(s->d) == DB_POSTGRES;
}

void store_close(store *s) {
        if (!s)
                return;
        db_close(s->d);
        free(s);
}

int store_begin(store *s, sked_err *err) {
        return db_begin(s->d, err);
}

int store_commit(store *s, sked_err *err) {
        return db_commit(s->d, err);
}

void store_rollback(store *s) {
        db_rollback(s->d);
}

/* Steps `st` to the end, turning each row into a JSON value with `row` (NULL
 * values are skipped); *ret is the array. */
int json_rows(db_stmt *st, json_t *(*row)(db_stmt *), json_t **ret, sked_err *err) {
        json_t *arr = json_array();
        int r;
        while ((r = db_step(st, err)) == 1) {
                json_t *v = row(st);
                if (v)
                        json_array_append_new(arr, v);
        }
        db_done(st);
        if (r < 0) {
                json_decref(arr);
                return r;
        }
        *ret = arr;
        return 0;
}

/* ---- process types ---- */

int store_type_put(store *s, const char *name, bool background, const char *feature,
                   const char *definition, sked_time now, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "INSERT INTO types(name, background, feature, definition, created_at, updated_at) "
                           "VALUES($1, $2, $3, $4, $5, $5) ON CONFLICT(name) DO UPDATE SET "
                           "background = excluded.background, feature = excluded.feature, "
                           "definition = excluded.definition, updated_at = excluded.updated_at",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, name);
        db_bind_int(st, 2, background);
        db_bind_text(st, 3, feature);
        db_bind_text(st, 4, definition);
        db_bind_int(st, 5, now);
        if ((r = db_run(st, err)) < 0)
                return r;
        /* the type may have moved to (or out of) a disabled feature */
        if ((r = db_prepare(s->d, "UPDATE series SET feature_on = " FEATURE_ON_OF_TYPE("$1") " WHERE type = $1 AND "
                                  "feature_on <> " FEATURE_ON_OF_TYPE("$1"),
                            &st, err)) < 0)
                return r;
        db_bind_text(st, 1, name);
        return db_run(st, err);
}

static json_t *type_row(db_stmt *st) {
        return json_loads(db_col_text(st, 0), 0, NULL);
}

int store_type_list(store *s, json_t **ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT definition FROM types ORDER BY name", &st, err);
        if (r < 0)
                return r;
        return json_rows(st, type_row, ret, err);
}

/* ---- series ---- */

void series_row_clear(series_row *r) {
        if (!r)
                return;
        free(r->type);
        free(r->title);
        free(r->schedule);
        free(r->tz);
        free(r->start_local);
        free(r->params);
        free(r->query);
        free(r->pause_note);
        free(r->owner);
        free(r->policy);
        free(r->sleep);
        memset(r, 0, sizeof *r);
}

void series_rows_free(series_row *rows, size_t n) {
        for (size_t i = 0; rows && i < n; i++)
                series_row_clear(&rows[i]);
        free(rows);
}

#define SERIES_COLS                                                                              \
        "id, type, title, schedule, tz, start_local, end_at, count, params, query, enabled, "   \
        "background, pause_note, owner, next_due, last_nominal, fired, missed, version, "       \
        "created_at, updated_at, policy, sleep, feature_on, n_exceptions, skipped_overlap, "      \
        "skipped_sleep, skipped_disabled"

static void series_from_stmt(db_stmt *st, series_row *r) {
        memset(r, 0, sizeof *r);
        r->id = db_col_int(st, 0);
        r->type = dup_or_null(db_col_text(st, 1));
        r->title = dup_or_null(db_col_text(st, 2));
        r->schedule = dup_or_null(db_col_text(st, 3));
        r->tz = dup_or_null(db_col_text(st, 4));
        r->start_local = dup_or_null(db_col_text(st, 5));
        r->end_at = db_col_int(st, 6);
        r->count = db_col_int(st, 7);
        r->params = dup_or_null(db_col_text(st, 8));
        r->query = dup_or_null(db_col_text(st, 9));
        r->enabled = db_col_int(st, 10) != 0;
        r->background = db_col_int(st, 11) != 0;
        r->pause_note = dup_or_null(db_col_text(st, 12));
        r->owner = dup_or_null(db_col_text(st, 13));
        r->has_next = !db_col_null(st, 14);
        r->next_due = db_col_int(st, 14);
        r->last_nominal = db_col_int(st, 15);
        r->fired = db_col_int(st, 16);
        r->missed = db_col_int(st, 17);
        r->version = db_col_int(st, 18);
        r->created_at = db_col_int(st, 19);
        r->updated_at = db_col_int(st, 20);
        r->policy = dup_or_null(db_col_text(st, 21));
        r->sleep = dup_or_null(db_col_text(st, 22));
        r->feature_on = db_col_int(st, 23) != 0;
        r->n_exceptions = db_col_int(st, 24);
        r->skipped_overlap = db_col_int(st, 25);
        r->skipped_sleep = db_col_int(st, 26);
        r->skipped_disabled = db_col_int(st, 27);
}

static void id_decode(db_stmt *st, void *out) {
        *(int64_t *) out = db_col_int(st, 0);
}

static void id_clear(void *p) {
        (void) p;
}

int ids_collect(db_stmt *st, int64_t **ret, size_t *ret_n, sked_err *err) {
        void *v = NULL;
        int r = collect(st, sizeof **ret, id_decode, id_clear, &v, ret_n, err);
        if (r == 0)
                *ret = v;
        return r;
}

/* Steps `st` to the end, decoding each row into a growing array of `size`-byte
 * elements with `decode`; on failure frees what was decoded with `clear`. */
int collect(db_stmt *st, size_t size, void (*decode)(db_stmt *, void *), void (*clear)(void *),
                   void **ret, size_t *ret_n, sked_err *err) {
        char *rows = NULL;
        size_t n = 0, cap = 0;
        int r;
        while ((r = db_step(st, err)) == 1) {
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        char *p = realloc(rows, cap * size);
                        if (!p) {
                                r = err_set(err, -ENOMEM, "out of memory");
                                break;
                        }
                        rows = p;
                }
                decode(st, rows + n++ * size);
        }
        db_done(st);
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        clear(rows + i * size);
                free(rows);
                return r;
        }
        *ret = rows;
        *ret_n = n;
        return 0;
}

static void series_decode(db_stmt *st, void *row) {
        series_from_stmt(st, row);
}

static void series_clear(void *row) {
        series_row_clear(row);
}

static int series_collect(db_stmt *st, series_row **ret, size_t *ret_n, sked_err *err) {
        return collect(st, sizeof **ret, series_decode, series_clear, (void **) ret, ret_n, err);
}

static void bind_series_fields(db_stmt *st, const series_row *r) {
        db_bind_text(st, 1, r->type);
        db_bind_text(st, 2, r->title);
        db_bind_text(st, 3, r->schedule);
        db_bind_text(st, 4, r->tz);
        db_bind_text(st, 5, r->start_local);
        db_bind_int_or_null(st, 6, r->end_at, r->end_at == 0);
        db_bind_int_or_null(st, 7, r->count, r->count == 0);
        db_bind_text(st, 8, r->params);
        db_bind_text(st, 9, r->query);
        db_bind_int(st, 10, r->enabled);
        db_bind_int(st, 11, r->background);
        db_bind_text(st, 12, r->pause_note);
        db_bind_text(st, 13, r->owner);
        db_bind_int_or_null(st, 14, r->next_due, !r->has_next);
        db_bind_int(st, 15, r->updated_at);
        db_bind_text(st, 16, r->policy);
        db_bind_text(st, 17, r->sleep);
}

int store_series_insert(store *s, series_row *r, sked_err *err) {
        db_stmt *st;
        int rc = db_prepare(s->d,
                            "INSERT INTO series(type, title, schedule, tz, start_local, end_at, count, "
                            "params, query, enabled, background, pause_note, owner, next_due, "
                            "updated_at, created_at, version, policy, sleep, feature_on) "
                            "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, 1, "
                            "$16, $17, " FEATURE_ON_OF_TYPE("$1") ") "
                            "RETURNING id, feature_on",
                            &st, err);
        if (rc < 0)
                return rc;
        bind_series_fields(st, r);
        rc = db_step(st, err);
        if (rc == 1) {
                r->id = db_col_int(st, 0);
                r->feature_on = db_col_int(st, 1) != 0;
                r->version = 1;
                r->created_at = r->updated_at;
                rc = 0;
        } else if (rc == 0) {
                rc = err_set(err, -EIO, "database: insert returned no id");
        }
        db_done(st);
        return rc;
}

int store_series_update(store *s, series_row *r, int64_t expected_version, bool set_next, sked_err *err) {
        db_stmt *st;
        int rc = db_prepare(s->d,
                            "UPDATE series SET type = $1, title = $2, schedule = $3, tz = $4, "
                            "start_local = $5, end_at = $6, count = $7, params = $8, query = $9, "
                            "enabled = $10, background = $11, pause_note = $12, owner = $13, "
                            "next_due = CASE WHEN CAST($20 AS INTEGER) = 1 THEN $14 ELSE next_due END, updated_at = $15, "
                            "policy = $16, sleep = $17, version = version + 1 "
                            "WHERE id = $18 AND (CAST($19 AS BIGINT) = 0 OR version = $19) RETURNING version, next_due",
                            &st, err);
        if (rc < 0)
                return rc;
        bind_series_fields(st, r);
        db_bind_int(st, 18, r->id);
        db_bind_int(st, 19, expected_version);
        db_bind_int(st, 20, set_next);
        rc = db_step(st, err);
        if (rc == 1) {
                r->version = db_col_int(st, 0);
                r->has_next = !db_col_null(st, 1);
                r->next_due = db_col_int(st, 1);
                db_done(st);
                return 0;
        }
        db_done(st);
        if (rc < 0)
                return rc;
        series_row cur;
        rc = store_series_get(s, r->id, &cur, err);
        if (rc < 0)
                return rc;
        int64_t v = cur.version;
        series_row_clear(&cur);
        return err_field(err, -ESTALE, "version",
                         "series %lld is at version %lld, not %lld: reload it and retry",
                         (long long) r->id, (long long) v, (long long) expected_version);
}

int store_series_get(store *s, int64_t id, series_row *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT " SERIES_COLS " FROM series WHERE id = $1", &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        r = db_step(st, err);
        if (r == 1)
                series_from_stmt(st, ret);
        db_done(st);
        if (r == 0)
                return err_field(err, -ENOENT, "id", "no series %lld", (long long) id);
        return r < 0 ? r : 0;
}

int store_series_list(store *s, const char *type, int64_t after_id, int limit, bool hidden, series_row **ret,
                      size_t *ret_n, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT " SERIES_COLS " FROM series WHERE id > $1 AND (CAST($2 AS TEXT) IS NULL OR type = $2) "
                           "AND (feature_on = 1 OR CAST($4 AS INTEGER) = 1) ORDER BY id LIMIT $3",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, after_id);
        db_bind_text(st, 2, type);
        db_bind_int(st, 3, limit);
        db_bind_int(st, 4, hidden);
        return series_collect(st, ret, ret_n, err);
}

int store_series_find_background(store *s, const char *type, series_row *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT " SERIES_COLS " FROM series WHERE type = $1 AND background = 1 "
                           "ORDER BY id LIMIT 1",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, type);
        r = db_step(st, err);
        if (r == 1)
                series_from_stmt(st, ret);
        db_done(st);
        if (r == 0)
                return -ENOENT;
        return r < 0 ? r : 0;
}

int store_series_delete(store *s, int64_t id, bool purge, sked_err *err) {
        static const char *const steps[] = {
                "DELETE FROM series WHERE id = $1",
                "DELETE FROM occurrences WHERE series_id = $1",
                "DELETE FROM exceptions WHERE series_id = $1",
                /* not started yet: they would run for a series that no longer exists */
                "DELETE FROM runs WHERE series_id = $1 AND state = 'queued'",
                /* purge: the finished history too (running runs finish and stay) */
                "DELETE FROM messages WHERE run_id IN (SELECT id FROM runs WHERE series_id = $1 AND "
                "finished_at IS NOT NULL)",
                "DELETE FROM results WHERE run_id IN (SELECT id FROM runs WHERE series_id = $1 AND "
                "finished_at IS NOT NULL)",
                "DELETE FROM runs WHERE series_id = $1 AND finished_at IS NOT NULL",
        };
        int r = 0;
        for (size_t i = 0; i < (purge ? sizeof steps / sizeof steps[0] : 4) && r >= 0; i++) {
                db_stmt *st;
                if ((r = db_prepare(s->d, steps[i], &st, err)) < 0)
                        break;
                db_bind_int(st, 1, id);
                if ((r = db_run(st, err)) < 0)
                        break;
                if (i == 0 && db_changes(s->d) == 0)
                        r = err_field(err, -ENOENT, "id", "no series %lld", (long long) id);
        }
        return r < 0 ? r : 0;
}

/* ---- poller ---- */

int store_series_due(store *s, sked_time now, sked_time horizon, int limit, series_row **ret, size_t *ret_n,
                     sked_err *err) {
        /* PostgreSQL: lock the rows to this turn, so that an edit committed meanwhile
         * cannot be overwritten by the poller's advance (an edit in progress is skipped
         * now and fired next turn); SQLite serializes writers already.  A series is
         * fired ahead only while none of its runs is queued or running: the overlap
         * policy is then decided as it would be at its time. */
#define DUE_WHERE                                                                                         \
        "SELECT " SERIES_COLS " FROM series WHERE enabled = 1 AND feature_on = 1 AND next_due IS NOT NULL " \
        "AND next_due <= $3 AND (next_due <= $1 OR NOT EXISTS (SELECT 1 FROM runs r WHERE "               \
        "r.series_id = series.id AND r.state IN ('queued', 'running'))) ORDER BY next_due LIMIT $2"
        static const char *const sql_sqlite = DUE_WHERE;
        static const char *const sql_pg = DUE_WHERE " FOR UPDATE SKIP LOCKED";
#undef DUE_WHERE
        db_stmt *st;
        int r = db_prepare(s->d, db_dialect(s->d) == DB_POSTGRES ? sql_pg : sql_sqlite, &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, now);
        db_bind_int(st, 2, limit);
        db_bind_int(st, 3, horizon > now ? horizon : now);
        return series_collect(st, ret, ret_n, err);
}

int store_series_advance(store *s, int64_t id, const series_advance *a, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "UPDATE series SET next_due = CASE WHEN CAST($9 AS INTEGER) = 1 THEN $2 ELSE next_due END, "
                           "last_nominal = $3, fired = fired + $4, missed = missed + $5, "
                           "skipped_overlap = skipped_overlap + $6, skipped_sleep = skipped_sleep + $7, "
                           "skipped_disabled = skipped_disabled + $8 WHERE id = $1",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        db_bind_int_or_null(st, 2, a->next_due, !a->has_next);
        db_bind_int_or_null(st, 3, a->last_nominal, a->last_nominal == 0);
        db_bind_int(st, 4, a->fired);
        db_bind_int(st, 5, a->missed);
        db_bind_int(st, 6, a->skipped_overlap);
        db_bind_int(st, 7, a->skipped_sleep);
        db_bind_int(st, 8, a->skipped_disabled);
        db_bind_int(st, 9, !a->keep_next);
        return db_run(st, err);
}

static int min_query(store *s, const char *sql, sked_time *ret, bool *ret_any, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, sql, &st, err);
        if (r < 0)
                return r;
        r = db_step(st, err);
        bool any = r == 1 && !db_col_null(st, 0);
        sked_time v = any ? db_col_int(st, 0) : 0;
        db_done(st);
        if (r < 0)
                return r;
        *ret = v;
        *ret_any = any;
        return 0;
}

int store_next_fire_at(store *s, sked_time now, sked_time ahead, sked_time *ret, bool *ret_any, sked_err *err) {
        /* the rules' cursors (beyond the horizon: fired `ahead` early; within it and
         * not fired: busy, fired when due), and the occurrences moved one-off (fired
         * at moved_to) */
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT min(t) FROM (SELECT min(next_due) - $1 AS t FROM series WHERE enabled = 1 AND "
                           "feature_on = 1 AND next_due > $2 UNION ALL "
                           "SELECT min(next_due) AS t FROM series WHERE enabled = 1 AND feature_on = 1 AND "
                           "next_due <= $2 UNION ALL "
                           "SELECT min(e.moved_to) AS t FROM exceptions e JOIN series s ON s.id = e.series_id "
                           "WHERE e.moved_to IS NOT NULL AND e.fired = 0 AND e.disabled = 0 AND s.enabled = 1 AND "
                           "s.feature_on = 1) AS due",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, ahead);
        db_bind_int(st, 2, now + ahead);
        *ret_any = false;
        if ((r = db_step(st, err)) == 1 && !db_col_null(st, 0)) {
                *ret = db_col_int(st, 0);
                *ret_any = true;
        }
        db_done(st);
        return r < 0 ? r : 0;
}

int store_occurrence_insert(store *s, int64_t series_id, sked_time nominal, sked_time now,
                            const char *skipped, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "INSERT INTO occurrences(series_id, nominal, fired_at, run_id, skipped) "
                           "VALUES($1, $2, $3, NULL, $4) ON CONFLICT DO NOTHING",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, series_id);
        db_bind_int(st, 2, nominal);
        db_bind_int(st, 3, now);
        db_bind_text(st, 4, skipped);
        if ((r = db_run(st, err)) < 0)
                return r;
        return db_changes(s->d) == 1 ? 0 : -EEXIST;
}

int store_occurrence_done(store *s, int64_t series_id, sked_time nominal, bool *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT 1 WHERE EXISTS (SELECT 1 FROM runs WHERE series_id = $1 AND nominal = $2 AND "
                           "trigger = 'schedule') OR EXISTS (SELECT 1 FROM occurrences WHERE series_id = $1 AND "
                           "nominal = $2)",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, series_id);
        db_bind_int(st, 2, nominal);
        r = db_step(st, err);
        db_done(st);
        if (r < 0)
                return r;
        *ret = r == 1;
        return 0;
}

/* ---- runs ---- */

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
        memset(r, 0, sizeof *r);
}

void run_rows_free(run_row *rows, size_t n) {
        for (size_t i = 0; rows && i < n; i++)
                run_row_clear(&rows[i]);
        free(rows);
}

#define RUN_COLS                                                                                 \
        "id, series_id, nominal, type, trigger, state, params, query, idem_key, node, error, "   \
        "attempt, next_attempt, queued_at, not_before, started_at, finished_at, lease_until, "   \
        "exit_code, progress, n_info, n_warning, n_error, n_results, exclusive, cancel_requested"

/* The idempotency key of a run without an explicit one: derived, never stored. */
static char *derive_key(int64_t series_id, bool has_nominal, sked_time nominal, int64_t id, int64_t attempt) {
        char key[128], text[32];
        if (series_id && has_nominal) {
                time_format_utc(nominal, text, sizeof text);
                if (nominal % SKED_USEC) /* a manual run: its instant to the microsecond */
                        snprintf(text + 19, sizeof text - 19, ".%06lldZ",
                                 (long long) ((nominal % SKED_USEC + SKED_USEC) % SKED_USEC));
                snprintf(key, sizeof key, "%lld:%s:%lld", (long long) series_id, text, (long long) attempt);
        } else {
                snprintf(key, sizeof key, "run:%lld:%lld", (long long) id, (long long) attempt);
        }
        return strdup(key);
}

static void run_from_stmt(db_stmt *st, run_row *r) {
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
        r->cancel_requested = db_col_int(st, 25) != 0;
}

static void run_decode(db_stmt *st, void *row) {
        run_from_stmt(st, row);
}

static void run_clear(void *row) {
        run_row_clear(row);
}

static int runs_collect(db_stmt *st, run_row **ret, size_t *ret_n, sked_err *err) {
        return collect(st, sizeof **ret, run_decode, run_clear, (void **) ret, ret_n, err);
}

int store_run_insert(store *s, run_row *r, sked_err *err) {
#define RUN_INSERT                                                                      \
        "INSERT INTO runs(series_id, nominal, type, trigger, state, params, query, "    \
        "idem_key, attempt, queued_at, not_before, exclusive) "                         \
        "VALUES($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $10, $11)"
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
        rc = db_step(st, err);
        if (rc >= 0)
                r->id = pg ? (rc == 1 ? db_col_int(st, 0) : 0) : db_last_insert_id(s->d);
        db_done(st);
        if (rc < 0)
                return rc;
        if (r->id <= 0)
                return err_set(err, -EIO, "database: insert returned no id");
        if (!r->idem_key)
                r->idem_key = derive_key(r->series_id, r->has_nominal, r->nominal, r->id, r->attempt > 0 ? r->attempt : 1);
        return 0;
}

int store_run_get(store *s, int64_t id, run_row *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT " RUN_COLS " FROM runs WHERE id = $1", &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        r = db_step(st, err);
        if (r == 1)
                run_from_stmt(st, ret);
        db_done(st);
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
        return runs_collect(st, ret, ret_n, err);
}

int store_runs_ready(store *s, sked_time now, const run_row *after, int limit, run_row **ret, size_t *ret_n,
                     sked_err *err) {
        /* PostgreSQL: the rows stay locked to this transaction, and other nodes' claims
         * skip them instead of waiting.  `state IN ('queued', 'running')` repeats the
         * condition of the partial index runs_series_active, without which SQLite
         * does not use it (it walked every run of the series instead); the same in
         * store_series_retract and store_series_cancel_active. */
#define READY_WHERE                                                                            \
        "SELECT " RUN_COLS " FROM runs WHERE state = 'queued' AND not_before <= $1 AND "       \
        "(not_before > $3 OR (not_before = $3 AND id > $4)) AND "                              \
        "type NOT IN (SELECT t.name FROM types t JOIN features f ON f.name = t.feature "       \
        "WHERE f.enabled = 0) AND (exclusive = 0 OR NOT EXISTS (SELECT 1 FROM runs b "        \
        "WHERE b.series_id = runs.series_id AND b.state IN ('queued', 'running') AND "         \
        "b.state = 'running')) "                                                                 \
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
        return runs_collect(st, ret, ret_n, err);
}

int store_run_start(store *s, int64_t id, const char *node, sked_time now, sked_time lease_until,
                    sked_err *err) {
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

int store_series_retract(store *s, int64_t series_id, sked_time now, int64_t **ret_ids, size_t *ret_n,
                         sked_err *err) {
        /* runs of occurrences fired ahead that have not started (and the rows that
         * recorded such runs before schema version 4) */
#define RETRACTABLE                                                                                      \
        "series_id = $1 AND state IN ('queued', 'running') AND trigger = 'schedule' AND attempt = 1 AND "   \
        "not_before > $2 AND (state = 'queued' "                                                          \
        "OR (state = 'running' AND started_at > $2))"
        static const char *const occurrences_sql =
                "DELETE FROM occurrences WHERE series_id = $1 AND nominal IN (SELECT nominal FROM runs WHERE "
                RETRACTABLE ")";
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
        if ((r = ids_collect(st, &ids, &n, err)) < 0)
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
        return min_query(s, "SELECT min(not_before) FROM runs WHERE state = 'queued'", ret, ret_any, err);
}

int store_runs_renew(store *s, const int64_t *ids, size_t n, sked_time lease_until, bool *ret_cancel,
                     sked_err *err) {
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
                r = db_step(st, err);
                bool cancel = r == 1 && db_col_int(st, 0) != 0;
                while (r == 1) /* to the end: SQLite writes RETURNING rows at the last step */
                        r = db_step(st, err);
                db_done(st);
                if (r < 0)
                        return r;
                if (ret_cancel)
                        ret_cancel[i] = cancel;
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
        return runs_collect(st, ret, ret_n, err);
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

int store_message_add(store *s, int64_t run_id, int64_t seq, sked_time at, const char *level,
                      const char *text, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "INSERT INTO messages(run_id, seq, at, level, text) VALUES($1, $2, $3, $4, $5) "
                           "ON CONFLICT DO NOTHING",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, run_id);
        db_bind_int(st, 2, seq);
        db_bind_int(st, 3, at);
        db_bind_text(st, 4, level);
        db_bind_text(st, 5, text);
        return db_run(st, err);
}

static json_t *message_row(db_stmt *st) {
        return json_pack("{s:I, s:I, s:s, s:s}", "seq", (json_int_t) db_col_int(st, 0), "at",
                         (json_int_t) db_col_int(st, 1), "level", db_col_text(st, 2), "text", db_col_text(st, 3));
}

int store_result_add(store *s, int64_t run_id, int64_t seq, sked_time at, const char *key,
                     const char *status, const char *data, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "INSERT INTO results(run_id, seq, at, key, status, data) "
                           "VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, run_id);
        db_bind_int(st, 2, seq);
        db_bind_int(st, 3, at);
        db_bind_text(st, 4, key);
        db_bind_text(st, 5, status);
        db_bind_text(st, 6, data);
        return db_run(st, err);
}

int store_messages_list(store *s, int64_t run_id, int64_t after_seq, int limit, json_t **ret,
                        sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT seq, at, level, text FROM messages WHERE run_id = $1 AND seq > $2 "
                           "ORDER BY seq LIMIT $3",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, run_id);
        db_bind_int(st, 2, after_seq);
        db_bind_int(st, 3, limit);
        return json_rows(st, message_row, ret, err);
}

static json_t *result_json(db_stmt *st, int c) {
        json_t *o = json_pack("{s:I, s:I, s:s, s:s}", "seq", (json_int_t) db_col_int(st, c), "at",
                              (json_int_t) db_col_int(st, c + 1), "key", db_col_text(st, c + 2),
                              "status", db_col_text(st, c + 3));
        const char *data = db_col_text(st, c + 4);
        json_t *d = data ? json_loads(data, JSON_DECODE_ANY, NULL) : NULL;
        json_object_set_new(o, "data", d ? d : json_null());
        return o;
}

static json_t *result_row(db_stmt *st) {
        return result_json(st, 0);
}

int store_results_list(store *s, int64_t run_id, int64_t after_seq, int limit, json_t **ret,
                       sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT seq, at, key, status, data FROM results WHERE run_id = $1 AND seq > $2 "
                           "ORDER BY seq LIMIT $3",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, run_id);
        db_bind_int(st, 2, after_seq);
        db_bind_int(st, 3, limit);
        return json_rows(st, result_row, ret, err);
}

int store_series_recent_results(store *s, int64_t series_id, int runs, json_t **ret, sked_err *err) {
        run_filter f = {.series_id = series_id, .limit = runs * 4 + 8};
        run_row *rows = NULL;
        size_t n = 0;
        int r = store_runs_list(s, &f, &rows, &n, err);
        if (r < 0)
                return r;
        json_t *arr = json_array();
        int taken = 0;
        for (size_t i = 0; i < n && taken < runs; i++) {
                if (!rows[i].finished_at)
                        continue;
                json_t *results = NULL;
                if ((r = store_results_list(s, rows[i].id, 0, 1000, &results, err)) < 0)
                        break;
                json_array_append_new(arr, json_pack("{s:I, s:I, s:s, s:o}", "run_id",
                                                     (json_int_t) rows[i].id, "finished_at",
                                                     (json_int_t) rows[i].finished_at, "state",
                                                     rows[i].state, "results", results));
                taken++;
        }
        run_rows_free(rows, n);
        if (r < 0) {
                json_decref(arr);
                return r;
        }
        *ret = arr;
        return 0;
}

int store_running_count(store *s, const char *type, int64_t *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT count(*) FROM runs WHERE state = 'running' AND type = $1", &st,
                           err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, type);
        r = db_step(st, err);
        int64_t v = r == 1 ? db_col_int(st, 0) : 0;
        db_done(st);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

/* ---- cluster ---- */

#define POLLER_LOCK_KEY 727373

int store_poller_lease(store *s, bool *ret_held, sked_err *err) {
        if (db_dialect(s->d) != DB_POSTGRES) {
                *ret_held = true;
                return 0;
        }
        if (s->lease_held && s->lease_gen == db_generation(s->d)) {
                *ret_held = true;
                return 0;
        }
        s->lease_held = false;
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT pg_try_advisory_lock(727373)", &st, err);
        if (r < 0)
                return r;
        r = db_step(st, err);
        bool held = r == 1 && db_col_text(st, 0) && db_col_text(st, 0)[0] == 't';
        db_done(st);
        if (r < 0)
                return r;
        s->lease_held = held;
        s->lease_gen = db_generation(s->d);
        *ret_held = held;
        return 0;
}

int store_db_now(store *s, sked_time *ret, sked_err *err) {
        if (db_dialect(s->d) != DB_POSTGRES) {
                *ret = time_now_real();
                return 0;
        }
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)", &st, err);
        if (r < 0)
                return r;
        r = db_step(st, err);
        sked_time t = r == 1 ? db_col_int(st, 0) : 0;
        db_done(st);
        if (r < 0)
                return r;
        *ret = t;
        return 0;
}

int store_end(store *s, int r, sked_err *err) {
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        return store_commit(s, err);
}

int store_cache_mb(store *s, int mb, sked_err *err) {
        if (db_dialect(s->d) != DB_SQLITE)
                return 0;
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA cache_size=-%d;", mb * 1024);
        return db_exec_script(s->d, sql, err);
}

int store_autocheckpoint(store *s, bool on, sked_err *err) {
        if (db_dialect(s->d) != DB_SQLITE)
                return 0;
        return db_exec_script(s->d, on ? "PRAGMA wal_autocheckpoint=1000;" : "PRAGMA wal_autocheckpoint=0;", err);
}

int store_checkpoint(store *s, int64_t *ret_frames, int64_t *ret_copied, sked_err *err) {
        *ret_frames = *ret_copied = 0;
        if (db_dialect(s->d) != DB_SQLITE)
                return 0;
        /* one row: busy (another checkpoint ran), frames in the WAL, frames copied */
        db_stmt *st;
        int r = db_prepare(s->d, "PRAGMA wal_checkpoint(PASSIVE)", &st, err);
        if (r < 0)
                return r;
        if ((r = db_step(st, err)) == 1 && db_col_int(st, 0) == 0) {
                *ret_frames = db_col_int(st, 1);
                *ret_copied = db_col_int(st, 2);
        }
        db_done(st);
        return r < 0 ? r : 0;
}

int store_notify(store *s, sked_err *err) {
        if (db_dialect(s->d) != DB_POSTGRES)
                return 0;
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT pg_notify('" STORE_NOTIFY_CHANNEL "', '')", &st, err);
        return r < 0 ? r : db_run(st, err);
}

int store_lock_type(store *s, const char *type, sked_err *err) {
        if (db_dialect(s->d) != DB_POSTGRES)
                return 0;
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT pg_advisory_xact_lock(727374, hashtext($1))", &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, type);
        return db_run(st, err);
}

static json_t *node_json(db_stmt *st) {
        return json_pack("{s:s, s:s, s:I, s:I, s:I, s:s?, s:I, s:I}", "name", db_col_text(st, 0), "role",
                         db_col_text(st, 1), "workers", (json_int_t) db_col_int(st, 2), "running",
                         (json_int_t) db_col_int(st, 3), "pid", (json_int_t) db_col_int(st, 4), "version",
                         db_col_text(st, 5), "started_at", (json_int_t) db_col_int(st, 6), "heartbeat_at",
                         (json_int_t) db_col_int(st, 7));
}

int store_node_heartbeat(store *s, const node_row *n, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "INSERT INTO nodes(name, started_at, heartbeat_at, role, workers, running, pid, version) "
                           "VALUES($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT(name) DO UPDATE SET "
                           "started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, "
                           "role = excluded.role, workers = excluded.workers, running = excluded.running, "
                           "pid = excluded.pid, version = excluded.version",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, n->name);
        db_bind_int(st, 2, n->started_at);
        db_bind_int(st, 3, n->heartbeat_at);
        db_bind_text(st, 4, n->role);
        db_bind_int(st, 5, n->workers);
        db_bind_int(st, 6, n->running);
        db_bind_int(st, 7, n->pid);
        db_bind_text(st, 8, n->version);
        return db_run(st, err);
}

int store_nodes_list(store *s, json_t **ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT name, role, workers, running, pid, version, started_at, heartbeat_at "
                           "FROM nodes ORDER BY name",
                           &st, err);
        if (r < 0)
                return r;
        return json_rows(st, node_json, ret, err);
}

/* ---- poller health ---- */

int store_poller_put(store *s, const poller_health *h, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "INSERT INTO poller(id, node, started_at, heartbeat_at, last_fire_at, "
                           "initialized_at, fired_total, last_batch, next_due, purged_runs, purged_messages, "
                           "purged_results, last_purge_at) "
                           "VALUES(1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT(id) DO UPDATE SET "
                           "purged_runs = excluded.purged_runs, purged_messages = excluded.purged_messages, "
                           "purged_results = excluded.purged_results, last_purge_at = excluded.last_purge_at, "
                           "node = excluded.node, started_at = excluded.started_at, "
                           "heartbeat_at = excluded.heartbeat_at, last_fire_at = excluded.last_fire_at, "
                           "initialized_at = excluded.initialized_at, fired_total = excluded.fired_total, "
                           "last_batch = excluded.last_batch, next_due = excluded.next_due",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, h->node);
        db_bind_int(st, 2, h->started_at);
        db_bind_int(st, 3, h->heartbeat_at);
        db_bind_int_or_null(st, 4, h->last_fire_at, h->last_fire_at == 0);
        db_bind_int_or_null(st, 5, h->initialized_at, h->initialized_at == 0);
        db_bind_int(st, 6, h->fired_total);
        db_bind_int(st, 7, h->last_batch);
        db_bind_int_or_null(st, 8, h->next_due, !h->has_next);
        db_bind_int(st, 9, h->purged_runs);
        db_bind_int(st, 10, h->purged_messages);
        db_bind_int(st, 11, h->purged_results);
        db_bind_int_or_null(st, 12, h->last_purge_at, h->last_purge_at == 0);
        return db_run(st, err);
}

int store_poller_get(store *s, poller_health *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT node, started_at, heartbeat_at, last_fire_at, initialized_at, "
                           "fired_total, last_batch, next_due, purged_runs, purged_messages, purged_results, "
                           "last_purge_at FROM poller WHERE id = 1",
                           &st, err);
        if (r < 0)
                return r;
        r = db_step(st, err);
        if (r == 1) {
                memset(ret, 0, sizeof *ret);
                snprintf(ret->node, sizeof ret->node, "%s", db_col_text(st, 0));
                ret->started_at = db_col_int(st, 1);
                ret->heartbeat_at = db_col_int(st, 2);
                ret->last_fire_at = db_col_int(st, 3);
                ret->initialized_at = db_col_int(st, 4);
                ret->fired_total = db_col_int(st, 5);
                ret->last_batch = db_col_int(st, 6);
                ret->has_next = !db_col_null(st, 7);
                ret->next_due = db_col_int(st, 7);
                ret->purged_runs = db_col_int(st, 8);
                ret->purged_messages = db_col_int(st, 9);
                ret->purged_results = db_col_int(st, 10);
                ret->last_purge_at = db_col_int(st, 11);
        }
        db_done(st);
        if (r == 0)
                return err_set(err, -ENOENT, "the poller has not run yet");
        return r < 0 ? r : 0;
}
