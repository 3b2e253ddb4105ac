/* runs: the store's runs (one attempt each), from queued through claimed and
 * leased to finished, and the overlap policy's bookkeeping over them.
 * Same conventions as store.h: 0 or a negative errno, messages in err, one
 * connection per thread; the caller holds the transaction where one is needed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/civil.h"
#include "base/err.h"

typedef struct store store;

typedef struct run_row {
        int64_t id, series_id; /* series_id 0 = none */
        bool has_nominal;
        sked_time nominal;
        char *type, *trigger, *state, *params, *query, *idem_key, *node, *error;
        int64_t attempt, next_attempt;                                         /* next_attempt 0 = none */
        sked_time queued_at, not_before, started_at, finished_at, lease_until; /* 0 = not yet */
        bool has_exit;
        int64_t exit_code;
        int64_t progress, n_info, n_warning, n_error, n_results;
        bool exclusive;                     /* must not run beside another run of its series (overlap policy) */
        int cancel_requested;               /* asked to stop: RUN_CANCEL_OVERLAP or RUN_CANCEL_REQUEST; 0 = not */
        char *cancelled_by, *cancel_reason; /* a cancel request: the principal and its reason (may be NULL) */
        int64_t rerun_of;                   /* a re-run: the run it repeats; 0 = none */
} run_row;

enum { RUN_CANCEL_OVERLAP = 1, RUN_CANCEL_REQUEST = 2 };

void run_row_clear(run_row *r);
void run_rows_free(run_row *rows, size_t n);

/* Inserts a queued run; sets r->id.  r->idem_key NULL: derived as
 * "series:nominal:attempt" with the nominal instant in UTC text
 * ("17:2026-11-22T02:00:00Z:1"; a manual run's nominal is when it was triggered),
 * or "run:<id>:attempt" for runs without a series. */
int store_run_insert(store *s, run_row *r, sked_err *err);
int store_run_get(store *s, int64_t id, run_row *ret, sked_err *err);
typedef struct run_filter {
        int64_t series_id;        /* 0 = any */
        const char *type, *state; /* NULL = any */
        int64_t before_id;        /* newest first; 0 = from the newest */
        int limit;
} run_filter;
int store_runs_list(store *s, const run_filter *f, run_row **ret, size_t *ret_n, sked_err *err);
/* Queued runs with not_before <= now that may start (not of a disabled feature's
 * type; not an exclusive run of a series with a run going), oldest first (at most
 * limit), after the run
 * `after` in that order (NULL: from the start), for the dispatcher to choose from;
 * store_run_start then marks the chosen ones running. */
int store_runs_ready(store *s, sked_time now, const run_row *after, int limit, run_row **ret, size_t *ret_n,
                     sked_err *err);
int store_run_start(store *s, int64_t id, const char *node, sked_time now, sked_time lease_until, sked_err *err);
/* Occurrences of a series fired ahead of their time (look-ahead) whose runs have not
 * started: their runs (queued, or claimed with a start still to come) and occurrence
 * records are deleted, as if never fired.  *ret_ids: the runs (caller frees). */
int store_series_retract(store *s, int64_t series_id, sked_time now, int64_t **ret_ids, size_t *ret_n, sked_err *err);
/* A run this node claimed and never started (it stopped first): queued again. */
int store_run_release(store *s, int64_t id, const char *node, sked_err *err);
/* The earliest not_before of queued runs. */
int store_next_ready_min(store *s, sked_time *ret, bool *ret_any, sked_err *err);
/* Extends the leases of running runs; ret_cancel (may be NULL; n entries) tells which
 * of them were asked to stop, and by what (0, RUN_CANCEL_OVERLAP: the overlap policy
 * cancel_other, RUN_CANCEL_REQUEST: store_run_cancel; on any node). */
int store_runs_renew(store *s, const int64_t *ids, size_t n, sked_time lease_until, int *ret_cancel, sked_err *err);
/* A cancel request for run `id` by `by` (a principal) with `reason` (may be NULL):
 * a queued run (waiting for its time or a backoff included) ends "cancelled" at
 * once, with error `why`; a running one is marked (cancel_requested =
 * RUN_CANCEL_REQUEST) for the node that runs it, which stops its handler and ends
 * it "cancelled".  *ret_running tells which.  Errors: -ENOENT (no such run),
 * -EEXIST (field "state": it already finished, or a cancel was already asked). */
int store_run_cancel(store *s, int64_t id, sked_time now, const char *by, const char *reason, const char *why,
                     bool *ret_running, sked_err *err);
/* store_run_cancel for every unfinished run of type `name` (a type deleted with
 * force): queued ones end "cancelled", running ones are marked; *ret_running
 * (caller frees) gets their ids, *ret_cancelled how many queued ones ended. */
int store_type_cancel_active(store *s, const char *name, sked_time now, const char *by, const char *reason,
                             const char *why, int64_t *ret_cancelled, int64_t **ret_running, size_t *ret_n,
                             sked_err *err);
/* Retry now: a queued run waiting for a later instant (its backoff) may start at
 * `now`.  Errors: -ENOENT, -EEXIST (field "state": not queued, or already due). */
int store_run_due_now(store *s, int64_t id, sked_time now, sked_err *err);
/* The re-runs of run `id`, oldest first (at most limit; caller frees *ret). */
int store_run_reruns(store *s, int64_t id, int limit, int64_t **ret, size_t *ret_n, sked_err *err);
/* Running runs whose lease ended before `now` (or all running ones when now == SKED_TIME_MAX). */
int store_runs_expired(store *s, sked_time now, run_row **ret, size_t *ret_n, sked_err *err);
typedef struct run_finish {
        const char *state; /* succeeded | failed | lost | cancelled */
        bool has_exit;
        int64_t exit_code;
        const char *error; /* may be NULL */
        sked_time finished_at;
        int64_t next_attempt; /* 0 = none */
        int64_t progress, n_info, n_warning, n_error, n_results;
} run_finish;
/* Ends run `id` only if it is still running (and, with lease_before != 0, only if its
 * lease ended before that instant): -ESTALE otherwise, e.g. when another node
 * already recovered it.  f->next_attempt is not written here (store_run_set_next). */
int store_run_finish(store *s, int64_t id, const run_finish *f, sked_time lease_before, sked_err *err);
int store_run_set_next(store *s, int64_t id, int64_t next_attempt, sked_err *err);
/* Records a running run's progress (0..100). */
int store_run_progress(store *s, int64_t id, int64_t progress, sked_err *err);
/* Counts by state of a type's runs that are running now. */
int store_running_count(store *s, const char *type, int64_t *ret, sked_err *err);

/* The unfinished runs by type and state, for /metrics: a JSON array of {"type",
 * "state", "n"} with state "queued" (ready by now), "waiting" (not before a later
 * instant: a backoff, or claimed ahead) or "running"; only non-zero counts. */
int store_runs_active_counts(store *s, sked_time now, json_t **ret, sked_err *err);

/* ---- the overlap policy ---- */
/* How many runs of the series are queued and running now. */
int store_series_active(store *s, int64_t series_id, int64_t *ret_queued, int64_t *ret_running, sked_err *err);
/* cancel_other: the series' queued runs end as "cancelled" (with `why`); its
 * running ones are asked to stop (cancel_requested; the node running each
 * finds out when it renews the lease).  *ret_running (caller frees) gets their ids. */
int store_series_cancel_active(store *s, int64_t series_id, sked_time now, const char *why, int64_t **ret_running,
                               size_t *ret_n, sked_err *err);
/* Serializes exclusive claims of one series' runs across nodes until the
 * transaction ends, without waiting: *ret_locked false when another node holds it
 * (skip the run this turn; waiting could deadlock two nodes' claims).  SQLite:
 * always locked. */
int store_lock_series(store *s, int64_t series_id, bool *ret_locked, sked_err *err);
