/* routes_preview: the preview of a schedule, POST /api/v1/preview (docs/api.md
 * "Preview"). */
#pragma once

#include "api/api.h"

/* Registers this resource's route table on s, each route with ctx as userdata (ctx
 * must outlive the server).  Errors: those of http_route, with err naming the route. */
int routes_preview_register(http_server *s, api_ctx *ctx, sked_err *err);
