/* fire: the poller's part of the loop.  Walks each due series' rule up to now and
 * decides, occurrence by occurrence, what runs: one-off changes (disabled, moved,
 * params), the catch-up policy for late occurrences, sleep windows, the overlap
 * policy and jitter.  Runs inside the loop's transaction (e->st). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "engine/engine_internal.h"

#define DUE_BATCH 512   /* series fired per statement batch */
#define MAX_WALK 200000 /* rule steps per series per turn before jumping ahead */

/* ---- a series' plan: its schedule, effective policy and sleep windows ---- */

void series_plan_free(void *p) {
        series_plan *sp = p;
        if (!sp)
                return;
        schedule_free(sp->sc);
        free(sp->sleep);
        free(sp->memo);
        free(sp);
}

int series_policy(engine *e, const series_row *s, policy *ret, sked_err *err) {
        policy p;
        policy_default(&p);
        const type_entry *te = engine_type_find(e, s->type);
        int r = 0;
        if (te && te->t->policy)
                r = policy_apply(&p, te->t->policy, "type.defaults.policy", err);
        if (r == 0 && s->policy) {
                json_error_t je;
                json_t *j = json_loads(s->policy, 0, &je);
                r = policy_apply(&p, j, "policy", err);
                json_decref(j);
        }
        if (r == 0)
                *ret = p;
        return r;
}

int series_plan_build(engine *e, const series_row *s, series_plan **ret, sked_err *err) {
        series_plan *sp = calloc(1, sizeof *sp);
        if (!sp)
                return err_set(err, -ENOMEM, "out of memory");
        sp->te = engine_type_find(e, s->type);
        int r = series_policy(e, s, &sp->pol, err);
        if (r == 0)
                r = series_schedule_parse(s, s->created_at, &sp->pol, &sp->sc, err);
        if (r == 0 && s->sleep) {
                json_error_t je;
                json_t *j = json_loads(s->sleep, 0, &je), *norm = NULL;
                r = sleep_parse(j, s->tz, &sp->sleep, &sp->nsleep, &norm, err);
                json_decref(j);
                json_decref(norm);
        }
        if (r < 0) {
                series_plan_free(sp);
                return r;
        }
        *ret = sp;
        return 0;
}

static series_plan *plan_in(engine *e, schedcache *c, const series_row *s) {
        series_plan *sp = schedcache_get(c, s->id, s->version);
        if (sp && sp->te == engine_type_find(e, s->type))
                return sp;
        sked_err err = {0};
        if (series_plan_build(e, s, &sp, &err) < 0) {
                log_error("series %lld: %s", (long long) s->id, err.msg);
                return NULL;
        }
        if (schedcache_put(c, s->id, s->version, sp) < 0) {
                series_plan_free(sp);
                return NULL;
        }
        return sp;
}

/* The loop's cached plan of a series (rebuilt when the series or its type changed). */
static series_plan *plan_for(engine *e, const series_row *s) {
        return plan_in(e, &e->fire.scache, s);
}

/* The API threads' plans: one cache for all of them, under e->plans_lock, so that
 * a week's expansion (the memo) is shared whichever thread serves the request. */
series_plan *engine_plan_cached(engine *e, const series_row *s) {
        return plan_in(e, &e->api_plans, s);
}

/* ---- one pass over a series ---- */

/* An occurrence that may run: its nominal instant (the identity), when it is due
 * (the nominal, or the time it was moved to) and its parameter overrides. */
typedef struct item {
        sked_time nominal, due;
        const char *params; /* overrides (JSON text) or NULL; borrowed */
} item;

typedef struct pass {
        engine *e;
        const series_row *s;
        series_plan *sp;
        sked_time now;
        bool active_known;
        int64_t queued, running; /* the series' runs before this pass, plus what it queued */
        int64_t queued_here;
        series_advance adv;
        int fired;
} pass;

static int record_skip(pass *p, const item *it, const char *why, sked_err *err) {
        int r = store_occurrence_insert(p->e->st, p->s->id, it->nominal, p->now, why, err);
        if (r == -EEXIST)
                return 0;
        if (r < 0)
                return r;
        metrics_skipped(p->e, p->s->type, why, 1);
        if (!strcmp(why, "overlap"))
                p->adv.skipped_overlap++;
        else if (!strcmp(why, "sleep"))
                p->adv.skipped_sleep++;
        else
                p->adv.skipped_disabled++;
        return 0;
}

/* A stable pseudo-random delay in [0, max) for (series, nominal): the same on every
 * node and every turn, so that the calendar can show it. */
static sked_time jitter_of(int64_t series_id, sked_time nominal, sked_time max) {
        if (max <= 0)
                return 0;
        uint64_t h = (uint64_t) series_id * 0x9E3779B97F4A7C15ull ^ (uint64_t) nominal;
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
        return (sked_time) (h % (uint64_t) max);
}

sked_time series_jitter(const series_row *s, const series_plan *sp, sked_time nominal) {
        if (sp->pol.jitter_ms <= 0)
                return 0;
        sked_time max = sp->pol.jitter_ms * 1000, next;
        /* never pushed past the next occurrence */
        if (schedule_next(sp->sc, nominal, &next) == 0 && next - nominal < max)
                max = next - nominal;
        return jitter_of(s->id, nominal, max);
}

/* Params of a run: the series' own, with a one-off override's keys on top. */
static char *merged_params(const char *base, const char *over) {
        if (!over)
                return NULL;
        json_error_t je;
        json_t *b = json_loads(base ? base : "{}", 0, &je), *o = json_loads(over, 0, &je);
        if (!json_is_object(b))
                b = (json_decref(b), json_object());
        if (json_is_object(o))
                json_object_update(b, o);
        char *text = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        json_decref(o);
        return text;
}

/* Queues the run of one occurrence; the run (trigger "schedule") is the record that
 * it fired.  Returns 1. */
static int queue_run(pass *p, const item *it, sked_err *err) {
        const series_row *s = p->s;
        sked_time not_before = it->due + series_jitter(s, p->sp, it->nominal);
        char *params = merged_params(s->params, it->params);
        run_row run = {
                .series_id = s->id,
                .has_nominal = true,
                .nominal = it->nominal,
                .type = s->type,
                .trigger = "schedule",
                .params = params ? params : s->params,
                .query = s->query,
                .attempt = 1,
                .queued_at = p->now,
                .not_before = not_before > p->now ? not_before : p->now,
                .exclusive = p->sp->pol.overlap != OVERLAP_ALLOW_ALL,
        };
        int r = store_run_insert(p->e->st, &run, err);
        free(run.idem_key);
        free(params);
        if (r < 0)
                return r;
        p->queued++;
        p->queued_here++;
        p->fired++;
        p->adv.fired++;
        if (it->nominal > p->adv.last_nominal)
                p->adv.last_nominal = it->nominal;
        return 1;
}

static int load_active(pass *p, sked_err *err) {
        if (p->active_known)
                return 0;
        int r = store_series_active(p->e->st, p->s->id, &p->queued, &p->running, err);
        p->active_known = r == 0;
        return r;
}

/* Runs one occurrence through the sleep windows and the overlap policy, then
 * queues it.  `last` says it is the newest of this pass (cancel_other keeps only it). */
static int fire_item(pass *p, const item *it, bool last, sked_err *err) {
        const series_plan *sp = p->sp;
        /* the backstop: an occurrence fired or skipped before (a clock set back, a rule
         * edited to meet it again) is left alone, before any policy acts on it */
        bool done;
        int r = store_occurrence_done(p->e->st, p->s->id, it->nominal, &done, err);
        if (r < 0 || done)
                return r;
        /* due inside a window; or caught up late while a window is on */
        bool late = it->due < p->now - p->e->cfg.late_after_ms * 1000;
        if (sp->nsleep &&
            (sleep_contains(sp->sleep, sp->nsleep, it->due) || (late && sleep_contains(sp->sleep, sp->nsleep, p->now))))
                return record_skip(p, it, "sleep", err);
        switch (sp->pol.overlap) {
        case OVERLAP_SKIP:
                /* a catch-up burst of this pass is one decision: only earlier runs count */
                if ((r = load_active(p, err)) < 0)
                        return r;
                if (p->queued - p->queued_here + p->running > 0)
                        return record_skip(p, it, "overlap", err);
                break;
        case OVERLAP_BUFFER_ONE:
                /* at most one run waits; when none runs, one more starts at once */
                if ((r = load_active(p, err)) < 0)
                        return r;
                if (p->queued >= (p->running ? 1 : 2))
                        return record_skip(p, it, "overlap", err);
                break;
        case OVERLAP_CANCEL_OTHER:
                if (!last)
                        return record_skip(p, it, "overlap", err);
                if ((r = load_active(p, err)) < 0)
                        return r;
                if (p->queued + p->running > 0) {
                        char why[96], at[32];
                        time_format_utc(it->nominal, at, sizeof at);
                        snprintf(why, sizeof why, "cancelled: superseded by the occurrence of %s (overlap policy)", at);
                        int64_t *ids = NULL;
                        size_t n = 0;
                        if ((r = store_series_cancel_active(p->e->st, p->s->id, p->now, why, &ids, &n, err)) < 0)
                                return r;
                        r = engine_cancel_later(p->e, ids, n, RUN_CANCEL_OVERLAP);
                        free(ids);
                        if (r < 0)
                                return err_set(err, -ENOMEM, "out of memory");
                        p->queued = 0;
                }
                break;
        default: /* buffer_all, allow_all */
                break;
        }
        return (r = queue_run(p, it, err)) < 0 ? r : 0;
}

static const exception_row *find_exception(const exception_row *x, size_t n, sked_time nominal) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (x[mid].nominal < nominal)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < n && x[lo].nominal == nominal ? &x[lo] : NULL;
}

/* Fires what is due of one series' rule.  Occurrences late by at most the
 * engine's tolerance (late_after_ms) are on time and run.  Later ones follow the
 * catch-up policy: none (missed), latest (the newest of them runs when nothing on
 * time does), all (those within the catch-up window run, at most `burst`, the
 * newest kept).  One-off changes, sleep windows and the overlap policy then apply
 * to each occurrence that would run. */
static int fire_series(engine *e, const series_row *s, sked_time now, int *ret_fired, sked_err *err) {
        /* look-ahead: a series that is not due yet came because none of its runs is
         * queued or running (store_series_due): its next occurrence is fired now, to
         * start at its time.  A due series walks up to now only. */
        sked_time upto = s->next_due > now ? now + e->ahead : now;
        series_plan *sp = plan_for(e, s);
        if (!sp) { /* unparsable now (e.g. zone removed): park it, say so once */
                series_advance a = {.last_nominal = s->last_nominal};
                return store_series_advance(e->st, s->id, &a, err);
        }
        const policy *pol = &sp->pol;
        pass p = {.e = e, .s = s, .sp = sp, .now = now, .adv = {.last_nominal = s->last_nominal}};
        if (s->next_due > now)
                p.active_known = true; /* fired ahead: it has no run queued or running */
        exception_row *exc = NULL;
        size_t nexc = 0;
        int r = 0;
        if (s->n_exceptions > 0 &&
            (r = store_exceptions_list(e->st, s->id, s->next_due, upto + 1, 1000000, &exc, &nexc, err)) < 0)
                return r;
        sked_time late_before = now - e->cfg.late_after_ms * 1000;
        sked_time window_start = pol->catchup_window_ms ? now - pol->catchup_window_ms * 1000 : INT64_MIN;
        /* late occurrences kept for the catch-up: a ring of the newest `burst` */
        size_t cap = pol->catchup == CATCHUP_ALL ? (size_t) pol->burst : 1, nlate = 0, head = 0;
        item *late = calloc(cap, sizeof *late);
        item ontime[64];
        size_t nontime = 0;
        if (!late) {
                exception_rows_free(exc, nexc);
                return err_set(err, -ENOMEM, "out of memory");
        }
        sked_time n = s->next_due;
        int64_t steps = 0;
        bool has_next = true;
        while (n <= upto && r >= 0) {
                if (n > now && nontime)
                        break; /* one occurrence fired ahead at a time */
                const exception_row *x = nexc ? find_exception(exc, nexc, n) : NULL;
                item it = {.nominal = n, .due = n, .params = x ? x->params : NULL};
                if (x && x->disabled) {
                        r = record_skip(&p, &it, "disabled", err);
                } else if (x && x->moved_to) {
                        /* fires at its new time, by fire_moves */
                } else if (n >= late_before) {
                        if (nontime < sizeof ontime / sizeof ontime[0] && (int) nontime < pol->burst)
                                ontime[nontime++] = it;
                        else
                                p.adv.missed++;
                } else if (pol->catchup == CATCHUP_NONE || n < window_start) {
                        p.adv.missed++;
                } else {
                        if (nlate == cap) {
                                p.adv.missed++; /* the oldest kept one drops out */
                                head = (head + 1) % cap;
                                nlate--;
                        }
                        late[(head + nlate++) % cap] = it;
                }
                sked_time next;
                if (++steps > MAX_WALK && n < late_before) {
                        /* a fine-grained rule after a long outage: jump ahead, far enough
                         * before the on-time ones for the catch-up to keep the newest late
                         * occurrences (burst of them, at the rule's average spacing) */
                        sked_time period = (n - s->next_due) / steps + 1;
                        sked_time target = late_before - (sked_time) (cap + 2) * period;
                        if (target < window_start)
                                target = window_start;
                        if (target > n && schedule_next(sp->sc, target - 1, &next) == 0 && next > n) {
                                p.adv.missed += (int64_t) nlate + 1; /* the kept ones, and at least one
                                                                      * skipped: not worth counting exactly */
                                nlate = head = 0;
                                n = next;
                                steps = 0;
                                continue;
                        }
                }
                if (schedule_next(sp->sc, n, &next) < 0) {
                        has_next = false;
                        break;
                }
                n = next;
        }
        /* latest: the newest late one runs only when nothing on time does */
        if (r >= 0 && pol->catchup == CATCHUP_LATEST && nlate && nontime) {
                p.adv.missed += (int64_t) nlate;
                nlate = 0;
        }
        size_t total = nlate + nontime;
        for (size_t i = 0; i < nlate && r >= 0; i++)
                r = fire_item(&p, &late[(head + i) % cap], i + 1 == total, err);
        for (size_t i = 0; i < nontime && r >= 0; i++)
                r = fire_item(&p, &ontime[i], nlate + i + 1 == total, err);
        free(late);
        /* params overrides point into exc: freed only now */
        exception_rows_free(exc, nexc);
        if (r < 0)
                return r;
        p.adv.has_next = has_next;
        p.adv.next_due = has_next ? n : 0;
        *ret_fired += p.fired;
        metrics_missed(e, s->type, p.adv.missed);
        return store_series_advance(e->st, s->id, &p.adv, err);
}

/* Occurrences moved one-off to a new time fire at that time, under the series'
 * catch-up policy (late beyond the tolerance and catch-up "none": missed). */
static int fire_moves(engine *e, sked_time now, int *ret_fired, sked_err *err) {
        exception_row *moves = NULL;
        size_t n = 0;
        int r = store_moves_due(e->st, now, DUE_BATCH, &moves, &n, err);
        for (size_t i = 0; i < n && r >= 0; i++) {
                series_row s = {0};
                if ((r = store_series_get(e->st, moves[i].series_id, &s, err)) < 0)
                        break;
                series_plan *sp = plan_for(e, &s);
                pass p = {.e = e,
                          .s = &s,
                          .sp = sp,
                          .now = now,
                          .adv = {.last_nominal = s.last_nominal, .keep_next = true}};
                item it = {.nominal = moves[i].nominal, .due = moves[i].moved_to, .params = moves[i].params};
                if (!sp) {
                        p.adv.missed++; /* its rule no longer parses (zone gone?): logged by plan_for */
                } else if (it.due < now - e->cfg.late_after_ms * 1000 &&
                           (sp->pol.catchup == CATCHUP_NONE ||
                            (sp->pol.catchup_window_ms && it.due < now - sp->pol.catchup_window_ms * 1000))) {
                        p.adv.missed++;
                } else {
                        r = fire_item(&p, &it, true, err);
                }
                if (r >= 0)
                        r = store_exception_set_fired(e->st, s.id, it.nominal, err);
                if (r >= 0)
                        r = store_series_advance(e->st, s.id, &p.adv, err);
                if (r >= 0)
                        metrics_missed(e, s.type, p.adv.missed);
                *ret_fired += p.fired;
                series_row_clear(&s);
        }
        exception_rows_free(moves, n);
        return r;
}

int engine_fire_due(engine *e, sked_time now, int *ret_fired, sked_err *err) {
        for (int batch = 0; batch < 64; batch++) {
                series_row *rows = NULL;
                size_t n = 0;
                int r = store_series_due(e->st, now, now + e->ahead, DUE_BATCH, &rows, &n, err);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n && r >= 0; i++)
                        r = fire_series(e, &rows[i], now, ret_fired, err);
                series_rows_free(rows, n);
                if (r < 0)
                        return r;
                if (n < DUE_BATCH)
                        break;
        }
        return fire_moves(e, now, ret_fired, err);
}

/* Fires what is due (poller role only), and finds when the next occurrence is. */
static int fire_work(engine *e, turn_ctx *t, sked_err *err) {
        int r = 0;
        if (t->role && !t->draining && (r = engine_fire_due(e, t->now, &t->fired, err)) < 0)
                return r;
        if (t->fired && (r = store_notify(e->st, err)) < 0) /* other nodes' workers may take them */
                return r;
        return store_next_fire_at(e->st, t->now, e->ahead, &t->next_due, &t->any_due, err);
}

/* draining fires nothing: due work must not wake it (it would spin) */
static sked_time fire_wake(engine *e, const turn_ctx *t) {
        (void) e;
        return t->role && !t->draining && t->any_due ? t->next_due : 0;
}

const turn_step fire_step = {"fire", 0, fire_work, NULL, fire_wake, NULL};
