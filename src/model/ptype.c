#include "model/ptype.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "model/duration.h"
#include "model/manifest.h"
#include "model/params.h"
#include "model/policy.h"

#define DAY_MS (86400LL * 1000)

const char *const ptype_manifest_keys[] = {"name",   "kind",         "title",    "description", "feature", "handler",
                                           "params", "query_fields", "defaults", "series",      NULL};
static const char *const handler_keys[] = {"command", "workdir", "env", "plugin", NULL};
static const char *const defaults_keys[] = {"timeout", "grace", "retry", "concurrency", "retention", "policy", NULL};
static const char *const defaults_hidden[] = {"timeout_ms", "grace_ms", "retention_ms", NULL};
static const char *const retry_keys[] = {"max_attempts", "initial_backoff", "max_backoff", "multiplier", NULL};
static const char *const retry_hidden[] = {"initial_backoff_ms", "max_backoff_ms", NULL};
static const char *const series_keys[] = {"schedule", "tz", "params", "sleep", NULL};

static bool listed(const char *s, const char *const *list) {
        for (; list && *list; list++)
                if (strcmp(s, *list) == 0)
                        return true;
        return false;
}

static void join_path(char *buf, size_t len, const char *path, const char *key) {
        if (path && *path)
                snprintf(buf, len, "%s.%s", path, key);
        else
                snprintf(buf, len, "%s", key);
}

/* Unknown keys are errors so that typos do not pass silently; `hidden` keys are
 * accepted (the normalized *_ms forms) without being advertised. */
static int check_keys(const json_t *obj, const char *path, const char *const *allowed, const char *const *hidden,
                      sked_err *err) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *) obj, key, v) {
                if (listed(key, allowed) || listed(key, hidden))
                        continue;
                char f[160], k[72];
                snprintf(k, sizeof k, "%.64s", key);
                join_path(f, sizeof f, path, k);
                strbuf b = STRBUF_INIT;
                for (const char *const *a = allowed; *a; a++)
                        strbuf_printf(&b, "%s%s", a == allowed ? "" : ", ", *a);
                int r = err_field(err, -EINVAL, f, "unknown key (expected one of: %s)", strbuf_str(&b));
                strbuf_free(&b);
                return r;
        }
        return 0;
}

static int expected(sked_err *err, const char *field, const char *what, const json_t *v) {
        char got[80];
        params_describe(v, got, sizeof got);
        return err_field(err, -EINVAL, field, "expected %s, got %s", what, got);
}

/* An optional string member: *ret = NULL when absent or null. */
static int opt_string(const json_t *obj, const char *key, const char *path, size_t max, const char **ret,
                      sked_err *err) {
        const json_t *v = json_object_get(obj, key);
        char f[160];
        join_path(f, sizeof f, path, key);
        if (!v || json_is_null(v)) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return expected(err, f, "a string", v);
        if (json_string_length(v) > max)
                return err_field(err, -EINVAL, f, "longer than %zu bytes", max);
        if (memchr(json_string_value(v), '\0', json_string_length(v)))
                return err_field(err, -EINVAL, f, "contains a NUL character");
        *ret = json_string_value(v);
        return 0;
}

bool ptype_name_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > PTYPE_NAME_MAX || s[0] < 'a' || s[0] > 'z')
                return false;
        for (size_t i = 1; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' ||
                      s[i] == '-'))
                        return false;
        return true;
}

/* Reads `key` (a duration) or `key`_ms (integer milliseconds), not both. */
static int get_duration(const json_t *obj, const char *key, const char *path, int64_t def, int64_t min, int64_t max,
                        int64_t *ret, sked_err *err) {
        char f[160], kms[64], range[96], a[32], b[32];
        snprintf(kms, sizeof kms, "%s_ms", key);
        const json_t *v = json_object_get(obj, key), *vms = json_object_get(obj, kms);
        int64_t ms = def;
        int r;

        join_path(f, sizeof f, path, key);
        if (v && vms)
                return err_field(err, -EINVAL, f, "give either %s or %s, not both", key, kms);
        if (v) {
                r = duration_from_json(v, f, &ms, err);
                if (r < 0)
                        return r;
        } else if (vms) {
                join_path(f, sizeof f, path, kms);
                if (!json_is_integer(vms))
                        return expected(err, f, "an integer (milliseconds)", vms);
                ms = json_integer_value(vms);
        }
        if (ms < min || ms > max) {
                duration_format(min, a, sizeof a);
                duration_format(max, b, sizeof b);
                snprintf(range, sizeof range, "must be from %s to %s", a, b);
                duration_format(ms, a, sizeof a);
                return err_field(err, -EINVAL, f, "%s, got %s", range, a);
        }
        *ret = ms;
        return 0;
}

/* handler: {plugin: true}, nothing else */
static int parse_plugin(const json_t *h, const json_t *plug, ptype *t, json_t *out, sked_err *err) {
        const json_t *wd = json_object_get(h, "workdir"), *env = json_object_get(h, "env");

        if (!json_is_true(plug))
                return expected(err, "handler.plugin", "true", plug);
        if (wd || env)
                return err_field(err, -EINVAL, wd ? "handler.workdir" : "handler.env",
                                 "only allowed with a command handler");
        if (json_object_set_new(out, "plugin", json_true()) < 0)
                return -ENOMEM;
        t->env = calloc(1, sizeof(char *));
        return t->env ? 0 : -ENOMEM;
}

/* handler: {command: [...], workdir, env} */
static int parse_command(const json_t *h, const json_t *cmd, ptype *t, json_t *out, sked_err *err) {
        const json_t *env = json_object_get(h, "env");
        size_t i;
        json_t *e;
        char f[160];
        int r;

        if (!json_is_array(cmd) || json_array_size(cmd) == 0)
                return err_field(err, -EINVAL, "handler.command",
                                 "expected a non-empty list of strings (the program and its arguments; no shell)");
        if (json_array_size(cmd) > PTYPE_ARGV_MAX)
                return err_field(err, -EINVAL, "handler.command", "more than %d entries", PTYPE_ARGV_MAX);
        t->argc = json_array_size(cmd);
        t->argv = calloc(t->argc + 1, sizeof(char *));
        if (!t->argv)
                return -ENOMEM;
        json_array_foreach(cmd, i, e) {
                snprintf(f, sizeof f, "handler.command[%zu]", i);
                if (!json_is_string(e))
                        return expected(err, f, "a string", e);
                const char *s = json_string_value(e);
                if (json_string_length(e) > PTYPE_ARG_MAX || memchr(s, '\0', json_string_length(e)))
                        return err_field(err, -EINVAL, f, "longer than %d bytes or contains NUL", PTYPE_ARG_MAX);
                if (i == 0 && (s[0] == '\0' || (s[0] != '/' && strchr(s, '/'))))
                        return err_field(err, -EINVAL, f,
                                         "\"%.200s\": expected an absolute path or a bare program name "
                                         "(looked up in PATH)",
                                         s);
                t->argv[i] = strdup(s);
                if (!t->argv[i])
                        return -ENOMEM;
        }
        if (json_object_set(out, "command", (json_t *) cmd) < 0)
                return -ENOMEM;

        const char *w;
        r = opt_string(h, "workdir", "handler", PTYPE_ARG_MAX, &w, err);
        if (r < 0)
                return r;
        if (w) {
                if (w[0] != '/')
                        return err_field(err, -EINVAL, "handler.workdir", "\"%.200s\": expected an absolute path", w);
                t->workdir = strdup(w);
                if (!t->workdir || json_object_set_new(out, "workdir", json_string(w)) < 0)
                        return -ENOMEM;
        }

        size_t nenv = 0;
        if (env && !json_is_null(env)) {
                if (!json_is_object(env))
                        return err_field(err, -EINVAL, "handler.env", "expected a mapping of names to strings");
                nenv = json_object_size(env);
                if (nenv > PTYPE_ENV_MAX)
                        return err_field(err, -EINVAL, "handler.env", "more than %d entries", PTYPE_ENV_MAX);
        }
        t->env = calloc(nenv + 1, sizeof(char *));
        if (!t->env)
                return -ENOMEM;
        if (nenv) {
                const char *key;
                json_t *v;
                size_t k = 0;
                json_object_foreach((json_t *) env, key, v) {
                        snprintf(f, sizeof f, "handler.env.%.64s", key);
                        bool ok = strlen(key) <= 128 && ((key[0] >= 'A' && key[0] <= 'Z') ||
                                                         (key[0] >= 'a' && key[0] <= 'z') || key[0] == '_');
                        for (const char *p = key + 1; ok && *p; p++)
                                ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                                     *p == '_';
                        if (!ok)
                                return err_field(err, -EINVAL, f, "expected a name matching [A-Za-z_][A-Za-z0-9_]*");
                        if (strncmp(key, "SKED_", 5) == 0)
                                return err_field(err, -EINVAL, f, "names starting with SKED_ are reserved for sked");
                        if (!json_is_string(v))
                                return expected(err, f, "a string", v);
                        if (json_string_length(v) > PTYPE_ARG_MAX ||
                            memchr(json_string_value(v), '\0', json_string_length(v)))
                                return err_field(err, -EINVAL, f, "longer than %d bytes or contains NUL",
                                                 PTYPE_ARG_MAX);
                        if (asprintf(&t->env[k], "%s=%s", key, json_string_value(v)) < 0) {
                                t->env[k] = NULL;
                                return -ENOMEM;
                        }
                        k++;
                }
                if (json_object_set(out, "env", (json_t *) env) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* The handler kinds a manifest may name, indexed by ptype_handler: the key, how the
 * "required" message shows it, and the parser of the mapping that holds it.  A new
 * kind is a row here (and its keys in handler_keys) and a row in engine/handler.c. */
static const struct handler_kind {
        const char *key, *hint;
        int (*parse)(const json_t *h, const json_t *v, ptype *t, json_t *out, sked_err *err);
} handler_kinds[PTYPE_HANDLER_COUNT] = {
        [PTYPE_HANDLER_COMMAND] = {"command", "command: [...]", parse_command},
        [PTYPE_HANDLER_PLUGIN] = {"plugin", "plugin: true", parse_plugin},
};

const char *ptype_handler_name(ptype_handler k) {
        return (unsigned) k < PTYPE_HANDLER_COUNT ? handler_kinds[k].key : NULL;
}

/* "command or plugin" (keys) or "command: [...] or plugin: true" (hints); with more
 * kinds, "a, b or c". */
static void handler_kinds_join(strbuf *b, bool hints) {
        for (size_t k = 0; k < PTYPE_HANDLER_COUNT; k++)
                strbuf_printf(b, "%s%s",
                              k == 0                         ? ""
                              : k + 1 == PTYPE_HANDLER_COUNT ? " or "
                                                             : ", ",
                              hints ? handler_kinds[k].hint : handler_kinds[k].key);
}

static int handler_error(sked_err *err, const char *before, bool hints, const char *after) {
        strbuf b = STRBUF_INIT;
        handler_kinds_join(&b, hints);
        int r = b.oom ? -ENOMEM : err_field(err, -EINVAL, "handler", "%s%s%s", before, strbuf_str(&b), after);
        strbuf_free(&b);
        return r;
}

static int parse_handler(const json_t *h, ptype *t, json_t *out, sked_err *err) {
        const json_t *v = NULL;
        ptype_handler kind = PTYPE_HANDLER_COUNT;
        int r;

        if (!h)
                return handler_error(err, "required (", true, ")");
        if (!json_is_object(h))
                return handler_error(err, "expected a mapping with ", false, "");
        r = check_keys(h, "handler", handler_keys, NULL, err);
        if (r < 0)
                return r;
        for (size_t k = 0; k < PTYPE_HANDLER_COUNT; k++) {
                const json_t *x = json_object_get(h, handler_kinds[k].key);
                if (!x)
                        continue;
                if (v)
                        return handler_error(err, "expected exactly one of ", false, "");
                v = x;
                kind = (ptype_handler) k;
        }
        if (!v)
                return handler_error(err, "expected exactly one of ", false, "");
        t->handler = kind;
        return handler_kinds[kind].parse(h, v, t, out, err);
}

static int parse_defaults(const json_t *d, ptype *t, json_t *out, sked_err *err) {
        int r;

        if (d && !json_is_null(d) && !json_is_object(d))
                return err_field(err, -EINVAL, "defaults", "expected a mapping");
        if (!json_is_object(d))
                d = NULL;
        if (d) {
                r = check_keys(d, "defaults", defaults_keys, defaults_hidden, err);
                if (r < 0)
                        return r;
        }
        r = get_duration(d, "timeout", "defaults", 3600 * 1000, 1000, 7 * DAY_MS, &t->timeout_ms, err);
        if (r < 0)
                return r;
        /* a cancelled or timed-out command's group gets SIGTERM, then SIGKILL this much later */
        r = get_duration(d, "grace", "defaults", PTYPE_GRACE_DEFAULT_MS, 0, PTYPE_GRACE_MAX_MS, &t->grace_ms, err);
        if (r < 0)
                return r;

        const json_t *rt = d ? json_object_get(d, "retry") : NULL;
        if (rt && !json_is_null(rt) && !json_is_object(rt))
                return err_field(err, -EINVAL, "defaults.retry", "expected a mapping");
        if (!json_is_object(rt))
                rt = NULL;
        if (rt) {
                r = check_keys(rt, "defaults.retry", retry_keys, retry_hidden, err);
                if (r < 0)
                        return r;
        }
        const json_t *ma = rt ? json_object_get(rt, "max_attempts") : NULL;
        t->retry.max_attempts = 1;
        if (ma) {
                if (!json_is_integer(ma) || json_integer_value(ma) < 1 || json_integer_value(ma) > 100)
                        return expected(err, "defaults.retry.max_attempts", "an integer from 1 to 100", ma);
                t->retry.max_attempts = (int) json_integer_value(ma);
        }
        r = get_duration(rt, "initial_backoff", "defaults.retry", 10 * 1000, 0, 7 * DAY_MS,
                         &t->retry.initial_backoff_ms, err);
        if (r < 0)
                return r;
        r = get_duration(rt, "max_backoff", "defaults.retry", 10 * 60 * 1000, 0, 7 * DAY_MS, &t->retry.max_backoff_ms,
                         err);
        if (r < 0)
                return r;
        if (t->retry.max_backoff_ms < t->retry.initial_backoff_ms)
                return err_field(err, -EINVAL, "defaults.retry.max_backoff", "must not be less than initial_backoff");
        const json_t *mu = rt ? json_object_get(rt, "multiplier") : NULL;
        t->retry.multiplier = 2.0;
        if (mu) {
                if (!json_is_number(mu) || !(json_number_value(mu) >= 1.0 && json_number_value(mu) <= 10.0))
                        return expected(err, "defaults.retry.multiplier", "a number from 1.0 to 10.0", mu);
                t->retry.multiplier = json_number_value(mu);
        }

        const json_t *cc = d ? json_object_get(d, "concurrency") : NULL;
        t->concurrency = 0;
        if (cc) {
                if (!json_is_integer(cc) || json_integer_value(cc) < 0 || json_integer_value(cc) > 100000)
                        return expected(err, "defaults.concurrency", "an integer from 0 (unlimited) to 100000", cc);
                t->concurrency = (int) json_integer_value(cc);
        }
        r = get_duration(d, "retention", "defaults", 30 * DAY_MS, 3600 * 1000, 3660 * DAY_MS, &t->retention_ms, err);
        if (r < 0)
                return r;

        json_t *pol = NULL;
        if ((r = policy_normalize(d ? json_object_get(d, "policy") : NULL, "defaults.policy", &pol, err)) < 0)
                return r;
        if (pol) {
                t->policy = pol;
                if (json_object_set(out, "policy", pol) < 0)
                        return -ENOMEM;
        }

        json_t *jr = json_pack("{s:i, s:I, s:I, s:f}", "max_attempts", t->retry.max_attempts, "initial_backoff_ms",
                               (json_int_t) t->retry.initial_backoff_ms, "max_backoff_ms",
                               (json_int_t) t->retry.max_backoff_ms, "multiplier", t->retry.multiplier);
        if (!jr)
                return -ENOMEM;
        if (json_object_set_new(out, "timeout_ms", json_integer(t->timeout_ms)) < 0 ||
            json_object_set_new(out, "grace_ms", json_integer(t->grace_ms)) < 0 ||
            json_object_set_new(out, "retry", jr) < 0 ||
            json_object_set_new(out, "concurrency", json_integer(t->concurrency)) < 0 ||
            json_object_set_new(out, "retention_ms", json_integer(t->retention_ms)) < 0)
                return -ENOMEM;
        return 0;
}

/* Time zone names are opened as files under the zoneinfo directory by the scheduler,
 * so refuse anything that could leave it; whether the zone exists is its business. */
static bool tz_name_ok(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 64 || s[0] == '/' || strstr(s, ".."))
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                      *p == '-' || *p == '+' || *p == '/'))
                        return false;
        return true;
}

static int parse_series(const json_t *s, ptype *t, sked_err *err) {
        const char *sched, *tz;
        json_t *p = NULL;
        int r;

        if (!json_is_object(s))
                return err_field(err, -EINVAL, "series", "expected a mapping with schedule, tz and params");
        r = check_keys(s, "series", series_keys, NULL, err);
        if (r < 0)
                return r;
        r = opt_string(s, "schedule", "series", PTYPE_SCHEDULE_MAX, &sched, err);
        if (r < 0)
                return r;
        if (!sched || !*sched)
                return err_field(err, -EINVAL, "series.schedule", "required (e.g. \"every 30s\")");
        r = opt_string(s, "tz", "series", 64, &tz, err);
        if (r < 0)
                return r;
        if (!tz)
                tz = "UTC";
        if (!tz_name_ok(tz))
                return err_field(err, -EINVAL, "series.tz", "\"%.64s\": expected a time zone name like Europe/Paris",
                                 tz);
        r = params_validate(t->params, json_object_get(s, "params"), &p, err);
        if (r < 0) {
                err_prefix(err, "series");
                return r;
        }
        json_t *sleep = NULL;
        if ((r = sleep_parse(json_object_get(s, "sleep"), tz, NULL, NULL, &sleep, err)) < 0) {
                json_decref(p);
                err_prefix(err, "series");
                return r;
        }
        t->series = json_pack("{s:s, s:s, s:o}", "schedule", sched, "tz", tz, "params", p);
        if (t->series && sleep)
                json_object_set_new(t->series, "sleep", sleep);
        else
                json_decref(sleep);
        return t->series ? 0 : -ENOMEM;
}

static char *dup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

int ptype_from_json(const json_t *def, ptype **ret, sked_err *err) {
        ptype *t = NULL;
        json_t *out = NULL, *handler = NULL, *defaults = NULL;
        const char *name, *kind, *title, *description, *feature;
        int r;

        if (!json_is_object(def))
                return err_set(err, -EINVAL, "expected a mapping (name: ..., handler: ...)");
        r = check_keys(def, NULL, ptype_manifest_keys, NULL, err);
        if (r < 0)
                return r;

        t = calloc(1, sizeof *t);
        out = json_object();
        handler = json_object();
        defaults = json_object();
        if (!t || !out || !handler || !defaults)
                goto oom;

        r = opt_string(def, "name", NULL, 256, &name, err);
        if (r < 0)
                goto fail;
        if (!name) {
                r = err_field(err, -EINVAL, "name", "required");
                goto fail;
        }
        if (!ptype_name_valid(name)) {
                r = err_field(err, -EINVAL, "name",
                              "\"%.80s\": expected lowercase letters, digits, '.', '_' or '-', starting with a "
                              "letter, at most %d characters",
                              name, PTYPE_NAME_MAX);
                goto fail;
        }

        r = opt_string(def, "kind", NULL, 64, &kind, err);
        if (r < 0)
                goto fail;
        if (!kind)
                kind = "scheduled";
        if (strcmp(kind, "scheduled") != 0 && strcmp(kind, "background") != 0) {
                r = err_field(err, -EINVAL, "kind", "expected scheduled or background, got \"%.64s\"", kind);
                goto fail;
        }
        t->background = strcmp(kind, "background") == 0;

        r = opt_string(def, "title", NULL, PTYPE_TITLE_MAX, &title, err);
        if (r < 0)
                goto fail;
        if (title && !*title) {
                r = err_field(err, -EINVAL, "title", "must not be empty");
                goto fail;
        }
        r = opt_string(def, "description", NULL, PTYPE_DESCRIPTION_MAX, &description, err);
        if (r < 0)
                goto fail;
        r = opt_string(def, "feature", NULL, 256, &feature, err);
        if (r < 0)
                goto fail;
        if (feature && !ptype_name_valid(feature)) {
                r = err_field(err, -EINVAL, "feature",
                              "\"%.80s\": expected lowercase letters, digits, '.', '_' or '-', starting with a "
                              "letter, at most %d characters",
                              feature, PTYPE_NAME_MAX);
                goto fail;
        }
        t->name = strdup(name);
        t->title = strdup(title ? title : name);
        t->description = dup_or_null(description);
        t->feature = dup_or_null(feature);
        if (!t->name || !t->title || (description && !t->description) || (feature && !t->feature))
                goto oom;

        r = parse_handler(json_object_get(def, "handler"), t, handler, err);
        if (r == -ENOMEM)
                goto oom;
        if (r < 0)
                goto fail;

        r = params_schema_normalize(json_object_get(def, "params"), &t->params, err);
        if (r < 0)
                goto fail;
        r = params_fields_normalize(json_object_get(def, "query_fields"), &t->query_fields, err);
        if (r < 0)
                goto fail;

        r = parse_defaults(json_object_get(def, "defaults"), t, defaults, err);
        if (r == -ENOMEM)
                goto oom;
        if (r < 0)
                goto fail;

        const json_t *series = json_object_get(def, "series");
        if (series && json_is_null(series))
                series = NULL;
        if (t->background && !series) {
                r = err_field(err, -EINVAL, "series", "required for background types (schedule, tz, params)");
                goto fail;
        }
        if (!t->background && series) {
                r = err_field(err, -EINVAL, "series",
                              "only for background types (users create the series of scheduled types)");
                goto fail;
        }
        if (series) {
                r = parse_series(series, t, err);
                if (r == -ENOMEM)
                        goto oom;
                if (r < 0)
                        goto fail;
        }

        if (json_object_set_new(out, "name", json_string(t->name)) < 0 ||
            json_object_set_new(out, "kind", json_string(kind)) < 0 ||
            json_object_set_new(out, "title", json_string(t->title)) < 0 ||
            (t->description && json_object_set_new(out, "description", json_string(t->description)) < 0) ||
            (t->feature && json_object_set_new(out, "feature", json_string(t->feature)) < 0) ||
            json_object_set(out, "handler", handler) < 0 || json_object_set(out, "params", t->params) < 0 ||
            json_object_set(out, "query_fields", t->query_fields) < 0 ||
            json_object_set(out, "defaults", defaults) < 0 ||
            (t->series && json_object_set(out, "series", t->series) < 0))
                goto oom;
        t->json = out;
        out = NULL;
        json_decref(handler);
        json_decref(defaults);
        *ret = t;
        return 0;
oom:
        r = err_set(err, -ENOMEM, "out of memory");
fail:
        json_decref(out);
        json_decref(handler);
        json_decref(defaults);
        ptype_free(t);
        return r;
}

int ptype_load(const char *path, ptype **ret, sked_err *err) {
        json_t *def = NULL;
        int r = manifest_load(path, &def, err);
        if (r < 0)
                return r;
        r = ptype_from_json(def, ret, err);
        json_decref(def);
        if (r < 0 && err) {
                char buf[SKED_ERR_MSG_MAX];
                snprintf(buf, sizeof buf, "%s: %s", path, err->msg);
                memcpy(err->msg, buf, sizeof err->msg);
        }
        return r;
}

static void strv_free(char **v) {
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

void ptype_free(ptype *t) {
        if (!t)
                return;
        free(t->name);
        free(t->title);
        free(t->description);
        free(t->feature);
        json_decref(t->policy);
        strv_free(t->argv);
        free(t->workdir);
        strv_free(t->env);
        json_decref(t->params);
        json_decref(t->query_fields);
        json_decref(t->series);
        json_decref(t->json);
        free(t);
}
