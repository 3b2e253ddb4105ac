/* routes_types: the process types: list, one, register (docs/api.md "Types"). */
#include "api/routes_types.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/views.h"
#include "model/ptype.h"

/* ---- types ---- */

static int h_types_list(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        store *st;
        json_t *items = NULL;
        sked_err err = {0};
        bool all;
        if (api_get_store(e, req, &st) < 0 || api_bool_arg(req, "all", &all) < 0)
                return 0;
        int r = store_type_list(st, &items, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
        if (!all) {
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
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        json_t *def = engine_type_json(e, http_param(req, "name"));
        if (!def) {
                http_reply_problem(req, 404, "name", "\"%s\": no such process type", http_param(req, "name"));
                return 0;
        }
        http_reply_json(req, 200, def);
        return 0;
}

static int h_type_register(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        json_t *body = http_body_json(req), *def = NULL; /* a manifest: an object of its top-level keys */
        sked_err err = {0};
        int r = engine_type_register(e, body, NULL, NULL, &def, &err); /* through the loop */
        if (r < 0)
                return api_reply_write_err(req, r, &err);
        api_audit_after(req, e);
        char loc[200];
        snprintf(loc, sizeof loc, "/api/v1/types/%s", json_string_value(json_object_get(def, "name")));
        http_add_header(req, "Location", loc);
        http_reply_json(req, 201, def);
        return 0;
}

/* DELETE /api/v1/types/{name}[?force=true] */
static int h_type_delete(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        bool force;
        if (api_bool_arg(req, "force", &force) < 0)
                return 0;
        json_t *out = NULL;
        sked_err err = {0};
        /* who: the principal of the credentials (today only the admin token exists) */
        int r = engine_type_delete(ctx->e, http_param(req, "name"), force, "admin", &out, &err); /* through the loop */
        if (r < 0)
                return api_reply_write_err(req, r, &err);
        http_reply_json(req, 200, out);
        return 0;
}

static const http_route_def routes[] = {
        {"GET", "/api/v1/types", 0, h_types_list, .args = HTTP_NAMES("all")},
        /* the manifest's own checker (model/ptype.c) owns its keys and checks the nested ones */
        {"POST", "/api/v1/types", HTTP_BODY | HTTP_ADMIN, h_type_register, .members = ptype_manifest_keys},
        {"GET", "/api/v1/types/{name}", 0, h_type_get, .args = NULL},
        {"DELETE", "/api/v1/types/{name}", 0, h_type_delete, .args = HTTP_NAMES("force")},
};

int routes_types_register(http_server *s, api_ctx *ctx, sked_err *err) {
        return api_route_table(s, routes, sizeof routes / sizeof routes[0], ctx, err);
}
