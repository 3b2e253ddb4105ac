/* loop: the loop thread and its turn (one transaction: apply, fire, leases, claim, commit), wake-ups. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/engine_internal.h"

void engine_wake(engine *e) {
        pthread_mutex_lock(&e->lock);
        e->loop.wake = true;
        pthread_cond_signal(&e->loop.loop_cv);
        pthread_mutex_unlock(&e->lock);
}

void engine_changed(engine *e, store *st) {
        if (writes_on_loop_thread(e)) {
                /* a write of the turn: one NOTIFY after them all, and the turn's later
                 * steps (fire, claim) already see the change */
                e->wr.notify = true;
                return;
        }
        sked_err ignore = {0};
        store_notify(st, &ignore); /* best effort: the other nodes look again within 5 s anyway */
        engine_wake(e);
}

void engine_post(engine *e, event *ev) {
        pthread_mutex_lock(&e->lock);
        if (e->loop.ev_tail)
                e->loop.ev_tail->next = ev;
        else
                e->loop.ev_head = ev;
        e->loop.ev_tail = ev;
        e->loop.wake = true;
        pthread_cond_signal(&e->loop.loop_cv);
        pthread_mutex_unlock(&e->lock);
}

void event_free(event *ev) {
        free(ev->text);
        free(ev->key);
        free(ev->status);
        free(ev->data);
        free(ev);
}

static int apply_events(engine *e, event *ev, sked_time now, sked_err *err) {
        static const char *levels[] = {"info", "warning", "error"};
        int r = 0;
        for (; ev && r >= 0; ev = ev->next) {
                switch (ev->kind) {
                case EV_MESSAGE:
                        r = store_message_add(e->st, ev->j->run.id, ev->seq, ev->at,
                                              levels[ev->level < 0 || ev->level > 2 ? 0 : ev->level], ev->text, err);
                        break;
                case EV_RESULT:
                        r = store_result_add(e->st, ev->j->run.id, ev->seq, ev->at, ev->key, ev->status, ev->data, err);
                        break;
                case EV_PROGRESS:
                        /* several in one turn: the last one is what counts */
                        if (!ev->next || ev->next->kind != EV_PROGRESS || ev->next->j != ev->j)
                                r = store_run_progress(e->st, ev->j->run.id, ev->level, err);
                        break;
                case EV_FINISH:
                        if (ev->outcome != OUT_UNSTARTED && ev->outcome != OUT_RETRACTED)
                                e->claim.handler_us = 0.9 * e->claim.handler_us + 0.1 * (double) ev->duration_us;
                        r = finish_job(e, ev->j, ev, now, err);
                        break;
                }
        }
        return r;
}

static int events_work(engine *e, turn_ctx *t, sked_err *err) {
        /* what workers reported up to now, including while BEGIN waited for the
         * write lock: a run that ended must not count as running (overlap policy) */
        pthread_mutex_lock(&e->lock);
        t->events = e->loop.ev_head;
        e->loop.ev_head = e->loop.ev_tail = NULL;
        pthread_mutex_unlock(&e->lock);
        return apply_events(e, t->events, t->now, err);
}

static void events_after(engine *e, turn_ctx *t) {
        if (t->result < 0) {
                /* keep the events for the next turn: nothing a worker reported is dropped */
                if (!t->events)
                        return;
                pthread_mutex_lock(&e->lock);
                event *last = t->events;
                while (last->next)
                        last = last->next;
                last->next = e->loop.ev_head;
                e->loop.ev_head = t->events;
                if (!e->loop.ev_tail)
                        e->loop.ev_tail = last;
                pthread_mutex_unlock(&e->lock);
                return;
        }
        for (event *ev = t->events, *nx; ev; ev = nx) {
                nx = ev->next;
                if (ev->kind == EV_FINISH) {
                        claim_inflight_remove(e, ev->j);
                        job_free(ev->j);
                }
                event_free(ev);
        }
}

/* (no wake: a worker's report wakes the loop at once) */
const turn_step events_step = {"events", 0, events_work, events_after, NULL, NULL};

/* The turn, in this order.  Events before writes and firing (a finished run does
 * not count as running); workflows after both (a run's end and a signal advance
 * their instances in the same turn) and before claiming, as firing (the same
 * turn claims the runs they queue); health last (it reports what the others did);
 * metrics once the turn is decided; alive after every turn, whatever its outcome. */
static const turn_step *const steps[] = {
        &role_step,  &events_step, &writes_step,   &workflow_step,  &fire_step,    &lease_step,
        &claim_step, &health_step, &eventlog_step, &retention_step, &metrics_step, &alive_step,
};
#define NSTEPS (sizeof steps / sizeof steps[0])

/* One turn of the loop; returns when it wants to run next (an instant). */
static int turn(engine *e, sked_time *ret_wake, sked_err *err) {
        turn_ctx t = {.health_before = e->poller.health, .mono_start = time_mono_usec()};
        TAILQ_INIT(&t.writes);
        pthread_mutex_lock(&e->lock);
        t.draining = e->life.draining;
        pthread_mutex_unlock(&e->lock);

        if (e->postgres &&
            (e->life.last_clock_sync == 0 || time_now_real() - e->life.last_clock_sync > 2 * SKED_USEC)) {
                engine_sync_clock(e);
                registry_types_refresh(e, e->st, err); /* best effort; an error shows in the turn below */
                e->life.last_clock_sync = time_now_real();
        }
        t.now = engine_now(e);
        int r = store_begin(e->st, err);
        if (r == 0) {
                t.now = engine_now(e); /* BEGIN may have waited: fire what is due by now */
                for (size_t i = 0; i < NSTEPS && r == 0; i++)
                        if (!(steps[i]->flags & STEP_OWN_TRANSACTION) && steps[i]->work &&
                            (!steps[i]->due || steps[i]->due(e, &t)))
                                r = steps[i]->work(e, &t, err);
                if (r < 0)
                        store_rollback(e->st);
                else
                        r = store_commit(e->st, err);
        } else {
                /* the store is away: the writes waiting hear it now, not after it returns */
                writes_take(e, &t.writes);
        }
        t.result = r;
        t.err = err;
        for (size_t i = 0; i < NSTEPS; i++)
                if (steps[i]->after)
                        steps[i]->after(e, &t);
        if (r < 0) {
                *ret_wake = t.now + SKED_USEC;
                return r;
        }
        /* the steps of their own transaction: one failing cannot hold up the others */
        for (size_t i = 0; i < NSTEPS; i++) {
                if (!(steps[i]->flags & STEP_OWN_TRANSACTION) || !steps[i]->work ||
                    (steps[i]->due && !steps[i]->due(e, &t)))
                        continue;
                sked_err serr = {0};
                int sr = store_begin(e->st, &serr);
                if (sr == 0 && (sr = steps[i]->work(e, &t, &serr)) == 0)
                        sr = store_commit(e->st, &serr);
                if (sr < 0) {
                        store_rollback(e->st);
                        log_warning("%s: %s", steps[i]->name, serr.msg);
                }
        }
        pthread_mutex_lock(&e->lock);
        e->loop.idle = !(t.any_ready && t.next_ready <= t.now) && e->claim.ninflight == 0 && !e->loop.ev_head;
        e->loop.turns++;
        if (e->loop.idle || t.draining)
                pthread_cond_broadcast(&e->loop.idle_cv);
        pthread_mutex_unlock(&e->lock);
        store_wal_committed(e->life.wal); /* the store's upkeep after a commit (SQLite: the WAL), once work is out */
        if (e->evlog.committed)
                e->evlog.committed(e->evlog.committed_userdata); /* the live event streams look now */

        /* a node without the poller role looks for it every second, so that it takes
         * over promptly when the holder dies */
        sked_time wake = t.now + (t.role ? MAX_SLEEP_US : SKED_USEC);
        for (size_t i = 0; i < NSTEPS; i++) {
                sked_time w = steps[i]->wake ? steps[i]->wake(e, &t) : 0;
                if (w && w < wake)
                        wake = w;
        }
        *ret_wake = wake;
        return 0;
}

/* Waits on cv for `span` µs of real time, at most MAX_SLEEP_US (the injected clock
 * may not be real time: the caller looks at it again). */
void engine_wait_real(pthread_cond_t *cv, pthread_mutex_t *lock, int64_t span) {
        if (span > MAX_SLEEP_US)
                span = MAX_SLEEP_US;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (span % SKED_USEC) * 1000;
        ts.tv_sec += span / SKED_USEC + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(cv, lock, &ts);
}

void *loop_main(void *arg) {
        engine *e = arg;
        writes_loop_thread(e);
        for (;;) {
                sked_err err = {0};
                sked_time wake;
                int64_t t0 = time_mono_usec();
                int tr = turn(e, &wake, &err);
                e->loop.turn_us = time_mono_usec() - t0;
                if (tr < 0) {
                        /* the store failed (e.g. the database is away): what the turn held is
                         * kept for the next one; look again in a second, not at once */
                        log_error("poller: %s (retrying in 1 s)", err.msg);
                        usleep(SKED_USEC);
                        pthread_mutex_lock(&e->lock);
                        bool give_up = e->life.stopping && time_mono_usec() - e->life.stopping_since > 10 * SKED_USEC;
                        pthread_mutex_unlock(&e->lock);
                        if (give_up) {
                                /* stopping, and the store still fails: what is in memory cannot be
                                 * written.  Its runs stay "running" in the store and are
                                 * recovered (next start, or another node after the lease). */
                                log_error("stopping without writing the last results: the store keeps failing");
                                write_queue left;
                                writes_take(e, &left);
                                sked_err why = {0};
                                err_set(&why, -ESHUTDOWN, "the engine is stopping and its store fails");
                                writes_done(e, &left, -ESHUTDOWN, &why);
                                break;
                        }
                }
                pthread_mutex_lock(&e->lock);
                if (e->life.stopping && e->work.workers_alive == 0 && e->work.work_head)
                        workers_release_unstarted(e);
                if (e->life.stopping && !e->loop.ev_head && e->claim.ninflight == 0) {
                        pthread_mutex_unlock(&e->lock);
                        write_queue left;
                        writes_take(e, &left);
                        sked_err why = {0};
                        err_set(&why, -ESHUTDOWN, "the engine is stopping");
                        writes_done(e, &left, -ESHUTDOWN, &why);
                        break;
                }
                if (!e->loop.wake && !e->loop.ev_head) {
                        sked_time now = engine_now(e);
                        if (wake > now) {
                                /* the injected clock may not be real time: sleep in real time for
                                 * the same span, at most MAX_SLEEP_US, and look again */
                                engine_wait_real(&e->loop.loop_cv, &e->lock, wake - now);
                        }
                }
                e->loop.wake = false;
                pthread_mutex_unlock(&e->lock);
        }
        return NULL;
}
