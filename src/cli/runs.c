/* sked runs: list runs, show one, read its messages and results, queue one-off runs;
 * cancel one, re-run a finished one, start one waiting for its backoff now; follow
 * one live, watch every state change (follow.c). */
#include <stdio.h>
#include <string.h>

#include "base/strbuf.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/common.h"
#include "cli/follow.h"

static const char runs_usage[] =
        "usage: sked runs list [--series ID] [--type T] [--state S] [--limit N] [--before ID | "
        "--after ID]\n"
        "       sked runs show ID\n"
        "       sked runs messages ID [--after SEQ] [--full] | results ID [--after SEQ] [--full]\n"
        "       sked runs enqueue --type T [--param K=V]... [--count N]\n"
        "       sked runs cancel ID [--reason TEXT] | rerun ID [--param K=V]... | retry ID\n"
        "       sked runs follow ID [--reconnect SECONDS] | watch [--series ID] [--type T]\n"
        "states: queued, running, succeeded, failed, lost, cancelled (or canceled)\n"
        "common options: --json --url URL --token TOKEN --data-dir DIR\n";

static int runs_list(const cli_noun *n, int argc, char **argv);
static int runs_show(const cli_noun *n, int argc, char **argv);
static int runs_items(const cli_noun *n, int argc, char **argv);
static int runs_enqueue(const cli_noun *n, int argc, char **argv);
static int runs_control(const cli_noun *n, int argc, char **argv);

static const cli_verb runs_verbs[] = {
        {"list", 0, 0, VERB_DEFAULT, runs_list, NULL},   {"show", 1, 1, 0, runs_show, "one run ID"},
        {"messages", 1, 1, 0, runs_items, "one run ID"}, {"results", 1, 1, 0, runs_items, "one run ID"},
        {"enqueue", 0, 0, 0, runs_enqueue, NULL},        {"cancel", 1, 1, 0, runs_control, "one run ID"},
        {"rerun", 1, 1, 0, runs_control, "one run ID"},  {"retry", 1, 1, 0, runs_control, "one run ID"},
        {"follow", 1, 1, 0, runs_follow, "one run ID"},  {"watch", 0, 0, 0, runs_watch, NULL},
};

static const cli_noun runs_noun = {"runs", runs_usage, runs_verbs, sizeof runs_verbs / sizeof runs_verbs[0]};

/* The run states the server has (store: runs.state), and the user's spellings. */
static const struct {
        const char *word, *state;
} run_states[] = {
        {"queued", "queued"}, {"running", "running"},     {"succeeded", "succeeded"}, {"failed", "failed"},
        {"lost", "lost"},     {"cancelled", "cancelled"}, {"canceled", "cancelled"},
};

typedef struct list_args {
        int64_t series, before, limit;
        const char *type, *state;
} list_args;

enum { O_SERIES = 1, O_TYPE, O_STATE, O_LIMIT, O_BEFORE, O_AFTER, O_PARAM, O_COUNT, O_FULL, O_REASON };

static int on_list_opt(int opt, const char *arg, void *ud) {
        list_args *a = ud;
        switch (opt) {
        case O_SERIES:
                return cli_int_opt("--series", arg, 0, INT64_MAX, "a numeric id", &a->series);
        case O_BEFORE:
                return cli_int_opt("--before", arg, 0, INT64_MAX, "a numeric id", &a->before);
        case O_AFTER:
                /* the list runs newest first, so "after N" in its order is "ids below N" */
                return cli_int_opt("--after", arg, 0, INT64_MAX, "a numeric id", &a->before);
        case O_LIMIT:
                return cli_int_opt("--limit", arg, 1, 1000, "1..1000", &a->limit);
        case O_TYPE:
                if (strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(arg)) {
                        fprintf(stderr, "sked: --type \"%s\": unexpected characters\n", arg);
                        return -1;
                }
                a->type = arg;
                return 0;
        case O_STATE:
                for (size_t i = 0; i < sizeof run_states / sizeof run_states[0]; i++)
                        if (!strcmp(arg, run_states[i].word)) {
                                a->state = run_states[i].state;
                                return 0;
                        }
                fprintf(stderr,
                        "sked: --state \"%s\": expected queued, running, succeeded, failed, lost "
                        "or cancelled\n",
                        arg);
                return -1;
        }
        return -1;
}

static int runs_list(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                {"series", required_argument, NULL, O_SERIES},
                {"type", required_argument, NULL, O_TYPE},
                {"state", required_argument, NULL, O_STATE},
                {"limit", required_argument, NULL, O_LIMIT},
                {"before", required_argument, NULL, O_BEFORE},
                {"after", required_argument, NULL, O_AFTER},
                {0},
        };
        static const char *const h[] = {"ID", "SERIES", "TYPE", "STATE", "ATTEMPT", "NOMINAL", "DURATION MS", "ERROR"};
        static const char *const k[] = {"id",      "series_id", "type",        "state",
                                        "attempt", "nominal",   "duration_ms", "error"};
        list_args a = {.limit = 50};
        cli_common c = {0};
        strbuf q = STRBUF_INIT;
        char **args;
        int nargs, r;
        if ((r = cli_parse_opts(n, &runs_verbs[0], argc, argv, opts, on_list_opt, &a, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        strbuf_printf(&q, "/api/v1/runs?limit=%lld", (long long) a.limit);
        if (a.series)
                strbuf_printf(&q, "&series=%lld", (long long) a.series);
        if (a.before)
                strbuf_printf(&q, "&before=%lld", (long long) a.before);
        if (a.type)
                client_query(&q, "type", a.type);
        if (a.state)
                client_query(&q, "state", a.state);
        if (q.oom) {
                fprintf(stderr, "sked: out of memory\n");
                strbuf_free(&q);
                return CLI_FAILED;
        }
        cli_list_opts lo = {.more = "--before", .fit = cli_terminal_width()};
        r = cli_list(&c, strbuf_str(&q), h, k, 8, &lo);
        strbuf_free(&q);
        return r;
}

static int runs_show(const cli_noun *n, int argc, char **argv) {
        cli_common c = {0};
        json_t *reply = NULL;
        char **args, path[256];
        int nargs, r;
        if ((r = cli_parse_opts(n, &runs_verbs[1], argc, argv, NULL, NULL, NULL, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        if (cli_id_path(path, sizeof path, "/api/v1/runs/%s", args[0]) < 0)
                return CLI_USAGE;
        if ((r = cli_call(&c, "GET", path, NULL, &reply)) != 0)
                return r;
        if (c.json)
                cli_print_json(reply);
        else
                cli_print_object(reply);
        json_decref(reply);
        return CLI_OK;
}

typedef struct items_args {
        int64_t after;
        bool full;
} items_args;

static int on_items_opt(int opt, const char *arg, void *ud) {
        items_args *a = ud;
        if (opt == O_FULL) {
                a->full = true;
                return 0;
        }
        return cli_int_opt("--after", arg, 0, INT64_MAX, "a sequence number", &a->after);
}

/* messages and results: the text (or data) column is the last one; it is cut to the
 * terminal's width, never when stdout is not a terminal or with --full. */
static int runs_items(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                {"after", required_argument, NULL, O_AFTER},
                {"full", no_argument, NULL, O_FULL},
                {"wide", no_argument, NULL, O_FULL},
                {0},
        };
        bool messages = !strcmp(argv[0], "messages");
        const cli_verb *v = messages ? &runs_verbs[2] : &runs_verbs[3];
        items_args a = {0};
        cli_common c = {0};
        char **args, path[256];
        int nargs, r;
        if ((r = cli_parse_opts(n, v, argc, argv, opts, on_items_opt, &a, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        if (cli_id_path(path, sizeof path, messages ? "/api/v1/runs/%s/messages" : "/api/v1/runs/%s/results", args[0]) <
            0)
                return CLI_USAGE;
        if (a.after)
                snprintf(path + strlen(path), sizeof path - strlen(path), "?after=%lld", (long long) a.after);
        cli_list_opts lo = {.more = "--after", .fit = a.full ? 0 : cli_terminal_width()};
        if (messages) {
                static const char *const h[] = {"SEQ", "AT", "LEVEL", "TEXT"};
                static const char *const k[] = {"seq", "at", "level", "text"};
                return cli_list(&c, path, h, k, 4, &lo);
        }
        static const char *const h[] = {"SEQ", "AT", "KEY", "STATUS", "DATA"};
        static const char *const k[] = {"seq", "at", "key", "status", "data"};
        return cli_list(&c, path, h, k, 5, &lo);
}

typedef struct enqueue_args {
        const char *type;
        int64_t count;
        json_t *params;
} enqueue_args;

static int on_enqueue_opt(int opt, const char *arg, void *ud) {
        enqueue_args *a = ud;
        switch (opt) {
        case O_TYPE:
                a->type = arg;
                return 0;
        case O_PARAM:
                return cli_add_param(a->params, arg);
        case O_COUNT:
                if (cli_int_opt("--count", arg, 1, 10000, "1..10000", &a->count) < 0)
                        return -1;
                return 0;
        }
        return -1;
}

static int runs_enqueue(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                {"type", required_argument, NULL, O_TYPE},
                {"param", required_argument, NULL, O_PARAM},
                {"count", required_argument, NULL, O_COUNT},
                {0},
        };
        enqueue_args a = {.count = 1, .params = json_object()};
        cli_common c = {0};
        json_t *body = NULL, *reply = NULL;
        char **args;
        int nargs, rc;
        if ((rc = cli_parse_opts(n, &runs_verbs[4], argc, argv, opts, on_enqueue_opt, &a, &c, &args, &nargs)) != 0) {
                rc = cli_exit(rc);
                goto done;
        }
        if (!a.type) {
                fprintf(stderr, "sked runs enqueue: --type is required\n");
                rc = CLI_USAGE;
                goto done;
        }
        body = json_pack("{s:s, s:O, s:I}", "type", a.type, "params", a.params, "count", (json_int_t) a.count);
        rc = cli_call(&c, "POST", "/api/v1/runs", body, &reply);
        if (rc == 0) {
                if (c.json)
                        cli_print_json(reply);
                else
                        printf("queued %lld run(s), first id %lld\n",
                               (long long) json_integer_value(json_object_get(reply, "count")),
                               (long long) json_integer_value(json_array_get(json_object_get(reply, "ids"), 0)));
        }
done:
        json_decref(body);
        json_decref(reply);
        json_decref(a.params);
        return rc;
}

typedef struct control_args {
        const char *reason;
        json_t *params;
} control_args;

static int on_control_opt(int opt, const char *arg, void *ud) {
        control_args *a = ud;
        if (opt == O_REASON) {
                a->reason = arg;
                return 0;
        }
        return opt == O_PARAM ? cli_add_param(a->params, arg) : -1;
}

/* cancel, rerun, retry: POST /api/v1/runs/ID/<verb>; prints the run as it is now
 * (the new one for rerun). */
static int runs_control(const cli_noun *n, int argc, char **argv) {
        static const struct option cancel_opts[] = {{"reason", required_argument, NULL, O_REASON}, {0}};
        static const struct option rerun_opts[] = {{"param", required_argument, NULL, O_PARAM}, {0}};
        static const struct option no_opts[] = {{0}};
        const cli_verb *v = NULL;
        for (size_t i = 0; i < sizeof runs_verbs / sizeof runs_verbs[0]; i++)
                if (!strcmp(argv[0], runs_verbs[i].name))
                        v = &runs_verbs[i];
        bool cancel = !strcmp(argv[0], "cancel"), rerun = !strcmp(argv[0], "rerun");
        control_args a = {.params = json_object()};
        cli_common c = {0};
        json_t *body = NULL, *reply = NULL;
        char **args, path[256], verb[16];
        int nargs, rc;
        if ((rc = cli_parse_opts(n, v, argc, argv,
                                 cancel  ? cancel_opts
                                 : rerun ? rerun_opts
                                         : no_opts,
                                 on_control_opt, &a, &c, &args, &nargs)) != 0) {
                rc = cli_exit(rc);
                goto done;
        }
        snprintf(verb, sizeof verb, "%s", argv[0]);
        if (cli_id_path(path, sizeof path, "/api/v1/runs/%s", args[0]) < 0) {
                rc = CLI_USAGE;
                goto done;
        }
        snprintf(path + strlen(path), sizeof path - strlen(path), "/%s", verb);
        if (cancel && a.reason)
                body = json_pack("{s:s}", "reason", a.reason);
        else if (rerun && json_object_size(a.params))
                body = json_pack("{s:O}", "params", a.params);
        rc = cli_call(&c, "POST", path, body, &reply);
        if (rc == 0) {
                const char *state = json_string_value(json_object_get(reply, "state"));
                long long id = (long long) json_integer_value(json_object_get(reply, "id"));
                if (c.json)
                        cli_print_json(reply);
                else if (rerun)
                        printf("queued run %lld, a re-run of run %s\n", id, args[0]);
                else if (cancel)
                        printf(state && !strcmp(state, "running") ? "run %lld: cancel asked; it is stopping\n"
                                                                  : "run %lld cancelled\n",
                               id);
                else
                        printf("run %lld may start now\n", id);
        }
done:
        json_decref(body);
        json_decref(reply);
        json_decref(a.params);
        return rc;
}

int cli_runs(int argc, char **argv) {
        return cli_noun_run(&runs_noun, argc, argv);
}
