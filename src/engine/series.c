/* series: validating and writing series, computing their occurrences. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "model/params.h"
#include "model/query.h"

#define MAX_TITLE 200
#define MAX_SPEC 1024
#define MAX_OWNER 128
#define MAX_NOTE 1000
#define MAX_PARAMS_JSON (256 * 1024)

int series_schedule_parse(const series_row *s, sked_time anchor, schedule **ret, sked_err *err) {
        /* second precision: an interval anchored at creation starts on the next whole second */
        if (anchor % SKED_USEC)
                anchor += SKED_USEC - anchor % SKED_USEC;
        schedule_opts o = {
                .tz = s->tz,
                .start_local = s->start_local,
                .anchor = anchor,
                .end = s->end_at,
                .count = s->count,
        };
        int r = schedule_parse(s->schedule, &o, ret, err);
        if (r < 0 && err) {
                /* the scheduler's messages already quote the spec or the zone */
                const char *field = !strncmp(err->msg, "time zone", 9) ? "tz" : "schedule";
                if (strncmp(err->msg, field, strlen(field)) != 0)
                        err_prefix(err, field);
                else
                        snprintf(err->field, sizeof err->field, "%s", field);
                err->code = -EINVAL;
        }
        return r < 0 ? -EINVAL : 0;
}

static int get_string(json_t *in, const char *key, size_t max, bool required, const char **ret,
                      sked_err *err) {
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

/* Applies the fields of `in` to `row`, validating each; `row` holds the current state
 * (zeroed for a new series).  On error, row may be partly changed: callers drop it. */
static int apply_fields(engine *e, json_t *in, bool creating, bool internal, series_row *row, sked_err *err) {
        static const char *const known[] = {"type", "title", "schedule", "tz", "start", "end", "count",
                                            "params", "query", "enabled", "owner", "background", "version",
                                            "pause_note", NULL};
        if (!json_is_object(in))
                return err_set(err, -EINVAL, "body: expected a JSON object");
        const char *key;
        json_t *v;
        json_object_foreach(in, key, v) {
                bool ok = false;
                for (size_t i = 0; known[i]; i++)
                        ok |= !strcmp(key, known[i]);
                if (!ok || (!internal && !strcmp(key, "background")))
                        return err_field(err, -EINVAL, key,
                                         "unknown field (expected type, title, schedule, tz, start, end, count, "
                                         "params, query, enabled, owner)");
        }
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
                if (s && time_parse_utc(s, &t) < 0)
                        return err_field(err, -EINVAL, "end", "\"%s\": expected a UTC instant YYYY-MM-DDTHH:MM:SSZ",
                                         s);
                row->end_at = t;
        }
        if ((v = json_object_get(in, "count"))) {
                if (json_is_null(v))
                        row->count = 0;
                else if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000000)
                        return err_field(err, -EINVAL, "count", "expected an integer from 1 to 1000000000");
                else
                        row->count = json_integer_value(v);
        }
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
                                return err_field(err, -EINVAL, "query",
                                                 "expected query text or a JSON query object");
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
        int r = series_schedule_parse(row, row->created_at ? row->created_at : now, &sc, err);
        if (r < 0)
                return r;
        sked_time next;
        r = schedule_next(sc, now - 1, &next);
        schedule_free(sc);
        row->has_next = r == 0;
        row->next_due = r == 0 ? next : 0;
        (void) e;
        return 0;
}

int series_create(engine *e, store *st, json_t *in, bool internal, series_row *ret, sked_err *err) {
        series_row row = {0};
        sked_time now = engine_now(e);
        int r = apply_fields(e, in, true, internal, &row, err);
        if (r == 0) {
                row.created_at = row.updated_at = now;
                r = compute_next(e, &row, now, err);
        }
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

int engine_series_update(engine *e, store *st, int64_t id, json_t *patch, int64_t expected_version,
                         series_row *ret, sked_err *err) {
        series_row row = {0};
        int r = store_series_get(st, id, &row, err);
        if (r < 0)
                return r;
        if (expected_version && row.version != expected_version) {
                r = err_field(err, -ESTALE, "version", "series %lld is at version %lld, not %lld: reload it and retry",
                              (long long) id, (long long) row.version, (long long) expected_version);
                goto fail;
        }
        json_t *v = json_object_get(patch, "version");
        if (v && (!json_is_integer(v) || (expected_version && json_integer_value(v) != expected_version))) {
                r = err_field(err, -EINVAL, "version", "expected the integer version the edit is based on");
                goto fail;
        }
        if (v && !expected_version)
                expected_version = json_integer_value(v);
        sked_time now = engine_now(e);
        if ((r = apply_fields(e, patch, false, false, &row, err)) < 0)
                goto fail;
        row.updated_at = now;
        bool rule_changed = json_object_get(patch, "schedule") || json_object_get(patch, "tz") ||
                            json_object_get(patch, "start") || json_object_get(patch, "end") ||
                            json_object_get(patch, "count");
        if (rule_changed && (r = compute_next(e, &row, now, err)) < 0)
                goto fail;
        if ((r = store_series_update(st, &row, expected_version ? expected_version : row.version, rule_changed,
                                     err)) < 0)
                goto fail;
        engine_changed(e, st);
        *ret = row;
        return 0;
fail:
        series_row_clear(&row);
        return r;
}

int engine_series_set_enabled(engine *e, store *st, int64_t id, bool enabled, const char *note,
                              series_row *ret, sked_err *err) {
        if (note && strlen(note) > MAX_NOTE)
                return err_field(err, -EINVAL, "note", "longer than %d characters", MAX_NOTE);
        sked_time now = engine_now(e);
        series_row row = {0};
        int r = store_series_get(st, id, &row, err);
        if (r < 0)
                return r;
        bool resuming = enabled && !row.enabled;
        if (resuming) {
                /* resuming: what fell due while paused is not owed; start from now */
                if ((r = compute_next(e, &row, now, err)) < 0)
                        goto fail;
        }
        row.enabled = enabled;
        set_str(&row.pause_note, enabled ? NULL : note);
        row.updated_at = now;
        if ((r = store_series_update(st, &row, row.version, resuming, err)) < 0)
                goto fail;
        engine_changed(e, st);
        *ret = row;
        return 0;
fail:
        series_row_clear(&row);
        return r;
}

int engine_series_trigger(engine *e, store *st, int64_t id, run_row *ret, sked_err *err) {
        series_row s = {0};
        int r = store_series_get(st, id, &s, err);
        if (r < 0)
                return r;
        sked_time now = engine_now(e);
        run_row run = {
                .series_id = s.id,
                .has_nominal = true,
                .nominal = now,
                .type = s.type,
                .trigger = "manual",
                .params = s.params,
                .query = s.query,
                .attempt = 1,
                .queued_at = now,
                .not_before = now,
        };
        r = store_run_insert(st, &run, err);
        free(run.idem_key); /* the other strings are borrowed from s */
        if (r == 0)
                r = store_run_get(st, run.id, ret, err);
        series_row_clear(&s);
        engine_changed(e, st);
        return r;
}

/* "2026-03-08T03:30:00-04:00": the wall time of t in the schedule's zone. */
static json_t *local_text(const schedule *sc, sked_time t) {
        int64_t local;
        int32_t off;
        schedule_local(sc, t, &local, &off);
        civil c;
        civil_from_seconds(local, &c);
        char wall[24], offs[16], out[48];
        civil_format(&c, wall, sizeof wall);
        tz_format_offset(off, offs, sizeof offs);
        snprintf(out, sizeof out, "%s%s", wall, offs);
        return json_string(out);
}

int engine_enqueue(engine *e, store *st, const char *type, const char *const *params_json, size_t n,
                   int64_t *ret_ids, sked_err *err) {
        const type_entry *te = engine_type_find(e, type);
        if (!te)
                return err_field(err, -ENOENT, "type", "\"%s\": no such process type", type);
        if (n == 0 || n > 100000)
                return err_field(err, -EINVAL, "runs", "expected 1 to 100000 runs, got %zu", n);
        char **texts = calloc(n, sizeof *texts);
        if (!texts)
                return err_set(err, -ENOMEM, "out of memory");
        int r = 0;
        for (size_t i = 0; i < n && r == 0; i++) {
                json_error_t je;
                json_t *in = params_json && params_json[i] ? json_loads(params_json[i], 0, &je) : NULL, *norm = NULL;
                if (params_json && params_json[i] && !json_is_object(in)) {
                        r = err_field(err, -EINVAL, "params", "run %zu: expected a JSON object", i);
                } else if ((r = params_validate(te->t->params, in, &norm, err)) == 0) {
                        texts[i] = json_dumps(norm, JSON_COMPACT);
                        json_decref(norm);
                }
                json_decref(in);
        }
        int64_t *ids = r == 0 ? calloc(n, sizeof *ids) : NULL;
        if (r == 0 && !ids)
                r = err_set(err, -ENOMEM, "out of memory");
        if (r == 0) {
                /* through the loop when it runs: one writer, many enqueues per flush */
                enqueue_req req = {.type = te->t->name, .texts = texts, .n = n, .ids = ids};
                r = engine_submit_runs(e, &req);
                if (r == -ESHUTDOWN) {
                        /* not started (or stopping): write it ourselves */
                        sked_time now = engine_now(e);
                        if ((r = store_begin(st, err)) == 0) {
                                r = engine_insert_runs(e, st, te->t->name, texts, n, now, ids, err);
                                if (r == 0)
                                        r = store_commit(st, err);
                                else
                                        store_rollback(st);
                        }
                } else if (r < 0 && err) {
                        *err = req.err;
                }
        }
        if (r == 0 && ret_ids)
                memcpy(ret_ids, ids, n * sizeof *ids);
        free(ids);
        for (size_t i = 0; i < n; i++)
                free(texts[i]);
        free(texts);
        return r;
}

int engine_series_occurrences(engine *e, store *st, const series_row *s, sked_time from, sked_time to,
                              int limit, json_t **ret, sked_err *err) {
        json_t *past = NULL;
        int r = store_occurrences_list(st, s->id, from, to, limit, &past, err);
        if (r < 0)
                return r;
        schedule *sc = NULL;
        if ((r = series_schedule_parse(s, s->created_at, &sc, err)) < 0) {
                json_decref(past);
                return r;
        }
        sked_time now = engine_now(e);
        json_t *out = json_array();
        size_t pi = 0, np = json_array_size(past);
        sked_time t;
        bool more = schedule_next(sc, from - 1, &t) == 0 && t < to;
        char buf[32];
        while ((int) json_array_size(out) < limit && (more || pi < np)) {
                json_t *p = pi < np ? json_array_get(past, pi) : NULL;
                sked_time pn = p ? json_integer_value(json_object_get(p, "nominal")) : SKED_TIME_MAX;
                json_t *o;
                if (p && (!more || pn <= t)) {
                        o = json_deep_copy(p);
                        if (!json_object_get(o, "state"))
                                json_object_set_new(o, "state", json_string("fired"));
                        if (more && pn == t)
                                more = schedule_next(sc, t, &t) == 0 && t < to;
                        pi++;
                } else {
                        o = json_object();
                        json_object_set_new(o, "nominal", json_integer(t));
                        /* past and not fired: "missed" once the poller's cursor passed it,
                         * "due" while it is about to fire */
                        const char *state = "planned";
                        if (!s->enabled)
                                state = "paused";
                        else if (t <= now)
                                state = s->has_next && t >= s->next_due ? "due" : "missed";
                        if (t < s->created_at) {
                                json_decref(o);
                                o = NULL;
                        } else {
                                json_object_set_new(o, "state", json_string(state));
                        }
                        more = schedule_next(sc, t, &t) == 0 && t < to;
                }
                if (!o)
                        continue;
                /* instants as UTC text for readers; the integer stays for machines */
                sked_time nom = json_integer_value(json_object_get(o, "nominal"));
                time_format_utc(nom, buf, sizeof buf);
                json_object_set_new(o, "at", json_string(buf));
                json_object_set_new(o, "local", local_text(sc, nom));
                json_object_del(o, "fired_at");
                json_array_append_new(out, o);
        }
        schedule_free(sc);
        json_decref(past);
        *ret = out;
        return 0;
}
