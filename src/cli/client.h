/* client: the CLI's HTTP client for the sked API, over libcurl.  One client holds
 * one connection (keep-alive) and is used by one thread at a time. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"
#include "base/strbuf.h"

typedef struct client client;

#define CLIENT_DEFAULT_URL "http://127.0.0.1:8080"
#define CLIENT_MAX_RESPONSE ((size_t) 64 << 20)

/* Creates a client.
 *   url:   NULL → $SKED_URL, else "http://127.0.0.1:8080" (must be http:// or https://)
 *   token: NULL → $SKED_TOKEN, else the file <data_dir>/admin.token, where data_dir
 *          NULL → $SKED_DATA_DIR, else "./var".  A missing or unreadable token is not
 *          an error here; a request that then gets 401 says where it looked.
 * Errors: -EINVAL (field "url") for a URL that is not http(s), -ENOMEM, -EIO (libcurl). */
int client_new(const char *url, const char *token, const char *data_dir, client **ret, sked_err *err);

/* NULL is a no-op. */
void client_free(client *c);

/* Sends method path (e.g. "GET", "/api/v1/series?limit=10"; path is appended to the
 * base URL as given, so the caller escapes it) with body (borrowed, may be NULL) as
 * JSON.  On a reply, returns 0 with *ret_status and *ret_json (the parsed body, the
 * caller's reference; NULL if the body is empty or not JSON).  For a status >= 400,
 * err is also set: from a problem+json reply, "detail" and "field"; otherwise
 * "HTTP <status> <reason>"; callers decide by status.
 * Transport failures return <0 with err like "cannot reach sked at
 * http://127.0.0.1:8080: Connection refused (is 'sked serve' running?)", and a reply
 * over CLIENT_MAX_RESPONSE returns -EFBIG. */
int client_request(client *c, const char *method, const char *path, json_t *body, long *ret_status, json_t **ret_json,
                   sked_err *err);

/* Like client_request without a body, for non-JSON endpoints (.ics, /metrics):
 * *ret_body is the raw reply, NUL-terminated, the caller's to free(). */
int client_request_text(client *c, const char *method, const char *path, long *ret_status, char **ret_body,
                        sked_err *err);

/* A Server-Sent Events stream (GET /api/v1/events): fn(ud, id, event, data) for
 * each event as it arrives (id "" when the event has none), and once with all
 * three NULL when the stream is open (its headers and first bytes are in: what is
 * committed from then on will come).  fn returns nonzero to stop.  Returns 0
 * when the stream ended (the server closed it, *ret_stopped false) or fn stopped
 * it (true), with *ret_status; a status >= 300 sets err as client_request does.
 * Transport failures (refused, reset, a minute without a byte: heartbeats come
 * every 15 s by default) return < 0 with err set. */
typedef int (*client_sse_fn)(void *ud, const char *id, const char *event, const char *data);
int client_stream(client *c, const char *path, const char *last_event_id, client_sse_fn fn, void *ud, long *ret_status,
                  bool *ret_stopped, sked_err *err);

/* Appends "?name=value" to q (or "&name=value" once q has a '?'), with value
 * percent-encoded by libcurl (curl_easy_escape: all but unreserved characters), so
 * "Etc/GMT+5" reaches the server as itself.  Returns 0 or -ENOMEM. */
int client_query(strbuf *q, const char *name, const char *value);
