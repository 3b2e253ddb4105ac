/* routes_runs: runs: list, enqueue one-off runs, get, and a run's messages and results
 * (docs/api.md "Runs"). */
#include "api/routes_runs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/views.h"

/* ---- runs ---- */

static int h_runs_list(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        store *st;
        int64_t series, before, limit;
        if (api_get_store(e, req, &st) < 0 ||
            api_int_arg(req, "series", http_query(req, "series"), 0, 0, INT64_MAX, &series) < 0 ||
            api_int_arg(req, "before", http_query(req, "before"), 0, 0, INT64_MAX, &before) < 0 ||
            api_int_arg(req, "limit", http_query(req, "limit"), API_DEFAULT_LIMIT, 1, API_MAX_LIMIT, &limit) < 0)
                return 0;
        const char *state = http_query(req, "state");
        static const char *const states[] = {"queued", "running", "succeeded", "failed", "lost", "cancelled", NULL};
        bool known = !state;
        for (size_t i = 0; states[i] && !known; i++)
                known = !strcmp(state, states[i]);
        if (!known) {
                http_reply_problem(req, 400, "state",
                                   "state: \"%s\": expected queued, running, succeeded, failed, lost or cancelled",
                                   state);
                return 0;
        }
        run_filter f = {.series_id = series,
                        .type = http_query(req, "type"),
                        .state = http_query(req, "state"),
                        .before_id = before,
                        .limit = (int) limit};
        run_row *rows = NULL;
        size_t n = 0;
        sked_err err = {0};
        int r = store_runs_list(st, &f, &rows, &n, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
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
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        store *st;
        if (api_get_store(e, req, &st) < 0)
                return 0;
        json_t *body = http_body_json(req); /* an object of the route's members */
        const char *type = json_string_value(json_object_get(body, "type"));
        if (!type) {
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
        for (size_t i = 0; i < json_array_size(list); i++)
                if (!json_is_object(json_array_get(list, i))) {
                        char f[40];
                        snprintf(f, sizeof f, "params_list[%zu]", i);
                        http_reply_problem(req, 400, f, "%s: expected a JSON object", f);
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
                return api_reply_write_err(req, r, &err);
        }
        api_audit_after(req, e);
        json_t *ids = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(ids, json_integer(idv[i]));
        free(idv);
        http_reply_json(req, 202, json_pack("{s:o, s:I}", "ids", ids, "count", (json_int_t) n));
        return 0;
}

static int h_run_get(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        store *st;
        int64_t id;
        if (api_get_store(e, req, &st) < 0 || api_id_param(req, &id) < 0)
                return 0;
        run_row run = {0};
        sked_err err = {0};
        int r = store_run_get(st, id, &run, &err);
        int64_t *reruns = NULL;
        size_t nreruns = 0;
        if (r == 0)
                r = store_run_reruns(st, id, 1000, &reruns, &nreruns, &err);
        if (r < 0) {
                run_row_clear(&run);
                return api_reply_err(req, r, &err);
        }
        json_t *out = view_run(&run), *list = json_array();
        for (size_t i = 0; i < nreruns; i++)
                json_array_append_new(list, json_integer(reruns[i]));
        json_object_set_new(out, "reruns", list);
        free(reruns);
        http_reply_json(req, 200, out);
        run_row_clear(&run);
        return 0;
}

/* ---- run control: cancel, rerun, retry now (engine/runctl.c, through the loop) ---- */

typedef struct runctl_op {
        enum { RC_CANCEL, RC_RERUN, RC_RETRY } verb;
        int64_t id;
        char by[64];
        char limit[65]; /* an operator's name (api_owner_limit); "" for an admin */
        json_t *body;   /* borrowed (the request's) */
        run_row run;    /* out */
} runctl_op;

/* An operator steers the runs of the series they may change (their own, or granted);
 * runs of no series (enqueued, a workflow's) have no owner: any operator's. */
static int runctl_owned(store *st, const runctl_op *o, sked_err *err) {
        if (!o->limit[0])
                return 0;
        run_row cur = {0};
        int r = store_run_get(st, o->id, &cur, err);
        int64_t series = cur.series_id;
        run_row_clear(&cur);
        if (r == 0 && series && (r = api_series_owned(st, series, o->limit, err)) == -EACCES)
                r = err_field(err, -EACCES, "id",
                              "run %lld is of series %lld, which is not yours: operators steer the runs of the "
                              "series they own, and of the types and features an admin granted them; ask an admin",
                              (long long) o->id, (long long) series);
        return r;
}

static int runctl_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        runctl_op *o = ctx;
        (void) ret_reply;
        int r = runctl_owned(st, o, err);
        if (r < 0)
                return r;
        switch (o->verb) {
        case RC_CANCEL:
                return engine_run_cancel(e, st, o->id, o->by, json_string_value(json_object_get(o->body, "reason")),
                                         &o->run, err);
        case RC_RERUN:
                return engine_run_rerun(e, st, o->id, json_object_get(o->body, "params"), &o->run, err);
        case RC_RETRY:
                return engine_run_retry_now(e, st, o->id, &o->run, err);
        }
        return err_set(err, -EINVAL, "unknown run write");
}

static void runctl_clear(void *op) {
        runctl_op *o = op;
        run_row_clear(&o->run);
}

static int runctl_ok(http_req *req, void *op) {
        runctl_op *o = op;
        if (o->verb == RC_RERUN) {
                char loc[64];
                snprintf(loc, sizeof loc, "/api/v1/runs/%lld", (long long) o->run.id);
                http_add_header(req, "Location", loc);
        }
        /* a rerun is a new run (201); a cancel of a running run is asked, not done (202) */
        int status = o->verb == RC_RERUN ? 201 : o->verb == RC_CANCEL && !strcmp(o->run.state, "running") ? 202 : 200;
        http_reply_json(req, status, view_run(&o->run));
        run_row_clear(&o->run);
        return 0;
}

static int runctl(http_req *req, engine *e, int verb) {
        int64_t id;
        if (api_id_param(req, &id) < 0)
                return 0;
        runctl_op o = {.verb = verb, .id = id, .body = http_body_json(req)};
        json_t *reason = json_object_get(o.body, "reason"), *params = json_object_get(o.body, "params");
        if (reason && !json_is_null(reason) && (!json_is_string(reason) || strlen(json_string_value(reason)) > 1000)) {
                http_reply_problem(req, 400, "reason", "reason: expected a string of at most 1000 bytes");
                return 0;
        }
        if (params && !json_is_null(params) && !json_is_object(params)) {
                http_reply_problem(req, 400, "params", "params: expected a JSON object");
                return 0;
        }
        /* who: the user of the credentials (a token's or a session's) */
        const http_principal *p = http_principal_of(req);
        snprintf(o.by, sizeof o.by, "%s", p && p->name[0] ? p->name : "-");
        const char *limit = api_owner_limit(req);
        snprintf(o.limit, sizeof o.limit, "%s", limit ? limit : "");
        return api_write_through_loop(req, e, runctl_apply, 0, &o, sizeof o, runctl_ok, runctl_clear);
}

static int h_run_cancel(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        return runctl(req, ctx->e, RC_CANCEL);
}

static int h_run_rerun(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        return runctl(req, ctx->e, RC_RERUN);
}

static int h_run_retry(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        return runctl(req, ctx->e, RC_RETRY);
}

static int run_log(http_req *req, engine *e, bool results) {
        store *st;
        int64_t id, after, limit;
        if (api_get_store(e, req, &st) < 0 || api_id_param(req, &id) < 0 ||
            api_int_arg(req, "after", http_query(req, "after"), 0, 0, INT64_MAX, &after) < 0 ||
            api_int_arg(req, "limit", http_query(req, "limit"), API_MAX_LIMIT, 1, 10000, &limit) < 0)
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
                return api_reply_err(req, r, &err);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
                view_set_instant(it, "at", json_integer_value(json_object_get(it, "at")));
        }
        size_t n = json_array_size(items);
        json_t *out = json_pack("{s:o}", "items", items);
        json_object_set_new(out, "next",
                            n == (size_t) limit ? json_integer(json_integer_value(
                                                          json_object_get(json_array_get(items, n - 1), "seq")))
                                                : json_null());
        http_reply_json(req, 200, out);
        return 0;
}

static int h_run_messages(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        return run_log(req, ctx->e, false);
}

static int h_run_results(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        return run_log(req, ctx->e, true);
}

static const http_route_def routes[] = {
        {"GET", "/api/v1/runs", 0, h_runs_list, .args = HTTP_NAMES("series", "type", "state", "before", "limit")},
        {"POST", "/api/v1/runs", HTTP_BODY, h_runs_enqueue,
         .members = HTTP_NAMES("type", "params", "params_list", "count")},
        {"GET", "/api/v1/runs/{id}", 0, h_run_get, .args = NULL},
        {"GET", "/api/v1/runs/{id}/messages", 0, h_run_messages, .args = HTTP_NAMES("after", "limit")},
        {"GET", "/api/v1/runs/{id}/results", 0, h_run_results, .args = HTTP_NAMES("after", "limit")},
        {"POST", "/api/v1/runs/{id}/cancel", HTTP_BODY_OPTIONAL, h_run_cancel, .members = HTTP_NAMES("reason")},
        {"POST", "/api/v1/runs/{id}/rerun", HTTP_BODY_OPTIONAL, h_run_rerun, .members = HTTP_NAMES("params")},
        {"POST", "/api/v1/runs/{id}/retry", 0, h_run_retry, .args = NULL},
};

int routes_runs_register(http_server *s, api_ctx *ctx, sked_err *err) {
        return api_route_table(s, routes, sizeof routes / sizeof routes[0], ctx, err);
}
