/* store: opening a store (and migrating it), transactions and the connection's
 * settings.  The domain operations live in one file each (types.c, series.c,
 * occurrences.c, runs.c, messages.c, cluster.c, retention.c); reads go through
 * rows.c.  SQL is written once in PostgreSQL's parameter style; see db.h. */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/schema.h"
#include "store/store_internal.h"

char *dup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

int store_open_at(const char *uri, int target, store **ret, int *ret_version, sked_err *err) {
        store *s = calloc(1, sizeof *s);
        if (!s)
                return err_set(err, -ENOMEM, "out of memory");
        int r = db_open(uri, &s->d, err), version = 0;
        if (r == 0)
                r = schema_migrate(s->d, target, &version, err);
        if (r < 0) {
                store_close(s);
                return r;
        }
        if (ret_version)
                *ret_version = version;
        *ret = s;
        return 0;
}

int store_open(const char *uri, store **ret, sked_err *err) {
        return store_open_at(uri, schema_latest(), ret, NULL, err);
}

int store_schema_latest(void) {
        return schema_latest();
}

bool store_is_postgres(const store *s) {
        return db_dialect(s->d) == DB_POSTGRES;
}

void store_close(store *s) {
        if (!s)
                return;
        db_close(s->d);
        free(s);
}

int store_begin(store *s, sked_err *err) {
        return db_begin(s->d, err);
}

int store_commit(store *s, sked_err *err) {
        return db_commit(s->d, err);
}

void store_rollback(store *s) {
        db_rollback(s->d);
}

int store_end(store *s, int r, sked_err *err) {
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        return store_commit(s, err);
}

int store_pipeline_begin(store *s, sked_err *err) {
        return db_pipeline_begin(s->d, err);
}

int store_pipeline_end(store *s, int r, sked_err *err) {
        return db_pipeline_end(s->d, r, err);
}

int store_cache_mb(store *s, int mb, sked_err *err) {
        if (db_dialect(s->d) != DB_SQLITE)
                return 0;
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA cache_size=-%d;", mb * 1024);
        return db_exec_script(s->d, sql, err);
}

int store_autocheckpoint(store *s, bool on, sked_err *err) {
        if (db_dialect(s->d) != DB_SQLITE)
                return 0;
        return db_exec_script(s->d, on ? "PRAGMA wal_autocheckpoint=1000;" : "PRAGMA wal_autocheckpoint=0;", err);
}

int store_checkpoint(store *s, int64_t *ret_frames, int64_t *ret_copied, sked_err *err) {
        *ret_frames = *ret_copied = 0;
        if (db_dialect(s->d) != DB_SQLITE)
                return 0;
        /* one row: busy (another checkpoint ran), frames in the WAL, frames copied */
        db_stmt *st;
        int r = db_prepare(s->d, "PRAGMA wal_checkpoint(PASSIVE)", &st, err);
        if (r < 0)
                return r;
        if ((r = db_step(st, err)) == 1 && db_col_int(st, 0) == 0) {
                *ret_frames = db_col_int(st, 1);
                *ret_copied = db_col_int(st, 2);
        }
        db_done(st);
        return r < 0 ? r : 0;
}
