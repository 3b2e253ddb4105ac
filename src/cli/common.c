/* common: verb dispatch, requests and printers shared by the client subcommands;
 * see common.h. */
#include "cli/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/parse.h"
#include "cli/client.h"
#include "cli/instant.h"
#include "cli/table.h"

enum { OPT_URL = CLI_OPT_BASE, OPT_TOKEN, OPT_DATA_DIR, OPT_JSON, OPT_COLOR, OPT_WIDE };

static const struct option common_opts[] = {
        {"url", required_argument, NULL, OPT_URL},
        {"token", required_argument, NULL, OPT_TOKEN},
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"json", no_argument, NULL, OPT_JSON},
        {"color", required_argument, NULL, OPT_COLOR},
        {"wide", no_argument, NULL, OPT_WIDE},
        {"help", no_argument, NULL, 'h'},
};

/* ---- terminal output ---- */

static struct {
        const char *color; /* --color, NULL: auto */
        bool wide;
} out;

int cli_color_decide(const char *mode, bool tty, const char *no_color, const char *term, bool *ret) {
        if (!mode || !strcmp(mode, "auto")) {
                *ret = tty && !(no_color && *no_color) && !(term && !strcmp(term, "dumb"));
                return 0;
        }
        if (!strcmp(mode, "always") || !strcmp(mode, "never")) {
                *ret = !strcmp(mode, "always");
                return 0;
        }
        return -EINVAL;
}

bool cli_color(void) {
        bool on = false;
        cli_color_decide(out.color, isatty(STDOUT_FILENO), getenv("NO_COLOR"), getenv("TERM"), &on);
        return on;
}

bool cli_wide(void) {
        return out.wide;
}

sked_time cli_now(void) {
        static bool warned;
        const char *env = getenv("SKED_NOW");
        sked_time t;
        if (!env || !*env)
                return time_now_real();
        if (time_parse_utc(env, &t) == 0)
                return t;
        if (!warned)
                fprintf(stderr, "sked: SKED_NOW \"%s\": expected YYYY-MM-DDTHH:MM:SSZ; using the clock\n", env);
        warned = true;
        return time_now_real();
}

#define NCOMMON (sizeof common_opts / sizeof common_opts[0])

static void list_verbs(const cli_noun *n, FILE *f) {
        for (size_t i = 0; i < n->nverbs; i++)
                fprintf(f, "%s%s", i ? ", " : "", n->verbs[i].name);
}

int cli_noun_run(const cli_noun *n, int argc, char **argv) {
        const cli_verb *v = NULL;
        bool named = argc >= 2 && argv[1][0] != '-';

        if (named) {
                for (size_t i = 0; i < n->nverbs && !v; i++)
                        if (!strcmp(argv[1], n->verbs[i].name))
                                v = &n->verbs[i];
                if (!v) {
                        fprintf(stderr, "sked %s: unknown command \"%s\" (", n->name, argv[1]);
                        list_verbs(n, stderr);
                        fprintf(stderr, "; see 'sked %s --help')\n", n->name);
                        return CLI_USAGE;
                }
                return v->dispatch(n, argc - 1, argv + 1);
        }
        for (size_t i = 0; i < n->nverbs && !v; i++)
                if (n->verbs[i].flags & VERB_DEFAULT)
                        v = &n->verbs[i];
        if (!v) {
                bool help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
                fputs(n->usage, help ? stdout : stderr);
                return help ? CLI_OK : CLI_USAGE;
        }
        /* `sked runs --state failed`: the default verb with these options; its argv[0]
         * is the noun's, which getopt skips like any program name. */
        return v->dispatch(n, argc, argv);
}

#define MAX_VERB_OPTS 64 /* options one verb may declare */

int cli_parse_opts(const cli_noun *n, const cli_verb *v, int argc, char **argv, const struct option *opts,
                   cli_opt_fn fn, void *ud, cli_common *c, char ***ret_args, int *ret_nargs) {
        size_t nown = 0;
        while (opts && opts[nown].name)
                nown++;
        /* a fixed array, not a VLA: GCC 12 under ASan misjudges the VLA's size */
        struct option all[MAX_VERB_OPTS + NCOMMON + 1];
        if (nown > MAX_VERB_OPTS)
                abort(); /* a verb table with more options than this: a bug */
        memcpy(all, common_opts, sizeof common_opts);
        if (nown)
                memcpy(all + NCOMMON, opts, nown * sizeof *opts);
        memset(&all[nown + NCOMMON], 0, sizeof all[0]);

        int o;
        optind = 1;
        opterr = 0; /* getopt would name the verb as the program: say it here instead */
        while ((o = getopt_long(argc, argv, ":h", all, NULL)) != -1) {
                switch (o) {
                case OPT_URL:
                        c->url = optarg;
                        continue;
                case OPT_TOKEN:
                        c->token = optarg;
                        continue;
                case OPT_DATA_DIR:
                        c->data_dir = optarg;
                        continue;
                case OPT_JSON:
                        c->json = true;
                        continue;
                case OPT_COLOR: {
                        bool ignore;
                        if (cli_color_decide(optarg, false, NULL, NULL, &ignore) < 0) {
                                fprintf(stderr, "sked: --color \"%s\": expected auto, always or never\n", optarg);
                                return CLI_USAGE;
                        }
                        out.color = optarg;
                        continue;
                }
                case OPT_WIDE:
                        out.wide = true;
                        continue;
                case 'h':
                        fputs(n->usage, stdout);
                        return CLI_HELPED;
                case '?':
                case ':': {
                        const char *arg = optind > 1 ? argv[optind - 1] : "";
                        char shortopt[3] = {'-', (char) optopt, '\0'};
                        if (strncmp(arg, "--", 2) != 0 && optopt > ' ' && optopt < 127)
                                arg = shortopt;
                        fprintf(stderr, "sked %s%s%s: %s \"%.*s\"%s (see 'sked %s --help')\n", n->name,
                                *v->name ? " " : "", v->name, o == ':' ? "option" : "unknown option",
                                (int) strcspn(arg, "="), arg, o == ':' ? " needs a value" : "", n->name);
                        return CLI_USAGE;
                }
                }
                if (!fn || fn(o, optarg, ud) < 0)
                        return CLI_USAGE;
        }
        int nargs = argc - optind;
        if (nargs < v->min_args || nargs > v->max_args) {
                if (nargs > v->max_args && v->max_args == 0)
                        fprintf(stderr, "sked %s%s%s: unexpected argument \"%s\"\n", n->name, *v->name ? " " : "",
                                v->name, argv[optind]);
                else if (v->args)
                        fprintf(stderr, "sked %s %s: expected %s\n", n->name, v->name, v->args);
                else
                        fprintf(stderr,
                                "sked %s %s: expected %d argument(s), got %d (see 'sked %s "
                                "--help')\n",
                                n->name, v->name, v->min_args, nargs, n->name);
                return CLI_USAGE;
        }
        *ret_args = argv + optind;
        *ret_nargs = nargs;
        return 0;
}

int cli_call(const cli_common *c, const char *method, const char *path, json_t *body, json_t **ret) {
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

void cli_print_json(json_t *v) {
        char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        if (s) {
                puts(s);
                free(s);
        }
}

const char *cli_cell(json_t *o, const char *key, char *buf, size_t len) {
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

void cli_print_object(json_t *o) {
        const char *key;
        json_t *v;
        json_object_foreach(o, key, v) {
                char buf[1024];
                printf("%-16s %s\n", key, cli_cell(o, key, buf, sizeof buf));
        }
}

#define CELLS_MAX 8

/* The colour of a value in a column (by its JSON key): states, levels, statuses. */
static const struct {
        const char *key, *value;
        enum table_style style;
} styles[] = {
        {"state", "succeeded", TABLE_GOOD}, {"state", "failed", TABLE_BAD},   {"state", "lost", TABLE_BAD},
        {"state", "cancelled", TABLE_BAD},  {"state", "running", TABLE_BUSY}, {"state", "queued", TABLE_BUSY},
        {"state", "due", TABLE_BUSY},       {"state", "missed", TABLE_DIM},   {"state", "skipped", TABLE_DIM},
        {"state", "paused", TABLE_DIM},     {"state", "disabled", TABLE_DIM}, {"level", "error", TABLE_BAD},
        {"level", "warning", TABLE_BUSY},   {"status", "ok", TABLE_GOOD},     {"status", "error", TABLE_BAD},
        {"status", "failed", TABLE_BAD},    {"alive", "no", TABLE_BAD},       {"enabled", "no", TABLE_DIM},
};

static unsigned char style_of(const char *key, const char *cell) {
        if (!strcmp(cell, "-"))
                return TABLE_DIM;
        for (size_t i = 0; i < sizeof styles / sizeof styles[0]; i++)
                if (!strcmp(styles[i].key, key) && !strcmp(styles[i].value, cell))
                        return styles[i].style;
        return TABLE_PLAIN;
}

/* "2026-11-22T00:51:48Z (in 3 min)" into buf when cell is an instant, else cell. */
static const char *with_relative(const char *cell, sked_time now, char *buf, size_t len) {
        sked_time at;
        size_t n = strlen(cell);
        if (n < 20 || n > 27 || cell[n - 1] != 'Z' || cell[10] != 'T' || time_parse_utc(cell, &at) < 0)
                return cell;
        char rel[32];
        cli_instant_relative(at, now, rel, sizeof rel);
        snprintf(buf, len, "%s (%s)", cell, rel);
        return buf;
}

const char *cli_with_relative(const char *cell, char *buf, size_t len) {
        return with_relative(cell, cli_now(), buf, len);
}

void cli_print_items(json_t *reply, const char *const *headers, const char *const *keys, size_t n,
                     const cli_list_opts *lo) {
        table *t = table_new(n, headers);
        if (!t) {
                fprintf(stderr, "sked: out of memory\n");
                return;
        }
        if (lo && lo->fit != TABLE_FIT_DEFAULT)
                table_set_fit(t, lo->fit);
        if (cli_wide())
                table_set_wide(t);
        table_set_color(t, cli_color());
        sked_time now = cli_now();
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(reply, "items"), i, it) {
                /* big enough for a whole message text: the table cuts, not this buffer */
                static char bufs[CELLS_MAX][16384];
                char rel[CELLS_MAX][64];
                const char *cells[CELLS_MAX];
                unsigned char st[CELLS_MAX];
                for (size_t k = 0; k < n && k < CELLS_MAX; k++) {
                        cells[k] = cli_cell(it, keys[k], bufs[k], sizeof bufs[k]);
                        st[k] = style_of(keys[k], cells[k]);
                        cells[k] = with_relative(cells[k], now, rel[k], sizeof rel[k]);
                }
                table_add_styled(t, cells, st);
        }
        table_print(t, stdout);
        table_free(t);
        json_t *next = json_object_get(reply, "next");
        if (json_is_integer(next) && (!lo || lo->more))
                printf("(more: %s %lld)\n", lo ? lo->more : "--after/--before", (long long) json_integer_value(next));
}

int cli_list(const cli_common *c, const char *path, const char *const *headers, const char *const *keys, size_t n,
             const cli_list_opts *lo) {
        json_t *reply = NULL;
        int rc = cli_call(c, "GET", path, NULL, &reply);
        if (rc != 0)
                return rc;
        if (c->json)
                cli_print_json(reply);
        else
                cli_print_items(reply, headers, keys, n, lo);
        json_decref(reply);
        return CLI_OK;
}

int cli_id_path(char *buf, size_t len, const char *fmt, const char *id) {
        int64_t v;
        if (parse_int64(id, 0, INT64_MAX, &v) < 0 || id[0] < '0' || id[0] > '9') {
                fprintf(stderr, "sked: \"%s\": expected a numeric id\n", id);
                return -EINVAL;
        }
        char digits[24];
        snprintf(digits, sizeof digits, "%lld", (long long) v);
        snprintf(buf, len, fmt, digits);
        return 0;
}

int cli_int_opt(const char *name, const char *arg, int64_t min, int64_t max, const char *what, int64_t *ret) {
        int64_t v;
        if (parse_int64(arg, min, max, &v) < 0) {
                fprintf(stderr, "sked: %s \"%s\": expected %s\n", name, arg, what);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

int cli_add_param(json_t *params, const char *kv) {
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

size_t cli_terminal_width(void) {
        struct winsize ws;
        if (!isatty(STDOUT_FILENO))
                return 0;
        const char *env = getenv("COLUMNS");
        int64_t cols;
        if (env && parse_int64(env, 1, 100000, &cols) == 0)
                return (size_t) cols;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
                return ws.ws_col;
        return 0;
}
