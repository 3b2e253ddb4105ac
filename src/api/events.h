/* events: the live event streams of GET /api/v1/events (docs/api.md "Live
 * events").  One hub per server: its thread tails the store's event log
 * (store/events.h) and writes each stream's matching events as Server-Sent Events.
 * It looks after every committed turn of this node's loop (engine_on_commit) and
 * every poll_ms besides, for what other nodes of a cluster commit.  Each stream has
 * its own cursor (the last id it was given) and reads its own range: a stream
 * behind (a resume) catches up without holding up the others.
 *
 * Thread-safe: events_hub_add from the HTTP threads; the rest from the thread that
 * made the hub. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"
#include "base/err.h"
#include "engine/engine.h"
#include "store/store.h"

#define EVENTS_KIND_RUN (1u << 0)
#define EVENTS_KIND_MESSAGE (1u << 1)
#define EVENTS_KIND_RESULT (1u << 2)
#define EVENTS_KIND_PROGRESS (1u << 3)
#define EVENTS_KIND_ALL 0xfu

typedef struct events_config {
        unsigned max;         /* streams at once; 0 = 256 */
        unsigned max_per_ip;  /* of them from one client address; 0 = 8 */
        int64_t heartbeat_ms; /* a comment line on every stream this often; 0 = 15,000 */
        int64_t poll_ms;      /* looks at the log this often besides after commits; 0 = 500 */
        size_t max_pending;   /* bytes waiting for a slow client before it is dropped; 0 = 1 MiB */
} events_config;

typedef struct events_hub events_hub;

/* Starts the hub's thread; hooks it to e's commits (before engine_start). */
int events_hub_new(engine *e, const events_config *cfg, events_hub **ret, sked_err *err);
/* Ends every stream and refuses new ones; the thread exits.  Call before
 * http_server_stop. NULL: no-op. */
void events_hub_stop(events_hub *h);
void events_hub_free(events_hub *h);

/* Replies to req with a stream (200, text/event-stream) of the events that pass
 * f and kinds, from after last_id (< 0: from now), or refuses without replying:
 * -EUSERS: the client's address has max_per_ip streams (429); -EBUSY: max in
 * all, or the hub is stopping (503); err says which. */
int events_hub_add(events_hub *h, http_req *req, const event_filter *f, unsigned kinds, int64_t last_id, sked_err *err);
