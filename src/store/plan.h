/* plan: the store's side of controlling the plan (included by store.h): one-off
 * occurrence changes (exceptions, the RFC 5545 RECURRENCE-ID/EXDATE model),
 * features, the bookkeeping of the overlap policy, the calendar's reads and
 * retention.  Same conventions as store.h: 0 or a negative errno, messages in err,
 * one connection per thread. */
#pragma once

/* ---- exceptions: one occurrence of a series changed, by its nominal instant ---- */
typedef struct exception_row {
        int64_t series_id;
        sked_time nominal;     /* the rule's instant it replaces */
        bool disabled;         /* the occurrence does not run */
        bool fired;            /* a moved occurrence that has fired (or was skipped) */
        sked_time moved_to;    /* 0 = not moved */
        char *params;          /* JSON text of the overriding params, or NULL */
        char *note;            /* may be NULL */
        sked_time created_at, updated_at;
} exception_row;

void exception_row_clear(exception_row *x);
void exception_rows_free(exception_row *rows, size_t n);
/* Creates or replaces the exception (x->series_id, x->nominal); keeps the series'
 * n_exceptions count. */
int store_exception_put(store *s, const exception_row *x, sked_err *err);
/* -ENOENT when there is none. */
int store_exception_delete(store *s, int64_t series_id, sked_time nominal, sked_err *err);
int store_exception_get(store *s, int64_t series_id, sked_time nominal, exception_row *ret, sked_err *err);
/* Exceptions of one series (series_id 0: of all) whose nominal or new time lies in
 * [from, to), ordered by series and nominal, at most `limit`. */
int store_exceptions_list(store *s, int64_t series_id, sked_time from, sked_time to, int limit,
                          exception_row **ret, size_t *ret_n, sked_err *err);
/* Moved occurrences due by `now` that have not fired, of enabled series of enabled
 * features, earliest first. */
int store_moves_due(store *s, sked_time now, int limit, exception_row **ret, size_t *ret_n, sked_err *err);
int store_exception_set_fired(store *s, int64_t series_id, sked_time nominal, sked_err *err);
/* Locks the series' row until the transaction ends (PostgreSQL; the poller skips it
 * meanwhile).  No-op for SQLite, whose write transactions are serialized. */
int store_series_lock(store *s, int64_t series_id, sked_err *err);

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

/* ---- features ---- */
/* Enables or disables a feature: its types' series stop (or start again) being
 * scheduled and listed.  *ret_series (may be NULL) gets how many series changed. */
int store_feature_set(store *s, const char *name, bool enabled, const char *note, sked_time now,
                      int64_t *ret_series, sked_err *err);
/* Every feature named by a type or set explicitly:
 * [{"name","enabled","note","changed_at","types","series"}] by name. */
int store_features_list(store *s, json_t **ret, sked_err *err);

/* ---- the calendar's reads ---- */
typedef struct occurrence_rec {
        int64_t series_id, run_id, attempt; /* run_id 0: none (skipped) */
        sked_time nominal, fired_at, started_at, finished_at;
        char state[16];                      /* the run's state, "" when none */
        char skipped[16];                    /* why it was skipped, "" when it was not */
        char trigger[16];                    /* schedule | manual | ... */
} occurrence_rec;
/* Recorded occurrences (fired or skipped) and manual runs of one series (0: all)
 * with from <= nominal < to, ordered by series and nominal, at most `limit`. */
int store_occurrences_range(store *s, int64_t series_id, sked_time from, sked_time to, int limit,
                            occurrence_rec **ret, size_t *ret_n, sked_err *err);

/* ---- retention ---- */
typedef struct purge_counts {
        int64_t runs, messages, results, occurrences;
} purge_counts;
/* Deletes up to `limit` finished runs of `type` that finished before `before`, with
 * their messages and results, and the type's occurrence rows older than `before`
 * that the poller's cursor has passed; adds what it deleted to *add. */
int store_purge(store *s, const char *type, sked_time before, int limit, purge_counts *add, sked_err *err);
