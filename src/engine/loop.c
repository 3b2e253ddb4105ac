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
        e->wake = true;
        pthread_cond_signal(&e->loop_cv);
        pthread_mutex_unlock(&e->lock);
}

void engine_changed(engine *e, store *st) {
        sked_err ignore = {0};
        store_notify(st, &ignore); /* best effort: the other nodes look again within 5 s anyway */
        engine_wake(e);
}

void engine_post(engine *e, event *ev) {
        pthread_mutex_lock(&e->lock);
        if (e->ev_tail)
                e->ev_tail->next = ev;
        else
                e->ev_head = ev;
        e->ev_tail = ev;
        e->wake = true;
        pthread_cond_signal(&e->loop_cv);
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
                                              levels[ev->level < 0 || ev->level > 2 ? 0 : ev->level], ev->text,
                                              err);
                        break;
                case EV_RESULT:
                        r = store_result_add(e->st, ev->j->run.id, ev->seq, ev->at, ev->key, ev->status,
                                             ev->data, err);
                        break;
                case EV_PROGRESS:
                        /* several in one turn: the last one is what counts */
                        if (!ev->next || ev->next->kind != EV_PROGRESS || ev->next->j != ev->j)
                                r = store_run_progress(e->st, ev->j->run.id, ev->level, err);
                        break;
                case EV_FINISH:
                        if (ev->outcome != OUT_UNSTARTED && ev->outcome != OUT_RETRACTED)
                                e->handler_us = 0.9 * e->handler_us + 0.1 * (double) ev->duration_us;
                        r = finish_job(e, ev->j, ev, now, err);
                        break;
                }
        }
        return r;
}

/* One turn of the loop; returns when it wants to run next (an instant). */
static int turn(engine *e, sked_time *ret_wake, sked_err *err) {
        event *events = NULL;
        write_queue writes;
        TAILQ_INIT(&writes);
        pthread_mutex_lock(&e->lock);
        bool draining = e->draining;
        pthread_mutex_unlock(&e->lock);

        if (e->postgres && (e->last_clock_sync == 0 || time_now_real() - e->last_clock_sync > 2 * SKED_USEC)) {
                engine_sync_clock(e);
                registry_types_refresh(e, e->st, err); /* best effort; an error shows in the turn below */
                e->last_clock_sync = time_now_real();
        }
        sked_time now = engine_now(e);
        int fired = 0;
        job *claimed = NULL;
        poller_health health_before = e->health; /* restored if the turn fails */
        bool role = false;
        int r = store_begin(e->st, err);
        if (r < 0) {
                /* the store is away: the writes waiting hear it now, not after it returns */
                writes_take(e, &writes);
                goto requeue_events;
        }
        /* what workers reported up to now, including while BEGIN waited for the
         * write lock: a run that ended must not count as running (overlap policy) */
        pthread_mutex_lock(&e->lock);
        events = e->ev_head;
        e->ev_head = e->ev_tail = NULL;
        pthread_mutex_unlock(&e->lock);
        writes_take(e, &writes);
        now = engine_now(e); /* BEGIN may have waited: fire what is due by now */
        /* after BEGIN: if BEGIN had to reconnect, the session (and its lock) is new */
        if ((r = store_poller_lease(e->st, &role, err)) < 0)
                goto rollback;
        if (role != e->poller_role && e->postgres)
                log_info("%s the poller role", role ? "took" : "lost");
        e->poller_role = role;
        if ((r = apply_events(e, events, now, err)) < 0)
                goto rollback;
        if ((r = writes_apply(e, &writes, err)) < 0)
                goto rollback;
        if (role && !draining && (r = engine_fire_due(e, now, &fired, err)) < 0)
                goto rollback;
        if (fired && (r = store_notify(e->st, err)) < 0) /* other nodes' workers may take them */
                goto rollback;
        if (role && (now - e->last_recover >= RECOVER_EVERY_US || now < e->last_recover)) {
                if ((r = lease_recover_expired(e, now, now, err)) < 0)
                        goto rollback;
                e->last_recover = now;
        }
        lease_expire_plugin_runs(e, now);
        if (now - e->last_renew >= e->cfg.lease_ms * 1000 / 3 || now < e->last_renew) {
                if ((r = lease_renew(e, now, err)) < 0)
                        goto rollback;
                e->last_renew = now;
        }
        if (!draining && (r = claim_runs(e, now, &claimed, err)) < 0)
                goto rollback;
        sked_time next_due = 0, next_ready = 0;
        bool any_due = false, any_ready = false;
        if ((r = store_next_fire_at(e->st, now, e->ahead, &next_due, &any_due, err)) < 0 ||
            (r = store_next_ready_min(e->st, &next_ready, &any_ready, err)) < 0)
                goto rollback;
        if (now - e->last_heartbeat >= HEARTBEAT_EVERY_US || now < e->last_heartbeat) {
                node_row nr = {.started_at = e->started_at, .heartbeat_at = now, .workers = e->nworkers,
                               .running = (int64_t) e->ninflight, .pid = getpid()};
                snprintf(nr.name, sizeof nr.name, "%s", e->node);
                snprintf(nr.role, sizeof nr.role, "%s", role ? "poller" : "worker");
                snprintf(nr.version, sizeof nr.version, "%s", SKED_VERSION);
                if ((r = store_node_heartbeat(e->st, &nr, err)) < 0)
                        goto rollback;
        }
        if (role && (fired || now - e->last_heartbeat >= HEARTBEAT_EVERY_US || now < e->last_heartbeat)) {
                e->health.heartbeat_at = now;
                if (fired) {
                        e->health.last_fire_at = now;
                        e->health.last_batch = fired;
                        e->health.fired_total += fired;
                }
                /* when something is due (not when the poller looks) */
                e->health.next_due = next_due;
                e->health.has_next = any_due;
                if (e->ahead &&
                    (r = store_next_fire_at(e->st, now, 0, &e->health.next_due, &e->health.has_next, err)) < 0)
                        goto rollback;
                if ((r = store_poller_put(e->st, &e->health, err)) < 0)
                        goto rollback;
        }
        if (now - e->last_heartbeat >= HEARTBEAT_EVERY_US || now < e->last_heartbeat)
                e->last_heartbeat = now;
        if ((r = store_commit(e->st, err)) < 0)
                goto undo_claims;
        /* cancel_other: handlers are stopped once the decision is on disk */
        engine_cancel_flush(e, true);
        /* retention: its own transaction, so that a failing purge cannot hold up firing */
        if (role && !draining && (now - e->last_purge >= PURGE_EVERY_US || now < e->last_purge)) {
                sked_err perr = {0};
                poller_health before = e->health;
                int pr = store_begin(e->st, &perr);
                if (pr == 0 && (pr = retention_purge(e, now, &perr)) == 0 && (pr = store_poller_put(e->st, &e->health, &perr)) == 0)
                        pr = store_commit(e->st, &perr);
                if (pr < 0) {
                        store_rollback(e->st);
                        e->health = before;
                        log_warning("retention: purge failed, retried in a minute: %s", perr.msg);
                }
                e->last_purge = now;
        }

        /* committed: events are done, enqueues acknowledged, claimed runs go to the workers */
        writes_done(e, &writes, 0, NULL);
        for (event *ev = events, *nx; ev; ev = nx) {
                nx = ev->next;
                if (ev->kind == EV_FINISH) {
                        claim_inflight_remove(e, ev->j);
                        job_free(ev->j);
                }
                event_free(ev);
        }
        pthread_mutex_lock(&e->lock);
        workers_merge(e, claimed);
        if (claimed)
                pthread_cond_broadcast(&e->work_cv);
        e->idle = !(any_ready && next_ready <= now) && e->ninflight == 0 && !e->ev_head;
        e->turns++;
        if (e->idle || draining)
                pthread_cond_broadcast(&e->idle_cv);
        pthread_mutex_unlock(&e->lock);
        store_wal_committed(e->wal); /* the store's upkeep after a commit (SQLite: the WAL), once work is out */

        /* a node without the poller role looks for it every second, so that it takes
         * over promptly when the holder dies */
        sked_time wake = now + (role ? MAX_SLEEP_US : SKED_USEC);
        /* draining fires and claims nothing: due work must not wake it (it would spin) */
        if (role && !draining && any_due && next_due < wake)
                wake = next_due;
        /* ready runs are claimed `ahead` early (those passed over: when due) */
        size_t depth = claim_depth(e);
        bool room = claimed_due(e, now, depth) < depth ||
                    (next_ready > now && e->ahead && e->ninflight < AHEAD_MAX);
        if (!draining && !e->claim_blocked && any_ready && room && next_ready - e->ahead < wake)
                wake = next_ready - e->ahead;
        if (!draining && e->claim_wake && e->claim_wake < wake)
                wake = e->claim_wake;
        if (e->ninflight) {
                sked_time renew = e->last_renew + e->cfg.lease_ms * 1000 / 3;
                if (renew < wake)
                        wake = renew;
        }
        *ret_wake = wake;
        return 0;

rollback:
        store_rollback(e->st);
        e->health = health_before;
        lease_renewals_unknown(e);
undo_claims:
        engine_cancel_flush(e, false); /* nothing was decided */
        for (job *j = claimed, *nx; j; j = nx) {
                nx = j->next;
                claim_inflight_remove(e, j);
                job_free(j);
        }
requeue_events:
        writes_done(e, &writes, r, err); /* nothing of theirs was written: the callers hear why */
        /* keep the events for the next turn: nothing a worker reported is dropped */
        if (events) {
                pthread_mutex_lock(&e->lock);
                event *last = events;
                while (last->next)
                        last = last->next;
                last->next = e->ev_head;
                e->ev_head = events;
                if (!e->ev_tail)
                        e->ev_tail = last;
                pthread_mutex_unlock(&e->lock);
        }
        *ret_wake = now + SKED_USEC;
        return r;
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
                e->turn_us = time_mono_usec() - t0;
                if (tr < 0) {
                        /* the store failed (e.g. the database is away): what the turn held is
                         * kept for the next one; look again in a second, not at once */
                        log_error("poller: %s (retrying in 1 s)", err.msg);
                        usleep(SKED_USEC);
                        pthread_mutex_lock(&e->lock);
                        bool give_up = e->stopping && time_mono_usec() - e->stopping_since > 10 * SKED_USEC;
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
                if (e->stopping && e->workers_alive == 0 && e->work_head)
                        workers_release_unstarted(e);
                if (e->stopping && !e->ev_head && e->ninflight == 0) {
                        pthread_mutex_unlock(&e->lock);
                        write_queue left;
                        writes_take(e, &left);
                        sked_err why = {0};
                        err_set(&why, -ESHUTDOWN, "the engine is stopping");
                        writes_done(e, &left, -ESHUTDOWN, &why);
                        break;
                }
                if (!e->wake && !e->ev_head) {
                        sked_time now = engine_now(e);
                        if (wake > now) {
                                /* the injected clock may not be real time: sleep in real time for
                                 * the same span, at most MAX_SLEEP_US, and look again */
                                engine_wait_real(&e->loop_cv, &e->lock, wake - now);
                        }
                }
                e->wake = false;
                pthread_mutex_unlock(&e->lock);
        }
        return NULL;
}
