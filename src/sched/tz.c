/* tz: TZif v2+ reader, POSIX TZ footer rules, wall-time resolution.  See tz.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sched/tz.h"

#define TZ_DIR "/usr/share/zoneinfo"
#define TZ_FILE_MAX (1 << 20) /* real TZif files are < 10 KiB */
#define TZ_FOOTER_MAX 256
#define DAY 86400LL
/* Widest span between a wall time and its instant we look at: real offsets stay
 * within ±16h (LMT included), so ±30h catches every candidate. */
#define WINDOW (30 * 3600LL)

typedef struct rule_date {
        char kind; /* 'J' (1..365, no Feb 29), 'N' (0..365), 'M' (month.week.day) */
        int n, m, w, d;
        int32_t time; /* seconds after local midnight, may be negative or > 24h */
} rule_date;

struct tz_zone {
        char *name;
        size_t ntrans;
        int64_t *trans;     /* transition instants, seconds, ascending */
        int32_t *trans_off; /* offset in force from trans[i] on */
        int32_t off0;       /* offset before the first transition (type 0) */
        bool has_rule;      /* footer present: applies from the last transition on */
        bool rule_dst;      /* the footer has a DST part */
        int32_t std_off, dst_off;
        rule_date start, end;
        struct tz_zone *next;
};

/* One stretch of constant offset: [begin, end), seconds. */
typedef struct ivl {
        int64_t begin, end;
        int32_t off;
} ivl;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static tz_zone *cache;

/* ---- POSIX TZ footer ---- */

static const char *parse_abbr(const char *p) {
        if (*p == '<') {
                const char *q = strchr(p, '>');
                return q && q > p + 1 ? q + 1 : NULL;
        }
        const char *q = p;
        while ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z'))
                q++;
        return q - p >= 3 ? q : NULL;
}

/* [+-]h[h[h]][:mm[:ss]] with hours up to max_hours; returns seconds (signed). */
static const char *parse_hms(const char *p, int max_hours, int32_t *ret) {
        int sign = 1, h = 0, m = 0, s = 0, nd = 0;
        if (*p == '+' || *p == '-')
                sign = *p++ == '-' ? -1 : 1;
        while (*p >= '0' && *p <= '9' && nd < 3) {
                h = h * 10 + (*p++ - '0');
                nd++;
        }
        if (nd == 0 || h > max_hours)
                return NULL;
        if (*p == ':') {
                p++;
                if (!(p[0] >= '0' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9'))
                        return NULL;
                m = (p[0] - '0') * 10 + (p[1] - '0');
                p += 2;
                if (*p == ':') {
                        p++;
                        if (!(p[0] >= '0' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9'))
                                return NULL;
                        s = (p[0] - '0') * 10 + (p[1] - '0');
                        p += 2;
                }
        }
        *ret = sign * (h * 3600 + m * 60 + s);
        return p;
}

static const char *parse_num(const char *p, int lo, int hi, int *ret) {
        int v = 0, nd = 0;
        while (*p >= '0' && *p <= '9' && nd < 4) {
                v = v * 10 + (*p++ - '0');
                nd++;
        }
        if (nd == 0 || v < lo || v > hi)
                return NULL;
        *ret = v;
        return p;
}

static const char *parse_rule_date(const char *p, rule_date *r) {
        memset(r, 0, sizeof *r);
        if (*p == 'J') {
                r->kind = 'J';
                p = parse_num(p + 1, 1, 365, &r->n);
        } else if (*p == 'M') {
                r->kind = 'M';
                p = parse_num(p + 1, 1, 12, &r->m);
                if (!p || *p++ != '.')
                        return NULL;
                p = parse_num(p, 1, 5, &r->w);
                if (!p || *p++ != '.')
                        return NULL;
                p = parse_num(p, 0, 6, &r->d);
        } else {
                r->kind = 'N';
                p = parse_num(p, 0, 365, &r->n);
        }
        if (!p)
                return NULL;
        r->time = 7200;
        if (*p == '/')
                p = parse_hms(p + 1, 167, &r->time);
        return p;
}

/* Parses a footer such as "EST5EDT,M3.2.0,M11.1.0" or "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0". */
static int parse_footer(tz_zone *z, const char *s) {
        const char *p = parse_abbr(s);
        int32_t v;
        if (!p || !(p = parse_hms(p, 24, &v)))
                return -EBADMSG;
        z->std_off = -v;
        z->has_rule = true;
        if (!*p)
                return 0;
        if (!(p = parse_abbr(p)))
                return -EBADMSG;
        z->rule_dst = true;
        z->dst_off = z->std_off + 3600;
        if (*p && *p != ',') {
                if (!(p = parse_hms(p, 24, &v)))
                        return -EBADMSG;
                z->dst_off = -v;
        }
        if (!*p) {
                /* No rule given: POSIX leaves it to the implementation; use US rules. */
                z->start = (rule_date){'M', 0, 3, 2, 0, 7200};
                z->end = (rule_date){'M', 0, 11, 1, 0, 7200};
                return 0;
        }
        if (*p++ != ',' || !(p = parse_rule_date(p, &z->start)) || *p++ != ',' || !(p = parse_rule_date(p, &z->end)) ||
            *p)
                return -EBADMSG;
        return 0;
}

/* Wall time (local seconds) at which a rule date happens in `year`. */
static int64_t rule_local(const rule_date *r, int year) {
        int64_t days;
        if (r->kind == 'J') {
                days = civil_days_from_date(year, 1, 1) + r->n - 1;
                if (civil_is_leap(year) && r->n >= 60)
                        days++;
        } else if (r->kind == 'N') {
                days = civil_days_from_date(year, 1, 1) + r->n;
        } else {
                int64_t first = civil_days_from_date(year, r->m, 1);
                int wd = civil_weekday(first);
                int day = 1 + (r->d - wd + 7) % 7 + (r->w - 1) * 7;
                int dim = civil_days_in_month(year, r->m);
                while (day > dim)
                        day -= 7;
                days = first + day - 1;
        }
        return days * DAY + r->time;
}

typedef struct rtrans {
        int64_t at;
        int32_t off;
} rtrans;

/* The footer's transitions in years y-1..y+1, ascending (stable: at equal instants
 * the later-listed one wins).  Returns how many (0 without DST). */
static int footer_transitions(const tz_zone *z, int y, rtrans out[6]) {
        int n = 0;
        if (!z->rule_dst)
                return 0;
        for (int yy = y - 1; yy <= y + 1; yy++) {
                out[n++] = (rtrans){rule_local(&z->start, yy) - z->std_off, z->dst_off};
                out[n++] = (rtrans){rule_local(&z->end, yy) - z->dst_off, z->std_off};
        }
        for (int i = 1; i < n; i++) {
                rtrans x = out[i];
                int j = i;
                while (j > 0 && out[j - 1].at > x.at) {
                        out[j] = out[j - 1];
                        j--;
                }
                out[j] = x;
        }
        return n;
}

static int utc_year(int64_t t) {
        int y, m, d;
        civil_date_from_days(civil_floor_div(t, DAY), &y, &m, &d);
        return y;
}

/* The interval of the footer rule holding t (seconds). */
static void footer_ivl(const tz_zone *z, int64_t t, ivl *r) {
        rtrans tr[6];
        int n = footer_transitions(z, utc_year(t), tr);
        r->begin = INT64_MIN;
        r->end = INT64_MAX;
        r->off = z->std_off;
        if (n == 0)
                return;
        int last = -1;
        for (int i = 0; i < n; i++)
                if (tr[i].at <= t)
                        last = i;
        /* Years y-1..y+1 always bracket t: t lies after y-1's transitions and before y+1's. */
        r->off = last >= 0 ? tr[last].off : tr[0].off == z->std_off ? z->dst_off : z->std_off;
        r->begin = last >= 0 ? tr[last].at : INT64_MIN;
        for (int i = last + 1; i < n; i++)
                if (tr[i].off != r->off) {
                        r->end = tr[i].at;
                        return;
                }
        /* Not found within three years: look one year further (cannot loop: DST rules
         * change the offset every year). */
        rtrans tr2[6];
        int n2 = footer_transitions(z, utc_year(t) + 2, tr2);
        for (int i = 0; i < n2; i++)
                if (tr2[i].at > t && tr2[i].off != r->off) {
                        r->end = tr2[i].at;
                        return;
                }
}

/* The interval holding instant t (seconds).  Intervals may be split where only the
 * abbreviation changed; callers do not rely on intervals being maximal. */
static void zone_ivl(const tz_zone *z, int64_t t, ivl *r) {
        size_t n = z->ntrans;
        if (n == 0) {
                if (z->has_rule) {
                        footer_ivl(z, t, r);
                } else {
                        *r = (ivl){INT64_MIN, INT64_MAX, z->off0};
                }
                return;
        }
        if (t < z->trans[0]) {
                *r = (ivl){INT64_MIN, z->trans[0], z->off0};
                return;
        }
        if (t >= z->trans[n - 1]) {
                if (!z->has_rule) {
                        *r = (ivl){z->trans[n - 1], INT64_MAX, z->trans_off[n - 1]};
                        return;
                }
                footer_ivl(z, t, r);
                if (r->begin < z->trans[n - 1])
                        r->begin = z->trans[n - 1];
                return;
        }
        size_t lo = 0, hi = n - 1; /* trans[lo] <= t < trans[hi] */
        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                if (z->trans[mid] <= t)
                        lo = mid;
                else
                        hi = mid;
        }
        *r = (ivl){z->trans[lo], z->trans[hi], z->trans_off[lo]};
}

int32_t tz_offset_at(const tz_zone *z, sked_time t) {
        ivl r;
        zone_ivl(z, time_seconds(t), &r);
        return r.off;
}

void tz_local(const tz_zone *z, sked_time t, int64_t *ret_local, int32_t *ret_offset) {
        int32_t off = tz_offset_at(z, t);
        if (ret_local)
                *ret_local = time_seconds(t) + off;
        if (ret_offset)
                *ret_offset = off;
}

int tz_next_transition(const tz_zone *z, sked_time t, sked_time *ret) {
        int64_t s = time_seconds(t);
        ivl r;
        zone_ivl(z, s, &r);
        int32_t off = r.off;
        /* Skip splits that keep the offset; bounded so a broken file cannot spin. */
        for (int i = 0; i < 10000 && r.end != INT64_MAX; i++) {
                int64_t at = r.end;
                zone_ivl(z, at, &r);
                if (r.off != off) {
                        if (at > INT64_MAX / SKED_USEC)
                                return -ENOENT;
                        *ret = at * SKED_USEC;
                        return 0;
                }
        }
        return -ENOENT;
}

int tz_resolve_ex(const tz_zone *z, int64_t local, int gap_policy, int repeat_policy, sked_time ret[2], int *ret_kind) {
        int64_t found[4];
        int nfound = 0;
        bool gap = false;
        int64_t gap_inst = 0;
        ivl r;

        zone_ivl(z, local - WINDOW, &r);
        for (int guard = 0; guard < 64; guard++) {
                int64_t inst = local - r.off;
                if (inst >= r.begin && inst < r.end && nfound < 4 && (nfound == 0 || found[nfound - 1] != inst))
                        found[nfound++] = inst;
                if (r.end == INT64_MAX || r.end > local + WINDOW)
                        break;
                int64_t at = r.end;
                int32_t before = r.off;
                zone_ivl(z, at, &r);
                /* A forward jump at `at` skips wall times [at+before, at+after). */
                if (r.off > before && local >= at + before && local < at + r.off) {
                        gap = true;
                        gap_inst = local - before;
                }
        }
        if (nfound == 0) {
                if (ret_kind)
                        *ret_kind = 1;
                if (!gap || gap_policy == TZ_GAP_SKIP)
                        return 0;
                ret[0] = gap_inst * SKED_USEC;
                return 1;
        }
        if (ret_kind)
                *ret_kind = nfound > 1 ? 2 : 0;
        if (nfound == 1 || repeat_policy == TZ_REPEAT_DEFAULT || repeat_policy == TZ_REPEAT_FIRST) {
                ret[0] = found[0] * SKED_USEC;
                return 1;
        }
        if (repeat_policy == TZ_REPEAT_LAST) {
                ret[0] = found[nfound - 1] * SKED_USEC;
                return 1;
        }
        ret[0] = found[0] * SKED_USEC;
        ret[1] = found[nfound - 1] * SKED_USEC;
        return 2;
}

int tz_resolve(const tz_zone *z, int64_t local, int gap_policy, int repeat_policy, sked_time ret[2]) {
        return tz_resolve_ex(z, local, gap_policy, repeat_policy, ret, NULL);
}

void tz_format_offset(int32_t offset, char *buf, size_t len) {
        char sign = offset < 0 ? '-' : '+';
        int32_t a = offset < 0 ? -offset : offset;
        if (a % 60)
                snprintf(buf, len, "%c%02d:%02d:%02d", sign, a / 3600, a / 60 % 60, a % 60);
        else
                snprintf(buf, len, "%c%02d:%02d", sign, a / 3600, a / 60 % 60);
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) {
        return (int64_t) ((uint64_t) be32(p) << 32 | be32(p + 4));
}

typedef struct tzhead {
        char version;
        uint32_t isut, isstd, leap, time, type, chars;
} tzhead;

static int read_head(const unsigned char *p, size_t avail, tzhead *h) {
        if (avail < 44 || memcmp(p, "TZif", 4) != 0)
                return -EBADMSG;
        h->version = (char) p[4];
        h->isut = be32(p + 20);
        h->isstd = be32(p + 24);
        h->leap = be32(p + 28);
        h->time = be32(p + 32);
        h->type = be32(p + 36);
        h->chars = be32(p + 40);
        if (h->time > 100000 || h->type == 0 || h->type > 256 || h->chars > 100000 || h->leap > 100000 ||
            h->isut > 256 || h->isstd > 256)
                return -EBADMSG;
        return 0;
}

static size_t block_len(const tzhead *h, size_t tsize) {
        return h->time * tsize + h->time + h->type * 6 + h->chars + h->leap * (tsize + 4) + h->isstd + h->isut;
}

static int parse_tzif(tz_zone *z, const unsigned char *buf, size_t len) {
        tzhead h;
        size_t tsize = 4;
        const unsigned char *p = buf;
        int r = read_head(p, len, &h);
        if (r < 0)
                return r;
        if (h.version >= '2') {
                size_t skip = 44 + block_len(&h, 4);
                if (skip > len)
                        return -EBADMSG;
                p += skip;
                if ((r = read_head(p, len - skip, &h)) < 0)
                        return r;
                tsize = 8;
        }
        if (h.leap > 0)
                return -EBADMSG; /* "right/" zones count leap seconds; sked uses POSIX time */
        size_t need = 44 + block_len(&h, tsize);
        if (need > (size_t) (buf + len - p))
                return -EBADMSG;
        const unsigned char *tp = p + 44;
        const unsigned char *ip = tp + h.time * tsize;
        const unsigned char *yp = ip + h.time;
        int32_t offs[256];
        for (uint32_t i = 0; i < h.type; i++) {
                offs[i] = (int32_t) be32(yp + 6 * i);
                if (offs[i] < -26 * 3600 || offs[i] > 26 * 3600)
                        return -EBADMSG;
        }
        z->off0 = offs[0];
        z->ntrans = h.time;
        if (h.time) {
                z->trans = calloc(h.time, sizeof *z->trans);
                z->trans_off = calloc(h.time, sizeof *z->trans_off);
                if (!z->trans || !z->trans_off)
                        return -ENOMEM;
        }
        for (uint32_t i = 0; i < h.time; i++) {
                z->trans[i] = tsize == 8 ? be64(tp + 8 * i) : (int32_t) be32(tp + 4 * i);
                if (ip[i] >= h.type || (i > 0 && z->trans[i] <= z->trans[i - 1]))
                        return -EBADMSG;
                z->trans_off[i] = offs[ip[i]];
        }
        if (tsize == 8) {
                const unsigned char *f = p + need;
                size_t flen = (size_t) (buf + len - f);
                if (flen >= 2 && f[0] == '\n') {
                        const unsigned char *e = memchr(f + 1, '\n', flen - 1);
                        if (!e || e - f - 1 > TZ_FOOTER_MAX)
                                return -EBADMSG;
                        char footer[TZ_FOOTER_MAX + 1];
                        memcpy(footer, f + 1, (size_t) (e - f - 1));
                        footer[e - f - 1] = '\0';
                        if (footer[0] && (r = parse_footer(z, footer)) < 0)
                                return r;
                }
        }
        return 0;
}

static bool name_ok(const char *name) {
        size_t n = strlen(name);
        if (n == 0 || n > TZ_NAME_MAX || name[0] == '/' || strstr(name, ".."))
                return false;
        for (const char *p = name; *p; p++) {
                char c = *p;
                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' ||
                      c == '_' || c == '+' || c == '-' || c == '.'))
                        return false;
        }
        return true;
}

static void zone_free(tz_zone *z) {
        if (!z)
                return;
        free(z->name);
        free(z->trans);
        free(z->trans_off);
        free(z);
}

int tz_parse_tzif(const char *name, const void *buf, size_t len, tz_zone **ret) {
        tz_zone *z = calloc(1, sizeof *z);
        if (!z || !(z->name = strdup(name))) {
                zone_free(z);
                return -ENOMEM;
        }
        int r = parse_tzif(z, buf, len);
        if (r < 0) {
                zone_free(z);
                return r;
        }
        *ret = z;
        return 0;
}

void tz_zone_free(tz_zone *z) {
        zone_free(z);
}

static int read_file(const char *path, unsigned char **ret, size_t *ret_len) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        unsigned char *buf = NULL;
        int r;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto fail;
        }
        if (!S_ISREG(st.st_mode)) {
                r = -ENOENT;
                goto fail;
        }
        if (st.st_size <= 0 || st.st_size > TZ_FILE_MAX) {
                r = -EBADMSG;
                goto fail;
        }
        buf = malloc((size_t) st.st_size);
        if (!buf) {
                r = -ENOMEM;
                goto fail;
        }
        size_t got = 0;
        while (got < (size_t) st.st_size) {
                ssize_t k = read(fd, buf + got, (size_t) st.st_size - got);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        r = k < 0 ? -errno : -EBADMSG;
                        goto fail;
                }
                got += (size_t) k;
        }
        close(fd);
        *ret = buf;
        *ret_len = got;
        return 0;
fail:
        free(buf);
        close(fd);
        return r;
}

int tz_load(const char *name, const tz_zone **ret, sked_err *err) {
        tz_zone *z = NULL;
        unsigned char *buf = NULL;
        size_t len = 0;
        int r;

        if (!name || !name_ok(name))
                return err_set(err, -EINVAL, "time zone \"%.*s\": not a valid zone name", TZ_NAME_MAX,
                               name ? name : "");
        pthread_mutex_lock(&cache_lock);
        for (tz_zone *c = cache; c; c = c->next)
                if (!strcmp(c->name, name)) {
                        pthread_mutex_unlock(&cache_lock);
                        *ret = c;
                        return 0;
                }
        z = calloc(1, sizeof *z);
        if (!z || !(z->name = strdup(name))) {
                r = err_set(err, -ENOMEM, "time zone \"%s\": out of memory", name);
                goto fail;
        }
        char path[sizeof TZ_DIR + TZ_NAME_MAX + 2];
        snprintf(path, sizeof path, "%s/%s", TZ_DIR, name);
        r = read_file(path, &buf, &len);
        if (r < 0 && !strcmp(name, "UTC")) {
                r = 0; /* built in: no transitions, offset 0 */
        } else if (r == -EBADMSG) {
                r = err_set(err, r, "time zone \"%s\": not a TZif file", name);
                goto fail;
        } else if (r < 0) {
                r = err_set(err, -ENOENT, "time zone \"%s\": not found in the tz database", name);
                goto fail;
        } else if ((r = parse_tzif(z, buf, len)) < 0) {
                if (r == -ENOMEM)
                        r = err_set(err, r, "time zone \"%s\": out of memory", name);
                else
                        r = err_set(err, -EBADMSG, "time zone \"%s\": corrupt or unsupported TZif file", name);
                goto fail;
        }
        free(buf);
        z->next = cache;
        cache = z;
        pthread_mutex_unlock(&cache_lock);
        *ret = z;
        return 0;
fail:
        pthread_mutex_unlock(&cache_lock);
        free(buf);
        zone_free(z);
        return r;
}

const char *tz_name(const tz_zone *z) {
        return z->name;
}

void tz_cache_free(void) {
        pthread_mutex_lock(&cache_lock);
        while (cache) {
                tz_zone *n = cache->next;
                zone_free(cache);
                cache = n;
        }
        pthread_mutex_unlock(&cache_lock);
}
