#include "api/views.h"

#include "sched/words.h"

void view_set_instant(json_t *o, const char *key, sked_time t) {
        if (!t) {
                json_object_set_new(o, key, json_null());
                return;
        }
        char buf[32];
        time_format_utc(t, buf, sizeof buf);
        json_object_set_new(o, key, json_string(buf));
}

static json_t *parsed(const char *text) {
        json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
        return v ? v : json_null();
}

static json_t *str_or_null(const char *s) {
        return s ? json_string(s) : json_null();
}

json_t *view_series(const series_row *s) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(s->id));
        json_object_set_new(o, "type", json_string(s->type));
        json_object_set_new(o, "title", str_or_null(s->title));
        json_object_set_new(o, "schedule", json_string(s->schedule));
        char words[256];
        schedule_words(s->schedule, s->tz, words, sizeof words);
        json_object_set_new(o, "schedule_text", json_string(words));
        json_object_set_new(o, "tz", json_string(s->tz));
        json_object_set_new(o, "start", str_or_null(s->start_local));
        view_set_instant(o, "end", s->end_at);
        json_object_set_new(o, "count", s->count ? json_integer(s->count) : json_null());
        json_object_set_new(o, "params", parsed(s->params));
        json_object_set_new(o, "query", parsed(s->query));
        json_object_set_new(o, "enabled", json_boolean(s->enabled));
        json_object_set_new(o, "pause_note", str_or_null(s->pause_note));
        json_object_set_new(o, "owner", str_or_null(s->owner));
        json_object_set_new(o, "background", json_boolean(s->background));
        /* a paused (or created disabled) series is not due: null, like an exhausted one */
        view_set_instant(o, "next_due", s->has_next && s->enabled ? s->next_due : 0);
        view_set_instant(o, "last_nominal", s->last_nominal);
        json_object_set_new(o, "fired", json_integer(s->fired));
        json_object_set_new(o, "policy", s->policy ? parsed(s->policy) : json_object());
        json_object_set_new(o, "sleep", s->sleep ? parsed(s->sleep) : json_array());
        json_object_set_new(o, "feature_on", json_boolean(s->feature_on));
        json_object_set_new(o, "exceptions", json_integer(s->n_exceptions));
        json_object_set_new(o, "skipped",
                            json_pack("{s:I, s:I, s:I}", "overlap", (json_int_t) s->skipped_overlap, "sleep",
                                      (json_int_t) s->skipped_sleep, "disabled", (json_int_t) s->skipped_disabled));
        json_object_set_new(o, "missed", json_integer(s->missed));
        json_object_set_new(o, "version", json_integer(s->version));
        view_set_instant(o, "created_at", s->created_at);
        view_set_instant(o, "updated_at", s->updated_at);
        return o;
}

json_t *view_run(const run_row *r) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(r->id));
        json_object_set_new(o, "series_id", r->series_id ? json_integer(r->series_id) : json_null());
        json_object_set_new(o, "type", json_string(r->type));
        json_object_set_new(o, "trigger", json_string(r->trigger));
        json_object_set_new(o, "state", json_string(r->state));
        json_object_set_new(o, "attempt", json_integer(r->attempt));
        json_object_set_new(o, "idempotency_key", str_or_null(r->idem_key));
        view_set_instant(o, "nominal", r->has_nominal ? r->nominal : 0);
        view_set_instant(o, "queued_at", r->queued_at);
        view_set_instant(o, "not_before", r->not_before);
        view_set_instant(o, "started_at", r->started_at);
        view_set_instant(o, "finished_at", r->finished_at);
        if (r->started_at && r->finished_at)
                json_object_set_new(o, "duration_ms", json_integer((r->finished_at - r->started_at) / 1000));
        else
                json_object_set_new(o, "duration_ms", json_null());
        json_object_set_new(o, "node", str_or_null(r->node));
        json_object_set_new(o, "exit_code", r->has_exit ? json_integer(r->exit_code) : json_null());
        json_object_set_new(o, "error", str_or_null(r->error));
        json_object_set_new(o, "progress", json_integer(r->progress));
        json_object_set_new(o, "counts",
                            json_pack("{s:I, s:I, s:I, s:I}", "info", (json_int_t) r->n_info, "warning",
                                      (json_int_t) r->n_warning, "error", (json_int_t) r->n_error, "results",
                                      (json_int_t) r->n_results));
        json_object_set_new(o, "next_attempt", r->next_attempt ? json_integer(r->next_attempt) : json_null());
        json_object_set_new(o, "rerun_of", r->rerun_of ? json_integer(r->rerun_of) : json_null());
        json_object_set_new(o, "cancel_requested", json_boolean(r->cancel_requested == RUN_CANCEL_REQUEST));
        json_object_set_new(o, "cancelled_by", str_or_null(r->cancelled_by));
        json_object_set_new(o, "cancel_reason", str_or_null(r->cancel_reason));
        json_object_set_new(o, "params", parsed(r->params));
        json_object_set_new(o, "query", parsed(r->query));
        return o;
}
