/* claim: claiming ready runs for the workers, how deep, and the inflight list. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/engine_internal.h"

/* The inflight list is written by the loop only, under e->lock so that other
 * threads (status, stop, wait_idle) may read it. */
void claim_inflight_remove(engine *e, job *j) {
        pthread_mutex_lock(&e->lock);
        size_t i = j->inflight_ix;
        if (i < e->claim.ninflight && e->claim.inflight[i] == j) {
                job *last = e->claim.inflight[--e->claim.ninflight];
                e->claim.inflight[i] = last;
                last->inflight_ix = i;
        }
        pthread_mutex_unlock(&e->lock);
}

int claim_inflight_add(engine *e, job *j) {
        int r = 0;
        pthread_mutex_lock(&e->lock);
        if (e->claim.ninflight == e->claim.capinflight) {
                size_t cap = e->claim.capinflight ? e->claim.capinflight * 2 : 16;
                job **p = realloc(e->claim.inflight, cap * sizeof *p);
                if (p) {
                        e->claim.inflight = p;
                        e->claim.capinflight = cap;
                } else {
                        r = -ENOMEM;
                }
        }
        if (r == 0) {
                j->inflight_ix = e->claim.ninflight;
                e->claim.inflight[e->claim.ninflight++] = j;
        }
        pthread_mutex_unlock(&e->lock);
        return r;
}

/* Whether one more run of type t may start.  The count comes from the database
 * (runs of every node; our own claims of this turn are already marked running
 * there), under a per-type lock held to the end of the transaction, so the limit
 * holds across nodes. */
static int type_has_room(engine *e, const type_entry *t, bool *ret, sked_err *err) {
        *ret = true;
        if (!t || t->t->concurrency <= 0)
                return 0;
        int64_t running = 0;
        int r = store_lock_type(e->st, t->t->name, err);
        if (r == 0)
                r = store_running_count(e->st, t->t->name, &running, err);
        if (r < 0)
                return r;
        *ret = running < t->t->concurrency;
        return 0;
}

/* Claims ready runs for idle workers; the jobs are handed out after the commit. */
/* Claims ready runs for the workers, some ahead of them, so that a worker finishing a
 * run finds the next one at once instead of waiting for the next turn, and one turn
 * (one flush) covers many runs.  How far ahead follows how long handlers take: deep
 * for sub-millisecond handlers (throughput), shallow for slow ones (a run should not
 * wait here while another node's workers are idle).  The leases of runs waiting here
 * are renewed like those running. */
static size_t claim_ahead(const engine *e) {
        if (e->claim.handler_us < 1000)
                return 64;
        if (e->claim.handler_us < 20000)
                return 8;
        return 1;
}

/* One claim: what was taken, in start order. */
typedef struct claim_state {
        job *head, **tail;
        size_t seen, taken;
        sked_time now, lease;
} claim_state;

/* Claims ready runs with not_before <= horizon after `last` in (not_before, id)
 * order, up to *slots of them.  Runs of a type at its concurrency limit are passed
 * over, page after page (a bounded number), so that a backlog of one type does not
 * hide the others. */
static int claim_pass(engine *e, claim_state *c, sked_time horizon, run_row *last, size_t *slots, sked_err *err) {
        int r = 0;
        for (int page = 0; page < 8 && *slots && r >= 0; page++) {
                run_row *rows = NULL;
                size_t n = 0;
                size_t want = *slots * 4 + 16;
                int limit = (int) (want < 4096 ? want : 4096);
                if ((r = store_runs_ready(e->st, horizon, last->id ? last : NULL, limit, &rows, &n, err)) < 0)
                        break;
                c->seen += n;
                if (n) {
                        last->not_before = rows[n - 1].not_before;
                        last->id = rows[n - 1].id;
                }
                for (size_t i = 0; i < n && *slots && r >= 0; i++) {
                        const type_entry *t = engine_type_find(e, rows[i].type);
                        sked_time start = rows[i].not_before > c->now ? rows[i].not_before : c->now;
                        if (start > c->now && t && t->t->concurrency > 0) {
                                if (!e->claim.claim_wake || start < e->claim.claim_wake)
                                        e->claim.claim_wake = start; /* claimed when due */
                                continue;
                        }
                        bool room; /* (a disabled feature's runs were left out by the query) */
                        if ((r = type_has_room(e, t, &room, err)) < 0)
                                break;
                        if (!room)
                                continue;
                        if (rows[i].exclusive && rows[i].series_id) {
                                /* overlap policy: one run of the series at a time */
                                int64_t queued = 0, running = 0;
                                bool locked = false;
                                if ((r = store_lock_series(e->st, rows[i].series_id, &locked, err)) < 0)
                                        break;
                                if (!locked)
                                        continue; /* another node is claiming one of this series */
                                if ((r = store_series_active(e->st, rows[i].series_id, &queued, &running, err)) < 0)
                                        break;
                                if (running)
                                        continue;
                        }
                        if ((r = store_run_start(e->st, rows[i].id, e->node, start, c->lease, err)) == -ESTALE) {
                                r = 0;
                                continue;
                        }
                        if (r < 0)
                                break;
                        job *j = calloc(1, sizeof *j);
                        if (!j) {
                                r = err_set(err, -ENOMEM, "out of memory");
                                break;
                        }
                        j->e = e;
                        j->run = rows[i];
                        memset(&rows[i], 0, sizeof rows[i]);
                        j->run.started_at = j->start_at = start;
                        j->lease_until = c->lease;
                        j->type = t;
                        j->seq = 1;
                        if (claim_inflight_add(e, j) < 0) {
                                job_free(j);
                                r = err_set(err, -ENOMEM, "out of memory");
                                break;
                        }
                        *c->tail = j;
                        c->tail = &j->next;
                        (*slots)--;
                        c->taken++;
                }
                run_rows_free(rows, n);
                if (n < (size_t) limit)
                        break;
        }
        return r;
}

/* How many runs due now the workers can take before the claims of the next turn
 * reach them: claim_ahead() each, or as many as they run in a turn's time when
 * turns are long.  (A loaded poller: at 1,000,000 series a turn takes about a
 * second, and when it falls behind, the runs it fires are already due; claimed 512
 * a turn, they piled up and it never caught up.) */
size_t claim_depth(const engine *e) {
        double per_worker = (double) e->loop.turn_us / (e->claim.handler_us > 1 ? e->claim.handler_us : 1);
        if (per_worker < (double) claim_ahead(e))
                per_worker = (double) claim_ahead(e);
        double depth = per_worker * e->work.nworkers;
        return depth < AHEAD_MAX ? (size_t) depth : AHEAD_MAX;
}

/* Claimed runs that hold a worker's place now: those running, and those waiting in
 * the work list that are due (the list is in start order).  Runs claimed ahead for
 * later do not: they must not keep the runs due now from being claimed.  Counted up
 * to `limit`. */
size_t claimed_due(engine *e, sked_time now, size_t limit) {
        pthread_mutex_lock(&e->lock);
        size_t n = e->work.nbusy;
        for (const job *j = e->work.work_head; j && n < limit && j->start_at <= now; j = j->next)
                n++;
        pthread_mutex_unlock(&e->lock);
        return n;
}

/* Runs due within the look-ahead (e->ahead) are claimed too, in a second pass, and
 * handed to the workers to start at their not_before: the claim's writes and its
 * commit are then done before the run's time, not after it.  Except for types with
 * a concurrency limit: a run claimed ahead would count as running while it waits. */
int claim_runs(engine *e, sked_time now, job **ret_head, sked_time *ret_horizon, sked_err *err) {
        size_t cap = claim_depth(e), due = claimed_due(e, now, cap);
        size_t free_slots = cap > due ? cap - due : 0;
        /* runs due later within the look-ahead: as many as are due (bounded) */
        size_t ahead_slots = e->ahead && AHEAD_MAX > e->claim.ninflight ? AHEAD_MAX - e->claim.ninflight : 0;
        *ret_horizon = ahead_slots ? now + e->ahead : now;
        e->claim.claim_blocked = false;
        e->claim.claim_wake = 0;
        claim_state c = {.now = now, .lease = now + e->cfg.lease_ms * 1000};
        c.tail = &c.head;
        run_row last = {0};
        int r = claim_pass(e, &c, now, &last, &free_slots, err);
        if (r == 0 && ahead_slots) {
                last = (run_row){.not_before = now, .id = INT64_MAX}; /* after everything due now */
                r = claim_pass(e, &c, now + e->ahead, &last, &ahead_slots, err);
        }
        /* ready runs, none of them allowed now: wake for a finished run, not for these */
        e->claim.claim_blocked = c.seen > 0 && c.taken == 0;
        *ret_head = c.head;
        return r < 0 ? r : (int) c.taken;
}

static int claim_work(engine *e, turn_ctx *t, sked_err *err) {
        int taken = 0;
        sked_time horizon = t->now;
        if (!t->draining && (taken = claim_runs(e, t->now, &t->claimed, &horizon, err)) < 0)
                return taken;
        int r = store_next_ready_min(e->st, &t->next_ready, &t->any_ready, err);
        /* Ready runs up to where the claim looked, none of them taken, also those its
         * query leaves out itself (their series has a run running, under the overlap
         * policy; their feature is off): blocked too.  Waking for them again now would
         * spin the loop, a transaction a turn, until that run ends; its end (on any
         * node) or a write wakes the loop. */
        if (r == 0 && !t->draining && taken == 0 && t->any_ready && t->next_ready <= horizon)
                e->claim.claim_blocked = true;
        return r;
}

/* committed: the claimed runs go to the workers; else they were never claimed */
static void claim_after(engine *e, turn_ctx *t) {
        if (t->result < 0) {
                for (job *j = t->claimed, *nx; j; j = nx) {
                        nx = j->next;
                        claim_inflight_remove(e, j);
                        job_free(j);
                }
                t->claimed = NULL;
                return;
        }
        pthread_mutex_lock(&e->lock);
        workers_merge(e, t->claimed);
        if (t->claimed)
                pthread_cond_broadcast(&e->work.work_cv);
        pthread_mutex_unlock(&e->lock);
}

/* ready runs are claimed `ahead` early (those passed over: when due); draining
 * claims nothing */
static sked_time claim_wake_at(engine *e, const turn_ctx *t) {
        if (t->draining)
                return 0;
        sked_time wake = 0;
        size_t depth = claim_depth(e);
        bool room = claimed_due(e, t->now, depth) < depth ||
                    (t->next_ready > t->now && e->ahead && e->claim.ninflight < AHEAD_MAX);
        if (!e->claim.claim_blocked && t->any_ready && room)
                wake = t->next_ready - e->ahead;
        if (e->claim.claim_wake && (!wake || e->claim.claim_wake < wake))
                wake = e->claim.claim_wake;
        return wake;
}

const turn_step claim_step = {"claim", 0, claim_work, claim_after, claim_wake_at, NULL};
