/* cluster: see cluster.h. */
#include "store/cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"

#define POLLER_LOCK_KEY 727373

int store_poller_lease(store *s, bool *ret_held, sked_err *err) {
        if (db_dialect(s->d) != DB_POSTGRES) {
                *ret_held = true;
                return 0;
        }
        if (s->lease_held && s->lease_gen == db_generation(s->d)) {
                *ret_held = true;
                return 0;
        }
        s->lease_held = false;
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT pg_try_advisory_lock(727373)", &st, err);
        if (r < 0)
                return r;
        bool held = false;
        if ((r = row_read(st, &bool_shape, &held, err)) < 0)
                return r;
        s->lease_held = held;
        s->lease_gen = db_generation(s->d);
        *ret_held = held;
        return 0;
}

int store_db_now(store *s, sked_time *ret, sked_err *err) {
        if (db_dialect(s->d) != DB_POSTGRES) {
                *ret = time_now_real();
                return 0;
        }
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)", &st, err);
        if (r < 0)
                return r;
        int_col t = {0, true};
        if ((r = row_read(st, &int_shape, &t, err)) < 0)
                return r;
        *ret = t.v;
        return 0;
}

int store_notify(store *s, sked_err *err) {
        if (db_dialect(s->d) != DB_POSTGRES)
                return 0;
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT pg_notify('" STORE_NOTIFY_CHANNEL "', '')", &st, err);
        return r < 0 ? r : db_send(st, NULL, NULL, err); /* in a pipeline: with it */
}

int store_lock_type(store *s, const char *type, sked_err *err) {
        if (db_dialect(s->d) != DB_POSTGRES)
                return 0;
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT pg_advisory_xact_lock(727374, hashtext($1))", &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, type);
        return db_run(st, err);
}

static json_t *node_json(db_stmt *st) {
        return json_pack("{s:s, s:s, s:I, s:I, s:I, s:s?, s:I, s:I}", "name", db_col_text(st, 0), "role",
                         db_col_text(st, 1), "workers", (json_int_t) db_col_int(st, 2), "running",
                         (json_int_t) db_col_int(st, 3), "pid", (json_int_t) db_col_int(st, 4), "version",
                         db_col_text(st, 5), "started_at", (json_int_t) db_col_int(st, 6), "heartbeat_at",
                         (json_int_t) db_col_int(st, 7));
}

JSON_SHAPE(node_shape, node_json);

int store_node_heartbeat(store *s, const node_row *n, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "INSERT INTO nodes(name, started_at, heartbeat_at, role, workers, running, pid, version) "
                           "VALUES($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT(name) DO UPDATE SET "
                           "started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, "
                           "role = excluded.role, workers = excluded.workers, running = excluded.running, "
                           "pid = excluded.pid, version = excluded.version",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, n->name);
        db_bind_int(st, 2, n->started_at);
        db_bind_int(st, 3, n->heartbeat_at);
        db_bind_text(st, 4, n->role);
        db_bind_int(st, 5, n->workers);
        db_bind_int(st, 6, n->running);
        db_bind_int(st, 7, n->pid);
        db_bind_text(st, 8, n->version);
        return db_run(st, err);
}

int store_nodes_list(store *s, json_t **ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT name, role, workers, running, pid, version, started_at, heartbeat_at "
                           "FROM nodes ORDER BY name",
                           &st, err);
        if (r < 0)
                return r;
        return json_read(st, &node_shape, ret, err);
}

int store_poller_put(store *s, const poller_health *h, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "INSERT INTO poller(id, node, started_at, heartbeat_at, last_fire_at, "
                           "initialized_at, fired_total, last_batch, next_due, purged_runs, purged_messages, "
                           "purged_results, last_purge_at) "
                           "VALUES(1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT(id) DO UPDATE SET "
                           "purged_runs = excluded.purged_runs, purged_messages = excluded.purged_messages, "
                           "purged_results = excluded.purged_results, last_purge_at = excluded.last_purge_at, "
                           "node = excluded.node, started_at = excluded.started_at, "
                           "heartbeat_at = excluded.heartbeat_at, last_fire_at = excluded.last_fire_at, "
                           "initialized_at = excluded.initialized_at, fired_total = excluded.fired_total, "
                           "last_batch = excluded.last_batch, next_due = excluded.next_due",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, h->node);
        db_bind_int(st, 2, h->started_at);
        db_bind_int(st, 3, h->heartbeat_at);
        db_bind_int_or_null(st, 4, h->last_fire_at, h->last_fire_at == 0);
        db_bind_int_or_null(st, 5, h->initialized_at, h->initialized_at == 0);
        db_bind_int(st, 6, h->fired_total);
        db_bind_int(st, 7, h->last_batch);
        db_bind_int_or_null(st, 8, h->next_due, !h->has_next);
        db_bind_int(st, 9, h->purged_runs);
        db_bind_int(st, 10, h->purged_messages);
        db_bind_int(st, 11, h->purged_results);
        db_bind_int_or_null(st, 12, h->last_purge_at, h->last_purge_at == 0);
        return db_run(st, err);
}

static void poller_decode(db_stmt *st, void *elem) {
        poller_health *h = elem;
        memset(h, 0, sizeof *h);
        snprintf(h->node, sizeof h->node, "%s", db_col_text(st, 0));
        h->started_at = db_col_int(st, 1);
        h->heartbeat_at = db_col_int(st, 2);
        h->last_fire_at = db_col_int(st, 3);
        h->initialized_at = db_col_int(st, 4);
        h->fired_total = db_col_int(st, 5);
        h->last_batch = db_col_int(st, 6);
        h->has_next = !db_col_null(st, 7);
        h->next_due = db_col_int(st, 7);
        h->purged_runs = db_col_int(st, 8);
        h->purged_messages = db_col_int(st, 9);
        h->purged_results = db_col_int(st, 10);
        h->last_purge_at = db_col_int(st, 11);
}

static const row_shape poller_shape = {sizeof(poller_health), poller_decode, NULL};

int store_poller_get(store *s, poller_health *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT node, started_at, heartbeat_at, last_fire_at, initialized_at, "
                           "fired_total, last_batch, next_due, purged_runs, purged_messages, purged_results, "
                           "last_purge_at FROM poller WHERE id = 1",
                           &st, err);
        if (r < 0)
                return r;
        r = row_read(st, &poller_shape, ret, err);
        if (r == 0)
                return err_set(err, -ENOENT, "the poller has not run yet");
        return r < 0 ? r : 0;
}
