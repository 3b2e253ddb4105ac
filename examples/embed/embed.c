/* Embedding sked: a program that links libsked, registers an in-process type,
 * creates a series that fires every second, triggers one run by hand, lets the
 * engine work, and prints what ran.  Usage: embed DB_PATH [SECONDS] [--fresh]
 * (--fresh deletes DB_PATH first, for tests). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sked/sked.h>

static atomic_int runs;

static int greet(sked_run *run, void *userdata) {
        const char *who = userdata;
        sked_run_log(run, SKED_INFO, "hello, %s (run %lld, params %s)", who, (long long) sked_run_id(run),
                     sked_run_params(run));
        sked_run_result(run, "greeting", "ok", "{\"ok\": true}");
        atomic_fetch_add(&runs, 1);
        return SKED_RUN_OK;
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: embed DB_PATH [SECONDS]\n");
                return 2;
        }
        int seconds = argc > 2 ? atoi(argv[2]) : 3;
        if (argc > 3 && !strcmp(argv[3], "--fresh")) {
                const char *suffix[] = {"", "-wal", "-shm"};
                for (int i = 0; i < 3; i++) {
                        char p[4096];
                        snprintf(p, sizeof p, "%s%s", argv[1], suffix[i]);
                        unlink(p);
                }
        }
        char uri[4096], err[512];
        snprintf(uri, sizeof uri, "sqlite:%s", argv[1]);
        sked *s = NULL;
        sked_config cfg = {.store = uri, .workers = 2};
        if (sked_new(&cfg, &s, err, sizeof err) < 0) {
                fprintf(stderr, "embed: %s\n", err);
                return 1;
        }
        if (sked_register_type(s,
                               "{\"name\": \"embed.greet\", \"handler\": {\"plugin\": true},"
                               " \"params\": [{\"name\": \"lang\", \"type\": \"enum\", \"values\": [\"en\", \"de\"],"
                               " \"default\": \"en\"}]}",
                               greet, "embedder", err, sizeof err) < 0) {
                fprintf(stderr, "embed: %s\n", err);
                return 1;
        }
        int64_t series = 0, run = 0;
        if (sked_create_series(
                    s, "{\"type\": \"embed.greet\", \"schedule\": \"every 1s\", \"params\": {\"lang\": \"de\"}}",
                    &series, err, sizeof err) < 0 ||
            sked_start(s, err, sizeof err) < 0 || sked_trigger_series(s, series, &run, err, sizeof err) < 0) {
                fprintf(stderr, "embed: %s\n", err);
                return 1;
        }
        sleep((unsigned) seconds);
        sked_stop(s, 5000);
        sked_free(s);
        printf("series %lld: %d runs\n", (long long) series, atomic_load(&runs));
        return atomic_load(&runs) >= 2 ? 0 : 1;
}
