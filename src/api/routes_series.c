/* routes_series: series and their occurrences: list, create (one or a batch), get, PATCH, DELETE,
 * pause, resume, trigger, the occurrences of a range, one occurrence changed or reset,
 * and the recent results of a series (docs/api.md "Series", "Occurrences"). */
#include "api/routes_series.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/views.h"
#include "base/parse.h"

/* ---- series ---- */

static int reply_series(http_req *req, int status, series_row *row) {
        api_set_etag(req, row->version);
        if (status == 201) {
                char loc[64];
                snprintf(loc, sizeof loc, "/api/v1/series/%lld", (long long) row->id);
                http_add_header(req, "Location", loc);
        }
        http_reply_json(req, status, view_series(row));
        series_row_clear(row);
        return 0;
}

static int h_series_list(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        store *st;
        int64_t after, limit;
        bool all;
        if (api_get_store(e, req, &st) < 0 ||
            api_int_arg(req, "after", http_query(req, "after"), 0, 0, INT64_MAX, &after) < 0 ||
            api_int_arg(req, "limit", http_query(req, "limit"), API_DEFAULT_LIMIT, 1, API_MAX_LIMIT, &limit) < 0 ||
            api_bool_arg(req, "all", &all) < 0)
                return 0;
        const char *type = http_query(req, "type");
        json_t *def = type && *type ? engine_type_json(e, type) : NULL;
        if (type && *type && !def) {
                /* an empty list would read as "none yet": a typo should not */
                http_reply_problem(req, 404, "type", "type: \"%s\": no such type", type);
                return 0;
        }
        json_decref(def);
        series_row *rows = NULL;
        size_t n = 0;
        sked_err err = {0};
        int r = store_series_list(st, type, after, (int) limit, all, &rows, &n, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
        json_t *items = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(items, view_series(&rows[i]));
        json_t *out = json_pack("{s:o}", "items", items);
        if (n == (size_t) limit)
                json_object_set_new(out, "next", json_integer(rows[n - 1].id));
        else
                json_object_set_new(out, "next", json_null());
        series_rows_free(rows, n);
        http_reply_json(req, 200, out);
        return 0;
}

/* Series built (validated) on the HTTP thread, inserted by the loop. */
typedef struct insert_ctx {
        series_row *rows;
        size_t n;
        bool batch;
} insert_ctx;

static int series_insert_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        insert_ctx *c = ctx;
        (void) ret_reply;
        return c->batch ? engine_series_insert_batch(e, st, c->rows, c->n, "", err)
                        : engine_series_insert(e, st, c->rows, err);
}

static int insert_ok(http_req *req, void *op) {
        insert_ctx *c = op;
        if (!c->batch) {
                reply_series(req, 201, c->rows);
                free(c->rows);
                return 0;
        }
        json_t *out = json_array();
        for (size_t i = 0; i < c->n; i++)
                json_array_append_new(out, view_series(&c->rows[i]));
        series_rows_free(c->rows, c->n);
        http_reply_json(req, 201, out);
        return 0;
}

static void insert_clear(void *op) {
        insert_ctx *c = op;
        if (c->batch) {
                series_rows_free(c->rows, c->n);
        } else {
                series_row_clear(c->rows);
                free(c->rows);
        }
}

/* POST /api/v1/series: validated here, inserted by the loop.  With an array: all
 * in one savepoint or none; errors name the element, "[3].schedule". */
static int h_series_create(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        json_t *body = http_body_json(req); /* an object or an array of them (the route's flags) */
        insert_ctx c = {.batch = json_is_array(body), .n = json_is_array(body) ? json_array_size(body) : 1};
        sked_err err = {0};
        int r;
        if (c.batch) {
                r = engine_series_build_batch(e, body, "", &c.rows, &err);
        } else if (!(c.rows = calloc(1, sizeof *c.rows))) {
                r = err_set(&err, -ENOMEM, "out of memory");
        } else if ((r = engine_series_build(e, body, c.rows, &err)) < 0) {
                free(c.rows);
        }
        if (r < 0) /* the rows are freed */
                return api_reply_err(req, r, &err);
        /* an operator's series are theirs: owner defaults to them, and may not name another */
        const char *limit = api_owner_limit(req);
        for (size_t i = 0; r == 0 && limit && i < c.n; i++) {
                if (c.rows[i].owner && strcmp(c.rows[i].owner, limit) != 0) {
                        r = c.batch ? err_field(&err, -EACCES, "owner",
                                                "[%zu].owner: an operator creates series of "
                                                "their own only",
                                                i)
                                    : err_field(&err, -EACCES, "owner",
                                                "owner: an operator creates series of their "
                                                "own only");
                } else if (!c.rows[i].owner && !(c.rows[i].owner = strdup(limit))) {
                        r = err_set(&err, -ENOMEM, "out of memory");
                }
        }
        if (r < 0) {
                insert_clear(&c);
                return api_reply_err(req, r, &err);
        }
        return api_write_through_loop(req, e, series_insert_apply, ENGINE_WRITE_BLIND, &c, sizeof c, insert_ok,
                                      insert_clear);
}

static int h_series_get(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        store *st;
        int64_t id;
        if (api_get_store(e, req, &st) < 0 || api_id_param(req, &id) < 0)
                return 0;
        series_row row = {0};
        sked_err err = {0};
        int r = store_series_get(st, id, &row, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
        return reply_series(req, 200, &row);
}

/* The series writes that read and change one series, in the loop. */
typedef struct series_ctx {
        enum { SW_PATCH, SW_DELETE, SW_ENABLE, SW_PAUSE, SW_TRIGGER } op;
        int64_t id, expected;
        json_t *body; /* borrowed (the request's) */
        const char *note;
        bool purge;
        series_row row;    /* out: PATCH, pause, resume */
        json_t *dropped;   /* out: PATCH */
        run_row run;       /* out: trigger */
        const char *limit; /* an operator's name: their own series only (api_owner_limit) */
} series_ctx;

static int series_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        series_ctx *c = ctx;
        (void) ret_reply;
        int r = api_series_owned(st, c->id, c->limit, err);
        if (r < 0)
                return r;
        json_t *owner = c->limit && c->op == SW_PATCH ? json_object_get(c->body, "owner") : NULL;
        if (owner && (!json_is_string(owner) || strcmp(json_string_value(owner), c->limit) != 0))
                return err_field(err, -EACCES, "owner", "owner: an operator cannot give a series to another user");
        switch (c->op) {
        case SW_PATCH:
                return engine_series_update(e, st, c->id, c->body, c->expected, &c->row, &c->dropped, err);
        case SW_DELETE:
                return engine_series_delete(e, st, c->id, c->purge, err);
        case SW_ENABLE:
        case SW_PAUSE:
                return engine_series_set_enabled(e, st, c->id, c->op == SW_ENABLE, c->note, &c->row, err);
        case SW_TRIGGER:
                return engine_series_trigger(e, st, c->id, json_object_get(c->body, "params"), &c->run, err);
        }
        return err_set(err, -EINVAL, "unknown series write");
}

static void series_clear(void *op) {
        series_ctx *c = op;
        series_row_clear(&c->row);
        run_row_clear(&c->run);
        json_decref(c->dropped);
}

static int series_ok(http_req *req, void *op) {
        series_ctx *c = op;
        switch (c->op) {
        case SW_PATCH: {
                api_set_etag(req, c->row.version);
                json_t *out = view_series(&c->row);
                if (json_array_size(c->dropped))
                        json_object_set_new(out, "dropped_exceptions", c->dropped);
                else
                        json_decref(c->dropped);
                series_row_clear(&c->row);
                http_reply_json(req, 200, out);
                return 0;
        }
        case SW_DELETE:
                http_reply_json(req, 204, NULL);
                return 0;
        case SW_ENABLE:
        case SW_PAUSE:
                return reply_series(req, 200, &c->row);
        case SW_TRIGGER: {
                char loc[64];
                snprintf(loc, sizeof loc, "/api/v1/runs/%lld", (long long) c->run.id);
                http_add_header(req, "Location", loc);
                http_reply_json(req, 202, view_run(&c->run));
                run_row_clear(&c->run);
                return 0;
        }
        }
        return -EINVAL;
}

static int series_write(http_req *req, engine *e, series_ctx *c) {
        c->limit = api_owner_limit(req);
        return api_write_through_loop(req, e, series_apply, 0, c, sizeof *c, series_ok, series_clear);
}

static int h_series_patch(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        int64_t id;
        if (api_id_param(req, &id) < 0)
                return 0;
        int64_t expected;
        if (api_if_match(req, &expected) < 0)
                return 0;
        series_ctx c = {.op = SW_PATCH, .id = id, .expected = expected, .body = http_body_json(req)};
        return series_write(req, e, &c);
}

static int h_series_delete(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        int64_t id;
        bool purge;
        if (api_id_param(req, &id) < 0 || api_bool_arg(req, "purge", &purge) < 0)
                return 0;
        series_ctx c = {.op = SW_DELETE, .id = id, .purge = purge};
        return series_write(req, e, &c);
}

static int set_enabled(http_req *req, engine *e, bool enabled) {
        int64_t id;
        if (api_id_param(req, &id) < 0)
                return 0;
        json_t *body = http_body_json(req), *note = json_object_get(body, "note");
        if (note && !json_is_string(note) && !json_is_null(note)) {
                http_reply_problem(req, 400, "note", "note: expected a string");
                return 0;
        }
        series_ctx c = {.op = enabled ? SW_ENABLE : SW_PAUSE, .id = id, .note = json_string_value(note)};
        return series_write(req, e, &c);
}

static int h_series_pause(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        return set_enabled(req, ctx->e, false);
}

static int h_series_resume(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        return set_enabled(req, ctx->e, true);
}

static int h_series_trigger(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        int64_t id;
        if (api_id_param(req, &id) < 0)
                return 0;
        series_ctx c = {.op = SW_TRIGGER, .id = id, .body = http_body_json(req)};
        return series_write(req, e, &c);
}

static int h_series_occurrences(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        store *st;
        int64_t id, limit;
        sked_time now = engine_now(e), from, to;
        if (api_get_store(e, req, &st) < 0 || api_id_param(req, &id) < 0 ||
            api_instant_arg(req, "from", now - 86400 * SKED_USEC, &from) < 0 ||
            api_instant_arg(req, "to", from + 7 * 86400 * SKED_USEC, &to) < 0 ||
            api_int_arg(req, "limit", http_query(req, "limit"), 1000, 1, 10000, &limit) < 0)
                return 0;
        if (to <= from) {
                http_reply_problem(req, 400, "to", "to: must be after from");
                return 0;
        }
        series_row row = {0};
        sked_err err = {0};
        json_t *items = NULL;
        sked_time next_from = 0;
        int r = store_series_get(st, id, &row, &err);
        if (r == 0)
                r = engine_series_occurrences(e, st, &row, from, to, (int) limit, &items, &next_from, &err);
        series_row_clear(&row);
        if (r < 0)
                return api_reply_err(req, r, &err);
        json_t *out = json_pack("{s:o}", "items", items);
        view_set_instant(out, "from", from);
        view_set_instant(out, "to", to);
        /* a cut list says so, and where the next request starts (microseconds kept:
         * nominal instants of an interval rule need not be whole seconds) */
        json_object_set_new(out, "truncated", json_boolean(next_from != 0));
        if (next_from) {
                char at[40];
                time_format_utc_us(next_from, at, sizeof at);
                json_object_set_new(out, "next_from", json_string(at));
        }
        http_reply_json(req, 200, out);
        return 0;
}

static int h_series_results(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        store *st;
        int64_t id, runs;
        if (api_get_store(e, req, &st) < 0 || api_id_param(req, &id) < 0 ||
            api_int_arg(req, "runs", http_query(req, "runs"), 1, 1, 100, &runs) < 0)
                return 0;
        series_row row = {0};
        sked_err err = {0};
        json_t *items = NULL;
        int r = store_series_get(st, id, &row, &err);
        series_row_clear(&row);
        if (r == 0)
                r = store_series_recent_results(st, id, (int) runs, &items, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
                view_set_instant(it, "finished_at", json_integer_value(json_object_get(it, "finished_at")));
                size_t k;
                json_t *res;
                json_array_foreach(json_object_get(it, "results"), k, res) {
                        view_set_instant(res, "at", json_integer_value(json_object_get(res, "at")));
                }
        }
        http_reply_json(req, 200, json_pack("{s:o}", "items", items));
        return 0;
}

/* ---- one occurrence ---- */

/* {nominal}: a UTC instant "YYYY-MM-DDTHH:MM:SSZ" or microseconds since the epoch. */
static int nominal_param(http_req *req, sked_time *ret) {
        const char *v = http_param(req, "nominal");
        if (v && time_parse_utc(v, ret) == 0)
                return 0;
        return api_int_arg(req, "nominal", v, 0, INT64_MIN + 1, INT64_MAX, ret);
}

typedef struct occurrence_ctx {
        int64_t id;
        sked_time nominal;
        json_t *body;      /* borrowed; NULL: reset */
        json_t *out;       /* out: change */
        const char *limit; /* an operator's name (api_owner_limit) */
} occurrence_ctx;

static int occurrence_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        occurrence_ctx *c = ctx;
        (void) ret_reply;
        int r = api_series_owned(st, c->id, c->limit, err);
        if (r < 0)
                return r;
        return c->body ? engine_occurrence_change(e, st, c->id, c->nominal, c->body, &c->out, err)
                       : engine_occurrence_reset(e, st, c->id, c->nominal, err);
}

static int occurrence_ok(http_req *req, void *op) {
        occurrence_ctx *c = op;
        if (c->body) {
                http_reply_json(req, 200, c->out);
        } else {
                http_reply_json(req, 204, NULL);
        }
        return 0;
}

static void occurrence_clear(void *op) {
        occurrence_ctx *c = op;
        json_decref(c->out);
}

static int h_occurrence_change(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        int64_t id;
        sked_time nominal;
        if (api_id_param(req, &id) < 0 || nominal_param(req, &nominal) < 0)
                return 0;
        occurrence_ctx c = {.id = id,
                            .nominal = nominal,
                            .body = http_body_json(req), /* required */
                            .limit = api_owner_limit(req)};
        return api_write_through_loop(req, e, occurrence_apply, 0, &c, sizeof c, occurrence_ok, occurrence_clear);
}

static int h_occurrence_reset(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        int64_t id;
        sked_time nominal;
        if (api_id_param(req, &id) < 0 || nominal_param(req, &nominal) < 0)
                return 0;
        occurrence_ctx c = {.id = id, .nominal = nominal, .limit = api_owner_limit(req)};
        return api_write_through_loop(req, e, occurrence_apply, 0, &c, sizeof c, occurrence_ok, occurrence_clear);
}

/* The members of a series in a request body: POST takes them (each element of an
 * array too), PATCH also `version`.  The engine checks their values (and refuses
 * unknown ones itself, for embedders); the route refuses any other first. */
#define SERIES_MEMBERS                                                                                                 \
        "type", "title", "schedule", "tz", "start", "end", "count", "params", "query", "enabled", "owner",             \
                "pause_note", "policy", "sleep"

static const http_route_def routes[] = {
        {"GET", "/api/v1/series", 0, h_series_list, .args = HTTP_NAMES("type", "after", "limit", "all")},
        {"POST", "/api/v1/series", HTTP_BODY | HTTP_BODY_ARRAY, h_series_create, .members = HTTP_NAMES(SERIES_MEMBERS)},
        {"GET", "/api/v1/series/{id}", 0, h_series_get, .args = NULL},
        {"PATCH", "/api/v1/series/{id}", HTTP_BODY | HTTP_IF_MATCH, h_series_patch,
         .members = HTTP_NAMES(SERIES_MEMBERS, "version")},
        {"DELETE", "/api/v1/series/{id}", 0, h_series_delete, .args = HTTP_NAMES("purge")},
        {"POST", "/api/v1/series/{id}/pause", HTTP_BODY_OPTIONAL, h_series_pause, .members = HTTP_NAMES("note")},
        {"POST", "/api/v1/series/{id}/resume", HTTP_BODY_OPTIONAL, h_series_resume, .args = NULL},
        {"POST", "/api/v1/series/{id}/trigger", HTTP_BODY_OPTIONAL, h_series_trigger, .members = HTTP_NAMES("params")},
        {"GET", "/api/v1/series/{id}/occurrences", 0, h_series_occurrences, .args = HTTP_NAMES("from", "to", "limit")},
        {"PATCH", "/api/v1/series/{id}/occurrences/{nominal}", HTTP_BODY, h_occurrence_change,
         .members = HTTP_NAMES("start", "params", "enabled", "note")},
        {"DELETE", "/api/v1/series/{id}/occurrences/{nominal}", 0, h_occurrence_reset, .args = NULL},
        {"GET", "/api/v1/series/{id}/results", 0, h_series_results, .args = HTTP_NAMES("runs")},
};

int routes_series_register(http_server *s, api_ctx *ctx, sked_err *err) {
        return api_route_table(s, routes, sizeof routes / sizeof routes[0], ctx, err);
}
