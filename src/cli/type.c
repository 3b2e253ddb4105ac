/* sked type: list, show, register and delete process types. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "model/manifest.h"

static const char type_usage[] =
        "usage: sked type list | show NAME | register FILE | delete NAME [--force]   [--json] [--url URL]\n";

static int type_list(const cli_noun *n, int argc, char **argv);
static int type_show(const cli_noun *n, int argc, char **argv);
static int type_register(const cli_noun *n, int argc, char **argv);
static int type_delete(const cli_noun *n, int argc, char **argv);

static const cli_verb type_verbs[] = {
        {"list", 0, 0, VERB_DEFAULT, type_list, NULL},
        {"show", 1, 1, 0, type_show, "one type NAME"},
        {"register", 1, 1, 0, type_register, "one manifest FILE (YAML or JSON)"},
        {"delete", 1, 1, 0, type_delete, "one type NAME"},
};

static const cli_noun type_noun = {"type", type_usage, type_verbs, sizeof type_verbs / sizeof type_verbs[0]};

static int type_list(const cli_noun *n, int argc, char **argv) {
        static const char *const h[] = {"NAME", "KIND", "TITLE", "FEATURE"};
        static const char *const k[] = {"name", "kind", "title", "feature"};
        cli_common c = {0};
        char **args;
        int nargs, r;
        if ((r = cli_parse_opts(n, &type_verbs[0], argc, argv, NULL, NULL, NULL, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        return cli_list(&c, "/api/v1/types", h, k, 4, NULL);
}

static int on_delete_opt(int opt, const char *arg, void *ud) {
        (void) opt;
        (void) arg;
        *(bool *) ud = true;
        return 0;
}

static int type_delete(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {{"force", no_argument, NULL, 1}, {0}};
        cli_common c = {0};
        json_t *reply = NULL;
        char **args, path[300];
        bool force = false;
        int nargs, r;
        if ((r = cli_parse_opts(n, &type_verbs[3], argc, argv, opts, on_delete_opt, &force, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        if (strchr(args[0], '/') || strchr(args[0], '?') || strlen(args[0]) > 200) {
                fprintf(stderr, "sked: \"%s\": not a type name\n", args[0]);
                return CLI_USAGE;
        }
        snprintf(path, sizeof path, "/api/v1/types/%s%s", args[0], force ? "?force=true" : "");
        if ((r = cli_call(&c, "DELETE", path, NULL, &reply)) != 0)
                return r;
        if (c.json)
                cli_print_json(reply);
        else
                printf("deleted type %s (%lld series deleted, %lld runs cancelled, %lld stopping)\n", args[0],
                       (long long) json_integer_value(json_object_get(reply, "series_deleted")),
                       (long long) json_integer_value(json_object_get(reply, "runs_cancelled")),
                       (long long) json_integer_value(json_object_get(reply, "runs_stopping")));
        json_decref(reply);
        return CLI_OK;
}

static int type_show(const cli_noun *n, int argc, char **argv) {
        cli_common c = {0};
        json_t *reply = NULL;
        char **args, path[300];
        int nargs, r;
        if ((r = cli_parse_opts(n, &type_verbs[1], argc, argv, NULL, NULL, NULL, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        if (strchr(args[0], '/') || strchr(args[0], '?') || strlen(args[0]) > 200) {
                fprintf(stderr, "sked: \"%s\": not a type name\n", args[0]);
                return CLI_USAGE;
        }
        snprintf(path, sizeof path, "/api/v1/types/%s", args[0]);
        if ((r = cli_call(&c, "GET", path, NULL, &reply)) != 0)
                return r;
        cli_print_json(reply);
        json_decref(reply);
        return CLI_OK;
}

static int type_register(const cli_noun *n, int argc, char **argv) {
        cli_common c = {0};
        json_t *def = NULL, *reply = NULL;
        sked_err err = {0};
        char **args;
        int nargs, r;
        if ((r = cli_parse_opts(n, &type_verbs[2], argc, argv, NULL, NULL, NULL, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        if (manifest_load_checked(args[0], &def, &err) < 0) {
                fprintf(stderr, "sked: %s\n", err.msg);
                return CLI_USAGE;
        }
        r = cli_call(&c, "POST", "/api/v1/types", def, &reply);
        json_decref(def);
        if (r != 0)
                return r;
        if (c.json)
                cli_print_json(reply);
        else
                printf("registered %s (%s)\n", json_string_value(json_object_get(reply, "name")),
                       json_string_value(json_object_get(reply, "kind")));
        json_decref(reply);
        return CLI_OK;
}

int cli_type(int argc, char **argv) {
        return cli_noun_run(&type_noun, argc, argv);
}
