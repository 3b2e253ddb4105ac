/* events: see events.h. */
#include "store/events.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"

int store_events_bounds(store *s, int64_t *ret_min, int64_t *ret_max, sked_err *err) {
        /* two reads of the id index's ends, not one min()/max() scan */
        static const char *const sql[] = {"SELECT id FROM events WHERE id IS NOT NULL ORDER BY id LIMIT 1",
                                          "SELECT id FROM events WHERE id IS NOT NULL ORDER BY id DESC LIMIT 1"};
        int64_t v[2] = {0, 0};
        for (int i = 0; i < 2; i++) {
                db_stmt *st;
                int r = db_prepare(s->d, sql[i], &st, err);
                if (r < 0)
                        return r;
                if ((r = row_read(st, &id_shape, &v[i], err)) < 0)
                        return r;
        }
        *ret_min = v[0];
        *ret_max = v[1];
        return 0;
}

static void set_int(json_t *o, const char *key, db_stmt *st, int c) {
        json_object_set_new(o, key, db_col_null(st, c) ? json_null() : json_integer(db_col_int(st, c)));
}

static void set_text(json_t *o, const char *key, db_stmt *st, int c) {
        const char *t = db_col_text(st, c);
        json_object_set_new(o, key, t ? json_string(t) : json_null());
}

static json_t *event_row(db_stmt *st) {
        const char *kind = db_col_text(st, 2);
        bool message = !strcmp(kind, "message"), result = !strcmp(kind, "result");
        if ((message && db_col_null(st, 12)) || (result && db_col_null(st, 14)))
                return NULL; /* its row was purged (retention) */
        json_t *o = json_object();
        if (!o)
                return NULL;
        set_int(o, "id", st, 0);
        json_object_set_new(o, "event", json_string(kind));
        set_int(o, "at", st, 1);
        set_int(o, "run_id", st, 3);
        set_int(o, "series_id", st, 4);
        set_text(o, "type", st, 5);
        set_int(o, "attempt", st, 7);
        if (!strcmp(kind, "run")) {
                set_text(o, "state", st, 6);
                set_int(o, "exit_code", st, 9);
                set_text(o, "error", st, 11);
        } else if (message) {
                set_int(o, "seq", st, 8);
                set_text(o, "level", st, 12);
                set_text(o, "text", st, 13);
        } else if (result) {
                set_int(o, "seq", st, 8);
                set_text(o, "key", st, 14);
                set_text(o, "status", st, 15);
                const char *data = db_col_text(st, 16);
                json_t *d = data ? json_loads(data, JSON_DECODE_ANY, NULL) : NULL;
                json_object_set_new(o, "data", d ? d : json_null());
        } else {
                set_int(o, "progress", st, 10);
        }
        return o;
}

JSON_SHAPE(event_shape, event_row);

int store_events_read(store *s, int64_t after, int64_t upto, const event_filter *f, int limit, json_t **ret,
                      sked_err *err) {
        db_stmt *st;
        int r = db_prepare(
                s->d,
                "SELECT e.id, e.at, e.kind, e.run_id, e.series_id, e.type, e.state, e.attempt, e.seq, e.exit_code, "
                "e.progress, e.error, m.level, m.text, x.key, x.status, x.data FROM events e "
                "LEFT JOIN messages m ON e.kind = 'message' AND m.run_id = e.run_id AND m.seq = e.seq "
                "LEFT JOIN results x ON e.kind = 'result' AND x.run_id = e.run_id AND x.seq = e.seq "
                "WHERE e.id > $1 AND e.id <= $2 AND (CAST($3 AS BIGINT) IS NULL OR e.series_id = $3) "
                "AND (CAST($4 AS BIGINT) IS NULL OR e.run_id = $4) AND (CAST($5 AS TEXT) IS NULL OR e.type = $5) "
                "ORDER BY e.id LIMIT $6",
                &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, after);
        db_bind_int(st, 2, upto);
        db_bind_int_or_null(st, 3, f ? f->series_id : 0, !f || !f->series_id);
        db_bind_int_or_null(st, 4, f ? f->run_id : 0, !f || !f->run_id);
        db_bind_text(st, 5, f ? f->type : NULL);
        db_bind_int(st, 6, limit);
        return json_read(st, &event_shape, ret, err);
}

int store_events_prune(store *s, int64_t keep, int64_t *ret_n, sked_err *err) {
        int64_t lo = 0, hi = 0;
        int r = store_events_bounds(s, &lo, &hi, err);
        if (r < 0)
                return r;
        if (keep < 1)
                keep = 1;
        int64_t n = 0;
        if (hi - lo >= keep) {
                db_stmt *st;
                if ((r = db_prepare(s->d, "DELETE FROM events WHERE id <= $1", &st, err)) < 0)
                        return r;
                db_bind_int(st, 1, hi - keep);
                if ((r = db_run(st, err)) < 0)
                        return r;
                n = db_changes(s->d);
        }
        if (ret_n)
                *ret_n = n;
        return 0;
}
