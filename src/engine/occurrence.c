/* occurrence: one-off changes of single occurrences (docs/calendar.md, "One-off
 * changes"): move, override parameters, disable, annotate, and undo.  A change is an
 * exception row keyed by (series, nominal), like an RFC 5545 RECURRENCE-ID; the
 * calendar merges those rows into what it lists. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/calendar.h"
#include "engine/engine_internal.h"
#include "engine/occurrence.h"
#include "model/params.h"

#define MAX_NOTE 1000

/* A new time: UTC "...Z", or a wall time "YYYY-MM-DDTHH:MM:SS" in the series' zone
 * (resolved like the rule's, with the series' DST policy). */
static int parse_start(const series_plan *sp, const char *text, sked_time *ret, sked_err *err) {
        if (text[0] && text[strlen(text) - 1] == 'Z') {
                if (time_parse_utc(text, ret) < 0)
                        return err_field(err, -EINVAL, "start", "\"%.40s\": expected YYYY-MM-DDTHH:MM:SSZ", text);
                return 0;
        }
        civil c;
        if (civil_parse(text, false, false, &c) < 0)
                return err_field(err, -EINVAL, "start",
                                 "\"%.40s\": expected a UTC instant YYYY-MM-DDTHH:MM:SSZ or a wall time "
                                 "YYYY-MM-DDTHH:MM:SS in the series' zone",
                                 text);
        sked_time t[2];
        int n = tz_resolve(schedule_zone(sp->sc), civil_to_seconds(&c), TZ_GAP_SHIFT, TZ_REPEAT_FIRST, t);
        if (n < 1)
                return err_field(err, -EINVAL, "start", "\"%.40s\": this wall time does not exist in %s", text,
                                 tz_name(schedule_zone(sp->sc)));
        *ret = t[0];
        return 0;
}

/* -EEXIST when the occurrence (series, nominal) already ran or was skipped. */
static int occurrence_done(store *st, int64_t id, sked_time nominal, sked_err *err) {
        occurrence_rec *rec = NULL;
        size_t nrec = 0;
        int r = store_occurrences_range(st, id, nominal, nominal + 1, 4, &rec, &nrec, err);
        if (r < 0)
                return r;
        bool done = false;
        for (size_t i = 0; i < nrec; i++)
                done |= strcmp(rec[i].trigger, "manual") != 0;
        free(rec);
        if (done)
                return err_field(err, -EEXIST, "nominal",
                                 "this occurrence has already fired (it ran, runs, starts within "
                                 "the look-ahead, or was skipped): its record is history; "
                                 "trigger a manual run instead");
        return 0;
}

int engine_occurrence_change(engine *e, store *st, int64_t id, sked_time nominal, json_t *in, json_t **ret,
                             sked_err *err) {
        static const char *const known[] = {"start", "params", "enabled", "note", NULL};
        if (!json_is_object(in))
                return err_field(err, -EINVAL, "body", "expected a JSON object with start, params, enabled or note");
        const char *unknown = params_unknown_key(in, known);
        if (unknown)
                return err_field(err, -EINVAL, unknown, "unknown field (expected start, params, enabled, note)");
        json_t *v;
        series_row s = {0};
        series_plan *sp = NULL;
        exception_row x = {0};
        int r = store_series_get(st, id, &s, err);
        if (r == 0)
                r = series_plan_build(e, &s, &sp, err);
        if (r < 0)
                goto out;
        sked_time t;
        if (schedule_next(sp->sc, nominal - 1, &t) < 0 || t != nominal ||
            nominal < s.created_at - s.created_at % SKED_USEC) {
                char at[32];
                time_format_utc(nominal, at, sizeof at);
                r = err_field(err, -ENOENT, "nominal", "%s is not an occurrence of series %lld's rule", at,
                              (long long) id);
                goto out;
        }
        if (store_exception_get(st, id, nominal, &x, err) == -ENOENT) {
                x = (exception_row){.series_id = id, .nominal = nominal, .created_at = engine_now(e)};
        }
        if ((v = json_object_get(in, "start"))) {
                if (json_is_null(v)) {
                        x.moved_to = 0;
                } else if (!json_is_string(v)) {
                        r = err_field(err, -EINVAL, "start", "expected a time (string) or null");
                        goto out;
                } else if ((r = parse_start(sp, json_string_value(v), &x.moved_to, err)) < 0) {
                        goto out;
                } else if (x.moved_to < nominal - 366 * 86400 * SKED_USEC ||
                           x.moved_to > nominal + 366 * 86400 * SKED_USEC) {
                        r = err_field(err, -EINVAL, "start", "at most a year before or after the occurrence");
                        goto out;
                }
                if (x.moved_to == nominal)
                        x.moved_to = 0;
                x.fired = false;
        }
        if ((v = json_object_get(in, "params"))) {
                free(x.params);
                x.params = NULL;
                if (!json_is_null(v)) {
                        const type_entry *te = engine_type_find(e, s.type);
                        json_error_t je;
                        json_t *base = json_loads(s.params, 0, &je), *norm = NULL;
                        if (!json_is_object(v))
                                r = err_field(err, -EINVAL, "params", "expected a JSON object of overrides");
                        else if (!te)
                                r = err_field(err, -ENOENT, "type", "\"%s\": no such process type", s.type);
                        else if (json_object_update(base, v) == 0)
                                r = params_validate(te->t->params, base, &norm, err);
                        json_decref(base);
                        json_decref(norm);
                        if (r < 0)
                                goto out;
                        x.params = json_dumps(v, JSON_COMPACT);
                }
        }
        if ((v = json_object_get(in, "enabled"))) {
                if (!json_is_boolean(v)) {
                        r = err_field(err, -EINVAL, "enabled", "expected true or false");
                        goto out;
                }
                x.disabled = !json_is_true(v);
        }
        if ((v = json_object_get(in, "note"))) {
                if (!json_is_null(v) && (!json_is_string(v) || json_string_length(v) > MAX_NOTE)) {
                        r = err_field(err, -EINVAL, "note", "expected a string of at most %d characters", MAX_NOTE);
                        goto out;
                }
                free(x.note);
                x.note = json_is_string(v) ? strdup(json_string_value(v)) : NULL;
        }
        x.updated_at = engine_now(e);
        /* one transaction, the series locked against the poller: whether it already
         * ran, and the change, are decided together */
        if ((r = store_begin(st, err)) < 0)
                goto out;
        if ((r = store_series_lock(st, id, err)) == 0 && (r = occurrence_done(st, id, nominal, err)) == 0) {
                bool empty = !x.disabled && !x.moved_to && !x.params && !x.note;
                if (empty) {
                        r = store_exception_delete(st, id, nominal, err);
                        if (r == -ENOENT)
                                r = 0;
                } else {
                        r = store_exception_put(st, &x, err);
                }
        }
        r = store_end(st, r, err);
        if (r < 0)
                goto out;
        engine_changed(e, st);
        /* the occurrence as it is listed now: the listing's own serializer */
        bool kept = !(!x.disabled && !x.moved_to && !x.params && !x.note);
        r = calendar_occurrence_json(e, st, &s, kept ? &x : NULL, nominal, ret, err);
out:
        exception_row_clear(&x);
        series_plan_free(sp);
        series_row_clear(&s);
        return r;
}

int engine_occurrence_reset(engine *e, store *st, int64_t id, sked_time nominal, sked_err *err) {
        exception_row x = {0};
        int r = store_begin(st, err);
        if (r < 0)
                return r;
        if ((r = store_series_lock(st, id, err)) == 0)
                r = store_exception_get(st, id, nominal, &x, err);
        if (r == -ENOENT)
                err_field(err, -ENOENT, "nominal", "this occurrence has no one-off change");
        if (r == 0 && x.fired)
                r = err_field(err, -EEXIST, "nominal", "this occurrence has already run at its new time");
        exception_row_clear(&x);
        if (r == 0)
                r = store_exception_delete(st, id, nominal, err);
        r = store_end(st, r, err);
        if (r == 0)
                engine_changed(e, st);
        return r;
}

int occurrence_record_paused(engine *e, store *st, const series_row *s, sked_time was_due, sked_time paused_at,
                             sked_err *err) {
        sked_time now = engine_now(e), to = s->has_next ? s->next_due : now;
        sked_time from = paused_at && paused_at < was_due ? paused_at : was_due;
        if (!was_due || from >= to)
                return 0;
        series_plan *sp = NULL;
        int r = series_plan_build(e, s, &sp, err);
        if (r < 0)
                return r == -ENOMEM ? r : 0; /* a rule that no longer parses: nothing to name */
        sked_time *inst = calloc(OCCURRENCE_PAUSED_MAX, sizeof *inst);
        if (!inst) {
                series_plan_free(sp);
                return err_set(err, -ENOMEM, "out of memory");
        }
        /* bounded: a pause of a secondly series would otherwise write a row a second */
        int n = schedule_list(sp->sc, from, to, inst, OCCURRENCE_PAUSED_MAX);
        for (int i = 0; i < n && r == 0; i++) {
                if (inst[i] < s->created_at - s->created_at % SKED_USEC)
                        continue;
                bool done = false;
                /* before the cursor, an occurrence may have run (started before the pause):
                 * its run is its record; beyond it, the poller fired nothing */
                if (inst[i] < was_due && (r = store_occurrence_done(st, s->id, inst[i], &done, err)) < 0)
                        break;
                if (!done && (r = store_occurrence_insert(st, s->id, inst[i], now, "paused", err)) == 0)
                        metrics_skipped(e, s->type, "paused", 1);
                if (r == -EEXIST)
                        r = 0; /* recorded before (fired ahead, then the pause took it back) */
        }
        free(inst);
        series_plan_free(sp);
        return r;
}
