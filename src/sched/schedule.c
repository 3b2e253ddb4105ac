/* schedule: RRULE, cron and interval schedules in a zone.  See schedule.h. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sched/cron.h"
#include "sched/interval.h"
#include "sched/rrule.h"
#include "sched/schedule.h"

#define DAY 86400LL
/* Offsets of a zone near an instant are gathered over ±2 days: wider than any
 * wall/instant distance (offsets stay within ±26h). */
#define NEAR (2 * DAY)
/* Cron searches give up after this many years without a match. */
#define CRON_HORIZON (400 * 366 * DAY)
/* Last wall time ever produced: 9999-12-31T23:59:59. */
#define WALL_MAX 253402300799LL
#define SCAN_MAX 100000

enum { K_RRULE, K_CRON, K_INTERVAL };

struct schedule {
        int kind;
        const tz_zone *zone;
        int gap, repeat;
        sked_time start; /* no occurrence before (cron, interval anchor) */
        sked_time end;   /* no occurrence after; INT64_MAX = none */
        cron_expr cron;
        rrule *rr;
        int64_t step; /* interval, seconds */
};

/* Lowest and highest offsets in force during [t - NEAR, t + NEAR] (seconds). */
static void near_offsets(const tz_zone *z, int64_t t, int32_t *ret_min, int32_t *ret_max) {
        sked_time at = (t - NEAR) * SKED_USEC, next;
        int32_t lo = tz_offset_at(z, at), hi = lo;
        for (int i = 0; i < 32 && tz_next_transition(z, at, &next) == 0 && next <= (t + NEAR) * SKED_USEC; i++) {
                int32_t o = tz_offset_at(z, next);
                lo = o < lo ? o : lo;
                hi = o > hi ? o : hi;
                at = next;
        }
        *ret_min = lo;
        *ret_max = hi;
}

/* A source of ascending wall times: cron (restricted hours) or RRULE. */
typedef struct walls {
        const schedule *s;
        rrule_iter *it;
        int64_t next_from, limit;
} walls;

static int walls_next(walls *w, int64_t *ret) {
        if (w->s->kind == K_RRULE)
                return rrule_iter_next(w->it, ret);
        int64_t l;
        if (w->next_from > w->limit || cron_next_wall(&w->s->cron, w->next_from, w->limit, &l) < 0)
                return -ENOENT;
        w->next_from = l + 1;
        *ret = l;
        return 0;
}

/* RRULE and restricted-hour cron: scan wall times from the earliest that could
 * resolve after `after`, keep the smallest resolved instant, and stop once no
 * later wall can resolve before it (resolution is monotonic except within a
 * day of a transition, hence the offset margins). */
static int next_by_walls(const schedule *s, sked_time after, sked_time *ret) {
        int64_t after_s = civil_floor_div(after, SKED_USEC);
        int32_t omin, omax;
        walls w = {s, NULL, 0, 0};
        sked_time best = 0;
        bool have = false;
        int64_t stop_wall = INT64_MAX;
        int r;

        near_offsets(s->zone, after_s, &omin, &omax);
        int64_t from = after_s + omin + 1;
        if (from > WALL_MAX)
                return -ENOENT;
        if (s->kind == K_RRULE) {
                if ((r = rrule_iter_new(s->rr, from, &w.it)) < 0)
                        return r;
        } else {
                w.next_from = from;
                w.limit = from + CRON_HORIZON < WALL_MAX ? from + CRON_HORIZON : WALL_MAX;
        }
        sked_time until_utc = INT64_MAX;
        if (s->rr)
                rrule_until_utc(s->rr, &until_utc);
        int64_t l;
        for (int i = 0; i < SCAN_MAX && walls_next(&w, &l) == 0; i++) {
                if (l > stop_wall)
                        break;
                /* Without a candidate yet, a wall far beyond UNTIL cannot resolve before it. */
                if (until_utc != INT64_MAX && l - 26 * 3600 > civil_floor_div(until_utc, SKED_USEC))
                        break;
                sked_time inst[2];
                int n = tz_resolve(s->zone, l, s->gap, s->repeat, inst);
                for (int j = 0; j < n; j++) {
                        if (inst[j] <= after || inst[j] > until_utc || (have && inst[j] >= best))
                                continue;
                        best = inst[j];
                        have = true;
                        int32_t lo, hi;
                        near_offsets(s->zone, civil_floor_div(best, SKED_USEC), &lo, &hi);
                        stop_wall = civil_floor_div(best, SKED_USEC) + hi;
                }
        }
        rrule_iter_free(w.it);
        if (!have)
                return -ENOENT;
        *ret = best;
        return 0;
}

/* Cron with every hour allowed: walk the zone's constant-offset stretches; in
 * each, wall time is instant + offset, so the first matching wall is the answer. */
static int next_by_instants(const schedule *s, sked_time after, sked_time *ret) {
        int64_t t = civil_floor_div(after, SKED_USEC) + 1;
        int64_t horizon = t + CRON_HORIZON;
        while (t < horizon) {
                int32_t off = tz_offset_at(s->zone, t * SKED_USEC);
                sked_time nt;
                int64_t stretch_end = horizon;
                if (tz_next_transition(s->zone, t * SKED_USEC, &nt) == 0 && civil_floor_div(nt, SKED_USEC) < horizon)
                        stretch_end = civil_floor_div(nt, SKED_USEC);
                int64_t l;
                if (t + off > WALL_MAX)
                        return -ENOENT;
                if (cron_next_wall(&s->cron, t + off, stretch_end - 1 + off, &l) == 0) {
                        *ret = (l - off) * SKED_USEC;
                        return 0;
                }
                t = stretch_end;
        }
        return -ENOENT;
}

int schedule_next(const schedule *s, sked_time after, sked_time *ret) {
        sked_time t;
        int r;
        if (after < s->start && s->start != INT64_MIN)
                after = s->start - 1;
        switch (s->kind) {
        case K_INTERVAL:
                r = interval_next(s->start, s->step, after, &t);
                break;
        case K_CRON:
                r = s->cron.all_hours ? next_by_instants(s, after, &t) : next_by_walls(s, after, &t);
                break;
        default:
                r = next_by_walls(s, after, &t);
                break;
        }
        if (r < 0)
                return r;
        if (t > s->end)
                return -ENOENT;
        *ret = t;
        return 0;
}

static int cmp_time(const void *a, const void *b) {
        sked_time x = *(const sked_time *) a, y = *(const sked_time *) b;
        return x < y ? -1 : x > y;
}

/* Lowest and highest offsets in force during [a, b] (seconds), with margins. */
static void range_offsets(const tz_zone *z, int64_t a, int64_t b, int32_t *ret_min, int32_t *ret_max) {
        sked_time at = (a - NEAR) * SKED_USEC, next;
        int32_t lo = tz_offset_at(z, at), hi = lo;
        for (int i = 0; i < 4096 && tz_next_transition(z, at, &next) == 0 && next <= (b + NEAR) * SKED_USEC; i++) {
                int32_t o = tz_offset_at(z, next);
                lo = o < lo ? o : lo;
                hi = o > hi ? o : hi;
                at = next;
        }
        *ret_min = lo;
        *ret_max = hi;
}

/* RRULE and restricted-hour cron over a range in one pass: one wall-time iterator
 * instead of one per occurrence (the calendar lists a week of thousands of series).
 * Returns -1 when `max` would cut the list: the caller then steps instead. */
static int list_by_walls(const schedule *s, sked_time from, sked_time to, sked_time *out, size_t max) {
        int64_t from_s = civil_floor_div(from, SKED_USEC), to_s = civil_floor_div(to, SKED_USEC) + 1;
        int32_t omin, omax;
        range_offsets(s->zone, from_s, to_s, &omin, &omax);
        walls w = {s, NULL, 0, 0};
        int64_t first = from_s + omin - 1;
        if (first > WALL_MAX)
                return 0;
        if (s->kind == K_RRULE) {
                if (rrule_iter_new(s->rr, first, &w.it) < 0)
                        return -1;
        } else {
                w.next_from = first;
                w.limit = to_s + omax < WALL_MAX ? to_s + omax : WALL_MAX;
        }
        sked_time until_utc = INT64_MAX, lo = from > s->start ? from : s->start;
        if (s->rr)
                rrule_until_utc(s->rr, &until_utc);
        size_t n = 0;
        int64_t l;
        int r = 0;
        /* walls far enough past the end or UNTIL cannot resolve before it (offsets
         * stay within 26 hours): stop there, not at the range's end */
        sked_time stop = until_utc < s->end ? until_utc : s->end;
        int64_t stop_wall = stop == INT64_MAX ? INT64_MAX : civil_floor_div(stop, SKED_USEC) + 26 * 3600;
        while (walls_next(&w, &l) == 0 && l <= to_s + omax && l <= stop_wall) {
                sked_time inst[2];
                int k = tz_resolve(s->zone, l, s->gap, s->repeat, inst);
                for (int j = 0; j < k; j++) {
                        if (inst[j] < lo || inst[j] >= to || inst[j] > until_utc || inst[j] > s->end)
                                continue;
                        if (n == max) {
                                r = -1;
                                goto out;
                        }
                        out[n++] = inst[j];
                }
        }
        /* resolution is monotonic except around a transition: sort, and instants that
         * coincide fire once */
        qsort(out, n, sizeof *out, cmp_time);
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
                if (m == 0 || out[i] != out[m - 1])
                        out[m++] = out[i];
        r = (int) m;
out:
        rrule_iter_free(w.it);
        return r;
}

int schedule_list(const schedule *s, sked_time from, sked_time to, sked_time *out, size_t max) {
        if (max == 0 || to <= from)
                return 0;
        if ((s->kind == K_RRULE || (s->kind == K_CRON && !s->cron.all_hours)) && max <= INT32_MAX) {
                int n = list_by_walls(s, from, to, out, max);
                if (n >= 0)
                        return n;
        }
        size_t n = 0;
        sked_time t = from - 1;
        while (n < max && schedule_next(s, t, &t) == 0 && t < to)
                out[n++] = t;
        return (int) n;
}

void schedule_local(const schedule *s, sked_time t, int64_t *ret_local, int32_t *ret_offset) {
        tz_local(s->zone, t, ret_local, ret_offset);
}

void schedule_format(const schedule *s, sked_time t, char *ret_utc, char *ret_local) {
        int64_t local;
        int32_t offset;
        civil c;
        char wall[32], off[16];
        schedule_local(s, t, &local, &offset);
        civil_from_seconds(local, &c);
        civil_format(&c, wall, sizeof wall);
        tz_format_offset(offset, off, sizeof off);
        time_format_utc(t, ret_utc, SCHEDULE_UTC_TEXT);
        snprintf(ret_local, SCHEDULE_LOCAL_TEXT, "%s%s", wall, off);
}

const char *schedule_kind(const schedule *s) {
        return s->kind == K_RRULE ? "rrule" : s->kind == K_CRON ? "cron" : "interval";
}

const tz_zone *schedule_zone(const schedule *s) {
        return s->zone;
}

void schedule_free(schedule *s) {
        if (!s)
                return;
        rrule_free(s->rr);
        free(s);
}

static bool has_prefix(const char *s, const char *p) {
        return !strncasecmp(s, p, strlen(p));
}

/* True when text looks like bare cron fields: 5 or 6 words. */
static bool looks_like_cron(const char *t) {
        int words = 0;
        for (const char *p = t; *p;) {
                while (isspace((unsigned char) *p))
                        p++;
                if (!*p)
                        break;
                words++;
                while (*p && !isspace((unsigned char) *p))
                        p++;
        }
        return words == 5 || words == 6;
}

int schedule_parse(const char *spec, const schedule_opts *opts, schedule **ret, sked_err *err) {
        schedule_opts def = {0};
        schedule *s = NULL;
        int r;
        civil c;

        if (!opts)
                opts = &def;
        if (!spec)
                return err_set(err, -EINVAL, "schedule: missing");
        if (strlen(spec) > SCHEDULE_SPEC_MAX)
                return err_set(err, -EINVAL, "schedule: longer than %d characters", SCHEDULE_SPEC_MAX);
        while (isspace((unsigned char) *spec))
                spec++;
        if (opts->gap_policy < 0 || opts->gap_policy > TZ_GAP_SKIP)
                return err_set(err, -EINVAL, "schedule: unknown gap policy %d", opts->gap_policy);
        if (opts->repeat_policy < 0 || opts->repeat_policy > TZ_REPEAT_BOTH)
                return err_set(err, -EINVAL, "schedule: unknown repeat policy %d", opts->repeat_policy);
        if (opts->count < 0 || opts->count > SCHEDULE_COUNT_MAX)
                return err_set(err, -EINVAL, "schedule: count must be 0..%d", SCHEDULE_COUNT_MAX);

        s = calloc(1, sizeof *s);
        if (!s)
                return err_set(err, -ENOMEM, "schedule: out of memory");
        s->gap = opts->gap_policy ? opts->gap_policy : TZ_GAP_SHIFT;
        s->repeat = opts->repeat_policy ? opts->repeat_policy : TZ_REPEAT_FIRST;
        s->end = opts->end ? opts->end : INT64_MAX;
        if ((r = tz_load(opts->tz ? opts->tz : "UTC", &s->zone, err)) < 0)
                goto fail;

        int64_t start_local;
        if (opts->start_local) {
                if (civil_parse(opts->start_local, false, false, &c) < 0) {
                        r = err_set(err, -EINVAL,
                                    "start \"%.64s\": expected a wall time "
                                    "YYYY-MM-DDTHH:MM:SS",
                                    opts->start_local);
                        goto fail;
                }
                start_local = civil_to_seconds(&c);
                sked_time inst[2];
                /* The earliest instant: a start in a gap shifts, a repeated one is its first copy. */
                int n = tz_resolve(s->zone, start_local, TZ_GAP_SHIFT, TZ_REPEAT_FIRST, inst);
                s->start = n > 0 ? inst[0] : (start_local - tz_offset_at(s->zone, start_local * SKED_USEC)) * SKED_USEC;
        } else {
                tz_local(s->zone, opts->anchor, &start_local, NULL);
                s->start = opts->anchor;
        }

        const char *body = spec;
        if (has_prefix(spec, "RRULE:") || has_prefix(spec, "FREQ=")) {
                body = has_prefix(spec, "RRULE:") ? spec + 6 : spec;
                s->kind = K_RRULE;
                s->start = INT64_MIN; /* DTSTART bounds the walls; resolution may go earlier */
                r = rrule_parse(body, start_local, &s->rr, err);
        } else if (has_prefix(spec, "cron:") || spec[0] == '@' || looks_like_cron(spec)) {
                body = has_prefix(spec, "cron:") ? spec + 5 : spec;
                s->kind = K_CRON;
                r = cron_parse(body, &s->cron, err);
        } else if (has_prefix(spec, "every:") || has_prefix(spec, "every ")) {
                body = spec + 6;
                while (isspace((unsigned char) *body))
                        body++;
                s->kind = K_INTERVAL;
                r = interval_parse(body, &s->step, err);
        } else {
                r = err_set(err, -EINVAL,
                            "schedule \"%.64s\": expected RRULE:<rule>, cron:<fields> "
                            "or every:<duration>",
                            spec);
        }
        if (r < 0)
                goto fail;

        /* A schedule that never fires is refused, whatever the reason: a rule whose
         * parts never meet (refused by rrule_parse or cron_parse), a UTC UNTIL before
         * the start, an end before the first occurrence. */
        sked_time first, before = s->kind == K_RRULE ? (start_local - NEAR) * SKED_USEC : s->start - 1;
        sked_time end = s->end;
        s->end = INT64_MAX;
        if (schedule_next(s, before, &first) < 0) {
                r = s->kind == K_RRULE ? err_set(err, -EINVAL,
                                                 "rrule \"%s\": the rule produces no occurrence (UNTIL is "
                                                 "before the start)",
                                                 body)
                                       : err_set(err, -EINVAL, "schedule \"%.64s\": produces no occurrence", spec);
                goto fail;
        }
        s->end = end;
        if (first > end) {
                char a[32], b[32];
                time_format_utc(end, a, sizeof a);
                time_format_utc(first, b, sizeof b);
                r = err_set(err, -EINVAL, "end \"%s\": before the schedule's first occurrence (%s): it never fires", a,
                            b);
                goto fail;
        }
        if (opts->count > 0) {
                /* Count from the start: walk once and turn COUNT into an end instant. */
                sked_time t = before;
                int64_t i = 0;
                while (i < opts->count && schedule_next(s, t, &t) == 0)
                        i++;
                if (i == opts->count && t < s->end)
                        s->end = t;
        }
        *ret = s;
        return 0;
fail:
        schedule_free(s);
        return r;
}
