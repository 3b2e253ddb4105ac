/* migrate: `sked migrate`, offline schema upgrades. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/parse.h"
#include "cli/cli.h"
#include "store/store.h"

int cli_migrate(int argc, char **argv) {
        static const struct option opts[] = {
                {"db", required_argument, NULL, 'D'},
                {"data-dir", required_argument, NULL, 'd'},
                {"to", required_argument, NULL, 't'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        const char *db = NULL, *data_dir = "var";
        int to = store_schema_latest(), c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'D':
                        db = optarg;
                        break;
                case 'd':
                        data_dir = optarg;
                        break;
                case 't':
                        if (parse_int(optarg, 1, store_schema_latest(), &to) < 0) {
                                fprintf(stderr, "sked migrate: --to \"%s\": expected a version from 1 to %d\n", optarg,
                                        store_schema_latest());
                                return CLI_USAGE;
                        }
                        break;
                case 'h':
                        printf("usage: sked migrate [--db URI | --data-dir DIR] [--to VERSION]\n"
                               "Brings the schema up to VERSION (default: the newest, %d). `sked serve` does the\n"
                               "same at start; this lets an operator do it first, on its own.\n",
                               store_schema_latest());
                        return CLI_OK;
                default:
                        return CLI_USAGE;
                }
        }
        struct stat stt;
        if (!db && stat(data_dir, &stt) < 0) {
                fprintf(stderr, "sked migrate: --data-dir %s: %s\n", data_dir, strerror(errno));
                return CLI_USAGE;
        }
        char uri[PATH_MAX + 16];
        if (db)
                snprintf(uri, sizeof uri, "%s", db);
        else
                snprintf(uri, sizeof uri, "sqlite:%s/sked.db", data_dir);
        store *st = NULL;
        sked_err err = {0};
        int version = 0;
        if (store_open_at(uri, to, &st, &version, &err) < 0) {
                fprintf(stderr, "sked migrate: %s\n", err.msg);
                return err.code == -EPROTO ? CLI_FAILED : CLI_UNREACHABLE;
        }
        store_close(st);
        printf("schema version %d (this sked knows up to %d)\n", version, store_schema_latest());
        return CLI_OK;
}
