/* series: the store's recurring schedules and their cursor (next_due), which the
 * poller reads and advances.
 * Same conventions as store.h: 0 or a negative errno, messages in err, one
 * connection per thread; the caller holds the transaction where one is needed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/civil.h"
#include "base/err.h"

typedef struct store store;

typedef struct series_row {
        int64_t id;
        char *type, *title, *schedule, *tz, *start_local; /* start_local may be NULL */
        sked_time end_at;                                 /* 0 = none */
        int64_t count;                                    /* 0 = none */
        char *params, *query;                             /* JSON text; query may be NULL */
        bool enabled, background;
        char *pause_note, *owner; /* may be NULL */
        bool has_next;
        sked_time next_due, last_nominal; /* last_nominal 0 = never fired */
        int64_t fired, missed, version;
        sked_time created_at, updated_at;
        char *policy, *sleep; /* JSON text (normalized overrides / windows), may be NULL */
        bool feature_on;      /* false while the type's feature is disabled */
        int64_t n_exceptions; /* one-off occurrence changes on record */
        int64_t skipped_overlap, skipped_sleep, skipped_disabled;
} series_row;

void series_row_clear(series_row *r);
void series_rows_free(series_row *rows, size_t n);

/* Inserts; sets r->version = 1 and r->id, r->feature_on from the row written (in
 * a pipeline, store.h: once store_pipeline_end returned 0). */
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

/* ---- the poller: the cursor ---- */
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

/* Locks the series' row until the transaction ends (PostgreSQL; the poller skips it
 * meanwhile).  No-op for SQLite, whose write transactions are serialized. */
int store_series_lock(store *s, int64_t series_id, sked_err *err);
