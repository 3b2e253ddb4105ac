/* follow: see follow.h.  Both open the stream first and read what is already
 * there second, so nothing committed in between is missed: an event is printed
 * unless it was (messages by their sequence number). */
#include "cli/follow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/strbuf.h"
#include "cli/cli.h"
#include "cli/client.h"

enum { O_RECONNECT = 1, O_SERIES, O_TYPE }; /* below CLI_OPT_BASE: the common options are above */

static const cli_verb *verb_of(const cli_noun *n, const char *name) {
        for (size_t i = 0; i < n->nverbs; i++)
                if (!strcmp(n->verbs[i].name, name))
                        return &n->verbs[i];
        return NULL;
}

/* An instant of the API ("2026-11-22T08:00:00Z") as the user's local time of day
 * (TZ), "08:00:00"; the text itself when it is not one. */
static const char *local_time(const char *utc, char *buf, size_t len) {
        sked_time at;
        if (!utc || time_parse_utc(utc, &at) < 0)
                return utc ? utc : "-";
        time_t t = (time_t) (at / SKED_USEC);
        struct tm tm;
        if (!localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
                return utc;
        return buf;
}

static const char *paint(const char *word) {
        if (!cli_color() || !word)
                return "";
        if (!strcmp(word, "succeeded") || !strcmp(word, "ok"))
                return "\033[32m";
        if (!strcmp(word, "failed") || !strcmp(word, "lost") || !strcmp(word, "cancelled") || !strcmp(word, "error"))
                return "\033[31m";
        if (!strcmp(word, "running") || !strcmp(word, "queued") || !strcmp(word, "warning"))
                return "\033[33m";
        return "";
}

static const char *unpaint(const char *word) {
        return *paint(word) ? "\033[0m" : "";
}

static bool terminal(const char *state) {
        return state && (!strcmp(state, "succeeded") || !strcmp(state, "failed") || !strcmp(state, "lost") ||
                         !strcmp(state, "cancelled"));
}

typedef struct follow_state {
        cli_common *c;
        int64_t run;
        int64_t printed; /* the last message seq printed */
        char last_id[32];
        const char *outcome; /* a terminal state, once seen (static strings) */
        json_t *last_run;    /* the run's terminal event, when the stream brought it */
        int rc;              /* set with outcome, or on an error */
} follow_state;

/* --json: one compact object a line, in the server's order. */
static void json_line(json_t *v) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (s)
                puts(s);
        free(s);
}

static void print_message(follow_state *f, json_t *m) {
        if (f->c->json) {
                json_line(m);
        } else {
                char tb[40];
                const char *level = json_string_value(json_object_get(m, "level"));
                printf("%s %s%-7s%s %s\n", local_time(json_string_value(json_object_get(m, "at")), tb, sizeof tb),
                       paint(level), level ? level : "-", unpaint(level),
                       json_string_value(json_object_get(m, "text")) ? json_string_value(json_object_get(m, "text"))
                                                                     : "");
        }
        fflush(stdout);
}

static void print_outcome(follow_state *f, json_t *run) {
        const char *state = json_string_value(json_object_get(run, "state"));
        static const char *const states[] = {"succeeded", "failed", "lost", "cancelled"};
        for (size_t i = 0; i < 4; i++)
                if (state && !strcmp(state, states[i]))
                        f->outcome = states[i];
        f->rc = f->outcome && !strcmp(f->outcome, "succeeded") ? CLI_OK : CLI_FAILED;
        if (f->c->json) {
                json_line(run);
        } else {
                json_t *code = json_object_get(run, "exit_code");
                const char *error = json_string_value(json_object_get(run, "error"));
                printf("run %lld %s%s%s", (long long) f->run, paint(state), state, unpaint(state));
                if (json_is_integer(code))
                        printf(" (exit %lld)", (long long) json_integer_value(code));
                if (error && *error)
                        printf(": %s", error);
                putchar('\n');
        }
        fflush(stdout);
}

/* What the run logged after f->printed and whether it ended: read after the
 * stream opened (and after a gap). 0, or an exit code to end with. */
static int catch_up(follow_state *f) {
        for (;;) {
                char path[128];
                json_t *page = NULL;
                snprintf(path, sizeof path, "/api/v1/runs/%lld/messages?after=%lld&limit=10000", (long long) f->run,
                         (long long) f->printed);
                int r = cli_call(f->c, "GET", path, NULL, &page);
                if (r != CLI_OK)
                        return r;
                size_t i, n = json_array_size(json_object_get(page, "items"));
                json_t *m;
                json_array_foreach(json_object_get(page, "items"), i, m) {
                        int64_t seq = json_integer_value(json_object_get(m, "seq"));
                        if (seq > f->printed) {
                                print_message(f, m);
                                f->printed = seq;
                        }
                }
                json_decref(page);
                if (n < 10000)
                        break;
        }
        char path[64];
        json_t *run = NULL;
        snprintf(path, sizeof path, "/api/v1/runs/%lld", (long long) f->run);
        int r = cli_call(f->c, "GET", path, NULL, &run);
        if (r != CLI_OK)
                return r;
        if (terminal(json_string_value(json_object_get(run, "state")))) {
                /* messages logged before the end that this read did not see yet */
                json_decref(run);
                f->outcome = "";
                return 0;
        }
        json_decref(run);
        return 0;
}

static int on_follow_event(void *ud, const char *id, const char *event, const char *data) {
        follow_state *f = ud;
        if (!event) {
                int r = catch_up(f);
                if (r != 0) {
                        f->rc = r;
                        return 1;
                }
                return f->outcome ? 1 : 0;
        }
        if (id && *id)
                snprintf(f->last_id, sizeof f->last_id, "%s", id);
        if (!strcmp(event, "gap")) {
                int r = catch_up(f); /* events were pruned: read the rest from the run */
                if (r != 0)
                        f->rc = r;
                return r != 0 || f->outcome;
        }
        json_t *ev = json_loads(data, 0, NULL);
        if (!ev)
                return 0;
        int stop = 0;
        if (!strcmp(event, "message")) {
                int64_t seq = json_integer_value(json_object_get(ev, "seq"));
                if (seq > f->printed) {
                        json_t *m = json_pack("{s:I, s:O?, s:O?, s:O?}", "seq", (json_int_t) seq, "at",
                                              json_object_get(ev, "at"), "level", json_object_get(ev, "level"), "text",
                                              json_object_get(ev, "text"));
                        print_message(f, m ? m : ev);
                        json_decref(m);
                        f->printed = seq;
                }
        } else if (!strcmp(event, "run") && terminal(json_string_value(json_object_get(ev, "state")))) {
                f->outcome = "";
                json_decref(f->last_run);
                f->last_run = json_incref(ev);
                stop = 1;
        }
        json_decref(ev);
        return stop;
}

static int on_reconnect_opt(int opt, const char *arg, void *ud) {
        (void) opt;
        return cli_int_opt("--reconnect", arg, 0, 86400, "seconds 0..86400", ud);
}

/* Streams path to fn, reconnecting with Last-Event-ID (*last_id) for up to
 * `reconnect` seconds after each drop; returns 0 once fn stopped it, CLI_UNREACHABLE
 * when the stream could not be had again, another exit code on a refusal. */
static int stream_loop(cli_common *c, const char *path, char *last_id, int64_t reconnect, client_sse_fn fn, void *ud,
                       const bool *stopped_for_error) {
        client *cl = NULL;
        sked_err err = {0};
        if (client_new(c->url, c->token, c->data_dir, &cl, &err) < 0) {
                fprintf(stderr, "sked: %s\n", err.msg);
                return CLI_USAGE;
        }
        int rc = CLI_UNREACHABLE;
        time_t give_up = time(NULL) + reconnect;
        for (;;) {
                long status = 0;
                bool stopped = false;
                err = (sked_err){0};
                int r = client_stream(cl, path, last_id[0] ? last_id : NULL, fn, ud, &status, &stopped, &err);
                if (r == 0 && status >= 300) {
                        fprintf(stderr, "sked: %s\n", err.msg[0] ? err.msg : "refused");
                        rc = status == 400 || status == 404 ? CLI_USAGE : CLI_FAILED;
                        break;
                }
                if (r == 0 && stopped) {
                        rc = stopped_for_error && *stopped_for_error ? CLI_FAILED : CLI_OK;
                        break;
                }
                if (r == 0)
                        give_up = time(NULL) + reconnect; /* it was up: a new budget from now */
                if (time(NULL) >= give_up) {
                        fprintf(stderr, "sked: the event stream ended%s%s\n", r < 0 ? ": " : "", r < 0 ? err.msg : "");
                        break;
                }
                sleep(1);
        }
        client_free(cl);
        return rc;
}

int runs_follow(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {{"reconnect", required_argument, NULL, O_RECONNECT}, {0}};
        int64_t reconnect = 10;
        cli_common c = {0};
        char **args;
        int nargs, r;
        if ((r = cli_parse_opts(n, verb_of(n, "follow"), argc, argv, opts, on_reconnect_opt, &reconnect, &c, &args,
                                &nargs)) != 0)
                return cli_exit(r);
        follow_state f = {.c = &c};
        if (cli_int_opt("run ID", args[0], 1, INT64_MAX, "a numeric id", &f.run) < 0)
                return CLI_USAGE;
        char path[128];
        snprintf(path, sizeof path, "/api/v1/events?run=%lld&event=run,message", (long long) f.run);
        r = stream_loop(&c, path, f.last_id, reconnect, on_follow_event, &f, NULL);
        if (r != CLI_OK || (f.rc != 0 && !f.outcome)) {
                json_decref(f.last_run);
                return r != CLI_OK ? r : f.rc; /* a read failed: its message is out */
        }
        /* ended: what was logged before the end and not streamed yet, then the outcome */
        f.outcome = NULL;
        char rpath[64];
        json_t *run = NULL;
        snprintf(rpath, sizeof rpath, "/api/v1/runs/%lld", (long long) f.run);
        if ((r = catch_up(&f)) == 0)
                r = cli_call(&c, "GET", rpath, NULL, &run);
        if (r != 0 && f.last_run) {
                run = json_incref(f.last_run); /* the server went away after the end: the stream's word */
                r = 0;
        }
        json_decref(f.last_run);
        if (r != 0)
                return r;
        print_outcome(&f, run);
        json_decref(run);
        return f.rc;
}

typedef struct watch_state {
        cli_common *c;
        char last_id[32];
} watch_state;

static int on_watch_event(void *ud, const char *id, const char *event, const char *data) {
        watch_state *w = ud;
        if (!event)
                return 0;
        if (id && *id)
                snprintf(w->last_id, sizeof w->last_id, "%s", id);
        if (!strcmp(event, "gap")) {
                fprintf(stderr, "sked: some events are no longer kept (the server's window): list runs to see "
                                "where things are\n");
                return 0;
        }
        if (strcmp(event, "run") != 0)
                return 0;
        if (w->c->json) {
                puts(data);
                fflush(stdout);
                return 0;
        }
        json_t *ev = json_loads(data, 0, NULL);
        if (!ev)
                return 0;
        char tb[40];
        const char *state = json_string_value(json_object_get(ev, "state"));
        json_t *series = json_object_get(ev, "series_id");
        printf("%s run %lld %s", local_time(json_string_value(json_object_get(ev, "at")), tb, sizeof tb),
               (long long) json_integer_value(json_object_get(ev, "run_id")),
               json_string_value(json_object_get(ev, "type")) ? json_string_value(json_object_get(ev, "type")) : "-");
        if (json_is_integer(series))
                printf(" series %lld", (long long) json_integer_value(series));
        printf(" attempt %lld %s%s%s", (long long) json_integer_value(json_object_get(ev, "attempt")), paint(state),
               state ? state : "-", unpaint(state));
        json_t *code = json_object_get(ev, "exit_code");
        if (json_is_integer(code))
                printf(" (exit %lld)", (long long) json_integer_value(code));
        const char *error = json_string_value(json_object_get(ev, "error"));
        if (error && *error)
                printf(": %s", error);
        putchar('\n');
        fflush(stdout);
        json_decref(ev);
        return 0;
}

typedef struct watch_args {
        int64_t series;
        const char *type;
} watch_args;

static int on_watch_opt(int opt, const char *arg, void *ud) {
        watch_args *a = ud;
        if (opt == O_SERIES)
                return cli_int_opt("--series", arg, 1, INT64_MAX, "a numeric id", &a->series);
        if (!*arg || strlen(arg) > 200) {
                fprintf(stderr, "sked: --type: expected a process type's name\n");
                return -1;
        }
        a->type = arg;
        return 0;
}

int runs_watch(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                {"series", required_argument, NULL, O_SERIES}, {"type", required_argument, NULL, O_TYPE}, {0}};
        watch_args a = {0};
        cli_common c = {0};
        char **args;
        int nargs, r;
        if ((r = cli_parse_opts(n, verb_of(n, "watch"), argc, argv, opts, on_watch_opt, &a, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        strbuf q = STRBUF_INIT;
        strbuf_puts(&q, "/api/v1/events?event=run");
        if (a.series)
                strbuf_printf(&q, "&series=%lld", (long long) a.series);
        if (a.type)
                client_query(&q, "type", a.type);
        if (q.oom) {
                strbuf_free(&q);
                fprintf(stderr, "sked: out of memory\n");
                return CLI_FAILED;
        }
        watch_state w = {.c = &c};
        /* until interrupted: a dropped stream is taken up again for as long as it takes */
        r = stream_loop(&c, strbuf_str(&q), w.last_id, 86400 * 365, on_watch_event, &w, NULL);
        strbuf_free(&q);
        return r;
}
