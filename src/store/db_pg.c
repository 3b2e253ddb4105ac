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
 * that is one statement (a series created). */
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
};

#define PG(d) ((pg_db *) (d))
#define ST(s) ((pg_stmt *) (s))

static void quiet(void *arg, const char *message) {
        (void) arg;
        (void) message; /* NOTICEs ("relation exists, skipping") are not for users */
}

static int conn_error(pg_db *d, sked_err *err, const char *what) {
        const char *m = d->c ? PQerrorMessage(d->c) : "no connection";
        size_t n = strlen(m);
        while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
                n--;
        return err_set(err, -EIO, "database: %s: %.*s", what, (int) n, m);
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

/* Reconnects a broken session (only between transactions). */
static int ensure(pg_db *d, sked_err *err) {
        if (PQstatus(d->c) == CONNECTION_OK)
                return 0;
        if (d->base.in_tx)
                return err_set(err, -EIO, "database: the connection was lost in a transaction");
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
        PQfinish(d->c);
        free(d);
}

static int send_pending(pg_db *d, const pg_stmt *s, PGresult **ret, sked_err *err);

static int pg_exec_script(db *base, const char *sql, sked_err *err) {
        pg_db *d = PG(base);
        int r = ensure(d, err);
        if (r < 0)
                return r;
        if (d->npend && (r = send_pending(d, NULL, NULL, err)) < 0) /* a script cannot join a pipeline */
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

static int pg_begin(db *base, sked_err *err) {
        PG(base)->npend = 0;
        return pg_exec_script(base, "BEGIN", err);
}

static void pg_rollback(db *base) {
        pg_db *d = PG(base);
        d->npend = 0;
        if (PQstatus(d->c) == CONNECTION_OK && PQtransactionStatus(d->c) != PQTRANS_IDLE)
                PQclear(PQexec(d->c, "ROLLBACK"));
}

static int pg_commit(db *base, sked_err *err) {
        pg_db *d = PG(base);
        d->npend = 0; /* a savepoint with nothing after it changes nothing */
        PGresult *res = PQexec(d->c, "COMMIT");
        int r = 0;
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
        char sql[48];
        snprintf(sql, sizeof sql, "ROLLBACK TO SAVEPOINT sk%u", (unsigned) id);
        if (PQstatus(d->c) == CONNECTION_OK)
                PQclear(PQexec(d->c, sql)); /* a failure shows in the next statement or the commit */
}

/* Sends the savepoints held back and then s's execution (s may be NULL: only the
 * savepoints) as one pipeline, and reads their results up to its sync point.
 * Returns the first savepoint's failure (s is then not executed: its result says
 * PGRES_PIPELINE_ABORTED), else 0 with s's result in *ret, whatever its status. */
static int send_pending(pg_db *d, const pg_stmt *s, PGresult **ret, sked_err *err) {
        int n = d->npend;
        d->npend = 0;
        if (!PQenterPipelineMode(d->c))
                return conn_error(d, err, "pipeline");
        int r = 0;
        char sql[32];
        for (int i = 0; i < n && r == 0; i++) {
                snprintf(sql, sizeof sql, "SAVEPOINT sk%u", (unsigned) d->pend[i]);
                if (!PQsendQueryParams(d->c, sql, 0, NULL, NULL, NULL, NULL, 0))
                        r = conn_error(d, err, "savepoint");
        }
        if (r == 0 && s &&
            !PQsendQueryPrepared(d->c, s->name, s->nparams, (const char *const *) s->vals, NULL, NULL, 0))
                r = conn_error(d, err, "query");
        if (r == 0 && !PQpipelineSync(d->c))
                r = conn_error(d, err, "pipeline");
        if (r < 0) {
                PQexitPipelineMode(d->c); /* fails with a broken connection; the next BEGIN reconnects */
                return r;
        }
        /* each command gives one result and then NULL; the sync point ends the list.
         * Two NULLs in a row: the connection broke, nothing more comes */
        int got = 0;
        bool was_null = false;
        for (;;) {
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
                if (got++ == n && s && ret) {
                        *ret = res;
                        continue;
                }
                if (st != PGRES_COMMAND_OK && r == 0)
                        r = result_error(d, res, err);
                PQclear(res);
        }
        if (!PQexitPipelineMode(d->c) && r == 0)
                r = conn_error(d, err, "pipeline");
        return r;
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
                if (d->npend) {
                        /* the savepoints held back go out with it, one round trip */
                        int r = send_pending(d, s, &s->res, err);
                        if (r < 0)
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
};
