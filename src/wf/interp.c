/* interp: one instance's advance through its steps; see interp.h. */
#include "wf/interp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/duration.h"

static const char *const kind_names[] = {"set", "if", "switch", "wait", "run", "stop"};

static void journal(wf_result *r, const wf_step *s, const char *outcome, const char *detail) {
        json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "step", s->id ? s->id : "", "path", s->path ? s->path : "",
                              "kind", kind_names[s->kind], "outcome", outcome);
        if (e && detail)
                json_object_set_new(e, "detail", json_string(detail));
        json_array_append_new(r->journal, e);
        r->transitions++;
}

static void done(wf_result *r, const char *status, const char *reason) {
        r->out = WF_OUT_DONE;
        r->status = status;
        snprintf(r->reason, sizeof r->reason, "%s", reason ? reason : "");
}

static void fail_step(wf_result *r, const wf_step *s, const char *why) {
        journal(r, s, "failed", why);
        done(r, "failed", why);
}

static void iso(sked_time t, char *buf, size_t len) {
        time_format_utc_us(t, buf, len);
}

/* enters branch b of the step at in->pos; false when that branch has no steps */
static bool enter(const wf_step *s, int b, wf_inst *in) {
        const wf_steps *l = wf_step_branch(s, b);
        if (!l || l->n == 0 || in->pos.n + 2 > WF_POS_MAX)
                return false;
        in->pos.v[in->pos.n] = b;
        in->pos.v[in->pos.n + 1] = 0;
        in->pos.n += 2;
        return true;
}

/* a wait or run step has ended: its output, then what follows */
static bool complete(const wf_def *d, wf_inst *in, const wf_step *s, const wf_event *ev, sked_time now, wf_result *r) {
        char buf[64], why[SKED_ERR_MSG_MAX];
        json_t *out = NULL;
        switch (ev->kind) {
        case WF_EV_TIMER:
                iso(now, buf, sizeof buf);
                out = json_pack("{s:s}", "fired_at", buf);
                json_object_set_new(in->steps, s->id, out);
                journal(r, s, "fired", buf);
                break;
        case WF_EV_SIGNAL:
                iso(ev->at ? ev->at : now, buf, sizeof buf);
                out = json_pack("{s:s, s:O?, s:s}", "signal", ev->signal, "data", ev->data, "at", buf);
                json_object_set_new(in->steps, s->id, out);
                journal(r, s, "signaled", ev->signal);
                break;
        case WF_EV_TIMEOUT: {
                char d_text[32];
                duration_format(s->timeout_us / 1000, d_text, sizeof d_text);
                json_object_set_new(in->steps, s->id, json_pack("{s:b}", "timed_out", 1));
                if (s->has_on_timeout) {
                        journal(r, s, "timed out", "on_timeout");
                        if (enter(s, 0, in))
                                return true;
                        break;
                }
                if (s->kind == WF_WAIT && s->wait == WF_WAIT_SIGNAL)
                        snprintf(why, sizeof why, "%s (%s): the wait timed out after %s without the signal \"%s\"",
                                 s->path, s->id, d_text, s->signal);
                else
                        snprintf(why, sizeof why, "%s (%s): the wait timed out after %s", s->path, s->id, d_text);
                fail_step(r, s, why);
                return false;
        }
        case WF_EV_RUN:
                json_object_set(in->steps, s->id, ev->data ? ev->data : json_null());
                if (!ev->run_ok) {
                        snprintf(why, sizeof why, "%s (%s): the run of %s did not succeed: %s", s->path, s->id, s->type,
                                 ev->error ? ev->error : "failed");
                        fail_step(r, s, why);
                        return false;
                }
                journal(r, s, "succeeded", NULL);
                break;
        case WF_EV_NONE:
                snprintf(why, sizeof why, "%s (%s): resumed without an event", s->path, s->id);
                fail_step(r, s, why);
                return false;
        }
        (void) d;
        if (!wf_pos_next(d, &in->pos)) {
                done(r, "succeeded", NULL);
                return false;
        }
        return true;
}

static int step_set(const wf_def *d, wf_inst *in, const wf_step *s, const wf_scope *sc, wf_result *r) {
        json_t *out = json_object();
        sked_err e = {0};
        char f[400];
        for (size_t i = 0; i < s->nset; i++) {
                json_t *v;
                snprintf(f, sizeof f, "%s.set.%s", s->path, s->set_keys[i]);
                if (wf_tmpl_eval(d->lua, s->set_vals[i], sc, f, &v, &e) < 0) {
                        json_decref(out);
                        fail_step(r, s, e.msg);
                        return 1;
                }
                json_object_set_new(out, s->set_keys[i], v);
        }
        /* the values are evaluated first, then set: one step's expressions see the
         * variables as they were before it */
        json_object_update(in->vars, out);
        size_t size = json_dumpb(in->vars, NULL, 0, JSON_COMPACT);
        if (size > WF_VARS_MAX) {
                json_decref(out);
                char why[SKED_ERR_MSG_MAX];
                snprintf(why, sizeof why, "%s.set: the variables would take %zu bytes (at most %d)", s->path, size,
                         WF_VARS_MAX);
                fail_step(r, s, why);
                return 1;
        }
        json_object_set_new(in->steps, s->id, out);
        journal(r, s, "ok", NULL);
        return 0;
}

int wf_advance(const wf_def *d, wf_inst *in, const wf_event *ev, sked_time now, wf_result *r, sked_err *err) {
        memset(r, 0, sizeof *r);
        r->journal = json_array();
        if (!r->journal)
                return err_set(err, -ENOMEM, "out of memory");
        wf_scope sc = {.input = in->input, .vars = in->vars, .steps = in->steps, .now = now};
        char why[SKED_ERR_MSG_MAX], f[400];
        sked_err e = {0};
        if (in->waiting) {
                const wf_step *s = wf_pos_step(d, &in->pos);
                if (!s) {
                        done(r, "failed", "the instance's position names no step of its version");
                        return 0;
                }
                in->waiting = false;
                if (!complete(d, in, s, ev, now, r))
                        return 0;
        } else if (in->pos.n == 0) {
                in->pos.n = 1; /* a new instance: the first step */
                in->pos.v[0] = 0;
        }
        for (int k = 0;; k++) {
                if (k == WF_INLINE_MAX) {
                        r->out = WF_OUT_YIELD;
                        return 0;
                }
                const wf_step *s = wf_pos_step(d, &in->pos);
                if (!s) {
                        done(r, "succeeded", NULL);
                        return 0;
                }
                bool next = true;
                switch (s->kind) {
                case WF_SET:
                        if (step_set(d, in, s, &sc, r))
                                return 0;
                        break;
                case WF_IF: {
                        bool yes;
                        snprintf(f, sizeof f, "%s.if", s->path);
                        if (wf_lua_truth(d->lua, s->cond, &sc, f, &yes, &e) < 0) {
                                fail_step(r, s, e.msg);
                                return 0;
                        }
                        json_object_set_new(in->steps, s->id, json_pack("{s:s}", "branch", yes ? "then" : "else"));
                        journal(r, s, "ok", yes ? "then" : "else");
                        next = !enter(s, yes ? 0 : 1, in);
                        break;
                }
                case WF_SWITCH: {
                        size_t i;
                        for (i = 0; i < s->ncases; i++) {
                                bool yes;
                                snprintf(f, sizeof f, "%s.switch[%zu].when", s->path, i);
                                if (wf_lua_truth(d->lua, s->case_cond[i], &sc, f, &yes, &e) < 0) {
                                        fail_step(r, s, e.msg);
                                        return 0;
                                }
                                if (yes)
                                        break;
                        }
                        json_object_set_new(in->steps, s->id,
                                            i < s->ncases ? json_pack("{s:I}", "case", (json_int_t) i)
                                                          : json_pack("{s:s}", "case", "default"));
                        snprintf(f, sizeof f, i < s->ncases ? "case %zu" : "default", i);
                        journal(r, s, "ok", f);
                        next = !enter(s, (int) i, in);
                        break;
                }
                case WF_WAIT: {
                        r->out = WF_OUT_WAIT;
                        r->wait = s->wait;
                        r->timeout = s->timeout_us ? now + s->timeout_us : 0;
                        if (s->wait == WF_WAIT_SIGNAL) {
                                r->signal = s->signal;
                                snprintf(why, sizeof why, "signal %s", s->signal);
                        } else {
                                if (wf_wait_due(d, s, &sc, now, &r->due, &e) < 0) {
                                        r->timeout = 0;
                                        fail_step(r, s, e.msg);
                                        return 0;
                                }
                                char buf[64];
                                iso(r->due, buf, sizeof buf);
                                snprintf(why, sizeof why, "until %s", buf);
                        }
                        if (r->timeout) {
                                char t[32];
                                duration_format(s->timeout_us / 1000, t, sizeof t);
                                size_t len = strlen(why);
                                snprintf(why + len, sizeof why - len, " (timeout %s)", t);
                        }
                        journal(r, s, "waiting", why);
                        in->waiting = true;
                        return 0;
                }
                case WF_RUN: {
                        json_t *params = NULL;
                        snprintf(f, sizeof f, "%s.run.params", s->path);
                        if (s->params && wf_tmpl_eval(d->lua, s->params, &sc, f, &params, &e) < 0) {
                                fail_step(r, s, e.msg);
                                return 0;
                        }
                        r->out = WF_OUT_RUN;
                        r->type = s->type;
                        r->params = params ? params : json_object();
                        r->step_id = s->id;
                        journal(r, s, "started", s->type);
                        in->waiting = true;
                        return 0;
                }
                case WF_STOP: {
                        json_t *msg = NULL;
                        snprintf(f, sizeof f, "%s.stop.message", s->path);
                        if (s->message && wf_tmpl_eval(d->lua, s->message, &sc, f, &msg, &e) < 0) {
                                fail_step(r, s, e.msg);
                                return 0;
                        }
                        char *text = json_is_string(msg)         ? strdup(json_string_value(msg))
                                     : msg && !json_is_null(msg) ? json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY)
                                                                 : NULL;
                        json_decref(msg);
                        journal(r, s, s->canceled ? "canceled" : "succeeded", text);
                        done(r, s->canceled ? "canceled" : "succeeded", text);
                        free(text);
                        return 0;
                }
                }
                if (next && !wf_pos_next(d, &in->pos)) {
                        done(r, "succeeded", NULL);
                        return 0;
                }
        }
}

void wf_result_clear(wf_result *r) {
        json_decref(r->params);
        json_decref(r->journal);
        r->params = r->journal = NULL;
}
