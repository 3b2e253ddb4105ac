/* series: validating and writing series, computing their occurrences. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/engine_internal.h"
#include "engine/occurrence.h"
#include "model/params.h"
#include "model/query.h"
#include "sched/words.h"

#define MAX_TITLE 200
#define MAX_SPEC 1024
#define MAX_OWNER 128
#define MAX_NOTE 1000
#define MAX_PARAMS_JSON (256 * 1024)

static bool is_rrule(const char *spec) {
        return !strncasecmp(spec, "RRULE:", 6) || !strncasecmp(spec, "FREQ=", 5);
}

sked_time series_anchor(const char *spec, sked_time anchor) {
        /* an RRULE without a start takes its DTSTART from the creation, and the fields
         * it leaves out (BYSECOND, BYMINUTE...) from DTSTART: start on a whole minute,
         * or "BYHOUR=9;BYMINUTE=0" would fire at 09:00:35 */
        if (is_rrule(spec))
                return anchor - ((anchor % (60 * SKED_USEC)) + 60 * SKED_USEC) % (60 * SKED_USEC);
        /* second precision: an interval anchored at creation starts on the next whole second */
        if (anchor % SKED_USEC)
                anchor += SKED_USEC - anchor % SKED_USEC;
        return anchor;
}

int series_schedule_parse(const series_row *s, sked_time anchor, const policy *pol, schedule **ret, sked_err *err) {
        anchor = series_anchor(s->schedule, anchor);
        schedule_opts o = {
                .tz = s->tz,
                .start_local = s->start_local,
                .anchor = anchor,
                .end = s->end_at,
                .count = s->count,
                .gap_policy = pol ? pol->dst_gap : 0,
                .repeat_policy = pol ? pol->dst_repeat : 0,
        };
        int r = schedule_parse(s->schedule, &o, ret, err);
        if (r < 0 && err) {
                /* the scheduler's messages already quote the spec, the zone, the start
                 * or the end: name that field */
                static const struct {
                        const char *lead, *field;
                } fields[] = {{"time zone", "tz"}, {"start \"", "start"}, {"end \"", "end"}};
                const char *field = "schedule";
                for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
                        if (!strncmp(err->msg, fields[i].lead, strlen(fields[i].lead)))
                                field = fields[i].field;
                if (strncmp(err->msg, field, strlen(field)) != 0)
                        err_prefix(err, field);
                else
                        snprintf(err->field, sizeof err->field, "%s", field);
                err->code = -EINVAL;
        }
        return r < 0 ? -EINVAL : 0;
}

static int get_string(json_t *in, const char *key, size_t max, bool required, const char **ret, sked_err *err) {
        json_t *v = json_object_get(in, key);
        if (!v || json_is_null(v)) {
                if (required)
                        return err_field(err, -EINVAL, key, "required");
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return err_field(err, -EINVAL, key, "expected a string");
        if (json_string_length(v) > max)
                return err_field(err, -EINVAL, key, "longer than %zu characters", max);
        if (required && json_string_length(v) == 0)
                return err_field(err, -EINVAL, key, "must not be empty");
        *ret = json_string_value(v);
        return 0;
}

static void set_str(char **dst, const char *v) {
        free(*dst);
        *dst = v ? strdup(v) : NULL;
}

/* `end` given as a wall time in the series' zone (the web wizard's "ends on a date",
 * whose browser has no trustworthy tz database: DESIGN.md "Time zones"): resolved
 * here, once, to the instant that is stored (a gap time by the offset before it, a
 * repeated one by its later copy, so that the whole local day is in). */
static int end_local(const char *s, const char *tz, sked_time *ret, sked_err *err) {
        civil c;
        const tz_zone *z;
        sked_time at[2];
        if (civil_parse(s, false, false, &c) < 0)
                return err_field(err, -EINVAL, "end",
                                 "\"%s\": expected a UTC instant YYYY-MM-DDTHH:MM:SSZ or a wall time "
                                 "YYYY-MM-DDTHH:MM:SS in tz",
                                 s);
        int r = tz_load(tz ? tz : "UTC", &z, err);
        if (r < 0) {
                err_prefix(err, "tz");
                return r == -ENOMEM ? r : -EINVAL;
        }
        int n = tz_resolve(z, civil_to_seconds(&c), TZ_GAP_SHIFT, TZ_REPEAT_LAST, at);
        if (n < 1)
                return err_field(err, -EINVAL, "end", "\"%s\": not a time in %s", s, tz_name(z));
        *ret = at[n - 1];
        return 0;
}

/* The schedule members of a series (schedule, tz, start, end, count): shared by
 * series creation, PATCH and the preview, so they validate alike and name the same
 * fields. */
static int apply_schedule(json_t *in, bool creating, series_row *row, sked_err *err) {
        json_t *v;
        const char *s;
        int r;
        if (json_object_get(in, "schedule") || creating) {
                if ((r = get_string(in, "schedule", MAX_SPEC, true, &s, err)) < 0)
                        return r;
                set_str(&row->schedule, s);
        }
        if (json_object_get(in, "tz") || creating) {
                if ((r = get_string(in, "tz", 64, false, &s, err)) < 0)
                        return r;
                set_str(&row->tz, s ? s : "UTC");
        }
        if (json_object_get(in, "start")) {
                if ((r = get_string(in, "start", 32, false, &s, err)) < 0)
                        return r;
                civil c;
                if (s && civil_parse(s, false, false, &c) < 0)
                        return err_field(err, -EINVAL, "start",
                                         "\"%s\": expected a local date and time YYYY-MM-DDTHH:MM:SS", s);
                set_str(&row->start_local, s);
        }
        if (json_object_get(in, "end")) {
                if ((r = get_string(in, "end", 40, false, &s, err)) < 0)
                        return r;
                sked_time t = 0;
                if (s && time_parse_utc(s, &t) < 0 && (r = end_local(s, row->tz, &t, err)) < 0)
                        return r;
                row->end_at = t;
        }
        if ((v = json_object_get(in, "count"))) {
                if (json_is_null(v))
                        row->count = 0;
                else if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > SCHEDULE_COUNT_MAX)
                        /* the scheduler walks the first `count` occurrences once: bounded */
                        return err_field(err, -EINVAL, "count", "expected an integer from 1 to %d", SCHEDULE_COUNT_MAX);
                else
                        row->count = json_integer_value(v);
        }
        return 0;
}

static int apply_policy(json_t *in, series_row *row, sked_err *err) {
        json_t *v;
        int r;
        if ((v = json_object_get(in, "policy"))) {
                json_t *norm = NULL;
                if ((r = policy_normalize(v, "policy", &norm, err)) < 0)
                        return r;
                free(row->policy);
                row->policy = norm ? json_dumps(norm, JSON_COMPACT) : NULL;
                json_decref(norm);
        }
        return 0;
}

/* Applies the fields of `in` to `row`, validating each; `row` holds the current state
 * (zeroed for a new series).  On error, row may be partly changed: callers drop it. */
static int apply_fields(engine *e, json_t *in, bool creating, bool internal, series_row *row, sked_err *err) {
        static const char *const known[] = {"type",    "title",      "schedule", "tz",      "start", "end",
                                            "count",   "params",     "query",    "enabled", "owner", "background",
                                            "version", "pause_note", "policy",   "sleep",   NULL};
        if (!json_is_object(in))
                return err_field(err, -EINVAL, "body", "expected a JSON object");
        const char *unknown = params_unknown_key(in, known);
        if (!unknown && !internal && json_object_get(in, "background"))
                unknown = "background"; /* set by type registration only */
        if (unknown)
                return err_field(err, -EINVAL, unknown,
                                 "unknown field (expected type, title, schedule, tz, start, end, count, "
                                 "params, query, enabled, owner, policy, sleep)");
        json_t *v;
        const char *s;
        int r;
        if (creating) {
                if ((r = get_string(in, "type", 128, true, &s, err)) < 0)
                        return r;
                set_str(&row->type, s);
        } else if (json_object_get(in, "type") &&
                   (!json_is_string(json_object_get(in, "type")) ||
                    strcmp(json_string_value(json_object_get(in, "type")), row->type) != 0)) {
                return err_field(err, -EINVAL, "type", "cannot be changed; create a new series instead");
        }
        const type_entry *te = engine_type_find(e, row->type);
        if (!te)
                return err_field(err, -ENOENT, "type", "\"%s\": no such process type", row->type);
        if (creating) {
                row->background = internal && json_is_true(json_object_get(in, "background"));
                if (te->t->background && !row->background)
                        return err_field(err, -EINVAL, "type",
                                         "\"%s\" is a background process: its series is registered from its "
                                         "manifest (edit that series instead)",
                                         row->type);
        }
        if (json_object_get(in, "title") || creating) {
                if ((r = get_string(in, "title", MAX_TITLE, false, &s, err)) < 0)
                        return r;
                set_str(&row->title, s ? s : (row->title ? row->title : te->t->title));
        }
        if ((r = apply_schedule(in, creating, row, err)) < 0)
                return r;
        if (json_object_get(in, "params") || creating) {
                json_t *p = json_object_get(in, "params"), *norm = NULL;
                if (p && !json_is_object(p) && !json_is_null(p))
                        return err_field(err, -EINVAL, "params", "expected a JSON object");
                if ((r = params_validate(te->t->params, json_is_null(p) ? NULL : p, &norm, err)) < 0)
                        return r;
                char *text = json_dumps(norm, JSON_COMPACT);
                json_decref(norm);
                if (!text || strlen(text) > MAX_PARAMS_JSON) {
                        free(text);
                        return err_field(err, -E2BIG, "params", "larger than %d bytes", MAX_PARAMS_JSON);
                }
                free(row->params);
                row->params = text;
        }
        if ((v = json_object_get(in, "query"))) {
                json_t *ast = NULL, *norm = NULL;
                if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) {
                        set_str(&row->query, NULL);
                } else {
                        if (json_is_string(v)) {
                                if ((r = query_parse_text(json_string_value(v), &ast, err)) < 0)
                                        return r;
                        } else if (json_is_object(v)) {
                                ast = json_incref(v);
                        } else {
                                return err_field(err, -EINVAL, "query", "expected query text or a JSON query object");
                        }
                        r = query_validate(te->t->query_fields, ast, &norm, err);
                        json_decref(ast);
                        if (r < 0)
                                return r;
                        free(row->query);
                        row->query = json_dumps(norm, JSON_COMPACT);
                        json_decref(norm);
                }
        }
        if ((v = json_object_get(in, "enabled"))) {
                if (!json_is_boolean(v))
                        return err_field(err, -EINVAL, "enabled", "expected true or false");
                row->enabled = json_is_true(v);
        } else if (creating) {
                row->enabled = true;
        }
        if (json_object_get(in, "owner")) {
                if ((r = get_string(in, "owner", MAX_OWNER, false, &s, err)) < 0)
                        return r;
                set_str(&row->owner, s);
        }
        if ((r = apply_policy(in, row, err)) < 0)
                return r;
        if ((v = json_object_get(in, "sleep")) || (row->sleep && json_object_get(in, "tz"))) {
                /* windows without their own zone follow the series' zone */
                json_error_t je;
                json_t *cur = v ? json_incref(v) : json_loads(row->sleep, 0, &je), *norm = NULL;
                r = sleep_parse(cur, row->tz, NULL, NULL, &norm, err);
                json_decref(cur);
                if (r < 0)
                        return r;
                free(row->sleep);
                row->sleep = norm ? json_dumps(norm, JSON_COMPACT) : NULL;
                json_decref(norm);
        }
        if (json_object_get(in, "pause_note")) {
                if ((r = get_string(in, "pause_note", MAX_NOTE, false, &s, err)) < 0)
                        return r;
                set_str(&row->pause_note, s);
        }
        return 0;
}

/* Parses the schedule of `row` and sets its next due instant (the first occurrence
 * at or after now). */
static int compute_next(engine *e, series_row *row, sked_time now, sked_err *err) {
        schedule *sc = NULL;
        policy pol;
        int r = series_policy(e, row, &pol, err);
        if (r == 0)
                r = series_schedule_parse(row, row->created_at ? row->created_at : now, &pol, &sc, err);
        if (r < 0)
                return r;
        sked_time next;
        r = schedule_next(sc, now - 1, &next);
        schedule_free(sc);
        row->has_next = r == 0;
        row->next_due = r == 0 ? next : 0;
        return 0;
}

/* Validates a new series and computes its first due instant; writes nothing. */
static int series_build(engine *e, json_t *in, bool internal, sked_time now, series_row *row, sked_err *err) {
        int r = apply_fields(e, in, true, internal, row, err);
        if (r < 0)
                return r;
        row->created_at = row->updated_at = now;
        return compute_next(e, row, now, err);
}

int series_build_row(engine *e, json_t *in, bool internal, series_row *ret, sked_err *err) {
        return series_build(e, in, internal, engine_now(e), ret, err);
}

int engine_series_build(engine *e, json_t *in, series_row *ret, sked_err *err) {
        series_row row = {0};
        int r = series_build(e, in, false, engine_now(e), &row, err);
        if (r < 0) {
                series_row_clear(&row);
                return r;
        }
        *ret = row;
        return 0;
}

int engine_schedule_preview(engine *e, json_t *in, sked_time from, int limit, json_t **ret, sked_err *err) {
        static const char *const known[] = {"type", "schedule", "tz", "start", "end", "count", "policy", NULL};
        series_row row = {0};
        schedule *sc = NULL;
        json_t *items = NULL;
        policy pol;
        const char *type, *unknown;
        int r;
        if (!json_is_object(in))
                return err_field(err, -EINVAL, "body", "expected a JSON object");
        if ((unknown = params_unknown_key(in, known)))
                return err_field(err, -EINVAL, unknown,
                                 "unknown field (expected type, schedule, tz, start, end, count, policy)");
        if ((r = get_string(in, "type", 128, false, &type, err)) < 0)
                return r;
        if (type && !engine_type_find(e, type))
                return err_field(err, -ENOENT, "type", "\"%s\": no such process type", type);
        /* the series a creation now would make: its anchor is now, its policy the
         * type's defaults under the body's */
        sked_time now = engine_now(e);
        set_str(&row.type, type ? type : "");
        if ((r = apply_schedule(in, true, &row, err)) < 0 || (r = apply_policy(in, &row, err)) < 0 ||
            (r = series_policy(e, &row, &pol, err)) < 0 || (r = series_schedule_parse(&row, now, &pol, &sc, err)) < 0)
                goto done;
        if (!(items = json_array())) {
                r = err_set(err, -ENOMEM, "out of memory");
                goto done;
        }
        sked_time t = (from ? from : now) - 1;
        for (int i = 0; i < limit && schedule_next(sc, t, &t) == 0; i++) {
                char utc[SCHEDULE_UTC_TEXT], local[SCHEDULE_LOCAL_TEXT];
                schedule_format(sc, t, utc, local);
                json_array_append_new(items, json_pack("{s:s, s:s}", "at", utc, "local", local));
        }
        char words[256];
        schedule_words(row.schedule, row.tz, words, sizeof words);
        *ret = json_pack("{s:s, s:s, s:s, s:s, s:O}", "schedule", row.schedule, "schedule_text", words, "tz", row.tz,
                         "kind", schedule_kind(sc), "items", items);
        r = *ret ? 0 : err_set(err, -ENOMEM, "out of memory");
done:
        json_decref(items);
        schedule_free(sc);
        series_row_clear(&row);
        return r;
}

int engine_series_insert(engine *e, store *st, series_row *row, sked_err *err) {
        int r = store_series_insert(st, row, err);
        if (r == 0)
                engine_changed(e, st);
        return r;
}

int series_create(engine *e, store *st, json_t *in, bool internal, series_row *ret, sked_err *err) {
        series_row row = {0};
        int r = series_build(e, in, internal, engine_now(e), &row, err);
        if (r == 0)
                r = store_series_insert(st, &row, err);
        if (r < 0) {
                series_row_clear(&row);
                return r;
        }
        engine_changed(e, st);
        *ret = row;
        return 0;
}

int engine_series_create(engine *e, store *st, json_t *in, series_row *ret, sked_err *err) {
        return series_create(e, st, in, false, ret, err);
}

int engine_series_build_batch(engine *e, json_t *list, const char *what, series_row **ret, sked_err *err) {
        const char *name = what && *what ? what : "body";
        if (!json_is_array(list))
                return err_field(err, -EINVAL, name, "expected an array of series (JSON objects)");
        size_t n = json_array_size(list);
        if (n == 0 || n > ENGINE_SERIES_BATCH_MAX)
                return err_field(err, -EINVAL, name, "expected 1 to %d series, got %zu", ENGINE_SERIES_BATCH_MAX, n);
        series_row *rows = calloc(n, sizeof *rows);
        if (!rows)
                return err_set(err, -ENOMEM, "out of memory");
        char where[160];
        int r = 0;
        sked_time now = engine_now(e);
        for (size_t i = 0; i < n && r == 0; i++) {
                json_t *in = json_array_get(list, i);
                snprintf(where, sizeof where, "%s[%zu]", what ? what : "", i);
                if (!json_is_object(in))
                        r = err_field(err, -EINVAL, where, "expected a series (JSON object)");
                else if ((r = series_build(e, in, false, now, &rows[i], err)) < 0)
                        err_prefix(err, where);
        }
        if (r < 0) {
                series_rows_free(rows, n);
                return r;
        }
        *ret = rows;
        return 0;
}

int engine_series_insert_batch(engine *e, store *st, series_row *rows, size_t n, const char *what, sked_err *err) {
        char where[160];
        /* one transaction (or savepoint), one flush: all of them or none */
        int r = store_begin(st, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r == 0; i++) {
                snprintf(where, sizeof where, "%s[%zu]", what ? what : "", i);
                if ((r = store_series_insert(st, &rows[i], err)) < 0)
                        err_prefix(err, where);
        }
        if ((r = store_end(st, r, err)) == 0)
                engine_changed(e, st);
        return r;
}

int engine_series_create_batch(engine *e, store *st, json_t *list, const char *what, series_row **ret, sked_err *err) {
        /* validate everything before BEGIN: with SQLite the transaction holds the
         * database's write lock (the loop waits for it), so it should only write */
        series_row *rows = NULL;
        int r = engine_series_build_batch(e, list, what, &rows, err);
        if (r < 0)
                return r;
        if ((r = engine_series_insert_batch(e, st, rows, json_array_size(list), what, err)) < 0) {
                series_rows_free(rows, json_array_size(list));
                return r;
        }
        *ret = rows;
        return 0;
}

/* After a rule edit: the one-off changes whose nominal instant the new rule still
 * has are kept; the others (not yet fired) are dropped and listed in *ret. */
static int reconcile_exceptions(engine *e, store *st, const series_row *row, json_t **ret, sked_err *err) {
        *ret = json_array();
        if (row->n_exceptions == 0)
                return 0;
        exception_row *x = NULL;
        size_t n = 0;
        int r = store_exceptions_list(st, row->id, INT64_MIN, INT64_MAX, 1000000, &x, &n, err);
        if (r < 0)
                return r;
        series_plan *sp = NULL;
        if ((r = series_plan_build(e, row, &sp, err)) < 0) {
                exception_rows_free(x, n);
                return r;
        }
        for (size_t i = 0; i < n && r >= 0; i++) {
                sked_time t;
                if (x[i].fired || (schedule_next(sp->sc, x[i].nominal - 1, &t) == 0 && t == x[i].nominal))
                        continue;
                if ((r = store_exception_delete(st, row->id, x[i].nominal, err)) < 0)
                        break;
                char at[32];
                time_format_utc(x[i].nominal, at, sizeof at);
                json_t *d = json_pack("{s:I, s:s, s:b}", "nominal", (json_int_t) x[i].nominal, "at", at, "disabled",
                                      x[i].disabled);
                if (x[i].moved_to) {
                        time_format_utc(x[i].moved_to, at, sizeof at);
                        json_object_set_new(d, "moved_to", json_string(at));
                }
                if (x[i].note)
                        json_object_set_new(d, "note", json_string(x[i].note));
                json_array_append_new(*ret, d);
        }
        series_plan_free(sp);
        exception_rows_free(x, n);
        return r;
}

int engine_series_update(engine *e, store *st, int64_t id, json_t *patch, int64_t expected_version, series_row *ret,
                         json_t **ret_dropped, sked_err *err) {
        series_row row = {0};
        json_t *dropped = NULL;
        int r = store_series_get(st, id, &row, err);
        if (r < 0)
                return r;
        if (expected_version && row.version != expected_version) {
                r = err_field(err, -ESTALE, "version", "series %lld is at version %lld, not %lld: reload it and retry",
                              (long long) id, (long long) row.version, (long long) expected_version);
                goto fail;
        }
        json_t *v = json_object_get(patch, "version");
        if (v && !json_is_integer(v)) {
                r = err_field(err, -EINVAL, "version", "expected the integer version the edit is based on");
                goto fail;
        }
        if (v && expected_version && json_integer_value(v) != expected_version) {
                r = err_field(err, -EINVAL, "version", "%lld does not agree with If-Match \"%lld\"; send one of them",
                              (long long) json_integer_value(v), (long long) expected_version);
                goto fail;
        }
        if (v && !expected_version)
                expected_version = json_integer_value(v);
        if (!expected_version)
                expected_version = row.version;
        sked_time now = engine_now(e);
        if ((r = apply_fields(e, patch, false, false, &row, err)) < 0)
                goto fail;
        row.updated_at = now;
        bool rule_changed = json_object_get(patch, "schedule") || json_object_get(patch, "tz") ||
                            json_object_get(patch, "start") || json_object_get(patch, "end") ||
                            json_object_get(patch, "count") ||
                            /* of a policy, only the DST keys change the rule's instants; the
                             * others must not move the cursor (pending catch-up would go) */
                            json_object_get(json_object_get(patch, "policy"), "dst_gap") ||
                            json_object_get(json_object_get(patch, "policy"), "dst_repeat");
        if (rule_changed && (r = compute_next(e, &row, now, err)) < 0)
                goto fail;
        /* one transaction: the edit and the exceptions it drops */
        if ((r = store_begin(st, err)) < 0)
                goto fail;
        if ((r = store_series_update(st, &row, expected_version, rule_changed, err)) == 0 && rule_changed &&
            (r = reconcile_exceptions(e, st, &row, &dropped, err)) == 0)
                row.n_exceptions -= (int64_t) json_array_size(dropped);
        /* a new rule (or a pause) applies to what was fired ahead and has not started */
        if (r == 0 && (rule_changed || !row.enabled))
                r = engine_series_retract(e, st, id, err);
        r = store_end(st, r, err);
        if (r < 0)
                goto fail;
        engine_changed(e, st);
        *ret = row;
        if (ret_dropped)
                *ret_dropped = dropped ? dropped : json_array();
        else
                json_decref(dropped);
        return 0;
fail:
        json_decref(dropped);
        series_row_clear(&row);
        return r;
}

int engine_series_set_enabled(engine *e, store *st, int64_t id, bool enabled, const char *note, series_row *ret,
                              sked_err *err) {
        if (note && strlen(note) > MAX_NOTE)
                return err_field(err, -EINVAL, "note", "longer than %d characters", MAX_NOTE);
        sked_time now = engine_now(e);
        series_row row = {0};
        int r = store_series_get(st, id, &row, err);
        if (r < 0)
                return r;
        bool resuming = enabled && !row.enabled;
        sked_time was_due = row.has_next ? row.next_due : 0, paused_at = row.updated_at; /* while paused */
        if (resuming) {
                /* resuming: what fell due while paused is not owed; start from now */
                if ((r = compute_next(e, &row, now, err)) < 0)
                        goto fail;
        }
        bool pausing = !enabled && row.enabled;
        row.enabled = enabled;
        set_str(&row.pause_note, enabled ? NULL : note);
        row.updated_at = now;
        /* pausing takes back what was fired ahead and has not started: one transaction */
        if ((r = store_begin(st, err)) < 0)
                goto fail;
        if ((r = store_series_update(st, &row, row.version, resuming, err)) == 0 && pausing)
                r = engine_series_retract(e, st, id, err);
        if (r == 0 && resuming)
                r = occurrence_record_paused(e, st, &row, was_due, paused_at, err);
        r = store_end(st, r, err);
        if (r < 0)
                goto fail;
        engine_changed(e, st);
        *ret = row;
        return 0;
fail:
        series_row_clear(&row);
        return r;
}

int engine_params_override(engine *e, const char *type, const char *base_text, json_t *params, char **ret,
                           sked_err *err) {
        *ret = NULL;
        if (!params || json_is_null(params))
                return 0;
        json_error_t je;
        json_t *base = json_loads(base_text ? base_text : "{}", 0, &je), *norm = NULL;
        const type_entry *te = engine_type_find(e, type);
        int r = 0;
        if (!json_is_object(params))
                r = err_field(err, -EINVAL, "params", "expected a JSON object");
        else if (!te)
                r = err_field(err, -ENOENT, "type", "\"%s\": no such process type", type);
        else if (!base || json_object_update(base, params) < 0)
                r = err_set(err, -ENOMEM, "out of memory");
        else if ((r = params_validate(te->t->params, base, &norm, err)) == 0 &&
                 !(*ret = json_dumps(norm, JSON_COMPACT)))
                r = err_set(err, -ENOMEM, "out of memory");
        json_decref(base);
        json_decref(norm);
        return r;
}

int engine_series_trigger(engine *e, store *st, int64_t id, json_t *params, run_row *ret, sked_err *err) {
        series_row s = {0};
        int r = store_series_get(st, id, &s, err);
        if (r < 0)
                return r;
        char *merged = NULL;
        /* a manual run may override some parameters, validated like the series' own */
        if ((r = engine_params_override(e, s.type, s.params, params, &merged, err)) < 0) {
                series_row_clear(&s);
                return r;
        }
        sked_time now = engine_now(e);
        run_row run = {
                .series_id = s.id,
                .has_nominal = true,
                .nominal = now,
                .type = s.type,
                .trigger = "manual",
                .params = merged ? merged : s.params,
                .query = s.query,
                .attempt = 1,
                .queued_at = now,
                .not_before = now,
        };
        r = store_run_insert(st, &run, err);
        free(run.idem_key); /* the other strings are borrowed */
        free(merged);
        if (r == 0)
                r = store_run_get(st, run.id, ret, err);
        series_row_clear(&s);
        engine_changed(e, st);
        return r;
}

int engine_series_delete(engine *e, store *st, int64_t id, bool purge, sked_err *err) {
        /* one transaction: what was fired ahead (claimed here too), then the series */
        int r = store_begin(st, err);
        if (r < 0)
                return r;
        if ((r = engine_series_retract(e, st, id, err)) == 0)
                r = store_series_delete(st, id, purge, err);
        if ((r = store_end(st, r, err)) == 0)
                engine_changed(e, st);
        return r;
}
