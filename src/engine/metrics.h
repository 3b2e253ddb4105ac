/* metrics: the engine's counters and histograms for /metrics (docs/operations.md,
 * "Metrics").  Runs started (and their start lateness) are counted by the worker that
 * starts them; runs finished, occurrences missed and skipped by the loop, in the turn
 * that records them, and only once that turn committed (a rolled-back turn counts
 * nothing; its work is done again and counted then).  Labels are the type and an
 * outcome or reason: never a series, run or user. */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "base/civil.h"
#include "base/prom.h"
#include "base/strbuf.h"

typedef struct engine engine;
typedef struct job job;
typedef struct metrics_type metrics_type;

/* the outcomes a finished run is counted under (the states run rows end in) */
enum { MET_SUCCEEDED, MET_FAILED, MET_CANCELLED, MET_LOST, MET_NOUTCOMES };
/* why an occurrence was skipped (the occurrences table's reasons) */
enum { MET_SKIP_OVERLAP, MET_SKIP_SLEEP, MET_SKIP_DISABLED, MET_SKIP_PAUSED, MET_SKIP_OTHER, MET_NSKIPS };

/* One change decided in the turn, applied if it commits. */
typedef struct metrics_pending {
        metrics_type *m;
        int what; /* 0: a run finished, 1: missed, 2: skipped */
        int ix;   /* the outcome or the reason */
        int64_t n;
        double seconds; /* a finished run's duration */
} metrics_pending;

typedef struct engine_metrics {
        pthread_mutex_t lock; /* the list of types (entries are never freed before the engine) */
        metrics_type *types;
        size_t ntypes;
        metrics_type *other; /* past METRICS_MAX_TYPES distinct types: counted as type "(other)" */
        /* the loop's turns */
        _Atomic uint64_t turns;
        _Atomic int64_t last_turn_us; /* the engine clock at the last committed turn */
        _Atomic bool role;
        prom_histogram turn_seconds;
        /* loop-owned: what this turn decided */
        metrics_pending *pending;
        size_t npending, cap;
} engine_metrics;

#define METRICS_MAX_TYPES 1000

void metrics_init(engine_metrics *m);
void metrics_free(engine_metrics *m);

/* a type is registered: its series are shown (at 0) from now on */
void metrics_type_known(engine *e, const char *type);
/* a worker starts j's run (at the engine's clock `now`) */
void metrics_run_started(engine *e, const job *j, sked_time now);
/* the loop: j's run ends as `state` (succeeded, failed, cancelled, lost) after `seconds` */
void metrics_run_finished(engine *e, const char *type, const char *state, double seconds);
/* the loop: n occurrences of a series of `type` missed; skipped for `reason` */
void metrics_missed(engine *e, const char *type, int64_t n);
void metrics_skipped(engine *e, const char *type, const char *reason, int64_t n);
