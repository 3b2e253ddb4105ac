/* def: a definition's structure check, its compiled step tree, positions; see def.h. */
#include "wf/def.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/duration.h"
#include "model/params.h"
#include "sched/tz.h"

/* ---- the check: every error, each naming its path ---- */

typedef struct chk {
        json_t *errors;
        size_t n;
        sked_err first;
        wf_lua *lua;
        wf_type_exists_fn exists;
        void *ud;
        size_t nsteps;
        json_t *ids;  /* id -> path */
        json_t *refs; /* [[path, id], ...]: steps.<id> named in expressions */
} chk;

static void add_msg(chk *c, int code, const char *field, const char *msg) {
        if (c->n == 0) {
                c->first.code = code;
                snprintf(c->first.field, sizeof c->first.field, "%s", field);
                snprintf(c->first.msg, sizeof c->first.msg, "%s", msg);
        }
        if (c->n++ < WF_ERRORS_MAX && c->errors)
                json_array_append_new(c->errors, json_pack("{s:s, s:s}", "field", field, "message", msg));
}

static void add(chk *c, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(chk *c, const char *field, const char *fmt, ...) {
        char text[400], msg[SKED_ERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        snprintf(msg, sizeof msg, "%s: %s", field, text);
        add_msg(c, -EINVAL, field, msg);
}

/* an error a callee set (its message names its field already) */
static void add_err(chk *c, const sked_err *e) {
        add_msg(c, e->code ? e->code : -EINVAL, e->field, e->msg);
}

static bool is_id(const char *s, size_t max) {
        size_t n = strlen(s);
        if (n == 0 || n > max || !(islower((unsigned char) s[0]) || s[0] == '_'))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(islower((unsigned char) s[i]) || isdigit((unsigned char) s[i]) || s[i] == '_'))
                        return false;
        return true;
}

static bool is_name(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > WF_NAME_MAX || !islower((unsigned char) s[0]))
                return false;
        return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static bool is_var(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > WF_ID_MAX || !(isalpha((unsigned char) s[0]) || s[0] == '_'))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(isalnum((unsigned char) s[i]) || s[i] == '_'))
                        return false;
        return true;
}

/* the keys of obj not in known: one error each */
static void unknown_keys(chk *c, const json_t *obj, const char *path, const char *const *known, const char *expect) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *) obj, k, v) {
                bool ok = false;
                for (const char *const *p = known; *p && !ok; p++)
                        ok = !strcmp(k, *p);
                if (!ok) {
                        char f[300];
                        snprintf(f, sizeof f, "%s.%s", path, k);
                        add(c, f, "unknown key (expected %s)", expect);
                }
        }
}

/* steps.<id> and steps["id"] named in the strings of v, for the reference check */
static void scan_refs(chk *c, const json_t *v, const char *path) {
        if (json_is_string(v)) {
                const char *s = json_string_value(v);
                for (const char *p = strstr(s, "steps"); p; p = strstr(p + 5, "steps")) {
                        if (p > s && (isalnum((unsigned char) p[-1]) || p[-1] == '_' || p[-1] == '.'))
                                continue;
                        const char *q = p + 5, *end;
                        char quote = 0;
                        if (*q == '.') {
                                q++;
                        } else if (q[0] == '[' && (q[1] == '"' || q[1] == '\'')) {
                                quote = q[1];
                                q += 2;
                        } else {
                                continue;
                        }
                        for (end = q; isalnum((unsigned char) *end) || *end == '_'; end++)
                                ;
                        if (end == q || (quote && *end != quote))
                                continue;
                        json_array_append_new(c->refs, json_pack("[s, s#]", path, q, (int) (end - q)));
                }
        } else if (json_is_object(v)) {
                const char *k;
                json_t *x;
                json_object_foreach((json_t *) v, k, x) {
                        scan_refs(c, x, path);
                }
        } else if (json_is_array(v)) {
                size_t i;
                json_t *x;
                json_array_foreach(v, i, x) {
                        scan_refs(c, x, path);
                }
        }
}

static bool compile_expr(chk *c, const json_t *v, const char *path, int *ret) {
        if (!json_is_string(v)) {
                add(c, path, "expected a Lua expression (a string)");
                return false;
        }
        sked_err e = {0};
        if (wf_lua_compile(c->lua, json_string_value(v), path, ret, &e) < 0) {
                add_err(c, &e);
                return false;
        }
        scan_refs(c, v, path);
        return true;
}

static bool compile_tmpl(chk *c, const json_t *v, const char *path, wf_tmpl **ret) {
        sked_err e = {0};
        if (wf_tmpl_compile(c->lua, v, path, ret, &e) < 0) {
                add_err(c, &e);
                return false;
        }
        scan_refs(c, v, path);
        return true;
}

static bool duration_us(chk *c, const json_t *v, const char *path, int64_t *ret) {
        int64_t ms;
        sked_err e = {0};
        if (duration_from_json(v, path, &ms, &e) < 0) {
                add_err(c, &e);
                return false;
        }
        if (ms <= 0 || ms > (int64_t) 3650 * 86400 * 1000) {
                add(c, path, "expected a duration from 1ms to 3650d");
                return false;
        }
        *ret = ms * 1000;
        return true;
}

static bool zone_ok(chk *c, const json_t *v, const char *path) {
        const tz_zone *z;
        sked_err e = {0};
        if (!json_is_string(v)) {
                add(c, path, "expected a time zone name (\"Europe/Paris\")");
                return false;
        }
        if (tz_load(json_string_value(v), &z, &e) < 0) {
                char f[300];
                snprintf(f, sizeof f, "%s", path);
                add(c, f, "%s", e.msg);
                return false;
        }
        return true;
}

static void parse_steps(chk *c, const json_t *list, const char *path, int depth, wf_steps *out);

static void parse_set(chk *c, const json_t *v, const char *path, wf_step *s) {
        char f[300];
        snprintf(f, sizeof f, "%s.set", path);
        if (!json_is_object(v) || json_object_size(v) == 0) {
                add(c, f, "expected a mapping of variable names to values");
                return;
        }
        size_t n = json_object_size(v);
        s->set_keys = calloc(n, sizeof *s->set_keys);
        s->set_vals = calloc(n, sizeof *s->set_vals);
        if (!s->set_keys || !s->set_vals)
                return;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *) v, k, x) {
                char kf[400];
                snprintf(kf, sizeof kf, "%s.%s", f, k);
                if (!is_var(k)) {
                        add(c, kf, "not a variable name (letters, digits and _, at most %d)", WF_ID_MAX);
                        continue;
                }
                wf_tmpl *t = NULL;
                if (!compile_tmpl(c, x, kf, &t))
                        continue;
                s->set_keys[s->nset] = strdup(k);
                s->set_vals[s->nset++] = t;
        }
}

static void parse_if(chk *c, const json_t *in, const char *path, int depth, wf_step *s) {
        char f[300];
        snprintf(f, sizeof f, "%s.if", path);
        compile_expr(c, json_object_get(in, "if"), f, &s->cond);
        snprintf(f, sizeof f, "%s.then", path);
        if (!json_object_get(in, "then"))
                add(c, f, "required (the steps when the condition holds)");
        else
                parse_steps(c, json_object_get(in, "then"), f, depth + 1, &s->then_);
        snprintf(f, sizeof f, "%s.else", path);
        if (json_object_get(in, "else"))
                parse_steps(c, json_object_get(in, "else"), f, depth + 1, &s->else_);
}

static void parse_switch(chk *c, const json_t *in, const char *path, int depth, wf_step *s) {
        char f[300];
        const json_t *v = json_object_get(in, "switch");
        snprintf(f, sizeof f, "%s.switch", path);
        if (!json_is_array(v) || json_array_size(v) == 0) {
                add(c, f, "expected a list of cases, each {when: condition, steps: [...]}");
        } else {
                size_t n = json_array_size(v);
                s->case_cond = calloc(n, sizeof *s->case_cond);
                s->cases = calloc(n, sizeof *s->cases);
                if (!s->case_cond || !s->cases)
                        return;
                s->ncases = n;
                for (size_t i = 0; i < n; i++) {
                        const json_t *cs = json_array_get(v, i);
                        char cf[320], sf[340];
                        snprintf(cf, sizeof cf, "%s[%zu]", f, i);
                        if (!json_is_object(cs)) {
                                add(c, cf, "expected a case {when: condition, steps: [...]}");
                                continue;
                        }
                        static const char *const known[] = {"when", "steps", NULL};
                        unknown_keys(c, cs, cf, known, "when, steps");
                        snprintf(sf, sizeof sf, "%s.when", cf);
                        if (!json_object_get(cs, "when"))
                                add(c, sf, "required (the case's condition)");
                        else
                                compile_expr(c, json_object_get(cs, "when"), sf, &s->case_cond[i]);
                        snprintf(sf, sizeof sf, "%s.steps", cf);
                        if (!json_object_get(cs, "steps"))
                                add(c, sf, "required (the case's steps)");
                        else
                                parse_steps(c, json_object_get(cs, "steps"), sf, depth + 1, &s->cases[i]);
                }
        }
        snprintf(f, sizeof f, "%s.default", path);
        if (json_object_get(in, "default"))
                parse_steps(c, json_object_get(in, "default"), f, depth + 1, &s->dflt);
}

static int hms_parse(const char *s, int *ret) {
        int h, m, sec = 0, n = 0;
        size_t len = strlen(s);
        if ((sscanf(s, "%2d:%2d:%2d%n", &h, &m, &sec, &n) == 3 && (size_t) n == len && len == 8) ||
            (sscanf(s, "%2d:%2d%n", &h, &m, &n) == 2 && (size_t) n == len && len == 5)) {
                if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59)
                        return -EINVAL;
                *ret = h * 3600 + m * 60 + sec;
                return 0;
        }
        return -EINVAL;
}

static void parse_wait(chk *c, const json_t *v, const char *path, int depth, wf_step *s) {
        char f[300], kf[340];
        snprintf(f, sizeof f, "%s.wait", path);
        if (!json_is_object(v)) {
                add(c, f,
                    "expected a mapping: {duration: 1h}, {until: INSTANT}, {at: \"09:00\", zone: Z} or "
                    "{signal: NAME}");
                return;
        }
        static const char *const known[] = {"duration", "until", "at", "zone", "signal", "timeout", "on_timeout", NULL};
        unknown_keys(c, v, f, known, "duration, until, at, zone, signal, timeout, on_timeout");
        static const char *const kinds[] = {"duration", "until", "at", "signal"};
        int nk = 0;
        for (int i = 0; i < 4; i++)
                if (json_object_get(v, kinds[i])) {
                        s->wait = (enum wf_wait) i;
                        nk++;
                }
        if (nk != 1) {
                add(c, f, "expected exactly one of duration, until, at or signal");
                return;
        }
        const json_t *zone = json_object_get(v, "zone");
        snprintf(kf, sizeof kf, "%s.zone", f);
        if (zone && s->wait != WF_WAIT_UNTIL && s->wait != WF_WAIT_AT)
                add(c, kf, "only with until or at");
        else if (zone && zone_ok(c, zone, kf))
                s->zone = strdup(json_string_value(zone));
        if (!s->zone)
                s->zone = strdup("UTC");
        snprintf(kf, sizeof kf, "%s.%s", f, kinds[s->wait]);
        const json_t *x = json_object_get(v, kinds[s->wait]);
        switch (s->wait) {
        case WF_WAIT_DURATION:
                duration_us(c, x, kf, &s->duration_us);
                break;
        case WF_WAIT_UNTIL:
                if (!json_is_string(x) && !json_is_integer(x)) {
                        add(c, kf,
                            "expected an instant (\"2026-12-01T09:00:00Z\"), a wall time with zone, or an "
                            "expression");
                        break;
                }
                if (compile_tmpl(c, x, kf, &s->until) && !wf_tmpl_dynamic(s->until) && json_is_string(x)) {
                        sked_time t;
                        civil cv;
                        const char *txt = json_string_value(x);
                        if (time_parse_utc(txt, &t) < 0 && civil_parse(txt, false, false, &cv) < 0)
                                add(c, kf,
                                    "\"%s\": expected YYYY-MM-DDTHH:MM:SSZ (an instant) or YYYY-MM-DDTHH:MM:SS "
                                    "(a wall time in zone)",
                                    txt);
                }
                break;
        case WF_WAIT_AT:
                if (!json_is_string(x) || hms_parse(json_string_value(x), &s->at_secs) < 0)
                        add(c, kf, "expected a wall time HH:MM or HH:MM:SS");
                break;
        case WF_WAIT_SIGNAL:
                if (!json_is_string(x) || !is_name(json_string_value(x)))
                        add(c, kf, "expected a signal name (lower case letters, digits, _ . -)");
                else
                        s->signal = strdup(json_string_value(x));
                break;
        }
        snprintf(kf, sizeof kf, "%s.timeout", f);
        if (json_object_get(v, "timeout"))
                duration_us(c, json_object_get(v, "timeout"), kf, &s->timeout_us);
        snprintf(kf, sizeof kf, "%s.on_timeout", f);
        if (json_object_get(v, "on_timeout")) {
                if (!json_object_get(v, "timeout"))
                        add(c, kf, "only with a timeout");
                s->has_on_timeout = true;
                parse_steps(c, json_object_get(v, "on_timeout"), kf, depth + 1, &s->on_timeout);
        }
}

static void parse_run(chk *c, const json_t *v, const char *path, wf_step *s) {
        char f[300], kf[340];
        snprintf(f, sizeof f, "%s.run", path);
        const json_t *type = json_is_string(v) ? v : json_object_get(v, "type");
        if (!json_is_string(v) && !json_is_object(v)) {
                add(c, f, "expected {type: TYPE, params: {...}} or a type name");
                return;
        }
        if (json_is_object(v)) {
                static const char *const known[] = {"type", "params", NULL};
                unknown_keys(c, v, f, known, "type, params");
        }
        snprintf(kf, sizeof kf, "%s.type", f);
        if (!json_is_string(type)) {
                add(c, kf, "required (the process type to run)");
        } else {
                s->type = strdup(json_string_value(type));
                if (c->exists && !c->exists(c->ud, s->type))
                        add(c, kf, "\"%s\": no such process type", s->type);
        }
        const json_t *params = json_is_object(v) ? json_object_get(v, "params") : NULL;
        snprintf(kf, sizeof kf, "%s.params", f);
        if (params && !json_is_object(params))
                add(c, kf, "expected a mapping of parameters");
        else if (params)
                compile_tmpl(c, params, kf, &s->params);
}

static void parse_stop(chk *c, const json_t *v, const char *path, wf_step *s) {
        char f[300], kf[340];
        snprintf(f, sizeof f, "%s.stop", path);
        const json_t *status = json_is_string(v) ? v : json_object_get(v, "status");
        if (json_is_object(v)) {
                static const char *const known[] = {"status", "message", NULL};
                unknown_keys(c, v, f, known, "status, message");
                snprintf(kf, sizeof kf, "%s.message", f);
                if (json_object_get(v, "message"))
                        compile_tmpl(c, json_object_get(v, "message"), kf, &s->message);
        } else if (!json_is_string(v)) {
                add(c, f, "expected succeeded, canceled or {status: ..., message: ...}");
                return;
        }
        snprintf(kf, sizeof kf, json_is_object(v) ? "%s.status" : "%s", f);
        const char *st = status ? json_string_value(status) : "succeeded";
        if (!st || (strcmp(st, "succeeded") && strcmp(st, "canceled") && strcmp(st, "cancelled")))
                add(c, kf, "expected succeeded or canceled");
        else
                s->canceled = strcmp(st, "succeeded") != 0;
}

static const struct {
        const char *key;
        enum wf_kind kind;
        const char *const siblings[4]; /* other keys of the kind */
} kinds[] = {
        {"set", WF_SET, {NULL}},
        {"if", WF_IF, {"then", "else", NULL}},
        {"switch", WF_SWITCH, {"default", NULL}},
        {"wait", WF_WAIT, {NULL}},
        {"run", WF_RUN, {NULL}},
        {"stop", WF_STOP, {NULL}},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static void parse_step(chk *c, const json_t *in, const char *path, int depth, wf_step *s) {
        s->path = strdup(path);
        char f[300];
        if (!json_is_object(in)) {
                add(c, path, "expected a step (a mapping with id and one of set, if, switch, wait, run, stop)");
                return;
        }
        const json_t *id = json_object_get(in, "id");
        snprintf(f, sizeof f, "%s.id", path);
        if (!id) {
                add(c, f, "required (each step has an id)");
        } else if (!json_is_string(id) || !is_id(json_string_value(id), WF_ID_MAX)) {
                add(c, f, "expected an id: a lower case letter or _, then letters, digits or _ (at most %d)",
                    WF_ID_MAX);
        } else {
                s->id = strdup(json_string_value(id));
                const json_t *seen = json_object_get(c->ids, s->id);
                if (seen)
                        add(c, f, "\"%s\": used already by %s", s->id, json_string_value(seen));
                else
                        json_object_set_new(c->ids, s->id, json_string(path));
        }
        int found = -1, nfound = 0;
        for (size_t i = 0; i < NKINDS; i++)
                if (json_object_get(in, kinds[i].key)) {
                        if (found < 0)
                                found = (int) i;
                        nfound++;
                }
        if (nfound != 1) {
                add(c, path,
                    nfound ? "more than one kind of step (expected one of set, if, switch, wait, run, stop)"
                           : "no kind of step (expected one of set, if, switch, wait, run, stop)");
        }
        /* every key must be id, title, description, the kind or the kind's siblings */
        const char *k;
        json_t *v;
        json_object_foreach((json_t *) in, k, v) {
                bool ok = !strcmp(k, "id") || !strcmp(k, "title") || !strcmp(k, "description");
                for (size_t i = 0; i < NKINDS && !ok; i++) {
                        if (!strcmp(k, kinds[i].key))
                                ok = true;
                        for (int j = 0; kinds[i].siblings[j] && !ok && (int) i == found; j++)
                                ok = !strcmp(k, kinds[i].siblings[j]);
                }
                if (!ok) {
                        snprintf(f, sizeof f, "%s.%s", path, k);
                        bool sibling = false;
                        for (size_t i = 0; i < NKINDS; i++)
                                for (int j = 0; kinds[i].siblings[j]; j++)
                                        sibling |= !strcmp(k, kinds[i].siblings[j]);
                        if (sibling)
                                add(c, f, "not a key of %s steps", found >= 0 ? kinds[found].key : "such");
                        else
                                add(c, f,
                                    "unknown key (expected id, title, description and one of set, if, "
                                    "switch, wait, run, stop)");
                }
        }
        if (nfound != 1)
                return;
        s->kind = kinds[found].kind;
        const json_t *body = json_object_get(in, kinds[found].key);
        switch (s->kind) {
        case WF_SET:
                parse_set(c, body, path, s);
                break;
        case WF_IF:
                parse_if(c, in, path, depth, s);
                break;
        case WF_SWITCH:
                parse_switch(c, in, path, depth, s);
                break;
        case WF_WAIT:
                parse_wait(c, body, path, depth, s);
                break;
        case WF_RUN:
                parse_run(c, body, path, s);
                break;
        case WF_STOP:
                parse_stop(c, body, path, s);
                break;
        }
}

static void parse_steps(chk *c, const json_t *list, const char *path, int depth, wf_steps *out) {
        if (depth > WF_NEST_MAX) {
                add(c, path, "steps nested deeper than %d levels", WF_NEST_MAX);
                return;
        }
        if (!json_is_array(list) || json_array_size(list) == 0) {
                add(c, path, "expected a list of steps");
                return;
        }
        size_t n = json_array_size(list);
        if ((c->nsteps += n) > WF_STEPS_MAX) {
                add(c, path, "more than %d steps in the definition", WF_STEPS_MAX);
                return;
        }
        out->v = calloc(n, sizeof *out->v);
        if (!out->v)
                return;
        out->n = n;
        for (size_t i = 0; i < n; i++) {
                char f[300];
                snprintf(f, sizeof f, "%s[%zu]", path, i);
                parse_step(c, json_array_get(list, i), f, depth, &out->v[i]);
        }
}

static void parse_input(chk *c, const json_t *in, json_t **ret) {
        json_t *list = NULL;
        if (!in || json_is_null(in)) {
                *ret = json_array();
                return;
        }
        if (json_is_object(in)) {
                /* a mapping name -> entry, as the example writes it */
                list = json_array();
                const char *k;
                json_t *v;
                json_object_foreach((json_t *) in, k, v) {
                        if (!json_is_object(v)) {
                                char f[300];
                                snprintf(f, sizeof f, "input.%s", k);
                                add(c, f, "expected an entry {type: ..., required: ...}");
                                continue;
                        }
                        json_t *e = json_deep_copy(v);
                        json_object_set_new(e, "name", json_string(k));
                        json_array_append_new(list, e);
                }
        } else if (json_is_array(in)) {
                list = json_incref((json_t *) in);
        } else {
                add(c, "input", "expected a mapping of parameter names to entries, or a list of entries");
                return;
        }
        sked_err e = {0};
        json_t *norm = NULL;
        if (params_schema_normalize(list, &norm, &e) < 0) {
                /* params_* name their errors `params...`: here it is the input */
                if (!strncmp(e.msg, "params", 6)) {
                        char msg[SKED_ERR_MSG_MAX];
                        snprintf(msg, sizeof msg, "input%s", e.msg + 6);
                        snprintf(e.msg, sizeof e.msg, "%s", msg);
                }
                if (!strncmp(e.field, "params", 6)) {
                        char fl[sizeof e.field];
                        snprintf(fl, sizeof fl, "input%s", e.field + 6);
                        snprintf(e.field, sizeof e.field, "%s", fl);
                } else if (!e.field[0]) {
                        snprintf(e.field, sizeof e.field, "input");
                }
                add_err(c, &e);
        } else {
                *ret = norm;
        }
        json_decref(list);
}

static void steps_free(wf_steps *ss);

static void step_clear(wf_step *s) {
        free(s->id);
        free(s->path);
        for (size_t i = 0; i < s->nset; i++) {
                free(s->set_keys[i]);
                wf_tmpl_free(s->set_vals[i]);
        }
        free(s->set_keys);
        free(s->set_vals);
        steps_free(&s->then_);
        steps_free(&s->else_);
        for (size_t i = 0; i < s->ncases; i++)
                steps_free(&s->cases[i]);
        free(s->cases);
        free(s->case_cond);
        steps_free(&s->dflt);
        wf_tmpl_free(s->until);
        free(s->zone);
        free(s->signal);
        steps_free(&s->on_timeout);
        free(s->type);
        wf_tmpl_free(s->params);
        wf_tmpl_free(s->message);
}

static void steps_free(wf_steps *ss) {
        for (size_t i = 0; i < ss->n; i++)
                step_clear(&ss->v[i]);
        free(ss->v);
        ss->v = NULL;
        ss->n = 0;
}

void wf_def_free(wf_def *d) {
        if (!d)
                return;
        free(d->name);
        free(d->mode);
        free(d->title);
        json_decref(d->input);
        steps_free(&d->steps);
        wf_lua_free(d->lua);
        free(d);
}

const char *const wf_def_keys[] = {"name", "title", "description", "mode", "input", "steps", NULL};

int wf_def_build(const json_t *in, wf_type_exists_fn exists, void *ud, wf_def **ret, json_t **ret_errors,
                 sked_err *err) {
        wf_def *d = calloc(1, sizeof *d);
        chk c = {.errors = json_array(), .exists = exists, .ud = ud, .ids = json_object(), .refs = json_array()};
        int r = 0;
        if (!d || !c.errors || !c.ids || !c.refs || wf_lua_new(&d->lua, err) < 0) {
                r = err_set(err, -ENOMEM, "out of memory");
                goto done;
        }
        c.lua = d->lua;
        if (!json_is_object(in)) {
                add(&c, "definition", "expected a mapping");
                goto check;
        }
        const char *k;
        json_t *v;
        json_object_foreach((json_t *) in, k, v) {
                bool ok = false;
                for (const char *const *p = wf_def_keys; *p && !ok; p++)
                        ok = !strcmp(k, *p);
                if (!ok)
                        add(&c, k, "unknown key (expected name, title, description, mode, input, steps)");
        }
        const json_t *name = json_object_get(in, "name");
        if (!name)
                add(&c, "name", "required");
        else if (!json_is_string(name) || !is_name(json_string_value(name)))
                add(&c, "name", "expected a name: a lower case letter, then letters, digits, _ . - (at most %d)",
                    WF_NAME_MAX);
        else
                d->name = strdup(json_string_value(name));
        const json_t *title = json_object_get(in, "title");
        if (title && !json_is_string(title))
                add(&c, "title", "expected text");
        else if (title)
                d->title = strdup(json_string_value(title));
        const json_t *desc = json_object_get(in, "description");
        if (desc && !json_is_string(desc))
                add(&c, "description", "expected text");
        const json_t *mode = json_object_get(in, "mode");
        const char *m = mode ? json_string_value(mode) : "background";
        if (!m || (strcmp(m, "background") && strcmp(m, "realtime") && strcmp(m, "action")))
                add(&c, "mode", "expected background, realtime or action");
        else if (strcmp(m, "background"))
                add(&c, "mode", "\"%s\": not supported yet (only background workflows for now)", m);
        else
                d->mode = strdup(m);
        parse_input(&c, json_object_get(in, "input"), &d->input);
        if (!json_object_get(in, "steps"))
                add(&c, "steps", "required (a list of steps)");
        else
                parse_steps(&c, json_object_get(in, "steps"), "steps", 0, &d->steps);
        d->nsteps = c.nsteps;
        /* steps.<id> must name a step of the definition */
        size_t i;
        json_t *ref;
        json_array_foreach(c.refs, i, ref) {
                const char *id = json_string_value(json_array_get(ref, 1));
                if (!json_object_get(c.ids, id))
                        add(&c, json_string_value(json_array_get(ref, 0)), "steps.%s: no step has the id \"%s\"", id,
                            id);
        }
check:
        if (c.n) {
                *err = c.first;
                if (c.n > 1) {
                        char more[64];
                        snprintf(more, sizeof more, " (and %zu more error%s)", c.n - 1, c.n > 2 ? "s" : "");
                        size_t len = strlen(err->msg);
                        if (len + strlen(more) < sizeof err->msg)
                                strcat(err->msg, more);
                }
                r = -EINVAL;
        }
done:
        json_decref(c.ids);
        json_decref(c.refs);
        if (r == 0) {
                *ret = d;
                json_decref(c.errors);
        } else {
                wf_def_free(d);
                if (ret_errors && c.errors)
                        *ret_errors = c.errors;
                else
                        json_decref(c.errors);
        }
        return r;
}

/* ---- positions ---- */

const wf_steps *wf_step_branch(const wf_step *s, int b) {
        switch (s->kind) {
        case WF_IF:
                return b == 0 ? &s->then_ : b == 1 ? &s->else_ : NULL;
        case WF_SWITCH:
                return b >= 0 && (size_t) b < s->ncases ? &s->cases[b] : (size_t) b == s->ncases ? &s->dflt : NULL;
        case WF_WAIT:
                return b == 0 && s->has_on_timeout ? &s->on_timeout : NULL;
        default:
                return NULL;
        }
}

/* the list that holds the step p names (p->n odd), or NULL */
static const wf_steps *list_of(const wf_def *d, const wf_pos *p, int upto) {
        const wf_steps *l = &d->steps;
        for (int i = 0; i + 2 < upto; i += 2) {
                if (p->v[i] < 0 || (size_t) p->v[i] >= l->n)
                        return NULL;
                l = wf_step_branch(&l->v[p->v[i]], p->v[i + 1]);
                if (!l)
                        return NULL;
        }
        return l;
}

const wf_step *wf_pos_step(const wf_def *d, const wf_pos *p) {
        if (p->n < 1 || p->n % 2 == 0)
                return NULL;
        const wf_steps *l = list_of(d, p, p->n);
        int i = p->v[p->n - 1];
        return l && i >= 0 && (size_t) i < l->n ? &l->v[i] : NULL;
}

bool wf_pos_next(const wf_def *d, wf_pos *p) {
        while (p->n >= 1) {
                const wf_steps *l = list_of(d, p, p->n);
                if (l && (size_t) p->v[p->n - 1] + 1 < l->n) {
                        p->v[p->n - 1]++;
                        return true;
                }
                p->n -= 2; /* the list ended: past the step that holds it */
        }
        p->n = 0;
        return false;
}

void wf_pos_format(const wf_pos *p, char *buf, size_t len) {
        size_t o = 0;
        buf[0] = '\0';
        for (int i = 0; i < p->n && o < len; i++)
                o += (size_t) snprintf(buf + o, len - o, i ? ".%d" : "%d", p->v[i]);
}

int wf_pos_parse(const char *s, wf_pos *ret) {
        wf_pos p = {0};
        if (!*s) {
                *ret = p;
                return 0;
        }
        for (const char *q = s;;) {
                char *end;
                if (!isdigit((unsigned char) *q) || p.n == WF_POS_MAX)
                        return -EINVAL;
                long v = strtol(q, &end, 10);
                if (v > 100000)
                        return -EINVAL;
                p.v[p.n++] = (int) v;
                if (*end == '\0')
                        break;
                if (*end != '.')
                        return -EINVAL;
                q = end + 1;
        }
        *ret = p;
        return 0;
}

/* ---- timers ---- */

int wf_wait_due(const wf_def *d, const wf_step *s, const wf_scope *sc, sked_time now, sked_time *ret, sked_err *err) {
        const tz_zone *z = NULL;
        if ((s->wait == WF_WAIT_UNTIL || s->wait == WF_WAIT_AT) && tz_load(s->zone, &z, err) < 0)
                return err_prefix(err, s->path);
        char f[300];
        switch (s->wait) {
        case WF_WAIT_DURATION:
                *ret = now + s->duration_us;
                return 0;
        case WF_WAIT_UNTIL: {
                snprintf(f, sizeof f, "%s.wait.until", s->path);
                json_t *v = NULL;
                int r = wf_tmpl_eval(d->lua, s->until, sc, f, &v, err);
                if (r < 0)
                        return r;
                sked_time t;
                civil cv;
                sked_time at[2];
                if (json_is_integer(v)) {
                        t = json_integer_value(v);
                } else if (json_is_string(v) && time_parse_utc(json_string_value(v), &t) == 0) {
                        ;
                } else if (json_is_string(v) && civil_parse(json_string_value(v), false, false, &cv) == 0 &&
                           civil_valid(&cv) &&
                           tz_resolve(z, civil_to_seconds(&cv), TZ_GAP_SHIFT, TZ_REPEAT_FIRST, at) >= 1) {
                        t = at[0];
                } else {
                        char desc[64];
                        params_describe(v, desc, sizeof desc);
                        json_decref(v);
                        return err_field(err, -EINVAL, f,
                                         "%s: expected an instant (µs or YYYY-MM-DDTHH:MM:SSZ) or "
                                         "a wall time YYYY-MM-DDTHH:MM:SS",
                                         desc);
                }
                json_decref(v);
                *ret = t;
                return 0;
        }
        case WF_WAIT_AT: {
                /* the next instant after now at which the zone's wall clock shows at_secs;
                 * a time a spring-forward night skips is the instant after the gap (its
                 * offset before), a time a fall-back night repeats is its first instant */
                int64_t local;
                tz_local(z, now, &local, NULL);
                int64_t day = civil_floor_div(local, 86400);
                for (int k = 0; k < 4; k++) {
                        sked_time at[2];
                        if (tz_resolve(z, (day + k) * 86400 + s->at_secs, TZ_GAP_SHIFT, TZ_REPEAT_FIRST, at) >= 1 &&
                            at[0] > now) {
                                *ret = at[0];
                                return 0;
                        }
                }
                return err_field(err, -EINVAL, s->path, "no next instant for the wall time");
        }
        case WF_WAIT_SIGNAL:
                break;
        }
        return err_field(err, -EINVAL, s->path, "not a timer");
}
