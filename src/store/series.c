/* series: see series.h. */
#include "store/series.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"

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

#define SERIES_COLS                                                                                                    \
        "id, type, title, schedule, tz, start_local, end_at, count, params, query, enabled, "                          \
        "background, pause_note, owner, next_due, last_nominal, fired, missed, version, "                              \
        "created_at, updated_at, policy, sleep, feature_on, n_exceptions, skipped_overlap, "                           \
        "skipped_sleep, skipped_disabled"

static void series_decode(db_stmt *st, void *elem) {
        series_row *r = elem;
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

static void series_clear(void *elem) {
        series_row_clear(elem);
}

static const row_shape series_shape = {sizeof(series_row), series_decode, series_clear};

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

/* The RETURNING columns of an insert and of an update, read into the row written. */
static void inserted_decode(db_stmt *st, void *elem) {
        series_row *r = elem;
        r->id = db_col_int(st, 0);
        r->feature_on = db_col_int(st, 1) != 0;
}

static void updated_decode(db_stmt *st, void *elem) {
        series_row *r = elem;
        r->version = db_col_int(st, 0);
        r->has_next = !db_col_null(st, 1);
        r->next_due = db_col_int(st, 1);
}

static const row_shape updated_shape = {sizeof(series_row), updated_decode, NULL};

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
        /* in a pipeline, the id and feature_on arrive by store_pipeline_end */
        if ((rc = db_send(st, inserted_decode, r, err)) < 0)
                return rc;
        r->version = 1;
        r->created_at = r->updated_at;
        return 0;
}

int store_series_update(store *s, series_row *r, int64_t expected_version, bool set_next, sked_err *err) {
        db_stmt *st;
        int rc = db_prepare(
                s->d,
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
        rc = row_read(st, &updated_shape, r, err);
        if (rc != 0)
                return rc < 0 ? rc : 0;
        series_row cur;
        rc = store_series_get(s, r->id, &cur, err);
        if (rc < 0)
                return rc;
        int64_t v = cur.version;
        series_row_clear(&cur);
        return err_field(err, -ESTALE, "version", "series %lld is at version %lld, not %lld: reload it and retry",
                         (long long) r->id, (long long) v, (long long) expected_version);
}

int store_series_get(store *s, int64_t id, series_row *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT " SERIES_COLS " FROM series WHERE id = $1", &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        r = row_read(st, &series_shape, ret, err);
        if (r == 0)
                return err_field(err, -ENOENT, "id", "no series %lld", (long long) id);
        return r < 0 ? r : 0;
}

int store_series_list(store *s, const char *type, int64_t after_id, int limit, bool hidden, series_row **ret,
                      size_t *ret_n, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT " SERIES_COLS
                           " FROM series WHERE id > $1 AND (CAST($2 AS TEXT) IS NULL OR type = $2) "
                           "AND (feature_on = 1 OR CAST($4 AS INTEGER) = 1) ORDER BY id LIMIT $3",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, after_id);
        db_bind_text(st, 2, type);
        db_bind_int(st, 3, limit);
        db_bind_int(st, 4, hidden);
        return rows_read(st, &series_shape, ret, ret_n, err);
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
        r = row_read(st, &series_shape, ret, err);
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

int store_series_due(store *s, sked_time now, sked_time horizon, int limit, series_row **ret, size_t *ret_n,
                     sked_err *err) {
        /* PostgreSQL: lock the rows to this turn, so that an edit committed meanwhile
         * cannot be overwritten by the poller's advance (an edit in progress is skipped
         * now and fired next turn); SQLite serializes writers already.  A series is
         * fired ahead only while none of its runs is queued or running: the overlap
         * policy is then decided as it would be at its time. */
#define DUE_WHERE                                                                                                      \
        "SELECT " SERIES_COLS " FROM series WHERE enabled = 1 AND feature_on = 1 AND next_due IS NOT NULL "            \
        "AND next_due <= $3 AND (next_due <= $1 OR NOT EXISTS (SELECT 1 FROM runs r WHERE "                            \
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
        return rows_read(st, &series_shape, ret, ret_n, err);
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

int store_next_fire_at(store *s, sked_time now, sked_time ahead, sked_time *ret, bool *ret_any, sked_err *err) {
        /* the rules' cursors (beyond the horizon: fired `ahead` early; within it and
         * not fired: busy, fired when due), and the occurrences moved one-off (fired
         * at moved_to).  Each branch is the first row of its index in order (ORDER BY
         * ... LIMIT 1), not min(): PostgreSQL planned `min(next_due) - $1 ... WHERE
         * next_due > $2` as an aggregate over every series beyond the horizon whenever
         * its statistics expected one row there (a table growing faster than
         * autovacuum analyzes it), 0.8 ms per turn at 10,000 series while API writes
         * were creating them, and growing with the table. */
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT min(t) FROM (SELECT (SELECT next_due FROM series WHERE enabled = 1 AND "
                           "feature_on = 1 AND next_due > $2 ORDER BY next_due LIMIT 1) - $1 AS t UNION ALL "
                           "SELECT (SELECT next_due FROM series WHERE enabled = 1 AND feature_on = 1 AND "
                           "next_due <= $2 ORDER BY next_due LIMIT 1) UNION ALL "
                           "SELECT (SELECT e.moved_to FROM exceptions e JOIN series s ON s.id = e.series_id "
                           "WHERE e.moved_to IS NOT NULL AND e.fired = 0 AND e.disabled = 0 AND s.enabled = 1 AND "
                           "s.feature_on = 1 ORDER BY e.moved_to LIMIT 1)) AS due",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, ahead);
        db_bind_int(st, 2, now + ahead);
        int_col t = {0, true};
        if ((r = row_read(st, &int_shape, &t, err)) < 0)
                return r;
        if (!t.null)
                *ret = t.v;
        *ret_any = !t.null;
        return 0;
}

int store_series_lock(store *s, int64_t series_id, sked_err *err) {
        if (db_dialect(s->d) != DB_POSTGRES)
                return 0; /* BEGIN IMMEDIATE holds the one write lock already */
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT id FROM series WHERE id = $1 FOR UPDATE", &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, series_id);
        return db_run(st, err);
}
