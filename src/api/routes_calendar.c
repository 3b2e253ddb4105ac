/* routes_calendar: the calendar of a week or range as JSON, and the .ics feed (admin token or
 * the read-only feed token as ?token=) (docs/api.md "Calendar"). */
#include "api/routes_calendar.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/views.h"
#include "base/parse.h"
#include "api/auth.h"
#include "sched/tz.h"

#define CALENDAR_MAX_SPAN (62 * 86400 * SKED_USEC) /* a calendar request covers at most ~2 months */
#define CALENDAR_MAX_SERIES 100
/* Occurrences per reply at most (and by default): about 60 MB of memory while one is
 * built (docs/api.md); a longer listing continues from the reply's next_from. */
#define CALENDAR_LIMIT_MAX 100000

/* ---- calendar ---- */

/* The range of a calendar request: ?from&to (UTC), or ?week=DATE (the Monday-to-
 * Monday week containing DATE in the viewer's zone), by default this week. */
static int calendar_range(http_req *req, engine *e, const tz_zone *z, sked_time *from, sked_time *to) {
        const char *week = http_query(req, "week");
        if (http_query(req, "from") || http_query(req, "to")) {
                if (api_instant_arg(req, "from", engine_now(e), from) < 0 ||
                    api_instant_arg(req, "to", *from + 7 * 86400 * SKED_USEC, to) < 0)
                        return -EINVAL;
        } else {
                int64_t day;
                if (week && *week) {
                        civil c;
                        char buf[32];
                        snprintf(buf, sizeof buf, "%.10sT00:00:00", week);
                        if (strlen(week) != 10 || civil_parse(buf, false, false, &c) < 0) {
                                http_reply_problem(req, 400, "week", "week: \"%s\": expected a date YYYY-MM-DD", week);
                                return -EINVAL;
                        }
                        day = civil_days_from_date(c.year, c.month, c.day);
                } else {
                        int64_t local;
                        tz_local(z, engine_now(e), &local, NULL);
                        day = civil_floor_div(local, 86400);
                }
                int64_t monday = day - ((civil_weekday(day) + 6) % 7);
                sked_time t[2];
                /* midnight may not exist (a DST gap at 00:00): the shift policy gives the
                 * first instant of the day */
                tz_resolve(z, monday * 86400, TZ_GAP_SHIFT, TZ_REPEAT_FIRST, t);
                *from = t[0];
                tz_resolve(z, (monday + 7) * 86400, TZ_GAP_SHIFT, TZ_REPEAT_FIRST, t);
                *to = t[0];
        }
        if (*to <= *from || *to - *from > CALENDAR_MAX_SPAN) {
                http_reply_problem(req, 400, "to", "to: must be after from, and at most 62 days later");
                return -EINVAL;
        }
        return 0;
}

/* ?series=1,2,3 */
static int series_ids(http_req *req, int64_t *ids, size_t *n) {
        const char *v = http_query(req, "series");
        *n = 0;
        if (!v || !*v)
                return 0;
        for (const char *p = v; *p;) {
                size_t len = strcspn(p, ",");
                char buf[32];
                const char *q = buf;
                int64_t id;
                if (len < sizeof buf) {
                        memcpy(buf, p, len);
                        buf[len] = '\0';
                        while (isspace((unsigned char) *q))
                                q++;
                }
                if (len >= sizeof buf || *n == CALENDAR_MAX_SERIES || parse_id(q, &id) < 0) {
                        http_reply_problem(req, 400, "series",
                                           "series: \"%.60s\": expected up to %d series ids separated by commas", v,
                                           CALENDAR_MAX_SERIES);
                        return -EINVAL;
                }
                ids[(*n)++] = id;
                p += p[len] ? len + 1 : len;
        }
        return 0;
}

static int h_calendar(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        store *st;
        const char *tzname = http_query(req, "tz");
        const tz_zone *z;
        sked_err err = {0};
        int64_t limit, ids[CALENDAR_MAX_SERIES];
        size_t n;
        if (tz_load(tzname && *tzname ? tzname : "UTC", &z, &err) < 0) {
                http_reply_problem(req, 400, "tz", "tz: %s", err.msg);
                return 0;
        }
        calendar_query q = {.tz = tz_name(z)};
        if (api_get_store(e, req, &st) < 0 || calendar_range(req, e, z, &q.from, &q.to) < 0 ||
            series_ids(req, ids, &n) < 0 ||
            api_int_arg(req, "limit", http_query(req, "limit"), CALENDAR_LIMIT_MAX, 1, CALENDAR_LIMIT_MAX, &limit) < 0)
                return 0;
        const char *group = http_query(req, "group");
        if (group && strcmp(group, "hour") != 0) {
                http_reply_problem(req, 400, "group", "group: \"%.40s\": expected \"hour\"", group);
                return 0;
        }
        q.group_hour = group != NULL;
        q.series = n ? ids : NULL;
        q.nseries = n;
        q.limit = (int) limit;
        char *text = NULL;
        int r = engine_calendar(e, st, &q, &text, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
        http_reply_text_take(req, 200, "application/json", text, strlen(text));
        return 0;
}

/* The feed's credentials: the admin token, or the read-only feed token as ?token=
 * (calendar programs subscribe by URL and send no headers).  The route's auth
 * function: it runs where the token check would, before its arguments are looked at. */
static int feed_auth(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        const char *token = http_query(req, "token");
        if (http_authorized(req) || (ctx->feed.have && token && auth_token_matches(token, ctx->feed.hash)))
                return 0;
        http_add_header(req, "WWW-Authenticate", "Bearer realm=\"sked\"");
        http_reply_problem(req, 401, "token",
                           "the calendar feed needs ?token=<feed token> (DATA_DIR/feed.token) or the admin token");
        return -EACCES;
}

static int h_calendar_ics(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        store *st;
        int64_t series = 0;
        sked_time now = engine_now(e), from, to;
        if (api_get_store(e, req, &st) < 0 ||
            api_int_arg(req, "series", http_query(req, "series"), 0, 0, INT64_MAX, &series) < 0 ||
            api_instant_arg(req, "from", now - 30 * 86400 * SKED_USEC, &from) < 0 ||
            api_instant_arg(req, "to", from + 120 * 86400 * SKED_USEC, &to) < 0)
                return 0;
        if (to <= from || to - from > 400 * 86400 * SKED_USEC) {
                http_reply_problem(req, 400, "to", "to: must be after from, and at most 400 days later");
                return 0;
        }
        char *text = NULL;
        sked_err err = {0};
        int r = engine_calendar_ics(e, st, series, from, to, &text, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
        http_reply_text(req, 200, "text/calendar; charset=utf-8", text, strlen(text));
        free(text);
        return 0;
}

static const http_route_def routes[] = {
        {"GET", "/api/v1/calendar", 0, h_calendar,
         .args = HTTP_NAMES("week", "from", "to", "tz", "series", "limit", "group")},
        {"GET", "/api/v1/calendar.ics", HTTP_PUBLIC, h_calendar_ics,
         .args = HTTP_NAMES("series", "from", "to", "token"), .auth = feed_auth},
};

int routes_calendar_register(http_server *s, api_ctx *ctx, sked_err *err) {
        return api_route_table(s, routes, sizeof routes / sizeof routes[0], ctx, err);
}
