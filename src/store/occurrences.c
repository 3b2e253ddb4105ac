/* occurrences: see occurrences.h. */
#include "store/occurrences.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"

int store_occurrence_insert(store *s, int64_t series_id, sked_time nominal, sked_time now, const char *skipped,
                            sked_err *err) {
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
        int_col one;
        if ((r = row_read(st, &int_shape, &one, err)) < 0)
                return r;
        *ret = r == 1;
        return 0;
}

void exception_row_clear(exception_row *x) {
        if (!x)
                return;
        free(x->params);
        free(x->note);
        memset(x, 0, sizeof *x);
}

void exception_rows_free(exception_row *rows, size_t n) {
        for (size_t i = 0; rows && i < n; i++)
                exception_row_clear(&rows[i]);
        free(rows);
}

#define EXC_COLS "series_id, nominal, disabled, fired, moved_to, params, note, created_at, updated_at"

static void exception_decode(db_stmt *st, void *row) {
        exception_row *x = row;
        memset(x, 0, sizeof *x);
        x->series_id = db_col_int(st, 0);
        x->nominal = db_col_int(st, 1);
        x->disabled = db_col_int(st, 2) != 0;
        x->fired = db_col_int(st, 3) != 0;
        x->moved_to = db_col_null(st, 4) ? 0 : db_col_int(st, 4);
        x->params = dup_or_null(db_col_text(st, 5));
        x->note = dup_or_null(db_col_text(st, 6));
        x->created_at = db_col_int(st, 7);
        x->updated_at = db_col_int(st, 8);
}

static void exception_clear(void *row) {
        exception_row_clear(row);
}

static const row_shape exception_shape = {sizeof(exception_row), exception_decode, exception_clear};

static int bump_count(store *s, int64_t series_id, int delta, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "UPDATE series SET n_exceptions = n_exceptions + $2 WHERE id = $1", &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, series_id);
        db_bind_int(st, 2, delta);
        return db_run(st, err);
}

int store_exception_put(store *s, const exception_row *x, sked_err *err) {
        exception_row cur = {0};
        int r = store_exception_get(s, x->series_id, x->nominal, &cur, err);
        bool exists = r == 0;
        exception_row_clear(&cur);
        if (r < 0 && r != -ENOENT)
                return r;
        db_stmt *st;
        r = db_prepare(s->d,
                       "INSERT INTO exceptions(series_id, nominal, disabled, fired, moved_to, params, note, "
                       "created_at, updated_at) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $8) "
                       "ON CONFLICT(series_id, nominal) DO UPDATE SET disabled = excluded.disabled, "
                       "fired = excluded.fired, moved_to = excluded.moved_to, params = excluded.params, "
                       "note = excluded.note, updated_at = excluded.updated_at",
                       &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, x->series_id);
        db_bind_int(st, 2, x->nominal);
        db_bind_int(st, 3, x->disabled);
        db_bind_int(st, 4, x->fired);
        db_bind_int_or_null(st, 5, x->moved_to, x->moved_to == 0);
        db_bind_text(st, 6, x->params);
        db_bind_text(st, 7, x->note);
        db_bind_int(st, 8, x->updated_at);
        if ((r = db_run(st, err)) < 0)
                return r;
        return exists ? 0 : bump_count(s, x->series_id, 1, err);
}

int store_exception_delete(store *s, int64_t series_id, sked_time nominal, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "DELETE FROM exceptions WHERE series_id = $1 AND nominal = $2", &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, series_id);
        db_bind_int(st, 2, nominal);
        if ((r = db_run(st, err)) < 0)
                return r;
        if (db_changes(s->d) == 0)
                return err_field(err, -ENOENT, "nominal", "this occurrence has no one-off change");
        return bump_count(s, series_id, -1, err);
}

int store_exception_get(store *s, int64_t series_id, sked_time nominal, exception_row *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT " EXC_COLS " FROM exceptions WHERE series_id = $1 AND nominal = $2", &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, series_id);
        db_bind_int(st, 2, nominal);
        r = row_read(st, &exception_shape, ret, err);
        if (r == 0)
                return -ENOENT;
        return r < 0 ? r : 0;
}

int store_exceptions_list(store *s, int64_t series_id, sked_time from, sked_time to, int limit, exception_row **ret,
                          size_t *ret_n, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT " EXC_COLS " FROM exceptions WHERE (CAST($1 AS BIGINT) = 0 OR series_id = $1) AND "
                           "((nominal >= $2 AND nominal < $3) OR (moved_to >= $2 AND moved_to < $3)) "
                           "ORDER BY series_id, nominal LIMIT $4",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, series_id);
        db_bind_int(st, 2, from);
        db_bind_int(st, 3, to);
        db_bind_int(st, 4, limit);
        return rows_read(st, &exception_shape, ret, ret_n, err);
}

int store_moves_due(store *s, sked_time now, int limit, exception_row **ret, size_t *ret_n, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT e.series_id, e.nominal, e.disabled, e.fired, e.moved_to, e.params, e.note, "
                           "e.created_at, e.updated_at FROM exceptions e JOIN series s ON s.id = e.series_id "
                           "WHERE e.moved_to IS NOT NULL AND e.fired = 0 AND e.disabled = 0 AND e.moved_to <= $1 "
                           "AND s.enabled = 1 AND s.feature_on = 1 ORDER BY e.moved_to LIMIT $2",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, now);
        db_bind_int(st, 2, limit);
        return rows_read(st, &exception_shape, ret, ret_n, err);
}

int store_exception_set_fired(store *s, int64_t series_id, sked_time nominal, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "UPDATE exceptions SET fired = 1 WHERE series_id = $1 AND nominal = $2", &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, series_id);
        db_bind_int(st, 2, nominal);
        return db_run(st, err);
}

static void occurrence_decode(db_stmt *st, void *row) {
        occurrence_rec *o = row;
        memset(o, 0, sizeof *o);
        o->series_id = db_col_int(st, 0);
        o->nominal = db_col_int(st, 1);
        o->fired_at = db_col_int(st, 2);
        o->run_id = db_col_null(st, 3) ? 0 : db_col_int(st, 3);
        snprintf(o->skipped, sizeof o->skipped, "%s", db_col_null(st, 4) ? "" : db_col_text(st, 4));
        snprintf(o->state, sizeof o->state, "%s", db_col_null(st, 5) ? "" : db_col_text(st, 5));
        o->attempt = db_col_int(st, 6);
        o->started_at = db_col_int(st, 7);
        o->finished_at = db_col_int(st, 8);
        snprintf(o->trigger, sizeof o->trigger, "%s", db_col_null(st, 9) ? "schedule" : db_col_text(st, 9));
}

static const row_shape occurrence_shape = {sizeof(occurrence_rec), occurrence_decode, NULL};

/* The occurrences' record: skip rows (and rows of runs fired before schema version
 * 4 whose scheduled run is gone), then the scheduled and manual runs, each with its
 * latest attempt.  One text per case, so that each finds its index: by series
 * (runs_series) or by instant (runs_nominal). */
#define OCC_SELECT(SERIES_O, SERIES_M, ORDER)                                                                          \
        "SELECT * FROM (SELECT o.series_id, o.nominal, o.fired_at, o.run_id, o.skipped, r.state, "                     \
        "r.attempt, r.started_at, r.finished_at, 'schedule' AS trigger FROM occurrences o "                            \
        "LEFT JOIN runs r ON r.id = o.run_id WHERE " SERIES_O " o.nominal >= $2 AND o.nominal < $3 "                   \
        "AND NOT EXISTS (SELECT 1 FROM runs f WHERE f.series_id = o.series_id AND f.nominal = o.nominal "              \
        "AND f.trigger = 'schedule') UNION ALL "                                                                       \
        "SELECT m.series_id, m.nominal, m.queued_at, COALESCE(n.id, m.id), NULL, "                                     \
        "COALESCE(n.state, m.state), COALESCE(n.attempt, m.attempt), "                                                 \
        "COALESCE(n.started_at, m.started_at), COALESCE(n.finished_at, m.finished_at), m.trigger "                     \
        "FROM runs m LEFT JOIN runs n ON n.id = (SELECT max(id) FROM runs x WHERE "                                    \
        "x.series_id = m.series_id AND x.nominal = m.nominal AND x.id > m.id) "                                        \
        "WHERE " SERIES_M " m.nominal >= $2 AND m.nominal < $3 AND m.trigger IN ('schedule', 'manual')) "              \
        "AS occ ORDER BY " ORDER " LIMIT $4"

int store_occurrences_range(store *s, int64_t series_id, sked_time from, sked_time to, int limit, occurrence_rec **ret,
                            size_t *ret_n, sked_err *err) {
        static const char *const one = OCC_SELECT("o.series_id = $1 AND", "m.series_id = $1 AND", "nominal");
        /* $1 unused but bound: the same parameters for both texts.  By instant: a
         * limit then keeps a beginning of the range (the calendar's cut) */
        static const char *const all =
                OCC_SELECT("CAST($1 AS BIGINT) = 0 AND", "m.series_id IS NOT NULL AND", "nominal, series_id");
        db_stmt *st;
        int r = db_prepare(s->d, series_id ? one : all, &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, series_id);
        db_bind_int(st, 2, from);
        db_bind_int(st, 3, to);
        db_bind_int(st, 4, limit);
        return rows_read(st, &occurrence_shape, ret, ret_n, err);
}
#undef OCC_SELECT
