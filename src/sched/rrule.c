/* rrule: validation, normalisation and floating expansion.  See rrule.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libical/ical.h>

#include "base/strbuf.h"
#include "sched/rrule.h"
#include "sched/rrule_internal.h"

#define DAY 86400LL
/* Wall times beyond this year are never produced (libical stops well before). */
#define YEAR_MAX 9999

enum { F_SECONDLY, F_MINUTELY, F_HOURLY, F_DAILY, F_WEEKLY, F_MONTHLY, F_YEARLY };
static const char *const freq_names[] = {"SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"};
static const char *const day_names[] = {"SU", "MO", "TU", "WE", "TH", "FR", "SA"};

enum {
        K_FREQ,
        K_INTERVAL,
        K_COUNT,
        K_UNTIL,
        K_BYSECOND,
        K_BYMINUTE,
        K_BYHOUR,
        K_BYDAY,
        K_BYMONTHDAY,
        K_BYYEARDAY,
        K_BYWEEKNO,
        K_BYMONTH,
        K_BYSETPOS,
        K_WKST,
        K_N
};
static const char *const key_names[K_N] = {"FREQ",     "INTERVAL", "COUNT",    "UNTIL",      "BYSECOND",
                                           "BYMINUTE", "BYHOUR",   "BYDAY",    "BYMONTHDAY", "BYYEARDAY",
                                           "BYWEEKNO", "BYMONTH",  "BYSETPOS", "WKST"};

/* libical 3.0.16 gives no wall after this year (MAX_TIME_T_YEAR in icalrecur.c) and
 * refuses to start later; the fast path stops there too. */
#define ICAL_YEAR_LAST 2582
/* libical expands through ICU, whose calendar is Julian before 1582-10-15: rules
 * starting earlier stay on libical, so that their walls do not change. */
#define FAST_YEAR_FIRST 1583

/* The fast path's plan: the values each field may take, DTSTART's defaults filled
 * in.  Bits, not lists: a million rules live in memory at once. */
typedef struct fastplan {
        uint64_t secs, mins; /* bit n: second, minute n */
        uint32_t hours;      /* bit n: hour n */
        uint32_t mdays;      /* bit n: day n of the month */
        uint32_t mdays_neg;  /* bit n: day -n of the month */
        uint16_t months;     /* bit n: month n, 1..12 */
        uint8_t wdays;       /* bit n: weekday n, 0 = Sunday */
} fastplan;

struct rrule {
        char *ical;          /* normalised rule for libical: no COUNT/UNTIL, defaults
                              * explicit; NULL on the fast path */
        int64_t dtstart;     /* wall time */
        int64_t until_local; /* last allowed wall time, INT64_MAX if none */
        sked_time until_utc;
        union {
                fastplan fast; /* when is_fast */
                /* BYWEEKNO (libical path): bit n of weeks_pos for week n, of
                 * weeks_neg for week -n */
                struct {
                        uint64_t weeks_pos, weeks_neg;
                };
        };
        uint16_t interval;
        /* Checks applied to every wall libical yields: libical 3.0.16 yields wrong
         * days for some BYWEEKNO rules (FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO gives a
         * Tuesday, 2026-12-29).  0 = no constraint. */
        uint16_t month_mask;
        uint8_t wday_mask;
        uint8_t freq, wkst;
        bool has_until_utc : 1, is_fast : 1; /* 72 bytes in all, as before the fast path */
};

struct rrule_iter {
        const rrule *r;
        icalrecur_iterator *it; /* libical path only */
        int64_t from;           /* fast path: no wall before it is left to give */
        int64_t until;
        bool done;
};

static struct icaltimetype ical_from_local(int64_t local) {
        civil c;
        civil_from_seconds(local, &c);
        struct icaltimetype t = icaltime_null_time();
        t.year = c.year;
        t.month = c.month;
        t.day = c.day;
        t.hour = c.hour;
        t.minute = c.minute;
        t.second = c.second;
        t.is_date = 0;
        t.zone = NULL;
        return t;
}

static int64_t local_from_ical(struct icaltimetype t) {
        civil c = {t.year, t.month, t.day, t.hour, t.minute, t.second};
        return civil_to_seconds(&c);
}

/* Parses an integer list "1,-2,3" with each |value| in lo..hi (0 refused when
 * nonzero is set).  Returns the count or -EINVAL. */
static int int_list(const char *v, int lo, int hi, bool signed_ok, int *out, int max) {
        int n = 0;
        const char *p = v;
        for (;;) {
                int sign = 1;
                if (*p == '+' || *p == '-') {
                        if (!signed_ok)
                                return -EINVAL;
                        sign = *p++ == '-' ? -1 : 1;
                }
                int x = 0, nd = 0;
                while (isdigit((unsigned char) *p) && nd < 4) {
                        x = x * 10 + (*p++ - '0');
                        nd++;
                }
                if (nd == 0 || x < lo || x > hi || (signed_ok && x == 0) || n == max)
                        return -EINVAL;
                out[n++] = sign * x;
                if (*p == ',') {
                        p++;
                        continue;
                }
                return *p ? -EINVAL : n;
        }
}

static int day_index(const char *p) {
        for (int i = 0; i < 7; i++)
                if (p[0] == day_names[i][0] && p[1] == day_names[i][1])
                        return i;
        return -1;
}

/* BYDAY: "MO,-1FR,2TU"; sets *has_ordinal.  Returns the count or -EINVAL. */
static int byday_list(const char *v, int max_ord, bool *has_ordinal) {
        int n = 0;
        const char *p = v;
        for (;;) {
                int x = 0, nd = 0;
                bool had_sign = *p == '+' || *p == '-';
                if (had_sign)
                        p++;
                while (isdigit((unsigned char) *p) && nd < 3) {
                        x = x * 10 + (*p++ - '0');
                        nd++;
                }
                if (nd > 0) {
                        if (x < 1 || x > max_ord)
                                return -EINVAL;
                        *has_ordinal = true;
                } else if (had_sign) {
                        return -EINVAL;
                }
                if (day_index(p) < 0)
                        return -EINVAL;
                p += 2;
                n++;
                if (*p == ',') {
                        p++;
                        continue;
                }
                return *p ? -EINVAL : n;
        }
}

static int int_cmp(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;
        return (x > y) - (x < y);
}

/* Writes the checked integer list `v` sorted and without repeats to out (room for
 * strlen(v) + 1 bytes: no value grows, "+05" becomes "5"). */
static void norm_int_list(const char *v, bool signed_ok, char *out) {
        int ints[400];
        int n = int_list(v, signed_ok ? 1 : 0, 9999, signed_ok, ints, 400);
        qsort(ints, (size_t) n, sizeof ints[0], int_cmp);
        char *o = out;
        for (int i = 0; i < n; i++)
                if (i == 0 || ints[i] != ints[i - 1])
                        o += sprintf(o, i ? ",%d" : "%d", ints[i]);
        *o = '\0';
}

/* Writes the checked BYDAY list `v` without repeats ("MO,+1MO,MO,1MO" -> "MO,1MO")
 * to out, in the order given: repeats are what made libical yield walls twice. */
static void norm_byday(const char *v, char *out) {
        bool seen[7][107] = {{0}}; /* [weekday][ordinal + 53] */
        char *o = out;
        for (const char *p = v; *p;) {
                int sign = 1, x = 0;
                if (*p == '+' || *p == '-')
                        sign = *p++ == '-' ? -1 : 1;
                while (isdigit((unsigned char) *p))
                        x = x * 10 + (*p++ - '0');
                int d = day_index(p);
                p += 2;
                if (*p == ',')
                        p++;
                int ord = sign * x; /* -53..53, 0 = every such weekday */
                if (seen[d][ord + 53])
                        continue;
                seen[d][ord + 53] = true;
                if (o != out)
                        *o++ = ',';
                o += ord ? sprintf(o, "%d%s", ord, day_names[d]) : sprintf(o, "%s", day_names[d]);
        }
        *o = '\0';
}

/* "YYYYMMDD", "YYYYMMDDTHHMMSS" or with 'Z'. */
static int parse_until(const char *v, int64_t *ret_local, bool *ret_utc) {
        civil c = {0, 0, 0, 23, 59, 59};
        size_t n = strlen(v);
        for (size_t i = 0; i < n; i++)
                if (!(isdigit((unsigned char) v[i]) || (i == 8 && v[i] == 'T') || (i == 15 && v[i] == 'Z')))
                        return -EINVAL;
        if (n != 8 && n != 15 && n != 16)
                return -EINVAL;
        if (sscanf(v, "%4d%2d%2d", &c.year, &c.month, &c.day) != 3)
                return -EINVAL;
        if (n >= 15 && sscanf(v + 9, "%2d%2d%2d", &c.hour, &c.minute, &c.second) != 3)
                return -EINVAL;
        if (!civil_valid(&c))
                return -EINVAL;
        *ret_local = civil_to_seconds(&c);
        *ret_utc = n == 16;
        return 0;
}

/* The bits of a BYSECOND, BYMINUTE, BYHOUR or BYMONTH list (rrule_parse_flags
 * checked it). */
static uint64_t list_bits(const char *v, int hi) {
        int ints[60];
        int n = int_list(v, 0, hi, false, ints, 60);
        uint64_t bits = 0;
        for (int i = 0; i < n; i++)
                bits |= 1ull << ints[i];
        return bits;
}

/* One time field of the plan: its list if given (a filter, also for FREQ's own
 * unit: FREQ=HOURLY;BYHOUR=5,17 is every day's 05:MM:SS and 17:MM:SS); DTSTART's
 * value when the field is finer than FREQ (RFC 5545); else any. */
static uint64_t time_field(const char *list, int hi, bool finer, int dt_value) {
        if (list)
                return list_bits(list, hi);
        return finer ? 1ull << dt_value : (2ull << hi) - 1;
}

/* Month days; a negative BYMONTHDAY counts from the month's end (RFC 5545), for
 * every FREQ: FREQ=DAILY;BYMONTHDAY=-1 is each month's last day.  libical 3.0.16
 * only does so where it expands the list (MONTHLY); below, it compares the day with
 * the value as written and a negative one never matches. */
static void mday_field(fastplan *f, const char *list, int freq, bool has_byday, int dt_day) {
        int ints[366];
        if (!list) {
                f->mdays = freq == F_MONTHLY && !has_byday ? 1u << dt_day : 0xfffffffeu;
                return;
        }
        int n = int_list(list, 1, 31, true, ints, 366);
        for (int i = 0; i < n; i++) {
                if (ints[i] > 0)
                        f->mdays |= 1u << ints[i];
                else
                        f->mdays_neg |= 1u << -ints[i];
        }
}

/* BYDAY without ordinals as bits; without BYDAY, WEEKLY takes DTSTART's weekday. */
static void wday_field(fastplan *f, const char *list, int freq, int dt_wday) {
        if (!list) {
                f->wdays = freq == F_WEEKLY ? (uint8_t) (1u << dt_wday) : 0x7f;
                return;
        }
        for (const char *p = list;; p += 3) {
                f->wdays |= (uint8_t) (1u << day_index(p));
                if (!p[2])
                        return;
        }
}

/* Fills the fast path's plan when the rule lies in its subset: INTERVAL=1, FREQ
 * SECONDLY..MONTHLY, lists of seconds, minutes, hours, weekdays without ordinals,
 * month days and months; DTSTART in 1583..2582.  The plan gives the RFC 5545 set:
 * the walls >= DTSTART whose every field is allowed (test_rrule.c checks it against
 * a brute-force oracle, fast_matches_oracle).  False otherwise. */
static bool fast_plan(fastplan *f, const char *const val[K_N], int freq, int interval, bool has_ordinal,
                      const civil *dt) {
        *f = (fastplan){0};
        if (interval != 1 || freq > F_MONTHLY || has_ordinal || val[K_BYYEARDAY] || val[K_BYWEEKNO] ||
            val[K_BYSETPOS] || dt->year < FAST_YEAR_FIRST || dt->year > ICAL_YEAR_LAST)
                return false;
        f->secs = time_field(val[K_BYSECOND], 59, freq > F_SECONDLY, dt->second);
        f->mins = time_field(val[K_BYMINUTE], 59, freq > F_MINUTELY, dt->minute);
        f->hours = (uint32_t) time_field(val[K_BYHOUR], 23, freq > F_HOURLY, dt->hour);
        int64_t days = civil_days_from_date(dt->year, dt->month, dt->day);
        wday_field(f, val[K_BYDAY], freq, civil_weekday(days));
        mday_field(f, val[K_BYMONTHDAY], freq, val[K_BYDAY] != NULL, dt->day);
        f->months = val[K_BYMONTH] ? (uint16_t) list_bits(val[K_BYMONTH], 12) : 0x1ffe;
        return true;
}

/* The libical path's part of r: the normalised text for libical (defaults taken
 * from DTSTART made explicit, so that expansion can restart at a period boundary
 * and give the same set) and the checks applied to what libical yields.  -ENOMEM. */
static int ical_plan(rrule *r, const char *const val[K_N], int freq, int interval, const civil *dt, int64_t dtstart) {
        strbuf sb = STRBUF_INIT;
        strbuf_printf(&sb, "FREQ=%s;INTERVAL=%d", freq_names[freq], interval);
        for (int k = K_BYSECOND; k <= K_WKST; k++)
                if (val[k])
                        strbuf_printf(&sb, ";%s=%s", key_names[k], val[k]);
        if (!val[K_BYSECOND] && freq > F_SECONDLY)
                strbuf_printf(&sb, ";BYSECOND=%d", dt->second);
        if (!val[K_BYMINUTE] && freq > F_MINUTELY)
                strbuf_printf(&sb, ";BYMINUTE=%d", dt->minute);
        if (!val[K_BYHOUR] && freq > F_HOURLY)
                strbuf_printf(&sb, ";BYHOUR=%d", dt->hour);
        bool dayish = val[K_BYDAY] || val[K_BYMONTHDAY] || val[K_BYYEARDAY];
        int wd = civil_weekday(civil_floor_div(dtstart, DAY));
        if (freq == F_WEEKLY && !val[K_BYDAY])
                strbuf_printf(&sb, ";BYDAY=%s", day_names[wd]);
        if (freq == F_MONTHLY && !dayish && !val[K_BYWEEKNO])
                strbuf_printf(&sb, ";BYMONTHDAY=%d", dt->day);
        if (freq == F_YEARLY && !dayish) {
                if (val[K_BYWEEKNO]) {
                        strbuf_printf(&sb, ";BYDAY=%s", day_names[wd]);
                } else {
                        if (!val[K_BYMONTH])
                                strbuf_printf(&sb, ";BYMONTH=%d", dt->month);
                        strbuf_printf(&sb, ";BYMONTHDAY=%d", dt->day);
                }
        }
        if (sb.oom) {
                strbuf_free(&sb);
                return -ENOMEM;
        }
        r->ical = strbuf_steal(&sb);
        if (!r->ical)
                return -ENOMEM;
        r->wkst = (uint8_t) (val[K_WKST] ? day_index(val[K_WKST]) : 1);
        if (val[K_BYDAY])
                for (const char *p = val[K_BYDAY]; *p; p++)
                        if (isalpha((unsigned char) p[0]) && isalpha((unsigned char) p[1]))
                                r->wday_mask |= (uint8_t) (1u << day_index(p++));
        if (val[K_BYMONTH])
                r->month_mask = (uint16_t) list_bits(val[K_BYMONTH], 12);
        if (val[K_BYWEEKNO]) {
                int ints[60];
                int nw = int_list(val[K_BYWEEKNO], 1, 53, true, ints, 60);
                for (int i = 0; i < nw; i++) {
                        if (ints[i] > 0)
                                r->weeks_pos |= 1ull << ints[i];
                        else
                                r->weeks_neg |= 1ull << -ints[i];
                }
        }
        return 0;
}

void rrule_free(rrule *r) {
        if (!r)
                return;
        free(r->ical);
        free(r);
}

int rrule_parse(const char *text, int64_t dtstart, rrule **ret, sked_err *err) {
        return rrule_parse_flags(text, dtstart, 0, ret, err);
}

int rrule_parse_flags(const char *text, int64_t dtstart, unsigned flags, rrule **ret, sked_err *err) {
        char buf[RRULE_TEXT_MAX + 1];
        const char *val[K_N] = {0};
        int ints[400];
        bool has_ordinal = false;
        rrule *r = NULL;
        int rc, count = 0;
        civil dt;

        char msg[256];
#define BAD(...)                                                                                                       \
        do {                                                                                                           \
                snprintf(msg, sizeof msg, __VA_ARGS__);                                                                \
                rc = err_set(err, -EINVAL, "rrule \"%s\": %s", text, msg);                                             \
                goto fail;                                                                                             \
        } while (0)

        if (!text || !*text)
                return err_set(err, -EINVAL, "rrule: empty rule");
        if (strlen(text) > RRULE_TEXT_MAX)
                return err_set(err, -EINVAL, "rrule: rule longer than %d characters", RRULE_TEXT_MAX);
        civil_from_seconds(dtstart, &dt);
        if (dt.year < 1 || dt.year > YEAR_MAX)
                return err_set(err, -EINVAL, "rrule \"%s\": DTSTART out of range", text);
        for (size_t i = 0; text[i]; i++)
                buf[i] = (char) toupper((unsigned char) text[i]);
        buf[strlen(text)] = '\0';

        for (char *save = NULL, *part = strtok_r(buf, ";", &save); part; part = strtok_r(NULL, ";", &save)) {
                char *eq = strchr(part, '=');
                if (!eq)
                        BAD("\"%.32s\" is not KEY=VALUE", part);
                *eq = '\0';
                int k = 0;
                while (k < K_N && strcmp(part, key_names[k]))
                        k++;
                if (k == K_N)
                        BAD("unknown key %.32s", part);
                if (val[k])
                        BAD("%s given twice", key_names[k]);
                if (!eq[1])
                        BAD("%s has no value", key_names[k]);
                val[k] = eq + 1;
        }
        if (!val[K_FREQ])
                BAD("FREQ is required");
        int freq = 0;
        while (freq < 7 && strcmp(val[K_FREQ], freq_names[freq]))
                freq++;
        if (freq == 7)
                BAD("FREQ must be SECONDLY, MINUTELY, HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY");
        int interval = 1;
        if (val[K_INTERVAL] && (int_list(val[K_INTERVAL], 1, 9999, false, &interval, 1) != 1))
                BAD("INTERVAL must be 1..9999");
        if (val[K_COUNT]) {
                char *e;
                long c = strtol(val[K_COUNT], &e, 10);
                if (*e || !isdigit((unsigned char) val[K_COUNT][0]) || c < 1 || c > RRULE_COUNT_MAX)
                        BAD("COUNT must be 1..%d", RRULE_COUNT_MAX);
                count = (int) c;
        }
        if (val[K_COUNT] && val[K_UNTIL])
                BAD("COUNT and UNTIL cannot both be given");
        int64_t until_local = INT64_MAX;
        bool until_utc = false;
        if (val[K_UNTIL] && parse_until(val[K_UNTIL], &until_local, &until_utc) < 0)
                BAD("UNTIL must be YYYYMMDD, YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ");
        static const struct {
                int key, lo, hi;
                bool sgn;
        } ranges[] = {
                {K_BYSECOND, 0, 59, false},  {K_BYMINUTE, 0, 59, false},  {K_BYHOUR, 0, 23, false},
                {K_BYMONTHDAY, 1, 31, true}, {K_BYYEARDAY, 1, 366, true}, {K_BYWEEKNO, 1, 53, true},
                {K_BYMONTH, 1, 12, false},   {K_BYSETPOS, 1, 366, true},
        };
        for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
                int k = ranges[i].key;
                if (val[k] && int_list(val[k], ranges[i].lo, ranges[i].hi, ranges[i].sgn, ints, 366) < 0) {
                        if (ranges[i].sgn)
                                BAD("%s must be 1..%d or -%d..-1", key_names[k], ranges[i].hi, ranges[i].hi);
                        BAD("%s must be %d..%d", key_names[k], ranges[i].lo, ranges[i].hi);
                }
        }
        if (val[K_BYDAY] && byday_list(val[K_BYDAY], freq == F_YEARLY ? 53 : 5, &has_ordinal) < 0)
                BAD("BYDAY must be a list of SU..SA, each optionally preceded by an ordinal 1..%d or -%d..-1",
                    freq == F_YEARLY ? 53 : 5, freq == F_YEARLY ? 53 : 5);
        if (val[K_WKST] && (strlen(val[K_WKST]) != 2 || day_index(val[K_WKST]) < 0))
                BAD("WKST must be one of SU, MO, TU, WE, TH, FR, SA");
        if (has_ordinal && freq != F_MONTHLY && freq != F_YEARLY)
                BAD("BYDAY ordinals (like 1MO or -1FR) need FREQ=MONTHLY or FREQ=YEARLY");
        if (has_ordinal && freq == F_YEARLY && val[K_BYWEEKNO])
                BAD("BYDAY ordinals cannot be combined with BYWEEKNO");
        if (val[K_BYWEEKNO] && freq != F_YEARLY)
                BAD("BYWEEKNO needs FREQ=YEARLY");
        if (val[K_BYYEARDAY] && (freq == F_DAILY || freq == F_WEEKLY || freq == F_MONTHLY))
                BAD("BYYEARDAY cannot be used with FREQ=%s", freq_names[freq]);
        if (val[K_BYMONTHDAY] && freq == F_WEEKLY)
                BAD("BYMONTHDAY cannot be used with FREQ=WEEKLY");
        if (val[K_BYSETPOS]) {
                bool other = false;
                for (int k = K_BYSECOND; k <= K_BYMONTH; k++)
                        other |= val[k] != NULL;
                if (!other)
                        BAD("BYSETPOS needs another BYxxx part");
        }

        /* Lists sorted and without repeats, for both paths: libical 3.0.16 walks time
         * lists in the order written ("BYHOUR=17,9" yields each day's walls backwards,
         * "BYHOUR=9,9" or "FREQ=WEEKLY;BYDAY=MO,MO" each wall twice). */
        char norm[RRULE_TEXT_MAX + K_N];
        size_t used = 0;
        for (int k = K_BYSECOND; k <= K_BYSETPOS; k++) {
                if (!val[k])
                        continue;
                char *o = norm + used;
                if (k == K_BYDAY)
                        norm_byday(val[k], o);
                else
                        norm_int_list(val[k],
                                      k == K_BYMONTHDAY || k == K_BYYEARDAY || k == K_BYWEEKNO || k == K_BYSETPOS, o);
                val[k] = o;
                used += strlen(o) + 1;
        }

        r = calloc(1, sizeof *r);
        if (!r) {
                rc = err_set(err, -ENOMEM, "rrule: out of memory");
                goto fail;
        }
        fastplan plan;
        r->is_fast = !(flags & RRULE_LIBICAL) && fast_plan(&plan, val, freq, interval, has_ordinal, &dt);
        if (r->is_fast) {
                r->fast = plan; /* the fast path keeps no text and no libical checks */
        } else if (ical_plan(r, val, freq, interval, &dt, dtstart) < 0) {
                rc = err_set(err, -ENOMEM, "rrule: out of memory");
                goto fail;
        }
        r->dtstart = dtstart;
        r->freq = (uint8_t) freq;
        r->interval = (uint16_t) interval;
        r->until_local = until_utc ? INT64_MAX : until_local;
        r->has_until_utc = until_utc;
        r->until_utc = until_utc ? until_local * SKED_USEC : 0;

        /* COUNT becomes a wall-time bound: walk the first COUNT walls once. */
        rrule_iter *it = NULL;
        int64_t w = 0;
        if ((rc = rrule_iter_new(r, dtstart, &it)) < 0) {
                rc = err_set(err, -EINVAL, "rrule \"%s\": the rule produces no occurrence (libical refused it)", text);
                goto fail;
        }
        int got = 0;
        while ((count == 0 ? got < 1 : got < count) && rrule_iter_next(it, &w) == 0)
                got++;
        rrule_iter_free(it);
        /* No libical here for the fast path's rules: it may walk every second up to
         * 2582 to find nothing (FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30). */
        if (got == 0)
                BAD("the rule produces no occurrence");
        if (count > 0)
                r->until_local = w;
        *ret = r;
        return 0;
fail:
        rrule_free(r);
        return rc;
#undef BAD
}

bool rrule_is_fast(const rrule *r) {
        return r->is_fast;
}

bool rrule_until_utc(const rrule *r, sked_time *ret) {
        if (r->has_until_utc)
                *ret = r->until_utc;
        return r->has_until_utc;
}

int64_t rrule_until_local(const rrule *r) {
        return r->until_local;
}

/* A wall time <= from at which a period of the rule starts (or DTSTART itself),
 * so that expanding from it yields every wall of the rule >= from. */
static int64_t restart_point(const rrule *r, int64_t from) {
        int64_t dt = r->dtstart;
        if (from <= dt)
                return dt;
        int64_t period;
        switch (r->freq) {
        case F_SECONDLY:
                period = 1;
                break;
        case F_MINUTELY:
                period = 60;
                break;
        case F_HOURLY:
                period = 3600;
                break;
        case F_DAILY:
                period = DAY;
                break;
        case F_WEEKLY:
                period = 7 * DAY;
                break;
        default:
                period = 0;
                break;
        }
        if (period) {
                period *= r->interval;
                int64_t k = civil_floor_div(from - 1 - dt, period);
                return k <= 0 ? dt : dt + k * period;
        }
        civil a, b;
        civil_from_seconds(dt, &a);
        civil_from_seconds(from - 1, &b);
        int64_t months = (int64_t) (b.year - a.year) * 12 + (b.month - a.month);
        int64_t step = r->freq == F_MONTHLY ? r->interval : 12LL * r->interval;
        int64_t k = months / step;
        if (k <= 0)
                return dt;
        int64_t m0 = (int64_t) a.year * 12 + (a.month - 1) + k * step;
        civil c = {(int) (m0 / 12), (int) (m0 % 12) + 1, 1, 0, 0, 0};
        if (r->freq == F_YEARLY)
                c.month = 1;
        int64_t p = civil_to_seconds(&c);
        /* The synthetic start may not match the rule and libical may still return
         * it; it lies before `from`, where the iterator drops walls anyway. */
        return p < from ? p : dt;
}

/* First day (days since epoch) of week 1 of `year`: the week holding Jan 4. */
static int64_t week1_start(int year, int wkst) {
        int64_t jan4 = civil_days_from_date(year, 1, 4);
        return jan4 - (civil_weekday(jan4) - wkst + 7) % 7;
}

static bool wall_ok(const rrule *r, int64_t w) {
        int64_t days = civil_floor_div(w, DAY);
        int y, m, d;
        int wd = civil_weekday(days);
        if (r->wday_mask && !(r->wday_mask & (1u << wd)))
                return false;
        civil_date_from_days(days, &y, &m, &d);
        if (r->month_mask && !(r->month_mask & (1u << m)))
                return false;
        if (r->weeks_pos || r->weeks_neg) {
                int64_t ws = days - (wd - r->wkst + 7) % 7;
                int wy, wm, wdd;
                civil_date_from_days(ws + 3, &wy, &wm, &wdd);
                int64_t w1 = week1_start(wy, r->wkst);
                int no = (int) ((ws - w1) / 7) + 1;
                int nweeks = (int) ((week1_start(wy + 1, r->wkst) - w1) / 7);
                int back = nweeks + 1 - no; /* the week counted from the year's end */
                if (!(r->weeks_pos >> no & 1) && !(back >= 1 && back <= 53 && r->weeks_neg >> back & 1))
                        return false;
        }
        return true;
}

/* The first bit set in `mask` at `from` or above, or -1. */
static int next_bit(uint64_t mask, int from) {
        uint64_t m = from < 64 ? mask >> from : 0;
        return m ? from + __builtin_ctzll(m) : -1;
}

/* The first time of day (seconds) >= tod that the plan allows, or -1. */
static int next_time(const fastplan *f, int tod) {
        int h0 = tod / 3600, m0 = tod / 60 % 60, s0 = tod % 60;
        for (int h = next_bit(f->hours, h0); h >= 0; h = next_bit(f->hours, h + 1)) {
                if (h > h0)
                        m0 = s0 = 0;
                for (int m = next_bit(f->mins, m0); m >= 0; m = next_bit(f->mins, m + 1)) {
                        int s = next_bit(f->secs, m > m0 ? 0 : s0);
                        if (s >= 0)
                                return h * 3600 + m * 60 + s;
                }
        }
        return -1;
}

static bool day_allowed(const fastplan *f, int d, int dim, int wd) {
        return (f->wdays >> wd & 1) && ((f->mdays >> d & 1) || (f->mdays_neg >> (dim + 1 - d) & 1));
}

/* The first wall >= t that the plan allows, if there is one <= last.  Months the
 * plan excludes are skipped whole, days one by one without calendar arithmetic, and
 * within a day the next allowed hour, minute and second are looked up in the bits:
 * FREQ=SECONDLY;BYMONTH=2 from March costs a dozen steps, not millions. */
static bool fast_find(const fastplan *f, int64_t t, int64_t last, int64_t *ret) {
        int64_t days = civil_floor_div(t, DAY);
        int tod = (int) (t - days * DAY), y, m, d;
        civil_date_from_days(days, &y, &m, &d);
        int wd = civil_weekday(days);
        if (!f->mdays && !f->mdays_neg)
                return false;
        while (days * DAY <= last) {
                int dim = civil_days_in_month(y, m);
                if (!(f->months >> m & 1)) {
                        days += dim - d + 1;
                        wd = (wd + dim - d + 1) % 7;
                        d = dim + 1;
                }
                for (; d <= dim; d++, days++, wd = (wd + 1) % 7, tod = 0) {
                        int s = day_allowed(f, d, dim, wd) ? next_time(f, tod) : -1;
                        if (s < 0)
                                continue;
                        if (days * DAY + s > last)
                                return false;
                        *ret = days * DAY + s;
                        return true;
                }
                d = 1;
                tod = 0;
                if (++m > 12) {
                        m = 1;
                        y++;
                }
        }
        return false;
}

static void fast_iter_start(rrule_iter *it) {
        /* 2582-12-31T23:59:59 */
        int64_t ical_last = civil_days_from_date(ICAL_YEAR_LAST + 1, 1, 1) * DAY - 1;
        if (it->until > ical_last)
                it->until = ical_last;
        if (it->from > it->until)
                it->done = true;
        else if (it->from < it->r->dtstart)
                it->from = it->r->dtstart;
}

static int fast_iter_next(rrule_iter *it, int64_t *ret) {
        int64_t w;
        if (it->done || !fast_find(&it->r->fast, it->from, it->until, &w)) {
                it->done = true;
                return -ENOENT;
        }
        it->from = w + 1;
        *ret = w;
        return 0;
}

static int ical_iter_start(rrule_iter *it) {
        civil c;
        civil_from_seconds(it->from, &c);
        if (c.year > YEAR_MAX) {
                it->done = true;
                return 0;
        }
        struct icalrecurrencetype rec = icalrecurrencetype_from_string(it->r->ical);
        if (rec.freq == ICAL_NO_RECURRENCE)
                return -EINVAL;
        it->it = icalrecur_iterator_new(rec, ical_from_local(restart_point(it->r, it->from)));
        return it->it ? 0 : -ENOMEM;
}

static int ical_iter_next(rrule_iter *it, int64_t *ret) {
        while (!it->done) {
                struct icaltimetype t = icalrecur_iterator_next(it->it);
                if (icaltime_is_null_time(t)) {
                        it->done = true;
                        break;
                }
                int64_t w = local_from_ical(t);
                if (w > it->until) {
                        it->done = true;
                        break;
                }
                if (w >= it->from && wall_ok(it->r, w)) {
                        *ret = w;
                        return 0;
                }
        }
        return -ENOENT;
}

int rrule_iter_new(const rrule *r, int64_t from, rrule_iter **ret) {
        rrule_iter *it = calloc(1, sizeof *it);
        if (!it)
                return -ENOMEM;
        it->r = r;
        it->from = from;
        it->until = r->until_local;
        if (r->is_fast) {
                fast_iter_start(it);
        } else {
                int rc = ical_iter_start(it);
                if (rc < 0) {
                        free(it);
                        return rc;
                }
        }
        *ret = it;
        return 0;
}

int rrule_iter_next(rrule_iter *it, int64_t *ret) {
        return it->r->is_fast ? fast_iter_next(it, ret) : ical_iter_next(it, ret);
}

void rrule_iter_free(rrule_iter *it) {
        if (!it)
                return;
        if (it->it)
                icalrecur_iterator_free(it->it);
        free(it);
}
