/* occurrences: the record of single occurrences of a series: skip rows, the
 * backstop against firing one twice, one-off changes (exceptions, the RFC 5545
 * RECURRENCE-ID/EXDATE model) and the calendar's reads.
 * Same conventions as store.h: 0 or a negative errno, messages in err, one
 * connection per thread; the caller holds the transaction where one is needed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/civil.h"
#include "base/err.h"

typedef struct store store;

/* Records that (series, nominal) was skipped (`skipped` names why: overlap, sleep,
 * disabled); -EEXIST if it was already recorded.  A fired occurrence has no row of
 * its own: its scheduled run (trigger "schedule") is the record. */
int store_occurrence_insert(store *s, int64_t series_id, sked_time nominal, sked_time now, const char *skipped,
                            sked_err *err);
/* Whether (series, nominal) was dealt with before: fired (its scheduled run), skipped
 * or, from before schema version 4, recorded as fired.  The backstop against firing
 * an occurrence twice (a clock set back, an edited rule that meets it again). */
int store_occurrence_done(store *s, int64_t series_id, sked_time nominal, bool *ret, sked_err *err);

/* ---- exceptions: one occurrence of a series changed, by its nominal instant ---- */
typedef struct exception_row {
        int64_t series_id;
        sked_time nominal;  /* the rule's instant it replaces */
        bool disabled;      /* the occurrence does not run */
        bool fired;         /* a moved occurrence that has fired (or was skipped) */
        sked_time moved_to; /* 0 = not moved */
        char *params;       /* JSON text of the overriding params, or NULL */
        char *note;         /* may be NULL */
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
int store_exceptions_list(store *s, int64_t series_id, sked_time from, sked_time to, int limit, exception_row **ret,
                          size_t *ret_n, sked_err *err);
/* Moved occurrences due by `now` that have not fired, of enabled series of enabled
 * features, earliest first. */
int store_moves_due(store *s, sked_time now, int limit, exception_row **ret, size_t *ret_n, sked_err *err);
int store_exception_set_fired(store *s, int64_t series_id, sked_time nominal, sked_err *err);

/* ---- the calendar's reads ---- */
typedef struct occurrence_rec {
        int64_t series_id, run_id, attempt; /* run_id 0: none (skipped) */
        sked_time nominal, fired_at, started_at, finished_at;
        char state[16];   /* the run's state, "" when none */
        char skipped[16]; /* why it was skipped, "" when it was not */
        char trigger[16]; /* schedule | manual | ... */
} occurrence_rec;
/* Recorded occurrences (fired or skipped) and manual runs of one series (0: all)
 * with from <= nominal < to, ordered by nominal (then series), at most `limit`: the
 * earliest. */
int store_occurrences_range(store *s, int64_t series_id, sked_time from, sked_time to, int limit, occurrence_rec **ret,
                            size_t *ret_n, sked_err *err);
