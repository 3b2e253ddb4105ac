/* cron: parsing and wall-time matching.  See cron.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/civil.h"
#include "sched/cron.h"

#define DAY 86400LL

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

typedef struct field_desc {
        const char *name;
        int lo, hi;
        const char *const *names; /* names[i] is value lo+i... see name_base */
        int nnames, name_base;
        bool allow_l, allow_q;
} field_desc;

static const field_desc fields6[] = {
        {"second", 0, 59, NULL, 0, 0, false, false},        {"minute", 0, 59, NULL, 0, 0, false, false},
        {"hour", 0, 23, NULL, 0, 0, false, false},          {"day-of-month", 1, 31, NULL, 0, 0, true, true},
        {"month", 1, 12, month_names, 12, 1, false, false}, {"day-of-week", 0, 7, dow_names, 7, 0, false, true},
};

/* Reads a number or a name at *p; returns 0, or -EINVAL with msg filled. */
static int read_value(const field_desc *f, const char **p, int *ret, char *msg, size_t msglen) {
        const char *s = *p;
        if (isdigit((unsigned char) *s)) {
                long v = 0;
                int nd = 0;
                while (isdigit((unsigned char) *s)) {
                        if (++nd > 4) {
                                snprintf(msg, msglen, "number too long");
                                return -EINVAL;
                        }
                        v = v * 10 + (*s++ - '0');
                }
                if (v < f->lo || v > f->hi) {
                        snprintf(msg, msglen, "%ld is out of range %d..%d", v, f->lo, f->hi);
                        return -EINVAL;
                }
                *ret = (int) v;
                *p = s;
                return 0;
        }
        if (f->names && isalpha((unsigned char) s[0])) {
                for (int i = 0; i < f->nnames; i++)
                        if (!strncasecmp(s, f->names[i], 3) && !isalpha((unsigned char) s[3])) {
                                *ret = f->name_base + i;
                                *p = s + 3;
                                return 0;
                        }
        }
        int n = 0;
        while (s[n] && s[n] != ',' && s[n] != '-' && s[n] != '/' && n < 16)
                n++;
        snprintf(msg, msglen, "\"%.*s\" is not a %s", n, s,
                 f->names ? (f->nnames == 12 ? "month (1..12 or JAN..DEC)" : "day (0..7 or SUN..SAT)") : "number");
        return -EINVAL;
}

/* Parses one field into a bit set; *ret_star when the field starts with '*' or '?'. */
static int parse_field(const field_desc *f, const char *s, size_t len, uint64_t *ret_bits, bool *ret_star,
                       bool *ret_last, char *msg, size_t msglen) {
        char buf[CRON_TEXT_MAX + 1];
        uint64_t bits = 0;
        bool last = false;
        memcpy(buf, s, len);
        buf[len] = '\0';
        const char *p = buf;
        for (;;) {
                int a, b, step = 1;
                bool star = false;
                if (*p == '*' || (f->allow_q && *p == '?')) {
                        if (*p == '?' && (p != buf || p[1])) {
                                snprintf(msg, msglen, "'?' must stand alone");
                                return -EINVAL;
                        }
                        a = f->lo;
                        b = f->hi == 7 ? 6 : f->hi;
                        star = true;
                        p++;
                } else if (f->allow_l && (*p == 'L' || *p == 'l') && (p[1] == ',' || !p[1])) {
                        last = true;
                        p++;
                        goto next;
                } else {
                        if (read_value(f, &p, &a, msg, msglen) < 0)
                                return -EINVAL;
                        b = a;
                        if (*p == '-') {
                                p++;
                                if (read_value(f, &p, &b, msg, msglen) < 0)
                                        return -EINVAL;
                                if (b < a) {
                                        snprintf(msg, msglen, "range %d-%d is backwards", a, b);
                                        return -EINVAL;
                                }
                        }
                }
                if (*p == '/') {
                        p++;
                        long v = 0;
                        int nd = 0;
                        while (isdigit((unsigned char) *p) && nd < 5) {
                                v = v * 10 + (*p++ - '0');
                                nd++;
                        }
                        if (nd == 0 || v < 1 || v > f->hi - f->lo + 1) {
                                snprintf(msg, msglen, "step must be 1..%d", f->hi - f->lo + 1);
                                return -EINVAL;
                        }
                        step = (int) v;
                        if (!star && b == a)
                                b = f->hi; /* "a/n" means a..max every n */
                }
                for (int v = a; v <= b; v += step)
                        bits |= 1ULL << (f->hi == 7 && v == 7 ? 0 : v);
        next:
                if (*p == ',') {
                        p++;
                        continue;
                }
                if (*p) {
                        snprintf(msg, msglen, "unexpected \"%.16s\"", p);
                        return -EINVAL;
                }
                break;
        }
        *ret_bits = bits;
        *ret_star = buf[0] == '*' || buf[0] == '?';
        *ret_last = last;
        return 0;
}

int cron_parse(const char *text, cron_expr *ret, sked_err *err) {
        static const struct {
                const char *name, *expansion;
        } macros[] = {
                {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
                {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
                {"@hourly", "0 * * * *"},
        };
        cron_expr c;
        char msg[160];
        const char *src = text;

        if (!text)
                return err_set(err, -EINVAL, "cron: empty expression");
        if (strlen(text) > CRON_TEXT_MAX)
                return err_set(err, -EINVAL, "cron: expression longer than %d characters", CRON_TEXT_MAX);
        while (isspace((unsigned char) *src))
                src++;
        if (*src == '@') {
                size_t n = strlen(src);
                while (n > 0 && isspace((unsigned char) src[n - 1]))
                        n--;
                const char *exp = NULL;
                for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
                        if (strlen(macros[i].name) == n && !strncasecmp(src, macros[i].name, n))
                                exp = macros[i].expansion;
                if (!exp)
                        return err_set(err, -EINVAL,
                                       "cron \"%s\": unknown macro (expected @yearly, @monthly, "
                                       "@weekly, @daily or @hourly)",
                                       text);
                src = exp;
        }

        const char *start[7];
        size_t len[7];
        int nf = 0;
        for (const char *p = src; *p;) {
                while (isspace((unsigned char) *p))
                        p++;
                if (!*p)
                        break;
                const char *q = p;
                while (*q && !isspace((unsigned char) *q))
                        q++;
                if (nf == 7)
                        break;
                start[nf] = p;
                len[nf++] = (size_t) (q - p);
                p = q;
        }
        if (nf != 5 && nf != 6)
                return err_set(err, -EINVAL,
                               "cron \"%s\": expected 5 fields (minute hour day-of-month month "
                               "day-of-week) or 6 (seconds first), got %d",
                               text, nf > 6 ? 7 : nf);

        memset(&c, 0, sizeof c);
        c.sec = 1; /* second 0 when there are five fields */
        for (int i = 0; i < nf; i++) {
                const field_desc *f = &fields6[i + (nf == 5)];
                uint64_t bits;
                bool star, last;
                if (parse_field(f, start[i], len[i], &bits, &star, &last, msg, sizeof msg) < 0)
                        return err_set(err, -EINVAL, "cron \"%s\": %s: %s", text, f->name, msg);
                switch (f - fields6) {
                case 0:
                        c.sec = bits;
                        break;
                case 1:
                        c.min = bits;
                        break;
                case 2:
                        c.hour = (uint32_t) bits;
                        break;
                case 3:
                        c.dom = (uint32_t) bits;
                        c.dom_last = last;
                        c.dom_star = star;
                        break;
                case 4:
                        c.mon = (uint16_t) bits;
                        break;
                case 5:
                        c.dow = (uint8_t) bits;
                        c.dow_star = star;
                        break;
                }
        }
        c.all_hours = c.hour == 0xFFFFFFu;
        /* Reject day-of-month sets that no chosen month has (30 2 *): they never fire. */
        if (c.dow_star && !c.dom_last) {
                static const int maxdays[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
                bool ok = false;
                for (int m = 1; m <= 12 && !ok; m++)
                        if (c.mon & (1u << m))
                                for (int d = 1; d <= maxdays[m] && !ok; d++)
                                        ok = c.dom & (1u << d);
                if (!ok)
                        return err_set(err, -EINVAL,
                                       "cron \"%s\": day-of-month: no chosen month has that day, "
                                       "the expression never fires",
                                       text);
        }
        *ret = c;
        return 0;
}

bool cron_day_matches(const cron_expr *c, int year, int month, int day) {
        if (!(c->mon & (1u << month)))
                return false;
        bool dom = (c->dom & (1u << day)) || (c->dom_last && day == civil_days_in_month(year, month));
        bool dow = c->dow & (1u << civil_weekday(civil_days_from_date(year, month, day)));
        if (c->dom_star || c->dow_star)
                return dom && dow;
        return dom || dow;
}

bool cron_matches(const cron_expr *c, int64_t local) {
        int64_t days = civil_floor_div(local, DAY);
        int64_t tod = local - days * DAY;
        int y, m, d;
        if (!(c->hour & (1u << (tod / 3600))) || !(c->min & (1ULL << (tod / 60 % 60))) ||
            !(c->sec & (1ULL << (tod % 60))))
                return false;
        civil_date_from_days(days, &y, &m, &d);
        return cron_day_matches(c, y, m, d);
}

/* Lowest set bit >= from, or -1. */
static int next_bit(uint64_t bits, int from) {
        if (from > 63)
                return -1;
        uint64_t b = bits >> from;
        return b ? from + __builtin_ctzll(b) : -1;
}

/* First matching time of day >= tod (seconds), or -1. */
static int64_t next_in_day(const cron_expr *c, int64_t tod) {
        int h = (int) (tod / 3600), m = (int) (tod / 60 % 60), s = (int) (tod % 60);
        for (;;) {
                int h2 = next_bit(c->hour, h);
                if (h2 < 0)
                        return -1;
                if (h2 != h)
                        m = s = 0;
                h = h2;
                for (;;) {
                        int m2 = next_bit(c->min, m);
                        if (m2 < 0)
                                break;
                        if (m2 != m)
                                s = 0;
                        m = m2;
                        int s2 = next_bit(c->sec, s);
                        if (s2 >= 0)
                                return (int64_t) h * 3600 + m * 60 + s2;
                        m++;
                        s = 0;
                }
                h++;
                m = s = 0;
        }
        return -1;
}

int cron_next_wall(const cron_expr *c, int64_t local, int64_t limit, int64_t *ret) {
        int64_t days = civil_floor_div(local, DAY);
        int64_t tod = local - days * DAY;
        int y, m, d;
        civil_date_from_days(days, &y, &m, &d);
        for (int64_t end = days + CRON_SEARCH_DAYS; days * DAY <= limit && days < end;) {
                if (!(c->mon & (1u << m))) {
                        /* Jump to the first of the next month. */
                        days += civil_days_in_month(y, m) - d + 1;
                        if (++m > 12) {
                                m = 1;
                                y++;
                        }
                        d = 1;
                        tod = 0;
                        continue;
                }
                if (cron_day_matches(c, y, m, d)) {
                        int64_t t = next_in_day(c, tod);
                        if (t >= 0) {
                                int64_t r = days * DAY + t;
                                if (r > limit)
                                        return -ENOENT;
                                *ret = r;
                                return 0;
                        }
                }
                days++;
                tod = 0;
                if (++d > civil_days_in_month(y, m)) {
                        d = 1;
                        if (++m > 12) {
                                m = 1;
                                y++;
                        }
                }
        }
        return -ENOENT;
}
