/* routes_metrics: GET /metrics (the admin token or the read-only metrics token,
 * DATA_DIR/metrics.token, as a bearer token), and the request counts it shows. */
#include "api/routes_metrics.h"

#include <string.h>
#include <strings.h>

#include "base/prom.h"

/* seconds: an API request, from reading its headers to its last byte */
static const double http_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

/* The method as one of a fixed set of static strings (a label must not carry what a
 * client typed). */
static const char *method_of(const char *m) {
        static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
                if (m && !strcmp(m, known[i]))
                        return known[i];
        return "other";
}

/* The slot of (method, route, status); past the table's size, its last slot, which
 * counts every other combination (method "other", route "(other)", status 0). */
static size_t count_slot(api_http_metrics *m, const char *method, const char *route, int status) {
        for (size_t i = 0; i < m->ncounts; i++)
                if (m->counts[i].status == status && m->counts[i].route == route && m->counts[i].method == method)
                        return i;
        if (m->ncounts == API_METRICS_SERIES - 1) {
                method = "other";
                route = "(other)";
                status = 0;
        } else if (m->ncounts == API_METRICS_SERIES) {
                return API_METRICS_SERIES - 1;
        }
        m->counts[m->ncounts].method = method;
        m->counts[m->ncounts].route = route;
        m->counts[m->ncounts].status = status;
        m->counts[m->ncounts].n = 0;
        return m->ncounts++;
}

static size_t timing_slot(api_http_metrics *m, const char *method, const char *route) {
        for (size_t i = 0; i < m->ntimings; i++)
                if (m->timings[i].route == route && m->timings[i].method == method)
                        return i;
        if (m->ntimings == API_METRICS_TIMINGS - 1) {
                method = "other";
                route = "(other)";
        } else if (m->ntimings == API_METRICS_TIMINGS) {
                return API_METRICS_TIMINGS - 1;
        }
        m->timings[m->ntimings].method = method;
        m->timings[m->ntimings].route = route;
        prom_histogram_init(&m->timings[m->ntimings].h, http_bounds, sizeof http_bounds / sizeof http_bounds[0]);
        return m->ntimings++;
}

static void observe(void *ud, const char *method, const char *route, const char *path, int status, double duration_ms) {
        (void) path; /* paths carry ids: never a label */
        if (status == 0)
                return; /* no reply was sent */
        api_http_metrics *m = &((api_ctx *) ud)->metrics.http;
        method = method_of(method);
        if (!route)
                route = "(none)"; /* no route matched: 404, or refused before routing */
        pthread_mutex_lock(&m->lock);
        m->counts[count_slot(m, method, route, status)].n++;
        prom_observe(&m->timings[timing_slot(m, method, route)].h, duration_ms / 1000);
        pthread_mutex_unlock(&m->lock);
}

static void label(strbuf *b, const char *name, const char *value, bool comma) {
        strbuf_printf(b, "%s%s=\"", comma ? "," : "", name);
        prom_label_value(b, value);
        strbuf_putc(b, '"');
}

static void write_http(api_http_metrics *m, strbuf *b) {
        strbuf lab = STRBUF_INIT;
        pthread_mutex_lock(&m->lock);
        prom_family(b, "sked_http_requests_total", "counter",
                    "HTTP requests answered, by method, route pattern and status.");
        for (size_t i = 0; i < m->ncounts; i++) {
                char st[16];
                if (m->counts[i].status)
                        snprintf(st, sizeof st, "%d", m->counts[i].status);
                else
                        snprintf(st, sizeof st, "other");
                strbuf_reset(&lab);
                label(&lab, "method", m->counts[i].method, false);
                label(&lab, "route", m->counts[i].route, true);
                label(&lab, "status", st, true);
                prom_sample(b, "sked_http_requests_total", strbuf_str(&lab), (double) m->counts[i].n);
        }
        prom_family(b, "sked_http_request_duration_seconds", "histogram",
                    "How long HTTP requests took, from their headers to their reply, by method and route pattern.");
        for (size_t i = 0; i < m->ntimings; i++) {
                strbuf_reset(&lab);
                label(&lab, "method", m->timings[i].method, false);
                label(&lab, "route", m->timings[i].route, true);
                prom_histogram_write(b, "sked_http_request_duration_seconds", strbuf_str(&lab), &m->timings[i].h);
        }
        pthread_mutex_unlock(&m->lock);
        strbuf_free(&lab);
}

/* Failed logins (routes_users.c's throttle), by why they failed. */
static void write_logins(api_ctx *ctx, strbuf *b) {
        uint64_t n[2];
        throttle_counts(&ctx->users.logins, n);
        prom_family(b, "sked_login_failures_total", "counter",
                    "Failed logins (POST /api/v1/session), by reason: credentials (a wrong name or password) or "
                    "locked (refused while the account or the address was locked out).");
        prom_sample(b, "sked_login_failures_total", "reason=\"credentials\"", (double) n[0]);
        prom_sample(b, "sked_login_failures_total", "reason=\"locked\"", (double) n[1]);
}

/* The gauges read from the store at each scrape: unfinished runs by type and state,
 * nodes by state (a shared database: every node's view is the cluster's). */
static int write_store(api_ctx *ctx, store *st, strbuf *b, sked_err *err) {
        sked_time now = engine_now(ctx->e);
        json_t *runs = NULL, *nodes = NULL;
        int r = store_runs_active_counts(st, now, &runs, err);
        if (r == 0)
                r = store_nodes_list(st, &nodes, err);
        if (r < 0) {
                json_decref(runs);
                return r;
        }
        strbuf lab = STRBUF_INIT;
        size_t i;
        json_t *it;
        prom_family(b, "sked_runs", "gauge",
                    "Unfinished runs by type and state: queued (ready), waiting (not before a later instant: a "
                    "backoff, or claimed ahead of its time), running.");
        json_array_foreach(runs, i, it) {
                strbuf_reset(&lab);
                label(&lab, "type", json_string_value(json_object_get(it, "type")), false);
                label(&lab, "state", json_string_value(json_object_get(it, "state")), true);
                prom_sample(b, "sked_runs", strbuf_str(&lab), (double) json_integer_value(json_object_get(it, "n")));
        }
        int64_t alive = 0, stale = 0;
        json_array_foreach(nodes, i, it) {
                sked_time hb = json_integer_value(json_object_get(it, "heartbeat_at"));
                if (now - hb < 10 * SKED_USEC) /* as GET /api/v1/nodes says "alive" */
                        alive++;
                else
                        stale++;
        }
        prom_family(b, "sked_nodes", "gauge",
                    "Nodes by state: alive (a heartbeat within 10 s) or stale; one node on SQLite.");
        prom_sample(b, "sked_nodes", "state=\"alive\"", (double) alive);
        prom_sample(b, "sked_nodes", "state=\"stale\"", (double) stale);
        strbuf_free(&lab);
        json_decref(runs);
        json_decref(nodes);
        return 0;
}

static bool metrics_token(api_ctx *ctx, http_req *req) {
        const char *h = http_header(req, "Authorization");
        if (!ctx->metrics.have || !h || strncasecmp(h, "Bearer ", 7) != 0)
                return false;
        for (h += 7; *h == ' '; h++)
                ;
        return auth_token_matches(h, ctx->metrics.hash);
}

/* The route's credentials check (it runs where the token check would): the admin
 * token or the metrics token. */
static int metrics_auth(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        if (http_authorized(req) || metrics_token(ctx, req))
                return 0;
        http_add_header(req, "WWW-Authenticate", "Bearer realm=\"sked\"");
        http_reply_problem(req, 401, "token",
                           "/metrics needs \"Authorization: Bearer <token>\" with the metrics token "
                           "(DATA_DIR/metrics.token) or the admin token");
        return -1;
}

static int h_metrics(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        store *st;
        if (api_get_store(ctx->e, req, &st) < 0)
                return 0;
        strbuf b = STRBUF_INIT;
        sked_err err = {0};
        prom_family(&b, "sked_build_info", "gauge", "The running version of sked (always 1).");
        strbuf_puts(&b, "sked_build_info{version=\"");
        prom_label_value(&b, SKED_VERSION);
        strbuf_puts(&b, "\"} 1\n");
        engine_metrics_write(ctx->e, &b);
        int r = write_store(ctx, st, &b, &err);
        if (r < 0) {
                strbuf_free(&b);
                return api_reply_err(req, r, &err);
        }
        write_http(&ctx->metrics.http, &b);
        write_logins(ctx, &b);
        http_reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", strbuf_str(&b), b.len);
        strbuf_free(&b);
        return 0;
}

static const http_route_def routes[] = {
        {"GET", "/metrics", HTTP_PUBLIC, h_metrics, .auth = metrics_auth},
};

int routes_metrics_register(http_server *s, api_ctx *ctx, sked_err *err) {
        pthread_mutex_init(&ctx->metrics.http.lock, NULL);
        http_set_access_log(s, observe, ctx);
        return api_route_table(s, routes, sizeof routes / sizeof routes[0], ctx, err);
}
