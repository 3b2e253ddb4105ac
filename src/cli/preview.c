/* sked preview: list the next occurrences of a schedule, offline.
 *
 *   sked preview [--tz ZONE] [--start LOCAL] [--from INSTANT] [--count N] SPEC
 *
 * One line per occurrence: "<UTC instant> <local wall time><offset>", e.g.
 * "2026-03-08T07:30:00Z 2026-03-08T03:30:00-04:00".  Exit 0, or 2 with a message
 * on stderr for bad usage or input. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/civil.h"
#include "base/err.h"
#include "base/parse.h"
#include "cli/cli.h"
#include "cli/instant.h"
#include "sched/schedule.h"
#include "sched/tz.h"

#define PREVIEW_COUNT_MAX 100000

static const char usage_text[] =
        "usage: sked preview [--tz ZONE] [--start LOCAL] [--from INSTANT] [--count N] [--json] SPEC\n"
        "\n"
        "List the next occurrences of a schedule without a server.\n"
        "\n"
        "SPEC is one of\n"
        "  RRULE:<rule>     RFC 5545 rule, e.g. RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1\n"
        "  cron:<fields>    5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first)\n"
        "  every:<duration> elapsed time, e.g. every:90m, every:1h30m, every:1d\n"
        "\n"
        "options\n"
        "  --tz ZONE        IANA time zone of the schedule (default UTC)\n"
        "  --start LOCAL    YYYY-MM-DDTHH:MM:SS wall time in ZONE: the RRULE's DTSTART, the\n"
        "                   earliest cron time, the interval's anchor (default: --from)\n"
        "  --from INSTANT   YYYY-MM-DDTHH:MM:SSZ, now, today, tomorrow, yesterday (midnight in\n"
        "                   ZONE) or +N/-N{s,m,h,d,w}; list occurrences at or after it (default now)\n"
        "  --count N        how many to list, 1..100000 (default 10)\n"
        "  --json           {\"spec\", \"tz\", \"items\": [{\"at\", \"local\"}, ...]} instead of lines\n"
        "\n"
        "Each line: the UTC instant, a space, the wall time in ZONE with its UTC offset.\n";

static int fail(const char *fmt, const char *arg) {
        fprintf(stderr, "sked preview: ");
        fprintf(stderr, fmt, arg);
        fputc('\n', stderr);
        return CLI_USAGE;
}

/* Matches "--name VALUE" and "--name=VALUE"; advances *i past what it used. */
static int take_opt(int argc, char **argv, int *i, const char *name, const char **ret) {
        size_t n = strlen(name);
        const char *a = argv[*i];
        if (strncmp(a, name, n) != 0)
                return 0;
        if (a[n] == '=') {
                *ret = a + n + 1;
                return 1;
        }
        if (a[n] != '\0')
                return 0;
        if (*i + 1 >= argc)
                return -1;
        *ret = argv[++*i];
        return 1;
}

int cli_preview(int argc, char **argv) {
        const char *tz = "UTC", *start = NULL, *from_s = NULL, *count_s = NULL, *spec = NULL;
        bool json = false;
        schedule *s = NULL;
        sked_err err = {0};
        bool opts_done = false;

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                int k = 0;
                if (!opts_done && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
                        fputs(usage_text, stdout);
                        return CLI_OK;
                }
                if (!opts_done && !strcmp(a, "--json")) {
                        json = true;
                        continue;
                }
                if (!opts_done && !strcmp(a, "--")) {
                        opts_done = true;
                        continue;
                }
                if (!opts_done && a[0] == '-' && a[1] == '-') {
                        if ((k = take_opt(argc, argv, &i, "--tz", &tz)) == 0 &&
                            (k = take_opt(argc, argv, &i, "--start", &start)) == 0 &&
                            (k = take_opt(argc, argv, &i, "--from", &from_s)) == 0 &&
                            (k = take_opt(argc, argv, &i, "--count", &count_s)) == 0)
                                return fail("unknown option '%s' (see 'sked preview --help')", a);
                        if (k < 0)
                                return fail("option '%s' needs a value", a);
                        continue;
                }
                if (spec)
                        return fail("more than one SPEC given ('%s'); quote the spec", a);
                spec = a;
        }
        if (!spec) {
                fputs(usage_text, stderr);
                return CLI_USAGE;
        }

        int64_t count = 10;
        if (count_s && parse_int64(count_s, 1, PREVIEW_COUNT_MAX, &count) < 0)
                return fail("--count \"%s\": expected a number 1..100000", count_s);
        sked_time from, now = time_now_real();
        now -= now % SKED_USEC;
        if (from_s) {
                sked_err ferr = {0};
                /* today/tomorrow are midnight in the schedule's zone */
                if (cli_instant_parse(from_s, tz, now, &from, &ferr) < 0)
                        return fail("--from %s", ferr.msg);
        } else {
                from = now;
        }
        if (start) {
                civil c;
                if (civil_parse(start, false, false, &c) < 0)
                        return fail("--start \"%s\": expected a wall time YYYY-MM-DDTHH:MM:SS "
                                    "(no zone: it is read in --tz)",
                                    start);
        }

        schedule_opts o = {.tz = tz, .start_local = start, .anchor = from};
        if (schedule_parse(spec, &o, &s, &err) < 0) {
                fprintf(stderr, "sked preview: %s\n", err.msg);
                return CLI_USAGE;
        }
        json_t *items = json ? json_array() : NULL;
        sked_time t = from - 1;
        for (int64_t i = 0; i < count && schedule_next(s, t, &t) == 0; i++) {
                char utc[SCHEDULE_UTC_TEXT], local[SCHEDULE_LOCAL_TEXT];
                schedule_format(s, t, utc, local);
                if (!items) {
                        printf("%s %s\n", utc, local);
                        continue;
                }
                json_array_append_new(items, json_pack("{s:s, s:s}", "at", utc, "local", local));
        }
        schedule_free(s);
        if (items) {
                /* the shape of the API's lists: {"items": [...]}, with what was asked */
                json_t *out = json_pack("{s:s, s:s, s:o}", "spec", spec, "tz", tz, "items", items);
                char *text = out ? json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
                json_decref(out);
                if (!text) {
                        fprintf(stderr, "sked preview: out of memory\n");
                        return CLI_FAILED;
                }
                puts(text);
                free(text);
        }
        if (fflush(stdout) != 0)
                return CLI_FAILED;
        return CLI_OK;
}
