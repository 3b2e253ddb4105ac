/* runlog: the run start/end lines of the server log. */
#include "engine/runlog.h"

#include <string.h>

#include "base/log.h"

void runlog_start(const job *j) {
        if (!log_enabled(LOG_INFO))
                return;
        const run_row *r = &j->run;
        log_field f[] = {
                LOG_INT("run", r->id),
                LOG_STR("type", r->type),
                r->series_id ? LOG_INT("series", r->series_id) : LOG_STR("series", NULL),
                LOG_INT("attempt", r->attempt),
                LOG_STR("trigger", r->trigger),
        };
        log_fields(LOG_INFO, "run started", f, sizeof f / sizeof f[0]);
}

void runlog_end(const job *j, const event *ev, const char *state, bool again) {
        if (!log_enabled(LOG_INFO) || ev->outcome == OUT_UNSTARTED || ev->outcome == OUT_RETRACTED)
                return;
        const run_row *r = &j->run;
        bool ok = state && !strcmp(state, "succeeded");
        log_field f[] = {
                LOG_INT("run", r->id),
                LOG_STR("type", r->type),
                r->series_id ? LOG_INT("series", r->series_id) : LOG_STR("series", NULL),
                LOG_INT("attempt", r->attempt),
                LOG_STR("outcome", state),
                LOG_INT("duration_ms", ev->duration_us / 1000),
                ev->has_exit ? LOG_INT("exit", ev->exit_code) : LOG_STR("exit", NULL),
                LOG_STR("error", ok ? NULL : ev->text),
                LOG_STR("retry", again ? "yes" : "no"),
        };
        log_fields(LOG_INFO, "run finished", f, sizeof f / sizeof f[0]);
}
