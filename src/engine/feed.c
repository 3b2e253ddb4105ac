/* feed: the plan as an iCalendar feed (RFC 5545) that calendar programs subscribe
 * to.  A series whose rule a calendar program can expand exactly like sked (an
 * RRULE with the default DST rules, no jitter, no end or count of ours) is one
 * recurring event with EXDATE and RECURRENCE-ID overrides; any other series (cron,
 * intervals, DST overrides) is listed instance by instance over the range. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "sched/ics.h"
#include "sched/rrule.h"

#define FEED_SERIES_MAX 10000

/* Sub-daily rules can put two wall times on one instant around a DST gap, which
 * sked fires once and a calendar program shows twice: they are listed instead. */
static bool rrule_form(const series_row *s, const series_plan *sp) {
        const char *f = strstr(s->schedule, "FREQ=");
        bool coarse = f && (!strncmp(f + 5, "DAILY", 5) || !strncmp(f + 5, "WEEKLY", 6) ||
                            !strncmp(f + 5, "MONTHLY", 7) || !strncmp(f + 5, "YEARLY", 6));
        return coarse && !strcmp(schedule_kind(sp->sc), "rrule") && sp->pol.jitter_ms == 0 &&
               sp->pol.dst_gap != TZ_GAP_SKIP && (sp->pol.dst_repeat == 0 || sp->pol.dst_repeat == TZ_REPEAT_FIRST) &&
               !s->end_at && !s->count;
}

/* DTSTART: the first wall time of the rule from the series' start, or from the wall
 * time it is anchored at (series_anchor).  That start itself is often no instance
 * (created on a Wednesday, "FREQ=WEEKLY;BYDAY=MO"): RFC 5545 leaves such a set
 * undefined (some programs show DTSTART as an extra event).  The first instance
 * gives the same set: it lies in a period of the rule's INTERVAL phase and shares
 * the fields the rule takes from DTSTART. */
static void dtstart_of(const series_row *s, const series_plan *sp, char *buf, size_t len) {
        int64_t start;
        civil c;
        if (s->start_local && civil_parse(s->start_local, false, false, &c) == 0) {
                start = civil_to_seconds(&c);
        } else {
                sked_time anchor = series_anchor(s->schedule, s->created_at);
                schedule_local(sp->sc, anchor, &start, NULL);
        }
        const char *body = !strncmp(s->schedule, "RRULE:", 6) ? s->schedule + 6 : s->schedule;
        rrule *rr = NULL;
        rrule_iter *it = NULL;
        int64_t first;
        if (rrule_parse(body, start, &rr, NULL) == 0 && rrule_iter_new(rr, start, &it) == 0 &&
            rrule_iter_next(it, &first) == 0)
                start = first; /* else (exhausted) the start: the event has no instance either way */
        rrule_iter_free(it);
        rrule_free(rr);
        civil_from_seconds(start, &c);
        civil_format(&c, buf, len);
}

int engine_calendar_ics(engine *e, store *st, int64_t series_id, sked_time from, sked_time to, char **ret,
                        sked_err *err) {
        series_row *rows = NULL;
        size_t nrows = 0;
        int r;
        if (series_id) {
                rows = calloc(1, sizeof *rows);
                if (!rows)
                        return err_set(err, -ENOMEM, "out of memory");
                if ((r = store_series_get(st, series_id, rows, err)) < 0) {
                        free(rows);
                        return r;
                }
                nrows = 1;
        } else if ((r = store_series_list(st, NULL, 0, FEED_SERIES_MAX, false, &rows, &nrows, err)) < 0) {
                return r;
        }
        const series_plan **plans = calloc(nrows + 1, sizeof *plans);
        ics_series *is = calloc(nrows + 1, sizeof *is);
        ics_exception **ix = calloc(nrows + 1, sizeof *ix);
        exception_row *x = NULL;
        size_t nx = 0, n = 0;
        char(*dtstart)[24] = calloc(nrows + 1, sizeof *dtstart);
        if (!plans || !is || !ix || !dtstart)
                r = err_set(err, -ENOMEM, "out of memory");
        /* every exception: an RRULE master carries them whenever they are */
        if (r == 0)
                r = store_exceptions_list(st, series_id, INT64_MIN, INT64_MAX, 1000000, &x, &nx, err);
        /* the plans stay in use until the feed is written */
        pthread_mutex_lock(&e->plans_lock);
        for (size_t i = 0, xi = 0; i < nrows && r == 0; i++) {
                const series_row *s = &rows[i];
                if (!(plans[i] = engine_plan_cached(e, s)))
                        continue;
                while (xi < nx && x[xi].series_id < s->id)
                        xi++;
                size_t x0 = xi;
                while (xi < nx && x[xi].series_id == s->id)
                        xi++;
                if (xi > x0 && !(ix[i] = calloc(xi - x0, sizeof *ix[i]))) {
                        r = err_set(err, -ENOMEM, "out of memory");
                        break;
                }
                for (size_t k = x0; k < xi; k++)
                        ix[i][k - x0] = (ics_exception){.nominal = x[k].nominal,
                                                        .disabled = x[k].disabled,
                                                        .moved_to = x[k].moved_to,
                                                        .params_changed = x[k].params != NULL,
                                                        .note = x[k].note};
                const series_plan *sp = plans[i];
                int64_t dur = sp->te ? sp->te->t->timeout_ms / 1000 : 300;
                ics_series *o = &is[n++];
                *o = (ics_series){.id = s->id,
                                  .title = s->title,
                                  .type = s->type,
                                  .tz = s->tz,
                                  .sc = sp->sc,
                                  .paused = !s->enabled,
                                  .exc = ix[i],
                                  .nexc = xi - x0,
                                  .duration_s = dur < ICS_DURATION_MIN ? ICS_DURATION_MIN
                                                : dur > 3600           ? 3600
                                                                       : dur};
                if (rrule_form(s, sp)) {
                        dtstart_of(s, sp, dtstart[i], sizeof dtstart[i]);
                        o->rrule = s->schedule;
                        o->dtstart_local = dtstart[i];
                }
        }
        strbuf b = STRBUF_INIT;
        if (r == 0)
                r = ics_feed(&b, series_id ? rows[0].title : "sked", is, n, from, to, engine_now(e), err);
        pthread_mutex_unlock(&e->plans_lock);
        if (r == 0)
                *ret = strbuf_steal(&b);
        strbuf_free(&b);
        for (size_t i = 0; ix && i < nrows; i++)
                free(ix[i]);
        free(plans);
        free(ix);
        free(is);
        free(dtstart);
        exception_rows_free(x, nx);
        series_rows_free(rows, nrows);
        return r;
}
