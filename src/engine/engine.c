/* engine: the engine's lifecycle (new, start, stop, free), its clock and per-thread store connections. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/engine_internal.h"
#include "engine/workflow.h"

static sked_time real_clock(void *ud) {
        (void) ud;
        return time_now_real();
}

/* With a shared database, instants come from the database's clock: the local clock
 * plus an offset the loop measures every few seconds. */
sked_time engine_now(engine *e) {
        sked_time t = e->cfg.clock(e->cfg.clock_userdata);
        return e->cfg.clock == real_clock ? t + atomic_load(&e->life.clock_offset) : t;
}

void engine_sync_clock(engine *e) {
        sked_time db_now, before = time_now_real(), after;
        sked_err err = {0};
        if (!e->postgres || e->cfg.clock != real_clock || store_db_now(e->st, &db_now, &err) < 0)
                return;
        after = time_now_real();
        atomic_store(&e->life.clock_offset, db_now - (before + after) / 2);
}

const char *engine_node(const engine *e) {
        return e->node;
}

static void store_key_destroy(void *p) {
        /* connections are owned by the engine's list; nothing to do per thread */
        (void) p;
}

int engine_new(const engine_config *cfg, engine **ret, sked_err *err) {
        engine *e = calloc(1, sizeof *e);
        if (!e)
                return err_set(err, -ENOMEM, "out of memory");
        e->cfg = *cfg;
        if (!e->cfg.clock)
                e->cfg.clock = real_clock;
        if (!e->cfg.workers)
                e->cfg.workers = 4;
        if (e->cfg.workers > 1024)
                e->cfg.workers = 1024;
        if (!e->cfg.lease_ms)
                e->cfg.lease_ms = 30000;
        if (!e->cfg.late_after_ms)
                e->cfg.late_after_ms = 60000;
        if (!e->cfg.lookahead_ms)
                e->cfg.lookahead_ms = cfg->clock ? -1 : 2000;
        e->ahead = e->cfg.lookahead_ms > 0 ? e->cfg.lookahead_ms * 1000 : 0;
        e->fire.scache.free_value = series_plan_free;
        char host[64] = "localhost";
        gethostname(host, sizeof host - 1);
        e->node = strdup(cfg->node ? cfg->node : host);
        e->claim.handler_us = 5000; /* unknown yet: a middling look-ahead until runs finish */
        e->store_uri = strdup(cfg->store_uri);
        pthread_mutex_init(&e->lock, NULL);
        pthread_mutex_init(&e->life.conns_lock, NULL);
        pthread_cond_init(&e->loop.loop_cv, NULL);
        pthread_cond_init(&e->work.work_cv, NULL);
        pthread_cond_init(&e->loop.idle_cv, NULL);
        pthread_cond_init(&e->wr.commit_cv, NULL);
        TAILQ_INIT(&e->wr.writes);
        pthread_rwlock_init(&e->reg.types_lock, NULL);
        pthread_key_create(&e->life.store_key, store_key_destroy);
        pthread_mutex_init(&e->plans_lock, NULL);
        metrics_init(&e->metrics);
        e->api_plans.free_value = series_plan_free;
        int r = store_open(e->store_uri, &e->st, err);
        if (r < 0) {
                engine_free(e);
                return r;
        }
        e->postgres = store_is_postgres(e->st);
        engine_sync_clock(e);
        /* load stored types; plug-in types get their handlers when the plug-in registers */
        json_t *defs = NULL;
        if ((r = store_type_list(e->st, &defs, err)) < 0) {
                engine_free(e);
                return r;
        }
        size_t i;
        json_t *d;
        json_array_foreach(defs, i, d) {
                ptype *t = NULL;
                sked_err e2 = {0};
                if (ptype_from_json(d, &t, &e2) < 0) {
                        log_warning("stored type %s no longer validates: %s",
                                    json_string_value(json_object_get(d, "name")), e2.msg);
                        continue;
                }
                type_entry *te = calloc(1, sizeof *te);
                te->t = t;
                te->next = e->reg.types;
                e->reg.types = te;
        }
        json_decref(defs);
        /* which features are off: their runs wait, their types are hidden */
        if ((r = registry_features_refresh(e, e->st, err)) < 0) {
                engine_free(e);
                return r;
        }
        *ret = e;
        return 0;
}

int engine_thread_store(engine *e, store **ret, sked_err *err) {
        store *s = pthread_getspecific(e->life.store_key);
        if (s) {
                *ret = s;
                return 0;
        }
        int r = store_open(e->store_uri, &s, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&e->life.conns_lock);
        store **p = realloc(e->life.conns, (e->life.nconns + 1) * sizeof *p);
        if (p) {
                e->life.conns = p;
                e->life.conns[e->life.nconns++] = s;
        }
        pthread_mutex_unlock(&e->life.conns_lock);
        if (!p) {
                store_close(s);
                return err_set(err, -ENOMEM, "out of memory");
        }
        pthread_setspecific(e->life.store_key, s);
        *ret = s;
        return 0;
}

static void listen_wake(void *ud) {
        engine_wake(ud);
}

int engine_start(engine *e, sked_err *err) {
        if (e->life.started)
                return 0;
        sked_time now = engine_now(e);
        e->life.started_at = now;
        memset(&e->poller.health, 0, sizeof e->poller.health);
        snprintf(e->poller.health.node, sizeof e->poller.health.node, "%s", e->node);
        e->poller.health.started_at = now;
        poller_health old;
        sked_err ignore = {0};
        if (store_poller_get(e->st, &old, &ignore) == 0) {
                e->poller.health.fired_total = old.fired_total;
                e->poller.health.initialized_at = old.initialized_at;
                e->poller.health.purged_runs = old.purged_runs;
                e->poller.health.purged_messages = old.purged_messages;
                e->poller.health.purged_results = old.purged_results;
                e->poller.health.last_purge_at = old.last_purge_at;
        }
        /* SQLite: one sked serve per data directory (the daemon holds a lock), so every
         * run still marked running belongs to a process that is gone: recover them
         * now.  PostgreSQL: other nodes' runs are alive; the poller recovers what
         * outlives its lease. */
        int r;
        if (!e->postgres) {
                if ((r = store_begin(e->st, err)) < 0)
                        return r;
                if ((r = lease_recover_expired(e, now, SKED_TIME_MAX, err)) < 0) {
                        store_rollback(e->st);
                        return r;
                }
                if ((r = store_commit(e->st, err)) < 0)
                        return r;
        }
        if ((r = store_listen_start(e->store_uri, listen_wake, e, &e->life.listener, err)) < 0)
                return r;
        pthread_t *workers = calloc(e->cfg.workers, sizeof *workers);
        if (!workers)
                return err_set(err, -ENOMEM, "out of memory");
        /* HTTP threads may already be serving: publish under the lock */
        pthread_mutex_lock(&e->lock);
        e->work.nworkers = e->cfg.workers;
        e->work.workers = workers;
        e->life.started = true;
        pthread_mutex_unlock(&e->lock);
        for (unsigned i = 0; i < e->work.nworkers; i++) {
                if (pthread_create(&e->work.workers[i], NULL, workers_main, e) != 0)
                        return err_set(err, -EAGAIN, "cannot start worker thread %u", i);
                pthread_mutex_lock(&e->lock);
                e->work.workers_alive++;
                pthread_mutex_unlock(&e->lock);
        }
        /* the loop is the store's one writer: its connection's settings and the
         * WAL's upkeep are the store's (store/wal.h) */
        if ((r = store_wal_start(e->store_uri, e->st, &e->life.wal, err)) < 0)
                return r;
        if (pthread_create(&e->loop.loop_thread, NULL, loop_main, e) != 0)
                return err_set(err, -EAGAIN, "cannot start the poller thread");
        return 0;
}

int engine_wait_started(engine *e, int64_t timeout_ms) {
        int64_t deadline = time_mono_usec() + timeout_ms * 1000;
        for (;;) {
                pthread_mutex_lock(&e->lock);
                bool done = e->loop.turns >= 1;
                pthread_mutex_unlock(&e->lock);
                if (done)
                        return 0;
                if (time_mono_usec() > deadline)
                        return -ETIMEDOUT;
                usleep(2000);
        }
}

int engine_wait_idle(engine *e, int64_t timeout_ms) {
        int64_t deadline = time_mono_usec() + timeout_ms * 1000;
        pthread_mutex_lock(&e->lock);
        uint64_t first = e->loop.turns + 2; /* a whole turn that began after this call */
        pthread_mutex_unlock(&e->lock);
        for (;;) {
                engine_wake(e);
                pthread_mutex_lock(&e->lock);
                bool idle = e->loop.turns >= first && e->loop.idle && !e->loop.ev_head && !e->work.work_head &&
                            e->claim.ninflight == 0;
                pthread_mutex_unlock(&e->lock);
                if (idle)
                        return 0;
                if (time_mono_usec() > deadline)
                        return -ETIMEDOUT;
                usleep(10000);
        }
}

static void wait_until(engine *e, bool (*done)(engine *), int64_t ms) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&e->lock);
        while (!done(e))
                if (pthread_cond_timedwait(&e->loop.idle_cv, &e->lock, &ts) == ETIMEDOUT)
                        break;
        pthread_mutex_unlock(&e->lock);
}

static bool no_jobs(engine *e) {
        return e->claim.ninflight == 0 && !e->work.work_head;
}

static bool no_workers(engine *e) {
        return e->work.workers_alive == 0;
}

void engine_stop(engine *e, int64_t grace_ms) {
        if (!e->life.started)
                return;
        pthread_mutex_lock(&e->lock);
        e->life.draining = true;
        workers_release_unstarted(e); /* claimed ahead, never started: not now; they run again later */
        e->loop.wake = true;
        pthread_cond_signal(&e->loop.loop_cv);
        pthread_mutex_unlock(&e->lock);
        wait_until(e, no_jobs, grace_ms);
        /* past the grace: ask the rest to stop; they finish as "lost" and run again */
        pthread_mutex_lock(&e->lock);
        for (size_t i = 0; i < e->claim.ninflight; i++)
                e->claim.inflight[i]->cancel = 1;
        pthread_mutex_unlock(&e->lock);
        wait_until(e, no_jobs, 10000);
        pthread_mutex_lock(&e->lock);
        e->life.stopping = true;
        e->life.stopping_since = time_mono_usec();
        pthread_cond_broadcast(&e->work.work_cv);
        pthread_cond_signal(&e->loop.loop_cv);
        pthread_mutex_unlock(&e->lock);
        wait_until(e, no_workers, 5000);
        store_listen_stop(e->life.listener);
        e->life.listener = NULL;
        pthread_mutex_lock(&e->lock);
        bool all_out = e->work.workers_alive == 0;
        pthread_mutex_unlock(&e->lock);
        if (all_out) {
                for (unsigned i = 0; i < e->work.nworkers; i++)
                        pthread_join(e->work.workers[i], NULL);
                pthread_join(e->loop.loop_thread, NULL);
                /* after the loop: it calls store_wal_committed up to its last commit */
                store_wal_stop(e->life.wal);
                e->life.wal = NULL;
                e->life.started = false;
        } else {
                /* a handler ignores cancellation: leave its thread; the run is recovered at the next start */
                log_warning("%u handler(s) did not stop; their runs will be recovered at the next start",
                            e->work.workers_alive);
                for (unsigned i = 0; i < e->work.nworkers; i++)
                        pthread_detach(e->work.workers[i]);
                pthread_detach(e->loop.loop_thread);
        }
}

void engine_free(engine *e) {
        if (!e)
                return;
        if (e->life.started)
                return; /* threads still use it; the process is about to exit anyway */
        store_close(e->st);
        for (size_t i = 0; i < e->life.nconns; i++)
                store_close(e->life.conns[i]);
        free(e->life.conns);
        schedcache_clear(&e->fire.scache);
        engine_workflows_free(e);
        registry_features_off_free(e->reg.features_off, e->reg.nfeatures_off);
        free(e->lease.cancels);
        for (type_entry *t = e->reg.types, *nx; t; t = nx) {
                nx = t->next;
                ptype_free(t->t);
                free(t);
        }
        while (e->work.work_head) {
                job *j = e->work.work_head;
                e->work.work_head = j->next;
                job_free(j);
        }
        free(e->claim.inflight);
        free(e->work.workers);
        free(e->reg.plugins); /* plug-ins stay loaded: their code may still be referenced */
        pthread_key_delete(e->life.store_key);
        schedcache_clear(&e->api_plans);
        metrics_free(&e->metrics);
        free(e->node);
        free(e->store_uri);
        free(e);
}
