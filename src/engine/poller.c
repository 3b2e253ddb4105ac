/* poller: the poller's health record and its re-initialization (sked poller init). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/engine_internal.h"

typedef struct init_ctx {
        int registered;
        json_t *skipped; /* [{"type", "detail"}] */
} init_ctx;

/* Every background type's series, each in its own savepoint: a definition that
 * cannot make one (stored by an older version, or written to the store by hand) is
 * skipped with a logged error and the others are registered. */
static int poller_init_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        init_ctx *c = ctx;
        int r = 0;
        (void) ret_reply;
        pthread_rwlock_rdlock(&e->reg.types_lock);
        size_t count = 0;
        for (type_entry *t = e->reg.types; t; t = t->next)
                count++;
        const ptype **list = calloc(count + 1, sizeof *list);
        count = 0;
        for (type_entry *t = e->reg.types; list && t; t = t->next)
                if (!t->retired && t->t->background)
                        list[count++] = t->t;
        pthread_rwlock_unlock(&e->reg.types_lock);
        if (!list)
                return err_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < count && r >= 0; i++) {
                bool created = false;
                sked_err one = {0};
                if ((r = store_begin(st, err)) < 0)
                        break;
                int r1 = registry_background_series(e, st, list[i], &created, &one);
                if ((r = store_end(st, r1, r1 < 0 ? &one : err)) >= 0) {
                        c->registered += created;
                } else if (one.code == -EINVAL || one.code == -ENOENT) {
                        log_error("poller init: background type %s: %s (skipped)", list[i]->name, one.msg);
                        json_array_append_new(c->skipped,
                                              json_pack("{s:s, s:s}", "type", list[i]->name, "detail", one.msg));
                        r = 0;
                } else {
                        *err = one; /* the store failed: the whole init does */
                }
        }
        free(list);
        return r < 0 ? r : 0;
}

int engine_poller_init(engine *e, int *ret_registered, json_t **ret_skipped, sked_err *err) {
        init_ctx c = {.skipped = json_array()};
        if (!c.skipped)
                return err_set(err, -ENOMEM, "out of memory");
        int r = engine_write(e, poller_init_apply, &c, NULL, err);
        if (r < 0) {
                json_decref(c.skipped);
                return r;
        }
        pthread_mutex_lock(&e->lock);
        e->poller.health.initialized_at = engine_now(e);
        pthread_mutex_unlock(&e->lock);
        engine_wake(e);
        if (ret_registered)
                *ret_registered = c.registered;
        if (ret_skipped)
                *ret_skipped = c.skipped;
        else
                json_decref(c.skipped);
        return 0;
}

json_t *engine_poller_status(engine *e, store *st) {
        poller_health h;
        sked_err err = {0};
        json_t *o = json_object();
        if (store_poller_get(st, &h, &err) == 0) {
                char buf[32];
                json_object_set_new(o, "node", json_string(h.node));
                time_format_utc(h.started_at, buf, sizeof buf);
                json_object_set_new(o, "started_at", json_string(buf));
                time_format_utc(h.heartbeat_at, buf, sizeof buf);
                json_object_set_new(o, "heartbeat_at", json_string(buf));
                if (h.last_fire_at) {
                        time_format_utc(h.last_fire_at, buf, sizeof buf);
                        json_object_set_new(o, "last_fire_at", json_string(buf));
                }
                if (h.initialized_at) {
                        time_format_utc(h.initialized_at, buf, sizeof buf);
                        json_object_set_new(o, "initialized_at", json_string(buf));
                }
                if (h.has_next) {
                        time_format_utc(h.next_due, buf, sizeof buf);
                        json_object_set_new(o, "next_due", json_string(buf));
                }
                json_object_set_new(o, "fired_total", json_integer(h.fired_total));
                json_object_set_new(o, "last_batch", json_integer(h.last_batch));
                json_object_set_new(o, "purged_runs", json_integer(h.purged_runs));
                json_object_set_new(o, "purged_messages", json_integer(h.purged_messages));
                json_object_set_new(o, "purged_results", json_integer(h.purged_results));
                if (h.last_purge_at) {
                        time_format_utc(h.last_purge_at, buf, sizeof buf);
                        json_object_set_new(o, "last_purge_at", json_string(buf));
                }
                sked_time now = engine_now(e);
                int64_t age = (now - h.heartbeat_at) / 1000;
                json_object_set_new(o, "heartbeat_age_ms", json_integer(age));
                pthread_mutex_lock(&e->lock);
                bool started = e->life.started;
                pthread_mutex_unlock(&e->lock);
                json_object_set_new(o, "healthy", json_boolean(started && age < 10000));
        } else {
                json_object_set_new(o, "healthy", json_false());
                json_object_set_new(o, "detail", json_string(err.msg));
        }
        pthread_mutex_lock(&e->lock);
        json_object_set_new(o, "running", json_integer((json_int_t) e->claim.ninflight));
        json_object_set_new(o, "workers", json_integer(e->cfg.workers));
        pthread_mutex_unlock(&e->lock);
        return o;
}

/* After BEGIN: if BEGIN had to reconnect, the session (and its lock) is new. */
static int role_work(engine *e, turn_ctx *t, sked_err *err) {
        int r = store_poller_lease(e->st, &t->role, err);
        if (r < 0)
                return r;
        if (t->role != e->poller.poller_role && e->postgres)
                log_info("%s the poller role", t->role ? "took" : "lost");
        e->poller.poller_role = t->role;
        return 0;
}

const turn_step role_step = {"role", 0, role_work, NULL, NULL, NULL};

/* This node's heartbeat, and (poller) the health record: written when something
 * fired, else once a second. */
static int health_work(engine *e, turn_ctx *t, sked_err *err) {
        sked_time now = t->now;
        bool beat = now - e->poller.last_heartbeat >= HEARTBEAT_EVERY_US || now < e->poller.last_heartbeat;
        int r;
        if (beat) {
                node_row nr = {.started_at = e->life.started_at,
                               .heartbeat_at = now,
                               .workers = e->work.nworkers,
                               .running = (int64_t) e->claim.ninflight,
                               .pid = getpid()};
                snprintf(nr.name, sizeof nr.name, "%s", e->node);
                snprintf(nr.role, sizeof nr.role, "%s", t->role ? "poller" : "worker");
                snprintf(nr.version, sizeof nr.version, "%s", SKED_VERSION);
                if ((r = store_node_heartbeat(e->st, &nr, err)) < 0)
                        return r;
        }
        if (t->role && (t->fired || beat)) {
                e->poller.health.heartbeat_at = now;
                if (t->fired) {
                        e->poller.health.last_fire_at = now;
                        e->poller.health.last_batch = t->fired;
                        e->poller.health.fired_total += t->fired;
                }
                /* when something is due (not when the poller looks) */
                e->poller.health.next_due = t->next_due;
                e->poller.health.has_next = t->any_due;
                if (e->ahead && (r = store_next_fire_at(e->st, now, 0, &e->poller.health.next_due,
                                                        &e->poller.health.has_next, err)) < 0)
                        return r;
                if ((r = store_poller_put(e->st, &e->poller.health, err)) < 0)
                        return r;
        }
        if (beat)
                e->poller.last_heartbeat = now;
        return 0;
}

/* a rolled-back turn: the record in memory goes back with the one on disk */
static void health_after(engine *e, turn_ctx *t) {
        if (t->result < 0)
                e->poller.health = t->health_before;
}

const turn_step health_step = {"health", 0, health_work, health_after, NULL, NULL};
