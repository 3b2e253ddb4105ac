/* workflow: instances advanced by the loop (the workflow step), and the writes
 * that register, start, signal, pause, resume and cancel; see workflow.h. */
#include "engine/workflow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "engine/engine_internal.h"
#include "model/params.h"
#include "store/store.h"
#include "wf/interp.h"

#define DUE_PER_TURN 256               /* instances advanced per turn; the rest in the next, at once */
#define ROUNDS_PER_INSTANCE 16         /* advances of one instance per turn (a wait satisfied at once goes on) */
#define SWEEP_EVERY_US (2 * SKED_USEC) /* look for runs that ended elsewhere (other nodes, recovery) */
#define RUN_RESULTS_MAX 1000           /* results of a run step kept in steps.<id>.results */

/* the versions the loop has compiled (loop-owned) */
typedef struct wf_cached {
        char *name;
        int64_t version;
        wf_def *def;
} wf_cached;

struct wf_engine {
        wf_cached *v;
        size_t n, cap;
        sked_time last_sweep;
        sked_time next_due;
        bool any_due;
};

static struct wf_engine *wf_of(engine *e) {
        if (!e->wf)
                e->wf = calloc(1, sizeof *e->wf);
        return e->wf;
}

void engine_workflows_free(engine *e) {
        if (!e->wf)
                return;
        for (size_t i = 0; i < e->wf->n; i++) {
                free(e->wf->v[i].name);
                wf_def_free(e->wf->v[i].def);
        }
        free(e->wf->v);
        free(e->wf);
        e->wf = NULL;
}

static bool type_exists(void *ud, const char *type) {
        return engine_type_find(ud, type) != NULL;
}

int engine_workflow_check(engine *e, const json_t *in, wf_def **ret, json_t **ret_errors, sked_err *err) {
        return wf_def_build(in, type_exists, e, ret, ret_errors, err);
}

/* Version `version` of `name` compiled (0: the newest; *ret_version says which). */
static int def_get(engine *e, store *st, const char *name, int64_t version, const wf_def **ret, int64_t *ret_version,
                   sked_err *err) {
        struct wf_engine *w = wf_of(e);
        if (!w)
                return err_set(err, -ENOMEM, "out of memory");
        char *text = NULL;
        if (version == 0) {
                /* the newest: ask the store (another node may have registered one) */
                int r = store_workflow_get(st, name, 0, &text, &version, err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < w->n; i++)
                if (w->v[i].version == version && !strcmp(w->v[i].name, name)) {
                        free(text);
                        *ret = w->v[i].def;
                        if (ret_version)
                                *ret_version = version;
                        return 0;
                }
        int r = text ? 0 : store_workflow_get(st, name, version, &text, NULL, err);
        if (r < 0)
                return r;
        json_t *j = json_loads(text, 0, NULL);
        free(text);
        wf_def *d = NULL;
        /* no type check: a type removed since shows when the step runs */
        r = j ? wf_def_build(j, NULL, NULL, &d, NULL, err)
              : err_set(err, -EIO, "workflow %s: stored text is not JSON", name);
        json_decref(j);
        if (r < 0)
                return err_prefix(err, "stored definition");
        if (w->n == w->cap) {
                size_t c = w->cap ? w->cap * 2 : 16;
                wf_cached *nv = realloc(w->v, c * sizeof *nv);
                if (!nv) {
                        wf_def_free(d);
                        return err_set(err, -ENOMEM, "out of memory");
                }
                w->v = nv;
                w->cap = c;
        }
        w->v[w->n++] = (wf_cached){.name = strdup(name), .version = version, .def = d};
        *ret = d;
        if (ret_version)
                *ret_version = version;
        return 0;
}

/* ---- the view ---- */

static void put_instant(json_t *o, const char *key, sked_time t) {
        if (!t) {
                json_object_set_new(o, key, json_null());
                return;
        }
        char buf[40];
        time_format_utc_us(t, buf, sizeof buf);
        json_object_set_new(o, key, json_string(buf));
}

static json_t *parsed_object(const char *text) {
        json_t *v = text ? json_loads(text, 0, NULL) : NULL;
        return v ? v : json_object();
}

json_t *engine_instance_json(const instance_row *r) {
        json_t *o = json_object();
        if (!o)
                return NULL;
        json_object_set_new(o, "id", json_integer(r->id));
        json_object_set_new(o, "workflow", json_string(r->workflow));
        json_object_set_new(o, "version", json_integer(r->version));
        json_object_set_new(o, "status", json_string(r->status));
        json_object_set_new(o, "reason", r->reason ? json_string(r->reason) : json_null());
        json_object_set_new(o, "input", parsed_object(r->input));
        json_object_set_new(o, "vars", parsed_object(r->vars));
        json_object_set_new(o, "steps", parsed_object(r->steps));
        json_object_set_new(o, "position", json_string(r->position ? r->position : ""));
        if (r->wait_kind) {
                json_t *w = json_pack("{s:s}", "kind", r->wait_kind);
                json_object_set_new(w, "signal", r->wait_signal ? json_string(r->wait_signal) : json_null());
                put_instant(w, "until", r->wait_until);
                put_instant(w, "timeout_at", r->timeout_at);
                json_object_set_new(w, "run_id", r->wait_run ? json_integer(r->wait_run) : json_null());
                json_object_set_new(o, "wait", w);
        } else {
                json_object_set_new(o, "wait", json_null());
        }
        json_object_set_new(o, "transitions", json_integer(r->transitions));
        put_instant(o, "created_at", r->created_at);
        put_instant(o, "updated_at", r->updated_at);
        put_instant(o, "ended_at", r->ended_at);
        return o;
}

static int view_of(store *st, int64_t id, json_t **ret, sked_err *err) {
        instance_row r = {0};
        int rc = store_instance_get(st, id, &r, err);
        if (rc < 0)
                return rc;
        *ret = engine_instance_json(&r);
        instance_row_clear(&r);
        return *ret ? 0 : err_set(err, -ENOMEM, "out of memory");
}

/* ---- writes ---- */

int engine_workflow_register_apply(engine *e, store *st, void *op, json_t **ret_reply, sked_err *err) {
        wf_register_op *o = op;
        (void) ret_reply;
        return store_workflow_put(st, o->name, o->mode, o->text, engine_now(e), &o->version, err);
}

int engine_workflow_start_apply(engine *e, store *st, void *op, json_t **ret_reply, sked_err *err) {
        wf_start_op *o = op;
        (void) ret_reply;
        /* the compiled versions are the loop's: a write run elsewhere (the engine not
         * started, or stopping) must not touch them */
        if (!writes_on_loop_thread(e))
                return err_set(err, -ESHUTDOWN, "the engine is not running: workflows start through its loop");
        const wf_def *d;
        int64_t version;
        int r = def_get(e, st, o->name, 0, &d, &version, err);
        if (r < 0)
                return r;
        json_error_t je;
        json_t *in = o->input ? json_loads(o->input, 0, &je) : json_object(), *norm = NULL;
        if (!json_is_object(in)) {
                json_decref(in);
                return err_field(err, -EINVAL, "input", "expected a JSON object");
        }
        r = params_validate(d->input, in, &norm, err);
        json_decref(in);
        if (r < 0) {
                /* params_validate says params...: it is the workflow's input */
                if (!strncmp(err->msg, "params", 6)) {
                        char msg[SKED_ERR_MSG_MAX];
                        snprintf(msg, sizeof msg, "input%s", err->msg + 6);
                        snprintf(err->msg, sizeof err->msg, "%s", msg);
                        snprintf(err->field, sizeof err->field, "input");
                }
                return r;
        }
        char *input = json_dumps(norm, JSON_COMPACT);
        json_decref(norm);
        if (!input)
                return err_set(err, -ENOMEM, "out of memory");
        sked_time now = engine_now(e);
        instance_row row = {.workflow = o->name,
                            .version = version,
                            .status = "queued",
                            .input = input,
                            .vars = "{}",
                            .steps = "{}",
                            .position = "",
                            .due_at = now,
                            .created_at = now,
                            .updated_at = now};
        r = store_instance_insert(st, &row, err);
        free(input);
        if (r == 0)
                r = view_of(st, row.id, &o->instance, err);
        if (r == 0)
                engine_changed(e, st); /* the role's loop (maybe on another node) advances it */
        return r;
}

static const char *const ended[] = {"succeeded", "failed", "canceled", NULL};

static bool is_ended(const char *status) {
        for (const char *const *p = ended; *p; p++)
                if (!strcmp(status, *p))
                        return true;
        return false;
}

int engine_instance_apply(engine *e, store *st, void *op, json_t **ret_reply, sked_err *err) {
        wf_instance_op *o = op;
        (void) ret_reply;
        instance_row r = {0};
        int rc = store_instance_get(st, o->id, &r, err);
        if (rc < 0)
                return rc;
        sked_time now = engine_now(e);
        bool changed = true;
        switch (o->verb) {
        case WF_SIGNAL:
                if (is_ended(r.status)) {
                        changed = false;
                        break;
                }
                if ((rc = store_signal_add(st, o->id, o->signal, o->data, now, err)) == 0)
                        rc = store_instance_signal_wake(st, o->id, o->signal, now, err);
                break;
        case WF_CANCEL:
                rc = store_instance_cancel(st, o->id, o->data ? o->data : "canceled by request", now, &changed, err);
                break;
        case WF_PAUSE:
                rc = store_instance_pause(st, o->id, now, &changed, err);
                break;
        case WF_RESUME:
                rc = store_instance_resume(st, o->id, now, &changed, err);
                break;
        }
        if (rc == 0 && !changed)
                rc = err_field(err, -EEXIST, "status", "instance %lld is %s: it cannot be %s", (long long) o->id,
                               r.status,
                               o->verb == WF_SIGNAL   ? "signaled"
                               : o->verb == WF_CANCEL ? "canceled"
                               : o->verb == WF_PAUSE  ? "paused"
                                                      : "resumed (it is not paused)");
        instance_row_clear(&r);
        if (rc == 0 && o->verb == WF_CANCEL) {
                journal_entry j = {.step = "",
                                   .path = "",
                                   .kind = "instance",
                                   .outcome = "canceled",
                                   .at = now,
                                   .detail = o->data ? o->data : "canceled by request"};
                instance_row cur = {0};
                if ((rc = store_instance_get(st, o->id, &cur, err)) == 0) {
                        cur.journal_seq++;
                        if ((rc = store_journal_add(st, o->id, cur.journal_seq, &j, err)) == 0)
                                rc = store_instance_update(st, &cur, err);
                }
                instance_row_clear(&cur);
        }
        if (rc == 0)
                rc = view_of(st, o->id, &o->instance, err);
        if (rc == 0)
                engine_changed(e, st);
        return rc;
}

/* ---- the turn step: advance what is due ---- */

/* the output of a run step: steps.<id> */
static int run_output(store *st, const run_row *run, json_t **ret, sked_err *err) {
        json_t *results = NULL;
        int r = store_results_list(st, run->id, 0, RUN_RESULTS_MAX, &results, err);
        if (r < 0)
                return r;
        size_t i;
        json_t *it;
        json_array_foreach(results, i, it) {
                /* data as JSON when it is JSON */
                json_t *data = json_object_get(it, "data");
                if (json_is_string(data)) {
                        json_t *p = json_loads(json_string_value(data), JSON_DECODE_ANY, NULL);
                        if (p)
                                json_object_set_new(it, "data", p);
                }
                json_object_del(it, "seq");
                json_object_del(it, "at");
        }
        json_t *o = json_pack("{s:I, s:s, s:I, s:o}", "run_id", (json_int_t) run->id, "state", run->state, "attempt",
                              (json_int_t) run->attempt, "results", results);
        if (!o)
                return err_set(err, -ENOMEM, "out of memory");
        json_object_set_new(o, "exit_code", run->has_exit ? json_integer(run->exit_code) : json_null());
        json_object_set_new(o, "error", run->error ? json_string(run->error) : json_null());
        *ret = o;
        return 0;
}

static void set_text(char **field, const char *v) {
        free(*field);
        *field = v ? strdup(v) : NULL;
}

static void clear_wait(instance_row *r) {
        set_text(&r->wait_kind, NULL);
        set_text(&r->wait_signal, NULL);
        r->wait_run = 0;
        r->wait_until = 0;
        r->timeout_at = 0;
}

/* queues the run of a run step; *ret_id, or an error for the step (not the turn)
 * in why (return 1) */
static int queue_run(engine *e, store *st, const instance_row *row, const wf_result *res, sked_time now,
                     int64_t *ret_id, char *why, size_t whylen, sked_err *err) {
        const type_entry *te = engine_type_find(e, res->type);
        if (!te) {
                snprintf(why, whylen, "step %s: \"%s\": no such process type", res->step_id, res->type);
                return 1;
        }
        json_t *norm = NULL;
        sked_err perr = {0};
        if (params_validate(te->t->params, res->params, &norm, &perr) < 0) {
                snprintf(why, whylen, "step %s: %s", res->step_id, perr.msg);
                return 1;
        }
        char *params = json_dumps(norm, JSON_COMPACT);
        json_decref(norm);
        char key[256];
        snprintf(key, sizeof key, "wf:%lld:%s:1", (long long) row->id, res->step_id);
        run_row run = {.type = te->t->name,
                       .trigger = "workflow",
                       .params = params,
                       .attempt = 1,
                       .queued_at = now,
                       .not_before = now,
                       .idem_key = key};
        int r = params ? store_run_insert(st, &run, err) : err_set(err, -ENOMEM, "out of memory");
        free(params);
        if (r < 0)
                return r;
        *ret_id = run.id;
        return store_notify(st, err); /* other nodes' workers may take it */
}

/* The event of a waiting instance, if any has happened: 1 (ev filled; *ret_data
 * owned by the caller), 0 not yet (r's due_at and wait fields set for later). */
static int what_happened(store *st, instance_row *r, sked_time now, wf_event *ev, json_t **ret_data, char **ret_text,
                         sked_err *err) {
        *ret_data = NULL;
        *ret_text = NULL;
        if (!r->wait_kind) {
                ev->kind = WF_EV_NONE;
                return 1;
        }
        if (!strcmp(r->wait_kind, "signal")) {
                bool found = false;
                char *data = NULL;
                sked_time at = 0;
                int rc = store_signal_take(st, r->id, r->wait_signal, &found, &data, &at, err);
                if (rc < 0)
                        return rc;
                if (found) {
                        *ret_data = data ? json_loads(data, JSON_DECODE_ANY, NULL) : NULL;
                        free(data);
                        *ev = (wf_event){.kind = WF_EV_SIGNAL, .signal = r->wait_signal, .data = *ret_data, .at = at};
                        return 1;
                }
        } else if (!strcmp(r->wait_kind, "timer")) {
                if (r->wait_until <= now) {
                        ev->kind = WF_EV_TIMER;
                        return 1;
                }
        } else if (!strcmp(r->wait_kind, "run")) {
                run_row run = {0};
                int rc = store_run_get(st, r->wait_run, &run, err);
                if (rc == -ENOENT) {
                        /* purged (retention) or deleted: it cannot tell how it ended */
                        *ret_text = strdup("the run is gone (purged or deleted)");
                        *ev = (wf_event){.kind = WF_EV_RUN, .run_ok = false, .error = *ret_text};
                        return 1;
                }
                if (rc < 0)
                        return rc;
                bool live = !strcmp(run.state, "queued") || !strcmp(run.state, "running");
                if (!live && run.next_attempt) {
                        /* retried or recovered: wait for the next attempt */
                        r->wait_run = run.next_attempt;
                        run_row_clear(&run);
                        r->due_at = r->timeout_at;
                        return 0;
                }
                if (!live) {
                        rc = run_output(st, &run, ret_data, err);
                        if (rc == 0) {
                                *ret_text = run.error ? strdup(run.error) : strdup(run.state);
                                *ev = (wf_event){.kind = WF_EV_RUN,
                                                 .data = *ret_data,
                                                 .run_ok = !strcmp(run.state, "succeeded"),
                                                 .error = *ret_text};
                        }
                        run_row_clear(&run);
                        return rc < 0 ? rc : 1;
                }
                run_row_clear(&run);
        }
        if (r->timeout_at && r->timeout_at <= now) {
                ev->kind = WF_EV_TIMEOUT;
                return 1;
        }
        /* nothing yet: look again when the timer or the timeout is due */
        sked_time due = !strcmp(r->wait_kind, "timer") ? r->wait_until : 0;
        if (r->timeout_at && (!due || r->timeout_at < due))
                due = r->timeout_at;
        r->due_at = due;
        return 0;
}

static char *dump(json_t *v) {
        return json_dumps(v, JSON_COMPACT);
}

/* Advances instance id (locked) as far as it goes now; its checkpoint, journal and
 * any run it queues are written in the turn's transaction.  <0 only for the store. */
static int advance_one(engine *e, store *st, int64_t id, sked_time now, sked_err *err) {
        instance_row r = {0};
        int rc = store_instance_lock(st, id, &r, err);
        if (rc < 0)
                return rc == -ENOENT ? 0 : rc;
        wf_inst in = {0};
        const wf_def *d = NULL;
        if (strcmp(r.status, "queued") && strcmp(r.status, "running") && strcmp(r.status, "waiting")) {
                r.due_at = 0; /* paused or ended meanwhile */
                rc = store_instance_update(st, &r, err);
                goto done;
        }
        sked_err derr = {0};
        if ((rc = def_get(e, st, r.workflow, r.version, &d, NULL, &derr)) < 0) {
                if (rc != -ENOENT && rc != -EINVAL) {
                        *err = derr;
                        goto done;
                }
                /* the version is gone or no longer builds: the instance cannot go on */
                set_text(&r.status, "failed");
                set_text(&r.reason, derr.msg);
                clear_wait(&r);
                r.due_at = 0;
                r.ended_at = r.updated_at = now;
                rc = store_instance_update(st, &r, err);
                goto done;
        }
        in.input = parsed_object(r.input);
        in.vars = parsed_object(r.vars);
        in.steps = parsed_object(r.steps);
        if (wf_pos_parse(r.position ? r.position : "", &in.pos) < 0)
                in.pos.n = 0;
        in.waiting = r.wait_kind != NULL;
        bool changed = false;
        for (int round = 0; round < ROUNDS_PER_INSTANCE; round++) {
                wf_event ev = {0};
                json_t *data = NULL;
                char *text = NULL;
                int got = what_happened(st, &r, now, &ev, &data, &text, err);
                if (got < 0) {
                        rc = got;
                        goto done;
                }
                if (got == 0) {
                        changed = true;
                        break;
                }
                wf_result res;
                rc = wf_advance(d, &in, &ev, now, &res, err);
                json_decref(data);
                free(text);
                if (rc < 0)
                        goto done;
                changed = true;
                clear_wait(&r);
                r.due_at = 0;
                r.transitions += res.transitions;
                int64_t run_id = 0;
                char why[SKED_ERR_MSG_MAX] = "";
                if (res.out == WF_OUT_RUN) {
                        int q = queue_run(e, st, &r, &res, now, &run_id, why, sizeof why, err);
                        if (q < 0) {
                                wf_result_clear(&res);
                                rc = q;
                                goto done;
                        }
                        if (q == 1) {
                                res.out = WF_OUT_DONE;
                                res.status = "failed";
                                snprintf(res.reason, sizeof res.reason, "%s", why);
                        }
                }
                size_t i;
                json_t *j;
                json_array_foreach(res.journal, i, j) {
                        bool last = i + 1 == json_array_size(res.journal);
                        journal_entry je = {.step = json_string_value(json_object_get(j, "step")),
                                            .path = json_string_value(json_object_get(j, "path")),
                                            .kind = json_string_value(json_object_get(j, "kind")),
                                            .outcome = json_string_value(json_object_get(j, "outcome")),
                                            .detail = json_string_value(json_object_get(j, "detail")),
                                            .at = now,
                                            .run_id = last ? run_id : 0};
                        if (last && why[0])
                                je.outcome = "failed", je.detail = why;
                        if ((rc = store_journal_add(st, r.id, ++r.journal_seq, &je, err)) < 0) {
                                wf_result_clear(&res);
                                goto done;
                        }
                }
                bool again = false;
                switch (res.out) {
                case WF_OUT_WAIT:
                        set_text(&r.status, "waiting");
                        set_text(&r.wait_kind, res.wait == WF_WAIT_SIGNAL ? "signal" : "timer");
                        set_text(&r.wait_signal, res.wait == WF_WAIT_SIGNAL ? res.signal : NULL);
                        r.wait_until = res.wait == WF_WAIT_SIGNAL ? 0 : res.due;
                        r.timeout_at = res.timeout;
                        /* a signal sent before the wait began, or a timer already due,
                         * is taken in the next round */
                        again = true;
                        break;
                case WF_OUT_RUN:
                        set_text(&r.status, "running");
                        set_text(&r.wait_kind, "run");
                        r.wait_run = run_id;
                        break;
                case WF_OUT_DONE:
                        set_text(&r.status, res.status);
                        set_text(&r.reason, res.reason[0] ? res.reason : NULL);
                        r.ended_at = now;
                        break;
                case WF_OUT_YIELD:
                        set_text(&r.status, "running");
                        r.due_at = now; /* the next turn goes on */
                        break;
                }
                wf_result_clear(&res);
                if (!again)
                        break;
        }
        if (changed) {
                char pos[WF_POS_MAX * 8];
                wf_pos_format(&in.pos, pos, sizeof pos);
                free(r.vars);
                free(r.steps);
                set_text(&r.position, pos);
                r.vars = dump(in.vars);
                r.steps = dump(in.steps);
                r.updated_at = now;
                if (!r.vars || !r.steps) {
                        rc = err_set(err, -ENOMEM, "out of memory");
                        goto done;
                }
                rc = store_instance_update(st, &r, err);
        }
done:
        json_decref(in.input);
        json_decref(in.vars);
        json_decref(in.steps);
        instance_row_clear(&r);
        return rc;
}

static int workflow_work(engine *e, turn_ctx *t, sked_err *err) {
        struct wf_engine *w = wf_of(e);
        if (!w)
                return err_set(err, -ENOMEM, "out of memory");
        w->any_due = false;
        if (!t->role || t->draining)
                return 0;              /* the poller role's node advances instances: one at a time */
        sked_time now = engine_now(e); /* writes of this turn (starts, signals) are due by now */
        int r = 0;
        /* runs that ended in this turn (events step, before us): their instances go on now */
        for (event *ev = t->events; ev && r == 0; ev = ev->next)
                if (ev->kind == EV_FINISH && ev->outcome != OUT_UNSTARTED && ev->outcome != OUT_RETRACTED)
                        if (ev->j->run.trigger && !strcmp(ev->j->run.trigger, "workflow"))
                                r = store_instances_wake_run(e->st, ev->j->run.id, now, err);
        if (r == 0 && now - w->last_sweep >= SWEEP_EVERY_US) {
                r = store_instances_wake_ended_runs(e->st, now, NULL, err);
                if (r == 0)
                        w->last_sweep = now;
        }
        int64_t *ids = NULL;
        size_t n = 0;
        if (r == 0)
                r = store_instances_due(e->st, now, DUE_PER_TURN, &ids, &n, err);
        for (size_t i = 0; i < n && r == 0; i++) {
                /* each in its savepoint: an instance whose advance the store refuses
                 * leaves the others alone (and is tried again next turn) */
                sked_err ierr = {0};
                int ir = store_begin(e->st, err);
                if (ir < 0) {
                        r = ir;
                        break;
                }
                ir = advance_one(e, e->st, ids[i], now, &ierr);
                if ((ir = store_end(e->st, ir, &ierr)) < 0) {
                        /* not again at once (the loop would spin on it): in a second */
                        log_warning("workflow instance %lld: %s (tried again in 1 s)", (long long) ids[i], ierr.msg);
                        if ((r = store_begin(e->st, err)) < 0)
                                break;
                        r = store_end(e->st, store_instance_delay(e->st, ids[i], now + SKED_USEC, err), err);
                }
        }
        free(ids);
        if (r == 0)
                r = store_instances_next_due(e->st, &w->next_due, &w->any_due, err);
        return r;
}

static sked_time workflow_wake(engine *e, const turn_ctx *t) {
        (void) t;
        return e->wf && e->wf->any_due ? (e->wf->next_due > 0 ? e->wf->next_due : 1) : 0;
}

const turn_step workflow_step = {"workflow", 0, workflow_work, NULL, workflow_wake, NULL};
