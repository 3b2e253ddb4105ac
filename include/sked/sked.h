/* libsked: the framework API for embedders and plug-ins.
 *
 * An embedder opens an engine on a store, registers process types with in-process
 * handlers, creates series and starts the engine; the engine's poller fires due
 * occurrences and its workers call the handlers.  A plug-in is a shared object
 * that `sked serve --plugin PATH` loads at start; it exports
 *
 *     int sked_plugin_init(sked *s);
 *
 * and registers its types there with sked_register_type().
 *
 * Conventions: functions return 0 (or a count) on success and a negative errno on
 * failure; where a message helps, it is written to `errbuf` (may be NULL) and names
 * the input at fault.  Instants are microseconds since the Unix epoch, UTC. */
#ifndef SKED_SKED_H
#define SKED_SKED_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int64_t sked_instant;     /* microseconds since 1970-01-01T00:00:00Z */
typedef struct sked sked;         /* an engine: store, poller, worker pool */
typedef struct sked_run sked_run; /* a run, as its handler sees it */

/* What a handler returns. */
enum {
        SKED_RUN_OK = 0,     /* succeeded */
        SKED_RUN_FAIL = 1,   /* failed; not retried */
        SKED_RUN_RETRY = 75, /* failed for now; retried per the type's retry policy (EX_TEMPFAIL) */
};

enum sked_level { SKED_INFO = 0, SKED_WARNING = 1, SKED_ERROR = 2 };

/* A handler runs on a worker thread; several runs of one type may run at once (up
 * to the type's concurrency limit), so handlers must be thread-safe.  It should
 * return soon after sked_run_cancelled() turns true. */
typedef int (*sked_handler)(sked_run *run, void *userdata);

/* A clock: tests inject one to drive the scheduler through DST nights and jumps. */
typedef sked_instant (*sked_clock)(void *userdata);

typedef struct sked_config {
        const char *store; /* "sqlite:PATH" */
        unsigned workers;  /* worker threads; 0 = 4 */
        const char *node;  /* this node's name; NULL = hostname */
        sked_clock clock;  /* NULL = the system's real-time clock */
        void *clock_userdata;
        int64_t lease_ms; /* run lease; 0 = 30 s */
        /* occurrences are fired and claimed up to this far ahead of their time and
         * started on time (docs/operations.md, "Look-ahead"); 0 = 2 s with the real
         * clock and off with an injected one; < 0 = off */
        int64_t lookahead_ms;
} sked_config;

/* Opens the store and creates an engine (not started).  Caller frees with sked_free. */
int sked_new(const sked_config *cfg, sked **ret, char *errbuf, size_t errlen);

/* Registers (or replaces) a process type from its definition, a JSON object with
 * the fields of a type manifest (docs/manifests.md), with `handler` {"plugin": true}.
 * `fn` runs its occurrences.  Background types get their series registered.  Any
 * thread; before or after sked_start. */
int sked_register_type(sked *s, const char *definition_json, sked_handler fn, void *userdata, char *errbuf,
                       size_t errlen);

/* Creates a series from a JSON object ({"type","schedule","tz","params",...}, see
 * docs/api.md); *ret_id receives its id. */
int sked_create_series(sked *s, const char *series_json, int64_t *ret_id, char *errbuf, size_t errlen);

/* Creates n series, series_json[i] each a JSON object as for sked_create_series, in
 * one store transaction (one flush for the batch): either all are created, and
 * ret_ids[i] (ret_ids may be NULL) receives the id of series_json[i], ids ascending
 * in that order, or none is, and the message names the element at fault, e.g.
 * `series[3].schedule: ...`.  n must be 1 to SKED_SERIES_BATCH_MAX (-EINVAL
 * otherwise).  Every element is validated before the transaction starts; with
 * SQLite the transaction holds the write lock while the rows are inserted, and the
 * engine's loop waits for it (a whole call of 10,000 takes under 0.2 s on a small
 * VM, validation included).  Any thread. */
#define SKED_SERIES_BATCH_MAX 10000
int sked_create_series_batch(sked *s, const char *const *series_json, size_t n, int64_t *ret_ids, char *errbuf,
                             size_t errlen);

/* Queues a run of a series now (a manual occurrence outside the rule); *ret_run_id may be NULL. */
int sked_trigger_series(sked *s, int64_t series_id, int64_t *ret_run_id, char *errbuf, size_t errlen);

/* Queues one-off runs of a type, outside any series: `n` runs whose parameters are
 * params_json[i] (JSON objects, validated against the type's schema; NULL = {}),
 * written in one transaction (one flush for the batch).  ret_first_id (may be NULL)
 * receives the first run's id (with SQLite the others follow in order; on a shared
 * PostgreSQL database other nodes' runs may come between).  Nothing is queued when
 * any parameter set is invalid. */
int sked_enqueue(sked *s, const char *type, const char *const *params_json, size_t n, int64_t *ret_first_id,
                 char *errbuf, size_t errlen);

/* Starts the poller and the workers.  Runs interrupted by an earlier crash are recovered. */
int sked_start(sked *s, char *errbuf, size_t errlen);

/* Blocks until the engine has taken a whole turn after this call (so it has seen the
 * clock as it is now) and no run is ready, running or being reported; for embedders'
 * tests and batch tools.  Returns 0, or -ETIMEDOUT. */
int sked_wait_idle(sked *s, int64_t timeout_ms);

/* Stops firing new occurrences, asks running handlers to finish, waits up to
 * grace_ms for them, then cancels the rest (they are recovered at the next start). */
void sked_stop(sked *s, int64_t grace_ms);
void sked_free(sked *s);

/* ---- inside a handler ---- */
int64_t sked_run_id(const sked_run *run);
int64_t sked_run_series_id(const sked_run *run); /* 0 for runs without a series */
const char *sked_run_type(const sked_run *run);
int sked_run_attempt(const sked_run *run);                 /* 1, 2, ... */
const char *sked_run_idempotency_key(const sked_run *run); /* "series:nominal:attempt" */
sked_instant sked_run_nominal(const sked_run *run);        /* the occurrence's planned instant */
const char *sked_run_params(const sked_run *run);          /* JSON object text, defaults applied */
const char *sked_run_query(const sked_run *run);           /* JSON AST text, or "null" */
void sked_run_log(sked_run *run, enum sked_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Records one processed item: key, status ("ok", "failed", ...), optional JSON data. */
int sked_run_result(sked_run *run, const char *key, const char *status, const char *data_json);
void sked_run_progress(sked_run *run, int percent);
/* True once the handler should stop and return: the server stops (past its grace),
 * someone cancelled the run (POST /api/v1/runs/{id}/cancel; it then ends
 * "cancelled" unless the handler returns SKED_RUN_OK), the type's timeout passed, or
 * the overlap policy cancel_other superseded it.  Any thread; poll it between units
 * of work. */
bool sked_run_cancelled(const sked_run *run);

/* The entry point a plug-in exports. */
int sked_plugin_init(sked *s);

#ifdef __cplusplus
}
#endif
#endif
