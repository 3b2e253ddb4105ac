#include "api/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/auth.h"
#include "base/log.h"
#include "base/strbuf.h"

#define MAX_PARAMS 8
#define MAX_SEGS 32
/* After a 413 is decided for a chunked upload we keep reading (and dropping) at most
 * this much more before closing the connection, so the client can see the 413. */
#define DISCARD_MAX (4u << 20)

struct route {
        char *method;
        char *pattern;        /* copy, split in place into segs */
        char *name;           /* the pattern as registered, for the access log (metrics) */
        char *segs[MAX_SEGS]; /* "{name}" segments stored as name with is_param set */
        bool is_param[MAX_SEGS];
        size_t nsegs;
        size_t literals;
        bool wild; /* the last segment is "{name*}": it takes the rest of the path */
        unsigned flags;
        http_handler_fn fn;
        void *userdata;
};

struct http_server {
        char listen[80];
        struct sockaddr_storage addr;
        bool ipv6;
        unsigned threads, max_connections, timeout_s;
        size_t max_body;
        unsigned char token_hash[AUTH_HASH_LEN];
        bool have_hash;
        http_access_log_fn access_log;
        void *access_log_userdata;

        struct route *routes;
        size_t nroutes, cap;

        struct MHD_Daemon *daemon;
        uint16_t port;
        atomic_bool starting; /* MHD log lines go to start_msg while true */
        char start_msg[256];
        atomic_long inflight; /* requests between URI parse and completion */
};

struct http_req {
        http_server *srv;
        struct MHD_Connection *conn;
        const char *method;
        const char *path; /* decoded by MHD */
        char *raw;        /* raw request target, split in place for params */
        const struct route *route;
        size_t nparams;
        const char *pnames[MAX_PARAMS];
        char *pvalues[MAX_PARAMS];
        bool started;
        bool too_large;
        size_t discarded;
        strbuf body;
        json_t *json;

        struct MHD_Response *resp;
        unsigned status;
        bool replied;
        strbuf hdrs; /* "name\0value\0" pairs */
        struct timespec t0;
        /* http_defer: suspended until http_resume, then cont replies */
        http_start_fn defer_start;
        http_handler_fn defer_cont;
        void *defer_ud;
        bool deferred;
};

static const char json_ctype[] = "application/json";
static const char problem_type[] = "application/problem+json";

/* ---- configuration ---- */

static int parse_port(const char *p, uint16_t *ret) {
        unsigned long v = 0;
        if (!*p || strlen(p) > 5)
                return -EINVAL;
        for (const char *c = p; *c; c++) {
                if (*c < '0' || *c > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned long) (*c - '0');
        }
        if (v > 65535)
                return -EINVAL;
        *ret = (uint16_t) v;
        return 0;
}

static int parse_listen(http_server *s, const char *listen, sked_err *err) {
        char host[64];
        const char *port;
        uint16_t pnum;

        if (!listen || strlen(listen) >= sizeof s->listen)
                goto bad;
        if (listen[0] == '[') {
                const char *end = strchr(listen, ']');
                if (!end || end[1] != ':' || (size_t) (end - listen - 1) >= sizeof host)
                        goto bad;
                memcpy(host, listen + 1, (size_t) (end - listen - 1));
                host[end - listen - 1] = '\0';
                port = end + 2;
                struct sockaddr_in6 *a = (struct sockaddr_in6 *) &s->addr;
                if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1 || parse_port(port, &pnum) < 0)
                        goto bad;
                a->sin6_family = AF_INET6;
                a->sin6_port = htons(pnum);
                s->ipv6 = true;
        } else {
                const char *colon = strchr(listen, ':');
                if (!colon || strchr(colon + 1, ':') || (size_t) (colon - listen) >= sizeof host)
                        goto bad;
                memcpy(host, listen, (size_t) (colon - listen));
                host[colon - listen] = '\0';
                port = colon + 1;
                struct sockaddr_in *a = (struct sockaddr_in *) &s->addr;
                if (inet_pton(AF_INET, host, &a->sin_addr) != 1 || parse_port(port, &pnum) < 0)
                        goto bad;
                a->sin_family = AF_INET;
                a->sin_port = htons(pnum);
        }
        snprintf(s->listen, sizeof s->listen, "%s", listen);
        return 0;
bad:
        return err_field(err, -EINVAL, "listen",
                         "\"%s\": expected an IP address and port, like 127.0.0.1:8080 or [::1]:8080 "
                         "(host names are not resolved)",
                         listen ? listen : "");
}

int http_server_new(const http_config *cfg, http_server **ret, sked_err *err) {
        http_server *s = calloc(1, sizeof *s);
        int r;

        if (!s)
                return err_set(err, -ENOMEM, "out of memory");
        r = parse_listen(s, cfg->listen, err);
        if (r < 0) {
                free(s);
                return r;
        }
        s->threads = cfg->threads ? cfg->threads : 4;
        s->max_body = cfg->max_body ? cfg->max_body : (size_t) 1 << 20;
        s->max_connections = cfg->max_connections ? cfg->max_connections : 512;
        s->timeout_s = cfg->timeout_s ? cfg->timeout_s : 30;
        if (cfg->token_hash) {
                memcpy(s->token_hash, cfg->token_hash, AUTH_HASH_LEN);
                s->have_hash = true;
        }
        s->access_log = cfg->access_log;
        s->access_log_userdata = cfg->access_log_userdata;
        atomic_init(&s->starting, false);
        atomic_init(&s->inflight, 0);
        *ret = s;
        return 0;
}

void http_set_access_log(http_server *s, http_access_log_fn fn, void *userdata) {
        if (s->daemon)
                return;
        s->access_log = fn;
        s->access_log_userdata = userdata;
}

int http_route(http_server *s, const char *method, const char *pattern, unsigned flags, http_handler_fn fn,
               void *userdata) {
        struct route rt = {0};
        size_t nparams = 0;

        if (s->daemon)
                return -EBUSY;
        if (!method || !*method || !pattern || pattern[0] != '/' || !fn)
                return -EINVAL;
        rt.method = strdup(method);
        rt.pattern = strdup(pattern);
        rt.name = strdup(pattern);
        if (!rt.method || !rt.pattern || !rt.name)
                goto nomem;
        /* "/" has no segments; "/a/{b}" has "a" and "b" */
        for (char *p = rt.pattern + 1; *p;) {
                if (rt.nsegs == MAX_SEGS)
                        goto bad;
                char *slash = strchr(p, '/');
                if (slash)
                        *slash = '\0';
                size_t n = strlen(p);
                if (p[0] == '{') {
                        if (n < 3 || p[n - 1] != '}' || ++nparams > MAX_PARAMS || rt.wild)
                                goto bad;
                        p[n - 1] = '\0';
                        p++;
                        if (p[n - 3] == '*') { /* "{name*}": only as the last segment */
                                if (slash || n < 4)
                                        goto bad;
                                p[n - 3] = '\0';
                                rt.wild = true;
                        }
                        rt.is_param[rt.nsegs] = true;
                } else {
                        if (n == 0 || strpbrk(p, "{}"))
                                goto bad;
                        rt.literals++;
                }
                rt.segs[rt.nsegs++] = p;
                if (!slash)
                        break;
                p = slash + 1;
                if (!*p)
                        goto bad; /* trailing slash */
        }
        if (s->nroutes == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 16;
                struct route *n = realloc(s->routes, cap * sizeof *n);
                if (!n)
                        goto nomem;
                s->routes = n;
                s->cap = cap;
        }
        rt.flags = flags;
        rt.fn = fn;
        rt.userdata = userdata;
        s->routes[s->nroutes++] = rt;
        return 0;
bad:
        free(rt.method);
        free(rt.pattern);
        free(rt.name);
        return -EINVAL;
nomem:
        free(rt.method);
        free(rt.pattern);
        free(rt.name);
        return -ENOMEM;
}

int http_route_table(http_server *s, const http_route_def *defs, size_t n, void *userdata) {
        for (size_t i = 0; i < n; i++) {
                int r = http_route(s, defs[i].method, defs[i].pattern, defs[i].flags, defs[i].fn, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

size_t http_route_count(const http_server *s) {
        return s->nroutes;
}

void http_route_at(const http_server *s, size_t i, const char **ret_method, const char **ret_pattern,
                   unsigned *ret_flags) {
        if (i >= s->nroutes)
                abort(); /* a caller's loop past http_route_count: a bug, not input */
        *ret_method = s->routes[i].method;
        *ret_pattern = s->routes[i].name;
        *ret_flags = s->routes[i].flags;
}

/* ---- replies ---- */

static struct MHD_Response *make_response(const void *data, size_t len, bool copy) {
        if (len == 0)
                return MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        return MHD_create_response_from_buffer(len, (void *) data,
                                               copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_MUST_FREE);
}

/* Installs resp (may be NULL on OOM: a static 500 is used) as the reply, with
 * Cache-Control: cache_control (NULL: no-store, as every API reply). */
static void set_reply_cached(http_req *r, unsigned status, struct MHD_Response *resp, const char *content_type,
                             const char *cache_control) {
        static const char oom[] = "{\"type\":\"about:blank\",\"title\":\"Internal Server Error\","
                                  "\"status\":500,\"detail\":\"out of memory\"}";
        if (r->replied) {
                log_error("http: handler for %s %s replied twice; second reply dropped", r->method, r->path);
                if (resp)
                        MHD_destroy_response(resp);
                return;
        }
        if (!resp) {
                status = 500;
                content_type = problem_type;
                resp = MHD_create_response_from_buffer(sizeof oom - 1, (void *) oom, MHD_RESPMEM_PERSISTENT);
                if (!resp)
                        return; /* nothing queued: the connection gets closed */
        }
        if (content_type)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                                cache_control && status != 500 ? cache_control : "no-store");
        r->resp = resp;
        r->status = status;
        r->replied = true;
}

static void set_reply(http_req *r, unsigned status, struct MHD_Response *resp, const char *content_type) {
        set_reply_cached(r, status, resp, content_type, NULL);
}

/* True when an If-None-Match list ("*", or quoted tags, W/ allowed, comma-separated)
 * names etag; RFC 9110 13.1.2: the weak comparison, so W/"x" matches "x". */
static bool etag_listed(const char *list, const char *etag) {
        if (!list)
                return false;
        const char *want = etag;
        size_t wn = strlen(want);
        for (const char *p = list; *p;) {
                p += strspn(p, " \t,");
                if (!*p)
                        break;
                if (*p == '*')
                        return true;
                if (p[0] == 'W' && p[1] == '/')
                        p += 2;
                size_t n = strcspn(p, " \t,");
                if (n == wn && memcmp(p, want, n) == 0)
                        return true;
                p += n;
        }
        return false;
}

void http_reply_static(http_req *r, const char *content_type, const void *body, size_t len, const char *etag,
                       const char *cache_control) {
        struct MHD_Response *resp;
        unsigned status = 200;
        if (etag && etag_listed(http_header(r, "If-None-Match"), etag)) {
                status = 304; /* no body, and no Content-Type to describe one */
                resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
                content_type = NULL;
        } else {
                resp = MHD_create_response_from_buffer(len, (void *) body, MHD_RESPMEM_PERSISTENT);
        }
        if (resp && etag)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
        set_reply_cached(r, status, resp, content_type, cache_control ? cache_control : "no-cache");
}

void http_reply_json(http_req *r, int status, json_t *body) {
        struct MHD_Response *resp;
        if (!body) {
                set_reply(r, (unsigned) status, make_response(NULL, 0, false), NULL);
                return;
        }
        char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(body);
        resp = text ? make_response(text, strlen(text), false) : NULL;
        if (text && !resp)
                free(text);
        set_reply(r, (unsigned) status, resp, json_ctype);
}

static void reply_problemv(http_req *r, int status, const char *field, const char *fmt, va_list ap) {
        strbuf detail = STRBUF_INIT;
        struct MHD_Response *resp = NULL;
        char *text = NULL;
        const char *title = MHD_get_reason_phrase_for((unsigned) status);

        strbuf_vprintf(&detail, fmt, ap);
        json_t *doc =
                json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", title && *title ? title : "Error",
                          "status", status, "detail", strbuf_str(&detail) ? strbuf_str(&detail) : "");
        if (doc && field)
                json_object_set_new(doc, "field", json_string(field));
        if (doc)
                text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        strbuf_free(&detail);
        if (text) {
                resp = make_response(text, strlen(text), false);
                if (!resp)
                        free(text);
        }
        set_reply(r, (unsigned) status, resp, problem_type);
}

void http_reply_problem(http_req *r, int status, const char *field, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        reply_problemv(r, status, field, fmt, ap);
        va_end(ap);
}

/* for framework errors, before the request reached a handler */
static void problem(http_req *r, int status, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void problem(http_req *r, int status, const char *field, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        reply_problemv(r, status, field, fmt, ap);
        va_end(ap);
}

void http_reply_text(http_req *r, int status, const char *content_type, const char *body, size_t len) {
        set_reply(r, (unsigned) status, make_response(body, len, true), content_type);
}

void http_reply_text_take(http_req *r, int status, const char *content_type, char *body, size_t len) {
        struct MHD_Response *resp = make_response(body, len, false);
        if (!resp || len == 0)
                free(body); /* not taken by libmicrohttpd */
        set_reply(r, (unsigned) status, resp, content_type);
}

void http_add_header(http_req *r, const char *name, const char *value) {
        if (r->replied && r->resp) {
                MHD_add_response_header(r->resp, name, value);
                return;
        }
        strbuf_append(&r->hdrs, name, strlen(name) + 1);
        strbuf_append(&r->hdrs, value, strlen(value) + 1);
}

/* Queues the reply; returns what the access handler should return. */
static enum MHD_Result send_reply(http_req *r) {
        if (!r->replied || !r->resp)
                return MHD_NO;
        if (r->hdrs.oom)
                log_error("http: %s %s: out of memory adding headers", r->method, r->path);
        for (size_t i = 0; i < r->hdrs.len;) {
                const char *name = r->hdrs.data + i;
                const char *value = name + strlen(name) + 1;
                MHD_add_response_header(r->resp, name, value);
                i = (size_t) (value - r->hdrs.data) + strlen(value) + 1;
        }
        enum MHD_Result ret = MHD_queue_response(r->conn, r->status, r->resp);
        MHD_destroy_response(r->resp);
        r->resp = NULL;
        return ret;
}

/* ---- accessors ---- */

const char *http_path(const http_req *r) {
        return r->path;
}

const char *http_param(const http_req *r, const char *name) {
        for (size_t i = 0; i < r->nparams; i++)
                if (strcmp(r->pnames[i], name) == 0)
                        return r->pvalues[i];
        return NULL;
}

const char *http_query(const http_req *r, const char *name) {
        const char *v = NULL;
        /* "?flag" is stored with a NULL value; tell it apart from an absent key */
        if (MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v, NULL) != MHD_YES)
                return NULL;
        return v ? v : "";
}

const char *http_header(const http_req *r, const char *name) {
        return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

json_t *http_body_json(http_req *r) {
        return r->json;
}

/* ---- dispatch ---- */

/* Finds the route for r: sets r->route and params and returns 0, or replies
 * 404/405 and returns -1. */
static int match_route(http_req *r) {
        http_server *s = r->srv;
        char *segs[MAX_SEGS];
        size_t nsegs = 0;
        const struct route *best = NULL;
        strbuf allow = STRBUF_INIT;
        const char *m = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
        char *p = r->raw;

        /* raw target: "/a/b%2Fc?x=1" → segments "a", "b%2Fc" */
        if (!p || p[0] != '/')
                goto not_found;
        p[strcspn(p, "?#")] = '\0';
        if (p[1]) {
                for (p++;;) {
                        if (nsegs == MAX_SEGS)
                                goto not_found;
                        segs[nsegs++] = p;
                        p = strchr(p, '/');
                        if (!p)
                                break;
                        *p++ = '\0';
                }
        }
        for (size_t i = 0; i < s->nroutes; i++) {
                const struct route *rt = &s->routes[i];
                bool ok = rt->wild ? nsegs >= rt->nsegs : rt->nsegs == nsegs;
                for (size_t k = 0; ok && k < rt->nsegs; k++)
                        ok = rt->is_param[k] ? segs[k][0] != '\0' : strcmp(rt->segs[k], segs[k]) == 0;
                if (!ok)
                        continue;
                if (strcmp(rt->method, m) == 0) {
                        /* most literal segments first; at a tie, exact before wildcard */
                        if (!best || rt->literals > best->literals ||
                            (rt->literals == best->literals && best->wild && !rt->wild))
                                best = rt;
                } else if (!strstr(strbuf_str(&allow) ? strbuf_str(&allow) : "", rt->method)) {
                        /* substring test is fine for the handful of method names */
                        strbuf_printf(&allow, "%s%s", allow.len ? ", " : "", rt->method);
                        if (strcmp(rt->method, "GET") == 0)
                                strbuf_puts(&allow, ", HEAD");
                }
        }
        if (best) {
                strbuf_free(&allow);
                r->route = best;
                if (best->wild) /* join the rest again: its segments lie in place in raw */
                        for (size_t k = best->nsegs; k < nsegs; k++)
                                segs[k][-1] = '/';
                for (size_t k = 0; k < best->nsegs; k++) {
                        if (!best->is_param[k])
                                continue;
                        MHD_http_unescape(segs[k]);
                        r->pnames[r->nparams] = best->segs[k];
                        r->pvalues[r->nparams++] = segs[k];
                }
                return 0;
        }
        if (allow.len > 0) {
                http_add_header(r, MHD_HTTP_HEADER_ALLOW, strbuf_str(&allow));
                problem(r, 405, NULL, "method %s is not allowed for %s; allowed: %s", r->method, r->path,
                        strbuf_str(&allow));
                strbuf_free(&allow);
                return -1;
        }
not_found:
        strbuf_free(&allow);
        problem(r, 404, NULL, "no such resource: %s", r->path);
        return -1;
}

bool http_authorized(http_req *r) {
        const char *h = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!h || !r->srv->have_hash || strncasecmp(h, "Bearer ", 7) != 0)
                return false;
        h += 7;
        while (*h == ' ')
                h++;
        return auth_token_matches(h, r->srv->token_hash);
}

/* First call: route, auth, early size check.  Returns -1 if a reply was set. */
static int on_headers(http_req *r) {
        if (match_route(r) < 0)
                return -1;
        if (!(r->route->flags & HTTP_PUBLIC) && !http_authorized(r)) {
                bool presented = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION) != NULL;
                http_add_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                presented ? "Bearer realm=\"sked\", error=\"invalid_token\"" : "Bearer realm=\"sked\"");
                problem(r, 401, NULL, "%s",
                        presented ? "invalid token" : "missing \"Authorization: Bearer <token>\" header");
                return -1;
        }
        const char *cl = http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
                char *end;
                errno = 0;
                unsigned long long n = strtoull(cl, &end, 10);
                if (errno == 0 && end != cl && *end == '\0' && n > r->srv->max_body) {
                        problem(r, 413, NULL, "body: %llu bytes exceeds the limit of %zu bytes", n, r->srv->max_body);
                        return -1;
                }
        }
        return 0;
}

static void run_handler(http_req *r) {
        if (r->too_large) {
                problem(r, 413, NULL, "body: exceeds the limit of %zu bytes", r->srv->max_body);
                return;
        }
        if (r->body.oom) {
                problem(r, 500, NULL, "out of memory reading the body");
                return;
        }
        if (r->body.len > 0) {
                json_error_t je;
                r->json = json_loadb(r->body.data, r->body.len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
                if (!r->json) {
                        problem(r, 400, "body", "body: invalid JSON at line %d, column %d: %s", je.line, je.column,
                                je.text);
                        return;
                }
        }
        int ret = r->route->fn(r, r->route->userdata);
        if (!r->replied && !r->deferred) {
                char buf[128] = "";
                /* GNU strerror_r: thread-safe, returns the text (maybe not in buf) */
                const char *why = ret < 0 ? strerror_r(-ret, buf, sizeof buf) : "no reply";
                problem(r, 500, NULL, "internal error: %s", why);
        }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        http_req *r = *con_cls;
        (void) cls;
        (void) version;

        if (!r)
                return MHD_NO; /* the URI callback ran out of memory */
        if (!r->started) {
                r->started = true;
                r->method = method;
                r->path = url;
                if (on_headers(r) < 0)
                        return send_reply(r);
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;
                *upload_data_size = 0;
                if (r->too_large || n > r->srv->max_body - r->body.len) {
                        /* MHD cannot queue a reply while handing us upload data: drop
                         * the rest (bounded) and answer 413 at the end */
                        if (!r->too_large) {
                                r->too_large = true;
                                strbuf_free(&r->body);
                        }
                        r->discarded += n;
                        return r->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
                }
                strbuf_append(&r->body, upload_data, n);
                return MHD_YES;
        }
        if (r->deferred) {
                /* resumed (http_resume): the continuation replies */
                int ret = r->defer_cont(r, r->defer_ud);
                r->deferred = false;
                if (!r->replied)
                        problem(r, 500, NULL, "internal error: %s", ret < 0 ? "deferred reply failed" : "no reply");
                return send_reply(r);
        }
        run_handler(r);
        if (r->deferred && !r->replied) {
                /* suspended first, then the work is handed off: its http_resume can
                 * only come after the suspension */
                MHD_suspend_connection(conn);
                r->defer_start(r, r->defer_ud);
                return MHD_YES;
        }
        r->deferred = false;
        return send_reply(r);
}

void http_defer(http_req *r, http_start_fn start, http_handler_fn cont, void *ud) {
        r->deferred = true;
        r->defer_start = start;
        r->defer_cont = cont;
        r->defer_ud = ud;
}

void http_resume(http_req *r) {
        MHD_resume_connection(r->conn);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
        http_server *s = cls;
        http_req *r = calloc(1, sizeof *r);
        if (!r)
                return NULL;
        r->raw = strdup(uri);
        if (!r->raw) {
                free(r);
                return NULL;
        }
        r->srv = s;
        r->conn = conn;
        r->method = "";
        r->path = "";
        clock_gettime(CLOCK_MONOTONIC, &r->t0);
        atomic_fetch_add(&s->inflight, 1);
        return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
        http_server *s = cls;
        http_req *r = *con_cls;
        (void) conn;
        (void) toe;
        if (!r)
                return;
        *con_cls = NULL;
        if (s->access_log && r->started) {
                struct timespec t1;
                clock_gettime(CLOCK_MONOTONIC, &t1);
                double ms = (double) (t1.tv_sec - r->t0.tv_sec) * 1e3 + (double) (t1.tv_nsec - r->t0.tv_nsec) / 1e6;
                s->access_log(s->access_log_userdata, r->method, r->route ? r->route->name : NULL, r->path,
                              toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? (int) r->status : 0, ms);
        }
        if (r->deferred) {
                /* the client left while its work ran: the continuation still runs, to
                 * free what the handler holds; its reply goes nowhere */
                r->deferred = false;
                r->defer_cont(r, r->defer_ud);
        }
        if (r->resp)
                MHD_destroy_response(r->resp);
        json_decref(r->json);
        strbuf_free(&r->body);
        strbuf_free(&r->hdrs);
        free(r->raw);
        free(r);
        atomic_fetch_sub(&s->inflight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        http_server *s = cls;
        char line[256];
        vsnprintf(line, sizeof line, fmt, ap);
        line[strcspn(line, "\n")] = '\0';
        if (atomic_load(&s->starting))
                snprintf(s->start_msg, sizeof s->start_msg, "%s", line);
        else
                log_debug("http: %s", line);
}

/* ---- lifecycle ---- */

int http_server_start(http_server *s, sked_err *err) {
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                         MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME;
        if (s->daemon)
                return err_set(err, -EALREADY, "HTTP server already running");
        if (s->ipv6)
                flags |= MHD_USE_IPv6;
        s->start_msg[0] = '\0';
        atomic_store(&s->starting, true);
        /* clang-format off */
        s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&s->addr,
                MHD_OPTION_THREAD_POOL_SIZE, s->threads > 1 ? s->threads : 0u,
                MHD_OPTION_CONNECTION_LIMIT, s->max_connections,
                MHD_OPTION_CONNECTION_TIMEOUT, s->timeout_s,
                MHD_OPTION_LISTEN_BACKLOG_SIZE, 511u,
                MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                MHD_OPTION_END);
        /* clang-format on */
        atomic_store(&s->starting, false);
        if (!s->daemon) {
                /* MHD reports why only through its logger, e.g. "Failed to bind to
                 * port 8080: Address already in use" */
                int code = strstr(s->start_msg, "in use") ? -EADDRINUSE : -EADDRNOTAVAIL;
                if (code == -EADDRINUSE) /* MHD's own text names "port 0": it binds our sockaddr */
                        return err_set(err, code, "cannot listen: Address already in use (is another server there?)");
                return err_field(err, code, "listen", "\"%s\": cannot listen: %s", s->listen,
                                 s->start_msg[0] ? s->start_msg : "libmicrohttpd failed to start");
        }
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
        s->port = info ? info->port : 0;
        return 0;
}

uint16_t http_server_port(const http_server *s) {
        return s ? s->port : 0;
}

void http_server_stop(http_server *s) {
        if (!s || !s->daemon)
                return;
        MHD_socket fd = MHD_quiesce_daemon(s->daemon);
        if (fd != MHD_INVALID_SOCKET)
                close(fd);
        /* quiesce only stops accepting: give requests in flight time to be answered */
        for (unsigned i = 0; i < s->timeout_s * 100 && atomic_load(&s->inflight) > 0; i++)
                nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
        MHD_stop_daemon(s->daemon);
        s->daemon = NULL;
        s->port = 0;
}

void http_server_free(http_server *s) {
        if (!s)
                return;
        http_server_stop(s);
        for (size_t i = 0; i < s->nroutes; i++) {
                free(s->routes[i].method);
                free(s->routes[i].pattern);
                free(s->routes[i].name);
        }
        free(s->routes);
        free(s);
}
