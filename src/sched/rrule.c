/* rrule: validation, normalisation and floating expansion (the fast path and the
 * set path, both bounded in work).  See rrule.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "sched/rrule.h"
#include "sched/rrule_internal.h"

#define DAY 86400LL
/* DTSTART must lie in years 1..9999. */
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

/* No wall after this year: libical 3.0.16's last (MAX_TIME_T_YEAR), which sked's
 * expansion kept when it replaced libical's. */
#define YEAR_LAST 2582

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

/* The set path's plan (RFC 5545 §3.3.10): the times of an interval and the day parts
 * its days must pass, DTSTART's defaults filled in.  On the heap, only for the rules
 * the fast path does not take. */
typedef struct setplan {
        uint64_t secs, mins; /* as in fastplan */
        uint32_t hours;
        uint32_t mdays, mdays_neg;     /* BYMONTHDAY; both 0: any day */
        uint64_t yday[6], yday_neg[6]; /* BYYEARDAY: bit n of day n, -n (1..366) */
        uint64_t weeks, weeks_neg;     /* BYWEEKNO: bit n of week n, -n */
        uint64_t nth[7], nth_neg[7];   /* BYDAY ordinals: bit n of nth[wd]: the n-th wd */
        uint16_t months;               /* BYMONTH (all when not listed) */
        uint8_t wdays;                 /* BYDAY without ordinal */
        uint8_t wkst;
        bool any_wday, has_yday, has_weeks, has_mday;
        bool nth_in_month; /* ordinals count in the month (MONTHLY; YEARLY with BYMONTH) */
        uint16_t nsetpos;
        int16_t setpos[]; /* BYSETPOS, sorted */
} setplan;

struct rrule {
        setplan *set;        /* the set path's plan; NULL on the fast path */
        int64_t dtstart;     /* wall time */
        int64_t until_local; /* last allowed wall time, INT64_MAX if none */
        sked_time until_utc;
        fastplan fast; /* when is_fast */
        uint16_t interval;
        uint8_t freq;
        bool has_until_utc : 1, is_fast : 1;
};

/* The set path's cursor: the interval being given out and its chosen positions. */
typedef struct setcur {
        int64_t k;         /* interval number from DTSTART's (0) */
        int64_t day0;      /* its first day */
        uint16_t off[366]; /* its days that pass, as offsets from day0 */
        int ndays;
        uint8_t h[24], m[60], s[60]; /* the plan's times of day, ascending */
        int nh, nm, ns;
        uint8_t one[3];              /* a sub-daily interval's own hour, minute, second */
        const uint8_t *th, *tm, *ts; /* the interval's times: th x tm x ts */
        int tnh, tnm, tns;
        uint32_t next, end; /* positions left: [next, end), or picks[next..end) */
        bool loaded, picked;
        uint32_t picks[]; /* BYSETPOS: the positions chosen, ascending */
} setcur;

struct rrule_iter {
        const rrule *r;
        int64_t from;   /* no wall before it is left to give */
        int64_t until;  /* nor after this one */
        int64_t steps;  /* periods and days examined, in all */
        int64_t search; /* steps at the start of the current search */
        int64_t budget; /* steps one search may take (RRULE_SEARCH_STEPS) */
        bool done, gave_up;
        setcur *cur; /* set path only */
};

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
 * month days and months.  The plan gives the RFC 5545 set:
 * the walls >= DTSTART whose every field is allowed (test_rrule.c checks it against
 * a brute-force oracle, fast_matches_oracle).  False otherwise. */
static bool fast_plan(fastplan *f, const char *const val[K_N], int freq, int interval, bool has_ordinal,
                      const civil *dt) {
        *f = (fastplan){0};
        if (interval != 1 || freq > F_MONTHLY || has_ordinal || val[K_BYYEARDAY] || val[K_BYWEEKNO] || val[K_BYSETPOS])
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

/* BYDAY (normalised: "MO,1MO,-2FR") into the set path's weekday parts. */
static void set_byday(setplan *p, const char *list) {
        for (const char *q = list; *q;) {
                int sign = 1, n = 0;
                if (*q == '+' || *q == '-')
                        sign = *q++ == '-' ? -1 : 1;
                while (isdigit((unsigned char) *q))
                        n = n * 10 + (*q++ - '0');
                int wd = day_index(q);
                q += 2;
                if (*q == ',')
                        q++;
                if (n == 0)
                        p->wdays |= (uint8_t) (1u << wd);
                else if (sign > 0)
                        p->nth[wd] |= 1ull << n;
                else
                        p->nth_neg[wd] |= 1ull << n;
        }
}

/* A signed list (BYMONTHDAY, BYYEARDAY, BYWEEKNO) as bits of n and of -n. */
static void signed_bits(const char *list, int hi, uint64_t *pos, uint64_t *neg) {
        int ints[400];
        int n = int_list(list, 1, hi, true, ints, 400);
        for (int i = 0; i < n; i++) {
                int v = ints[i] > 0 ? ints[i] : -ints[i];
                uint64_t *b = ints[i] > 0 ? pos : neg;
                b[v / 64] |= 1ull << (v % 64);
        }
}

static bool bit_at(const uint64_t *bits, int n) {
        return bits[n / 64] >> (n % 64) & 1;
}

/* The set path's plan of a rule rrule_parse checked, with DTSTART's defaults made
 * explicit as RFC 5545 says ("derived from DTSTART"): the finer time fields, the
 * weekday of WEEKLY (and of YEARLY with BYWEEKNO alone), the month day of MONTHLY
 * and the month and day of YEARLY.  -ENOMEM. */
static int set_plan(rrule *r, const char *const val[K_N], int freq, const civil *dt) {
        int ints[400];
        int npos = val[K_BYSETPOS] ? int_list(val[K_BYSETPOS], 1, 366, true, ints, 400) : 0;
        setplan *p = calloc(1, sizeof *p + (size_t) npos * sizeof p->setpos[0]);
        if (!p)
                return -ENOMEM;
        for (int i = 0; i < npos; i++)
                p->setpos[i] = (int16_t) ints[i];
        p->nsetpos = (uint16_t) npos;
        p->secs = time_field(val[K_BYSECOND], 59, freq > F_SECONDLY, dt->second);
        p->mins = time_field(val[K_BYMINUTE], 59, freq > F_MINUTELY, dt->minute);
        p->hours = (uint32_t) time_field(val[K_BYHOUR], 23, freq > F_HOURLY, dt->hour);
        p->months = val[K_BYMONTH] ? (uint16_t) list_bits(val[K_BYMONTH], 12) : 0x1ffe;
        p->wkst = (uint8_t) (val[K_WKST] ? day_index(val[K_WKST]) : 1);
        if (val[K_BYMONTHDAY]) {
                uint64_t pos = 0, neg = 0;
                signed_bits(val[K_BYMONTHDAY], 31, &pos, &neg);
                p->mdays = (uint32_t) pos;
                p->mdays_neg = (uint32_t) neg;
                p->has_mday = true;
        }
        if (val[K_BYYEARDAY]) {
                signed_bits(val[K_BYYEARDAY], 366, p->yday, p->yday_neg);
                p->has_yday = true;
        }
        if (val[K_BYWEEKNO]) {
                signed_bits(val[K_BYWEEKNO], 53, &p->weeks, &p->weeks_neg);
                p->has_weeks = true;
        }
        p->any_wday = !val[K_BYDAY];
        if (val[K_BYDAY])
                set_byday(p, val[K_BYDAY]);
        bool dayish = val[K_BYDAY] || val[K_BYMONTHDAY] || val[K_BYYEARDAY];
        int wd = civil_weekday(civil_days_from_date(dt->year, dt->month, dt->day));
        if ((freq == F_WEEKLY && !val[K_BYDAY]) || (freq == F_YEARLY && !dayish && val[K_BYWEEKNO])) {
                p->wdays = (uint8_t) (1u << wd);
                p->any_wday = false;
        }
        if ((freq == F_MONTHLY || freq == F_YEARLY) && !dayish && !val[K_BYWEEKNO]) {
                p->mdays = 1u << dt->day;
                p->has_mday = true;
                if (freq == F_YEARLY && !val[K_BYMONTH])
                        p->months = (uint16_t) (1u << dt->month);
        }
        p->nth_in_month = freq == F_MONTHLY || (freq == F_YEARLY && val[K_BYMONTH]);
        r->set = p;
        return 0;
}
void rrule_free(rrule *r) {
        if (!r)
                return;
        free(r->set);
        free(r);
}

int rrule_parse(const char *text, int64_t dtstart, rrule **ret, sked_err *err) {
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

        /* Lists sorted and without repeats (libical 3.0.16, which expanded these rules
         * before, walked "BYHOUR=17,9" backwards and "BYHOUR=9,9" twice). */
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
        r->is_fast = fast_plan(&r->fast, val, freq, interval, has_ordinal, &dt);
        if (!r->is_fast && set_plan(r, val, freq, &dt) < 0) {
                rc = err_set(err, -ENOMEM, "rrule: out of memory");
                goto fail;
        }
        r->dtstart = dtstart;
        r->freq = (uint8_t) freq;
        r->interval = (uint16_t) interval;
        r->until_local = until_utc ? INT64_MAX : until_local;
        r->has_until_utc = until_utc;
        r->until_utc = until_utc ? until_local * SKED_USEC : 0;

        /* COUNT becomes a wall-time bound: walk the first COUNT walls once.  Each
         * search is bounded (RRULE_SEARCH_STEPS): a rule whose parts never coincide
         * (FREQ=SECONDLY;BYMONTH=1;BYYEARDAY=200) is refused in milliseconds. */
        rrule_iter *it = NULL;
        int64_t w = 0;
        if ((rc = rrule_iter_new(r, dtstart, &it)) < 0) {
                rc = err_set(err, rc, "rrule: out of memory");
                goto fail;
        }
        int got = 0;
        while ((count == 0 ? got < 1 : got < count) && rrule_iter_next(it, &w) == 0)
                got++;
        bool gave_up = rrule_iter_gave_up(it);
        rrule_iter_free(it);
        if (got == 0 && gave_up)
                BAD("the rule produces no occurrence (none within %d steps of search from DTSTART)",
                    RRULE_SEARCH_STEPS);
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

/* The last wall ever produced: 2582-12-31T23:59:59. */
static int64_t wall_last(void) {
        return civil_days_from_date(YEAR_LAST + 1, 1, 1) * DAY - 1;
}

/* True once the current search has used up its budget. */
static bool over_budget(rrule_iter *it) {
        if (it->steps - it->search <= it->budget)
                return false;
        it->gave_up = it->done = true;
        return true;
}

/* ---- the fast path ---- */

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
 * FREQ=SECONDLY;BYMONTH=2 from March costs a dozen steps, not millions.  Each month
 * and day examined is a step of the search (over_budget). */
static bool fast_find(rrule_iter *it, int64_t t, int64_t last, int64_t *ret) {
        const fastplan *f = &it->r->fast;
        int64_t days = civil_floor_div(t, DAY);
        int tod = (int) (t - days * DAY), y, m, d;
        civil_date_from_days(days, &y, &m, &d);
        int wd = civil_weekday(days);
        if (!f->mdays && !f->mdays_neg)
                return false;
        while (days * DAY <= last) {
                int dim = civil_days_in_month(y, m);
                it->steps++;
                if (!(f->months >> m & 1)) {
                        days += dim - d + 1;
                        wd = (wd + dim - d + 1) % 7;
                        d = dim + 1;
                }
                for (; d <= dim; d++, days++, wd = (wd + 1) % 7, tod = 0) {
                        it->steps++;
                        int s = day_allowed(f, d, dim, wd) ? next_time(f, tod) : -1;
                        if (s < 0)
                                continue;
                        if (days * DAY + s > last)
                                return false;
                        *ret = days * DAY + s;
                        return true;
                }
                if (over_budget(it))
                        return false;
                d = 1;
                tod = 0;
                if (++m > 12) {
                        m = 1;
                        y++;
                }
        }
        return false;
}

static int fast_iter_next(rrule_iter *it, int64_t *ret) {
        int64_t w;
        if (it->done || !fast_find(it, it->from, it->until, &w)) {
                it->done = true;
                return -ENOENT;
        }
        it->from = w + 1;
        *ret = w;
        return 0;
}

/* ---- the set path: RFC 5545 §3.3.10, interval by interval ---- */

/* First day (days since epoch) of week 1 of `year`: the week holding Jan 4. */
static int64_t week1_start(int year, int wkst) {
        int64_t jan4 = civil_days_from_date(year, 1, 4);
        return jan4 - (civil_weekday(jan4) - wkst + 7) % 7;
}

/* BYWEEKNO: the day's week (weeks start on WKST; week 1 has 4 days of its year, so a
 * day may belong to the week of the year before or after) counted from its
 * week-year's start (n) or end (-n). */
static bool week_ok(const setplan *p, int64_t days, int wd) {
        int64_t ws = days - (wd - p->wkst + 7) % 7;
        int wy, wm, wdd;
        civil_date_from_days(ws + 3, &wy, &wm, &wdd);
        int64_t w1 = week1_start(wy, p->wkst);
        int no = (int) ((ws - w1) / 7) + 1;
        int nweeks = (int) ((week1_start(wy + 1, p->wkst) - w1) / 7);
        int back = nweeks + 1 - no;
        return (p->weeks >> no & 1) || (back >= 1 && back <= 53 && (p->weeks_neg >> back & 1));
}

/* Whether day y-m-d (days since epoch `days`, dim days in its month) passes every
 * day part: the parts limit one another (RFC 5545's "limit"; within an interval
 * the expansions of its table come to the same set). */
static bool set_day_ok(const setplan *p, int64_t days, int y, int m, int d, int dim) {
        if (!(p->months >> m & 1))
                return false;
        if (p->has_mday && !(p->mdays >> d & 1) && !(p->mdays_neg >> (dim + 1 - d) & 1))
                return false;
        int wd = civil_weekday(days), yd = 0, ylen = 0;
        if (p->has_yday || (!p->any_wday && !p->nth_in_month)) {
                yd = (int) (days - civil_days_from_date(y, 1, 1)) + 1;
                ylen = civil_is_leap(y) ? 366 : 365;
        }
        if (p->has_yday && !bit_at(p->yday, yd) && !bit_at(p->yday_neg, ylen + 1 - yd))
                return false;
        if (!p->any_wday && !(p->wdays >> wd & 1)) {
                /* an ordinal: the n-th such weekday of the month or the year, from
                 * its start or (negative) its end */
                int n = p->nth_in_month ? (d - 1) / 7 + 1 : (yd - 1) / 7 + 1;
                int back = p->nth_in_month ? (dim - d) / 7 + 1 : (ylen - yd) / 7 + 1;
                if (!(p->nth[wd] >> n & 1) && !(p->nth_neg[wd] >> back & 1))
                        return false;
        }
        return !p->has_weeks || week_ok(p, days, wd);
}

/* Seconds of a fixed-length interval's unit; 0 for MONTHLY and YEARLY. */
static int64_t unit_of(int freq) {
        static const int64_t units[] = {1, 60, 3600, DAY, 7 * DAY, 0, 0};
        return units[freq];
}

/* The start of interval 0 of a fixed-length FREQ: DTSTART's second, minute, hour or
 * day, or the start (WKST) of its week. */
static int64_t set_base(const rrule *r) {
        if (r->freq == F_WEEKLY) {
                int64_t d = civil_floor_div(r->dtstart, DAY);
                return (d - (civil_weekday(d) - r->set->wkst + 7) % 7) * DAY;
        }
        int64_t u = unit_of(r->freq);
        return civil_floor_div(r->dtstart, u) * u;
}

/* The interval that holds wall w (w >= DTSTART). */
static int64_t set_interval_of(const rrule *r, int64_t w) {
        int64_t u = unit_of(r->freq);
        if (u)
                return civil_floor_div(w - set_base(r), u * r->interval);
        civil a, b;
        civil_from_seconds(r->dtstart, &a);
        civil_from_seconds(w, &b);
        int64_t n = r->freq == F_YEARLY ? b.year - a.year : (int64_t) (b.year - a.year) * 12 + (b.month - a.month);
        return civil_floor_div(n, r->interval);
}

/* The first interval after k that starts at or after wall t (an interval before t
 * cannot hold a wall: the skip of a day, hour or minute that fails). */
static int64_t set_interval_from(const rrule *r, int64_t k, int64_t t) {
        int64_t step = unit_of(r->freq) * r->interval;
        int64_t j = -civil_floor_div(-(t - set_base(r)), step);
        return j > k ? j : k + 1;
}

/* The times of a day that the plan allows, as sorted lists. */
static int set_list(uint64_t bits, int n, uint8_t *out) {
        int k = 0;
        for (int v = 0; v < n; v++)
                if (bits >> v & 1)
                        out[k++] = (uint8_t) v;
        return k;
}

/* The wall at position pos of the loaded interval: days x hours x minutes x seconds. */
static int64_t set_wall(const setcur *c, uint32_t pos) {
        uint32_t per_hour = (uint32_t) (c->tnm * c->tns), per_day = (uint32_t) c->tnh * per_hour;
        uint32_t i = pos / per_day, j = pos % per_day;
        return (c->day0 + c->off[i]) * DAY + c->th[j / per_hour] * 3600 + c->tm[j / c->tns % c->tnm] * 60 +
               c->ts[j % c->tns];
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return (x > y) - (x < y);
}

/* Loads interval k into it->cur.  Returns 1 when its set (after BYSETPOS) holds a
 * wall, 0 when not (*ret_next: the next interval that may), -1 when it starts after
 * it->until.  Each day and interval examined is a step. */
static int set_load(rrule_iter *it, int64_t k, int64_t *ret_next) {
        const rrule *r = it->r;
        const setplan *p = r->set;
        setcur *c = it->cur;
        int64_t u = unit_of(r->freq);
        c->ndays = 0;
        c->picked = false;
        *ret_next = k + 1;
        it->steps++;
        c->th = c->h;
        c->tm = c->m;
        c->ts = c->s;
        c->tnh = c->nh;
        c->tnm = c->nm;
        c->tns = c->ns;
        if (!u) {
                civil dt;
                civil_from_seconds(r->dtstart, &dt);
                int64_t mi = (int64_t) dt.year * 12 + (dt.month - 1) + (r->freq == F_MONTHLY ? k * r->interval : 0);
                int y = r->freq == F_YEARLY ? dt.year + (int) (k * r->interval) : (int) (mi / 12);
                int m0 = r->freq == F_YEARLY ? 1 : (int) (mi % 12) + 1, m1 = r->freq == F_YEARLY ? 12 : m0;
                if (y > YEAR_LAST)
                        return -1;
                c->day0 = civil_days_from_date(y, m0, 1);
                if (c->day0 * DAY > it->until)
                        return -1;
                for (int m = m0; m <= m1; m++) {
                        if (!(p->months >> m & 1))
                                continue;
                        int dim = civil_days_in_month(y, m);
                        int64_t first = civil_days_from_date(y, m, 1);
                        for (int d = 1; d <= dim; d++) {
                                it->steps++;
                                if (set_day_ok(p, first + d - 1, y, m, d, dim))
                                        c->off[c->ndays++] = (uint16_t) (first + d - 1 - c->day0);
                        }
                }
        } else {
                int64_t ps = set_base(r) + k * u * r->interval;
                if (ps > it->until)
                        return -1;
                c->day0 = civil_floor_div(ps, DAY);
                int y, m, d;
                for (int i = 0; i < (u > DAY ? 7 : 1); i++) {
                        it->steps++;
                        civil_date_from_days(c->day0 + i, &y, &m, &d);
                        if (set_day_ok(p, c->day0 + i, y, m, d, civil_days_in_month(y, m)))
                                c->off[c->ndays++] = (uint16_t) i;
                }
                if (u <= DAY && c->ndays == 0) {
                        /* the day fails: go on with the next day, or the next month */
                        int64_t next = p->months >> m & 1 ? c->day0 + 1
                                                          : civil_days_from_date(y, m, 1) + civil_days_in_month(y, m);
                        *ret_next = set_interval_from(r, k, next * DAY);
                        return 0;
                }
                if (u < DAY) {
                        /* within the day, the interval's hour (minute, second) must be
                         * allowed; if not, go on with the next one that is */
                        int64_t at = c->day0 * DAY;
                        int tod = (int) (ps - at), h = tod / 3600, mi = tod / 60 % 60, s = tod % 60, n;
                        if (!(p->hours >> h & 1)) {
                                n = next_bit(p->hours, h + 1);
                                *ret_next = set_interval_from(r, k, n < 0 ? at + DAY : at + n * 3600);
                                return 0;
                        }
                        c->one[0] = (uint8_t) h;
                        c->th = &c->one[0];
                        c->tnh = 1;
                        if (u <= 60) {
                                if (!(p->mins >> mi & 1)) {
                                        n = next_bit(p->mins, mi + 1);
                                        *ret_next = set_interval_from(r, k, at + h * 3600 + (n < 0 ? 3600 : n * 60));
                                        return 0;
                                }
                                c->one[1] = (uint8_t) mi;
                                c->tm = &c->one[1];
                                c->tnm = 1;
                        }
                        if (u == 1) {
                                if (!(p->secs >> s & 1)) {
                                        n = next_bit(p->secs, s + 1);
                                        *ret_next = set_interval_from(r, k, ps - s + (n < 0 ? 60 : n));
                                        return 0;
                                }
                                c->one[2] = (uint8_t) s;
                                c->ts = &c->one[2];
                                c->tns = 1;
                        }
                }
        }
        if (c->ndays == 0)
                return 0;
        uint32_t total = (uint32_t) c->ndays * (uint32_t) (c->tnh * c->tnm * c->tns);
        c->next = 0;
        c->end = total;
        if (p->nsetpos) {
                /* BYSETPOS: the n-th of the whole set, from its start or its end */
                uint32_t n = 0;
                for (int i = 0; i < p->nsetpos; i++) {
                        int64_t pos = p->setpos[i] > 0 ? p->setpos[i] - 1 : (int64_t) total + p->setpos[i];
                        if (pos >= 0 && pos < total)
                                c->picks[n++] = (uint32_t) pos;
                }
                qsort(c->picks, n, sizeof c->picks[0], cmp_u32);
                uint32_t m = 0;
                for (uint32_t i = 0; i < n; i++)
                        if (m == 0 || c->picks[i] != c->picks[m - 1])
                                c->picks[m++] = c->picks[i];
                c->picked = true;
                c->end = m;
                return m > 0;
        }
        /* the first interval may begin before `from`: start at its first wall >= from */
        uint32_t lo = 0, hi = total;
        while (lo < hi) {
                uint32_t mid = lo + (hi - lo) / 2;
                if (set_wall(c, mid) < it->from)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        c->next = lo;
        return 1;
}

static int set_iter_next(rrule_iter *it, int64_t *ret) {
        setcur *c = it->cur;
        while (!it->done) {
                if (!c->loaded) {
                        int64_t next;
                        int l;
                        while ((l = set_load(it, c->k, &next)) == 0) {
                                if (over_budget(it))
                                        return -ENOENT;
                                c->k = next;
                        }
                        if (l < 0)
                                break;
                        c->loaded = true;
                }
                while (c->next < c->end) {
                        int64_t w = set_wall(c, c->picked ? c->picks[c->next] : c->next);
                        c->next++;
                        if (w > it->until) {
                                it->done = true;
                                return -ENOENT;
                        }
                        if (w >= it->from) {
                                it->from = w + 1;
                                *ret = w;
                                return 0;
                        }
                }
                c->loaded = false;
                c->k++;
                if (over_budget(it))
                        return -ENOENT;
        }
        it->done = true;
        return -ENOENT;
}

int rrule_iter_new(const rrule *r, int64_t from, rrule_iter **ret) {
        rrule_iter *it = calloc(1, sizeof *it);
        if (!it)
                return -ENOMEM;
        it->r = r;
        it->budget = RRULE_SEARCH_STEPS;
        it->from = from > r->dtstart ? from : r->dtstart;
        it->until = r->until_local < wall_last() ? r->until_local : wall_last();
        if (it->from > it->until)
                it->done = true;
        if (!r->is_fast) {
                it->cur = calloc(1, sizeof *it->cur + r->set->nsetpos * sizeof it->cur->picks[0]);
                if (!it->cur) {
                        free(it);
                        return -ENOMEM;
                }
                setcur *c = it->cur;
                c->nh = set_list(r->set->hours, 24, c->h);
                c->nm = set_list(r->set->mins, 60, c->m);
                c->ns = set_list(r->set->secs, 60, c->s);
                if (!it->done)
                        c->k = set_interval_of(r, it->from);
        }
        *ret = it;
        return 0;
}

int rrule_iter_next(rrule_iter *it, int64_t *ret) {
        if (it->done)
                return -ENOENT;
        it->search = it->steps;
        return it->r->is_fast ? fast_iter_next(it, ret) : set_iter_next(it, ret);
}

bool rrule_iter_gave_up(const rrule_iter *it) {
        return it->gave_up;
}

void rrule_iter_set_budget(rrule_iter *it, int64_t steps) {
        it->budget = steps;
}

int64_t rrule_iter_steps(const rrule_iter *it) {
        return it->steps;
}

void rrule_iter_free(rrule_iter *it) {
        if (!it)
                return;
        free(it->cur);
        free(it);
}
