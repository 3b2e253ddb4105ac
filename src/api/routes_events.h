/* routes_events: GET /api/v1/events, the live event stream (docs/api.md "Live events"). */
#pragma once

#include "api/api.h"
#include "api/http.h"
#include "base/err.h"

int routes_events_register(http_server *s, api_ctx *ctx, sked_err *err);
