/* runctl: run control through the API: cancel a run, re-run a finished one, start a
 * run waiting for its backoff at once (docs/api.md "Runs"; docs/internals.md
 * "Run control (hA)").  Each is a write of the loop (the callers run it with
 * engine_write or api_write_through_loop). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"

int engine_run_cancel(engine *e, store *st, int64_t id, const char *by, const char *reason, run_row *ret,
                      sked_err *err) {
        bool running = false;
        int r = store_run_cancel(st, id, engine_now(e), by, reason, RUN_CANCELLED_TEXT, &running, err);
        /* this node's handler is stopped once the request is on disk (lease_after);
         * another node's finds out when it renews its leases (lease_renew) */
        if (r == 0 && running)
                r = engine_cancel_later(e, &id, 1, RUN_CANCEL_REQUEST);
        if (r == 0 && running)
                r = store_notify(st, err);
        if (r == 0)
                r = store_run_get(st, id, ret, err);
        return r;
}

int engine_run_retry_now(engine *e, store *st, int64_t id, run_row *ret, sked_err *err) {
        int r = store_run_due_now(st, id, engine_now(e), err);
        if (r == 0)
                engine_changed(e, st); /* wakes the loop (and the other nodes) to claim it */
        if (r == 0)
                r = store_run_get(st, id, ret, err);
        return r;
}

/* The re-runs of one run are bounded: each is a row, and the original lists them. */
#define RERUNS_MAX 1000

int engine_run_rerun(engine *e, store *st, int64_t id, json_t *params, run_row *ret, sked_err *err) {
        run_row old = {0};
        int64_t *reruns = NULL;
        size_t nreruns = 0;
        char *merged = NULL, key[96];
        int r = store_run_get(st, id, &old, err);
        if (r < 0)
                return r;
        if (!strcmp(old.state, "queued") || !strcmp(old.state, "running")) {
                r = err_field(err, -EEXIST, "state", "run %lld is %s: only a finished run can be re-run",
                              (long long) id, old.state);
                goto done;
        }
        if (!engine_type_find(e, old.type)) {
                r = err_field(err, -ENOENT, "type", "\"%s\": no such process type (deleted since run %lld)", old.type,
                              (long long) id);
                goto done;
        }
        if ((r = store_run_reruns(st, id, RERUNS_MAX, &reruns, &nreruns, err)) < 0)
                goto done;
        if (nreruns >= RERUNS_MAX) {
                r = err_field(err, -EEXIST, "id", "run %lld was re-run %d times already: re-run its newest re-run",
                              (long long) id, RERUNS_MAX);
                goto done;
        }
        /* overrides some parameters, validated like the run's own */
        if ((r = engine_params_override(e, old.type, old.params, params, &merged, err)) < 0)
                goto done;
        /* its own key: the original's series and nominal would derive the original's */
        snprintf(key, sizeof key, "rerun:%lld:%zu:1", (long long) id, nreruns + 1);
        sked_time now = engine_now(e);
        run_row run = {
                .series_id = old.series_id,
                .has_nominal = old.has_nominal,
                .nominal = old.nominal,
                .type = old.type,
                .trigger = "rerun",
                .params = merged ? merged : old.params,
                .query = old.query,
                .idem_key = key,
                .attempt = 1,
                .queued_at = now,
                .not_before = now,
                .exclusive = old.exclusive,
                .rerun_of = id,
        };
        if ((r = store_run_insert(st, &run, err)) == 0)
                engine_changed(e, st);
        if (r == 0)
                r = store_run_get(st, run.id, ret, err);
done:
        free(merged);
        free(reruns);
        run_row_clear(&old);
        return r;
}
