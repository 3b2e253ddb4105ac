/* run: executing one claimed run on a worker thread (through its handler kind's row,
 * handler.h), and the sked_run API that handlers use.  A `sked_run *` is the worker's `job`. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "engine/engine_internal.h"
#include "engine/handler.h"
#include "engine/run.h"

/* above the command handler's 64 KiB line cap, so its "[line cut: ...]" marker survives */
#define MAX_MESSAGE_BYTES (64 * 1024 + 256)
#define MAX_MESSAGES_PER_RUN 20000
#define MAX_RESULTS_PER_RUN 100000
#define MAX_RESULT_DATA (1024 * 1024)
/* a result's key and status, in bytes once valid UTF-8 (docs/operations.md) */
#define RESULT_KEY_MAX 1024
#define RESULT_STATUS_MAX 64

char *run_next_idem_key(const run_row *run) {
        /* a series' run derives its key; a re-run of one has its own ("rerun:ID:N:attempt") */
        if (!run->idem_key || (run->series_id && strncmp(run->idem_key, "rerun:", 6)))
                return NULL;
        const char *colon = strrchr(run->idem_key, ':');
        if (!colon || colon == run->idem_key)
                return NULL;
        char *key = NULL;
        if (asprintf(&key, "%.*s:%lld", (int) (colon - run->idem_key), run->idem_key, (long long) run->attempt + 1) < 0)
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

/* A copy of s as valid UTF-8 (handlers may pass any bytes) of at most max bytes,
 * cut on a character boundary and marked with an ellipsis (within max) when longer:
 * the documented limits are the stored lengths (docs/operations.md). */
static char *cut(const char *s, size_t max) {
        strbuf b = STRBUF_INIT;
        strbuf_append_utf8_max(&b, s, strnlen(s, max + 1), max);
        return b.oom ? (strbuf_free(&b), NULL) : strbuf_steal(&b);
}

void job_post_message(job *j, int level, const char *text) {
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

int job_post_result(job *j, const char *key, const char *status, const char *data) {
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
        ev->key = cut(key, RESULT_KEY_MAX);
        ev->status = cut(status && *status ? status : "ok", RESULT_STATUS_MAX);
        ev->data = data ? strdup(data) : NULL;
        if (!ev->key || !ev->status || (data && !ev->data)) {
                free(ev->key);
                free(ev->status);
                free(ev->data);
                free(ev);
                return -ENOMEM;
        }
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
        job_post_message((job *) run, level, strbuf_str(&b));
        strbuf_free(&b);
}

int sked_run_result(sked_run *run, const char *key, const char *status, const char *data_json) {
        if (data_json) {
                json_t *d = json_loads(data_json, JSON_DECODE_ANY, NULL);
                if (!d)
                        return -EINVAL;
                json_decref(d);
        }
        return job_post_result((job *) run, key, status, data_json);
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

void job_run(job *j) {
        int64_t t0 = time_mono_usec();
        sked_time began = engine_now(j->e);
        atomic_store(&j->began, began);
        metrics_run_started(j->e, j, began);
        event *fin = calloc(1, sizeof *fin);
        if (!fin)
                abort(); /* cannot report the end of a run: better to crash and be recovered */
        fin->kind = EV_FINISH;
        fin->j = j;
        const type_entry *te = j->type;
        if (!te) {
                fin->outcome = OUT_FAIL;
                asprintf(&fin->text, "process type \"%s\" is not registered", j->run.type);
        } else if (atomic_load(&j->superseded)) {
                fin->outcome = OUT_LOST; /* cancelled while claimed ahead: finish_job ends it cancelled */
        } else {
                handler_of(te->t)->run(j, fin);
        }
        fin->duration_us = time_mono_usec() - t0;
        engine_post(j->e, fin);
}
