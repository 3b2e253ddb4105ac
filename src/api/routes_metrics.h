/* routes_metrics: GET /metrics, the Prometheus text format (docs/operations.md,
 * "Metrics"), and the counting of every request for it. */
#pragma once

#include "api/api.h"

int routes_metrics_register(http_server *s, api_ctx *ctx, sked_err *err);
