/* Real server on 127.0.0.1 (port 0), real libcurl clients. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/auth.h"
#include "api/http.h"
#include "base/strbuf.h"
#include "cli/client.h"

#define TOKEN "test-token-0123456789abcdef0123456789"
#define MAX_BODY 1024

static http_server *srv;
static char base[64];

/* ---- handlers ---- */

static int h_occurrences(http_req *r, void *ud) {
        (void) ud;
        http_reply_json(r, 200, json_pack("{s:s, s:s}", "id", http_param(r, "id"), "path", http_path(r)));
        return 0;
}

static int h_item(http_req *r, void *ud) {
        http_reply_json(r, 200, json_pack("{s:s, s:s?}", "route", (const char *) ud, "id", http_param(r, "id")));
        return 0;
}

static int h_asset(http_req *r, void *ud) {
        (void) ud;
        static const char css[] = "body{color:red}";
        const char *path = http_param(r, "path");
        if (strcmp(path, "app.css") == 0)
                http_reply_static(r, "text/css", css, sizeof css - 1, "\"css-1\"",
                                  "public, max-age=31536000, immutable");
        else
                http_reply_json(r, 200, json_pack("{s:s, s:s}", "route", "wild", "path", path));
        return 0;
}

static int h_delete(http_req *r, void *ud) {
        (void) ud;
        http_reply_json(r, 204, NULL);
        return 0;
}

static int h_echo(http_req *r, void *ud) {
        (void) ud;
        json_t *body = http_body_json(r);
        http_add_header(r, "ETag", "\"v7\"");
        http_add_header(r, "Location", "/api/v1/echo/42");
        http_reply_json(r, 201, json_pack("{s:O?}", "got", body));
        return 0;
}

static int h_query(http_req *r, void *ud) {
        (void) ud;
        http_reply_json(r, 200,
                        json_pack("{s:s?, s:s?, s:s?}", "q", http_query(r, "q"), "flag", http_query(r, "flag"),
                                  "missing", http_query(r, "missing")));
        return 0;
}

static int h_health(http_req *r, void *ud) {
        (void) ud;
        http_reply_text(r, 200, "text/plain", "ok\n", 3);
        return 0;
}

static int h_fail(http_req *r, void *ud) {
        (void) r;
        (void) ud;
        return -EIO;
}

static int h_twice(http_req *r, void *ud) {
        (void) ud;
        http_reply_problem(r, 409, "series.name", "name \"%s\" is taken", "x");
        http_reply_json(r, 200, json_object()); /* dropped */
        return 0;
}

static int h_ping(http_req *r, void *ud) {
        (void) ud;
        (void) r;
        http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
        return 0;
}

/* echoes what the framework let through: the body, and If-Match */
static int h_declared(http_req *r, void *ud) {
        (void) ud;
        http_reply_json(r, 200,
                        json_pack("{s:O?, s:s?, s:s?}", "body", http_body_json(r), "a", http_query(r, "a"), "if_match",
                                  http_header(r, "If-Match")));
        return 0;
}

/* a route's own credentials: ?key=open */
static int auth_key(http_req *r, void *ud) {
        (void) ud;
        const char *k = http_query(r, "key");
        if (k && !strcmp(k, "open"))
                return 0;
        http_reply_problem(r, 401, "key", "key: wrong");
        return -EACCES;
}

/* ---- raw HTTP helper ---- */

struct resp {
        long status;
        strbuf body;
        strbuf headers;
};

static size_t collect(char *p, size_t size, size_t n, void *ud) {
        strbuf_append(ud, p, size * n);
        return size * n;
}

struct upload {
        const char *data;
        size_t len, off;
};

static size_t feed(char *buf, size_t size, size_t n, void *ud) {
        struct upload *u = ud;
        size_t k = size * n;
        if (k > u->len - u->off)
                k = u->len - u->off;
        if (k > 100)
                k = 100; /* several chunks */
        memcpy(buf, u->data + u->off, k);
        u->off += k;
        return k;
}

static const char *extra_header; /* one more request header, e.g. If-None-Match */

static void request(const char *method, const char *path, const char *token, const char *body, bool chunked,
                    struct resp *out) {
        CURL *e = curl_easy_init();
        struct curl_slist *h = NULL;
        char url[512], auth[256];
        struct upload up = {body, body ? strlen(body) : 0, 0};

        assert_non_null(e);
        memset(out, 0, sizeof *out);
        snprintf(url, sizeof url, "%s%s", base, path);
        curl_easy_setopt(e, CURLOPT_URL, url);
        if (token) {
                snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
                h = curl_slist_append(h, auth);
        }
        h = curl_slist_append(h, "Expect:");
        if (extra_header)
                h = curl_slist_append(h, extra_header);
        if (chunked)
                h = curl_slist_append(h, "Transfer-Encoding: chunked");
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
        if (strcmp(method, "HEAD") == 0)
                curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        else
                curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        if (body && chunked) {
                curl_easy_setopt(e, CURLOPT_POST, 1L);
                curl_easy_setopt(e, CURLOPT_READFUNCTION, feed);
                curl_easy_setopt(e, CURLOPT_READDATA, &up);
        } else if (body) {
                curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        }
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &out->body);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, collect);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, &out->headers);
        CURLcode cc = curl_easy_perform(e);
        if (cc != CURLE_OK)
                fail_msg("%s %s: %s", method, path, curl_easy_strerror(cc));
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &out->status);
        curl_slist_free_all(h);
        curl_easy_cleanup(e);
}

static void resp_free(struct resp *r) {
        strbuf_free(&r->body);
        strbuf_free(&r->headers);
}

/* Value of header name in r (static buffer), or NULL. */
static const char *header(struct resp *r, const char *name) {
        static char value[256];
        const char *p = strbuf_str(&r->headers);
        size_t n = strlen(name);
        while (p && *p) {
                if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
                        const char *v = p + n + 1;
                        while (*v == ' ')
                                v++;
                        size_t len = strcspn(v, "\r\n");
                        snprintf(value, sizeof value, "%.*s", (int) len, v);
                        return value;
                }
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        return NULL;
}

static json_t *body_json(struct resp *r) {
        json_error_t je;
        json_t *j = json_loads(strbuf_str(&r->body), 0, &je);
        if (!j)
                fail_msg("not JSON (%s): %s", je.text, strbuf_str(&r->body));
        return j;
}

static void assert_problem(struct resp *r, int status, const char *detail_prefix) {
        assert_int_equal(r->status, status);
        assert_string_equal(header(r, "Content-Type"), "application/problem+json");
        assert_string_equal(header(r, "Cache-Control"), "no-store");
        json_t *j = body_json(r);
        assert_int_equal(json_integer_value(json_object_get(j, "status")), status);
        assert_string_equal(json_string_value(json_object_get(j, "type")), "about:blank");
        assert_non_null(json_string_value(json_object_get(j, "title")));
        const char *detail = json_string_value(json_object_get(j, "detail"));
        assert_non_null(detail);
        if (detail_prefix && strncmp(detail, detail_prefix, strlen(detail_prefix)) != 0)
                fail_msg("detail \"%s\" does not start with \"%s\"", detail, detail_prefix);
        json_decref(j);
}

/* ---- setup ---- */

static const char *const query_args[] = {"q", "flag", "missing", NULL}; /* outlives the server */
static const http_route_def declared[] = {
        {"POST", "/api/v1/declared", HTTP_BODY | HTTP_BODY_ARRAY, h_declared, .args = HTTP_NAMES("a"),
         .members = HTTP_NAMES("x", "y")},
        {"PATCH", "/api/v1/declared", HTTP_BODY_OPTIONAL | HTTP_IF_MATCH, h_declared, .members = HTTP_NAMES("x")},
        {"GET", "/api/v1/declared", 0, h_declared, .args = HTTP_NAMES("a")},
        {"GET", "/api/v1/keyed", HTTP_PUBLIC, h_declared, .args = HTTP_NAMES("key", "a"), .auth = auth_key},
};

static int setup(void **state) {
        (void) state;
        unsigned char hash[AUTH_HASH_LEN];
        sked_err err = {0};
        assert_int_equal(auth_token_hash(TOKEN, hash), 0);
        http_config cfg = {.listen = "127.0.0.1:0", .threads = 4, .max_body = MAX_BODY, .token_hash = hash};
        if (http_server_new(&cfg, &srv, &err) < 0)
                fail_msg("%s", err.msg);
        assert_int_equal(
                http_route(srv,
                           &(http_route_def){"GET", "/api/v1/series/{id}/occurrences", 0, h_occurrences, .args = NULL},
                           NULL),
                0);
        assert_int_equal(
                http_route(srv, &(http_route_def){"DELETE", "/api/v1/series/{id}", 0, h_delete, .args = NULL}, NULL),
                0);
        assert_int_equal(
                http_route(srv, &(http_route_def){"GET", "/api/v1/items/{id}", 0, h_item, .args = NULL}, "param"), 0);
        assert_int_equal(
                http_route(srv, &(http_route_def){"GET", "/api/v1/items/special", 0, h_item, .args = NULL}, "literal"),
                0);
        assert_int_equal(
                http_route(srv, &(http_route_def){"POST", "/api/v1/echo", HTTP_BODY_ANY, h_echo, .args = NULL}, NULL),
                0);
        assert_int_equal(
                http_route(srv, &(http_route_def){"GET", "/api/v1/query", 0, h_query, .args = query_args}, NULL), 0);
        assert_int_equal(http_route(srv, &(http_route_def){"GET", "/api/v1/fail", 0, h_fail, .args = NULL}, NULL), 0);
        assert_int_equal(http_route(srv, &(http_route_def){"GET", "/api/v1/twice", 0, h_twice, .args = NULL}, NULL), 0);
        assert_int_equal(http_route(srv, &(http_route_def){"GET", "/api/v1/ping", 0, h_ping, .args = NULL}, NULL), 0);
        assert_int_equal(
                http_route(srv, &(http_route_def){"GET", "/healthz", HTTP_PUBLIC, h_health, .args = NULL}, NULL), 0);
        static const http_route_def assets[] = {
                {"GET", "/assets/{path*}", HTTP_PUBLIC, h_asset, .args = NULL},
                {"GET", "/assets/special/{id}", 0, h_item, .args = NULL},
        };
        assert_int_equal(http_route_table(srv, assets, 2, "table"), 0);
        assert_int_equal(http_route_table(srv, declared, sizeof declared / sizeof declared[0], NULL), 0);
        /* an array body only with an object body; an auth function only on a public route */
        assert_int_equal(http_route(srv, &(http_route_def){"POST", "/x", HTTP_BODY_ARRAY, h_ping, .args = NULL}, NULL),
                         -EINVAL);
        assert_int_equal(http_route(srv, &(http_route_def){"GET", "/x", 0, h_ping, .auth = auth_key}, NULL), -EINVAL);
        assert_int_equal(http_route(srv, &(http_route_def){"GET", "/a/{x*}/b", 0, h_health, .args = NULL}, NULL),
                         -EINVAL);
        assert_int_equal(http_route(srv, &(http_route_def){"GET", "/a/{*}", 0, h_health, .args = NULL}, NULL), -EINVAL);
        assert_int_equal(http_route(srv, &(http_route_def){"GET", "no-slash", 0, h_health, .args = NULL}, NULL),
                         -EINVAL);
        assert_int_equal(http_route(srv, &(http_route_def){"GET", "/a/{}", 0, h_health, .args = NULL}, NULL), -EINVAL);
        assert_int_equal(http_route(srv, &(http_route_def){"GET", "/a/{x", 0, h_health, .args = NULL}, NULL), -EINVAL);
        if (http_server_start(srv, &err) < 0)
                fail_msg("%s", err.msg);
        assert_int_not_equal(http_server_port(srv), 0);
        assert_int_equal(http_route(srv, &(http_route_def){"GET", "/late", 0, h_health, .args = NULL}, NULL), -EBUSY);
        snprintf(base, sizeof base, "http://127.0.0.1:%u", http_server_port(srv));
        return 0;
}

static int teardown(void **state) {
        (void) state;
        http_server_free(srv);
        srv = NULL;
        return 0;
}

/* ---- tests ---- */

static void test_routes(void **state) {
        (void) state;
        struct resp r;

        request("GET", "/api/v1/series/a%2Fb%20c/occurrences", TOKEN, NULL, false, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(header(&r, "Content-Type"), "application/json");
        assert_string_equal(header(&r, "Cache-Control"), "no-store");
        json_t *j = body_json(&r);
        assert_string_equal(json_string_value(json_object_get(j, "id")), "a/b c");
        json_decref(j);
        resp_free(&r);

        request("GET", "/api/v1/items/special", TOKEN, NULL, false, &r);
        j = body_json(&r);
        assert_string_equal(json_string_value(json_object_get(j, "route")), "literal");
        json_decref(j);
        resp_free(&r);
        request("GET", "/api/v1/items/other", TOKEN, NULL, false, &r);
        j = body_json(&r);
        assert_string_equal(json_string_value(json_object_get(j, "route")), "param");
        assert_string_equal(json_string_value(json_object_get(j, "id")), "other");
        json_decref(j);
        resp_free(&r);

        request("GET", "/api/v1/series//occurrences", TOKEN, NULL, false, &r);
        assert_problem(&r, 404, "no such resource");
        resp_free(&r);
        request("GET", "/nope", TOKEN, NULL, false, &r);
        assert_problem(&r, 404, "no such resource: /nope");
        resp_free(&r);
        request("GET", "/api/v1/query/", TOKEN, NULL, false, &r);
        assert_problem(&r, 404, NULL);
        resp_free(&r);

        request("PUT", "/api/v1/series/x/occurrences", TOKEN, NULL, false, &r);
        assert_problem(&r, 405, "method PUT is not allowed");
        assert_string_equal(header(&r, "Allow"), "GET, HEAD");
        resp_free(&r);
        request("GET", "/api/v1/series/x", TOKEN, NULL, false, &r);
        assert_problem(&r, 405, NULL);
        assert_string_equal(header(&r, "Allow"), "DELETE");
        resp_free(&r);

        request("DELETE", "/api/v1/series/x", TOKEN, NULL, false, &r);
        assert_int_equal(r.status, 204);
        assert_int_equal(r.body.len, 0);
        resp_free(&r);
        request("HEAD", "/healthz", NULL, NULL, false, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body.len, 0);
        resp_free(&r);
}

/* {path*} takes the rest of the path; an exact route of as many literals wins. */
static void test_wildcard(void **state) {
        (void) state;
        struct resp r;
        request("GET", "/assets/js/vendor/app%20x.js", NULL, NULL, false, &r);
        assert_int_equal(r.status, 200);
        json_t *j = body_json(&r);
        assert_string_equal(json_string_value(json_object_get(j, "route")), "wild");
        assert_string_equal(json_string_value(json_object_get(j, "path")), "js/vendor/app x.js");
        json_decref(j);
        resp_free(&r);
        request("GET", "/assets/special/7", TOKEN, NULL, false, &r);
        j = body_json(&r);
        assert_string_equal(json_string_value(json_object_get(j, "route")), "table");
        assert_string_equal(json_string_value(json_object_get(j, "id")), "7");
        json_decref(j);
        resp_free(&r);
        request("GET", "/assets", NULL, NULL, false, &r); /* the wildcard needs a segment */
        assert_problem(&r, 404, NULL);
        resp_free(&r);
}

/* Static replies: strong ETag, their own Cache-Control, 304 on If-None-Match. */
static void test_static(void **state) {
        (void) state;
        struct resp r;
        request("GET", "/assets/app.css", NULL, NULL, false, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(strbuf_str(&r.body), "body{color:red}");
        assert_string_equal(header(&r, "Content-Type"), "text/css");
        assert_string_equal(header(&r, "ETag"), "\"css-1\"");
        assert_string_equal(header(&r, "Cache-Control"), "public, max-age=31536000, immutable");
        resp_free(&r);
        const char *match[] = {"If-None-Match: \"css-1\"", "If-None-Match: \"a\", W/\"css-1\"", "If-None-Match: *"};
        for (size_t i = 0; i < 3; i++) {
                extra_header = match[i];
                request("GET", "/assets/app.css", NULL, NULL, false, &r);
                assert_int_equal(r.status, 304);
                assert_int_equal(r.body.len, 0);
                assert_string_equal(header(&r, "ETag"), "\"css-1\"");
                resp_free(&r);
        }
        extra_header = "If-None-Match: \"css-2\", \"css-10\"";
        request("GET", "/assets/app.css", NULL, NULL, false, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body.len, strlen("body{color:red}"));
        resp_free(&r);
        extra_header = NULL;
}

static void test_auth(void **state) {
        (void) state;
        struct resp r;

        request("GET", "/api/v1/ping", NULL, NULL, false, &r);
        assert_problem(&r, 401, "missing");
        assert_non_null(header(&r, "WWW-Authenticate"));
        assert_int_equal(strncmp(header(&r, "WWW-Authenticate"), "Bearer", 6), 0);
        resp_free(&r);

        request("GET", "/api/v1/ping", "wrong-token-wrong-token", NULL, false, &r);
        assert_problem(&r, 401, "invalid token");
        assert_non_null(strstr(header(&r, "WWW-Authenticate"), "invalid_token"));
        resp_free(&r);

        request("GET", "/api/v1/ping", TOKEN "x", NULL, false, &r);
        assert_int_equal(r.status, 401);
        resp_free(&r);

        /* 401 comes before 405 and the body is not read */
        request("POST", "/api/v1/echo", NULL, "{\"a\":1}", false, &r);
        assert_int_equal(r.status, 401);
        resp_free(&r);

        request("GET", "/api/v1/ping", TOKEN, NULL, false, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(strbuf_str(&r.body), "{\"ok\":true}");
        resp_free(&r);

        request("GET", "/healthz", NULL, NULL, false, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(strbuf_str(&r.body), "ok\n");
        assert_string_equal(header(&r, "Content-Type"), "text/plain");
        resp_free(&r);
}

static void test_json_body(void **state) {
        (void) state;
        struct resp r;

        request("POST", "/api/v1/echo", TOKEN, "{\n  \"a\": 1,\n  oops\n}", false, &r);
        assert_problem(&r, 400, "body: invalid JSON at line 3, column ");
        json_t *j = body_json(&r);
        assert_string_equal(json_string_value(json_object_get(j, "field")), "body");
        json_decref(j);
        resp_free(&r);

        request("POST", "/api/v1/echo", TOKEN, "{\"a\":1,\"a\":2}", false, &r);
        assert_problem(&r, 400, "body: invalid JSON at line 1");
        resp_free(&r);

        request("POST", "/api/v1/echo", TOKEN, "{\"name\":\"n\",\"n\":[1,2]}", false, &r);
        assert_int_equal(r.status, 201);
        assert_string_equal(header(&r, "ETag"), "\"v7\"");
        assert_string_equal(header(&r, "Location"), "/api/v1/echo/42");
        assert_string_equal(strbuf_str(&r.body), "{\"got\":{\"name\":\"n\",\"n\":[1,2]}}");
        resp_free(&r);

        /* no body: handler sees NULL */
        request("POST", "/api/v1/echo", TOKEN, NULL, false, &r);
        assert_int_equal(r.status, 201);
        assert_string_equal(strbuf_str(&r.body), "{\"got\":null}");
        resp_free(&r);

        /* non-object JSON reaches the handler */
        request("POST", "/api/v1/echo", TOKEN, "42", false, &r);
        assert_int_equal(r.status, 201);
        assert_string_equal(strbuf_str(&r.body), "{\"got\":42}");
        resp_free(&r);
}

static char *json_of_size(size_t n) {
        char *s = malloc(n + 1);
        assert_non_null(s);
        memset(s, ' ', n);
        s[0] = '[';
        s[n - 1] = ']';
        s[n] = '\0';
        return s;
}

static void test_body_limit(void **state) {
        (void) state;
        struct resp r;
        char *big = json_of_size(MAX_BODY + 1);
        char *fits = json_of_size(MAX_BODY);

        request("POST", "/api/v1/echo", TOKEN, big, false, &r);
        assert_problem(&r, 413, "body: 1025 bytes exceeds the limit of 1024 bytes");
        resp_free(&r);

        request("POST", "/api/v1/echo", TOKEN, big, true, &r);
        assert_problem(&r, 413, "body: exceeds the limit of 1024 bytes");
        resp_free(&r);

        request("POST", "/api/v1/echo", TOKEN, fits, true, &r);
        assert_int_equal(r.status, 201);
        assert_string_equal(strbuf_str(&r.body), "{\"got\":[]}");
        resp_free(&r);

        request("POST", "/api/v1/echo", TOKEN, fits, false, &r);
        assert_int_equal(r.status, 201);
        resp_free(&r);
        free(big);
        free(fits);
}

static void test_query(void **state) {
        (void) state;
        struct resp r;
        request("GET", "/api/v1/query?q=a%20b%2Bc%26d&flag", TOKEN, NULL, false, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(strbuf_str(&r.body), "{\"q\":\"a b+c&d\",\"flag\":\"\",\"missing\":null}");
        resp_free(&r);
}

/* What a route declares is all it gets: its arguments, its members, If-Match where
 * it takes it; a route's own auth runs before its input is looked at. */
static void test_declared(void **state) {
        (void) state;
        struct resp r;
        static const struct {
                const char *method, *path, *body, *header;
                int status;
                const char *field; /* NULL: 200 */
        } cases[] = {
                {"POST", "/api/v1/declared?a=1", "{\"x\":1,\"y\":2}", NULL, 200, NULL},
                {"POST", "/api/v1/declared", "[{\"x\":1},{\"y\":2}]", NULL, 200, NULL},
                {"POST", "/api/v1/declared?b=1", "{}", NULL, 400, "b"},
                {"POST", "/api/v1/declared?a=1&a=2", "{}", NULL, 400, "a"},
                {"POST", "/api/v1/declared?a=%ff", "{}", NULL, 400, "a"},
                {"POST", "/api/v1/declared", "{\"z\":1}", NULL, 400, "z"},
                {"POST", "/api/v1/declared", "[{\"x\":1},{\"z\":1}]", NULL, 400, "[1].z"},
                {"POST", "/api/v1/declared", "[{\"x\":1},3]", NULL, 400, "[1]"},
                {"POST", "/api/v1/declared", "3", NULL, 400, "body"},
                {"POST", "/api/v1/declared", NULL, NULL, 400, "body"},
                {"POST", "/api/v1/declared", "{}", "If-Match: \"1\"", 400, "If-Match"},
                {"PATCH", "/api/v1/declared", NULL, "If-Match: \"1\"", 200, NULL},
                {"PATCH", "/api/v1/declared", "[]", NULL, 400, "body"},
                {"PATCH", "/api/v1/declared", "{\"y\":1}", NULL, 400, "y"},
                {"GET", "/api/v1/declared", "{}", NULL, 400, "body"},
                {"GET", "/api/v1/keyed?a=1", NULL, NULL, 401, "key"},
                {"GET", "/api/v1/keyed?a=1&zz=1", NULL, NULL, 401, "key"}, /* auth first */
                {"GET", "/api/v1/keyed?key=open&zz=1", NULL, NULL, 400, "zz"},
                {"GET", "/api/v1/keyed?key=open&a=%C3%A9", NULL, NULL, 200, NULL},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                extra_header = cases[i].header;
                request(cases[i].method, cases[i].path, TOKEN, cases[i].body, false, &r);
                extra_header = NULL;
                if (r.status != cases[i].status)
                        fail_msg("%s %s %s: %ld %s", cases[i].method, cases[i].path, cases[i].body ? cases[i].body : "",
                                 r.status, strbuf_str(&r.body));
                if (cases[i].field) {
                        json_t *j = body_json(&r);
                        const char *f = json_string_value(json_object_get(j, "field"));
                        if (!f || strcmp(f, cases[i].field) != 0)
                                fail_msg("%s %s: field %s, want %s", cases[i].method, cases[i].path, f ? f : "(none)",
                                         cases[i].field);
                        json_decref(j);
                }
                resp_free(&r);
        }
        request("GET", "/api/v1/keyed?key=open&a=%C3%A9", NULL, NULL, false, &r);
        assert_string_equal(strbuf_str(&r.body), "{\"body\":null,\"a\":\"\xc3\xa9\",\"if_match\":null}");
        resp_free(&r);
}

static void test_handler_errors(void **state) {
        (void) state;
        struct resp r;
        request("GET", "/api/v1/fail", TOKEN, NULL, false, &r);
        assert_problem(&r, 500, "internal error");
        resp_free(&r);

        request("GET", "/api/v1/twice", TOKEN, NULL, false, &r);
        assert_problem(&r, 409, "name \"x\" is taken");
        json_t *j = body_json(&r);
        assert_string_equal(json_string_value(json_object_get(j, "field")), "series.name");
        assert_string_equal(json_string_value(json_object_get(j, "title")), "Conflict");
        json_decref(j);
        resp_free(&r);
}

static void *hammer(void *arg) {
        long *ok = arg;
        client *c = NULL;
        sked_err err = {0};
        if (client_new(base, TOKEN, NULL, &c, &err) < 0)
                return NULL;
        for (int i = 0; i < 200; i++) {
                long status = 0;
                json_t *j = NULL;
                char path[64], id[16];
                snprintf(id, sizeof id, "s%d", i);
                snprintf(path, sizeof path, "/api/v1/series/%s/occurrences", id);
                if (client_request(c, "GET", path, NULL, &status, &j, &err) == 0 && status == 200 &&
                    json_is_object(j) && strcmp(json_string_value(json_object_get(j, "id")), id) == 0)
                        (*ok)++;
                else
                        fprintf(stderr, "%s: status %ld: %s\n", path, status, err.msg);
                json_decref(j);
        }
        client_free(c);
        return NULL;
}

static void test_concurrency(void **state) {
        (void) state;
        pthread_t th[8];
        long ok[8] = {0};
        for (int i = 0; i < 8; i++)
                assert_int_equal(pthread_create(&th[i], NULL, hammer, &ok[i]), 0);
        for (int i = 0; i < 8; i++) {
                pthread_join(th[i], NULL);
                assert_int_equal(ok[i], 200);
        }
}

static void test_client(void **state) {
        (void) state;
        client *c = NULL;
        sked_err err = {0};
        long status = 0;
        json_t *j = NULL;

        assert_int_equal(client_new(base, TOKEN, NULL, &c, &err), 0);
        json_t *body = json_pack("{s:i}", "x", 1);
        assert_int_equal(client_request(c, "POST", "/api/v1/echo", body, &status, &j, &err), 0);
        json_decref(body);
        assert_int_equal(status, 201);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "got"), "x")), 1);
        json_decref(j);

        /* problem replies: still 0, with err holding detail and field */
        assert_int_equal(client_request(c, "GET", "/api/v1/twice", NULL, &status, &j, &err), 0);
        assert_int_equal(status, 409);
        assert_non_null(j);
        assert_string_equal(err.field, "series.name");
        assert_string_equal(err.msg, "series.name: name \"x\" is taken");
        json_decref(j);

        char *text = NULL;
        assert_int_equal(client_request_text(c, "GET", "/healthz", &status, &text, &err), 0);
        assert_int_equal(status, 200);
        assert_string_equal(text, "ok\n");
        free(text);
        client_free(c);

        /* no token anywhere: 401 says where it looked */
        setenv("SKED_DATA_DIR", "/nonexistent-sked-dir", 1);
        unsetenv("SKED_TOKEN");
        assert_int_equal(client_new(base, NULL, NULL, &c, &err), 0);
        assert_int_equal(client_request(c, "GET", "/api/v1/ping", NULL, &status, NULL, &err), 0);
        assert_int_equal(status, 401);
        assert_int_equal(err.code, -EACCES);
        assert_non_null(strstr(err.msg, "/nonexistent-sked-dir/admin.token"));
        client_free(c);
        unsetenv("SKED_DATA_DIR");

        assert_int_equal(client_new("ftp://x", NULL, NULL, &c, &err), -EINVAL);
        assert_string_equal(err.field, "url");
        client_free(NULL);
}

static void test_client_unreachable(void **state) {
        (void) state;
        /* a port nobody listens on: bind without listen() */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &len), 0);
        char url[64], expect[256];
        snprintf(url, sizeof url, "http://127.0.0.1:%u", ntohs(a.sin_port));

        client *c = NULL;
        sked_err err = {0};
        long status = 0;
        assert_int_equal(client_new(url, "t", NULL, &c, &err), 0);
        assert_true(client_request(c, "GET", "/healthz", NULL, &status, NULL, &err) < 0);
        snprintf(expect, sizeof expect, "cannot reach sked at %s: Connection refused (is 'sked serve' running?)", url);
        assert_string_equal(err.msg, expect);
        client_free(c);
        close(fd);
}

static void test_listen(void **state) {
        (void) state;
        http_server *s = NULL;
        sked_err err = {0};
        http_config cfg = {.listen = "localhost:8080"};
        assert_int_equal(http_server_new(&cfg, &s, &err), -EINVAL);
        assert_string_equal(err.field, "listen");
        assert_non_null(strstr(err.msg, "localhost:8080"));
        const char *bad[] = {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "::1:80", "[::1]80", "1.2.3:80", ""};
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                cfg.listen = bad[i];
                if (http_server_new(&cfg, &s, &err) != -EINVAL)
                        fail_msg("\"%s\" accepted", bad[i]);
        }

        /* the port of the running server is taken */
        char addr[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%u", http_server_port(srv));
        cfg.listen = addr;
        assert_int_equal(http_server_new(&cfg, &s, &err), 0);
        assert_int_equal(http_route(s, &(http_route_def){"GET", "/healthz", HTTP_PUBLIC, h_health, .args = NULL}, NULL),
                         0);
        assert_int_equal(http_server_start(s, &err), -EADDRINUSE);
        assert_non_null(strstr(err.msg, "Address already in use"));
        http_server_free(s);

        /* IPv6 in brackets, if the host has it */
        cfg.listen = "[::1]:0";
        assert_int_equal(http_server_new(&cfg, &s, &err), 0);
        assert_int_equal(http_route(s, &(http_route_def){"GET", "/healthz", HTTP_PUBLIC, h_health, .args = NULL}, NULL),
                         0);
        if (http_server_start(s, &err) == 0) {
                client *c = NULL;
                char url[64], *text = NULL;
                long status = 0;
                snprintf(url, sizeof url, "http://[::1]:%u", http_server_port(s));
                assert_int_equal(client_new(url, "t", NULL, &c, &err), 0);
                assert_int_equal(client_request_text(c, "GET", "/healthz", &status, &text, &err), 0);
                assert_int_equal(status, 200);
                free(text);
                client_free(c);
                http_server_stop(s);
                http_server_stop(s);
        } else {
                print_message("IPv6 loopback unavailable, skipped: %s\n", err.msg);
        }
        http_server_free(s);
        http_server_free(NULL);
}

static void test_token_file(void **state) {
        (void) state;
        char dir[] = "/tmp/sked-http-test-XXXXXX", path[128], tok1[65], tok2[65];
        bool created = false;
        sked_err err = {0};
        struct stat st;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/admin.token", dir);
        assert_int_equal(auth_token_file_ensure(path, tok1, &created, &err), 0);
        assert_true(created);
        assert_int_equal(strlen(tok1), 64);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        assert_int_equal(auth_token_file_ensure(path, tok2, &created, &err), 0);
        assert_false(created);
        assert_string_equal(tok1, tok2);

        unsigned char hash[AUTH_HASH_LEN];
        assert_int_equal(auth_token_hash(tok1, hash), 0);
        assert_true(auth_token_matches(tok1, hash));
        tok2[0] = tok2[0] == 'a' ? 'b' : 'a';
        assert_false(auth_token_matches(tok2, hash));
        assert_false(auth_token_matches(NULL, hash));

        /* the CLI finds it through the data dir */
        client *c = NULL;
        long status = 0;
        unsetenv("SKED_TOKEN");
        assert_int_equal(client_new(base, NULL, dir, &c, &err), 0);
        client_free(c);

        assert_int_equal(chmod(path, 0644), 0);
        assert_int_equal(auth_token_file_ensure(path, tok2, &created, &err), -EPERM);
        assert_string_equal(err.field, "token_file");
        assert_non_null(strstr(err.msg, "0644"));
        assert_non_null(strstr(err.msg, "chmod 600"));

        /* a symlink is refused, not followed */
        char link_path[160];
        snprintf(link_path, sizeof link_path, "%s/link.token", dir);
        assert_int_equal(symlink(path, link_path), 0);
        assert_int_equal(auth_token_file_ensure(link_path, tok2, &created, &err), -ELOOP);

        /* a missing directory is an error naming the path */
        char missing[160];
        snprintf(missing, sizeof missing, "%s/nope/admin.token", dir);
        assert_true(auth_token_file_ensure(missing, tok2, &created, &err) < 0);
        assert_non_null(strstr(err.msg, missing));

        (void) status;
        unlink(link_path);
        unlink(path);
        rmdir(dir);

        char gen[65];
        assert_int_equal(auth_token_generate(gen), 0);
        assert_int_equal(strspn(gen, "0123456789abcdef"), 64);
}

static atomic_int slow_started;

static int h_slow(http_req *r, void *ud) {
        (void) ud;
        atomic_store(&slow_started, 1);
        usleep(300 * 1000);
        http_reply_json(r, 200, json_pack("{s:s}", "slow", "done"));
        return 0;
}

struct slow_call {
        char url[64];
        long status;
        int ret;
};

static void *call_slow(void *arg) {
        struct slow_call *sc = arg;
        client *c = NULL;
        sked_err err = {0};
        sc->ret = client_new(sc->url, "t", NULL, &c, &err);
        if (sc->ret == 0)
                sc->ret = client_request(c, "GET", "/slow", NULL, &sc->status, NULL, &err);
        client_free(c);
        return NULL;
}

/* stop() lets a request in flight finish and be answered, then refuses new ones */
static void test_stop_waits(void **state) {
        (void) state;
        http_server *s = NULL;
        sked_err err = {0};
        http_config cfg = {.listen = "127.0.0.1:0", .threads = 2};
        assert_int_equal(http_server_new(&cfg, &s, &err), 0);
        assert_int_equal(http_route(s, &(http_route_def){"GET", "/slow", HTTP_PUBLIC, h_slow, .args = NULL}, NULL), 0);
        assert_int_equal(http_server_start(s, &err), 0);

        struct slow_call sc = {.status = 0, .ret = -1};
        snprintf(sc.url, sizeof sc.url, "http://127.0.0.1:%u", http_server_port(s));
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, call_slow, &sc), 0);
        for (int i = 0; i < 500 && !atomic_load(&slow_started); i++)
                usleep(10 * 1000);
        assert_true(atomic_load(&slow_started));
        http_server_stop(s);
        pthread_join(th, NULL);
        assert_int_equal(sc.ret, 0);
        assert_int_equal(sc.status, 200);

        atomic_store(&slow_started, 0);
        call_slow(&sc);
        assert_true(sc.ret < 0);
        assert_false(atomic_load(&slow_started));
        http_server_free(s);
}

int main(void) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_routes),         cmocka_unit_test(test_wildcard),
                cmocka_unit_test(test_static),         cmocka_unit_test(test_auth),
                cmocka_unit_test(test_json_body),      cmocka_unit_test(test_body_limit),
                cmocka_unit_test(test_query),          cmocka_unit_test(test_declared),
                cmocka_unit_test(test_handler_errors), cmocka_unit_test(test_concurrency),
                cmocka_unit_test(test_client),         cmocka_unit_test(test_client_unreachable),
                cmocka_unit_test(test_listen),         cmocka_unit_test(test_token_file),
                cmocka_unit_test(test_stop_waits),
        };
        int r = cmocka_run_group_tests(tests, setup, teardown);
        curl_global_cleanup();
        return r;
}
