/* db_sqlite: the SQLite backend of the db driver. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "base/strbuf.h"
#include "store/db_backend.h"
#include "store/stmt_cache.h"

typedef struct sq_db sq_db;

typedef struct sq_stmt {
        db_stmt base;
        sq_db *owner;
        const char *key; /* address of the caller's SQL text */
        sqlite3_stmt *st;
} sq_stmt;

struct sq_db {
        db base;
        sqlite3 *h;
        stmt_cache cache; /* of sq_stmt, each allocated on its own: handles never move */
};

#define SQ(d) ((sq_db *) (d))
#define ST(s) ((sq_stmt *) (s))

/* The errno of SQLite's last error: a full file system and a read-only data directory
 * have their own (the API answers them 507 and 503, not 500); everything else -EIO. */
static int code_of(sq_db *d) {
        switch (d->h ? sqlite3_errcode(d->h) & 0xff : SQLITE_ERROR) {
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
                return -EROFS;
        default:
                return -EIO;
        }
}

static int fail(sq_db *d, sked_err *err, const char *what) {
        return err_set(err, code_of(d), "database: %s: %s", what, d->h ? sqlite3_errmsg(d->h) : "no connection");
}

static void stmt_destroy(db_stmt *s) {
        sqlite3_finalize(ST(s)->st);
        free(s);
}

static void sq_close(db *base) {
        sq_db *d = SQ(base);
        stmt_cache_clear(&d->cache, stmt_destroy);
        sqlite3_close_v2(d->h);
        free(d);
}

static int sq_exec_script(db *base, const char *sql, sked_err *err) {
        sq_db *d = SQ(base);
        char *msg = NULL;
        if (sqlite3_exec(d->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
                int r = err_set(err, code_of(d), "database: %s", msg ? msg : sqlite3_errmsg(d->h));
                sqlite3_free(msg);
                return r;
        }
        return 0;
}

static int sq_open(const char *uri, db **ret, sked_err *err) {
        sq_db *d = calloc(1, sizeof *d);
        if (!d)
                return err_set(err, -ENOMEM, "out of memory");
        d->base.ops = &db_sqlite_ops;
        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
        if (sqlite3_open_v2(uri + 7, &d->h, flags, NULL) != SQLITE_OK) {
                int r = fail(d, err, "open");
                sq_close(&d->base);
                return r;
        }
        sqlite3_busy_timeout(d->h, 10000);
        sqlite3_extended_result_codes(d->h, 1);
        /* page_size first: it applies to a new, empty file only (an existing store
         * keeps its own).  2 KiB: a fired occurrence dirties a page of its series'
         * row and one of the runs' index by series, each a page of its own once
         * there are many series, and the WAL and the checkpoint move whole pages;
         * at 1,000,000 series 2 KiB pages sustained a schedule that 4 KiB pages did
         * not (docs/BENCHMARKS.md). */
        int r = sq_exec_script(&d->base,
                               "PRAGMA page_size=2048;"
                               "PRAGMA journal_mode=WAL;"
                               "PRAGMA synchronous=FULL;"
                               "PRAGMA journal_size_limit=67108864;"
                               "PRAGMA foreign_keys=ON;"
                               "PRAGMA temp_store=MEMORY;"
                               /* up to 16 MB of pages per connection, allocated as read (the
                                * poller's connection takes more: store_cache_mb) */
                               "PRAGMA cache_size=-16384;",
                               err);
        if (r < 0) {
                sq_close(&d->base);
                return r;
        }
        *ret = &d->base;
        return 0;
}

static int sq_begin(db *d, sked_err *err) {
        return sq_exec_script(d, "BEGIN IMMEDIATE", err);
}

static void sq_rollback(db *d) {
        if (!sqlite3_get_autocommit(SQ(d)->h))
                sqlite3_exec(SQ(d)->h, "ROLLBACK", NULL, NULL, NULL);
}

static int sq_commit(db *d, sked_err *err) {
        int r = sq_exec_script(d, "COMMIT", err);
        if (r < 0)
                sq_rollback(d);
        return r;
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

static int sq_prepare(db *base, const char *sql, db_stmt **ret, sked_err *err) {
        sq_db *d = SQ(base);
        db_stmt *cached = stmt_cache_get(&d->cache, sql);
        if (cached) {
                sqlite3_reset(ST(cached)->st);
                sqlite3_clear_bindings(ST(cached)->st);
                *ret = cached;
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
        sq_stmt *s = malloc(sizeof *s);
        if (!s || stmt_cache_put(&d->cache, sql, &s->base) < 0) {
                free(s);
                sqlite3_finalize(st);
                return err_set(err, -ENOMEM, "out of memory");
        }
        *s = (sq_stmt){{&db_sqlite_ops}, d, sql, st};
        *ret = &s->base;
        return 0;
}

static void sq_bind_int(db_stmt *s, int idx, int64_t v) {
        sqlite3_bind_int64(ST(s)->st, idx, v);
}

static void sq_bind_text(db_stmt *s, int idx, const char *v) {
        if (v)
                sqlite3_bind_text(ST(s)->st, idx, v, -1, SQLITE_TRANSIENT);
        else
                sqlite3_bind_null(ST(s)->st, idx);
}

static void sq_bind_null(db_stmt *s, int idx) {
        sqlite3_bind_null(ST(s)->st, idx);
}

static int sq_step(db_stmt *s, sked_err *err) {
        int rc = sqlite3_step(ST(s)->st);
        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
                return err_set(err, -EEXIST, "database: %s", sqlite3_errmsg(ST(s)->owner->h));
        return fail(ST(s)->owner, err, "step");
}

static int64_t sq_col_int(db_stmt *s, int col) {
        return sqlite3_column_int64(ST(s)->st, col);
}

static const char *sq_col_text(db_stmt *s, int col) {
        return (const char *) sqlite3_column_text(ST(s)->st, col);
}

static bool sq_col_null(db_stmt *s, int col) {
        return sqlite3_column_type(ST(s)->st, col) == SQLITE_NULL;
}

static int64_t sq_changes(db *d) {
        return sqlite3_changes64(SQ(d)->h);
}

static int64_t sq_last_insert_id(db *d) {
        return sqlite3_last_insert_rowid(SQ(d)->h);
}

static void sq_done(db_stmt *s) {
        /* A write read for its RETURNING row only: run it to the end first.  Committed
         * inside sqlite3_reset instead, an autocommit write skips SQLite's automatic
         * checkpoint (3.40): the WAL then grows without bound (measured: 17 KB per
         * created series, 1.7 GB for 100,000). */
        if (sqlite3_stmt_busy(ST(s)->st) && !sqlite3_stmt_readonly(ST(s)->st))
                while (sqlite3_step(ST(s)->st) == SQLITE_ROW)
                        ;
        sqlite3_reset(ST(s)->st);
        sqlite3_clear_bindings(ST(s)->st);
}

const db_ops db_sqlite_ops = {
        .dialect = DB_SQLITE,
        .open = sq_open,
        .close = sq_close,
        .exec_script = sq_exec_script,
        .begin = sq_begin,
        .commit = sq_commit,
        .rollback = sq_rollback,
        .prepare = sq_prepare,
        .bind_int = sq_bind_int,
        .bind_text = sq_bind_text,
        .bind_null = sq_bind_null,
        .step = sq_step,
        .col_int = sq_col_int,
        .col_text = sq_col_text,
        .col_null = sq_col_null,
        .changes = sq_changes,
        .last_insert_id = sq_last_insert_id,
        .done = sq_done,
};
