/* fuzz_http: raw HTTP/1.1 requests through the real framework (src/api/http.c over
 * libmicrohttpd, src/api/uri.c, the API's argument helpers in src/api/api.c): framing,
 * size limits, the request target's decoding, route matching, bearer-token auth, the
 * route's arguments, If-Match (api_if_match), the body's JSON and its members.  One
 * server on 127.0.0.1 (port 0) for the whole run, with routes of the shapes the API
 * has; each input is written to a new connection, which is then half-closed, and the
 * replies are read until the server closes it.  Invariants: the server answers every
 * input or closes the connection within the timeout (no hang); every reply is
 * HTTP/1.1 with a status from 100 to 599; no reply is a 500 (a 500 is a bug: a
 * handler or the framework failing on input, as "out of memory" on invalid UTF-8 did);
 * path parameters and arguments reach the handler as text. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"
#include "api/auth.h"
#include "api/http.h"
#include "base/civil.h"
#include "base/utf8.h"
#include "fuzz.h"

static http_server *srv;
static uint16_t port;

static void check_text(const char *what, const char *v) {
        FUZZ_CHECK(!v || utf8_is_text(v, strlen(v), NULL), "%s reached the handler as non-text", what);
}

static int h_list(http_req *r, void *ud) {
        int64_t limit;
        sked_time after;
        bool all;
        check_text("after", http_query(r, "after"));
        if (api_int_arg(r, "limit", http_query(r, "limit"), 50, 1, 1000, &limit) < 0 ||
            api_instant_arg(r, "after", 0, &after) < 0 || api_bool_arg(r, "all", &all) < 0)
                return 0;
        http_reply_json(r, 200, json_pack("{s:I}", "limit", (json_int_t) limit));
        return 0;
}

static int h_one(http_req *r, void *ud) {
        int64_t id, version;
        if (api_id_param(r, &id) < 0 || api_if_match(r, &version) < 0)
                return 0;
        http_reply_json(r, 200, json_pack("{s:I,s:I}", "id", (json_int_t) id, "version", (json_int_t) version));
        return 0;
}

static int h_body(http_req *r, void *ud) {
        json_t *b = http_body_json(r);
        FUZZ_CHECK(b && (json_is_object(b) || json_is_array(b)), "a body of the wrong shape reached the handler");
        http_reply_json(r, 201, json_incref(b));
        return 0;
}

static int h_any(http_req *r, void *ud) {
        check_text("name", http_param(r, "name"));
        http_reply_json(r, 200, NULL);
        return 0;
}

static int h_asset(http_req *r, void *ud) {
        check_text("path", http_param(r, "path"));
        http_reply_text(r, 200, "text/plain", "x", 1);
        return 0;
}

static const http_route_def routes[] = {
        {"GET", "/api/v1/series", 0, h_list, HTTP_NAMES("after", "limit", "all"), NULL, NULL},
        {"POST", "/api/v1/series", HTTP_BODY | HTTP_BODY_ARRAY, h_body, NULL,
         HTTP_NAMES("type", "schedule", "params", "note"), NULL},
        {"GET", "/api/v1/series/{id}", 0, h_one, NULL, NULL, NULL},
        {"PATCH", "/api/v1/series/{id}", HTTP_BODY | HTTP_IF_MATCH, h_one, NULL, HTTP_NAMES("schedule", "paused"),
         NULL},
        {"DELETE", "/api/v1/series/{id}", HTTP_IF_MATCH, h_one, NULL, NULL, NULL},
        {"PUT", "/api/v1/types/{name}", HTTP_BODY_ANY, h_any, NULL, NULL, NULL},
        {"POST", "/api/v1/runs/{id}/cancel", HTTP_BODY_OPTIONAL, h_one, NULL, HTTP_NAMES("reason"), NULL},
        {"GET", "/assets/{path*}", HTTP_PUBLIC, h_asset, NULL, NULL, NULL},
};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        unsigned char hash[AUTH_HASH_LEN];
        sked_err err = {0};
        auth_token_hash("fuzz-token", hash);
        http_config cfg = {.listen = "127.0.0.1:0",
                           .threads = 2,
                           .max_body = 4096,
                           .max_url = 1024,
                           .max_headers = 2048,
                           .timeout_s = 1,
                           .token_hash = hash};
        if (http_server_new(&cfg, &srv, &err) < 0 ||
            http_route_table(srv, routes, sizeof routes / sizeof *routes, NULL) < 0 ||
            http_server_start(srv, &err) < 0) {
                fprintf(stderr, "fuzz_http: %s\n", err.msg);
                abort();
        }
        port = http_server_port(srv);
        return 0;
}

/* Checks each status line in the replies (a reply may carry a body that looks like
 * one: only lines at the start or right after a blank line's body are looked at, so
 * the check is on the first reply and on those that follow a Content-Length body). */
static void check_replies(const char *buf, size_t len) {
        if (len == 0)
                return; /* closed without a reply: allowed for bytes that are not HTTP */
        FUZZ_CHECK(len >= 12 && !memcmp(buf, "HTTP/1.1 ", 9), "the reply does not start with a status line");
        int status = atoi(buf + 9);
        FUZZ_CHECK(status >= 100 && status <= 599, "status %d", status);
        FUZZ_CHECK(status != 500, "the server answered 500: %.*s", (int) (len > 600 ? 600 : len), buf);
        for (const char *p = buf; (p = memmem(p, (size_t) (buf + len - p), "\r\nHTTP/1.1 500", 14)); p++)
                FUZZ_CHECK(false, "a later reply is a 500: %.*s", (int) (len > 600 ? 600 : len), buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!srv)
                LLVMFuzzerInitialize(NULL, NULL);
        /* libFuzzer's SIGALRM (its timeout check) would interrupt connect, send, poll and
         * recv: held off for the exchange, which has its own 10 s deadline */
        sigset_t alrm, old;
        sigemptyset(&alrm);
        sigaddset(&alrm, SIGALRM);
        pthread_sigmask(SIG_BLOCK, &alrm, &old);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        FUZZ_CHECK(fd >= 0 && connect(fd, (struct sockaddr *) &a, sizeof a) == 0, "connect: %s", strerror(errno));
        size_t off = 0;
        while (off < size) {
                ssize_t k = send(fd, data + off, size - off, MSG_NOSIGNAL);
                if (k <= 0)
                        break; /* the server closed early: it may, after a refusal */
                off += (size_t) k;
        }
        shutdown(fd, SHUT_WR);
        static char buf[1 << 16];
        size_t len = 0;
        int64_t deadline = time_mono_usec() / 1000 + 10000;
        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int64_t left = deadline - time_mono_usec() / 1000;
                int n = left > 0 ? poll(&p, 1, (int) left) : 0;
                if (n < 0 && errno == EINTR)
                        continue;
                FUZZ_CHECK(n > 0, "no reply and no close within 10 s");
                ssize_t k = recv(fd, buf + len, sizeof buf - 1 - len, 0);
                if (k <= 0)
                        break;
                len += (size_t) k;
                if (len == sizeof buf - 1)
                        break;
        }
        close(fd);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (getenv("FUZZ_VERBOSE")) /* the replies, for reading a find */
                fprintf(stderr, "%.*s\n", (int) len, buf);
        check_replies(buf, len);
        return 0;
}
