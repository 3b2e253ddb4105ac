/* routes_events: GET /api/v1/events, Server-Sent Events of what is committed
 * (api/events.c streams them). */
#include "api/routes_events.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/events.h"
#include "base/parse.h"

/* ?event=run,message,...: the kinds wanted; 0 and a 400 reply when one is unknown. */
static int kinds_arg(http_req *req, unsigned *ret) {
        const char *v = http_query(req, "event");
        static const struct {
                const char *name;
                unsigned bit;
        } names[] = {{"run", EVENTS_KIND_RUN},
                     {"message", EVENTS_KIND_MESSAGE},
                     {"result", EVENTS_KIND_RESULT},
                     {"progress", EVENTS_KIND_PROGRESS}};
        unsigned kinds = 0;
        for (const char *p = v; p && *p;) {
                size_t n = strcspn(p, ",");
                bool known = false;
                for (size_t i = 0; i < sizeof names / sizeof names[0] && !known; i++)
                        if (n == strlen(names[i].name) && !strncmp(p, names[i].name, n)) {
                                kinds |= names[i].bit;
                                known = true;
                        }
                if (!known) {
                        http_reply_problem(req, 400, "event",
                                           "event: \"%.*s\": expected a comma-separated list of run, message, "
                                           "result and progress",
                                           (int) (n > 64 ? 64 : n), p);
                        return -EINVAL;
                }
                p += n + (p[n] == ',');
        }
        *ret = kinds ? kinds : EVENTS_KIND_ALL;
        return 0;
}

static int h_events(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        int64_t series, run, last = -1;
        unsigned kinds;
        if (api_int_arg(req, "series", http_query(req, "series"), 0, 1, INT64_MAX, &series) < 0 ||
            api_int_arg(req, "run", http_query(req, "run"), 0, 1, INT64_MAX, &run) < 0 || kinds_arg(req, &kinds) < 0)
                return 0;
        const char *type = http_query(req, "type");
        if (type && (!*type || strlen(type) > 200)) {
                http_reply_problem(req, 400, "type", "type: expected a process type's name (1 to 200 characters)");
                return 0;
        }
        /* the header a reconnecting EventSource sends, or the same as an argument
         * (a browser's first connection cannot set headers) */
        const char *hdr = http_header(req, "Last-Event-ID");
        const char *arg = http_query(req, "last_event_id");
        const char *field = hdr ? "Last-Event-ID" : "last_event_id";
        const char *lv = hdr ? hdr : arg;
        if (lv && *lv && parse_int64(lv, 0, INT64_MAX, &last) < 0) {
                http_reply_problem(req, 400, field, "%s: \"%.40s\": expected an event id (an integer 0 or more)", field,
                                   lv);
                return 0;
        }
        if (!ctx->events.hub) {
                http_reply_problem(req, 503, NULL, "live events are not served here");
                return 0;
        }
        event_filter f = {.series_id = series, .run_id = run, .type = type};
        sked_err err = {0};
        int r = events_hub_add(ctx->events.hub, req, &f, kinds, lv && *lv ? last : -1, &err);
        if (r == -EUSERS) {
                http_add_header(req, "Retry-After", "10");
                http_reply_problem(req, 429, NULL, "%s", err.msg);
        } else if (r == -EBUSY) {
                http_add_header(req, "Retry-After", "10");
                http_reply_problem(req, 503, NULL, "%s", err.msg);
        }
        return 0; /* other errors: the stream's reply was a 500 */
}

static const http_route_def routes[] = {
        {"GET", "/api/v1/events", 0, h_events, .args = HTTP_NAMES("series", "run", "type", "event", "last_event_id")},
};

int routes_events_register(http_server *s, api_ctx *ctx, sked_err *err) {
        return api_route_table(s, routes, sizeof routes / sizeof routes[0], ctx, err);
}
