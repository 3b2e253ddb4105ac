/* routes: the HTTP API under /api/v1 (docs/api.md), served over the engine. */
#pragma once

#include "api/http.h"
#include "engine/engine.h"

/* Registers every route on `s`; handlers use `e` from MHD's threads. */
int routes_register(http_server *s, engine *e, sked_err *err);
