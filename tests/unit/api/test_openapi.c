/* docs/openapi.yaml against the routes the server registers: the same (method, path)
 * set, the same public routes, the same version.  The document is the one built into
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
        if (http_server_new(&cfg, &srv, &err) < 0 || routes_register(srv, NULL, NULL, NULL, &err) < 0) {
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
 * keeps the document's default, the admin token alone. */
static void test_public_routes_say_so(void **state) {
        (void) state;
        strbuf bad = STRBUF_INIT;
        json_t *admin_only = json_pack("[{s:[]}]", "adminToken");
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
                cmocka_unit_test(test_version),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
