/* store: sked's persistent state behind one interface.  Callers see rows and
 * operations, never SQL.  A `store` is one connection: each thread that touches
 * the store opens its own (cheap for SQLite in WAL mode).  Every function returns
 * 0 or a negative errno (-ENOENT no such row, -ESTALE version mismatch, -EEXIST
 * duplicate, -EIO database failure) with a message in err.
 *
 * Durability: each committed transaction is on disk when db_commit returns
 * (synchronous=FULL in WAL mode).  Batch writers wrap many operations in one
 * store_begin/store_commit to share one flush. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/civil.h"
#include "base/err.h"

typedef struct store store;

/* Opens the store at `uri` ("sqlite:PATH" or "postgres://...") and brings its
 * schema up to date.  Refuses (-EPROTO) a database whose schema is newer than
 * this binary. */
int store_open(const char *uri, store **ret, sked_err *err);
/* Like store_open, migrating only up to schema version `target` (for `sked migrate
 * --to` and upgrade tests); *ret_version (may be NULL) gets the version now in force. */
int store_open_at(const char *uri, int target, store **ret, int *ret_version, sked_err *err);
/* The newest schema version this binary knows. */
int store_schema_latest(void);
bool store_is_postgres(const store *s);
void store_close(store *s);

int store_begin(store *s, sked_err *err);
int store_commit(store *s, sked_err *err);
void store_rollback(store *s);
/* Ends the transaction: commits when r >= 0 (returning the commit's result), rolls
 * back and returns r when r < 0. */
int store_end(store *s, int r, sked_err *err);

/* ---- process types ---- */
int store_type_put(store *s, const char *name, bool background, const char *feature,
                   const char *definition, sked_time now, sked_err *err);
/* A JSON array of the stored definitions, ordered by name. */
int store_type_list(store *s, json_t **ret, sked_err *err);

/* ---- series ---- */
typedef struct series_row {
        int64_t id;
        char *type, *title, *schedule, *tz, *start_local; /* start_local may be NULL */
        sked_time end_at;                                  /* 0 = none */
        int64_t count;                                     /* 0 = none */
        char *params, *query;                              /* JSON text; query may be NULL */
        bool enabled, background;
        char *pause_note, *owner;                          /* may be NULL */
        bool has_next;
        sked_time next_due, last_nominal;                  /* last_nominal 0 = never fired */
        int64_t fired, missed, version;
        sked_time created_at, updated_at;
        char *policy, *sleep;    /* JSON text (normalized overrides / windows), may be NULL */
        bool feature_on;         /* false while the type's feature is disabled */
        int64_t n_exceptions;    /* one-off occurrence changes on record */
        int64_t skipped_overlap, skipped_sleep, skipped_disabled;
} series_row;

void series_row_clear(series_row *r);
void series_rows_free(series_row *rows, size_t n);

/* Inserts; sets r->id, r->version = 1. */
int store_series_insert(store *s, series_row *r, sked_err *err);
/* Replaces the editable fields of series r->id if its version is still
 * expected_version (-ESTALE otherwise; 0 skips the check); sets r->version.
 * next_due is written only with set_next (the rule changed, or it was resumed):
 * otherwise the poller's own advance is kept. */
int store_series_update(store *s, series_row *r, int64_t expected_version, bool set_next, sked_err *err);
int store_series_get(store *s, int64_t id, series_row *ret, sked_err *err);
/* Series with id > after_id, at most limit, optionally of one type; those of a
 * disabled feature only with `hidden`. */
int store_series_list(store *s, const char *type, int64_t after_id, int limit, bool hidden, series_row **ret,
                      size_t *ret_n, sked_err *err);
/* The background series registered for a type, if any (-ENOENT). */
int store_series_find_background(store *s, const char *type, series_row *ret, sked_err *err);
/* Deletes the series, its occurrence rows, its exceptions and its runs not started
 * yet, in the caller's transaction.  Its finished runs, messages and results stay (they are
 * history, series_id kept as a plain number) unless `purge`; runs still running
 * finish and stay. */
int store_series_delete(store *s, int64_t id, bool purge, sked_err *err);

/* ---- the poller ---- */
/* Enabled series (of an enabled feature) with next_due <= now, and those with next_due
 * <= horizon that have no run queued or running (fired ahead: look-ahead), earliest
 * first, at most limit. */
int store_series_due(store *s, sked_time now, sked_time horizon, int limit, series_row **ret, size_t *ret_n,
                     sked_err *err);
typedef struct series_advance {
        bool has_next, keep_next; /* keep_next: leave next_due as it is */
        sked_time next_due, last_nominal;
        int64_t fired, missed, skipped_overlap, skipped_sleep, skipped_disabled; /* added to the counters */
} series_advance;
int store_series_advance(store *s, int64_t id, const series_advance *a, sked_err *err);
/* When the poller must look next: `ahead` before the next_due of enabled series
 * beyond now + ahead (they are fired that early), the next_due itself of those
 * within (not fired ahead: busy), or the new time of an unfired moved occurrence;
 * *ret_any false when there is none.  With ahead 0: the earliest instant something
 * is due. */
int store_next_fire_at(store *s, sked_time now, sked_time ahead, sked_time *ret, bool *ret_any, sked_err *err);
/* Records that (series, nominal) was skipped (`skipped` names why: overlap, sleep,
 * disabled); -EEXIST if it was already recorded.  A fired occurrence has no row of
 * its own: its scheduled run (trigger "schedule") is the record. */
int store_occurrence_insert(store *s, int64_t series_id, sked_time nominal, sked_time now,
                            const char *skipped, sked_err *err);
/* Whether (series, nominal) was dealt with before: fired (its scheduled run), skipped
 * or, from before schema version 4, recorded as fired.  The backstop against firing
 * an occurrence twice (a clock set back, an edited rule that meets it again). */
int store_occurrence_done(store *s, int64_t series_id, sked_time nominal, bool *ret, sked_err *err);

/* ---- runs ---- */
typedef struct run_row {
        int64_t id, series_id; /* series_id 0 = none */
        bool has_nominal;
        sked_time nominal;
        char *type, *trigger, *state, *params, *query, *idem_key, *node, *error;
        int64_t attempt, next_attempt; /* next_attempt 0 = none */
        sked_time queued_at, not_before, started_at, finished_at, lease_until; /* 0 = not yet */
        bool has_exit;
        int64_t exit_code;
        int64_t progress, n_info, n_warning, n_error, n_results;
        bool exclusive;        /* must not run beside another run of its series (overlap policy) */
        bool cancel_requested; /* cancel_other asked the node running it to stop it */
} run_row;

void run_row_clear(run_row *r);
void run_rows_free(run_row *rows, size_t n);

/* Inserts a queued run; sets r->id.  r->idem_key NULL: derived as
 * "series:nominal:attempt" with the nominal instant in UTC text
 * ("17:2026-11-22T02:00:00Z:1"; a manual run's nominal is when it was triggered),
 * or "run:<id>:attempt" for runs without a series. */
int store_run_insert(store *s, run_row *r, sked_err *err);
int store_run_get(store *s, int64_t id, run_row *ret, sked_err *err);
typedef struct run_filter {
        int64_t series_id; /* 0 = any */
        const char *type, *state; /* NULL = any */
        int64_t before_id; /* newest first; 0 = from the newest */
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
int store_run_start(store *s, int64_t id, const char *node, sked_time now, sked_time lease_until,
                    sked_err *err);
/* SQLite: this connection caches up to mb MB of database pages (allocated as they
 * are read; 16 MB by default).  PostgreSQL: a no-op. */
int store_cache_mb(store *s, int mb, sked_err *err);
/* SQLite: whether this connection's commits copy the WAL back into the database
 * when it has grown past 1,000 pages (on by default); store_checkpoint does it on
 * demand, without waiting for readers or writers (PASSIVE): *ret_frames are in the
 * WAL, *ret_copied of them are in the database now (both 0 when another checkpoint
 * was running).  The WAL starts again from its beginning only at a write after a
 * checkpoint that copied all of it.  PostgreSQL: no-ops. */
int store_autocheckpoint(store *s, bool on, sked_err *err);
int store_checkpoint(store *s, int64_t *ret_frames, int64_t *ret_copied, sked_err *err);
/* Occurrences of a series fired ahead of their time (look-ahead) whose runs have not
 * started: their runs (queued, or claimed with a start still to come) and occurrence
 * records are deleted, as if never fired.  *ret_ids: the runs (caller frees). */
int store_series_retract(store *s, int64_t series_id, sked_time now, int64_t **ret_ids, size_t *ret_n,
                         sked_err *err);
/* A run this node claimed and never started (it stopped first): queued again. */
int store_run_release(store *s, int64_t id, const char *node, sked_err *err);
/* The earliest not_before of queued runs. */
int store_next_ready_min(store *s, sked_time *ret, bool *ret_any, sked_err *err);
/* Extends the leases of running runs; ret_cancel (may be NULL; n entries) tells which
 * of them were asked to stop (the overlap policy cancel_other, on any node). */
int store_runs_renew(store *s, const int64_t *ids, size_t n, sked_time lease_until, bool *ret_cancel,
                     sked_err *err);
/* Running runs whose lease ended before `now` (or all running ones when now == SKED_TIME_MAX). */
int store_runs_expired(store *s, sked_time now, run_row **ret, size_t *ret_n, sked_err *err);
typedef struct run_finish {
        const char *state; /* succeeded | failed | lost | cancelled */
        bool has_exit;
        int64_t exit_code;
        const char *error;  /* may be NULL */
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
int store_message_add(store *s, int64_t run_id, int64_t seq, sked_time at, const char *level,
                      const char *text, sked_err *err);
int store_result_add(store *s, int64_t run_id, int64_t seq, sked_time at, const char *key,
                     const char *status, const char *data, sked_err *err);
/* JSON arrays: messages {"seq","at","level","text"}, results {"seq","at","key","status","data"}. */
int store_messages_list(store *s, int64_t run_id, int64_t after_seq, int limit, json_t **ret,
                        sked_err *err);
int store_results_list(store *s, int64_t run_id, int64_t after_seq, int limit, json_t **ret,
                       sked_err *err);
/* The results of a series' most recent finished run(s): {"run_id","finished_at","state","results":[...]} objects, newest first. */
int store_series_recent_results(store *s, int64_t series_id, int runs, json_t **ret, sked_err *err);
/* Counts by state of a type's runs that are running now. */
int store_running_count(store *s, const char *type, int64_t *ret, sked_err *err);

/* ---- a cluster of nodes on one database ---- */
/* Takes, or confirms it still holds, the poller role.  PostgreSQL: a session
 * advisory lock of this connection, lost with the session (a node that died or
 * lost its connection lets another take over).  SQLite: always held (one server
 * per data directory).  Call outside a transaction. */
int store_poller_lease(store *s, bool *ret_held, sked_err *err);
/* The database's clock (PostgreSQL) or the local real-time clock (SQLite). */
int store_db_now(store *s, sked_time *ret, sked_err *err);
/* Wakes the nodes that listen (PostgreSQL NOTIFY; in a transaction it is sent at
 * commit).  No-op for SQLite. */
int store_notify(store *s, sked_err *err);
#define STORE_NOTIFY_CHANNEL "sked_wake"
/* Serializes claims of runs of one type across nodes until the transaction ends, so
 * that a concurrency limit holds cluster-wide.  No-op for SQLite (BEGIN IMMEDIATE). */
int store_lock_type(store *s, const char *type, sked_err *err);
typedef struct node_row {
        char name[128], role[16], version[32];
        sked_time started_at, heartbeat_at;
        int64_t workers, running, pid;
} node_row;
int store_node_heartbeat(store *s, const node_row *n, sked_err *err);
/* Every node that ever heartbeat: {"name","role","workers","running","pid","version","started_at","heartbeat_at"} (integers). */
int store_nodes_list(store *s, json_t **ret, sked_err *err);

/* ---- poller health ---- */
typedef struct poller_health {
        char node[64];
        sked_time started_at, heartbeat_at, last_fire_at, initialized_at;
        int64_t fired_total, last_batch;
        bool has_next;
        sked_time next_due;
        int64_t purged_runs, purged_messages, purged_results; /* retention, since the store was created */
        sked_time last_purge_at;
} poller_health;
int store_poller_put(store *s, const poller_health *h, sked_err *err);
int store_poller_get(store *s, poller_health *ret, sked_err *err);

#include "store/plan.h"
