#include "api/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <sodium.h>
#include <netinet/in.h>
#include <pthread.h>
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
#include "api/uri.h"
#include "base/log.h"
#include "base/parse.h"
#include "base/strbuf.h"

#define MAX_PARAMS 8
#define MAX_SEGS 32
#define MAX_ARGS 32 /* query arguments per request; no route reads more than 7 */
/* After the 413 of a chunked upload over the limit is sent, we keep reading (and
 * dropping) at most this much more before closing the connection: a client that
 * sends everything before it reads then finds the 413 instead of a reset. */
#define DISCARD_MAX (4u << 20)
/* libmicrohttpd keeps a request's line and headers in a per-connection pool; it must
 * hold our limits (max_url + max_headers) with room for its own buffers, so that ours
 * answer (problem+json) before its own 414/431 (HTML) do. */
#define MHD_POOL_MIN (64u << 10)

struct route {
        char *method;
        char *name;           /* the pattern as given, for messages and the access log (metrics) */
        char *pattern;        /* copy, split in place into segs */
        char *segs[MAX_SEGS]; /* "{name}" segments stored as name with is_param set */
        bool is_param[MAX_SEGS];
        size_t nsegs;
        size_t literals;
        bool wild; /* the last segment is "{name*}": it takes the rest of the path */
        unsigned flags;
        http_handler_fn fn;
        const char *const *args;    /* borrowed (static tables) */
        const char *const *members; /* borrowed */
        http_auth_fn auth;
        void *userdata;
};

struct http_server {
        char listen[80];
        struct sockaddr_storage addr;
        bool ipv6;
        unsigned threads, max_connections, per_ip, timeout_s;
        size_t max_body, max_url, max_headers;
        unsigned char token_hash[AUTH_HASH_LEN];
        bool have_hash;
        http_authn_fn authn;
        void *authn_ud;
        http_access_log_fn access_log;
        void *access_log_userdata;
        char *tls_cert, *tls_key; /* PEM; NULL: plain HTTP */
        bool no_listen;           /* http_tls_check: no socket */
        char trusted[HTTP_TRUSTED_MAX][48];
        size_t ntrusted;

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
        http_principal who; /* role HTTP_ROLE_NONE until a token is checked and valid */
        bool auth_done;     /* the token was looked at (who is final) */
        int auth_error;     /* <0: the check could not be made (authn's error) */
        char addr[48];      /* the client's (http_client_addr), once asked */
        char peer[48];      /* the connection's other end */
        struct MHD_Connection *conn;
        const char *method;
        const char *version;
        const char *path; /* for messages and the log: decoded once checked, else the raw path */
        char *raw;        /* raw request target, split in place for params and arguments */
        char *raw_path;   /* the path part of the target as sent (checked: ASCII) */
        char *decoded;    /* the decoded path, once its parameters are checked */
        size_t raw_len;
        const struct route *route;
        size_t nparams;
        const char *pnames[MAX_PARAMS];
        char *pvalues[MAX_PARAMS];
        size_t nargs;
        char *anames[MAX_ARGS], *avalues[MAX_ARGS]; /* decoded in place in raw; value NULL: "?flag" */
        bool started;
        bool close; /* reply with Connection: close (broken framing, a body left unread) */
        bool too_large;
        bool sent_413;                 /* written to the socket ourselves: MHD takes no reply during an upload */
        size_t discarded, discard_max; /* of a body read only to be dropped */
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
        s->max_url = cfg->max_url ? cfg->max_url : (size_t) 8 << 10;
        s->max_headers = cfg->max_headers ? cfg->max_headers : (size_t) 16 << 10;
        s->max_connections = cfg->max_connections ? cfg->max_connections : 512;
        s->per_ip = cfg->max_connections_per_ip ? cfg->max_connections_per_ip : 64;
        if (s->per_ip > s->max_connections)
                s->per_ip = s->max_connections;
        s->timeout_s = cfg->timeout_s ? cfg->timeout_s : 30;
        if (cfg->token_hash) {
                memcpy(s->token_hash, cfg->token_hash, AUTH_HASH_LEN);
                s->have_hash = true;
        }
        s->authn = cfg->authenticate;
        s->authn_ud = cfg->authn_userdata;
        s->access_log = cfg->access_log;
        s->access_log_userdata = cfg->access_log_userdata;
        if (!cfg->tls_cert_pem != !cfg->tls_key_pem) {
                free(s);
                return err_field(err, -EINVAL, cfg->tls_cert_pem ? "tls-key" : "tls-cert",
                                 "TLS needs both a certificate (--tls-cert) and its key (--tls-key)");
        }
        if (cfg->tls_cert_pem &&
            (!(s->tls_cert = strdup(cfg->tls_cert_pem)) || !(s->tls_key = strdup(cfg->tls_key_pem)))) {
                free(s->tls_cert);
                free(s);
                return err_set(err, -ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < cfg->ntrusted && i < HTTP_TRUSTED_MAX; i++)
                snprintf(s->trusted[s->ntrusted++], sizeof s->trusted[0], "%s", cfg->trusted_proxies[i]);
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

int http_route(http_server *s, const http_route_def *def, void *userdata) {
        struct route rt = {0};
        size_t nparams = 0;

        if (s->daemon)
                return -EBUSY;
        if (!def->method || !*def->method || !def->pattern || def->pattern[0] != '/' || !def->fn)
                return -EINVAL;
        if (((def->flags & HTTP_BODY_ARRAY) && !(def->flags & HTTP_BODY)) || (def->auth && !(def->flags & HTTP_PUBLIC)))
                return -EINVAL;
        rt.method = strdup(def->method);
        rt.name = strdup(def->pattern);
        rt.pattern = strdup(def->pattern);
        if (!rt.method || !rt.name || !rt.pattern)
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
        rt.flags = def->flags;
        rt.fn = def->fn;
        rt.args = def->args;
        rt.members = def->members;
        rt.auth = def->auth;
        rt.userdata = userdata;
        s->routes[s->nroutes++] = rt;
        return 0;
bad:
        free(rt.method);
        free(rt.name);
        free(rt.pattern);
        return -EINVAL;
nomem:
        free(rt.method);
        free(rt.name);
        free(rt.pattern);
        return -ENOMEM;
}

int http_route_table(http_server *s, const http_route_def *defs, size_t n, void *userdata) {
        for (size_t i = 0; i < n; i++) {
                int r = http_route(s, &defs[i], userdata);
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

void http_route_takes(const http_server *s, size_t i, const char *const **ret_args, const char *const **ret_members) {
        if (i >= s->nroutes)
                abort();
        *ret_args = s->routes[i].args;
        *ret_members = s->routes[i].members;
}

/* ---- replies ---- */

static struct MHD_Response *make_response(const void *data, size_t len, bool copy) {
        if (len == 0)
                return MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        return MHD_create_response_from_buffer(len, (void *) data,
                                               copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_MUST_FREE);
}

#define HTTP_CSP                                                                                                       \
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "          \
        "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

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
        /* on every reply (docs/security.md "Headers"): no inline script or style, no
         * plug-ins, no <base>, no framing; no sniffing; no Referer to other sites */
        MHD_add_response_header(resp, "Content-Security-Policy", HTTP_CSP);
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        if (http_request_secure(r)) /* a browser believes it only over HTTPS anyway */
                MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
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

/* The problem document of a reply (status, field, detail), serialized; NULL when out
 * of memory.  detail and field may quote the request (a path, a member's name), which
 * strict decoding keeps to text; anything else that is not UTF-8 is scrubbed to
 * U+FFFD here, or JSON could not carry it. */
static char *problem_text(int status, const char *field, const char *fmt, va_list ap) {
        strbuf raw = STRBUF_INIT, detail = STRBUF_INIT, fld = STRBUF_INIT;
        char *text = NULL;
        const char *title = MHD_get_reason_phrase_for((unsigned) status);

        strbuf_vprintf(&raw, fmt, ap);
        strbuf_append_utf8(&detail, raw.data ? raw.data : "", raw.len);
        if (field)
                strbuf_append_utf8(&fld, field, strlen(field));
        json_t *doc =
                json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", title && *title ? title : "Error",
                          "status", status, "detail", strbuf_str(&detail) ? strbuf_str(&detail) : "");
        if (doc && field)
                json_object_set_new(doc, "field", json_string(strbuf_str(&fld) ? strbuf_str(&fld) : ""));
        if (doc)
                text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        strbuf_free(&raw);
        strbuf_free(&detail);
        strbuf_free(&fld);
        return text;
}

static char *problem_textf(int status, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static char *problem_textf(int status, const char *field, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *text = problem_text(status, field, fmt, ap);
        va_end(ap);
        return text;
}

static void reply_problemv(http_req *r, int status, const char *field, const char *fmt, va_list ap) {
        struct MHD_Response *resp = NULL;
        char *text = problem_text(status, field, fmt, ap);
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
        if (r->close)
                MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONNECTION, "close");
        enum MHD_Result ret = MHD_queue_response(r->conn, r->status, r->resp);
        MHD_destroy_response(r->resp);
        r->resp = NULL;
        return ret;
}

/* ---- streams (Server-Sent Events) ---- */

struct http_stream {
        pthread_mutex_t lock;
        int refs;
        struct MHD_Connection *conn;
        strbuf buf; /* pending from off */
        size_t off;
        size_t max;
        bool suspended; /* by stream_read, waiting for a write */
        bool ended, dropped, gone;
};

static void stream_wake(http_stream *s) {
        if (s->suspended && !s->gone) {
                s->suspended = false;
                MHD_resume_connection(s->conn);
        }
}

/* libmicrohttpd's reader, on the connection's thread.  Nothing pending: suspend
 * and return 0 (libmicrohttpd calls again once resumed), as its manual says a
 * reader returning 0 must, or it would be called again at once. */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max) {
        http_stream *s = cls;
        (void) pos;
        pthread_mutex_lock(&s->lock);
        ssize_t n;
        if (s->dropped) {
                n = MHD_CONTENT_READER_END_WITH_ERROR;
        } else if (s->buf.len > s->off) {
                size_t k = s->buf.len - s->off < max ? s->buf.len - s->off : max;
                memcpy(out, s->buf.data + s->off, k);
                s->off += k;
                if (s->off == s->buf.len) {
                        s->buf.len = 0;
                        s->off = 0;
                }
                n = (ssize_t) k;
        } else if (s->ended) {
                n = MHD_CONTENT_READER_END_OF_STREAM;
        } else {
                s->suspended = true;
                MHD_suspend_connection(s->conn);
                n = 0;
        }
        pthread_mutex_unlock(&s->lock);
        return n;
}

void http_stream_unref(http_stream *s) {
        if (!s)
                return;
        pthread_mutex_lock(&s->lock);
        int left = --s->refs;
        pthread_mutex_unlock(&s->lock);
        if (left > 0)
                return;
        strbuf_free(&s->buf);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

static void stream_release(void *cls) {
        http_stream *s = cls;
        pthread_mutex_lock(&s->lock);
        s->gone = true;
        pthread_mutex_unlock(&s->lock);
        http_stream_unref(s);
}

int http_reply_stream(http_req *r, const char *content_type, size_t max_pending, http_stream **ret) {
        http_stream *s = calloc(1, sizeof *s);
        if (!s) {
                problem(r, 500, NULL, "out of memory");
                return -ENOMEM;
        }
        pthread_mutex_init(&s->lock, NULL);
        s->refs = 2;
        s->conn = r->conn;
        s->max = max_pending;
        struct MHD_Response *resp =
                MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 << 10, stream_read, s, stream_release);
        if (!resp) {
                pthread_mutex_destroy(&s->lock);
                free(s);
                problem(r, 500, NULL, "out of memory");
                return -ENOMEM;
        }
        /* a proxy (nginx) would buffer the stream otherwise */
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
        set_reply(r, 200, resp, content_type);
        *ret = s;
        return 0;
}

int http_stream_write(http_stream *s, const char *data, size_t len) {
        int r = 0;
        pthread_mutex_lock(&s->lock);
        if (s->ended || s->dropped || s->gone) {
                r = -EPIPE;
        } else if (s->buf.len - s->off + len > s->max) {
                s->dropped = true; /* a client that does not read: drop it */
                r = -ENOBUFS;
        } else if (strbuf_append(&s->buf, data, len) < 0) {
                s->dropped = true;
                r = -ENOMEM;
        }
        stream_wake(s);
        pthread_mutex_unlock(&s->lock);
        return r;
}

void http_stream_end(http_stream *s, bool drop) {
        pthread_mutex_lock(&s->lock);
        s->ended = true;
        s->dropped = s->dropped || drop;
        stream_wake(s);
        pthread_mutex_unlock(&s->lock);
}

bool http_stream_gone(http_stream *s) {
        pthread_mutex_lock(&s->lock);
        bool gone = s->gone;
        pthread_mutex_unlock(&s->lock);
        return gone;
}

size_t http_stream_pending(http_stream *s) {
        pthread_mutex_lock(&s->lock);
        size_t n = s->buf.len - s->off;
        pthread_mutex_unlock(&s->lock);
        return n;
}

/* ---- accessors ---- */

const char *http_method(const http_req *r) {
        return r->method;
}

const char *http_path(const http_req *r) {
        return r->path;
}

const char *http_param(const http_req *r, const char *name) {
        for (size_t i = 0; i < r->nparams; i++)
                if (strcmp(r->pnames[i], name) == 0)
                        return r->pvalues[i];
        return NULL;
}

static bool listed(const char *const *names, const char *name) {
        for (; names && *names; names++)
                if (strcmp(*names, name) == 0)
                        return true;
        return false;
}

const char *http_query(const http_req *r, const char *name) {
        if (r->route && !listed(r->route->args, name))
                log_error("http: %s %s reads query argument \"%s\", which its route does not declare", r->method,
                          r->route->name, name);
        for (size_t i = 0; i < r->nargs; i++)
                if (strcmp(r->anames[i], name) == 0)
                        return r->avalues[i] ? r->avalues[i] : ""; /* "?flag" */
        return NULL;
}

const char *http_header(const http_req *r, const char *name) {
        return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

json_t *http_body_json(http_req *r) {
        return r->json;
}

/* ---- framing (RFC 9112 §6.1, §6.3, §3.2) ---- */

/* What the header section says about the request's framing; libmicrohttpd looks at
 * the first Content-Length and Transfer-Encoding only, and keeps a connection open
 * after replying, so what it would let through is refused here (and the connection
 * closed). */
typedef struct framing {
        unsigned host, content_length, transfer_encoding, authorization, if_match;
        const char *te;  /* the (first) Transfer-Encoding value */
        size_t bytes;    /* of the header section, as sent: "name: value\r\n" per field */
        const char *bad; /* a field whose name is not a token, or whose value holds a NUL */
        bool bad_value;  /* bad is about the value */
        bool content_length_zero;
} framing;

static bool tchar(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                    const char *value, size_t value_size) {
        framing *f = cls;
        (void) kind;
        f->bytes += key_size + value_size + 4;
        if (!f->bad) {
                bool token = key_size > 0 && strlen(key) == key_size;
                for (size_t i = 0; token && i < key_size; i++)
                        token = tchar((unsigned char) key[i]);
                if (!token)
                        f->bad = key;
                else if (value && strlen(value) != value_size)
                        f->bad = key, f->bad_value = true;
        }
        if (!strcasecmp(key, MHD_HTTP_HEADER_HOST)) {
                f->host++;
        } else if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
                f->content_length++;
                f->content_length_zero = value && !strcmp(value, "0");
        } else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
                if (!f->transfer_encoding++)
                        f->te = value ? value : "";
        } else if (!strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION)) {
                f->authorization++;
        } else if (!strcasecmp(key, MHD_HTTP_HEADER_IF_MATCH)) {
                f->if_match++;
        }
        return MHD_YES;
}

/* RFC 3986 reg-name, IPv4 or [IP-literal], then an optional :port; empty is allowed
 * (RFC 9112 §3.2: a target without authority). */
static bool host_valid(const char *h) {
        static const char reg[] = "-._~%!$&'()*+,;="; /* unreserved, pct-encoded, sub-delims */
        const char *p = h;
        if (*p == '[') {
                for (p++; *p && *p != ']' && (isalnum((unsigned char) *p) || strchr(reg, *p) || *p == ':'); p++)
                        ;
                if (*p++ != ']')
                        return false;
        } else {
                for (; *p && (isalnum((unsigned char) *p) || strchr(reg, *p)); p++)
                        ;
        }
        if (*p == ':')
                for (p++; isdigit((unsigned char) *p); p++)
                        ;
        return *p == '\0';
}

/* The codings of a Transfer-Encoding list ("gzip, chunked"): how many are chunked;
 * true when the last one is. */
static bool te_codings(const char *te, unsigned *ret_chunked) {
        bool last = false;
        for (const char *p = te; *p;) {
                p += strspn(p, " \t,");
                if (!*p)
                        break;
                size_t n = strcspn(p, ",");
                size_t k = n;
                while (k && (p[k - 1] == ' ' || p[k - 1] == '\t'))
                        k--;
                last = k == 7 && !strncasecmp(p, "chunked", 7);
                *ret_chunked += last;
                p += n;
        }
        return last;
}

/* Refuses (400, 501; the connection is closed after) what RFC 9112 says a server must
 * not guess at; returns -1 when it replied. */
static int check_framing(http_req *r, framing *f) {
        bool http10 = !strcmp(r->version, MHD_HTTP_VERSION_1_0);
        const char *field = NULL;
        int status = 400;
        char why[160] = "";

        if (f->bad) {
                /* a name that is not a token is no field to name (it may not even be text) */
                field = f->bad_value ? f->bad : NULL;
                if (f->bad_value)
                        snprintf(why, sizeof why, "%.60s: the value holds a NUL byte", f->bad);
                else
                        snprintf(why, sizeof why, "header \"%.60s\": the name is not a token (RFC 9110 §5.1)", f->bad);
        } else if (f->content_length > 1) {
                field = MHD_HTTP_HEADER_CONTENT_LENGTH;
                snprintf(why, sizeof why, "Content-Length: sent %u times; send it once", f->content_length);
        } else if (f->transfer_encoding && f->content_length) {
                field = MHD_HTTP_HEADER_TRANSFER_ENCODING;
                snprintf(why, sizeof why, "Transfer-Encoding: sent with Content-Length; send one of them");
        } else if (f->transfer_encoding && http10) {
                field = MHD_HTTP_HEADER_TRANSFER_ENCODING;
                snprintf(why, sizeof why, "Transfer-Encoding: not allowed in HTTP/1.0; send Content-Length");
        } else if (f->transfer_encoding > 1) {
                field = MHD_HTTP_HEADER_TRANSFER_ENCODING;
                snprintf(why, sizeof why, "Transfer-Encoding: sent %u times; send chunked, once", f->transfer_encoding);
        } else if (f->transfer_encoding && strcasecmp(f->te, "chunked")) {
                unsigned chunked = 0;
                bool last_chunked = te_codings(f->te, &chunked);
                field = MHD_HTTP_HEADER_TRANSFER_ENCODING;
                if (last_chunked && chunked == 1) {
                        status = 501; /* a coding before chunked that we do not decode */
                        snprintf(why, sizeof why, "Transfer-Encoding: \"%.60s\": only chunked is supported", f->te);
                } else {
                        snprintf(why, sizeof why,
                                 "Transfer-Encoding: \"%.60s\": the last coding of a request must be chunked, and "
                                 "only it (RFC 9112 §6.3)",
                                 f->te);
                }
        } else if (f->host > 1 || (!http10 && f->host == 0)) {
                field = MHD_HTTP_HEADER_HOST;
                snprintf(why, sizeof why, "Host: %s", f->host ? "sent more than once" : "required in HTTP/1.1");
        } else if (f->host && !host_valid(http_header(r, MHD_HTTP_HEADER_HOST))) {
                field = MHD_HTTP_HEADER_HOST;
                snprintf(why, sizeof why, "Host: expected a host name or address and an optional port");
        } else if (f->authorization > 1 || f->if_match > 1) {
                field = f->authorization > 1 ? MHD_HTTP_HEADER_AUTHORIZATION : MHD_HTTP_HEADER_IF_MATCH;
                snprintf(why, sizeof why, "%s: sent more than once", field);
        } else {
                return 0;
        }
        r->close = true;
        problem(r, status, field, "%s", why);
        return -1;
}

/* ---- the request target ---- */

static int check_headers_size(http_req *r, const framing *f) {
        if (f->bytes <= r->srv->max_headers)
                return 0;
        r->close = true;
        problem(r, 431, NULL, "request headers: %zu bytes exceed the limit of %zu bytes", f->bytes,
                r->srv->max_headers);
        return -1;
}

/* Checks the raw target's bytes and size before anything reads it; returns -1 when it
 * replied (400 or 414). */
static int check_target(http_req *r) {
        size_t off;
        const char *why;
        if (r->raw_len > r->srv->max_url) {
                r->close = true; /* libmicrohttpd's own limit answers the same way */
                problem(r, 414, NULL, "request target: %zu bytes exceeds the limit of %zu bytes", r->raw_len,
                        r->srv->max_url);
                return -1;
        }
        if (uri_check(r->raw, &off, &why) < 0) {
                bool query = memchr(r->raw, '?', off) != NULL;
                unsigned char c = (unsigned char) r->raw[off];
                if (c > 0x20 && c < 0x7f)
                        problem(r, 400, query ? "query" : "path", "%s: '%c' (at %zu) %s", query ? "query" : "path", c,
                                off, why);
                else
                        problem(r, 400, query ? "query" : "path", "%s: byte 0x%02x (at %zu) %s",
                                query ? "query" : "path", c, off, why);
                return -1;
        }
        return 0;
}

/* Finds the route for r: sets r->route and params and returns 0, or replies
 * 404/405 and returns -1.  Splits the path part of raw in place. */
static int match_route(http_req *r) {
        http_server *s = r->srv;
        char *segs[MAX_SEGS];
        size_t nsegs = 0;
        const struct route *best = NULL;
        strbuf allow = STRBUF_INIT;
        const char *m = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
        char *p = r->raw;

        /* raw target: "/a/b%2Fc?x=1" → segments "a", "b%2Fc" */
        p[strcspn(p, "?")] = '\0';
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

/* Decodes each path parameter and query argument in place, strictly: 400 naming the
 * one that is not text.  Returns -1 when it replied. */
static int decode_target(http_req *r, char *query) {
        const char *why;
        for (size_t i = 0; i < r->nparams; i++) {
                if (uri_unescape(r->pvalues[i], false, &why) < 0) {
                        problem(r, 400, r->pnames[i], "%s: the path segment %s (percent-decoded)", r->pnames[i], why);
                        return -1;
                }
        }
        for (char *p = query; p && *p;) {
                char *amp = strchr(p, '&');
                if (amp)
                        *amp = '\0';
                if (*p) { /* "a&&b": an empty piece is nothing */
                        char *eq = strchr(p, '=');
                        if (eq)
                                *eq = '\0';
                        if (r->nargs == MAX_ARGS) {
                                problem(r, 400, "query", "query: more than %d arguments", MAX_ARGS);
                                return -1;
                        }
                        if (!*p || uri_unescape(p, true, &why) < 0) {
                                problem(r, 400, "query", "query: an argument name %s", *p ? why : "is empty");
                                return -1;
                        }
                        if (eq && uri_unescape(eq + 1, true, &why) < 0) {
                                problem(r, 400, p, "%s: %s (percent-decoded)", p, why);
                                return -1;
                        }
                        r->anames[r->nargs] = p;
                        r->avalues[r->nargs++] = eq ? eq + 1 : NULL;
                }
                p = amp ? amp + 1 : NULL;
        }
        return 0;
}

/* The decoded path, for handlers, messages and the log (its parameters are text by
 * now, its literal segments ASCII). */
static void set_decoded_path(http_req *r) {
        const char *why;
        r->decoded = strdup(r->raw_path);
        if (r->decoded && uri_unescape(r->decoded, false, &why) == 0)
                r->path = r->decoded;
}

const char *http_role_name(int role) {
        switch (role) {
        case HTTP_ROLE_VIEWER:
                return "viewer";
        case HTTP_ROLE_OPERATOR:
                return "operator";
        case HTTP_ROLE_ADMIN:
                return "admin";
        default:
                return "none";
        }
}

int http_role_parse(const char *name) {
        for (int i = HTTP_ROLE_VIEWER; i <= HTTP_ROLE_ADMIN; i++)
                if (name && !strcmp(name, http_role_name(i)))
                        return i;
        return HTTP_ROLE_NONE;
}

/* Looks at the bearer token once per request: r->who, or r->auth_error. */
static void resolve_principal(http_req *r) {
        if (r->auth_done)
                return;
        r->auth_done = true;
        const char *h = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!h && r->srv->authn && http_header(r, MHD_HTTP_HEADER_COOKIE)) {
                http_principal p = {0};
                int k = r->srv->authn(r->srv->authn_ud, r, NULL, &p);
                if (k == 0 && p.role != HTTP_ROLE_NONE && p.session_id)
                        r->who = p;
                else if (k < 0 && k != -EACCES)
                        r->auth_error = k;
                return;
        }
        if (!h || strncasecmp(h, "Bearer ", 7) != 0)
                return;
        h += 7;
        while (*h == ' ')
                h++;
        if (r->srv->have_hash && auth_token_matches(h, r->srv->token_hash)) {
                r->who = (http_principal){.role = HTTP_ROLE_ADMIN, .name = "admin"};
                return;
        }
        if (!r->srv->authn || !*h)
                return;
        http_principal p = {0};
        int k = r->srv->authn(r->srv->authn_ud, r, h, &p);
        if (k == 0 && p.role != HTTP_ROLE_NONE)
                r->who = p;
        else if (k < 0 && k != -EACCES)
                r->auth_error = k;
}

bool http_authorized(http_req *r) {
        resolve_principal(r);
        return r->who.role != HTTP_ROLE_NONE;
}

const http_principal *http_principal_of(http_req *r) {
        resolve_principal(r);
        return r->who.role != HTTP_ROLE_NONE ? &r->who : NULL;
}

static const char *peer_addr(http_req *r) {
        if (r->peer[0])
                return r->peer;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;
        if (sa && sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, r->peer, sizeof r->peer);
        else if (sa && sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, r->peer, sizeof r->peer);
        return r->peer;
}

static bool is_trusted(const http_server *s, const char *addr, size_t len) {
        for (size_t i = 0; i < s->ntrusted; i++)
                if (strlen(s->trusted[i]) == len && !memcmp(s->trusted[i], addr, len))
                        return true;
        return false;
}

static bool from_trusted_proxy(http_req *r) {
        const char *peer = peer_addr(r);
        return r->srv->ntrusted && is_trusted(r->srv, peer, strlen(peer));
}

/* The last X-Forwarded-For header: a proxy appends to the one it got, and an earlier
 * one may be the client's own invention. */
static enum MHD_Result last_xff(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        (void) kind;
        if (key && value && !strcasecmp(key, "X-Forwarded-For"))
                *(const char **) cls = value;
        return MHD_YES;
}

/* The rightmost address of X-Forwarded-For that is not a trusted proxy (each proxy
 * appends the address it was reached from; only those added by our proxies are
 * believed), into out when it is an IP literal. */
static bool forwarded_for(http_req *r, char *out, size_t outsz) {
        const char *xff = NULL;
        MHD_get_connection_values(r->conn, MHD_HEADER_KIND, last_xff, &xff);
        if (!xff)
                return false;
        const char *end = xff + strlen(xff);
        while (end > xff) {
                const char *start = end;
                while (start > xff && start[-1] != ',')
                        start--;
                const char *a = start, *b = end;
                while (a < b && (*a == ' ' || *a == '\t'))
                        a++;
                while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
                        b--;
                end = start > xff ? start - 1 : xff;
                if (a == b)
                        continue;
                if (is_trusted(r->srv, a, (size_t) (b - a)) && end > xff)
                        continue;
                char text[48];
                unsigned char bin[16];
                if ((size_t) (b - a) >= sizeof text)
                        return false;
                memcpy(text, a, (size_t) (b - a));
                text[b - a] = '\0';
                if (inet_pton(AF_INET, text, bin) != 1 && inet_pton(AF_INET6, text, bin) != 1)
                        return false;
                snprintf(out, outsz, "%s", text);
                return true;
        }
        return false;
}

const char *http_client_addr(http_req *r) {
        if (r->addr[0])
                return r->addr;
        if (!from_trusted_proxy(r) || !forwarded_for(r, r->addr, sizeof r->addr))
                snprintf(r->addr, sizeof r->addr, "%s", peer_addr(r));
        return r->addr;
}

bool http_request_secure(http_req *r) {
        if (r->srv->tls_cert)
                return true;
        const char *proto = from_trusted_proxy(r) ? http_header(r, "X-Forwarded-Proto") : NULL;
        return proto && !strcasecmp(proto, "https");
}

void http_set_authenticate(http_server *s, http_authn_fn fn, void *userdata) {
        s->authn = fn;
        s->authn_ud = userdata;
}

bool http_same_origin(http_req *r) {
        const char *site = http_header(r, "Sec-Fetch-Site");
        if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
                return false;
        const char *origin = http_header(r, "Origin"), *host = http_header(r, MHD_HTTP_HEADER_HOST);
        if (!origin)
                return true;
        const char *o = strstr(origin, "://");
        return o && host && !strcasecmp(o + 3, host);
}

/* A session's state change: the CSRF token and the origin.  -1 when it replied. */
static int check_csrf(http_req *r) {
        if (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"))
                return 0;
        const char *t = http_header(r, "X-CSRF-Token");
        size_t n = strlen(r->who.csrf);
        if (!t || strlen(t) != n || n == 0 || sodium_memcmp(t, r->who.csrf, n) != 0) {
                problem(r, 403, "X-CSRF-Token",
                        "X-CSRF-Token: a change made with a session cookie needs the "
                        "csrf_token of its login in this header");
                return -1;
        }
        if (!http_same_origin(r)) {
                problem(r, 403, "Origin", "Origin: a change made with a session cookie must come from this site");
                return -1;
        }
        return 0;
}

/* The role a route needs (http.h, the role flags). */
static int role_needed(const struct route *rt, const char *method) {
        if (rt->flags & HTTP_ADMIN)
                return HTTP_ROLE_ADMIN;
        if ((rt->flags & HTTP_ANY_ROLE) || !strcmp(method, "GET") || !strcmp(method, "HEAD"))
                return HTTP_ROLE_VIEWER;
        return HTTP_ROLE_OPERATOR;
}

static int check_auth(http_req *r) {
        const struct route *rt = r->route;
        if (rt->flags & HTTP_PUBLIC) {
                if (!rt->auth || rt->auth(r, rt->userdata) == 0)
                        return 0;
                if (!r->replied)
                        problem(r, 401, NULL, "%s", "unauthorized");
                return -1;
        }
        if (http_authorized(r)) {
                int need = role_needed(rt, r->method);
                if (r->who.session_id && r->who.must_change && !(rt->flags & HTTP_PASSWORD_PENDING)) {
                        problem(r, 403, NULL,
                                "user \"%s\" must change their password first (POST "
                                "/api/v1/users/%s/password)",
                                r->who.name, r->who.name);
                        return -1;
                }
                if (r->who.session_id && r->who.totp_missing && !(rt->flags & HTTP_TOTP_PENDING)) {
                        problem(r, 403, NULL,
                                "user \"%s\" must enrol a second factor first (POST /api/v1/users/%s/totp): "
                                "an admin requires it for the role %s",
                                r->who.name, r->who.name, http_role_name(r->who.role));
                        return -1;
                }
                if (r->who.role >= need)
                        return r->who.session_id ? check_csrf(r) : 0;
                problem(r, 403, NULL, "%s %s needs the role %s; user \"%s\" is %s %s", r->method, rt->name,
                        http_role_name(need), r->who.name, r->who.role == HTTP_ROLE_ADMIN ? "an" : "a",
                        http_role_name(r->who.role));
                return -1;
        }
        if (r->auth_error < 0) {
                http_add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
                problem(r, 503, NULL, "cannot check the token now: %s", strerror(-r->auth_error));
                return -1;
        }
        bool presented = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION) != NULL;
        http_add_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                        presented ? "Bearer realm=\"sked\", error=\"invalid_token\"" : "Bearer realm=\"sked\"");
        problem(r, 401, NULL, "%s",
                presented ? "invalid token"
                : http_header(r, MHD_HTTP_HEADER_COOKIE) != NULL
                        ? "no live session (log in again: POST /api/v1/session), "
                          "and no \"Authorization: Bearer <token>\" header"
                        : "missing \"Authorization: Bearer <token>\" header");
        return -1;
}

/* "a, b, c" of a name list, for messages. */
static void join_names(strbuf *b, const char *const *names) {
        for (const char *const *n = names; n && *n; n++)
                strbuf_printf(b, "%s%s", n == names ? "" : ", ", *n);
}

/* What the route takes: its arguments, If-Match, a body.  Returns -1 when it replied. */
static int check_route_input(http_req *r, const framing *f) {
        const struct route *rt = r->route;
        for (size_t i = 0; i < r->nargs; i++) {
                const char *name = r->anames[i];
                if (!listed(rt->args, name)) {
                        strbuf b = STRBUF_INIT;
                        join_names(&b, rt->args);
                        problem(r, 400, name, "%s: unknown query argument (%s %s takes %s)", name, r->method, rt->name,
                                b.len ? strbuf_str(&b) : "none");
                        strbuf_free(&b);
                        return -1;
                }
                for (size_t k = 0; k < i; k++)
                        if (!strcmp(r->anames[k], name)) {
                                problem(r, 400, name, "%s: given more than once", name);
                                return -1;
                        }
        }
        if (f->if_match && !(rt->flags & HTTP_IF_MATCH)) {
                problem(r, 400, MHD_HTTP_HEADER_IF_MATCH, "If-Match: %s %s does not take a precondition", r->method,
                        rt->name);
                return -1;
        }
        bool has_body = f->transfer_encoding || (f->content_length && !f->content_length_zero);
        if (has_body && !(rt->flags & (HTTP_BODY | HTTP_BODY_OPTIONAL | HTTP_BODY_ANY))) {
                problem(r, 400, "body", "body: %s %s takes no body", r->method, rt->name);
                return -1;
        }
        const char *cl = f->content_length ? http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH) : NULL;
        int64_t n = 0;
        /* libmicrohttpd checked it is digits; a number past int64 is over the limit too */
        if (cl && (parse_int64(cl, 0, INT64_MAX, &n) < 0 || (uint64_t) n > r->srv->max_body)) {
                problem(r, 413, "body", "body: %s bytes exceeds the limit of %zu bytes", cl, r->srv->max_body);
                return -1;
        }
        return 0;
}

/* A refusal decided at the headers, with a body on its way: sent now, the connection
 * then closed with the body unread (a client still sending may see a reset before
 * it reads the reply), or sent once the body is read and dropped (the connection
 * stays usable, and the body is never taken for a request).  Now: before auth (an
 * unknown client's body is not read), when the client waits for "100 Continue" (it
 * has not sent the body: nothing is lost), when the body is larger than we would
 * drop (max_body + DISCARD_MAX), or when an earlier check said close.  Returns true
 * for now. */
static bool refuse_now(http_req *r, const framing *f, bool authorized) {
        bool has_body = f->transfer_encoding || (f->content_length && !f->content_length_zero);
        if (!has_body)
                return true;
        const char *expect = http_header(r, MHD_HTTP_HEADER_EXPECT);
        const char *cl = f->content_length ? http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH) : NULL;
        int64_t n = 0;
        bool big = cl && (parse_int64(cl, 0, INT64_MAX, &n) < 0 || (uint64_t) n > r->srv->max_body + DISCARD_MAX);
        if (!authorized || r->close || big || (expect && !strcasecmp(expect, "100-continue"))) {
                r->close = true;
                return true;
        }
        /* chunked: dropped up to DISCARD_MAX; sized: its Content-Length bounds it */
        r->discard_max = f->transfer_encoding ? DISCARD_MAX : SIZE_MAX;
        return false;
}

/* First call: framing, target, route, auth, what the route takes.  Returns 0 to go
 * on, -1 if a reply was set and is to be sent now, 1 if it is to be sent once the
 * body is in (refuse_now). */
static int on_headers(http_req *r) {
        framing f = {0};
        MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, count_header, &f);
        if (check_framing(r, &f) < 0)
                return -1;
        if (check_target(r) < 0 || check_headers_size(r, &f) < 0)
                return -1;
        /* the raw path is plain ASCII now: what a 404 names (a decoded one could
         * look like a route that exists: /api/v1/%73eries) */
        size_t path_len = strcspn(r->raw, "?");
        char *query = r->raw[path_len] ? r->raw + path_len + 1 : NULL;
        r->raw_path = strndup(r->raw, path_len);
        if (!r->raw_path) {
                problem(r, 500, NULL, "out of memory");
                return -1;
        }
        r->path = r->raw_path;
        if (match_route(r) < 0 || decode_target(r, query) < 0) {
                refuse_now(r, &f, false); /* always now, before the token */
                return -1;
        }
        set_decoded_path(r);
        if (check_auth(r) < 0) {
                refuse_now(r, &f, false);
                return -1;
        }
        if (check_route_input(r, &f) < 0)
                return refuse_now(r, &f, true) ? -1 : 1;
        return 0;
}

/* The members of obj: each must be one the route declares.  prefix names an array's
 * element ("[3]"), "" for the body itself.  Returns -1 when it replied. */
static int check_members(http_req *r, const json_t *obj, const char *prefix) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *) obj, key, v) {
                if (listed(r->route->members, key))
                        continue;
                strbuf b = STRBUF_INIT, f = STRBUF_INIT;
                join_names(&b, r->route->members);
                strbuf_printf(&f, "%s%s%.64s", prefix, *prefix ? "." : "", key);
                if (b.len)
                        problem(r, 400, strbuf_str(&f), "%s: unknown field (expected %s)", strbuf_str(&f),
                                strbuf_str(&b));
                else
                        problem(r, 400, strbuf_str(&f), "%s: unknown field (%s %s takes an empty object or no body)",
                                strbuf_str(&f), r->method, r->route->name);
                strbuf_free(&b);
                strbuf_free(&f);
                return -1;
        }
        return 0;
}

/* The body's shape against the route's flags, and its members.  Returns -1 when it
 * replied. */
static int check_body(http_req *r) {
        unsigned flags = r->route->flags;
        json_t *j = r->json;
        if (flags & HTTP_BODY_ANY)
                return 0;
        if (!j) {
                if (flags & HTTP_BODY) {
                        problem(r, 400, "body", "body: required, a JSON object%s",
                                flags & HTTP_BODY_ARRAY ? " (or an array of them)" : "");
                        return -1;
                }
                return 0;
        }
        if (json_is_array(j) && (flags & HTTP_BODY_ARRAY)) {
                size_t i;
                json_t *el;
                json_array_foreach(j, i, el) {
                        char at[32];
                        snprintf(at, sizeof at, "[%zu]", i);
                        if (!json_is_object(el)) {
                                problem(r, 400, at, "%s: expected a JSON object", at);
                                return -1;
                        }
                        if (check_members(r, el, at) < 0)
                                return -1;
                }
                return 0;
        }
        if (!json_is_object(j)) {
                problem(r, 400, "body", "body: expected a JSON object%s",
                        flags & HTTP_BODY_ARRAY ? " or an array of them" : "");
                return -1;
        }
        return check_members(r, j, "");
}

static void run_handler(http_req *r) {
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
        if (check_body(r) < 0)
                return;
        int ret = r->route->fn(r, r->route->userdata);
        if (!r->replied && !r->deferred) {
                char buf[128] = "";
                /* GNU strerror_r: thread-safe, returns the text (maybe not in buf) */
                const char *why = ret < 0 ? strerror_r(-ret, buf, sizeof buf) : "no reply";
                problem(r, 500, NULL, "internal error: %s", why);
        }
}

/* A chunked body crossed max_body: libmicrohttpd takes no reply while it hands us
 * upload data (MHD_queue_response refuses until the body is in), and closing at once
 * resets the connection before the client reads anything.  So the 413 is written to
 * the socket here (a few hundred bytes: the send buffer of a connection that has sent
 * us a megabyte and read nothing holds them), the rest of the body is read and
 * dropped (DISCARD_MAX at most), and then the connection is closed.  No TLS: the
 * socket is the stream. */
static void send_413_now(http_req *r) {
        char head[256];
        char *body = problem_textf(413, "body", "body: exceeds the limit of %zu bytes", r->srv->max_body);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (body && ci) {
                int n = snprintf(head, sizeof head,
                                 "HTTP/1.1 413 Content Too Large\r\nContent-Type: %s\r\nCache-Control: no-store\r\n"
                                 "Connection: close\r\nContent-Length: %zu\r\n\r\n",
                                 problem_type, strlen(body));
                /* best effort: a client that does not read gets the close only */
                if (send(ci->connect_fd, head, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT) == n)
                        (void) send(ci->connect_fd, body, strlen(body), MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        free(body);
        r->sent_413 = true;
        r->status = 413;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        http_req *r = *con_cls;
        (void) cls;
        (void) url; /* decoded by libmicrohttpd, leniently: we decode r->raw ourselves */

        if (!r)
                return MHD_NO; /* the URI callback ran out of memory */
        if (!r->started) {
                r->started = true;
                r->method = method;
                r->version = version;
                int rc = on_headers(r);
                if (rc < 0)
                        return send_reply(r);
                return MHD_YES; /* rc 1: refused, the reply waits for the body (dropped) */
        }
        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;
                *upload_data_size = 0;
                if (!r->replied && !r->too_large && n > r->srv->max_body - r->body.len) {
                        r->too_large = true; /* a chunked body crossed the limit */
                        r->discard_max = DISCARD_MAX;
                        strbuf_free(&r->body);
                        send_413_now(r);
                }
                if (r->replied || r->too_large) {
                        r->discarded += n;
                        return r->discarded > r->discard_max ? MHD_NO : MHD_YES;
                }
                strbuf_append(&r->body, upload_data, n);
                return MHD_YES;
        }
        if (r->sent_413)
                return MHD_NO; /* the body is in and the 413 out: close */
        if (r->replied && !r->deferred)
                return send_reply(r); /* refused at the headers; the body is in */
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
        r->raw_len = strlen(uri);
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
                bool answered = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK || r->sent_413;
                s->access_log(s->access_log_userdata, r->method, r->route ? r->route->name : NULL, r->path,
                              answered ? (int) r->status : 0, ms);
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
        free(r->raw_path);
        free(r->decoded);
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
        if (s->no_listen)
                flags |= MHD_USE_NO_LISTEN_SOCKET;
        s->start_msg[0] = '\0';
        /* room for our limits and libmicrohttpd's own buffers; a request over ours is
         * answered by us, one over the pool by libmicrohttpd (also 414/431) */
        size_t pool = 2 * (s->max_url + s->max_headers);
        if (pool < MHD_POOL_MIN)
                pool = MHD_POOL_MIN;
        /* TLS 1.2 and 1.3 only (GnuTLS priorities); no HTTPS option without TLS, MHD would log each */
        struct MHD_OptionItem tls[] = {
                {MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert},
                {MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key},
                {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *) "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
                {MHD_OPTION_END, 0, NULL},
        };
        if (s->tls_cert)
                flags |= MHD_USE_TLS;
        else
                tls[0].option = MHD_OPTION_END;
        atomic_store(&s->starting, true);
        /* clang-format off */
        s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                MHD_OPTION_ARRAY, tls,
                MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&s->addr,
                MHD_OPTION_THREAD_POOL_SIZE, s->threads > 1 ? s->threads : 0u,
                MHD_OPTION_CONNECTION_LIMIT, s->max_connections,
                MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->per_ip,
                MHD_OPTION_CONNECTION_TIMEOUT, s->timeout_s,
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
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
                if (s->tls_cert && (strstr(s->start_msg, "x509") || strstr(s->start_msg, "TLS") ||
                                    strstr(s->start_msg, "certificate") || strstr(s->start_msg, "key")))
                        return err_field(err, -EINVAL, "tls-cert",
                                         "the certificate or its key cannot be used (%s): expected a PEM certificate "
                                         "chain and, in --tls-key, its unencrypted private key",
                                         s->start_msg);
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

int http_tls_check(const char *cert_pem, const char *key_pem, sked_err *err) {
        http_config cfg = {.listen = "127.0.0.1:0", .tls_cert_pem = cert_pem, .tls_key_pem = key_pem};
        http_server *s = NULL;
        int r = http_server_new(&cfg, &s, err);
        if (r < 0)
                return r;
        s->no_listen = true;
        r = http_server_start(s, err);
        http_server_free(s);
        return r;
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
                free(s->routes[i].name);
                free(s->routes[i].pattern);
        }
        free(s->routes);
        if (s->tls_key)
                sodium_memzero(s->tls_key, strlen(s->tls_key));
        free(s->tls_key);
        free(s->tls_cert);
        free(s);
}
