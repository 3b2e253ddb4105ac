/* http: the HTTP server framework under the API — routes with {param} segments and
 * what each route takes (query arguments, a JSON body and its members, If-Match),
 * bearer-token auth, strict framing and decoding, size limits, problem+json errors —
 * over libmicrohttpd with an internal epoll thread pool.
 *
 * Threads: configure (http_server_new, http_route) and start/stop/free from one
 * thread.  Handlers run on MHD's worker threads, several at once: they must be
 * thread-safe, and they should not block for long (each blocked handler holds a
 * worker and its connections).  A http_req is only valid during its handler call.
 *
 * Every API reply carries `Cache-Control: no-store`; http_reply_static sets its own
 * (static assets with strong ETags, 304 on If-None-Match).  Framework errors are
 * application/problem+json, checked in this order (docs/api.md "Request rules"):
 *   1. framing: several Content-Length, Content-Length with Transfer-Encoding, a
 *      Transfer-Encoding other than chunked (400, 501 for codings we do not know),
 *      an HTTP/1.1 request without one Host or with several, a header field name
 *      that is not a token, a NUL in a header value, a singleton header (Host,
 *      Content-Length, Authorization, If-Match) sent twice: 400.  The connection is
 *      closed after these replies: its framing cannot be trusted.
 *   2. size: request target over max_url (414), header section over max_headers (431).
 *   3. the target's encoding: a byte not allowed unescaped, a broken %XX (400, field
 *      "path" or "query"); then the route: 404 (no route), 405 (+ Allow); then each
 *      path parameter and query argument decoded: not UTF-8, a NUL or a control
 *      character (400, field: the parameter or argument).
 *   4. auth: 401 (+ WWW-Authenticate).  Nothing about the route's input is looked at
 *      before this: the checks above are about the request's bytes only.
 *   5. what the route takes: a query argument it does not declare, or one given twice
 *      (400, field: the argument); If-Match on a route without HTTP_IF_MATCH (400,
 *      field "If-Match"); a body on a route that takes none (400, field "body"); a body
 *      over max_body (413, field "body"; a chunked one is answered when it crosses the
 *      limit, and the connection closed); invalid JSON, not an object (or array) where
 *      the route wants one (400, field "body"), a member the route does not declare
 *      (400, field: the member, "[i].member" in an array).
 *   6. 500 (handler failed). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct http_server http_server;
typedef struct http_req http_req;

/* Returns 0 after replying with one http_reply_* call.  A handler that returns <0
 * without replying (or returns without replying at all) gets a 500 problem. */
typedef int (*http_handler_fn)(http_req *req, void *userdata);

/* Called once per finished request if set, on a worker thread (so thread-safe);
 * route is the pattern of the route that matched ("/api/v1/series/{id}"), NULL when
 * none did; status is 0 if no reply was sent (connection closed early). */
typedef void (*http_access_log_fn)(void *userdata, const char *method, const char *route, const char *path, int status,
                                   double duration_ms);

/* Who a request comes from, once its credentials are checked (docs/security.md):
 * the user, their role, the token that authenticated them (0: none, or the
 * configured token_hash). */
enum { HTTP_ROLE_NONE, HTTP_ROLE_VIEWER, HTTP_ROLE_OPERATOR, HTTP_ROLE_ADMIN };
typedef struct http_principal {
        int64_t user_id, token_id; /* 0 for the configured token_hash */
        int64_t session_id;        /* a web session's (cookie), else 0 */
        int role;                  /* HTTP_ROLE_* */
        bool must_change;          /* sessions: the password must be changed first */
        bool totp_missing;         /* sessions: a second factor must be enrolled first (admins require it) */
        char name[65];             /* the user's name */
        char csrf[65];             /* sessions: what X-CSRF-Token must say on a state change */
} http_principal;

/* Checks a bearer token other than token_hash, or (bearer NULL) the request's
 * session cookie: fills *ret and returns 0 when it is valid, -EACCES when it is
 * not, another negative errno when it cannot tell (the store is down: 503).  Any
 * worker thread.  Requests authenticated by a session (ret->session_id) that change
 * state must carry X-CSRF-Token equal to ret->csrf and pass http_same_origin. */
typedef int (*http_authn_fn)(void *ud, http_req *r, const char *bearer, http_principal *ret);

typedef struct http_config {
        const char *listen;              /* "127.0.0.1:8080", "[::1]:8080"; port 0 picks a free one.
                                            IP literals only: host names are rejected */
        unsigned threads;                /* worker threads (MHD thread pool), 0 → 4 */
        size_t max_body;                 /* bytes, 0 → 1 MiB; larger bodies get 413 */
        size_t max_url;                  /* bytes of the request target, 0 → 8 KiB; longer: 414 */
        size_t max_headers;              /* bytes of the header section, 0 → 16 KiB; larger: 431 */
        unsigned max_connections;        /* in total, 0 → 512; more are refused at accept */
        unsigned max_connections_per_ip; /* from one address, 0 → 64 (or max_connections if lower) */
        unsigned timeout_s;              /* idle connection timeout, 0 → 30 */
        const unsigned char *token_hash; /* 32 bytes (auth_token_hash), copied.  Non-public routes
                                            need "Authorization: Bearer <token>" matching it; NULL
                                            means no token is valid (non-public routes answer 401) */
        http_access_log_fn access_log;   /* optional; NULL logs nothing per request */
        void *access_log_userdata;
        http_authn_fn authenticate; /* optional: tokens of users (token_hash is an admin's) */
        void *authn_userdata;
        const char *tls_cert_pem;           /* both or neither: serve HTTPS (TLS 1.2 and 1.3) with this PEM */
        const char *tls_key_pem;            /* certificate chain and key (copied; wiped from memory at free) */
        const char *const *trusted_proxies; /* IP literals of reverse proxies whose X-Forwarded-For and */
        size_t ntrusted;                    /* X-Forwarded-Proto are believed; at most HTTP_TRUSTED_MAX */
} http_config;
#define HTTP_TRUSTED_MAX 16

/* Route flags.  Without a body flag a route takes no body (a request with one is
 * refused, 400 field "body"); the members of an object body are those the route
 * declares (http_route_def.members), any other is refused. */
enum {
        HTTP_PUBLIC = 1 << 0,        /* no token needed (or the route's own auth function) */
        HTTP_BODY = 1 << 1,          /* a JSON object body is required */
        HTTP_BODY_OPTIONAL = 1 << 2, /* a JSON object body, or none */
        HTTP_BODY_ARRAY = 1 << 3,    /* with HTTP_BODY: an array of such objects also */
        HTTP_BODY_ANY = 1 << 4,      /* any JSON value or none, members unchecked: the handler checks */
        HTTP_IF_MATCH = 1 << 5,      /* takes If-Match (parsed by the handler); other routes refuse it */
        /* Roles (checked after the token, 403 otherwise): GET and HEAD need a viewer,
         * other methods an operator, unless one of these says otherwise. */
        HTTP_ADMIN = 1 << 6,            /* admins only, whatever the method */
        HTTP_ANY_ROLE = 1 << 7,         /* any user, whatever the method (their own tokens, password: the
                                           handler checks whose) */
        HTTP_PASSWORD_PENDING = 1 << 8, /* open to a session whose password must be changed (else 403) */
        HTTP_TOTP_PENDING = 1 << 9,     /* open to a session that must enrol a second factor first (else 403) */
};

/* A route's own check of credentials, for an HTTP_PUBLIC route that accepts others
 * than the admin token (the calendar feed's ?token=).  Runs where the token check
 * would, before anything else about the route's input; returns 0 when the request may
 * go on, or replies (401) and returns <0.  Thread-safe, like a handler. */
typedef int (*http_auth_fn)(http_req *req, void *userdata);

/* A name list for http_route_def.args and .members: HTTP_NAMES("after", "limit"). */
#define HTTP_NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Creates a server (not yet listening) from cfg, which need not outlive the call.
 * Errors: -EINVAL with err field "listen" for an address that is not "IP:port"
 * or "[IPv6]:port"; -ENOMEM. */
int http_server_new(const http_config *cfg, http_server **ret, sked_err *err);

/* Checks that cert_pem and key_pem make a TLS server (a certificate chain and its
 * unencrypted key), without listening: -EINVAL with field "tls-cert" when not. */
int http_tls_check(const char *cert_pem, const char *key_pem, sked_err *err);

/* Sets (or replaces) the access log of http_config; before http_server_start only. */
void http_set_access_log(http_server *s, http_access_log_fn fn, void *userdata);

/* One row of a resource's route table: method ("GET", "POST", ...; HEAD is served by
 * GET routes) and pattern, e.g. "/api/v1/series/{id}/occurrences": literal segments
 * match exactly (not percent-decoded), {name} matches one non-empty segment
 * (percent-decoded, see http_param), and a last segment {name*} matches one or more
 * segments, the rest of the path ("/assets/{path*}" gives path "js/app.js" for
 * /assets/js/app.js; percent-decoded after joining, so it may hold "/" or ".."; a
 * handler looks it up, never opens it as a file name).  When several routes match a
 * path, the one with most literal segments wins, and at a tie the one without a
 * wildcard.  args and members are NULL-terminated name lists (HTTP_NAMES) that must
 * outlive the server (static tables); NULL: none. */
typedef struct http_route_def {
        const char *method;
        const char *pattern;
        unsigned flags; /* HTTP_PUBLIC, HTTP_BODY*, HTTP_IF_MATCH */
        http_handler_fn fn;
        const char *const *args;    /* the query arguments it reads; any other is refused */
        const char *const *members; /* the members of its object body; any other is refused */
        http_auth_fn auth;          /* with HTTP_PUBLIC: its own credentials check, or NULL */
} http_route_def;

/* Registers def (method and pattern are copied) with userdata.  Call before
 * http_server_start.  Errors: -EINVAL (bad pattern: not starting with '/', more than
 * 8 params, empty or unclosed {}, {name*} before the last segment; HTTP_BODY_ARRAY
 * without HTTP_BODY; auth without HTTP_PUBLIC), -EBUSY (server already started),
 * -ENOMEM. */
int http_route(http_server *s, const http_route_def *def, void *userdata);

/* Binds and starts the worker threads.  Errors (with err, field "listen"):
 * -EADDRINUSE (port taken) or -EADDRNOTAVAIL (anything else: address not local,
 * permission, ...), with MHD's reason, e.g. `listen: "127.0.0.1:8080": cannot listen:
 * Failed to bind to port 8080: Address already in use`; -EALREADY if running. */
int http_server_start(http_server *s, sked_err *err);

/* The bound port (useful with port 0); 0 before start. */
uint16_t http_server_port(const http_server *s);

/* Registers each of defs[0..n) with http_route, all with the same userdata (a
 * resource's context).  Stops at and returns the first error (earlier rows stay). */
int http_route_table(http_server *s, const http_route_def *defs, size_t n, void *userdata);

/* The routes registered on s, in the order of registration: http_route_count of them,
 * the i-th through http_route_at (pattern as registered, "/api/v1/series/{id}"; the
 * strings are the server's, valid until http_server_free).  For checks that compare
 * the routes with their description (tests/unit/api/test_openapi.c).  Any thread,
 * but not beside http_route. */
size_t http_route_count(const http_server *s);
void http_route_at(const http_server *s, size_t i, const char **ret_method, const char **ret_pattern,
                   unsigned *ret_flags);
/* What the i-th route takes: its args and members lists as registered (NULL: none). */
void http_route_takes(const http_server *s, size_t i, const char *const **ret_args, const char *const **ret_members);

/* Stops accepting connections, waits (up to timeout_s) for requests in flight to
 * finish and be answered, then closes all connections and joins the workers.
 * No-op if not running.  Must not be called from a handler. */
void http_server_stop(http_server *s);

/* Stops (if running) and frees.  NULL is a no-op. */
void http_server_free(http_server *s);

/* Request accessors; returned strings are owned by the request. */
const char *http_path(const http_req *r);   /* percent-decoded path, no query string */
const char *http_method(const http_req *r); /* "GET", "POST", ... */
/* Path parameter {name}, percent-decoded; NULL if the route has none of that name. */
const char *http_param(const http_req *r, const char *name);
/* True when the request carries a valid token ("Authorization: Bearer ..."): the
 * configured one or a user's; for HTTP_PUBLIC routes that accept other credentials
 * too (read-only ones: any role will do). */
bool http_authorized(http_req *r);
/* Who the request comes from; NULL on HTTP_PUBLIC routes without a valid token. */
const http_principal *http_principal_of(http_req *r);
/* The name of role (HTTP_ROLE_*): "viewer", "operator", "admin", "none". */
const char *http_role_name(int role);
/* The HTTP_ROLE_* of a name, or HTTP_ROLE_NONE. */
int http_role_parse(const char *name);
/* Sets the http_authn_fn (as http_config.authenticate); before http_server_start. */
void http_set_authenticate(http_server *s, http_authn_fn fn, void *userdata);
/* False when the request says it comes from another site: Sec-Fetch-Site other than
 * same-origin or none, or an Origin whose host is not the Host header. */
bool http_same_origin(http_req *r);
/* The client's address as text ("127.0.0.1", "::1"); "" when unknown.  From a
 * trusted proxy (http_config.trusted_proxies): the address its X-Forwarded-For names
 * (the last one that is not itself a trusted proxy), when that is an IP literal. */
const char *http_client_addr(http_req *r);
/* True when the request came over HTTPS: the server's own TLS, or a trusted proxy's
 * "X-Forwarded-Proto: https". */
bool http_request_secure(http_req *r);
/* Query-string argument, percent-decoded ("a%20b" and "a+b" → "a b") and checked to
 * be text; NULL if absent, "" for "?flag".  name must be one of the route's args
 * (reading another logs a bug: it is never there). */
const char *http_query(const http_req *r, const char *name);
/* Request header, name case-insensitive; NULL if absent. */
const char *http_header(const http_req *r, const char *name);
/* The parsed body (borrowed, freed after the request), NULL if the request had no
 * body.  Invalid JSON never reaches a handler (the framework answers 400 with
 * "body: invalid JSON at line L, column C: ..."), nor a body of another shape than
 * the route's flags ask for, nor an object with a member the route does not declare
 * (the members' values are the handler's to check).  Duplicate object keys are
 * rejected as invalid. */
json_t *http_body_json(http_req *r);

/* Replies: exactly one per request; a second reply is dropped (and logged as a bug).
 * Headers added with http_add_header before or after are included. */

/* Replies status with body serialized compactly as application/json.  body is
 * stolen (decref'ed here); NULL sends an empty body without Content-Type. */
void http_reply_json(http_req *r, int status, json_t *body);

/* Replies an application/problem+json document
 * {"type":"about:blank","title":<reason phrase>,"status":N,"detail":<fmt...>,"field":field};
 * field may be NULL (then omitted). */
void http_reply_problem(http_req *r, int status, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Replies len bytes of body (copied) with content_type (NULL → no Content-Type). */
void http_reply_text(http_req *r, int status, const char *content_type, const char *body, size_t len);
/* The same without a copy: takes `body` (malloc'ed), freed with the reply.  For large
 * replies (the calendar): a copy doubled their memory. */
void http_reply_text_take(http_req *r, int status, const char *content_type, char *body, size_t len);

/* Replies 200 with len bytes of body, which must outlive the server (an embedded
 * asset: not copied), with a strong etag (a quoted string, e.g. "\"3f2a9c\"", or NULL)
 * and Cache-Control: cache_control (NULL: "no-cache", i.e. revalidate each time; for a
 * file whose name carries its hash, "public, max-age=31536000, immutable").  When the
 * request's If-None-Match lists etag (or "*"), replies 304 with the ETag and no body. */
void http_reply_static(http_req *r, const char *content_type, const void *body, size_t len, const char *etag,
                       const char *cache_control);

/* Deferred replies, for a handler that waits for something slow (a write through
 * the engine's loop) without holding a worker thread: it calls http_defer and
 * returns without replying.  The framework then suspends the connection and calls
 * start(r, ud), which hands the work off; whoever finishes it calls http_resume(r),
 * from any thread, exactly once; the framework then calls cont(r, ud) on a worker
 * thread, which replies (the request, its body and params stay valid until then;
 * if the client went away meanwhile, cont still runs and its reply is dropped).
 * The work must finish: a server stopping waits for requests in flight
 * (timeout_s), and libmicrohttpd cannot stop beside a suspended connection. */
typedef void (*http_start_fn)(http_req *r, void *ud);
void http_defer(http_req *r, http_start_fn start, http_handler_fn cont, void *ud);
void http_resume(http_req *r);

/* An open-ended reply (Server-Sent Events): the handler replies 200 with
 * http_reply_stream and returns; any thread then pushes bytes with
 * http_stream_write, and they go out as the client reads.  While nothing is
 * pending the connection is suspended (no thread, no busy loop); a write resumes
 * it.  At most max_pending bytes wait for a slow client: a write beyond drops the
 * client (-ENOBUFS; the connection is closed), so a client that does not read
 * cannot grow the server's memory.  *ret carries two references, the caller's
 * and the reply's (dropped when libmicrohttpd is done with the connection: then
 * http_stream_gone is true).  Every stream must be ended (http_stream_end) before
 * the server stops: libmicrohttpd cannot stop beside a suspended connection.
 * Returns 0, or -ENOMEM (a 500 is the reply then). */
typedef struct http_stream http_stream;
int http_reply_stream(http_req *r, const char *content_type, size_t max_pending, http_stream **ret);
/* 0; -ENOBUFS (too much pending: the client is dropped), -EPIPE (ended or gone). Any thread. */
int http_stream_write(http_stream *s, const char *data, size_t len);
/* The body ends once what is pending went out (drop: at once, the connection is reset). */
void http_stream_end(http_stream *s, bool drop);
/* True once the connection is finished with (the client left, or the end went out). */
bool http_stream_gone(http_stream *s);
/* Bytes written and not yet taken by the connection. */
size_t http_stream_pending(http_stream *s);
void http_stream_unref(http_stream *s);

/* Adds a response header (copied), e.g. ETag or Location. */
void http_add_header(http_req *r, const char *name, const char *value);
