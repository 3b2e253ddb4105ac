/* retention: purging finished runs past their type's retention. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/engine_internal.h"

/* Retention: each type's finished runs older than its retention go, with their
 * messages and results, a bounded batch per type and turn. */
int retention_purge(engine *e, sked_time now, sked_err *err) {
        purge_counts c = {0};
        int r = 0;
        pthread_rwlock_rdlock(&e->reg.types_lock);
        size_t n = 0;
        for (type_entry *t = e->reg.types; t; t = t->next)
                n += !t->retired;
        const type_entry **list = calloc(n + 1, sizeof *list);
        n = 0;
        for (type_entry *t = e->reg.types; list && t; t = t->next)
                if (!t->retired)
                        list[n++] = t;
        pthread_rwlock_unlock(&e->reg.types_lock);
        if (!list)
                return err_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n && r >= 0; i++)
                r = store_purge(e->st, list[i]->t->name, now - list[i]->t->retention_ms * 1000, PURGE_BATCH, &c, err);
        free(list);
        if (r < 0)
                return r;
        e->poller.health.purged_runs += c.runs;
        e->poller.health.purged_messages += c.messages;
        e->poller.health.purged_results += c.results;
        e->poller.health.last_purge_at = now;
        if (c.runs || c.occurrences)
                log_info("retention: purged %lld runs, %lld messages, %lld results, %lld occurrence records",
                         (long long) c.runs, (long long) c.messages, (long long) c.results, (long long) c.occurrences);
        return 0;
}

/* Retention runs in a transaction of its own, so that a failing purge cannot hold
 * up firing; once a minute, by the poller (the step's `due`: no transaction in the
 * other turns). */
static bool purge_due(const engine *e, const turn_ctx *t) {
        return t->role && !t->draining &&
               (t->now - e->poller.last_purge >= PURGE_EVERY_US || t->now < e->poller.last_purge);
}

static int retention_work(engine *e, turn_ctx *t, sked_err *err) {
        poller_health before = e->poller.health;
        e->poller.last_purge = t->now; /* failed or not: tried again in a minute */
        int r = retention_purge(e, t->now, err);
        if (r == 0)
                r = store_poller_put(e->st, &e->poller.health, err);
        if (r < 0) {
                e->poller.health = before;
                err_prefix(err, "purge failed, retried in a minute");
        }
        return r;
}

static sked_time retention_wake(engine *e, const turn_ctx *t) {
        return t->role && !t->draining ? e->poller.last_purge + PURGE_EVERY_US : 0;
}

const turn_step retention_step = {"retention", STEP_OWN_TRANSACTION, retention_work, NULL, retention_wake, purge_due};
