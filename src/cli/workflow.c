/* sked workflow: register (a new version of) a definition, list, show, start an instance. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "model/manifest.h"

static const char workflow_usage[] = "usage: sked workflow list\n"
                                     "       sked workflow show NAME\n"
                                     "       sked workflow register FILE        (YAML or JSON; again: a new version)\n"
                                     "       sked workflow start NAME [--input JSON]\n"
                                     "common options: --json --url URL --token TOKEN --data-dir DIR\n";

static int workflow_list(const cli_noun *n, int argc, char **argv);
static int workflow_show(const cli_noun *n, int argc, char **argv);
static int workflow_register(const cli_noun *n, int argc, char **argv);
static int workflow_start(const cli_noun *n, int argc, char **argv);

static const cli_verb workflow_verbs[] = {
        {"list", 0, 0, VERB_DEFAULT, workflow_list, NULL},
        {"show", 1, 1, 0, workflow_show, "one workflow NAME"},
        {"register", 1, 1, 0, workflow_register, "one definition FILE (YAML or JSON)"},
        {"start", 1, 1, 0, workflow_start, "one workflow NAME"},
};

static const cli_noun workflow_noun = {"workflow", workflow_usage, workflow_verbs,
                                       sizeof workflow_verbs / sizeof workflow_verbs[0]};

/* a workflow name as it may stand in a path */
static int name_path(char *buf, size_t len, const char *fmt, const char *name) {
        size_t n = strlen(name);
        if (n == 0 || n > 128 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != n) {
                fprintf(stderr, "sked: \"%s\": not a workflow name\n", name);
                return -1;
        }
        snprintf(buf, len, fmt, name);
        return 0;
}

static int workflow_list(const cli_noun *n, int argc, char **argv) {
        static const char *const h[] = {"NAME", "VERSION", "MODE", "TITLE", "UPDATED"};
        static const char *const k[] = {"name", "version", "mode", "title", "updated_at"};
        cli_common c = {0};
        char **args;
        int nargs, r;
        if ((r = cli_parse_opts(n, &workflow_verbs[0], argc, argv, NULL, NULL, NULL, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        return cli_list(&c, "/api/v1/workflows", h, k, 5, NULL);
}

static int workflow_show(const cli_noun *n, int argc, char **argv) {
        cli_common c = {0};
        json_t *reply = NULL;
        char **args, path[300];
        int nargs, r;
        if ((r = cli_parse_opts(n, &workflow_verbs[1], argc, argv, NULL, NULL, NULL, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        if (name_path(path, sizeof path, "/api/v1/workflows/%s", args[0]) < 0)
                return CLI_USAGE;
        if ((r = cli_call(&c, "GET", path, NULL, &reply)) != 0)
                return r;
        cli_print_json(reply);
        json_decref(reply);
        return CLI_OK;
}

static int workflow_register(const cli_noun *n, int argc, char **argv) {
        cli_common c = {0};
        json_t *def = NULL, *reply = NULL;
        sked_err err = {0};
        char **args;
        int nargs, r;
        if ((r = cli_parse_opts(n, &workflow_verbs[2], argc, argv, NULL, NULL, NULL, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        if (manifest_load(args[0], &def, &err) < 0) {
                fprintf(stderr, "sked: %s\n", err.msg);
                return CLI_USAGE;
        }
        r = cli_call(&c, "POST", "/api/v1/workflows", def, &reply);
        json_decref(def);
        if (r != 0)
                return r;
        if (c.json)
                cli_print_json(reply);
        else
                printf("registered %s version %lld\n", json_string_value(json_object_get(reply, "name")),
                       (long long) json_integer_value(json_object_get(reply, "version")));
        json_decref(reply);
        return CLI_OK;
}

enum { O_INPUT = 1 };

static int on_start_opt(int opt, const char *arg, void *ud) {
        json_t **input = ud;
        if (opt != O_INPUT)
                return -1;
        json_error_t je;
        json_decref(*input);
        *input = json_loads(arg, 0, &je);
        if (!json_is_object(*input)) {
                fprintf(stderr, "sked: --input: expected a JSON object%s%s\n", *input ? "" : ": ",
                        *input ? "" : je.text);
                return -1;
        }
        return 0;
}

static int workflow_start(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                {"input", required_argument, NULL, O_INPUT},
                {0},
        };
        cli_common c = {0};
        json_t *input = NULL, *body = NULL, *reply = NULL;
        char **args, path[300];
        int nargs, r;
        if ((r = cli_parse_opts(n, &workflow_verbs[3], argc, argv, opts, on_start_opt, &input, &c, &args, &nargs)) !=
            0) {
                json_decref(input);
                return cli_exit(r);
        }
        if (name_path(path, sizeof path, "/api/v1/workflows/%s/start", args[0]) < 0) {
                json_decref(input);
                return CLI_USAGE;
        }
        body = json_pack("{s:o}", "input", input ? input : json_object());
        r = cli_call(&c, "POST", path, body, &reply);
        json_decref(body);
        if (r != 0)
                return r;
        if (c.json)
                cli_print_json(reply);
        else
                printf("started instance %lld of %s version %lld (%s)\n",
                       (long long) json_integer_value(json_object_get(reply, "id")),
                       json_string_value(json_object_get(reply, "workflow")),
                       (long long) json_integer_value(json_object_get(reply, "version")),
                       json_string_value(json_object_get(reply, "status")));
        json_decref(reply);
        return CLI_OK;
}

int cli_workflow(int argc, char **argv) {
        return cli_noun_run(&workflow_noun, argc, argv);
}
