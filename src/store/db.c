/* db: dispatches the driver's calls to the backend named by the URI. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/db_backend.h"

int db_open(const char *uri, db **ret, sked_err *err) {
        if (!strncmp(uri, "sqlite:", 7))
                return db_sqlite_ops.open(uri, ret, err);
        if (!strncmp(uri, "postgres://", 11) || !strncmp(uri, "postgresql://", 13))
                return db_pg_ops.open(uri, ret, err);
        return err_field(err, -EINVAL, "store", "\"%s\": expected sqlite:PATH or postgres://...", uri);
}

void db_close(db *d) {
        if (d)
                d->ops->close(d);
}

enum db_dialect db_dialect(const db *d) {
        return d->ops->dialect;
}

uint64_t db_generation(const db *d) {
        return d->ops->generation ? d->ops->generation(d) : 0;
}

int db_exec_script(db *d, const char *sql, sked_err *err) {
        return d->ops->exec_script(d, sql, err);
}

int db_begin(db *d, sked_err *err) {
        if (d->in_tx) {
                if (d->depth >= (int) (sizeof d->sp / sizeof d->sp[0]))
                        return err_set(err, -E2BIG, "transactions nested more than %zu deep",
                                       sizeof d->sp / sizeof d->sp[0]);
                char sql[32];
                uint32_t id = d->sp_seq + 1;
                int r;
                if (d->ops->savepoint) {
                        r = d->ops->savepoint(d, id, err);
                } else {
                        snprintf(sql, sizeof sql, "SAVEPOINT sk%u", (unsigned) id);
                        r = d->ops->exec_script(d, sql, err);
                }
                if (r == 0) {
                        d->sp_seq = id;
                        d->sp[d->depth++] = id;
                }
                return r;
        }
        int r = d->ops->begin(d, err);
        if (r == 0) {
                d->in_tx = true;
                d->depth = 0;
                d->sp_seq = 0;
                d->pipelined = 0;
        }
        return r;
}

int db_commit(db *d, sked_err *err) {
        if (d->depth > 0) {
                /* a nested commit keeps its work and leaves its savepoint in place (the
                 * transaction's commit releases them all): RELEASE would cost a round
                 * trip per API write on PostgreSQL, and a later rollback names its own
                 * savepoint, so it never undoes this one */
                d->depth--;
                if (d->ops->savepoint_keep)
                        d->ops->savepoint_keep(d, d->sp[d->depth]);
                return 0;
        }
        int r = d->ops->commit(d, err);
        d->in_tx = false;
        d->pipelined = 0;
        return r;
}

void db_rollback(db *d) {
        if (d->depth > 0) {
                /* back to the savepoint's start; the enclosing transaction stays (on
                 * PostgreSQL this also clears a failed statement's aborted state) */
                uint32_t id = d->sp[--d->depth];
                if (d->ops->savepoint_rollback) {
                        d->ops->savepoint_rollback(d, id);
                        return;
                }
                char sql[48];
                sked_err ignore = {0};
                snprintf(sql, sizeof sql, "ROLLBACK TO SAVEPOINT sk%u", (unsigned) id);
                d->ops->exec_script(d, sql, &ignore);
                return;
        }
        d->ops->rollback(d);
        d->in_tx = false;
        d->pipelined = 0;
}

int db_pipeline_begin(db *d, sked_err *err) {
        int r = db_begin(d, err);
        if (r == 0)
                d->pipelined++;
        return r;
}

int db_send(db_stmt *s, void (*row)(db_stmt *st, void *ud), void *ud, sked_err *err) {
        if (s->ops->send)
                return s->ops->send(s, row, ud, err);
        int r;
        while ((r = db_step(s, err)) == 1)
                if (row)
                        row(s, ud);
        db_done(s);
        return r;
}

int db_pipeline_end(db *d, int r, sked_err *err) {
        if (d->pipelined > 0)
                d->pipelined--;
        sked_err serr = {0};
        int sr = d->ops->sync ? d->ops->sync(d, r < 0 ? &serr : err) : 0;
        if (r >= 0 && sr < 0)
                r = sr;
        if (r < 0) {
                db_rollback(d);
                return r;
        }
        return db_commit(d, err);
}

int db_prepare(db *d, const char *sql, db_stmt **ret, sked_err *err) {
        return d->ops->prepare(d, sql, ret, err);
}

void db_bind_int(db_stmt *s, int idx, int64_t v) {
        s->ops->bind_int(s, idx, v);
}

void db_bind_text(db_stmt *s, int idx, const char *v) {
        s->ops->bind_text(s, idx, v);
}

void db_bind_int_or_null(db_stmt *s, int idx, int64_t v, bool is_null) {
        if (is_null)
                s->ops->bind_null(s, idx);
        else
                s->ops->bind_int(s, idx, v);
}

int db_step(db_stmt *s, sked_err *err) {
        return s->ops->step(s, err);
}

int64_t db_col_int(db_stmt *s, int col) {
        return s->ops->col_int(s, col);
}

const char *db_col_text(db_stmt *s, int col) {
        return s->ops->col_text(s, col);
}

bool db_col_null(db_stmt *s, int col) {
        return s->ops->col_null(s, col);
}

int64_t db_last_insert_id(db *d) {
        return d->ops->last_insert_id ? d->ops->last_insert_id(d) : 0;
}

int64_t db_changes(db *d) {
        return d->ops->changes(d);
}

void db_done(db_stmt *s) {
        if (s)
                s->ops->done(s);
}

int db_run(db_stmt *s, sked_err *err) {
        int r;
        while ((r = db_step(s, err)) == 1)
                ;
        db_done(s);
        return r;
}
