/* run: executing one claimed run on a worker thread, and the sked_run API that
 * handlers use.  A `sked_run *` is the worker's `job`. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "engine/command.h"
#include "engine/engine_internal.h"
#include "engine/run.h"

/* above the command handler's 64 KiB line cap, so its "[line cut: ...]" marker survives */
#define MAX_MESSAGE_BYTES (64 * 1024 + 256)
#define MAX_MESSAGES_PER_RUN 20000
#define MAX_RESULTS_PER_RUN 100000
#define MAX_RESULT_DATA (1024 * 1024)

char *run_next_idem_key(const run_row *run) {
        if (run->series_id || !run->idem_key)
                return NULL;
        const char *colon = strrchr(run->idem_key, ':');
        if (!colon || colon == run->idem_key)
                return NULL;
        char *key = NULL;
        if (asprintf(&key, "%.*s:%lld", (int) (colon - run->idem_key), run->idem_key,
                     (long long) run->attempt + 1) < 0)
                return NULL;
        return key;
}

void job_free(job *j) {
        if (!j)
                return;
        run_row_clear(&j->run);
        free(j->params_text);
        free(j->query_text);
        free(j);
}

/* A copy of s as valid UTF-8 (handlers may pass any bytes), cut at about max bytes
 * without splitting a character, marked with an ellipsis when cut. */
static char *cut(const char *s, size_t max) {
        strbuf b = STRBUF_INIT;
        size_t n = strnlen(s, max + 1);
        bool longer = n > max;
        if (longer) {
                n = max;
                while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
                        n--;
        }
        strbuf_append_utf8(&b, s, n);
        if (longer)
                strbuf_puts(&b, "…");
        return b.oom ? (strbuf_free(&b), NULL) : strbuf_steal(&b);
}

static void post_message(job *j, int level, const char *text) {
        int64_t n = j->n_info + j->n_warning + j->n_error;
        if (n >= MAX_MESSAGES_PER_RUN)
                return;
        if (n == MAX_MESSAGES_PER_RUN - 1) {
                level = SKED_WARNING;
                text = "message limit reached: further messages of this run are dropped";
        }
        event *ev = calloc(1, sizeof *ev);
        if (!ev)
                return;
        ev->kind = EV_MESSAGE;
        ev->j = j;
        ev->seq = j->seq++;
        ev->at = engine_now(j->e);
        ev->level = level;
        ev->text = cut(text, MAX_MESSAGE_BYTES);
        if (!ev->text) {
                free(ev);
                return;
        }
        if (level == SKED_ERROR)
                j->n_error++;
        else if (level == SKED_WARNING)
                j->n_warning++;
        else
                j->n_info++;
        engine_post(j->e, ev);
}

static int post_result(job *j, const char *key, const char *status, const char *data) {
        if (!key || !*key)
                return -EINVAL;
        if (j->n_results >= MAX_RESULTS_PER_RUN)
                return -ENOSPC;
        if (data && strlen(data) > MAX_RESULT_DATA)
                return -E2BIG;
        event *ev = calloc(1, sizeof *ev);
        if (!ev)
                return -ENOMEM;
        ev->kind = EV_RESULT;
        ev->j = j;
        ev->seq = j->seq++;
        ev->at = engine_now(j->e);
        ev->key = cut(key, 1024);
        ev->status = cut(status && *status ? status : "ok", 64);
        ev->data = data ? strdup(data) : NULL;
        j->n_results++;
        engine_post(j->e, ev);
        return 0;
}

/* ---- the public run API ---- */

int64_t sked_run_id(const sked_run *run) {
        return ((const job *) run)->run.id;
}

int64_t sked_run_series_id(const sked_run *run) {
        return ((const job *) run)->run.series_id;
}

const char *sked_run_type(const sked_run *run) {
        return ((const job *) run)->run.type;
}

int sked_run_attempt(const sked_run *run) {
        return (int) ((const job *) run)->run.attempt;
}

const char *sked_run_idempotency_key(const sked_run *run) {
        return ((const job *) run)->run.idem_key;
}

sked_instant sked_run_nominal(const sked_run *run) {
        const job *j = (const job *) run;
        return j->run.has_nominal ? j->run.nominal : j->run.queued_at;
}

const char *sked_run_params(const sked_run *run) {
        const job *j = (const job *) run;
        return j->run.params ? j->run.params : "{}";
}

const char *sked_run_query(const sked_run *run) {
        const job *j = (const job *) run;
        return j->run.query ? j->run.query : "null";
}

void sked_run_log(sked_run *run, enum sked_level level, const char *fmt, ...) {
        strbuf b = STRBUF_INIT;
        va_list ap;
        va_start(ap, fmt);
        strbuf_vprintf(&b, fmt, ap);
        va_end(ap);
        post_message((job *) run, level, strbuf_str(&b));
        strbuf_free(&b);
}

int sked_run_result(sked_run *run, const char *key, const char *status, const char *data_json) {
        if (data_json) {
                json_t *d = json_loads(data_json, JSON_DECODE_ANY, NULL);
                if (!d)
                        return -EINVAL;
                json_decref(d);
        }
        return post_result((job *) run, key, status, data_json);
}

void sked_run_progress(sked_run *run, int percent) {
        job *j = (job *) run;
        percent = percent < 0 ? 0 : percent > 100 ? 100 : percent;
        if (percent == j->progress)
                return;
        j->progress = percent;
        event *ev = calloc(1, sizeof *ev);
        if (!ev)
                return;
        ev->kind = EV_PROGRESS;
        ev->j = j;
        ev->level = percent; /* the progress rides in `level` */
        engine_post(j->e, ev);
}

bool sked_run_cancelled(const sked_run *run) {
        return ((const job *) run)->cancel != 0;
}

/* ---- command handler glue ---- */

static void sink_message(void *ud, int level, const char *text) {
        post_message(ud, level, text);
}

static void sink_result(void *ud, const char *key, const char *status, const char *data) {
        post_result(ud, key, status, data);
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

static int run_command(job *j, const ptype *t, enum run_outcome *ret_out, bool *ret_has_exit, int *ret_exit,
                       char **ret_error) {
        char nominal[32] = "";
        if (j->run.has_nominal)
                time_format_utc(j->run.nominal, nominal, sizeof nominal);
        json_t *params = json_loads(j->run.params ? j->run.params : "{}", 0, NULL);
        json_t *query = j->run.query ? json_loads(j->run.query, JSON_DECODE_ANY, NULL) : NULL;
        json_t *runj = json_pack("{s:I, s:s, s:I, s:s}", "id", (json_int_t) j->run.id, "type", j->run.type,
                                 "attempt", (json_int_t) j->run.attempt, "idempotency_key", j->run.idem_key);
        if (j->run.series_id)
                json_object_set_new(runj, "series_id", json_integer(j->run.series_id));
        if (*nominal)
                json_object_set_new(runj, "nominal", json_string(nominal));
        json_object_set_new(runj, "trigger", json_string(j->run.trigger));
        char due[32];
        time_format_utc(j->run.not_before, due, sizeof due);
        json_object_set_new(runj, "scheduled_for", json_string(due));
        json_t *in = json_pack("{s:o, s:o, s:o}", "run", runj, "params", params ? params : json_object(),
                               "query", query ? query : json_null());
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
                .cancel = &j->cancel,
        };
        command_sink sink = {sink_message, sink_result, sink_progress, j};
        command_outcome out = {0};
        sked_err err = {0};
        int r = command_run(&spec, &sink, &out, &err);
        free(input);
        env_free(env);
        char msg[600];
        *ret_has_exit = false;
        if (r < 0) {
                *ret_out = OUT_FAIL;
                *ret_error = strdup(err.msg);
                return 0;
        }
        if (out.cancelled) {
                *ret_out = OUT_LOST;
                *ret_error = strdup("cancelled: the server stopped before the run finished");
        } else if (out.timed_out) {
                *ret_out = OUT_FAIL;
                snprintf(msg, sizeof msg, "timed out after %lld ms; its process group was killed",
                         (long long) t->timeout_ms);
                *ret_error = strdup(msg);
        } else if (out.signaled) {
                *ret_out = OUT_FAIL;
                snprintf(msg, sizeof msg, "killed by signal %d (%s)", out.signal, strsignal(out.signal));
                *ret_error = strdup(msg);
        } else {
                *ret_has_exit = true;
                *ret_exit = out.exit_code;
                if (out.exit_code == 0) {
                        *ret_out = OUT_OK;
                } else if (out.exit_code == SKED_RUN_RETRY) {
                        *ret_out = OUT_RETRY;
                        *ret_error = strdup("exited with 75 (EX_TEMPFAIL): asks for a retry");
                } else {
                        *ret_out = OUT_FAIL;
                        snprintf(msg, sizeof msg, "exited with status %d", out.exit_code);
                        *ret_error = strdup(msg);
                }
        }
        return 0;
}

void job_run(job *j) {
        int64_t t0 = time_mono_usec();
        atomic_store(&j->began, engine_now(j->e));
        event *fin = calloc(1, sizeof *fin);
        if (!fin)
                abort(); /* cannot report the end of a run: better to crash and be recovered */
        fin->kind = EV_FINISH;
        fin->j = j;
        const type_entry *te = j->type;
        if (!te) {
                fin->outcome = OUT_FAIL;
                asprintf(&fin->text, "process type \"%s\" is not registered", j->run.type);
        } else if (te->t->plugin) {
                if (!te->fn) {
                        fin->outcome = OUT_FAIL;
                        asprintf(&fin->text, "the plug-in that implements \"%s\" is not loaded", j->run.type);
                } else {
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
        } else {
                int code = 0;
                run_command(j, te->t, &fin->outcome, &fin->has_exit, &code, &fin->text);
                fin->exit_code = code;
        }
        fin->duration_us = time_mono_usec() - t0;
        engine_post(j->e, fin);
}
