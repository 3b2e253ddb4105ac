/* routes_workflows: workflows (register, list, show with versions, start) and
 * their instances (list, show, journal, signal, cancel, pause, resume)
 * (docs/workflows.md, "API"). */
#include "api/routes_workflows.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/views.h"
#include "base/strbuf.h"
#include "engine/workflow.h"
#include "store/store.h"
#include "wf/def.h"

#define VERSIONS_LISTED 100

/* ---- workflows ---- */

static int register_ok(http_req *req, void *op) {
        wf_register_op *o = op;
        free(o->text);
        http_reply_json(
                req, 201,
                json_pack("{s:s, s:I, s:s}", "name", o->name, "version", (json_int_t) o->version, "mode", o->mode));
        return 0;
}

static void register_clear(void *op) {
        free(((wf_register_op *) op)->text);
}

/* POST /api/v1/workflows: the body is the definition (JSON; the CLI reads YAML): an
 * object of wf_def_keys (the framework refuses another shape or member). */
static int h_workflow_register(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        json_t *body = http_body_json(req);
        wf_def *d = NULL;
        json_t *errors = NULL;
        sked_err err = {0};
        int r = engine_workflow_check(ctx->e, body, &d, &errors, &err);
        if (r < 0) {
                if (r != -EINVAL || !errors) {
                        json_decref(errors);
                        return api_reply_err(req, r, &err);
                }
                /* every error, each naming its path: detail lists them one a line */
                strbuf b = STRBUF_INIT;
                size_t i;
                json_t *e;
                json_array_foreach(errors, i, e) {
                        strbuf_printf(&b, "%s%s", i ? "\n" : "", json_string_value(json_object_get(e, "message")));
                }
                http_reply_problem(req, 400, err.field[0] ? err.field : NULL, "%s",
                                   strbuf_str(&b) ? strbuf_str(&b) : err.msg);
                strbuf_free(&b);
                json_decref(errors);
                return 0;
        }
        wf_register_op op = {0};
        snprintf(op.name, sizeof op.name, "%s", d->name);
        snprintf(op.mode, sizeof op.mode, "%s", d->mode);
        wf_def_free(d);
        op.text = json_dumps(body, JSON_COMPACT);
        if (!op.text) {
                http_reply_problem(req, 503, NULL, "out of memory");
                return 0;
        }
        return api_write_through_loop(req, ctx->e, engine_workflow_register_apply, 0, &op, sizeof op, register_ok,
                                      register_clear);
}

static void instants(json_t *o) {
        static const char *const keys[] = {"created_at", "updated_at"};
        for (size_t i = 0; i < 2; i++) {
                json_t *v = json_object_get(o, keys[i]);
                if (json_is_integer(v))
                        view_set_instant(o, keys[i], json_integer_value(v));
        }
}

static int h_workflows_list(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        store *st;
        if (api_get_store(ctx->e, req, &st) < 0)
                return 0;
        json_t *items = NULL;
        sked_err err = {0};
        int r = store_workflows_list(st, &items, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
        size_t i;
        json_t *w;
        json_array_foreach(items, i, w) {
                instants(w);
        }
        http_reply_json(req, 200, json_pack("{s:o}", "items", items));
        return 0;
}

static int h_workflow_get(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        store *st;
        if (api_get_store(ctx->e, req, &st) < 0)
                return 0;
        const char *name = http_param(req, "name");
        json_t *versions = NULL;
        sked_err err = {0};
        int r = store_workflow_versions(st, name, VERSIONS_LISTED, &versions, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
        if (json_array_size(versions) == 0) {
                json_decref(versions);
                http_reply_problem(req, 404, "name", "workflow \"%s\": no such workflow", name);
                return 0;
        }
        json_t *newest = json_array_get(versions, 0);
        json_t *def = json_incref(json_object_get(newest, "definition"));
        json_t *mode = json_object_get(def, "mode");
        json_t *out =
                json_pack("{s:s, s:O, s:s, s:O?, s:o}", "name", name, "version", json_object_get(newest, "version"),
                          "mode", json_is_string(mode) ? json_string_value(mode) : "background", "title",
                          json_object_get(def, "title"), "definition", def);
        size_t i;
        json_t *v;
        json_array_foreach(versions, i, v) {
                json_object_del(v, "definition");
                view_set_instant(v, "created_at", json_integer_value(json_object_get(v, "created_at")));
        }
        json_object_set_new(out, "versions", versions);
        http_reply_json(req, 200, out);
        return 0;
}

static int instance_ok(http_req *req, int status, json_t **instance) {
        json_t *v = *instance;
        *instance = NULL;
        http_reply_json(req, status, v);
        return 0;
}

static int start_ok(http_req *req, void *op) {
        wf_start_op *o = op;
        free(o->input);
        return instance_ok(req, 201, &o->instance);
}

static void start_clear(void *op) {
        wf_start_op *o = op;
        free(o->input);
        json_decref(o->instance);
}

/* POST /api/v1/workflows/{name}/start {"input": {...}}, or no body (the framework
 * refuses another shape or member) */
static int h_workflow_start(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        json_t *body = http_body_json(req);
        const char *name = http_param(req, "name");
        json_t *input = json_object_get(body, "input");
        if (input && !json_is_object(input) && !json_is_null(input)) {
                http_reply_problem(req, 400, "input", "input: expected a JSON object");
                return 0;
        }
        wf_start_op op = {0};
        if (strlen(name) > WF_NAME_MAX) {
                http_reply_problem(req, 404, "name", "workflow \"%.40s...\": no such workflow", name);
                return 0;
        }
        snprintf(op.name, sizeof op.name, "%s", name);
        op.input = json_is_object(input) ? json_dumps(input, JSON_COMPACT) : NULL;
        if (op.input && strlen(op.input) > WF_INPUT_MAX) {
                free(op.input);
                http_reply_problem(req, 413, "input", "input: more than %d bytes", WF_INPUT_MAX);
                return 0;
        }
        return api_write_through_loop(req, ctx->e, engine_workflow_start_apply, 0, &op, sizeof op, start_ok,
                                      start_clear);
}

/* ---- instances ---- */

static int h_instances_list(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        store *st;
        int64_t before, limit;
        if (api_get_store(ctx->e, req, &st) < 0 ||
            api_int_arg(req, "before", http_query(req, "before"), 0, 0, INT64_MAX, &before) < 0 ||
            api_int_arg(req, "limit", http_query(req, "limit"), API_DEFAULT_LIMIT, 1, API_MAX_LIMIT, &limit) < 0)
                return 0;
        const char *status = http_query(req, "status");
        static const char *const statuses[] = {"queued",    "running", "waiting",  "paused",
                                               "succeeded", "failed",  "canceled", NULL};
        bool known = !status;
        for (size_t i = 0; statuses[i] && !known; i++)
                known = !strcmp(status, statuses[i]);
        if (!known) {
                http_reply_problem(req, 400, "status",
                                   "status: \"%s\": expected queued, running, waiting, paused, succeeded, failed or "
                                   "canceled",
                                   status);
                return 0;
        }
        instance_filter f = {
                .workflow = http_query(req, "workflow"), .status = status, .before_id = before, .limit = (int) limit};
        instance_row *rows = NULL;
        size_t n = 0;
        sked_err err = {0};
        int r = store_instances_list(st, &f, &rows, &n, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
        json_t *items = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(items, engine_instance_json(&rows[i]));
        json_t *out = json_pack("{s:o}", "items", items);
        json_object_set_new(out, "next", n == (size_t) limit ? json_integer(rows[n - 1].id) : json_null());
        instance_rows_free(rows, n);
        http_reply_json(req, 200, out);
        return 0;
}

static int h_instance_get(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        store *st;
        int64_t id;
        if (api_get_store(ctx->e, req, &st) < 0 || api_id_param(req, &id) < 0)
                return 0;
        instance_row r = {0};
        sked_err err = {0};
        int rc = store_instance_get(st, id, &r, &err);
        if (rc < 0)
                return api_reply_err(req, rc, &err);
        http_reply_json(req, 200, engine_instance_json(&r));
        instance_row_clear(&r);
        return 0;
}

static int h_instance_journal(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        store *st;
        int64_t id, after, limit;
        if (api_get_store(ctx->e, req, &st) < 0 || api_id_param(req, &id) < 0 ||
            api_int_arg(req, "after", http_query(req, "after"), 0, 0, INT64_MAX, &after) < 0 ||
            api_int_arg(req, "limit", http_query(req, "limit"), API_MAX_LIMIT, 1, 10000, &limit) < 0)
                return 0;
        instance_row r = {0};
        sked_err err = {0};
        json_t *items = NULL;
        int rc = store_instance_get(st, id, &r, &err);
        instance_row_clear(&r);
        if (rc == 0)
                rc = store_journal_list(st, id, after, (int) limit, &items, &err);
        if (rc < 0)
                return api_reply_err(req, rc, &err);
        size_t i, n = json_array_size(items);
        json_t *it;
        json_array_foreach(items, i, it) {
                view_set_instant(it, "at", json_integer_value(json_object_get(it, "at")));
        }
        json_t *out = json_pack("{s:o}", "items", items);
        json_object_set_new(out, "next",
                            n == (size_t) limit ? json_object_get(json_array_get(items, n - 1), "seq") : json_null());
        json_incref(json_object_get(out, "next"));
        http_reply_json(req, 200, out);
        return 0;
}

static int op_ok(http_req *req, void *op) {
        wf_instance_op *o = op;
        free(o->data);
        return instance_ok(req, 200, &o->instance);
}

static void op_clear(void *op) {
        wf_instance_op *o = op;
        free(o->data);
        json_decref(o->instance);
}

/* The body's shape and members are the route's (the framework checked them): signal
 * {"name", "data"} (required), cancel {"reason"}, pause and resume {} (each optional). */
static int instance_verb(http_req *req, api_ctx *ctx, enum wf_instance_verb verb) {
        int64_t id;
        if (api_id_param(req, &id) < 0)
                return 0;
        json_t *body = http_body_json(req);
        wf_instance_op op = {.id = id, .verb = verb};
        if (verb == WF_SIGNAL) {
                const char *name = json_string_value(json_object_get(body, "name"));
                size_t len = name ? strlen(name) : 0;
                if (!name || len == 0 || len > WF_NAME_MAX ||
                    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != len) {
                        http_reply_problem(req, 400, "name",
                                           "name: required, a signal name (lower case letters, digits, _ . -)");
                        return 0;
                }
                snprintf(op.signal, sizeof op.signal, "%s", name);
                json_t *data = json_object_get(body, "data");
                if (data && !json_is_null(data)) {
                        op.data = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
                        if (op.data && strlen(op.data) > WF_SIGNAL_DATA_MAX) {
                                free(op.data);
                                http_reply_problem(req, 413, "data", "data: more than %d bytes", WF_SIGNAL_DATA_MAX);
                                return 0;
                        }
                }
        } else if (verb == WF_CANCEL) {
                json_t *reason = json_object_get(body, "reason");
                if (reason && (!json_is_string(reason) || json_string_length(reason) > 4096)) {
                        http_reply_problem(req, 400, "reason", "reason: expected text of at most 4096 bytes");
                        return 0;
                }
                if (reason)
                        op.data = strdup(json_string_value(reason));
        }
        return api_write_through_loop(req, ctx->e, engine_instance_apply, 0, &op, sizeof op, op_ok, op_clear);
}

static int h_instance_signal(http_req *req, void *ud) {
        return instance_verb(req, ud, WF_SIGNAL);
}

static int h_instance_cancel(http_req *req, void *ud) {
        return instance_verb(req, ud, WF_CANCEL);
}

static int h_instance_pause(http_req *req, void *ud) {
        return instance_verb(req, ud, WF_PAUSE);
}

static int h_instance_resume(http_req *req, void *ud) {
        return instance_verb(req, ud, WF_RESUME);
}

static const http_route_def routes[] = {
        {"GET", "/api/v1/workflows", 0, h_workflows_list, .args = NULL},
        {"POST", "/api/v1/workflows", HTTP_BODY | HTTP_ADMIN, h_workflow_register, .members = wf_def_keys},
        {"GET", "/api/v1/workflows/{name}", 0, h_workflow_get, .args = NULL},
        {"POST", "/api/v1/workflows/{name}/start", HTTP_BODY_OPTIONAL, h_workflow_start,
         .members = HTTP_NAMES("input")},
        {"GET", "/api/v1/instances", 0, h_instances_list, .args = HTTP_NAMES("workflow", "status", "before", "limit")},
        {"GET", "/api/v1/instances/{id}", 0, h_instance_get, .args = NULL},
        {"GET", "/api/v1/instances/{id}/journal", 0, h_instance_journal, .args = HTTP_NAMES("after", "limit")},
        {"POST", "/api/v1/instances/{id}/signal", HTTP_BODY, h_instance_signal, .members = HTTP_NAMES("name", "data")},
        {"POST", "/api/v1/instances/{id}/cancel", HTTP_BODY_OPTIONAL, h_instance_cancel,
         .members = HTTP_NAMES("reason")},
        {"POST", "/api/v1/instances/{id}/pause", HTTP_BODY_OPTIONAL, h_instance_pause, .args = NULL},
        {"POST", "/api/v1/instances/{id}/resume", HTTP_BODY_OPTIONAL, h_instance_resume, .args = NULL},
};

int routes_workflows_register(http_server *s, api_ctx *ctx, sked_err *err) {
        return api_route_table(s, routes, sizeof routes / sizeof routes[0], ctx, err);
}
