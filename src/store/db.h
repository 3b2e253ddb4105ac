/* db: a minimal SQL driver under the store.  SQL is written once, in PostgreSQL's
 * parameter style ($1, $2, ...); the SQLite backend rewrites $N to ?N.  Only the
 * store uses this; nothing outside src/store/ writes SQL.
 *
 * A `db` is one connection and belongs to one thread at a time.  Statements are
 * prepared once per connection and cached, keyed by the SQL text's address, so
 * callers pass string literals; a statement stays where it is for the connection's
 * life, however many others are prepared (stmt_cache.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

typedef struct db db;
typedef struct db_stmt db_stmt;

enum db_dialect { DB_SQLITE, DB_POSTGRES };

/* Opens "sqlite:PATH" (PATH may be ":memory:"; WAL, synchronous=FULL, foreign keys
 * on, busy timeout 10 s) or "postgres://..." (libpq; synchronous_commit=on).
 * Returns -EINVAL for an unknown scheme, -EIO when the database cannot be opened. */
int db_open(const char *uri, db **ret, sked_err *err);
void db_close(db *d);
enum db_dialect db_dialect(const db *d);
/* Counts reconnections (PostgreSQL): session state such as advisory locks is gone
 * whenever it changes.  Always 0 for SQLite. */
uint64_t db_generation(const db *d);

/* Runs one or more statements without parameters or results (schema, pragmas). */
int db_exec_script(db *d, const char *sql, sked_err *err);

/* Transactions.  With SQLite, db_begin takes the write lock at once (BEGIN
 * IMMEDIATE), so a transaction never fails half-way for lock reasons.  With
 * PostgreSQL, a broken connection is re-established by the next db_begin or
 * db_exec_script outside a transaction. */
/* Nested: db_begin inside a transaction opens a SAVEPOINT; the matching db_commit
 * keeps its work (the savepoint stays until the transaction ends), db_rollback
 * rolls back to it (the enclosing transaction goes on).  At most 32 deep.  This is how the loop runs each API write in
 * its own savepoint of the turn's transaction while the write's code calls begin/commit as if alone. */
int db_begin(db *d, sked_err *err);
int db_commit(db *d, sked_err *err);
void db_rollback(db *d);

/* Pipelines: statements sent without waiting for their results, one round trip
 * for many (PostgreSQL, libpq's pipeline mode; SQLite runs each at once).
 * db_pipeline_begin opens a savepoint (db_begin).  Until db_pipeline_end, db_send
 * sends a prepared and bound statement and returns; row(st, ud) (may be NULL) is
 * called for each of its rows when they arrive (st is only valid in the call), at
 * the latest in db_pipeline_end; the statement itself is done (reset) at once.
 * Any other call on d reads everything sent first.  db_pipeline_end(d, r) reads
 * what is left: if r < 0 or anything sent failed, it rolls back to the savepoint
 * (nothing of the pipeline stays) and returns that error (r, else the first
 * failure); else it keeps the work (db_commit) and returns 0.  A failure is not
 * told to the caller of db_send that sent the statement: the pipeline is all or
 * nothing.  Outside a pipeline db_send runs the statement at once and returns its
 * error.  A session that ends mid-way fails db_pipeline_end; the next db_begin
 * outside the transaction reconnects. */
int db_pipeline_begin(db *d, sked_err *err);
int db_send(db_stmt *s, void (*row)(db_stmt *st, void *ud), void *ud, sked_err *err);
int db_pipeline_end(db *d, int r, sked_err *err);

/* Prepares (or takes from the cache) a statement, reset and with bindings cleared.
 * The statement belongs to the connection; release it with db_done(). */
int db_prepare(db *d, const char *sql, db_stmt **ret, sked_err *err);
void db_bind_int(db_stmt *s, int idx, int64_t v);      /* idx starts at 1 ($1) */
void db_bind_text(db_stmt *s, int idx, const char *v); /* NULL binds NULL; copied */
void db_bind_int_or_null(db_stmt *s, int idx, int64_t v, bool is_null);
/* 1 when a row is available, 0 when done, negative on error (err set). */
int db_step(db_stmt *s, sked_err *err); /* -EEXIST on a unique violation, -EAGAIN on a
                                         * serialization failure or deadlock */
int64_t db_col_int(db_stmt *s, int col);
const char *db_col_text(db_stmt *s, int col); /* valid until the next step/done; NULL for NULL */
bool db_col_null(db_stmt *s, int col);
int64_t db_changes(db *d);
/* SQLite: the rowid of this connection's last INSERT (cheaper than RETURNING, which
 * builds a temporary table per statement).  PostgreSQL: 0; use RETURNING. */
int64_t db_last_insert_id(db *d);
void db_done(db_stmt *s);

/* A thread that LISTENs on a PostgreSQL channel with its own connection and calls
 * cb(ud) for every notification (and once after each reconnection, since
 * notifications sent while it was away are lost).  It reconnects by itself.
 * For SQLite *ret is NULL and nothing runs. */
typedef struct db_listener db_listener;
int db_listen_start(const char *uri, const char *channel, void (*cb)(void *), void *ud, db_listener **ret,
                    sked_err *err);
void db_listen_stop(db_listener *l);

/* Convenience: prepare, bind nothing more, step to completion.  For statements the
 * caller has bound already use db_step. */
int db_run(db_stmt *s, sked_err *err);
