/* sked instance: list instances, show one, its journal; signal, cancel, pause, resume. */
#include <stdio.h>
#include <string.h>

#include "base/strbuf.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/common.h"

static const char instance_usage[] =
        "usage: sked instance list [--workflow NAME] [--status S] [--limit N] [--before ID]\n"
        "       sked instance show ID\n"
        "       sked instance journal ID [--after SEQ]\n"
        "       sked instance signal ID NAME [--data JSON]\n"
        "       sked instance cancel ID [--reason TEXT] | pause ID | resume ID\n"
        "statuses: queued, running, waiting, paused, succeeded, failed, canceled\n"
        "common options: --json --url URL --token TOKEN --data-dir DIR\n";

static int instance_list(const cli_noun *n, int argc, char **argv);
static int instance_show(const cli_noun *n, int argc, char **argv);
static int instance_journal(const cli_noun *n, int argc, char **argv);
static int instance_signal(const cli_noun *n, int argc, char **argv);
static int instance_op(const cli_noun *n, int argc, char **argv);

static const cli_verb instance_verbs[] = {
        {"list", 0, 0, VERB_DEFAULT, instance_list, NULL},
        {"show", 1, 1, 0, instance_show, "one instance ID"},
        {"journal", 1, 1, 0, instance_journal, "one instance ID"},
        {"signal", 2, 2, 0, instance_signal, "an instance ID and a signal NAME"},
        {"cancel", 1, 1, 0, instance_op, "one instance ID"},
        {"pause", 1, 1, 0, instance_op, "one instance ID"},
        {"resume", 1, 1, 0, instance_op, "one instance ID"},
};

static const cli_noun instance_noun = {"instance", instance_usage, instance_verbs,
                                       sizeof instance_verbs / sizeof instance_verbs[0]};

enum { O_WORKFLOW = 1, O_STATUS, O_LIMIT, O_BEFORE, O_AFTER, O_DATA, O_REASON };

typedef struct list_args {
        const char *workflow, *status;
        int64_t limit, before;
} list_args;

static int on_list_opt(int opt, const char *arg, void *ud) {
        list_args *a = ud;
        static const char *const statuses[] = {"queued",    "running", "waiting",  "paused",
                                               "succeeded", "failed",  "canceled", NULL};
        switch (opt) {
        case O_WORKFLOW:
                a->workflow = arg;
                return 0;
        case O_STATUS:
                for (size_t i = 0; statuses[i]; i++)
                        if (!strcmp(arg, statuses[i]) || (!strcmp(arg, "cancelled") && i == 6)) {
                                a->status = statuses[i];
                                return 0;
                        }
                fprintf(stderr,
                        "sked: --status \"%s\": expected queued, running, waiting, paused, succeeded, "
                        "failed or canceled\n",
                        arg);
                return -1;
        case O_LIMIT:
                return cli_int_opt("--limit", arg, 1, 1000, "1..1000", &a->limit);
        case O_BEFORE:
                return cli_int_opt("--before", arg, 0, INT64_MAX, "a numeric id", &a->before);
        }
        return -1;
}

static int instance_list(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                {"workflow", required_argument, NULL, O_WORKFLOW},
                {"status", required_argument, NULL, O_STATUS},
                {"limit", required_argument, NULL, O_LIMIT},
                {"before", required_argument, NULL, O_BEFORE},
                {0},
        };
        static const char *const h[] = {"ID", "WORKFLOW", "VERSION", "STATUS", "UPDATED", "REASON"};
        static const char *const k[] = {"id", "workflow", "version", "status", "updated_at", "reason"};
        list_args a = {.limit = 50};
        cli_common c = {0};
        strbuf q = STRBUF_INIT;
        char **args;
        int nargs, r;
        if ((r = cli_parse_opts(n, &instance_verbs[0], argc, argv, opts, on_list_opt, &a, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        strbuf_printf(&q, "/api/v1/instances?limit=%lld", (long long) a.limit);
        if (a.before)
                strbuf_printf(&q, "&before=%lld", (long long) a.before);
        if (a.workflow)
                client_query(&q, "workflow", a.workflow);
        if (a.status)
                client_query(&q, "status", a.status);
        if (q.oom) {
                strbuf_free(&q);
                fprintf(stderr, "sked: out of memory\n");
                return CLI_FAILED;
        }
        cli_list_opts lo = {.more = "--before", .fit = cli_terminal_width()};
        r = cli_list(&c, strbuf_str(&q), h, k, 6, &lo);
        strbuf_free(&q);
        return r;
}

static int instance_show(const cli_noun *n, int argc, char **argv) {
        cli_common c = {0};
        json_t *reply = NULL;
        char **args, path[128];
        int nargs, r;
        if ((r = cli_parse_opts(n, &instance_verbs[1], argc, argv, NULL, NULL, NULL, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        if (cli_id_path(path, sizeof path, "/api/v1/instances/%s", args[0]) < 0)
                return CLI_USAGE;
        if ((r = cli_call(&c, "GET", path, NULL, &reply)) != 0)
                return r;
        cli_print_json(reply); /* the JSON is the human form too: vars are what one looks at */
        json_decref(reply);
        return CLI_OK;
}

static int on_after_opt(int opt, const char *arg, void *ud) {
        return opt == O_AFTER ? cli_int_opt("--after", arg, 0, INT64_MAX, "a sequence number", ud) : -1;
}

static int instance_journal(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                {"after", required_argument, NULL, O_AFTER},
                {0},
        };
        static const char *const h[] = {"SEQ", "AT", "STEP", "KIND", "OUTCOME", "RUN", "DETAIL"};
        static const char *const k[] = {"seq", "at", "step", "kind", "outcome", "run_id", "detail"};
        int64_t after = 0;
        cli_common c = {0};
        char **args, path[160];
        int nargs, r;
        if ((r = cli_parse_opts(n, &instance_verbs[2], argc, argv, opts, on_after_opt, &after, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        if (cli_id_path(path, sizeof path, "/api/v1/instances/%s/journal", args[0]) < 0)
                return CLI_USAGE;
        if (after)
                snprintf(path + strlen(path), sizeof path - strlen(path), "?after=%lld", (long long) after);
        cli_list_opts lo = {.more = "--after", .fit = cli_terminal_width()};
        return cli_list(&c, path, h, k, 7, &lo);
}

typedef struct op_args {
        json_t *data;
        const char *reason;
} op_args;

static int on_op_opt(int opt, const char *arg, void *ud) {
        op_args *a = ud;
        if (opt == O_REASON) {
                a->reason = arg;
                return 0;
        }
        if (opt != O_DATA)
                return -1;
        json_error_t je;
        json_decref(a->data);
        a->data = json_loads(arg, JSON_DECODE_ANY, &je);
        if (!a->data) {
                fprintf(stderr, "sked: --data: not JSON: %s\n", je.text);
                return -1;
        }
        return 0;
}

static int print_instance(const cli_common *c, json_t *reply, const char *what) {
        if (c->json)
                cli_print_json(reply);
        else
                printf("instance %lld %s: %s\n", (long long) json_integer_value(json_object_get(reply, "id")), what,
                       json_string_value(json_object_get(reply, "status")));
        return CLI_OK;
}

static int instance_signal(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                {"data", required_argument, NULL, O_DATA},
                {0},
        };
        op_args a = {0};
        cli_common c = {0};
        json_t *body = NULL, *reply = NULL;
        char **args, path[160];
        int nargs, r;
        if ((r = cli_parse_opts(n, &instance_verbs[3], argc, argv, opts, on_op_opt, &a, &c, &args, &nargs)) != 0) {
                json_decref(a.data);
                return cli_exit(r);
        }
        if (cli_id_path(path, sizeof path, "/api/v1/instances/%s/signal", args[0]) < 0) {
                json_decref(a.data);
                return CLI_USAGE;
        }
        body = json_pack("{s:s}", "name", args[1]);
        if (a.data)
                json_object_set_new(body, "data", a.data);
        r = cli_call(&c, "POST", path, body, &reply);
        json_decref(body);
        if (r == 0)
                r = print_instance(&c, reply, "signaled");
        json_decref(reply);
        return r;
}

static int instance_op(const cli_noun *n, int argc, char **argv) {
        static const struct option cancel_opts[] = {
                {"reason", required_argument, NULL, O_REASON},
                {0},
        };
        const cli_verb *v = NULL;
        for (size_t i = 4; i < sizeof instance_verbs / sizeof instance_verbs[0]; i++)
                if (!strcmp(argv[0], instance_verbs[i].name))
                        v = &instance_verbs[i];
        bool cancel = !strcmp(v->name, "cancel");
        op_args a = {0};
        cli_common c = {0};
        json_t *body = NULL, *reply = NULL;
        char **args, path[160], fmt[64];
        int nargs, r;
        if ((r = cli_parse_opts(n, v, argc, argv, cancel ? cancel_opts : NULL, on_op_opt, &a, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        snprintf(fmt, sizeof fmt, "/api/v1/instances/%%s/%s", v->name);
        if (cli_id_path(path, sizeof path, fmt, args[0]) < 0)
                return CLI_USAGE;
        body = json_object();
        if (a.reason)
                json_object_set_new(body, "reason", json_string(a.reason));
        r = cli_call(&c, "POST", path, body, &reply);
        json_decref(body);
        if (r == 0)
                r = print_instance(&c, reply, cancel ? "canceled" : !strcmp(v->name, "pause") ? "paused" : "resumed");
        json_decref(reply);
        return r;
}

int cli_instance(int argc, char **argv) {
        return cli_noun_run(&instance_noun, argc, argv);
}
