/* sked features: list features; switch one off and on again. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"

static const char features_usage[] = "usage: sked features [list] [--json]\n"
                                     "       sked features enable NAME [--note TEXT]\n"
                                     "       sked features disable NAME [--note TEXT]\n";

static int features_list(const cli_noun *n, int argc, char **argv);
static int features_switch(const cli_noun *n, int argc, char **argv);

static const cli_verb features_verbs[] = {
        {"list", 0, 0, VERB_DEFAULT, features_list, NULL},
        {"enable", 1, 1, 0, features_switch, "one feature NAME"},
        {"disable", 1, 1, 0, features_switch, "one feature NAME"},
};

static const cli_noun features_noun = {"features", features_usage, features_verbs,
                                       sizeof features_verbs / sizeof features_verbs[0]};

static int features_list(const cli_noun *n, int argc, char **argv) {
        static const char *const h[] = {"NAME", "ENABLED", "TYPES", "SERIES", "CHANGED", "NOTE"};
        static const char *const k[] = {"name", "enabled", "types", "series", "changed_at", "note"};
        cli_common c = {0};
        char **args;
        int nargs, r;
        if ((r = cli_parse_opts(n, &features_verbs[0], argc, argv, NULL, NULL, NULL, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        return cli_list(&c, "/api/v1/features", h, k, 6, NULL);
}

enum { O_NOTE = 1 };

static int on_note(int opt, const char *arg, void *ud) {
        *(const char **) ud = arg;
        return 0;
}

static int features_switch(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {{"note", required_argument, NULL, O_NOTE}, {0}};
        const cli_verb *v = !strcmp(argv[0], "enable") ? &features_verbs[1] : &features_verbs[2];
        cli_common c = {0};
        const char *note = NULL;
        char **args, path[160];
        int nargs, r;
        if ((r = cli_parse_opts(n, v, argc, argv, opts, on_note, &note, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        const char *name = args[0];
        if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(name) || !*name || strlen(name) > 64) {
                fprintf(stderr, "sked: \"%s\": expected a feature name ([a-z][a-z0-9_.-]*)\n", name);
                return CLI_USAGE;
        }
        snprintf(path, sizeof path, "/api/v1/features/%s/%s", name, v->name);
        json_t *body = json_object(), *reply = NULL;
        if (note)
                json_object_set_new(body, "note", json_string(note));
        r = cli_call(&c, "POST", path, body, &reply);
        if (r == 0) {
                if (c.json)
                        cli_print_json(reply);
                else
                        printf("feature %s %sd: %lld series %s\n", name, v->name,
                               (long long) json_integer_value(json_object_get(reply, "series_changed")),
                               v == &features_verbs[1] ? "scheduled again (missed work follows "
                                                         "each catch-up policy)"
                                                       : "no longer scheduled");
        }
        json_decref(body);
        json_decref(reply);
        return r;
}

int cli_features(int argc, char **argv) {
        return cli_noun_run(&features_noun, argc, argv);
}
