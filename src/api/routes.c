/* routes: request parsing and replies; the work is the engine's and the store's. */
#include "api/routes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/views.h"
#include "base/strbuf.h"
#include "sched/tz.h"

#define DEFAULT_LIMIT 100
#define MAX_LIMIT 1000
#define CALENDAR_MAX_SPAN (62 * 86400 * SKED_USEC) /* a calendar request covers at most ~2 months */
#define CALENDAR_MAX_SERIES 100

static unsigned char feed_hash[AUTH_HASH_LEN];
static bool have_feed_hash;

static int status_of(int r) {
        switch (r) {
        case -ENOENT:
                return 404;
        case -ESTALE:
                return 412;
        case -EEXIST:
                return 409;
        case -E2BIG:
                return 413;
        case -EINVAL:
        case -ERANGE:
        case -EDOM:
                return 400;
        default:
                return 500;
        }
}

static int reply_err(http_req *req, int r, const sked_err *err) {
        const char *msg = err->msg[0] ? err->msg : strerror(-r);
        http_reply_problem(req, status_of(r), err->field[0] ? err->field : NULL, "%s", msg);
        return 0;
}

static int get_store(engine *e, http_req *req, store **ret) {
        sked_err err = {0};
        int r = engine_thread_store(e, ret, &err);
        if (r < 0)
                http_reply_problem(req, 503, NULL, "store unavailable: %s", err.msg);
        return r;
}

/* ---- writes: each goes through the loop (engine_write), in its own savepoint of
 * a turn's transaction; the reply leaves once that turn committed.  The *_apply
 * functions run on the loop thread with its connection: they only call the
 * engine and fill their context; the reply is built here, on the HTTP thread. */

/* A write refused because the loop's queue is full, or the engine stops: 503. */
static int reply_write_err(http_req *req, int r, const sked_err *err) {
        if (r == -EBUSY || r == -ESHUTDOWN) {
                http_add_header(req, "Retry-After", "1");
                http_reply_problem(req, 503, NULL, "%s", err->msg[0] ? err->msg : strerror(-r));
                return 0;
        }
        return reply_err(req, r, err);
}

/* A write in flight: the connection is suspended (http_defer) while the loop runs
 * it, so that 4 HTTP threads keep many writes in one turn; `op` is the operation's
 * context (copied here), which *_apply fills and `ok` replies from. */
typedef struct write_job {
        engine *e;
        http_req *req;
        engine_write_fn fn;
        int (*ok)(http_req *req, void *op);
        void (*clear)(void *op); /* frees op's outputs after a failure */
        int result;
        sked_err err;
        _Alignas(max_align_t) unsigned char op[];
} write_job;

/* on the loop thread, after the turn: only wakes the connection */
static void job_done(void *ud, int result, json_t *reply, const sked_err *err) {
        write_job *job = ud;
        json_decref(reply); /* the ops fill their context instead */
        job->result = result;
        if (result < 0 && err)
                job->err = *err;
        http_resume(job->req);
}

static void job_start(http_req *req, void *ud) {
        write_job *job = ud;
        job->req = req;
        engine_write_async(job->e, job->fn, job->op, job_done, job);
}

static int job_reply(http_req *req, void *ud) {
        write_job *job = ud;
        int r = 0;
        if (job->result < 0) {
                job->clear(job->op);
                reply_write_err(req, job->result, &job->err);
        } else {
                r = job->ok(req, job->op);
        }
        free(job);
        return r;
}

/* Runs fn(op) through the loop and replies with ok(op) once its turn committed. */
static int write_through_loop(http_req *req, engine *e, engine_write_fn fn, const void *op, size_t size,
                              int (*ok)(http_req *, void *), void (*clear)(void *)) {
        write_job *job = calloc(1, sizeof *job + size);
        if (!job) {
                http_reply_problem(req, 503, NULL, "out of memory");
                return 0;
        }
        *job = (write_job){.e = e, .fn = fn, .ok = ok, .clear = clear};
        memcpy(job->op, op, size);
        http_defer(req, job_start, job_reply, job);
        return 0;
}

/* Parses an integer query argument (or path parameter); replies 400 on junk. */
static int int_arg(http_req *req, const char *name, const char *v, int64_t def, int64_t min, int64_t max,
                   int64_t *ret) {
        if (!v || !*v) {
                *ret = def;
                return 0;
        }
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno || *end || n < min || n > max) {
                http_reply_problem(req, 400, name, "%s: \"%s\": expected an integer from %lld to %lld", name, v,
                                   (long long) min, (long long) max);
                return -EINVAL;
        }
        *ret = n;
        return 0;
}

static int id_param(http_req *req, int64_t *ret) {
        return int_arg(req, "id", http_param(req, "id"), 0, 1, INT64_MAX, ret);
}

static int instant_arg(http_req *req, const char *name, sked_time def, sked_time *ret) {
        const char *v = http_query(req, name);
        if (!v || !*v) {
                *ret = def;
                return 0;
        }
        if (time_parse_utc(v, ret) < 0) {
                http_reply_problem(req, 400, name, "%s: \"%s\": expected a UTC instant YYYY-MM-DDTHH:MM:SSZ", name, v);
                return -EINVAL;
        }
        return 0;
}

static void set_etag(http_req *req, int64_t version) {
        char tag[32];
        snprintf(tag, sizeof tag, "\"%lld\"", (long long) version);
        http_add_header(req, "ETag", tag);
}

/* If-Match: "N" (or N, or W/"N") -> N; 0 when absent.  -1 when unusable. */
static int64_t if_match(http_req *req) {
        const char *v = http_header(req, "If-Match");
        if (!v || !*v)
                return 0;
        if (!strncmp(v, "W/", 2))
                v += 2;
        if (*v == '"')
                v++;
        char *end;
        long long n = strtoll(v, &end, 10);
        if (n <= 0 || (*end && *end != '"'))
                return -1;
        return n;
}

static bool bool_query(http_req *req, const char *name) {
        const char *v = http_query(req, name);
        return v && (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes"));
}

/* ---- health ---- */

static int h_healthz(http_req *req, void *ud) {
        engine *e = ud;
        store *st;
        if (get_store(e, req, &st) < 0)
                return 0;
        json_t *poller = engine_poller_status(e, st);
        bool ok = json_is_true(json_object_get(poller, "healthy"));
        http_reply_json(req, ok ? 200 : 503,
                        json_pack("{s:s, s:o}", "status", ok ? "ok" : "degraded", "poller", poller));
        return 0;
}

/* ---- types ---- */

static int h_types_list(http_req *req, void *ud) {
        engine *e = ud;
        store *st;
        json_t *items = NULL;
        sked_err err = {0};
        if (get_store(e, req, &st) < 0)
                return 0;
        int r = store_type_list(st, &items, &err);
        if (r < 0)
                return reply_err(req, r, &err);
        if (!bool_query(req, "all")) {
                /* a disabled feature's types are hidden from listings */
                json_t *shown = json_array();
                size_t i;
                json_t *t;
                json_array_foreach(items, i, t) {
                        if (!engine_type_hidden(e, json_string_value(json_object_get(t, "name"))))
                                json_array_append(shown, t);
                }
                json_decref(items);
                items = shown;
        }
        http_reply_json(req, 200, json_pack("{s:o}", "items", items));
        return 0;
}

static int h_type_get(http_req *req, void *ud) {
        engine *e = ud;
        json_t *def = engine_type_json(e, http_param(req, "name"));
        if (!def) {
                http_reply_problem(req, 404, "name", "\"%s\": no such process type", http_param(req, "name"));
                return 0;
        }
        http_reply_json(req, 200, def);
        return 0;
}

static int h_type_register(http_req *req, void *ud) {
        engine *e = ud;
        json_t *body = http_body_json(req), *def = NULL;
        if (!json_is_object(body)) {
                http_reply_problem(req, 400, "body", "body: expected a type definition (JSON object)");
                return 0;
        }
        sked_err err = {0};
        int r = engine_type_register(e, body, NULL, NULL, &def, &err); /* through the loop */
        if (r < 0)
                return reply_write_err(req, r, &err);
        char loc[200];
        snprintf(loc, sizeof loc, "/api/v1/types/%s", json_string_value(json_object_get(def, "name")));
        http_add_header(req, "Location", loc);
        http_reply_json(req, 201, def);
        return 0;
}

/* ---- series ---- */

static int reply_series(http_req *req, int status, series_row *row) {
        set_etag(req, row->version);
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
        engine *e = ud;
        store *st;
        int64_t after, limit;
        if (get_store(e, req, &st) < 0 || int_arg(req, "after", http_query(req, "after"), 0, 0, INT64_MAX, &after) < 0 ||
            int_arg(req, "limit", http_query(req, "limit"), DEFAULT_LIMIT, 1, MAX_LIMIT, &limit) < 0)
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
        int r = store_series_list(st, type, after, (int) limit, bool_query(req, "all"), &rows, &n, &err);
        if (r < 0)
                return reply_err(req, r, &err);
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
        engine *e = ud;
        json_t *body = http_body_json(req);
        if (!json_is_array(body) && !json_is_object(body)) {
                http_reply_problem(req, 400, "body", "body: expected a series (JSON object) or an array of them");
                return 0;
        }
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
        if (r < 0)
                return reply_err(req, r, &err);
        return write_through_loop(req, e, series_insert_apply, &c, sizeof c, insert_ok, insert_clear);
}

static int h_series_get(http_req *req, void *ud) {
        engine *e = ud;
        store *st;
        int64_t id;
        if (get_store(e, req, &st) < 0 || id_param(req, &id) < 0)
                return 0;
        series_row row = {0};
        sked_err err = {0};
        int r = store_series_get(st, id, &row, &err);
        if (r < 0)
                return reply_err(req, r, &err);
        return reply_series(req, 200, &row);
}

/* The series writes that read and change one series, in the loop. */
typedef struct series_ctx {
        enum { SW_PATCH, SW_DELETE, SW_ENABLE, SW_PAUSE, SW_TRIGGER } op;
        int64_t id, expected;
        json_t *body;     /* borrowed (the request's) */
        const char *note;
        bool purge;
        series_row row;   /* out: PATCH, pause, resume */
        json_t *dropped;  /* out: PATCH */
        run_row run;      /* out: trigger */
} series_ctx;

static int series_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        series_ctx *c = ctx;
        (void) ret_reply;
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
                set_etag(req, c->row.version);
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

static int series_write(http_req *req, engine *e, const series_ctx *c) {
        return write_through_loop(req, e, series_apply, c, sizeof *c, series_ok, series_clear);
}

static int h_series_patch(http_req *req, void *ud) {
        engine *e = ud;
        int64_t id;
        if (id_param(req, &id) < 0)
                return 0;
        json_t *body = http_body_json(req);
        if (!json_is_object(body)) {
                http_reply_problem(req, 400, "body", "body: expected the fields to change (JSON object)");
                return 0;
        }
        int64_t expected = if_match(req);
        if (expected < 0) {
                http_reply_problem(req, 400, "If-Match", "If-Match: expected the series' ETag, like \"3\"");
                return 0;
        }
        series_ctx c = {.op = SW_PATCH, .id = id, .expected = expected, .body = body};
        return series_write(req, e, &c);
}

static int h_series_delete(http_req *req, void *ud) {
        engine *e = ud;
        int64_t id;
        if (id_param(req, &id) < 0)
                return 0;
        series_ctx c = {.op = SW_DELETE, .id = id, .purge = bool_query(req, "purge")};
        return series_write(req, e, &c);
}

static int set_enabled(http_req *req, engine *e, bool enabled) {
        int64_t id;
        if (id_param(req, &id) < 0)
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
        return set_enabled(req, ud, false);
}

static int h_series_resume(http_req *req, void *ud) {
        return set_enabled(req, ud, true);
}

static int h_series_trigger(http_req *req, void *ud) {
        engine *e = ud;
        int64_t id;
        if (id_param(req, &id) < 0)
                return 0;
        json_t *body = http_body_json(req);
        if (body && !json_is_object(body)) {
                http_reply_problem(req, 400, "body", "body: expected {\"params\": {...}} or nothing");
                return 0;
        }
        series_ctx c = {.op = SW_TRIGGER, .id = id, .body = body};
        return series_write(req, e, &c);
}

static int h_series_occurrences(http_req *req, void *ud) {
        engine *e = ud;
        store *st;
        int64_t id, limit;
        sked_time now = engine_now(e), from, to;
        if (get_store(e, req, &st) < 0 || id_param(req, &id) < 0 ||
            instant_arg(req, "from", now - 86400 * SKED_USEC, &from) < 0 ||
            instant_arg(req, "to", from + 7 * 86400 * SKED_USEC, &to) < 0 ||
            int_arg(req, "limit", http_query(req, "limit"), 1000, 1, 10000, &limit) < 0)
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
                return reply_err(req, r, &err);
        json_t *out = json_pack("{s:o}", "items", items);
        view_set_instant(out, "from", from);
        view_set_instant(out, "to", to);
        /* a cut list says so, and where the next request starts (microseconds kept:
         * nominal instants of an interval rule need not be whole seconds) */
        json_object_set_new(out, "truncated", json_boolean(next_from != 0));
        if (next_from) {
                char at[40];
                time_format_utc(next_from, at, sizeof at);
                if (next_from % SKED_USEC)
                        snprintf(at + 19, sizeof at - 19, ".%06lldZ",
                                 (long long) (next_from - time_seconds(next_from) * SKED_USEC));
                json_object_set_new(out, "next_from", json_string(at));
        }
        http_reply_json(req, 200, out);
        return 0;
}

static int h_series_results(http_req *req, void *ud) {
        engine *e = ud;
        store *st;
        int64_t id, runs;
        if (get_store(e, req, &st) < 0 || id_param(req, &id) < 0 ||
            int_arg(req, "runs", http_query(req, "runs"), 1, 1, 100, &runs) < 0)
                return 0;
        series_row row = {0};
        sked_err err = {0};
        json_t *items = NULL;
        int r = store_series_get(st, id, &row, &err);
        series_row_clear(&row);
        if (r == 0)
                r = store_series_recent_results(st, id, (int) runs, &items, &err);
        if (r < 0)
                return reply_err(req, r, &err);
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

/* ---- runs ---- */

static int h_runs_list(http_req *req, void *ud) {
        engine *e = ud;
        store *st;
        int64_t series, before, limit;
        if (get_store(e, req, &st) < 0 ||
            int_arg(req, "series", http_query(req, "series"), 0, 0, INT64_MAX, &series) < 0 ||
            int_arg(req, "before", http_query(req, "before"), 0, 0, INT64_MAX, &before) < 0 ||
            int_arg(req, "limit", http_query(req, "limit"), DEFAULT_LIMIT, 1, MAX_LIMIT, &limit) < 0)
                return 0;
        const char *state = http_query(req, "state");
        static const char *const states[] = {"queued", "running", "succeeded", "failed", "lost", "cancelled", NULL};
        bool known = !state;
        for (size_t i = 0; states[i] && !known; i++)
                known = !strcmp(state, states[i]);
        if (!known) {
                http_reply_problem(req, 400, "state",
                                   "state: \"%s\": expected queued, running, succeeded, failed, lost or cancelled", state);
                return 0;
        }
        run_filter f = {.series_id = series, .type = http_query(req, "type"), .state = http_query(req, "state"),
                        .before_id = before, .limit = (int) limit};
        run_row *rows = NULL;
        size_t n = 0;
        sked_err err = {0};
        int r = store_runs_list(st, &f, &rows, &n, &err);
        if (r < 0)
                return reply_err(req, r, &err);
        if (n == 0 && !before) {
                /* nothing, and nothing could be: say the filter names nothing (a deleted
                 * series' runs are history and still listed, so only when empty) */
                series_row row = {0};
                bool no_series = series && store_series_get(st, series, &row, &err) == -ENOENT;
                series_row_clear(&row);
                json_t *def = f.type && *f.type && !no_series ? engine_type_json(e, f.type) : NULL;
                bool no_type = f.type && *f.type && !no_series && !def;
                json_decref(def);
                if (no_series || no_type) {
                        run_rows_free(rows, n);
                        if (no_series)
                                http_reply_problem(req, 404, "series", "series: %lld: no such series",
                                                   (long long) series);
                        else
                                http_reply_problem(req, 404, "type", "type: \"%s\": no such type", f.type);
                        return 0;
                }
        }
        json_t *items = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(items, view_run(&rows[i]));
        json_t *out = json_pack("{s:o}", "items", items);
        json_object_set_new(out, "next", n == (size_t) limit ? json_integer(rows[n - 1].id) : json_null());
        run_rows_free(rows, n);
        http_reply_json(req, 200, out);
        return 0;
}

/* POST /api/v1/runs {"type", "params": {...} | "params_list": [{...}, ...], "count": N}:
 * one-off runs outside any series, queued in one transaction. */
static int h_runs_enqueue(http_req *req, void *ud) {
        engine *e = ud;
        store *st;
        if (get_store(e, req, &st) < 0)
                return 0;
        json_t *body = http_body_json(req);
        const char *key;
        json_t *v;
        json_object_foreach(body, key, v) {
                if (strcmp(key, "type") && strcmp(key, "params") && strcmp(key, "params_list") && strcmp(key, "count")) {
                        http_reply_problem(req, 400, key, "%s: unknown field (expected type, params, params_list, count)",
                                           key);
                        return 0;
                }
        }
        const char *type = json_string_value(json_object_get(body, "type"));
        if (!json_is_object(body) || !type) {
                http_reply_problem(req, 400, "type", "type: required (the process type to run)");
                return 0;
        }
        json_t *list = json_object_get(body, "params_list"), *params = json_object_get(body, "params");
        json_t *count = json_object_get(body, "count");
        if (list && (params || count)) {
                http_reply_problem(req, 400, "params_list", "params_list: give it alone, or params with count");
                return 0;
        }
        if (list && (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > 10000)) {
                http_reply_problem(req, 400, "params_list", "params_list: expected an array of 1 to 10000 objects");
                return 0;
        }
        if (count && (!json_is_integer(count) || json_integer_value(count) < 1 || json_integer_value(count) > 10000)) {
                http_reply_problem(req, 400, "count", "count: expected an integer from 1 to 10000");
                return 0;
        }
        if (params && !json_is_object(params)) {
                http_reply_problem(req, 400, "params", "params: expected a JSON object");
                return 0;
        }
        size_t n = list ? json_array_size(list) : count ? (size_t) json_integer_value(count) : 1;
        char **texts = calloc(n, sizeof *texts);
        char *one = params ? json_dumps(params, JSON_COMPACT) : NULL;
        for (size_t i = 0; i < n; i++)
                texts[i] = list ? json_dumps(json_array_get(list, i), JSON_COMPACT | JSON_ENCODE_ANY) : one;
        int64_t *idv = calloc(n, sizeof *idv);
        sked_err err = {0};
        int r = idv ? engine_enqueue(e, st, type, (const char *const *) texts, n, idv, &err) /* through the loop */
                    : err_set(&err, -ENOMEM, "out of memory");
        for (size_t i = 0; list && i < n; i++)
                free(texts[i]);
        free(texts);
        free(one);
        if (r < 0) {
                free(idv);
                return reply_write_err(req, r, &err);
        }
        json_t *ids = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(ids, json_integer(idv[i]));
        free(idv);
        http_reply_json(req, 202, json_pack("{s:o, s:I}", "ids", ids, "count", (json_int_t) n));
        return 0;
}

static int h_run_get(http_req *req, void *ud) {
        engine *e = ud;
        store *st;
        int64_t id;
        if (get_store(e, req, &st) < 0 || id_param(req, &id) < 0)
                return 0;
        run_row run = {0};
        sked_err err = {0};
        int r = store_run_get(st, id, &run, &err);
        if (r < 0)
                return reply_err(req, r, &err);
        http_reply_json(req, 200, view_run(&run));
        run_row_clear(&run);
        return 0;
}

static int run_log(http_req *req, engine *e, bool results) {
        store *st;
        int64_t id, after, limit;
        if (get_store(e, req, &st) < 0 || id_param(req, &id) < 0 ||
            int_arg(req, "after", http_query(req, "after"), 0, 0, INT64_MAX, &after) < 0 ||
            int_arg(req, "limit", http_query(req, "limit"), MAX_LIMIT, 1, 10000, &limit) < 0)
                return 0;
        run_row run = {0};
        sked_err err = {0};
        json_t *items = NULL;
        int r = store_run_get(st, id, &run, &err);
        run_row_clear(&run);
        if (r == 0)
                r = results ? store_results_list(st, id, after, (int) limit, &items, &err)
                            : store_messages_list(st, id, after, (int) limit, &items, &err);
        if (r < 0)
                return reply_err(req, r, &err);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
                view_set_instant(it, "at", json_integer_value(json_object_get(it, "at")));
        }
        size_t n = json_array_size(items);
        json_t *out = json_pack("{s:o}", "items", items);
        json_object_set_new(out, "next", n == (size_t) limit
                                                 ? json_integer(json_integer_value(json_object_get(
                                                           json_array_get(items, n - 1), "seq")))
                                                 : json_null());
        http_reply_json(req, 200, out);
        return 0;
}

static int h_run_messages(http_req *req, void *ud) {
        return run_log(req, ud, false);
}

static int h_run_results(http_req *req, void *ud) {
        return run_log(req, ud, true);
}

/* ---- poller ---- */

static int h_poller_status(http_req *req, void *ud) {
        engine *e = ud;
        store *st;
        if (get_store(e, req, &st) < 0)
                return 0;
        http_reply_json(req, 200, engine_poller_status(e, st));
        return 0;
}

static int h_poller_init(http_req *req, void *ud) {
        engine *e = ud;
        int n = 0;
        sked_err err = {0};
        int r = engine_poller_init(e, &n, &err); /* through the loop */
        if (r < 0)
                return reply_write_err(req, r, &err);
        http_reply_json(req, 200, json_pack("{s:i}", "registered", n));
        return 0;
}

static int h_nodes(http_req *req, void *ud) {
        engine *e = ud;
        store *st;
        if (get_store(e, req, &st) < 0)
                return 0;
        json_t *items = NULL;
        sked_err err = {0};
        int r = store_nodes_list(st, &items, &err);
        if (r < 0)
                return reply_err(req, r, &err);
        sked_time now = engine_now(e);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
                sked_time hb = json_integer_value(json_object_get(it, "heartbeat_at"));
                json_object_set_new(it, "heartbeat_age_ms", json_integer((now - hb) / 1000));
                json_object_set_new(it, "alive", json_boolean(now - hb < 10 * SKED_USEC));
                view_set_instant(it, "heartbeat_at", hb);
                view_set_instant(it, "started_at", json_integer_value(json_object_get(it, "started_at")));
        }
        http_reply_json(req, 200, json_pack("{s:o, s:s}", "items", items, "this", engine_node(e)));
        return 0;
}

/* ---- one occurrence ---- */

/* {nominal}: a UTC instant "YYYY-MM-DDTHH:MM:SSZ" or microseconds since the epoch. */
static int nominal_param(http_req *req, sked_time *ret) {
        const char *v = http_param(req, "nominal");
        if (v && time_parse_utc(v, ret) == 0)
                return 0;
        return int_arg(req, "nominal", v, 0, INT64_MIN + 1, INT64_MAX, ret);
}

typedef struct occurrence_ctx {
        int64_t id;
        sked_time nominal;
        json_t *body; /* borrowed; NULL: reset */
        json_t *none; /* the null body stands for a missing one (owned) */
        json_t *out;  /* out: change */
} occurrence_ctx;

static int occurrence_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        occurrence_ctx *c = ctx;
        (void) ret_reply;
        return c->body ? engine_occurrence_change(e, st, c->id, c->nominal, c->body, &c->out, err)
                       : engine_occurrence_reset(e, st, c->id, c->nominal, err);
}

static int occurrence_ok(http_req *req, void *op) {
        occurrence_ctx *c = op;
        if (c->body) {
                json_decref(c->none);
                http_reply_json(req, 200, c->out);
        } else {
                http_reply_json(req, 204, NULL);
        }
        return 0;
}

static void occurrence_clear(void *op) {
        occurrence_ctx *c = op;
        json_decref(c->out);
        json_decref(c->none);
}

static int h_occurrence_change(http_req *req, void *ud) {
        engine *e = ud;
        int64_t id;
        sked_time nominal;
        if (id_param(req, &id) < 0 || nominal_param(req, &nominal) < 0)
                return 0;
        json_t *body = http_body_json(req);
        json_t *none = body ? NULL : json_null(); /* the engine answers a missing body */
        occurrence_ctx c = {.id = id, .nominal = nominal, .body = body ? body : none, .none = none};
        return write_through_loop(req, e, occurrence_apply, &c, sizeof c, occurrence_ok, occurrence_clear);
}

static int h_occurrence_reset(http_req *req, void *ud) {
        engine *e = ud;
        int64_t id;
        sked_time nominal;
        if (id_param(req, &id) < 0 || nominal_param(req, &nominal) < 0)
                return 0;
        occurrence_ctx c = {.id = id, .nominal = nominal};
        return write_through_loop(req, e, occurrence_apply, &c, sizeof c, occurrence_ok, occurrence_clear);
}

/* ---- calendar ---- */

/* The range of a calendar request: ?from&to (UTC), or ?week=DATE (the Monday-to-
 * Monday week containing DATE in the viewer's zone), by default this week. */
static int calendar_range(http_req *req, engine *e, const tz_zone *z, sked_time *from, sked_time *to) {
        const char *week = http_query(req, "week");
        if (http_query(req, "from") || http_query(req, "to")) {
                if (instant_arg(req, "from", engine_now(e), from) < 0 ||
                    instant_arg(req, "to", *from + 7 * 86400 * SKED_USEC, to) < 0)
                        return -EINVAL;
        } else {
                int64_t day;
                if (week && *week) {
                        civil c;
                        char buf[32];
                        snprintf(buf, sizeof buf, "%.10sT00:00:00", week);
                        if (strlen(week) != 10 || civil_parse(buf, false, false, &c) < 0) {
                                http_reply_problem(req, 400, "week", "week: \"%s\": expected a date YYYY-MM-DD", week);
                                return -EINVAL;
                        }
                        day = civil_days_from_date(c.year, c.month, c.day);
                } else {
                        int64_t local;
                        tz_local(z, engine_now(e), &local, NULL);
                        day = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
                }
                int64_t monday = day - ((civil_weekday(day) + 6) % 7);
                sked_time t[2];
                /* midnight may not exist (a DST gap at 00:00): the shift policy gives the
                 * first instant of the day */
                tz_resolve(z, monday * 86400, TZ_GAP_SHIFT, TZ_REPEAT_FIRST, t);
                *from = t[0];
                tz_resolve(z, (monday + 7) * 86400, TZ_GAP_SHIFT, TZ_REPEAT_FIRST, t);
                *to = t[0];
        }
        if (*to <= *from || *to - *from > CALENDAR_MAX_SPAN) {
                http_reply_problem(req, 400, "to", "to: must be after from, and at most 62 days later");
                return -EINVAL;
        }
        return 0;
}

/* ?series=1,2,3 */
static int series_ids(http_req *req, int64_t *ids, size_t *n) {
        const char *v = http_query(req, "series");
        *n = 0;
        if (!v || !*v)
                return 0;
        for (const char *p = v; *p;) {
                char *end;
                errno = 0;
                long long id = strtoll(p, &end, 10);
                if (errno || end == p || id < 1 || (*end && *end != ',') || *n == CALENDAR_MAX_SERIES) {
                        http_reply_problem(req, 400, "series",
                                           "series: \"%.60s\": expected up to %d series ids separated by commas", v,
                                           CALENDAR_MAX_SERIES);
                        return -EINVAL;
                }
                ids[(*n)++] = id;
                p = *end ? end + 1 : end;
        }
        return 0;
}

static int h_calendar(http_req *req, void *ud) {
        engine *e = ud;
        store *st;
        const char *tzname = http_query(req, "tz");
        const tz_zone *z;
        sked_err err = {0};
        int64_t limit, ids[CALENDAR_MAX_SERIES];
        size_t n;
        if (tz_load(tzname && *tzname ? tzname : "UTC", &z, &err) < 0) {
                http_reply_problem(req, 400, "tz", "tz: %s", err.msg);
                return 0;
        }
        calendar_query q = {.tz = tz_name(z)};
        if (get_store(e, req, &st) < 0 || calendar_range(req, e, z, &q.from, &q.to) < 0 ||
            series_ids(req, ids, &n) < 0 ||
            int_arg(req, "limit", http_query(req, "limit"), 100000, 1, 1000000, &limit) < 0)
                return 0;
        q.series = n ? ids : NULL;
        q.nseries = n;
        q.limit = (int) limit;
        char *text = NULL;
        int r = engine_calendar(e, st, &q, &text, &err);
        if (r < 0)
                return reply_err(req, r, &err);
        http_reply_text(req, 200, "application/json", text, strlen(text));
        free(text);
        return 0;
}

static int h_calendar_ics(http_req *req, void *ud) {
        engine *e = ud;
        store *st;
        /* the admin token, or the read-only feed token as ?token= (calendar programs
         * subscribe by URL and send no headers) */
        const char *token = http_query(req, "token");
        if (!http_authorized(req) && !(have_feed_hash && token && auth_token_matches(token, feed_hash))) {
                http_add_header(req, "WWW-Authenticate", "Bearer realm=\"sked\"");
                http_reply_problem(req, 401, "token", "the calendar feed needs ?token=<feed token> (DATA_DIR/feed.token) "
                                                      "or the admin token");
                return 0;
        }
        int64_t series = 0;
        sked_time now = engine_now(e), from, to;
        if (get_store(e, req, &st) < 0 ||
            int_arg(req, "series", http_query(req, "series"), 0, 0, INT64_MAX, &series) < 0 ||
            instant_arg(req, "from", now - 30 * 86400 * SKED_USEC, &from) < 0 ||
            instant_arg(req, "to", from + 120 * 86400 * SKED_USEC, &to) < 0)
                return 0;
        if (to <= from || to - from > 400 * 86400 * SKED_USEC) {
                http_reply_problem(req, 400, "to", "to: must be after from, and at most 400 days later");
                return 0;
        }
        char *text = NULL;
        sked_err err = {0};
        int r = engine_calendar_ics(e, st, series, from, to, &text, &err);
        if (r < 0)
                return reply_err(req, r, &err);
        http_reply_text(req, 200, "text/calendar; charset=utf-8", text, strlen(text));
        free(text);
        return 0;
}

/* ---- features ---- */

static int h_features(http_req *req, void *ud) {
        engine *e = ud;
        store *st;
        if (get_store(e, req, &st) < 0)
                return 0;
        json_t *items = NULL;
        sked_err err = {0};
        int r = store_features_list(st, &items, &err);
        if (r < 0)
                return reply_err(req, r, &err);
        size_t i;
        json_t *f;
        json_array_foreach(items, i, f) {
                sked_time t = json_integer_value(json_object_get(f, "changed_at"));
                if (t)
                        view_set_instant(f, "changed_at", t);
                else
                        json_object_set_new(f, "changed_at", json_null());
        }
        http_reply_json(req, 200, json_pack("{s:o}", "items", items));
        return 0;
}

typedef struct feature_ctx {
        const char *name, *note;
        bool enabled;
        json_t *out;
} feature_ctx;

/* A feature exists through the types that declare it: switching a name no type
 * declares would do nothing (a typo).  Enabling one left disabled is allowed, so a
 * switch can always be undone.  Read in the write's own savepoint: a type registered
 * in the same turn counts. */
static int feature_known(store *st, const char *name, bool enabled, sked_err *err) {
        json_t *list = NULL, *f, *found = NULL;
        size_t i;
        int r = store_features_list(st, &list, err);
        if (r < 0)
                return r;
        json_array_foreach(list, i, f) {
                if (!strcmp(json_string_value(json_object_get(f, "name")), name))
                        found = f;
        }
        bool known = found && (json_integer_value(json_object_get(found, "types")) > 0 ||
                               (enabled && !json_is_true(json_object_get(found, "enabled"))));
        json_decref(list);
        if (!known)
                return err_field(err, -ENOENT, "feature",
                                 "feature: \"%s\": no registered type declares this feature (see sked "
                                 "features, and feature: in a type's manifest)",
                                 name);
        return 0;
}

static int feature_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        feature_ctx *c = ctx;
        (void) ret_reply;
        int r = ptype_name_valid(c->name) ? feature_known(st, c->name, c->enabled, err) : 0;
        if (r < 0)
                return r;
        return engine_feature_set(e, st, c->name, c->enabled, c->note, &c->out, err);
}

static int feature_ok(http_req *req, void *op) {
        feature_ctx *c = op;
        sked_time t = json_integer_value(json_object_get(c->out, "changed_at"));
        view_set_instant(c->out, "changed_at", t);
        http_reply_json(req, 200, c->out);
        return 0;
}

static void feature_clear(void *op) {
        feature_ctx *c = op;
        json_decref(c->out);
}

static int set_feature(http_req *req, engine *e, bool enabled) {
        json_t *body = http_body_json(req), *note = json_object_get(body, "note");
        if (note && !json_is_string(note) && !json_is_null(note)) {
                http_reply_problem(req, 400, "note", "note: expected a string");
                return 0;
        }
        feature_ctx c = {.name = http_param(req, "name"), .note = json_string_value(note), .enabled = enabled};
        return write_through_loop(req, e, feature_apply, &c, sizeof c, feature_ok, feature_clear);
}

static int h_feature_enable(http_req *req, void *ud) {
        return set_feature(req, ud, true);
}

static int h_feature_disable(http_req *req, void *ud) {
        return set_feature(req, ud, false);
}

int routes_register(http_server *s, engine *e, const unsigned char *fh, sked_err *err) {
        if (fh) {
                memcpy(feed_hash, fh, sizeof feed_hash);
                have_feed_hash = true;
        }
        static const struct {
                const char *method, *pattern;
                unsigned flags;
                http_handler_fn fn;
        } table[] = {
                {"GET", "/healthz", HTTP_PUBLIC, h_healthz},
                {"GET", "/api/v1/types", 0, h_types_list},
                {"POST", "/api/v1/types", 0, h_type_register},
                {"GET", "/api/v1/types/{name}", 0, h_type_get},
                {"GET", "/api/v1/series", 0, h_series_list},
                {"POST", "/api/v1/series", 0, h_series_create},
                {"GET", "/api/v1/series/{id}", 0, h_series_get},
                {"PATCH", "/api/v1/series/{id}", 0, h_series_patch},
                {"DELETE", "/api/v1/series/{id}", 0, h_series_delete},
                {"POST", "/api/v1/series/{id}/pause", 0, h_series_pause},
                {"POST", "/api/v1/series/{id}/resume", 0, h_series_resume},
                {"POST", "/api/v1/series/{id}/trigger", 0, h_series_trigger},
                {"GET", "/api/v1/series/{id}/occurrences", 0, h_series_occurrences},
                {"PATCH", "/api/v1/series/{id}/occurrences/{nominal}", 0, h_occurrence_change},
                {"DELETE", "/api/v1/series/{id}/occurrences/{nominal}", 0, h_occurrence_reset},
                {"GET", "/api/v1/calendar", 0, h_calendar},
                {"GET", "/api/v1/calendar.ics", HTTP_PUBLIC, h_calendar_ics},
                {"GET", "/api/v1/features", 0, h_features},
                {"POST", "/api/v1/features/{name}/enable", 0, h_feature_enable},
                {"POST", "/api/v1/features/{name}/disable", 0, h_feature_disable},
                {"GET", "/api/v1/series/{id}/results", 0, h_series_results},
                {"GET", "/api/v1/runs", 0, h_runs_list},
                {"POST", "/api/v1/runs", 0, h_runs_enqueue},
                {"GET", "/api/v1/runs/{id}", 0, h_run_get},
                {"GET", "/api/v1/runs/{id}/messages", 0, h_run_messages},
                {"GET", "/api/v1/runs/{id}/results", 0, h_run_results},
                {"GET", "/api/v1/poller", 0, h_poller_status},
                {"POST", "/api/v1/poller/init", 0, h_poller_init},
                {"GET", "/api/v1/nodes", 0, h_nodes},
        };
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
                int r = http_route(s, table[i].method, table[i].pattern, table[i].flags, table[i].fn, e);
                if (r < 0)
                        return err_set(err, r, "cannot register route %s %s", table[i].method, table[i].pattern);
        }
        return 0;
}
