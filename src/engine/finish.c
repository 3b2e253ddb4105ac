/* finish: finishing runs (outcome, retry with backoff, the next attempt). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/engine_internal.h"
#include "engine/run.h"
#include "engine/runlog.h"

static int64_t backoff_us(const ptype *t, int64_t attempt) {
        double b = (double) t->retry.initial_backoff_ms;
        for (int64_t i = 1; i < attempt && b < (double) t->retry.max_backoff_ms; i++)
                b *= t->retry.multiplier;
        if (b > (double) t->retry.max_backoff_ms)
                b = (double) t->retry.max_backoff_ms;
        return (int64_t) b * 1000;
}

/* Queues the next attempt of `run` (retry after failure or recovery after a lost lease). */
int finish_requeue(engine *e, const run_row *run, const char *trigger, sked_time not_before, sked_time now,
                   int64_t *ret_id, sked_err *err) {
        run_row next = {
                .series_id = run->series_id,
                .has_nominal = run->has_nominal,
                .nominal = run->nominal,
                .type = run->type,
                .trigger = (char *) trigger,
                .params = run->params,
                .query = run->query,
                .attempt = run->attempt + 1,
                .queued_at = now,
                .not_before = not_before,
                .idem_key = run_next_idem_key(run), /* one-off runs keep their first key */
        };
        int r = store_run_insert(e->st, &next, err);
        free(next.idem_key);
        if (r == 0)
                r = store_notify(e->st, err);
        if (r == 0)
                *ret_id = next.id;
        return r;
}

int finish_max_attempts(engine *e, const char *type) {
        const type_entry *t = engine_type_find(e, type);
        return t ? t->t->retry.max_attempts : 1;
}

int finish_job(engine *e, job *j, const event *ev, sked_time now, sked_err *err) {
        if (ev->outcome == OUT_UNSTARTED)
                return store_run_release(e->st, j->run.id, e->node, err);
        if (ev->outcome == OUT_RETRACTED)
                return 0;
        run_finish f = {
                .has_exit = ev->has_exit,
                .exit_code = ev->exit_code,
                .error = ev->text,
                .finished_at = now,
                .progress = j->progress,
                .n_info = j->n_info,
                .n_warning = j->n_warning,
                .n_error = j->n_error,
                .n_results = j->n_results,
        };
        int max = j->type ? j->type->t->retry.max_attempts : 1;
        bool again = false;
        const char *trigger = "retry";
        sked_time not_before = now;
        switch (ev->outcome) {
        case OUT_OK:
                f.state = "succeeded";
                f.progress = 100;
                break;
        case OUT_FAIL:
                f.state = "failed";
                break;
        case OUT_RETRY:
                f.state = "failed";
                again = j->run.attempt < max && j->type;
                if (again)
                        not_before = now + backoff_us(j->type->t, j->run.attempt);
                break;
        case OUT_LOST:
                /* interrupted by shutdown: the work was not finished, so it runs again,
                 * within the same bound as crash recovery */
                f.state = "lost";
                again = j->run.attempt < max + 5;
                trigger = "recovery";
                break;
        case OUT_UNSTARTED: /* released above */
        case OUT_RETRACTED:
                break;
        }
        int why = atomic_load(&j->superseded);
        if (why && ev->outcome != OUT_OK) {
                /* cancel_other: a newer occurrence of the series replaced it; or someone asked */
                f.state = "cancelled";
                f.error = why == RUN_CANCEL_REQUEST
                                  ? RUN_CANCELLED_TEXT
                                  : "cancelled: superseded by a newer occurrence of its series (overlap policy "
                                    "cancel_other)";
                again = false;
        }
        runlog_end(j, ev, f.state, again);
        /* finish first, and only a run that is still ours: if this node lost its lease
         * and the poller recovered the run elsewhere, that attempt is the live one */
        int r = store_run_finish(e->st, j->run.id, &f, 0, err);
        if (r == 0)
                metrics_run_finished(e, j->run.type, f.state, (double) ev->duration_us / SKED_USEC);
        if (r == -ESTALE) {
                log_warning("run %lld ended here after it was recovered elsewhere; its outcome (%s) is not recorded",
                            (long long) j->run.id, f.state);
                return 0;
        }
        if (r == 0 && j->type && j->type->t->concurrency > 0)
                r = store_notify(e->st, err); /* room for another run of this type, on any node */
        if (r < 0 || !again)
                return r;
        int64_t next = 0;
        if ((r = finish_requeue(e, &j->run, trigger, not_before, now, &next, err)) < 0)
                return r;
        return store_run_set_next(e->st, j->run.id, next, err);
}
