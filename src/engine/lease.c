/* lease: lease renewal, recovery of expired leases, cancels, retracting runs fired ahead. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/engine_internal.h"

int lease_recover_expired(engine *e, sked_time now, sked_time before, sked_err *err) {
        run_row *rows = NULL;
        size_t n = 0;
        int r = store_runs_expired(e->st, before, &rows, &n, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++) {
                bool ours = false;
                for (size_t k = 0; k < e->claim.ninflight; k++)
                        if (e->claim.inflight[k]->run.id == rows[i].id)
                                ours = true;
                if (ours)
                        continue;
                /* a lost run is retried whatever the retry policy, within a hard bound */
                bool again = rows[i].attempt < finish_max_attempts(e, rows[i].type) + 5;
                run_finish f = {.state = "lost",
                                .finished_at = now,
                                .error = again ? "interrupted: its node stopped renewing the lease (crash?); "
                                                 "queued again as a new attempt"
                                               : "interrupted too many times; not retried"};
                /* only if it is still running with an expired lease: never recover twice */
                r = store_run_finish(e->st, rows[i].id, &f, before == SKED_TIME_MAX ? 0 : before, err);
                if (r == -ESTALE) {
                        r = 0;
                        continue;
                }
                int64_t next = 0;
                if (r >= 0 && again && (r = finish_requeue(e, &rows[i], "recovery", now, now, &next, err)) >= 0)
                        r = store_run_set_next(e->st, rows[i].id, next, err);
                if (r >= 0)
                        log_warning("run %lld (%s) was interrupted; recovered as attempt %lld", (long long) rows[i].id,
                                    rows[i].type, (long long) rows[i].attempt + 1);
        }
        run_rows_free(rows, n);
        return r;
}

/* In-process handlers cannot be killed: past their type's timeout they are asked
 * to stop (sked_run_cancelled turns true) and their run fails as timed out.
 * Command handlers enforce their own timeout. */
void lease_expire_plugin_runs(engine *e, sked_time now) {
        pthread_mutex_lock(&e->lock);
        for (size_t i = 0; i < e->claim.ninflight; i++) {
                job *j = e->claim.inflight[i];
                sked_time began = atomic_load(&j->began);
                if (j->type && handler_of(j->type->t)->timeout == HANDLER_TIMEOUT_COOPERATIVE &&
                    j->type->t->timeout_ms > 0 && !j->timed_out && began &&
                    now - began > j->type->t->timeout_ms * 1000) {
                        j->timed_out = 1;
                        j->cancel = 1;
                }
        }
        pthread_mutex_unlock(&e->lock);
}

int engine_cancel_later(engine *e, const int64_t *run_ids, size_t n, int why) {
        if (e->lease.ncancel + n > e->lease.capcancel) {
                size_t cap = (e->lease.ncancel + n) * 2 + 8;
                struct cancel_later *p = realloc(e->lease.cancels, cap * sizeof *p);
                if (!p)
                        return -ENOMEM;
                e->lease.cancels = p;
                e->lease.capcancel = cap;
        }
        for (size_t i = 0; i < n; i++)
                e->lease.cancels[e->lease.ncancel++] = (struct cancel_later){run_ids[i], why};
        return 0;
}

void engine_cancel_flush(engine *e, bool committed) {
        for (size_t i = 0; committed && i < e->lease.ncancel; i++)
                engine_cancel_local(e, &e->lease.cancels[i].id, 1, e->lease.cancels[i].why);
        e->lease.ncancel = 0;
}

void engine_cancel_local(engine *e, const int64_t *run_ids, size_t n, int why) {
        pthread_mutex_lock(&e->lock);
        for (size_t i = 0; i < e->claim.ninflight; i++)
                for (size_t k = 0; k < n; k++)
                        if (e->claim.inflight[i]->run.id == run_ids[k]) {
                                atomic_store(&e->claim.inflight[i]->superseded, why);
                                e->claim.inflight[i]->cancel = 1;
                        }
        pthread_mutex_unlock(&e->lock);
}

/* A turn rolled back: what it renewed is not on disk; all is renewed next turn. */
void lease_renewals_unknown(engine *e) {
        for (size_t i = 0; i < e->claim.ninflight; i++)
                e->claim.inflight[i]->lease_until = 0;
        e->lease.last_renew = 0;
}

/* Every lease_ms/3, the leases with less than 2.5 periods left are renewed.  Those
 * written within the last half period, mostly claims, are left as they are: at
 * 1,000,000 series tens of thousands of runs are claimed ahead, and renewing each
 * every period was a write per run.  A renewal that is rolled back is forgotten
 * (lease_renewals_unknown). */
int lease_renew(engine *e, sked_time now, sked_err *err) {
        if (!e->claim.ninflight)
                return 0;
        int64_t *ids = malloc(e->claim.ninflight * sizeof *ids);
        int *cancel = calloc(e->claim.ninflight, sizeof *cancel);
        if (!ids || !cancel) {
                free(ids);
                free(cancel);
                return err_set(err, -ENOMEM, "out of memory");
        }
        sked_time lease = now + e->cfg.lease_ms * 1000, soon = now + e->cfg.lease_ms * 1000 * 5 / 6;
        size_t n = 0;
        for (size_t i = 0; i < e->claim.ninflight; i++)
                if (e->claim.inflight[i]->lease_until < soon) {
                        e->claim.inflight[i]->lease_until = lease;
                        ids[n++] = e->claim.inflight[i]->run.id;
                }
        int r = n ? store_runs_renew(e->st, ids, n, lease, cancel, err) : 0;
        /* another node's cancel_other, or a cancel request on any node, asked for some
         * of ours to stop (a request made on this node was signalled at its commit) */
        for (size_t i = 0; r == 0 && i < n; i++)
                if (cancel[i])
                        engine_cancel_local(e, &ids[i], 1, cancel[i]);
        free(ids);
        free(cancel);
        return r;
}

int engine_series_retract(engine *e, store *st, int64_t series_id, sked_err *err) {
        int64_t *ids = NULL;
        size_t n = 0;
        int r = store_series_retract(st, series_id, engine_now(e), &ids, &n, err);
        if (r == 0 && n) {
                pthread_mutex_lock(&e->lock);
                workers_unlink(e, ids, n, OUT_RETRACTED);
                e->loop.wake = true;
                pthread_cond_signal(&e->loop.loop_cv);
                pthread_mutex_unlock(&e->lock);
        }
        free(ids);
        return r;
}

static int lease_work(engine *e, turn_ctx *t, sked_err *err) {
        int r;
        sked_time now = t->now;
        if (t->role && (now - e->lease.last_recover >= RECOVER_EVERY_US || now < e->lease.last_recover)) {
                if ((r = lease_recover_expired(e, now, now, err)) < 0)
                        return r;
                e->lease.last_recover = now;
        }
        lease_expire_plugin_runs(e, now);
        if (now - e->lease.last_renew >= e->cfg.lease_ms * 1000 / 3 || now < e->lease.last_renew) {
                if ((r = lease_renew(e, now, err)) < 0)
                        return r;
                e->lease.last_renew = now;
        }
        return 0;
}

/* cancel_other and cancel requests: handlers are stopped once the decision is on disk; a rolled-back
 * turn forgets what it renewed and decided */
static void lease_after(engine *e, turn_ctx *t) {
        if (t->result < 0)
                lease_renewals_unknown(e);
        engine_cancel_flush(e, t->result == 0);
}

static sked_time lease_wake(engine *e, const turn_ctx *t) {
        (void) t;
        return e->claim.ninflight ? e->lease.last_renew + e->cfg.lease_ms * 1000 / 3 : 0;
}

const turn_step lease_step = {"lease", 0, lease_work, lease_after, lease_wake, NULL};
