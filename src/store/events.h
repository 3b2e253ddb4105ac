/* events: the log of what happened to runs (migration 8), written by the schema's
 * triggers in the transaction of each change, read by the live event streams
 * (GET /api/v1/events) and pruned to a window.
 * Same conventions as store.h: 0 or a negative errno, messages in err, one
 * connection per thread.  Ids grow in commit order on both backends (schema.c,
 * migration 8), so a reader that has seen every id up to N has seen every event
 * committed up to it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"

typedef struct store store;

typedef struct event_filter {
        int64_t series_id, run_id; /* 0: any */
        const char *type;          /* process type; NULL: any */
} event_filter;

/* The oldest and newest id in the log (*ret_min = *ret_max = 0 when it is empty). */
int store_events_bounds(store *s, int64_t *ret_min, int64_t *ret_max, sked_err *err);

/* The events with after < id <= upto that pass f, in id order, at most limit: a JSON
 * array of objects {"id", "event" (run, message, result, progress), "at" (an
 * instant, microseconds; null when unknown), "run_id", "series_id", "type",
 * "attempt", and per event: run: "state", "exit_code", "error"; message: "seq",
 * "level", "text"; result: "seq", "key", "status", "data"; progress: "progress"}.
 * A message or result purged since has its event left out. */
int store_events_read(store *s, int64_t after, int64_t upto, const event_filter *f, int limit, json_t **ret,
                      sked_err *err);

/* Deletes all but the newest `keep` (>= 1) events; *ret_n: how many went.  A write:
 * the caller holds the transaction. */
int store_events_prune(store *s, int64_t keep, int64_t *ret_n, sked_err *err);
