/* retention: see retention.h. */
#include "store/retention.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"

static int purge_step(store *s, const char *sql, const char *type, sked_time before, int limit, int64_t *add,
                      sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, sql, &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, type);
        db_bind_int(st, 2, before);
        db_bind_int(st, 3, limit);
        if ((r = db_run(st, err)) < 0)
                return r;
        if (add)
                *add += db_changes(s->d);
        return 0;
}

int store_purge(store *s, const char *type, sked_time before, int limit, purge_counts *add, sked_err *err) {
        /* the same `limit` oldest finished runs in each statement: children first */
#define OLD_RUNS                                                                                                       \
        "(SELECT id FROM runs WHERE type = $1 AND finished_at IS NOT NULL AND finished_at < $2 "                       \
        "ORDER BY type, finished_at, id LIMIT $3)"
        int r = purge_step(s, "DELETE FROM messages WHERE run_id IN " OLD_RUNS, type, before, limit, &add->messages,
                           err);
        if (r == 0)
                r = purge_step(s, "DELETE FROM results WHERE run_id IN " OLD_RUNS, type, before, limit, &add->results,
                               err);
        if (r == 0)
                r = purge_step(s, "DELETE FROM runs WHERE id IN " OLD_RUNS, type, before, limit, &add->runs, err);
#undef OLD_RUNS
        /* occurrence rows guard against firing twice only ahead of the cursor.  CROSS
         * JOIN: SQLite then starts from the old records (occurrences_nominal), not from
         * every series of the type (half a second each minute at 1,000,000 series,
         * in the loop) */
        if (r == 0)
                r = purge_step(s,
                               "DELETE FROM occurrences WHERE (series_id, nominal) IN (SELECT o.series_id, o.nominal "
                               "FROM occurrences o CROSS JOIN series x WHERE x.id = o.series_id AND x.type = $1 AND "
                               "o.nominal < $2 AND (x.next_due IS NULL OR x.next_due > $2) AND (o.run_id IS NULL OR "
                               "o.run_id NOT IN (SELECT id FROM runs WHERE state IN ('queued', 'running'))) LIMIT $3)",
                               type, before, limit, &add->occurrences, err);
        return r;
}
