/* messages: see messages.h. */
#include "store/messages.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"

int store_message_add(store *s, int64_t run_id, int64_t seq, sked_time at, const char *level, const char *text,
                      sked_err *err) {
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

JSON_SHAPE(message_shape, message_row);

int store_result_add(store *s, int64_t run_id, int64_t seq, sked_time at, const char *key, const char *status,
                     const char *data, sked_err *err) {
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

int store_messages_list(store *s, int64_t run_id, int64_t after_seq, int limit, json_t **ret, sked_err *err) {
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
        return json_read(st, &message_shape, ret, err);
}

static json_t *result_json(db_stmt *st, int c) {
        json_t *o = json_pack("{s:I, s:I, s:s, s:s}", "seq", (json_int_t) db_col_int(st, c), "at",
                              (json_int_t) db_col_int(st, c + 1), "key", db_col_text(st, c + 2), "status",
                              db_col_text(st, c + 3));
        const char *data = db_col_text(st, c + 4);
        json_t *d = data ? json_loads(data, JSON_DECODE_ANY, NULL) : NULL;
        json_object_set_new(o, "data", d ? d : json_null());
        return o;
}

static json_t *result_row(db_stmt *st) {
        return result_json(st, 0);
}

JSON_SHAPE(result_shape, result_row);

int store_results_list(store *s, int64_t run_id, int64_t after_seq, int limit, json_t **ret, sked_err *err) {
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
        return json_read(st, &result_shape, ret, err);
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
                json_array_append_new(arr, json_pack("{s:I, s:I, s:s, s:o}", "run_id", (json_int_t) rows[i].id,
                                                     "finished_at", (json_int_t) rows[i].finished_at, "state",
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
