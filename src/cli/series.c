/* sked series: create, list, show, edit, delete, pause, resume and trigger series;
 * list their occurrences and change one; read their results. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/civil.h"
#include "base/parse.h"
#include "base/strbuf.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/common.h"
#include "cli/instant.h"
#include "cli/table.h"

#define OCCURRENCES_MAX 10000

static const char series_usage[] =
        "usage: sked series list [--type T] [--after ID] [--all]\n"
        "       sked series show ID\n"
        "       sked series create --type T --schedule SPEC [--tz ZONE] [--start LOCAL] [--end "
        "INSTANT]\n"
        "                          [--count N] [--title T] [--param K=V]... [--params JSON] "
        "[--query Q] [--disabled]\n"
        "                          [--policy JSON] [--sleep HH:MM-HH:MM[@ZONE]]...\n"
        "       sked series edit ID [--schedule SPEC] [--tz ZONE] [--policy JSON] [--sleep W|none] "
        "... [--if-version V]\n"
        "       sked series delete ID [--purge]\n"
        "       sked series pause ID [--note TEXT] | resume ID | trigger ID [--param K=V]...\n"
        "       sked series occurrences ID [--from INSTANT] [--to INSTANT] [--tz ZONE]\n"
        "       sked series occurrence ID NOMINAL|next [--start TIME|HH:MM|rule] [--off|--on] "
        "[--param K=V]...\n"
        "                          [--params JSON|--params rule] [--note TEXT] [--reset]\n"
        "       sked series results ID [--runs N]\n"
        "INSTANT: YYYY-MM-DDTHH:MM:SSZ, now, today, tomorrow, yesterday, +N/-N{s,m,h,d,w}\n"
        "common options: --json --url URL --token TOKEN --data-dir DIR\n";

static int series_list(const cli_noun *n, int argc, char **argv);
static int series_show(const cli_noun *n, int argc, char **argv);
static int series_create(const cli_noun *n, int argc, char **argv);
static int series_edit(const cli_noun *n, int argc, char **argv);
static int series_delete(const cli_noun *n, int argc, char **argv);
static int series_action(const cli_noun *n, int argc, char **argv);
static int series_occurrences(const cli_noun *n, int argc, char **argv);
static int series_occurrence(const cli_noun *n, int argc, char **argv);
static int series_results(const cli_noun *n, int argc, char **argv);

static const cli_verb series_verbs[] = {
        {"list", 0, 0, 0, series_list, NULL},
        {"show", 1, 1, 0, series_show, "one series ID"},
        {"create", 0, 0, 0, series_create, NULL},
        {"edit", 1, 1, 0, series_edit, "one series ID"},
        {"delete", 1, 1, 0, series_delete, "one series ID"},
        {"pause", 1, 1, 0, series_action, "one series ID"},
        {"resume", 1, 1, 0, series_action, "one series ID"},
        {"trigger", 1, 1, 0, series_action, "one series ID"},
        {"occurrences", 1, 1, 0, series_occurrences, "one series ID"},
        {"occurrence", 2, 2, 0, series_occurrence,
         "ID and NOMINAL (the occurrence's UTC instant, as listed by `sked series occurrences`, or "
         "next)"},
        {"results", 1, 1, 0, series_results, "one series ID"},
};

static const cli_noun series_noun = {"series", series_usage, series_verbs,
                                     sizeof series_verbs / sizeof series_verbs[0]};

static const cli_verb *verb(const char *name) {
        for (size_t i = 0; i < series_noun.nverbs; i++)
                if (!strcmp(series_verbs[i].name, name))
                        return &series_verbs[i];
        abort(); /* only called with names from the table */
}

enum {
        O_TYPE = 1,
        O_SCHEDULE,
        O_TZ,
        O_START,
        O_END,
        O_COUNT,
        O_TITLE,
        O_PARAM,
        O_PARAMS,
        O_QUERY,
        O_DISABLED,
        O_IFV,
        O_NOTE,
        O_FROM,
        O_TO,
        O_RUNS,
        O_AFTER,
        O_OWNER,
        O_POLICY,
        O_SLEEP,
        O_PURGE,
        O_ALL,
        O_OFF,
        O_ON,
        O_RESET,
};

/* The fields of a series (create, edit) or of an occurrence, as a request body. */
typedef struct fields {
        json_t *body, *params, *sleep;
        bool params_rule, reset;
        int64_t ifv;
        const char *note;
} fields;

static void fields_done(fields *f) {
        json_decref(f->body);
        json_decref(f->params);
        json_decref(f->sleep);
}

/* The body with params and sleep folded in; borrowed from f. */
static json_t *fields_body(fields *f) {
        if (f->params)
                json_object_set(f->body, "params", f->params);
        else if (f->params_rule)
                json_object_set_new(f->body, "params", json_null());
        if (f->sleep)
                json_object_set(f->body, "sleep", f->sleep);
        return f->body;
}

static int set_str(fields *f, const char *key, const char *v) {
        json_object_set_new(f->body, key, json_string(v));
        return 0;
}

static int on_field(int opt, const char *arg, void *ud) {
        fields *f = ud;
        switch (opt) {
        case O_TYPE:
                return set_str(f, "type", arg);
        case O_SCHEDULE:
                return set_str(f, "schedule", arg);
        case O_TZ:
                return set_str(f, "tz", arg);
        case O_START:
                return set_str(f, "start", arg);
        case O_END:
                return set_str(f, "end", arg);
        case O_TITLE:
                return set_str(f, "title", arg);
        case O_OWNER:
                return set_str(f, "owner", arg);
        case O_QUERY:
                return set_str(f, "query", arg);
        case O_COUNT: {
                int64_t n;
                if (cli_int_opt("--count", arg, 1, INT64_MAX, "a positive integer", &n) < 0)
                        return -1;
                json_object_set_new(f->body, "count", json_integer(n));
                return 0;
        }
        case O_PARAM:
                if (!f->params)
                        f->params = json_object();
                return cli_add_param(f->params, arg);
        case O_PARAMS: {
                if (!strcmp(arg, "rule")) {
                        f->params_rule = true;
                        return 0;
                }
                json_error_t je;
                json_t *p = json_loads(arg, 0, &je);
                if (!json_is_object(p)) {
                        fprintf(stderr, "sked: --params: expected a JSON object (%s)\n", p ? "not an object" : je.text);
                        json_decref(p);
                        return -1;
                }
                if (!f->params)
                        f->params = json_object();
                json_object_update(f->params, p);
                json_decref(p);
                return 0;
        }
        case O_DISABLED:
        case O_OFF:
                json_object_set_new(f->body, "enabled", json_false());
                return 0;
        case O_ON:
                json_object_set_new(f->body, "enabled", json_true());
                return 0;
        case O_POLICY: {
                json_error_t je;
                json_t *p = json_loads(arg, 0, &je);
                if (!json_is_object(p)) {
                        fprintf(stderr, "sked: --policy: expected a JSON object like "
                                        "'{\"catchup\":\"all\",\"overlap\":\"buffer_one\"}'\n");
                        json_decref(p);
                        return -1;
                }
                json_object_set_new(f->body, "policy", p);
                return 0;
        }
        case O_SLEEP: {
                /* HH:MM-HH:MM[@ZONE], repeatable; "none" clears */
                if (!f->sleep)
                        f->sleep = json_array();
                if (!strcmp(arg, "none"))
                        return 0;
                char from_s[8], to_s[8], zone[128] = "";
                if (sscanf(arg, "%5[0-9:]-%5[0-9:]%*[@]%127s", from_s, to_s, zone) < 2) {
                        fprintf(stderr, "sked: --sleep \"%s\": expected HH:MM-HH:MM or HH:MM-HH:MM@ZONE\n", arg);
                        return -1;
                }
                json_t *w = json_pack("{s:s, s:s}", "from", from_s, "to", to_s);
                if (*zone)
                        json_object_set_new(w, "tz", json_string(zone));
                json_array_append_new(f->sleep, w);
                return 0;
        }
        case O_IFV:
                return cli_int_opt("--if-version", arg, 1, INT64_MAX, "a version number", &f->ifv);
        case O_NOTE:
                f->note = arg;
                return 0;
        case O_RESET:
                f->reset = true;
                return 0;
        }
        return -1;
}

/* clang-format off */
#define FIELD_OPTIONS                                                           \
        {"schedule", required_argument, NULL, O_SCHEDULE},                      \
        {"tz", required_argument, NULL, O_TZ},                                  \
        {"start", required_argument, NULL, O_START},                            \
        {"end", required_argument, NULL, O_END},                                \
        {"count", required_argument, NULL, O_COUNT},                            \
        {"title", required_argument, NULL, O_TITLE},                            \
        {"param", required_argument, NULL, O_PARAM},                            \
        {"params", required_argument, NULL, O_PARAMS},                          \
        {"query", required_argument, NULL, O_QUERY},                            \
        {"owner", required_argument, NULL, O_OWNER},                            \
        {"policy", required_argument, NULL, O_POLICY},                          \
        {"sleep", required_argument, NULL, O_SLEEP}
/* clang-format on */

/* A series as "key value" lines; a disabled series shows no next due instant (the
 * server may keep its cursor, but nothing is due while it is disabled). */
static void print_series(json_t *s) {
        if (json_is_false(json_object_get(s, "enabled")) && json_object_get(s, "next_due"))
                json_object_set_new(s, "next_due", json_null());
        cli_print_object(s);
}

/* ---- list, show ---- */

typedef struct list_args {
        const char *type;
        int64_t after;
        bool all;
} list_args;

static int on_list_opt(int opt, const char *arg, void *ud) {
        list_args *a = ud;
        switch (opt) {
        case O_TYPE:
                a->type = arg;
                return 0;
        case O_AFTER:
                return cli_int_opt("--after", arg, 0, INT64_MAX, "a numeric id", &a->after);
        case O_ALL:
                a->all = true;
                return 0;
        }
        return -1;
}

static int series_list(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                {"type", required_argument, NULL, O_TYPE},
                {"after", required_argument, NULL, O_AFTER},
                {"all", no_argument, NULL, O_ALL},
                {0},
        };
        static const char *const h[] = {"ID", "TYPE", "TITLE", "SCHEDULE", "TZ", "ENABLED", "NEXT DUE", "FIRED"};
        static const char *const k[] = {"id", "type", "title", "schedule", "tz", "enabled", "next_due", "fired"};
        list_args a = {0};
        cli_common c = {0};
        strbuf q = STRBUF_INIT;
        json_t *reply = NULL;
        char **args;
        int nargs, rc;
        if ((rc = cli_parse_opts(n, verb("list"), argc, argv, opts, on_list_opt, &a, &c, &args, &nargs)) != 0)
                return cli_exit(rc);
        strbuf_puts(&q, "/api/v1/series?limit=1000");
        if (a.type)
                client_query(&q, "type", a.type);
        if (a.after)
                strbuf_printf(&q, "&after=%lld", (long long) a.after);
        if (a.all)
                strbuf_puts(&q, "&all=true");
        rc = cli_call(&c, "GET", strbuf_str(&q), NULL, &reply);
        strbuf_free(&q);
        if (rc != 0)
                return rc;
        if (c.json) {
                cli_print_json(reply);
        } else {
                size_t i;
                json_t *it;
                json_array_foreach(json_object_get(reply, "items"), i, it) {
                        if (json_is_false(json_object_get(it, "enabled")))
                                json_object_set_new(it, "next_due", json_null());
                }
                cli_list_opts lo = {.more = "--after"};
                cli_print_items(reply, h, k, 8, &lo);
        }
        json_decref(reply);
        return CLI_OK;
}

static int series_show(const cli_noun *n, int argc, char **argv) {
        cli_common c = {0};
        json_t *reply = NULL;
        char **args, path[256];
        int nargs, rc;
        if ((rc = cli_parse_opts(n, verb("show"), argc, argv, NULL, NULL, NULL, &c, &args, &nargs)) != 0)
                return cli_exit(rc);
        if (cli_id_path(path, sizeof path, "/api/v1/series/%s", args[0]) < 0)
                return CLI_USAGE;
        if ((rc = cli_call(&c, "GET", path, NULL, &reply)) != 0)
                return rc;
        if (c.json)
                cli_print_json(reply);
        else
                print_series(reply);
        json_decref(reply);
        return CLI_OK;
}

/* ---- create, edit ---- */

static int series_create(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                {"type", required_argument, NULL, O_TYPE},
                FIELD_OPTIONS,
                {"disabled", no_argument, NULL, O_DISABLED},
                {0},
        };
        fields f = {.body = json_object()};
        cli_common c = {0};
        json_t *reply = NULL;
        char **args;
        int nargs, rc;
        if ((rc = cli_parse_opts(n, verb("create"), argc, argv, opts, on_field, &f, &c, &args, &nargs)) != 0) {
                rc = cli_exit(rc);
                goto done;
        }
        rc = cli_call(&c, "POST", "/api/v1/series", fields_body(&f), &reply);
        if (rc != 0)
                goto done;
        if (c.json) {
                cli_print_json(reply);
        } else {
                long long id = (long long) json_integer_value(json_object_get(reply, "id"));
                json_t *next = json_object_get(reply, "next_due");
                if (json_is_false(json_object_get(reply, "enabled")))
                        printf("created series %lld (disabled, next due -)\n", id);
                else
                        printf("created series %lld (next due %s)\n", id,
                               json_is_string(next) ? json_string_value(next) : "never");
        }
done:
        json_decref(reply);
        fields_done(&f);
        return rc;
}

static int series_edit(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                FIELD_OPTIONS,
                {"disabled", no_argument, NULL, O_DISABLED},
                {"if-version", required_argument, NULL, O_IFV},
                {0},
        };
        fields f = {.body = json_object()};
        cli_common c = {0};
        json_t *reply = NULL;
        char **args, path[256];
        int nargs, rc;
        if ((rc = cli_parse_opts(n, verb("edit"), argc, argv, opts, on_field, &f, &c, &args, &nargs)) != 0) {
                rc = cli_exit(rc);
                goto done;
        }
        rc = CLI_USAGE;
        if (cli_id_path(path, sizeof path, "/api/v1/series/%s", args[0]) < 0)
                goto done;
        if (f.ifv)
                json_object_set_new(f.body, "version", json_integer(f.ifv));
        rc = cli_call(&c, "PATCH", path, fields_body(&f), &reply);
        if (rc == 0) {
                if (c.json)
                        cli_print_json(reply);
                else
                        print_series(reply);
        }
done:
        json_decref(reply);
        fields_done(&f);
        return rc;
}

/* ---- delete, pause, resume, trigger ---- */

static int on_flag(int opt, const char *arg, void *ud) {
        *(bool *) ud = true;
        return 0;
}

static int series_delete(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {{"purge", no_argument, NULL, O_PURGE}, {0}};
        bool purge = false;
        cli_common c = {0};
        char **args, path[256];
        int nargs, rc;
        if ((rc = cli_parse_opts(n, verb("delete"), argc, argv, opts, on_flag, &purge, &c, &args, &nargs)) != 0)
                return cli_exit(rc);
        if (cli_id_path(path, sizeof path, "/api/v1/series/%s", args[0]) < 0)
                return CLI_USAGE;
        if (purge)
                strncat(path, "?purge=true", sizeof path - strlen(path) - 1);
        if ((rc = cli_call(&c, "DELETE", path, NULL, NULL)) != 0)
                return rc;
        printf(purge ? "deleted series %s and its finished runs, messages and results\n"
                     : "deleted series %s (its runs, messages and results are kept)\n",
               args[0]);
        return CLI_OK;
}

static int series_action(const cli_noun *n, int argc, char **argv) {
        /* --note goes with all three, as before; trigger also overrides parameters */
        static const struct option pause_opts[] = {{"note", required_argument, NULL, O_NOTE}, {0}};
        static const struct option trigger_opts[] = {
                {"param", required_argument, NULL, O_PARAM}, {"note", required_argument, NULL, O_NOTE}, {0}};
        const cli_verb *v = verb(argv[0]);
        bool trigger = !strcmp(v->name, "trigger");
        fields f = {.body = json_object()};
        cli_common c = {0};
        json_t *reply = NULL, *body = json_object();
        char **args, path[256], fmt[64];
        int nargs, rc;
        rc = cli_parse_opts(n, v, argc, argv, trigger ? trigger_opts : pause_opts, on_field, &f, &c, &args, &nargs);
        if (rc != 0) {
                rc = cli_exit(rc);
                goto done;
        }
        rc = CLI_USAGE;
        snprintf(fmt, sizeof fmt, "/api/v1/series/%%s/%s", v->name);
        if (cli_id_path(path, sizeof path, fmt, args[0]) < 0)
                goto done;
        if (f.note)
                json_object_set_new(body, "note", json_string(f.note));
        if (f.params)
                json_object_set(body, "params", f.params);
        rc = cli_call(&c, "POST", path, body, &reply);
        if (rc != 0)
                goto done;
        if (c.json)
                cli_print_json(reply);
        else if (trigger)
                printf("queued run %lld of series %s\n", (long long) json_integer_value(json_object_get(reply, "id")),
                       args[0]);
        else
                printf("series %s %s\n", args[0], !strcmp(v->name, "pause") ? "paused" : "resumed");
done:
        json_decref(body);
        json_decref(reply);
        fields_done(&f);
        return rc;
}

/* ---- occurrences ---- */

typedef struct range_args {
        const char *from, *to, *tz;
} range_args;

static int on_range_opt(int opt, const char *arg, void *ud) {
        range_args *a = ud;
        switch (opt) {
        case O_FROM:
                a->from = arg;
                return 0;
        case O_TO:
                a->to = arg;
                return 0;
        case O_TZ:
                a->tz = arg;
                return 0;
        }
        return -1;
}

/* Appends "&name=<UTC instant>" for an instant as the user wrote it. */
static int instant_query(strbuf *q, const char *opt, const char *name, const char *s, const char *tz, sked_time now) {
        sked_time t;
        sked_err err = {0};
        char buf[32];
        if (cli_instant_parse(s, tz, now, &t, &err) < 0) {
                fprintf(stderr, "sked: %s %s\n", opt, err.msg);
                return -1;
        }
        time_format_utc(t, buf, sizeof buf);
        strbuf_printf(q, "&%s=%s", name, buf);
        return 0;
}

static int series_occurrences(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                {"from", required_argument, NULL, O_FROM},
                {"to", required_argument, NULL, O_TO},
                {"tz", required_argument, NULL, O_TZ},
                {0},
        };
        static const char *const h[] = {"AT (UTC)", "LOCAL", "STATE", "CHANGE", "STARTS", "RUN", "ATTEMPT"};
        static const char *const k[] = {"at", "local", "state", "change", "start_at", "run_id", "attempt"};
        range_args a = {0};
        cli_common c = {0};
        strbuf q = STRBUF_INIT;
        json_t *reply = NULL;
        char **args, path[256];
        int nargs, rc;
        if ((rc = cli_parse_opts(n, verb("occurrences"), argc, argv, opts, on_range_opt, &a, &c, &args, &nargs)) != 0)
                return cli_exit(rc);
        rc = CLI_USAGE;
        if (cli_id_path(path, sizeof path, "/api/v1/series/%s/occurrences?limit=10000", args[0]) < 0)
                goto done;
        strbuf_puts(&q, path);
        sked_time now = time_now_real();
        now -= now % SKED_USEC;
        if ((a.from && instant_query(&q, "--from", "from", a.from, a.tz, now) < 0) ||
            (a.to && instant_query(&q, "--to", "to", a.to, a.tz, now) < 0))
                goto done;
        rc = cli_call(&c, "GET", strbuf_str(&q), NULL, &reply);
        if (rc != 0)
                goto done;
        if (c.json)
                cli_print_json(reply);
        else
                cli_print_items(reply, h, k, 7, NULL);
        /* The server cuts the list at the limit; say so (on stderr, so --json stays
         * one document).  "truncated" is newer than the limit: a full page counts too. */
        if (json_is_true(json_object_get(reply, "truncated")) ||
            json_array_size(json_object_get(reply, "items")) >= OCCURRENCES_MAX)
                fprintf(stderr, "sked: showing the first 10,000 occurrences; narrow --from/--to\n");
done:
        json_decref(reply);
        strbuf_free(&q);
        return rc;
}

/* ---- occurrence: change one ---- */

/* The first occurrence at or after now ("next"), or the one at nominal: its
 * listing item (the caller's reference).  Returns an exit code. */
static int find_occurrence(const cli_common *c, const char *id, const char *nominal, json_t **ret) {
        char path[256], from[32], to[32];
        sked_time t;
        json_t *reply = NULL;
        if (nominal) {
                if (time_parse_utc(nominal, &t) < 0)
                        return CLI_USAGE;
        } else {
                t = time_now_real();
                t -= t % SKED_USEC;
        }
        time_format_utc(t, from, sizeof from);
        /* a year and a bit: "next" of a yearly series; the limit keeps the work small */
        time_format_utc(t + (nominal ? SKED_USEC : 400 * 86400 * SKED_USEC), to, sizeof to);
        snprintf(path, sizeof path, "/api/v1/series/%s/occurrences?from=%s&to=%s&limit=1", id, from, to);
        int rc = cli_call(c, "GET", path, NULL, &reply);
        if (rc != 0)
                return rc;
        json_t *it = json_array_get(json_object_get(reply, "items"), 0);
        if (!json_is_string(json_object_get(it, "at"))) {
                if (nominal)
                        fprintf(stderr, "sked: series %s has no occurrence at %s\n", id, nominal);
                else
                        fprintf(stderr, "sked: series %s has no occurrence in the next 400 days\n", id);
                json_decref(reply);
                return CLI_USAGE;
        }
        *ret = json_incref(it);
        json_decref(reply);
        return CLI_OK;
}

/* "HH:MM" (or "HH:MM:SS"): a wall time on the occurrence's own local day, from its
 * "local" field ("2026-11-23T09:00:00+01:00"), as "2026-11-23T11:30:00". */
static bool is_clock(const char *s) {
        size_t n = strlen(s);
        civil cv;
        char full[32];
        if (n != 5 && n != 8)
                return false;
        snprintf(full, sizeof full, "2000-01-01T%s%s", s, n == 5 ? ":00" : "");
        return civil_parse(full, false, false, &cv) == 0;
}

static int series_occurrence(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                {"start", required_argument, NULL, O_START},
                {"param", required_argument, NULL, O_PARAM},
                {"params", required_argument, NULL, O_PARAMS},
                {"off", no_argument, NULL, O_OFF},
                {"on", no_argument, NULL, O_ON},
                {"note", required_argument, NULL, O_NOTE},
                {"reset", no_argument, NULL, O_RESET},
                {0},
        };
        fields f = {.body = json_object()};
        cli_common c = {0};
        json_t *reply = NULL, *occ = NULL;
        char **args, path[256], start_buf[32];
        int nargs, rc;
        sked_time t;
        if ((rc = cli_parse_opts(n, verb("occurrence"), argc, argv, opts, on_field, &f, &c, &args, &nargs)) != 0) {
                rc = cli_exit(rc);
                goto done;
        }
        rc = CLI_USAGE;
        const char *id = args[0], *nominal = args[1];
        if (cli_id_path(path, sizeof path, "/api/v1/series/%s/occurrences/", id) < 0)
                goto done;
        bool next = !strcmp(nominal, "next");
        if (!next && time_parse_utc(nominal, &t) < 0) {
                fprintf(stderr, "sked: \"%s\": expected the nominal instant YYYY-MM-DDTHH:MM:SSZ or next\n", nominal);
                goto done;
        }
        json_t *start = json_object_get(f.body, "start");
        bool clock = start && is_clock(json_string_value(start));
        if (next || clock) {
                /* id is digits here: cli_id_path checked it */
                if ((rc = find_occurrence(&c, id, next ? NULL : nominal, &occ)) != 0)
                        goto done;
                nominal = json_string_value(json_object_get(occ, "at"));
                rc = CLI_USAGE;
        }
        if (clock) {
                const char *local = json_string_value(json_object_get(occ, "local"));
                const char *hm = json_string_value(start);
                if (!local || strlen(local) < 10) {
                        fprintf(stderr,
                                "sked: --start %s: the server did not say the occurrence's local "
                                "day\n",
                                hm);
                        goto done;
                }
                snprintf(start_buf, sizeof start_buf, "%.10sT%s%s", local, hm, strlen(hm) == 5 ? ":00" : "");
                json_object_set_new(f.body, "start", json_string(start_buf));
                start = json_object_get(f.body, "start");
        }
        if (start && !strcmp(json_string_value(start), "rule"))
                json_object_set_new(f.body, "start", json_null());
        fields_body(&f);
        if (f.note)
                json_object_set_new(f.body, "note", json_string(f.note));
        strncat(path, nominal, sizeof path - strlen(path) - 1);
        if (f.reset) {
                rc = cli_call(&c, "DELETE", path, NULL, &reply);
                if (rc == 0)
                        printf("occurrence %s of series %s follows its rule again\n", nominal, id);
        } else {
                rc = cli_call(&c, "PATCH", path, f.body, &reply);
                if (rc == 0) {
                        if (c.json)
                                cli_print_json(reply);
                        else
                                cli_print_object(reply);
                }
        }
done:
        json_decref(occ);
        json_decref(reply);
        fields_done(&f);
        return rc;
}

/* ---- results ---- */

static int on_runs_opt(int opt, const char *arg, void *ud) {
        return cli_int_opt("--runs", arg, 1, 100, "1..100", ud);
}

static int series_results(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {{"runs", required_argument, NULL, O_RUNS}, {0}};
        int64_t runs = 0;
        cli_common c = {0};
        json_t *reply = NULL;
        char **args, path[256];
        int nargs, rc;
        if ((rc = cli_parse_opts(n, verb("results"), argc, argv, opts, on_runs_opt, &runs, &c, &args, &nargs)) != 0)
                return cli_exit(rc);
        if (cli_id_path(path, sizeof path, "/api/v1/series/%s/results", args[0]) < 0)
                return CLI_USAGE;
        if (runs)
                snprintf(path + strlen(path), sizeof path - strlen(path), "?runs=%lld", (long long) runs);
        if ((rc = cli_call(&c, "GET", path, NULL, &reply)) != 0)
                return rc;
        if (c.json) {
                cli_print_json(reply);
        } else {
                table *t = table_new(5, (const char *const[]){"RUN", "FINISHED", "KEY", "STATUS", "DATA"});
                size_t i, k;
                json_t *it, *res;
                table_set_fit(t, cli_terminal_width());
                if (cli_wide())
                        table_set_wide(t);
                table_set_color(t, cli_color());
                json_array_foreach(json_object_get(reply, "items"), i, it) {
                        json_array_foreach(json_object_get(it, "results"), k, res) {
                                static char b[5][4096], when[64];
                                const char *cells[] = {cli_cell(it, "run_id", b[0], sizeof b[0]),
                                                       cli_with_relative(cli_cell(it, "finished_at", b[1], sizeof b[1]),
                                                                         when, sizeof when),
                                                       cli_cell(res, "key", b[2], sizeof b[2]),
                                                       cli_cell(res, "status", b[3], sizeof b[3]),
                                                       cli_cell(res, "data", b[4], sizeof b[4])};
                                table_add(t, cells);
                        }
                }
                table_print(t, stdout);
                table_free(t);
        }
        json_decref(reply);
        return CLI_OK;
}

int cli_series(int argc, char **argv) {
        return cli_noun_run(&series_noun, argc, argv);
}
