/* routes: the HTTP API under /api/v1, one route table per resource (routes_*.c),
 * all sharing one api_ctx. */
#include "api/routes.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/routes_calendar.h"
#include "api/routes_cluster.h"
#include "api/routes_features.h"
#include "api/routes_grants.h"
#include "api/routes_metrics.h"
#include "api/routes_openapi.h"
#include "api/routes_preview.h"
#include "api/routes_runs.h"
#include "api/routes_series.h"
#include "api/routes_types.h"
#include "api/routes_ui.h"
#include "api/routes_events.h"
#include "api/routes_users.h"
#include "api/routes_workflows.h"

/* One row per resource; a new resource is a new row (and its routes_X.c). */
static int (*const resources[])(http_server *, api_ctx *, sked_err *) = {
        routes_cluster_register,   routes_types_register,  routes_series_register,  routes_calendar_register,
        routes_features_register,  routes_runs_register,   routes_metrics_register, routes_openapi_register,
        routes_workflows_register, routes_ui_register,     routes_users_register,   routes_grants_register,
        routes_preview_register,   routes_events_register,
};

int routes_register(http_server *s, engine *e, const unsigned char *feed_hash, const unsigned char *metrics_hash,
                    const api_users_config *users, struct events_hub *events, sked_err *err) {
        /* The routes point at the context for the server's life, and routes_register
         * has no counterpart to free it: one server per process (sked serve), so it
         * lives in static storage, reached by the handlers only through their
         * userdata. */
        static api_ctx ctx;
        free(ctx.openapi.json); /* a second call (unit tests) starts again */
        ctx = (api_ctx){.e = e};
        ctx.events.hub = events;
        if (feed_hash) {
                memcpy(ctx.feed.hash, feed_hash, sizeof ctx.feed.hash);
                ctx.feed.have = true;
        }
        if (metrics_hash) {
                memcpy(ctx.metrics.hash, metrics_hash, sizeof ctx.metrics.hash);
                ctx.metrics.have = true;
        }
        ctx.users.idle = (users && users->session_idle_s ? users->session_idle_s : 1800) * (int64_t) 1000000;
        ctx.users.lifetime =
                (users && users->session_lifetime_s ? users->session_lifetime_s : 43200) * (int64_t) 1000000;
        throttle_init(&ctx.users.logins);
        http_set_authenticate(s, routes_users_authenticate, &ctx);
        for (size_t i = 0; i < sizeof resources / sizeof resources[0]; i++) {
                int r = resources[i](s, &ctx, err);
                if (r < 0)
                        return r;
        }
        return 0;
}
