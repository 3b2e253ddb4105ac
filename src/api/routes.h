/* routes: the HTTP API under /api/v1 (docs/api.md), served over the engine. */
#pragma once

#include "api/api.h"
#include "api/http.h"
#include "engine/engine.h"

/* Registers every route on `s`; handlers use `e` from MHD's threads. */
/* feed_hash (may be NULL): the hash of the read-only calendar feed token, accepted
 * as ?token= by GET /api/v1/calendar.ics (calendar programs cannot send headers).
 * metrics_hash (may be NULL): the hash of the read-only metrics token, accepted as a
 * bearer token by GET /metrics. */
/* users (may be NULL: the defaults): web sessions' settings.  Installs the check of
 * users' tokens and sessions (http_set_authenticate). */
int routes_register(http_server *s, engine *e, const unsigned char *feed_hash, const unsigned char *metrics_hash,
                    const api_users_config *users, struct events_hub *events, sked_err *err);
