/* wal: the store's upkeep beside its one writer (the engine's loop) — the SQLite
 * WAL checkpointer and the writer connection's settings — and the wake-up listener
 * for a shared database.  The engine only calls the hooks: start, committed, stop.
 *
 * Threads: store_wal_start/stop from one thread (the engine's start and stop);
 * store_wal_committed from the writer's thread only, after each of its commits. */
#pragma once

#include "base/err.h"
#include "store/store.h"

typedef struct store_wal store_wal;

/* Sets up the writer connection `writer` (borrowed; it must outlive the
 * checkpointer) for being the one writer of the store at `uri`.  SQLite: a 128 MB
 * page cache, automatic checkpoints off, and a checkpointer thread on a connection
 * of its own that copies the WAL back after commits (PASSIVE, at most 10 a second,
 * every 20 ms while behind).  If that thread cannot start, commits checkpoint as
 * SQLite does by default.  PostgreSQL: nothing; *ret is NULL.  Errors: the
 * writer's settings could not be applied. */
int store_wal_start(const char *uri, store *writer, store_wal **ret, sked_err *err);

/* After each commit of the writer (on its thread): wakes the checkpointer, and
 * when the WAL grew past its bounds, copies the rest itself (the only writer: its
 * pass completes unless a reader still uses old pages; then it tries again 100 ms
 * later, not at every commit).  NULL: no-op. */
void store_wal_committed(store_wal *w);

/* Stops and joins the checkpointer, closes its connection.  NULL: no-op. */
void store_wal_stop(store_wal *w);

/* PostgreSQL: a thread that LISTENs on the store's wake-up channel
 * (STORE_NOTIFY_CHANNEL, see store_notify) with its own connection and calls
 * cb(ud) for each notification and after each reconnection.  SQLite: *ret is NULL
 * and nothing runs (one node). */
typedef struct store_listener store_listener;
int store_listen_start(const char *uri, void (*cb)(void *), void *ud, store_listener **ret, sked_err *err);
void store_listen_stop(store_listener *l);
