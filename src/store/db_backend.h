/* db_backend: what a database backend provides to db.c.  A backend's connection
 * and statement structs start with `db` and `db_stmt` (the base), so the
 * dispatcher can find the backend's operations. */
#pragma once

#include "store/db.h"

typedef struct db_ops {
        enum db_dialect dialect;
        int (*open)(const char *uri, db **ret, sked_err *err);
        void (*close)(db *d);
        int (*exec_script)(db *d, const char *sql, sked_err *err);
        int (*begin)(db *d, sked_err *err);
        int (*commit)(db *d, sked_err *err);
        void (*rollback)(db *d);
        int (*prepare)(db *d, const char *sql, db_stmt **ret, sked_err *err);
        void (*bind_int)(db_stmt *s, int idx, int64_t v);
        void (*bind_text)(db_stmt *s, int idx, const char *v);
        void (*bind_null)(db_stmt *s, int idx);
        int (*step)(db_stmt *s, sked_err *err);
        int64_t (*col_int)(db_stmt *s, int col);
        const char *(*col_text)(db_stmt *s, int col);
        bool (*col_null)(db_stmt *s, int col);
        int64_t (*changes)(db *d);
        int64_t (*last_insert_id)(db *d); /* NULL: use RETURNING */
        void (*done)(db_stmt *s);
        uint64_t (*generation)(const db *d);
        /* optional, the savepoints of db_begin nested in a transaction (named sk<id>);
         * NULL: db.c sends SAVEPOINT and ROLLBACK TO through exec_script.  A backend
         * may hold a savepoint back and send it with the next statement: `savepoint`
         * opens one, `savepoint_keep` is its nested commit (its work stays, nothing
         * is sent), `savepoint_rollback` goes back to it.  Each names the innermost
         * savepoint open. */
        int (*savepoint)(db *d, uint32_t id, sked_err *err);
        void (*savepoint_keep)(db *d, uint32_t id);
        void (*savepoint_rollback)(db *d, uint32_t id);
        /* optional, pipelines (db_send, db_pipeline_end); NULL: db.c runs a statement
         * db_send is given at once */
        int (*send)(db_stmt *s, void (*row)(db_stmt *st, void *ud), void *ud, sked_err *err);
        int (*sync)(db *d, sked_err *err); /* reads what was sent: its first failure */
} db_ops;

struct db {
        const db_ops *ops;
        bool in_tx;
        int depth;       /* db_begin nested inside the transaction, how deep */
        uint32_t sp[32]; /* the savepoint of each depth (names are sk<id>) */
        uint32_t sp_seq; /* savepoints made in this transaction */
        int pipelined;   /* inside db_pipeline_begin/end (how deep) */
};

struct db_stmt {
        const db_ops *ops;
};

extern const db_ops db_sqlite_ops;
extern const db_ops db_pg_ops;
