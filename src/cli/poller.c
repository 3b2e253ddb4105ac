/* sked poller: the poller's health record; register background series (init). */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/common.h"

static const char poller_usage[] = "usage: sked poller status | init  [--json]\n";

static int poller_status(const cli_noun *n, int argc, char **argv);
static int poller_init(const cli_noun *n, int argc, char **argv);

static const cli_verb poller_verbs[] = {
        {"status", 0, 0, VERB_DEFAULT, poller_status, NULL},
        {"init", 0, 0, 0, poller_init, NULL},
};

static const cli_noun poller_noun = {"poller", poller_usage, poller_verbs,
                                     sizeof poller_verbs / sizeof poller_verbs[0]};

/* Exits CLI_FAILED when the poller is not healthy, so it serves as a health check. */
static int poller_status(const cli_noun *n, int argc, char **argv) {
        cli_common c = {0};
        json_t *reply = NULL;
        char **args;
        int nargs, r;
        if ((r = cli_parse_opts(n, &poller_verbs[0], argc, argv, NULL, NULL, NULL, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        if ((r = cli_call(&c, "GET", "/api/v1/poller", NULL, &reply)) != 0)
                return r;
        if (c.json)
                cli_print_json(reply);
        else
                cli_print_object(reply);
        r = json_is_true(json_object_get(reply, "healthy")) ? CLI_OK : CLI_FAILED;
        json_decref(reply);
        return r;
}

static int poller_init(const cli_noun *n, int argc, char **argv) {
        cli_common c = {0};
        json_t *reply = NULL;
        char **args;
        int nargs, r;
        if ((r = cli_parse_opts(n, &poller_verbs[1], argc, argv, NULL, NULL, NULL, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        if ((r = cli_call(&c, "POST", "/api/v1/poller/init", NULL, &reply)) != 0)
                return r;
        if (c.json)
                cli_print_json(reply);
        else
                printf("poller initialized; %lld background series registered\n",
                       (long long) json_integer_value(json_object_get(reply, "registered")));
        size_t i;
        json_t *sk;
        json_array_foreach(json_object_get(reply, "skipped"), i, sk) {
                if (!c.json)
                        fprintf(stderr, "sked: skipped background type %s: %s\n",
                                json_string_value(json_object_get(sk, "type")),
                                json_string_value(json_object_get(sk, "detail")));
        }
        json_decref(reply);
        return CLI_OK;
}

int cli_poller(int argc, char **argv) {
        return cli_noun_run(&poller_noun, argc, argv);
}
