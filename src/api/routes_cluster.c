/* routes_cluster: the cluster's health: /healthz, the poller (status, init) and the nodes
 * (docs/api.md "Poller", "Nodes"). */
#include "api/routes_cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/views.h"

/* ---- health ---- */

static int h_healthz(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        store *st;
        if (api_get_store(e, req, &st) < 0)
                return 0;
        json_t *poller = engine_poller_status(e, st);
        bool ok = json_is_true(json_object_get(poller, "healthy"));
        http_reply_json(req, ok ? 200 : 503,
                        json_pack("{s:s, s:o}", "status", ok ? "ok" : "degraded", "poller", poller));
        return 0;
}

/* ---- poller ---- */

static int h_poller_status(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        store *st;
        if (api_get_store(e, req, &st) < 0)
                return 0;
        http_reply_json(req, 200, engine_poller_status(e, st));
        return 0;
}

static int h_poller_init(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        int n = 0;
        sked_err err = {0};
        json_t *skipped = NULL;
        int r = engine_poller_init(e, &n, &skipped, &err); /* through the loop */
        if (r < 0)
                return api_reply_write_err(req, r, &err);
        api_audit_after(req, e);
        http_reply_json(req, 200, json_pack("{s:i, s:o}", "registered", n, "skipped", skipped));
        return 0;
}

static int h_nodes(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        store *st;
        if (api_get_store(e, req, &st) < 0)
                return 0;
        json_t *items = NULL;
        sked_err err = {0};
        int r = store_nodes_list(st, &items, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
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

static const http_route_def routes[] = {
        {"GET", "/healthz", HTTP_PUBLIC, h_healthz, .args = NULL},
        {"GET", "/api/v1/poller", 0, h_poller_status, .args = NULL},
        {"POST", "/api/v1/poller/init", HTTP_BODY_OPTIONAL | HTTP_ADMIN, h_poller_init,
         .args = NULL}, /* no body, or {} */
        {"GET", "/api/v1/nodes", 0, h_nodes, .args = NULL},
};

int routes_cluster_register(http_server *s, api_ctx *ctx, sked_err *err) {
        return api_route_table(s, routes, sizeof routes / sizeof routes[0], ctx, err);
}
