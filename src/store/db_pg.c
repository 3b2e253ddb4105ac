/* db_pg: the PostgreSQL backend of the db driver, over libpq.
 *
 * Statements are prepared once per session (named s1, s2, ...) and executed with
 * text parameters; the server infers their types from the SQL.  A connection that
 * broke (the database restarted, the network was cut) is re-established by the next
 * db_begin/db_exec_script/db_prepare outside a transaction; that starts a new
 * session, so the generation counter moves and statements are prepared again.
 *
 * Savepoints are held back: db_begin inside a transaction sends nothing, and the
 * savepoint goes out with the next statement in one round trip (libpq's pipeline
 * mode, PostgreSQL 14+), or never, when the work inside it sent no SQL.  Each API
 * write of the loop's turn is a savepoint: this halves the round trips of a write
 * that is one statement (a series created).
 *
 * Inside db_pipeline_begin/db_pipeline_end, db_send goes further: it sends a
 * statement and returns; its rows reach the caller's callback when they arrive,
 * at the latest at db_pipeline_end.  Everything sent and not read yet is in
 * `sent`, in order; any call that waits for the server reads it all first
 * (pipe_sync), sending its own statement in the same round trip where it can. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "store/db_backend.h"
#include "store/stmt_cache.h"
#define MAX_PARAMS 32

typedef struct pg_db pg_db;

typedef struct pg_stmt {
        db_stmt base;
        pg_db *owner;
        const char *key; /* address of the caller's SQL text */
        char name[16];
        int nparams;
        uint64_t gen; /* session it was prepared in */
        char *vals[MAX_PARAMS];
        PGresult *res;
        int row, nrows;
        bool executed;
} pg_stmt;

/* A command sent in pipeline mode whose result is not read yet. */
typedef struct pg_sent {
        void (*row)(db_stmt *st, void *ud); /* db_send's callback (NULL: a savepoint) */
        void *ud;
        PGresult **keep; /* the statement a caller waits for: its result, whatever it is */
} pg_sent;

/* Commands sent without reading their results, at most: then they are read (an
 * intermediate sync), so the results waiting in the socket stay small */
#define PIPE_MAX 256

struct pg_db {
        db base;
        PGconn *c;
        stmt_cache cache; /* of pg_stmt, each allocated on its own: handles never move */
        unsigned next_name;
        int64_t changes;
        uint64_t gen;
        /* savepoints opened and not sent yet, outermost first: the innermost ones of
         * those open (a nested commit or rollback of one unsent drops it) */
        uint32_t pend[32];
        int npend;
        pg_sent *sent; /* sent in pipeline mode, not read yet */
        size_t nsent, capsent;
        int pipe_r; /* the first failure of a command db_send sent, until db_pipeline_end */
        sked_err pipe_err;
};

#define PG(d) ((pg_db *) (d))
#define ST(s) ((pg_stmt *) (s))

static void quiet(void *arg, const char *message) {
        (void) arg;
        (void) message; /* NOTICEs ("relation exists, skipping") are not for users */
}

/* libpq's message, its first line only ("FATAL:  terminating connection due to
 * administrator command", not the three lines of advice after it). */
static int conn_error(pg_db *d, sked_err *err, const char *what) {
        const char *m = d->c ? PQerrorMessage(d->c) : "no connection";
        size_t n = strcspn(m, "\n");
        while (n && m[n - 1] == ' ')
                n--;
        /* a broken session is -ECONNRESET: the API answers 503 (try again), and the
         * next transaction reconnects (ensure) */
        int code = d->c && PQstatus(d->c) == CONNECTION_OK ? -EIO : -ECONNRESET;
        return err_set(err, code, "database: %s: %.*s", what, (int) n, m);
}

/* Maps a failed result to an errno and a message. */
static int result_error(pg_db *d, PGresult *res, sked_err *err) {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        int code = -EIO;
        if (state && !strcmp(state, "23505"))
                code = -EEXIST;
        else if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03")))
                code = -EAGAIN;
        else if (state && (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3)))
                code = -ECONNRESET;                /* connection exception, the server shutting down */
        else if (state && !strcmp(state, "53100")) /* disk_full */
                code = -ENOSPC;
        else if (state && !strcmp(state, "25006")) /* read_only_sql_transaction (a standby) */
                code = -EROFS;
        if (!msg)
                return conn_error(d, err, "query");
        return err_set(err, code, "database: %s%s%s%s", msg, state ? " (SQLSTATE " : "", state ? state : "",
                       state ? ")" : "");
}

static int connect_db(const char *uri, PGconn **ret, sked_err *err) {
        const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
        const char *vals[] = {uri, "5", "sked", NULL};
        PGconn *c = PQconnectdbParams(keys, vals, 1);
        if (!c || PQstatus(c) != CONNECTION_OK) {
                const char *m = c ? PQerrorMessage(c) : "out of memory";
                size_t n = strlen(m);
                while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
                        n--;
                int r = err_set(err, -EIO, "database: cannot connect: %.*s", (int) n, m);
                PQfinish(c);
                return r;
        }
        PQsetNoticeProcessor(c, quiet, NULL);
        PGresult *res = PQexec(c, "SET synchronous_commit = on; SET client_min_messages = warning");
        PQclear(res);
        *ret = c;
        return 0;
}

/* Reconnects a broken session (only between transactions).  Outside a transaction
 * a connection still in pipeline mode broke while results were read. */
static int ensure(pg_db *d, sked_err *err) {
        if (PQstatus(d->c) == CONNECTION_OK && (d->base.in_tx || PQpipelineStatus(d->c) == PQ_PIPELINE_OFF))
                return 0;
        if (d->base.in_tx)
                return err_set(err, -ECONNRESET, "database: the connection was lost in a transaction");
        PQreset(d->c);
        if (PQstatus(d->c) != CONNECTION_OK)
                return conn_error(d, err, "reconnect");
        PQsetNoticeProcessor(d->c, quiet, NULL);
        PQclear(PQexec(d->c, "SET synchronous_commit = on; SET client_min_messages = warning"));
        d->gen++; /* a new session: prepared statements and advisory locks are gone */
        return 0;
}

static int pg_open(const char *uri, db **ret, sked_err *err) {
        pg_db *d = calloc(1, sizeof *d);
        if (!d)
                return err_set(err, -ENOMEM, "out of memory");
        d->base.ops = &db_pg_ops;
        int r = connect_db(uri, &d->c, err);
        if (r < 0) {
                free(d);
                return r;
        }
        *ret = &d->base;
        return 0;
}

static void stmt_destroy(db_stmt *base) {
        pg_stmt *s = ST(base);
        PQclear(s->res);
        for (int k = 0; k < MAX_PARAMS; k++)
                free(s->vals[k]);
        free(s);
}

static void pg_close(db *base) {
        pg_db *d = PG(base);
        stmt_cache_clear(&d->cache, stmt_destroy);
        free(d->sent);
        PQfinish(d->c);
        free(d);
}

static int pipe_flush(pg_db *d, sked_err *err);

static int pg_exec_script(db *base, const char *sql, sked_err *err) {
        pg_db *d = PG(base);
        int r = ensure(d, err);
        if (r < 0)
                return r;
        if ((r = pipe_flush(d, err)) < 0) /* a script cannot join a pipeline */
                return r;
        PGresult *res = PQexec(d->c, sql);
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && PQstatus(d->c) != CONNECTION_OK && !d->base.in_tx &&
            ensure(d, err) == 0) {
                PQclear(res); /* the session had died unnoticed: once more on a new one */
                res = PQexec(d->c, sql);
                st = PQresultStatus(res);
        }
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
                r = result_error(d, res, err);
                PQclear(res);
                return r;
        }
        PQclear(res);
        return 0;
}

static int pipe_sync(pg_db *d, sked_err *err);

static int pg_begin(db *base, sked_err *err) {
        pg_db *d = PG(base);
        d->npend = 0;
        d->pipe_r = 0;
        return pg_exec_script(base, "BEGIN", err);
}

static void pg_rollback(db *base) {
        pg_db *d = PG(base);
        sked_err ignore = {0};
        pipe_sync(d, &ignore); /* whatever was sent is undone below */
        d->npend = 0;
        d->pipe_r = 0;
        if (PQstatus(d->c) == CONNECTION_OK && PQtransactionStatus(d->c) != PQTRANS_IDLE)
                PQclear(PQexec(d->c, "ROLLBACK"));
}

static int pg_commit(db *base, sked_err *err) {
        pg_db *d = PG(base);
        d->npend = 0; /* a savepoint with nothing after it changes nothing */
        int r = pipe_sync(d, err);
        if (r == 0 && d->pipe_r) { /* (db_pipeline_end reports it first) */
                r = d->pipe_r;
                *err = d->pipe_err;
        }
        if (r < 0) {
                pg_rollback(base);
                return r;
        }
        PGresult *res = PQexec(d->c, "COMMIT");
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
                r = result_error(d, res, err);
        else if (!strcmp(PQcmdStatus(res), "ROLLBACK")) /* an earlier statement failed */
                r = err_set(err, -EIO, "database: the transaction was rolled back");
        PQclear(res);
        if (r < 0)
                pg_rollback(base);
        return r;
}

/* ---- savepoints held back ---- */

static int pg_savepoint(db *base, uint32_t id, sked_err *err) {
        pg_db *d = PG(base);
        if (d->npend >= (int) (sizeof d->pend / sizeof d->pend[0]))
                return err_set(err, -E2BIG, "database: more than %zu savepoints waiting",
                               sizeof d->pend / sizeof d->pend[0]);
        d->pend[d->npend++] = id;
        return 0;
}

static void pg_savepoint_keep(db *base, uint32_t id) {
        pg_db *d = PG(base);
        if (d->npend && d->pend[d->npend - 1] == id)
                d->npend--; /* never sent, and no later rollback names it: it needs no sending */
}

static void pg_savepoint_rollback(db *base, uint32_t id) {
        pg_db *d = PG(base);
        if (d->npend && d->pend[d->npend - 1] == id) {
                d->npend--; /* nothing was sent inside it: nothing to undo */
                return;
        }
        d->npend = 0; /* (none: the innermost savepoint was sent, so were those around it) */
        sked_err ignore = {0};
        pipe_sync(d, &ignore); /* a failure sent before stays in pipe_r */
        char sql[48];
        snprintf(sql, sizeof sql, "ROLLBACK TO SAVEPOINT sk%u", (unsigned) id);
        if (PQstatus(d->c) == CONNECTION_OK)
                PQclear(PQexec(d->c, sql)); /* a failure shows in the next statement or the commit */
}

/* ---- the pipeline ---- */

static int pipe_push(pg_db *d, void (*row)(db_stmt *, void *), void *ud, PGresult **keep, sked_err *err) {
        if (d->nsent == d->capsent) {
                size_t cap = d->capsent ? d->capsent * 2 : 64;
                pg_sent *n = realloc(d->sent, cap * sizeof *n);
                if (!n)
                        return err_set(err, -ENOMEM, "out of memory");
                d->sent = n;
                d->capsent = cap;
        }
        d->sent[d->nsent++] = (pg_sent){row, ud, keep};
        return 0;
}

/* Enters pipeline mode (if not in it) and sends the savepoints held back. */
static int pipe_start(pg_db *d, sked_err *err) {
        if (PQpipelineStatus(d->c) == PQ_PIPELINE_OFF && !PQenterPipelineMode(d->c))
                return conn_error(d, err, "pipeline");
        char sql[32];
        for (int i = 0; i < d->npend; i++) {
                snprintf(sql, sizeof sql, "SAVEPOINT sk%u", (unsigned) d->pend[i]);
                if (!PQsendQueryParams(d->c, sql, 0, NULL, NULL, NULL, NULL, 0))
                        return conn_error(d, err, "savepoint");
                int r = pipe_push(d, NULL, NULL, NULL, err);
                if (r < 0)
                        return r;
        }
        d->npend = 0;
        return 0;
}

/* Sends s's execution in the pipeline; its result goes to row(ud) or *keep. */
static int pipe_send(pg_db *d, const pg_stmt *s, void (*row)(db_stmt *, void *), void *ud, PGresult **keep,
                     sked_err *err) {
        if (!PQsendQueryPrepared(d->c, s->name, s->nparams, (const char *const *) s->vals, NULL, NULL, 0))
                return conn_error(d, err, "query");
        return pipe_push(d, row, ud, keep, err);
}

/* db_send's rows, read through a statement of their own (the one sent may be in
 * use again by now) */
static void deliver(pg_db *d, PGresult *res, void (*row)(db_stmt *, void *), void *ud) {
        pg_stmt view = {.base.ops = &db_pg_ops, .owner = d, .res = res, .nrows = PQntuples(res), .executed = true};
        for (view.row = 0; view.row < view.nrows; view.row++)
                row(&view.base, ud);
}

/* Reads the results of everything sent, up to a sync point, and leaves pipeline
 * mode (nothing to do outside it).  Returns the first failure of a savepoint or a
 * db_send statement, remembered in pipe_r until the pipeline ends (the server
 * skipped what came after it, and the transaction is aborted); a kept result is
 * its caller's to look at. */
static int pipe_sync(pg_db *d, sked_err *err) {
        if (PQpipelineStatus(d->c) == PQ_PIPELINE_OFF)
                return 0;
        /* (without the sync point the server may keep the results: nothing is read,
         * the session is left to ensure() after the transaction) */
        bool synced = PQpipelineSync(d->c);
        int r = synced ? 0 : conn_error(d, err, "pipeline");
        /* each command gives one result and then NULL; the sync point ends the
         * list.  Two NULLs in a row: the connection broke, nothing more comes */
        size_t got = 0;
        bool was_null = false;
        while (synced) {
                PGresult *res = PQgetResult(d->c);
                if (!res) {
                        if (was_null) {
                                if (r == 0)
                                        r = conn_error(d, err, "pipeline");
                                break;
                        }
                        was_null = true;
                        continue;
                }
                was_null = false;
                ExecStatusType st = PQresultStatus(res);
                if (st == PGRES_PIPELINE_SYNC) {
                        PQclear(res);
                        break;
                }
                pg_sent *e = got < d->nsent ? &d->sent[got] : NULL;
                got++;
                if (e && e->keep) {
                        *e->keep = res;
                        continue;
                }
                if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
                        if (r == 0)
                                r = result_error(d, res, err);
                } else if (e && e->row) {
                        deliver(d, res, e->row, e->ud);
                }
                PQclear(res);
        }
        d->nsent = 0;
        if (!PQexitPipelineMode(d->c) && r == 0)
                r = conn_error(d, err, "pipeline"); /* results left: ensure() reconnects after the transaction */
        if (r < 0 && d->pipe_r == 0) {
                d->pipe_r = r;
                d->pipe_err = *err;
        }
        return r;
}

/* Before a call that waits for the server and cannot join the pipeline: what is
 * held back goes out, and what was sent is read. */
static int pipe_flush(pg_db *d, sked_err *err) {
        if (!d->npend && PQpipelineStatus(d->c) == PQ_PIPELINE_OFF)
                return 0;
        int r = pipe_start(d, err);
        int sr = pipe_sync(d, err);
        return r < 0 ? r : sr;
}

static int max_param(const char *sql) {
        int max = 0;
        bool quoted = false;
        for (const char *p = sql; *p; p++) {
                if (*p == '\'')
                        quoted = !quoted;
                if (!quoted && *p == '$' && p[1] >= '0' && p[1] <= '9') {
                        int n = atoi(p + 1);
                        if (n > max)
                                max = n;
                }
        }
        return max;
}

static void reset_stmt(pg_stmt *s) {
        PQclear(s->res);
        s->res = NULL;
        s->executed = false;
        s->row = -1;
        s->nrows = 0;
        for (int k = 0; k < MAX_PARAMS; k++) {
                free(s->vals[k]);
                s->vals[k] = NULL;
        }
}

static int pg_prepare(db *base, const char *sql, db_stmt **ret, sked_err *err) {
        pg_db *d = PG(base);
        int r = ensure(d, err);
        if (r < 0)
                return r;
        pg_stmt *s = (pg_stmt *) stmt_cache_get(&d->cache, sql);
        if (!s) {
                int nparams = max_param(sql);
                if (nparams > MAX_PARAMS)
                        return err_set(err, -E2BIG, "database: too many parameters");
                s = calloc(1, sizeof *s);
                if (!s || stmt_cache_put(&d->cache, sql, &s->base) < 0) {
                        free(s);
                        return err_set(err, -ENOMEM, "out of memory");
                }
                s->base.ops = &db_pg_ops;
                s->owner = d;
                s->key = sql;
                s->gen = UINT64_MAX;
                snprintf(s->name, sizeof s->name, "s%u", ++d->next_name);
                s->nparams = nparams;
        }
        reset_stmt(s);
        if (s->gen != d->gen) {
                if ((r = pipe_flush(d, err)) < 0)
                        return r;
                PGresult *res = PQprepare(d->c, s->name, sql, s->nparams, NULL);
                if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                        r = result_error(d, res, err);
                        PQclear(res);
                        return r;
                }
                PQclear(res);
                s->gen = d->gen;
        }
        *ret = &s->base;
        return 0;
}

static void set_val(db_stmt *base, int idx, char *v) {
        pg_stmt *s = ST(base);
        if (idx < 1 || idx > MAX_PARAMS) {
                free(v);
                return;
        }
        free(s->vals[idx - 1]);
        s->vals[idx - 1] = v;
}

static void pg_bind_int(db_stmt *s, int idx, int64_t v) {
        char *p = NULL;
        if (asprintf(&p, "%lld", (long long) v) < 0)
                p = NULL;
        set_val(s, idx, p);
}

static void pg_bind_text(db_stmt *s, int idx, const char *v) {
        set_val(s, idx, v ? strdup(v) : NULL);
}

static void pg_bind_null(db_stmt *s, int idx) {
        set_val(s, idx, NULL);
}

/* After the server went away, libpq reports a connection as fine until a query
 * fails on it.  Outside a transaction nothing is lost by reconnecting and sending the
 * statement once more; inside one the caller must roll back and start again. */
static bool retry_after_reconnect(pg_stmt *s, sked_err *err) {
        pg_db *d = s->owner;
        if (PQstatus(d->c) == CONNECTION_OK || d->base.in_tx)
                return false;
        if (ensure(d, err) < 0)
                return false;
        PGresult *res = PQprepare(d->c, s->name, s->key, s->nparams, NULL);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok)
                return false;
        s->gen = d->gen;
        PQclear(s->res);
        s->res = PQexecPrepared(d->c, s->name, s->nparams, (const char *const *) s->vals, NULL, NULL, 0);
        return true;
}

static int pg_step(db_stmt *base, sked_err *err) {
        pg_stmt *s = ST(base);
        pg_db *d = s->owner;
        if (!s->executed) {
                s->executed = true;
                if (d->npend || PQpipelineStatus(d->c) != PQ_PIPELINE_OFF) {
                        /* what is held back or sent goes with it, one round trip */
                        int r = pipe_start(d, err);
                        if (r == 0)
                                r = pipe_send(d, s, NULL, NULL, &s->res, err);
                        int sr = pipe_sync(d, err);
                        if (r < 0 || (r = sr) < 0)
                                return r;
                } else {
                        s->res =
                                PQexecPrepared(d->c, s->name, s->nparams, (const char *const *) s->vals, NULL, NULL, 0);
                }
                ExecStatusType st = PQresultStatus(s->res);
                if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && retry_after_reconnect(s, err))
                        st = PQresultStatus(s->res);
                if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
                        return result_error(d, s->res, err);
                const char *n = PQcmdTuples(s->res);
                d->changes = n && *n ? atoll(n) : 0;
                s->nrows = st == PGRES_TUPLES_OK ? PQntuples(s->res) : 0;
                s->row = -1;
        }
        if (s->row + 1 < s->nrows) {
                s->row++;
                return 1;
        }
        return 0;
}

static int64_t pg_col_int(db_stmt *s, int col) {
        const char *v = PQgetvalue(ST(s)->res, ST(s)->row, col);
        return v && *v ? strtoll(v, NULL, 10) : 0;
}

static const char *pg_col_text(db_stmt *s, int col) {
        if (PQgetisnull(ST(s)->res, ST(s)->row, col))
                return NULL;
        return PQgetvalue(ST(s)->res, ST(s)->row, col);
}

static bool pg_col_null(db_stmt *s, int col) {
        return PQgetisnull(ST(s)->res, ST(s)->row, col) != 0;
}

static int64_t pg_changes(db *d) {
        return PG(d)->changes;
}

static void pg_done(db_stmt *s) {
        reset_stmt(ST(s));
}

static uint64_t pg_generation(const db *d) {
        return ((const pg_db *) d)->gen;
}

static int pg_send(db_stmt *base, void (*row)(db_stmt *st, void *ud), void *ud, sked_err *err) {
        pg_stmt *s = ST(base);
        pg_db *d = s->owner;
        int r;
        if (!d->base.pipelined) { /* now */
                while ((r = pg_step(base, err)) == 1)
                        if (row)
                                row(base, ud);
                reset_stmt(s);
                return r;
        }
        if (d->pipe_r) { /* the pipeline failed already: the server would skip it */
                reset_stmt(s);
                *err = d->pipe_err;
                return d->pipe_r;
        }
        if ((r = pipe_start(d, err)) == 0)
                r = pipe_send(d, s, row, ud, NULL, err);
        reset_stmt(s); /* (libpq copied the parameters) */
        if (r == 0 && d->nsent >= PIPE_MAX)
                r = pipe_sync(d, err);
        return r;
}

static int pg_sync(db *base, sked_err *err) {
        pg_db *d = PG(base);
        pipe_sync(d, err);
        int r = d->pipe_r;
        if (r < 0)
                *err = d->pipe_err;
        d->pipe_r = 0;
        return r;
}

/* ---- LISTEN ---- */

struct db_listener {
        char *uri, *channel;
        void (*cb)(void *);
        void *ud;
        pthread_t thread;
        atomic_bool stop;
};

static void *listen_main(void *arg) {
        db_listener *l = arg;
        PGconn *c = NULL;
        char sql[160];
        snprintf(sql, sizeof sql, "LISTEN %s", l->channel);
        while (!atomic_load(&l->stop)) {
                if (!c || PQstatus(c) != CONNECTION_OK) {
                        PQfinish(c);
                        c = NULL;
                        sked_err err = {0};
                        if (connect_db(l->uri, &c, &err) < 0) {
                                sleep(1);
                                continue;
                        }
                        PGresult *res = PQexec(c, sql);
                        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
                        PQclear(res);
                        if (!ok) {
                                PQfinish(c);
                                c = NULL;
                                sleep(1);
                                continue;
                        }
                        l->cb(l->ud); /* what was sent while we were away is lost: look now */
                }
                struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
                int n = poll(&pfd, 1, 500);
                if (n < 0 && errno != EINTR)
                        break;
                if (n > 0 && !PQconsumeInput(c))
                        continue; /* broken: reconnect on the next turn */
                PGnotify *note;
                bool any = false;
                while ((note = PQnotifies(c))) {
                        any = true;
                        PQfreemem(note);
                }
                if (any)
                        l->cb(l->ud);
        }
        PQfinish(c);
        return NULL;
}

int db_listen_start(const char *uri, const char *channel, void (*cb)(void *), void *ud, db_listener **ret,
                    sked_err *err) {
        *ret = NULL;
        if (strncmp(uri, "postgres://", 11) != 0 && strncmp(uri, "postgresql://", 13) != 0)
                return 0;
        db_listener *l = calloc(1, sizeof *l);
        if (!l)
                return err_set(err, -ENOMEM, "out of memory");
        l->uri = strdup(uri);
        l->channel = strdup(channel);
        l->cb = cb;
        l->ud = ud;
        if (pthread_create(&l->thread, NULL, listen_main, l) != 0) {
                free(l->uri);
                free(l->channel);
                free(l);
                return err_set(err, -EAGAIN, "cannot start the listener thread");
        }
        *ret = l;
        return 0;
}

void db_listen_stop(db_listener *l) {
        if (!l)
                return;
        atomic_store(&l->stop, true);
        pthread_join(l->thread, NULL);
        free(l->uri);
        free(l->channel);
        free(l);
}

const db_ops db_pg_ops = {
        .dialect = DB_POSTGRES,
        .open = pg_open,
        .close = pg_close,
        .exec_script = pg_exec_script,
        .begin = pg_begin,
        .commit = pg_commit,
        .rollback = pg_rollback,
        .prepare = pg_prepare,
        .bind_int = pg_bind_int,
        .bind_text = pg_bind_text,
        .bind_null = pg_bind_null,
        .step = pg_step,
        .col_int = pg_col_int,
        .col_text = pg_col_text,
        .col_null = pg_col_null,
        .changes = pg_changes,
        .done = pg_done,
        .generation = pg_generation,
        .savepoint = pg_savepoint,
        .savepoint_keep = pg_savepoint_keep,
        .savepoint_rollback = pg_savepoint_rollback,
        .send = pg_send,
        .sync = pg_sync,
};
