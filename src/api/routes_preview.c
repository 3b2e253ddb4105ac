/* routes_preview: the next occurrences of a schedule before it is saved, for the
 * web wizard's live preview: the same scheduler and the same validation as series
 * creation (engine_schedule_preview), the same text as `sked preview`. */
#include "api/routes_preview.h"

#include <errno.h>

#include "base/civil.h"

/* POST (a body, not a query: the members are those of a series, policy an object)
 * yet open to viewers (HTTP_ANY_ROLE): it reads nothing and changes nothing. */
static int h_preview(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        json_t *body = http_body_json(req), *v, *out = NULL;
        sked_err err = {0};
        int64_t limit = 10;
        sked_time from = 0;
        if ((v = json_object_get(body, "limit")) && !json_is_null(v)) {
                if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > ENGINE_PREVIEW_MAX) {
                        http_reply_problem(req, 400, "limit", "limit: expected an integer from 1 to %d",
                                           ENGINE_PREVIEW_MAX);
                        return 0;
                }
                limit = json_integer_value(v);
        }
        if ((v = json_object_get(body, "from")) && !json_is_null(v)) {
                if (!json_is_string(v) || time_parse_utc(json_string_value(v), &from) < 0) {
                        http_reply_problem(req, 400, "from", "from: expected a UTC instant YYYY-MM-DDTHH:MM:SSZ");
                        return 0;
                }
        }
        json_t *in = json_copy(body); /* shallow: the series' members only */
        if (!in)
                return api_reply_err(req, -ENOMEM, NULL);
        json_object_del(in, "limit");
        json_object_del(in, "from");
        int r = engine_schedule_preview(ctx->e, in, from, (int) limit, &out, &err);
        json_decref(in);
        if (r < 0)
                return api_reply_err(req, r, &err);
        http_reply_json(req, 200, out);
        return 0;
}

static const http_route_def routes[] = {
        {"POST", "/api/v1/preview", HTTP_BODY | HTTP_ANY_ROLE, h_preview,
         .members = HTTP_NAMES("type", "schedule", "tz", "start", "end", "count", "policy", "limit", "from")},
};

int routes_preview_register(http_server *s, api_ctx *ctx, sked_err *err) {
        return api_route_table(s, routes, sizeof routes / sizeof routes[0], ctx, err);
}
