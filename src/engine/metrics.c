/* metrics: the engine's counters for /metrics (see metrics.h). */
#include "engine/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "engine/engine_internal.h"

struct metrics_type {
        metrics_type *next;
        char *name;
        _Atomic uint64_t started;
        _Atomic uint64_t finished[MET_NOUTCOMES];
        _Atomic uint64_t missed;
        _Atomic uint64_t skipped[MET_NSKIPS];
        prom_histogram duration, lateness;
};

/* seconds: a handler runs from milliseconds to hours */
static const double duration_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,    2.5,
                                         5,     10,   30,    60,   120, 300,  900, 1800, 3600};
/* seconds: a run starts on time (look-ahead), late by a poll, or late by a backlog */
static const double lateness_bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                         1,     2.5,   5,    10,    30,   60,  300,  3600};
/* seconds: one turn of the loop, its transaction included */
static const double turn_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

#define NB(a) (sizeof a / sizeof a[0])

static const char *const outcome_names[MET_NOUTCOMES] = {"succeeded", "failed", "cancelled", "lost"};
static const char *const skip_names[MET_NSKIPS] = {"overlap", "sleep", "disabled", "paused", "other"};

static metrics_type *type_new(const char *name) {
        metrics_type *t = calloc(1, sizeof *t);
        if (!t || !(t->name = strdup(name))) {
                free(t);
                return NULL;
        }
        prom_histogram_init(&t->duration, duration_bounds, NB(duration_bounds));
        prom_histogram_init(&t->lateness, lateness_bounds, NB(lateness_bounds));
        return t;
}

void metrics_init(engine_metrics *m) {
        memset(m, 0, sizeof *m);
        pthread_mutex_init(&m->lock, NULL);
        prom_histogram_init(&m->turn_seconds, turn_bounds, NB(turn_bounds));
}

void metrics_free(engine_metrics *m) {
        for (metrics_type *t = m->types, *next; t; t = next) {
                next = t->next;
                free(t->name);
                free(t);
        }
        if (m->other) {
                free(m->other->name);
                free(m->other);
        }
        free(m->pending);
        pthread_mutex_destroy(&m->lock);
        memset(m, 0, sizeof *m);
}

/* The entry of `name`, created on first use; NULL only when out of memory.  The
 * list is short (one entry per type ever seen), so a linear search under the lock
 * costs less than the run it counts. */
static metrics_type *type_of(engine_metrics *m, const char *name) {
        if (!name)
                name = "";
        pthread_mutex_lock(&m->lock);
        metrics_type *t = m->types;
        while (t && strcmp(t->name, name))
                t = t->next;
        if (!t) {
                if (m->ntypes >= METRICS_MAX_TYPES) {
                        if (!m->other)
                                m->other = type_new("(other)");
                        t = m->other;
                } else if ((t = type_new(name))) {
                        /* appended, so a scrape lists types in the order they appeared */
                        metrics_type **p = &m->types;
                        while (*p)
                                p = &(*p)->next;
                        *p = t;
                        m->ntypes++;
                }
        }
        pthread_mutex_unlock(&m->lock);
        return t;
}

void metrics_type_known(engine *e, const char *type) {
        type_of(&e->metrics, type);
}

void metrics_run_started(engine *e, const job *j, sked_time now) {
        metrics_type *t = type_of(&e->metrics, j->run.type);
        if (!t)
                return;
        atomic_fetch_add_explicit(&t->started, 1, memory_order_relaxed);
        /* from the occurrence's planned instant; a one-off run from when it became ready */
        sked_time planned = j->run.has_nominal ? j->run.nominal : j->run.not_before;
        prom_observe(&t->lateness, (double) (now - planned) / SKED_USEC);
}

static void apply(const metrics_pending *p) {
        switch (p->what) {
        case 0:
                atomic_fetch_add_explicit(&p->m->finished[p->ix], 1, memory_order_relaxed);
                prom_observe(&p->m->duration, p->seconds);
                break;
        case 1:
                atomic_fetch_add_explicit(&p->m->missed, (uint64_t) p->n, memory_order_relaxed);
                break;
        default:
                atomic_fetch_add_explicit(&p->m->skipped[p->ix], (uint64_t) p->n, memory_order_relaxed);
                break;
        }
}

static void pend(engine *e, const char *type, int what, int ix, int64_t n, double seconds) {
        engine_metrics *m = &e->metrics;
        metrics_type *t = type_of(m, type);
        if (!t)
                return;
        if (!writes_on_loop_thread(e)) {
                /* a write before the loop started (or after it stopped), in its caller's
                 * transaction: counted at once */
                apply(&(metrics_pending){t, what, ix, n, seconds});
                return;
        }
        if (m->npending == m->cap) {
                size_t cap = m->cap ? 2 * m->cap : 64;
                metrics_pending *p = realloc(m->pending, cap * sizeof *p);
                if (!p)
                        return; /* a count lost, nothing else */
                m->pending = p;
                m->cap = cap;
        }
        m->pending[m->npending++] = (metrics_pending){t, what, ix, n, seconds};
}

void metrics_run_finished(engine *e, const char *type, const char *state, double seconds) {
        int ix = MET_FAILED;
        for (int i = 0; i < MET_NOUTCOMES; i++)
                if (state && !strcmp(state, outcome_names[i]))
                        ix = i;
        pend(e, type, 0, ix, 1, seconds);
}

void metrics_missed(engine *e, const char *type, int64_t n) {
        if (n > 0)
                pend(e, type, 1, 0, n, 0);
}

void metrics_skipped(engine *e, const char *type, const char *reason, int64_t n) {
        int ix = MET_SKIP_OTHER;
        for (int i = 0; i < MET_SKIP_OTHER; i++)
                if (reason && !strcmp(reason, skip_names[i]))
                        ix = i;
        if (n > 0)
                pend(e, type, 2, ix, n, 0);
}

static void metrics_after(engine *e, turn_ctx *t) {
        engine_metrics *m = &e->metrics;
        if (t->result == 0) {
                for (size_t i = 0; i < m->npending; i++)
                        apply(&m->pending[i]);
                atomic_fetch_add_explicit(&m->turns, 1, memory_order_relaxed);
                atomic_store_explicit(&m->last_turn_us, t->now, memory_order_relaxed);
                prom_observe(&m->turn_seconds, (double) (time_mono_usec() - t->mono_start) / SKED_USEC);
        }
        atomic_store_explicit(&m->role, t->role, memory_order_relaxed);
        m->npending = 0;
}

const turn_step metrics_step = {"metrics", 0, NULL, metrics_after, NULL, NULL};

/* ---- the text ---- */

static void type_label(strbuf *b, const char *type) {
        strbuf_puts(b, "type=\"");
        prom_label_value(b, type);
        strbuf_putc(b, '"');
}

static void emit(strbuf *b, strbuf *lab, metrics_type *t, void (*fn)(strbuf *, const char *, metrics_type *)) {
        strbuf_reset(lab);
        type_label(lab, t->name);
        fn(b, strbuf_str(lab), t);
}

/* Calls fn for each type (and "(other)"), with the label list "type=\"...\"".  Under
 * the lock: a scrape only formats numbers, and a type seen for the first time waits. */
static void each_type(engine_metrics *m, strbuf *b, void (*fn)(strbuf *b, const char *labels, metrics_type *t)) {
        strbuf lab = STRBUF_INIT;
        pthread_mutex_lock(&m->lock);
        for (metrics_type *t = m->types; t; t = t->next)
                emit(b, &lab, t, fn);
        if (m->other)
                emit(b, &lab, m->other, fn);
        pthread_mutex_unlock(&m->lock);
        strbuf_free(&lab);
}

static void w_started(strbuf *b, const char *labels, metrics_type *t) {
        prom_sample(b, "sked_runs_started_total", labels, (double) atomic_load(&t->started));
}

/* One sample per value of a second label (the outcome, the reason) beside the type's. */
static void w_split(strbuf *b, const char *name, const char *labels, const char *key, const char *const *values,
                    _Atomic uint64_t *counts, int n) {
        for (int i = 0; i < n; i++) {
                char l[1100];
                snprintf(l, sizeof l, "%s,%s=\"%s\"", labels, key, values[i]);
                prom_sample(b, name, l, (double) atomic_load(&counts[i]));
        }
}

static void w_finished(strbuf *b, const char *labels, metrics_type *t) {
        w_split(b, "sked_runs_finished_total", labels, "outcome", outcome_names, t->finished, MET_NOUTCOMES);
}

static void w_duration(strbuf *b, const char *labels, metrics_type *t) {
        prom_histogram_write(b, "sked_run_duration_seconds", labels, &t->duration);
}

static void w_lateness(strbuf *b, const char *labels, metrics_type *t) {
        prom_histogram_write(b, "sked_run_start_lateness_seconds", labels, &t->lateness);
}

static void w_missed(strbuf *b, const char *labels, metrics_type *t) {
        prom_sample(b, "sked_occurrences_missed_total", labels, (double) atomic_load(&t->missed));
}

static void w_skipped(strbuf *b, const char *labels, metrics_type *t) {
        w_split(b, "sked_occurrences_skipped_total", labels, "reason", skip_names, t->skipped, MET_NSKIPS);
}

void engine_metrics_write(engine *e, strbuf *b) {
        engine_metrics *m = &e->metrics;
        prom_family(b, "sked_runs_started_total", "counter", "Runs handed to a handler, by type.");
        each_type(m, b, w_started);
        prom_family(b, "sked_runs_finished_total", "counter",
                    "Runs ended, by type and outcome (the state recorded; a failed attempt that is retried counts "
                    "as failed).");
        each_type(m, b, w_finished);
        prom_family(b, "sked_run_duration_seconds", "histogram", "How long handlers ran, by type.");
        each_type(m, b, w_duration);
        prom_family(b, "sked_run_start_lateness_seconds", "histogram",
                    "From an occurrence's planned instant (a one-off run: from when it became ready) to its start, "
                    "by type.");
        each_type(m, b, w_lateness);
        prom_family(b, "sked_occurrences_missed_total", "counter",
                    "Occurrences not run because they were late beyond the catch-up policy, by type.");
        each_type(m, b, w_missed);
        prom_family(b, "sked_occurrences_skipped_total", "counter",
                    "Occurrences skipped, by type and reason (overlap, sleep window, feature disabled, series "
                    "paused).");
        each_type(m, b, w_skipped);
        prom_family(b, "sked_poller_turns_total", "counter", "Committed turns of this node's loop.");
        prom_sample(b, "sked_poller_turns_total", NULL, (double) atomic_load(&m->turns));
        prom_family(b, "sked_poller_last_turn_timestamp_seconds", "gauge",
                    "When this node's loop last committed a turn (Unix time).");
        prom_sample(b, "sked_poller_last_turn_timestamp_seconds", NULL,
                    (double) atomic_load(&m->last_turn_us) / SKED_USEC);
        prom_family(b, "sked_poller_turn_duration_seconds", "histogram",
                    "How long one turn of the loop took, its transaction included.");
        prom_histogram_write(b, "sked_poller_turn_duration_seconds", NULL, &m->turn_seconds);
        prom_family(b, "sked_poller_role", "gauge",
                    "1 when this node holds the poller role (fires occurrences, recovers leases), else 0.");
        prom_sample(b, "sked_poller_role", NULL, atomic_load(&m->role) ? 1 : 0);
}
