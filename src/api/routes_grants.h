/* routes_grants: what an admin lets an operator change beyond their own series
 * (docs/api.md "Grants"): GET and PUT /api/v1/users/{name}/grants. */
#pragma once

#include "api/api.h"

int routes_grants_register(http_server *s, api_ctx *ctx, sked_err *err);
