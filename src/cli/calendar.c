/* sked calendar: a week of planned and past occurrences, one column per day. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/civil.h"
#include "base/parse.h"
#include "base/strbuf.h"
#include "cli/calview.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/common.h"
#include "cli/instant.h"
#include "sched/tz.h"

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
                        fprintf(stderr, "sked calendar: --series: at most %d ids\n", CALENDAR_SERIES_MAX);
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
static unsigned output_width(int64_t opt) {
        struct winsize ws;
        if (opt)
                return (unsigned) opt;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
                return ws.ws_col;
        return CALVIEW_WIDTH_DEFAULT;
}

typedef struct cal_args {
        const char *week, *zone, *width;
        strbuf ids;
        size_t nids;
} cal_args;

enum { O_WEEK = 1, O_TZ, O_SERIES, O_WIDTH };

static int on_cal_opt(int opt, const char *arg, void *ud) {
        cal_args *a = ud;
        switch (opt) {
        case O_WEEK:
                a->week = arg;
                return 0;
        case O_TZ:
                a->zone = arg;
                return 0;
        case O_SERIES:
                return add_series_ids(&a->ids, &a->nids, arg);
        case O_WIDTH:
                a->width = arg;
                return 0;
        }
        return -1;
}

static int calendar_show(const cli_noun *n, int argc, char **argv);

/* One verb without a name: `sked calendar [options]`. */
static const cli_verb calendar_verbs[] = {
        {"", 0, 0, VERB_DEFAULT, calendar_show, NULL},
};

static const cli_noun calendar_noun = {"calendar", calendar_usage, calendar_verbs, 1};

/* --week: a date, or a day the way instants are written (today, +1w, ...), taken
 * as its date in zone. */
static int week_date(const char *week, const char *zone, char *buf, size_t len) {
        sked_time t;
        sked_err err = {0};
        int64_t local;
        const tz_zone *z;
        civil cv;
        if (valid_date(week)) {
                snprintf(buf, len, "%s", week);
                return 0;
        }
        sked_time now = time_now_real();
        if (cli_instant_parse(week, zone, now, &t, &err) < 0 || tz_load(zone, &z, NULL) < 0)
                return -EINVAL;
        tz_local(z, t, &local, NULL);
        civil_from_seconds(local, &cv);
        snprintf(buf, len, "%04d-%02d-%02d", cv.year, cv.month, cv.day);
        return 0;
}

static int calendar_show(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                {"week", required_argument, NULL, O_WEEK},
                {"tz", required_argument, NULL, O_TZ},
                {"series", required_argument, NULL, O_SERIES},
                {"width", required_argument, NULL, O_WIDTH},
                {0},
        };
        cal_args a = {.ids = STRBUF_INIT};
        cli_common c = {0};
        const char *zone;
        char zbuf[TZ_NAME_MAX + 1], today[16], wbuf[16];
        strbuf q = STRBUF_INIT, out = STRBUF_INIT;
        json_t *reply = NULL;
        sked_err err = {0};
        calview_opts vo = {0};
        char **args;
        int nargs, rc;

        if ((rc = cli_parse_opts(n, &calendar_verbs[0], argc, argv, opts, on_cal_opt, &a, &c, &args, &nargs)) != 0) {
                rc = cli_exit(rc);
                goto done;
        }
        rc = CLI_USAGE;
        int64_t w = 0;
        if (a.width) {
                if (parse_int64(a.width, CALVIEW_WIDTH_MIN, CALVIEW_WIDTH_MAX, &w) < 0) {
                        fprintf(stderr, "sked calendar: --width \"%s\": expected %d..%d\n", a.width, CALVIEW_WIDTH_MIN,
                                CALVIEW_WIDTH_MAX);
                        goto done;
                }
        }
        zone = a.zone;
        if (zone && (!*zone || strlen(zone) > TZ_NAME_MAX)) {
                fprintf(stderr, "sked calendar: --tz \"%s\": expected an IANA zone name\n", zone);
                goto done;
        }
        if (!zone) {
                default_zone(zbuf, sizeof zbuf);
                zone = zbuf;
        }
        if (a.week && week_date(a.week, zone, wbuf, sizeof wbuf) < 0) {
                fprintf(stderr,
                        "sked calendar: --week \"%s\": expected a date YYYY-MM-DD (or today, "
                        "tomorrow, "
                        "yesterday, +N/-N{d,w})\n",
                        a.week);
                goto done;
        }

        strbuf_puts(&q, "/api/v1/calendar");
        if (a.week)
                client_query(&q, "week", wbuf);
        client_query(&q, "tz", zone);
        if (a.ids.len)
                client_query(&q, "series", strbuf_str(&a.ids));
        if (q.oom || a.ids.oom) {
                fprintf(stderr, "sked: out of memory\n");
                rc = CLI_FAILED;
                goto done;
        }
        rc = cli_call(&c, "GET", strbuf_str(&q), NULL, &reply);
        if (rc != CLI_OK)
                goto done;
        if (c.json) {
                cli_print_json(reply);
                goto done;
        }
        if (!w && cli_wide())
                w = CALVIEW_WIDTH_MAX; /* --wide: titles cut as little as the view allows */
        vo.width = output_width(w);
        vo.color = cli_color();
        vo.today = today_in(zone, today, sizeof today) ? today : NULL;
        if (calview_render(&out, reply, &vo, &err) < 0) {
                fprintf(stderr, "sked: unexpected reply from GET /api/v1/calendar: %s\n", err.msg);
                rc = CLI_FAILED;
                goto done;
        }
        fputs(strbuf_str(&out), stdout);
done:
        json_decref(reply);
        strbuf_free(&a.ids);
        strbuf_free(&q);
        strbuf_free(&out);
        return rc;
}

int cli_calendar(int argc, char **argv) {
        return calendar_show(&calendar_noun, argc, argv);
}
