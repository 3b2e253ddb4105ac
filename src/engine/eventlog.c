/* eventlog: the live events' log (store/events.h, written by the schema's triggers
 * in each change's transaction) kept to its window: every 2 s the poller deletes
 * all but the newest `events_keep` events, in the turn's transaction.  A stream
 * whose Last-Event-ID fell out of the window is told so (api/events.c). */
#include "engine/engine_internal.h"

#define EVENTS_KEEP_DEFAULT 100000

void engine_on_commit(engine *e, void (*fn)(void *userdata), void *userdata) {
        e->evlog.committed = fn;
        e->evlog.committed_userdata = userdata;
}

static bool prune_due(const engine *e, const turn_ctx *t) {
        return t->role && (t->now - e->evlog.last_prune >= EVENTS_PRUNE_EVERY_US || t->now < e->evlog.last_prune);
}

static int prune_work(engine *e, turn_ctx *t, sked_err *err) {
        e->evlog.last_prune = t->now; /* failed or not: again in 2 s */
        int64_t keep = e->cfg.events_keep > 0 ? e->cfg.events_keep : EVENTS_KEEP_DEFAULT;
        return store_events_prune(e->st, keep, NULL, err);
}

static sked_time prune_wake(engine *e, const turn_ctx *t) {
        (void) e;
        (void) t;
        return 0; /* no turn of its own: the next one after 2 s prunes (the loop turns every 5 s at least) */
}

const turn_step eventlog_step = {"eventlog", 0, prune_work, NULL, prune_wake, prune_due};
