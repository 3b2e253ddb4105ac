/* demo: what `sked serve --demo` registers so a new user sees work within a minute:
 * a scheduled command type with a series every 20 s, and a background in-process
 * type polled every 15 s. */
#include <stdio.h>
#include <string.h>

#include "cli/demo.h"

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
        "::result::{\\\"key\\\": \\\"greeting\\\", \\\"status\\\": \\\"ok\\\", \\\"data\\\": {\\\"text\\\": \\\"hello\\\"}}\\\\n\"]},"
        " \"params\": [{\"name\": \"who\", \"type\": \"string\", \"default\": \"world\"}],"
        " \"query_fields\": [{\"name\": \"region\", \"type\": \"enum\", \"values\": [\"eu\", \"us\"]}],"
        " \"defaults\": {\"timeout\": \"1m\"}}";

static const char *ledger_type =
        "{\"name\": \"demo.ledger-sync\", \"kind\": \"background\", \"title\": \"Subledger transfer (in-process)\","
        " \"handler\": {\"plugin\": true},"
        " \"defaults\": {\"timeout\": \"5m\", \"concurrency\": 1},"
        " \"series\": {\"schedule\": \"every 15s\", \"tz\": \"UTC\"}}";

int demo_register(sked *s, char *errbuf, size_t errlen) {
        int r = sked_register_type(s, hello_type, NULL, NULL, errbuf, errlen);
        if (r < 0)
                return r;
        r = sked_register_type(s, ledger_type, ledger_sync, NULL, errbuf, errlen);
        if (r < 0)
                return r;
        return 0;
}
