/* docs/openapi.yaml against the routes the server registers: the same (method, path)
 * set, the same public routes, the same version, and what each route takes (h10's
 * declarations, src/api/http.h): its query arguments are the documented ones, a
 * request body is documented exactly when its flags take one (required with
 * HTTP_BODY), and its body's members are the schema's properties.  The document is the one built into
 * the binary (routes_openapi_document), the routes are the real route tables
 * (routes_register) read back from the framework (http_route_at): no list of either
 * is kept here, so a route added to one and not the other fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "api/routes.h"
#include "api/routes_openapi.h"
#include "base/strbuf.h"

static const char *const methods[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

static http_server *srv;
static json_t *doc;

static int setup(void **state) {
        (void) state;
        sked_err err = {0};
        http_config cfg = {.listen = "127.0.0.1:0"};
        if (http_server_new(&cfg, &srv, &err) < 0 || routes_register(srv, NULL, NULL, NULL, NULL, NULL, &err) < 0) {
                fprintf(stderr, "routes: %s\n", err.msg);
                return -1;
        }
        if (routes_openapi_document(&doc, &err) < 0) {
                fprintf(stderr, "docs/openapi.yaml: %s\n", err.msg);
                return -1;
        }
        return 0;
}

static int teardown(void **state) {
        (void) state;
        http_server_free(srv);
        json_decref(doc);
        return 0;
}

static void lower(char *dst, size_t len, const char *src) {
        size_t i = 0;
        for (; src[i] && i + 1 < len; i++)
                dst[i] = (char) tolower((unsigned char) src[i]);
        dst[i] = '\0';
}

static json_t *operation(const char *method, const char *pattern) {
        char m[16];
        lower(m, sizeof m, method);
        return json_object_get(json_object_get(json_object_get(doc, "paths"), pattern), m);
}

static bool registered(const char *method, const char *pattern) {
        for (size_t i = 0; i < http_route_count(srv); i++) {
                const char *m, *p;
                unsigned flags;
                http_route_at(srv, i, &m, &p, &flags);
                if (!strcasecmp(m, method) && !strcmp(p, pattern))
                        return true;
        }
        return false;
}

/* Every registered route is described, every described operation is registered;
 * the message lists each (method, path) that is in one and not the other. */
static void test_routes_are_documented(void **state) {
        (void) state;
        strbuf miss = STRBUF_INIT;
        size_t n = http_route_count(srv);
        assert_true(n > 20);
        for (size_t i = 0; i < n; i++) {
                const char *m, *p;
                unsigned flags;
                http_route_at(srv, i, &m, &p, &flags);
                if (!operation(m, p))
                        strbuf_printf(&miss, "\n  %s %s: registered (src/api/routes_*.c), not in docs/openapi.yaml", m,
                                      p);
        }
        const char *path;
        json_t *item;
        json_object_foreach(json_object_get(doc, "paths"), path, item) {
                for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++) {
                        char up[16];
                        size_t j = 0;
                        for (; methods[k][j]; j++)
                                up[j] = (char) toupper((unsigned char) methods[k][j]);
                        up[j] = '\0';
                        if (json_object_get(item, methods[k]) && !registered(up, path))
                                strbuf_printf(&miss, "\n  %s %s: in docs/openapi.yaml, not registered by the server",
                                              up, path);
                }
        }
        if (miss.len)
                fail_msg("the routes and docs/openapi.yaml differ:%s", strbuf_str(&miss));
        strbuf_free(&miss);
}

/* A route the framework does not guard (HTTP_PUBLIC) says how it is reached instead:
 * no security at all, or other schemes beside the admin token; every other route
 * keeps the document's default, a user's token or session. */
static void test_public_routes_say_so(void **state) {
        (void) state;
        strbuf bad = STRBUF_INIT;
        /* the default: a user's token or a web session (security.md) */
        json_t *admin_only = json_pack("[{s:[]}, {s:[]}]", "adminToken", "sessionCookie");
        for (size_t i = 0; i < http_route_count(srv); i++) {
                const char *m, *p;
                unsigned flags;
                http_route_at(srv, i, &m, &p, &flags);
                json_t *op = operation(m, p);
                if (!op)
                        continue; /* test_routes_are_documented names it */
                json_t *sec = json_object_get(op, "security");
                bool admin = !sec || json_equal(sec, admin_only);
                if ((flags & HTTP_PUBLIC) && admin)
                        strbuf_printf(&bad,
                                      "\n  %s %s: public (HTTP_PUBLIC), but the document asks for the admin token", m,
                                      p);
                if (!(flags & HTTP_PUBLIC) && !admin)
                        strbuf_printf(&bad,
                                      "\n  %s %s: needs the admin token, but the document's security says otherwise", m,
                                      p);
        }
        json_decref(admin_only);
        if (bad.len)
                fail_msg("security differs from the route flags:%s", strbuf_str(&bad));
        strbuf_free(&bad);
}

/* The node a local "$ref" ("#/components/...") names, else node itself. */
static json_t *deref(json_t *node) {
        for (int hops = 0; hops < 8; hops++) {
                const char *ref = json_string_value(json_object_get(node, "$ref"));
                if (!ref || strncmp(ref, "#/", 2))
                        return node;
                char buf[256];
                snprintf(buf, sizeof buf, "%s", ref + 2);
                json_t *cur = doc;
                for (char *save = NULL, *tok = strtok_r(buf, "/", &save); tok && cur; tok = strtok_r(NULL, "/", &save))
                        cur = json_object_get(cur, tok);
                if (!cur)
                        return node;
                node = cur;
        }
        return node;
}

static const char *text(json_t *o, const char *key) {
        const char *v = json_string_value(json_object_get(o, key));
        return v ? v : "";
}

static void add_name(json_t *set, const char *name) {
        json_object_set_new(set, name, json_true());
}

/* The query arguments the document gives the operation: its query parameters (of
 * the path and the operation) and the query keys of its security schemes (the
 * calendar feed's ?token=). */
static json_t *documented_args(const char *pattern, json_t *op) {
        json_t *set = json_object();
        json_t *lists[] = {json_object_get(json_object_get(json_object_get(doc, "paths"), pattern), "parameters"),
                           json_object_get(op, "parameters")};
        for (size_t k = 0; k < 2; k++) {
                size_t i;
                json_t *p;
                json_array_foreach(lists[k], i, p) {
                        p = deref(p);
                        if (!strcmp(text(p, "in"), "query"))
                                add_name(set, text(p, "name"));
                }
        }
        json_t *schemes = json_object_get(json_object_get(doc, "components"), "securitySchemes");
        size_t i;
        json_t *req;
        json_array_foreach(json_object_get(op, "security"), i, req) {
                const char *name;
                json_t *v;
                json_object_foreach(req, name, v) {
                        json_t *sc = json_object_get(schemes, name);
                        if (!strcmp(text(sc, "type"), "apiKey") && !strcmp(text(sc, "in"), "query"))
                                add_name(set, text(sc, "name"));
                }
        }
        return set;
}

/* The top-level members a body schema describes: its properties, through $ref,
 * allOf, oneOf and anyOf (an array alternative: its items'). */
static void schema_members(json_t *schema, json_t *set, int depth) {
        schema = deref(schema);
        if (!json_is_object(schema) || depth > 8)
                return;
        const char *name;
        json_t *v;
        json_object_foreach(json_object_get(schema, "properties"), name, v) {
                add_name(set, name);
        }
        static const char *const lists[] = {"allOf", "oneOf", "anyOf"};
        for (size_t k = 0; k < 3; k++) {
                size_t i;
                json_t *sub;
                json_array_foreach(json_object_get(schema, lists[k]), i, sub) {
                        schema_members(sub, set, depth + 1);
                }
        }
        if (json_object_get(schema, "items"))
                schema_members(json_object_get(schema, "items"), set, depth + 1);
}

static json_t *name_set(const char *const *names) {
        json_t *set = json_object();
        for (const char *const *n = names; n && *n; n++)
                add_name(set, *n);
        return set;
}

/* The names of one set that the other lacks, "a, b" ("-": none). */
static void lacking(strbuf *b, json_t *from, json_t *other) {
        const char *name;
        json_t *v;
        bool first = true;
        json_object_foreach(from, name, v) {
                if (!json_object_get(other, name)) {
                        strbuf_printf(b, "%s%s", first ? "" : ", ", name);
                        first = false;
                }
        }
        if (first)
                strbuf_printf(b, "-");
}

static void differ(strbuf *bad, const char *m, const char *p, const char *what, json_t *route, json_t *documented) {
        if (json_equal(route, documented))
                return;
        strbuf_printf(bad, "\n  %s %s: %s declared by the route (src/api/routes_*.c), not in docs/openapi.yaml: ", m, p,
                      what);
        lacking(bad, route, documented);
        strbuf_printf(bad, "; in docs/openapi.yaml, not declared: ");
        lacking(bad, documented, route);
}

/* What each route takes (h10's declarations) is what the document says it takes. */
static void test_routes_take_what_is_documented(void **state) {
        (void) state;
        strbuf bad = STRBUF_INIT;
        for (size_t i = 0; i < http_route_count(srv); i++) {
                const char *m, *p;
                unsigned flags;
                const char *const *args, *const *members;
                http_route_at(srv, i, &m, &p, &flags);
                http_route_takes(srv, i, &args, &members);
                json_t *op = operation(m, p);
                if (!op)
                        continue; /* test_routes_are_documented names it */
                json_t *ra = name_set(args), *da = documented_args(p, op);
                differ(&bad, m, p, "query arguments", ra, da);
                json_decref(ra);
                json_decref(da);
                json_t *body = json_object_get(op, "requestBody") ? deref(json_object_get(op, "requestBody")) : NULL;
                bool takes = flags & (HTTP_BODY | HTTP_BODY_OPTIONAL | HTTP_BODY_ANY);
                if (takes != (body != NULL)) {
                        strbuf_printf(&bad, "\n  %s %s: %s", m, p,
                                      takes ? "takes a body (HTTP_BODY*), the document has no requestBody"
                                            : "takes no body, the document has a requestBody");
                        continue;
                }
                if (!body)
                        continue;
                bool required = json_is_true(json_object_get(body, "required"));
                if (required != !!(flags & HTTP_BODY))
                        strbuf_printf(&bad, "\n  %s %s: the body is %s, the requestBody says required: %s", m, p,
                                      (flags & HTTP_BODY) ? "required (HTTP_BODY)" : "optional",
                                      required ? "true" : "false");
                if (flags & HTTP_BODY_ANY)
                        continue; /* its members are the handler's to check */
                json_t *schema = json_object_get(json_object_get(json_object_get(body, "content"), "application/json"),
                                                 "schema");
                json_t *rm = name_set(members), *dm = json_object();
                schema_members(schema, dm, 0);
                differ(&bad, m, p, "body members", rm, dm);
                json_decref(rm);
                json_decref(dm);
        }
        if (bad.len)
                fail_msg("what the routes take and docs/openapi.yaml differ:%s", strbuf_str(&bad));
        strbuf_free(&bad);
}

static void test_version(void **state) {
        (void) state;
        const char *v = json_string_value(json_object_get(json_object_get(doc, "info"), "version"));
        assert_non_null(v);
        assert_string_equal(v, SKED_VERSION);
        assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_routes_are_documented),
                cmocka_unit_test(test_public_routes_say_so),
                cmocka_unit_test(test_routes_take_what_is_documented),
                cmocka_unit_test(test_version),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
