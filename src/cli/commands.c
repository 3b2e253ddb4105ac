/* commands: the client subcommands (type, series, runs, poller, nodes, calendar) over
 * the HTTP API. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/civil.h"
#include "base/strbuf.h"
#include "cli/calview.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/table.h"
#include "model/manifest.h"
#include "sched/tz.h"

/* Options every client command takes. */
typedef struct common {
        const char *url, *token, *data_dir;
        bool json;
} common;

enum { OPT_URL = 1000, OPT_TOKEN, OPT_DATA_DIR, OPT_JSON };

#define COMMON_OPTIONS                                                                                 \
        {"url", required_argument, NULL, OPT_URL}, {"token", required_argument, NULL, OPT_TOKEN},      \
                {"data-dir", required_argument, NULL, OPT_DATA_DIR}, {"json", no_argument, NULL, OPT_JSON}

static bool common_opt(common *c, int opt) {
        switch (opt) {
        case OPT_URL:
                c->url = optarg;
                return true;
        case OPT_TOKEN:
                c->token = optarg;
                return true;
        case OPT_DATA_DIR:
                c->data_dir = optarg;
                return true;
        case OPT_JSON:
                c->json = true;
                return true;
        }
        return false;
}

/* Sends one request; prints the server's complaint and maps it to an exit code. */
static int call(const common *c, const char *method, const char *path, json_t *body, json_t **ret) {
        client *cl = NULL;
        sked_err err = {0};
        if (client_new(c->url, c->token, c->data_dir, &cl, &err) < 0) {
                fprintf(stderr, "sked: %s\n", err.msg);
                return CLI_USAGE;
        }
        long status = 0;
        json_t *reply = NULL;
        int r = client_request(cl, method, path, body, &status, &reply, &err);
        client_free(cl);
        if (r < 0) {
                fprintf(stderr, "sked: %s\n", err.msg);
                return CLI_UNREACHABLE;
        }
        if (status >= 400) {
                fprintf(stderr, "sked: %s\n", err.msg[0] ? err.msg : "request failed");
                json_decref(reply);
                return status == 400 || status == 404 || status == 409 || status == 412 || status == 413 ? CLI_USAGE
                                                                                                         : CLI_FAILED;
        }
        if (ret)
                *ret = reply ? reply : json_object();
        else
                json_decref(reply);
        return CLI_OK;
}

static void print_json(json_t *v) {
        char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s) {
                puts(s);
                free(s);
        }
}

static const char *sget(json_t *o, const char *key, char *buf, size_t len) {
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v))
                return "-";
        if (json_is_string(v))
                return json_string_value(v);
        if (json_is_integer(v)) {
                snprintf(buf, len, "%lld", (long long) json_integer_value(v));
                return buf;
        }
        if (json_is_boolean(v))
                return json_is_true(v) ? "yes" : "no";
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(buf, len, "%s", s ? s : "?");
        free(s);
        return buf;
}

/* Prints a list reply as a table with the given columns (JSON keys). */
static void print_items(json_t *reply, const char *const *headers, const char *const *keys, size_t n) {
        table *t = table_new(n, headers);
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(reply, "items"), i, it) {
                char bufs[8][256];
                const char *cells[8];
                for (size_t k = 0; k < n && k < 8; k++)
                        cells[k] = sget(it, keys[k], bufs[k], sizeof bufs[k]);
                table_add(t, cells);
        }
        table_print(t, stdout);
        table_free(t);
        json_t *next = json_object_get(reply, "next");
        if (json_is_integer(next))
                printf("(more: --after/--before %lld)\n", (long long) json_integer_value(next));
}

/* GET path and print the list it answers: JSON with --json, else a table of the
 * given columns.  Returns the exit code. */
static int list_command(const common *c, const char *path, const char *const *headers, const char *const *keys,
                        size_t n) {
        json_t *reply = NULL;
        int rc = call(c, "GET", path, NULL, &reply);
        if (rc != 0)
                return rc;
        if (c->json)
                print_json(reply);
        else
                print_items(reply, headers, keys, n);
        json_decref(reply);
        return CLI_OK;
}

static void print_object(json_t *o) {
        const char *key;
        json_t *v;
        json_object_foreach(o, key, v) {
                char buf[1024];
                printf("%-16s %s\n", key, sget(o, key, buf, sizeof buf));
        }
}

static int unexpected(const char *cmd, int argc, char **argv, int want) {
        if (argc - optind != want) {
                fprintf(stderr, "sked %s: expected %d argument(s), got %d (see 'sked %s --help')\n", cmd, want,
                        argc - optind, cmd);
                return 1;
        }
        return 0;
}

/* "/api/v1/series/42" style paths from a user-supplied id: digits only. */
static int id_path(char *buf, size_t len, const char *fmt, const char *id) {
        if (!*id || strspn(id, "0123456789") != strlen(id) || strlen(id) > 18) {
                fprintf(stderr, "sked: \"%s\": expected a numeric id\n", id);
                return -EINVAL;
        }
        snprintf(buf, len, fmt, id);
        return 0;
}

/* ---- sked type ---- */

static int type_main(int argc, char **argv) {
        static const struct option opts[] = {COMMON_OPTIONS, {"help", no_argument, NULL, 'h'}, {0}};
        common c = {0};
        int o;
        const char *sub = argc >= 2 && argv[1][0] != '-' ? argv[1] : "list";
        optind = argc >= 2 && argv[1][0] != '-' ? 2 : 1;
        while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1)
                if (!common_opt(&c, o)) {
                        fprintf(o == 'h' ? stdout : stderr,
                                "usage: sked type list | show NAME | register FILE   [--json] [--url URL]\n");
                        return o == 'h' ? CLI_OK : CLI_USAGE;
                }
        json_t *reply = NULL;
        int r;
        if (!strcmp(sub, "list")) {
                static const char *const h[] = {"NAME", "KIND", "TITLE", "FEATURE"};
                static const char *const k[] = {"name", "kind", "title", "feature"};
                return list_command(&c, "/api/v1/types", h, k, 4);
        } else if (!strcmp(sub, "show")) {
                if (unexpected("type show", argc, argv, 1))
                        return CLI_USAGE;
                char path[300];
                snprintf(path, sizeof path, "/api/v1/types/%s", argv[optind]);
                if (strchr(argv[optind], '/') || strchr(argv[optind], '?')) {
                        fprintf(stderr, "sked: \"%s\": not a type name\n", argv[optind]);
                        return CLI_USAGE;
                }
                if ((r = call(&c, "GET", path, NULL, &reply)) != 0)
                        return r;
                print_json(reply);
        } else if (!strcmp(sub, "register")) {
                if (unexpected("type register", argc, argv, 1))
                        return CLI_USAGE;
                json_t *def = NULL;
                sked_err err = {0};
                if (manifest_load(argv[optind], &def, &err) < 0) {
                        fprintf(stderr, "sked: %s\n", err.msg);
                        return CLI_USAGE;
                }
                r = call(&c, "POST", "/api/v1/types", def, &reply);
                json_decref(def);
                if (r != 0)
                        return r;
                if (c.json)
                        print_json(reply);
                else
                        printf("registered %s (%s)\n", json_string_value(json_object_get(reply, "name")),
                               json_string_value(json_object_get(reply, "kind")));
        } else {
                fprintf(stderr, "sked type: unknown subcommand \"%s\" (list, show, register)\n", sub);
                return CLI_USAGE;
        }
        json_decref(reply);
        return CLI_OK;
}

/* ---- sked series ---- */

/* --param k=v: v is taken as JSON when it parses (12, true, {"a":1}), else as a string. */
static int add_param(json_t *params, const char *kv) {
        const char *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
                fprintf(stderr, "sked: --param \"%s\": expected NAME=VALUE\n", kv);
                return -EINVAL;
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int) (eq - kv), kv);
        json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
        json_object_set_new(params, name, v ? v : json_string(eq + 1));
        return 0;
}

/* sked series occurrence ID NOMINAL [...]: one occurrence changed one-off (or
 * --reset to the rule).  --start takes a UTC instant "...Z" or a wall time in the
 * series' zone; "rule" puts it back at its nominal time. */
static int occurrence_command(const common *c, int argc, char **argv, json_t *body, const char *note, bool reset) {
        if (argc != 2) {
                fprintf(stderr, "sked series occurrence: expected ID and NOMINAL (the occurrence's UTC instant, as "
                                "listed by `sked series occurrences`)\n");
                return CLI_USAGE;
        }
        char path[256];
        if (id_path(path, sizeof path, "/api/v1/series/%s/occurrences/", argv[0]) < 0)
                return CLI_USAGE;
        sked_time t;
        if (time_parse_utc(argv[1], &t) < 0) {
                fprintf(stderr, "sked: \"%s\": expected the nominal instant YYYY-MM-DDTHH:MM:SSZ\n", argv[1]);
                return CLI_USAGE;
        }
        strncat(path, argv[1], sizeof path - strlen(path) - 1);
        json_t *reply = NULL, *in = json_object();
        /* only the keys of an occurrence change: the series' own options do not apply */
        static const char *const keys[] = {"start", "params", "enabled", NULL};
        for (size_t i = 0; keys[i]; i++)
                if (json_object_get(body, keys[i]))
                        json_object_set(in, keys[i], json_object_get(body, keys[i]));
        json_t *start = json_object_get(in, "start");
        if (start && !strcmp(json_string_value(start), "rule"))
                json_object_set_new(in, "start", json_null());
        if (note)
                json_object_set_new(in, "note", json_string(note));
        int rc;
        if (reset) {
                rc = call(c, "DELETE", path, NULL, &reply);
                if (rc == 0)
                        printf("occurrence %s of series %s follows its rule again\n", argv[1], argv[0]);
        } else {
                rc = call(c, "PATCH", path, in, &reply);
                if (rc == 0) {
                        if (c->json)
                                print_json(reply);
                        else
                                print_object(reply);
                }
        }
        json_decref(in);
        json_decref(reply);
        return rc;
}

static const char series_usage[] =
        "usage: sked series list [--type T] [--after ID] [--all]\n"
        "       sked series show ID\n"
        "       sked series create --type T --schedule SPEC [--tz ZONE] [--start LOCAL] [--end INSTANT]\n"
        "                          [--count N] [--title T] [--param K=V]... [--params JSON] [--query Q] [--disabled]\n"
        "                          [--policy JSON] [--sleep HH:MM-HH:MM[@ZONE]]...\n"
        "       sked series edit ID [--schedule SPEC] [--tz ZONE] [--policy JSON] [--sleep W|none] ... [--if-version V]\n"
        "       sked series delete ID [--purge]\n"
        "       sked series pause ID [--note TEXT] | resume ID | trigger ID [--param K=V]...\n"
        "       sked series occurrences ID [--from INSTANT] [--to INSTANT]\n"
        "       sked series occurrence ID NOMINAL [--start TIME|--start rule] [--off|--on] [--param K=V]...\n"
        "                          [--params JSON|--params rule] [--note TEXT] [--reset]\n"
        "       sked series results ID [--runs N]\n"
        "common options: --json --url URL --token TOKEN --data-dir DIR\n";

static int series_main(int argc, char **argv) {
        enum { O_TYPE = 1, O_SCHEDULE, O_TZ, O_START, O_END, O_COUNT, O_TITLE, O_PARAM, O_PARAMS, O_QUERY,
               O_DISABLED, O_IFV, O_NOTE, O_FROM, O_TO, O_RUNS, O_AFTER, O_OWNER, O_POLICY, O_SLEEP, O_PURGE,
               O_ALL, O_OFF, O_ON, O_RESET };
        static const struct option opts[] = {
                COMMON_OPTIONS,
                {"type", required_argument, NULL, O_TYPE},       {"schedule", required_argument, NULL, O_SCHEDULE},
                {"tz", required_argument, NULL, O_TZ},           {"start", required_argument, NULL, O_START},
                {"end", required_argument, NULL, O_END},         {"count", required_argument, NULL, O_COUNT},
                {"title", required_argument, NULL, O_TITLE},     {"param", required_argument, NULL, O_PARAM},
                {"params", required_argument, NULL, O_PARAMS},   {"query", required_argument, NULL, O_QUERY},
                {"disabled", no_argument, NULL, O_DISABLED},     {"if-version", required_argument, NULL, O_IFV},
                {"note", required_argument, NULL, O_NOTE},       {"from", required_argument, NULL, O_FROM},
                {"to", required_argument, NULL, O_TO},           {"runs", required_argument, NULL, O_RUNS},
                {"after", required_argument, NULL, O_AFTER},     {"owner", required_argument, NULL, O_OWNER},
                {"policy", required_argument, NULL, O_POLICY},   {"sleep", required_argument, NULL, O_SLEEP},
                {"purge", no_argument, NULL, O_PURGE},           {"all", no_argument, NULL, O_ALL},
                {"off", no_argument, NULL, O_OFF},               {"on", no_argument, NULL, O_ON},
                {"reset", no_argument, NULL, O_RESET},           {"help", no_argument, NULL, 'h'},
                {0},
        };
        common c = {0};
        json_t *body = json_object(), *params = NULL, *sleep = NULL;
        bool purge = false, all = false, reset = false, params_rule = false;
        const char *note = NULL, *from = NULL, *to = NULL, *runs = NULL, *after = NULL, *type = NULL;
        long long ifv = 0;
        int o, rc = CLI_USAGE;
        if (argc < 2 || argv[1][0] == '-') {
                fputs(series_usage, argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
                json_decref(body);
                return argc >= 2 && !strcmp(argv[1], "--help") ? CLI_OK : CLI_USAGE;
        }
        const char *sub = argv[1];
        optind = 2;
        while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (common_opt(&c, o))
                        continue;
                switch (o) {
                case O_TYPE:
                        type = optarg;
                        json_object_set_new(body, "type", json_string(optarg));
                        break;
                case O_SCHEDULE:
                        json_object_set_new(body, "schedule", json_string(optarg));
                        break;
                case O_TZ:
                        json_object_set_new(body, "tz", json_string(optarg));
                        break;
                case O_START:
                        json_object_set_new(body, "start", json_string(optarg));
                        break;
                case O_END:
                        json_object_set_new(body, "end", json_string(optarg));
                        break;
                case O_COUNT: {
                        char *end;
                        long long n = strtoll(optarg, &end, 10);
                        if (*end || n < 1) {
                                fprintf(stderr, "sked: --count \"%s\": expected a positive integer\n", optarg);
                                goto done;
                        }
                        json_object_set_new(body, "count", json_integer(n));
                        break;
                }
                case O_TITLE:
                        json_object_set_new(body, "title", json_string(optarg));
                        break;
                case O_OWNER:
                        json_object_set_new(body, "owner", json_string(optarg));
                        break;
                case O_PARAM:
                        if (!params)
                                params = json_object();
                        if (add_param(params, optarg) < 0)
                                goto done;
                        break;
                case O_PARAMS: {
                        if (!strcmp(optarg, "rule")) {
                                params_rule = true;
                                break;
                        }
                        json_error_t je;
                        json_t *p = json_loads(optarg, 0, &je);
                        if (!json_is_object(p)) {
                                fprintf(stderr, "sked: --params: expected a JSON object (%s)\n", p ? "not an object" : je.text);
                                json_decref(p);
                                goto done;
                        }
                        if (!params)
                                params = json_object();
                        json_object_update(params, p);
                        json_decref(p);
                        break;
                }
                case O_QUERY:
                        json_object_set_new(body, "query", json_string(optarg));
                        break;
                case O_DISABLED:
                case O_OFF:
                        json_object_set_new(body, "enabled", json_false());
                        break;
                case O_ON:
                        json_object_set_new(body, "enabled", json_true());
                        break;
                case O_RESET:
                        reset = true;
                        break;
                case O_PURGE:
                        purge = true;
                        break;
                case O_ALL:
                        all = true;
                        break;
                case O_POLICY: {
                        json_error_t je;
                        json_t *p = json_loads(optarg, 0, &je);
                        if (!json_is_object(p)) {
                                fprintf(stderr, "sked: --policy: expected a JSON object like "
                                                "'{\"catchup\":\"all\",\"overlap\":\"buffer_one\"}'\n");
                                json_decref(p);
                                goto done;
                        }
                        json_object_set_new(body, "policy", p);
                        break;
                }
                case O_SLEEP: {
                        /* HH:MM-HH:MM[@ZONE], repeatable; "none" clears */
                        if (!sleep)
                                sleep = json_array();
                        if (!strcmp(optarg, "none"))
                                break;
                        char from_s[8], to_s[8], zone[128] = "";
                        if (sscanf(optarg, "%5[0-9:]-%5[0-9:]%*[@]%127s", from_s, to_s, zone) < 2) {
                                fprintf(stderr, "sked: --sleep \"%s\": expected HH:MM-HH:MM or HH:MM-HH:MM@ZONE\n",
                                        optarg);
                                goto done;
                        }
                        json_t *w = json_pack("{s:s, s:s}", "from", from_s, "to", to_s);
                        if (*zone)
                                json_object_set_new(w, "tz", json_string(zone));
                        json_array_append_new(sleep, w);
                        break;
                }
                case O_IFV:
                        ifv = strtoll(optarg, NULL, 10);
                        break;
                case O_NOTE:
                        note = optarg;
                        break;
                case O_FROM:
                        from = optarg;
                        break;
                case O_TO:
                        to = optarg;
                        break;
                case O_RUNS:
                        runs = optarg;
                        break;
                case O_AFTER:
                        after = optarg;
                        break;
                case 'h':
                        fputs(series_usage, stdout);
                        rc = CLI_OK;
                        goto done;
                default:
                        fputs(series_usage, stderr);
                        goto done;
                }
        }
        if (params)
                json_object_set(body, "params", params);
        else if (params_rule)
                json_object_set_new(body, "params", json_null());
        if (sleep)
                json_object_set(body, "sleep", sleep);
        json_t *reply = NULL;
        char path[256];
        const char *id = optind < argc ? argv[optind] : NULL;
        bool needs_id = strcmp(sub, "list") != 0 && strcmp(sub, "create") != 0;
        if (!strcmp(sub, "occurrence")) {
                rc = occurrence_command(&c, argc - optind, argv + optind, body, note, reset);
                goto done;
        }
        if (needs_id && (!id || optind + 1 != argc)) {
                fprintf(stderr, "sked series %s: expected one series ID\n", sub);
                goto done;
        }
        if (!needs_id && optind != argc) {
                fprintf(stderr, "sked series %s: unexpected argument \"%s\"\n", sub, argv[optind]);
                goto done;
        }
        if (!strcmp(sub, "list")) {
                strbuf q = STRBUF_INIT;
                strbuf_puts(&q, "/api/v1/series?limit=1000");
                if (type)
                        strbuf_printf(&q, "&type=%s", type);
                if (after)
                        strbuf_printf(&q, "&after=%s", after);
                if (all)
                        strbuf_puts(&q, "&all=true");
                static const char *const h[] = {"ID", "TYPE", "TITLE", "SCHEDULE", "TZ", "ENABLED", "NEXT DUE", "FIRED"};
                static const char *const k[] = {"id", "type", "title", "schedule", "tz", "enabled", "next_due", "fired"};
                rc = list_command(&c, strbuf_str(&q), h, k, 8);
                strbuf_free(&q);
        } else if (!strcmp(sub, "create")) {
                rc = call(&c, "POST", "/api/v1/series", body, &reply);
                if (rc == 0) {
                        if (c.json)
                                print_json(reply);
                        else
                                printf("created series %lld (next due %s)\n",
                                       (long long) json_integer_value(json_object_get(reply, "id")),
                                       json_is_string(json_object_get(reply, "next_due"))
                                               ? json_string_value(json_object_get(reply, "next_due"))
                                               : "never");
                }
        } else if (!strcmp(sub, "show") || !strcmp(sub, "delete") || !strcmp(sub, "edit")) {
                if (id_path(path, sizeof path, "/api/v1/series/%s", id) < 0)
                        goto done;
                if (!strcmp(sub, "edit")) {
                        if (ifv)
                                json_object_set_new(body, "version", json_integer(ifv));
                        rc = call(&c, "PATCH", path, body, &reply);
                } else {
                        if (purge && !strcmp(sub, "delete"))
                                strncat(path, "?purge=true", sizeof path - strlen(path) - 1);
                        rc = call(&c, !strcmp(sub, "show") ? "GET" : "DELETE", path, NULL, &reply);
                }
                if (rc == 0) {
                        if (!strcmp(sub, "delete"))
                                printf(purge ? "deleted series %s and its finished runs, messages and results\n"
                                             : "deleted series %s (its runs, messages and results are kept)\n",
                                       id);
                        else if (c.json)
                                print_json(reply);
                        else
                                print_object(reply);
                }
        } else if (!strcmp(sub, "pause") || !strcmp(sub, "resume") || !strcmp(sub, "trigger")) {
                char fmt[64];
                snprintf(fmt, sizeof fmt, "/api/v1/series/%%s/%s", sub);
                if (id_path(path, sizeof path, fmt, id) < 0)
                        goto done;
                json_t *b = json_object();
                if (note)
                        json_object_set_new(b, "note", json_string(note));
                if (params && !strcmp(sub, "trigger"))
                        json_object_set(b, "params", params);
                rc = call(&c, "POST", path, b, &reply);
                json_decref(b);
                if (rc == 0) {
                        if (c.json)
                                print_json(reply);
                        else if (!strcmp(sub, "trigger"))
                                printf("queued run %lld of series %s\n",
                                       (long long) json_integer_value(json_object_get(reply, "id")), id);
                        else
                                printf("series %s %s\n", id, !strcmp(sub, "pause") ? "paused" : "resumed");
                }
        } else if (!strcmp(sub, "occurrences")) {
                if (id_path(path, sizeof path, "/api/v1/series/%s/occurrences?limit=10000", id) < 0)
                        goto done;
                strbuf q = STRBUF_INIT;
                strbuf_puts(&q, path);
                sked_time t;
                if ((from && time_parse_utc(from, &t) < 0) || (to && time_parse_utc(to, &t) < 0)) {
                        fprintf(stderr, "sked: --from/--to: expected UTC instants YYYY-MM-DDTHH:MM:SSZ\n");
                        strbuf_free(&q);
                        goto done;
                }
                if (from)
                        strbuf_printf(&q, "&from=%s", from);
                if (to)
                        strbuf_printf(&q, "&to=%s", to);
                static const char *const h[] = {"AT (UTC)", "LOCAL", "STATE", "CHANGE", "STARTS", "RUN", "ATTEMPT"};
                static const char *const k[] = {"at", "local", "state", "change", "start_at", "run_id", "attempt"};
                rc = list_command(&c, strbuf_str(&q), h, k, 7);
                strbuf_free(&q);
        } else if (!strcmp(sub, "results")) {
                if (id_path(path, sizeof path, "/api/v1/series/%s/results", id) < 0)
                        goto done;
                strbuf q = STRBUF_INIT;
                strbuf_puts(&q, path);
                if (runs)
                        strbuf_printf(&q, "?runs=%d", atoi(runs));
                rc = call(&c, "GET", strbuf_str(&q), NULL, &reply);
                strbuf_free(&q);
                if (rc == 0) {
                        if (c.json)
                                print_json(reply);
                        else {
                                table *t = table_new(5, (const char *const[]){"RUN", "FINISHED", "KEY", "STATUS", "DATA"});
                                size_t i, k;
                                json_t *it, *res;
                                json_array_foreach(json_object_get(reply, "items"), i, it) {
                                        json_array_foreach(json_object_get(it, "results"), k, res) {
                                                char b[5][256];
                                                const char *cells[] = {sget(it, "run_id", b[0], 256),
                                                                       sget(it, "finished_at", b[1], 256),
                                                                       sget(res, "key", b[2], 256),
                                                                       sget(res, "status", b[3], 256),
                                                                       sget(res, "data", b[4], 256)};
                                                table_add(t, cells);
                                        }
                                }
                                table_print(t, stdout);
                                table_free(t);
                        }
                }
        } else {
                fprintf(stderr, "sked series: unknown subcommand \"%s\"\n%s", sub, series_usage);
        }
        json_decref(reply);
done:
        json_decref(sleep);
        json_decref(params);
        json_decref(body);
        return rc;
}

/* ---- sked runs ---- */

static const char runs_usage[] = "usage: sked runs list [--series ID] [--type T] [--state S] [--limit N] [--before ID]\n"
                                 "       sked runs show ID | messages ID | results ID\n"
                                 "       sked runs enqueue --type T [--param K=V]... [--count N]\n"
                                 "common options: --json --url URL --token TOKEN --data-dir DIR\n";

static int runs_main(int argc, char **argv) {
        enum { O_SERIES = 1, O_TYPE, O_STATE, O_LIMIT, O_BEFORE, O_PARAM, O_COUNT };
        static const struct option opts[] = {
                COMMON_OPTIONS,
                {"series", required_argument, NULL, O_SERIES}, {"type", required_argument, NULL, O_TYPE},
                {"state", required_argument, NULL, O_STATE},   {"limit", required_argument, NULL, O_LIMIT},
                {"before", required_argument, NULL, O_BEFORE}, {"help", no_argument, NULL, 'h'},
                {"param", required_argument, NULL, O_PARAM},   {"count", required_argument, NULL, O_COUNT},
                {0},
        };
        common c = {0};
        const char *series = NULL, *type = NULL, *state = NULL, *limit = NULL, *before = NULL, *count = NULL;
        json_t *params = json_object();
        const char *sub = argc >= 2 && argv[1][0] != '-' ? argv[1] : "list";
        optind = argc >= 2 && argv[1][0] != '-' ? 2 : 1;
        int o;
        while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (common_opt(&c, o))
                        continue;
                switch (o) {
                case O_SERIES:
                        series = optarg;
                        break;
                case O_TYPE:
                        type = optarg;
                        break;
                case O_STATE:
                        state = optarg;
                        break;
                case O_LIMIT:
                        limit = optarg;
                        break;
                case O_BEFORE:
                        before = optarg;
                        break;
                case O_PARAM:
                        if (add_param(params, optarg) < 0) {
                                json_decref(params);
                                return CLI_USAGE;
                        }
                        break;
                case O_COUNT:
                        count = optarg;
                        break;
                case 'h':
                        json_decref(params);
                        fputs(runs_usage, stdout);
                        return CLI_OK;
                default:
                        json_decref(params);
                        fputs(runs_usage, stderr);
                        return CLI_USAGE;
                }
        }
        json_t *reply = NULL;
        int rc;
        char path[256];
        if (!strcmp(sub, "enqueue")) {
                if (!type) {
                        fprintf(stderr, "sked runs enqueue: --type is required\n");
                        json_decref(params);
                        return CLI_USAGE;
                }
                char *end = NULL;
                long long n = count ? strtoll(count, &end, 10) : 1;
                if ((count && *end) || n < 1 || n > 10000) {
                        fprintf(stderr, "sked runs enqueue: --count \"%s\": expected 1..10000\n", count);
                        json_decref(params);
                        return CLI_USAGE;
                }
                json_t *body = json_pack("{s:s, s:O, s:I}", "type", type, "params", params, "count", (json_int_t) n);
                rc = call(&c, "POST", "/api/v1/runs", body, &reply);
                json_decref(body);
                json_decref(params);
                if (rc == 0) {
                        if (c.json)
                                print_json(reply);
                        else
                                printf("queued %lld run(s), first id %lld\n",
                                       (long long) json_integer_value(json_object_get(reply, "count")),
                                       (long long) json_integer_value(json_array_get(json_object_get(reply, "ids"), 0)));
                }
                json_decref(reply);
                return rc;
        }
        json_decref(params);
        if (!strcmp(sub, "list")) {
                strbuf q = STRBUF_INIT;
                strbuf_printf(&q, "/api/v1/runs?limit=%d", limit ? atoi(limit) : 50);
                const char *vals[] = {series, before};
                const char *names[] = {"series", "before"};
                for (int i = 0; i < 2; i++)
                        if (vals[i]) {
                                if (strspn(vals[i], "0123456789") != strlen(vals[i])) {
                                        fprintf(stderr, "sked: --%s \"%s\": expected a numeric id\n", names[i], vals[i]);
                                        strbuf_free(&q);
                                        return CLI_USAGE;
                                }
                                strbuf_printf(&q, "&%s=%s", names[i], vals[i]);
                        }
                const char *tv[] = {type, state};
                const char *tn[] = {"type", "state"};
                for (int i = 0; i < 2; i++)
                        if (tv[i]) {
                                if (strspn(tv[i], "abcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(tv[i])) {
                                        fprintf(stderr, "sked: --%s \"%s\": unexpected characters\n", tn[i], tv[i]);
                                        strbuf_free(&q);
                                        return CLI_USAGE;
                                }
                                strbuf_printf(&q, "&%s=%s", tn[i], tv[i]);
                        }
                static const char *const h[] = {"ID", "SERIES", "TYPE", "STATE", "ATTEMPT",
                                                "NOMINAL", "DURATION MS", "ERROR"};
                static const char *const k[] = {"id", "series_id", "type", "state", "attempt",
                                                "nominal", "duration_ms", "error"};
                rc = list_command(&c, strbuf_str(&q), h, k, 8);
                strbuf_free(&q);
        } else if (!strcmp(sub, "show") || !strcmp(sub, "messages") || !strcmp(sub, "results")) {
                if (optind + 1 != argc) {
                        fprintf(stderr, "sked runs %s: expected one run ID\n", sub);
                        return CLI_USAGE;
                }
                const char *fmt = !strcmp(sub, "show") ? "/api/v1/runs/%s"
                                  : !strcmp(sub, "messages") ? "/api/v1/runs/%s/messages"
                                                             : "/api/v1/runs/%s/results";
                if (id_path(path, sizeof path, fmt, argv[optind]) < 0)
                        return CLI_USAGE;
                rc = call(&c, "GET", path, NULL, &reply);
                if (rc == 0) {
                        if (c.json)
                                print_json(reply);
                        else if (!strcmp(sub, "show"))
                                print_object(reply);
                        else if (!strcmp(sub, "messages")) {
                                static const char *const h[] = {"SEQ", "AT", "LEVEL", "TEXT"};
                                static const char *const k[] = {"seq", "at", "level", "text"};
                                print_items(reply, h, k, 4);
                        } else {
                                static const char *const h[] = {"SEQ", "AT", "KEY", "STATUS", "DATA"};
                                static const char *const k[] = {"seq", "at", "key", "status", "data"};
                                print_items(reply, h, k, 5);
                        }
                }
        } else {
                fprintf(stderr, "sked runs: unknown subcommand \"%s\"\n%s", sub, runs_usage);
                return CLI_USAGE;
        }
        json_decref(reply);
        return rc;
}

/* ---- sked poller ---- */

static int poller_main(int argc, char **argv) {
        static const struct option opts[] = {COMMON_OPTIONS, {"help", no_argument, NULL, 'h'}, {0}};
        common c = {0};
        const char *sub = argc >= 2 && argv[1][0] != '-' ? argv[1] : "status";
        optind = argc >= 2 && argv[1][0] != '-' ? 2 : 1;
        int o;
        while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1)
                if (!common_opt(&c, o)) {
                        fprintf(o == 'h' ? stdout : stderr, "usage: sked poller status | init  [--json]\n");
                        return o == 'h' ? CLI_OK : CLI_USAGE;
                }
        json_t *reply = NULL;
        int rc;
        if (!strcmp(sub, "status")) {
                if ((rc = call(&c, "GET", "/api/v1/poller", NULL, &reply)) != 0)
                        return rc;
                if (c.json)
                        print_json(reply);
                else
                        print_object(reply);
                rc = json_is_true(json_object_get(reply, "healthy")) ? CLI_OK : CLI_FAILED;
        } else if (!strcmp(sub, "init")) {
                if ((rc = call(&c, "POST", "/api/v1/poller/init", NULL, &reply)) != 0)
                        return rc;
                if (c.json)
                        print_json(reply);
                else
                        printf("poller initialized; %lld background series registered\n",
                               (long long) json_integer_value(json_object_get(reply, "registered")));
        } else {
                fprintf(stderr, "sked poller: unknown subcommand \"%s\" (status, init)\n", sub);
                return CLI_USAGE;
        }
        json_decref(reply);
        return rc;
}

/* ---- sked nodes ---- */

int cli_nodes(int argc, char **argv) {
        static const struct option opts[] = {COMMON_OPTIONS, {"help", no_argument, NULL, 'h'}, {0}};
        common c = {0};
        int o;
        optind = argc >= 2 && !strcmp(argv[1], "list") ? 2 : 1;
        while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1)
                if (!common_opt(&c, o)) {
                        fprintf(o == 'h' ? stdout : stderr, "usage: sked nodes [list] [--json]\n");
                        return o == 'h' ? CLI_OK : CLI_USAGE;
                }
        static const char *const h[] = {"NAME", "ROLE", "ALIVE", "WORKERS", "RUNNING", "LAST HEARTBEAT", "PID"};
        static const char *const k[] = {"name", "role", "alive", "workers", "running", "heartbeat_at", "pid"};
        return list_command(&c, "/api/v1/nodes", h, k, 7);
}

/* ---- sked calendar ---- */

#define CALENDAR_SERIES_MAX 100

static const char calendar_usage[] =
        "usage: sked calendar [--week DATE] [--tz ZONE] [--series ID[,ID...]]... [--width N] "
        "[--json]\n"
        "\n"
        "A week (Monday to Sunday) of planned and past occurrences, one column per day.\n"
        "\n"
        "options\n"
        "  --week DATE      YYYY-MM-DD, any day of the week to show (default: today in ZONE)\n"
        "  --tz ZONE        IANA zone of the days and times shown (default: $TZ if it names a\n"
        "                   zone, else the zone /etc/localtime links to, else UTC)\n"
        "  --series ID      only these series; repeatable, or a comma list (at most 100)\n"
        "  --width N        display columns, 20..1000 (default: the terminal's, else 120);\n"
        "                   under 88 the days are listed one under the other\n"
        "  --json           print the server's JSON reply\n"
        "common options: --url URL --token TOKEN --data-dir DIR\n"
        "\n"
        "marks: . planned  ~ changed one-off  x disabled  > due/queued/running  + succeeded\n"
        "       ! failed/lost/cancelled  - skipped/missed/paused\n";

/* name if the tz database knows it. */
static bool known_zone(const char *name) {
        const tz_zone *z;
        return name && *name && tz_load(name, &z, NULL) == 0;
}

/* "Europe/Berlin" from "/usr/share/zoneinfo/Europe/Berlin" (or "../usr/share/zoneinfo/
 * posix/Europe/Berlin"), or the text itself when it has no zoneinfo directory. */
static const char *zone_from_path(const char *path) {
        const char *p = strstr(path, "zoneinfo/");
        if (!p)
                return path;
        p += strlen("zoneinfo/");
        if (!strncmp(p, "posix/", 6))
                p += 6;
        return p;
}

/* The viewer's zone: $TZ when it names a zone (":Europe/Berlin" too), else the
 * zone /etc/localtime links to, else UTC.  A POSIX rule in $TZ ("CET-1CEST,...")
 * names no zone the server could use, so it is passed over. */
static void default_zone(char *buf, size_t len) {
        const char *env = getenv("TZ");
        if (env) {
                const char *name = zone_from_path(env[0] == ':' ? env + 1 : env);
                if (known_zone(name)) {
                        snprintf(buf, len, "%s", name);
                        return;
                }
        }
        char link[PATH_MAX];
        ssize_t n = readlink("/etc/localtime", link, sizeof link - 1);
        if (n > 0) {
                link[n] = '\0';
                const char *name = zone_from_path(link);
                if (name != link && known_zone(name)) {
                        snprintf(buf, len, "%s", name);
                        return;
                }
        }
        snprintf(buf, len, "UTC");
}

/* Today's date in zone, or false when the zone is not in the local tz database
 * (the server may still know it; only the today mark is lost). */
static bool today_in(const char *zone, char *buf, size_t len) {
        const tz_zone *z;
        int64_t local;
        civil c;
        if (tz_load(zone, &z, NULL) < 0)
                return false;
        tz_local(z, time_now_real(), &local, NULL);
        civil_from_seconds(local, &c);
        snprintf(buf, len, "%04d-%02d-%02d", c.year, c.month, c.day);
        return true;
}

static bool valid_date(const char *s) {
        char full[32];
        civil c;
        if (strlen(s) != 10)
                return false;
        snprintf(full, sizeof full, "%sT00:00:00", s);
        return civil_parse(full, false, false, &c) == 0;
}

/* Appends "&name=value" ('?' first) with value percent-encoded but for unreserved
 * characters, '/' and ',' ("Etc/GMT+5" must reach the server with its '+'). */
static void query_param(strbuf *q, const char *name, const char *value) {
        strbuf_printf(q, "%c%s=", strchr(strbuf_str(q), '?') ? '&' : '?', name);
        for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
                if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || strchr("-._~/,", *p))
                        strbuf_putc(q, (char)*p);
                else
                        strbuf_printf(q, "%%%02X", *p);
        }
}

/* Adds the ids of one --series argument ("3" or "3,5,8") to ids, comma-separated. */
static int add_series_ids(strbuf *ids, size_t *count, const char *arg) {
        const char *p = arg;
        do {
                size_t n = strcspn(p, ",");
                if (n == 0 || n > 18 || strspn(p, "0123456789") < n) {
                        fprintf(stderr,
                                "sked calendar: --series \"%s\": expected numeric ids, "
                                "comma-separated\n",
                                arg);
                        return -EINVAL;
                }
                if (++*count > CALENDAR_SERIES_MAX) {
                        fprintf(stderr, "sked calendar: --series: at most %d ids\n",
                                CALENDAR_SERIES_MAX);
                        return -E2BIG;
                }
                if (ids->len)
                        strbuf_putc(ids, ',');
                strbuf_append(ids, p, n);
                p += n;
        } while (*p++ == ',');
        return 0;
}

/* --width, else the terminal's columns when stdout is one, else the default. */
static unsigned output_width(const char *opt) {
        struct winsize ws;
        if (opt)
                return (unsigned)atoi(opt);
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
                return ws.ws_col;
        return CALVIEW_WIDTH_DEFAULT;
}

int cli_calendar(int argc, char **argv) {
        enum { O_WEEK = 1, O_TZ, O_SERIES, O_WIDTH };
        static const struct option opts[] = {
                COMMON_OPTIONS,
                {"week", required_argument, NULL, O_WEEK},
                {"tz", required_argument, NULL, O_TZ},
                {"series", required_argument, NULL, O_SERIES},
                {"width", required_argument, NULL, O_WIDTH},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        common c = {0};
        const char *week = NULL, *zone = NULL, *width = NULL;
        char zbuf[TZ_NAME_MAX + 1], today[16];
        strbuf ids = STRBUF_INIT, q = STRBUF_INIT, out = STRBUF_INIT;
        size_t nids = 0;
        json_t *reply = NULL;
        sked_err err = {0};
        calview_opts vo = {0};
        int o, rc = CLI_USAGE;

        optind = 1;
        while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (common_opt(&c, o))
                        continue;
                switch (o) {
                case O_WEEK:
                        week = optarg;
                        break;
                case O_TZ:
                        zone = optarg;
                        break;
                case O_SERIES:
                        if (add_series_ids(&ids, &nids, optarg) < 0)
                                goto done;
                        break;
                case O_WIDTH:
                        width = optarg;
                        break;
                case 'h':
                        fputs(calendar_usage, stdout);
                        rc = CLI_OK;
                        goto done;
                default:
                        fputs(calendar_usage, stderr);
                        goto done;
                }
        }
        if (optind != argc) {
                fprintf(stderr, "sked calendar: unexpected argument \"%s\"\n", argv[optind]);
                goto done;
        }
        if (week && !valid_date(week)) {
                fprintf(stderr, "sked calendar: --week \"%s\": expected a date YYYY-MM-DD\n", week);
                goto done;
        }
        if (width) {
                char *end;
                long w = strtol(width, &end, 10);
                if (*end || end == width || w < CALVIEW_WIDTH_MIN || w > CALVIEW_WIDTH_MAX) {
                        fprintf(stderr, "sked calendar: --width \"%s\": expected %d..%d\n", width,
                                CALVIEW_WIDTH_MIN, CALVIEW_WIDTH_MAX);
                        goto done;
                }
        }
        if (zone && (!*zone || strlen(zone) > TZ_NAME_MAX)) {
                fprintf(stderr, "sked calendar: --tz \"%s\": expected an IANA zone name\n", zone);
                goto done;
        }
        if (!zone) {
                default_zone(zbuf, sizeof zbuf);
                zone = zbuf;
        }

        strbuf_puts(&q, "/api/v1/calendar");
        if (week)
                query_param(&q, "week", week);
        query_param(&q, "tz", zone);
        if (ids.len)
                query_param(&q, "series", strbuf_str(&ids));
        if (q.oom || ids.oom) {
                fprintf(stderr, "sked: out of memory\n");
                rc = CLI_FAILED;
                goto done;
        }
        rc = call(&c, "GET", strbuf_str(&q), NULL, &reply);
        if (rc != CLI_OK)
                goto done;
        if (c.json) {
                print_json(reply);
                goto done;
        }
        vo.width = output_width(width);
        vo.today = today_in(zone, today, sizeof today) ? today : NULL;
        if (calview_render(&out, reply, &vo, &err) < 0) {
                fprintf(stderr, "sked: unexpected reply from GET /api/v1/calendar: %s\n", err.msg);
                rc = CLI_FAILED;
                goto done;
        }
        fputs(strbuf_str(&out), stdout);
done:
        json_decref(reply);
        strbuf_free(&ids);
        strbuf_free(&q);
        strbuf_free(&out);
        return rc;
}

int cli_type(int argc, char **argv) {
        return type_main(argc, argv);
}

int cli_series(int argc, char **argv) {
        return series_main(argc, argv);
}

int cli_runs(int argc, char **argv) {
        return runs_main(argc, argv);
}

int cli_poller(int argc, char **argv) {
        return poller_main(argc, argv);
}

/* ---- sked features ---- */

static const char features_usage[] = "usage: sked features [list] [--json]\n"
                                     "       sked features enable NAME [--note TEXT]\n"
                                     "       sked features disable NAME [--note TEXT]\n";

int cli_features(int argc, char **argv) {
        enum { O_NOTE = 1 };
        static const struct option opts[] = {COMMON_OPTIONS, {"note", required_argument, NULL, O_NOTE},
                                             {"help", no_argument, NULL, 'h'}, {0}};
        common c = {0};
        const char *note = NULL;
        int o;
        const char *sub = argc >= 2 && argv[1][0] != '-' ? argv[1] : "list";
        optind = argc >= 2 && argv[1][0] != '-' ? 2 : 1;
        while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (common_opt(&c, o))
                        continue;
                if (o == O_NOTE) {
                        note = optarg;
                        continue;
                }
                fputs(features_usage, o == 'h' ? stdout : stderr);
                return o == 'h' ? CLI_OK : CLI_USAGE;
        }
        if (!strcmp(sub, "list") && optind == argc) {
                static const char *const h[] = {"NAME", "ENABLED", "TYPES", "SERIES", "CHANGED", "NOTE"};
                static const char *const k[] = {"name", "enabled", "types", "series", "changed_at", "note"};
                return list_command(&c, "/api/v1/features", h, k, 6);
        }
        if ((strcmp(sub, "enable") && strcmp(sub, "disable")) || optind + 1 != argc) {
                fputs(features_usage, stderr);
                return CLI_USAGE;
        }
        const char *name = argv[optind];
        if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(name) || !*name || strlen(name) > 64) {
                fprintf(stderr, "sked: \"%s\": expected a feature name ([a-z][a-z0-9_.-]*)\n", name);
                return CLI_USAGE;
        }
        char path[160];
        snprintf(path, sizeof path, "/api/v1/features/%s/%s", name, sub);
        json_t *body = json_object(), *reply = NULL;
        if (note)
                json_object_set_new(body, "note", json_string(note));
        int rc = call(&c, "POST", path, body, &reply);
        if (rc == 0) {
                if (c.json)
                        print_json(reply);
                else
                        printf("feature %s %sd: %lld series %s\n", name, sub,
                               (long long) json_integer_value(json_object_get(reply, "series_changed")),
                               !strcmp(sub, "enable") ? "scheduled again (missed work follows each catch-up policy)"
                                                      : "no longer scheduled");
        }
        json_decref(body);
        json_decref(reply);
        return rc;
}
