/* occurrence: one-off changes of single occurrences (the entry points are in
 * engine.h: engine_occurrence_change, engine_occurrence_reset), and the record of
 * occurrences a pause let go. */
#pragma once

#include "engine/engine.h"

/* The most occurrences one resume records as skipped for the pause (the first of
 * a longer pause; the rest are listed `missed`). */
#define OCCURRENCE_PAUSED_MAX 10000

/* Records the occurrences of series `s` that fell due while it was paused as
 * skipped, reason "paused": resuming does not owe them.  s is the resumed row
 * (next_due recomputed from now); was_due its cursor while paused (0: none, nothing
 * to record); paused_at when it was paused (its last change: the pause, or an edit
 * made while paused).  The pause took back what was fired ahead (runs after
 * paused_at, before was_due), so the span is [min(was_due, paused_at), next_due),
 * less what ran in it.  Inside the caller's transaction, on its connection `st`;
 * any thread. */
int occurrence_record_paused(engine *e, store *st, const series_row *s, sked_time was_due, sked_time paused_at,
                             sked_err *err);
