/* instant: the instants a user types on the command line; see instant.h. */
#include "cli/instant.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/parse.h"
#include "sched/tz.h"

#define INSTANT_EXPECTED                                                                                               \
        "expected YYYY-MM-DDTHH:MM:SSZ, now, today, tomorrow, yesterday or +N/-N with s, m, h, d "                     \
        "or w (+90m, "                                                                                                 \
        "-2d)"

int cli_day_start(const char *zone, sked_time now, int days, sked_time *ret, sked_err *err) {
        const tz_zone *z;
        int64_t local;
        sked_time at[2];
        int r = tz_load(zone ? zone : "UTC", &z, err);
        if (r < 0)
                return r;
        tz_local(z, now, &local, NULL);
        /* floor to the day's midnight, then move whole days in wall time */
        int64_t day = local >= 0 ? local / 86400 : (local - 86399) / 86400;
        int64_t midnight = (day + days) * 86400;
        /* A midnight in a DST gap (some zones skip 00:00) starts at the gap's end. */
        if (tz_resolve(z, midnight, 0, 0, at) < 1)
                return err_set(err, -EINVAL, "no midnight on that day in %s", zone);
        *ret = at[0];
        return 0;
}

int cli_instant_parse(const char *s, const char *zone, sked_time now, sked_time *ret, sked_err *err) {
        static const struct {
                const char *word;
                int days;
        } days[] = {{"today", 0}, {"tomorrow", 1}, {"yesterday", -1}};
        static const struct {
                char unit;
                int64_t usec;
        } units[] = {{'s', SKED_USEC},
                     {'m', 60 * SKED_USEC},
                     {'h', 3600 * SKED_USEC},
                     {'d', 86400 * SKED_USEC},
                     {'w', 7 * 86400 * SKED_USEC}};
        sked_time t;

        if (!s || !*s)
                return err_set(err, -EINVAL, "\"\": " INSTANT_EXPECTED);
        if (time_parse_utc(s, &t) == 0) {
                *ret = t;
                return 0;
        }
        if (!strcmp(s, "now")) {
                *ret = now;
                return 0;
        }
        for (size_t i = 0; i < sizeof days / sizeof days[0]; i++)
                if (!strcmp(s, days[i].word))
                        return cli_day_start(zone, now, days[i].days, ret, err);
        size_t len = strlen(s);
        if ((s[0] == '+' || s[0] == '-') && len >= 3 && len < 32) {
                char num[32];
                int64_t n;
                memcpy(num, s + 1, len - 2);
                num[len - 2] = '\0';
                for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
                        if (s[len - 1] != units[i].unit || num[0] < '0' || num[0] > '9')
                                continue;
                        int r = parse_int64(num, 0, INT64_MAX / units[i].usec, &n);
                        if (r == -ERANGE)
                                return err_set(err, -ERANGE, "\"%s\": too far from now", s);
                        if (r < 0)
                                break;
                        int64_t d = n * units[i].usec;
                        if (s[0] == '-' ? now < INT64_MIN + d : now > INT64_MAX - d)
                                return err_set(err, -ERANGE, "\"%s\": too far from now", s);
                        *ret = s[0] == '-' ? now - d : now + d;
                        return 0;
                }
        }
        return err_set(err, -EINVAL, "\"%s\": " INSTANT_EXPECTED, s);
}

void cli_instant_relative(sked_time at, sked_time now, char *buf, size_t len) {
        /* the difference in whole seconds; instants are far from INT64's ends */
        int64_t d = (at - now) / SKED_USEC, a = d < 0 ? -d : d, n;
        const char *unit;
        if (a == 0) {
                snprintf(buf, len, "now");
                return;
        }
        if (a < 60) {
                n = a, unit = "s";
        } else if (a < 3600) {
                n = a / 60, unit = "min";
        } else if (a < 48 * 3600) {
                n = a / 3600, unit = "h";
        } else {
                n = a / 86400, unit = "d";
        }
        if (d > 0)
                snprintf(buf, len, "in %lld %s", (long long) n, unit);
        else
                snprintf(buf, len, "%lld %s ago", (long long) n, unit);
}
