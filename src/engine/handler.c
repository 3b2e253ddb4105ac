/* handler: the table of handler kinds, and the run function of each (handler.h). */
#include "engine/handler.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/command.h"
#include "engine/engine_internal.h"

/* ---- command: an external program, run by engine/command.c ---- */

static void sink_message(void *ud, int level, const char *text) {
        job_post_message(ud, level, text);
}

static void sink_result(void *ud, const char *key, const char *status, const char *data) {
        job_post_result(ud, key, status, data);
}

static void sink_progress(void *ud, int percent) {
        sked_run_progress(ud, percent);
}

static void env_add(char ***env, size_t *n, const char *fmt, ...) {
        char **p = realloc(*env, (*n + 2) * sizeof *p);
        if (!p)
                return;
        *env = p;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&p[*n], fmt, ap) >= 0)
                (*n)++;
        va_end(ap);
        p[*n] = NULL;
}

static void env_free(char **env) {
        for (size_t i = 0; env && env[i]; i++)
                free(env[i]);
        free(env);
}

static void run_command(job *j, event *fin) {
        const ptype *t = j->type->t;
        char nominal[32] = "";
        if (j->run.has_nominal)
                time_format_utc(j->run.nominal, nominal, sizeof nominal);
        json_t *params = json_loads(j->run.params ? j->run.params : "{}", 0, NULL);
        json_t *query = j->run.query ? json_loads(j->run.query, JSON_DECODE_ANY, NULL) : NULL;
        json_t *runj = json_pack("{s:I, s:s, s:I, s:s}", "id", (json_int_t) j->run.id, "type", j->run.type, "attempt",
                                 (json_int_t) j->run.attempt, "idempotency_key", j->run.idem_key);
        if (j->run.series_id)
                json_object_set_new(runj, "series_id", json_integer(j->run.series_id));
        if (*nominal)
                json_object_set_new(runj, "nominal", json_string(nominal));
        json_object_set_new(runj, "trigger", json_string(j->run.trigger));
        char due[32];
        time_format_utc(j->run.not_before, due, sizeof due);
        json_object_set_new(runj, "scheduled_for", json_string(due));
        json_t *in = json_pack("{s:o, s:o, s:o}", "run", runj, "params", params ? params : json_object(), "query",
                               query ? query : json_null());
        char *input = json_dumps(in, JSON_COMPACT);
        json_decref(in);

        /* the child gets a small, explicit environment: never the server's own (it may
         * hold secrets such as SKED_TOKEN) */
        char **env = NULL;
        size_t n = 0;
        const char *path = getenv("PATH");
        env_add(&env, &n, "PATH=%s", path ? path : "/usr/local/bin:/usr/bin:/bin");
        const char *inherit[] = {"HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"};
        for (size_t i = 0; i < sizeof inherit / sizeof inherit[0]; i++) {
                const char *v = getenv(inherit[i]);
                if (v)
                        env_add(&env, &n, "%s=%s", inherit[i], v);
        }
        for (size_t i = 0; t->env && t->env[i]; i++)
                env_add(&env, &n, "%s", t->env[i]);
        env_add(&env, &n, "SKED_RUN_ID=%lld", (long long) j->run.id);
        env_add(&env, &n, "SKED_SERIES_ID=%lld", (long long) j->run.series_id);
        env_add(&env, &n, "SKED_TYPE=%s", j->run.type);
        env_add(&env, &n, "SKED_ATTEMPT=%lld", (long long) j->run.attempt);
        env_add(&env, &n, "SKED_IDEMPOTENCY_KEY=%s", j->run.idem_key);
        env_add(&env, &n, "SKED_TRIGGER=%s", j->run.trigger);
        if (*nominal)
                env_add(&env, &n, "SKED_NOMINAL=%s", nominal);
        if (j->run.params && strlen(j->run.params) < 65536)
                env_add(&env, &n, "SKED_PARAMS=%s", j->run.params);
        if (j->run.query && strlen(j->run.query) < 65536)
                env_add(&env, &n, "SKED_QUERY=%s", j->run.query);

        command_spec spec = {
                .argv = t->argv,
                .env = env,
                .workdir = t->workdir,
                .input = input,
                .input_len = input ? strlen(input) : 0,
                .timeout_ms = t->timeout_ms,
                .kill_grace_ms = t->grace_ms > 0 ? t->grace_ms : 1, /* 0 is command.c's default */
                .cancel = &j->cancel,
        };
        command_sink sink = {sink_message, sink_result, sink_progress, j};
        command_outcome out = {0};
        sked_err err = {0};
        int r = command_run(&spec, &sink, &out, &err);
        free(input);
        env_free(env);
        char msg[600];
        if (r < 0) {
                fin->outcome = OUT_FAIL;
                fin->text = strdup(err.msg);
                return;
        }
        if (out.cancelled) {
                fin->outcome = OUT_LOST;
                fin->text = strdup("cancelled: the server stopped before the run finished");
        } else if (out.timed_out) {
                fin->outcome = OUT_FAIL;
                snprintf(msg, sizeof msg, "timed out after %lld ms; its process group was killed",
                         (long long) t->timeout_ms);
                fin->text = strdup(msg);
        } else if (out.signaled) {
                fin->outcome = OUT_FAIL;
                snprintf(msg, sizeof msg, "killed by signal %d (%s)", out.signal, strsignal(out.signal));
                fin->text = strdup(msg);
        } else {
                fin->has_exit = true;
                fin->exit_code = out.exit_code;
                if (out.exit_code == 0) {
                        fin->outcome = OUT_OK;
                } else if (out.exit_code == SKED_RUN_RETRY) {
                        fin->outcome = OUT_RETRY;
                        fin->text = strdup("exited with 75 (EX_TEMPFAIL): asks for a retry");
                } else {
                        fin->outcome = OUT_FAIL;
                        snprintf(msg, sizeof msg, "exited with status %d", out.exit_code);
                        fin->text = strdup(msg);
                }
        }
}

/* ---- plugin: a sked_handler in this process (a loaded plug-in, an embedder) ---- */

static void run_plugin(job *j, event *fin) {
        const type_entry *te = j->type;
        if (!te->fn) {
                fin->outcome = OUT_FAIL;
                asprintf(&fin->text, "the plug-in that implements \"%s\" is not loaded", j->run.type);
                return;
        }
        int rc = te->fn((sked_run *) j, te->userdata);
        if (j->timed_out) {
                fin->outcome = OUT_FAIL;
                asprintf(&fin->text, "timed out after %lld ms (the handler was asked to stop)",
                         (long long) te->t->timeout_ms);
        } else if (rc == SKED_RUN_OK)
                fin->outcome = OUT_OK;
        else if (j->cancel)
                fin->outcome = OUT_LOST;
        else
                fin->outcome = rc == SKED_RUN_RETRY ? OUT_RETRY : OUT_FAIL;
        if (rc != SKED_RUN_OK && !fin->text)
                asprintf(&fin->text, "handler returned %d", rc);
}

/* ---- the table ---- */

/* Indexed by the model's kind: every kind the manifest parser produces has its row
 * here (a row left out is all zero, and handler_of refuses it; tests/unit/engine/
 * test_handler.c checks each). */
static const handler_ops handlers[PTYPE_HANDLER_COUNT] = {
        [PTYPE_HANDLER_COMMAND] =
                {
                        .name = "command",
                        .timeout = HANDLER_TIMEOUT_OWN,
                        .in_process = false,
                        .run = run_command,
                },
        [PTYPE_HANDLER_PLUGIN] =
                {
                        .name = "plugin",
                        .timeout = HANDLER_TIMEOUT_COOPERATIVE,
                        .in_process = true,
                        .run = run_plugin,
                },
};

const handler_ops *handler_of(const ptype *t) {
        unsigned k = (unsigned) t->handler;
        if (k >= PTYPE_HANDLER_COUNT || !handlers[k].run)
                abort(); /* only ptype_from_json makes a ptype, and it makes only kinds */
        return &handlers[k];
}
