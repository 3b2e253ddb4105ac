/* routes_ui: the web UI's page and assets (GET / and GET /ui/{file}), built into the
 * binary (api/assets.h).  Public: they hold no data; the API behind them needs
 * credentials.  docs/internals.md, "Web UI". */
#pragma once

#include <stdbool.h>

#include "api/api.h"
#include "api/assets.h"

/* The asset served as name ("index.html", "app.HASH.js"); NULL when there is none. */
const ui_asset *routes_ui_find(const char *name);

/* True when an Accept-Encoding value takes gzip (a "gzip" or "*" coding without q=0). */
bool routes_ui_takes_gzip(const char *accept_encoding);

int routes_ui_register(http_server *s, api_ctx *ctx, sked_err *err);
