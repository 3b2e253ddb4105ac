/* sked nodes: the nodes sharing the database. */
#include "cli/cli.h"
#include "cli/common.h"

static const char nodes_usage[] = "usage: sked nodes [list] [--json]\n";

static int nodes_list(const cli_noun *n, int argc, char **argv);

static const cli_verb nodes_verbs[] = {
        {"list", 0, 0, VERB_DEFAULT, nodes_list, NULL},
};

static const cli_noun nodes_noun = {"nodes", nodes_usage, nodes_verbs, 1};

static int nodes_list(const cli_noun *n, int argc, char **argv) {
        static const char *const h[] = {"NAME", "ROLE", "ALIVE", "WORKERS", "RUNNING", "LAST HEARTBEAT", "PID"};
        static const char *const k[] = {"name", "role", "alive", "workers", "running", "heartbeat_at", "pid"};
        cli_common c = {0};
        char **args;
        int nargs, r;
        if ((r = cli_parse_opts(n, &nodes_verbs[0], argc, argv, NULL, NULL, NULL, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        return cli_list(&c, "/api/v1/nodes", h, k, 7, NULL);
}

int cli_nodes(int argc, char **argv) {
        return cli_noun_run(&nodes_noun, argc, argv);
}
