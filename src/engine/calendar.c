/* calendar: the plan as people see it.  Occurrences of series in a range: future
 * ones from the rules and one-off changes, past ones from what was recorded (runs,
 * skips), in the viewer's zone.  One-off changes themselves are made in occurrence.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/calendar.h"
#include "engine/engine_internal.h"
#include "base/strbuf.h"

#define MEMO_MAX 20000    /* instants one plan may memoize (a minutely rule's two weeks) */
#define SERIES_MAX 100000 /* series one calendar request covers */

/* One occurrence to show. */
typedef struct occ {
        const series_row *s;
        sked_time nominal, start; /* start: when it runs (moved, jittered) */
        const char *state;        /* planned, due, missed, paused, skipped, disabled, or a run state */
        const char *skip_reason;  /* may be NULL */
        const char *trigger;
        bool moved, disabled, params; /* one-off changes */
        const exception_row *x;       /* may be NULL */
        const occurrence_rec *rec;    /* may be NULL */
} occ;

typedef struct occ_list {
        occ *v;
        size_t n, cap;
        size_t keep; /* the reply's limit: the earliest `keep` are all that matter */
        bool truncated;
        sked_time dropped_min; /* the earliest start dropped to stay within keep */
} occ_list;

#define OCC_LIST(limit)                                                                                                \
        { .keep = (size_t) (limit), .dropped_min = INT64_MAX }

static int occ_cmp(const void *a, const void *b);

static int push(occ_list *l, const occ *o) {
        if (l->keep && l->n >= 2 * l->keep + 1024) {
                /* more than the reply can hold: keep the earliest, so memory stays
                 * bounded whatever the range and the order series are expanded in */
                qsort(l->v, l->n, sizeof *l->v, occ_cmp);
                if (l->v[l->keep].start < l->dropped_min)
                        l->dropped_min = l->v[l->keep].start;
                l->n = l->keep;
                l->truncated = true;
        }
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 256;
                occ *p = realloc(l->v, cap * sizeof *p);
                if (!p)
                        return -ENOMEM;
                l->v = p;
                l->cap = cap;
        }
        l->v[l->n++] = *o;
        return 0;
}

static const exception_row *find_x(const exception_row *x, size_t n, sked_time nominal) {
        for (size_t i = 0; i < n; i++)
                if (x[i].nominal == nominal)
                        return &x[i];
        return NULL;
}

/* The state of an occurrence nothing was recorded for. */
static const char *unrecorded_state(const series_row *s, sked_time t, sked_time now) {
        if (!s->enabled || !s->feature_on)
                return "paused";
        if (t > now)
                return "planned";
        return s->has_next && t >= s->next_due ? "due" : "missed";
}

static void from_record(occ *o, const occurrence_rec *rec, sked_time now) {
        o->rec = rec;
        o->trigger = rec->trigger;
        if (rec->skipped[0]) {
                o->state = "skipped";
                o->skip_reason = rec->skipped;
        } else if (!strcmp(rec->state, "running") && rec->started_at > now) {
                o->state = "queued"; /* claimed ahead of its time (look-ahead): not started */
        } else {
                o->state = rec->state[0] ? rec->state : "fired";
        }
}

/* Adds the occurrences of one series in [from, to) to l.  rec/x: what the store
 * has for this series (records by nominal, exceptions by nominal). */
/* memo (may be NULL): sp itself when it is a plan of the calling thread's cache. */
static int expand(const series_row *s, const series_plan *sp, series_plan *memo, sked_time from, sked_time to,
                  sked_time now, const occurrence_rec *rec, size_t nrec, const exception_row *x, size_t nx,
                  sked_time *inst, size_t cap, occ_list *l) {
        size_t ri = 0, ii = 0;
        /* the rule's instants in one pass (schedule_list), merged with the records */
        int ni;
        const plan_memo *m = memo ? memo->memo : NULL;
        if (m && m->from == from && m->to == to && (size_t) m->n < cap) {
                ni = m->n;
                inst = (sked_time *) m->at;
        } else {
                ni = schedule_list(sp->sc, from, to, inst, cap);
                if (ni < 0)
                        ni = 0;
                /* memoize weeks, not huge ranges: the memo lives as long as the plan */
                plan_memo *keep = memo && (size_t) ni < cap && ni <= MEMO_MAX
                                          ? malloc(sizeof *keep + (size_t) ni * sizeof keep->at[0])
                                          : NULL;
                if (keep) {
                        memcpy(keep->at, inst, (size_t) ni * sizeof keep->at[0]);
                        keep->from = from;
                        keep->to = to;
                        keep->n = ni;
                        free(memo->memo);
                        memo->memo = keep;
                }
        }
        if ((size_t) ni == cap)
                l->truncated = true;
        sked_time t = ni > 0 ? inst[0] : 0;
        bool more = ni > 0;
        int r = 0;
        while (ri < nrec && !strcmp(rec[ri].trigger, "manual"))
                ri++;
        while (r == 0 && (more || ri < nrec)) {
                const occurrence_rec *rc = ri < nrec ? &rec[ri] : NULL;
                occ o = {.s = s, .trigger = "schedule"};
                if (rc && (!more || rc->nominal <= t)) {
                        /* what happened (possibly at an instant the rule no longer has) */
                        ri++;
                        while (ri < nrec && !strcmp(rec[ri].trigger, "manual"))
                                ri++; /* listed by add_manual */
                        if (more && rc->nominal == t) {
                                more = ++ii < (size_t) ni;
                                t = more ? inst[ii] : 0;
                        }
                        o.nominal = o.start = rc->nominal;
                        o.x = find_x(x, nx, rc->nominal);
                        if (o.x && o.x->moved_to) {
                                o.start = o.x->moved_to;
                                if (o.start < from || o.start >= to)
                                        continue; /* shown on the day it moved to */
                        }
                        from_record(&o, rc, now);
                } else {
                        o.nominal = o.start = t;
                        more = ++ii < (size_t) ni;
                        t = more ? inst[ii] : 0;
                        if (o.nominal < s->created_at - s->created_at % SKED_USEC)
                                continue;
                        o.x = find_x(x, nx, o.nominal);
                        if (o.x && o.x->moved_to && !o.x->disabled)
                                continue; /* listed at its new time below */
                        if (o.x && o.x->disabled)
                                o.state = "disabled";
                        else
                                o.state = unrecorded_state(s, o.nominal, now);
                        if (!strcmp(o.state, "planned") && sp->nsleep &&
                            sleep_contains(sp->sleep, sp->nsleep, o.nominal)) {
                                /* the poller will skip it: say so ahead */
                                o.state = "skipped";
                                o.skip_reason = "sleep";
                        }
                        if (!strcmp(o.state, "planned") || !strcmp(o.state, "due"))
                                o.start += series_jitter(s, sp, o.nominal);
                }
                if (o.x) {
                        o.moved = o.x->moved_to != 0;
                        o.disabled = o.x->disabled;
                        o.params = o.x->params != NULL;
                }
                r = push(l, &o);
        }
        /* occurrences moved into [from, to) that have not fired */
        for (size_t i = 0; i < nx && r == 0; i++) {
                if (!x[i].moved_to || x[i].disabled || x[i].moved_to < from || x[i].moved_to >= to)
                        continue;
                bool recorded = false;
                for (size_t k = 0; k < nrec; k++)
                        recorded |= rec[k].nominal == x[i].nominal && strcmp(rec[k].trigger, "manual") != 0;
                if (recorded)
                        continue; /* already listed from its record */
                occ o = {.s = s,
                         .trigger = "schedule",
                         .nominal = x[i].nominal,
                         .start = x[i].moved_to,
                         .x = &x[i],
                         .moved = true,
                         .params = x[i].params != NULL};
                o.state = x[i].fired                      ? "missed"
                          : !s->enabled || !s->feature_on ? "paused"
                          : x[i].moved_to > now           ? "planned"
                                                          : "due";
                if (!strcmp(o.state, "planned") && sp->nsleep && sleep_contains(sp->sleep, sp->nsleep, o.start)) {
                        o.state = "skipped";
                        o.skip_reason = "sleep";
                }
                r = push(l, &o);
        }
        return r;
}

static int occ_cmp(const void *a, const void *b) {
        const occ *x = a, *y = b;
        if (x->start != y->start)
                return x->start < y->start ? -1 : 1;
        if (x->s->id != y->s->id)
                return x->s->id < y->s->id ? -1 : 1;
        return x->nominal < y->nominal ? -1 : x->nominal > y->nominal;
}

/* Sort keys next to each other in memory: comparing through pointers to the
 * entries missed the cache on every comparison. */
typedef struct occ_key {
        sked_time start;
        int64_t series_id;
        sked_time nominal;
        const occ *o;
} occ_key;

static int occ_key_cmp(const void *a, const void *b) {
        const occ_key *x = a, *y = b;
        if (x->start != y->start)
                return x->start < y->start ? -1 : 1;
        if (x->series_id != y->series_id)
                return x->series_id < y->series_id ? -1 : 1;
        return x->nominal < y->nominal ? -1 : x->nominal > y->nominal;
}

/* Hand-written number and date formatting: a week of 100,000 occurrences spends
 * most of its time here, and snprintf was the largest part of it. */
static char *fmt_u(char *p, uint64_t v, int width) {
        char tmp[24];
        int n = 0;
        do {
                tmp[n++] = (char) ('0' + v % 10);
                v /= 10;
        } while (v);
        while (n < width)
                tmp[n++] = '0';
        while (n)
                *p++ = tmp[--n];
        return p;
}

static void put_i64(strbuf *b, int64_t v) {
        char buf[24], *p = buf;
        if (v < 0) {
                *p++ = '-';
                p = fmt_u(p, (uint64_t) 0 - (uint64_t) v, 1);
        } else {
                p = fmt_u(p, (uint64_t) v, 1);
        }
        strbuf_append(b, buf, (size_t) (p - buf));
}

/* Wall-time text of instants in one zone, the offset cached while it holds. */
typedef struct wallfmt {
        const tz_zone *z;
        sked_time valid_from, valid_to; /* the offset is constant in [from, to) */
        int32_t off;
        char offs[16];
        size_t offs_len;
} wallfmt;

static int32_t wall_offset(wallfmt *w, sked_time t) {
        if (t < w->valid_from || t >= w->valid_to) {
                w->off = tz_offset_at(w->z, t);
                tz_format_offset(w->off, w->offs, sizeof w->offs);
                w->offs_len = strlen(w->offs);
                sked_time next;
                w->valid_from = t;
                w->valid_to = tz_next_transition(w->z, t, &next) == 0 ? next : INT64_MAX;
        }
        return w->off;
}

/* loc: "2026-11-23T11:30:00+01:00" (NUL-terminated, len >= 48). */
static void wall_text(wallfmt *w, sked_time t, char *loc, size_t len, char day[11], char hm[6]) {
        (void) len;
        int32_t off = wall_offset(w, t);
        char *p = civil_put_wall(loc, time_seconds(t) + off, false);
        memcpy(p, w->offs, w->offs_len + 1);
        memcpy(day, loc, 10);
        day[10] = '\0';
        memcpy(hm, loc + 11, 5);
        hm[5] = '\0';
}

/* "2026-03-08T03:30:00-04:00" (buf >= 48 bytes). */
static void local_text(const tz_zone *z, sked_time t, char *buf, size_t len) {
        wallfmt w = {.z = z, .valid_to = INT64_MIN};
        char day[12], hm[8];
        wall_text(&w, t, buf, len, day, hm);
}

/* The JSON of one occurrence; `z` the zone of "local" (viewer's or series'). */
static json_t *occ_json(const occ *o, const tz_zone *z) {
        char at[32], nat[32], loc[48];
        time_format_utc(o->start, at, sizeof at);
        time_format_utc(o->nominal, nat, sizeof nat);
        json_t *j = json_object();
        /* a series' own listing: keyed by the nominal instant, in the series' zone */
        local_text(z, o->nominal, loc, sizeof loc);
        json_object_set_new(j, "nominal", json_integer(o->nominal));
        json_object_set_new(j, "at", json_string(nat));
        json_object_set_new(j, "local", json_string(loc));
        if (o->start != o->nominal) {
                local_text(z, o->start, loc, sizeof loc);
                json_object_set_new(j, "start", json_integer(o->start));
                json_object_set_new(j, "start_at", json_string(at));
                json_object_set_new(j, "start_local", json_string(loc));
        }
        json_object_set_new(j, "state", json_string(o->state));
        const char *change = o->disabled ? "disabled" : o->moved ? "moved" : o->params ? "params" : NULL;
        json_object_set_new(j, "change", change ? json_string(change) : json_null());
        json_t *changes = json_array();
        if (o->moved)
                json_array_append_new(changes, json_string("moved"));
        if (o->disabled)
                json_array_append_new(changes, json_string("disabled"));
        if (o->params)
                json_array_append_new(changes, json_string("params"));
        json_object_set_new(j, "changes", changes);
        json_object_set_new(j, "skip_reason", o->skip_reason ? json_string(o->skip_reason) : json_null());
        json_object_set_new(j, "run_id", o->rec && o->rec->run_id ? json_integer(o->rec->run_id) : json_null());
        json_object_set_new(j, "attempt", o->rec && o->rec->run_id ? json_integer(o->rec->attempt) : json_null());
        json_object_set_new(j, "trigger", json_string(o->trigger));
        if (o->x && o->x->note)
                json_object_set_new(j, "note", json_string(o->x->note));
        if (o->x && o->x->params) {
                json_error_t je;
                json_t *p = json_loads(o->x->params, 0, &je);
                if (p)
                        json_object_set_new(j, "params", p);
        }
        return j;
}

/* Manual runs are listed with the series' occurrences, at their instant. */
static int add_manual(const series_row *s, const occurrence_rec *rec, size_t nrec, sked_time from, sked_time to,
                      sked_time now, occ_list *l) {
        int r = 0;
        for (size_t i = 0; i < nrec && r == 0; i++) {
                if (strcmp(rec[i].trigger, "manual") || rec[i].nominal < from || rec[i].nominal >= to)
                        continue;
                occ o = {.s = s, .nominal = rec[i].nominal, .start = rec[i].nominal, .trigger = "manual"};
                from_record(&o, &rec[i], now);
                r = push(l, &o);
        }
        return r;
}

static int cmp_rec(const void *a, const void *b) {
        const occurrence_rec *x = a, *y = b;
        if (x->series_id != y->series_id)
                return x->series_id < y->series_id ? -1 : 1;
        return x->nominal < y->nominal ? -1 : x->nominal > y->nominal;
}

/* Occurrences moved into [from, to) from outside it: their records are filed under
 * their nominal instant, outside the range read; add them, so that one that ran
 * shows its run, not "missed". */
static int add_moved_records(store *st, const exception_row *x, size_t nx, sked_time from, sked_time to,
                             occurrence_rec **rec, size_t *nrec, sked_err *err) {
        for (size_t i = 0; i < nx; i++) {
                if (!x[i].fired || !x[i].moved_to || x[i].moved_to < from || x[i].moved_to >= to ||
                    (x[i].nominal >= from && x[i].nominal < to))
                        continue;
                occurrence_rec *more = NULL;
                size_t n = 0;
                int r = store_occurrences_range(st, x[i].series_id, x[i].nominal, x[i].nominal + 1, 4, &more, &n, err);
                if (r < 0)
                        return r;
                occurrence_rec *p = n ? realloc(*rec, (*nrec + n) * sizeof *p) : *rec;
                if (!p) {
                        free(more);
                        return err_set(err, -ENOMEM, "out of memory");
                }
                memcpy(p + *nrec, more, n * sizeof *p);
                *rec = p;
                *nrec += n;
                free(more);
        }
        return 0;
}

/* Where a cut listing continues (0: it was not cut): the start of the first
 * occurrence left out (`first_out`: the one after the limit in the sorted list, or
 * one dropped earlier to stay within it), or when only the rule's expansion stopped
 * at its cap, just after the last one given (`last`, or `from` when none was). */
static sked_time cut_point(const occ_list *l, sked_time first_out, sked_time last, sked_time from) {
        sked_time t = first_out < l->dropped_min ? first_out : l->dropped_min;
        if (t != INT64_MAX)
                return t;
        if (!l->truncated)
                return 0;
        return last != INT64_MIN ? last + 1 : from;
}

int engine_series_occurrences(engine *e, store *st, const series_row *s, sked_time from, sked_time to, int limit,
                              json_t **ret, sked_time *ret_next_from, sked_err *err) {
        occurrence_rec *rec = NULL;
        exception_row *x = NULL;
        size_t nrec = 0, nx = 0, cap = (size_t) limit + 1;
        series_plan *sp = NULL;
        occ_list l = OCC_LIST(limit);
        sked_time *inst = calloc(cap, sizeof *inst);
        int r = inst ? 0 : err_set(err, -ENOMEM, "out of memory");
        if (r == 0)
                r = store_occurrences_range(st, s->id, from, to, limit * 2 + 16, &rec, &nrec, err);
        if (r == 0)
                r = store_exceptions_list(st, s->id, from, to, 100000, &x, &nx, err);
        if (r == 0 && (r = add_moved_records(st, x, nx, from, to, &rec, &nrec, err)) == 0 && nrec)
                qsort(rec, nrec, sizeof *rec, cmp_rec);
        if (r == 0)
                r = series_plan_build(e, s, &sp, err);
        if (r == 0 && (expand(s, sp, NULL, from, to, engine_now(e), rec, nrec, x, nx, inst, cap, &l) < 0 ||
                       add_manual(s, rec, nrec, from, to, engine_now(e), &l) < 0))
                r = err_set(err, -ENOMEM, "out of memory");
        if (r == 0) {
                if (l.n)
                        qsort(l.v, l.n, sizeof *l.v, occ_cmp);
                json_t *out = json_array();
                for (size_t i = 0; i < l.n && i < (size_t) limit; i++)
                        json_array_append_new(out, occ_json(&l.v[i], schedule_zone(sp->sc)));
                *ret = out;
                if (ret_next_from) {
                        size_t shown = l.n < (size_t) limit ? l.n : (size_t) limit;
                        *ret_next_from = cut_point(&l, l.n > (size_t) limit ? l.v[limit].start : INT64_MAX,
                                                   shown ? l.v[shown - 1].start : INT64_MIN, from);
                }
        }
        free(inst);
        free(l.v);
        free(rec);
        exception_rows_free(x, nx);
        series_plan_free(sp);
        return r;
}

/* ---- the calendar ---- */

static int cmp_series(const void *a, const void *b) {
        const series_row *x = a, *y = b;
        return x->id < y->id ? -1 : x->id > y->id;
}

/* A JSON string.  Text in the store came in as JSON (valid UTF-8): only quotes,
 * backslashes and control characters need escaping. */
static void put_str(strbuf *b, const char *v) {
        if (!v) {
                strbuf_puts(b, "null");
                return;
        }
        strbuf_putc(b, '"');
        const char *run = v;
        for (const char *p = v; *p; p++) {
                unsigned char c = (unsigned char) *p;
                if (c >= 0x20 && c != '"' && c != '\\')
                        continue;
                strbuf_append(b, run, (size_t) (p - run));
                if (c == '"' || c == '\\')
                        strbuf_printf(b, "\\%c", c);
                else
                        strbuf_printf(b, "\\u%04x", c);
                run = p + 1;
        }
        strbuf_puts(b, run);
        strbuf_putc(b, '"');
}

static void put_utc(strbuf *b, sked_time t) {
        char buf[24], *p = buf;
        *p++ = '"';
        p = civil_put_wall(p, time_seconds(t), false);
        *p++ = 'Z';
        *p++ = '"';
        strbuf_append(b, buf, (size_t) (p - buf));
}

#define PUT(b, lit) strbuf_append((b), (lit), sizeof(lit) - 1)

/* One occurrence of the calendar.  The series' title, type and zone are in the
 * reply's "series" list, not repeated here. */
static void put_occ(strbuf *b, const occ *o, wallfmt *w) {
        char loc[48], day[12], hm[8];
        wall_text(w, o->start, loc, sizeof loc, day, hm);
        PUT(b, "{\"series_id\":");
        put_i64(b, o->s->id);
        PUT(b, ",\"nominal\":");
        put_i64(b, o->nominal);
        PUT(b, ",\"nominal_at\":");
        put_utc(b, o->nominal);
        PUT(b, ",\"start\":");
        put_i64(b, o->start);
        PUT(b, ",\"at\":");
        put_utc(b, o->start);
        PUT(b, ",\"local\":\"");
        strbuf_puts(b, loc);
        PUT(b, "\",\"day\":\"");
        strbuf_append(b, day, 10);
        PUT(b, "\",\"time\":\"");
        strbuf_append(b, hm, 5);
        PUT(b, "\",\"state\":\"");
        strbuf_puts(b, o->state);
        PUT(b, "\",\"change\":");
        const char *change = o->disabled ? "disabled" : o->moved ? "moved" : o->params ? "params" : NULL;
        put_str(b, change);
        if (!o->moved && !o->disabled && !o->params) {
                PUT(b, ",\"changes\":[]");
        } else {
                strbuf_printf(b, ",\"changes\":[%s%s%s%s%s]", o->moved ? "\"moved\"" : "",
                              o->moved && (o->disabled || o->params) ? "," : "", o->disabled ? "\"disabled\"" : "",
                              o->disabled && o->params ? "," : "", o->params ? "\"params\"" : "");
        }
        PUT(b, ",\"skip_reason\":");
        put_str(b, o->skip_reason);
        if (o->rec && o->rec->run_id) {
                PUT(b, ",\"run_id\":");
                put_i64(b, o->rec->run_id);
                PUT(b, ",\"attempt\":");
                put_i64(b, o->rec->attempt);
        } else {
                PUT(b, ",\"run_id\":null,\"attempt\":null");
        }
        PUT(b, ",\"trigger\":\"");
        strbuf_puts(b, o->trigger);
        strbuf_putc(b, '"');
        if (o->x && o->x->note) {
                PUT(b, ",\"note\":");
                put_str(b, o->x->note);
        }
        if (o->x && o->x->params) {
                PUT(b, ",\"params\":");
                strbuf_puts(b, o->x->params); /* stored as compact JSON */
        }
        strbuf_putc(b, '}');
}

/* ---- blocks: a dense series' occurrences, one block per hour (group_hour) ---- */

typedef struct block_key {
        size_t series; /* index in rows */
        sked_time start;
        const occ *o;
} block_key;

static int block_key_cmp(const void *a, const void *b) {
        const block_key *x = a, *y = b;
        if (x->series != y->series)
                return x->series < y->series ? -1 : 1;
        return x->start < y->start ? -1 : x->start > y->start;
}

/* The start (instant) of the viewer's hour that holds t. */
static sked_time hour_start(wallfmt *w, sked_time t) {
        int64_t local = time_seconds(t) + wall_offset(w, t);
        int64_t h = civil_floor_div(local, 3600) * 3600;
        return (h - w->off) * SKED_USEC;
}

#define BLOCK_STATES 8

/* Writes ,"blocks":[...] for the shown occurrences of the dense series (dense[i] for
 * rows[i]): each {"series_id", "from", "to", "local", "day", "time", "count",
 * "states": {STATE: N}}, by series, then time.  Returns -ENOMEM or 0. */
static int put_blocks(strbuf *b, const occ_key *order, size_t n, const series_row *rows, const bool *dense,
                      wallfmt *w) {
        size_t nd = 0;
        for (size_t i = 0; i < n; i++)
                nd += dense[order[i].o->s - rows];
        block_key *k = calloc(nd + 1, sizeof *k);
        if (!k)
                return -ENOMEM;
        nd = 0;
        for (size_t i = 0; i < n; i++) {
                size_t si = (size_t) (order[i].o->s - rows);
                if (dense[si])
                        k[nd++] = (block_key){si, order[i].o->start, order[i].o};
        }
        qsort(k, nd, sizeof *k, block_key_cmp);
        strbuf_puts(b, ",\"blocks\":[");
        for (size_t i = 0, first = 1; i < nd; first = 0) {
                sked_time h = hour_start(w, k[i].start);
                const char *state[BLOCK_STATES];
                int64_t count[BLOCK_STATES], total = 0;
                int ns = 0;
                size_t j = i;
                for (; j < nd && k[j].series == k[i].series && k[j].start < h + 3600 * SKED_USEC; j++) {
                        int q = 0;
                        while (q < ns && strcmp(state[q], k[j].o->state) != 0)
                                q++;
                        if (q == ns && ns < BLOCK_STATES) {
                                state[ns] = k[j].o->state;
                                count[ns++] = 0;
                        }
                        if (q < ns)
                                count[q]++;
                        total++;
                }
                char loc[48], day[12], hm[8];
                wall_text(w, h, loc, sizeof loc, day, hm);
                strbuf_printf(b, "%s{\"series_id\":%lld,\"from\":", first ? "" : ",", (long long) rows[k[i].series].id);
                put_utc(b, h);
                strbuf_puts(b, ",\"to\":");
                put_utc(b, h + 3600 * SKED_USEC);
                strbuf_printf(b, ",\"local\":\"%s\",\"day\":\"%s\",\"time\":\"%s\",\"count\":%lld,\"states\":{", loc,
                              day, hm, (long long) total);
                for (int q = 0; q < ns; q++)
                        strbuf_printf(b, "%s\"%s\":%lld", q ? "," : "", state[q], (long long) count[q]);
                strbuf_puts(b, "}}");
                i = j;
        }
        strbuf_putc(b, ']');
        free(k);
        return 0;
}

int engine_calendar(engine *e, store *st, const calendar_query *q, char **ret, sked_err *err) {
        const tz_zone *vz;
        int r = tz_load(q->tz ? q->tz : "UTC", &vz, err);
        if (r < 0)
                return err_prefix(err, "tz");
        series_row *rows = NULL;
        size_t nrows = 0;
        occurrence_rec *rec = NULL;
        exception_row *x = NULL;
        size_t nrec = 0, nx = 0;
        occ_list l = OCC_LIST(q->limit);
        sked_time now = engine_now(e), upto = q->to;
        /* everything in three reads: the series, what was recorded, the exceptions */
        if (q->nseries) {
                rows = calloc(q->nseries, sizeof *rows);
                if (!rows)
                        return err_set(err, -ENOMEM, "out of memory");
                for (size_t i = 0; i < q->nseries && r == 0; i++) {
                        if ((r = store_series_get(st, q->series[i], &rows[nrows], err)) == 0)
                                nrows++;
                }
        } else {
                r = store_series_list(st, NULL, 0, SERIES_MAX, false, &rows, &nrows, err);
        }
        /* What was recorded, the earliest first and not more than the reply can use:
         * `limit` occurrences, twice for good measure, and one per series for those
         * that share the last instant read.  When there are more, the reply covers
         * [from, upto): the records at the last instant read may be cut, so it ends
         * before it, and says where to continue (memory follows the limit, not the
         * history of the range: a dense series has 86,400 runs a day). */
        size_t rec_cap = 2 * (size_t) q->limit + 16 + nrows;
        if (r == 0)
                r = store_occurrences_range(st, q->nseries == 1 ? q->series[0] : 0, q->from, q->to,
                                            rec_cap > INT32_MAX ? INT32_MAX : (int) rec_cap, &rec, &nrec, err);
        if (r == 0 && nrec == rec_cap) {
                upto = rec[nrec - 1].nominal;
                while (nrec > 0 && rec[nrec - 1].nominal >= upto)
                        nrec--;
                l.truncated = true;
                if (upto < l.dropped_min)
                        l.dropped_min = upto;
        }
        /* exceptions moved into the range from outside it are found by moved_to */
        if (r == 0)
                r = store_exceptions_list(st, q->nseries == 1 ? q->series[0] : 0, q->from, upto, 10000000, &x, &nx,
                                          err);
        if (r == 0)
                r = add_moved_records(st, x, nx, q->from, upto, &rec, &nrec, err);
        if (r == 0) {
                if (nrec)
                        qsort(rec, nrec, sizeof *rec, cmp_rec);
                if (nrows)
                        qsort(rows, nrows, sizeof *rows, cmp_series);
        }
        size_t cap = (size_t) q->limit + 1;
        sked_time *inst = r == 0 ? calloc(cap, sizeof *inst) : NULL;
        if (r == 0 && !inst)
                r = err_set(err, -ENOMEM, "out of memory");
        strbuf b = STRBUF_INIT;
        strbuf_puts(&b, "{\"tz\":");
        put_str(&b, tz_name(vz));
        char f[48], t[48], day[12], hm[8];
        wallfmt w = {.z = vz, .valid_to = INT64_MIN};
        wall_text(&w, q->from, f, sizeof f, day, hm);
        wall_text(&w, q->to, t, sizeof t, day, hm);
        strbuf_printf(&b, ",\"from\":\"%s\",\"to\":\"%s\",\"days\":[", f, t);
        int64_t lf, lt;
        tz_local(vz, q->from, &lf, NULL);
        tz_local(vz, q->to - 1, &lt, NULL);
        int ndays = 0;
        /* floor: before 1970 a plain division names the day after */
        for (int64_t d = civil_floor_div(lf, 86400); d <= civil_floor_div(lt, 86400) && ndays < 400; d++, ndays++) {
                int y, m, dd;
                civil_date_from_days(d, &y, &m, &dd);
                strbuf_printf(&b, "%s\"%04d-%02d-%02d\"", ndays ? "," : "", y, m, dd);
        }
        strbuf_puts(&b, "],\"series\":[");
        size_t ri = 0, xi = 0;
        pthread_mutex_lock(&e->plans_lock);
        /* records and exceptions come sorted by series id, like the rows */
        for (size_t i = 0; i < nrows && r == 0; i++) {
                const series_row *s = &rows[i];
                while (ri < nrec && rec[ri].series_id < s->id)
                        ri++;
                size_t r0 = ri;
                while (ri < nrec && rec[ri].series_id == s->id)
                        ri++;
                while (xi < nx && x[xi].series_id < s->id)
                        xi++;
                size_t x0 = xi;
                while (xi < nx && x[xi].series_id == s->id)
                        xi++;
                strbuf_printf(&b, "%s{\"id\":%lld,\"title\":", i ? "," : "", (long long) s->id);
                put_str(&b, s->title);
                strbuf_puts(&b, ",\"type\":");
                put_str(&b, s->type);
                strbuf_puts(&b, ",\"tz\":");
                put_str(&b, s->tz);
                strbuf_printf(&b, ",\"enabled\":%s,\"feature_on\":%s,\"pause_note\":", s->enabled ? "true" : "false",
                              s->feature_on ? "true" : "false");
                put_str(&b, s->pause_note);
                strbuf_putc(&b, '}');
                series_plan *sp = engine_plan_cached(e, s);
                if (!sp)
                        continue; /* a rule that no longer parses shows nothing */
                if (expand(s, sp, sp, q->from, upto, now, rec + r0, ri - r0, x + x0, xi - x0, inst, cap, &l) < 0 ||
                    add_manual(s, rec + r0, ri - r0, q->from, upto, now, &l) < 0)
                        r = err_set(err, -ENOMEM, "out of memory");
        }
        pthread_mutex_unlock(&e->plans_lock); /* the list points at rows, not at plans */
        if (r == 0) {
                /* the earliest `limit` of the range: a cut reply is a true beginning.
                 * Sorted by pointer: moving whole entries cost more than comparing */
                occ_key *order = calloc(l.n + 1, sizeof *order);
                if (!order)
                        r = err_set(err, -ENOMEM, "out of memory");
                for (size_t i = 0; order && i < l.n; i++)
                        order[i] = (occ_key){l.v[i].start, l.v[i].s->id, l.v[i].nominal, &l.v[i]};
                if (order && l.n)
                        qsort(order, l.n, sizeof *order, occ_key_cmp);
                size_t shown = !order ? 0 : l.n < (size_t) q->limit ? l.n : (size_t) q->limit;
                sked_time next_from =
                        cut_point(&l, order && l.n > (size_t) q->limit ? order[q->limit].start : INT64_MAX,
                                  shown ? order[shown - 1].start : INT64_MIN, q->from);
                if (l.n > (size_t) q->limit) {
                        l.n = (size_t) q->limit;
                        l.truncated = true;
                }
                /* group_hour: the dense series (closer than CALENDAR_DENSE_SPACING on
                 * average over the range) go into blocks, not one by one */
                bool *dense = q->group_hour && order ? calloc(nrows + 1, sizeof *dense) : NULL;
                size_t *cnt = dense ? calloc(nrows + 1, sizeof *cnt) : NULL;
                if (q->group_hour && order && (!dense || !cnt))
                        r = err_set(err, -ENOMEM, "out of memory");
                if (cnt) {
                        for (size_t i = 0; i < l.n; i++)
                                cnt[order[i].o->s - rows]++;
                        for (size_t i = 0; i < nrows; i++)
                                dense[i] = cnt[i] > 1 &&
                                           (sked_time) cnt[i] * CALENDAR_DENSE_SPACING * SKED_USEC > upto - q->from;
                }
                strbuf_reserve(&b, l.n * 330);
                strbuf_puts(&b, "],\"occurrences\":[");
                for (size_t i = 0, k = 0; order && i < l.n; i++) {
                        if (dense && dense[order[i].o->s - rows])
                                continue;
                        if (k++)
                                strbuf_putc(&b, ',');
                        put_occ(&b, order[i].o, &w);
                }
                strbuf_putc(&b, ']');
                if (r == 0 && dense && put_blocks(&b, order, l.n, rows, dense, &w) < 0)
                        r = err_set(err, -ENOMEM, "out of memory");
                free(cnt);
                free(dense);
                free(order);
                strbuf_printf(&b, ",\"truncated\":%s", next_from ? "true" : "false");
                if (next_from) {
                        /* where the next request starts, microseconds kept (as the
                         * occurrences of one series do) */
                        char at[40];
                        time_format_utc_us(next_from, at, sizeof at);
                        strbuf_printf(&b, ",\"next_from\":\"%s\"", at);
                }
                strbuf_putc(&b, '}');
                if (r == 0 && b.oom)
                        r = err_set(err, -ENOMEM, "out of memory");
                else if (r == 0)
                        *ret = strbuf_steal(&b);
        }
        strbuf_free(&b);
        free(inst);
        free(l.v);
        free(rec);
        exception_rows_free(x, nx);
        series_rows_free(rows, nrows);
        return r;
}

/* ---- one occurrence ---- */

int calendar_occurrence_json(engine *e, store *st, const series_row *s, const exception_row *x, sked_time nominal,
                             json_t **ret, sked_err *err) {
        /* listed at its nominal instant, or (moved) at its new time */
        sked_time at[2] = {nominal, x && x->moved_to ? x->moved_to : nominal};
        for (int k = 0; k < (at[1] != at[0] ? 2 : 1); k++) {
                json_t *list = NULL;
                int r = engine_series_occurrences(e, st, s, at[k], at[k] + 1, 10, &list, NULL, err);
                if (r < 0)
                        return r;
                size_t i;
                json_t *o;
                json_array_foreach(list, i, o) {
                        if (json_integer_value(json_object_get(o, "nominal")) == nominal &&
                            !strcmp(json_string_value(json_object_get(o, "trigger")), "schedule")) {
                                *ret = json_incref(o);
                                json_decref(list);
                                return 0;
                        }
                }
                json_decref(list);
        }
        /* not in the listing (a rule that no longer parses): described from the change
         * alone, in the same shape */
        const tz_zone *z;
        int r = tz_load(s->tz, &z, err);
        if (r < 0)
                return r;
        occ o = {.s = s, .nominal = nominal, .start = at[1], .trigger = "schedule", .x = x};
        if (x) {
                o.moved = x->moved_to != 0;
                o.disabled = x->disabled;
                o.params = x->params != NULL;
        }
        o.state = o.disabled ? "disabled" : unrecorded_state(s, o.start, engine_now(e));
        *ret = occ_json(&o, z);
        return 0;
}
