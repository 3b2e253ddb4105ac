/* enqueue: one-off runs handed to the loop and written in its next turn (group commit). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/engine_internal.h"
#include "model/params.h"

int engine_insert_runs(engine *e, store *st, const char *type, char *const *texts, size_t n, sked_time now,
                       int64_t *ids, sked_err *err) {
        int r = 0;
        for (size_t i = 0; i < n && r == 0; i++) {
                run_row run = {.type = (char *) type,
                               .trigger = "manual",
                               .params = texts[i],
                               .attempt = 1,
                               .queued_at = now,
                               .not_before = now};
                r = store_run_insert(st, &run, err);
                ids[i] = run.id;
                free(run.idem_key);
        }
        if (r == 0)
                r = store_notify(st, err); /* other nodes' workers may take them */
        (void) e;
        return r;
}

/* One enqueue as a write of the loop. */
typedef struct enqueue_ctx {
        const char *type;
        char **texts; /* normalized params, one per run */
        size_t n;
        int64_t *ids; /* out: n ids */
} enqueue_ctx;

static int enqueue_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        enqueue_ctx *c = ctx;
        (void) ret_reply;
        return engine_insert_runs(e, st, c->type, c->texts, c->n, engine_now(e), c->ids, err);
}

int engine_enqueue(engine *e, store *st, const char *type, const char *const *params_json, size_t n, int64_t *ret_ids,
                   sked_err *err) {
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
        /* through the loop when it runs: one writer, many enqueues per flush; the
         * same turn claims them */
        enqueue_ctx c = {.type = te->t->name, .texts = texts, .n = n, .ids = ids};
        if (r == 0)
                r = engine_write(e, enqueue_apply, &c, NULL, err);
        if (r == 0 && ret_ids)
                memcpy(ret_ids, ids, n * sizeof *ids);
        free(ids);
        for (size_t i = 0; i < n; i++)
                free(texts[i]);
        free(texts);
        (void) st; /* only the loop's (or, before it runs, this thread's own) connection writes */
        return r;
}
