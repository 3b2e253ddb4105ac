/* A sked plug-in: a shared object that `sked serve --plugin PATH` loads at start.
 * It registers one in-process type, `example.count`, whose handler counts from 1 to
 * the parameter `n`, logging and recording one result per number.  Parameter
 * `fail_at` makes it fail at that number (to show failure handling),
 * `retry_first` makes attempt 1 ask for a retry, and `pause_ms` waits that long
 * after each number (to show cancellation: it polls sked_run_cancelled()). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include <sked/sked.h>

static int count(sked_run *run, void *userdata) {
        (void) userdata;
        json_t *p = json_loads(sked_run_params(run), 0, NULL);
        json_int_t n = json_integer_value(json_object_get(p, "n"));
        json_int_t fail_at = json_integer_value(json_object_get(p, "fail_at"));
        int retry_first = json_is_true(json_object_get(p, "retry_first"));
        json_int_t pause_ms = json_integer_value(json_object_get(p, "pause_ms"));
        json_decref(p);
        if (retry_first && sked_run_attempt(run) == 1) {
                sked_run_log(run, SKED_WARNING, "attempt 1: asking for a retry");
                return SKED_RUN_RETRY;
        }
        sked_run_log(run, SKED_INFO, "counting to %lld (key %s)", (long long) n, sked_run_idempotency_key(run));
        for (json_int_t i = 1; i <= n && !sked_run_cancelled(run); i++) {
                char key[32], data[64];
                snprintf(key, sizeof key, "n%lld", (long long) i);
                if (i == fail_at) {
                        sked_run_log(run, SKED_ERROR, "failing at %lld as asked", (long long) i);
                        sked_run_result(run, key, "failed", NULL);
                        return SKED_RUN_FAIL;
                }
                snprintf(data, sizeof data, "{\"square\": %lld}", (long long) (i * i));
                sked_run_result(run, key, "ok", data);
                sked_run_progress(run, (int) (i * 100 / n));
                if (pause_ms > 0)
                        nanosleep(&(struct timespec){pause_ms / 1000, (long) (pause_ms % 1000) * 1000000}, NULL);
        }
        if (sked_run_cancelled(run)) {
                sked_run_log(run, SKED_WARNING, "cancelled: stopping early");
                return SKED_RUN_FAIL;
        }
        return SKED_RUN_OK;
}

static const char *definition =
        "{\"name\": \"example.count\", \"title\": \"Count (in-process plug-in)\","
        " \"handler\": {\"plugin\": true},"
        " \"params\": [{\"name\": \"n\", \"type\": \"int\", \"default\": 3, \"min\": 0, \"max\": 10000},"
        "              {\"name\": \"fail_at\", \"type\": \"int\", \"default\": 0},"
        "              {\"name\": \"retry_first\", \"type\": \"bool\", \"default\": false},"
        "              {\"name\": \"pause_ms\", \"type\": \"int\", \"default\": 0, \"min\": 0, \"max\": 1000}],"
        " \"defaults\": {\"retry\": {\"max_attempts\": 3, \"initial_backoff\": \"1s\"}}}";

int sked_plugin_init(sked *s) {
        char err[512];
        int r = sked_register_type(s, definition, count, NULL, err, sizeof err);
        if (r < 0)
                fprintf(stderr, "example plug-in: %s\n", err);
        return r;
}
