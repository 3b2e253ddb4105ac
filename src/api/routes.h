/* routes: the HTTP API under /api/v1 (docs/api.md), served over the engine. */
#pragma once

#include "api/http.h"
#include "engine/engine.h"

/* Registers every route on `s`; handlers use `e` from MHD's threads. */
/* feed_hash (may be NULL): the hash of the read-only calendar feed token, accepted
 * as ?token= by GET /api/v1/calendar.ics (calendar programs cannot send headers).
 * metrics_hash (may be NULL): the hash of the read-only metrics token, accepted as a
 * bearer token by GET /metrics. */
int routes_register(http_server *s, engine *e, const unsigned char *feed_hash, const unsigned char *metrics_hash,
                    sked_err *err);
