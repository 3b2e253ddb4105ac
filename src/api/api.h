/* api: what every resource's routes share (routes_*.c): the context they get as
 * userdata, and the helpers that turn engine/store errors, query arguments and
 * writes through the loop into replies.  All are called from MHD's worker threads
 * (api_write_through_loop's continuation too); the context is read-only once the
 * server runs. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/auth.h"
#include "api/throttle.h"
#include "base/prom.h"
#include "api/http.h"
#include "engine/engine.h"

#define API_DEFAULT_LIMIT 100 /* rows per page of a listing, when ?limit is absent */
#define API_MAX_LIMIT 1000

/* Requests by method, route pattern and status, and their durations, for /metrics:
 * fixed tables (the routes are a set fixed at start, the statuses few) under one
 * lock; a request that finds its table full is counted under route "(other)". */
#define API_METRICS_SERIES 512
#define API_METRICS_TIMINGS 256
typedef struct api_http_metrics {
        pthread_mutex_t lock;
        struct {
                const char *method, *route; /* static strings, or the server's route patterns */
                int status;
                uint64_t n;
        } counts[API_METRICS_SERIES];
        size_t ncounts;
        struct {
                const char *method, *route;
                prom_histogram h;
        } timings[API_METRICS_TIMINGS];
        size_t ntimings;
} api_http_metrics;

/* Web sessions' settings (sked serve's --session-idle-timeout, --session-lifetime);
 * NULL in routes_register: the defaults.  (Trusted proxies are http_config's.) */
typedef struct api_users_config {
        int64_t session_idle_s, session_lifetime_s; /* 0: 1800, 43200 */
} api_users_config;

/* The state every route handler reads, passed as the userdata of each route
 * (http_route_table); set up by routes_register before the server starts. */
typedef struct api_ctx {
        engine *e;
        struct {
                unsigned char hash[AUTH_HASH_LEN]; /* of the read-only calendar feed token */
                bool have;                         /* false: only the admin token reads the feed */
        } feed;                                    /* owner: routes_calendar.c (GET /api/v1/calendar.ics) */
        struct {
                unsigned char hash[AUTH_HASH_LEN]; /* of the read-only metrics token */
                bool have;                         /* false: only the admin token reads /metrics */
                api_http_metrics http;             /* written by every request */
        } metrics;                                 /* owner: routes_metrics.c (GET /metrics) */
        struct {
                char *json;    /* docs/openapi.yaml as compact JSON; lives as long as the process */
                size_t len;    /* of json */
                char etag[40]; /* "\"<32 hex digits>\"": a hash of json */
        } openapi;             /* owner: routes_openapi.c (GET /api/v1/openapi.json) */
        struct {
                int64_t idle, lifetime; /* of a web session, microseconds */
                throttle logins;        /* failed logins per account and address; read by routes_metrics.c */
        } users;                        /* owner: routes_users.c (users, tokens, sessions) */
        struct {
                struct events_hub *hub; /* the live event streams; NULL: none (503) */
        } events;                       /* owner: routes_events.c (GET /api/v1/events) */
} api_ctx;

/* The name of the operator whose writes are limited to their own series (the
 * series' owner): the caller's name when they are an operator, NULL for an admin
 * (anything) or no user. */
const char *api_owner_limit(http_req *req);

/* 0 when series `id` may be changed by the operator `limit` (NULL: anyone), else
 * -EACCES (or the store's -ENOENT) with err.  Call in the write, on the loop. */
int api_series_owned(store *st, int64_t id, const char *limit, sked_err *err);

/* Registers defs[0..n) with ctx as userdata; on error err names the route table
 * row (`cannot register route GET /api/v1/series`). */
int api_route_table(http_server *s, const http_route_def *defs, size_t n, api_ctx *ctx, sked_err *err);

/* The HTTP status of an engine/store error: -ENOENT 404, -ESTALE 412, -EEXIST 409,
 * -E2BIG 413, -EINVAL/-ERANGE/-EDOM 400, -EACCES 403, anything else 500. */
int api_status_of(int r);

/* Replies the problem for r (status from api_status_of, err's field and message, or
 * strerror when err has none); returns 0 (the handler's result). */
int api_reply_err(http_req *req, int r, const sked_err *err);

/* api_reply_err, but a write refused because the loop's queue is full or the engine
 * stops (-EBUSY, -ESHUTDOWN) answers 503 with Retry-After: 1. */
int api_reply_write_err(http_req *req, int r, const sked_err *err);

/* This thread's store connection; on failure replies 503 "store unavailable: ..."
 * and returns <0 (the handler then returns 0). */
int api_get_store(engine *e, http_req *req, store **ret);

/* Runs fn(op) through the loop (engine_write_async, with its flags) in its own
 * savepoint of a turn, the connection deferred meanwhile (http_defer), and replies
 * with ok(op) once the turn committed, or with clear(op) and the error's problem.
 * op (size bytes) is copied.  Returns 0: the reply follows, or was a 503 when out
 * of memory. */
int api_write_through_loop(http_req *req, engine *e, engine_write_fn fn, unsigned flags, const void *op, size_t size,
                           int (*ok)(http_req *, void *), void (*clear)(void *));

/* The audit entry of req (store/audit.h) in a write of its own, for the routes whose
 * change goes through the loop inside the engine (engine_type_register,
 * engine_poller_init) rather than api_write_through_loop, which writes the entry in
 * the change's own savepoint.  Call after the change succeeded; blocks until the
 * entry is written.  0, or <0 (logged). */
int api_audit_after(http_req *req, engine *e);

/* An integer query argument (or path parameter) v named name: def when v is NULL or
 * "", else a decimal integer in min..max (parse_int64: the whole text, no blanks),
 * else replies 400 `name: "v": expected an integer from min to max` and returns
 * -EINVAL. */
int api_int_arg(http_req *req, const char *name, const char *v, int64_t def, int64_t min, int64_t max, int64_t *ret);

/* The path parameter {id}: an id 1..INT64_MAX (api_int_arg). */
int api_id_param(http_req *req, int64_t *ret);

/* A UTC instant query argument YYYY-MM-DDTHH:MM:SSZ; def when absent or "", else
 * replies 400 and returns -EINVAL. */
int api_instant_arg(http_req *req, const char *name, sked_time def, sked_time *ret);

/* A boolean query argument: false when absent or "", true for true, 1 or yes, false
 * for false, 0 or no; anything else replies 400 naming it and returns -EINVAL. */
int api_bool_arg(http_req *req, const char *name, bool *ret);

/* If-Match on a route that takes it (HTTP_IF_MATCH), strictly (RFC 9110 §13.1.1 with
 * sked's ETags): absent or "*" → 0 (any version); one strong ETag "N" → N (1..
 * INT64_MAX); anything else (unquoted, weak W/"N", a list, not a version) replies
 * 400 with field "If-Match" and returns -EINVAL. */
int api_if_match(http_req *req, int64_t *ret);

/* Adds ETag: "version". */
void api_set_etag(http_req *req, int64_t version);
