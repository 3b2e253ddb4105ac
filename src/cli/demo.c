/* demo: what `sked serve --demo` registers, so that a new user sees work within a
 * minute and a week calendar a person can read:
 *   - demo.ledger-sync, a background in-process type polled every 15 s (its series is
 *     registered with the type; the calendar shows it as one line a day);
 *   - demo.hello, a scheduled command type: "Morning hello" daily at 09:00 and
 *     "Weekly clean-up" on Fridays at 16:00;
 *   - demo.report, a scheduled command type of the feature `reporting`: "Weekday
 *     report" Monday to Friday at 07:30.
 * The series are in Europe/Berlin and created once: a data directory that already has
 * a series of demo.hello keeps what it has (the user may have edited or deleted them). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "cli/demo.h"
#include "engine/engine.h"

static int ledger_sync(sked_run *run, void *ud) {
        (void) ud;
        int64_t id = sked_run_id(run);
        int entries = (int) (id % 5) + 1;
        sked_run_log(run, SKED_INFO, "syncing subledger (attempt %d)", sked_run_attempt(run));
        for (int i = 0; i < entries; i++) {
                char key[32], data[64];
                snprintf(key, sizeof key, "entry-%lld-%d", (long long) id, i);
                snprintf(data, sizeof data, "{\"amount\": %d}", (i + 1) * 100);
                sked_run_result(run, key, "ok", data);
                sked_run_progress(run, (i + 1) * 100 / entries);
        }
        sked_run_log(run, SKED_INFO, "synced %d entries", entries);
        return SKED_RUN_OK;
}

static const char *hello_type =
        "{\"name\": \"demo.hello\", \"kind\": \"scheduled\", \"title\": \"Say hello (a command)\","
        " \"handler\": {\"command\": [\"/usr/bin/printf\","
        " \"::info::hello from a command handler\\\\n::progress::50\\\\n"
        "::result::{\\\"key\\\": \\\"greeting\\\", \\\"status\\\": \\\"ok\\\", \\\"data\\\": {\\\"text\\\": "
        "\\\"hello\\\"}}\\\\n\"]},"
        " \"params\": [{\"name\": \"who\", \"type\": \"string\", \"default\": \"world\"}],"
        " \"query_fields\": [{\"name\": \"region\", \"type\": \"enum\", \"values\": [\"eu\", \"us\"]}],"
        " \"defaults\": {\"timeout\": \"1m\"}}";

static const char *report_type =
        "{\"name\": \"demo.report\", \"kind\": \"scheduled\", \"title\": \"Daily report (a command)\","
        " \"feature\": \"reporting\","
        " \"handler\": {\"command\": [\"/usr/bin/printf\","
        " \"::info::building the report\\\\n::progress::50\\\\n"
        "::result::{\\\"key\\\": \\\"eu\\\", \\\"status\\\": \\\"ok\\\"}\\\\n"
        "::result::{\\\"key\\\": \\\"us\\\", \\\"status\\\": \\\"ok\\\"}\\\\n"
        "::info::report sent\\\\n\"]},"
        " \"defaults\": {\"timeout\": \"5m\"}}";

static const char *ledger_type =
        "{\"name\": \"demo.ledger-sync\", \"kind\": \"background\", \"title\": \"Subledger transfer (in-process)\","
        " \"handler\": {\"plugin\": true},"
        " \"defaults\": {\"timeout\": \"5m\", \"concurrency\": 1},"
        " \"series\": {\"schedule\": \"every 15s\", \"tz\": \"UTC\"}}";

/* The demo's scheduled series, created on the first start with --demo. */
static const char *const demo_series[] = {
        "{\"type\": \"demo.hello\", \"title\": \"Morning hello\", \"tz\": \"Europe/Berlin\","
        " \"schedule\": \"RRULE:FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0\","
        " \"params\": {\"who\": \"sked\"}, \"query\": \"region = \\\"eu\\\"\"}",
        "{\"type\": \"demo.report\", \"title\": \"Weekday report\", \"tz\": \"Europe/Berlin\","
        " \"schedule\": \"cron:30 7 * * 1-5\"}",
        "{\"type\": \"demo.hello\", \"title\": \"Weekly clean-up\", \"tz\": \"Europe/Berlin\","
        " \"schedule\": \"RRULE:FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0;BYSECOND=0\","
        " \"params\": {\"who\": \"the weekend\"}}",
};

static int ensure_demo_series(sked *s, char *errbuf, size_t errlen) {
        store *st;
        sked_err err = {0};
        int r = engine_thread_store((engine *) s, &st, &err);
        series_row *rows = NULL;
        size_t n = 0;
        if (r >= 0)
                r = store_series_list(st, "demo.hello", 0, 1, true, &rows, &n, &err);
        series_rows_free(rows, n);
        if (r < 0) {
                snprintf(errbuf, errlen, "series: %s", err.msg);
                return r;
        }
        if (n > 0)
                return 0;
        for (size_t i = 0; i < sizeof demo_series / sizeof demo_series[0]; i++) {
                int64_t id;
                if ((r = sked_create_series(s, demo_series[i], &id, errbuf, errlen)) < 0)
                        return r;
        }
        return 0;
}

int demo_register(sked *s, char *errbuf, size_t errlen) {
        int r = sked_register_type(s, hello_type, NULL, NULL, errbuf, errlen);
        if (r < 0)
                return r;
        r = sked_register_type(s, report_type, NULL, NULL, errbuf, errlen);
        if (r < 0)
                return r;
        r = sked_register_type(s, ledger_type, ledger_sync, NULL, errbuf, errlen);
        if (r < 0)
                return r;
        return ensure_demo_series(s, errbuf, errlen);
}
