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
        pthread_rwlock_rdlock(&e->types_lock);
        size_t n = 0;
        for (type_entry *t = e->types; t; t = t->next)
                n += !t->retired;
        const type_entry **list = calloc(n + 1, sizeof *list);
        n = 0;
        for (type_entry *t = e->types; list && t; t = t->next)
                if (!t->retired)
                        list[n++] = t;
        pthread_rwlock_unlock(&e->types_lock);
        if (!list)
                return err_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n && r >= 0; i++)
                r = store_purge(e->st, list[i]->t->name, now - list[i]->t->retention_ms * 1000, PURGE_BATCH, &c, err);
        free(list);
        if (r < 0)
                return r;
        e->health.purged_runs += c.runs;
        e->health.purged_messages += c.messages;
        e->health.purged_results += c.results;
        e->health.last_purge_at = now;
        if (c.runs || c.occurrences)
                log_info("retention: purged %lld runs, %lld messages, %lld results, %lld occurrence records",
                         (long long) c.runs, (long long) c.messages, (long long) c.results,
                         (long long) c.occurrences);
        return 0;
}
