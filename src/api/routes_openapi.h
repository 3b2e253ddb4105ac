/* routes_openapi: GET /api/v1/openapi.json, the API's description: docs/openapi.yaml,
 * built into the binary (src/api/meson.build, scripts/embed) and turned into JSON once,
 * when the route is registered.  Public (no token), like /healthz: it describes the
 * routes and holds no data.  docs/internals.md, "OpenAPI (h14)". */
#pragma once

#include <jansson.h>

#include "api/api.h"

/* The built-in document as JSON (a new object, the caller's), read from its YAML with
 * the manifest reader (model/manifest.h: YAML 1.2 core schema, no anchors).  Any
 * thread.  Errors: those of manifest_parse (-EINVAL with the line and column). */
int routes_openapi_document(json_t **ret, sked_err *err);

/* Converts the document (kept in ctx->openapi for the server's life, with its ETag)
 * and registers its route.  Errors: those of routes_openapi_document, -ENOMEM, and
 * those of http_route with err naming the route. */
int routes_openapi_register(http_server *s, api_ctx *ctx, sked_err *err);
