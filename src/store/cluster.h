/* cluster: nodes sharing one database: the poller role, the database's clock,
 * wake-ups, cross-node locks, node heartbeats and the poller's health record.
 * Same conventions as store.h: 0 or a negative errno, messages in err, one
 * connection per thread; the caller holds the transaction where one is needed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/civil.h"
#include "base/err.h"

typedef struct store store;

/* Takes, or confirms it still holds, the poller role.  PostgreSQL: a session
 * advisory lock of this connection, lost with the session (a node that died or
 * lost its connection lets another take over).  SQLite: always held (one server
 * per data directory).  Call outside a transaction. */
int store_poller_lease(store *s, bool *ret_held, sked_err *err);
/* The database's clock (PostgreSQL) or the local real-time clock (SQLite). */
int store_db_now(store *s, sked_time *ret, sked_err *err);
/* Wakes the nodes that listen (PostgreSQL NOTIFY; in a transaction it is sent at
 * commit; in a pipeline it goes with it).  No-op for SQLite. */
int store_notify(store *s, sked_err *err);
#define STORE_NOTIFY_CHANNEL "sked_wake"
/* Serializes claims of runs of one type across nodes until the transaction ends, so
 * that a concurrency limit holds cluster-wide.  No-op for SQLite (BEGIN IMMEDIATE). */
int store_lock_type(store *s, const char *type, sked_err *err);
typedef struct node_row {
        char name[128], role[16], version[32];
        sked_time started_at, heartbeat_at;
        int64_t workers, running, pid;
} node_row;
int store_node_heartbeat(store *s, const node_row *n, sked_err *err);
/* Every node that ever heartbeat: {"name","role","workers","running","pid","version","started_at","heartbeat_at"}
 * (integers). */
int store_nodes_list(store *s, json_t **ret, sked_err *err);

/* ---- poller health ---- */
typedef struct poller_health {
        char node[64];
        sked_time started_at, heartbeat_at, last_fire_at, initialized_at;
        int64_t fired_total, last_batch;
        bool has_next;
        sked_time next_due;
        int64_t purged_runs, purged_messages, purged_results; /* retention, since the store was created */
        sked_time last_purge_at;
} poller_health;
int store_poller_put(store *s, const poller_health *h, sked_err *err);
int store_poller_get(store *s, poller_health *ret, sked_err *err);
