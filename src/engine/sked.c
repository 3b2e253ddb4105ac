/* sked: the public API (include/sked/sked.h) over the engine.  A `sked *` is an
 * `engine *`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "sked/sked.h"

static int fail(const sked_err *e, int r, char *errbuf, size_t errlen) {
        if (errbuf && errlen)
                snprintf(errbuf, errlen, "%s", e->msg[0] ? e->msg : strerror(-r));
        return r;
}

int sked_new(const sked_config *cfg, sked **ret, char *errbuf, size_t errlen) {
        engine_config ec = {
                .store_uri = cfg->store,
                .workers = cfg->workers,
                .node = cfg->node,
                .clock = cfg->clock,
                .clock_userdata = cfg->clock_userdata,
                .lease_ms = cfg->lease_ms,
                .lookahead_ms = cfg->lookahead_ms,
        };
        sked_err err = {0};
        engine *e = NULL;
        if (!cfg->store)
                return fail(&(sked_err){.msg = "store: required (sqlite:PATH)"}, -EINVAL, errbuf, errlen);
        int r = engine_new(&ec, &e, &err);
        if (r < 0)
                return fail(&err, r, errbuf, errlen);
        *ret = (sked *) e;
        return 0;
}

int sked_register_type(sked *s, const char *definition_json, sked_handler fn, void *userdata, char *errbuf,
                       size_t errlen) {
        sked_err err = {0};
        json_error_t je;
        json_t *def = json_loads(definition_json, 0, &je);
        if (!def) {
                err_set(&err, -EINVAL, "definition: invalid JSON at line %d, column %d: %s", je.line, je.column,
                        je.text);
                return fail(&err, -EINVAL, errbuf, errlen);
        }
        int r = engine_type_register((engine *) s, def, fn, userdata, NULL, &err);
        json_decref(def);
        return r < 0 ? fail(&err, r, errbuf, errlen) : 0;
}

int sked_create_series(sked *s, const char *series_json, int64_t *ret_id, char *errbuf, size_t errlen) {
        engine *e = (engine *) s;
        sked_err err = {0};
        json_error_t je;
        json_t *in = json_loads(series_json, 0, &je);
        if (!in) {
                err_set(&err, -EINVAL, "series: invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
                return fail(&err, -EINVAL, errbuf, errlen);
        }
        store *st;
        series_row row = {0};
        int r = engine_thread_store(e, &st, &err);
        if (r == 0)
                r = engine_series_create(e, st, in, &row, &err);
        json_decref(in);
        if (r < 0)
                return fail(&err, r, errbuf, errlen);
        if (ret_id)
                *ret_id = row.id;
        series_row_clear(&row);
        return 0;
}

int sked_create_series_batch(sked *s, const char *const *series_json, size_t n, int64_t *ret_ids, char *errbuf,
                             size_t errlen) {
        _Static_assert(SKED_SERIES_BATCH_MAX == ENGINE_SERIES_BATCH_MAX, "one limit");
        engine *e = (engine *) s;
        sked_err err = {0};
        if (n == 0 || n > SKED_SERIES_BATCH_MAX || !series_json) {
                err_field(&err, -EINVAL, "series", "expected 1 to %d series, got %zu", SKED_SERIES_BATCH_MAX, n);
                return fail(&err, -EINVAL, errbuf, errlen);
        }
        json_t *list = json_array();
        int r = list ? 0 : err_set(&err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n && r == 0; i++) {
                char where[32];
                json_error_t je;
                json_t *in = series_json[i] ? json_loads(series_json[i], 0, &je) : NULL;
                snprintf(where, sizeof where, "series[%zu]", i);
                if (!series_json[i])
                        r = err_field(&err, -EINVAL, where, "expected a JSON object, got NULL");
                else if (!in)
                        r = err_field(&err, -EINVAL, where, "invalid JSON at line %d, column %d: %s", je.line,
                                      je.column, je.text);
                else if (json_array_append_new(list, in) < 0)
                        r = err_set(&err, -ENOMEM, "out of memory");
        }
        store *st;
        series_row *rows = NULL;
        if (r == 0)
                r = engine_thread_store(e, &st, &err);
        if (r == 0)
                r = engine_series_create_batch(e, st, list, "series", &rows, &err);
        json_decref(list);
        if (r < 0)
                return fail(&err, r, errbuf, errlen);
        for (size_t i = 0; ret_ids && i < n; i++)
                ret_ids[i] = rows[i].id;
        series_rows_free(rows, n);
        return 0;
}

int sked_trigger_series(sked *s, int64_t series_id, int64_t *ret_run_id, char *errbuf, size_t errlen) {
        engine *e = (engine *) s;
        sked_err err = {0};
        store *st;
        run_row run = {0};
        int r = engine_thread_store(e, &st, &err);
        if (r == 0)
                r = engine_series_trigger(e, st, series_id, NULL, &run, &err);
        if (r < 0)
                return fail(&err, r, errbuf, errlen);
        if (ret_run_id)
                *ret_run_id = run.id;
        run_row_clear(&run);
        return 0;
}

int sked_enqueue(sked *s, const char *type, const char *const *params_json, size_t n, int64_t *ret_first_id,
                 char *errbuf, size_t errlen) {
        engine *e = (engine *) s;
        sked_err err = {0};
        store *st;
        int r = engine_thread_store(e, &st, &err);
        int64_t *ids = r == 0 && n ? calloc(n, sizeof *ids) : NULL;
        if (r == 0 && n && !ids)
                r = err_set(&err, -ENOMEM, "out of memory");
        if (r == 0)
                r = engine_enqueue(e, st, type, params_json, n, ids, &err);
        if (r == 0 && ret_first_id)
                *ret_first_id = ids[0];
        free(ids);
        return r < 0 ? fail(&err, r, errbuf, errlen) : 0;
}

int sked_start(sked *s, char *errbuf, size_t errlen) {
        sked_err err = {0};
        int r = engine_start((engine *) s, &err);
        return r < 0 ? fail(&err, r, errbuf, errlen) : 0;
}

int sked_wait_idle(sked *s, int64_t timeout_ms) {
        return engine_wait_idle((engine *) s, timeout_ms);
}

void sked_stop(sked *s, int64_t grace_ms) {
        engine_stop((engine *) s, grace_ms);
}

void sked_free(sked *s) {
        engine_free((engine *) s);
}
