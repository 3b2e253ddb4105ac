/* store: sked's persistent state behind one interface.  Callers see rows and
 * operations, never SQL.  A `store` is one connection: each thread that touches
 * the store opens its own (cheap for SQLite in WAL mode).  Every function returns
 * 0 or a negative errno (-ENOENT no such row, -ESTALE version mismatch, -EEXIST
 * duplicate, -EIO database failure) with a message in err.
 *
 * Durability: each committed transaction is on disk when db_commit returns
 * (synchronous=FULL in WAL mode).  Batch writers wrap many operations in one
 * store_begin/store_commit to share one flush. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/civil.h"
#include "base/err.h"

typedef struct store store;

/* Opens the store at `uri` ("sqlite:PATH" or "postgres://...") and brings its
 * schema up to date.  Refuses (-EPROTO) a database whose schema is newer than
 * this binary. */
int store_open(const char *uri, store **ret, sked_err *err);
/* Like store_open, migrating only up to schema version `target` (for `sked migrate
 * --to` and upgrade tests); *ret_version (may be NULL) gets the version now in force. */
int store_open_at(const char *uri, int target, store **ret, int *ret_version, sked_err *err);
/* The newest schema version this binary knows. */
int store_schema_latest(void);
bool store_is_postgres(const store *s);
void store_close(store *s);

int store_begin(store *s, sked_err *err);
int store_commit(store *s, sked_err *err);
void store_rollback(store *s);
/* Ends the transaction: commits when r >= 0 (returning the commit's result), rolls
 * back and returns r when r < 0. */
int store_end(store *s, int r, sked_err *err);

/* A pipeline (db.h): the store's writes that say so (store_series_insert) send
 * their statements without waiting for them, PostgreSQL reading all the results
 * in store_pipeline_end, one round trip.  store_pipeline_begin opens a savepoint;
 * store_pipeline_end(s, r) keeps all of it, or when r < 0 or one of its
 * statements failed, none (its error is the first failure, not told to the write
 * that sent it).  Loop thread (the caller's connection). */
int store_pipeline_begin(store *s, sked_err *err);
int store_pipeline_end(store *s, int r, sked_err *err);

/* SQLite: this connection caches up to mb MB of database pages (allocated as they
 * are read; 16 MB by default).  PostgreSQL: a no-op. */
int store_cache_mb(store *s, int mb, sked_err *err);
/* SQLite: whether this connection's commits copy the WAL back into the database
 * when it has grown past 1,000 pages (on by default); store_checkpoint does it on
 * demand, without waiting for readers or writers (PASSIVE): *ret_frames are in the
 * WAL, *ret_copied of them are in the database now (both 0 when another checkpoint
 * was running).  The WAL starts again from its beginning only at a write after a
 * checkpoint that copied all of it.  PostgreSQL: no-ops. */
int store_autocheckpoint(store *s, bool on, sked_err *err);
int store_checkpoint(store *s, int64_t *ret_frames, int64_t *ret_copied, sked_err *err);

/* The domains, one file each (docs/internals.md, "Store layout"). */
#include "store/types.h"
#include "store/series.h"
#include "store/occurrences.h"
#include "store/runs.h"
#include "store/messages.h"
#include "store/cluster.h"
#include "store/retention.h"
#include "store/workflows.h"
#include "store/users.h"
#include "store/audit.h"
#include "store/events.h"
