/* routes_grants: see routes_grants.h. */
#include "api/routes_grants.h"

#include <errno.h>
#include <string.h>

#include "store/grants.h"
#include "store/types.h"
#include "store/users.h"

#define GRANT_NAME_MAX 200 /* bytes of a type or feature name */

static int h_grants_get(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        store *st;
        if (api_get_store(ctx->e, req, &st) < 0)
                return 0;
        json_t *out = NULL;
        sked_err err = {0};
        int r = store_grants_get(st, http_param(req, "name"), &out, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
        http_reply_json(req, 200, out);
        return 0;
}

typedef struct grant_op {
        const char *name;                                     /* the user */
        const char *types[GRANTS_MAX], *features[GRANTS_MAX]; /* borrowed from the request's body */
        size_t nt, nf;
        json_t *out;
} grant_op;

/* True when `name` is the "name" member of an element of list (types or features) */
static bool listed(json_t *list, const char *name) {
        size_t i;
        json_t *x;
        json_array_foreach(list, i, x) {
                if (!strcmp(json_string_value(json_object_get(x, "name")) ?: "", name))
                        return true;
        }
        return false;
}

/* Each of names[0..n) is in list, else -EINVAL naming member[i]. */
static int all_listed(json_t *list, const char *member, const char *what, const char *const *names, size_t n,
                      sked_err *err) {
        for (size_t i = 0; i < n; i++)
                if (!listed(list, names[i]))
                        return err_field(err, -EINVAL, member, "no %s \"%s\" (element %zu; see sked %s)", what,
                                         names[i], i, !strcmp(what, "type") ? "type list" : "features");
        return 0;
}

/* In the loop: the user is an operator, the types and features exist, then the put. */
static int grant_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        grant_op *o = ctx;
        (void) e;
        (void) ret_reply;
        user_row u = {0};
        int r = store_user_get(st, o->name, &u, err);
        if (r < 0)
                return r;
        if (r == 0)
                return err_field(err, -ENOENT, "name", "no user \"%s\"", o->name);
        bool operator= u.role && !strcmp(u.role, "operator");
        user_row_clear(&u);
        if (!operator&&(o->nt || o->nf))
                return err_field(err, -EINVAL, "name",
                                 "\"%s\" is not an operator: grants widen what an operator may change (admins "
                                 "change everything, viewers nothing)",
                                 o->name);
        json_t *types = NULL, *features = NULL;
        if ((r = store_type_list(st, &types, err)) == 0 && (r = store_features_list(st, &features, err)) == 0 &&
            (r = all_listed(types, "types", "type", o->types, o->nt, err)) == 0 &&
            (r = all_listed(features, "features", "feature", o->features, o->nf, err)) == 0 &&
            (r = store_grants_put(st, o->name, o->types, o->nt, o->features, o->nf, err)) == 0)
                r = store_grants_get(st, o->name, &o->out, err);
        json_decref(types);
        json_decref(features);
        return r;
}

static int grant_ok(http_req *req, void *op) {
        grant_op *o = op;
        http_reply_json(req, 200, o->out);
        return 0;
}

static void grant_clear(void *op) {
        grant_op *o = op;
        json_decref(o->out);
}

/* body[member]: an array of distinct names (absent: none) into v[0..*n). */
static int names_member(http_req *req, const char *member, const char **v, size_t *n, size_t room) {
        json_t *a = json_object_get(http_body_json(req), member), *x;
        size_t i;
        *n = 0;
        if (!a)
                return 0;
        if (!json_is_array(a)) {
                http_reply_problem(req, 400, member, "%s: expected an array of names", member);
                return -EINVAL;
        }
        if (json_array_size(a) > room) {
                http_reply_problem(req, 400, member, "%s: at most %d grants in all (types and features)", member,
                                   GRANTS_MAX);
                return -EINVAL;
        }
        json_array_foreach(a, i, x) {
                const char *s = json_string_value(x);
                size_t len = s ? strlen(s) : 0;
                if (!s || len == 0 || len > GRANT_NAME_MAX) {
                        http_reply_problem(req, 400, member, "%s[%zu]: expected a name of 1 to %d bytes", member, i,
                                           GRANT_NAME_MAX);
                        return -EINVAL;
                }
                for (size_t j = 0; j < *n; j++)
                        if (!strcmp(v[j], s)) {
                                http_reply_problem(req, 400, member, "%s[%zu]: \"%s\" is listed twice", member, i, s);
                                return -EINVAL;
                        }
                v[(*n)++] = s;
        }
        return 0;
}

static int h_grants_put(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        grant_op o = {.name = http_param(req, "name")};
        if (names_member(req, "types", o.types, &o.nt, GRANTS_MAX) < 0 ||
            names_member(req, "features", o.features, &o.nf, GRANTS_MAX - o.nt) < 0)
                return 0;
        return api_write_through_loop(req, ctx->e, grant_apply, 0, &o, sizeof o, grant_ok, grant_clear);
}

static const http_route_def routes[] = {
        {"GET", "/api/v1/users/{name}/grants", HTTP_ADMIN, h_grants_get, .args = NULL},
        {"PUT", "/api/v1/users/{name}/grants", HTTP_BODY | HTTP_ADMIN, h_grants_put,
         .members = HTTP_NAMES("types", "features")},
};

int routes_grants_register(http_server *s, api_ctx *ctx, sked_err *err) {
        return api_route_table(s, routes, sizeof routes / sizeof routes[0], ctx, err);
}
