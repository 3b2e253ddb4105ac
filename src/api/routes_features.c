/* routes_features: feature switches: list, enable, disable (docs/api.md "Features"). */
#include "api/routes_features.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/views.h"

/* ---- features ---- */

static int h_features(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        store *st;
        if (api_get_store(e, req, &st) < 0)
                return 0;
        json_t *items = NULL;
        sked_err err = {0};
        int r = store_features_list(st, &items, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
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
                                 "\"%s\": no registered type declares this feature (see sked "
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
        return api_write_through_loop(req, e, feature_apply, 0, &c, sizeof c, feature_ok, feature_clear);
}

static int h_feature_enable(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        return set_feature(req, ctx->e, true);
}

static int h_feature_disable(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        return set_feature(req, ctx->e, false);
}

static const http_route_def routes[] = {
        {"GET", "/api/v1/features", 0, h_features, .args = NULL},
        {"POST", "/api/v1/features/{name}/enable", HTTP_BODY_OPTIONAL | HTTP_ADMIN, h_feature_enable,
         .members = HTTP_NAMES("note")},
        {"POST", "/api/v1/features/{name}/disable", HTTP_BODY_OPTIONAL | HTTP_ADMIN, h_feature_disable,
         .members = HTTP_NAMES("note")},
};

int routes_features_register(http_server *s, api_ctx *ctx, sked_err *err) {
        return api_route_table(s, routes, sizeof routes / sizeof routes[0], ctx, err);
}
