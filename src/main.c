/* sked: the server, the command-line client and the offline tools in one binary. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
        const char *name;
        int (*fn)(int argc, char **argv);
        const char *help;
} commands[] = {
        {"serve", cli_serve, "run the server (API, poller, workers)"},
        {"type", cli_type, "list, show and register process types"},
        {"series", cli_series, "create, list, edit, pause, resume, trigger series"},
        {"runs", cli_runs, "list runs, show one, read its messages and results"},
        {"poller", cli_poller, "the poller's health; register background series (init)"},
        {"calendar", cli_calendar, "a week of planned and past occurrences, one column per day"},
        {"features", cli_features, "list features; switch one off and on again"},
        {"nodes", cli_nodes, "the nodes of a cluster: role, workers, last heartbeat"},
        {"workflow", cli_workflow, "register workflow definitions (versions), list, show, start"},
        {"instance", cli_instance, "workflow instances: list, show, journal, signal, cancel, pause, resume"},
        {"user", cli_user, "users and their roles: add, list, set, passwd, disable, enable"},
        {"token", cli_token, "API tokens of users: create (shown once), list, revoke"},
        {"audit", cli_audit, "the log of every change: who, when, from where, what (admins)"},
        {"migrate", cli_migrate, "bring a database's schema up to date (offline)"},
        {"preview", cli_preview, "list the next occurrences of a schedule (offline)"},
};

static int usage(FILE *f) {
        fprintf(f, "usage: sked COMMAND [ARGS]\n\ncommands:\n");
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
        fprintf(f, "  %-12s %s\n", "version", "print the version (also --version)");
        fprintf(f, "\n'sked COMMAND --help' tells more.\n");
        return f == stdout ? CLI_OK : CLI_USAGE;
}

int main(int argc, char **argv) {
        if (argc < 2)
                return usage(stderr);
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
                return usage(stdout);
        if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
                printf("sked %s\n", SKED_VERSION);
                return CLI_OK;
        }
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (!strcmp(argv[1], commands[i].name))
                        return commands[i].fn(argc - 1, argv + 1);
        fprintf(stderr, "sked: unknown command '%s' (see 'sked --help')\n", argv[1]);
        return CLI_USAGE;
}
