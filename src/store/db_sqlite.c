/* db_sqlite: the SQLite backend of the db driver. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "base/strbuf.h"
#include "store/db.h"

#define STMT_CACHE 128

struct db_stmt {
        db *owner;
        const char *key;  /* address of the caller's SQL text */
        sqlite3_stmt *st;
};

struct db {
        sqlite3 *h;
        db_stmt cache[STMT_CACHE];
        size_t ncache;
        bool in_tx;
};

static int fail(db *d, sked_err *err, const char *what) {
        return err_set(err, -EIO, "database: %s: %s", what, d->h ? sqlite3_errmsg(d->h) : "no connection");
}

int db_open(const char *uri, db **ret, sked_err *err) {
        if (strncmp(uri, "sqlite:", 7) != 0)
                return err_field(err, -EINVAL, "store", "\"%s\": expected sqlite:PATH", uri);
        db *d = calloc(1, sizeof *d);
        if (!d)
                return err_set(err, -ENOMEM, "out of memory");
        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
        if (sqlite3_open_v2(uri + 7, &d->h, flags, NULL) != SQLITE_OK) {
                int r = fail(d, err, "open");
                db_close(d);
                return r;
        }
        sqlite3_busy_timeout(d->h, 10000);
        sqlite3_extended_result_codes(d->h, 1);
        int r = db_exec_script(d,
                               "PRAGMA journal_mode=WAL;"
                               "PRAGMA synchronous=FULL;"
                               "PRAGMA foreign_keys=ON;"
                               "PRAGMA temp_store=MEMORY;",
                               err);
        if (r < 0) {
                db_close(d);
                return r;
        }
        *ret = d;
        return 0;
}

void db_close(db *d) {
        if (!d)
                return;
        for (size_t i = 0; i < d->ncache; i++)
                sqlite3_finalize(d->cache[i].st);
        sqlite3_close_v2(d->h);
        free(d);
}

int db_exec_script(db *d, const char *sql, sked_err *err) {
        char *msg = NULL;
        if (sqlite3_exec(d->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
                int r = err_set(err, -EIO, "database: %s", msg ? msg : sqlite3_errmsg(d->h));
                sqlite3_free(msg);
                return r;
        }
        return 0;
}

int db_begin(db *d, sked_err *err) {
        int r = db_exec_script(d, "BEGIN IMMEDIATE", err);
        if (r == 0)
                d->in_tx = true;
        return r;
}

int db_commit(db *d, sked_err *err) {
        int r = db_exec_script(d, "COMMIT", err);
        if (r < 0)
                db_rollback(d);
        d->in_tx = false;
        return r;
}

void db_rollback(db *d) {
        if (!sqlite3_get_autocommit(d->h))
                sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
        d->in_tx = false;
}

bool db_in_transaction(const db *d) {
        return d->in_tx;
}

/* $N -> ?N, leaving string literals alone. */
static char *rewrite(const char *sql) {
        strbuf b = STRBUF_INIT;
        bool quoted = false;
        for (const char *p = sql; *p; p++) {
                if (*p == '\'')
                        quoted = !quoted;
                strbuf_putc(&b, (!quoted && *p == '$' && p[1] >= '0' && p[1] <= '9') ? '?' : *p);
        }
        return strbuf_steal(&b);
}

int db_prepare(db *d, const char *sql, db_stmt **ret, sked_err *err) {
        for (size_t i = 0; i < d->ncache; i++)
                if (d->cache[i].key == sql) {
                        sqlite3_reset(d->cache[i].st);
                        sqlite3_clear_bindings(d->cache[i].st);
                        *ret = &d->cache[i];
                        return 0;
                }
        char *text = rewrite(sql);
        if (!text)
                return err_set(err, -ENOMEM, "out of memory");
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v3(d->h, text, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
        free(text);
        if (rc != SQLITE_OK)
                return fail(d, err, "prepare");
        if (d->ncache == STMT_CACHE) {
                /* cache full: evict the oldest; callers never hold more than a few at once */
                sqlite3_finalize(d->cache[0].st);
                memmove(&d->cache[0], &d->cache[1], (STMT_CACHE - 1) * sizeof d->cache[0]);
                d->ncache--;
        }
        d->cache[d->ncache] = (db_stmt){d, sql, st};
        *ret = &d->cache[d->ncache++];
        return 0;
}

void db_bind_int(db_stmt *s, int idx, int64_t v) {
        sqlite3_bind_int64(s->st, idx, v);
}

void db_bind_double(db_stmt *s, int idx, double v) {
        sqlite3_bind_double(s->st, idx, v);
}

void db_bind_text(db_stmt *s, int idx, const char *v) {
        if (v)
                sqlite3_bind_text(s->st, idx, v, -1, SQLITE_TRANSIENT);
        else
                sqlite3_bind_null(s->st, idx);
}

void db_bind_null(db_stmt *s, int idx) {
        sqlite3_bind_null(s->st, idx);
}

void db_bind_int_or_null(db_stmt *s, int idx, int64_t v, bool is_null) {
        if (is_null)
                sqlite3_bind_null(s->st, idx);
        else
                sqlite3_bind_int64(s->st, idx, v);
}

int db_step(db_stmt *s, sked_err *err) {
        int rc = sqlite3_step(s->st);
        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
                return err_set(err, -EEXIST, "database: %s", sqlite3_errmsg(s->owner->h));
        return fail(s->owner, err, "step");
}

int64_t db_col_int(db_stmt *s, int col) {
        return sqlite3_column_int64(s->st, col);
}

double db_col_double(db_stmt *s, int col) {
        return sqlite3_column_double(s->st, col);
}

const char *db_col_text(db_stmt *s, int col) {
        return (const char *) sqlite3_column_text(s->st, col);
}

bool db_col_null(db_stmt *s, int col) {
        return sqlite3_column_type(s->st, col) == SQLITE_NULL;
}

int64_t db_changes(db *d) {
        return sqlite3_changes64(d->h);
}

void db_done(db_stmt *s) {
        if (s) {
                sqlite3_reset(s->st);
                sqlite3_clear_bindings(s->st);
        }
}

int db_run(db_stmt *s, sked_err *err) {
        int r;
        while ((r = db_step(s, err)) == 1)
                ;
        db_done(s);
        return r;
}
