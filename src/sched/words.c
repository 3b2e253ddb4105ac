/* words: a schedule in words (see words.h). */
#include "sched/words.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sched/cron.h"
#include "sched/interval.h"

static const char *const day_names[7] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
static const char *const day_codes[7] = {"MO", "TU", "WE", "TH", "FR", "SA", "SU"};
static const char *const month_names[12] = {"January", "February", "March",     "April",   "May",      "June",
                                            "July",    "August",   "September", "October", "November", "December"};

/* An output buffer: appends stop (and mark it full) at its end. */
typedef struct out {
        char *buf;
        size_t len, at;
        bool full;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...) {
        if (o->full)
                return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->at, o->len - o->at, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= o->len - o->at)
                o->full = true;
        else
                o->at += (size_t) n;
}

/* A whole decimal number in [lo, hi] of exactly the n bytes at s. */
static bool number(const char *s, size_t n, long lo, long hi, long *ret) {
        if (n == 0 || n > 9)
                return false;
        long v = 0;
        size_t i = 0;
        bool neg = s[0] == '-';
        if (neg || s[0] == '+')
                i++;
        if (i == n)
                return false;
        for (; i < n; i++) {
                if (!isdigit((unsigned char) s[i]))
                        return false;
                v = v * 10 + (s[i] - '0');
        }
        v = neg ? -v : v;
        if (v < lo || v > hi)
                return false;
        *ret = v;
        return true;
}

/* A comma list of at most max numbers in [lo, hi], ascending as given. */
static int number_list(const char *s, long lo, long hi, long *ret, int max) {
        int n = 0;
        for (const char *p = s;;) {
                size_t k = strcspn(p, ",");
                if (n == max || !number(p, k, lo, hi, &ret[n]))
                        return -1;
                n++;
                if (!p[k])
                        return n;
                p += k + 1;
        }
}

/* "every day", "every weekday", "on weekends", "every Monday", "on Monday and Friday"
 * for a set of days (bit 0 Monday .. bit 6 Sunday); cap: a capital first letter. */
static void put_days(out *o, unsigned mask, bool cap) {
        if (mask == 0x7f) {
                put(o, "%s day", cap ? "Every" : "every");
                return;
        }
        if (mask == 0x1f) {
                put(o, "%s weekday", cap ? "Every" : "every");
                return;
        }
        if (mask == 0x60) {
                put(o, "%s weekends", cap ? "On" : "on");
                return;
        }
        int n = __builtin_popcount(mask), k = 0;
        if (n == 1) {
                put(o, "%s %s", cap ? "Every" : "every", day_names[__builtin_ctz(mask)]);
                return;
        }
        put(o, "%s ", cap ? "On" : "on");
        for (int d = 0; d < 7; d++) {
                if (!(mask & (1u << d)))
                        continue;
                put(o, "%s%s", k == 0 ? "" : k == n - 1 ? " and " : ", ", day_names[d]);
                k++;
        }
}

/* " at 09:00", " at 09:00 and 17:00", " at 08:00, 12:00 and 16:00" */
static void put_times(out *o, const long *hours, int nh, long minute) {
        put(o, " at");
        for (int i = 0; i < nh; i++)
                put(o, "%s%02ld:%02ld", i == 0 ? " " : i == nh - 1 ? " and " : ", ", hours[i], minute);
}

static const char *ordinal(long n) {
        switch (n) {
        case 1:
                return "first";
        case 2:
                return "second";
        case 3:
                return "third";
        case 4:
                return "fourth";
        case -1:
                return "last";
        default:
                return NULL;
        }
}

static int day_code(const char *s, size_t n) {
        for (int d = 0; d < 7; d++)
                if (n == 2 && !strncasecmp(s, day_codes[d], 2))
                        return d;
        return -1;
}

/* ---- RRULE ---- */

typedef struct rule {
        char freq[10];
        long interval, count;
        char until[9]; /* YYYYMMDD */
        long hours[4], minute, monthday, month;
        int nh;
        bool has_minute, has_monthday, has_month;
        unsigned days; /* plain BYDAY */
        long nth;      /* BYDAY=2MO: 2 (one day only); 0: none */
        bool has_byday;
} rule;

static bool rule_byday(rule *r, const char *v) {
        r->has_byday = true;
        int n = 0;
        for (const char *p = v;;) {
                size_t k = strcspn(p, ",");
                if (k < 2)
                        return false;
                int d = day_code(p + k - 2, 2);
                if (d < 0)
                        return false;
                if (k > 2) { /* an ordinal: one day only */
                        if (n > 0 || p[k] || !number(p, k - 2, -1, 4, &r->nth) || r->nth == 0)
                                return false;
                }
                r->days |= 1u << d;
                n++;
                if (!p[k])
                        return true;
                p += k + 1;
        }
}

static bool rule_parse(const char *text, rule *r) {
        *r = (rule){.interval = 1};
        char buf[512];
        if (strlen(text) >= sizeof buf)
                return false;
        strcpy(buf, text);
        for (char *save = NULL, *part = strtok_r(buf, ";", &save); part; part = strtok_r(NULL, ";", &save)) {
                char *eq = strchr(part, '=');
                if (!eq)
                        return false;
                *eq = '\0';
                const char *k = part, *v = eq + 1;
                size_t vn = strlen(v);
                long x;
                if (!strcasecmp(k, "FREQ")) {
                        if (vn >= sizeof r->freq)
                                return false;
                        for (size_t i = 0; i <= vn; i++)
                                r->freq[i] = (char) toupper((unsigned char) v[i]);
                } else if (!strcasecmp(k, "INTERVAL")) {
                        if (!number(v, vn, 1, 100000, &r->interval))
                                return false;
                } else if (!strcasecmp(k, "COUNT")) {
                        if (!number(v, vn, 1, 1000000000, &r->count))
                                return false;
                } else if (!strcasecmp(k, "UNTIL")) {
                        if (vn < 8 || !number(v, 8, 0, 99999999, &x))
                                return false;
                        memcpy(r->until, v, 8);
                        r->until[8] = '\0';
                } else if (!strcasecmp(k, "BYHOUR")) {
                        if ((r->nh = number_list(v, 0, 23, r->hours, 4)) < 0)
                                return false;
                } else if (!strcasecmp(k, "BYMINUTE")) {
                        if (!number(v, vn, 0, 59, &r->minute))
                                return false;
                        r->has_minute = true;
                } else if (!strcasecmp(k, "BYSECOND")) {
                        if (!number(v, vn, 0, 0, &x))
                                return false;
                } else if (!strcasecmp(k, "BYMONTHDAY")) {
                        if (!number(v, vn, -1, 31, &r->monthday) || r->monthday == 0)
                                return false;
                        r->has_monthday = true;
                } else if (!strcasecmp(k, "BYMONTH")) {
                        if (!number(v, vn, 1, 12, &r->month))
                                return false;
                        r->has_month = true;
                } else if (!strcasecmp(k, "BYDAY")) {
                        if (!rule_byday(r, v))
                                return false;
                } else if (strcasecmp(k, "WKST") != 0) {
                        return false; /* BYSETPOS, BYYEARDAY, BYWEEKNO, ...: the rule's own text */
                }
        }
        return true;
}

static void put_every(out *o, long n, const char *unit) {
        if (n == 1)
                put(o, "Every %s", unit);
        else
                put(o, "Every %ld %ss", n, unit);
}

static bool rule_words(const char *text, out *o) {
        rule r;
        if (!rule_parse(text, &r))
                return false;
        bool timed = r.nh > 0 && r.has_minute;
        if (r.nh > 0 && !r.has_minute)
                return false; /* the minute would be DTSTART's: not in the text */
        if (!strcmp(r.freq, "MINUTELY") || !strcmp(r.freq, "HOURLY")) {
                if (r.nh || r.has_minute || r.has_byday || r.has_monthday || r.has_month)
                        return false;
                put_every(o, r.interval, r.freq[0] == 'M' ? "minute" : "hour");
        } else if (!strcmp(r.freq, "DAILY")) {
                if (r.has_monthday || r.has_month || r.nth || (r.has_byday && r.interval > 1))
                        return false;
                if (r.has_byday)
                        put_days(o, r.days, true);
                else
                        put_every(o, r.interval, "day");
        } else if (!strcmp(r.freq, "WEEKLY")) {
                if (r.has_monthday || r.has_month || r.nth)
                        return false;
                if (r.interval == 1 && r.has_byday) {
                        put_days(o, r.days, true);
                } else {
                        put_every(o, r.interval, "week");
                        if (r.has_byday && __builtin_popcount(r.days) == 1) {
                                put(o, " on %s", day_names[__builtin_ctz(r.days)]);
                        } else if (r.has_byday) {
                                put(o, " ");
                                put_days(o, r.days, false);
                        }
                }
        } else if (!strcmp(r.freq, "MONTHLY")) {
                if (r.has_month || (r.has_monthday && r.has_byday) || (r.has_byday && !r.nth))
                        return false;
                if (r.interval == 1)
                        put(o, "Monthly");
                else
                        put_every(o, r.interval, "month");
                if (r.has_monthday && r.monthday == -1)
                        put(o, " on the last day");
                else if (r.has_monthday)
                        put(o, " on day %ld", r.monthday);
                else if (r.nth)
                        put(o, " on the %s %s", ordinal(r.nth), day_names[__builtin_ctz(r.days)]);
        } else if (!strcmp(r.freq, "YEARLY")) {
                if (r.has_byday || !r.has_month || !r.has_monthday || r.monthday < 1)
                        return false;
                if (r.interval == 1)
                        put(o, "Every year");
                else
                        put_every(o, r.interval, "year");
                put(o, " on %ld %s", r.monthday, month_names[r.month - 1]);
        } else {
                return false;
        }
        if (timed)
                put_times(o, r.hours, r.nh, r.minute);
        if (r.count)
                put(o, ", %ld time%s", r.count, r.count == 1 ? "" : "s");
        if (r.until[0])
                put(o, ", until %.4s-%.2s-%.2s", r.until, r.until + 4, r.until + 6);
        return true;
}

/* ---- cron ---- */

static bool cron_words(const char *text, out *o) {
        while (isspace((unsigned char) *text))
                text++;
        static const struct {
                const char *macro, *words;
        } macros[] = {
                {"@hourly", "Every hour"},
                {"@daily", "Every day at 00:00"},
                {"@midnight", "Every day at 00:00"},
                {"@weekly", "Every Sunday at 00:00"},
                {"@monthly", "Monthly on day 1 at 00:00"},
                {"@yearly", "Every year on 1 January at 00:00"},
                {"@annually", "Every year on 1 January at 00:00"},
        };
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
                if (!strcasecmp(text, macros[i].macro)) {
                        put(o, "%s", macros[i].words);
                        return true;
                }
        cron_expr c;
        sked_err err = {0};
        if (cron_parse(text, &c, &err) < 0)
                return false;
        char buf[CRON_TEXT_MAX], *f[6];
        if (strlen(text) >= sizeof buf)
                return false;
        strcpy(buf, text);
        int n = 0;
        for (char *save = NULL, *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
                if (n == 6)
                        return false;
                f[n++] = t;
        }
        if (n == 6) { /* seconds first: only 0 is said */
                if (strcmp(f[0], "0") != 0)
                        return false;
                memmove(f, f + 1, 5 * sizeof f[0]);
        } else if (n != 5) {
                return false;
        }
        const char *min = f[0], *hour = f[1], *dom = f[2], *mon = f[3], *dow = f[4];
        bool rest_star = !strcmp(dom, "*") && !strcmp(mon, "*") && !strcmp(dow, "*");
        long m, hours[4], step;
        if (!strcmp(min, "*") && !strcmp(hour, "*") && rest_star) {
                put(o, "Every minute");
                return true;
        }
        if (!strncmp(min, "*/", 2) && !strcmp(hour, "*") && rest_star) {
                if (!number(min + 2, strlen(min + 2), 1, 59, &step))
                        return false;
                put_every(o, step, "minute");
                return true;
        }
        if (!number(min, strlen(min), 0, 59, &m))
                return false;
        if (!strcmp(hour, "*") && rest_star) {
                put(o, "Every hour at minute %ld", m);
                return true;
        }
        int nh = number_list(hour, 0, 23, hours, 4);
        if (nh < 0 || strcmp(mon, "*") != 0)
                return false;
        bool dom_star = !strcmp(dom, "*"), dow_star = !strcmp(dow, "*");
        if (dom_star && dow_star) {
                put(o, "Every day");
        } else if (dom_star) {
                unsigned mask = 0; /* cron's Sunday = 0 to Monday = bit 0 */
                for (int d = 0; d < 7; d++)
                        if (c.dow & (1u << d))
                                mask |= 1u << ((d + 6) % 7);
                put_days(o, mask, true);
        } else if (dow_star) {
                long d;
                if (!strcasecmp(dom, "L"))
                        put(o, "Monthly on the last day");
                else if (number(dom, strlen(dom), 1, 31, &d))
                        put(o, "Monthly on day %ld", d);
                else
                        return false;
        } else {
                return false; /* the Vixie "either" rule: the expression says it better */
        }
        put_times(o, hours, nh, m);
        return true;
}

/* ---- every ---- */

static bool interval_words(const char *text, out *o) {
        while (isspace((unsigned char) *text))
                text++;
        int64_t s;
        sked_err err = {0};
        if (interval_parse(text, &s, &err) < 0)
                return false;
        if (s % 3600 == 0)
                put_every(o, (long) (s / 3600), "hour");
        else if (s % 60 == 0)
                put_every(o, (long) (s / 60), "minute");
        else
                put_every(o, (long) s, "second");
        return true;
}

static bool has_prefix(const char *s, const char *p) {
        return !strncasecmp(s, p, strlen(p));
}

void schedule_words(const char *spec, const char *tz, char *buf, size_t len) {
        if (!len)
                return;
        out o = {.buf = buf, .len = len};
        bool zoned = true, ok;
        buf[0] = '\0';
        if (has_prefix(spec, "RRULE:") || has_prefix(spec, "FREQ="))
                ok = rule_words(has_prefix(spec, "RRULE:") ? spec + 6 : spec, &o);
        else if (has_prefix(spec, "cron:"))
                ok = cron_words(spec + 5, &o);
        else if (has_prefix(spec, "every:") || has_prefix(spec, "every "))
                ok = interval_words(spec + 6, &o), zoned = false;
        else
                ok = cron_words(spec, &o); /* a bare cron expression or macro */
        if (ok && zoned && tz && *tz)
                put(&o, ", %s", tz);
        if (!ok || o.full)
                snprintf(buf, len, "%s", spec);
}
